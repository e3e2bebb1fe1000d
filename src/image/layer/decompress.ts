/**
 * Turning a layer blob as stored (tar, tar+gzip or tar+zstd; image-spec layer.md "+gzip Media
 * Types", "+zstd Media Types") into the plain tar stream it carries. ACI files (appc aci.md
 * "Image Archives": tar, possibly gzip, bzip2 or xz compressed) come through here too, with the
 * compressions they allow (`compressions`).
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { addAbortSignal, Duplex, PassThrough, type Readable, type Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import { describe, errnoCode, RktError } from "../../lib/errors.js";

export type Compression = "none" | "gzip" | "zstd" | "bzip2" | "xz";

/** The compressions that magic bytes can reveal (everything but "none"). */
export type CompressionFormat = Exclude<Compression, "none">;

/** What OCI and Docker layers may be compressed with: what `decompress` recognizes by default. */
export const LAYER_COMPRESSIONS: readonly CompressionFormat[] = ["gzip", "zstd"];
/** What an ACI may be compressed with (appc aci.md, "Image Archives"). */
export const ACI_COMPRESSIONS: readonly CompressionFormat[] = ["gzip", "bzip2", "xz"];

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** RFC 8878 section 3.1.1: the zstd frame magic number 0xFD2FB528, little-endian. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** The xz file format, section 2.1.1.1: the stream header magic bytes. */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
/** bzip2: "BZh" then the block size digit '1'..'9'. */
const BZIP2_MAGIC = /^BZh[1-9]$/;
const SNIFF_BYTES = 6;
/**
 * gzip output chunk size. zlib's default (16 KiB) means one trip through every stream stage after
 * it (digest, tar parsing, file writes) per 16 KiB of tar; larger chunks make those trips rarer.
 */
const GUNZIP_CHUNK_BYTES = 128 * 1024;
/** A child decompressor's error output kept for the error message. */
const MAX_STDERR_BYTES = 4096;

/** The decompressors that run as child processes, and the Debian packages that hold them. */
type ExternalTool = "zstd" | "bzip2" | "xz";
const DEBIAN_PACKAGES: Readonly<Record<ExternalTool, string>> = { zstd: "zstd", bzip2: "bzip2", xz: "xz-utils" };

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
 * The compression the first bytes of a blob show, among `formats` (default gzip and zstd, what
 * layers use): gzip (RFC 1952 ID1 ID2 = 1f 8b), zstd (28 b5 2f fd), bzip2 ("BZh1".."BZh9"), xz
 * (fd "7zXZ" 00); otherwise plain tar. bzip2 and xz are only looked for when asked (ACIs): "BZh9"
 * could also begin a tar entry name, so layers keep their stricter reading.
 *
 * @example
 * sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])); // "gzip"
 * sniffCompression(Buffer.from("BZh91AY&SY"), ACI_COMPRESSIONS); // "bzip2"
 */
export function sniffCompression(head: Uint8Array, formats: readonly CompressionFormat[] = LAYER_COMPRESSIONS): Compression {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const starts = (magic: Buffer): boolean => buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);
  if (formats.includes("gzip") && starts(GZIP_MAGIC)) return "gzip";
  if (formats.includes("zstd") && starts(ZSTD_MAGIC)) return "zstd";
  if (formats.includes("xz") && starts(XZ_MAGIC)) return "xz";
  if (formats.includes("bzip2") && buf.length >= 4 && BZIP2_MAGIC.test(buf.subarray(0, 4).toString("latin1"))) return "bzip2";
  return "none";
}

export interface DecompressOptions {
  /**
   * The layer's media type from its descriptor. An unknown type is refused ("unimplemented"); a
   * known one is only a hint, since the content's magic bytes decide (see `decompress`).
   */
  readonly mediaType?: string;
  /** Aborting destroys the stream with an AbortError and kills a zstd, bzip2 or xz child. */
  readonly signal?: AbortSignal;
  /** The zstd executable (default `zstd` from PATH). */
  readonly zstdPath?: string;
  /** The bzip2 executable (default `bzip2` from PATH). */
  readonly bzip2Path?: string;
  /** The xz executable (default `xz` from PATH). */
  readonly xzPath?: string;
  /**
   * The compressions recognized by their magic bytes (default `LAYER_COMPRESSIONS`: gzip and
   * zstd); anything else passes through as plain tar. `ACI_COMPRESSIONS` for ACI files; `[]` for
   * content that must already be a plain tar (an ACI as the store keeps it).
   */
  readonly compressions?: readonly CompressionFormat[];
  /** What the content is, for error messages ("layer", the default; "ACI"). */
  readonly what?: string;
}

/**
 * A Duplex stream: compressed layer bytes in, tar bytes out.
 *
 * The first bytes decide the decompressor, not the media type: registries and tools do serve
 * layers whose media type says gzip while the blob is plain tar (and the digest, which rkt checked
 * before this, is of the blob as served). containerd and Docker sniff for the same reason. A plain
 * tar cannot start with the gzip, zstd or xz magic: its first bytes are an entry name, which is
 * text (see `sniffCompression` for bzip2).
 *
 * gzip uses node:zlib. Node 20 has no zstd, bzip2 or xz, so those run `zstd -dc` (`bzip2 -dc`,
 * `xz -dc`) as a child process: its exit status is checked before the stream ends (a truncated or
 * corrupt frame fails the stream with the tool's message), and the child is killed when the
 * stream is destroyed or the signal aborts. A missing binary is a "failed-precondition" error
 * with a hint.
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
  const stream = new Decompressor(options.compressions ?? LAYER_COMPRESSIONS, options.what ?? "layer", {
    zstd: options.zstdPath ?? "zstd",
    bzip2: options.bzip2Path ?? "bzip2",
    xz: options.xzPath ?? "xz",
  });
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

  constructor(
    private readonly formats: readonly CompressionFormat[],
    private readonly what: string,
    private readonly tools: Readonly<Record<ExternalTool, string>>,
  ) {
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
    const compression = sniffCompression(Buffer.concat(this.head).subarray(0, SNIFF_BYTES), this.formats);
    if (compression === "zstd" || compression === "bzip2" || compression === "xz") return this.startTool(compression);
    const inner = compression === "gzip" ? createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }) : new PassThrough();
    inner.on("error", (err) => {
      this.destroy(new RktError("invalid-argument", `decompressing gzip ${this.what}: ${describe(err)}`, { cause: err }));
    });
    this.input = inner;
    this.output = inner;
    this.wireOutput(inner, () => Promise.resolve());
    return inner;
  }

  private startTool(tool: ExternalTool): Writable {
    const path = this.tools[tool];
    const context = `decompressing ${tool} ${this.what}`;
    const child = spawn(path, ["-dc"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    const exit = new Promise<void>((resolve, reject) => {
      child.once("error", (err) => {
        reject(
          errnoCode(err) === "ENOENT"
            ? new RktError("failed-precondition", `${context}: ${path} is not installed`, {
                hint: `install ${tool} (Debian: apt-get install ${DEBIAN_PACKAGES[tool]})`,
                cause: err,
              })
            : new RktError("internal", `${context}: running ${path}: ${describe(err)}`, { cause: err }),
        );
      });
      child.once("close", (code, signal) => {
        if (code === 0) resolve();
        else {
          const why = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
          const detail = this.stderr.trim();
          reject(new RktError("invalid-argument", `${context}: ${tool} failed (${why})${detail === "" ? "" : `: ${detail}`}`));
        }
      });
    });
    // Report the exit status rather than whichever pipe broke first; the promise settles once.
    exit.catch((err: unknown) => this.destroy(err as Error));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      if (this.stderr.length < MAX_STDERR_BYTES) this.stderr += text.slice(0, MAX_STDERR_BYTES - this.stderr.length);
    });
    // EPIPE when the tool exits early on bad input: the exit status says why.
    child.stdin.on("error", () => undefined);
    child.stdout.on("error", () => undefined);
    this.input = child.stdin;
    this.output = child.stdout;
    this.wireOutput(child.stdout, () => exit);
    return child.stdin;
  }

  /** Pushes `output`'s data; ends this stream once `done` (e.g. the tool's exit status) is fine. */
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
