/**
 * `rkt image render` and `rkt image extract`: the image's root filesystem written out as a plain
 * directory, layers applied in order with whiteouts taking effect (OCI image spec, layer.md
 * "Applying Changesets"), as a pod would see it without overlayfs. An OCI image has no
 * dependencies, so render and extract produce the same tree; both write `manifest` and `config`
 * beside `rootfs/` unless `rootfsOnly`.
 *
 * An ACI (appc) renders with its dependencies below it and its pathWhitelist applied (rkt's
 * `image render`); extracted, it is its own archive only, `rootfs/` as it holds it (rkt's `image
 * extract`). Beside `rootfs/` goes its appc image manifest as `manifest`, as in the archive.
 */
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RktError, wrap } from "../../lib/errors.js";
import { ACI_MEDIA_TYPE } from "../../image/formats/appc/image-manifest.js";
import { applyLayer } from "../../image/layer/apply-layer.js";
import { decompress } from "../../image/layer/decompress.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { findImage } from "./find-image.js";

export interface RenderOptions {
  readonly rootfsOnly: boolean;
  readonly overwrite: boolean;
  /**
   * `rkt image extract`: for an ACI, only its own archive's rootfs (no dependencies, no
   * pathWhitelist). The same as rendering for OCI images.
   */
  readonly extract?: boolean;
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
  const aci = rec.format === "aci";
  const layers = aci && options.extract === true ? rec.layers.filter((l) => l.diffId === rec.id) : rec.layers;
  try {
    for (const layer of layers) {
      const tar = new PassThrough();
      const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
      // An ACI is stored as its uncompressed archive and applies its rootfs/ only.
      const aciLayer = layer.mediaType === ACI_MEDIA_TYPE;
      await Promise.all([
        pipeline(
          createReadStream(store.blobPath(layer.digest)),
          decompress(aciLayer ? { compressions: [], what: "ACI", ...signalOpt } : { mediaType: layer.mediaType, ...signalOpt }),
          tar,
          signalOpt,
        ),
        applyLayer(tar, { root: rootfs, mode: "flatten", ...(aciLayer ? { archive: "aci" as const } : {}), ...signalOpt }),
      ]).catch((err: unknown) => {
        throw wrap(`applying layer ${layer.digest}`, err);
      });
    }
    if (!options.rootfsOnly && aci) {
      writeFileSync(join(work, "manifest"), store.readBlob(rec.configDigest));
    } else if (!options.rootfsOnly) {
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
