/**
 * Private to src/image/layer: a pass-through stream that reads tar headers ahead of tar-stream's
 * extract, for two things tar-stream cannot do:
 *
 * 1. Limits. tar-stream buffers PAX and GNU long-name headers up to a fixed 4 MiB before looking
 *    at them. Layers are hostile, so rkt refuses a PAX header over `maxPaxBytes` (1 MiB) and a GNU
 *    long name over `maxNameBytes` before buffering it, and sizes past 2^53.
 * 2. Binary-safe xattrs. tar-stream decodes PAX values as UTF-8, which mangles binary values such
 *    as `SCHILY.xattr.security.capability` (a `struct vfs_cap_data`). The scanner keeps the raw
 *    bytes and hands them out by the entry's data offset, which tar-stream reports as
 *    `header.byteOffset` for the same entry.
 *
 * It follows tar-stream's reading of the stream exactly (which headers are metadata, how a PAX
 * `size` overrides the header, that a directory's data is not skipped), so both agree on where each
 * header is. POSIX.1-2001 pax format: records are "LENGTH KEY=VALUE\n", LENGTH counting the whole
 * record in decimal.
 */
import { Transform, type TransformCallback } from "node:stream";
import { RktError } from "../../lib/errors.js";

export interface TarHeaderLimits {
  readonly maxPaxBytes: number;
  readonly maxNameBytes: number;
}

const BLOCK = 512;
const XATTR_PREFIX = "SCHILY.xattr.";

// Type flags as tar-stream numbers them (byte - '0'): x, g, K, L, N, and 5 (directory).
const PAX = 72;
const PAX_GLOBAL = 55;
const GNU_LONG_LINK = 27;
const GNU_LONG_PATH = 28;
const GNU_OLD_LONG_PATH = 30;
const DIRECTORY = 5;
const REGULAR = 0;

type State =
  | { readonly kind: "header" }
  | { readonly kind: "meta"; readonly typeflag: number; readonly size: number; readonly chunks: Buffer[]; got: number }
  | { readonly kind: "skip"; remaining: number };

export class TarHeaderScanner extends Transform {
  private state: State = { kind: "header" };
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Absolute offset of the next byte the state machine consumes. */
  private offset = 0;
  private pax: Map<string, Buffer> | null = null;
  private paxGlobal: Map<string, Buffer> | null = null;
  private readonly xattrs = new Map<number, ReadonlyMap<string, Buffer>>();

  constructor(private readonly limits: TarHeaderLimits) {
    super();
  }

  /**
   * The raw `SCHILY.xattr.*` values of the entry whose data starts at `dataOffset` (tar-stream's
   * `header.byteOffset`), keyed by xattr name. Each entry's xattrs can be taken once.
   */
  takeXattrs(dataOffset: number): ReadonlyMap<string, Buffer> {
    const found = this.xattrs.get(dataOffset);
    if (found === undefined) return new Map();
    this.xattrs.delete(dataOffset);
    return found;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      if (state.kind === "skip") {
        const n = Math.min(state.remaining, chunk.length - at);
        state.remaining -= n;
        at += n;
        this.offset += n;
        if (state.remaining === 0) this.state = { kind: "header" };
      } else if (state.kind === "meta") {
        const n = Math.min(state.size - state.got, chunk.length - at);
        state.chunks.push(chunk.subarray(at, at + n));
        state.got += n;
        at += n;
        this.offset += n;
        if (state.got === state.size) this.finishMeta(state.typeflag, Buffer.concat(state.chunks));
      } else {
        const n = Math.min(BLOCK - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        this.offset += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.onHeader(this.header);
        }
      }
    }
  }

  private onHeader(block: Buffer): void {
    let sum = 8 * 32;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block.readUInt8(i);
    // An all-zero block: end-of-archive padding, which tar-stream steps over.
    if (sum === 8 * 32) return;
    if (sum !== decodeNumber(block, 148, 8)) {
      throw new RktError("invalid-argument", `layer tar: bad header checksum at offset ${this.offset - BLOCK}`);
    }
    const flagByte = block.readUInt8(156);
    let typeflag = flagByte === 0 ? 0 : flagByte - 48;
    const headerSize = decodeNumber(block, 124, 12);

    if (typeflag === PAX || typeflag === PAX_GLOBAL) {
      this.startMeta(typeflag, headerSize, this.limits.maxPaxBytes, "PAX header");
      return;
    }
    if (typeflag === GNU_LONG_PATH || typeflag === GNU_OLD_LONG_PATH || typeflag === GNU_LONG_LINK) {
      // The name plus its NUL terminator.
      this.startMeta(typeflag, headerSize, this.limits.maxNameBytes + 1, "GNU long name");
      return;
    }

    // A real entry: tar-stream emits it and its data starts right here.
    let size = headerSize;
    const pax = this.pax;
    this.pax = null;
    if (pax !== null) {
      const paxSize = pax.get("size");
      // tar-stream applies any non-empty "size" record with parseInt.
      if (paxSize !== undefined && paxSize.length > 0) size = Number.parseInt(paxSize.toString("latin1"), 10);
      const xattrs = new Map<string, Buffer>();
      for (const [key, value] of pax) {
        if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), value);
      }
      if (xattrs.size > 0) this.xattrs.set(this.offset, xattrs);
    }
    if (!(size >= 0) || size > Number.MAX_SAFE_INTEGER) {
      throw new RktError("invalid-argument", `layer tar: entry at offset ${this.offset - BLOCK} has an invalid size`);
    }
    if (typeflag === REGULAR && nameEndsWithSlash(block)) typeflag = DIRECTORY;
    // tar-stream never skips a directory's data (it reads it as the next header); follow suit.
    if (size > 0 && typeflag !== DIRECTORY) this.state = { kind: "skip", remaining: size + padding(size) };
  }

  private startMeta(typeflag: number, size: number, max: number, what: string): void {
    if (!(size >= 0) || size > max) {
      throw new RktError("invalid-argument", `layer tar: ${what} at offset ${this.offset - BLOCK} is ${size} bytes (the limit is ${max})`);
    }
    // An empty one means nothing, and tar-stream 3.2 loses its place in the stream after one
    // (it later skips a whole entry's size as if it were the header's body).
    if (size === 0) throw new RktError("invalid-argument", `layer tar: empty ${what} at offset ${this.offset - BLOCK}`);
    this.state = { kind: "meta", typeflag, size, chunks: [], got: 0 };
  }

  private finishMeta(typeflag: number, body: Buffer): void {
    const pad = padding(body.length);
    this.state = pad > 0 ? { kind: "skip", remaining: pad } : { kind: "header" };
    if (typeflag === PAX_GLOBAL) {
      this.paxGlobal = decodePax(body);
    } else if (typeflag === PAX) {
      // As tar-stream: a global header's records apply under a local one, and only with one.
      const local = decodePax(body);
      this.pax = this.paxGlobal === null ? local : new Map([...this.paxGlobal, ...local]);
    }
  }
}

function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** Whether the entry's name, as tar-stream assembles it (ustar prefix + "/" + name), ends in "/". */
function nameEndsWithSlash(block: Buffer): boolean {
  let nameEnd = block.indexOf(0, 0);
  if (nameEnd === -1 || nameEnd > 100) nameEnd = 100;
  const ustar = block.subarray(257, 263).equals(Buffer.from("ustar\0", "latin1"));
  if (ustar && block[345] !== 0) return nameEnd === 0 || block[nameEnd - 1] === 0x2f;
  return nameEnd > 0 && block[nameEnd - 1] === 0x2f;
}

/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function decodeNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  const first = field.readUInt8(0);
  if ((first & 0x80) !== 0) {
    if (first !== 0x80 && first !== 0xff) return Number.NaN;
    const positive = first === 0x80;
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + (positive ? field.readUInt8(i) : 0xff - field.readUInt8(i));
    return positive ? value : -value;
  }
  let start = 0;
  while (start < field.length && field[start] === 0x20) start++;
  let end = field.indexOf(0x20, start);
  if (end === -1) end = field.length;
  while (start < end && field[start] === 0) start++;
  if (start === end) return 0;
  return Number.parseInt(field.subarray(start, end).toString("latin1"), 8);
}

/**
 * PAX extended header records, values kept as raw bytes. Malformed records are rejected: real tar
 * writers never produce them, and a lenient reader here could disagree with tar-stream's.
 */
function decodePax(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < body.length) {
    if (body.subarray(at).every((b) => b === 0)) break;
    const space = body.indexOf(0x20, at);
    const length = space === -1 ? Number.NaN : Number(body.subarray(at, space).toString("latin1"));
    const end = at + length;
    if (!Number.isInteger(length) || length <= 0 || end > body.length || body[end - 1] !== 0x0a) {
      throw new RktError("invalid-argument", "layer tar: malformed PAX record");
    }
    const record = body.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new RktError("invalid-argument", "layer tar: malformed PAX record");
    records.set(record.subarray(0, eq).toString("utf8"), Buffer.from(record.subarray(eq + 1)));
    at = end;
  }
  return records;
}
