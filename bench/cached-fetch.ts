/**
 * Cached-fetch benchmark (issue 2, "Images"): with a small image (the busybox fixture of
 * test/support) already in an rkt store, how long does `rkt fetch --pull-policy=new` take? It
 * finds the image in the store and prints its ID without talking to the registry, so the figure is
 * rkt's start-up plus a store lookup. Target: under 150 ms wall.
 *
 * For reference, in the same run: `rkt image list` (start-up + reading the store), `rkt version`
 * (start-up alone), `rkt fetch` with the default --pull-policy=update (one manifest request to
 * the registry on 127.0.0.1), and `node -e 0`, the floor that no Node CLI can go below.
 *
 * Each command runs --warmup times (default 3, not counted), then --runs rounds (default 20) in
 * which every command runs once, the order rotated each round. Wall time is taken from spawn to
 * exit with a monotonic clock (no shell in between; GNU time wraps each run for its CPU time).
 * Reported: median and p90 (nearest rank) wall time, and median CPU time (user + sys), which
 * other load on the machine disturbs less than wall time.
 *
 * Usage: node --import tsx bench/cached-fetch.ts [--runs N] [--warmup N] [--in-place]
 *   --in-place  run bin/rkt of the checkout instead of a snapshot of bin/ + dist/ taken at start
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { busyboxImage } from "../test/support/image-fixtures.js";
import { pushImage } from "../test/support/push.js";
import { startRegistry } from "../test/support/registry.js";
import { makeTempDir, removeTempDir } from "../test/support/tmp.js";
import { Cleanup } from "./support/cleanup.js";
import { markdownTable } from "./support/markdown-table.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt } from "./support/rkt-snapshot.js";
import { saveResults } from "./support/results-file.js";
import { describeEnvironment } from "./support/run-environment.js";
import { median, percentile } from "./support/stats.js";
import { canMeasureCpu, timedRun } from "./support/timed-run.js";

const TARGET_MS = 150;

interface Command {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  /** Checks the output, so a failing or different answer is not timed as a success. */
  readonly check?: (stdout: string) => void;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      "in-place": { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const warmups = Number(values.warmup);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: want a positive integer, got ${values.runs}`);
  if (!Number.isInteger(warmups) || warmups < 0) throw new Error(`--warmup: want a non-negative integer, got ${values.warmup}`);

  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());

    const registry = await startRegistry();
    cleanup.defer("stop the registry", () => registry.stop());
    const layout = await makeTempDir("rkt-bench-layout-");
    cleanup.defer("remove the image layout", () => removeTempDir(layout));
    await busyboxImage({ dir: layout });
    const pushed = await pushImage(layout, registry, "bench/busybox");
    const image = `docker://${pushed.reference}`;

    const store = await makeTempDir("rkt-bench-store-");
    cleanup.defer("remove the rkt store", () => removeTempDir(store));
    const first = await timedRun(rkt.bin, [`--dir=${store}`, "fetch", "--insecure-options=image,http", image], { signal });
    const id = first.stdout.trim();
    log(`fetched ${image} into ${store} in ${first.wallMs.toFixed(0)} ms: ${id}`);
    const sameId = (stdout: string): void => {
      if (stdout.trim() !== id) throw new Error(`rkt fetch printed ${JSON.stringify(stdout.trim())}, expected ${id}`);
    };

    const commands: Command[] = [
      { name: "rkt fetch --pull-policy=new (cached)", file: rkt.bin, args: [`--dir=${store}`, "fetch", "--insecure-options=image,http", "--pull-policy=new", image], check: sameId },
      { name: "rkt fetch (default update: asks the registry)", file: rkt.bin, args: [`--dir=${store}`, "fetch", "--insecure-options=image,http", image], check: sameId },
      {
        name: "rkt image list",
        file: rkt.bin,
        args: [`--dir=${store}`, "image", "list"],
        check: (out) => {
          if (!out.includes("bench/busybox")) throw new Error(`rkt image list does not show the image:\n${out}`);
        },
      },
      { name: "rkt version", file: rkt.bin, args: ["version"] },
      { name: "node -e 0 (floor)", file: process.execPath, args: ["-e", "0"] },
    ];

    const cpu = canMeasureCpu();
    const runOnce = async (c: Command): Promise<{ wallMs: number; cpuMs: number | undefined }> => {
      const r = await timedRun(c.file, c.args, { signal, cpu });
      c.check?.(r.stdout);
      return r;
    };
    for (let i = 0; i < warmups; i++) for (const c of commands) await runOnce(c);
    const samples = new Map<string, number[]>(commands.map((c) => [c.name, []]));
    const cpuSamples = new Map<string, number[]>(commands.map((c) => [c.name, []]));
    for (let round = 0; round < runs; round++) {
      for (let i = 0; i < commands.length; i++) {
        const c = commands[(i + round) % commands.length]!;
        const r = await runOnce(c);
        samples.get(c.name)!.push(r.wallMs);
        if (r.cpuMs !== undefined) cpuSamples.get(c.name)!.push(r.cpuMs);
      }
    }

    const after = rktBuildInfo();
    const floor = median(samples.get("node -e 0 (floor)")!);
    const rows = commands.map((c) => {
      const s = samples.get(c.name)!;
      const m = median(s);
      const cpuMs = cpuSamples.get(c.name)!;
      return [
        c.name,
        m.toFixed(0),
        percentile(s, 90).toFixed(0),
        Math.min(...s).toFixed(0),
        Math.max(...s).toFixed(0),
        c.name.startsWith("node") ? "-" : `+${(m - floor).toFixed(0)}`,
        cpuMs.length === 0 ? "-" : median(cpuMs).toFixed(0),
      ];
    });
    const fetchSamples = samples.get(commands[0]!.name)!;
    const fetchMedian = median(fetchSamples);
    const fetchP90 = percentile(fetchSamples, 90);
    const verdict = (x: number): string => (x < TARGET_MS ? `met (${(TARGET_MS - x).toFixed(0)} ms to spare)` : `MISSED by ${(x - TARGET_MS).toFixed(0)} ms`);
    const b = rkt.info;
    const out = [
      "",
      `## Cached fetch: a busybox image already in the store, ${runs} runs of each (after ${warmups} warm-up${warmups === 1 ? "" : "s"}), order rotated per round`,
      "",
      ...describeEnvironment([]).map((l) => `- ${l}`),
      `- rkt: build ${b.fingerprint} (entry ${(b.entryBytes / 1e3).toFixed(0)} kB, ${b.files} JS files, ${(b.totalBytes / 1e3).toFixed(0)} kB), revision ${b.revision}`,
      `- wall time from spawn to exit of bin/rkt (a sh wrapper that execs node); each command runs under GNU time for its CPU time (user + sys), which adds ~1 ms to every row alike`,
      "",
      markdownTable(["command", "median ms", "p90 ms", "min ms", "max ms", "median over node -e 0", "CPU ms (median)"], rows),
      "",
      markdownTable(
        ["target", "measured", "verdict"],
        [
          [`cached fetch median < ${TARGET_MS} ms`, `${fetchMedian.toFixed(0)} ms`, verdict(fetchMedian)],
          [`cached fetch p90 < ${TARGET_MS} ms`, `${fetchP90.toFixed(0)} ms`, verdict(fetchP90)],
        ],
      ),
      after.fingerprint === b.fingerprint ? "" : `\nnote: the checkout's dist/ changed during the run (now ${after.fingerprint}); the figures are for ${b.fingerprint}`,
      "",
    ].join("\n");
    process.stdout.write(out);
    const file = await saveResults("cached-fetch", { build: b, runs, warmups, wallMs: Object.fromEntries(samples), cpuMs: Object.fromEntries(cpuSamples) });
    log(`raw samples: ${file}`);
  } finally {
    await cleanup.run();
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`cached-fetch: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode ??= 1;
});
