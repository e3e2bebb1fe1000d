/**
 * `net-info.json`: what a pod's networking needs to be torn down, saved in the pod directory
 * (rkt's networking/netinfo). It holds each network's configuration text as ADD used it, so DEL
 * runs with the same configuration even after net.d changed or the file was removed, the ADD
 * result (DEL's `prevResult`), the interface name and CNI_ARGS; plus the plugin directories, since
 * a custom plugin may live in `<localConfig>/net.d`.
 *
 * ```json
 * {
 *   "version": 1,
 *   "containerId": "<pod uuid>",
 *   "netns": "/run/rkt/ns/<pod uuid>/net",
 *   "pluginDirs": ["/usr/lib/cni", "/opt/cni/bin", "/etc/rkt/net.d"],
 *   "networks": [
 *     { "name": "default", "ifname": "eth0", "source": "builtin:default", "format": "conflist",
 *       "config": "{\"cniVersion\":\"0.4.0\",\"name\":\"default\",\"plugins\":[...ptp..., ...portmap...]}",
 *       "cniArgs": "", "capabilityArgs": { "portMappings": [...] },
 *       "state": "added", "result": { "cniVersion": "0.4.0", "interfaces": [...], "ips": [...], ... } }
 *   ],
 *   "ports": [{ "protocol": "tcp", "containerPort": 80, "hostPort": 8080 }]
 * }
 * ```
 *
 * `state` is "adding" while ADD runs (when the file is written as a journal during attach), so a
 * crash mid-ADD still leaves gc what it needs to DEL.
 */
import { readFile } from "node:fs/promises";
import { errnoCode, wrap } from "../lib/errors.js";
import * as z from "../lib/schema.js";
import { atomicWriteFileSync } from "../sys/atomic-write.js";
import { parseJson } from "../lib/json-document.js";
import { cniResultSchema, normalizeResult, type CniAddress, type CniDns, type CniRoute } from "./cni/cni-result.js";
import { portForwardSchema } from "./port-forward.js";

/** One network of a pod, as net-info.json records it. */
export const netInfoNetworkSchema = z.object({
  name: z.string(),
  ifname: z.string(),
  /** The configuration file (or `builtin:<name>`) it came from, for messages. */
  source: z.string(),
  format: z.enum(["conf", "conflist"]),
  /** The configuration text ADD ran with (with portmap chained, if ports go through it). */
  config: z.string(),
  cniArgs: z.string(),
  capabilityArgs: z.optional(z.record(z.string(), z.unknown())),
  state: z.enum(["adding", "added"]),
  result: z.optional(cniResultSchema),
});
/** A network entry of net-info.json. */
export type NetInfoNetwork = z.infer<typeof netInfoNetworkSchema>;

/** The whole net-info.json record (version 1). */
export const netInfoSchema = z.object({
  version: z.literal(1),
  containerId: z.string(),
  netns: z.string(),
  pluginDirs: z.array(z.string()),
  networks: z.array(netInfoNetworkSchema),
  ports: z.optional(z.array(portForwardSchema)),
});
/**
 * A pod's net-info.json.
 *
 * @example
 * const info: NetInfo = (await attachPodNetworks(options)).netInfo;
 */
export type NetInfo = z.infer<typeof netInfoSchema>;

/** File name of the record in the pod directory. */
export const NET_INFO_FILE = "net-info.json";

/**
 * Parses net-info.json text; `what` names it in errors.
 *
 * @example
 * const info = parseNetInfo(text, "pod 1b3c.../net-info.json");
 */
export function parseNetInfo(text: string, what = NET_INFO_FILE): NetInfo {
  return parseJson(text, netInfoSchema, what, "data-loss");
}

/** Reads net-info.json; undefined if the file does not exist (the pod joined no network). */
export async function readNetInfo(path: string): Promise<NetInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw wrap(`reading ${path}`, err);
  }
  return parseNetInfo(text, path);
}

/** Writes net-info.json crash-safely (temp file, fsync, rename). */
export function writeNetInfo(path: string, info: NetInfo): void {
  atomicWriteFileSync(path, `${JSON.stringify(info, null, 2)}\n`, 0o600);
}

/** What one joined network gave the pod. */
export interface NetworkSummary {
  readonly name: string;
  readonly ifname: string;
  readonly ips: readonly CniAddress[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
  /** The first IPv4 address without its prefix, as `rkt list` shows it (`default:ip4=172.16.28.2`). */
  readonly ip4?: string;
}

/**
 * The addresses, routes and DNS of each network a pod joined, from its net-info (for `rkt list`,
 * `rkt status`). Networks still "adding" have no result and show no address.
 *
 * @example
 * summarizeNetInfo(info).map((n) => `${n.name}:ip4=${n.ip4 ?? ""}`); // ["default:ip4=172.16.28.2"]
 */
export function summarizeNetInfo(info: NetInfo): NetworkSummary[] {
  return info.networks.map((n) => {
    const r = normalizeResult(n.result);
    const ip4 = r.ips.find((ip) => ip.version === "4")?.address.split("/")[0];
    return { name: n.name, ifname: n.ifname, ips: r.ips, routes: r.routes, dns: r.dns, ...(ip4 === undefined ? {} : { ip4 }) };
  });
}
