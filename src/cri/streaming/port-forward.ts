/**
 * Port forwarding into a pod sandbox (Kubernetes' "portforward" protocols), over SPDY, over
 * WebSocket channels, and as SPDY tunnelled through a WebSocket.
 *
 * SPDY (`portforward.k8s.io`): every forwarded connection is a pair of client-opened streams
 * with the headers `streamType` (`error` then `data`), `port` and `requestID` (older clients
 * leave requestID out: the pair is then the error stream's id and the data stream's id minus
 * 2, as kubelet guesses). Once both are there, the server connects to the port; bytes flow both
 * ways on the data stream; a failure is written as text on the error stream; both streams are
 * closed when the connection ends. A lone stream of a pair is dropped after 30 s.
 *
 * WebSocket (`v4.channel.k8s.io`, `v4.base64.channel.k8s.io`, none; `portforward.k8s.io` too):
 * the ports are fixed by the request; port i gets data channel 2i and error channel 2i+1, and
 * the server starts each channel with the port as 2 little-endian bytes. One connection per
 * port; the WebSocket closes when all have ended.
 *
 * Tunnelled (`SPDY/3.1+portforward.k8s.io`, KEP 4006: kubectl 1.31 and later): the SPDY
 * protocol above, its bytes carried in binary WebSocket messages.
 */
import type { Duplex } from "node:stream";
import { describe } from "../../lib/errors.js";
import { RstStatus } from "./spdy/spdy-frame.js";
import { SpdySession, type SpdyStream } from "./spdy/spdy-session.js";
import type { StreamingBackend } from "./streaming-backend.js";
import { ChannelConnection, channelFraming } from "./websocket/channel-connection.js";
import { CloseCode, type WebSocketConnection } from "./websocket/websocket-connection.js";

/** The port-forward protocol over SPDY. */
export const SPDY_PORT_FORWARD_PROTOCOL = "portforward.k8s.io";
/** The WebSocket subprotocol that tunnels SPDY port forwarding (KEP 4006). */
export const TUNNELED_PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
/** The channel subprotocols for port forwarding over WebSocket, most preferred first. */
export const WEBSOCKET_PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io", "portforward.k8s.io"] as const;

/** A port forward as the CRI request asked for it (what a token stands for). */
export interface PortForwardSessionRequest {
  readonly podSandboxId: string;
  /** The ports asked for; empty means any (SPDY clients name ports per stream). */
  readonly ports: readonly number[];
}

/** Options of the serve functions. */
export interface PortForwardOptions {
  /** How long the second stream of a pair may take. Default 30 000 ms. */
  readonly streamCreationTimeoutMs?: number;
  /** Told about failures only the server sees. */
  readonly log?: (message: string) => void;
}

interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
  timer?: NodeJS.Timeout;
}

/** Serves port forwarding over a SPDY session on `socket`; resolves when the session ends. */
export function servePortForwardOverSpdy(socket: Duplex, request: PortForwardSessionRequest, backend: StreamingBackend, options: PortForwardOptions = {}): Promise<void> {
  const session = new SpdySession(socket, { server: true });
  const pairs = new Map<string, Pair>();
  const connections = new Set<Duplex>();
  const timeoutMs = options.streamCreationTimeoutMs ?? 30_000;
  session.on("stream", (stream: SpdyStream) => {
    stream.on("error", () => undefined);
    const port = parsePort(stream.header("port"));
    const type = stream.header("streamtype");
    if (port === undefined || (type !== "error" && type !== "data") || (request.ports.length > 0 && !request.ports.includes(port))) {
      // kubelet refuses such streams (its handler errs and the stream is reset).
      stream.reset(RstStatus.refusedStream);
      return;
    }
    stream.reply();
    const id = stream.header("requestid") ?? String(type === "error" ? stream.id : stream.id - 2);
    let pair = pairs.get(id);
    if (pair === undefined) {
      const fresh: Pair = {};
      fresh.timer = setTimeout(() => {
        pairs.delete(id);
        if (fresh.error !== undefined) fresh.error.end(`timed out waiting for the data stream of request ${id}`);
        fresh.data?.reset();
      }, timeoutMs);
      pairs.set(id, fresh);
      pair = fresh;
    }
    if (pair[type] !== undefined) {
      stream.end(`error processing stream for request ${id}: ${type} stream already assigned`);
      return;
    }
    pair[type] = stream;
    // The client never writes on its error stream; reading it lets its FIN through.
    if (type === "error") stream.resume();
    const { error, data } = pair;
    if (error !== undefined && data !== undefined) {
      clearTimeout(pair.timer);
      pairs.delete(id);
      void forwardSpdyPair(request.podSandboxId, port, error, data, backend, connections, options);
    }
  });
  return new Promise((resolve) => {
    session.on("close", () => {
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      for (const c of connections) c.destroy();
      resolve();
    });
  });
}

async function forwardSpdyPair(podSandboxId: string, port: number, error: SpdyStream, data: SpdyStream, backend: StreamingBackend, connections: Set<Duplex>, options: PortForwardOptions): Promise<void> {
  const abort = new AbortController();
  data.once("close", () => abort.abort());
  let conn: Duplex;
  try {
    conn = await backend.portForward({ podSandboxId, port, signal: abort.signal });
  } catch (err) {
    const message = `error forwarding port ${port} to pod ${podSandboxId}, uid : ${describe(err)}`;
    options.log?.(message);
    error.end(message);
    data.end();
    data.resume();
    return;
  }
  connections.add(conn);
  const failure = await relay(data, conn);
  connections.delete(conn);
  if (failure !== undefined) {
    const message = `error forwarding port ${port} to pod ${podSandboxId}, uid : ${failure}`;
    options.log?.(message);
    if (!error.writableEnded) error.write(message);
  }
  if (!data.writableEnded && !data.destroyed) data.end();
  if (!error.writableEnded && !error.destroyed) error.end();
}

/**
 * Copies `stream` to `conn` and back until `conn` is done: the stream's end half-closes the
 * connection, the connection's end ends the stream's writable side. Resolves with the
 * connection's error message, if it failed.
 */
function relay(stream: Duplex, conn: Duplex): Promise<string | undefined> {
  return new Promise((resolve) => {
    let failure: string | undefined;
    stream.pipe(conn, { end: true });
    conn.on("data", (chunk: Buffer) => {
      if (stream.destroyed || stream.writableEnded) return;
      if (!stream.write(chunk)) {
        conn.pause();
        stream.once("drain", () => conn.resume());
      }
    });
    conn.on("error", (err: Error) => {
      failure = describe(err);
    });
    conn.on("end", () => {
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    });
    conn.on("close", () => {
      stream.unpipe(conn);
      resolve(failure);
    });
    stream.on("close", () => conn.destroy());
  });
}

/**
 * Serves port forwarding over WebSocket channels speaking `protocol` (one of
 * {@link WEBSOCKET_PORT_FORWARD_PROTOCOLS} or ""); resolves when it ends.
 */
export async function servePortForwardOverWebSocket(ws: WebSocketConnection, protocol: string, request: PortForwardSessionRequest, backend: StreamingBackend, options: PortForwardOptions = {}): Promise<void> {
  const framing = channelFraming(protocol === "portforward.k8s.io" ? "v4.channel.k8s.io" : protocol) ?? { base64: false, closeSignal: false };
  const ports = request.ports;
  const channels = new ChannelConnection(ws, framing, ports.length * 2, ports.map((_, i) => 2 * i));
  const abort = new AbortController();
  ws.on("close", () => abort.abort());
  for (const [i, port] of ports.entries()) {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port, 0);
    await channels.send(2 * i, prefix);
    await channels.send(2 * i + 1, prefix);
  }
  await Promise.all(
    ports.map(async (port, i) => {
      let conn: Duplex;
      try {
        conn = await backend.portForward({ podSandboxId: request.podSandboxId, port, signal: abort.signal });
      } catch (err) {
        const message = `error forwarding port ${port} to pod ${request.podSandboxId}, uid : ${describe(err)}`;
        options.log?.(message);
        await channels.send(2 * i + 1, Buffer.from(message, "utf8"));
        return;
      }
      abort.signal.addEventListener("abort", () => conn.destroy(), { once: true });
      const failure = await new Promise<string | undefined>((resolve) => {
        let failed: string | undefined;
        const reader = channels.reader(2 * i);
        reader.pipe(conn);
        conn.on("data", (chunk: Buffer) => {
          conn.pause();
          channels.send(2 * i, chunk).then(() => conn.resume(), () => conn.destroy());
        });
        conn.on("error", (err: Error) => (failed = describe(err)));
        conn.on("close", () => {
          reader.unpipe(conn);
          resolve(failed);
        });
      });
      if (failure !== undefined) await channels.send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${request.podSandboxId}, uid : ${failure}`, "utf8"));
    }),
  );
  ws.close(CloseCode.normal);
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}
