/**
 * What kind of image an argument names, following rkt's classification (rkt-features §3) with
 * OCI sources added:
 *
 * - `sha256-<hex>` / `sha256:<hex>` (or a unique prefix of at least 4 hex digits): an image ID,
 *   store only
 * - `docker://...`: a registry image
 * - `oci:PATH[:TAG]`, `oci-archive:PATH[:TAG]`: local OCI images (skopeo's syntax)
 * - an existing path (absolute, `./`-relative, or anything that exists): an OCI layout directory,
 *   an ACI file (`.aci`, or compressed, or a tar whose first entry is `manifest`/`rootfs`), or an
 *   OCI archive file
 * - `http(s)://...`: an ACI at a URL
 * - otherwise an image name: looked up in the store, then (appc names like `example.com/app:1.0`)
 *   found by appc meta discovery
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";

export type ImageArgument =
  | { readonly kind: "id"; readonly text: string; readonly prefix: string }
  | { readonly kind: "docker"; readonly text: string }
  | { readonly kind: "oci-layout"; readonly text: string; readonly path: string; readonly tag: string | undefined }
  | { readonly kind: "oci-archive"; readonly text: string; readonly path: string; readonly tag: string | undefined }
  | { readonly kind: "aci-file"; readonly text: string; readonly path: string }
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
  if (path.endsWith(".aci") || (st?.isFile() === true && looksLikeAci(path))) return { kind: "aci-file", text, path };
  if (st !== undefined) return { kind: "oci-archive", text, path, tag: undefined };
  // `dir:tag` where dir exists
  const { path: p, tag } = splitPathTag(path);
  const st2 = tag === undefined ? undefined : statSync(p, { throwIfNoEntry: false });
  if (st2?.isDirectory() === true) return { kind: "oci-layout", text, path: p, tag };
  if (st2 !== undefined) return { kind: "oci-archive", text, path: p, tag };
  return { kind: "oci-archive", text, path, tag: undefined };
}

/**
 * `PATH:TAG` as skopeo writes it. The tag may itself hold colons and slashes (an OCI ref name like
 * `example.com/app:1.0`), so the first colon that leaves an existing path before it splits; without
 * one, the last colon in the last path component does (a path that does not exist yet: the error
 * then names it).
 */
function splitPathTag(s: string): { path: string; tag: string | undefined } {
  for (let i = s.indexOf(":"); i > 0; i = s.indexOf(":", i + 1)) {
    if (statSync(s.slice(0, i), { throwIfNoEntry: false }) !== undefined) return { path: s.slice(0, i), tag: s.slice(i + 1) || undefined };
  }
  const slash = s.lastIndexOf("/");
  const colon = s.lastIndexOf(":");
  if (colon > slash && colon > 0) return { path: s.slice(0, colon), tag: s.slice(colon + 1) || undefined };
  return { path: s, tag: undefined };
}

/**
 * An ACI without the `.aci` suffix: compressed (OCI archives are plain tars, as skopeo writes them),
 * or a tar whose first entry is the ACI's `manifest` or `rootfs`.
 */
function looksLikeAci(path: string): boolean {
  const head = Buffer.alloc(512);
  let n = 0;
  try {
    const fd = openSync(path, "r");
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  if (n >= 3 && head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (n >= 3 && head.subarray(0, 3).toString("latin1") === "BZh") return true;
  if (n >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true; // xz
  if (n < 512 || head.subarray(257, 262).toString("latin1") !== "ustar") return false;
  const first = head.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "").replace(/^\.\//, "");
  return first === "manifest" || first === "rootfs" || first.startsWith("rootfs/");
}
