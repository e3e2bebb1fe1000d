/**
 * What rkt records about a CRI sandbox and a CRI container beyond the pod itself, so that a
 * restarted `rkt cri` (or any rkt command) finds everything again from the pod directory alone:
 * the sandbox record is an annotation of the pod manifest (its labels and annotations are the
 * manifest's userLabels and userAnnotations), each container's record an annotation of its app.
 * The kubelet expects labels, annotations and metadata back unchanged (api.proto: "Annotations
 * MUST NOT be altered by the runtime"), so they are kept as given.
 */
import { parseJson } from "../../lib/json-document.js";
import * as z from "../../lib/schema.js";
import { nameValueGet, type PodApp, type PodManifest } from "../../pod/pod-manifest.js";

/** The pod annotation holding a {@link SandboxRecord} (JSON). Its presence makes a pod a CRI sandbox. */
export const SANDBOX_ANNOTATION = "rkt.dev/cri-sandbox";
/** The app annotation holding a {@link ContainerRecord} (JSON). */
export const CONTAINER_ANNOTATION = "rkt.dev/cri-container";

const mode = z.enum(["POD", "CONTAINER", "NODE", "TARGET"]);
const int64 = z.string().check(z.regex(/^-?\d+$/));

const sandboxSchema = z.object({
  v: z.literal(1),
  metadata: z.object({ name: z.string(), uid: z.string(), namespace: z.string(), attempt: z.number() }),
  /** Nanoseconds since the epoch. */
  createdAt: int64,
  runtimeHandler: z.string(),
  logDirectory: z.string(),
  hostname: z.string(),
  namespaces: z.object({ network: mode, pid: mode, ipc: mode }),
  /** The kubelet's cgroup for the pod (cgroupfs syntax); "" for rkt's own `/rkt/<uuid>`. */
  cgroupParent: z.string(),
  sysctls: z.record(z.string(), z.string()),
  /** The sandbox may hold privileged containers. */
  privileged: z.boolean(),
  /** The CNI network the pod joined ("" for none or the node's). */
  network: z.string(),
});

/** How rkt made a CRI sandbox (see the module comment). */
export type SandboxRecord = z.infer<typeof sandboxSchema>;

const resourcesSchema = z.object({
  cpu_period: int64,
  cpu_quota: int64,
  cpu_shares: int64,
  memory_limit_in_bytes: int64,
  oom_score_adj: int64,
  cpuset_cpus: z.string(),
  cpuset_mems: z.string(),
  memory_swap_limit_in_bytes: int64,
});

const mountSchema = z.object({
  container_path: z.string(),
  host_path: z.string(),
  readonly: z.boolean(),
  selinux_relabel: z.boolean(),
  propagation: z.enum(["PROPAGATION_PRIVATE", "PROPAGATION_HOST_TO_CONTAINER", "PROPAGATION_BIDIRECTIONAL"]),
});

const containerSchema = z.object({
  v: z.literal(1),
  metadata: z.object({ name: z.string(), attempt: z.number() }),
  /** The image as the kubelet named it. */
  image: z.string(),
  /** The store's image ID it resolved to. */
  imageId: z.string(),
  createdAt: int64,
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  /** Absolute path of the CRI log ("" when the kubelet gave none). */
  logPath: z.string(),
  mounts: z.array(mountSchema),
  tty: z.boolean(),
  stdin: z.boolean(),
  stdinOnce: z.boolean(),
  resources: resourcesSchema,
});

/** How rkt made a CRI container (see the module comment). */
export type ContainerRecord = z.infer<typeof containerSchema>;

/** The sandbox record of `manifest`, or undefined when the pod is not a CRI sandbox. */
export function sandboxRecord(manifest: PodManifest, uuid: string): SandboxRecord | undefined {
  const text = nameValueGet(manifest.annotations, SANDBOX_ANNOTATION);
  return text === undefined ? undefined : parseJson(text, sandboxSchema, `CRI record of pod ${uuid}`, "data-loss");
}

/** The container record of `app`, or undefined for an app not made through the CRI. */
export function containerRecord(app: PodApp, uuid: string): ContainerRecord | undefined {
  const text = nameValueGet(app.annotations, CONTAINER_ANNOTATION);
  return text === undefined ? undefined : parseJson(text, containerSchema, `CRI record of app ${app.name} of pod ${uuid}`, "data-loss");
}
