/**
 * Pod benchmark (issue 3, "Pods"): what starting a pod costs and what a running pod costs beyond
 * its apps, rkt side by side with podman and with a bare `runc run`, in the same run.
 *
 * 1. Start: `rkt run --insecure-options=image --net=none IMG --exec=/bin/true` (the busybox
 *    fixture already in a fresh store) vs `podman run --rm --network=none IMG true` (the same OCI
 *    layout pulled into a sandboxed podman first) vs `runc run` of a prepared bundle (the floor).
 *    Targets: rkt <= 0.5x podman, rkt <= 2.5x runc (medians).
 * 2. A pod of 5 apps: one `rkt run IMG --name=a1 --exec=/bin/true --- ... (5 apps)` vs what a podman
 *    user types for a pod: `podman pod create --network=none`, 5 x `podman run --pod P IMG true`,
 *    `podman pod rm -f P`, timed as one unit. Target: rkt <= 0.5x podman.
 * 3. Memory beyond the apps of a running pod (`sleep 600`): every process rkt keeps alive for it
 *    (the process tree under rkt-launch minus the apps' trees) vs podman in the foreground (podman +
 *    conmon), `podman run -d` (conmon) and a podman pod of 5 (conmons + infra). VmRSS, RssAnon and
 *    PSS from /proc. Target: rkt <= 10 MB.
 * 4. Where the time of one `rkt run` goes: strace of execve/exit (phases from the shell wrapper to
 *    teardown), `node -e 0` as Node's floor, and CPU profiles of both Node processes (stage0 and
 *    stage1-teardown) through a --require preload.
 *
 * Each timed command runs once as a warm-up, then once per round, the order rotated per round.
 * Wall time from spawn to exit (monotonic clock, no shell in between); reported are median and p90
 * (nearest rank). Exited rkt pods are removed (`rkt rm`, not timed) after each run: not `rkt gc`,
 * which also unpins the namespaces of pods of *other* stores running on the machine (a bug found
 * here), and theirs ours. A run that fails (another store's gc can pull a starting pod's namespaces
 * away) is reported and repeated, up to twice. Results go
 * to stdout as Markdown, raw samples to bench/out/results/pods-*.json, profiles to
 * bench/out/profiles/pods-*.
 *
 * Usage (root): node --import tsx bench/pods.ts [--rounds N] [--traces N] [--memory-runs N]
 *                 [--only start,pod,memory,phases] [--in-place]
 *   --in-place  run bin/rkt of the checkout instead of a snapshot of bin/ + dist/ taken at start
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { busyboxImage } from "../test/support/image-fixtures.js";
import { guardCgroups, PODMAN_CGROUPS } from "./support/cgroup-guard.js";
import { Cleanup } from "./support/cleanup.js";
import { summarizeCpuProfile, type ProfileSummary } from "./support/cpu-profile-summary.js";
import { guardHostPaths, PEER_HOST_PATHS } from "./support/host-paths-guard.js";
import { markdownTable } from "./support/markdown-table.js";
import { profiledProcesses, profilerEnv, type ProfiledProcess } from "./support/node-profiler.js";
import { podmanSpawnEnv, sandboxContainersConf } from "./support/podman-conf.js";
import { PodmanSandbox } from "./support/podman-sandbox.js";
import { treeMemory, type ProcMemory } from "./support/proc-memory.js";
import { removeTreeWithMounts } from "./support/remove-tree-with-mounts.js";
import { RktBenchStore } from "./support/rkt-bench-store.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt, type RktBuildInfo } from "./support/rkt-snapshot.js";
import { makeRuncBundle, type RuncBundle } from "./support/runc-bundle.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { median, percentile } from "./support/stats.js";
import { podTimeline, TIMELINE_PHASES } from "./support/pod-timeline.js";
import { PHASE_NAMES, runPhases, SPAN_NAMES, type Phase, type RunPhases } from "./support/strace-phases.js";
import { timedRun } from "./support/timed-run.js";

const TARGET_VS_PODMAN = 0.5;
const TARGET_VS_RUNC = 2.5;
const TARGET_POD_VS_PODMAN = 0.5;
const TARGET_MEMORY_MB = 10;
const POD_APPS = 5;
/** rkt names an image fetched from an OCI layout after the layout's directory. */
const IMAGE = "localhost/busybox:latest";
const SECTIONS = ["start", "pod", "memory", "phases"] as const;
type Section = (typeof SECTIONS)[number];

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What every section needs. */
interface Bench {
  readonly store: RktBenchStore;
  readonly podman: PodmanSandbox;
  /** CONTAINERS_CONF for every podman command. */
  readonly podmanEnv: Readonly<Record<string, string>>;
  readonly runc: RuncBundle;
  readonly scratch: string;
  readonly signal: AbortSignal;
  readonly rounds: number;
}

/** A timed contender: `run` returns its wall time; `after` tidies up, untimed. */
interface Contender {
  readonly name: string;
  run(): Promise<number>;
  after?(): Promise<void>;
}

interface HostState {
  readonly overlayMounts: number;
  readonly nsPins: readonly string[];
  readonly rktRuncContainers: readonly string[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "30" },
      traces: { type: "string", default: "9" },
      "memory-runs": { type: "string", default: "3" },
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
  const traces = positive("traces", values.traces);
  const memoryRuns = positive("memory-runs", values["memory-runs"]);
  const only = new Set(values.only.split(",").filter((s) => s !== ""));
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (have ${SECTIONS.join(", ")})`);
  const want = (s: Section): boolean => only.has(s);

  const before = await hostState();
  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());
    cleanup.defer("remove what the peers created on the host", guardHostPaths(PEER_HOST_PATHS));
    cleanup.defer("remove the cgroups podman created", guardCgroups(PODMAN_CGROUPS));

    // Lower case only: podman names an image pulled from oci:DIR after DIR's path, and a name
    // must be lower case (mkdtemp's random suffix is not).
    const scratch = join(tmpdir(), `rkt-bench-pods-scratch-${randomBytes(6).toString("hex")}`);
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
    const list = await store.rkt(["image", "list"], { signal });
    if (!list.stdout.includes(IMAGE)) throw new Error(`rkt image list does not show ${IMAGE}:\n${list.stdout}`);
    log(`rkt store ${store.dir}: ${fetched.stdout.trim()} (${IMAGE})`);

    const podman = await PodmanSandbox.create();
    let podmanEnv: Record<string, string> = {};
    cleanup.defer("remove podman's containers, pods and storage", async () => {
      await podman.run(["pod", "rm", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.run(["rm", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.run(["rmi", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.destroy();
    });
    podmanEnv = await sandboxContainersConf(podman);
    const pulled = await podman.run(["pull", `oci:${layout}:latest`], { env: podmanEnv, signal });
    const podmanId = pulled.stdout.trim().split("\n").pop() ?? "";
    await podman.run(["tag", podmanId, IMAGE], { env: podmanEnv, signal });
    log(`podman sandbox ${podman.dir}: ${podmanId} tagged ${IMAGE}`);

    const runc = await makeRuncBundle(layout, image.layers.map((l) => l.descriptor.digest), ["/bin/true"]);
    cleanup.defer("remove the runc bundle and its state", () => runc.remove());
    log(`runc bundle ${runc.bundle}`);

    const bench: Bench = { store, podman, podmanEnv, runc, scratch, signal, rounds };
    const layerBytes = image.layers.reduce((s, l) => s + l.descriptor.size, 0);
    const out: string[] = [
      "",
      "## Pods: start and memory, rkt side by side with podman and runc",
      "",
      ...describeEnvironment(["podman", "runc", "conmon", "strace"]).map((l) => `- ${l}`),
      `- rkt: build ${rkt.info.fingerprint} (entry ${(rkt.info.entryBytes / 1e3).toFixed(0)} kB, ${rkt.info.files} JS files), revision ${rkt.info.revision}; run through bin/rkt (sh wrapper → rkt-launch → node)`,
      `- image: the busybox fixture (test/support busyboxImage: 1 layer, ${(layerBytes / 1e6).toFixed(1)} MB gzip) as an OCI layout, fetched into a fresh rkt store, pulled into a sandboxed podman (own --root/--runroot, containers.conf via CONTAINERS_CONF), unpacked with tar into a runc bundle (\`runc spec\`, terminal off)`,
      "- wall time from spawn to exit, monotonic clock, no shell in between; medians and p90 (nearest rank); ratios are of medians",
    ];
    const results: Record<string, unknown> = { build: rkt.info, rounds };
    let startMedians: Map<string, number> | undefined;
    if (want("start")) {
      const r = await startSection(bench);
      startMedians = r.medians;
      out.push(...r.lines);
      results.start = r.samples;
    }
    if (want("pod")) {
      const r = await podSection(bench, startMedians);
      out.push(...r.lines);
      results.pod = r.samples;
    }
    if (want("memory")) {
      const r = await memorySection(bench, memoryRuns);
      out.push(...r.lines);
      results.memory = r.samples;
    }
    if (want("phases")) {
      const r = await phasesSection(bench, traces, startMedians);
      out.push(...r.lines);
      results.phases = r.data;
    }
    out.push(rebuiltNote(rkt.info), "");
    process.stdout.write(out.join("\n"));
    log(`raw samples: ${await saveResults("pods", results)}`);
  } finally {
    await cleanup.run();
    await checkHost(before);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Start one app

function rktRunArgs(apps: readonly (readonly string[])[]): string[] {
  return ["run", "--insecure-options=image", "--net=none", ...apps.flatMap((a, i) => (i === 0 ? a : ["---", ...a]))];
}

async function startSection(b: Bench): Promise<{ lines: string[]; samples: Record<string, number[]>; medians: Map<string, number> }> {
  const { store, podman, podmanEnv, runc, signal } = b;
  let runcId = 0;
  const timelines: Phase[][] = [];
  const contenders: Contender[] = [
    {
      name: "rkt run --net=none IMG --exec=/bin/true",
      run: () => timedRktRun(store, rktRunArgs([[IMAGE, "--exec=/bin/true"]]), timelines, signal),
      after: () => store.collect(signal),
    },
    {
      name: "podman run --rm --network=none IMG true",
      run: async () => (await podman.run(["run", "--rm", "--network=none", IMAGE, "true"], { env: podmanEnv, signal })).wallMs,
    },
    {
      name: "runc run BUNDLE (true, no engine: the floor)",
      run: async () => (await runc.run(`rkt-bench-runc-${process.pid}-${runcId++}`, signal)).wallMs,
    },
  ];
  log(`start: ${b.rounds} rounds of ${contenders.length} commands`);
  const samples = await alternate(contenders, b.rounds, "start", signal);
  const [rktS, podmanS, runcS] = contenders.map((c) => samples[c.name]!);
  const rows = contenders.map((c) => timingRow(c.name, samples[c.name]!));
  const vsPodman = median(rktS!) / median(podmanS!);
  const vsRunc = median(rktS!) / median(runcS!);
  const medians = new Map<string, number>([
    ["rkt", median(rktS!)],
    ["podman", median(podmanS!)],
    ["runc", median(runcS!)],
  ]);
  return {
    samples,
    medians,
    lines: [
      "",
      `### 1. Start one app (\`/bin/true\`, no network): ${b.rounds} rounds after 1 warm-up each, order rotated per round`,
      "",
      markdownTable(["command", "median ms", "p90 ms", "min ms", "max ms"], rows),
      "",
      markdownTable(
        ["ratio", "of medians", "of p90s", "target", "verdict"],
        [
          ["rkt / podman", ratio(vsPodman), ratio(percentile(rktS!, 90) / percentile(podmanS!, 90)), `≤ ${TARGET_VS_PODMAN}×`, verdict(vsPodman, TARGET_VS_PODMAN)],
          ["rkt / runc", ratio(vsRunc), ratio(percentile(rktS!, 90) / percentile(runcS!, 90)), `≤ ${TARGET_VS_RUNC}×`, verdict(vsRunc, TARGET_VS_RUNC)],
          ["podman / runc", ratio(median(podmanS!) / median(runcS!)), ratio(percentile(podmanS!, 90) / percentile(runcS!, 90)), "(reference)", "-"],
        ],
      ),
      ...failureNotes(contenders.map((c) => c.name)),
      "",
      ...timelineLines(timelines.slice(1), median(rktS!)),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. A pod of five apps

async function podSection(b: Bench, startMedians: Map<string, number> | undefined): Promise<{ lines: string[]; samples: Record<string, number[]> }> {
  const { store, podman, podmanEnv, signal } = b;
  const apps = Array.from({ length: POD_APPS }, (_, i) => [IMAGE, `--name=a${i + 1}`, "--exec=/bin/true"]);
  const parts = { create: [] as number[], runs: [] as number[], rm: [] as number[] };
  const timelines: Phase[][] = [];
  let podNo = 0;
  const podmanPod = async (): Promise<number> => {
    const name = `rkt-bench-pod-${process.pid}-${podNo++}`;
    const opts = { env: podmanEnv, signal };
    const started = process.hrtime.bigint();
    const create = await podman.run(["pod", "create", "--network=none", `--name=${name}`], opts);
    let runs = 0;
    for (let i = 0; i < POD_APPS; i++) runs += (await podman.run(["run", `--pod=${name}`, IMAGE, "true"], opts)).wallMs;
    const rm = await podman.run(["pod", "rm", "--force", name], opts);
    const total = Number(process.hrtime.bigint() - started) / 1e6;
    parts.create.push(create.wallMs);
    parts.runs.push(runs);
    parts.rm.push(rm.wallMs);
    return total;
  };
  const contenders: Contender[] = [
    {
      name: `rkt run --net=none (${POD_APPS} apps, /bin/true each)`,
      run: () => timedRktRun(store, rktRunArgs(apps), timelines, signal),
      after: () => store.collect(signal),
    },
    { name: `podman pod create --network=none + ${POD_APPS} × podman run --pod + pod rm -f`, run: podmanPod },
  ];
  log(`pod: ${b.rounds} rounds of ${contenders.length} commands`);
  const samples = await alternate(contenders, b.rounds, "pod", signal);
  // The warm-up's parts are in `parts` too: drop them.
  for (const k of ["create", "runs", "rm"] as const) parts[k].splice(0, parts[k].length - b.rounds);
  const rktS = samples[contenders[0]!.name]!;
  const podmanS = samples[contenders[1]!.name]!;
  const vs = median(rktS) / median(podmanS);
  const rows = [
    timingRow(contenders[0]!.name, rktS),
    timingRow(contenders[1]!.name, podmanS),
    timingRow("… of which podman pod create", parts.create),
    timingRow(`… of which ${POD_APPS} × podman run --pod (sum)`, parts.runs),
    timingRow("… of which podman pod rm -f", parts.rm),
  ];
  const lines = [
    "",
    `### 2. A pod of ${POD_APPS} apps (\`/bin/true\` each, no network): ${b.rounds} rounds after 1 warm-up each, order rotated per round`,
    "",
    "podman's pod is what a user types for one: `podman pod create --network=none`, then one `podman run --pod` per app, then `podman pod rm -f`, timed together (the infra container starts with the first app).",
    "",
    markdownTable(["command", "median ms", "p90 ms", "min ms", "max ms"], rows),
    "",
    markdownTable(
      ["ratio", "of medians", "of p90s", "target", "verdict"],
      [["rkt / podman (pod of 5)", ratio(vs), ratio(percentile(rktS, 90) / percentile(podmanS, 90)), `≤ ${TARGET_POD_VS_PODMAN}×`, verdict(vs, TARGET_POD_VS_PODMAN)]],
    ),
    ...failureNotes(contenders.map((c) => c.name)),
    "",
    ...timelineLines(timelines.slice(1), median(rktS)),
  ];
  if (startMedians !== undefined) {
    const rkt1 = startMedians.get("rkt")!;
    const podman1 = startMedians.get("podman")!;
    lines.push(
      "",
      `Per extra app (median of the pod minus median of one app from section 1, over ${POD_APPS - 1}): rkt ${((median(rktS) - rkt1) / (POD_APPS - 1)).toFixed(0)} ms, podman ${((median(podmanS) - podman1) / (POD_APPS - 1)).toFixed(0)} ms (podman's one-app figure uses --rm and no pod).`,
    );
  }
  return { lines, samples: { ...samples, "podman pod create": parts.create, "podman run --pod (sum of 5)": parts.runs, "podman pod rm -f": parts.rm } };
}

// ---------------------------------------------------------------------------------------------
// 3. Memory beyond the apps

interface MemorySample {
  readonly processes: readonly ProcMemory[];
  /** Anything unexpected (a Node process still alive, ...). */
  readonly notes: readonly string[];
}

interface MemoryCase {
  readonly name: string;
  /** Starts the pod, waits until its apps run, measures, stops it. */
  measure(n: number): Promise<MemorySample>;
}

async function memorySection(b: Bench, runs: number): Promise<{ lines: string[]; samples: Record<string, MemorySample[]> }> {
  const cases: MemoryCase[] = [
    { name: "rkt run, 1 app (rkt-launch + rkt-supervisor)", measure: (n) => rktMemory(b, 1, n) },
    { name: `rkt run, pod of ${POD_APPS} apps`, measure: (n) => rktMemory(b, POD_APPS, n) },
    { name: "podman run in the foreground (podman + conmon)", measure: (n) => podmanForegroundMemory(b, n) },
    { name: "podman run -d (conmon)", measure: () => podmanDetachedMemory(b) },
    { name: `podman pod of ${POD_APPS} (run -d --pod: conmons + infra)`, measure: (n) => podmanPodMemory(b, n) },
  ];
  const samples: Record<string, MemorySample[]> = {};
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      log(`memory: ${c.name} (${i + 1}/${runs})`);
      (samples[c.name] ??= []).push(await withRetries(c.name, b.signal, () => c.measure(i)));
    }
  }
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  const sum = (ps: readonly ProcMemory[], f: (p: ProcMemory) => number): number => ps.reduce((s, p) => s + f(p), 0);
  const rows: string[][] = [];
  let rktOneMb = Number.NaN;
  for (const c of cases) {
    const list = samples[c.name]!;
    const rss = median(list.map((s) => sum(s.processes, (p) => p.rssKb)));
    const anon = median(list.map((s) => sum(s.processes, (p) => p.anonKb)));
    const pss = median(list.map((s) => sum(s.processes, (p) => p.pssKb ?? 0)));
    if (c === cases[0]) rktOneMb = rss / 1024;
    const last = list[list.length - 1]!;
    const who = countBy(last.processes.map((p) => p.comm)).map(([comm, k]) => (k > 1 ? `${k} × ${comm}` : comm)).join(" + ");
    rows.push([c.name, who, mb(rss), mb(anon), mb(pss)]);
  }
  const detail = samples[cases[0]!.name]!.at(-1)!.processes.map((p) => [String(p.pid), p.comm, mb(p.rssKb), mb(p.anonKb), p.pssKb === undefined ? "-" : mb(p.pssKb), p.cmdline.slice(0, 90)]);
  const notes = [...new Set(Object.values(samples).flatMap((l) => l.flatMap((s) => s.notes)))];
  return {
    samples,
    lines: [
      "",
      `### 3. Memory of a running pod beyond its apps (\`sleep 600\`, no network): median of ${runs} starts each`,
      "",
      "Every process kept alive for the pod that is not an app: for rkt the process tree under rkt-launch minus each app's tree (pids from apps/NAME/pid); for podman the podman process (foreground) plus conmon's tree minus the app's (from `podman inspect`), plus the infra container's conmon and pause process for a pod. Measured once `rkt status` says running (podman: `inspect` says running) and 1 s later. RSS counts shared pages (libc) in full for every process, PSS divides them among their sharers.",
      "",
      markdownTable(["what", "processes", "RSS MB", "RssAnon MB", "PSS MB"], rows),
      "",
      markdownTable(
        ["target", "measured (RSS)", "verdict"],
        [[`rkt, 1 app: ≤ ${TARGET_MEMORY_MB} MB`, `${rktOneMb.toFixed(1)} MB`, verdict(rktOneMb, TARGET_MEMORY_MB)]],
      ),
      "",
      "rkt, 1 app, per process (last start):",
      "",
      markdownTable(["pid", "comm", "RSS MB", "RssAnon MB", "PSS MB", "command line"], detail),
      ...(notes.length > 0 ? ["", ...notes.map((n) => `note: ${n}`)] : []),
      ...failureNotes(cases.map((c) => c.name)),
    ],
  };
}

/** A background pod process with its stdio in files; killed (group) if still there at the end. */
function spawnBackground(file: string, args: readonly string[], env: NodeJS.ProcessEnv, outPrefix: string): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  const out = openSync(`${outPrefix}.out`, "w");
  const err = openSync(`${outPrefix}.err`, "w");
  const child = spawn(file, args, { env, stdio: ["ignore", out, err], detached: true });
  closeSync(out);
  closeSync(err);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const output = (): string => `${readFileSync(`${outPrefix}.out`, "utf8")}${readFileSync(`${outPrefix}.err`, "utf8")}`.trim();
  return { child, exited, output };
}

/** Waits for `exited` up to `ms`, then SIGKILLs the process group. */
async function reap(child: ChildProcess, exited: Promise<void>, ms: number): Promise<boolean> {
  const done = await Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
  if (!done && child.pid !== undefined) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
    await exited;
  }
  return done;
}

async function waitFor<T>(what: string, ms: number, signal: AbortSignal, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    signal.throwIfAborted();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function rktMemory(b: Bench, apps: number, n: number): Promise<MemorySample> {
  const { store, scratch, signal } = b;
  const uuidFile = join(scratch, `uuid-${apps}-${n}`);
  const appArgs = Array.from({ length: apps }, (_, i) => [IMAGE, `--name=a${i + 1}`, "--exec=/bin/sleep", "--", "600"]);
  const args = [`--dir=${store.dir}`, ...rktRunArgs(appArgs).slice(0, 3), `--uuid-file-save=${uuidFile}`, ...rktRunArgs(appArgs).slice(3)];
  const bg = spawnBackground(store.bin, args, process.env, join(scratch, `rkt-${apps}-${n}`));
  let uuid: string | undefined;
  try {
    let gone = false;
    void bg.exited.then(() => (gone = true));
    uuid = await waitFor("rkt's --uuid-file-save", 60_000, signal, () => {
      if (gone) throw new Error(`rkt run exited before the pod ran: ${bg.output()}`);
      const text = existsSync(uuidFile) ? readFileSync(uuidFile, "utf8").trim() : "";
      return text === "" ? undefined : text;
    });
    const status = await store.rkt(["status", "--wait-ready=60s", uuid], { signal });
    if (!status.stdout.includes("state=running")) throw new Error(`rkt status does not say running:\n${status.stdout}`);
    const podDir = store.runningPodDir(uuid);
    const launcher = bg.child.pid!;
    const appPids = await waitFor("the apps' pid files", 20_000, signal, () => {
      const pids = Array.from({ length: apps }, (_, i) => {
        const f = join(podDir, "apps", `a${i + 1}`, "pid");
        return existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : Number.NaN;
      });
      return pids.every((p) => Number.isInteger(p) && alive(p)) ? pids : undefined;
    });
    const notes: string[] = [];
    // stage0 (Node) exits right after it handed the pod to the supervisor: wait for it to be gone.
    await waitFor("stage0 Node to exit", 20_000, signal, () => (treeMemory([launcher], appPids).some((p) => p.comm === "node") ? undefined : true)).catch(() =>
      notes.push("a Node process was still alive under rkt-launch 20 s after the pod ran"),
    );
    await sleep(1000);
    const processes = treeMemory([launcher], appPids);
    if (!processes.some((p) => p.pid === launcher)) notes.push("rkt-launch was not found");
    for (const p of processes) if (p.comm === "node") notes.push(`Node is resident for the pod: pid ${p.pid} ${p.cmdline.slice(0, 80)}`);
    return { processes, notes };
  } finally {
    if (uuid !== undefined) await store.rkt(["stop", "--force", uuid]).catch((err: unknown) => log(`rkt stop: ${String(err)}`));
    if (!(await reap(bg.child, bg.exited, 30_000))) log(`rkt run of the memory pod did not exit after rkt stop; killed`);
    await store.collect().catch((err: unknown) => log(`rkt rm: ${String(err)}`));
  }
}

interface PodmanState {
  readonly status: string;
  readonly pid: number;
  readonly conmonPid: number;
}

async function podmanState(b: Bench, id: string): Promise<PodmanState> {
  const r = await b.podman.run(["inspect", "--format", "{{.State.Status}} {{.State.Pid}} {{.State.ConmonPid}}", id], { env: b.podmanEnv, signal: b.signal });
  const [status = "", pid = "0", conmon = "0"] = r.stdout.trim().split(" ");
  return { status, pid: Number(pid), conmonPid: Number(conmon) };
}

async function podmanForegroundMemory(b: Bench, n: number): Promise<MemorySample> {
  const { podman, podmanEnv, scratch, signal } = b;
  const cidFile = join(scratch, `podman-cid-${n}`);
  const args = [...podman.globalArgs(), "run", "--network=none", `--cidfile=${cidFile}`, IMAGE, "sleep", "600"];
  const bg = spawnBackground("podman", args, podmanSpawnEnv(podman, podmanEnv), join(scratch, `podman-fg-${n}`));
  let cid: string | undefined;
  try {
    let gone = false;
    void bg.exited.then(() => (gone = true));
    cid = await waitFor("podman's --cidfile", 60_000, signal, () => {
      if (gone) throw new Error(`podman run exited early: ${bg.output()}`);
      const text = existsSync(cidFile) ? readFileSync(cidFile, "utf8").trim() : "";
      return text === "" ? undefined : text;
    });
    const id = cid;
    const state = await waitFor("the container to run", 60_000, signal, async () => {
      const s = await podmanState(b, id);
      return s.status === "running" && s.pid > 0 && s.conmonPid > 0 ? s : undefined;
    });
    await sleep(1000);
    return { processes: treeMemory([bg.child.pid!, state.conmonPid], [state.pid]), notes: [] };
  } finally {
    if (cid !== undefined) await podman.run(["rm", "--force", "--time=0", cid], { env: podmanEnv }).catch((err: unknown) => log(`podman rm: ${String(err)}`));
    if (!(await reap(bg.child, bg.exited, 30_000))) log("podman run in the foreground did not exit after podman rm -f; killed");
  }
}

async function podmanDetachedMemory(b: Bench): Promise<MemorySample> {
  const { podman, podmanEnv, signal } = b;
  let cid: string | undefined;
  try {
    cid = (await podman.run(["run", "--detach", "--network=none", IMAGE, "sleep", "600"], { env: podmanEnv, signal })).stdout.trim();
    const state = await podmanState(b, cid);
    if (state.status !== "running") throw new Error(`podman run -d: container ${cid} is ${state.status}`);
    await sleep(1000);
    return { processes: treeMemory([state.conmonPid], [state.pid]), notes: [] };
  } finally {
    if (cid !== undefined) await podman.run(["rm", "--force", "--time=0", cid], { env: podmanEnv }).catch((err: unknown) => log(`podman rm: ${String(err)}`));
  }
}

async function podmanPodMemory(b: Bench, n: number): Promise<MemorySample> {
  const { podman, podmanEnv, signal } = b;
  const name = `rkt-bench-mem-pod-${process.pid}-${n}`;
  const opts = { env: podmanEnv, signal };
  let created = false;
  try {
    await podman.run(["pod", "create", "--network=none", `--name=${name}`], opts);
    created = true;
    const cids: string[] = [];
    for (let i = 0; i < POD_APPS; i++) cids.push((await podman.run(["run", "--detach", `--pod=${name}`, IMAGE, "sleep", "600"], opts)).stdout.trim());
    const infra = (await podman.run(["pod", "inspect", "--format", "{{.InfraContainerID}}", name], opts)).stdout.trim();
    const apps = await Promise.all(cids.map((c) => podmanState(b, c)));
    const infraState = await podmanState(b, infra);
    if ([...apps, infraState].some((s) => s.status !== "running")) throw new Error(`podman pod ${name}: not every container is running`);
    await sleep(1000);
    return { processes: treeMemory([infraState.conmonPid, ...apps.map((s) => s.conmonPid)], apps.map((s) => s.pid)), notes: [] };
  } finally {
    if (created) await podman.run(["pod", "rm", "--force", "--time=0", name], { env: podmanEnv }).catch((err: unknown) => log(`podman pod rm: ${String(err)}`));
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Where the time of one rkt run goes

async function phasesSection(
  b: Bench,
  traces: number,
  startMedians: Map<string, number> | undefined,
): Promise<{ lines: string[]; data: Record<string, unknown> }> {
  const { store, scratch, signal } = b;
  const args = rktRunArgs([[IMAGE, "--exec=/bin/true"]]);
  // Node's own floor, and rkt's start-up without a pod, for reference.
  const floors: Contender[] = [
    { name: "node -e 0", run: async () => (await timedRun(process.execPath, ["-e", "0"], { signal })).wallMs },
    { name: "rkt version (bin/rkt: wrapper + launcher + Node + bundle)", run: async () => (await store.rkt(["version"], { signal })).wallMs },
  ];
  log(`phases: ${traces} runs of node -e 0 and rkt version`);
  const floorSamples = await alternate(floors, traces, "phases", signal);

  log(`phases: ${traces} rkt runs under strace`);
  const traced: RunPhases[] = [];
  for (let i = 0; i < traces; i++) {
    const file = join(scratch, `strace-${i}.txt`);
    const strace = straceArgs(file);
    await withRetries("rkt run under strace", signal, () => timedRun("strace", [...strace, store.bin, `--dir=${store.dir}`, ...args], { signal }), () => store.collect(signal));
    traced.push(runPhases(file, "/bin/true"));
  }
  log(`phases: ${traces} bare runc runs under strace (what strace adds)`);
  const tracedRunc: number[] = [];
  for (let i = 0; i < traces; i++) {
    const file = join(scratch, `strace-runc-${i}.txt`);
    const id = `rkt-bench-runc-traced-${process.pid}-${i}`;
    const r = await timedRun("strace", [...straceArgs(file), "runc", "--root", b.runc.stateRoot, "run", "--bundle", b.runc.bundle, id], { signal });
    tracedRunc.push(r.wallMs);
  }
  const medianOf = (xs: readonly (number | undefined)[]): number | undefined => {
    const known = xs.filter((x): x is number => x !== undefined);
    return known.length === 0 ? undefined : median(known);
  };
  const totalTraced = median(traced.map((t) => t.totalMs));
  const phaseRows = PHASE_NAMES.map((name, i) => {
    const m = medianOf(traced.map((t) => t.phases[i]?.ms));
    const missing = traced.filter((t) => t.phases[i]?.ms === undefined).length;
    return [name, m === undefined ? "-" : m.toFixed(0), m === undefined ? "-" : `${((m / totalTraced) * 100).toFixed(0)}%`, missing === 0 ? "" : `marker missing in ${missing} run(s)`];
  });
  const spanRows = SPAN_NAMES.map((name, i) => {
    const m = medianOf(traced.map((t) => t.spans[i]?.ms));
    return [name, m === undefined ? "-" : m.toFixed(0)];
  });

  log("phases: one rkt run with both Node processes CPU-profiled");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const profileDir = join(REPO_ROOT, "bench", "out", "profiles", `pods-${stamp}`);
  const env = await profilerEnv(profileDir);
  const profiledRun = await withRetries("rkt run, profiled", signal, () => store.rkt(args, { signal, env }), () => store.collect(signal));
  const procs = await profiledProcesses(profileDir);
  // The last of each: a failed and repeated attempt left its profiles too.
  const stage0 = procs.filter((p) => p.argv.includes("run")).at(-1);
  const teardown = procs.filter((p) => p.argv.includes("stage1-teardown")).at(-1);

  const nodeFloor = median(floorSamples[floors[0]!.name]!);
  const versionMedian = median(floorSamples[floors[1]!.name]!);
  const lines = [
    "",
    `### 4. Where the time of one \`rkt run --net=none IMG --exec=/bin/true\` goes: ${traces} runs under strace, medians`,
    "",
    `\`strace ${straceArgs("FILE").join(" ")}\`: each process of the run announces itself with execve and leaves with an exit, and those timestamps cut the run into consecutive phases. strace slows what it traces (it stops every process at each fork, exec and exit; runc, a Go program, forks and re-executes itself), so the traced total is above the untraced median; the bare runc run traced the same way shows how much.`,
    "",
    `- untraced \`rkt run\` median (section 1): ${startMedians === undefined ? "(section 1 not run)" : `${startMedians.get("rkt")!.toFixed(0)} ms`}; traced total median: ${totalTraced.toFixed(0)} ms`,
    `- bare \`runc run\` of the bundle under the same strace: ${median(tracedRunc).toFixed(0)} ms (untraced, section 1: ${startMedians === undefined ? "not run" : `${startMedians.get("runc")!.toFixed(0)} ms`})`,
    `- floors in this run (median of ${traces}): \`node -e 0\` ${nodeFloor.toFixed(0)} ms; \`rkt version\` through bin/rkt ${versionMedian.toFixed(0)} ms. \`rkt run\` starts Node twice (stage0, stage1-teardown).`,
    "",
    markdownTable(["phase (consecutive)", "median ms", "share", ""], phaseRows),
    "",
    markdownTable(["span (overlaps the phases)", "median ms"], spanRows),
    ...failureNotes(["rkt run under strace", "rkt run, profiled", ...floors.map((c) => c.name)]),
  ];
  lines.push("", `One more run with both Node processes profiled (V8 CPU profiler via a --require preload; ${profiledRun.wallMs.toFixed(0)} ms wall); profiles in ${profileDir.slice(REPO_ROOT.length)}:`, "");
  const summaries: Record<string, unknown> = {};
  for (const [label, p] of [
    ["stage0 (rkt run)", stage0],
    ["stage1-teardown", teardown],
  ] as const) {
    if (p === undefined) {
      lines.push(`- ${label}: no profile was written`);
      continue;
    }
    const s = summarizeCpuProfile(p.profileFile, REPO_ROOT);
    summaries[label] = { nodeTiming: p.nodeTiming, lifeMs: p.lifeMs, totalMs: s.totalMs, idleMs: s.idleMs, gcMs: s.gcMs, byCategory: s.byCategory, byFile: s.byFile.slice(0, 20) };
    lines.push(...profileLines(label, p, s));
  }
  return {
    lines,
    data: { floors: floorSamples, traced, tracedRuncMs: tracedRunc, profileDir, profiledRunMs: profiledRun.wallMs, profiles: summaries },
  };
}

function profileLines(label: string, p: ProfiledProcess, s: ProfileSummary): string[] {
  const t = p.nodeTiming;
  const busy = s.totalMs - s.idleMs;
  const ms = (x: number): string => x.toFixed(0);
  const share = (x: number): string => `${((x / busy) * 100).toFixed(0)}%`;
  return [
    `**${label}** (pid ${p.pid}): process life ${ms(p.lifeMs)} ms; Node's own start-up before any JavaScript: V8 up at ${ms(t.v8Start)} ms, bootstrap complete at ${ms(t.bootstrapComplete)} ms; profiled ${ms(s.totalMs)} ms of which busy ${ms(busy)} ms (GC ${ms(s.gcMs)}), idle ${ms(s.idleMs)} ms (waiting on child processes and I/O).`,
    "",
    markdownTable(["category (self time)", "ms", "share of busy"], s.byCategory.slice(0, 6).map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
    markdownTable(["source file (incl. the Node and native calls it makes)", "ms", "share of busy"], s.byFile.slice(0, 10).map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
    markdownTable(["function (incl. the Node and native calls it makes)", "ms", "share of busy"], s.byFunction.slice(0, 12).map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
  ];
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Runs that failed and were repeated, per contender, with the first line of why. */
const failures = new Map<string, string[]>();

/** Runs `c` once; a failure (not an interrupt) is recorded and the run repeated, up to twice. */
async function runOnce(c: Contender, signal: AbortSignal): Promise<number> {
  return withRetries(c.name, signal, () => c.run(), c.after?.bind(c));
}

/** `fn()`, repeated up to twice when it fails (not when interrupted); `after` tidies up after every attempt. */
async function withRetries<T>(name: string, signal: AbortSignal, fn: () => Promise<T>, after?: () => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await fn();
      await after?.();
      return result;
    } catch (err) {
      if (signal.aborted || attempt >= 2) throw err;
      const why = (err instanceof Error ? err.message : String(err)).split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? "?";
      log(`${name}: failed, repeating: ${why}`);
      failures.set(name, [...(failures.get(name) ?? []), why]);
      await after?.().catch(() => undefined);
    }
  }
}

/** One warm-up of each, then `rounds` rounds with every contender once, the order rotated per round. */
async function alternate(contenders: readonly Contender[], rounds: number, label: string, signal: AbortSignal): Promise<Record<string, number[]>> {
  for (const c of contenders) await runOnce(c, signal);
  const samples: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      samples[c.name]!.push(await runOnce(c, signal));
    }
    if ((round + 1) % 5 === 0) log(`${label}: ${round + 1}/${rounds} rounds`);
  }
  return samples;
}

/** Lines about failed and repeated runs of `contenders`, for the report. */
function failureNotes(names: readonly string[]): string[] {
  return names.flatMap((name) => {
    const f = failures.get(name) ?? [];
    return f.length === 0 ? [] : ["", `note: ${f.length} run(s) of "${name}" failed and were repeated (not counted); last error: ${f[f.length - 1]}`];
  });
}

/**
 * Runs `rkt run` and returns its wall time; then (untimed) reads the pod directory's timestamps
 * into `timelines` (see pod-timeline.ts). The store holds only this pod: the previous ones were
 * removed.
 */
async function timedRktRun(store: RktBenchStore, args: readonly string[], timelines: Phase[][], signal: AbortSignal): Promise<number> {
  const spawnMs = performance.timeOrigin + performance.now();
  const r = await store.rkt(args, { signal });
  const uuids = store.pods();
  if (uuids.length !== 1) throw new Error(`expected one pod in the store after rkt run, found ${uuids.length}`);
  timelines.push(podTimeline(store.podDir(uuids[0]!), spawnMs, spawnMs + r.wallMs));
  return r.wallMs;
}

/** The untraced phases of the timed rkt runs (medians), as report lines. */
function timelineLines(timelines: readonly Phase[][], wallMedian: number): string[] {
  const rows = TIMELINE_PHASES.map((name, i) => {
    const xs = timelines.map((t) => t[i]!.ms!);
    return [name, median(xs).toFixed(0), percentile(xs, 90).toFixed(0), `${((median(xs) / wallMedian) * 100).toFixed(0)}%`];
  });
  return [
    `Where rkt's time went in these ${timelines.length} runs, untraced: from the timestamps the pod directory keeps (pod-timeline.ts; file times are good to one 4 ms kernel tick). Medians per phase, so they need not add up to the median run exactly.`,
    "",
    markdownTable(["rkt run phase (consecutive)", "median ms", "p90 ms", "share of median run"], rows),
  ];
}

/** strace flags for {@link runPhases}: exec and exit of every process, wall-clock timestamps. */
function straceArgs(file: string): string[] {
  return ["-f", "--seccomp-bpf", "-ttt", "-s", "256", "-q", "-e", "trace=execve", "-e", "signal=none", "-o", file];
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

function countBy(items: readonly string[]): [string, number][] {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return [...m];
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

async function hostState(): Promise<HostState> {
  const mounts = await readFile("/proc/mounts", "utf8");
  let nsPins: string[] = [];
  try {
    nsPins = readdirSync("/run/rkt/ns");
  } catch {
    // none yet
  }
  let rktRuncContainers: string[] = [];
  if (existsSync("/run/rkt/runtime/runc") && statSync("/run/rkt/runtime/runc").isDirectory()) {
    const r = await timedRun("runc", ["--root", "/run/rkt/runtime/runc", "list", "--quiet"]).catch(() => undefined);
    rktRuncContainers = (r?.stdout ?? "").split("\n").filter((s) => s !== "");
  }
  return { overlayMounts: mounts.split("\n").filter((l) => l.includes("overlay")).length, nsPins, rktRuncContainers };
}

/**
 * Compares the host with how the benchmark found it. The store's own check (RktBenchStore.destroy)
 * covers this benchmark's pods; these global figures also move with other work on the machine
 * (test suites running pods from their own stores).
 */
async function checkHost(before: HostState): Promise<void> {
  const after = await hostState();
  const newPins = after.nsPins.filter((p) => !before.nsPins.includes(p));
  const newContainers = after.rktRuncContainers.filter((c) => !before.rktRuncContainers.includes(c));
  log(
    `host after cleanup (global: other work on the machine counts too): overlay mounts ${before.overlayMounts} → ${after.overlayMounts}; new /run/rkt/ns entries: ${newPins.length === 0 ? "none" : newPins.join(", ")}; new runc containers under /run/rkt/runtime/runc: ${newContainers.length === 0 ? "none" : newContainers.join(", ")}`,
  );
}

await main().catch((err: unknown) => {
  process.stderr.write(`pods: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode ??= 1;
});
