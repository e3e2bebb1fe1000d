/**
 * CRI containers as apps of the sandbox's mutable pod (src/engine/app): CreateContainer adds an
 * app (image, command, environment, user, security, the kubelet's mounts and limits applied to
 * its OCI config), StartContainer / StopContainer / RemoveContainer go through the pod's
 * supervisor, status comes from the app's files and the supervisor's live answer. The container's
 * CRI record (labels, annotations, metadata, log path, mounts, resources) is an annotation of the
 * app in the pod manifest, so it survives the server.
 *
 * api.proto rules kept here: StopContainer is idempotent (a stopped container is no error) and
 * kills after the timeout; RemoveContainer is idempotent and kills a running container; status of
 * an unknown container is an error.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { errnoCode, RktError } from "../../lib/errors.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import { containerId as runtimeContainerId, PodFiles } from "../../pod/pod-files.js";
import type { PodRef } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { FileLock } from "../../sys/file-lock.js";
import { readHostLimits } from "../../stage1/oci/host-limits.js";
import type { RuntimeSpec } from "../../stage1/oci/runtime-spec-types.js";
import { parseFlavor, runtimeFor, type OciRuntime } from "../../stage1/stage1-flavor.js";
import { supervisorRequest } from "../../stage1/supervisor-control.js";
import { addApp, type StdinMode } from "../app/add-app.js";
import { removeAppFiles } from "../app/mutable-pod.js";
import { appStatuses, removeApp, startApp, stopApp, type AppStatus } from "../app/app-lifecycle.js";
import { findImage } from "../image/find-image.js";
import type { AppRequest } from "../pod/app-request.js";
import type { CriContext } from "./cri-context.js";
import { criAppName, criContainerId, parseContainerId } from "./cri-ids.js";
import { CONTAINER_ANNOTATION, containerRecord, type ContainerRecord } from "./cri-records.js";
import { criRuntimeSpec } from "./cri-runtime-spec.js";
import { criSandboxes, findSandbox, labelsMatch, requireSandbox, type FoundSandbox } from "./cri-sandbox.js";
import { criAppSecurity } from "./cri-security.js";
import { nanos, nowNanos, type CriContainer, type CriContainerConfig, type CriContainerState, type CriContainerStatus, type CriLinuxContainerResources } from "./cri-types.js";

/**
 * CreateContainer: adds the container to running sandbox `sandboxId` (not started) and returns
 * its ID. Throws RktError "not-found" (sandbox, image), "failed-precondition" (the sandbox is not
 * ready), "invalid-argument" (a bad config), "already-exists" (the same name and attempt).
 */
export async function createContainer(ctx: CriContext, sandboxId: string, config: CriContainerConfig): Promise<string> {
  const sandbox = requireSandbox(ctx, sandboxId);
  if (sandbox.state !== "SANDBOX_READY") throw new RktError("failed-precondition", `pod sandbox ${sandboxId} is not ready (it was stopped)`, { hint: "run a new sandbox" });
  const metadata = config.metadata;
  if (metadata === null || metadata.name === "") throw new RktError("invalid-argument", "the container config needs metadata with a name");
  const imageName = config.image?.image ?? "";
  if (imageName === "") throw new RktError("invalid-argument", "the container config names no image");
  const image = findImage(ctx.images, imageName);
  const app = criAppName(metadata);
  const linux = config.linux;
  const sc = linux?.security_context ?? null;
  const security = criAppSecurity(sc, config.devices, sandbox.record.privileged);

  const mounts = config.mounts.map((m) => {
    if (!isAbsolute(m.host_path)) throw new RktError("invalid-argument", `mount ${JSON.stringify(m.container_path)}: host path ${JSON.stringify(m.host_path)} is not absolute`);
    let real: string;
    try {
      // api.proto: "If the hostpath is a symbolic link, runtimes should follow the symlink".
      real = realpathSync(m.host_path);
    } catch (err) {
      throw new RktError("invalid-argument", `mount ${JSON.stringify(m.container_path)}: host path ${m.host_path} ${errnoCode(err) === "ENOENT" ? "does not exist" : "cannot be resolved"}`, { cause: err });
    }
    return { container_path: m.container_path, host_path: real, readonly: m.readonly, selinux_relabel: m.selinux_relabel, propagation: m.propagation };
  });
  const logPath = config.log_path === "" ? "" : isAbsolute(config.log_path) ? config.log_path : sandbox.record.logDirectory === "" ? "" : join(sandbox.record.logDirectory, config.log_path);
  if (logPath !== "") mkdirSync(dirname(logPath), { recursive: true, mode: 0o755 });

  const record: ContainerRecord = {
    v: 1,
    metadata: { name: metadata.name, attempt: metadata.attempt },
    image: imageName,
    imageId: image.id,
    createdAt: nowNanos(),
    labels: { ...config.labels },
    annotations: { ...config.annotations },
    logPath,
    mounts,
    tty: config.tty,
    stdin: config.stdin,
    stdinOnce: config.stdin_once,
    resources: normalizeResources(linux?.resources ?? null),
  };
  const [exec, ...execArgs] = config.command;
  const request: AppRequest = {
    image: image.id,
    name: app,
    // Docker's rule, which the kubelet follows: command replaces the entrypoint (and drops the
    // image's cmd), args replace the cmd.
    ...(exec === undefined ? (config.args.length > 0 ? { args: config.args } : {}) : { exec, args: [...execArgs, ...config.args] }),
    ...(security.user === undefined ? {} : { user: security.user }),
    ...(security.group === undefined ? {} : { group: security.group }),
    ...(security.supplementaryGids === undefined ? {} : { supplementaryGids: security.supplementaryGids }),
    ...(config.working_dir === "" ? {} : { workingDir: config.working_dir }),
    readonlyRootfs: security.readonlyRootfs,
    environment: config.envs.map((e) => [e.key, e.value] as const),
    annotations: [[CONTAINER_ANNOTATION, JSON.stringify(record)]],
    security: security.security,
  };
  const negativeOomAllowed = (await hostLimits()).effectiveCapabilities.includes("CAP_SYS_RESOURCE");
  const stdin: StdinMode = config.tty ? "tty" : config.stdin ? (config.stdin_once ? "stream-once" : "stream") : "null";
  const pidMode = sc?.namespace_options?.pid ?? "CONTAINER";
  const name = await addApp(ctx.pods, ctx.images, sandbox.ref.uuid, request, {
    insecure: ctx.insecure,
    stdin,
    ...(logPath === "" ? {} : { logPath }),
    adjustSpec: (spec: RuntimeSpec, appName: string) => criRuntimeSpec(spec, { uuid: sandbox.ref.uuid, app: appName, sandbox: sandbox.record, container: record, pidMode, negativeOomAllowed }),
  });
  return criContainerId(sandbox.ref.uuid, name);
}

/** StartContainer. Throws "not-found" for an unknown container, "failed-precondition" when it cannot start. */
export async function startContainer(ctx: CriContext, id: string): Promise<void> {
  const { uuid, app } = parseContainerId(id);
  requireContainer(ctx, uuid, app);
  await startApp(ctx.pods, uuid, app);
}

/**
 * StopContainer: TERM, KILL after `timeoutSeconds` (0: at once). Idempotent for a container that
 * exists; "not-found" for one that does not.
 */
export async function stopContainer(ctx: CriContext, id: string, timeoutSeconds: number): Promise<void> {
  const { uuid, app } = parseContainerId(id);
  const { sandbox } = requireContainer(ctx, uuid, app);
  if (sandbox.state !== "SANDBOX_READY") return;
  await stopApp(ctx.pods, uuid, app, Math.max(0, Math.min(timeoutSeconds, 86_400)));
}

/** RemoveContainer: kills it if it runs, removes the app and its files. Succeeds for an unknown container. */
export async function removeContainer(ctx: CriContext, id: string): Promise<void> {
  const { uuid, app } = parseContainerId(id);
  const ref = findSandbox(ctx, uuid);
  if (ref === undefined) return;
  const sandbox = requireSandbox(ctx, uuid);
  if (!sandbox.manifest.apps.some((a) => a.name === app)) return;
  if (sandbox.state === "SANDBOX_READY") {
    await removeApp(ctx.pods, uuid, app, 0);
    return;
  }
  // The pod has ended: nothing runs or is mounted any more; drop the app from the record.
  const lock = await FileLock.acquire(join(ref.path, "mutate.lock"), "exclusive");
  try {
    const manifest = ctx.pods.readManifest(ref);
    removeAppFiles(ref.path, app);
    ctx.pods.writeManifest(ref, { ...manifest, apps: manifest.apps.filter((a) => a.name !== app) });
  } finally {
    lock.release();
  }
}

/** The filter of ListContainers (every field given must match). */
export interface ContainerFilter {
  readonly id: string;
  readonly state: { readonly state: CriContainerState } | null;
  readonly pod_sandbox_id: string;
  readonly label_selector: Readonly<Record<string, string>>;
}

/** ListContainers. */
export async function listContainers(ctx: CriContext, filter: ContainerFilter | null): Promise<CriContainer[]> {
  const sandboxes = criSandboxes(ctx).filter((s) => filter === null || filter.pod_sandbox_id === "" || s.ref.uuid.startsWith(filter.pod_sandbox_id));
  const lists = await Promise.all(
    sandboxes.map(async (s) => {
      const apps = s.manifest.apps.filter((a) => containerRecord(a, s.ref.uuid) !== undefined);
      if (apps.length === 0) return [];
      const statuses = await liveStatuses(ctx, s);
      return apps.flatMap((a) => {
        const record = containerRecord(a, s.ref.uuid);
        if (record === undefined) return [];
        const id = criContainerId(s.ref.uuid, a.name);
        const state = containerState(statuses.find((x) => x.name === a.name));
        if (filter !== null) {
          if (filter.id !== "" && !id.startsWith(filter.id)) return [];
          if (filter.state !== null && filter.state.state !== state) return [];
          if (!labelsMatch(record.labels, filter.label_selector)) return [];
        }
        const c: CriContainer = {
          id,
          pod_sandbox_id: s.ref.uuid,
          metadata: record.metadata,
          image: { image: record.image, annotations: {} },
          image_ref: record.imageId,
          image_id: record.imageId,
          state,
          created_at: record.createdAt,
          labels: record.labels,
          annotations: record.annotations,
        };
        return [c];
      });
    }),
  );
  return lists.flat();
}

/** ContainerStatus. Throws "not-found" for an unknown container. */
export async function containerStatus(ctx: CriContext, id: string, verbose: boolean): Promise<{ status: CriContainerStatus; info: Record<string, string> }> {
  const { uuid, app } = parseContainerId(id);
  const { sandbox, record } = requireContainer(ctx, uuid, app);
  const live = (await liveStatuses(ctx, sandbox)).find((a) => a.name === app);
  const state = containerState(live);
  const files = new PodFiles(sandbox.ref.path);
  const startError = readText(join(files.app(app), "error"));
  const exitCode = live?.exitCode ?? 0;
  const reason = state !== "CONTAINER_EXITED" ? "" : startError !== undefined ? "StartError" : (await oomKilled(sandbox.ref, app)) ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
  const status: CriContainerStatus = {
    id,
    metadata: record.metadata,
    state,
    created_at: record.createdAt,
    started_at: nanos(live?.startedAt),
    finished_at: state === "CONTAINER_EXITED" ? nanos(live?.finishedAt ?? live?.startedAt) : "0",
    exit_code: state === "CONTAINER_EXITED" ? exitCode : 0,
    image: { image: record.image, annotations: {} },
    image_ref: record.imageId,
    image_id: record.imageId,
    reason,
    message: state === "CONTAINER_EXITED" && startError !== undefined ? startError : "",
    labels: record.labels,
    annotations: record.annotations,
    mounts: record.mounts,
    log_path: record.logPath,
    resources: { linux: record.resources },
  };
  const info: Record<string, string> = {};
  if (verbose) {
    info.info = JSON.stringify({
      pod: uuid,
      app,
      pid: live?.pid,
      state: live?.state,
      restarts: live?.restarts,
      runtimeContainer: runtimeContainerId(uuid, app),
      bundle: files.app(app),
      config: readJson(files.appFile(app, "config.json")),
    });
  }
  return { status, info };
}

/**
 * UpdateContainerResources: the new limits go into the app's OCI config (for its next start)
 * and, if it runs, into its cgroup now (`runc update`). Fields left 0 / "" keep their value.
 */
export async function updateContainerResources(ctx: CriContext, id: string, update: CriLinuxContainerResources | null): Promise<void> {
  const { uuid, app } = parseContainerId(id);
  const { sandbox } = requireContainer(ctx, uuid, app);
  if (update === null) return;
  const patch = normalizeResources(update);
  const lock = await FileLock.acquire(join(sandbox.ref.path, "mutate.lock"), "exclusive");
  let record: ContainerRecord;
  let spec: RuntimeSpec;
  try {
    const manifest = ctx.pods.readManifest(sandbox.ref);
    const podApp = manifest.apps.find((a) => a.name === app);
    const old = podApp === undefined ? undefined : containerRecord(podApp, uuid);
    if (podApp === undefined || old === undefined) throw notFound(id);
    const merged = { ...old.resources };
    for (const [k, v] of Object.entries(patch) as [keyof ContainerRecord["resources"], string][]) if (v !== "0" && v !== "") merged[k] = v;
    record = { ...old, resources: merged };
    const files = new PodFiles(sandbox.ref.path);
    const configPath = files.appFile(app, "config.json");
    const current = JSON.parse(readFileSync(configPath, "utf8")) as RuntimeSpec;
    spec = criRuntimeSpec(current, { uuid, app, sandbox: sandbox.record, container: { ...record, mounts: [] }, pidMode: "CONTAINER", negativeOomAllowed: (await hostLimits()).effectiveCapabilities.includes("CAP_SYS_RESOURCE") });
    atomicWriteFileSync(configPath, JSON.stringify(spec, null, 2));
    const next: PodManifest = {
      ...manifest,
      apps: manifest.apps.map((a) =>
        a.name !== app ? a : { ...a, annotations: [...(a.annotations ?? []).filter((n) => n.name !== CONTAINER_ANNOTATION), { name: CONTAINER_ANNOTATION, value: JSON.stringify(record) }] },
      ),
    };
    ctx.pods.writeManifest(sandbox.ref, next);
  } finally {
    lock.release();
  }
  const live = (await liveStatuses(ctx, sandbox)).find((a) => a.name === app);
  if (live?.state !== "running" && live?.state !== "stopping") return;
  const runtime = runtimeOf(sandbox.ref);
  const [bin = "runc", ...prefix] = runtime.stateArgv(runtimeContainerId(uuid, app)).slice(0, -2);
  const resources = (spec.linux as { resources?: unknown } | undefined)?.resources ?? {};
  await new Promise<void>((resolve, reject) => {
    const child = execFile(bin, [...prefix, "update", "--resources", "-", runtimeContainerId(uuid, app)], (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new RktError("internal", `updating the cgroup of container ${id}: ${stderr.trim() || err.message}`));
    });
    child.stdin?.end(JSON.stringify(resources));
  });
}

/** ReopenContainerLog: the supervisor closes and reopens the app's log file. */
export async function reopenContainerLog(ctx: CriContext, id: string): Promise<void> {
  const { uuid, app } = parseContainerId(id);
  const { sandbox } = requireContainer(ctx, uuid, app);
  if (sandbox.state !== "SANDBOX_READY") throw new RktError("failed-precondition", `container ${id} is not running: its sandbox was stopped`);
  await supervisorRequest(sandbox.ref.path, `reopen-log ${app}`);
}

/** A container found: its sandbox and its record. Throws "not-found". */
export function requireContainer(ctx: CriContext, uuid: string, app: string): { sandbox: FoundSandbox; record: ContainerRecord } {
  let sandbox: FoundSandbox;
  try {
    sandbox = requireSandbox(ctx, uuid);
  } catch (err) {
    if (err instanceof RktError && err.kind === "not-found") throw notFound(criContainerId(uuid, app));
    throw err;
  }
  const podApp = sandbox.manifest.apps.find((a) => a.name === app);
  const record = podApp === undefined ? undefined : containerRecord(podApp, uuid);
  if (record === undefined) throw notFound(criContainerId(uuid, app));
  return { sandbox, record };
}

/** The CRI state of an app's status (undefined: the app is not known to anyone any more). */
export function containerState(status: AppStatus | undefined): CriContainerState {
  switch (status?.state) {
    case "created":
    case "starting":
      return "CONTAINER_CREATED";
    case "running":
    case "stopping":
      return "CONTAINER_RUNNING";
    case "exited":
    case "restarting":
      return "CONTAINER_EXITED";
    default:
      return "CONTAINER_UNKNOWN";
  }
}

/** The apps' statuses; a sandbox whose pod has ended reports from the files alone. */
async function liveStatuses(ctx: CriContext, sandbox: FoundSandbox): Promise<AppStatus[]> {
  try {
    return await appStatuses(ctx.pods, sandbox.ref.uuid);
  } catch (err) {
    if (err instanceof RktError && err.kind === "unavailable") return [];
    throw err;
  }
}

function notFound(id: string): RktError {
  return new RktError("not-found", `no container "${id}"`, { hint: "see ListContainers" });
}

/** Resources with every field present, 64-bit values as decimal strings. */
function normalizeResources(r: CriLinuxContainerResources | null): ContainerRecord["resources"] {
  const s = (v: string | number | undefined): string => (v === undefined ? "0" : String(v));
  return {
    cpu_period: s(r?.cpu_period),
    cpu_quota: s(r?.cpu_quota),
    cpu_shares: s(r?.cpu_shares),
    memory_limit_in_bytes: s(r?.memory_limit_in_bytes),
    oom_score_adj: s(r?.oom_score_adj),
    cpuset_cpus: r?.cpuset_cpus ?? "",
    cpuset_mems: r?.cpuset_mems ?? "",
    memory_swap_limit_in_bytes: s(r?.memory_swap_limit_in_bytes),
  };
}

let limits: ReturnType<typeof readHostLimits> | undefined;
function hostLimits(): ReturnType<typeof readHostLimits> {
  return (limits ??= readHostLimits());
}

function runtimeOf(ref: PodRef): OciRuntime {
  return runtimeFor(parseFlavor(readFileSync(new PodFiles(ref.path).stage1, "utf8").trim()), () => undefined);
}

/** Whether the memory cgroup of the app's last run counted an OOM kill (cgroup v1 `oom_kill`). */
async function oomKilled(ref: PodRef, app: string): Promise<boolean> {
  const cgroupsPath = (readJson(new PodFiles(ref.path).appFile(app, "config.json")) as { linux?: { cgroupsPath?: string } } | undefined)?.linux?.cgroupsPath;
  if (cgroupsPath === undefined) return false;
  for (const file of [join("/sys/fs/cgroup/memory", cgroupsPath, "memory.oom_control"), join("/sys/fs/cgroup", cgroupsPath, "memory.events")]) {
    const text = readText(file);
    const count = text === undefined ? undefined : /^oom_kill (\d+)$/m.exec(text)?.[1];
    if (count !== undefined) return Number(count) > 0;
  }
  await Promise.resolve();
  return false;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

