/**
 * A pod's CNI networking: joining its networks when it starts and leaving them when it is
 * collected. The pod's network namespace already exists (stage1/pod-namespaces.ts pins it at
 * `/run/rkt/ns/<uuid>/net`, loopback up); this adds an interface per network (eth0, eth1, ... in
 * join order) by running the networks' CNI plugins.
 *
 * The rule is all or nothing: if a network fails to join, every network already joined and the
 * failing one are DEL'ed before the error is thrown, so no veth, address lease or iptables rule
 * is left behind. Leaving is idempotent and tolerates state that is already gone: gc may run it
 * on a pod in any state, more than once.
 *
 * Order with the namespace: detach before the namespace is destroyed. ptp and bridge only remove
 * their masquerade rules when they find the pod's interface; when they could not (namespace
 * already gone, interface deleted inside it), rkt removes the rules still carrying the pod's
 * comment itself after DEL (iptables-leftovers.ts).
 */
import { statfsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { describe, errnoCode, RktError, wrap } from "../lib/errors.js";
import { addNetwork, checkNetwork, delNetwork, type CniExecutor, type NetworkRuntime } from "./cni/cni-exec.js";
import { hasDns, type CniDns } from "./cni/cni-result.js";
import { ProcessCniExecutor, DEFAULT_PLUGIN_DIRS } from "./cni/executors/process-executor.js";
import { DEFAULT_LOCAL_CONFIG, parseNetworkConfig, type NetworkConfig } from "./cni/network-config.js";
import type { SelectedNetwork } from "./cni/select-networks.js";
import { assertHostPortsFree } from "./host-ports.js";
import { removeLeftoverRules } from "./iptables-leftovers.js";
import { summarizeNetInfo, writeNetInfo, type NetInfo, type NetInfoNetwork, type NetworkSummary } from "./net-info.js";
import { portForwardNetworkIndex, portMappingsArg, withPortmap, type PortForward } from "./port-forward.js";

// nsfs's magic number (linux/magic.h NSFS_MAGIC): a pinned namespace file is a mount of nsfs.
const NSFS_MAGIC = 0x6e736673;

// SPEC.md "Parameters": a container ID starts with an alphanumeric character, then alphanumerics,
// '_', '.' or '-'.
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Options of {@link attachPodNetworks}. */
export interface AttachPodNetworksOptions {
  /** The pod's UUID: CNI_CONTAINERID. */
  readonly uuid: string;
  /** The pod's pinned network namespace (CNI_NETNS). */
  readonly netnsPath: string;
  /** The networks to join, in order, from `selectNetworks`. */
  readonly networks: readonly SelectedNetwork[];
  /** rkt's local configuration directory (default /etc/rkt); its net.d may hold custom plugins. */
  readonly localConfig?: string;
  /** Plugin directories (default /usr/lib/cni, /opt/cni/bin, `<localConfig>/net.d`). */
  readonly pluginDirs?: readonly string[];
  /** Ports to forward from the host (`--port`), resolved by the caller. */
  readonly ports?: readonly PortForward[];
  /** Runs the plugins (default: the real plugin executables in `pluginDirs`). */
  readonly executor?: CniExecutor;
  /**
   * Where to journal net-info.json while joining: written before each ADD and after it, so a
   * crash mid-way leaves gc the record it needs. Unset, nothing is written; the caller saves
   * `netInfo` from the result.
   */
  readonly netInfoPath?: string;
  /** The host-side checks and cleanups (default {@link REAL_NETWORK_HOST}); tests of the logic replace them. */
  readonly host?: NetworkHost;
  readonly signal?: AbortSignal;
}

/**
 * What pod networking does to the host besides running plugins: checking host ports, telling a
 * live namespace from a stale pin, and removing the iptables rules plugins leave when the
 * namespace is gone. An interface so that tests with a fake executor stay off the host.
 */
export interface NetworkHost {
  assertHostPortsFree(ports: readonly PortForward[]): Promise<void>;
  isNetnsAlive(path: string): boolean;
  removeLeftoverRules(network: string, containerId: string): Promise<unknown>;
}

/** The real host: binds ports, statfs(2), iptables. */
export const REAL_NETWORK_HOST: NetworkHost = {
  assertHostPortsFree: (ports) => assertHostPortsFree(ports),
  isNetnsAlive,
  removeLeftoverRules,
};

/** What joining the networks gave the pod. */
export interface PodNetworkResult {
  /** The record to save as the pod's net-info.json; {@link detachPodNetworks} takes it back. */
  readonly netInfo: NetInfo;
  /** Per network, in join order: interface, addresses, routes, DNS. */
  readonly networks: readonly NetworkSummary[];
  /**
   * DNS for the pod's resolv.conf from the CNI results: the first network (in join order) whose
   * result carries DNS settings; undefined if none does. `--dns` flags take precedence (caller).
   */
  readonly dns: CniDns | undefined;
  /** The network the ports are forwarded through, if any were asked for. */
  readonly portForwardNetwork?: string;
}

/**
 * Joins the pod to its networks: CNI ADD for each, in order, with CNI_IFNAME eth0, eth1, ...
 * Port forwards (if any) are checked against the host first and then chained as the portmap
 * plugin after the first network with ipMasq (else the last one).
 *
 * On failure every network already joined, and the one that failed, is DEL'ed (in reverse)
 * before the error is thrown; the error names the network and the plugin, and says if the
 * cleanup itself failed.
 *
 * @example
 * const networks = selectNetworks(parseNetFlags(["default"]), await loadNetworkConfigs());
 * const r = await attachPodNetworks({ uuid, netnsPath: `/run/rkt/ns/${uuid}/net`, networks, ports });
 * writeNetInfo(join(podDir, NET_INFO_FILE), r.netInfo);
 */
export async function attachPodNetworks(options: AttachPodNetworksOptions): Promise<PodNetworkResult> {
  const { uuid, netnsPath } = options;
  if (!CONTAINER_ID.test(uuid)) throw new RktError("invalid-argument", `"${uuid}" is not a valid CNI container ID`);
  if (!isAbsolute(netnsPath)) throw new RktError("invalid-argument", `network namespace path "${netnsPath}" is not absolute`);
  const ports = options.ports ?? [];
  const pluginDirs = options.pluginDirs ?? [...DEFAULT_PLUGIN_DIRS, join(options.localConfig ?? DEFAULT_LOCAL_CONFIG, "net.d")];
  const executor = options.executor ?? new ProcessCniExecutor({ pluginDirs });
  const host = options.host ?? REAL_NETWORK_HOST;

  let portIndex = -1;
  if (ports.length > 0) {
    if (options.networks.length === 0) {
      throw new RktError("failed-precondition", "forwarding ports needs a pod network", { hint: "--port works with CNI networks, not with --net=host or --net=none" });
    }
    portIndex = portForwardNetworkIndex(options.networks.map((n) => n.config));
    await host.assertHostPortsFree(ports);
  }

  const planned = options.networks.map((n, i) => {
    const config = i === portIndex ? withPortmap(n.config) : n.config;
    const capabilityArgs = i === portIndex ? portMappingsArg(ports) : undefined;
    return { config, ifname: n.ifname, cniArgs: n.cniArgs, capabilityArgs };
  });
  const info: NetInfo = {
    version: 1,
    containerId: uuid,
    netns: netnsPath,
    pluginDirs: [...pluginDirs],
    networks: [],
    ...(ports.length > 0 ? { ports: [...ports] } : {}),
  };
  const journal = (): void => {
    if (options.netInfoPath !== undefined) writeNetInfo(options.netInfoPath, info);
  };

  for (const p of planned) {
    const entry: NetInfoNetwork = {
      name: p.config.name,
      ifname: p.ifname,
      source: p.config.source,
      format: p.config.format,
      config: p.config.bytes,
      cniArgs: p.cniArgs,
      ...(p.capabilityArgs === undefined ? {} : { capabilityArgs: p.capabilityArgs }),
      state: "adding",
    };
    info.networks.push(entry);
    const rt: NetworkRuntime = {
      containerId: uuid,
      netns: netnsPath,
      ifname: p.ifname,
      cniArgs: p.cniArgs,
      ...(p.capabilityArgs === undefined ? {} : { capabilityArgs: p.capabilityArgs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    try {
      // Recorded before ADD runs: if rkt dies during it, gc still knows to DEL this network.
      journal();
      const result = await addNetwork(executor, p.config, rt);
      info.networks[info.networks.length - 1] = { ...entry, state: "added", result: result as NetInfoNetwork["result"] };
      journal();
    } catch (err) {
      // Undo in reverse: the failing network first (its list may be half-added), then the rest.
      const failures = await teardown(executor, host, info, options.netInfoPath);
      const error = wrap(`joining network "${p.config.name}" (${p.config.source})`, err);
      if (failures.length === 0) throw error;
      throw new RktError(error.kind, error.message, {
        cause: err,
        hint: `cleaning up also failed, run rkt gc to retry: ${failures.map(describe).join("; ")}`,
      });
    }
  }

  const summaries = summarizeNetInfo(info);
  const dns = summaries.find((n) => hasDns(n.dns))?.dns;
  return {
    netInfo: info,
    networks: summaries,
    dns,
    ...(portIndex >= 0 ? { portForwardNetwork: planned[portIndex]?.config.name ?? "" } : {}),
  };
}

/** Options of {@link detachPodNetworks}. */
export interface DetachPodNetworksOptions {
  /** Runs the plugins (default: the real plugin executables in the net-info's plugin dirs). */
  readonly executor?: CniExecutor;
  /** If given, rewritten after each network left, holding the networks still to leave. */
  readonly netInfoPath?: string;
  readonly host?: NetworkHost;
}

/**
 * Leaves every network of a pod's net-info: CNI DEL in reverse join order, each with the
 * configuration and result ADD used. Idempotent and tolerant: an already-removed interface,
 * released lease or vanished namespace is success (with the namespace gone, DEL runs with an
 * empty CNI_NETNS, as the spec allows), and nat rules the plugins could not remove are removed
 * after each DEL. It tries every network even when one fails, then throws one error naming the
 * failures.
 *
 * @example
 * const info = await readNetInfo(join(podDir, NET_INFO_FILE));
 * if (info !== undefined) await detachPodNetworks(info);
 */
export async function detachPodNetworks(netInfo: NetInfo, options: DetachPodNetworksOptions = {}): Promise<void> {
  const executor = options.executor ?? new ProcessCniExecutor({ pluginDirs: netInfo.pluginDirs });
  const info: NetInfo = { ...netInfo, networks: [...netInfo.networks] };
  const failures = await teardown(executor, options.host ?? REAL_NETWORK_HOST, info, options.netInfoPath);
  if (failures.length > 0) {
    throw new RktError(failures.length === 1 && failures[0] instanceof RktError ? failures[0].kind : "internal", `leaving the networks of pod ${netInfo.containerId}: ${failures.map(describe).join("; ")}`, {
      cause: failures[0],
      hint: "rkt gc retries; net-info.json keeps the networks not yet left",
    });
  }
}

/** Options of {@link checkPodNetworks}. */
export interface CheckPodNetworksOptions {
  readonly executor?: CniExecutor;
  readonly signal?: AbortSignal;
}

/**
 * Runs CNI CHECK for each network of a pod (SPEC.md "CHECK"): resolves with the names of the
 * networks that were checked (networks of spec < 0.4.0 or with `disableCheck` are skipped) and
 * rejects on the first that is not as ADD left it.
 *
 * @example
 * await checkPodNetworks(info); // ["default"]
 */
export async function checkPodNetworks(netInfo: NetInfo, options: CheckPodNetworksOptions = {}): Promise<string[]> {
  const executor = options.executor ?? new ProcessCniExecutor({ pluginDirs: netInfo.pluginDirs });
  const checked: string[] = [];
  for (const n of netInfo.networks) {
    if (n.state !== "added") continue;
    const config = parseNetworkConfig(n.config, n.format, n.source);
    const rt = runtimeOf(netInfo, n, netInfo.netns, options.signal);
    if (await checkNetwork(executor, config, rt, n.result)) checked.push(n.name);
  }
  return checked;
}

/**
 * DELs the networks of `info` in reverse, removing each from `info.networks` once left (and
 * rewriting the journal); resolves with the errors of the ones that could not be left.
 */
async function teardown(executor: CniExecutor, host: NetworkHost, info: NetInfo, netInfoPath: string | undefined): Promise<Error[]> {
  const failures: Error[] = [];
  const netnsAlive = host.isNetnsAlive(info.netns);
  for (let i = info.networks.length - 1; i >= 0; i--) {
    const n = info.networks[i] as NetInfoNetwork;
    try {
      const config: NetworkConfig = parseNetworkConfig(n.config, n.format, n.source);
      // A network still "adding" never finished ADD: a plugin of it that is not installed never
      // ran and holds nothing, so it must not keep the rest from being cleaned up.
      await delNetwork(executor, config, runtimeOf(info, n, netnsAlive ? info.netns : "", undefined), n.result, { skipMissingPlugins: n.state === "adding" });
      // ptp and bridge skip their masquerade rules when they cannot find the pod's interface
      // (namespace gone, or eth0 deleted inside it): remove what still carries the pod's comment.
      await host.removeLeftoverRules(n.name, info.containerId);
      info.networks.splice(i, 1);
      if (netInfoPath !== undefined) writeNetInfo(netInfoPath, info);
    } catch (err) {
      failures.push(wrap(`leaving network "${n.name}" (${n.ifname})`, err));
    }
  }
  return failures;
}

function runtimeOf(info: NetInfo, n: NetInfoNetwork, netns: string, signal: AbortSignal | undefined): NetworkRuntime {
  return {
    containerId: info.containerId,
    netns,
    ifname: n.ifname,
    cniArgs: n.cniArgs,
    ...(n.capabilityArgs === undefined ? {} : { capabilityArgs: n.capabilityArgs }),
    ...(signal === undefined ? {} : { signal }),
  };
}

/**
 * Whether `path` is still a pinned network namespace. A path that is gone, or is left as the
 * plain file a pin was mounted on, is not: plugins fail on it ("unknown FS magic") instead of
 * cleaning up, so DEL goes without CNI_NETNS then.
 */
function isNetnsAlive(path: string): boolean {
  if (path === "") return false;
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return false;
    // Unreadable for another reason: let the plugins see the path and report.
    return true;
  }
}
