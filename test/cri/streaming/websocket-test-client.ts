/**
 * A WebSocket client (RFC 6455) for the streaming tests, written apart from the server's code:
 * it does the opening handshake, masks what it sends, reassembles messages, answers pings, and
 * records every message and the close frame the server sends.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { upgradeRequest, type UpgradeResponse } from "./upgrade-request.js";

/** A message from the server. */
export interface ReceivedMessage {
  readonly binary: boolean;
  readonly data: Buffer;
}

/** The test client. */
export class WebSocketTestClient {
  readonly messages: ReceivedMessage[] = [];
  readonly pongs: Buffer[] = [];
  /** The server's close frame (code, reason), once it came. */
  closeFrame: { code: number; reason: string } | undefined;
  /** The TCP connection is gone. */
  closed = false;
  private buf = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentBinary = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: Socket,
    readonly protocol: string | undefined,
  ) {
    socket.on("data", (c: Buffer) => this.onData(c));
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => undefined);
  }

  /** Opens a WebSocket to `url` offering `protocols`; the refusal when the answer is not 101. */
  static async connect(url: string, protocols: readonly string[], extraHeaders: readonly (readonly [string, string])[] = []): Promise<{ client: WebSocketTestClient | undefined; response: UpgradeResponse }> {
    const key = randomBytes(16).toString("base64");
    const res = await upgradeRequest(url, "GET", [
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Key", key],
      ...(protocols.length > 0 ? [["Sec-WebSocket-Protocol", protocols.join(", ")] as const] : []),
      ...extraHeaders,
    ]);
    if (res.status !== 101) return { client: undefined, response: res };
    const expected = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    if (res.headers.get("sec-websocket-accept")?.[0] !== expected) throw new Error("bad Sec-WebSocket-Accept");
    const client = new WebSocketTestClient(res.socket, res.headers.get("sec-websocket-protocol")?.[0]);
    if (res.rest.length > 0) client.onData(res.rest);
    res.socket.resume();
    return { client, response: res };
  }

  /** Sends a frame (masked unless `mask` is false, to test the server's check). */
  frame(opcode: number, payload: Buffer, options: { fin?: boolean; mask?: boolean } = {}): void {
    const fin = options.fin ?? true;
    const masked = options.mask ?? true;
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 0x10000 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    if (len < 126) head[1] = len;
    else if (len < 0x10000) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    if (!masked) {
      this.socket.write(Buffer.concat([head, payload]));
      return;
    }
    head[1] = (head[1] ?? 0) | 0x80;
    const mask = randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  /** Sends a binary message. */
  sendBinary(data: Buffer): void {
    this.frame(2, data);
  }

  /** Sends a text message. */
  sendText(text: string): void {
    this.frame(1, Buffer.from(text));
  }

  /** Sends bytes on a channel (binary channel protocols). */
  sendChannel(channel: number, data: Buffer | string): void {
    this.sendBinary(Buffer.concat([Buffer.from([channel]), typeof data === "string" ? Buffer.from(data) : data]));
  }

  /** Sends a close frame. */
  sendClose(code = 1000): void {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code, 0);
    this.frame(8, p);
  }

  /** Bytes received on a binary channel so far (the channel byte stripped). */
  channel(n: number): Buffer {
    return Buffer.concat(this.messages.filter((m) => m.binary && m.data[0] === n).map((m) => m.data.subarray(1)));
  }

  /** Bytes received on a base64 channel so far. */
  base64Channel(n: number): Buffer {
    return Buffer.concat(this.messages.filter((m) => !m.binary && m.data[0] === 48 + n).map((m) => Buffer.from(m.data.subarray(1).toString(), "base64")));
  }

  /** Waits until `check` is true. */
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

  close(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0] ?? 0;
      const b1 = this.buf[1] ?? 0;
      if ((b1 & 0x80) !== 0) throw new Error("the server masked a frame");
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) break;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 8) {
        this.closeFrame = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() };
      } else if (opcode === 9) {
        this.frame(10, payload);
      } else if (opcode === 10) {
        this.pongs.push(payload);
      } else {
        if (opcode !== 0) this.fragmentBinary = opcode === 2;
        this.fragments.push(payload);
        if (fin) {
          this.messages.push({ binary: this.fragmentBinary, data: Buffer.concat(this.fragments) });
          this.fragments = [];
        }
      }
    }
    this.notify();
  }
}
