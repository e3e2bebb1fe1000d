/**
 * `rkt image export IMAGE FILE`: writes a stored image as an OCI archive (a tar of an OCI image
 * layout, image-layout.md), byte-identical blobs included, so skopeo, podman or another rkt can
 * load it. No network I/O. The index names the image with `org.opencontainers.image.ref.name`.
 * An ACI is written as the archive it was, uncompressed (as rkt did): its ID is the sha512 of
 * exactly those bytes, so the file imports again under the same ID.
 */
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";
import { RktError, wrap } from "../../lib/errors.js";
import { OCI_IMAGE_INDEX } from "../../image/formats/media-types.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { splitDigest } from "../../image/store/store-paths.js";
import { findImage } from "./find-image.js";

export async function exportImage(store: ImageStore, image: string, file: string, options: { overwrite: boolean; signal?: AbortSignal }): Promise<string> {
  const rec = findImage(store, image);
  const dest = resolve(file);
  if (statSync(dest, { throwIfNoEntry: false }) !== undefined && !options.overwrite) {
    throw new RktError("already-exists", `${dest} already exists`, { hint: "pass --overwrite to replace it" });
  }
  if (rec.format === "aci") {
    await exportAci(store, rec.id, dest, options.signal).catch((err: unknown) => {
      throw wrap(`exporting ${image} to ${dest}`, err);
    });
    return rec.id;
  }
  const names = store.namesOf(rec.id);
  const manifest = store.readBlob(rec.id);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_INDEX,
    manifests: [
      {
        mediaType: rec.manifestMediaType,
        digest: rec.id,
        size: manifest.length,
        ...(names[0] === undefined ? {} : { annotations: { "org.opencontainers.image.ref.name": names[0] } }),
        platform: rec.platform,
      },
    ],
  };
  const tmp = `${dest}.rkt-export-${process.pid}`;
  const tar = pack();
  const writing = pipeline(tar, createWriteStream(tmp, { mode: 0o644 }), options.signal === undefined ? {} : { signal: options.signal });
  try {
    const mtime = new Date(0);
    tar.entry({ name: "oci-layout", mtime }, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    tar.entry({ name: "index.json", mtime }, JSON.stringify(index));
    tar.entry({ name: "blobs/", type: "directory", mtime });
    tar.entry({ name: "blobs/sha256/", type: "directory", mtime });
    const seen = new Set<string>();
    for (const digest of [rec.id, rec.configDigest, ...rec.layers.map((l) => l.digest)]) {
      if (seen.has(digest)) continue;
      seen.add(digest);
      const { algorithm, hex } = splitDigest(digest);
      const size = store.blobSize(digest);
      if (size === undefined) throw new RktError("data-loss", `blob ${digest} is missing from the store`, { hint: "fetch the image again" });
      await new Promise<void>((res, rej) => {
        const entry = tar.entry({ name: `blobs/${algorithm}/${hex}`, size, mtime }, (err) => (err ? rej(err) : res()));
        createReadStream(store.blobPath(digest)).on("error", rej).pipe(entry);
      });
    }
    tar.finalize();
    await writing;
    renameSync(tmp, dest);
  } catch (err) {
    tar.destroy();
    await writing.catch(() => undefined);
    rmSync(tmp, { force: true });
    throw wrap(`exporting ${image} to ${dest}`, err);
  }
  return rec.id;
}

/** Copies the stored ACI blob to `dest` through a temp file beside it, so a failure leaves no partial file. */
async function exportAci(store: ImageStore, id: string, dest: string, signal: AbortSignal | undefined): Promise<void> {
  if (!store.hasBlob(id)) throw new RktError("data-loss", `blob ${id} is missing from the store`, { hint: "fetch the image again" });
  const tmp = `${dest}.rkt-export-${process.pid}`;
  try {
    await pipeline(createReadStream(store.blobPath(id)), createWriteStream(tmp, { mode: 0o644 }), signal === undefined ? {} : { signal });
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
