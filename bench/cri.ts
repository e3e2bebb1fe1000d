/**
 * CRI benchmark (issue 8, "Speed"): the same CRI client (test/cri/cri-client.ts, written from
 * api.proto) against `rkt cri` and against containerd 1.6 (Debian's `containerd`, its CRI plugin,
 * runc), side by side in one run, with the same CNI configuration (bridge + host-local + portmap
 * from /usr/lib/cni) and the same images from one local registry on 127.0.0.1.
 *
 * Timed, per runtime (medians and p90, nearest rank; the ratio of medians):
 * 1. RunPodSandbox (a pod on the CNI bridge network);
 * 2. CreateContainer + StartContainer (busybox `sleep`) in it;
 * 3. StopPodSandbox + RemovePodSandbox with that container running;
 *    (1-3 are one unit per round, reported step by step)
 * 4. PullImage uncached: an image of its own (one 4 MiB layer no other image shares), removed with
 *    RemoveImage before every pull (untimed);
 * 5. PullImage cached: the same image already present (the registry is still asked, as the kubelet's
 *    PullImage always resolves the tag).
 *
 * containerd runs with a temporary config, root, state and socket only (never the system's): its
 * sandbox (pause) image is busybox running `sleep`, pulled over plain HTTP from the same
 * registry, and `restrict_oom_score_adj` keeps it from asking for the negative oom_score_adj this
 * machine refuses. Each unit runs once as a warm-up, then once per round, the order of the two runtimes
 * rotated per round (support/run-rounds.ts). Results go to stdout as Markdown, raw samples to
 * bench/out/results/cri-*.json.
 *
 * Usage (root): node --import tsx bench/cri.ts [--rounds N] [--pull-rounds N]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CriClient } from "../test/cri/cri-client.js";
import { busyboxImage, busyboxLayer } from "../test/support/image-fixtures.js";
import { buildImage } from "../test/support/oci-builder.js";
import { pushImage } from "../test/support/push.js";
import { startRegistry } from "../test/support/registry.js";
import { makeTempDir } from "../test/support/tmp.js";
import { Cleanup } from "./support/cleanup.js";
import { markdownTable } from "./support/markdown-table.js";
import { removeTreeWithMounts } from "./support/remove-tree-with-mounts.js";
import { REPO_ROOT } from "./support/rkt-snapshot.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { RetryLog, runRounds, type Contender, type RoundOptions, type TimedSample } from "./support/run-rounds.js";
import { median, percentile } from "./support/stats.js";

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

/** One runtime under test, behind the CRI. */
interface Runtime {
  readonly name: "rkt" | "containerd";
  readonly client: CriClient;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "15" }, "pull-rounds": { type: "string", default: "10" } } });
  const rounds = Number(values.rounds);
  const pullRounds = Number(values["pull-rounds"]);
  if (process.getuid?.() !== 0) throw new Error("run as root: both runtimes create namespaces, mounts and veths");
  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  try {
    const work = await makeTempDir("rkt-bench-cri-");
    cleanup.defer("remove the work directory", () => removeTreeWithMounts(work));
    const registry = await startRegistry();
    cleanup.defer("stop the registry", () => registry.stop());
    log(`registry at ${registry.host}; building and pushing images`);
    await busyboxImage({ dir: join(work, "busybox") });
    await pushImage(join(work, "busybox"), registry, "bench/busybox", { tag: "1" });
    await buildImage({ dir: join(work, "pause"), layers: [busyboxLayer()], config: { Cmd: ["sleep", "2147483647"], Env: ["PATH=/bin"] } });
    await pushImage(join(work, "pause"), registry, "bench/pause", { tag: "1" });
    await buildImage({
      dir: join(work, "pullme"),
      layers: [{ entries: [{ type: "file", path: "data", content: randomBytes(4 * 1024 * 1024) }] }],
      config: { Cmd: ["/data"] },
    });
    await pushImage(join(work, "pullme"), registry, "bench/pullme", { tag: "1" });
    const busybox = `${registry.host}/bench/busybox:1`;
    const pullme = `${registry.host}/bench/pullme:1`;

    // The same CNI configuration for both; host-local keeps its leases in the work directory.
    const netd = join(work, "net.d");
    mkdirSync(netd);
    const bridge = `rkt-b${randomBytes(2).toString("hex")}`;
    writeFileSync(
      join(netd, "10-bench.conflist"),
      JSON.stringify({
        cniVersion: "0.4.0",
        name: "bench-cri",
        plugins: [
          { type: "bridge", bridge, isGateway: true, ipMasq: true, ipam: { type: "host-local", ranges: [[{ subnet: "10.252.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(work, "leases") } },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      }),
    );
    cleanup.defer("delete the bench bridge", async () => {
      await run("ip", ["link", "del", bridge]).catch(() => "");
    });

    const rkt = await startRkt(work, netd, cleanup);
    const containerd = await startContainerd(work, netd, registry.host, `${registry.host}/bench/pause:1`, cleanup);
    const runtimes: Runtime[] = [
      { name: "rkt", client: rkt },
      { name: "containerd", client: containerd },
    ];
    for (const r of runtimes) await r.client.callImage("PullImage", { image: { image: busybox } });

    const options: RoundOptions = { signal: cleanup.signal, retries: new RetryLog(), log, label: "cri" };
    log(`pod lifecycle: ${rounds} rounds`);
    const lifecycle = await runRounds(
      runtimes.map((r) => podLifecycle(r, busybox, work)),
      rounds,
      options,
    );
    log(`PullImage uncached: ${pullRounds} rounds`);
    const uncached = await runRounds(
      runtimes.map((r): Contender => ({
        name: r.name,
        run: async () => timed(() => r.client.callImage("PullImage", { image: { image: pullme } })),
        after: async () => {
          await r.client.callImage("RemoveImage", { image: { image: pullme } });
        },
      })),
      pullRounds,
      options,
    );
    log(`PullImage cached: ${pullRounds} rounds`);
    const cached = await runRounds(
      runtimes.map((r): Contender => ({ name: r.name, run: async () => timed(() => r.client.callImage("PullImage", { image: { image: pullme } })) })),
      pullRounds,
      options,
    );

    const rows: string[][] = [];
    const row = (what: string, samples: Map<string, TimedSample[]>, pick: (s: TimedSample) => number): void => {
      const of = (name: string): number[] => (samples.get(name) ?? []).map(pick);
      const r = of("rkt");
      const c = of("containerd");
      rows.push([what, ms(median(r)), ms(percentile(r, 90)), ms(median(c)), ms(percentile(c, 90)), `${(median(r) / median(c)).toFixed(2)}x`]);
    };
    row("RunPodSandbox", lifecycle, (s) => s.parts?.run ?? NaN);
    row("CreateContainer + StartContainer", lifecycle, (s) => s.parts?.createStart ?? NaN);
    row("StopPodSandbox + RemovePodSandbox", lifecycle, (s) => s.parts?.stopRemove ?? NaN);
    row("PullImage, uncached (4 MiB layer)", uncached, (s) => s.wallMs);
    row("PullImage, cached", cached, (s) => s.wallMs);
    const report = [
      `## CRI: rkt cri vs containerd ${await containerdVersion()} (same client, same CNI config)`,
      "",
      ...describeEnvironment(["runc", "containerd"]).map((l) => `- ${l}`),
      `- rounds: ${rounds} (pod lifecycle), ${pullRounds} (pulls); medians and p90 in ms`,
      "",
      markdownTable(["operation", "rkt median", "rkt p90", "containerd median", "containerd p90", "rkt / containerd"], rows),
      ...options.retries.notes(["rkt", "containerd"]),
      "",
    ].join("\n");
    process.stdout.write(report);
    await saveResults("cri", { lifecycle: Object.fromEntries(lifecycle), uncached: Object.fromEntries(uncached), cached: Object.fromEntries(cached), retries: options.retries });
  } finally {
    await cleanup.run();
  }
}

/** One round of a pod's life: run the sandbox, create and start a container, stop and remove it all. */
function podLifecycle(r: Runtime, image: string, work: string): Contender {
  let n = 0;
  return {
    name: r.name,
    run: async () => {
      n++;
      const name = `bench-${r.name}-${n}`;
      const config = {
        metadata: { name, uid: `uid-${name}`, namespace: "bench", attempt: 0 },
        hostname: name,
        log_directory: join(work, "pod-logs", name),
        linux: { security_context: { namespace_options: { network: "POD", pid: "CONTAINER", ipc: "POD" } } },
      };
      const t0 = now();
      const { pod_sandbox_id: sandbox } = (await r.client.call("RunPodSandbox", { config })) as { pod_sandbox_id: string };
      const t1 = now();
      const { container_id: id } = (await r.client.call("CreateContainer", {
        pod_sandbox_id: sandbox,
        config: { metadata: { name: "sleeper", attempt: 0 }, image: { image }, command: ["sleep", "600"], log_path: "sleeper/0.log" },
        sandbox_config: config,
      })) as { container_id: string };
      await r.client.call("StartContainer", { container_id: id });
      const t2 = now();
      await r.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
      await r.client.call("RemovePodSandbox", { pod_sandbox_id: sandbox });
      const t3 = now();
      return { wallMs: t3 - t0, parts: { run: t1 - t0, createStart: t2 - t1, stopRemove: t3 - t2 } };
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<TimedSample> {
  const t0 = now();
  await fn();
  return { wallMs: now() - t0 };
}

async function startRkt(work: string, netd: string, cleanup: Cleanup): Promise<CriClient> {
  const dir = join(work, "rkt");
  const socket = join(work, "rkt-cri.sock");
  const child = spawn(join(REPO_ROOT, "bin", "rkt"), [`--dir=${dir}`, `--local-config=${join(work, "etc-rkt")}`, "cri", `--listen=unix://${socket}`, `--cni-conf-dir=${netd}`, "--cni-bin-dir=/usr/lib/cni"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  const client = new CriClient(socket);
  cleanup.defer("stop rkt cri and collect its pods", async () => {
    await removeAll(client);
    client.close();
    await stop(child);
    await run(join(REPO_ROOT, "bin", "rkt"), [`--dir=${dir}`, "gc", "--grace-period=0s"]).catch(() => undefined);
  });
  await waitUp(client, child, () => output);
  return client;
}

async function startContainerd(work: string, netd: string, registryHost: string, pause: string, cleanup: Cleanup): Promise<CriClient> {
  const root = join(work, "containerd");
  const socket = join(work, "containerd.sock");
  const config = join(work, "containerd.toml");
  writeFileSync(
    config,
    [
      "version = 2",
      `root = "${root}/root"`,
      `state = "${root}/state"`,
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${pause}"`,
      "  enable_selinux = false",
      "  disable_apparmor = true",
      // This VM refuses negative oom_score_adj values (no CAP_SYS_RESOURCE, see
      // shared/reference/machine.md); containerd gives its pause containers -998 unless told to
      // stay at or above its own score.
      "  restrict_oom_score_adj = true",
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = "${netd}"`,
      '[plugins."io.containerd.grpc.v1.cri".containerd]',
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '  runtime_type = "io.containerd.runc.v2"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      "  SystemdCgroup = false",
      `[plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registryHost}"]`,
      `  endpoint = ["http://${registryHost}"]`,
      "",
    ].join("\n"),
  );
  const child = spawn("containerd", ["--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-20_000)));
  const client = new CriClient(socket);
  cleanup.defer("stop containerd and remove its pods", async () => {
    await removeAll(client);
    client.close();
    await stop(child);
  });
  await waitUp(client, child, () => output);
  return client;
}

async function removeAll(client: CriClient): Promise<void> {
  try {
    const { items } = (await client.call("ListPodSandbox", {}, 10_000)) as { items: { id: string }[] };
    for (const i of items) {
      await client.call("StopPodSandbox", { pod_sandbox_id: i.id }).catch(() => undefined);
      await client.call("RemovePodSandbox", { pod_sandbox_id: i.id }).catch(() => undefined);
    }
  } catch {
    // not up
  }
}

async function waitUp(client: CriClient, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`the runtime exited: ${output().slice(-2000)}`);
    try {
      await client.call("Version", { version: "0.1.0" }, 2000);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`the runtime did not answer: ${output().slice(-2000)}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(15_000).then(() => child.kill("SIGKILL"))]);
}

function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.once("error", reject);
    c.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`))));
  });
}

async function containerdVersion(): Promise<string> {
  const text = existsSync("/usr/bin/containerd") ? await run("containerd", ["--version"]).catch(() => "") : "";
  return /v?(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? "(unknown)";
}

function ms(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : "-";
}

await main();
