/**
 * Finds a stored image from what a user typed: an image ID (`sha256-<hex>`, `sha256:<hex>`, or a
 * unique prefix of at least 4 hex digits) or a name (`registry-1.docker.io/library/busybox:latest`,
 * also `busybox` / `busybox:1.36` meaning the Docker Hub name, and `localhost/x` without a tag).
 */
import { RktError } from "../../lib/errors.js";
import { parseDockerReference } from "../../image/reference.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";

const ID_RE = /^(sha256|sha512)[-:]([a-f0-9]{4,128})$/;

export function findImage(store: ImageStore, text: string): ImageRecord {
  const id = ID_RE.exec(text);
  if (id !== null) return findById(store, `${id[1] ?? ""}:${id[2] ?? ""}`, text);
  for (const name of candidateNames(text)) {
    const ref = store.getRef(name);
    if (ref === undefined) continue;
    const rec = store.getImage(ref.id);
    if (rec !== undefined) return rec;
  }
  throw new RktError("not-found", `image "${text}" is not in the store`, {
    hint: "see `rkt image list`; fetch it with `rkt fetch` (docker://NAME for registry images)",
  });
}

/** Like findImage, but undefined instead of a not-found error. */
export function tryFindImage(store: ImageStore, text: string): ImageRecord | undefined {
  try {
    return findImage(store, text);
  } catch (err) {
    if (err instanceof RktError && err.kind === "not-found") return undefined;
    throw err;
  }
}

function findById(store: ImageStore, prefix: string, text: string): ImageRecord {
  const full = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(prefix);
  if (full) {
    const rec = store.getImage(prefix);
    if (rec !== undefined) return rec;
  } else {
    const matches = store.listImages().filter((r) => r.id.startsWith(prefix));
    if (matches.length > 1) {
      throw new RktError("invalid-argument", `image ID "${text}" is ambiguous: it matches ${matches.length} images`, {
        hint: "give more digits of the ID (rkt image list --full)",
      });
    }
    if (matches[0] !== undefined) return matches[0];
  }
  throw new RktError("not-found", `no image with ID "${text}" in the store`, { hint: "see `rkt image list`" });
}

function candidateNames(text: string): string[] {
  const names = [text];
  if (!/[:@]/.test(text.split("/").pop() ?? "")) names.push(`${text}:latest`);
  try {
    names.push(parseDockerReference(`docker://${text}`).name);
  } catch {
    // not a Docker-style name
  }
  return [...new Set(names)];
}
