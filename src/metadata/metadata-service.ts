/**
 * `rkt metadata-service`: the appc metadata service. Two listeners, as in rkt:
 *
 * - the registration API (registration-api.ts) on a unix socket, `/run/rkt/metadata-svc.sock`
 *   (mode 0600: only root, i.e. `rkt run`, registers pods);
 * - the app-facing API (metadata-api.ts) on TCP, port 18112 on every interface by default, since
 *   pods reach it through their network's gateway address.
 *
 * Registrations live in memory only: after a restart, running pods must be registered again.
 *
 * @example
 * const mds = await startMetadataService({ registrationSocket: "/run/rkt/metadata-svc.sock", listenAddress: "0.0.0.0", listenPort: 18112 });
 * // ...
 * await mds.close();
 */
import { chmodSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import { RktError } from "../lib/errors.js";
import { logLine, reply } from "./http-exchange.js";
import { handleMetadataRequest } from "./metadata-api.js";
import { MetadataRegistry } from "./metadata-registry.js";
import { PodIdentity } from "./pod-identity.js";
import { handleRegistration } from "./registration-api.js";

/** What {@link startMetadataService} needs. */
export interface MetadataServiceOptions {
  readonly registrationSocket: string;
  /** The address the app-facing API binds (default 0.0.0.0). */
  readonly listenAddress?: string;
  /** Its port; 0 picks a free one. */
  readonly listenPort: number;
  /** One line per request (tokens masked). */
  readonly log?: (line: string) => void;
}

/** A running metadata service. */
export interface RunningMetadataService {
  /** The app-facing API's port. */
  readonly port: number;
  readonly registry: MetadataRegistry;
  close(): Promise<void>;
}

/** Starts both listeners (see the module comment). Throws RktError when one cannot listen. */
export async function startMetadataService(options: MetadataServiceOptions): Promise<RunningMetadataService> {
  const registry = new MetadataRegistry();
  const identity = PodIdentity.random();
  const log = options.log ?? ((): void => undefined);
  const guard = (handler: (req: IncomingMessage, res: ServerResponse) => Promise<number>, maskToken: boolean) => (req: IncomingMessage, res: ServerResponse): void => {
    handler(req, res).then(
      (status) => log(logLine(req, status, maskToken)),
      (err: unknown) => {
        if (!res.headersSent) reply(res, 500, "internal error");
        else res.destroy();
        log(`${logLine(req, 500, maskToken)}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  };
  const publicServer = createServer(guard((req, res) => handleMetadataRequest(registry, identity, req, res), true));
  const host = options.listenAddress ?? "0.0.0.0";
  await listen(publicServer, () => publicServer.listen(options.listenPort, host), `${host}:${options.listenPort}`);
  const port = (publicServer.address() as { port: number }).port;

  const socket = options.registrationSocket;
  const registrationServer = createServer(guard((req, res) => handleRegistration(registry, port, req, res), false));
  try {
    mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
    if (lstatSync(socket, { throwIfNoEntry: false })?.isSocket() === true) rmSync(socket, { force: true });
    await listen(registrationServer, () => registrationServer.listen(socket), socket);
    chmodSync(socket, 0o600);
  } catch (err) {
    publicServer.close();
    throw err;
  }
  return {
    port,
    registry,
    close: async () => {
      publicServer.closeAllConnections();
      registrationServer.closeAllConnections();
      await Promise.all([new Promise((r) => publicServer.close(r)), new Promise((r) => registrationServer.close(r))]);
      rmSync(socket, { force: true });
    },
  };
}

function listen(server: Server, start: () => void, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new RktError("unavailable", `cannot listen on ${where}: ${err.message}`, { hint: "is another metadata service running? choose another --listen-port" })));
    server.once("listening", () => resolve());
    start();
  });
}
