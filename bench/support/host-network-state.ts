/**
 * What pods on a network leave on the host, as figures a benchmark can compare before and after:
 * veth links, CNI-* chains of the nat table (portmap's shared CNI-HOSTPORT-* excepted), netavark's
 * chains, and /32 routes to given pod addresses. Read with `ip` and `iptables`; nothing is changed.
 */
import { timedRun } from "./timed-run.js";

const PATH_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

/** A snapshot of the host's network state that pods touch. */
export interface HostNetworkState {
  /** Names of veth links in the host namespace. */
  readonly veths: readonly string[];
  /** `iptables -t nat -S` chains named CNI-* other than CNI-HOSTPORT-*. */
  readonly cniNatChains: readonly string[];
  /** nat rules whose comment names one of the given ids (the CNI plugins comment their rules with the container id). */
  readonly natRulesOf: (ids: readonly string[]) => string[];
  /** Chains (nat and filter) named NETAVARK_* or NETAVARK-*. */
  readonly netavarkChains: readonly string[];
  /** Host routes (`ip -4 route`) whose destination is one of the given addresses. */
  readonly routesTo: (addresses: readonly string[]) => string[];
  /** Link names in the host namespace. */
  readonly links: readonly string[];
}

/**
 * Reads the host's veths, nat chains and routes now.
 *
 * @example
 * const before = await hostNetworkState();
 * // ... run pods
 * const after = await hostNetworkState();
 * const newVeths = after.veths.filter((v) => !before.veths.includes(v));
 */
export async function hostNetworkState(): Promise<HostNetworkState> {
  const run = async (cmd: string, args: string[]): Promise<string> => (await timedRun(cmd, args, { env: PATH_ENV })).stdout;
  const [linkText, vethText, nat, filter, routes] = await Promise.all([
    run("ip", ["-o", "link", "show"]),
    run("ip", ["-o", "link", "show", "type", "veth"]),
    run("iptables", ["-w", "-t", "nat", "-S"]),
    run("iptables", ["-w", "-S"]),
    run("ip", ["-4", "route", "show"]),
  ]);
  const linkNames = (text: string): string[] =>
    text
      .split("\n")
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  const chains = (text: string): string[] =>
    text
      .split("\n")
      .filter((l) => l.startsWith("-N "))
      .map((l) => l.slice(3).trim());
  const natLines = nat.split("\n");
  return {
    links: linkNames(linkText),
    veths: linkNames(vethText),
    cniNatChains: chains(nat).filter((c) => c.startsWith("CNI-") && !c.startsWith("CNI-HOSTPORT-")),
    natRulesOf: (ids) => natLines.filter((l) => l.startsWith("-A ") && ids.some((id) => l.includes(id))),
    netavarkChains: [...chains(nat).map((c) => `nat ${c}`), ...chains(filter).map((c) => `filter ${c}`)].filter((c) => /NETAVARK[_-]/.test(c)),
    routesTo: (addresses) => routes.split("\n").filter((l) => addresses.some((a) => l.split(" ")[0] === a || l.startsWith(`${a}/32 `))),
  };
}
