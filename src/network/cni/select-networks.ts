/**
 * rkt's `--net` semantics (rkt Documentation/networking/overview.md):
 *
 * - no flag, a bare `--net`, or `--net=default`: the `default` network.
 * - `--net=none`: loopback only; `--net=host`: the host's network namespace. Either stands alone.
 * - `--net=n1,n2` (or the flag repeated): those networks; `--net=all`: every configured network.
 * - `name:K=V;K2=V2` passes `K=V;K2=V2` as CNI_ARGS to that network's plugins, e.g.
 *   `--net=lan:IP=10.1.0.5` (host-local honours `IP`), also next to `all`: `--net=all,lan:IP=...`.
 * - each network at most once; `default-restricted` joins every pod that does not join `default`,
 *   so the pod can always reach the host.
 *
 * The pod joins its networks in load order (net.d files in lexicographic order, then the built-in
 * ones), not in flag order, and its interfaces are named eth0, eth1, ... in that order.
 */
import { isIP } from "node:net";
import { RktError } from "../../lib/errors.js";
import { DEFAULT_NETWORK, DEFAULT_RESTRICTED_NETWORK } from "./default-networks.js";
import type { NetworkConfig } from "./network-config.js";

/** One named network asked for, with its CNI_ARGS (`""` for none). */
export interface NetRequestEntry {
  readonly name: string;
  readonly args: string;
}

/** What `--net` asked for. */
export type NetRequest =
  | { readonly mode: "host" }
  | { readonly mode: "none" }
  | { readonly mode: "contained"; readonly all: boolean; readonly entries: readonly NetRequestEntry[] };

/** A network the pod joins, with its interface name and CNI_ARGS. */
export interface SelectedNetwork {
  readonly config: NetworkConfig;
  readonly ifname: string;
  readonly cniArgs: string;
}

/**
 * Parses the values of every `--net` flag. An empty list (no flag) and an empty value (a bare
 * `--net`) mean `default`. Values may still hold commas (`--net=a,b`); they are split here.
 *
 * @example
 * parseNetFlags([]);                           // { mode: "contained", all: false, entries: [{ name: "default", args: "" }] }
 * parseNetFlags(["all,lan:IP=10.1.0.5"]);      // { mode: "contained", all: true, entries: [{ name: "lan", args: "IP=10.1.0.5" }] }
 * parseNetFlags(["host"]);                     // { mode: "host" }
 */
export function parseNetFlags(values: readonly string[]): NetRequest {
  const items = values.length === 0 ? [DEFAULT_NETWORK] : values.flatMap((v) => (v === "" ? [DEFAULT_NETWORK] : v.split(",")));
  let all = false;
  const entries: NetRequestEntry[] = [];
  const special: string[] = [];
  for (const item of items) {
    const colon = item.indexOf(":");
    const name = colon < 0 ? item : item.slice(0, colon);
    const args = colon < 0 ? "" : item.slice(colon + 1);
    if (name === "") {
      throw new RktError("invalid-argument", `--net: empty network name in ${JSON.stringify(values.join(","))}`, {
        hint: "use --net=NAME[:K=V;...][,NAME...]",
      });
    }
    if (name === "none" || name === "host" || name === "all") {
      if (colon >= 0) throw new RktError("invalid-argument", `--net: "${name}" takes no arguments (got "${item}")`);
      if (name === "all") {
        if (all) throw new RktError("invalid-argument", `--net: "all" is given twice`);
        all = true;
      } else {
        special.push(name);
      }
      continue;
    }
    if (entries.some((e) => e.name === name)) {
      throw new RktError("invalid-argument", `--net: network "${name}" is given twice`, { hint: "each network can be joined once" });
    }
    entries.push({ name, args: parseCniArgs(name, args) });
  }
  if (special.length > 0) {
    const mode = special[0] as "none" | "host";
    if (special.length > 1 || all || entries.length > 0) {
      throw new RktError("invalid-argument", `--net=${mode} cannot be combined with other networks (got ${items.join(",")})`, {
        hint: "use --net=none, --net=host, or a list of CNI networks",
      });
    }
    return { mode };
  }
  return { mode: "contained", all, entries };
}

/**
 * Checks `K=V;K2=V2` (CNI SPEC.md "Parameters": CNI_ARGS are "alphanumeric key-value pairs
 * separated by semicolons"). An `IP` must be an IP address: host-local would say so too, but only
 * after the pod's other networks were set up.
 */
function parseCniArgs(network: string, args: string): string {
  if (args === "") return "";
  for (const pair of args.split(";")) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    if (eq < 0 || !/^[A-Za-z0-9_]+$/.test(key) || value === "") {
      throw new RktError("invalid-argument", `--net=${network}:${args}: "${pair}" is not KEY=VALUE`, {
        hint: 'per-network arguments are KEY=VALUE pairs separated by ";", e.g. --net="lan:IP=10.1.0.5"',
      });
    }
    if (key === "IP" && isIP(value) === 0) {
      throw new RktError("invalid-argument", `--net=${network}:${args}: "${value}" is not an IP address`);
    }
  }
  return args;
}

/**
 * Resolves a request against the loaded networks (in load order, from `loadNetworkConfigs`): the
 * networks the pod joins, in load order, each with its interface name (eth0, eth1, ...) and
 * CNI_ARGS. `host` and `none` join no CNI network.
 *
 * `all` joins every network loaded from net.d and `default`; `default-restricted` joins whenever
 * `default` is not joined. An unknown name is a "not-found" error listing the known networks.
 *
 * @example
 * const nets = selectNetworks(parseNetFlags(["lan"]), await loadNetworkConfigs());
 * nets.map((n) => `${n.config.name}=${n.ifname}`); // ["lan=eth0", "default-restricted=eth1"]
 */
export function selectNetworks(request: NetRequest, available: readonly NetworkConfig[]): readonly SelectedNetwork[] {
  if (request.mode !== "contained") return [];
  const known = new Map(available.map((n) => [n.name, n]));
  const missing = request.entries.filter((e) => !known.has(e.name)).map((e) => e.name);
  if (missing.length > 0) {
    const names = available.map((n) => n.name);
    throw new RktError("not-found", `${missing.length === 1 ? "network" : "networks"} not found: ${missing.join(", ")}`, {
      hint: `known networks: ${names.join(", ")} (configured in <local-config>/net.d, default /etc/rkt/net.d)`,
    });
  }
  const args = new Map(request.entries.map((e) => [e.name, e.args]));
  const wanted = new Set(request.entries.map((e) => e.name));
  if (request.all) {
    for (const n of available) if (!n.builtin || n.name === DEFAULT_NETWORK) wanted.add(n.name);
  }
  if (!wanted.has(DEFAULT_NETWORK)) wanted.add(DEFAULT_RESTRICTED_NETWORK);
  const chosen = available.filter((n) => wanted.has(n.name));
  return chosen.map((config, i) => ({ config, ifname: `eth${i}`, cniArgs: args.get(config.name) ?? "" }));
}
