/**
 * Network benchmark (issue 4): what joining the default network costs a pod, rkt side by side
 * with podman in the same run.
 *
 * 1. Start on the default network: `rkt run --insecure-options=image IMG --exec=/bin/true` (rkt's
 *    `default` ptp network, 172.16.28.0/24) vs `podman run --rm IMG true` (podman's default bridge
 *    network; podman 4.3 here uses netavark, its config in the sandbox via --network-config-dir).
 *    One warm-up each, then N rounds (default 10), the order alternating. Target rkt <= 0.5x podman.
 * 2. 20 pods at once: 20 `rkt run IMG --exec=/bin/ip -- -4 addr show eth0` started together; wall
 *    time until the last exits; every pod must print a distinct address; then (after `rkt rm`) no
 *    veth, no CNI-* nat chain (other than CNI-HOSTPORT-*) or rule, no /32 route and no /run/rkt/ns
 *    entry of these pods may be left. The same with 20 `podman run --rm IMG ip -4 addr show eth0`.
 *    B batches (default 3) of each, alternating.
 *
 * Figures (median, p90 nearest rank, ratios of medians) go to stdout as Markdown, raw samples to
 * bench/out/results/network-*.json. Never test assertions: a check that fails is reported.
 *
 * Usage (root): node --import tsx bench/network.ts [--rounds N] [--batches N] [--parallel N]
 *                 [--only start,parallel] [--in-place]
 */
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { busyboxImage } from "../test/support/image-fixtures.js";
import { guardCgroups, PODMAN_CGROUPS } from "./support/cgroup-guard.js";
import { Cleanup } from "./support/cleanup.js";
import { guardHostPaths, PEER_HOST_PATHS } from "./support/host-paths-guard.js";
import { hostNetworkState, type HostNetworkState } from "./support/host-network-state.js";
import { markdownTable } from "./support/markdown-table.js";
import { sandboxContainersConf } from "./support/podman-conf.js";
import { PodmanSandbox } from "./support/podman-sandbox.js";
import { removeTreeWithMounts } from "./support/remove-tree-with-mounts.js";
import { RktBenchStore } from "./support/rkt-bench-store.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt, type RktBuildInfo } from "./support/rkt-snapshot.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { median, percentile } from "./support/stats.js";
import { splitRule } from "../src/network/iptables-rule.js";
import { timedRun, type TimedRunResult } from "./support/timed-run.js";

const TARGET_VS_PODMAN = 0.5;
/** rkt names an image fetched from an OCI layout after the layout's directory. */
const IMAGE = "localhost/busybox:latest";
const SECTIONS = ["start", "parallel"] as const;
type Section = (typeof SECTIONS)[number];

const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Bench {
  readonly store: RktBenchStore;
  readonly podman: PodmanSandbox;
  readonly podmanEnv: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

interface Contender {
  readonly name: string;
  run(): Promise<number>;
  after?(): Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "10" },
      batches: { type: "string", default: "3" },
      parallel: { type: "string", default: "20" },
      only: { type: "string", default: SECTIONS.join(",") },
      "in-place": { type: "boolean", default: false },
    },
  });
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: want a positive integer, got ${text}`);
    return n;
  };
  const rounds = positive("rounds", values.rounds);
  const batches = positive("batches", values.batches);
  const parallel = positive("parallel", values.parallel);
  const only = new Set(values.only.split(",").filter((s) => s !== ""));
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (have ${SECTIONS.join(", ")})`);
  const want = (s: Section): boolean => only.has(s);

  const netBefore = await hostNetworkState();
  const netnsBefore = netnsNames();
  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());
    cleanup.defer("remove what the peers created on the host", guardHostPaths(PEER_HOST_PATHS));
    cleanup.defer("remove the cgroups podman created", guardCgroups(PODMAN_CGROUPS));
    cleanup.defer("remove the network links and chains netavark created", () => removeNetavarkLeftovers(netBefore));
    // podman killed mid-run (Ctrl-C) leaves its netns-* in /run/netns, with a veth into it.
    cleanup.defer("remove the network namespaces podman left", async () => {
      for (const ns of netnsNames().filter((n) => n.startsWith("netns-") && !netnsBefore.includes(n))) {
        await timedRun("ip", ["netns", "delete", ns], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } }).catch(() => undefined);
      }
    });

    const scratch = join(tmpdir(), `rkt-bench-net-scratch-${randomBytes(6).toString("hex")}`);
    await mkdir(scratch, { mode: 0o700 });
    cleanup.defer("remove the scratch directory", () => removeTreeWithMounts(scratch));
    const layout = join(scratch, "busybox");
    const image = await busyboxImage({ dir: layout });

    const store = await RktBenchStore.create(rkt.bin);
    cleanup.defer("stop and collect the pods, remove the rkt store", async () => {
      const forced = await store.destroy();
      if (forced.length > 0) log(`cleanup: removed by force what pods left: ${forced.join(", ")}`);
    });
    const fetched = await store.rkt(["fetch", "--insecure-options=image", layout], { signal });
    log(`rkt store ${store.dir}: ${fetched.stdout.trim()} (${IMAGE})`);

    const podman = await PodmanSandbox.create();
    let podmanEnv: Record<string, string> = {};
    cleanup.defer("remove podman's containers, networks and storage", async () => {
      await podman.run(["rm", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.run(["rmi", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.destroy();
    });
    podmanEnv = await sandboxContainersConf(podman);
    const pulled = await podman.run(["pull", `oci:${layout}:latest`], { env: podmanEnv, signal });
    const podmanId = pulled.stdout.trim().split("\n").pop() ?? "";
    await podman.run(["tag", podmanId, IMAGE], { env: podmanEnv, signal });
    const backend = (await podman.run(["info", "--format", "{{.Host.NetworkBackend}}"], { env: podmanEnv, signal })).stdout.trim();
    log(`podman sandbox ${podman.dir}: ${podmanId} tagged ${IMAGE}; network backend ${backend}`);

    const b: Bench = { store, podman, podmanEnv, signal };
    const layerBytes = image.layers.reduce((s, l) => s + l.descriptor.size, 0);
    const out: string[] = [
      "",
      "## Network: pods on the default network, rkt side by side with podman",
      "",
      ...describeEnvironment(["podman", "runc", "conmon"]).map((l) => `- ${l}`),
      `- rkt: build ${rkt.info.fingerprint} (entry ${(rkt.info.entryBytes / 1e3).toFixed(0)} kB, ${rkt.info.files} JS files), revision ${rkt.info.revision}; run through bin/rkt`,
      `- image: the busybox fixture (1 layer, ${(layerBytes / 1e6).toFixed(1)} MB gzip) as an OCI layout, fetched into a fresh rkt store and pulled into a sandboxed podman (network backend: ${backend}; network config in the sandbox via --network-config-dir)`,
      "- wall time from spawn to exit, monotonic clock, no shell in between; medians and p90 (nearest rank); ratios are of medians",
    ];
    const results: Record<string, unknown> = { build: rkt.info, rounds, batches, parallel, backend };
    if (want("start")) {
      const r = await startSection(b, rounds);
      out.push(...r.lines);
      results.start = r.samples;
    }
    if (want("parallel")) {
      const r = await parallelSection(b, batches, parallel);
      out.push(...r.lines);
      results.parallel = r.data;
    }
    out.push(rebuiltNote(rkt.info), "");
    process.stdout.write(out.join("\n"));
    log(`raw samples: ${await saveResults("network", results)}`);
  } finally {
    await cleanup.run();
    const after = await hostNetworkState().catch(() => undefined);
    if (after !== undefined) {
      const newVeths = after.veths.filter((v) => !netBefore.veths.includes(v));
      const newChains = after.cniNatChains.filter((c) => !netBefore.cniNatChains.includes(c));
      const newNetavark = after.netavarkChains.filter((c) => !netBefore.netavarkChains.includes(c));
      log(
        `host after cleanup (global: other work on the machine counts too): new veths ${list(newVeths)}; new CNI-* nat chains ${list(newChains)}; new netavark chains ${list(newNetavark)}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Start one app on the default network

async function startSection(b: Bench, rounds: number): Promise<{ lines: string[]; samples: Record<string, number[]> }> {
  const { store, podman, podmanEnv, signal } = b;
  const contenders: Contender[] = [
    {
      name: "rkt run IMG --exec=/bin/true (default ptp network)",
      run: async () => (await store.rkt(["run", "--insecure-options=image", IMAGE, "--exec=/bin/true"], { signal })).wallMs,
      after: () => store.collect(signal),
    },
    {
      name: "podman run --rm IMG true (default bridge network)",
      run: async () => (await podman.run(["run", "--rm", IMAGE, "true"], { env: podmanEnv, signal })).wallMs,
    },
  ];
  log(`start: 1 warm-up each, then ${rounds} rounds`);
  for (const c of contenders) await runOnce(c, signal);
  const samples: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      samples[c.name]!.push(await runOnce(c, signal));
    }
    if ((round + 1) % 5 === 0) log(`start: ${round + 1}/${rounds} rounds`);
  }
  const [rktS, podmanS] = contenders.map((c) => samples[c.name]!) as [number[], number[]];
  const vs = median(rktS) / median(podmanS);
  return {
    samples,
    lines: [
      "",
      `### 1. Start one app (\`/bin/true\`) on the default network: ${rounds} rounds after 1 warm-up each, order alternating`,
      "",
      markdownTable(
        ["command", "median ms", "p90 ms", "min ms", "max ms"],
        contenders.map((c) => timingRow(c.name, samples[c.name]!)),
      ),
      "",
      markdownTable(
        ["ratio", "of medians", "of p90s", "target", "verdict"],
        [["rkt / podman", ratio(vs), ratio(percentile(rktS, 90) / percentile(podmanS, 90)), `≤ ${TARGET_VS_PODMAN}×`, verdict(vs, TARGET_VS_PODMAN)]],
      ),
      ...failureNotes(contenders.map((c) => c.name)),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. N pods at once

interface Batch {
  readonly wallMs: number;
  readonly addresses: string[];
  /** Pods that failed (their error's last line). */
  readonly failed: string[];
  /** What was left on the host after the pods were removed. */
  readonly leftovers: string[];
}

const INET = /\binet (\d+\.\d+\.\d+\.\d+)\//;

async function parallelSection(b: Bench, batches: number, n: number): Promise<{ lines: string[]; data: Record<string, Batch[]> }> {
  const { store, podman, podmanEnv, signal } = b;
  const rktBatch = async (): Promise<Batch> => {
    const before = await hostNetworkState();
    const started = process.hrtime.bigint();
    const settled = await Promise.allSettled(
      Array.from({ length: n }, () => store.rkt(["run", "--insecure-options=image", IMAGE, "--exec=/bin/ip", "--", "-4", "addr", "show", "eth0"], { signal })),
    );
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    signal.throwIfAborted();
    const uuids = store.pods();
    await store.collect(signal);
    const after = await hostNetworkState();
    const leftovers = [...netLeftovers(before, after, addressesOf(settled), uuids), ...(await store.leftovers()).filter((l) => uuids.some((u) => l.includes(u)))];
    if (store.pods().length > 0) leftovers.push(`${store.pods().length} pod(s) still in the store after rkt rm`);
    return { wallMs, addresses: addressesOf(settled), failed: failuresOf(settled), leftovers };
  };
  const podmanBatch = async (): Promise<Batch> => {
    const before = await hostNetworkState();
    const names = Array.from({ length: n }, () => `rkt-bench-net-${randomBytes(4).toString("hex")}`);
    const started = process.hrtime.bigint();
    const settled = await Promise.allSettled(names.map((name) => podman.run(["run", "--rm", `--name=${name}`, IMAGE, "ip", "-4", "addr", "show", "eth0"], { env: podmanEnv, signal })));
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    signal.throwIfAborted();
    const ps = (await podman.run(["ps", "--all", "--quiet"], { env: podmanEnv, signal })).stdout.trim();
    const after = await hostNetworkState();
    const leftovers = netLeftovers(before, after, addressesOf(settled), []);
    if (ps !== "") leftovers.push(`podman containers left: ${ps.split("\n").length}`);
    const links = after.links.filter((l) => !before.links.includes(l) && l !== "podman0");
    if (links.length > 0) leftovers.push(`new links ${links.join(", ")}`);
    return { wallMs, addresses: addressesOf(settled), failed: failuresOf(settled), leftovers };
  };
  const data: Record<string, Batch[]> = { rkt: [], podman: [] };
  for (let i = 0; i < batches; i++) {
    const order: [string, () => Promise<Batch>][] = [
      ["rkt", rktBatch],
      ["podman", podmanBatch],
    ];
    if (i % 2 === 1) order.reverse();
    for (const [name, fn] of order) {
      const r = await fn();
      data[name]!.push(r);
      log(`parallel: batch ${i + 1}/${batches} ${name}: ${r.wallMs.toFixed(0)} ms, ${new Set(r.addresses).size} distinct addresses, ${r.failed.length} failed, ${r.leftovers.length} leftovers`);
    }
  }
  const row = (label: string, bs: Batch[]): string[] => {
    const w = bs.map((x) => x.wallMs);
    const distinct = bs.map((x) => `${new Set(x.addresses).size}/${n}`).join(", ");
    const failed = bs.reduce((s, x) => s + x.failed.length, 0);
    const left = bs.reduce((s, x) => s + x.leftovers.length, 0);
    return [label, median(w).toFixed(0), Math.min(...w).toFixed(0), Math.max(...w).toFixed(0), distinct, String(failed), left === 0 ? "none" : String(left)];
  };
  const vs = median(data.rkt!.map((x) => x.wallMs)) / median(data.podman!.map((x) => x.wallMs));
  const notes = (["rkt", "podman"] as const).flatMap((name) =>
    data[name]!.flatMap((x, i) => [
      ...(x.failed.length > 0 ? [`- ${name} batch ${i + 1}: ${x.failed.length} pod(s) failed; first: ${x.failed[0]!}`] : []),
      ...(x.leftovers.length > 0 ? [`- ${name} batch ${i + 1} left: ${x.leftovers.join("; ")}`] : []),
    ]),
  );
  return {
    data,
    lines: [
      "",
      `### 2. ${n} pods started at once on the default network (\`ip -4 addr show eth0\`, then exit): ${batches} batches of each, order alternating`,
      "",
      markdownTable(
        ["command ×" + String(n), "median wall ms (all done)", "min ms", "max ms", "distinct addresses per batch", "failed pods", "leftovers"],
        [
          row(`rkt run IMG --exec=/bin/ip -- -4 addr show eth0`, data.rkt!),
          row(`podman run --rm IMG ip -4 addr show eth0`, data.podman!),
        ],
      ),
      "",
      `rkt / podman (medians): ${ratio(vs)} (no target; reference).`,
      "",
      "Leftovers checked after each batch (rkt: after `rkt rm` of the batch's pods): new veth links, CNI-* nat chains other than CNI-HOSTPORT-*, nat rules naming a pod, /32 routes to the pods' addresses, /run/rkt/ns entries, mounts, cgroups and runc containers of the pods.",
      ...(notes.length > 0 ? ["", ...notes] : []),
    ],
  };
}

function addressesOf(settled: PromiseSettledResult<TimedRunResult>[]): string[] {
  return settled.flatMap((s) => {
    if (s.status !== "fulfilled") return [];
    const m = INET.exec(s.value.stdout);
    return m === null ? [] : [m[1]!];
  });
}

function failuresOf(settled: PromiseSettledResult<TimedRunResult>[]): string[] {
  return settled.flatMap((s) => {
    if (s.status === "rejected") return [lastLine(s.reason)];
    return INET.test(s.value.stdout) ? [] : [`no inet address in the output: ${s.value.stdout.trim().slice(0, 200)}`];
  });
}

function netLeftovers(before: HostNetworkState, after: HostNetworkState, addresses: readonly string[], ids: readonly string[]): string[] {
  const out: string[] = [];
  const veths = after.veths.filter((v) => !before.veths.includes(v));
  if (veths.length > 0) out.push(`new veths ${veths.join(", ")}`);
  const chains = after.cniNatChains.filter((c) => !before.cniNatChains.includes(c));
  if (chains.length > 0) out.push(`new CNI-* nat chains ${chains.join(", ")}`);
  if (ids.length > 0) out.push(...after.natRulesOf(ids).map((r) => `nat rule ${r}`));
  out.push(...after.routesTo(addresses).map((r) => `route ${r}`));
  return out;
}

/**
 * netavark leaves its bridge (podman0) and its iptables chains when the last container goes.
 * Removes exactly those that did not exist before the benchmark.
 */
async function removeNetavarkLeftovers(before: HostNetworkState): Promise<void> {
  const now = await hostNetworkState();
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
  if (now.links.includes("podman0") && !before.links.includes("podman0")) await timedRun("ip", ["link", "delete", "podman0"], { env }).catch(() => undefined);
  const added = now.netavarkChains.filter((c) => !before.netavarkChains.includes(c));
  if (added.length === 0) return;
  // Rules that jump to netavark's chains first (from the built-in chains), then the chains.
  for (const table of ["nat", "filter"]) {
    const mine = added.filter((c) => c.startsWith(`${table} `)).map((c) => c.slice(table.length + 1));
    if (mine.length === 0) continue;
    const rules = (await timedRun("iptables", ["-w", "-t", table, "-S"], { env })).stdout.split("\n");
    for (const r of rules) {
      if (!r.startsWith("-A ")) continue;
      const parts = splitRule(r);
      if (parts[0] !== "-A" || mine.includes(parts[1]!)) continue;
      const target = parts[parts.indexOf("-j") + 1];
      if (target !== undefined && mine.includes(target)) await timedRun("iptables", ["-w", "-t", table, "-D", ...parts.slice(1)], { env }).catch(() => undefined);
    }
    for (const c of mine) await timedRun("iptables", ["-w", "-t", table, "-F", c], { env }).catch(() => undefined);
    for (const c of mine) await timedRun("iptables", ["-w", "-t", table, "-X", c], { env }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers (as in pods.ts)

const failures = new Map<string, string[]>();

async function runOnce(c: Contender, signal: AbortSignal): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const ms = await c.run();
      await c.after?.();
      return ms;
    } catch (err) {
      if (signal.aborted || attempt >= 2) throw err;
      const why = lastLine(err);
      log(`${c.name}: failed, repeating: ${why}`);
      failures.set(c.name, [...(failures.get(c.name) ?? []), why]);
      await c.after?.().catch(() => undefined);
    }
  }
}

/** Entries of /run/netns (podman names its namespaces netns-UUID there). */
function netnsNames(): string[] {
  try {
    return readdirSync("/run/netns");
  } catch {
    return [];
  }
}

function lastLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? "?";
}

function failureNotes(names: readonly string[]): string[] {
  return names.flatMap((name) => {
    const f = failures.get(name) ?? [];
    return f.length === 0 ? [] : ["", `note: ${f.length} run(s) of "${name}" failed and were repeated (not counted); last error: ${f[f.length - 1]}`];
  });
}

function timingRow(name: string, s: readonly number[]): string[] {
  return [name, median(s).toFixed(0), percentile(s, 90).toFixed(0), Math.min(...s).toFixed(0), Math.max(...s).toFixed(0)];
}

function ratio(x: number): string {
  return `${x.toFixed(2)}×`;
}

function verdict(measured: number, target: number): string {
  return measured <= target ? "met" : `MISSED (${(measured / target).toFixed(1)}× the target)`;
}

function list(xs: readonly string[]): string {
  return xs.length === 0 ? "none" : xs.join(", ");
}

function rebuiltNote(info: RktBuildInfo): string {
  let now: RktBuildInfo | undefined;
  try {
    now = rktBuildInfo();
  } catch {
    return "";
  }
  return now.fingerprint === info.fingerprint ? "" : `\nnote: the checkout's dist/ changed during the run (now ${now.fingerprint}); the figures are for ${info.fingerprint}\n`;
}

await main().catch((err: unknown) => {
  process.stderr.write(`network: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode ??= 1;
});
