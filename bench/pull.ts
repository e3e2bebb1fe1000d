/**
 * Pull + unpack benchmark (issue 2, "Images"): a realistic ~170 MB, 5-layer gzip image, built
 * from the host's own files (support/host-image.ts) and pushed byte for byte to a Docker registry
 * on 127.0.0.1, is pulled and unpacked by rkt and by its peers, side by side in one run:
 *
 *   rkt            `rkt --dir=<fresh dir> fetch --insecure-options=image,http docker://HOST/bench/big`
 *   podman         `podman pull --tls-verify=false HOST/bench/big` into private storage, after `podman rmi -f`
 *   skopeo+umoci   `skopeo copy docker://HOST/bench/big oci:DIR:big`, then `umoci unpack --image DIR:big BUNDLE`
 *   tar (floor)    `tar -xzf BLOB -C DIR` of the five layer blobs from the local layout, one after the
 *                  other: no download, no digest checks; what this disk allows (a reference, --no-floor skips it)
 *
 * One warm-up run of each, then N rounds (default 3) in which every tool runs once, the order
 * rotated each round so no tool always runs right after another. Before each run, `sync` (not
 * timed) writes back what the previous run left dirty, so no tool pays for another's writeback.
 * Page caches are not dropped (that cannot be made fair to all of them); the warm-up puts every
 * tool on the same footing: registry blobs in the page cache, binaries loaded.
 *
 * Reported (Markdown on stdout; raw samples in bench/out/results/pull-*.json): median wall
 * seconds, MB/s (compressed MB, 10^6 bytes, over the median), CPU and peak RSS (GNU time), disk
 * use, and the ratios rkt/podman and rkt/(skopeo+umoci). Ratios are reported, never asserted.
 *
 * Usage (root): node --import tsx bench/pull.ts [--rounds N] [--profile] [--in-place] [--no-floor]
 *   --profile   after the rounds, one more rkt fetch under `node --cpu-prof`, summarised
 *   --in-place  run bin/rkt of the checkout instead of a snapshot of bin/ + dist/ taken at start
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pushImage } from "../test/support/push.js";
import { startRegistry } from "../test/support/registry.js";
import { makeTempDir } from "../test/support/tmp.js";
import { Cleanup } from "./support/cleanup.js";
import { summarizeCpuProfile } from "./support/cpu-profile-summary.js";
import { guardHostPaths, PEER_HOST_PATHS } from "./support/host-paths-guard.js";
import { hostImage, type HostImage } from "./support/host-image.js";
import { markdownTable } from "./support/markdown-table.js";
import { PodmanSandbox } from "./support/podman-sandbox.js";
import { removeTreeWithMounts } from "./support/remove-tree-with-mounts.js";
import { saveResults } from "./support/results-file.js";
import { REPO_ROOT, rktBuildInfo, snapshotRkt, type RktBuildInfo } from "./support/rkt-snapshot.js";
import { describeEnvironment } from "./support/run-environment.js";
import { median } from "./support/stats.js";
import { canMeasureCpu, timedRun, type TimedRunResult } from "./support/timed-run.js";

const REPOSITORY = "bench/big";
/** What `rkt fetch --insecure-options=image,http` is expected to print on stderr. */
const EXPECTED_RKT_STDERR: readonly RegExp[] = [/^warning: image signature verification has been disabled/, /^warning: plain HTTP has been allowed/];
const PROFILE_DIR = join(REPO_ROOT, "bench", "out", "profiles");

/** What one tool's run cost; skopeo+umoci has two parts. */
interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number | undefined;
  readonly maxRssMb: number | undefined;
  readonly parts?: { readonly skopeo: TimedRunResult; readonly umoci: TimedRunResult };
  /** Disk use of what the tool left (store, storage, layout + bundle), measured on the warm-up. */
  readonly diskBytes?: number;
}

type Tool = "rkt" | "podman" | "skopeo+umoci" | "tar";

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "3" },
      profile: { type: "boolean", default: false },
      "in-place": { type: "boolean", default: false },
      "no-floor": { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: want a positive integer, got ${values.rounds}`);
  if (process.getuid?.() !== 0) throw new Error("run as root (rkt fetch and podman's storage need it)");

  const cleanup = new Cleanup();
  cleanup.onInterrupt();
  const { signal } = cleanup;
  try {
    cleanup.defer("remove what the peers created on the host", guardHostPaths(PEER_HOST_PATHS));
    const rkt = values["in-place"] ? { bin: join(REPO_ROOT, "bin", "rkt"), dist: join(REPO_ROOT, "dist"), info: rktBuildInfo() } : snapshotRkt();
    if ("remove" in rkt) cleanup.defer("remove the rkt snapshot", () => rkt.remove());

    const image = await hostImage({ signal, log });
    log(`image: ${image.layers.length} layers, ${mb(image.compressedBytes)} MB gzip, ${mb(image.uncompressedBytes)} MB unpacked (${image.cached ? "cached" : "built"}: ${image.layoutDir})`);

    const registry = await startRegistry();
    cleanup.defer("stop the registry", () => registry.stop());
    const t = performance.now();
    const pushed = await pushImage(image.layoutDir, registry, REPOSITORY, { ref: image.ref });
    log(`pushed ${pushed.reference} (${pushed.digest}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const ref = pushed.reference;

    const podman = await PodmanSandbox.create();
    cleanup.defer("remove podman's private storage", () => podman.destroy());

    // Directories of the run in progress, so an interrupted run leaves none behind.
    const live = new Set<string>();
    cleanup.defer("remove temp dirs", async () => {
      for (const dir of live) await removeTreeWithMounts(dir);
    });
    const scratch = async <T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> => {
      const dir = await makeTempDir(prefix);
      live.add(dir);
      try {
        return await fn(dir);
      } finally {
        await removeTreeWithMounts(dir);
        live.delete(dir);
      }
    };
    // Anything rkt says beyond the warnings that --insecure-options asks for is worth a look.
    const rktStderr = new Set<string>();
    const cpu = canMeasureCpu();
    if (!cpu) log("note: /usr/bin/time (GNU time) is not installed: no CPU or RSS figures");
    const opts = { cpu, signal };

    const tools: Tool[] = ["rkt", "podman", "skopeo+umoci", ...(values["no-floor"] ? [] : ["tar" as const])];
    const runTool = async (tool: Tool, measureDisk: boolean): Promise<Sample> => {
      switch (tool) {
        case "rkt":
          return scratch("rkt-bench-store-", async (dir) => {
            const r = await timedRun(rkt.bin, [`--dir=${dir}`, "fetch", "--insecure-options=image,http", `docker://${ref}`], opts);
            if (!/\S/.test(r.stdout)) throw new Error(`rkt fetch printed no image ID; stderr:\n${r.stderr}`);
            for (const line of r.stderr.split("\n")) {
              // "(node:PID) ...Warning": one entry per warning, not per process.
              if (line.trim() !== "" && !EXPECTED_RKT_STDERR.some((re) => re.test(line))) rktStderr.add(line.replace(/^\(node:\d+\)/, "(node:PID)"));
            }
            return { ...r, ...(measureDisk ? { diskBytes: await diskUse(dir) } : {}) };
          });
        case "podman": {
          await podman.removeImage(ref, signal);
          const r = await podman.run(["pull", "--tls-verify=false", ref], opts);
          return { ...r, ...(measureDisk ? { diskBytes: await diskUse(podman.dir) } : {}) };
        }
        case "skopeo+umoci":
          return scratch("rkt-bench-skopeo-", async (dir) => {
            const env = { TMPDIR: dir };
            const skopeo = await timedRun("skopeo", ["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}/oci:big`], { ...opts, env });
            const umoci = await timedRun("umoci", ["unpack", "--image", `${dir}/oci:big`, `${dir}/bundle`], { ...opts, env });
            return {
              wallMs: skopeo.wallMs + umoci.wallMs,
              cpuMs: skopeo.cpuMs === undefined || umoci.cpuMs === undefined ? undefined : skopeo.cpuMs + umoci.cpuMs,
              maxRssMb: Math.max(skopeo.maxRssMb ?? 0, umoci.maxRssMb ?? 0) || undefined,
              parts: { skopeo, umoci },
              ...(measureDisk ? { diskBytes: await diskUse(dir) } : {}),
            };
          });
        case "tar":
          return scratch("rkt-bench-tar-", async (dir) => {
            let wallMs = 0;
            let cpuMs: number | undefined = 0;
            let maxRssMb = 0;
            for (const layer of image.layers) {
              const blob = join(image.layoutDir, "blobs", "sha256", layer.descriptor.digest.slice("sha256:".length));
              const r = await timedRun("tar", ["-xzf", blob, "-C", dir], opts);
              wallMs += r.wallMs;
              cpuMs = cpuMs === undefined || r.cpuMs === undefined ? undefined : cpuMs + r.cpuMs;
              maxRssMb = Math.max(maxRssMb, r.maxRssMb ?? 0);
            }
            return { wallMs, cpuMs, maxRssMb: maxRssMb || undefined, ...(measureDisk ? { diskBytes: await diskUse(dir) } : {}) };
          });
      }
    };

    // Every run starts with no dirty data of the previous one still being written back (its
    // files were just deleted, too): that cost would fall on whoever runs next.
    const settle = async (): Promise<void> => {
      await timedRun("sync", [], { signal });
    };
    const warmup = new Map<Tool, Sample>();
    for (const tool of tools) {
      await settle();
      const s = await runTool(tool, true);
      warmup.set(tool, s);
      log(`warm-up ${tool}: ${secs(s.wallMs)} s`);
    }
    const samples = new Map<Tool, Sample[]>(tools.map((tool) => [tool, []]));
    for (let round = 0; round < rounds; round++) {
      const order = tools.map((_, i) => tools[(i + round) % tools.length]!);
      for (const tool of order) {
        await settle();
        const s = await runTool(tool, false);
        samples.get(tool)!.push(s);
        const parts = s.parts === undefined ? "" : ` (skopeo ${secs(s.parts.skopeo.wallMs)} + umoci ${secs(s.parts.umoci.wallMs)})`;
        log(`round ${round + 1}/${rounds} ${tool}: ${secs(s.wallMs)} s${parts}`);
      }
    }

    const after = rktBuildInfo();
    process.stdout.write(report(image, rkt.info, after, rounds, samples, warmup));
    const file = await saveResults("pull", {
      image: { manifest: image.manifest.digest, compressedBytes: image.compressedBytes, uncompressedBytes: image.uncompressedBytes },
      build: rkt.info,
      rounds,
      warmup: Object.fromEntries(warmup),
      samples: Object.fromEntries(samples),
    });
    log(`raw samples: ${file}`);
    if (rktStderr.size > 0) {
      process.stdout.write(`\nrkt fetch also printed on stderr (beyond the --insecure-options warnings):\n\n${[...rktStderr].map((l) => `    ${l}`).join("\n")}\n`);
    }

    if (values.profile) {
      process.stdout.write(await profileRkt(rkt.bin, rkt.dist, ref, scratch, signal));
    }
  } finally {
    await cleanup.run();
  }
}

function report(image: HostImage, build: RktBuildInfo, after: RktBuildInfo, rounds: number, samples: Map<Tool, Sample[]>, warmup: Map<Tool, Sample>): string {
  const mbTotal = image.compressedBytes / 1e6;
  const rows: string[][] = [];
  const medians = new Map<string, number>();
  const row = (name: string, list: readonly { wallMs: number; cpuMs: number | undefined; maxRssMb: number | undefined }[], disk: number | undefined): void => {
    const wall = list.map((s) => s.wallMs / 1000);
    const m = median(wall);
    medians.set(name, m);
    const cpus = list.map((s) => s.cpuMs).filter((x): x is number => x !== undefined);
    const rss = list.map((s) => s.maxRssMb).filter((x): x is number => x !== undefined);
    rows.push([
      name,
      m.toFixed(2),
      Math.min(...wall).toFixed(2),
      Math.max(...wall).toFixed(2),
      (mbTotal / m).toFixed(1),
      cpus.length === 0 ? "-" : (median(cpus) / 1000).toFixed(2),
      rss.length === 0 ? "-" : Math.max(...rss).toFixed(0),
      disk === undefined ? "-" : mb(disk),
    ]);
  };
  const get = (tool: Tool): Sample[] => samples.get(tool) ?? [];
  row("rkt fetch", get("rkt"), warmup.get("rkt")?.diskBytes);
  row("podman pull", get("podman"), warmup.get("podman")?.diskBytes);
  const parts = get("skopeo+umoci").map((s) => s.parts!);
  row("skopeo copy", parts.map((p) => p.skopeo), undefined);
  row("umoci unpack", parts.map((p) => p.umoci), undefined);
  row("skopeo copy + umoci unpack", get("skopeo+umoci"), warmup.get("skopeo+umoci")?.diskBytes);
  if (get("tar").length > 0) row("tar -xzf of the blobs (floor)", get("tar"), warmup.get("tar")?.diskBytes);

  const rktM = medians.get("rkt fetch")!;
  const podmanM = medians.get("podman pull")!;
  const pairM = medians.get("skopeo copy + umoci unpack")!;
  const vsPodman = rktM / podmanM;
  const verdict = vsPodman < 1 ? `met (rkt ${pct(1 - vsPodman)} faster)` : `MISSED (rkt ${pct(vsPodman - 1)} slower, ${(rktM - podmanM).toFixed(2)} s)`;
  const ratios = markdownTable(
    ["ratio (medians)", "value", "target"],
    [
      ["rkt / podman", `${vsPodman.toFixed(2)}×`, `< 1: ${verdict}`],
      ["rkt / (skopeo + umoci)", `${(rktM / pairM).toFixed(2)}×`, "(reference)"],
    ],
  );
  const rebuilt = after.fingerprint === build.fingerprint ? "" : `\nnote: the checkout's dist/ changed during the run (now ${after.fingerprint}); the figures are for ${build.fingerprint}\n`;
  return [
    "",
    `## Pull + unpack: ${mbTotal.toFixed(1)} MB compressed (${mb(image.uncompressedBytes)} MB unpacked), ${image.layers.length} gzip layers, registry on 127.0.0.1`,
    "",
    ...describeEnvironment(["podman", "skopeo", "umoci", "docker-registry"]).map((l) => `- ${l}`),
    `- rkt: build ${build.fingerprint} (entry ${kb(build.entryBytes)} kB, ${build.files} JS files, ${kb(build.totalBytes)} kB), revision ${build.revision}`,
    `- image: manifest ${image.manifest.digest}; layers ${image.layers.map((l) => mb(l.descriptor.size)).join(" + ")} MB`,
    `- ${rounds} round${rounds === 1 ? "" : "s"} after 1 warm-up of each, order rotated per round, \`sync\` before each run; page caches not dropped; MB = 10^6 bytes`,
    "",
    markdownTable(["what", "median s", "min s", "max s", "MB/s", "CPU s", "peak RSS MB", "disk MB"], rows),
    "",
    ratios,
    rebuilt,
  ].join("\n");
}

async function profileRkt(
  rktBin: string,
  dist: string,
  ref: string,
  scratch: <T>(prefix: string, fn: (dir: string) => Promise<T>) => Promise<T>,
  signal: AbortSignal,
): Promise<string> {
  await mkdir(PROFILE_DIR, { recursive: true });
  const before = new Set(await readdir(PROFILE_DIR));
  // The same fetch without the profiler, then under it, then `rkt image verify` on that store:
  // verify recomputes every layer's tree digest (and the blob digests), the step of fetch that
  // re-reads what was just unpacked, so it prices that step on its own.
  const args = (dir: string): string[] => [`--dir=${dir}`, "fetch", "--insecure-options=image,http", `docker://${ref}`];
  await timedRun("sync", [], { signal });
  const plain = await scratch("rkt-bench-store-", (dir) => timedRun(rktBin, args(dir), { signal, cpu: true }));
  await timedRun("sync", [], { signal });
  const [profiled, verify] = await scratch("rkt-bench-store-", async (dir) => {
    const r = await timedRun("node", ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, join(dist, "rkt.mjs"), ...args(dir)], { signal, cpu: true });
    const v = await timedRun(rktBin, [`--dir=${dir}`, "image", "verify", r.stdout.trim()], { signal, cpu: true });
    return [r, v] as const;
  });
  const made = (await readdir(PROFILE_DIR)).filter((f) => f.endsWith(".cpuprofile") && !before.has(f));
  if (made.length !== 1) throw new Error(`expected one new profile in ${PROFILE_DIR}, found ${made.length}`);
  const file = join(PROFILE_DIR, made[0]!);
  const s = summarizeCpuProfile(file, REPO_ROOT);
  const ms = (x: number): string => x.toFixed(0);
  const busy = s.totalMs - s.idleMs;
  const share = (x: number): string => pct(x / busy);
  const cpuOf = (r: TimedRunResult): string => (r.cpuMs === undefined ? "?" : secs(r.cpuMs));
  return [
    "",
    "## Where rkt fetch spends its time",
    "",
    `- without the profiler: ${secs(plain.wallMs)} s wall, ${cpuOf(plain)} s CPU (all threads)`,
    `- under node --cpu-prof: ${secs(profiled.wallMs)} s wall, ${cpuOf(profiled)} s CPU; profile ${file}`,
    `- main thread: ${ms(s.totalMs)} ms sampled: busy ${ms(busy)} ms, idle ${ms(s.idleMs)} ms (waiting for I/O or for thread-pool work: async fs calls, zlib), GC ${ms(s.gcMs)} ms`,
    `- \`rkt image verify\` of that store (blob digests + every layer's tree digest, which fetch also computes after unpacking): ${secs(verify.wallMs)} s wall, ${cpuOf(verify)} s CPU`,
    "",
    "Main-thread busy time (shares of busy time):",
    "",
    markdownTable(["category (self time)", "ms", "share"], s.byCategory.map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
    markdownTable(["source file (incl. the Node and native calls it makes)", "ms", "share"], s.byFile.slice(0, 12).map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
    markdownTable(["function (incl. the Node and native calls it makes)", "ms", "share"], s.byFunction.slice(0, 15).map((c) => [c.name, ms(c.ms), share(c.ms)])),
    "",
  ].join("\n");
}

async function diskUse(dir: string): Promise<number> {
  const r = await timedRun("du", ["--summarize", "--one-file-system", "--block-size=1", dir]);
  return Number(r.stdout.split("\t")[0]);
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function kb(bytes: number): string {
  return (bytes / 1e3).toFixed(0);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

await main().catch((err: unknown) => {
  process.stderr.write(`pull: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode ??= 1;
});
