/**
 * Running a network's CNI plugins (CNI SPEC.md): the {@link CniExecutor} seam that runs one
 * plugin, and the operations on a whole network built on it, which hold the spec's rules:
 *
 * - the configuration goes to the plugin on stdin; for a list every plugin gets the list's
 *   `name` and `cniVersion` ("Network Configuration Lists");
 * - ADD runs the plugins in order and hands each the previous one's result as `prevResult`; the
 *   last result is the network's;
 * - DEL runs them in reverse, each with the ADD result as `prevResult` (spec 0.4.0 and later);
 * - CHECK runs them in order with `prevResult`, unless the list sets `disableCheck`;
 * - on an error the list stops ("Network Configuration List Error Handling");
 * - capability arguments (`portMappings`, ...) go to a plugin as `runtimeConfig` only if its
 *   `capabilities` names them (CONVENTIONS.md).
 *
 * Implementations of the seam: executors/process-executor.ts (real plugin binaries) and
 * executors/fake-executor.ts (in memory, for tests of the code above it).
 */
import { RktError, type ErrorKind } from "../../lib/errors.js";
import { checkJson } from "../../lib/json-document.js";
import { cniResultSchema, cniVersionInfoSchema, type CniError, type CniVersionInfo } from "./cni-result.js";
import type { NetworkConfig, PluginConfig } from "./network-config.js";

/** CNI_COMMAND values (SPEC.md "Parameters"). */
export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION";

/** One plugin invocation: the CNI_* environment and the configuration for stdin. */
export interface PluginRequest {
  readonly command: CniCommand;
  /** The plugin's `type`: the name of its executable. */
  readonly pluginType: string;
  readonly containerId: string;
  /** CNI_NETNS: the pod's network namespace path; `""` when there is none (DEL after it is gone). */
  readonly netns: string;
  readonly ifname: string;
  readonly cniArgs: string;
  /** The configuration JSON, exactly as the plugin reads it. */
  readonly stdin: string;
  readonly signal?: AbortSignal;
}

/**
 * How a plugin finished: its stdout JSON (undefined if it printed nothing), or the error it
 * reported (SPEC.md: a non-zero exit with `{code, msg, details}` on stdout).
 */
export type PluginOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: CniError };

/**
 * Runs one CNI plugin. Implementations resolve with the plugin's outcome, and reject (RktError)
 * only when the plugin could not be run or answered outside the protocol: not found
 * ("not-found", naming the plugin and where it was looked for), timed out or aborted
 * ("unavailable"), output that is not JSON ("internal").
 *
 * @example
 * const out = await executor.invoke({ command: "VERSION", pluginType: "ptp", containerId: "", netns: "", ifname: "", cniArgs: "", stdin: '{"cniVersion":"0.4.0"}' });
 */
export interface CniExecutor {
  invoke(request: PluginRequest): Promise<PluginOutcome>;
}

/** The per-pod half of a plugin call: who, where, and the runtime arguments. */
export interface NetworkRuntime {
  /** CNI_CONTAINERID: rkt passes the pod UUID. */
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly cniArgs: string;
  /** Capability arguments (e.g. `{ portMappings: [...] }`), passed as `runtimeConfig`. */
  readonly capabilityArgs?: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
}

/**
 * Adds the pod to a network: runs ADD for each plugin in order, chaining results, and resolves
 * with the final result exactly as the plugin printed it (checked against the result schema).
 * A plugin error rejects with an RktError naming the network, the plugin and the plugin's
 * message; the caller then runs {@link delNetwork} for the whole network (SPEC.md: DEL every
 * plugin of the list, even those ADD never reached).
 *
 * @example
 * const result = await addNetwork(executor, net, { containerId: uuid, netns, ifname: "eth0", cniArgs: "" });
 */
export async function addNetwork(executor: CniExecutor, network: NetworkConfig, rt: NetworkRuntime): Promise<unknown> {
  let prevResult: unknown = undefined;
  for (const [i, plugin] of network.plugins.entries()) {
    const stdin = pluginStdin(network, plugin, rt, i === 0 ? undefined : prevResult);
    const outcome = await executor.invoke(request("ADD", plugin, rt, stdin));
    if (!outcome.ok) throw pluginFailure(network, plugin, "ADD", outcome.error);
    if (outcome.output === undefined) {
      // A chained plugin that prints nothing leaves the previous result standing; the first one
      // must say what it did.
      if (i === 0) throw new RktError("internal", `network "${network.name}": plugin ${plugin.type} ADD printed no result`);
      continue;
    }
    prevResult = checkJson(outcome.output, cniResultSchema, `result of plugin ${plugin.type} ADD for network "${network.name}"`, "internal");
  }
  return prevResult;
}

/**
 * Removes the pod from a network: DEL for each plugin in reverse order, with the ADD result as
 * `prevResult` when known (spec 0.4.0 and later). A plugin that answers "container unknown"
 * (error 3) has nothing to release, which is success: DEL is idempotent (SPEC.md "DEL").
 *
 * @example
 * await delNetwork(executor, net, { containerId: uuid, netns, ifname: "eth0", cniArgs: "" }, result);
 */
export async function delNetwork(executor: CniExecutor, network: NetworkConfig, rt: NetworkRuntime, prevResult?: unknown, options: DelNetworkOptions = {}): Promise<void> {
  const withPrev = prevResult !== undefined && compareVersions(network.cniVersion, "0.4.0") >= 0 ? prevResult : undefined;
  for (const plugin of [...network.plugins].reverse()) {
    let outcome: PluginOutcome;
    try {
      outcome = await executor.invoke(request("DEL", plugin, rt, pluginStdin(network, plugin, rt, withPrev)));
    } catch (err) {
      if (options.skipMissingPlugins === true && err instanceof RktError && err.kind === "not-found") continue;
      throw err;
    }
    if (!outcome.ok && outcome.error.code !== 3) throw pluginFailure(network, plugin, "DEL", outcome.error);
  }
}

/** Options of {@link delNetwork}. */
export interface DelNetworkOptions {
  /**
   * Skip plugins that are not installed instead of failing. Right only for a network whose ADD
   * never completed: a plugin that is missing now did not run then, so it holds nothing.
   */
  readonly skipMissingPlugins?: boolean;
}

/**
 * Asks the network's plugins whether the pod's networking is still as ADD left it (SPEC.md
 * "CHECK"). Resolves false without running anything when CHECK does not apply: a spec version
 * before 0.4.0, or a list with `disableCheck`.
 *
 * @example
 * if (await checkNetwork(executor, net, rt, result)) console.log("network is fine");
 */
export async function checkNetwork(executor: CniExecutor, network: NetworkConfig, rt: NetworkRuntime, prevResult: unknown): Promise<boolean> {
  if (network.disableCheck || compareVersions(network.cniVersion, "0.4.0") < 0) return false;
  for (const plugin of network.plugins) {
    const outcome = await executor.invoke(request("CHECK", plugin, rt, pluginStdin(network, plugin, rt, prevResult)));
    if (!outcome.ok) throw pluginFailure(network, plugin, "CHECK", outcome.error);
  }
  return true;
}

/**
 * The spec versions a plugin supports (CNI_COMMAND=VERSION).
 *
 * @example
 * (await pluginVersions(executor, "ptp")).supportedVersions; // ["0.1.0", ..., "1.0.0"]
 */
export async function pluginVersions(executor: CniExecutor, pluginType: string, cniVersion = "0.4.0"): Promise<CniVersionInfo> {
  const outcome = await executor.invoke({
    command: "VERSION",
    pluginType,
    containerId: "",
    netns: "",
    ifname: "",
    cniArgs: "",
    stdin: JSON.stringify({ cniVersion }),
  });
  if (!outcome.ok) throw new RktError(errorKind(outcome.error.code), `plugin ${pluginType} VERSION failed: ${describeCniError(outcome.error)}`);
  return checkJson(outcome.output, cniVersionInfoSchema, `VERSION answer of plugin ${pluginType}`, "internal");
}

function request(command: CniCommand, plugin: PluginConfig, rt: NetworkRuntime, stdin: string): PluginRequest {
  return {
    command,
    pluginType: plugin.type,
    containerId: rt.containerId,
    netns: rt.netns,
    ifname: rt.ifname,
    cniArgs: rt.cniArgs,
    stdin,
    ...(rt.signal === undefined ? {} : { signal: rt.signal }),
  };
}

/**
 * The configuration one plugin reads. A single-plugin `.conf` with nothing to add goes out as the
 * exact bytes it was loaded from; otherwise the object is re-serialised with the list's `name` and
 * `cniVersion`, `runtimeConfig` for the capabilities it declares, and `prevResult`.
 */
function pluginStdin(network: NetworkConfig, plugin: PluginConfig, rt: NetworkRuntime, prevResult: unknown): string {
  const runtimeConfig = capabilityConfig(plugin, rt.capabilityArgs);
  if (network.format === "conf" && runtimeConfig === undefined && prevResult === undefined) return network.bytes;
  const conf: Record<string, unknown> = { ...plugin.conf, name: network.name, cniVersion: network.cniVersion };
  if (runtimeConfig !== undefined) conf["runtimeConfig"] = runtimeConfig;
  if (prevResult !== undefined) conf["prevResult"] = prevResult;
  return JSON.stringify(conf);
}

function capabilityConfig(plugin: PluginConfig, args: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  if (args === undefined) return undefined;
  const caps = plugin.conf["capabilities"];
  if (typeof caps !== "object" || caps === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, enabled] of Object.entries(caps)) {
    if (enabled === true && args[name] !== undefined) out[name] = args[name];
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The RktError for a plugin's error answer: network, plugin, command, and the plugin's words. */
export function pluginFailure(network: NetworkConfig, plugin: PluginConfig, command: CniCommand, error: CniError): RktError {
  return new RktError(errorKind(error.code), `network "${network.name}": plugin ${plugin.type} ${command} failed: ${describeCniError(error)}`, {
    hint: hintFor(network, plugin, error.code),
  });
}

function describeCniError(error: CniError): string {
  const details = error.details === undefined || error.details === "" || error.details === error.msg ? "" : `: ${error.details}`;
  return `${error.msg}${details} (CNI error ${error.code})`;
}

// SPEC.md "Well-known Error Codes".
function errorKind(code: number): ErrorKind {
  switch (code) {
    case 1:
      return "failed-precondition";
    case 2:
    case 4:
    case 6:
    case 7:
      return "invalid-argument";
    case 3:
      return "not-found";
    case 11:
      return "unavailable";
    default:
      return "internal";
  }
}

function hintFor(network: NetworkConfig, plugin: PluginConfig, code: number): string | undefined {
  if (code === 1) return `the plugin ${plugin.type} does not support cniVersion ${network.cniVersion} (see: CNI_COMMAND=VERSION ${plugin.type})`;
  if (code === 2 || code === 7) return `check the configuration of network "${network.name}" (${network.source})`;
  if (code === 11) return "a transient condition; try again";
  return undefined;
}

/** Compares two `x.y.z` versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
