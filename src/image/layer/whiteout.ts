/**
 * OCI whiteouts (image-spec layer.md, "Whiteouts" and "Opaque Whiteout"): the tar entries that
 * mean "delete" instead of "create", and how overlayfs spells the same thing on disk.
 */
import { RktError } from "../../lib/errors.js";
import { quoteName } from "./entry-path.js";

export const WHITEOUT_PREFIX = ".wh.";
/** layer.md "Opaque Whiteout": hides every lower-layer child of the directory it is in. */
export const OPAQUE_WHITEOUT = ".wh..wh..opq";
/** Docker's AUFS driver kept its own bookkeeping under this prefix (`.wh..wh.plnk`, `.wh..wh.aufs`). */
const AUFS_META_PREFIX = ".wh..wh.";

/** overlayfs marks an opaque directory with this xattr (kernel Documentation/filesystems/overlayfs.rst). */
export const OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque";

export type Whiteout =
  /** `.wh.NAME`: delete NAME (and everything below it) from the lower layers. */
  | { readonly kind: "remove"; readonly name: string }
  /** `.wh..wh..opq`: delete every lower-layer child of this directory. */
  | { readonly kind: "opaque" }
  /** `.wh..wh.*` left by Docker's AUFS driver: not a deletion, never materialized. */
  | { readonly kind: "aufs-meta" };

/**
 * What a tar entry's base name means as a whiteout, or undefined when it is an ordinary name.
 *
 * Layer.md: "it is not possible to create a filesystem which has a file or directory with a name
 * beginning with `.wh.`", so every such name is a marker and none is ever created. A marker that
 * names nothing deletable (`.wh.`, `.wh..`, `.wh...`) is rejected with "invalid-argument": it could
 * only mean the directory itself or its parent, and a layer may not delete either that way.
 *
 * @example
 * parseWhiteout(".wh.passwd");    // { kind: "remove", name: "passwd" }
 * parseWhiteout(".wh..wh..opq");  // { kind: "opaque" }
 * parseWhiteout("passwd");        // undefined
 */
export function parseWhiteout(baseName: string): Whiteout | undefined {
  if (!baseName.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (baseName === OPAQUE_WHITEOUT) return { kind: "opaque" };
  if (baseName.startsWith(AUFS_META_PREFIX)) return { kind: "aufs-meta" };
  const name = baseName.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === ".." || name.includes("/")) {
    throw new RktError("invalid-argument", `layer whiteout ${quoteName(baseName)} does not name a removable entry`);
  }
  return { kind: "remove", name };
}
