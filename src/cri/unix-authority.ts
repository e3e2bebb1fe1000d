/**
 * Kubelets before 1.26 (grpc-go dialling a unix socket by path) send the socket's path, or
 * nothing, as the HTTP/2 `:authority` of every CRI call. Node's HTTP/2 layer (nghttp2) refuses
 * both: RFC 3986 has no `/` in an authority, and an empty one is not allowed either, so each call
 * ends in RST_STREAM PROTOCOL_ERROR before gRPC sees it (Kubernetes changed its clients to send
 * `localhost`, kubernetes/kubernetes#112597; Debian's kubelet 1.20 predates that). So rkt cri
 * accepts the socket's connections itself and rewrites, on the way in, the `:authority` of each
 * request's header block (RFC 7540 §6.2, §6.10; RFC 7541) before handing the connection to the
 * gRPC server. Everything else passes byte for byte, and nothing is changed in the other
 * direction.
 *
 * HPACK keeps a dynamic table on both ends (RFC 7541 §2.3.2): a field the client adds to it is
 * referred to later by index. The rewrite keeps every representation as it was (indexed stays
 * indexed, "with incremental indexing" stays that) and only replaces a literal `:authority`
 * value with one that is never longer (`localhost` when the old value is a plain string of 9
 * bytes or more, else `x`), so the server's entries are never bigger than the client's, and
 * the server never evicts an entry the client may still name (§4.4). The value is recognised
 * where clients put it: a literal whose name is the static table's `:authority` (index 1), or a
 * plain literal name `:authority`; an empty authority, sent as the static table's entry 1 itself,
 * becomes a literal "x" without indexing. Only an empty literal value grows (by one byte).
 */
import { Duplex } from "node:stream";
import type { Socket } from "node:net";

/** The HTTP/2 client connection preface (RFC 7540 §3.5). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value: frames we write never exceed it. */
const MAX_FRAME = 16_384;

/**
 * The socket, as the gRPC server should see it: the same bytes, with valid `:authority` values.
 *
 * @example
 * net.createServer((socket) => injector.injectConnection(new AuthorityFixingSocket(socket)));
 */
export class AuthorityFixingSocket extends Duplex {
  private readonly parser = new RequestHeaderRewriter();

  constructor(private readonly socket: Socket) {
    super();
    socket.on("data", (chunk: Buffer) => {
      const out = this.parser.push(chunk);
      if (out.length > 0 && !this.push(out)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (err) => this.destroy(err));
    socket.on("close", () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

/**
 * The client-to-server byte stream of one HTTP/2 connection, header blocks rewritten. Anything it
 * cannot parse is passed on unchanged (the server then says what is wrong with it).
 */
export class RequestHeaderRewriter {
  private pending: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE.length;
  /** A HEADERS frame waiting for its CONTINUATION frames. */
  private open: { flags: number; stream: number; priority: Buffer; block: Buffer[] } | undefined;
  private passThrough = false;

  /** Feeds bytes from the client; returns the bytes to give the server now. */
  push(chunk: Buffer): Buffer {
    if (this.passThrough) return chunk;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, this.pending.length);
      out.push(this.pending.subarray(0, n));
      this.pending = this.pending.subarray(n);
      this.prefaceLeft -= n;
      if (this.prefaceLeft > 0) return Buffer.concat(out);
    }
    while (this.pending.length >= 9) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) break;
      const type = this.pending[3] ?? 0;
      const flags = this.pending[4] ?? 0;
      const stream = this.pending.readUInt32BE(5) & 0x7fffffff;
      const frame = this.pending.subarray(0, 9 + length);
      const payload = frame.subarray(9);
      this.pending = this.pending.subarray(9 + length);
      if (type === HEADERS && this.open === undefined) {
        let body = payload;
        if ((flags & PADDED) !== 0) {
          const pad = body[0] ?? 0;
          if (pad >= body.length) return this.giveUp(out, frame);
          body = body.subarray(1, body.length - pad);
        }
        let priority: Buffer = Buffer.alloc(0);
        if ((flags & PRIORITY) !== 0) {
          if (body.length < 5) return this.giveUp(out, frame);
          priority = body.subarray(0, 5);
          body = body.subarray(5);
        }
        this.open = { flags, stream, priority, block: [body] };
      } else if (type === CONTINUATION && this.open !== undefined && stream === this.open.stream) {
        this.open.block.push(payload);
      } else if (this.open !== undefined) {
        return this.giveUp(out, frame);
      } else {
        out.push(frame);
        continue;
      }
      if ((flags & END_HEADERS) !== 0 && this.open !== undefined) {
        // END_HEADERS came on this frame (the HEADERS frame's own, or a CONTINUATION's).
        out.push(...headerFrames(this.open.stream, this.open.flags | END_HEADERS, this.open.priority, rewriteAuthority(Buffer.concat(this.open.block))));
        this.open = undefined;
      }
    }
    return Buffer.concat(out);
  }

  /** Stops rewriting for good: what was held back and everything after goes through as it came. */
  private giveUp(out: Buffer[], frame: Buffer): Buffer {
    this.passThrough = true;
    if (this.open !== undefined) out.push(...headerFrames(this.open.stream, this.open.flags & ~END_HEADERS, this.open.priority, Buffer.concat(this.open.block)));
    this.open = undefined;
    out.push(frame, this.pending);
    this.pending = Buffer.alloc(0);
    return Buffer.concat(out);
  }
}

/** HEADERS (and CONTINUATION) frames carrying `block`, unpadded, within the initial frame size. */
function headerFrames(stream: number, flags: number, priority: Buffer, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const first = MAX_FRAME - priority.length;
  const parts = [block.subarray(0, first)];
  for (let off = first; off < block.length; off += MAX_FRAME) parts.push(block.subarray(off, off + MAX_FRAME));
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const head = Buffer.alloc(9);
    const body = i === 0 ? Buffer.concat([priority, part]) : part;
    head.writeUIntBE(body.length, 0, 3);
    head[3] = i === 0 ? HEADERS : CONTINUATION;
    // END_STREAM and PRIORITY belong to the HEADERS frame; END_HEADERS to the last one.
    head[4] = (i === 0 ? flags & ~(PADDED | END_HEADERS) : 0) | (last ? flags & END_HEADERS : 0);
    head.writeUInt32BE(stream, 5);
    frames.push(head, body);
  });
  return frames;
}

/**
 * The header block with every literal `:authority` value replaced (see the module comment);
 * unchanged when it cannot be parsed.
 */
export function rewriteAuthority(block: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  try {
    while (pos < block.length) {
      const b = block[pos] ?? 0;
      if ((b & 0x80) !== 0) {
        // Indexed field (§6.1). Static entry 1 is `:authority` with an empty value, which is how
        // an empty authority is sent: say "x" instead, without indexing (the tables stay as
        // they are).
        const { value: index, end } = readInteger(block, pos, 7);
        out.push(index === 1 ? Buffer.concat([Buffer.from([0x01]), encodeString("x")]) : block.subarray(pos, end));
        pos = end;
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3).
        const end = integerEnd(block, pos, 5);
        out.push(block.subarray(pos, end));
        pos = end;
        continue;
      }
      // Literal field: with incremental indexing (01, 6-bit index), without indexing (0000) or
      // never indexed (0001) (§6.2), the name by index (non-zero) or as a string.
      const prefix = (b & 0xc0) === 0x40 ? 6 : 4;
      const { value: index, end: indexEnd } = readInteger(block, pos, prefix);
      let nameEnd = indexEnd;
      let isAuthority = index === 1;
      if (index === 0) {
        const name = readString(block, indexEnd);
        nameEnd = name.end;
        isAuthority = !name.huffman && block.subarray(name.start, name.end).toString("latin1") === ":authority";
      }
      const value = readString(block, nameEnd);
      if (!isAuthority) {
        out.push(block.subarray(pos, value.end));
      } else {
        const plain = value.huffman ? undefined : block.subarray(value.start, value.end).toString("latin1");
        const replacement = plain !== undefined && validAuthority(plain) ? plain : plain !== undefined && plain.length >= 9 ? "localhost" : "x";
        out.push(block.subarray(pos, nameEnd), encodeString(replacement));
      }
      pos = value.end;
    }
  } catch {
    return block;
  }
  return Buffer.concat(out);
}

/** An authority nghttp2 accepts: non-empty, RFC 3986 reg-name / IP literal characters and a port. */
function validAuthority(text: string): boolean {
  return /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]+$/.test(text);
}

function readInteger(buf: Buffer, pos: number, prefix: number): { value: number; end: number } {
  const max = (1 << prefix) - 1;
  let value = (buf[pos] ?? fail()) & max;
  let i = pos + 1;
  if (value < max) return { value, end: i };
  let shift = 0;
  for (;;) {
    const b = buf[i++] ?? fail();
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return { value, end: i };
    if (shift > 28) fail();
  }
}

function integerEnd(buf: Buffer, pos: number, prefix: number): number {
  return readInteger(buf, pos, prefix).end;
}

function readString(buf: Buffer, pos: number): { huffman: boolean; start: number; end: number } {
  const huffman = ((buf[pos] ?? fail()) & 0x80) !== 0;
  const { value: length, end: start } = readInteger(buf, pos, 7);
  if (start + length > buf.length) fail();
  return { huffman, start, end: start + length };
}

/** A plain (not Huffman-coded) string literal; `text` is shorter than 127 bytes. */
function encodeString(text: string): Buffer {
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text, "latin1")]);
}

function fail(): never {
  throw new Error("truncated header block");
}
