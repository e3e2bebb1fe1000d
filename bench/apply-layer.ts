/**
 * Layer application microbenchmark: the five gzip layers of the host image (see
 * support/host-image.ts; ~170 MB compressed, ~20k entries) applied with `applyLayer` in "overlay"
 * mode, each into a fresh empty directory, then `treeDigest` of each result, the way the image
 * store's unpackLayer does it (up to --concurrency layers at a time, default 4 as the store).
 *
 * Each run reports wall time (apply + digest of all layers), the process's CPU time (user + sys,
 * all threads: gunzip runs in the libuv pool), and the summed per-layer wall time of the apply and
 * digest phases. Every run's trees are removed before the next one starts, and at the end.
 *
 * Usage: node --import tsx bench/apply-layer.ts [--runs N] [--concurrency N] [--no-digest] [--tmp DIR]
 */
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { applyLayer } from "../src/image/layer/apply-layer.js";
import { treeDigest } from "../src/image/layer/tree-digest.js";
import { hostImage, type HostImageLayer } from "./support/host-image.js";

interface RunResult {
  readonly wallS: number;
  readonly cpuS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly applyS: number;
  readonly digestS: number;
  readonly entries: number;
  readonly bytes: number;
  readonly digests: readonly string[];
}

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    concurrency: { type: "string", default: "4" },
    "no-digest": { type: "boolean", default: false },
    tmp: { type: "string", default: tmpdir() },
  },
});
const runs = Number(values.runs);
const concurrency = Math.max(1, Number(values.concurrency));
const withDigest = !values["no-digest"];

const image = await hostImage({ log: (line) => console.error(line) });
const blobPath = (layer: HostImageLayer): string => join(image.layoutDir, "blobs", ...layer.descriptor.digest.split(":"));

async function oneRun(dir: string): Promise<RunResult> {
  let applyS = 0;
  let digestS = 0;
  let entries = 0;
  let bytes = 0;
  const digests: string[] = new Array<string>(image.layers.length).fill("");
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < image.layers.length; i = next++) {
      const layer = image.layers[i]!;
      const root = join(dir, `layer${i}`, "rootfs");
      await mkdir(root, { recursive: true, mode: 0o755 });
      const a0 = performance.now();
      const result = await applyLayer(createReadStream(blobPath(layer)), { root, mode: "overlay", mediaType: layer.descriptor.mediaType });
      applyS += (performance.now() - a0) / 1000;
      entries += result.entries;
      bytes += result.bytes;
      if (withDigest) {
        const d0 = performance.now();
        digests[i] = await treeDigest(root);
        digestS += (performance.now() - d0) / 1000;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, image.layers.length) }, worker));
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wallS, cpuS: (cpu.user + cpu.system) / 1e6, userS: cpu.user / 1e6, sysS: cpu.system / 1e6, applyS, digestS, entries, bytes, digests };
}

const base = await mkdtemp(join(values.tmp, "rkt-bench-apply-"));
const results: RunResult[] = [];
try {
  for (let r = 0; r < runs; r++) {
    const dir = join(base, `run${r}`);
    await mkdir(dir);
    try {
      const res = await oneRun(dir);
      results.push(res);
      console.log(
        `run ${r + 1}: wall ${res.wallS.toFixed(2)} s, cpu ${res.cpuS.toFixed(2)} s (user ${res.userS.toFixed(2)}, sys ${res.sysS.toFixed(2)}), apply (sum) ${res.applyS.toFixed(2)} s, ` +
          `digest (sum) ${res.digestS.toFixed(2)} s, ${res.entries} entries, ${(res.bytes / 1e6).toFixed(1)} MB`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await rm(base, { recursive: true, force: true });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};
console.log(
  `median of ${results.length} (concurrency ${concurrency}${withDigest ? ", with tree digest" : ""}): ` +
    `wall ${median(results.map((r) => r.wallS)).toFixed(2)} s, cpu ${median(results.map((r) => r.cpuS)).toFixed(2)} s, ` +
    `apply ${median(results.map((r) => r.applyS)).toFixed(2)} s, digest ${median(results.map((r) => r.digestS)).toFixed(2)} s`,
);
if (withDigest) console.log(`tree digests: ${results[0]?.digests.map((d) => d.slice(7, 19)).join(" ") ?? ""}`);
