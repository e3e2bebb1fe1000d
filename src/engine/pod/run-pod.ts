/**
 * `rkt run-prepared` (and the second half of `rkt run`): stage0 hands a prepared pod to stage1.
 *
 * Stage0 (this Node process) does everything that needs the image store and the manifest: pod
 * namespaces, an overlay root filesystem per app over the shared layer trees, one OCI runtime
 * config per app, and the supervisor's plan files. Then it spawns the native supervisor
 * (src/stage1/supervisor), hands it the pod lock, and leaves: rkt's "stage0 execs stage1" without
 * a resident Node process. When `rkt` was started through its launcher (bin/rkt), the launcher
 * adopts the supervisor and exits with the pod's exit code, so `rkt run` still *is* the pod for
 * the shell or init system that started it.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { RktError, wrap } from "../../lib/errors.js";
import { insecureWarnings, type InsecureOptions } from "../../config/insecure-options.js";
import type { ImageStore } from "../../image/store/image-store.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { FileLock } from "../../sys/file-lock.js";
import { createPodNamespaces, type PodNamespaces } from "../../stage1/pod-namespaces.js";
import { parseFlavor, runtimeFor, type OciRuntime } from "../../stage1/stage1-flavor.js";
import { prepareApp, readPodUserns, USERNS_FILE, writeArgv } from "./prepare-app.js";
import { PRIVATE_USERS_ANNOTATION } from "./build-pod-manifest.js";
import { nameValueGet } from "../../pod/pod-manifest.js";
import { allocateIdRange, idRangeRecord, releaseIdRange } from "../../stage1/userns/id-range.js";
import { createPodUserNamespaces } from "../../stage1/userns/pod-user-namespace.js";
import { teardownPod, teardownScript } from "./teardown-pod.js";
import { exitEventShell, recordPodEvent } from "../../events/event-journal.js";
import { registerPodMetadata } from "./register-metadata.js";
import { loadNetworkConfigs } from "../../network/cni/network-config.js";
import { parseNetFlags, selectNetworks, type SelectedNetwork } from "../../network/cni/select-networks.js";
import type { CniDns } from "../../network/cni/cni-result.js";
import { attachPodNetworks } from "../../network/pod-network.js";
import type { PortForward } from "../../network/port-forward.js";


export interface DnsOptions {
  readonly servers: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
  readonly domain?: string | undefined;
}

export interface RunOptions {
  /** rkt's `--net` entries: `none` (loopback only), `host`, `default`, named CNI networks. */
  readonly net: readonly string[];
  /** `--port=NAME:[HOSTIP:]HOSTPORT`: NAME is an app port (Docker ports are named `80-tcp`). */
  readonly ports: readonly {
    readonly name: string;
    readonly hostIP?: string | undefined;
    readonly hostPort: number;
    /** A sandbox has no apps yet: its ports name the pod port and protocol themselves. */
    readonly podPort?: { readonly protocol: "tcp" | "udp"; readonly port: number } | undefined;
  }[];
  readonly hostname?: string | undefined;
  readonly dns: DnsOptions;
  readonly hostsEntries: readonly (readonly [string, string])[];
  readonly interactive: boolean;
  /** The caller's terminal size, so an interactive app starts with it (not 0x0). */
  readonly consoleSize?: { readonly rows: number; readonly columns: number } | undefined;
  /** Supervise without a terminal, in a new session. */
  readonly detach: boolean;
  /**
   * A mutable pod (`rkt app sandbox`, the CRI server): detached, apps added, started, stopped and
   * removed one at a time through the supervisor's control socket; none start by themselves.
   */
  readonly mutable?: boolean | undefined;
  readonly insecure: InsecureOptions;
  /** `--local-config`: its net.d holds the CNI network configurations. */
  readonly localConfig: string;
  /** `--mds-register`: register with the metadata service on this unix socket; apps get AC_METADATA_URL. */
  readonly metadataService?: { readonly socket: string } | undefined;
  /**
   * The CNI networks to join, chosen by the caller instead of from `net` (the CRI server: the
   * first configuration of the kubelet's CNI directory, and no `default-restricted`). Used when
   * `net` asks for a contained network.
   */
  readonly networks?: readonly SelectedNetwork[] | undefined;
  /** Where CNI plugins are looked for (default: /usr/lib/cni, /opt/cni/bin, `<localConfig>/net.d`). */
  readonly cniPluginDirs?: readonly string[] | undefined;
  /** Where the native stage1 programs are (dist/). */
  readonly stage1Dir: string;
  /** How the supervisor calls back into rkt for teardown: [node, script, global flags...]. */
  readonly rktArgv: readonly string[];
  /** The launcher's pipe (RKT_LAUNCH_FD), if rkt runs under it. */
  readonly launchFd?: number | undefined;
  readonly warn: (message: string) => void;
  /** SIGINT/SIGTERM to stage0: before the hand-over it cancels the start; after, it stops the pod. */
  readonly signal?: AbortSignal | undefined;
}

export interface StartedPod {
  readonly uuid: string;
  readonly supervisorPid: number;
  /** Resolves with the pod's exit code when the supervisor was not handed to a launcher. */
  readonly exited: Promise<number> | undefined;
}

export async function runPreparedPod(pods: PodStore, images: ImageStore, prepared: PodRef, options: RunOptions): Promise<StartedPod> {
  if (prepared.dir !== "prepared") {
    throw new RktError("failed-precondition", `pod "${prepared.uuid}" is ${pods.state(prepared)}, not prepared`, { hint: "only prepared pods can be run; see `rkt list`" });
  }
  const lock = FileLock.tryAcquire(prepared.path, "exclusive");
  if (lock === undefined) throw new RktError("failed-precondition", `pod "${prepared.uuid}" is being run by another rkt process`);
  for (const w of insecureWarnings(options.insecure, "run")) options.warn(w);
  let ref: PodRef;
  try {
    ref = pods.move(prepared, "run");
  } catch (err) {
    lock.release();
    throw err;
  }
  const files = new PodFiles(ref.path);
  const flavor = parseFlavor(readFileSync(files.stage1, "utf8").trim());
  const runtime = runtimeFor(flavor, options.warn);
  try {
    const manifest = pods.readManifest(ref);
    const mutable = options.mutable === true;
    if (mutable && (options.interactive || flavor === "fly")) {
      throw new RktError("invalid-argument", options.interactive ? "a mutable pod cannot be --interactive (attach to its apps instead)" : 'stage1 "fly" runs exactly one app and cannot host a mutable pod');
    }
    if (options.interactive && manifest.apps.length !== 1) {
      throw new RktError("invalid-argument", `--interactive needs a pod of exactly one app; this one has ${manifest.apps.length}`);
    }
    if (flavor === "fly" && manifest.apps.length !== 1 && !mutable) {
      throw new RktError("invalid-argument", `stage1 "fly" runs exactly one app; this pod has ${manifest.apps.length}`);
    }
    // fly always uses the host's network (rkt ignored --net for it).
    const request = flavor === "fly" ? ({ mode: "host" } as const) : parseNetFlags(options.net);
    const hostname = options.hostname ?? `rkt-${ref.uuid}`;
    atomicWriteFileSync(files.runOptions, JSON.stringify({ net: options.net, hostname, dns: options.dns, interactive: options.interactive, flavor, mutable }));
    const ports = resolvePorts(manifest, options.ports);
    if (ports.length > 0 && request.mode !== "contained") {
      throw new RktError("invalid-argument", `--port needs a contained network; this pod uses --net=${request.mode}`, { hint: "use --net=default (or a named network) with --port" });
    }
    const networks = request.mode !== "contained" ? [] : (options.networks ?? selectNetworks(request, await loadNetworkConfigs({ localConfig: options.localConfig })));
    const privateUsers = nameValueGet(manifest.annotations, PRIVATE_USERS_ANNOTATION) === "true";
    if (privateUsers && flavor !== "default" && flavor !== "crun") {
      throw new RktError("invalid-argument", `--private-users is not supported by stage1 "${flavor}"`, { hint: 'use the default stage1: fly shares the host\'s namespaces, and gVisor (sandbox) has its own user model' });
    }
    // The kernel mounts a sysfs only for a network namespace the mounter's user namespace owns;
    // binding the host's /sys instead would show the pod every cgroup of the host.
    if (privateUsers && request.mode === "host") {
      throw new RktError("invalid-argument", "--private-users needs a network namespace of the pod's own, not --net=host", { hint: "use --net=default, --net=none or a named network" });
    }
    const ns = flavor === "fly" ? undefined : privateUsers ? await podUserNamespaces(pods, ref, hostname, request.mode === "host", options.signal) : await createPodNamespaces(ref.uuid, hostname, request.mode === "host");
    let cniDns: CniDns | undefined;
    if (ns !== undefined && networks.length > 0) {
      const attached = await attachPodNetworks({
        uuid: ref.uuid,
        netnsPath: ns.net,
        networks,
        localConfig: options.localConfig,
        ports,
        netInfoPath: files.netInfo,
        ...(options.cniPluginDirs === undefined ? {} : { pluginDirs: options.cniPluginDirs }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      cniDns = attached.dns;
    }
    writeEtcFiles(files, hostname, request.mode === "host" ? "host" : "contained", options, cniDns);
    prepareVolumes(files, manifest);
    if (flavor === "sandbox" && (ns === undefined || ns.net === "host")) {
      throw new RktError("invalid-argument", 'stage1 "sandbox" (gVisor) cannot use the host\'s network', { hint: "use --net=none or a CNI network with --stage1-name=sandbox" });
    }
    const consoleSocket = options.interactive ? files.supervisor("console.sock") : undefined;
    for (const app of manifest.apps) {
      await prepareApp({ images, ref, files, manifest, app, runtime, flavor, ns, hostname, insecure: options.insecure, terminal: options.interactive, consoleSocket, consoleSize: options.consoleSize, warn: options.warn });
    }
    if (options.metadataService !== undefined) await registerPodMetadata({ images, ref, files, manifest, socket: options.metadataService.socket, hostNetwork: ns === undefined || ns.net === "host", warn: options.warn, signal: options.signal });
    writeSupervisorPlan(files, manifest, ref, options, runtime, networks.length > 0, pods.dataDir);
    options.signal?.throwIfAborted();
    recordPodEvent(pods.dataDir, "pod-started", ref.uuid, ref.path, { flavor, ...(mutable ? { mutable: "true" } : {}) });
    const started = mutable ? await startMutableSupervisor(files, lock, options) : startSupervisor(files, lock, options);
    // A signal that reached stage0 after the supervisor started but before the launcher knew its
    // pid would be lost: pass it on, the supervisor stops the apps.
    const forward = (): void => {
      try {
        process.kill(started.supervisorPid, "SIGTERM");
      } catch {
        // already gone
      }
    };
    if (options.signal?.aborted === true) forward();
    else options.signal?.addEventListener("abort", forward, { once: true });
    return { uuid: ref.uuid, ...started };
  } catch (err) {
    // Nothing half-made stays: undo the host side and remove the pod.
    await teardownPod(ref.uuid, ref.path, runtime).catch(() => []);
    releaseIdRange(usernsDir(pods), ref.uuid);
    const garbage = pods.move(ref, "garbage");
    rmSync(garbage.path, { recursive: true, force: true });
    recordPodEvent(pods.dataDir, "pod-removed", ref.uuid, undefined, { reason: "start failed" });
    lock.release();
    throw wrap(`running pod ${ref.uuid}`, err);
  }
}

/** `--port` names resolved against the apps' ports (rkt-features §5). */
function resolvePorts(manifest: PodManifest, requested: RunOptions["ports"]): PortForward[] {
  return requested.map((p) => {
    if (p.podPort !== undefined) return { protocol: p.podPort.protocol, containerPort: p.podPort.port, hostPort: p.hostPort, ...(p.hostIP === undefined ? {} : { hostIP: p.hostIP }) };
    const found = manifest.apps.flatMap((a) => a.app.ports ?? []).find((port) => port.name === p.name);
    if (found === undefined) {
      const known = manifest.apps.flatMap((a) => (a.app.ports ?? []).map((port) => port.name));
      throw new RktError("invalid-argument", `--port: no app of the pod has a port named "${p.name}"`, { hint: known.length > 0 ? `ports: ${known.join(", ")}` : "the images expose no ports" });
    }
    if (found.protocol !== "tcp" && found.protocol !== "udp") throw new RktError("invalid-argument", `--port ${p.name}: protocol ${found.protocol} cannot be forwarded`);
    return { protocol: found.protocol, containerPort: found.port, hostPort: p.hostPort, ...(p.hostIP === undefined ? {} : { hostIP: p.hostIP }) };
  });
}

/**
 * The pod's /etc/hosts and /etc/resolv.conf. DNS precedence as rkt: --dns flags, then the CNI
 * result's DNS, then (host network only) the host's resolv.conf.
 */
function writeEtcFiles(files: PodFiles, hostname: string, net: "host" | "contained", options: RunOptions, cniDns: CniDns | undefined): void {
  mkdirSync(join(files.dir, "etc"), { recursive: true });
  const hosts = ["# Generated by rkt run", "127.0.0.1\tlocalhost localhost.localdomain", "::1\tlocalhost ip6-localhost ip6-loopback", `127.0.1.1\t${hostname}`];
  const byIp = new Map<string, string[]>();
  for (const [ip, host] of options.hostsEntries) byIp.set(ip, [...(byIp.get(ip) ?? []), host]);
  for (const [ip, names] of byIp) hosts.push(`${ip}\t${names.join(" ")}`);
  writeFileSync(files.etc("hosts"), `${hosts.join("\n")}\n`);
  writeFileSync(files.etc("hostname"), `${hostname}\n`);
  const dns = options.dns;
  let resolv: string;
  if (dns.servers.length > 0 || dns.search.length > 0 || dns.options.length > 0 || dns.domain !== undefined) {
    resolv = ["# Generated by rkt run", ...dns.servers.map((s) => `nameserver ${s}`), ...(dns.domain === undefined ? [] : [`domain ${dns.domain}`]), ...(dns.search.length > 0 ? [`search ${dns.search.join(" ")}`] : []), ...(dns.options.length > 0 ? [`options ${dns.options.join(" ")}`] : [])].join("\n");
  } else if (cniDns !== undefined && (cniDns.nameservers ?? []).length > 0) {
    resolv = ["# Generated by rkt run", ...(cniDns.nameservers ?? []).map((n) => `nameserver ${n}`), ...(cniDns.domain === undefined ? [] : [`domain ${cniDns.domain}`]), ...((cniDns.search ?? []).length > 0 ? [`search ${(cniDns.search ?? []).join(" ")}`] : []), ...((cniDns.options ?? []).length > 0 ? [`options ${(cniDns.options ?? []).join(" ")}`] : [])].join("\n");
  } else if (net === "host" && existsSync("/etc/resolv.conf")) {
    resolv = readFileSync("/etc/resolv.conf", "utf8").trimEnd();
  } else {
    resolv = "# Generated by rkt run: no DNS configured (use --dns)";
  }
  writeFileSync(files.etc("resolv.conf"), `${resolv}\n`);
}

/**
 * Creates the pod's empty volumes (mode and owner as asked; owners shifted into the pod's range
 * with `--private-users`) and checks its host volumes exist.
 */
export function prepareVolumes(files: PodFiles, manifest: PodManifest): void {
  const shift = readPodUserns(files.dir)?.base ?? 0;
  for (const v of manifest.volumes ?? []) {
    if (v.kind === "empty") {
      const dir = files.volume(v.name);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, parseInt(v.mode ?? "0755", 8));
      chownSync(dir, shift + (v.uid ?? 0), shift + (v.gid ?? 0));
    } else if (v.source === undefined || !existsSync(v.source)) {
      throw new RktError("invalid-argument", `host volume "${v.name}": source ${v.source ?? "(none)"} does not exist`, { hint: "create it, or fix --volume NAME,kind=host,source=PATH" });
    }
  }
}

function writeSupervisorPlan(files: PodFiles, manifest: PodManifest, ref: PodRef, options: RunOptions, runtime: OciRuntime, withNetworks: boolean, dataDir: string): void {
  mkdirSync(join(files.dir, "supervisor"), { recursive: true });
  atomicWriteFileSync(files.supervisor("apps"), manifest.apps.map((a) => `${a.name}\n`).join(""));
  // CNI DEL needs Node (configs, results, leftover rules); everything else a shell does faster.
  // A mutable pod's apps are only known when it ends: Node's teardown lists them then.
  // A pod with a user namespace has its apps' roots mounted below its namespace pins: Node's
  // teardown unmounts them before the pins go. Its id range is freed after.
  const userns = readPodUserns(files.dir) !== undefined;
  const freeRange = userns ? `; rm -f '${idRangeRecord(join(dataDir, "userns"), ref.uuid)}'` : "";
  const teardown = withNetworks || options.mutable === true || userns
    ? ["/bin/sh", "-c", `"$@"; rc=$?; ${exitEventShell(dataDir, ref.uuid)}${freeRange}; exit $rc`, "sh", ...options.rktArgv, "stage1-teardown", ref.uuid]
    : ["/bin/sh", "-c", teardownScript(ref.uuid, files.dir, runtime, manifest.apps.map((a) => a.name), [exitEventShell(dataDir, ref.uuid)])];
  writeArgv(files.supervisor("finally"), teardown);
}


/** Where `--private-users` ranges are allocated: `<data dir>/userns`. */
function usernsDir(pods: PodStore): string {
  return join(pods.dataDir, "userns");
}

/**
 * `--private-users`: a host id range no running pod has, recorded in the pod directory (apps added
 * later and teardown read it there), and the pod's namespaces inside a user namespace mapping it.
 * A range counts as taken while its pod is in run/ and locked (running).
 */
async function podUserNamespaces(pods: PodStore, ref: PodRef, hostname: string, hostNetwork: boolean, signal: AbortSignal | undefined): Promise<PodNamespaces> {
  const running = (uuid: string): boolean => {
    const dir = join(pods.dataDir, "pods", "run", uuid);
    return existsSync(dir) && FileLock.isLocked(dir);
  };
  const range = await allocateIdRange(usernsDir(pods), ref.uuid, running, signal);
  atomicWriteFileSync(join(ref.path, USERNS_FILE), JSON.stringify({ base: range.base, size: range.size, hostNetwork }));
  const ns = await createPodUserNamespaces(ref.uuid, hostname, hostNetwork, range);
  // The generated /etc files belong to the pod's root, as they would without a user namespace.
  for (const file of ["hosts", "resolv.conf", "hostname"]) {
    const path = join(ref.path, "etc", file);
    mkdirSync(join(ref.path, "etc"), { recursive: true });
    if (!existsSync(path)) writeFileSync(path, "");
    chownSync(path, range.base, range.base);
  }
  return ns;
}

/**
 * Spawns the supervisor with the pod lock as its fd 3 and lets go of it: from here the supervisor
 * (and whatever it execs for teardown) holds the lock for the pod's whole life.
 */
function startSupervisor(files: PodFiles, lock: FileLock, options: RunOptions): { supervisorPid: number; exited: Promise<number> | undefined } {
  const args = [files.dir, ...(options.interactive ? ["--interactive"] : []), ...(options.detach ? ["--detach"] : [])];
  const child = spawn(join(options.stage1Dir, "rkt-supervisor"), args, {
    stdio: options.detach ? ["ignore", "ignore", "ignore", lock.descriptor] : ["inherit", "inherit", "inherit", lock.descriptor],
    // RKT_LAUNCH_FD names the launcher's pipe, which is stage0's business; in the supervisor fd 3 is
    // the pod lock.
    env: { ...withoutLaunchFd(process.env), RKT_LOCK_FD: "3" },
    detached: options.detach,
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new RktError("internal", `cannot start the stage1 supervisor (${join(options.stage1Dir, "rkt-supervisor")})`, { hint: "run scripts/install.sh to build it" });
  }
  lock.forget();
  if (options.detach) {
    child.unref();
    return { supervisorPid: pid, exited: undefined };
  }
  if (options.launchFd !== undefined) {
    // The launcher adopts the supervisor when we exit and reports its exit code.
    writeSync(options.launchFd, `wait ${pid}\n`);
    child.unref();
    return { supervisorPid: pid, exited: undefined };
  }
  // Without a launcher (rkt run by `node dist/rkt.mjs` directly), wait here.
  return {
    supervisorPid: pid,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 254 : 128 + signalNumber(signal))))),
  };
}

/**
 * A mutable pod's supervisor: detached, in its own session, and up once it says `ready` on the
 * pipe at fd 4 (its control socket then accepts requests). EOF without it means it failed; its
 * own log says why, and its `finally` already released the pod.
 */
async function startMutableSupervisor(files: PodFiles, lock: FileLock, options: RunOptions): Promise<{ supervisorPid: number; exited: Promise<number> | undefined }> {
  const child = spawn(join(options.stage1Dir, "rkt-supervisor"), [files.dir, "--mutable"], {
    stdio: ["ignore", "ignore", "ignore", lock.descriptor, "pipe"],
    env: { ...withoutLaunchFd(process.env), RKT_LOCK_FD: "3", RKT_READY_FD: "4" },
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new RktError("internal", `cannot start the stage1 supervisor (${join(options.stage1Dir, "rkt-supervisor")})`, { hint: "run scripts/install.sh to build it" });
  }
  lock.forget();
  const pipe = child.stdio[4] as import("node:stream").Readable;
  let said = "";
  for await (const chunk of pipe) said += String(chunk);
  child.unref();
  if (!said.startsWith("ready")) {
    let log = "";
    try {
      log = readFileSync(join(files.dir, "supervisor", "log"), "utf8").trim().split("\n").slice(-3).join("; ");
    } catch {
      // no log
    }
    throw new RktError("internal", `the pod's supervisor did not start${log === "" ? "" : `: ${log}`}`);
  }
  return { supervisorPid: pid, exited: undefined };
}

function withoutLaunchFd(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { RKT_LAUNCH_FD: _launch, ...rest } = env;
  return rest;
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal];
}
