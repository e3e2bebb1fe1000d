/**
 * `rkt image rm` and `rkt image gc`. Removing an image drops its record and names at once; its
 * blobs and unpacked layers go in the same step when nothing else uses them (content is shared
 * between images, so only a collection over all records can tell).
 */
import type { ImageRecord } from "../../image/store/image-record.js";
import { PodStore } from "../../pod/pod-store.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { findImage } from "./find-image.js";
import { recordEvent } from "../../events/event-journal.js";

export interface RemovedImage {
  readonly id: string;
  readonly names: readonly string[];
}

/**
 * Removes each named image. Failures (unknown images) are reported per argument and do not stop
 * the others, as rkt did; the caller turns them into the exit code.
 */
export async function removeImages(store: ImageStore, args: readonly string[], signal?: AbortSignal): Promise<{ removed: RemovedImage[]; errors: { arg: string; error: unknown }[] }> {
  const lock = await store.lockStore("exclusive", signal);
  try {
    // Before any record goes: a pod's image loses its record on rm but keeps its layer trees.
    const keep = layersInUse(store, imagesInUse(store));
    const removed: RemovedImage[] = [];
    const errors: { arg: string; error: unknown }[] = [];
    const seen = new Set<string>();
    for (const arg of args) {
      let rec: ImageRecord;
      try {
        rec = findImage(store, arg);
      } catch (error) {
        errors.push({ arg, error });
        continue;
      }
      if (seen.has(rec.id)) continue;
      seen.add(rec.id);
      const names = store.namesOf(rec.id);
      store.removeImage(rec.id);
      recordEvent(store.paths.dataDir, "image-removed", rec.id, names[0] ?? rec.aci?.name ?? "");
      removed.push({ id: rec.id, names });
    }
    if (removed.length > 0) store.collectGarbage(keep);
    return { removed, errors };
  } finally {
    lock.release();
  }
}

export interface GcResult {
  readonly removed: RemovedImage[];
  readonly blobs: number;
  readonly layers: number;
  readonly bytes: number;
  readonly tmp: number;
}

/**
 * `rkt image gc`: removes images not used within the grace period (rkt's default: 24h), then every
 * blob and layer tree no remaining image refers to, and abandoned work in tmp/.
 */
export async function gcImages(store: ImageStore, gracePeriodMs: number, now: Date = new Date(), signal?: AbortSignal): Promise<GcResult> {
  const lock = await store.lockStore("exclusive", signal);
  try {
    const tmp = store.sweepTmp();
    const removed: RemovedImage[] = [];
    const refs = store.listRefs();
    const inUse = imagesInUse(store);
    for (const rec of store.listImages()) {
      if (inUse.has(rec.id)) continue;
      const lastUsed = Date.parse(rec.lastUsed);
      if (Number.isFinite(lastUsed) && now.getTime() - lastUsed < gracePeriodMs) continue;
      removed.push({ id: rec.id, names: store.namesOf(rec.id, refs) });
      store.removeImage(rec.id);
      recordEvent(store.paths.dataDir, "image-removed", rec.id, store.namesOf(rec.id, refs)[0] ?? rec.aci?.name ?? "");
    }
    // Names left pointing at nothing (a record removed by hand) are dangling; drop them.
    for (const ref of store.listRefs()) if (store.getImage(ref.id) === undefined) store.removeRef(ref.name);
    const collected = store.collectGarbage(layersInUse(store, inUse));
    return { removed, ...collected, tmp };
  } finally {
    lock.release();
  }
}

/**
 * Images some pod still refers to (any pod not yet being deleted): a prepared pod will mount
 * them, a running one has their layer trees mounted as overlay lowerdirs. rkt's image gc kept
 * tree stores referenced by pods for the same reason.
 */
function imagesInUse(store: ImageStore): Set<string> {
  const pods = new PodStore(store.paths.dataDir);
  const ids = new Set<string>();
  for (const ref of pods.list()) {
    if (ref.dir === "garbage") continue;
    try {
      for (const app of pods.readManifest(ref).apps) ids.add(app.image.id);
    } catch {
      // an embryo without a manifest yet refers to nothing
    }
  }
  return ids;
}

/** The layer trees of the images in use, which gc must keep even when their record goes. */
function layersInUse(store: ImageStore, images: ReadonlySet<string>): Set<string> {
  const layers = new Set<string>();
  for (const id of images) for (const l of store.getImage(id)?.layers ?? []) layers.add(l.diffId);
  return layers;
}
