/**
 * The CRI streaming server: the HTTP endpoint that the URLs of the CRI Exec, Attach and
 * PortForward RPCs point at (kubelet proxies `kubectl exec/attach/port-forward` to them), as
 * kubelet's own k8s.io/kubelet/pkg/cri/streaming server does for containerd and CRI-O.
 *
 * - `getExecUrl` / `getAttachUrl` / `getPortForwardUrl` validate a request, store it under a
 *   one-time token (request-cache.ts; default TTL one minute) and return
 *   `http://HOST:PORT/{exec,attach,portforward}/TOKEN`.
 * - A client connects there (GET or POST) and upgrades the connection: to SPDY/3.1
 *   (`Upgrade: SPDY/3.1`, protocol chosen from `X-Stream-Protocol-Version`; 403 with
 *   `X-Accepted-Stream-Protocol-Versions` when none fits), or to a WebSocket (RFC 6455,
 *   protocol from `Sec-WebSocket-Protocol`). The token is used up by the attempt; an unknown,
 *   used or expired token gets 404.
 * - remote-command.ts and port-forward.ts speak the protocols; a {@link StreamingBackend} runs
 *   the commands and opens the connections.
 *
 * @example
 * const server = new StreamingServer({ address: "127.0.0.1:0", backend });
 * const { url } = await server.start();
 * const execUrl = server.getExecUrl({ containerId, cmd: ["sh"], tty: true, stdin: true, stdout: true, stderr: false });
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { describe, RktError } from "../../lib/errors.js";
import {
  type PortForwardSessionRequest,
  servePortForwardOverSpdy,
  servePortForwardOverWebSocket,
  SPDY_PORT_FORWARD_PROTOCOL,
  TUNNELED_PORT_FORWARD_PROTOCOL,
  WEBSOCKET_PORT_FORWARD_PROTOCOLS,
} from "./port-forward.js";
import { type RemoteCommandRequest, serveRemoteCommandOverSpdy, serveRemoteCommandOverWebSocket, SPDY_REMOTE_COMMAND_PROTOCOLS, WEBSOCKET_REMOTE_COMMAND_PROTOCOLS } from "./remote-command.js";
import { RequestCache } from "./request-cache.js";
import type { StreamingBackend } from "./streaming-backend.js";
import { WebSocketByteStream } from "./websocket/websocket-byte-stream.js";
import { WebSocketConnection } from "./websocket/websocket-connection.js";
import { checkHandshake, handshakeResponse, isWebSocketRequest, offeredProtocols } from "./websocket/websocket-handshake.js";

/** Options of {@link StreamingServer}. */
export interface StreamingServerOptions {
  /** `host:port` to listen on (`[v6]:port` for IPv6); port 0 picks a free one. */
  readonly address: string;
  readonly backend: StreamingBackend;
  /** How long a streaming URL stays valid. Default 60 000 ms. */
  readonly tokenTtlMs?: number;
  /** The base of the URLs handed out, when the listening address is not what clients should use (e.g. `0.0.0.0`). */
  readonly baseUrl?: string;
  /** A connection with no traffic for this long is closed. Default 4 hours, as kubelet's. */
  readonly streamIdleTimeoutMs?: number;
  /** How long a SPDY client has to open its streams. Default 30 000 ms. */
  readonly streamCreationTimeoutMs?: number;
  /** Where failures that only the server sees are reported. Default: nowhere. */
  readonly log?: (message: string) => void;
}

/** An exec the CRI asked for (runtime.v1 ExecRequest). */
export interface ExecUrlRequest {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** An attach the CRI asked for (runtime.v1 AttachRequest). */
export interface AttachUrlRequest {
  readonly containerId: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** A port forward the CRI asked for (runtime.v1 PortForwardRequest). */
export interface PortForwardUrlRequest {
  readonly podSandboxId: string;
  /** Ports a WebSocket client forwards; SPDY clients name theirs per stream (then, if not empty, only these). */
  readonly ports: readonly number[];
}

type Cached = { readonly kind: "remote-command"; readonly request: RemoteCommandRequest } | { readonly kind: "port-forward"; readonly request: PortForwardSessionRequest };

/** The streaming server. See the module comment. */
export class StreamingServer {
  private readonly cache: RequestCache<Cached>;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private base: URL | undefined;

  constructor(private readonly options: StreamingServerOptions) {
    this.cache = new RequestCache({ ttlMs: options.tokenTtlMs ?? 60_000 });
  }

  /** Listens; resolves with the base URL streaming URLs start with. */
  async start(): Promise<{ url: string }> {
    if (this.server !== undefined) throw new RktError("failed-precondition", "the streaming server is already started");
    const { host, port } = parseAddress(this.options.address);
    const server = createServer((req, res) => {
      res.writeHead(isStreamingPath(req.url) ? 400 : 404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(isStreamingPath(req.url) ? "unable to upgrade: this endpoint needs Connection: Upgrade with Upgrade: SPDY/3.1 or websocket\n" : "404 page not found\n");
    });
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const bound = server.address() as AddressInfo;
    this.base = new URL(this.options.baseUrl ?? `http://${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}/`);
    return { url: this.base.toString().replace(/\/$/, "") };
  }

  /** A one-time URL for an exec. Throws "invalid-argument" for requests the CRI spec rejects. */
  getExecUrl(req: ExecUrlRequest): string {
    checkStreams(req);
    if (req.cmd.length === 0) throw new RktError("invalid-argument", "missing required cmd", { hint: "an exec needs the command to run" });
    return this.url("exec", { kind: "remote-command", request: { kind: "exec", containerId: req.containerId, cmd: [...req.cmd], tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr } });
  }

  /** A one-time URL for an attach. */
  getAttachUrl(req: AttachUrlRequest): string {
    checkStreams(req);
    return this.url("attach", { kind: "remote-command", request: { kind: "attach", containerId: req.containerId, cmd: [], tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr } });
  }

  /** A one-time URL for a port forward. */
  getPortForwardUrl(req: PortForwardUrlRequest): string {
    if (req.podSandboxId === "") throw new RktError("invalid-argument", "missing required pod_sandbox_id");
    for (const p of req.ports) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RktError("invalid-argument", `port ${p} is not a TCP port (1-65535)`);
    }
    return this.url("portforward", { kind: "port-forward", request: { podSandboxId: req.podSandboxId, ports: [...req.ports] } });
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private url(path: string, cached: Cached): string {
    if (this.base === undefined) throw new RktError("failed-precondition", "the streaming server is not started");
    return new URL(`${path}/${this.cache.insert(cached)}`, this.base).toString();
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const route = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)(?:\?.*)?$/.exec(req.url ?? "");
    const cached = route?.[2] === undefined ? undefined : this.cache.consume(route[2]);
    const endpoint = route?.[1];
    const matches = cached !== undefined && (endpoint === "portforward" ? cached.kind === "port-forward" : cached.kind === "remote-command" && cached.request.kind === endpoint);
    if (cached === undefined || !matches) {
      refuse(socket, 404, "404 page not found");
      return;
    }
    socket.setNoDelay(true);
    const idle = this.options.streamIdleTimeoutMs ?? 4 * 60 * 60 * 1000;
    if (idle > 0) socket.setTimeout(idle, () => socket.destroy());
    const serving = isWebSocketRequest(req) ? this.serveWebSocket(req, socket, head, cached) : this.serveSpdy(req, socket, head, cached);
    serving.catch((err: unknown) => {
      this.options.log?.(`streaming ${req.url ?? ""}: ${describe(err)}`);
      socket.destroy();
    });
  }

  private async serveSpdy(req: IncomingMessage, socket: Socket, head: Buffer, cached: Cached): Promise<void> {
    const upgrade = req.headers.upgrade ?? "";
    if (upgrade.toLowerCase() !== "spdy/3.1") {
      refuse(socket, 400, `unable to upgrade: unsupported Upgrade ${JSON.stringify(upgrade)}: speak SPDY/3.1 or websocket`);
      return;
    }
    const supported: readonly string[] = cached.kind === "port-forward" ? [SPDY_PORT_FORWARD_PROTOCOL] : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const offered = headerList(req.headers["x-stream-protocol-version"]);
    // Clients before protocol negotiation (Kubernetes 1.0) send none: they speak the first version.
    const protocol = offered.length === 0 ? (cached.kind === "port-forward" ? SPDY_PORT_FORWARD_PROTOCOL : "channel.k8s.io") : offered.find((p) => supported.includes(p));
    if (protocol === undefined) {
      refuse(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(" ")}], server accepts [${supported.join(" ")}]`, supported.map((p) => ["X-Accepted-Stream-Protocol-Versions", p] as const));
      return;
    }
    socket.write(["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Upgrade: SPDY/3.1", `X-Stream-Protocol-Version: ${protocol}`, "", ""].join("\r\n"));
    if (head.length > 0) socket.unshift(head);
    const options = { streamCreationTimeoutMs: this.options.streamCreationTimeoutMs, log: this.options.log };
    if (cached.kind === "port-forward") await servePortForwardOverSpdy(socket, cached.request, this.options.backend, options);
    else await serveRemoteCommandOverSpdy(socket, protocol, cached.request, this.options.backend, options);
  }

  private async serveWebSocket(req: IncomingMessage, socket: Socket, head: Buffer, cached: Cached): Promise<void> {
    const refusal = checkHandshake(req);
    if (refusal !== undefined) {
      refuse(socket, refusal.status, refusal.message, Object.entries(refusal.headers ?? {}));
      return;
    }
    const offered = offeredProtocols(req);
    const supported: readonly string[] = cached.kind === "port-forward" ? [TUNNELED_PORT_FORWARD_PROTOCOL, ...WEBSOCKET_PORT_FORWARD_PROTOCOLS] : WEBSOCKET_REMOTE_COMMAND_PROTOCOLS;
    const protocol = offered.length === 0 ? "" : offered.find((p) => supported.includes(p));
    if (protocol === undefined) {
      refuse(socket, 403, `unable to upgrade: requested protocol(s) are not supported: [${offered.join(" ")}]; supports [${supported.join(" ")}]`);
      return;
    }
    let ports: readonly number[] = [];
    if (cached.kind === "port-forward" && protocol !== TUNNELED_PORT_FORWARD_PROTOCOL) {
      ports = cached.request.ports.length > 0 ? cached.request.ports : queryPorts(req.url ?? "");
      if (ports.length === 0) {
        refuse(socket, 400, 'query parameter "port" is required');
        return;
      }
    }
    socket.write(handshakeResponse(String(req.headers["sec-websocket-key"]), protocol));
    const ws = new WebSocketConnection(socket, head);
    const options = { streamCreationTimeoutMs: this.options.streamCreationTimeoutMs, log: this.options.log };
    if (cached.kind === "remote-command") await serveRemoteCommandOverWebSocket(ws, protocol, cached.request, this.options.backend, options);
    else if (protocol === TUNNELED_PORT_FORWARD_PROTOCOL) await servePortForwardOverSpdy(new WebSocketByteStream(ws), cached.request, this.options.backend, options);
    else await servePortForwardOverWebSocket(ws, protocol, { podSandboxId: cached.request.podSandboxId, ports }, this.options.backend, options);
  }
}

/** Checks what kubelet's validateExecRequest/validateAttachRequest check. */
function checkStreams(req: AttachUrlRequest): void {
  if (req.containerId === "") throw new RktError("invalid-argument", "missing required container_id");
  // A terminal multiplexes its output: there is no separate stderr.
  if (req.tty && req.stderr) throw new RktError("invalid-argument", "tty and stderr cannot both be true");
  if (!req.stdin && !req.stdout && !req.stderr) throw new RktError("invalid-argument", "one of stdin, stdout, or stderr must be set");
}

function isStreamingPath(url: string | undefined): boolean {
  return /^\/(exec|attach|portforward)\//.test(url ?? "");
}

function headerList(value: string | string[] | undefined): string[] {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v.length > 0);
}

function queryPorts(url: string): number[] {
  const ports: number[] = [];
  for (const value of new URL(url, "http://x").searchParams.getAll("port")) {
    for (const p of value.split(",")) {
      const n = Number(p);
      if (Number.isInteger(n) && n >= 1 && n <= 65535) ports.push(n);
    }
  }
  return ports;
}

/** Answers an upgrade request with an HTTP error and hangs up. */
function refuse(socket: Duplex, status: number, message: string, headers: readonly (readonly [string, string])[] = []): void {
  const body = `${message}\n`;
  const reason = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 426: "Upgrade Required" }[status] ?? "Error";
  socket.end(
    [
      `HTTP/1.1 ${status} ${reason}`,
      "Content-Type: text/plain; charset=utf-8",
      "X-Content-Type-Options: nosniff",
      ...headers.map(([k, v]) => `${k}: ${v}`),
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Connection: close",
      "",
      body,
    ].join("\r\n"),
  );
}

/** Splits `host:port` / `[v6]:port`. */
function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new RktError("invalid-argument", `streaming address "${address}" is not host:port`, { hint: "e.g. 127.0.0.1:10010, [::1]:0" });
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}
