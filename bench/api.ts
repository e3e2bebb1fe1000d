/**
 * API service benchmark (issue 9): how fast `rkt api-service` answers over a big store, and how
 * soon a started pod shows up in a ListenEvents stream.
 *
 * 1. Listing. A data directory written by code (test/api/api-fixtures.ts, no pod runs): --images
 *    image records (default 200) with manifest and config blobs, and --pods pods (default 500):
 *    10% running (their locks held by this process), 60% exited (two apps, exit codes, a 20-line
 *    log each), 20% prepared, 10% collected. `rkt api-service` (the built CLI, its own process)
 *    serves it on a unix socket; a client generated from our api.proto calls ListPods (plain,
 *    with detail, filtered), ListImages (plain, with detail) and InspectPod, --rounds times each
 *    (default 30, after 3 warm-ups), the order rotated per round. Wall time per call as the client
 *    sees it. Target: ListPods and ListImages within 200 ms.
 * 2. Events. A second store with busybox; `rkt api-service` over it; a client listens; `rkt run
 *    --net=none busybox --exec=/bin/true` runs --starts times (default 10). Latency = when the
 *    POD_STARTED event reached the client minus the time `rkt run` recorded in the journal
 *    (`timeNanos`; same host clock). Also shown: from spawning `rkt run` to the event. Target:
 *    within 100 ms.
 *
 * Figures go to stdout as Markdown, raw samples to bench/out/results/api-*.json. Never test
 * assertions: a missed target is reported.
 *
 * Usage (root): node --import tsx bench/api.ts [--rounds N] [--pods N] [--images N] [--starts N] [--in-place]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { collectStream, apiClient, syntheticImage, syntheticPod, type ApiClient, type Message, type SyntheticPod } from "../test/api/api-fixtures.js";
import { busyboxImage } from "../test/support/image-fixtures.js";
import { makeTempDir, removeTempDir } from "../test/support/tmp.js";
import { ImageStore } from "../src/image/store/image-store.js";
import { Cleanup } from "./support/cleanup.js";
import { markdownTable } from "./support/markdown-table.js";
import { RktBenchStore } from "./support/rkt-bench-store.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt } from "./support/rkt-snapshot.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { median, percentile } from "./support/stats.js";

const LIST_TARGET_MS = 200;
const EVENT_TARGET_MS = 100;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Starts `rkt api-service` on a unix socket in `dir`; resolves once it listens. */
async function startService(bin: string, dir: string, signal: AbortSignal): Promise<{ child: ChildProcess; address: string }> {
  const socket = join(dir, "api.sock");
  const child = spawn(bin, [`--dir=${dir}`, "api-service", `--listen=unix://${socket}`], { stdio: ["ignore", "ignore", "pipe"], signal });
  child.on("error", () => undefined);
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("API service running")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`rkt api-service exited (${code}): ${stderr}`)));
  });
  return { child, address: `unix://${socket}` };
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Fills `dir` with `images` image records and `pods` pods (see the module comment). */
function syntheticStore(dir: string, pods: number, images: number): { held: SyntheticPod[]; samplePod: string; ms: number } {
  const start = performance.now();
  const store = ImageStore.open(dir);
  const ids: string[] = [];
  for (let i = 0; i < images; i++) {
    const rec = syntheticImage(store, { names: [`registry.example/team${i % 10}/app${i}:v${i % 3}`], labels: { tier: i % 2 === 0 ? "front" : "back", idx: String(i) }, annotations: { "org.opencontainers.image.source": `https://example/app${i}` }, importTime: new Date(Date.now() - i * 60_000).toISOString() });
    ids.push(rec.id);
  }
  const held: SyntheticPod[] = [];
  let samplePod = "";
  const started = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, ".123456789Z");
  const log20 = Array.from({ length: 20 }, (_, i) => `${started} stdout F line ${i}`);
  for (let i = 0; i < pods; i++) {
    const kind = i % 10;
    const dirName = kind === 0 ? "run" : kind <= 6 ? "run" : kind <= 8 ? "prepared" : "exited-garbage";
    const ran = dirName !== "prepared";
    const apps = [0, 1].map((a) => ({
      name: a === 0 ? "web" : `side${i % 7}`,
      imageId: ids[(i + a) % ids.length]!,
      ...(ran ? { started } : {}),
      ...(ran && kind !== 0 ? { exitCode: a, log: log20 } : {}),
    }));
    const pod = syntheticPod(dir, {
      dir: dirName,
      locked: kind === 0,
      apps,
      annotations: [["team", `t${i % 5}`]],
      created: new Date(Date.now() - (pods - i) * 1000).toISOString(),
      ...(ran ? { supervisorPid: 100000 + i } : {}),
      ...(ran && i % 3 === 0 ? { network: { name: "default", ip4: `172.16.${28 + Math.floor(i / 250)}.${(i % 250) + 2}`, gateway: "172.16.28.1" } } : {}),
    });
    if (kind === 0) held.push(pod);
    if (i === Math.floor(pods / 2)) samplePod = pod.uuid;
  }
  return { held, samplePod, ms: performance.now() - start };
}

interface Call {
  readonly name: string;
  readonly method: "ListPods" | "ListImages" | "InspectPod";
  readonly request: Message;
  readonly check: (reply: Message) => string;
  readonly target?: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "30" },
      pods: { type: "string", default: "500" },
      images: { type: "string", default: "200" },
      starts: { type: "string", default: "10" },
      "in-place": { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  const podCount = Number(values.pods);
  const imageCount = Number(values.images);
  const starts = Number(values.starts);
  for (const [flag, v] of [["rounds", rounds], ["pods", podCount], ["images", imageCount], ["starts", starts]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag}: want a positive integer`);
  }
  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());

    // 1. Listing over a synthetic store.
    const dir = await makeTempDir("rkt-bench-api-");
    cleanup.defer("remove the synthetic store", () => removeTempDir(dir));
    const synth = syntheticStore(dir, podCount, imageCount);
    cleanup.defer("release the synthetic pods' locks", () => synth.held.forEach((p) => p.release()));
    log(`synthetic store: ${podCount} pods, ${imageCount} images in ${synth.ms.toFixed(0)} ms (${dir})`);
    const listing = await startService(rkt.bin, dir, signal);
    cleanup.defer("stop the listing service", () => stopService(listing.child));
    const client: ApiClient = apiClient(listing.address);
    cleanup.defer("close the client", () => client.close());
    const count = (field: string, expected: number) => (reply: Message): string => {
      const n = (reply[field] as unknown[]).length;
      if (n !== expected) throw new Error(`${field}: ${n}, expected ${expected}`);
      return `${n} ${field}`;
    };
    const running = synth.held.length;
    const calls: Call[] = [
      { name: `ListPods (${podCount} pods)`, method: "ListPods", request: {}, check: count("pods", podCount), target: LIST_TARGET_MS },
      { name: "ListPods detail (manifests)", method: "ListPods", request: { detail: true }, check: count("pods", podCount), target: LIST_TARGET_MS },
      { name: "ListPods state=RUNNING, app web", method: "ListPods", request: { filters: [{ states: ["POD_STATE_RUNNING"], app_names: ["web"] }] }, check: count("pods", running), target: LIST_TARGET_MS },
      { name: `ListImages (${imageCount} images)`, method: "ListImages", request: {}, check: count("images", imageCount), target: LIST_TARGET_MS },
      { name: "ListImages detail (manifests)", method: "ListImages", request: { detail: true }, check: count("images", imageCount), target: LIST_TARGET_MS },
      { name: "ListImages label tier=front", method: "ListImages", request: { filters: [{ labels: [{ Key: "tier", value: "front" }] }] }, check: count("images", Math.ceil(imageCount / 2)), target: LIST_TARGET_MS },
      { name: "InspectPod", method: "InspectPod", request: { id: synth.samplePod }, check: () => "1 pod" },
    ];
    const samples = new Map<string, number[]>(calls.map((c) => [c.name, []]));
    const once = async (c: Call): Promise<number> => {
      const t0 = performance.now();
      const reply = await client.call(c.method, c.request);
      const ms = performance.now() - t0;
      c.check(reply);
      return ms;
    };
    for (let w = 0; w < 3; w++) for (const c of calls) await once(c);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < calls.length; i++) {
        const c = calls[(i + round) % calls.length]!;
        samples.get(c.name)!.push(await once(c));
      }
    }
    await stopService(listing.child);
    log("listing: done");

    // 2. Events from real pods.
    const pods = await RktBenchStore.create(rkt.bin);
    cleanup.defer("collect and remove the pod store", async () => {
      const left = await pods.destroy();
      if (left.length > 0) log(`warning: pods left behind (removed by force): ${left.join(", ")}`);
    });
    const layout = await makeTempDir("rkt-bench-layout-");
    cleanup.defer("remove the image layout", () => removeTempDir(layout));
    await busyboxImage({ dir: join(layout, "busybox") });
    const fetched = await pods.rkt(["fetch", "--insecure-options=image", join(layout, "busybox")], { signal });
    const image = fetched.stdout.trim();
    const events = await startService(rkt.bin, pods.dir, signal);
    cleanup.defer("stop the events service", () => stopService(events.child));
    const eventsClient = apiClient(events.address);
    cleanup.defer("close the events client", () => eventsClient.close());
    const journalLatency: number[] = [];
    const spawnLatency: number[] = [];
    for (let i = 0; i < starts; i++) {
      const stream = eventsClient.stream("ListenEvents", { filter: { types: ["EVENT_TYPE_POD_STARTED"] } });
      await new Promise<void>((resolve, reject) => {
        stream.once("metadata", () => resolve());
        stream.once("error", reject);
      });
      let arrived = 0;
      const got = collectStream(stream, (ms) => {
        if (arrived === 0) arrived = Date.now();
        return ms.length > 0;
      }, 60_000);
      const spawned = Date.now();
      const run = pods.rkt(["run", "--insecure-options=image", "--net=none", image, "--exec=/bin/true"], { signal });
      const [messages] = await Promise.all([got, run]);
      const event = (messages[0]!.events as { data: { Key: string; value: string }[] }[])[0]!;
      const recorded = Number(BigInt(event.data.find((d) => d.Key === "timeNanos")!.value) / 1_000_000n);
      journalLatency.push(arrived - recorded);
      spawnLatency.push(arrived - spawned);
      await pods.collect(signal);
    }
    log("events: done");

    const after = rktBuildInfo();
    const b = rkt.info;
    const fmt = (x: number): string => x.toFixed(1);
    const verdict = (x: number, target: number): string => (x <= target ? `met (${(target - x).toFixed(0)} ms to spare)` : `MISSED by ${(x - target).toFixed(0)} ms`);
    const rows = calls.map((c) => {
      const s = samples.get(c.name)!;
      return [c.name, fmt(median(s)), fmt(percentile(s, 90)), fmt(Math.max(...s)), c.target === undefined ? "-" : verdict(Math.max(...s), c.target)];
    });
    const out = [
      "",
      `## API service: ${podCount} pods, ${imageCount} images, ${rounds} rounds of each call (after 3 warm-ups); ${starts} pod starts`,
      "",
      ...describeEnvironment([]).map((l) => `- ${l}`),
      `- rkt: build ${b.fingerprint} (entry ${(b.entryBytes / 1e3).toFixed(0)} kB, ${b.files} JS files), revision ${b.revision}${after.fingerprint === b.fingerprint || !("remove" in rkt) ? "" : " (dist/ changed during the run; the snapshot was measured)"}`,
      `- \`rkt api-service\` in its own process on a unix socket; a client generated from api.proto; wall time per call as the client sees it (request encoding, the service reading the store, response decoding)`,
      `- synthetic store written in ${synth.ms.toFixed(0)} ms: ${running} running pods (locks held), ${podCount - running} others; no pod ran`,
      "",
      markdownTable(["call", "median ms", "p90 ms", "max ms", `target ${LIST_TARGET_MS} ms (max)`], rows),
      "",
      markdownTable(
        ["started pod in ListenEvents", "median ms", "p90 ms", "max ms", `target ${EVENT_TARGET_MS} ms (max)`],
        [
          ["journal line written -> event at the client", fmt(median(journalLatency)), fmt(percentile(journalLatency, 90)), fmt(Math.max(...journalLatency)), verdict(Math.max(...journalLatency), EVENT_TARGET_MS)],
          ["`rkt run` spawned -> event at the client (context)", fmt(median(spawnLatency)), fmt(percentile(spawnLatency, 90)), fmt(Math.max(...spawnLatency)), "-"],
        ],
      ),
      "",
    ].join("\n");
    process.stdout.write(`${out}\n`);
    const file = await saveResults("api", { build: b, pods: podCount, images: imageCount, rounds, samples: Object.fromEntries(samples), journalLatency, spawnLatency });
    log(`raw samples: ${file}`);
  } finally {
    await cleanup.run();
  }
}

await main();
