/**
 * SPDY/3 frames on the wire (draft-mbelshe-httpbis-spdy-00 section 2.2; SPDY/3.1 only adds the
 * session-wide WINDOW_UPDATE on stream 0). Every frame has an 8-byte header:
 *
 * ```
 * control: |1| version (15) | type (16) | flags (8) | length (24) | data
 * data:    |0| stream id (31)           | flags (8) | length (24) | data
 * ```
 *
 * Header blocks are carried compressed; {@link SpdyFrameParser} hands them out raw and the
 * session decompresses them in order (the compression state spans the whole session).
 */

/** The protocol version in every control frame. */
export const SPDY_VERSION = 3;
/** The largest payload a frame can carry (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xffffff;

/** Control frame types. */
export const FrameType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

/** FLAG_FIN (control and data frames) and FLAG_UNIDIRECTIONAL (SYN_STREAM). */
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (section 2.4.2). */
export const RstStatus = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  frameTooLarge: 11,
} as const;

/** GOAWAY status codes (section 2.6.6). */
export const GoAwayStatus = { ok: 0, protocolError: 1, internalError: 2 } as const;

/** SETTINGS ids we read (section 2.6.4). */
export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

/** One decoded frame. Header blocks are still compressed. */
export type SpdyFrame =
  | { readonly kind: "data"; readonly streamId: number; readonly flags: number; readonly data: Buffer }
  | { readonly kind: "syn-stream"; readonly streamId: number; readonly associatedId: number; readonly priority: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: "syn-reply"; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: "headers"; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: "rst-stream"; readonly streamId: number; readonly status: number }
  | { readonly kind: "settings"; readonly flags: number; readonly entries: readonly { readonly flags: number; readonly id: number; readonly value: number }[] }
  | { readonly kind: "ping"; readonly id: number }
  | { readonly kind: "go-away"; readonly lastGoodStreamId: number; readonly status: number }
  | { readonly kind: "window-update"; readonly streamId: number; readonly delta: number }
  | { readonly kind: "unknown"; readonly type: number; readonly version: number };

/** A frame that breaks the framing rules: the session cannot go on (GOAWAY PROTOCOL_ERROR). */
export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpdyProtocolError";
  }
}

function header(first: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`SPDY frame payload of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(first >>> 0, 0);
  h.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4);
  return h;
}

function control(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([header((0x8000 | SPDY_VERSION) * 0x10000 + type, flags, payload.length), payload]);
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

/** The 8-byte header of a DATA frame (the payload follows as its own write). */
export function dataFrameHeader(streamId: number, flags: number, length: number): Buffer {
  return header(streamId & 0x7fffffff, flags, length);
}

/** SYN_STREAM with an already compressed header block. */
export function synStreamFrame(streamId: number, associatedId: number, priority: number, flags: number, headerBlock: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(associatedId & 0x7fffffff, 4);
  fixed[8] = (priority & 0x7) << 5;
  fixed[9] = 0; // credential slot
  return control(FrameType.synStream, flags, Buffer.concat([fixed, headerBlock]));
}

/** SYN_REPLY with an already compressed header block. */
export function synReplyFrame(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return control(FrameType.synReply, flags, Buffer.concat([u32s(streamId & 0x7fffffff), headerBlock]));
}

/** RST_STREAM. */
export function rstStreamFrame(streamId: number, status: number): Buffer {
  return control(FrameType.rstStream, 0, u32s(streamId & 0x7fffffff, status));
}

/** SETTINGS with (id, value) entries, no flags. */
export function settingsFrame(entries: readonly { readonly id: number; readonly value: number }[]): Buffer {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    b.writeUInt32BE(e.id & 0xffffff, 4 + i * 8);
    b.writeUInt32BE(e.value >>> 0, 8 + i * 8);
  });
  return control(FrameType.settings, 0, b);
}

/** PING. */
export function pingFrame(id: number): Buffer {
  return control(FrameType.ping, 0, u32s(id));
}

/** GOAWAY (SPDY/3 form, with a status). */
export function goAwayFrame(lastGoodStreamId: number, status: number): Buffer {
  return control(FrameType.goAway, 0, u32s(lastGoodStreamId & 0x7fffffff, status));
}

/** WINDOW_UPDATE; stream 0 is the whole session (SPDY/3.1). */
export function windowUpdateFrame(streamId: number, delta: number): Buffer {
  return control(FrameType.windowUpdate, 0, u32s(streamId & 0x7fffffff, delta & 0x7fffffff));
}

/**
 * Splits a byte stream into frames. Feed it chunks with {@link push}; {@link next} returns the
 * next complete frame or undefined. Throws SpdyProtocolError for frames that cannot be parsed.
 */
export class SpdyFrameParser {
  private chunks: Buffer[] = [];
  private size = 0;

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  next(): SpdyFrame | undefined {
    if (this.size < 8) return undefined;
    const head = this.peek(8);
    const length = head.readUInt32BE(4) & 0xffffff;
    if (this.size < 8 + length) return undefined;
    this.take(8);
    const payload = this.take(length);
    const first = head.readUInt32BE(0);
    const flags = head[4] ?? 0;
    if ((first & 0x80000000) === 0) return { kind: "data", streamId: first & 0x7fffffff, flags, data: payload };
    const version = (first >>> 16) & 0x7fff;
    const type = first & 0xffff;
    if (version !== SPDY_VERSION) return { kind: "unknown", type, version };
    return parseControl(type, flags, payload);
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.size -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      if (c === undefined) throw new Error("SpdyFrameParser: internal accounting error");
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return out;
  }
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame of ${payload.length} bytes is shorter than ${n}`);
}

function parseControl(type: number, flags: number, p: Buffer): SpdyFrame {
  switch (type) {
    case FrameType.synStream:
      need(p, 10, "SYN_STREAM");
      return { kind: "syn-stream", streamId: p.readUInt32BE(0) & 0x7fffffff, associatedId: p.readUInt32BE(4) & 0x7fffffff, priority: (p[8] ?? 0) >> 5, flags, headerBlock: p.subarray(10) };
    case FrameType.synReply:
      need(p, 4, "SYN_REPLY");
      return { kind: "syn-reply", streamId: p.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: p.subarray(4) };
    case FrameType.headers:
      need(p, 4, "HEADERS");
      return { kind: "headers", streamId: p.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: p.subarray(4) };
    case FrameType.rstStream:
      need(p, 8, "RST_STREAM");
      return { kind: "rst-stream", streamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) };
    case FrameType.settings: {
      need(p, 4, "SETTINGS");
      const count = p.readUInt32BE(0);
      if (p.length !== 4 + count * 8) throw new SpdyProtocolError(`SETTINGS frame says ${count} entries but has ${p.length} bytes`);
      const entries = [];
      for (let i = 0; i < count; i++) {
        const word = p.readUInt32BE(4 + i * 8);
        entries.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { kind: "settings", flags, entries };
    }
    case FrameType.ping:
      need(p, 4, "PING");
      return { kind: "ping", id: p.readUInt32BE(0) };
    case FrameType.goAway:
      need(p, 4, "GOAWAY");
      return { kind: "go-away", lastGoodStreamId: p.readUInt32BE(0) & 0x7fffffff, status: p.length >= 8 ? p.readUInt32BE(4) : 0 };
    case FrameType.windowUpdate:
      need(p, 8, "WINDOW_UPDATE");
      return { kind: "window-update", streamId: p.readUInt32BE(0) & 0x7fffffff, delta: p.readUInt32BE(4) & 0x7fffffff };
    default:
      // NOOP (5, SPDY/2), CREDENTIAL (10) and anything newer: ignored, as section 2.2.1 asks.
      return { kind: "unknown", type, version: SPDY_VERSION };
  }
}
