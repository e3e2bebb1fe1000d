/**
 * What the streaming server needs from a container runtime: run a command in a container,
 * attach to a container's streams, and open a connection to a port inside a pod. The server
 * does the protocols (SPDY, WebSocket); a backend moves bytes. `EngineStreamingBackend`
 * (engine-backend.ts) is rkt's; tests use fakes.
 *
 * Stream conventions, for exec and attach alike:
 * - a stream is undefined when the client did not ask for it;
 * - `stdin` ends when the client ends its input;
 * - the backend writes output to `stdout`/`stderr` and may end them; it must not resolve before
 *   everything it wrote was accepted (the server ends them after it resolves);
 * - with `tty`, there is no `stderr` (a terminal has one output) and `resize` yields the
 *   client's terminal size, first the initial one, until the session ends;
 * - `signal` aborts when the client went away: stop relaying (an exec'd command gets SIGHUP
 *   with a tty, as a terminal hang-up; without one its stdin is closed).
 */
import type { Duplex, Readable, Writable } from "node:stream";

/** A terminal size, as Kubernetes' TerminalSize (columns and rows). */
export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/** The streams of an exec or attach session. */
export interface SessionStreams {
  readonly tty: boolean;
  readonly stdin?: Readable | undefined;
  readonly stdout?: Writable | undefined;
  readonly stderr?: Writable | undefined;
  readonly resize?: AsyncIterable<TerminalSize> | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** An exec request: run `cmd` in container `containerId`. */
export interface ExecRequest extends SessionStreams {
  readonly containerId: string;
  readonly cmd: readonly string[];
}

/** An attach request: connect to the streams of container `containerId`'s main process. */
export interface AttachRequest extends SessionStreams {
  readonly containerId: string;
}

/** A port-forward connection request: `port` on 127.0.0.1 in sandbox `podSandboxId`'s network. */
export interface PortForwardRequest {
  readonly podSandboxId: string;
  readonly port: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The runtime side of the streaming server.
 *
 * @example
 * const backend: StreamingBackend = {
 *   exec: async (req) => { req.stdout?.write("hi\n"); return 0; },
 *   attach: async () => {},
 *   portForward: async () => { throw new Error("no ports here"); },
 * };
 */
export interface StreamingBackend {
  /** Runs `cmd` in the container and resolves with its exit code (rejects if it could not run). */
  exec(req: ExecRequest): Promise<number>;
  /** Relays the container's streams until it exits or the client leaves. */
  attach(req: AttachRequest): Promise<void>;
  /** A connection to `port` on 127.0.0.1 inside the sandbox's network namespace. */
  portForward(req: PortForwardRequest): Promise<Duplex>;
}
