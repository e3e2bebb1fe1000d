/**
 * A digest over an unpacked directory tree, recorded when rkt unpacks a layer and recomputed by
 * `rkt image verify` to detect a tree changed on disk since (rkt's `hash` file of a tree store
 * had the same job).
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { RktError, wrap } from "../../lib/errors.js";
import { lgetxattr, llistxattr } from "../../sys/libc.js";

/** Bumped whenever the record format below changes: old digests then no longer match. */
const FORMAT = "rkt-tree-digest-v1";
const DEFAULT_CONCURRENCY = 4;
const READ_CHUNK = 256 * 1024;
/** Files up to this size are read synchronously (see treeDigest); larger ones stream. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** The longest stretch of synchronous work before the event loop gets a turn. */
const SLICE_MS = 10;
const OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

export interface TreeDigestOptions {
  readonly signal?: AbortSignal;
  /** Large files streamed at the same time (default 4). */
  readonly concurrency?: number;
}

interface Node {
  readonly rel: string;
  readonly host: string;
  readonly st: Stats;
  /** A symlink's target, as bytes. */
  readonly linkTarget?: Buffer;
}

interface Content {
  readonly sha256: string;
  readonly size: number;
}

/**
 * `sha256:<hex>` over every entry under `root` (the root included), in a fixed order: a
 * depth-first walk with each directory's names sorted by their UTF-8 bytes. Each entry
 * contributes its path relative to the root, type, permission bits (setuid/setgid/sticky
 * included), uid, gid, and all its xattrs sorted by name (the overlayfs ones included, so a lost
 * opaque marker shows); then per type: a regular file its size, mtime (whole seconds) and the
 * SHA-256 of its content; a symlink its target and mtime; a device its major/minor and mtime.
 * Directory times are left out: adding or removing children changes them.
 *
 * Every field is length-prefixed, so no choice of names can make two different trees encode the
 * same. Only regular files are opened (type from lstat, checked again on the descriptor, opened
 * O_NOFOLLOW|O_NONBLOCK), never devices or FIFOs.
 *
 * Speed: image trees are mostly small files, where the promise API's per-call cost dominates
 * (measured on 47k files / 668 MB: 0.9 s with synchronous calls, 2.4 s with callbacks, ~7 s with
 * FileHandle). So the walk and files up to 1 MiB use synchronous calls in slices of at most
 * ~10 ms that yield to the event loop in between (timers, signals and progress output keep
 * running), while larger files stream asynchronously, `concurrency` at a time, meanwhile.
 *
 * @example
 * const digest = await treeDigest("/var/lib/rkt/layers/sha256-abc/rootfs");
 * // "sha256:3b0c..."; compare with the digest recorded at unpack time
 */
export async function treeDigest(root: string, options: TreeDigestOptions = {}): Promise<string> {
  if (!isAbsolute(root)) throw new RktError("invalid-argument", `tree digest: ${JSON.stringify(root)} is not an absolute path`);
  const { signal } = options;
  const slicer = new Slicer(signal);
  try {
    signal?.throwIfAborted();
    const rootStat = lstatSync(root);
    if (!rootStat.isDirectory()) throw new RktError("invalid-argument", `tree digest: ${root} is not a directory`);
    const nodes = await walk({ rel: "", host: root, st: rootStat }, slicer);

    const contents = new Map<Node, Content>();
    const large = nodes.filter((n) => n.st.isFile() && n.st.size > SMALL_FILE_BYTES);
    const streaming = hashLargeFiles(large, contents, Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY), signal);
    // Handled here so an early failure is not an unhandled rejection while the loop below runs;
    // it is still thrown by the `await streaming` after it.
    streaming.catch(() => undefined);
    try {
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      for (const node of nodes) {
        if (node.st.isFile() && node.st.size <= SMALL_FILE_BYTES) {
          contents.set(node, hashSmallFile(node.host, buffer));
          await slicer.tick();
        }
      }
    } finally {
      // Never leave reads running behind a failure.
      await streaming.catch(() => undefined);
    }
    await streaming;

    const hash = createHash("sha256");
    field(hash, FORMAT);
    for (const node of nodes) {
      writeRecord(hash, node, contents.get(node));
      await slicer.tick();
    }
    return `sha256:${hash.digest("hex")}`;
  } catch (err) {
    if (err instanceof RktError || signal?.aborted === true) throw err;
    throw wrap(`computing the tree digest of ${root}`, err);
  }
}

/** Gives the event loop a turn every SLICE_MS of synchronous work, and checks the signal. */
class Slicer {
  private sliceStart = performance.now();

  constructor(private readonly signal: AbortSignal | undefined) {}

  async tick(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await yieldToEventLoop();
    this.signal?.throwIfAborted();
    this.sliceStart = performance.now();
  }
}

/** Every entry in walk order (pre-order, names sorted by bytes). */
async function walk(root: Node, slicer: Slicer): Promise<Node[]> {
  const out: Node[] = [];
  // Entries still to visit, the next one last.
  const stack: Node[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    out.push(node);
    if (!node.st.isDirectory()) continue;
    const names = readdirSync(node.host).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i] ?? "";
      const host = join(node.host, name);
      const st = lstatSync(host);
      const rel = node.rel === "" ? name : `${node.rel}/${name}`;
      stack.push(st.isSymbolicLink() ? { rel, host, st, linkTarget: readlinkSync(host, { encoding: "buffer" }) } : { rel, host, st });
    }
    await slicer.tick();
  }
  return out;
}

function hashSmallFile(path: string, buffer: Buffer): Content {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw new RktError("failed-precondition", `tree digest: ${path} changed while it was read`);
    const hash = createHash("sha256");
    let size = 0;
    for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null)) {
      hash.update(buffer.subarray(0, n));
      size += n;
    }
    return { sha256: hash.digest("hex"), size };
  } finally {
    closeSync(fd);
  }
}

/** Streams `files` through SHA-256, at most `limit` at a time, into `out`. */
async function hashLargeFiles(files: readonly Node[], out: Map<Node, Content>, limit: number, signal: AbortSignal | undefined): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    for (let file = files[next++]; file !== undefined; file = files[next++]) {
      out.set(file, await hashLargeFile(file.host, buffer, signal));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, files.length) }, worker));
}

async function hashLargeFile(path: string, buffer: Buffer, signal: AbortSignal | undefined): Promise<Content> {
  signal?.throwIfAborted();
  const fh = await open(path, OPEN_FLAGS);
  try {
    if (!(await fh.stat()).isFile()) throw new RktError("failed-precondition", `tree digest: ${path} changed while it was read`);
    const hash = createHash("sha256");
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      signal?.throwIfAborted();
    }
    return { sha256: hash.digest("hex"), size };
  } finally {
    await fh.close();
  }
}

function writeRecord(hash: Hash, node: Node, content: Content | undefined): void {
  const { st } = node;
  field(hash, "entry");
  field(hash, node.rel);
  field(hash, typeOf(st));
  field(hash, (st.mode & 0o7777).toString(8));
  field(hash, String(st.uid));
  field(hash, String(st.gid));
  const xattrs = llistxattr(node.host).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  field(hash, String(xattrs.length));
  for (const name of xattrs) {
    field(hash, name);
    field(hash, lgetxattr(node.host, name) ?? Buffer.alloc(0));
  }
  if (st.isDirectory()) return;
  field(hash, String(Math.floor(st.mtimeMs / 1000)));
  if (st.isFile()) {
    if (content === undefined) throw new RktError("internal", `tree digest: ${node.host} was not hashed`);
    field(hash, String(content.size));
    field(hash, content.sha256);
  } else if (st.isSymbolicLink()) {
    field(hash, node.linkTarget ?? Buffer.alloc(0));
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    field(hash, `${major(st.rdev)}:${minor(st.rdev)}`);
  }
}

/** One length-prefixed field ("<bytes>:<value>,", a netstring), so fields cannot run together. */
function field(hash: Hash, value: string | Buffer): void {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  hash.update(`${bytes.length}:`);
  hash.update(bytes);
  hash.update(",");
}

function typeOf(st: Stats): string {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  return "unknown";
}

/** glibc's gnu_dev_major / gnu_dev_minor. */
function major(rdev: number): number {
  const dev = BigInt(rdev);
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  const dev = BigInt(rdev);
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
}
