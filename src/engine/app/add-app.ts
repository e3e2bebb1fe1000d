/**
 * `rkt app add`: one more app in a running mutable pod. The image must already be in the store
 * (as in rkt: fetching is `rkt fetch`'s job, and the CRI pulls first). The app is made exactly as
 * `rkt run` makes each app (same manifest rules, overlay root, OCI config), plus what mutable pods
 * add: a restart policy, how its stdin is kept for `rkt attach`, and where its log goes. The
 * supervisor checks the files (`create`) before the manifest lists the app; on any failure the
 * app's mount and files are removed and the pod is unchanged.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { InsecureOptions } from "../../config/insecure-options.js";
import { RktError, wrap } from "../../lib/errors.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { nameValueGet, type PodManifest } from "../../pod/pod-manifest.js";
import type { PodStore } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import type { RuntimeSpec } from "../../stage1/oci/runtime-spec-types.js";
import { podNamespacePaths } from "../../stage1/pod-namespaces.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import { supervisorRequest } from "../../stage1/supervisor-control.js";
import { findImage } from "../image/find-image.js";
import { validateIsolators } from "../pod/app-process.js";
import type { AppRequest, VolumeRequest } from "../pod/app-request.js";
import { buildPodManifest, DOCKER_VOLUME_ANNOTATION } from "../pod/build-pod-manifest.js";
import { prepareApp } from "../pod/prepare-app.js";
import { prepareVolumes } from "../pod/run-pod.js";
import { openMutablePod, removeAppFiles, withManifest } from "./mutable-pod.js";


/** When the supervisor starts an app again after it exited. */
export interface RestartPolicy {
  readonly policy: "never" | "on-failure" | "always";
  /** First backoff delay in ms (default 100), doubling per restart up to `maxBackoffMs` (default 10000). */
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
}

/** How the app's stdin is kept: none, a pipe attach clients write to, or a terminal. */
export type StdinMode = "null" | "stream" | "stream-once" | "tty";

/** Options of {@link addApp} beyond the app itself. */
export interface AddAppOptions {
  readonly insecure: InsecureOptions;
  readonly restart?: RestartPolicy | undefined;
  readonly stdin?: StdinMode | undefined;
  /** Where the app's CRI-format log goes (kubelet chooses it); default `apps/NAME/log`. */
  readonly logPath?: string | undefined;
  /** Volumes the app brings (rkt's `--mnt-volume`), added to the pod's. */
  readonly volumes?: readonly VolumeRequest[] | undefined;
  /**
   * Changes the app's OCI runtime config once rkt has built it, before the app is known to the
   * supervisor (the CRI server: the kubelet's mounts, cgroup limits, sysctls, host namespaces).
   * Its errors fail the add like any other, leaving the pod unchanged.
   */
  readonly adjustSpec?: ((spec: RuntimeSpec, app: string) => RuntimeSpec) | undefined;
}

/**
 * Adds `request` to the running mutable pod `uuid` and returns the app's name. The app is
 * `created`, not started. Throws RktError: "not-found" (pod, image), "failed-precondition" (the pod
 * is not a running mutable pod), "already-exists" (an app of that name), "invalid-argument"
 * (bad flags, as `rkt run` would say).
 *
 * @example
 * const name = await addApp(pods, images, uuid, { image: "localhost/busybox:latest", name: "web" }, { insecure, restart: { policy: "on-failure" } });
 */
export async function addApp(pods: PodStore, images: ImageStore, uuid: string, request: AppRequest, options: AddAppOptions): Promise<string> {
  const pod = openMutablePod(pods, uuid);
  const record = findImage(images, request.image);
  return withManifest(pods, pod, async (manifest) => {
    const known = new Set((manifest.volumes ?? []).map((v) => v.name));
    for (const v of options.volumes ?? []) {
      if (known.has(v.name)) throw new RktError("already-exists", `pod "${pod.ref.uuid}" already has a volume "${v.name}"`, { hint: "use another volume name, or mount the existing one with --mount" });
    }
    const built = buildPodManifest(images, { apps: [request], volumes: [...(manifest.volumes ?? []), ...(options.volumes ?? [])] as VolumeRequest[], podMounts: [] }, [
      { request, image: record, imageName: images.namesOf(record.id)[0] },
    ]);
    const app = built.apps[0];
    if (app === undefined) throw new RktError("internal", "no app was built");
    if (manifest.apps.some((a) => a.name === app.name)) {
      throw new RktError("already-exists", `pod "${pod.ref.uuid}" already has an app named "${app.name}"`, { hint: "give the new app another --name" });
    }
    await validateIsolators(app.app.isolators);
    const newVolumes = (built.volumes ?? []).filter((v) => !known.has(v.name));
    const prefilled = (nameValueGet(built.annotations, DOCKER_VOLUME_ANNOTATION) ?? "").split(",").filter((n) => n !== "");
    const oldPrefilled = (nameValueGet(manifest.annotations, DOCKER_VOLUME_ANNOTATION) ?? "").split(",").filter((n) => n !== "");
    const allPrefilled = [...new Set([...oldPrefilled, ...prefilled])];
    const next: PodManifest = {
      ...manifest,
      apps: [...manifest.apps, app],
      volumes: [...(manifest.volumes ?? []), ...newVolumes],
      ...(allPrefilled.length === 0
        ? {}
        : { annotations: [...(manifest.annotations ?? []).filter((a) => a.name !== DOCKER_VOLUME_ANNOTATION), { name: DOCKER_VOLUME_ANNOTATION, value: allPrefilled.join(",") }] }),
    };

    const files = pod.files;
    const flavor = parseFlavor(pod.options.flavor);
    const runtime = runtimeFor(flavor, () => undefined);
    const tty = options.stdin === "tty";
    const consoleSocket = tty ? consoleSocketPath(files.app(app.name)) : undefined;
    try {
      prepareVolumes(files, { ...next, volumes: newVolumes });
      await prepareApp({
        images,
        ref: pod.ref,
        files,
        manifest: next,
        app,
        runtime,
        flavor,
        ns: podNamespacePaths(pod.ref.uuid, pod.options.hostNetwork),
        hostname: pod.options.hostname,
        insecure: options.insecure,
        terminal: tty,
        consoleSocket,
        restartable: true,
      });
      const dir = files.app(app.name);
      if (options.adjustSpec !== undefined) {
        const config = files.appFile(app.name, "config.json");
        const spec = JSON.parse(readFileSync(config, "utf8")) as RuntimeSpec;
        atomicWriteFileSync(config, JSON.stringify(options.adjustSpec(spec, app.name), null, 2));
      }
      atomicWriteFileSync(join(dir, "restart"), restartLine(options.restart));
      atomicWriteFileSync(join(dir, "stdin"), options.stdin === undefined ? "null" : options.stdin === "stream-once" ? "stream once" : options.stdin);
      if (options.logPath !== undefined) atomicWriteFileSync(join(dir, "log-path"), options.logPath);
      await supervisorRequest(files.dir, `create ${app.name}`);
    } catch (err) {
      removeAppFiles(files.dir, app.name);
      throw wrap(`adding app "${app.name}" to pod ${pod.ref.uuid}`, err);
    }
    return { manifest: next, result: app.name };
  });
}


function restartLine(r: RestartPolicy | undefined): string {
  if (r === undefined) return "never";
  const parts: string[] = [r.policy];
  if (r.initialBackoffMs !== undefined || r.maxBackoffMs !== undefined) {
    parts.push(String(r.initialBackoffMs ?? 100));
    if (r.maxBackoffMs !== undefined) parts.push(String(r.maxBackoffMs));
  }
  return parts.join(" ");
}

/** runc connects after changing into the bundle directory: a relative name keeps long paths working. */
function consoleSocketPath(appDir: string): string {
  const full = join(appDir, "console.sock");
  return Buffer.byteLength(full) <= 107 ? full : "console.sock";
}
