/**
 * The one cleanup rkt does in iptables itself, and why: ptp and bridge remove their masquerade
 * rules on DEL only after finding the pod's interface in its network namespace (they learn the
 * addresses from it). When the namespace is already gone (a crash between unpinning it and DEL,
 * a gc of a half-torn-down pod) or eth0 was deleted inside it, DEL succeeds and the rules stay
 * forever (seen with containernetworking-plugins 1.1.1: `POSTROUTING -s 172.16.28.2/32 ... -j
 * CNI-<hash>` and the CNI-<hash> chain survive).
 *
 * Every rule those plugins create carries the comment `name: "<network>" id: "<container id>"`
 * (portmap's: `dnat name: ...`), so after each DEL rkt deletes the rules still carrying exactly
 * that comment from the nat table, and the CNI-* chains they jumped to once they are empty.
 * Nothing else is touched: not portmap's shared CNI-HOSTPORT-* chains, not other pods' rules.
 * When the plugins did their job there is nothing to find; the check costs one `iptables -S`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { splitRule } from "./iptables-rule.js";

const run = promisify(execFile);
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

/**
 * Deletes nat rules commented for (`network`, `containerId`) and the emptied CNI-* chains they
 * jumped to; resolves with the rules it deleted (as `iptables -S` printed them). A missing
 * iptables or ip6tables is skipped.
 *
 * @example
 * await removeLeftoverRules("default", podUuid); // ["-A POSTROUTING -s 172.16.28.2/32 ... -j CNI-..."]
 */
export async function removeLeftoverRules(network: string, containerId: string): Promise<string[]> {
  const removed: string[] = [];
  const comment = `name: "${network}" id: "${containerId}"`;
  for (const tool of ["iptables", "ip6tables"]) {
    let text: string;
    try {
      text = (await run(tool, ["-w", "-t", "nat", "-S"], { env: ENV })).stdout;
    } catch {
      continue;
    }
    const chains = new Set<string>();
    for (const line of text.split("\n")) {
      if (!line.startsWith("-A ")) continue;
      const tokens = splitRule(line);
      const c = tokens.indexOf("--comment");
      const text = c >= 0 ? tokens[c + 1] : undefined;
      if (text !== comment && text !== `dnat ${comment}`) continue;
      const j = tokens.indexOf("-j");
      const target = j >= 0 ? tokens[j + 1] : undefined;
      if (target?.startsWith("CNI-") === true && !target.startsWith("CNI-HOSTPORT-")) chains.add(target);
      try {
        await run(tool, ["-w", "-t", "nat", "-D", ...tokens.slice(1)], { env: ENV });
        removed.push(line);
      } catch {
        // already gone (another gc raced us): fine
      }
    }
    for (const chain of chains) {
      try {
        const rest = (await run(tool, ["-w", "-t", "nat", "-S", chain], { env: ENV })).stdout;
        if (rest.split("\n").some((l) => l.startsWith("-A "))) continue;
        await run(tool, ["-w", "-t", "nat", "-X", chain], { env: ENV });
      } catch {
        // gone already, or still referenced: leave it
      }
    }
  }
  return removed;
}
