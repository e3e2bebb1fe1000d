/**
 * CRI pod sandboxes as rkt mutable pods (src/engine/app): RunPodSandbox starts an empty pod whose
 * supervisor then holds it; the pod's namespaces, CNI network, /etc files and cgroup are the
 * sandbox's. There is no pause container: the pinned namespaces are the sandbox. Everything the
 * kubelet asked for is recorded in the pod manifest (cri-records.ts), so status, list and a
 * restarted server read the pods on disk.
 *
 * api.proto rules kept here: RunPodSandbox leaves the sandbox ready or nothing at all (a failed
 * start undoes networks, namespaces and the pod directory); StopPodSandbox and RemovePodSandbox
 * are idempotent and succeed for sandboxes already stopped or removed; StopPodSandbox kills what
 * still runs and releases the network (IP lease, veth) before it returns.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RktError } from "../../lib/errors.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodRef } from "../../pod/pod-store.js";
import { FileLock } from "../../sys/file-lock.js";
import { mountsUnder } from "../../sys/mounts.js";
import { NS_ROOT } from "../../stage1/pod-namespaces.js";
import { parseFlavor, runtimeFor, type Stage1Flavor } from "../../stage1/stage1-flavor.js";
import { supervisorRequest } from "../../stage1/supervisor-control.js";
import { createSandbox } from "../app/sandbox.js";
import { podInfo } from "../pod/pod-info.js";
import type { RunOptions } from "../pod/run-pod.js";
import { teardownPod } from "../pod/teardown-pod.js";
import type { CriContext } from "./cri-context.js";
import { checkSandboxId } from "./cri-ids.js";
import { SANDBOX_ANNOTATION, sandboxRecord, type SandboxRecord } from "./cri-records.js";
import { nowNanos, type CriPodSandbox, type CriPodSandboxConfig, type CriPodSandboxStatus, type CriSandboxState } from "./cri-types.js";
import { kubeletNetwork, selectedNetwork } from "./kubelet-network.js";

/** RuntimeClass handlers rkt knows (api.proto: an unknown handler must be refused); "" is the default. */
const HANDLERS: Readonly<Record<string, Stage1Flavor>> = { "": "default", runc: "default", default: "default", crun: "crun", runsc: "sandbox", gvisor: "sandbox", sandbox: "sandbox" };

/** How long StopPodSandbox waits for the pod's supervisor to end. */
const STOP_WAIT_MS = 60_000;

/**
 * A sandbox's supervisor ends without tearing its pod down (its `finally` just exits with the
 * pod's code): StopPodSandbox does the teardown in this long-running process, holding the pod's
 * lock once the supervisor has released it, instead of the supervisor starting Node a second
 * time (stage1-teardown) for it. A sandbox that ends otherwise (`rkt stop`, its supervisor
 * killed) keeps its network and mounts until StopPodSandbox or `rkt gc` releases them.
 */
const SANDBOX_FINALLY: readonly string[] = ["/bin/sh", "-c", 'exit "${RKT_EXIT_CODE:-0}"', "rkt-cri-sandbox-end"];

/**
 * RunPodSandbox: starts a mutable pod for `config` and returns its ID (the pod UUID).
 *
 * @example
 * const id = await runSandbox(ctx, { metadata: { name: "web", uid: "u1", namespace: "default", attempt: 0 }, hostname: "web", ... }, "");
 */
export async function runSandbox(ctx: CriContext, config: CriPodSandboxConfig, runtimeHandler: string): Promise<string> {
  const metadata = config.metadata;
  if (metadata === null || metadata.name === "" || metadata.uid === "" || metadata.namespace === "") {
    throw new RktError("invalid-argument", "the sandbox config needs metadata with a name, uid and namespace");
  }
  const flavor = HANDLERS[runtimeHandler];
  if (flavor === undefined) throw new RktError("invalid-argument", `unknown runtime handler "${runtimeHandler}"`, { hint: `rkt knows: ${Object.keys(HANDLERS).filter((h) => h !== "").join(", ")} ("" is runc)` });
  const security = config.linux?.security_context ?? null;
  const ns = security?.namespace_options ?? null;
  const namespaces = { network: ns?.network ?? "POD", pid: ns?.pid ?? "POD", ipc: ns?.ipc ?? "POD" } as const;
  const hostNetwork = namespaces.network === "NODE";
  const sysctls = checkSysctls(config.linux?.sysctls ?? {}, hostNetwork, namespaces.ipc === "NODE");
  const hostname = config.hostname !== "" ? config.hostname : hostNetwork ? osHostname() : metadata.name;

  const network = hostNetwork ? undefined : await kubeletNetwork(ctx.cni);
  const joined = network?.ready === true ? network.network : undefined;
  if (network !== undefined && !network.ready) ctx.log(`sandbox ${metadata.namespace}/${metadata.name}: no pod network (${network.message}); loopback only`);
  const ports = joined === undefined ? [] : portForwards(config);

  const record: SandboxRecord = {
    v: 1,
    metadata: { name: metadata.name, uid: metadata.uid, namespace: metadata.namespace, attempt: metadata.attempt },
    createdAt: nowNanos(),
    runtimeHandler,
    logDirectory: config.log_directory,
    hostname,
    namespaces,
    cgroupParent: config.linux?.cgroup_parent ?? "",
    sysctls,
    privileged: security?.privileged ?? false,
    network: joined?.name ?? "",
  };
  if (config.log_directory !== "") mkdirSync(config.log_directory, { recursive: true, mode: 0o755 });
  const dns = config.dns_config;
  const options: Omit<RunOptions, "detach" | "mutable" | "interactive"> = {
    net: hostNetwork ? ["host"] : joined === undefined ? ["none"] : [joined.name],
    ...(joined === undefined ? {} : { networks: [selectedNetwork(joined, metadata)], cniPluginDirs: ctx.cni.binDirs }),
    ports,
    hostname,
    dns: { servers: dns?.servers ?? [], search: dns?.searches ?? [], options: dns?.options ?? [] },
    hostsEntries: [],
    insecure: ctx.insecure,
    localConfig: ctx.localConfig,
    stage1Dir: ctx.stage1Dir,
    rktArgv: SANDBOX_FINALLY,
    warn: ctx.log,
  };
  const started = await createSandbox(
    ctx.pods,
    ctx.images,
    { flavor, volumes: [], annotations: [[SANDBOX_ANNOTATION, JSON.stringify(record)]], userLabels: { ...config.labels }, userAnnotations: { ...config.annotations } },
    options,
  );
  return started.uuid;
}

/**
 * StopPodSandbox: kills every app of the sandbox and waits until its pod has ended and released
 * its network and namespaces. Succeeds for an unknown or already stopped sandbox.
 */
export async function stopSandbox(ctx: CriContext, id: string): Promise<void> {
  const ref = findSandbox(ctx, id);
  if (ref === undefined) return;
  if (ctx.pods.state(ref) === "running") {
    try {
      // api.proto: running containers "must be forcibly terminated".
      await supervisorRequest(ref.path, "shutdown 0", STOP_WAIT_MS);
    } catch (err) {
      if (!(err instanceof RktError) || err.kind !== "unavailable") throw err;
      // The supervisor is gone (killed): stop what may still run through the runtime below.
    }
    await waitForExit(ctx, ref);
  }
  // A supervisor killed before its teardown leaves the namespaces (and maybe a network): release
  // them now, holding the pod's lock as the teardown would.
  if (existsSync(join(NS_ROOT, ref.uuid))) {
    const lock = FileLock.tryAcquire(ref.path, "exclusive");
    if (lock === undefined) return;
    try {
      const problems = await teardownPod(ref.uuid, ref.path, runtimeOf(ref));
      if (problems.length > 0) throw new RktError("internal", `stopping sandbox ${ref.uuid}: ${problems.join("; ")}`);
    } finally {
      lock.release();
    }
  }
}

/** RemovePodSandbox: stops the sandbox if needed and deletes its pod. Succeeds for an unknown sandbox. */
export async function removeSandbox(ctx: CriContext, id: string): Promise<void> {
  const ref = findSandbox(ctx, id);
  if (ref === undefined) return;
  await stopSandbox(ctx, id);
  const current = findSandbox(ctx, id);
  if (current === undefined) return;
  const lock = FileLock.tryAcquire(current.path, "exclusive");
  if (lock === undefined) throw new RktError("failed-precondition", `pod sandbox ${id} is in use by another rkt process`, { hint: "retry" });
  try {
    // Stopped means torn down; only a teardown that failed halfway leaves something to undo.
    // Nothing may stay mounted below the directory about to be deleted (a host volume's bind
    // mount would be deleted through).
    if (existsSync(join(NS_ROOT, current.uuid)) || mountsUnder(current.path).length > 0) {
      const problems = await teardownPod(current.uuid, current.path, runtimeOf(current));
      if (problems.length > 0) throw new RktError("internal", `removing sandbox ${id}: ${problems.join("; ")}`, { hint: "rkt gc retries" });
    }
    const doomed = ctx.pods.move(current, "garbage");
    rmSync(doomed.path, { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

/** The filter of ListPodSandbox (every field given must match). */
export interface SandboxFilter {
  readonly id: string;
  readonly state: { readonly state: CriSandboxState } | null;
  readonly label_selector: Readonly<Record<string, string>>;
}

/** ListPodSandbox: the CRI sandboxes on disk (running or stopped, not yet removed). */
export function listSandboxes(ctx: CriContext, filter: SandboxFilter | null): CriPodSandbox[] {
  const out: CriPodSandbox[] = [];
  for (const s of criSandboxes(ctx)) {
    if (filter !== null) {
      if (filter.id !== "" && !s.ref.uuid.startsWith(filter.id)) continue;
      if (filter.state !== null && filter.state.state !== s.state) continue;
      if (!labelsMatch(s.labels, filter.label_selector)) continue;
    }
    out.push(toSandbox(s));
  }
  return out;
}

/** PodSandboxStatus. Throws RktError "not-found" for an unknown sandbox. */
export function sandboxStatus(ctx: CriContext, id: string, verbose: boolean): { status: CriPodSandboxStatus; info: Record<string, string> } {
  const s = requireSandbox(ctx, id);
  const info = podInfo(ctx.pods, s.ref);
  const ips = info.networks.map((n) => n.ip4).filter((ip): ip is string => ip !== undefined);
  const [first, ...more] = ips;
  const status: CriPodSandboxStatus = {
    ...toSandbox(s),
    network: first === undefined ? null : { ip: first, additional_ips: more.map((ip) => ({ ip })) },
    linux: { namespaces: { options: { network: s.record.namespaces.network, pid: s.record.namespaces.pid, ipc: s.record.namespaces.ipc, target_id: "" } } },
  };
  const extra: Record<string, string> = {};
  if (verbose) {
    extra.info = JSON.stringify({
      pod: s.ref.uuid,
      podDir: s.ref.path,
      state: info.state,
      supervisorPid: info.pid,
      netns: s.record.namespaces.network === "NODE" ? "host" : join(NS_ROOT, s.ref.uuid, "net"),
      network: s.record.network,
      hostname: s.record.hostname,
      cgroupParent: s.record.cgroupParent,
      sysctls: s.record.sysctls,
      runtimeHandler: s.record.runtimeHandler,
      apps: info.apps.map((a) => a.name),
    });
  }
  return { status, info: extra };
}

/** A CRI sandbox as found on disk. */
export interface FoundSandbox {
  readonly ref: PodRef;
  readonly manifest: PodManifest;
  readonly record: SandboxRecord;
  readonly state: CriSandboxState;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** Every CRI sandbox of the store (pods that ran or run with a sandbox record). */
export function criSandboxes(ctx: CriContext): FoundSandbox[] {
  const out: FoundSandbox[] = [];
  for (const ref of ctx.pods.list()) {
    if (ref.dir !== "run") continue;
    const found = readSandbox(ctx, ref);
    if (found !== undefined) out.push(found);
  }
  return out;
}

/** The sandbox `id`, or a "not-found" RktError naming it. */
export function requireSandbox(ctx: CriContext, id: string): FoundSandbox {
  const ref = findSandbox(ctx, id);
  const found = ref === undefined ? undefined : readSandbox(ctx, ref);
  if (found === undefined) throw new RktError("not-found", `no pod sandbox "${id}"`, { hint: "see ListPodSandbox" });
  return found;
}

/** The pod of sandbox `id`, if it exists (in any state but removed). */
export function findSandbox(ctx: CriContext, id: string): PodRef | undefined {
  checkSandboxId(id);
  try {
    const ref = ctx.pods.find(id);
    return ref.uuid === id ? ref : undefined;
  } catch (err) {
    if (err instanceof RktError && err.kind === "not-found") return undefined;
    throw err;
  }
}

/** Whether `labels` has every key/value of `selector`. */
export function labelsMatch(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function readSandbox(ctx: CriContext, ref: PodRef): FoundSandbox | undefined {
  let manifest: PodManifest;
  try {
    manifest = ctx.pods.readManifest(ref);
  } catch {
    return undefined;
  }
  const record = sandboxRecord(manifest, ref.uuid);
  if (record === undefined) return undefined;
  return {
    ref,
    manifest,
    record,
    state: ctx.pods.state(ref) === "running" ? "SANDBOX_READY" : "SANDBOX_NOTREADY",
    labels: { ...manifest.userLabels },
    annotations: { ...manifest.userAnnotations },
  };
}

function toSandbox(s: FoundSandbox): CriPodSandbox {
  return { id: s.ref.uuid, metadata: s.record.metadata, state: s.state, created_at: s.record.createdAt, labels: s.labels, annotations: s.annotations, runtime_handler: s.record.runtimeHandler };
}

function runtimeOf(ref: PodRef): ReturnType<typeof runtimeFor> {
  let flavor: Stage1Flavor = "default";
  try {
    flavor = parseFlavor(readFileSync(new PodFiles(ref.path).stage1, "utf8").trim());
  } catch {
    // default
  }
  return runtimeFor(flavor, () => undefined);
}

async function waitForExit(ctx: CriContext, ref: PodRef): Promise<void> {
  const end = Date.now() + STOP_WAIT_MS;
  let delay = 5;
  while (ctx.pods.state(ref) === "running") {
    if (Date.now() > end) throw new RktError("unavailable", `sandbox ${ref.uuid} did not finish stopping within ${STOP_WAIT_MS / 1000} s`, { hint: `see ${join(ref.path, "supervisor", "log")}` });
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** Port mappings with a host port, as rkt's sandbox ports (api.proto: host_port 0 means none). */
function portForwards(config: CriPodSandboxConfig): RunOptions["ports"] {
  return config.port_mappings
    .filter((p) => p.host_port > 0)
    .map((p) => {
      if (p.protocol === "SCTP") throw new RktError("invalid-argument", `port mapping ${p.host_port}->${p.container_port}: SCTP cannot be forwarded`, { hint: "rkt forwards TCP and UDP" });
      if (p.container_port < 1 || p.container_port > 65535 || p.host_port > 65535) throw new RktError("invalid-argument", `port mapping ${p.host_port}->${p.container_port}: ports are 1 to 65535`);
      const protocol = p.protocol === "UDP" ? ("udp" as const) : ("tcp" as const);
      return { name: `${protocol}-${p.container_port}`, ...(p.host_ip === "" ? {} : { hostIP: p.host_ip }), hostPort: p.host_port, podPort: { protocol, port: p.container_port } };
    });
}

/**
 * Sysctls a pod may set: the namespaced ones (the kubelet's list: IPC's kernel.shm*, kernel.msg*,
 * kernel.sem, fs.mqueue.*, and net.*), and not those of a namespace shared with the node. Names
 * may use `/` for `.`.
 */
function checkSysctls(sysctls: Readonly<Record<string, string>>, hostNetwork: boolean, hostIpc: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(sysctls)) {
    const name = raw.replace(/\//g, ".");
    const ipc = /^(kernel\.shm[a-z_]*|kernel\.msg[a-z_]*|kernel\.sem|fs\.mqueue\.[a-z_]+)$/.test(name);
    const net = /^net\.[a-z0-9_.-]+$/.test(name);
    if (!ipc && !net) throw new RktError("invalid-argument", `sysctl "${raw}" is not namespaced: a pod cannot set it`, { hint: "pods may set kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.*" });
    if (net && hostNetwork) throw new RktError("invalid-argument", `sysctl "${raw}" would change the node's network: the pod uses the host network`);
    if (ipc && hostIpc) throw new RktError("invalid-argument", `sysctl "${raw}" would change the node's IPC namespace: the pod uses the host IPC`);
    if (/[\n\0]/.test(value)) throw new RktError("invalid-argument", `sysctl "${raw}": invalid value`);
    out[name] = value;
  }
  return out;
}

