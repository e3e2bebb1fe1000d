/**
 * An in-memory {@link CniExecutor} for tests of the code above the seam (network selection, pod
 * attach/detach, rollback, port forwarding): no processes, no namespaces, no root. Its plugins
 * behave like the real ones where rkt depends on the behaviour, and the shared executor suite
 * (test/network/cni-executor.case.ts) runs against both:
 *
 * - interface plugins (ptp, bridge, macvlan, ipvlan) lease an address from `ipam.subnet` the way
 *   host-local does (the first free one after the gateway, or CNI_ARGS `IP`), refuse a second ADD
 *   for the same (network, container, ifname), and release on DEL, idempotently;
 * - CNI_ARGS with keys the plugin does not know fail unless `IgnoreUnknown=1`, as in
 *   containernetworking's `types.LoadArgs`;
 * - meta plugins (portmap, tuning, firewall, bandwidth) pass `prevResult` through; portmap records
 *   its `runtimeConfig.portMappings`;
 * - a `cniVersion` the plugins do not support is error 1; an unknown plugin type is "not-found".
 *
 * Tests add failing or custom plugins through `plugins`, and inspect `calls`, `leases()` and
 * `portMappings()`.
 */
import { createHash } from "node:crypto";
import { RktError } from "../../../lib/errors.js";
import type { CniExecutor, PluginOutcome, PluginRequest } from "../cni-exec.js";
import type { CniError } from "../cni-result.js";

const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/** Thrown by a fake plugin to answer with a CNI error. */
export class FakeCniError extends Error {
  constructor(readonly code: number, msg: string, readonly details?: string) {
    super(msg);
  }
}

/** What a fake plugin is given: the request with its configuration already parsed. */
export interface FakePluginCall extends PluginRequest {
  readonly conf: Readonly<Record<string, unknown>>;
}

/** A fake plugin: returns its stdout JSON (undefined for none) or throws {@link FakeCniError}. */
export type FakePlugin = (call: FakePluginCall, executor: FakeCniExecutor) => unknown;

/** Options of {@link FakeCniExecutor}. */
export interface FakeCniExecutorOptions {
  /** Plugins by type, added to (or replacing) the built-in fakes. */
  readonly plugins?: Readonly<Record<string, FakePlugin>>;
  /** Plugin types that are "not installed" even if a fake exists. */
  readonly missing?: readonly string[];
}

interface Lease {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly ip: string;
}

/**
 * The in-memory executor.
 *
 * @example
 * const executor = new FakeCniExecutor({ plugins: { broken: () => { throw new FakeCniError(100, "boom"); } } });
 * await attachPodNetworks({ uuid, netnsPath: "/run/rkt/ns/x/net", networks, executor });
 * executor.leases(); // [{ network: "default", containerId: uuid, ifname: "eth0", ip: "172.16.28.2" }]
 */
export class FakeCniExecutor implements CniExecutor {
  /** Every invocation, in order. */
  readonly calls: PluginRequest[] = [];
  private readonly plugins = new Map<string, FakePlugin>();
  private readonly missing: ReadonlySet<string>;
  private readonly leaseTable = new Map<string, Lease>();
  private readonly mappings = new Map<string, unknown[]>();

  constructor(options: FakeCniExecutorOptions = {}) {
    for (const t of ["ptp", "bridge", "macvlan", "ipvlan"]) this.plugins.set(t, interfacePlugin);
    for (const t of ["tuning", "firewall", "bandwidth"]) this.plugins.set(t, passThrough);
    this.plugins.set("portmap", portmapPlugin);
    for (const [t, p] of Object.entries(options.plugins ?? {})) this.plugins.set(t, p);
    this.missing = new Set(options.missing ?? []);
  }

  /** The addresses leased now, in the order they were leased. */
  leases(): readonly Lease[] {
    return [...this.leaseTable.values()];
  }

  /** The port mappings portmap holds now, per container. */
  portMappings(): readonly { readonly containerId: string; readonly mappings: readonly unknown[] }[] {
    return [...this.mappings.entries()].map(([key, mappings]) => ({ containerId: key.split("/")[1] ?? "", mappings }));
  }

  /** Leases an address for an interface plugin (used by the built-in fakes). */
  lease(network: string, containerId: string, ifname: string, subnet: string, wanted: string | undefined): { ip: string; prefix: number; gateway: string } {
    const key = `${network}/${containerId}/${ifname}`;
    if (this.leaseTable.has(key)) throw new FakeCniError(999, `failed to allocate for range 0: an address has been allocated to ${containerId}, duplicate allocation is not allowed`);
    const net = parseSubnet(subnet);
    const gateway = intToIp(net.base + 1);
    const used = new Set([...this.leaseTable.values()].filter((l) => l.network === network).map((l) => l.ip));
    let ip: string | undefined;
    if (wanted !== undefined) {
      const n = ipToInt(wanted);
      if (n === undefined || !inSubnet(n, net)) throw new FakeCniError(999, `failed to allocate for range 0: ${wanted} not in network ${subnet}`);
      if (used.has(wanted)) throw new FakeCniError(999, `failed to allocate for range 0: requested IP address ${wanted} is not available in range set ${subnet}`);
      ip = wanted;
    } else {
      for (let n = net.base + 2; n < net.base + net.size - 1; n++) {
        if (!used.has(intToIp(n))) {
          ip = intToIp(n);
          break;
        }
      }
      if (ip === undefined) throw new FakeCniError(999, `failed to allocate for range 0: no IP addresses available in range set: ${subnet}`);
    }
    this.leaseTable.set(key, { network, containerId, ifname, ip });
    return { ip, prefix: net.prefix, gateway };
  }

  /** Releases a lease; releasing one that is not held is fine (DEL is idempotent). */
  release(network: string, containerId: string, ifname: string): void {
    this.leaseTable.delete(`${network}/${containerId}/${ifname}`);
  }

  hasLease(network: string, containerId: string, ifname: string): boolean {
    return this.leaseTable.has(`${network}/${containerId}/${ifname}`);
  }

  /** Records (or with `undefined`, forgets) portmap's mappings for a container. */
  setPortMappings(network: string, containerId: string, mappings: unknown[] | undefined): void {
    const key = `${network}/${containerId}`;
    if (mappings === undefined) this.mappings.delete(key);
    else this.mappings.set(key, mappings);
  }

  invoke(req: PluginRequest): Promise<PluginOutcome> {
    try {
      return Promise.resolve(this.invokeSync(req));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private invokeSync(req: PluginRequest): PluginOutcome {
    if (req.signal?.aborted === true) throw new RktError("unavailable", `plugin ${req.pluginType} ${req.command}: aborted`, { cause: req.signal.reason });
    const plugin = this.plugins.get(req.pluginType);
    if (plugin === undefined || this.missing.has(req.pluginType)) {
      throw new RktError("not-found", `CNI plugin "${req.pluginType}" not found in the fake executor`);
    }
    this.calls.push(req);
    let conf: Record<string, unknown>;
    try {
      const parsed = JSON.parse(req.stdin) as unknown;
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      conf = parsed as Record<string, unknown>;
    } catch (err) {
      return failed({ code: 6, msg: `decoding the configuration: ${String(err)}` });
    }
    const version = typeof conf["cniVersion"] === "string" ? conf["cniVersion"] : "0.1.0";
    if (req.command === "VERSION") return { ok: true, output: { cniVersion: "1.0.0", supportedVersions: SUPPORTED_VERSIONS } };
    if (!SUPPORTED_VERSIONS.includes(version)) {
      return failed({ code: 1, msg: `incompatible CNI versions; config is "${version}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}` });
    }
    try {
      return { ok: true, output: plugin({ ...req, conf }, this) };
    } catch (err) {
      if (err instanceof FakeCniError) return failed({ code: err.code, msg: err.message, ...(err.details === undefined ? {} : { details: err.details }) });
      throw err;
    }
  }
}

function failed(error: CniError): PluginOutcome {
  return { ok: false, error: { cniVersion: "1.0.0", ...error } };
}

/** Like `types.LoadArgs`: known keys, or anything with IgnoreUnknown=1. */
function parseArgs(cniArgs: string, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (cniArgs === "") return out;
  for (const pair of cniArgs.split(";")) {
    const [k, v] = pair.split("=", 2);
    if (k === undefined || v === undefined) throw new FakeCniError(999, `ARGS: invalid pair "${pair}"`);
    out.set(k, v);
  }
  const ignore = ["1", "true"].includes((out.get("IgnoreUnknown") ?? "").toLowerCase());
  for (const k of out.keys()) {
    if (!ignore && k !== "IgnoreUnknown" && !known.includes(k)) throw new FakeCniError(999, `ARGS: unknown args "${k}"`);
  }
  return out;
}

function interfacePlugin(call: FakePluginCall, executor: FakeCniExecutor): unknown {
  const name = String(call.conf["name"]);
  if (call.command === "DEL") {
    executor.release(name, call.containerId, call.ifname);
    return undefined;
  }
  if (call.command === "CHECK") {
    if (!executor.hasLease(name, call.containerId, call.ifname)) throw new FakeCniError(999, `no address leased to ${call.containerId} ${call.ifname}`);
    return undefined;
  }
  if (call.netns === "") throw new FakeCniError(4, "required env variables [CNI_NETNS] missing");
  const ipam = call.conf["ipam"];
  const subnet = typeof ipam === "object" && ipam !== null ? (ipam as Record<string, unknown>)["subnet"] : undefined;
  if (typeof subnet !== "string" || parseSubnetOrUndefined(subnet) === undefined) {
    throw new FakeCniError(7, `invalid CIDR address: ${String(subnet)}`);
  }
  const args = parseArgs(call.cniArgs, ["IP", "K8S_POD_NAME", "K8S_POD_NAMESPACE"]);
  const lease = executor.lease(name, call.containerId, call.ifname, subnet, args.get("IP"));
  const routes = (ipam as Record<string, unknown>)["routes"];
  const version = String(call.conf["cniVersion"]);
  const mac = fakeMac(`${name}/${call.containerId}/${call.ifname}`);
  return {
    cniVersion: version,
    interfaces: [
      { name: `veth${mac.replace(/:/g, "").slice(0, 8)}`, mac: fakeMac(`host/${mac}`) },
      { name: call.ifname, mac, sandbox: call.netns },
    ],
    ips: [{ ...(version.startsWith("1.") ? {} : { version: "4" }), interface: 1, address: `${lease.ip}/${lease.prefix}`, gateway: lease.gateway }],
    routes: Array.isArray(routes) ? routes : [],
    dns: typeof call.conf["dns"] === "object" && call.conf["dns"] !== null ? call.conf["dns"] : {},
  };
}

function passThrough(call: FakePluginCall): unknown {
  if (call.command !== "ADD") return undefined;
  if (call.conf["prevResult"] === undefined) throw new FakeCniError(7, `must be called as a chained plugin`);
  return call.conf["prevResult"];
}

function portmapPlugin(call: FakePluginCall, executor: FakeCniExecutor): unknown {
  const name = String(call.conf["name"]);
  const rc = call.conf["runtimeConfig"];
  const mappings = typeof rc === "object" && rc !== null ? (rc as Record<string, unknown>)["portMappings"] : undefined;
  if (call.command === "DEL") {
    executor.setPortMappings(name, call.containerId, undefined);
    return undefined;
  }
  if (call.command === "ADD" && Array.isArray(mappings) && mappings.length > 0) executor.setPortMappings(name, call.containerId, mappings);
  return passThrough(call);
}

function fakeMac(seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  const bytes = [0x02, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

interface Subnet {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

function parseSubnetOrUndefined(cidr: string): Subnet | undefined {
  const [addr, bits] = cidr.split("/");
  const n = addr === undefined ? undefined : ipToInt(addr);
  const prefix = Number(bits);
  if (n === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: n - (n % size), prefix, size };
}

function parseSubnet(cidr: string): Subnet {
  const s = parseSubnetOrUndefined(cidr);
  if (s === undefined) throw new FakeCniError(7, `invalid CIDR address: ${cidr}`);
  return s;
}

function inSubnet(n: number, s: Subnet): boolean {
  return n > s.base && n < s.base + s.size - 1;
}

function ipToInt(ip: string): number | undefined {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}
