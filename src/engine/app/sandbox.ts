/**
 * `rkt app sandbox`: a mutable pod with no apps. Its namespaces, networks, /etc files and volumes
 * are made as for `rkt run`; then its supervisor starts detached, in mutable mode, and this
 * returns: the pod lives on its own until `rkt stop` (or the CRI's StopPodSandbox).
 */
import type { ImageStore } from "../../image/store/image-store.js";
import { AC_VERSION, type PodManifest } from "../../pod/pod-manifest.js";
import type { PodStore } from "../../pod/pod-store.js";
import type { Stage1Flavor } from "../../stage1/stage1-flavor.js";
import type { VolumeRequest } from "../pod/app-request.js";
import { createPreparedPod } from "../pod/prepare-pod.js";
import { runPreparedPod, type RunOptions } from "../pod/run-pod.js";

/** What a sandbox is made of before any app. */
export interface SandboxRequest {
  readonly flavor: Stage1Flavor;
  readonly volumes: readonly VolumeRequest[];
  readonly annotations?: readonly (readonly [string, string])[] | undefined;
  /** rkt's `--user-annotation` / `--user-label` (Kubernetes' pod annotations and labels). */
  readonly userAnnotations?: Readonly<Record<string, string>> | undefined;
  readonly userLabels?: Readonly<Record<string, string>> | undefined;
}

/**
 * Creates and starts an empty mutable pod and returns its UUID once its supervisor answers.
 *
 * @example
 * const { uuid } = await createSandbox(pods, images, { flavor: "default", volumes: [] }, runOptions);
 */
export async function createSandbox(pods: PodStore, images: ImageStore, request: SandboxRequest, options: Omit<RunOptions, "detach" | "mutable" | "interactive">): Promise<{ uuid: string; supervisorPid: number }> {
  const manifest: PodManifest = {
    acVersion: AC_VERSION,
    acKind: "PodManifest",
    apps: [],
    volumes: request.volumes.map((v) => ({ ...v })),
    ...(request.annotations === undefined || request.annotations.length === 0 ? {} : { annotations: request.annotations.map(([name, value]) => ({ name, value })) }),
    ...(request.userAnnotations === undefined ? {} : { userAnnotations: { ...request.userAnnotations } }),
    ...(request.userLabels === undefined ? {} : { userLabels: { ...request.userLabels } }),
  };
  const prepared = createPreparedPod(pods, images, manifest, request.flavor);
  const started = await runPreparedPod(pods, images, prepared, { ...options, interactive: false, detach: true, mutable: true });
  return { uuid: started.uuid, supervisorPid: started.supervisorPid };
}
