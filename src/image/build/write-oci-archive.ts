/**
 * Writes a built image as an OCI archive: a tar of an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`, image-spec image-layout.md), the form skopeo calls
 * `oci-archive:` and `rkt fetch` reads. Entries are sorted and stamped with the build's one
 * timestamp like the layer itself, so the archive is as reproducible as the image.
 */
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { splitDigest } from "../store/store-paths.js";
import type { OciImage } from "./build-oci-image.js";
import { packRootfs } from "./pack-rootfs.js";
import type { RootfsEntry } from "./rootfs-entries.js";
import { OCI_LAYOUT_FILE, ociIndexDocument } from "./write-oci-layout.js";

/**
 * Writes the archive of `image` tagged `tag` to `file` (a temporary name the caller renames).
 *
 * @example
 * await writeOciArchive(image, pending.path, "1.0", { mtime: new Date(0) });
 */
export async function writeOciArchive(image: OciImage, file: string, tag: string, options: { readonly mtime: Date; readonly signal?: AbortSignal }): Promise<void> {
  const entries = new Map<string, RootfsEntry>();
  const dir = (path: string): void => void entries.set(path, { type: "directory", path, mode: 0o755, uid: 0, gid: 0 });
  dir("blobs");
  for (const blob of [...image.layers, image.config, image.manifest]) {
    const { algorithm, hex } = splitDigest(blob.digest);
    dir(`blobs/${algorithm}`);
    const path = `blobs/${algorithm}/${hex}`;
    entries.set(path, { type: "file", path, mode: 0o644, uid: 0, gid: 0, source: blob.path, size: blob.size });
  }
  const sorted = [...entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const tar = packRootfs(sorted, {
    mtime: options.mtime,
    leading: [
      { name: "oci-layout", data: Buffer.from(OCI_LAYOUT_FILE) },
      { name: "index.json", data: Buffer.from(JSON.stringify(ociIndexDocument(image, tag))) },
    ],
  });
  await pipeline(tar, createWriteStream(file, { flags: "wx", mode: 0o644 }), options.signal === undefined ? {} : { signal: options.signal });
}
