/**
 * A WebSocket as a plain byte stream: the payloads of binary messages in order, and writes sent
 * as binary messages. KEP 4006 tunnels a whole SPDY session this way (subprotocol
 * `SPDY/3.1+portforward.k8s.io`): message boundaries mean nothing there.
 */
import { Duplex } from "node:stream";
import { CloseCode, type WebSocketConnection } from "./websocket-connection.js";

/**
 * The Duplex over `ws`. end() closes the WebSocket normally; the readable side ends when the
 * WebSocket closes.
 *
 * @example
 * const session = new SpdySession(new WebSocketByteStream(ws), { server: true });
 */
export class WebSocketByteStream extends Duplex {
  private paused = false;

  constructor(private readonly ws: WebSocketConnection) {
    super();
    ws.on("message", (data: Buffer, binary: boolean) => {
      if (!binary || data.length === 0) return;
      if (!this.push(data) && !this.paused) {
        this.paused = true;
        ws.pause();
      }
    });
    ws.on("close", () => {
      this.push(null);
      this.destroy();
    });
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.ws.send(chunk, true);
    this.ws.drained().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ws.close(CloseCode.normal);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ws.isClosed) this.ws.close(error === null ? CloseCode.normal : CloseCode.internalError);
    callback(error);
  }
}
