/**
 * `rkt prepare` (and the first half of `rkt run`): fetch the images, write the pod manifest into a
 * new pod directory, and leave it `prepared`. Bad input is found here, before a pod exists, so a
 * refused request leaves nothing behind.
 */
import { rmSync } from "node:fs";
import { wrap } from "../../lib/errors.js";
import type { ImageStore } from "../../image/store/image-store.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import type { Stage1Flavor } from "../../stage1/stage1-flavor.js";
import { fetchImage, type FetchOptions } from "../image/fetch-images.js";
import { findImage } from "../image/find-image.js";
import type { PodRequest } from "./app-request.js";
import { buildPodManifest, type ResolvedApp } from "./build-pod-manifest.js";
import { PodFiles } from "../../pod/pod-files.js";
import { validateIsolators } from "./app-process.js";
import { recordPodEvent } from "../../events/event-journal.js";

export interface PrepareOptions {
  readonly fetch: FetchOptions;
  readonly flavor: Stage1Flavor;
  /** A manifest given with --pod-manifest: images must already be in the store. */
  readonly manifest?: PodManifest | undefined;
}

export async function resolveApps(images: ImageStore, request: PodRequest, fetch: FetchOptions): Promise<ResolvedApp[]> {
  const out: ResolvedApp[] = [];
  for (const app of request.apps) {
    const record = await fetchImage(images, app.image, app.signature === undefined ? fetch : { ...fetch, signature: app.signature });
    const names = images.namesOf(record.id);
    out.push({ request: app, image: record, imageName: names[0] });
  }
  return out;
}

/** Creates a prepared pod from a manifest. Returns its ref in `prepared`. */
export function createPreparedPod(pods: PodStore, images: ImageStore, manifest: PodManifest, flavor: Stage1Flavor): PodRef {
  // Every image must be in the store: a manifest given by hand is checked here.
  for (const app of manifest.apps) findImage(images, app.image.id);
  const { ref, lock } = pods.createEmbryo();
  let current = ref;
  try {
    const files = new PodFiles(ref.path);
    pods.writeManifest(ref, manifest);
    atomicWriteFileSync(files.stage1, flavor);
    current = pods.move(ref, "prepare");
    current = pods.move(current, "prepared");
    recordPodEvent(pods.dataDir, "pod-prepared", current.uuid, current.path);
    // lastUsed is touched when the pod runs (run-pod.ts), once; image gc keeps pods' images anyway.
    return current;
  } catch (err) {
    rmSync(current.path, { recursive: true, force: true });
    recordPodEvent(pods.dataDir, "pod-prepare-aborted", ref.uuid);
    throw wrap("preparing the pod", err);
  } finally {
    lock.release();
  }
}

export async function preparePod(pods: PodStore, images: ImageStore, request: PodRequest, options: PrepareOptions): Promise<PodRef> {
  const manifest = options.manifest ?? buildPodManifest(images, request, await resolveApps(images, request, options.fetch));
  for (const app of manifest.apps) await validateIsolators(app.app.isolators, app.name);
  return createPreparedPod(pods, images, manifest, options.flavor);
}
