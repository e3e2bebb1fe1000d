/**
 * Mutable pod benchmark (issue 6, "Speed and memory"): what starting a pod app by app costs, and
 * what a detached pod keeps resident beyond its apps, rkt side by side with podman in the same run.
 *
 * 1. Start: `rkt app sandbox --net=none` + `rkt app add UUID IMG --name=a1 --exec=/bin/sleep -- 600`
 *    + `rkt app start UUID --app=a1`, timed as one unit from the first spawn to the last exit, vs
 *    `podman pod create --network=none` + `podman run -d --pod P IMG sleep 600` (the same busybox
 *    OCI layout, pulled into a sandboxed podman). Target: rkt <= 0.5x podman (medians). Each step is
 *    reported too, and the same with 3 apps (add + start per app; podman: 3 x run -d --pod).
 *    `node -e 0` and `rkt version` run in the same rounds: the floor of each rkt command.
 *    After each timed rkt unit the pod directory's timestamps cut every command into phases.
 *    Clean-up after each run, untimed: `rkt stop --force`, wait for the pod's supervisor (by then
 *    the Node teardown) to exit, `rkt rm`; `podman pod rm -f --time=0`.
 * 2. Memory of a detached pod with idle apps (`sleep 600`) beyond the apps: for rkt every process
 *    kept alive for the pod (the supervisor's tree, plus any process naming the pod or the store
 *    on its command line) minus each app's tree (the runc-started process from apps/NAME/pid);
 *    for podman each container's conmon plus the infra container (its conmon and pause process)
 *    minus the apps' processes. Measured with 0 (rkt only), 1 and 3 apps in one pod, 1 s after the
 *    last start. VmRSS, RssAnon, PSS. Target: rkt, 1 app, <= 5 MB (RSS).
 *
 * Each timed unit runs once as a warm-up, then once per round, the order rotated per round (see
 * support/run-rounds.ts). Medians and p90 (nearest rank); ratios of medians. The machine's load
 * (1-minute average from /proc/loadavg) is sampled every 5 s and reported. Results go to stdout as
 * Markdown, raw samples to bench/out/results/app-*.json.
 *
 * Usage (root): node --import tsx bench/app.ts [--rounds N] [--memory-runs N] [--only start,memory] [--in-place]
 *   --in-place  run bin/rkt of the checkout instead of a snapshot of bin/ + dist/ taken at start
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { busyboxImage } from "../test/support/image-fixtures.js";
import { guardCgroups, PODMAN_CGROUPS } from "./support/cgroup-guard.js";
import { Cleanup } from "./support/cleanup.js";
import { guardHostPaths, PEER_HOST_PATHS } from "./support/host-paths-guard.js";
import { markdownTable } from "./support/markdown-table.js";
import { sandboxContainersConf } from "./support/podman-conf.js";
import { PodmanSandbox } from "./support/podman-sandbox.js";
import { processTable, treeMemory, type ProcMemory } from "./support/proc-memory.js";
import { removeTreeWithMounts } from "./support/remove-tree-with-mounts.js";
import { RktBenchStore } from "./support/rkt-bench-store.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt, type RktBuildInfo } from "./support/rkt-snapshot.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { RetryLog, runRounds, withRetries, type Contender, type RoundOptions, type TimedSample } from "./support/run-rounds.js";
import { median, percentile } from "./support/stats.js";
import { timedRun } from "./support/timed-run.js";

const TARGET_VS_PODMAN = 0.5;
const TARGET_MEMORY_MB = 5;
const MANY = 3;
/** rkt names an image fetched from an OCI layout after the layout's directory. */
const IMAGE = "localhost/busybox:latest";
const SECTIONS = ["start", "memory"] as const;
type Section = (typeof SECTIONS)[number];

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.timeOrigin + performance.now();

/** What every section needs. */
interface Bench {
  readonly store: RktBenchStore;
  readonly podman: PodmanSandbox;
  /** CONTAINERS_CONF for every podman command. */
  readonly podmanEnv: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly retries: RetryLog;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "15" },
      "memory-runs": { type: "string", default: "5" },
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
  const memoryRuns = positive("memory-runs", values["memory-runs"]);
  const only = new Set(values.only.split(",").filter((s) => s !== ""));
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (have ${SECTIONS.join(", ")})`);
  const want = (s: Section): boolean => only.has(s);

  const nsBefore = nsPins();
  const load = sampleLoad();
  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());
    cleanup.defer("remove what the peers created on the host", guardHostPaths(PEER_HOST_PATHS));
    cleanup.defer("remove the cgroups podman created", guardCgroups(PODMAN_CGROUPS));

    // Lower case: podman names an image pulled from oci:DIR after DIR's path.
    const scratch = join(tmpdir(), `rkt-bench-app-scratch-${randomBytes(6).toString("hex")}`);
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
      await podman.run(["pod", "rm", "--all", "--force", "--time=0"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.run(["rm", "--all", "--force", "--time=0"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.run(["rmi", "--all", "--force"], { env: podmanEnv, timeoutMs: 120_000 }).catch(() => undefined);
      await podman.destroy();
    });
    podmanEnv = await sandboxContainersConf(podman);
    const pulled = await podman.run(["pull", `oci:${layout}:latest`], { env: podmanEnv, signal });
    const podmanId = pulled.stdout.trim().split("\n").pop() ?? "";
    await podman.run(["tag", podmanId, IMAGE], { env: podmanEnv, signal });
    log(`podman sandbox ${podman.dir}: ${podmanId} tagged ${IMAGE}`);

    const bench: Bench = { store, podman, podmanEnv, signal, retries: new RetryLog() };
    const layerBytes = image.layers.reduce((s, l) => s + l.descriptor.size, 0);
    const out: string[] = [
      "",
      "## Mutable pods (issue 6): app by app, rkt side by side with podman",
      "",
      ...describeEnvironment(["podman", "runc", "conmon"]).map((l) => `- ${l}`),
      `- rkt: build ${rkt.info.fingerprint} (entry ${(rkt.info.entryBytes / 1e3).toFixed(0)} kB, ${rkt.info.files} JS files), revision ${rkt.info.revision}; run through bin/rkt (sh wrapper → rkt-launch → node)`,
      `- image: the busybox fixture (1 layer, ${(layerBytes / 1e6).toFixed(1)} MB gzip) as an OCI layout, fetched into a fresh rkt store and pulled into a sandboxed podman (own --root/--runroot, containers.conf via CONTAINERS_CONF)`,
      "- wall time from spawn to exit, monotonic clock, no shell in between; medians and p90 (nearest rank); ratios are of medians",
    ];
    const results: Record<string, unknown> = { build: rkt.info, rounds, memoryRuns };
    if (want("start")) {
      const r = await startSection(bench, rounds);
      out.push(...r.lines);
      results.start = r.samples;
    }
    if (want("memory")) {
      const r = await memorySection(bench, memoryRuns);
      out.push(...r.lines);
      results.memory = r.samples;
    }
    const loads = load.stop();
    out.push("", loadLine(loads), rebuiltNote(rkt.info), "");
    results.load = loads;
    results.failures = bench.retries.toJSON();
    process.stdout.write(out.join("\n"));
    log(`raw samples: ${await saveResults("app", results)}`);
  } finally {
    load.stop();
    await cleanup.run();
    const added = nsPins().filter((p) => !nsBefore.includes(p));
    log(`host after cleanup: new /run/rkt/ns entries (global: other work on the machine counts too): ${added.length === 0 ? "none" : added.join(", ")}`);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Start app by app

/** The phases of one rkt command, cut at files of the pod directory: [name, path or reader]. */
type Mark = readonly [string, () => number];

async function startSection(b: Bench, rounds: number): Promise<{ lines: string[]; samples: Record<string, TimedSample[]> }> {
  const { store, podman, podmanEnv, signal } = b;
  const opts = { signal };
  const podmanOpts = { env: podmanEnv, signal };
  const rktUnit = (apps: number): Contender => {
    let uuid: string | undefined;
    return {
      name: apps === 1 ? "rkt app sandbox + app add + app start" : `rkt app sandbox + ${apps} × (app add + app start)`,
      async run() {
        const parts: Record<string, number> = { sandbox: 0, add: 0, start: 0 };
        const t0 = process.hrtime.bigint();
        const sandboxSpawn = now();
        const sb = await store.rkt(["app", "sandbox", "--net=none"], opts);
        uuid = sb.stdout.trim();
        if (!/^[0-9a-f-]{36}$/.test(uuid)) throw new Error(`rkt app sandbox printed no UUID: ${sb.stdout}${sb.stderr}`);
        parts.sandbox = sb.wallMs;
        const steps: { name: string; spawn: number; wallMs: number }[] = [{ name: "sandbox", spawn: sandboxSpawn, wallMs: sb.wallMs }];
        for (let i = 1; i <= apps; i++) {
          const addSpawn = now();
          const add = await store.rkt(["app", "add", uuid, IMAGE, `--name=a${i}`, "--exec=/bin/sleep", "--", "600"], opts);
          const startSpawn = now();
          const start = await store.rkt(["app", "start", uuid, `--app=a${i}`], opts);
          parts.add! += add.wallMs;
          parts.start! += start.wallMs;
          if (i === 1) steps.push({ name: "add", spawn: addSpawn, wallMs: add.wallMs }, { name: "start", spawn: startSpawn, wallMs: start.wallMs });
        }
        const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        // Untimed: where each command's time went, from the pod directory's timestamps.
        if (apps === 1) Object.assign(parts, commandPhases(store.runningPodDir(uuid), steps));
        return { wallMs, parts };
      },
      async after() {
        if (uuid !== undefined) await removeRktPod(store, uuid, signal);
        uuid = undefined;
      },
    };
  };
  let podNo = 0;
  const podmanUnit = (apps: number): Contender => {
    let pod: string | undefined;
    return {
      name: apps === 1 ? "podman pod create + podman run -d --pod" : `podman pod create + ${apps} × podman run -d --pod`,
      async run() {
        const name = `rkt-bench-app-${process.pid}-${podNo++}`;
        const t0 = process.hrtime.bigint();
        const create = await podman.run(["pod", "create", "--network=none", `--name=${name}`], podmanOpts);
        pod = name;
        let runs = 0;
        for (let i = 1; i <= apps; i++) runs += (await podman.run(["run", "--detach", `--pod=${name}`, IMAGE, "sleep", "600"], podmanOpts)).wallMs;
        const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        return { wallMs, parts: { "pod create": create.wallMs, "run -d": runs } };
      },
      async after() {
        if (pod !== undefined) await podman.run(["pod", "rm", "--force", "--time=0", pod], podmanOpts);
        pod = undefined;
      },
    };
  };
  const floors: Contender[] = [
    { name: "node -e 0", run: async () => ({ wallMs: (await timedRun(process.execPath, ["-e", "0"], opts)).wallMs }) },
    { name: "rkt version (bin/rkt: wrapper + launcher + Node + bundle)", run: async () => ({ wallMs: (await store.rkt(["version"], opts)).wallMs }) },
  ];
  const [rkt1, podman1, rktN, podmanN] = [rktUnit(1), podmanUnit(1), rktUnit(MANY), podmanUnit(MANY)];
  const contenders = [rkt1, podman1, rktN, podmanN, ...floors];
  log(`start: ${rounds} rounds of ${contenders.length} units`);
  const roundOpts: RoundOptions = { signal, retries: b.retries, log, label: "start" };
  const samples = await runRounds(contenders, rounds, roundOpts);
  const wall = (c: Contender): number[] => samples.get(c.name)!.map((s) => s.wallMs);
  const part = (c: Contender, p: string): number[] => samples.get(c.name)!.map((s) => s.parts?.[p] ?? Number.NaN);
  const m = (xs: readonly number[]): number => median(xs);

  const rows = [
    timingRow(`${rkt1.name} (1 app)`, wall(rkt1)),
    timingRow("… of which rkt app sandbox --net=none", part(rkt1, "sandbox")),
    timingRow("… of which rkt app add", part(rkt1, "add")),
    timingRow("… of which rkt app start", part(rkt1, "start")),
    timingRow(`${podman1.name} (1 app)`, wall(podman1)),
    timingRow("… of which podman pod create --network=none", part(podman1, "pod create")),
    timingRow("… of which podman run -d --pod", part(podman1, "run -d")),
    timingRow(rktN.name, wall(rktN)),
    timingRow("… of which rkt app sandbox", part(rktN, "sandbox")),
    timingRow(`… of which ${MANY} × rkt app add (sum)`, part(rktN, "add")),
    timingRow(`… of which ${MANY} × rkt app start (sum)`, part(rktN, "start")),
    timingRow(podmanN.name, wall(podmanN)),
    timingRow("… of which podman pod create", part(podmanN, "pod create")),
    timingRow(`… of which ${MANY} × podman run -d --pod (sum)`, part(podmanN, "run -d")),
    ...floors.map((f) => timingRow(`floor: ${f.name}`, wall(f))),
  ];
  const ratioRow = (name: string, a: readonly number[], b2: readonly number[], target?: number): string[] => {
    const r = m(a) / m(b2);
    return [name, ratio(r), ratio(percentile(a, 90) / percentile(b2, 90)), target === undefined ? "(reference)" : `≤ ${target}×`, target === undefined ? "-" : verdict(r, target)];
  };
  const addStart1 = samples.get(rkt1.name)!.map((s) => (s.parts?.add ?? 0) + (s.parts?.start ?? 0));
  const perExtra = (c: Contender, one: Contender): number => (m(wall(c)) - m(wall(one))) / (MANY - 1);
  const phaseRows = PHASES.map(([cmd, phase]) => {
    const xs = part(rkt1, `${cmd}: ${phase}`).filter((x) => Number.isFinite(x));
    return [`rkt app ${cmd}`, phase, xs.length === 0 ? "-" : m(xs).toFixed(0), xs.length === 0 ? "-" : percentile(xs, 90).toFixed(0)];
  });
  const nodeFloor = m(wall(floors[0]!));
  const versionFloor = m(wall(floors[1]!));
  const lines = [
    "",
    `### Start app by app (\`sleep 600\`, no network): ${rounds} rounds after 1 warm-up each, order rotated per round`,
    "",
    `rkt: \`rkt app sandbox --net=none\`, then per app \`rkt app add UUID ${IMAGE} --name=aN --exec=/bin/sleep -- 600\` and \`rkt app start UUID --app=aN\`. podman: \`podman pod create --network=none\`, then per app \`podman run -d --pod P ${IMAGE} sleep 600\`. Each unit is timed from its first spawn to its last exit. Afterwards, untimed: \`rkt stop --force\`, wait for the pod's supervisor to exit, \`rkt rm\`; \`podman pod rm -f --time=0\`.`,
    "",
    markdownTable(["command", "median ms", "p90 ms", "min ms", "max ms"], rows),
    "",
    markdownTable(
      ["ratio", "of medians", "of p90s", "target", "verdict"],
      [
        ratioRow("rkt / podman, 1 app (the unit)", wall(rkt1), wall(podman1), TARGET_VS_PODMAN),
        ratioRow(`rkt / podman, ${MANY} apps`, wall(rktN), wall(podmanN)),
        ratioRow("app sandbox / pod create", part(rkt1, "sandbox"), part(podman1, "pod create")),
        ratioRow("app add + app start / run -d --pod", addStart1, part(podman1, "run -d")),
      ],
    ),
    "",
    `Per app beyond the first ((${MANY}-app median − 1-app median) / ${MANY - 1}): rkt ${perExtra(rktN, rkt1).toFixed(0)} ms, podman ${perExtra(podmanN, podman1).toFixed(0)} ms.`,
    `Floors in the same rounds: \`node -e 0\` ${nodeFloor.toFixed(0)} ms, \`rkt version\` ${versionFloor.toFixed(0)} ms (median). The 1-app unit starts Node three times (one per command), i.e. at least ${(3 * versionFloor).toFixed(0)} ms of its ${m(wall(rkt1)).toFixed(0)} ms before rkt does any work.`,
    ...b.retries.notes(contenders.map((c) => c.name)),
    "",
    "Where each rkt command's time went (1-app unit, untimed, from the pod directory's file times: good to one 4 ms kernel tick; medians per phase, so they need not add up):",
    "",
    markdownTable(["command", "phase (consecutive)", "median ms", "p90 ms"], phaseRows),
  ];
  const raw: Record<string, TimedSample[]> = Object.fromEntries(samples);
  return { lines, samples: raw };
}

/** [command, phase] in order; the marks that cut them are in {@link commandPhases}. */
const PHASES: readonly (readonly [string, string])[] = [
  ["sandbox", "spawn → pod-created: bin/rkt + rkt-launch + Node start-up, bundle load, flags, pod dir + manifest"],
  ["sandbox", "→ supervisor/pid: namespaces, /etc files, spawn rkt-supervisor"],
  ["sandbox", "→ supervisor/control.sock: supervisor ready"],
  ["sandbox", "→ exit: answer seen, Node exits"],
  ["add", "spawn → apps/a1/image-id: Node start-up, bundle load, open pod + image, manifest lock"],
  ["add", "→ apps/a1/config.json: overlay mount, OCI config"],
  ["add", "→ apps/a1/attach.sock: supervisor `create`"],
  ["add", "→ exit: manifest written, Node exits"],
  ["start", "spawn → apps/a1/restarts: Node start-up, bundle load, `start` request reaches the supervisor"],
  ["start", "→ apps/a1/pid: runc create"],
  ["start", "→ apps/a1/started: runc start returned"],
  ["start", "→ exit: answer seen, Node exits"],
];

/**
 * The phases of each command of a 1-app unit, as `"CMD: PHASE" → ms`, from the marks the pod
 * directory keeps (mtimes; `started` holds an exact time). A missing mark leaves its phases out.
 */
function commandPhases(podDir: string, steps: readonly { name: string; spawn: number; wallMs: number }[]): Record<string, number> {
  const mtime = (rel: string) => (): number => Number(statSync(join(podDir, rel), { bigint: true }).mtimeNs) / 1e6;
  const marks: Record<string, Mark[]> = {
    sandbox: [["pod-created", mtime("pod-created")], ["supervisor/pid", mtime("supervisor/pid")], ["control.sock", mtime("supervisor/control.sock")]],
    add: [["image-id", mtime("apps/a1/image-id")], ["config.json", mtime("apps/a1/config.json")], ["attach.sock", mtime("apps/a1/attach.sock")]],
    start: [["restarts", mtime("apps/a1/restarts")], ["pid", mtime("apps/a1/pid")], ["started", () => rfc3339Ms(readFileSync(join(podDir, "apps/a1/started"), "utf8"))]],
  };
  const out: Record<string, number> = {};
  const phases = (cmd: string): string[] => PHASES.filter(([c]) => c === cmd).map(([, p]) => p);
  for (const step of steps) {
    const times = [step.spawn, ...(marks[step.name] ?? []).map(([, read]) => {
      try {
        return read();
      } catch {
        return Number.NaN;
      }
    }), step.spawn + step.wallMs];
    phases(step.name).forEach((phase, i) => {
      const ms = times[i + 1]! - times[i]!;
      if (Number.isFinite(ms)) out[`${step.name}: ${phase}`] = ms;
    });
  }
  return out;
}

/** ms since the epoch from an RFC 3339 UTC timestamp with up to 9 fractional digits. */
function rfc3339Ms(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text.trim());
  if (m === null) throw new Error(`not an RFC 3339 UTC time: ${text}`);
  return Date.parse(`${m[1]!}Z`) + Number((m[2] ?? "").padEnd(9, "0")) / 1e6;
}

/**
 * `rkt stop --force UUID`, then waits for the pod's supervisor process (which execs the Node
 * teardown) to be gone, then `rkt rm UUID`. --force: `sleep` is its container's pid 1 and ignores
 * TERM, so a plain stop waits the full 10 s before KILL.
 */
async function removeRktPod(store: RktBenchStore, uuid: string, signal: AbortSignal): Promise<void> {
  let supervisor = Number.NaN;
  try {
    supervisor = Number(readFileSync(join(store.podDir(uuid), "supervisor", "pid"), "utf8").trim());
  } catch {
    // never got that far
  }
  await store.rkt(["stop", "--force", uuid], { signal }).catch((err: unknown) => log(`rkt stop ${uuid}: ${String(err)}`));
  if (Number.isInteger(supervisor)) await waitFor(`the supervisor (pid ${supervisor}) of pod ${uuid} to exit`, 30_000, signal, () => (running(supervisor) ? undefined : true));
  await store.rkt(["rm", uuid], { signal });
}

// ---------------------------------------------------------------------------------------------
// 2. Memory beyond the apps

interface MemorySample {
  readonly processes: readonly ProcMemory[];
  readonly notes: readonly string[];
}

/** One pod measured as it grows: by number of apps. */
type GrowingPod = Record<number, MemorySample>;

async function memorySection(b: Bench, runs: number): Promise<{ lines: string[]; samples: Record<string, GrowingPod[]> }> {
  const cases = [
    { name: "rkt", measure: () => rktMemory(b) },
    { name: "podman", measure: (n: number) => podmanMemory(b, n) },
  ];
  const samples: Record<string, GrowingPod[]> = { rkt: [], podman: [] };
  const opts: RoundOptions = { signal: b.signal, retries: b.retries, log, label: "memory" };
  for (let i = 0; i < runs; i++) {
    for (const c of i % 2 === 0 ? cases : [...cases].reverse()) {
      log(`memory: ${c.name} (${i + 1}/${runs})`);
      samples[c.name]!.push(await withRetries(`memory of a ${c.name} pod`, opts, () => c.measure(i)));
    }
  }
  const sum = (s: MemorySample, f: (p: ProcMemory) => number): number => s.processes.reduce((t, p) => t + f(p), 0);
  const figures = (list: readonly GrowingPod[], apps: number): { rss: number; anon: number; pss: number } => ({
    rss: median(list.map((s) => sum(s[apps]!, (p) => p.rssKb))),
    anon: median(list.map((s) => sum(s[apps]!, (p) => p.anonKb))),
    pss: median(list.map((s) => sum(s[apps]!, (p) => p.pssKb ?? 0))),
  });
  const marginal = (list: readonly GrowingPod[]): { rss: number; anon: number; pss: number } => {
    const per = (f: (p: ProcMemory) => number): number => median(list.map((s) => (sum(s[MANY]!, f) - sum(s[1]!, f)) / (MANY - 1)));
    return { rss: per((p) => p.rssKb), anon: per((p) => p.anonKb), pss: per((p) => p.pssKb ?? 0) };
  };
  const mb = (kb: number): string => (kb / 1024).toFixed(2);
  const who = (s: MemorySample): string => countBy(s.processes.map((p) => p.comm)).map(([comm, k]) => (k > 1 ? `${k} × ${comm}` : comm)).join(" + ");
  const row = (what: string, list: readonly GrowingPod[], apps: number): string[] => {
    const f = figures(list, apps);
    return [what, who(list.at(-1)![apps]!), mb(f.rss), mb(f.anon), mb(f.pss)];
  };
  const rktM = marginal(samples.rkt!);
  const podmanM = marginal(samples.podman!);
  const rows = [
    row("rkt sandbox, no app", samples.rkt!, 0),
    row("rkt sandbox + 1 app", samples.rkt!, 1),
    row(`rkt sandbox + ${MANY} apps`, samples.rkt!, MANY),
    ["rkt, per app beyond the first", "", mb(rktM.rss), mb(rktM.anon), mb(rktM.pss)],
    row("podman pod + 1 container (run -d --pod)", samples.podman!, 1),
    row(`podman pod + ${MANY} containers`, samples.podman!, MANY),
    ["podman, per container beyond the first", "", mb(podmanM.rss), mb(podmanM.anon), mb(podmanM.pss)],
  ];
  const rktOne = figures(samples.rkt!, 1).rss / 1024;
  const last = samples.rkt!.at(-1)!;
  const detail = [1, MANY].flatMap((apps) =>
    last[apps]!.processes.map((p) => [String(apps), String(p.pid), p.comm, mb(p.rssKb), mb(p.anonKb), p.pssKb === undefined ? "-" : mb(p.pssKb), p.cmdline.slice(0, 80)]),
  );
  const podmanDetail = samples.podman!.at(-1)![1]!.processes.map((p) => [String(p.pid), p.comm, mb(p.rssKb), mb(p.anonKb), p.pssKb === undefined ? "-" : mb(p.pssKb), p.cmdline.slice(0, 80)]);
  const notes = [...new Set(Object.values(samples).flatMap((l) => l.flatMap((g) => Object.values(g).flatMap((s) => s.notes))))];
  return {
    samples,
    lines: [
      "",
      `### Memory of a detached pod beyond its apps (\`sleep 600\` each, no network): median of ${runs} pods each`,
      "",
      `One pod per run, measured as it grows (rkt: after \`app sandbox\`, after app 1's start, after app ${MANY}'s; podman: after container 1's and container ${MANY}'s \`run -d --pod\`), each time 1 s after the last command returned. rkt: every process kept alive for the pod (the supervisor's tree, plus any process naming the pod's UUID or the store on its command line), minus each app's tree (the runc-started process, apps/NAME/pid). podman: each container's conmon plus the infra container's conmon and pause process, minus the apps' processes (pids from \`podman inspect\`). RSS counts shared pages (libc) in full for every process; PSS divides them among their sharers.`,
      "",
      markdownTable(["what", "processes (last run)", "RSS MB", "RssAnon MB", "PSS MB"], rows),
      "",
      markdownTable(["target", "measured (RSS)", "verdict"], [[`rkt, detached pod with 1 app: ≤ ${TARGET_MEMORY_MB} MB beyond the app`, `${rktOne.toFixed(2)} MB`, verdict(rktOne, TARGET_MEMORY_MB)]]),
      "",
      "rkt, per process (last run):",
      "",
      markdownTable(["apps", "pid", "comm", "RSS MB", "RssAnon MB", "PSS MB", "command line"], detail),
      "",
      "podman, 1 container, per process (last run):",
      "",
      markdownTable(["pid", "comm", "RSS MB", "RssAnon MB", "PSS MB", "command line"], podmanDetail),
      ...(notes.length > 0 ? ["", ...notes.map((n) => `note: ${n}`)] : []),
      ...b.retries.notes(cases.map((c) => `memory of a ${c.name} pod`)),
    ],
  };
}

/** The processes rkt keeps alive for pod `uuid` beyond its apps' trees, with notes on surprises. */
function rktOverhead(store: RktBenchStore, uuid: string): MemorySample {
  const podDir = store.runningPodDir(uuid);
  const supervisor = Number(readFileSync(join(podDir, "supervisor", "pid"), "utf8").trim());
  const appsDir = join(podDir, "apps");
  const apps = existsSync(appsDir) ? readdirSync(appsDir) : [];
  const appPids = apps.map((a) => Number(readFileSync(join(appsDir, a, "pid"), "utf8").trim()));
  const naming = [...processTable().values()].filter((p) => p.pid !== process.pid && (p.cmdline.includes(uuid) || p.cmdline.includes(store.dir))).map((p) => p.pid);
  const processes = treeMemory([supervisor, ...naming], appPids);
  const notes: string[] = [];
  if (!processes.some((p) => p.pid === supervisor)) notes.push(`rkt: the supervisor (pid ${supervisor}) was not found`);
  for (const p of processes) if (p.pid !== supervisor) notes.push(`rkt: besides the supervisor, ${p.comm} is resident for the pod: ${p.cmdline.slice(0, 100)}`);
  return { processes, notes };
}

async function rktMemory(b: Bench): Promise<GrowingPod> {
  const { store, signal } = b;
  const opts = { signal };
  let uuid: string | undefined;
  try {
    uuid = (await store.rkt(["app", "sandbox", "--net=none"], opts)).stdout.trim();
    const pod: GrowingPod = {};
    await sleep(1000);
    pod[0] = rktOverhead(store, uuid);
    for (let i = 1; i <= MANY; i++) {
      await store.rkt(["app", "add", uuid, IMAGE, `--name=a${i}`, "--exec=/bin/sleep", "--", "600"], opts);
      await store.rkt(["app", "start", uuid, `--app=a${i}`], opts);
      if (i === 1 || i === MANY) {
        await sleep(1000);
        pod[i] = rktOverhead(store, uuid);
      }
    }
    return pod;
  } finally {
    if (uuid !== undefined) await removeRktPod(store, uuid, signal).catch((err: unknown) => log(`removing memory pod ${uuid}: ${String(err)}`));
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

async function podmanMemory(b: Bench, n: number): Promise<GrowingPod> {
  const { podman, podmanEnv, signal } = b;
  const name = `rkt-bench-app-mem-${process.pid}-${n}`;
  const opts = { env: podmanEnv, signal };
  let created = false;
  try {
    await podman.run(["pod", "create", "--network=none", `--name=${name}`], opts);
    created = true;
    const cids: string[] = [];
    const pod: GrowingPod = {};
    for (let i = 1; i <= MANY; i++) {
      cids.push((await podman.run(["run", "--detach", `--pod=${name}`, IMAGE, "sleep", "600"], opts)).stdout.trim());
      if (i !== 1 && i !== MANY) continue;
      const infra = (await podman.run(["pod", "inspect", "--format", "{{.InfraContainerID}}", name], opts)).stdout.trim();
      const apps = await Promise.all(cids.map((c) => podmanState(b, c)));
      const infraState = await podmanState(b, infra);
      if ([...apps, infraState].some((s) => s.status !== "running")) throw new Error(`podman pod ${name}: not every container is running`);
      await sleep(1000);
      pod[i] = { processes: treeMemory([infraState.conmonPid, ...apps.map((s) => s.conmonPid)], apps.map((s) => s.pid)), notes: [] };
    }
    return pod;
  } finally {
    if (created) await podman.run(["pod", "rm", "--force", "--time=0", name], { env: podmanEnv }).catch((err: unknown) => log(`podman pod rm: ${String(err)}`));
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function waitFor<T>(what: string, ms: number, signal: AbortSignal, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    signal.throwIfAborted();
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The process exists and is not a zombie (the teardown's parent is the host's init, which reaps late). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function nsPins(): string[] {
  try {
    return readdirSync("/run/rkt/ns");
  } catch {
    return [];
  }
}

/** Samples the 1-minute load average every 5 s until stopped; `stop` returns the samples. */
function sampleLoad(): { stop(): number[] } {
  const samples: number[] = [];
  const take = (): void => void samples.push(Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]));
  take();
  const timer = setInterval(take, 5000);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        take();
      }
      return samples;
    },
  };
}

function loadLine(samples: readonly number[]): string {
  if (samples.length === 0) return "";
  return `Load during the run (1-minute average from /proc/loadavg, every 5 s, ${samples.length} samples; 2 cores): min ${Math.min(...samples).toFixed(2)}, median ${median(samples).toFixed(2)}, max ${Math.max(...samples).toFixed(2)}. The machine is shared with other people's tests.`;
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
  let current: RktBuildInfo | undefined;
  try {
    current = rktBuildInfo();
  } catch {
    return "";
  }
  return current.fingerprint === info.fingerprint ? "" : `\nnote: the checkout's dist/ changed during the run (now ${current.fingerprint}); the figures are for ${info.fingerprint}\n`;
}

await main().catch((err: unknown) => {
  process.stderr.write(`app: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode ??= 1;
});
