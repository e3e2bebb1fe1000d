/**
 * Exec and attach sessions (Kubernetes' "remotecommand" protocols), over SPDY or WebSocket.
 *
 * SPDY (`X-Stream-Protocol-Version` v5/v4/v3/v2.channel.k8s.io, channel.k8s.io): the client
 * opens one stream per channel, naming it in the `streamType` header: `error` (always), `stdin`,
 * `stdout`, `stderr` (not with a tty), `resize` (tty, v3 and later). The server replies to each
 * and starts once all it expects are there (kubelet waits 30 s). At the end it closes stdout and
 * stderr, writes the status on the error stream (exec-status.ts), closes it and ends the session.
 *
 * WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`, the base64 variants, `channel.k8s.io`,
 * or none): channels 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize (channel-connection.ts). The
 * server first sends an empty message on the lowest channel it writes (stdout, else stderr,
 * else error) to tell the client the session is up, as kubelet does; at the end the status goes
 * on channel 3 and the WebSocket is closed normally.
 */
import type { Duplex, Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { describe } from "../../lib/errors.js";
import { encodeStatus, exitCodeStatus, internalErrorStatus, type RemoteCommandStatus, successStatus } from "./exec-status.js";
import { ResizeEvents } from "./resize-events.js";
import { SpdySession, type SpdyStream } from "./spdy/spdy-session.js";
import type { StreamingBackend } from "./streaming-backend.js";
import { ChannelConnection, channelFraming } from "./websocket/channel-connection.js";
import { CloseCode, type WebSocketConnection } from "./websocket/websocket-connection.js";

/** The remote-command protocols over SPDY, most preferred first. */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"] as const;
/** The remote-command subprotocols over WebSocket, most preferred first. */
export const WEBSOCKET_REMOTE_COMMAND_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"] as const;

/** An exec or attach as the CRI request asked for it (what a token stands for). */
export interface RemoteCommandRequest {
  readonly kind: "exec" | "attach";
  readonly containerId: string;
  /** The command (exec); empty for attach. */
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** Options of the serve functions. */
export interface RemoteCommandOptions {
  /** How long the SPDY client has to open its streams. Default 30 000 ms. */
  readonly streamCreationTimeoutMs?: number;
  /** Told about failures that only the server sees (the client may be gone). */
  readonly log?: (message: string) => void;
}

/** A session once its streams are set up: what the backend gets, and how to end it. */
interface Session {
  readonly stdin?: Readable | undefined;
  readonly stdout?: Writable | undefined;
  readonly stderr?: Writable | undefined;
  readonly resize?: Readable | undefined;
  /** Aborted when the client goes away before the end. */
  readonly gone: AbortSignal;
  /** Closes the output streams, reports `status`, and ends the connection. */
  finish(status: Buffer): Promise<void>;
  /** Drops the connection. */
  destroy(): void;
}

/**
 * Serves one exec/attach over a SPDY session on `socket` (already upgraded, protocol chosen).
 * Resolves when the session is over.
 */
export async function serveRemoteCommandOverSpdy(socket: Duplex, protocol: string, request: RemoteCommandRequest, backend: StreamingBackend, options: RemoteCommandOptions = {}): Promise<void> {
  const session = new SpdySession(socket, { server: true });
  const streams = await collectSpdyStreams(session, protocol, request, options.streamCreationTimeoutMs ?? 30_000);
  if (streams === undefined) {
    options.log?.(`${request.kind} ${request.containerId}: the client did not open its streams in time`);
    session.close();
    return;
  }
  const gone = new AbortController();
  session.on("close", () => gone.abort());
  const errorStream = streams.get("error");
  const run: Session = {
    stdin: streams.get("stdin"),
    stdout: request.stdout ? streams.get("stdout") : undefined,
    stderr: request.stderr && !request.tty ? streams.get("stderr") : undefined,
    resize: streams.get("resize"),
    gone: gone.signal,
    finish: async (status) => {
      await Promise.all([endStream(run.stdout), endStream(run.stderr)]);
      if (errorStream !== undefined) {
        if (status.length > 0) errorStream.write(status);
        await endStream(errorStream);
      }
      session.close();
    },
    destroy: () => session.destroy(),
  };
  await runSession(run, protocol, request, backend, options);
}

/**
 * Waits for the streams the request needs (v1/v2 have no resize stream); undefined on timeout
 * or when the session ends first. Every stream is accepted and given an error handler: a stream
 * the peer resets must not take the server down.
 */
function collectSpdyStreams(session: SpdySession, protocol: string, request: RemoteCommandRequest, timeoutMs: number): Promise<Map<string, SpdyStream> | undefined> {
  const resizable = protocol !== "v2.channel.k8s.io" && protocol !== "channel.k8s.io";
  const expected = new Set(["error"]);
  if (request.stdin) expected.add("stdin");
  if (request.stdout) expected.add("stdout");
  if (request.stderr && !request.tty) expected.add("stderr");
  if (request.tty && resizable) expected.add("resize");
  return new Promise((resolve) => {
    const streams = new Map<string, SpdyStream>();
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const done = (result: Map<string, SpdyStream> | undefined): void => {
      clearTimeout(timer);
      session.off("stream", onStream);
      session.off("close", onClose);
      resolve(result);
    };
    const onClose = (): void => done(undefined);
    const onStream = (stream: SpdyStream): void => {
      stream.on("error", () => undefined);
      stream.reply();
      const type = stream.header("streamtype") ?? "";
      if (!expected.has(type) || streams.has(type)) {
        // kubelet ignores streams it did not ask for; so do we (reading them to their end).
        stream.resume();
        return;
      }
      streams.set(type, stream);
      // Streams the server only writes: drain what the client might send, so FIN is seen.
      if (type === "stdout" || type === "stderr" || type === "error") stream.resume();
      if (streams.size === expected.size) done(streams);
    };
    session.on("stream", onStream);
    session.on("close", onClose);
  });
}

/**
 * Serves one exec/attach over a WebSocket (already upgraded) speaking `protocol`, a channel
 * protocol of {@link WEBSOCKET_REMOTE_COMMAND_PROTOCOLS} or "". Resolves when it is over.
 */
export async function serveRemoteCommandOverWebSocket(ws: WebSocketConnection, protocol: string, request: RemoteCommandRequest, backend: StreamingBackend, options: RemoteCommandOptions = {}): Promise<void> {
  const framing = channelFraming(protocol) ?? { base64: false, closeSignal: false };
  const readable = [...(request.stdin ? [0] : []), 4];
  const channels = new ChannelConnection(ws, framing, 5, readable);
  const gone = new AbortController();
  let finishing = false;
  ws.on("close", () => {
    if (!finishing) gone.abort();
  });
  // kubelet's "the connection is established" message.
  await channels.send(request.stdout ? 1 : request.stderr && !request.tty ? 2 : 3, Buffer.alloc(0));
  const run: Session = {
    stdin: request.stdin ? channels.reader(0) : undefined,
    stdout: request.stdout ? channels.writer(1) : undefined,
    stderr: request.stderr && !request.tty ? channels.writer(2) : undefined,
    resize: request.tty ? channels.reader(4) : undefined,
    gone: gone.signal,
    finish: async (status) => {
      finishing = true;
      await Promise.all([endStream(run.stdout), endStream(run.stderr)]);
      if (status.length > 0) await channels.send(3, status);
      ws.close(CloseCode.normal);
    },
    destroy: () => ws.destroy(),
  };
  await runSession(run, protocol, request, backend, options);
}

/** Runs the backend over the session's streams and reports how it ended. */
async function runSession(session: Session, protocol: string, request: RemoteCommandRequest, backend: StreamingBackend, options: RemoteCommandOptions): Promise<void> {
  const resize = request.tty ? new ResizeEvents(session.resize) : undefined;
  const streams = { tty: request.tty, stdin: session.stdin, stdout: session.stdout, stderr: session.stderr, resize, signal: session.gone };
  let status: RemoteCommandStatus;
  try {
    if (request.kind === "exec") {
      const code = await backend.exec({ ...streams, containerId: request.containerId, cmd: request.cmd });
      status = code === 0 ? successStatus() : exitCodeStatus(request.cmd, code);
    } else {
      await backend.attach({ ...streams, containerId: request.containerId });
      status = successStatus();
    }
  } catch (err) {
    options.log?.(`${request.kind} in container ${request.containerId}: ${describe(err)}`);
    status = internalErrorStatus(`${request.kind === "exec" ? "error executing command in container" : "error attaching to container"}: ${describe(err)}`);
  } finally {
    resize?.close();
  }
  if (session.gone.aborted) {
    session.destroy();
    return;
  }
  try {
    await session.finish(encodeStatus(protocol, status));
  } catch (err) {
    options.log?.(`${request.kind} in container ${request.containerId}: ending the session: ${describe(err)}`);
    session.destroy();
  }
}

/** Ends a writable stream and waits until everything written went out (errors ignored). */
async function endStream(stream: Writable | undefined): Promise<void> {
  if (stream === undefined || stream.destroyed) return;
  if (!stream.writableEnded) stream.end();
  await finished(stream, { readable: false }).catch(() => undefined);
}
