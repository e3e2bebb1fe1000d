/**
 * Port forwarding (`rkt run --port=NAME:[HOSTIP:]HOSTPORT`): host ports DNAT'ed to the pod. As in
 * rkt, the ports go through one network: the first the pod joins that masquerades (`ipMasq`), else
 * the last one. rkt programs no iptables itself: the CNI `portmap` plugin is chained after that
 * network's plugins and given the mappings as the `portMappings` capability (CNI CONVENTIONS.md
 * "Port mappings"); its DEL removes them.
 *
 * portmap also DNATs connections the host makes to itself (`-m addrtype --dst-type LOCAL` in
 * OUTPUT) and, with `snat` (its default), sets `route_localnet` on the pod's host-side interface,
 * so `127.0.0.1:HOSTPORT` on the host reaches the pod.
 */
import * as z from "../lib/schema.js";
import type { NetworkConfig, PluginConfig } from "./cni/network-config.js";

/** One forwarded port, as the caller resolved it from `--port` and the image's ports. */
export interface PortForward {
  readonly protocol: "tcp" | "udp";
  readonly containerPort: number;
  readonly hostPort: number;
  /** The host address to accept on; unset, every address of the host. */
  readonly hostIP?: string;
}

const port = z.number().check(z.int(), z.gte(1), z.lte(65535));

/** {@link PortForward} as net-info.json stores it. */
export const portForwardSchema = z.object({
  protocol: z.enum(["tcp", "udp"]),
  containerPort: port,
  hostPort: port,
  hostIP: z.optional(z.string()),
});

/** The portmap plugin as rkt chains it. */
export const PORTMAP_PLUGIN: Readonly<Record<string, unknown>> = { type: "portmap", capabilities: { portMappings: true }, snat: true };

/**
 * Which of the pod's networks (in join order) carries forwarded ports: the first with
 * `ipMasq`, else the last; -1 if there are none.
 *
 * @example
 * portForwardNetworkIndex([lan, defaultNet]); // 1: default masquerades, lan does not
 */
export function portForwardNetworkIndex(networks: readonly NetworkConfig[]): number {
  const masq = networks.findIndex((n) => n.ipMasq);
  return masq >= 0 ? masq : networks.length - 1;
}

/**
 * The network with portmap chained after its plugins, as a configuration list with the same name
 * and version. A network that already has a plugin taking `portMappings` is returned as it is:
 * its own portmap gets the mappings.
 *
 * @example
 * const net = withPortmap(defaultNet); // { format: "conflist", plugins: [ptp, portmap], ... }
 */
export function withPortmap(network: NetworkConfig): NetworkConfig {
  if (network.plugins.some(takesPortMappings)) return network;
  const plugins = [...network.plugins.map((p) => p.conf), PORTMAP_PLUGIN];
  const list: Record<string, unknown> = { cniVersion: network.cniVersion, name: network.name, plugins };
  if (network.disableCheck) list["disableCheck"] = true;
  return {
    ...network,
    format: "conflist",
    bytes: JSON.stringify(list),
    plugins: plugins.map((conf) => ({ type: String(conf["type"]), conf })),
  };
}

/** The `portMappings` capability argument (CNI CONVENTIONS.md) for the given ports. */
export function portMappingsArg(ports: readonly PortForward[]): { portMappings: Record<string, unknown>[] } {
  return {
    portMappings: ports.map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      ...(p.hostIP === undefined ? {} : { hostIP: p.hostIP }),
    })),
  };
}

function takesPortMappings(plugin: PluginConfig): boolean {
  const caps = plugin.conf["capabilities"];
  return typeof caps === "object" && caps !== null && (caps as Record<string, unknown>)["portMappings"] === true;
}
