/**
 * Mutable pods (rkt's `rkt app` family; the CRI server stands on the same calls): a pod started
 * empty by `rkt app sandbox`, whose apps are added, started, stopped and removed one at a time
 * while it runs. There is no daemon: the pod's native supervisor (src/stage1/supervisor, mutable
 * mode) keeps the apps supervised and answers on its control socket; these functions write an
 * app's files and then ask it. Changes to the pod manifest are serialized by a lock file of their
 * own (`mutate.lock`): the pod directory's lock is the supervisor's for the pod's whole life.
 *
 * @example
 * const { uuid } = await createSandbox(pods, images, { flavor: "default", volumes: [] }, runOptions);
 * const name = await addApp(pods, images, uuid, { image: "localhost/busybox:latest", exec: "/bin/sleep", args: ["600"] }, { insecure });
 * await startApp(pods, uuid, name);
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { parseJson } from "../../lib/json-document.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { FileLock } from "../../sys/file-lock.js";
import { mountsUnder, unmount } from "../../sys/mounts.js";

/** What `rkt run` recorded about how the pod runs (run-options.json), as far as apps care. */
export interface MutablePodOptions {
  readonly hostname: string;
  readonly hostNetwork: boolean;
  readonly flavor: string;
}

const runOptionsSchema = z.object({
  hostname: z.string(),
  net: z.array(z.string()),
  flavor: z.string(),
  mutable: z.optional(z.boolean()),
});

/** A running mutable pod, ready to be changed. */
export interface OpenMutablePod {
  readonly ref: PodRef;
  readonly files: PodFiles;
  readonly options: MutablePodOptions;
}

/**
 * Finds pod `uuid` (or a unique prefix) and checks that it is a running mutable pod. Throws
 * RktError "not-found" for an unknown pod, "failed-precondition" for one that is not running or
 * not mutable.
 */
export function openMutablePod(pods: PodStore, uuid: string): OpenMutablePod {
  const ref = pods.find(uuid);
  const state = pods.state(ref);
  if (state !== "running") {
    throw new RktError("failed-precondition", `pod "${ref.uuid}" is ${state}, not running`, { hint: "apps can be changed only in a running pod started with `rkt app sandbox`" });
  }
  const files = new PodFiles(ref.path);
  const run = existsSync(files.runOptions) ? parseJson(readFileSync(files.runOptions, "utf8"), runOptionsSchema, files.runOptions, "data-loss") : undefined;
  if (run?.mutable !== true) {
    throw new RktError("failed-precondition", `pod "${ref.uuid}" is not a mutable pod: it was started by \`rkt run\`, and its apps are fixed`, { hint: "start a mutable pod with `rkt app sandbox`" });
  }
  return { ref, files, options: { hostname: run.hostname, hostNetwork: run.net.includes("host"), flavor: run.flavor } };
}

/**
 * Runs `fn` holding the pod's manifest lock, with the manifest as it is now; `fn` returns the
 * manifest to write (or undefined to leave it).
 */
export async function withManifest<T>(pods: PodStore, pod: OpenMutablePod, fn: (manifest: PodManifest) => Promise<{ manifest?: PodManifest | undefined; result: T }>): Promise<T> {
  const lock = await FileLock.acquire(join(pod.ref.path, "mutate.lock"), "exclusive");
  try {
    const { manifest, result } = await fn(pods.readManifest(pod.ref));
    if (manifest !== undefined) pods.writeManifest(pod.ref, manifest);
    return result;
  } finally {
    lock.release();
  }
}

/** The app of `manifest` named `name`, or a not-found error listing the apps there are. */
export function requireApp(manifest: PodManifest, uuid: string, name: string): void {
  if (!manifest.apps.some((a) => a.name === name)) {
    const names = manifest.apps.map((a) => a.name);
    throw new RktError("not-found", `pod "${uuid}" has no app "${name}"`, { hint: names.length > 0 ? `apps: ${names.join(", ")}` : "the pod has no apps yet: add one with `rkt app add`" });
  }
}

/** Unmounts and deletes what prepareApp made for `name` (its rootfs mount, app and overlay dirs). */
export function removeAppFiles(podDir: string, name: string): void {
  const appDir = join(podDir, "apps", name);
  for (const point of mountsUnder(appDir)) {
    try {
      unmount(point);
    } catch {
      // already gone
    }
  }
  if (existsSync(appDir)) rmSync(appDir, { recursive: true, force: true });
  rmSync(join(podDir, "overlay", name), { recursive: true, force: true });
}
