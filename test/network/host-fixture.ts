/**
 * Host fixtures for the network tests that run real CNI plugins (root): network namespaces the
 * test creates (`ip netns add rkt-test-...`) and removes, a snapshot of the host's links, nat
 * rules and namespaces to prove a test left nothing behind, and the sysctls plugins flip.
 *
 * Network rule (machine.md): traffic goes only to loopback and to namespaces these tests create;
 * macvlan/ipvlan parents are links inside a test namespace, never the host's eth0.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, type TestContext } from "node:test";
import { promisify } from "node:util";
import { removeLeftoverRules } from "../../src/network/iptables-leftovers.js";
import { splitRule } from "../../src/network/iptables-rule.js";
import { makeTempDir, removeTempDir } from "../support/tmp.js";

const execFileP = promisify(execFile);

/** A fresh ID for a test pod, namespace or network: `rkt-test-<8 hex>`. */
export function testId(): string {
  return `rkt-test-${randomBytes(4).toString("hex")}`;
}

/** Runs a command; rejects with its stderr unless `allowFail`. */
export async function sh(cmd: string, args: readonly string[], options: { allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(cmd, [...args], { encoding: "utf8" });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    if (options.allowFail === true) return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? e.message };
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr?.trim() ?? e.message}`, { cause: err });
  }
}

export interface TestNetns {
  readonly name: string;
  /** `/run/netns/<name>`: what CNI_NETNS gets. */
  readonly path: string;
}

/** Creates a network namespace with lo up; removed after the test. */
export async function createNetns(t: TestContext, name = testId()): Promise<TestNetns> {
  await sh("ip", ["netns", "add", name]);
  t.after(() => sh("ip", ["netns", "del", name], { allowFail: true }));
  await sh("ip", ["-n", name, "link", "set", "lo", "up"]);
  return { name, path: `/run/netns/${name}` };
}

/** The names of the links in a namespace (the host's when `netns` is unset). */
export async function links(netns?: string): Promise<string[]> {
  const r = await sh("ip", [...(netns === undefined ? [] : ["-n", netns]), "-o", "link", "show"]);
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (l.split(": ")[1] ?? "").split("@")[0] ?? "");
}

/** The IPv4 addresses (CIDR) on an interface of a namespace. */
export async function addresses(netns: string, ifname: string): Promise<string[]> {
  const r = await sh("ip", ["-n", netns, "-o", "-4", "addr", "show", "dev", ifname], { allowFail: true });
  return [...r.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1] ?? "");
}

export interface HostState {
  readonly links: readonly string[];
  readonly nat: readonly string[];
  readonly netns: readonly string[];
}

async function natRules(): Promise<string[]> {
  return (await sh("iptables", ["-w", "-t", "nat", "-S"])).stdout.split("\n").filter((l) => l !== "");
}

/** The host's links, nat rules and named namespaces now. */
export async function hostState(): Promise<HostState> {
  const netns = (await sh("ip", ["netns", "list"])).stdout.split("\n").map((l) => l.split(" ")[0] ?? "").filter((n) => n !== "");
  return { links: await links(), nat: await natRules(), netns };
}

// portmap's shared chains and the jumps to them: created on first use and, by design, never
// removed by portmap's DEL (other pods may use them).
const PORTMAP_SHARED = /CNI-HOSTPORT-(DNAT|MASQ|SETMARK)/;

/**
 * What appeared on the host since `before`, as readable lines: links, nat rules and namespaces.
 * `keep` lists namespaces the test still holds; portmap's shared chains are left out when
 * `allowPortmapChains`.
 */
export async function hostChanges(before: HostState, options: { keepNetns?: readonly string[]; allowPortmapChains?: boolean } = {}): Promise<string[]> {
  const now = await hostState();
  const out: string[] = [];
  for (const l of now.links) if (!before.links.includes(l)) out.push(`link ${l}`);
  for (const r of now.nat) {
    if (before.nat.includes(r)) continue;
    if (options.allowPortmapChains === true && PORTMAP_SHARED.test(r)) continue;
    out.push(`nat ${r}`);
  }
  for (const n of now.netns) if (!before.netns.includes(n) && !(options.keepNetns ?? []).includes(n)) out.push(`netns ${n}`);
  return out;
}

/**
 * Removes what a failed test may have left for the given pods: their nat rules, new `rkt-*` links
 * on the host (test bridges), and portmap's shared chains if they were not there before and no
 * pod forwards a port through them. (Veths need nothing: deleting a namespace deletes its veth
 * pairs; and only the test's own links are touched, since other work may run on the machine.)
 */
export async function forceCleanup(before: HostState, pods: readonly { network: string; containerId: string }[]): Promise<void> {
  for (const p of pods) await removeLeftoverRules(p.network, p.containerId);
  for (const l of await links()) {
    if (!before.links.includes(l) && l.startsWith("rkt-")) await sh("ip", ["link", "del", l], { allowFail: true });
  }
  if (!before.nat.some((r) => r === "-N CNI-HOSTPORT-DNAT")) await removePortmapChains();
}

/** Deletes portmap's shared chains and the jumps to them, unless some pod still forwards a port. */
export async function removePortmapChains(): Promise<void> {
  const rules = await natRules();
  if (rules.some((r) => r.startsWith("-A CNI-HOSTPORT-DNAT "))) return;
  for (const r of rules) {
    if (r.startsWith("-A ") && PORTMAP_SHARED.test(r) && / -j CNI-HOSTPORT-/.test(r) && !r.startsWith("-A CNI-HOSTPORT-")) {
      await sh("iptables", ["-w", "-t", "nat", "-D", ...splitRule(r).slice(1)], { allowFail: true });
    }
  }
  for (const chain of ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]) {
    if (!rules.includes(`-N ${chain}`)) continue;
    await sh("iptables", ["-w", "-t", "nat", "-F", chain], { allowFail: true });
    await sh("iptables", ["-w", "-t", "nat", "-X", chain], { allowFail: true });
  }
}

/**
 * ptp and bridge turn on IPv4 forwarding on the host; put it back as it was after the file's
 * tests, so running the suite leaves the machine's routing as it found it.
 */
export function restoreIpForwardAfterAll(): void {
  const path = "/proc/sys/net/ipv4/ip_forward";
  let saved = "";
  before(() => {
    saved = readFileSync(path, "utf8");
  });
  after(() => {
    if (saved !== "") writeFileSync(path, saved);
  });
}

/** `ping -c 1` from the host, or from inside `netns`. */
export async function ping(address: string, netns?: string): Promise<boolean> {
  const cmd = [...(netns === undefined ? [] : ["ip", "netns", "exec", netns]), "busybox", "ping", "-c", "1", "-W", "2", address];
  const r = await sh(cmd[0]!, cmd.slice(1), { allowFail: true });
  return r.code === 0;
}

/** Starts a command inside a namespace in the background; killed after the test. */
export function spawnIn(t: TestContext, netns: string, argv: readonly string[]): ChildProcess {
  const child = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

/** Whether the kernel can make a link of this type (tried inside a throwaway namespace). */
export async function kernelHasLinkType(type: "macvlan" | "ipvlan"): Promise<boolean> {
  const ns = testId();
  await sh("ip", ["netns", "add", ns]);
  try {
    await sh("ip", ["-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
    const r = await sh("ip", ["-n", ns, "link", "add", "x0", "link", "p0", "type", type], { allowFail: true });
    return r.code === 0;
  } finally {
    await sh("ip", ["netns", "del", ns], { allowFail: true });
  }
}

/** A test's rkt setup for real plugins: a local config with the given net.d files, a lease dir. */
export interface NetworkTestEnv {
  readonly before: HostState;
  readonly localConfig: string;
  /** host-local's dataDir for the built-in networks (and for test networks that use it). */
  readonly leases: string;
  /** Registers a pod's network for the forced cleanup after the test. */
  track(network: string, containerId: string): void;
}

/**
 * Snapshots the host, writes `netd` files into a fresh `<localConfig>/net.d` (`$LEASES` in them
 * becomes the lease dir), and after the test removes whatever the tracked pods may have left.
 */
export async function networkTestEnv(t: TestContext, netd: Record<string, string> = {}): Promise<NetworkTestEnv> {
  const before = await hostState();
  const localConfig = await makeTempDir("rkt-net-");
  const leases = join(localConfig, "leases");
  await mkdir(join(localConfig, "net.d"), { recursive: true });
  for (const [name, text] of Object.entries(netd)) {
    const path = join(localConfig, "net.d", name);
    await writeFile(path, text.replaceAll("$LEASES", leases));
    if (!name.endsWith(".conf") && !name.endsWith(".conflist")) await chmod(path, 0o755);
  }
  const pods: { network: string; containerId: string }[] = [];
  t.after(async () => {
    try {
      await forceCleanup(before, pods);
    } finally {
      await removeTempDir(localConfig);
    }
  });
  return { before, localConfig, leases, track: (network, containerId) => pods.push({ network, containerId }) };
}

/** The lease files host-local holds for a network in a lease dir (addresses only). */
export async function leaseFiles(leases: string, network: string): Promise<string[]> {
  try {
    return (await readdir(join(leases, network))).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes("."));
  } catch {
    return [];
  }
}
