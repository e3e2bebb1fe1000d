/**
 * A realistic big image built from the host's own files, so benchmarks need no internet: five
 * gzip layers (system libraries, shared data, command-line tools, the Python runtime, an
 * "application" of helpers and headers), about 170 MB compressed, written as an OCI image layout
 * with a proper config (diff_ids, history) and manifest.
 *
 * Each layer takes the files of its roots in path order until its uncompressed budget is spent
 * (files over 16 MiB are skipped, so no single library makes up a layer). The system `tar`
 * writes each layer (GNU format, owner 0:0, real modes and mtimes) and `gzip -6 -n` compresses
 * it; both run as child processes, two layers at a time, while Node hashes the tar stream
 * (diff_id) and the gzip stream (blob digest).
 *
 * Building takes about a minute, so the layout is cached in bench/out/host-image/<key>/. The key
 * is a hash of the recipe and of every selected entry's type, size, mtime and path: if the
 * host's files change, the image is rebuilt; if not, a rerun reuses it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { MEDIA_TYPES } from "../../test/support/media-types.js";
import { hostPlatform } from "../../test/support/oci-builder.js";
import { addToIndexJson, initLayout, writeBlob, type Descriptor } from "../../test/support/oci-layout.js";

/** One layer of the recipe: where its files come from and how much of them to take. */
export interface HostLayerRecipe {
  /** The history entry's created_by. */
  readonly createdBy: string;
  /** Absolute directories; `*` in the last component matches any text (`/usr/lib/python3*`). Missing ones are skipped. */
  readonly roots: readonly string[];
  /** Uncompressed bytes of regular files to take, in path order. */
  readonly budgetBytes: number;
}

const MiB = 1024 * 1024;

/** Bump when the recipe or the way layers are written changes, to invalidate cached layouts. */
const RECIPE_VERSION = "host-image/1";

/** Regular files bigger than this are left out (they would make up a layer on their own). */
const MAX_FILE_BYTES = 16 * MiB;

/** The five layers, lowest first. Budgets are chosen so that gzip gives ~170 MB in total. */
export const HOST_IMAGE_RECIPE: readonly HostLayerRecipe[] = [
  { createdBy: "system libraries (/usr/lib/<arch>-linux-gnu)", roots: ["/usr/lib/*-linux-gnu"], budgetBytes: 120 * MiB },
  { createdBy: "shared data (/usr/share)", roots: ["/usr/share"], budgetBytes: 85 * MiB },
  { createdBy: "command-line tools (/usr/bin, /usr/sbin)", roots: ["/usr/bin", "/usr/sbin"], budgetBytes: 95 * MiB },
  { createdBy: "python runtime (/usr/lib/python3*)", roots: ["/usr/lib/python3*"], budgetBytes: 110 * MiB },
  { createdBy: "application (/usr/libexec, /usr/lib/gcc, /usr/include)", roots: ["/usr/libexec", "/usr/lib/gcc", "/usr/include"], budgetBytes: 70 * MiB },
];

/** The default cache directory: bench/out/host-image. */
export const HOST_IMAGE_CACHE_DIR = fileURLToPath(new URL("../out/host-image/", import.meta.url));

/** One written layer. */
export interface HostImageLayer {
  readonly createdBy: string;
  readonly descriptor: Descriptor;
  readonly diffId: string;
  readonly uncompressedBytes: number;
  /** Entries (files, directories, symlinks) in the layer. */
  readonly entries: number;
}

/** A built (or cached) host image: an OCI layout with one image named `ref`. */
export interface HostImage {
  readonly layoutDir: string;
  /** Its name in index.json. */
  readonly ref: string;
  readonly key: string;
  readonly manifest: Descriptor;
  readonly layers: readonly HostImageLayer[];
  /** Sum of the layer blobs (what is downloaded). */
  readonly compressedBytes: number;
  /** Sum of the layer tars (what is unpacked). */
  readonly uncompressedBytes: number;
  /** True when the layout came from the cache. */
  readonly cached: boolean;
}

/** Options of {@link hostImage}. */
export interface HostImageOptions {
  /** Where layouts are cached. Default {@link HOST_IMAGE_CACHE_DIR}. */
  readonly cacheDir?: string;
  readonly recipe?: readonly HostLayerRecipe[];
  readonly signal?: AbortSignal;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

interface Entry {
  readonly type: string;
  readonly size: number;
  readonly line: string;
  /** Relative to `/`. */
  readonly path: string;
}

const SUMMARY_FILE = "bench-image.json";

/**
 * Returns the host image for the current host files, building it unless the cache has it.
 * Other cached layouts (older keys, interrupted builds) are removed.
 *
 * @example
 * const image = await hostImage({ log: (l) => console.error(l) });
 * await pushImage(image.layoutDir, registry, "bench/big", { ref: image.ref });
 */
export async function hostImage(options: HostImageOptions = {}): Promise<HostImage> {
  const cacheDir = options.cacheDir ?? HOST_IMAGE_CACHE_DIR;
  const recipe = options.recipe ?? HOST_IMAGE_RECIPE;
  const log = options.log ?? (() => undefined);
  const selections: Entry[][] = [];
  for (const layer of recipe) selections.push(select(await listRoots(layer.roots, options.signal), layer.budgetBytes));
  const keyHash = createHash("sha256").update(`${RECIPE_VERSION}\n${JSON.stringify(recipe)}\n`);
  for (const entries of selections) {
    keyHash.update("--layer--\n");
    for (const e of entries) keyHash.update(`${e.line}\n`);
  }
  const key = keyHash.digest("hex").slice(0, 16);
  const layoutDir = join(cacheDir, key);

  // Whatever else is in the cache is an older key or the build of a process that is gone (a
  // build still running, by another benchmark, is left alone).
  await mkdir(cacheDir, { recursive: true });
  for (const name of await readdir(cacheDir)) {
    const builder = /^\.build-(\d+)$/.exec(name)?.[1];
    if (name === key || (builder !== undefined && isAlive(Number(builder)))) continue;
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
  const cached = await readCached(layoutDir);
  if (cached !== undefined) return cached;
  await rm(layoutDir, { recursive: true, force: true });

  const buildDir = join(cacheDir, `.build-${process.pid}`);
  try {
    log(`host image: building ${recipe.length} layers from host files into ${layoutDir} (cached for later runs)`);
    await initLayout(buildDir);
    const layers = await mapLimit(selections, 2, async (entries, i) => {
      const layer = await writeLayer(buildDir, entries, i, options.signal);
      const r = recipe[i]!;
      log(`host image: layer ${i + 1} (${r.createdBy}): ${entries.length} entries, ${mb(layer.uncompressedBytes)} MB -> ${mb(layer.descriptor.size)} MB gzip`);
      return { createdBy: r.createdBy, ...layer, entries: entries.length };
    });
    const manifest = await writeImage(buildDir, layers);
    const image: HostImage = {
      layoutDir,
      ref: "big",
      key,
      manifest,
      layers,
      compressedBytes: layers.reduce((n, l) => n + l.descriptor.size, 0),
      uncompressedBytes: layers.reduce((n, l) => n + l.uncompressedBytes, 0),
      cached: false,
    };
    await writeFile(join(buildDir, SUMMARY_FILE), JSON.stringify(image, null, 2));
    try {
      await rename(buildDir, layoutDir);
    } catch (err) {
      // Another process built the same key at the same time and won: use its layout.
      const theirs = await readCached(layoutDir);
      if (theirs === undefined) throw err;
      await rm(buildDir, { recursive: true, force: true });
      return theirs;
    }
    return image;
  } catch (err) {
    await rm(buildDir, { recursive: true, force: true });
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readCached(layoutDir: string): Promise<HostImage | undefined> {
  let image: HostImage;
  try {
    image = JSON.parse(await readFile(join(layoutDir, SUMMARY_FILE), "utf8")) as HostImage;
  } catch {
    return undefined;
  }
  // The layout is renamed into place only when complete; a blob of the wrong size means someone
  // touched the cache, so rebuild rather than push something broken.
  for (const d of [image.manifest, ...image.layers.map((l) => l.descriptor)]) {
    const hex = d.digest.slice("sha256:".length);
    const st = await stat(join(layoutDir, "blobs", "sha256", hex)).catch(() => undefined);
    if (st?.size !== d.size) return undefined;
  }
  return { ...image, layoutDir, cached: true };
}

async function listRoots(roots: readonly string[], signal: AbortSignal | undefined): Promise<Entry[]> {
  const dirs: string[] = [];
  for (const root of roots) {
    const slash = root.lastIndexOf("/");
    const last = root.slice(slash + 1);
    if (last.includes("*")) {
      const parent = root.slice(0, slash);
      const pattern = new RegExp(`^${last.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
      const names = (await readdir(parent).catch(() => [] as string[])).filter((n) => pattern.test(n)).sort();
      dirs.push(...names.map((n) => join(parent, n)));
    } else if (existsSync(root)) {
      dirs.push(root);
    }
  }
  if (dirs.length === 0) throw new Error(`host image: none of ${roots.join(", ")} exists on this host`);
  // Only what a layer can hold and every tool can unpack: no sockets, fifos or devices.
  const out = await run("find", [...dirs, "-xdev", "(", "-type", "f", "-o", "-type", "l", "-o", "-type", "d", ")", "-printf", "%y %s %T@ %p\\0"], signal);
  const entries: Entry[] = [];
  for (const line of out.toString("utf8").split("\0")) {
    if (line === "") continue;
    const m = /^(\S) (\d+) (\S+) \/(.*)$/s.exec(line);
    if (m === null) throw new Error(`host image: cannot parse find output: ${JSON.stringify(line)}`);
    entries.push({ type: m[1]!, size: Number(m[2]), line, path: m[4]! });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The entries, in path order, up to the point where regular files exceed `budget`. */
function select(entries: readonly Entry[], budget: number): Entry[] {
  const out: Entry[] = [];
  let used = 0;
  for (const e of entries) {
    if (e.type === "f") {
      if (e.size > MAX_FILE_BYTES) continue;
      if (used + e.size > budget) break;
      used += e.size;
    }
    out.push(e);
  }
  return out;
}

async function writeLayer(
  layoutDir: string,
  entries: readonly Entry[],
  index: number,
  signal: AbortSignal | undefined,
): Promise<{ descriptor: Descriptor; diffId: string; uncompressedBytes: number }> {
  const blobs = join(layoutDir, "blobs", "sha256");
  const listFile = join(layoutDir, `.layer-${index}.list`);
  const partial = join(blobs, `.partial-${index}`);
  await writeFile(listFile, entries.map((e) => `${e.path}\0`).join(""));
  const opts = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"], ...(signal === undefined ? {} : { signal }) };
  // GNU format, owner 0:0, explicit list in our order and no recursion: the same files give the
  // same bytes. Hard links between listed files are stored as links, as docker build does.
  const tar = spawn("tar", ["--create", "--file=-", "--directory=/", "--format=gnu", "--no-recursion", "--null", `--files-from=${listFile}`, "--owner=0", "--group=0", "--numeric-owner"], opts);
  const gzip = spawn("gzip", ["-6", "-n", "-c"], { ...opts, stdio: ["pipe", "pipe", "pipe"] });
  const diffId = createHash("sha256");
  const digest = createHash("sha256");
  const counts = { tar: 0, gzip: 0 };
  try {
    await Promise.all([
      pipeline(tar.stdout, tap(diffId, (n) => (counts.tar += n)), gzip.stdin),
      pipeline(gzip.stdout, tap(digest, (n) => (counts.gzip += n)), createWriteStream(partial)),
      exited(tar, "tar", [0, 1]), // 1: "file changed as we read it"; the hashes are of what was written
      exited(gzip, "gzip", [0]),
    ]);
    const hex = digest.digest("hex");
    await rename(partial, join(blobs, hex));
    return {
      descriptor: { mediaType: MEDIA_TYPES.ociLayerGzip, digest: `sha256:${hex}`, size: counts.gzip },
      diffId: `sha256:${diffId.digest("hex")}`,
      uncompressedBytes: counts.tar,
    };
  } finally {
    tar.kill();
    gzip.kill();
    await rm(listFile, { force: true });
  }
}

async function writeImage(layoutDir: string, layers: readonly HostImageLayer[]): Promise<Descriptor> {
  const platform = hostPlatform();
  const created = "2020-01-01T00:00:00Z";
  const config = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
      Cmd: ["/usr/bin/python3"],
      WorkingDir: "/",
      Labels: { "org.example.bench": "rkt host image" },
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  const configDescriptor = await writeBlob(layoutDir, MEDIA_TYPES.ociConfig, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
  };
  const descriptor = await writeBlob(layoutDir, MEDIA_TYPES.ociManifest, Buffer.from(JSON.stringify(manifest)));
  await addToIndexJson(layoutDir, descriptor, "big");
  return descriptor;
}

function tap(hash: Hash, count: (n: number) => void): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    for await (const chunk of source) {
      hash.update(chunk);
      count(chunk.length);
      yield chunk;
    }
  };
}

async function exited(child: ChildProcess, name: string, ok: readonly number[]): Promise<void> {
  const stderr: Buffer[] = [];
  child.stderr?.on("data", (b: Buffer) => stderr.push(b));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  if (code === null || !ok.includes(code)) {
    throw new Error(`${name}: ${code === null ? `killed by ${signal ?? "a signal"}` : `exit ${code}`}: ${Buffer.concat(stderr).toString("utf8").trim()}`);
  }
}

async function run(cmd: string, args: readonly string[], signal: AbortSignal | undefined): Promise<Buffer> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(signal === undefined ? {} : { signal }) });
  const out: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  await exited(child, cmd, [0]);
  return Buffer.concat(out);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
