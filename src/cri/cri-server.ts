/**
 * `rkt cri`'s gRPC server: the CRI RuntimeService and ImageService of runtime.v1 and
 * runtime.v1alpha2 (older kubelets) on one unix socket, both versions served by the same
 * handlers (the messages are the same on the wire). Handlers are thin (one file per RPC group);
 * this file only registers them, turns errors into statuses (grpc-status.ts) and logs failures.
 * RPCs without a handler (CheckpointContainer, GetContainerEvents) answer UNIMPLEMENTED.
 */
import { existsSync, lstatSync, mkdirSync, rmSync, chmodSync } from "node:fs";
import { dirname } from "node:path";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { Server, ServerCredentials, type ConnectionInjector, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";

import type { CriContext } from "../engine/cri-support/cri-context.js";
import { RktError } from "../lib/errors.js";
import { containerHandlers } from "./container.js";
import type { CriHandlers } from "./cri-handlers.js";
import { loadCriServices, type CriVersion } from "./cri-protos.js";
import { execHandlers } from "./exec.js";
import { toServiceError } from "../lib/grpc-status.js";
import { AuthorityFixingSocket } from "./unix-authority.js";
import { imageHandlers } from "./image.js";
import { runtimeStatusHandlers } from "./runtime-status.js";
import { sandboxHandlers } from "./sandbox.js";
import { statsHandlers } from "./stats.js";
import type { StreamingPort } from "./streaming-port.js";

/** Options of {@link CriServer}. */
export interface CriServerOptions {
  /** `unix:///run/rkt/cri.sock`, `unix:/path` or a plain absolute path. */
  readonly listen: string;
  readonly ctx: CriContext;
  /** The streaming server for Exec, Attach and PortForward (none: those answer UNAVAILABLE). */
  readonly streaming?: StreamingPort | undefined;
  /** rkt's version, for the Version RPC. */
  readonly rktVersion: string;
  /** One line per failed call (method, status, message). */
  readonly log: (line: string) => void;
}

/**
 * The server. `start()` listens; `stop()` stops accepting, lets calls in flight finish, and
 * removes the socket.
 *
 * @example
 * const server = new CriServer({ listen: "unix:///run/rkt/cri.sock", ctx, rktVersion: "1.0", log: console.error });
 * await server.start();
 */
export class CriServer {
  private server: Server | undefined;
  private listener: NetServer | undefined;
  private injector: ConnectionInjector | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly socketPath: string;

  constructor(private readonly options: CriServerOptions) {
    this.socketPath = socketPathOf(options.listen);
  }

  /** Listens on the socket (replacing a stale one) and resolves with its path. */
  async start(): Promise<string> {
    const server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024, "grpc.max_send_message_length": 40 * 1024 * 1024 });
    for (const version of ["v1", "v1alpha2"] as const) {
      const services = loadCriServices(version);
      server.addService(services.runtime, this.implementation(version, [
        sandboxHandlers(this.options.ctx),
        containerHandlers(this.options.ctx),
        execHandlers(this.options.ctx, this.options.streaming),
        statsHandlers(this.options.ctx),
        runtimeStatusHandlers(this.options.ctx, version, this.options.rktVersion),
      ]));
      server.addService(services.image, this.implementation(version, [imageHandlers(this.options.ctx)]));
    }
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o755 });
    if (lstatSync(this.socketPath, { throwIfNoEntry: false })?.isSocket() === true) rmSync(this.socketPath);
    else if (existsSync(this.socketPath)) throw new RktError("already-exists", `${this.socketPath} exists and is not a socket`, { hint: "choose another --listen path" });
    // The socket is ours, not grpc-js's: each connection goes through AuthorityFixingSocket
    // (unix-authority.ts: older kubelets send an :authority Node's HTTP/2 refuses).
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const listener = createServer((socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      injector.injectConnection(new AuthorityFixingSocket(socket));
    });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", (err) => reject(new RktError("unavailable", `cannot listen on ${this.socketPath}: ${err.message}`)));
      listener.listen(this.socketPath, () => resolve());
    });
    // Only root (and whoever root lets in) may drive the node's containers.
    chmodSync(this.socketPath, 0o660);
    this.server = server;
    this.listener = listener;
    this.injector = injector;
    return this.socketPath;
  }

  /** Stops the server (calls in flight finish) and removes the socket. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    // Stop accepting (close() calls back only once every connection has gone: not waited for),
    // tell clients to go away, let calls in flight finish, then drop what is left.
    this.listener?.close();
    this.injector?.drain(5000);
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    this.injector?.destroy();
    for (const socket of this.sockets) socket.destroy();
    rmSync(this.socketPath, { force: true });
  }

  private implementation(version: CriVersion, groups: readonly CriHandlers[]): UntypedServiceImplementation {
    const impl: UntypedServiceImplementation = {};
    for (const group of groups) {
      for (const [method, handler] of Object.entries(group)) {
        impl[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          // A handler that throws before its first await fails the same way as one that rejects.
          Promise.resolve()
            .then(() => handler(call.request as never))
            .then(
              (response) => callback(null, response),
              (err: unknown) => {
                const status = toServiceError(err);
                this.options.log(`${version}.${method}: ${status.code} ${status.details}`);
                callback(status, null);
              },
            );
        };
      }
    }
    return impl;
  }
}

function socketPathOf(listen: string): string {
  const path = listen.startsWith("unix://") ? listen.slice("unix://".length) : listen.startsWith("unix:") ? listen.slice("unix:".length) : listen;
  if (!path.startsWith("/")) throw new RktError("invalid-argument", `--listen=${listen}: expected unix:///ABSOLUTE/PATH`, { hint: "e.g. --listen=unix:///run/rkt/cri.sock" });
  return path;
}
