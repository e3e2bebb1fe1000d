/**
 * What kind of image an argument names, following rkt's classification (rkt-features §3) with
 * OCI sources added:
 *
 * - `sha256-<hex>` / `sha256:<hex>` (or a unique prefix of at least 4 hex digits): an image ID,
 *   store only
 * - `docker://...`: a registry image
 * - `oci:PATH[:TAG]`, `oci-archive:PATH[:TAG]`: local OCI images (skopeo's syntax)
 * - an existing path (absolute, `./`-relative, or anything that exists): an OCI layout directory
 *   or an OCI archive file
 * - `http(s)://...`: an image URL
 * - otherwise an image name (`example.com/app:1.0`), looked up in the store
 */
import { statSync } from "node:fs";

export type ImageArgument =
  | { readonly kind: "id"; readonly text: string; readonly prefix: string }
  | { readonly kind: "docker"; readonly text: string }
  | { readonly kind: "oci-layout"; readonly text: string; readonly path: string; readonly tag: string | undefined }
  | { readonly kind: "oci-archive"; readonly text: string; readonly path: string; readonly tag: string | undefined }
  | { readonly kind: "url"; readonly text: string }
  | { readonly kind: "name"; readonly text: string };

const ID_RE = /^(sha256|sha512)[-:]([a-f0-9]{4,128})$/;

export function classifyImageArgument(text: string): ImageArgument {
  const id = ID_RE.exec(text);
  if (id !== null) return { kind: "id", text, prefix: `${id[1] ?? ""}:${id[2] ?? ""}` };
  if (text.startsWith("docker://")) return { kind: "docker", text };
  if (text.startsWith("oci:")) return { kind: "oci-layout", text, ...splitPathTag(text.slice(4)) };
  if (text.startsWith("oci-archive:")) return { kind: "oci-archive", text, ...splitPathTag(text.slice(12)) };
  if (/^https?:\/\//.test(text)) return { kind: "url", text };
  if (text.startsWith("file://")) return pathArgument(text, text.slice(7));
  if (text.startsWith("/") || text.startsWith("./") || text.startsWith("../") || statSync(text, { throwIfNoEntry: false }) !== undefined) {
    return pathArgument(text, text);
  }
  return { kind: "name", text };
}

function pathArgument(text: string, path: string): ImageArgument {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory() === true) return { kind: "oci-layout", text, path, tag: undefined };
  if (st !== undefined) return { kind: "oci-archive", text, path, tag: undefined };
  // `dir:tag` where dir exists
  const { path: p, tag } = splitPathTag(path);
  const st2 = tag === undefined ? undefined : statSync(p, { throwIfNoEntry: false });
  if (st2?.isDirectory() === true) return { kind: "oci-layout", text, path: p, tag };
  if (st2 !== undefined) return { kind: "oci-archive", text, path: p, tag };
  return { kind: "oci-archive", text, path, tag: undefined };
}

/** `PATH:TAG` as skopeo writes it; a colon inside the last path component only. */
function splitPathTag(s: string): { path: string; tag: string | undefined } {
  const slash = s.lastIndexOf("/");
  const colon = s.lastIndexOf(":");
  if (colon > slash && colon > 0) return { path: s.slice(0, colon), tag: s.slice(colon + 1) || undefined };
  return { path: s, tag: undefined };
}
