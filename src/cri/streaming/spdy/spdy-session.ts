/**
 * A SPDY/3.1 session over any byte stream (a TCP socket after the HTTP/1.1 Upgrade, or a
 * WebSocket tunnel): streams opened by either side, each a Node Duplex; header compression;
 * PING, GOAWAY, RST_STREAM; and flow control (draft-mbelshe-httpbis-spdy-00 section 2.6.8, plus
 * SPDY/3.1's session window: WINDOW_UPDATE on stream 0).
 *
 * Flow control and Kubernetes: the SPDY library every Kubernetes client and kubelet use (Go's
 * moby/spdystream) neither sends WINDOW_UPDATE nor honours one. So:
 * - receiving, we grant window as the application consumes data, and never reset a stream for
 *   overrunning it; a stream whose unread data grows past twice the window pauses the whole
 *   socket until it drains (head-of-line blocking is the only brake such a peer leaves us);
 * - sending, we keep to the peer's windows. A peer that has shown flow control (it sent a
 *   WINDOW_UPDATE or a SETTINGS with INITIAL_WINDOW_SIZE) is held to it for the whole session;
 *   one that has not, and lets a blocked send wait `flowControlGraceMs` without any update, is
 *   taken not to do flow control, and the windows stop applying.
 *
 * @example
 * const session = new SpdySession(socket, { server: true });
 * session.on("stream", (stream: SpdyStream) => { stream.reply(); stream.pipe(stream); });
 */
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import { decodeHeaderBlock, encodeHeaderBlock, HeaderBlockError, HeaderCompressor, HeaderDecompressor, type HeaderMap } from "./header-block.js";
import {
  dataFrameHeader,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  GoAwayStatus,
  goAwayFrame,
  pingFrame,
  RstStatus,
  rstStreamFrame,
  SETTINGS_INITIAL_WINDOW_SIZE,
  settingsFrame,
  type SpdyFrame,
  SpdyFrameParser,
  SpdyProtocolError,
  synReplyFrame,
  synStreamFrame,
  windowUpdateFrame,
} from "./spdy-frame.js";

/** The window every stream and the session start with (section 2.6.8). */
export const DEFAULT_WINDOW = 64 * 1024;
const MAX_WINDOW = 0x7fffffff;
/** The largest DATA frame we send: small frames keep streams interleaved. */
const MAX_DATA_FRAME = 16 * 1024;

/** Options of {@link SpdySession}. */
export interface SpdySessionOptions {
  /** The side that accepted the connection: its streams get even ids, the peer's odd ones. */
  readonly server: boolean;
  /** The receive window offered per stream; announced with SETTINGS when not the default. */
  readonly receiveWindow?: number;
  /** See the module comment. Default 250 ms. */
  readonly flowControlGraceMs?: number;
  /** Streams the peer may have open at once; more are refused (RST REFUSED_STREAM). Default 1000. */
  readonly maxStreams?: number;
}

/** A stream was reset (RST_STREAM) by the peer, or the session ended under it. */
export class SpdyStreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "SpdyStreamError";
  }
}

type Waiter = () => void;

/**
 * One SPDY session. Emits `stream` (a {@link SpdyStream} the peer opened: call `reply()` to
 * accept it, `reset()` to refuse it), `goaway` (the peer will open no more streams) and `close`
 * (the transport is gone; every stream is finished or destroyed).
 */
export class SpdySession extends EventEmitter {
  /** Streams by id, while open in at least one direction. */
  readonly streams = new Map<number, SpdyStream>();
  /** Set once the peer sent GOAWAY. */
  peerGoneAway = false;
  /** Whether the peer has shown that it does flow control (see the module comment). */
  flowControl: "unknown" | "enforced" | "ignored" = "unknown";
  private readonly parser = new SpdyFrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private sentGoAway = false;
  private closed = false;
  /** The window each stream gives us to send in, as the peer set it. */
  private peerInitialWindow = DEFAULT_WINDOW;
  /** What we may still send on the whole session. */
  sessionSendWindow = DEFAULT_WINDOW;
  /** Bytes taken off the session receive window and not yet granted back. */
  private sessionUnacked = 0;
  readonly receiveWindow: number;
  private readonly graceMs: number;
  private readonly maxStreams: number;
  private windowWaiters = new Set<Waiter>();
  private drainWaiters: Waiter[] = [];
  private readonly pausedBy = new Set<SpdyStream>();
  private nextPingId: number;
  private readonly pings = new Map<number, () => void>();

  constructor(
    private readonly socket: Duplex,
    options: SpdySessionOptions,
  ) {
    super();
    this.nextStreamId = options.server ? 2 : 1;
    this.nextPingId = options.server ? 2 : 1;
    this.receiveWindow = options.receiveWindow ?? DEFAULT_WINDOW;
    this.graceMs = options.flowControlGraceMs ?? 250;
    this.maxStreams = options.maxStreams ?? 1000;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    });
    socket.on("error", (err: Error) => this.destroy(err));
    socket.on("close", () => this.destroy());
    socket.on("end", () => this.destroy());
    if (this.receiveWindow !== DEFAULT_WINDOW) this.write(settingsFrame([{ id: SETTINGS_INITIAL_WINDOW_SIZE, value: this.receiveWindow }]));
  }

  /** True once the transport is gone. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens a stream (the client side of a protocol). */
  openStream(headers: Iterable<readonly [string, string]>, options: { fin?: boolean } = {}): SpdyStream {
    if (this.closed) throw new SpdyStreamError("the SPDY session is closed", RstStatus.cancel);
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, new Map([...headers].map(([k, v]) => [k.toLowerCase(), [v]])), true);
    this.streams.set(id, stream);
    this.write(synStreamFrame(id, 0, 0, options.fin === true ? FLAG_FIN : 0, this.compressor.compress(encodeHeaderBlock(headers))));
    if (options.fin === true) stream.markLocalClosed();
    return stream;
  }

  /** Sends a PING and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    const start = performance.now();
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error("the SPDY session is closed"));
        return;
      }
      this.pings.set(id, () => resolve(performance.now() - start));
      this.write(pingFrame(id));
    });
  }

  /**
   * Ends the session gracefully: GOAWAY, then the transport is closed once everything written
   * has gone out (and destroyed if the peer has not hung up 10 seconds later).
   */
  close(): void {
    if (this.closed) return;
    this.goAway(GoAwayStatus.ok);
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 10_000);
    timer.unref();
  }

  /** Sends GOAWAY: no more streams from the peer will be accepted. */
  goAway(status: number): void {
    if (this.sentGoAway || this.closed) return;
    this.sentGoAway = true;
    this.write(goAwayFrame(this.lastPeerStreamId, status));
  }

  /** Tears the session down at once; open streams are destroyed with an error. */
  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.windowWaiters) w();
    this.windowWaiters.clear();
    for (const w of this.drainWaiters) w();
    this.drainWaiters = [];
    for (const stream of [...this.streams.values()]) stream.destroy(new SpdyStreamError(err === undefined ? "the SPDY session ended" : `the SPDY session failed: ${err.message}`, RstStatus.cancel));
    this.streams.clear();
    this.pings.clear();
    this.socket.destroy();
    this.emit("close", err);
  }

  // ---- used by SpdyStream ----

  /** Writes bytes to the transport; false when it is full (see {@link drained}). */
  write(data: Buffer): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return true;
    return this.socket.write(data);
  }

  /** Resolves when the transport can take more. */
  drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Compresses a header block for a SYN_REPLY or HEADERS frame. */
  compressHeaders(headers: Iterable<readonly [string, string]>): Buffer {
    return this.compressor.compress(encodeHeaderBlock(headers));
  }

  /** A new stream's send window, as the peer's SETTINGS say. */
  get initialSendWindow(): number {
    return this.peerInitialWindow;
  }

  /**
   * Waits until `stream` may send, and takes up to `wanted` bytes (at most one frame) off its
   * window and the session's. Resolves 0 when the stream or session closed meanwhile.
   */
  async acquire(stream: SpdyStream, wanted: number): Promise<number> {
    const want = Math.min(wanted, MAX_DATA_FRAME);
    for (;;) {
      if (this.closed || stream.destroyed) return 0;
      if (this.flowControl === "ignored") return want;
      const n = Math.min(want, stream.sendWindow, this.sessionSendWindow);
      if (n > 0) {
        stream.sendWindow -= n;
        this.sessionSendWindow -= n;
        return n;
      }
      await this.waitForWindow();
    }
  }

  private waitForWindow(): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.windowWaiters.delete(wake);
        resolve();
      };
      this.windowWaiters.add(wake);
      if (this.flowControl === "unknown") {
        timer = setTimeout(() => {
          if (this.flowControl === "unknown") this.flowControl = "ignored";
          this.wakeWindowWaiters();
        }, this.graceMs);
      }
    });
  }

  /**
   * The peer spoke about windows: it does flow control. Unless we already concluded it does not
   * (its windows were not kept since, so enforcing them now could wait forever).
   */
  private learnFlowControl(): void {
    if (this.flowControl === "unknown") this.flowControl = "enforced";
  }

  private wakeWindowWaiters(): void {
    for (const w of [...this.windowWaiters]) w();
  }

  /** Grants window back for bytes the application consumed. */
  consumed(stream: SpdyStream | undefined, bytes: number): void {
    const threshold = Math.max(1, this.receiveWindow >> 1);
    if (stream !== undefined) {
      stream.unacked += bytes;
      if (stream.unacked >= threshold) {
        this.write(windowUpdateFrame(stream.id, stream.unacked));
        stream.unacked = 0;
      }
    }
    this.sessionUnacked += bytes;
    if (this.sessionUnacked >= DEFAULT_WINDOW >> 1) {
      this.write(windowUpdateFrame(0, this.sessionUnacked));
      this.sessionUnacked = 0;
    }
  }

  /** A stream's unread data piled up (the peer ignores our window): stop reading the transport. */
  pauseFor(stream: SpdyStream): void {
    this.pausedBy.add(stream);
    this.socket.pause();
  }

  /** The stream drained: read again when no other stream holds the transport. */
  resumeFor(stream: SpdyStream): void {
    if (!this.pausedBy.delete(stream)) return;
    if (this.pausedBy.size === 0 && !this.closed) this.socket.resume();
  }

  /** Forgets a stream that is closed both ways (or reset). */
  forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    this.resumeFor(stream);
  }

  // ---- frames from the peer ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.parser.push(chunk);
    try {
      for (let frame = this.parser.next(); frame !== undefined && !this.closed; frame = this.parser.next()) this.handle(frame);
    } catch (err) {
      if (err instanceof SpdyProtocolError || err instanceof HeaderBlockError) {
        this.goAway(GoAwayStatus.protocolError);
        this.socket.end();
        this.destroy(err);
        return;
      }
      throw err;
    }
  }

  private handle(frame: SpdyFrame): void {
    switch (frame.kind) {
      case "data": {
        const stream = this.streams.get(frame.streamId);
        if (stream === undefined) {
          // Still counts against the session window; the stream is gone (or never was).
          this.consumed(undefined, frame.data.length);
          this.write(rstStreamFrame(frame.streamId, frame.streamId <= Math.max(this.lastPeerStreamId, this.nextStreamId) ? RstStatus.streamAlreadyClosed : RstStatus.invalidStream));
          return;
        }
        stream.receive(frame.data, (frame.flags & FLAG_FIN) !== 0);
        return;
      }
      case "syn-stream": {
        const headers = decodeHeaderBlock(this.decompressor.decompress(frame.headerBlock));
        this.onSynStream(frame.streamId, frame.flags, headers);
        return;
      }
      case "syn-reply": {
        const headers = decodeHeaderBlock(this.decompressor.decompress(frame.headerBlock));
        const stream = this.streams.get(frame.streamId);
        if (stream === undefined) return;
        stream.onReply(headers);
        if ((frame.flags & FLAG_FIN) !== 0) stream.receive(Buffer.alloc(0), true);
        return;
      }
      case "headers": {
        decodeHeaderBlock(this.decompressor.decompress(frame.headerBlock));
        const stream = this.streams.get(frame.streamId);
        if (stream !== undefined && (frame.flags & FLAG_FIN) !== 0) stream.receive(Buffer.alloc(0), true);
        return;
      }
      case "rst-stream":
        this.streams.get(frame.streamId)?.onReset(frame.status);
        return;
      case "settings":
        for (const e of frame.entries) {
          if (e.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          const delta = e.value - this.peerInitialWindow;
          this.peerInitialWindow = e.value;
          for (const s of this.streams.values()) s.sendWindow += delta;
          this.learnFlowControl();
          this.wakeWindowWaiters();
        }
        return;
      case "ping":
        if (frame.id % 2 === this.nextPingId % 2) {
          const done = this.pings.get(frame.id);
          this.pings.delete(frame.id);
          done?.();
        } else {
          this.write(pingFrame(frame.id));
        }
        return;
      case "go-away":
        this.peerGoneAway = true;
        this.emit("goaway", frame.lastGoodStreamId, frame.status);
        return;
      case "window-update":
        if (frame.delta === 0) return;
        this.learnFlowControl();
        if (frame.streamId === 0) {
          this.sessionSendWindow = Math.min(MAX_WINDOW, this.sessionSendWindow + frame.delta);
        } else {
          const stream = this.streams.get(frame.streamId);
          if (stream !== undefined) stream.sendWindow = Math.min(MAX_WINDOW, stream.sendWindow + frame.delta);
        }
        this.wakeWindowWaiters();
        return;
      case "unknown":
        return;
    }
  }

  private onSynStream(id: number, flags: number, headers: Map<string, string[]>): void {
    const peerParity = this.nextStreamId % 2 === 0 ? 1 : 0;
    if (id === 0 || id % 2 !== peerParity || id <= this.lastPeerStreamId) {
      this.write(rstStreamFrame(id, RstStatus.protocolError));
      return;
    }
    this.lastPeerStreamId = id;
    if (this.sentGoAway || this.streams.size >= this.maxStreams || this.listenerCount("stream") === 0) {
      this.write(rstStreamFrame(id, RstStatus.refusedStream));
      return;
    }
    const stream = new SpdyStream(this, id, headers, false);
    this.streams.set(id, stream);
    if ((flags & FLAG_UNIDIRECTIONAL) !== 0) stream.markLocalClosed();
    this.emit("stream", stream);
    if ((flags & FLAG_FIN) !== 0) stream.receive(Buffer.alloc(0), true);
  }
}

/**
 * One SPDY stream: a Duplex whose writable side sends DATA frames (end() sends FIN) and whose
 * readable side yields the peer's DATA (ending at the peer's FIN).
 */
export class SpdyStream extends Duplex {
  /** What may still be sent before the peer grants more. */
  sendWindow: number;
  /** Received bytes the application consumed that were not yet granted back. */
  unacked = 0;
  /** The peer's reply headers (streams we opened), once they came. */
  replyHeaders: HeaderMap | undefined;
  private replied: boolean;
  private localClosed = false;
  private remoteClosed = false;
  private waitingRead = 0;
  private replyWaiters: (() => void)[] = [];

  constructor(
    private readonly session: SpdySession,
    /** The stream id. */
    readonly id: number,
    /** The headers the stream was opened with (names lower case). */
    readonly headers: HeaderMap,
    private readonly outgoing: boolean,
  ) {
    super({ allowHalfOpen: true });
    this.sendWindow = session.initialSendWindow;
    // An outgoing stream may carry data before its SYN_REPLY; an incoming one needs ours first.
    this.replied = outgoing;
  }

  /** The first value of header `name`, or undefined. */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Accepts a stream the peer opened (SYN_REPLY). */
  reply(headers: Iterable<readonly [string, string]> = [], options: { fin?: boolean } = {}): void {
    if (this.replied || this.destroyed) return;
    this.replied = true;
    const fin = options.fin === true;
    this.session.write(synReplyFrame(this.id, fin ? FLAG_FIN : 0, this.session.compressHeaders(headers)));
    if (fin) {
      this.markLocalClosed();
      this.end();
    }
  }

  /** Resolves once the peer answered a stream we opened (SYN_REPLY). */
  waitReply(): Promise<void> {
    if (this.replyHeaders !== undefined || !this.outgoing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.replyWaiters.push(resolve);
      this.once("error", reject);
    });
  }

  /** Sends RST_STREAM (default CANCEL) and destroys the stream. */
  reset(status: number = RstStatus.cancel): void {
    if (this.destroyed) return;
    this.session.write(rstStreamFrame(this.id, status));
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this);
    this.destroy();
  }

  /** @internal The stream was opened with FLAG_UNIDIRECTIONAL, or we sent FIN outside end(). */
  markLocalClosed(): void {
    this.localClosed = true;
    this.maybeForget();
  }

  /** @internal DATA (and/or FIN) from the peer. */
  receive(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) {
      if (data.length > 0) this.session.write(rstStreamFrame(this.id, RstStatus.streamAlreadyClosed));
      return;
    }
    if (data.length > 0) {
      if (this.push(data)) this.session.consumed(fin ? undefined : this, data.length);
      else this.waitingRead += data.length;
      if (this.readableLength > 2 * this.session.receiveWindow) this.session.pauseFor(this);
    }
    if (fin) {
      this.remoteClosed = true;
      this.push(null);
      this.maybeForget();
    }
  }

  /** @internal SYN_REPLY from the peer. */
  onReply(headers: HeaderMap): void {
    this.replyHeaders = headers;
    const waiters = this.replyWaiters;
    this.replyWaiters = [];
    for (const w of waiters) w();
  }

  /** @internal RST_STREAM from the peer. */
  onReset(status: number): void {
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this);
    this.destroy(new SpdyStreamError(`stream ${this.id} was reset by the peer (status ${status})`, status));
  }

  override _read(): void {
    if (this.waitingRead > 0) {
      const n = this.waitingRead;
      this.waitingRead = 0;
      this.session.consumed(this.remoteClosed ? undefined : this, n);
    }
    this.session.resumeFor(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk).then(() => callback(), (err: unknown) => callback(err as Error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.localClosed || this.session.isClosed) {
      callback();
      return;
    }
    this.ensureReplied();
    this.session.write(dataFrameHeader(this.id, FLAG_FIN, 0));
    this.localClosed = true;
    this.maybeForget();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!(this.localClosed && this.remoteClosed) && !this.session.isClosed) {
      this.session.write(rstStreamFrame(this.id, RstStatus.cancel));
    }
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this);
    callback(error);
  }

  private async send(chunk: Buffer): Promise<void> {
    if (this.localClosed) throw new SpdyStreamError(`write on stream ${this.id} after its end`, RstStatus.streamAlreadyClosed);
    this.ensureReplied();
    let off = 0;
    while (off < chunk.length) {
      const n = await this.session.acquire(this, chunk.length - off);
      if (n === 0) throw new SpdyStreamError(`stream ${this.id} closed while writing`, RstStatus.cancel);
      const part = chunk.subarray(off, off + n);
      this.session.write(dataFrameHeader(this.id, 0, part.length));
      this.session.write(part);
      off += n;
    }
    await this.session.drained();
  }

  private ensureReplied(): void {
    if (!this.replied) this.reply();
  }

  private maybeForget(): void {
    if (this.localClosed && this.remoteClosed) this.session.forget(this);
  }
}
