/**
 * `rkt image render` and `rkt image extract`: the image's root filesystem written out as a plain
 * directory, layers applied in order with whiteouts taking effect (OCI image spec, layer.md
 * "Applying Changesets"), as a pod would see it without overlayfs. An OCI image has no
 * dependencies, so render and extract produce the same tree; both write `manifest` and `config`
 * beside `rootfs/` unless `rootfsOnly`.
 */
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RktError, wrap } from "../../lib/errors.js";
import { applyLayer } from "../../image/layer/apply-layer.js";
import { decompress } from "../../image/layer/decompress.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { findImage } from "./find-image.js";

export interface RenderOptions {
  readonly rootfsOnly: boolean;
  readonly overwrite: boolean;
  readonly signal?: AbortSignal;
}

export async function renderImage(store: ImageStore, image: string, target: string, options: RenderOptions): Promise<string> {
  const rec = findImage(store, image);
  const dest = resolve(target);
  const existing = statSync(dest, { throwIfNoEntry: false });
  if (existing !== undefined) {
    const empty = existing.isDirectory() && readdirSync(dest).length === 0;
    if (!empty && !options.overwrite) {
      throw new RktError("already-exists", `${dest} already exists and is not empty`, { hint: "pass --overwrite to replace it" });
    }
  }
  // Build beside the target and rename into place, so a failure leaves the old content (or
  // nothing) rather than a half-written tree.
  mkdirSync(dirname(dest), { recursive: true });
  const work = `${dest}.rkt-render-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  const rootfs = options.rootfsOnly ? work : join(work, "rootfs");
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  try {
    for (const layer of rec.layers) {
      const tar = new PassThrough();
      const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
      await Promise.all([
        pipeline(createReadStream(store.blobPath(layer.digest)), decompress({ mediaType: layer.mediaType, ...signalOpt }), tar, signalOpt),
        applyLayer(tar, { root: rootfs, mode: "flatten", ...signalOpt }),
      ]).catch((err: unknown) => {
        throw wrap(`applying layer ${layer.digest}`, err);
      });
    }
    if (!options.rootfsOnly) {
      writeFileSync(join(work, "manifest"), store.readBlob(rec.id));
      writeFileSync(join(work, "config"), store.readBlob(rec.configDigest));
    }
    if (existing !== undefined) rmSync(dest, { recursive: true, force: true });
    renameSync(work, dest);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw wrap(`rendering image ${image} to ${dest}`, err);
  }
  store.touch(rec.id);
  return rec.id;
}
