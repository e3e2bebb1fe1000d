/**
 * Turning a layer blob as stored (tar, tar+gzip or tar+zstd; image-spec layer.md "+gzip Media
 * Types", "+zstd Media Types") into the plain tar stream it carries.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { addAbortSignal, Duplex, PassThrough, type Readable, type Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import { describe, errnoCode, RktError } from "../../lib/errors.js";

export type Compression = "none" | "gzip" | "zstd";

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** RFC 8878 section 3.1.1: the zstd frame magic number 0xFD2FB528, little-endian. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const SNIFF_BYTES = 4;
/**
 * gzip output chunk size. zlib's default (16 KiB) means one trip through every stream stage after
 * it (digest, tar parsing, file writes) per 16 KiB of tar; larger chunks make those trips rarer.
 */
const GUNZIP_CHUNK_BYTES = 128 * 1024;
/** zstd's error output kept for the error message. */
const MAX_STDERR_BYTES = 4096;

const MEDIA_TYPES: ReadonlyMap<string, Compression> = new Map([
  ["application/vnd.oci.image.layer.v1.tar", "none"],
  ["application/vnd.oci.image.layer.v1.tar+gzip", "gzip"],
  ["application/vnd.oci.image.layer.v1.tar+zstd", "zstd"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar", "none"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"],
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "zstd"],
  // Docker image manifest v2 schema 2: layers are always gzip; the uncompressed type is used by
  // some tools for docker-archive tarballs.
  ["application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"],
  ["application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"],
  ["application/vnd.docker.image.rootfs.diff.tar", "none"],
]);

/**
 * The compression a layer media type declares, or undefined for a media type that is not a layer
 * rkt can read (e.g. `+bzip2`, `+encrypted`).
 *
 * @example
 * compressionOfMediaType("application/vnd.oci.image.layer.v1.tar+zstd"); // "zstd"
 */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  return MEDIA_TYPES.get(mediaType.trim().toLowerCase());
}

/**
 * The compression the first bytes of a blob show: gzip (RFC 1952 ID1 ID2 = 1f 8b), zstd
 * (28 b5 2f fd), otherwise plain tar.
 *
 * @example
 * sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])); // "gzip"
 */
export function sniffCompression(head: Uint8Array): Compression {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length >= GZIP_MAGIC.length && buf.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return "gzip";
  if (buf.length >= ZSTD_MAGIC.length && buf.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return "zstd";
  return "none";
}

export interface DecompressOptions {
  /**
   * The layer's media type from its descriptor. An unknown type is refused ("unimplemented"); a
   * known one is only a hint, since the content's magic bytes decide (see `decompress`).
   */
  readonly mediaType?: string;
  /** Aborting destroys the stream with an AbortError and kills zstd. */
  readonly signal?: AbortSignal;
  /** The zstd executable (default `zstd` from PATH). */
  readonly zstdPath?: string;
}

/**
 * A Duplex stream: compressed layer bytes in, tar bytes out.
 *
 * The first bytes decide the decompressor, not the media type: registries and tools do serve
 * layers whose media type says gzip while the blob is plain tar (and the digest, which rkt checked
 * before this, is of the blob as served). containerd and Docker sniff for the same reason. A plain
 * tar cannot start with either magic: its first bytes are an entry name.
 *
 * gzip uses node:zlib. Node 20 has no zstd, so zstd runs `zstd -dc` as a child process: its exit
 * status is checked before the stream ends (a truncated or corrupt frame fails the stream with
 * zstd's message), and the child is killed when the stream is destroyed or the signal aborts.
 * A missing zstd binary is a "failed-precondition" error with a hint.
 *
 * @example
 * await pipeline(createReadStream(blobPath), decompress({ mediaType, signal }), createWriteStream(tarPath));
 */
export function decompress(options: DecompressOptions = {}): Duplex {
  if (options.mediaType !== undefined && compressionOfMediaType(options.mediaType) === undefined) {
    throw new RktError("unimplemented", `unsupported layer media type ${JSON.stringify(options.mediaType)}`, {
      hint: "rkt reads OCI and Docker layers that are plain tar, tar+gzip or tar+zstd",
    });
  }
  const stream = new Decompressor(options.zstdPath ?? "zstd");
  if (options.signal !== undefined) addAbortSignal(options.signal, stream);
  return stream;
}

function forward(input: Writable, chunk: Buffer, callback: (error?: Error | null) => void): void {
  if (input.write(chunk)) callback();
  else input.once("drain", () => callback());
}

/**
 * Buffers the first bytes until the format is known, then forwards writes to the decompressor's
 * input and pushes its output, with backpressure both ways.
 */
class Decompressor extends Duplex {
  private head: Buffer[] = [];
  private headBytes = 0;
  private input: Writable | undefined;
  private output: Readable | undefined;
  private child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private stderr = "";

  constructor(private readonly zstdPath: string) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.input !== undefined) {
      forward(this.input, chunk, callback);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) {
      callback();
      return;
    }
    const input = this.start();
    const head = Buffer.concat(this.head);
    this.head = [];
    forward(input, head, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    let input = this.input;
    if (input === undefined) {
      // Shorter than the magic numbers: plain tar (and tar-stream will say it is too short).
      input = this.start();
      const head = Buffer.concat(this.head);
      this.head = [];
      if (head.length > 0) input.write(head);
    }
    input.end();
    callback();
  }

  override _read(): void {
    this.output?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.killChild();
    this.input?.destroy();
    this.output?.destroy();
    callback(error);
  }

  /** Picks the decompressor from the buffered head and returns its input side. */
  private start(): Writable {
    const compression = sniffCompression(Buffer.concat(this.head).subarray(0, SNIFF_BYTES));
    if (compression === "zstd") return this.startZstd();
    const inner = compression === "gzip" ? createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }) : new PassThrough();
    inner.on("error", (err) => {
      this.destroy(new RktError("invalid-argument", `decompressing gzip layer: ${describe(err)}`, { cause: err }));
    });
    this.input = inner;
    this.output = inner;
    this.wireOutput(inner, () => Promise.resolve());
    return inner;
  }

  private startZstd(): Writable {
    const child = spawn(this.zstdPath, ["-dc"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    const exit = new Promise<void>((resolve, reject) => {
      child.once("error", (err) => {
        reject(
          errnoCode(err) === "ENOENT"
            ? new RktError("failed-precondition", `decompressing zstd layer: ${this.zstdPath} is not installed`, {
                hint: "install zstd (Debian: apt-get install zstd)",
                cause: err,
              })
            : new RktError("internal", `decompressing zstd layer: running ${this.zstdPath}: ${describe(err)}`, { cause: err }),
        );
      });
      child.once("close", (code, signal) => {
        if (code === 0) resolve();
        else {
          const why = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
          const detail = this.stderr.trim();
          reject(new RktError("invalid-argument", `decompressing zstd layer: zstd failed (${why})${detail === "" ? "" : `: ${detail}`}`));
        }
      });
    });
    // Report the exit status rather than whichever pipe broke first; the promise settles once.
    exit.catch((err: unknown) => this.destroy(err as Error));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      if (this.stderr.length < MAX_STDERR_BYTES) this.stderr += text.slice(0, MAX_STDERR_BYTES - this.stderr.length);
    });
    // EPIPE when zstd exits early on bad input: the exit status says why.
    child.stdin.on("error", () => undefined);
    child.stdout.on("error", () => undefined);
    this.input = child.stdin;
    this.output = child.stdout;
    this.wireOutput(child.stdout, () => exit);
    return child.stdin;
  }

  /** Pushes `output`'s data; ends this stream once `done` (e.g. zstd's exit status) is fine. */
  private wireOutput(output: Readable, done: () => Promise<void>): void {
    output.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) output.pause();
    });
    output.once("end", () => {
      done().then(
        () => this.push(null),
        () => undefined, // already destroyed this stream with the error
      );
    });
  }

  private killChild(): void {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
