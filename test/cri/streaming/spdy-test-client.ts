/**
 * A SPDY/3.1 client for the streaming tests, written apart from the server's session code:
 * frames are built and parsed here, and header blocks go through one streaming zlib deflate and
 * inflate per direction (the way Go's spdy framer does it), so a bug shared with the server's
 * codec would not hide. It records everything the server sends and lets a test decide when to
 * grant flow-control window.
 */
import type { Socket } from "node:net";
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY_DICTIONARY } from "../../../src/cri/streaming/spdy/spdy-dictionary.js";
import { upgradeRequest, type UpgradeResponse } from "./upgrade-request.js";

/** What the client saw of one stream. */
export interface ClientStream {
  readonly id: number;
  data: Buffer;
  fin: boolean;
  replied: boolean;
  reset: number | undefined;
}

/** A frame from the server, decoded. */
export type ServerFrame =
  | { kind: "data"; streamId: number; fin: boolean; data: Buffer }
  | { kind: "control"; type: number; flags: number; payload: Buffer; headers?: Map<string, string> };

/** Options of {@link SpdyTestClient.connect}. */
export interface SpdyConnectOptions {
  /** X-Stream-Protocol-Version values, in order. */
  readonly protocols: readonly string[];
  readonly method?: string;
  /** Grant window back as data arrives (a flow-controlling peer). Default false (like Go's spdystream). */
  readonly autoWindowUpdate?: boolean;
  /** Send SETTINGS INITIAL_WINDOW_SIZE first: tells the server we do flow control. */
  readonly announceWindow?: number;
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

function headerBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) {
    const kb = Buffer.from(k.toLowerCase());
    const vb = Buffer.from(v);
    parts.push(u32(kb.length), kb, u32(vb.length), vb);
  }
  return Buffer.concat(parts);
}

function parseHeaderBlock(block: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 4;
  const n = block.readUInt32BE(0);
  for (let i = 0; i < n; i++) {
    const kl = block.readUInt32BE(off);
    const k = block.subarray(off + 4, off + 4 + kl).toString();
    off += 4 + kl;
    const vl = block.readUInt32BE(off);
    const v = block.subarray(off + 4, off + 4 + vl).toString();
    off += 4 + vl;
    out.set(k, v);
  }
  return out;
}

/** Runs a zlib stream over one header block and resolves with what it produced. */
function zlibStep(z: Deflate | Inflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (d: Buffer): void => {
      out.push(d);
    };
    z.on("data", onData);
    z.once("error", reject);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      z.off("error", reject);
      resolve(Buffer.concat(out));
    });
  });
}

/** The test client. */
export class SpdyTestClient {
  readonly streams = new Map<number, ClientStream>();
  readonly frames: ServerFrame[] = [];
  /** Window the server has granted us, per stream and for the session (0). */
  readonly granted = new Map<number, number>();
  closed = false;
  private nextId = 1;
  private buf = Buffer.alloc(0);
  private readonly deflate = createDeflate({ dictionary: SPDY_DICTIONARY });
  private readonly inflate = createInflate({ dictionary: SPDY_DICTIONARY });
  private sendChain: Promise<void> = Promise.resolve();
  private recvChain: Promise<void> = Promise.resolve();
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: Socket,
    readonly response: UpgradeResponse,
    private readonly autoWindowUpdate: boolean,
  ) {
    socket.on("data", (c: Buffer) => this.onData(c));
    // Closed only once every frame that came before the close is handled.
    socket.on("close", () => {
      void this.recvChain.then(() => {
        this.closed = true;
        this.notify();
      });
    });
    socket.on("error", () => undefined);
    if (response.rest.length > 0) this.onData(response.rest);
    socket.resume();
  }

  /** Upgrades `url` to SPDY; resolves with the client, or the refusal if it was not 101. */
  static async connect(url: string, options: SpdyConnectOptions): Promise<{ client: SpdyTestClient | undefined; response: UpgradeResponse }> {
    const res = await upgradeRequest(url, options.method ?? "POST", [
      ["Connection", "Upgrade"],
      ["Upgrade", "SPDY/3.1"],
      ...options.protocols.map((p) => ["X-Stream-Protocol-Version", p] as const),
    ]);
    if (res.status !== 101) return { client: undefined, response: res };
    const client = new SpdyTestClient(res.socket, res, options.autoWindowUpdate === true);
    if (options.announceWindow !== undefined) client.raw(controlFrame(4, 0, Buffer.concat([u32(1), u32(7), u32(options.announceWindow)])));
    return { client, response: res };
  }

  /** Opens a stream with `headers`; resolves once the SYN_STREAM is written. */
  async open(headers: Record<string, string>, fin = false): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const stream: ClientStream = { id, data: Buffer.alloc(0), fin: false, replied: false, reset: undefined };
    this.streams.set(id, stream);
    await this.enqueue(async () => {
      const block = await zlibStep(this.deflate, headerBlock(headers));
      const fixed = Buffer.concat([u32(id, 0), Buffer.from([0, 0])]);
      this.socket.write(controlFrame(1, fin ? 1 : 0, Buffer.concat([fixed, block])));
    });
    return stream;
  }

  /** Sends DATA (in frames of at most `frame` bytes). */
  async send(id: number, data: Buffer | string, fin = false, frame = 1 << 20): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    await this.enqueue(() => {
      let off = 0;
      do {
        const part = bytes.subarray(off, off + frame);
        off += part.length;
        const last = off >= bytes.length;
        const head = Buffer.alloc(8);
        head.writeUInt32BE(id & 0x7fffffff, 0);
        head.writeUInt32BE((((last && fin ? 1 : 0) << 24) | part.length) >>> 0, 4);
        this.socket.write(Buffer.concat([head, part]));
      } while (off < bytes.length);
      return Promise.resolve();
    });
  }

  /** Sends WINDOW_UPDATE (stream 0: the session). */
  windowUpdate(id: number, delta: number): void {
    this.raw(controlFrame(9, 0, u32(id, delta)));
  }

  /** Sends PING. */
  ping(id: number): void {
    this.raw(controlFrame(6, 0, u32(id)));
  }

  /** Sends RST_STREAM. */
  reset(id: number, status = 5): void {
    this.raw(controlFrame(3, 0, u32(id, status)));
  }

  /** Any bytes, as they are. */
  raw(bytes: Buffer): void {
    void this.enqueue(() => {
      this.socket.write(bytes);
      return Promise.resolve();
    });
  }

  /** Waits until `check` is true (re-checked on every frame and at close). */
  async until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(20, Math.max(1, end - Date.now())));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The frames of a control type received so far (1 SYN_STREAM ... 9 WINDOW_UPDATE). */
  controls(type: number): (ServerFrame & { kind: "control" })[] {
    return this.frames.filter((f): f is ServerFrame & { kind: "control" } => f.kind === "control" && f.type === type);
  }

  /** Data bytes received on a stream, as text. */
  text(id: number): string {
    return this.streams.get(id)?.data.toString("utf8") ?? "";
  }

  close(): void {
    this.socket.destroy();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    this.sendChain = this.sendChain.then(fn);
    return this.sendChain;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 8) return;
      const len = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + len) return;
      const frame = this.buf.subarray(0, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.recvChain = this.recvChain.then(() => this.handle(frame)).then(() => this.notify());
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    const first = frame.readUInt32BE(0);
    const flags = frame[4] ?? 0;
    const payload = frame.subarray(8);
    if ((first & 0x80000000) === 0) {
      const id = first & 0x7fffffff;
      const fin = (flags & 1) !== 0;
      this.frames.push({ kind: "data", streamId: id, fin, data: payload });
      const s = this.streams.get(id);
      if (s !== undefined) {
        s.data = Buffer.concat([s.data, payload]);
        if (fin) s.fin = true;
      }
      if (this.autoWindowUpdate && payload.length > 0) {
        this.windowUpdate(id, payload.length);
        this.windowUpdate(0, payload.length);
      }
      return;
    }
    const type = first & 0xffff;
    if (type === 2) {
      const id = payload.readUInt32BE(0) & 0x7fffffff;
      const headers = parseHeaderBlock(await zlibStep(this.inflate, payload.subarray(4)));
      this.frames.push({ kind: "control", type, flags, payload, headers });
      const s = this.streams.get(id);
      if (s !== undefined) {
        s.replied = true;
        if ((flags & 1) !== 0) s.fin = true;
      }
      return;
    }
    this.frames.push({ kind: "control", type, flags, payload });
    if (type === 3) {
      const s = this.streams.get(payload.readUInt32BE(0) & 0x7fffffff);
      if (s !== undefined) s.reset = payload.readUInt32BE(4);
    } else if (type === 9) {
      const id = payload.readUInt32BE(0) & 0x7fffffff;
      this.granted.set(id, (this.granted.get(id) ?? 0) + payload.readUInt32BE(4));
    } else if (type === 6 && payload.readUInt32BE(0) % 2 === 0) {
      this.ping(payload.readUInt32BE(0));
    }
  }
}
