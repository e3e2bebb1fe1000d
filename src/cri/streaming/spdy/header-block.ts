/**
 * SPDY/3 name/value header blocks (draft-mbelshe-httpbis-spdy-00 section 2.6.10) and their zlib
 * compression. Each direction of a session is ONE zlib stream primed with the SPDY dictionary;
 * every header block is a piece of it ending with a SYNC_FLUSH, so it starts on a deflate block
 * boundary.
 *
 * Decompression is synchronous: a raw inflate given, as its dictionary, the last 32 KiB the
 * stream has produced so far (the SPDY dictionary, then earlier header blocks) is in exactly the
 * state the peer's compressor assumed, because deflate back-references reach at most 32 KiB and
 * every block starts fresh after the flush. Compression writes each block as fresh deflate blocks
 * that only refer within themselves (no dictionary): a valid continuation of the stream for any
 * decoder, so no state is kept between blocks and nothing is asynchronous.
 */
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { SPDY_DICTIONARY } from "./spdy-dictionary.js";

/** Header names (lower case) to values; a name sent with several values has several entries. */
export type HeaderMap = ReadonlyMap<string, readonly string[]>;

/** A header block the peer sent cannot be decoded (a session-level PROTOCOL_ERROR). */
export class HeaderBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HeaderBlockError";
  }
}

const WINDOW = 32 * 1024;
/** Refuse header blocks that inflate to more than this: nothing in these protocols comes close. */
const MAX_HEADER_BYTES = 256 * 1024;

/** Adler-32 (RFC 1950 section 8.2): how a zlib header names its preset dictionary. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    // 3800 bytes keep b below 2^32 before the modulo.
    const end = Math.min(i + 3800, data.length);
    for (; i < end; i++) {
      a += data[i] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Encodes headers as an uncompressed SPDY/3 name/value block (32-bit counts and lengths). */
export function encodeHeaderBlock(headers: Iterable<readonly [string, string | readonly string[]]>): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  for (const [name, value] of headers) {
    const values = typeof value === "string" ? [value] : value;
    const n = Buffer.from(name.toLowerCase(), "utf8");
    const v = Buffer.from(values.join("\0"), "utf8");
    const head = Buffer.alloc(4);
    head.writeUInt32BE(n.length, 0);
    const mid = Buffer.alloc(4);
    mid.writeUInt32BE(v.length, 0);
    parts.push(head, n, mid, v);
    count++;
  }
  const countBuf = Buffer.alloc(4);
  countBuf.writeUInt32BE(count, 0);
  return Buffer.concat([countBuf, ...parts]);
}

/** Decodes an uncompressed name/value block; names are lower-cased, repeated names merged. */
export function decodeHeaderBlock(block: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let off = 0;
  const u32 = (): number => {
    if (off + 4 > block.length) throw new HeaderBlockError("header block ends inside a length field");
    const v = block.readUInt32BE(off);
    off += 4;
    return v;
  };
  const bytes = (len: number): Buffer => {
    if (off + len > block.length) throw new HeaderBlockError("header block ends inside a name or value");
    const b = block.subarray(off, off + len);
    off += len;
    return b;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = bytes(u32()).toString("utf8").toLowerCase();
    if (name.length === 0) throw new HeaderBlockError("header block has an empty header name");
    const values = bytes(u32()).toString("utf8").split("\0");
    out.set(name, [...(out.get(name) ?? []), ...values]);
  }
  if (off !== block.length) throw new HeaderBlockError(`header block has ${block.length - off} bytes after its last header`);
  return out;
}

/** The compressing side of one session direction. */
export class HeaderCompressor {
  private started = false;

  /** Compresses one header block; the first call also writes the zlib stream header. */
  compress(block: Buffer): Buffer {
    const body = deflateRawSync(block, { finishFlush: constants.Z_SYNC_FLUSH });
    if (this.started) return body;
    this.started = true;
    // RFC 1950: CMF 0x78 (deflate, 32 KiB window); FLG with FDICT (the SPDY dictionary, named by
    // its Adler-32) and the check bits that make CMF*256+FLG a multiple of 31.
    const cmf = 0x78;
    let flg = 0x20;
    flg += (31 - ((cmf * 256 + flg) % 31)) % 31;
    const head = Buffer.alloc(6);
    head[0] = cmf;
    head[1] = flg;
    head.writeUInt32BE(adler32(SPDY_DICTIONARY), 2);
    return Buffer.concat([head, body]);
  }
}

/** The decompressing side of one session direction. */
export class HeaderDecompressor {
  private history: Buffer = SPDY_DICTIONARY;
  private started = false;

  /** Inflates the next header block of the stream. Throws HeaderBlockError on bad input. */
  decompress(compressed: Buffer): Buffer {
    let data = compressed;
    if (!this.started) {
      if (data.length < 2) throw new HeaderBlockError("the first header block is too short for a zlib header");
      const cmf = data[0] ?? 0;
      const flg = data[1] ?? 0;
      if ((cmf & 0x0f) !== 8 || (cmf * 256 + flg) % 31 !== 0) throw new HeaderBlockError("the header compression stream does not start with a zlib header");
      data = data.subarray(2);
      if ((flg & 0x20) !== 0) {
        if (data.length < 4) throw new HeaderBlockError("the zlib header ends inside its dictionary id");
        const id = data.readUInt32BE(0);
        if (id !== adler32(SPDY_DICTIONARY)) throw new HeaderBlockError(`the peer compresses headers with an unknown dictionary (Adler-32 ${id.toString(16)}), not SPDY/3's`);
        data = data.subarray(4);
      }
      this.started = true;
    }
    let out: Buffer;
    try {
      out = inflateRawSync(data, { dictionary: this.history, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: MAX_HEADER_BYTES });
    } catch (err) {
      throw new HeaderBlockError(`cannot inflate a header block: ${(err as Error).message}`);
    }
    this.history = Buffer.concat([this.history, out]);
    if (this.history.length > WINDOW) this.history = this.history.subarray(this.history.length - WINDOW);
    return out;
  }
}
