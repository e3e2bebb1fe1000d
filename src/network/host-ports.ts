/**
 * Is a host port free to forward? portmap installs DNAT rules and binds nothing, so a port some
 * host service listens on, or one another pod already forwards, would be taken over silently or
 * shadowed. rkt checks before the pod joins any network:
 *
 * - by binding the port on the host address (TCP or UDP as asked), and closing it again;
 * - by reading portmap's `CNI-HOSTPORT-DNAT` chain for rules on that port and protocol.
 *
 * Both are checks at one moment: a service that binds the port after the check is not stopped.
 */
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer, isIPv6 } from "node:net";
import { promisify } from "node:util";
import { errnoCode, RktError } from "../lib/errors.js";
import type { PortForward } from "./port-forward.js";
import { splitRule } from "./iptables-rule.js";

const run = promisify(execFile);

/** Options of {@link assertHostPortsFree}. */
export interface HostPortCheckOptions {
  /** Also read portmap's iptables rules (default true). */
  readonly iptables?: boolean;
}

/**
 * Rejects with an RktError ("already-exists") naming the first port that is taken, twice
 * requested, or forwarded to another pod; ("invalid-argument") for a host IP that is not an
 * address of this host.
 *
 * @example
 * await assertHostPortsFree([{ protocol: "tcp", containerPort: 80, hostPort: 8080 }]);
 */
export async function assertHostPortsFree(ports: readonly PortForward[], options: HostPortCheckOptions = {}): Promise<void> {
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) {
      throw new RktError("invalid-argument", `host port ${key} is forwarded twice`, { hint: "give each --port its own host port" });
    }
    seen.add(key);
  }
  const forwarded = options.iptables === false ? [] : await forwardedPorts();
  for (const p of ports) {
    const other = forwarded.find((f) => f.protocol === p.protocol && f.ports.includes(p.hostPort));
    if (other !== undefined) {
      throw new RktError("already-exists", `host port ${p.hostPort}/${p.protocol} is already forwarded (${other.owner})`, {
        hint: "choose another host port, or stop the pod that forwards it",
      });
    }
    await tryBind(p);
  }
}

async function tryBind(p: PortForward): Promise<void> {
  const address = p.hostIP ?? "0.0.0.0";
  const where = `${p.hostIP === undefined ? "" : `${isIPv6(address) ? `[${address}]` : address}:`}${p.hostPort}/${p.protocol}`;
  try {
    if (p.protocol === "tcp") await bindTcp(address, p.hostPort);
    else await bindUdp(address, p.hostPort);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "EADDRINUSE") {
      throw new RktError("already-exists", `host port ${where} is already in use on the host`, {
        hint: "choose another host port, or stop what listens on it",
        cause: err,
      });
    }
    if (code === "EADDRNOTAVAIL") {
      throw new RktError("invalid-argument", `host IP ${address} of --port ${where} is not an address of this host`, { cause: err });
    }
    throw new RktError("internal", `checking host port ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function bindTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

function bindUdp(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(address) ? "udp6" : "udp4");
    socket.once("error", (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve()));
  });
}

interface ForwardedRule {
  readonly protocol: string;
  readonly ports: readonly number[];
  readonly owner: string;
}

/**
 * The host ports portmap forwards now, from `iptables -t nat -S CNI-HOSTPORT-DNAT`. No chain (no
 * forwarded port yet) or no iptables is an empty list.
 */
async function forwardedPorts(): Promise<ForwardedRule[]> {
  let text: string;
  try {
    text = (await run("iptables", ["-w", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } })).stdout;
  } catch {
    return [];
  }
  const out: ForwardedRule[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("-A CNI-HOSTPORT-DNAT ")) continue;
    const t = splitRule(line);
    const proto = t[t.indexOf("-p") + 1];
    const dports = t[t.indexOf("--dports") + 1];
    const comment = t.indexOf("--comment") >= 0 ? t[t.indexOf("--comment") + 1] : undefined;
    if (!t.includes("-p") || !t.includes("--dports") || proto === undefined || dports === undefined) continue;
    const ports: number[] = [];
    for (const part of dports.split(",")) {
      const [lo, hi] = part.split(":").map(Number);
      if (lo === undefined || !Number.isInteger(lo)) continue;
      for (let n = lo; n <= (hi ?? lo); n++) ports.push(n);
    }
    out.push({ protocol: proto, ports, owner: comment?.replace(/^dnat /, "") ?? "by a CNI portmap rule" });
  }
  return out;
}
