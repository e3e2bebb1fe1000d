/**
 * The server end of a WebSocket connection (RFC 6455) after the opening handshake: frames
 * (section 5.2), client masking (5.3), fragmented messages (5.4), ping/pong (5.5.2-3), the
 * closing handshake (5.5.1, 7) and UTF-8 checking of text messages (8.1). No extensions are
 * negotiated, so the RSV bits must be zero.
 *
 * @example
 * const ws = new WebSocketConnection(socket, head);
 * ws.on("message", (data: Buffer, binary: boolean) => ws.send(data, binary));
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";

/** Close codes used here (section 7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Options of {@link WebSocketConnection}. */
export interface WebSocketOptions {
  /** Messages larger than this close the connection with 1009. Default 32 MiB. */
  readonly maxMessageBytes?: number;
}

/** Encodes one unmasked (server) frame. */
export function encodeFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 0x10000 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    head[1] = len;
  } else if (len < 0x10000) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

/**
 * One WebSocket connection. Emits `message` (payload, isBinary), `ping`, `pong`, and `close`
 * (code, reason) exactly once when the connection is gone, whoever ended it.
 */
export class WebSocketConnection extends EventEmitter {
  private chunks: Buffer[] = [];
  private size = 0;
  private fragments: Buffer[] = [];
  private fragmentsSize = 0;
  private fragmentOpcode = 0;
  private closeSent = false;
  private closed = false;
  private readonly maxMessage: number;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(
    private readonly socket: Duplex,
    head: Buffer = Buffer.alloc(0),
    options: WebSocketOptions = {},
  ) {
    super();
    this.maxMessage = options.maxMessageBytes ?? 32 * 1024 * 1024;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.finish(CloseCode.abnormal, ""));
    socket.on("close", () => this.finish(CloseCode.abnormal, ""));
    socket.on("end", () => this.finish(CloseCode.abnormal, ""));
    if (head.length > 0) queueMicrotask(() => this.onData(head));
  }

  /** True once the connection is gone (or closing: nothing more can be sent). */
  get isClosed(): boolean {
    return this.closed || this.closeSent;
  }

  /** Sends one message; false when the transport is full (see {@link drained}). */
  send(data: Buffer | string, binary = typeof data !== "string"): boolean {
    if (this.isClosed) return true;
    const payload = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    return this.socket.write(encodeFrame(binary ? OP.binary : OP.text, payload));
  }

  /** Resolves when the transport can take more. */
  drained(): Promise<void> {
    if (this.isClosed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off("drain", done);
        this.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.on("close", done);
    });
  }

  /** Sends a ping (at most 125 bytes of payload). */
  ping(payload: Buffer = Buffer.alloc(0)): void {
    if (!this.isClosed) this.socket.write(encodeFrame(OP.ping, payload.subarray(0, 125)));
  }

  /** Stops reading from the transport (the consumer is behind). */
  pause(): void {
    this.socket.pause();
  }

  /** Reads from the transport again. */
  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  /**
   * Starts the closing handshake: sends a close frame, ends the transport once written, and
   * destroys it if the peer has not hung up within 5 seconds.
   */
  close(code: number = CloseCode.normal, reason = ""): void {
    if (this.closed) return;
    if (!this.closeSent) {
      this.closeSent = true;
      const r = Buffer.from(reason, "utf8").subarray(0, 123);
      const payload = Buffer.alloc(2 + r.length);
      payload.writeUInt16BE(code, 0);
      r.copy(payload, 2);
      this.socket.write(encodeFrame(OP.close, payload));
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 5000);
      timer.unref();
    }
  }

  /** Drops the connection without a closing handshake. */
  destroy(): void {
    this.socket.destroy();
    this.finish(CloseCode.abnormal, "");
  }

  /** The connection is over; the transport is destroyed unless our close frame is on its way out. */
  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.closeSent) this.socket.destroy();
    this.emit("close", code, reason);
  }

  private fail(code: number, reason: string): void {
    this.close(code, reason);
    this.finish(code, reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (!this.closed && this.parseFrame());
  }

  /** The first `n` buffered bytes (fewer if fewer are buffered), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && (first.length >= n || this.chunks.length === 1)) return first.subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  /** Parses and handles one frame; false when more bytes are needed. */
  private parseFrame(): boolean {
    if (this.size < 2) return false;
    const head = this.peek(14);
    const b0 = head[0] ?? 0;
    const b1 = head[1] ?? 0;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) {
      this.fail(CloseCode.protocolError, "reserved bits set without an extension");
      return false;
    }
    // Section 5.1: a server must close the connection on an unmasked client frame.
    if (!masked) {
      this.fail(CloseCode.protocolError, "client frames must be masked");
      return false;
    }
    let len = b1 & 0x7f;
    let off = 2;
    if (len === 126) {
      if (head.length < 4) return false;
      len = head.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (head.length < 10) return false;
      const big = head.readBigUInt64BE(2);
      if (big > BigInt(this.maxMessage)) {
        this.fail(CloseCode.tooBig, "frame too large");
        return false;
      }
      len = Number(big);
      off = 10;
    }
    const total = off + 4 + len;
    if (this.size < total) return false;
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const mask = buf.subarray(off, off + 4);
    const payload = Buffer.from(buf.subarray(off + 4, total));
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    const rest = buf.subarray(total);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    this.handleFrame(fin, opcode, payload);
    return true;
  }

  private handleFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) {
        this.fail(CloseCode.protocolError, "control frames must be whole and at most 125 bytes");
        return;
      }
      if (opcode === OP.close) this.onClose(payload);
      else if (opcode === OP.ping) {
        if (!this.isClosed) this.socket.write(encodeFrame(OP.pong, payload));
        this.emit("ping", payload);
      } else if (opcode === OP.pong) this.emit("pong", payload);
      else this.fail(CloseCode.protocolError, `unknown control opcode ${opcode}`);
      return;
    }
    if (opcode === OP.continuation) {
      if (this.fragmentOpcode === 0) {
        this.fail(CloseCode.protocolError, "continuation frame without a message to continue");
        return;
      }
    } else if (opcode === OP.text || opcode === OP.binary) {
      if (this.fragmentOpcode !== 0) {
        this.fail(CloseCode.protocolError, "new message before the previous one ended");
        return;
      }
      this.fragmentOpcode = opcode;
    } else {
      this.fail(CloseCode.protocolError, `unknown data opcode ${opcode}`);
      return;
    }
    this.fragmentsSize += payload.length;
    if (this.fragmentsSize > this.maxMessage) {
      this.fail(CloseCode.tooBig, "message too large");
      return;
    }
    this.fragments.push(payload);
    if (!fin) return;
    const message = this.fragments.length === 1 ? (this.fragments[0] as Buffer) : Buffer.concat(this.fragments);
    const binary = this.fragmentOpcode === OP.binary;
    this.fragments = [];
    this.fragmentsSize = 0;
    this.fragmentOpcode = 0;
    if (!binary) {
      try {
        this.decoder.decode(message);
      } catch {
        this.fail(CloseCode.invalidPayload, "text message is not UTF-8");
        return;
      }
    }
    this.emit("message", message, binary);
  }

  private onClose(payload: Buffer): void {
    let code: number = CloseCode.noStatus;
    let reason = "";
    if (payload.length === 1) {
      this.fail(CloseCode.protocolError, "close frame with a 1-byte payload");
      return;
    }
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      try {
        reason = this.decoder.decode(payload.subarray(2));
      } catch {
        this.fail(CloseCode.invalidPayload, "close reason is not UTF-8");
        return;
      }
    }
    // Echo the close (section 5.5.1), then the transport ends.
    this.close(code === CloseCode.noStatus ? CloseCode.normal : code);
    this.finish(code, reason);
  }
}
