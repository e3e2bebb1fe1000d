/**
 * Kubernetes' channel protocols over a WebSocket (k8s.io/apimachinery wsstream; KEP 4006 for
 * v5): every message starts with a channel number and carries bytes of that channel.
 *
 * - `channel.k8s.io`, `v4.channel.k8s.io`, `v5.channel.k8s.io` (and no subprotocol): binary
 *   messages, first byte the channel.
 * - `base64.channel.k8s.io`, `v4.base64.channel.k8s.io`: text messages, first character the
 *   channel as an ASCII digit (`'0' + n`), the rest base64.
 * - v5 adds the CLOSE signal: a message on channel 255 whose one data byte names a channel the
 *   sender will write no more to (kubectl sends it for stdin at end of input).
 *
 * Each channel is a Readable of what the client sent on it and a Writable for what we send.
 */
import { Readable, Writable } from "node:stream";
import type { WebSocketConnection } from "./websocket-connection.js";

/** The v5 CLOSE signal's channel. */
export const CLOSE_CHANNEL = 255;

/** How channel data is framed. */
export interface ChannelFraming {
  /** Text messages with base64 payloads instead of binary ones. */
  readonly base64: boolean;
  /** Honour the v5 CLOSE signal. */
  readonly closeSignal: boolean;
}

/** The framing a subprotocol name implies (undefined for names that are not channel protocols). */
export function channelFraming(protocol: string): ChannelFraming | undefined {
  switch (protocol) {
    case "":
    case "channel.k8s.io":
    case "v4.channel.k8s.io":
      return { base64: false, closeSignal: false };
    case "v5.channel.k8s.io":
      return { base64: false, closeSignal: true };
    case "base64.channel.k8s.io":
    case "v4.base64.channel.k8s.io":
      return { base64: true, closeSignal: false };
    default:
      return undefined;
  }
}

class ChannelReader extends Readable {
  constructor(private readonly onRead: () => void) {
    super();
  }

  override _read(): void {
    this.onRead();
  }
}

/**
 * Channels 0..count-1 over one WebSocket. Data on channels that are not readable is dropped,
 * and so is data on channel numbers out of range (as wsstream does).
 */
export class ChannelConnection {
  private readonly readers: ChannelReader[] = [];
  private readonly ended: boolean[] = [];
  /** Channels whose reader is full: the WebSocket is not read until they all drained. */
  private readonly full = new Set<number>();

  constructor(
    readonly ws: WebSocketConnection,
    readonly framing: ChannelFraming,
    count: number,
    /** The channels the client may send on; the others' data is dropped. */
    readable: readonly number[],
  ) {
    for (let i = 0; i < count; i++) {
      this.readers.push(new ChannelReader(() => this.drained(i)));
      this.ended.push(!readable.includes(i));
      if (!readable.includes(i)) this.readers[i]?.push(null);
    }
    ws.on("message", (data: Buffer, binary: boolean) => this.onMessage(data, binary));
    ws.on("close", () => {
      for (let i = 0; i < this.readers.length; i++) this.endChannel(i);
    });
  }

  /** What the client sends on `channel`; ends at its CLOSE signal or when the connection ends. */
  reader(channel: number): Readable {
    const r = this.readers[channel];
    if (r === undefined) throw new RangeError(`no channel ${channel}`);
    return r;
  }

  /** A Writable whose writes go out as messages on `channel` (end() sends nothing). */
  writer(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, callback) => {
        this.send(channel, chunk).then(() => callback(), (err: unknown) => callback(err as Error));
      },
    });
  }

  /** Sends one message on `channel`, waiting while the transport is full. */
  async send(channel: number, data: Buffer): Promise<void> {
    if (this.ws.isClosed) return;
    if (this.framing.base64) this.ws.send(String.fromCharCode(48 + channel) + data.toString("base64"), false);
    else this.ws.send(Buffer.concat([Buffer.from([channel]), data]), true);
    await this.ws.drained();
  }

  private onMessage(data: Buffer, binary: boolean): void {
    if (data.length === 0) return;
    let channel = data[0] ?? 0;
    let payload: Buffer;
    if (this.framing.base64) {
      if (binary) return;
      channel -= 48;
      payload = Buffer.from(data.subarray(1).toString("latin1"), "base64");
    } else {
      payload = data.subarray(1);
    }
    if (channel === CLOSE_CHANNEL && this.framing.closeSignal) {
      const which = payload[0];
      if (payload.length === 1 && which !== undefined) this.endChannel(which);
      return;
    }
    const reader = this.readers[channel];
    if (reader === undefined || this.ended[channel] === true || payload.length === 0) return;
    if (!reader.push(payload)) {
      this.full.add(channel);
      this.ws.pause();
    }
  }

  private endChannel(channel: number): void {
    const reader = this.readers[channel];
    if (reader === undefined || this.ended[channel] === true) return;
    this.ended[channel] = true;
    reader.push(null);
    this.drained(channel);
  }

  /** A reader wants more (or ended): read the WebSocket again once no reader is full. */
  private drained(channel: number): void {
    if (!this.full.delete(channel)) return;
    if (this.full.size === 0) this.ws.resume();
  }

}
