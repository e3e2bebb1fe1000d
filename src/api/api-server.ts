/**
 * `rkt api-service`: rkt's read-only gRPC API (`v1alpha.PublicAPI`, proto/v1alpha/api.proto)
 * over a data directory. No daemon state: every answer is read from the directory when asked
 * (pods/, cas/, events/), so the service can start, stop or crash without touching a pod, and
 * it never writes or locks anything there (lock-table.ts). It needs read access only; see the
 * README ("API service and metadata service") for running it as a member of the `rkt` group.
 *
 * Listens on TCP (`localhost:15441`, rkt's default) and/or unix sockets (`unix:///path`, mode
 * 0660). The handlers are thin (pods-rpc.ts, images-rpc.ts, events-rpc.ts, logs-rpc.ts); errors
 * become gRPC statuses only here (grpc-status.ts).
 *
 * @example
 * const service = await startApiService({ dataDir: "/var/lib/rkt", listen: ["localhost:15441"], info });
 * // ...
 * await service.close();
 */
import { chmodSync, lstatSync, rmSync } from "node:fs";
import { Server, ServerCredentials, type handleServerStreamingCall, type handleUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { RktError, wrap } from "../lib/errors.js";
import { ImageStore } from "../image/store/image-store.js";
import { PodStore } from "../pod/pod-store.js";
import type { ApiContext } from "./api-context.js";
import { EventHub } from "./event-hub.js";
import { listenEvents } from "./events-rpc.js";
import { toServiceError } from "../lib/grpc-status.js";
import { ImageCatalog } from "./image-view.js";
import { inspectImage, listImages } from "./images-rpc.js";
import { loadPublicApi } from "./load-public-api.js";
import { getLogs } from "./logs-rpc.js";
import { inspectPod, listPods } from "./pods-rpc.js";
import { PodReader } from "./pod-view.js";
import type { Info, Pod } from "./v1alpha-messages.js";

/** rkt's default listen address. */
export const DEFAULT_API_LISTEN = "localhost:15441";
/** The API version this service implements (rkt's). */
export const API_VERSION = "1.0.0-alpha";

/** What {@link startApiService} needs. */
export interface ApiServiceOptions {
  readonly dataDir: string;
  /** `host:port` (port 0: any free port) or `unix:///path`. */
  readonly listen: readonly string[];
  /** What GetInfo answers. */
  readonly info: Info;
  /** How often pods believed running are re-checked (event-hub.ts); 0 turns it off. */
  readonly reconcileMs?: number;
}

/** A running service. */
export interface RunningApiService {
  /** The addresses it listens on, ports resolved (`127.0.0.1:40123`, `unix:///run/x.sock`). */
  readonly addresses: readonly string[];
  /** Stops serving: open streams are cancelled, unix sockets removed. */
  close(): Promise<void>;
}

/** Starts the service (see the module comment). Throws RktError for a bad or busy address. */
export async function startApiService(options: ApiServiceOptions): Promise<RunningApiService> {
  if (options.listen.length === 0) throw new RktError("invalid-argument", "nothing to listen on", { hint: `give --listen=${DEFAULT_API_LISTEN} or --listen=unix:///run/rkt/api.sock` });
  const targets = options.listen.map(parseListenAddress);
  const hub = new EventHub({ dataDir: options.dataDir, ...(options.reconcileMs === undefined ? {} : { reconcileMs: options.reconcileMs }) });
  const images = ImageStore.open(options.dataDir);
  const catalog = new ImageCatalog(images);
  const ctx: ApiContext = { dataDir: options.dataDir, pods: new PodStore(options.dataDir), images, catalog, reader: new PodReader(catalog), hub, info: options.info };
  const server = new Server();
  const service = loadPublicApi();
  const inspectPod = service.InspectPod;
  const listPodsMethod = service.ListPods;
  if (inspectPod === undefined || listPodsMethod === undefined) throw new RktError("internal", "api.proto lacks ListPods or InspectPod");
  // ListPods answers with its response already encoded (pods-rpc.ts): a repeated field's
  // entries are exactly what InspectPodResponse{pod} encodes to, field 1 in both.
  const encodeEntry = (pod: Pod): Buffer => inspectPod.responseSerialize({ pod });
  const serializeList = listPodsMethod.responseSerialize;
  server.addService({ ...service, ListPods: { ...listPodsMethod, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serializeList(value)) } }, handlers(ctx, encodeEntry));
  hub.start();
  const addresses: string[] = [];
  try {
    for (const target of targets) {
      if (target.socket !== undefined) removeStaleSocket(target.socket);
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(target.address, ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
      }).catch((err: unknown) => {
        throw new RktError("unavailable", `cannot listen on ${target.address}: ${err instanceof Error ? err.message : String(err)}`, { hint: "is another api-service running there? choose another --listen" });
      });
      if (target.socket !== undefined) {
        // The `rkt` group reads the store; it may use the socket too.
        chmodSync(target.socket, 0o660);
        addresses.push(target.address);
      } else {
        addresses.push(target.address.replace(/:\d+$/, `:${port}`));
      }
    }
  } catch (err) {
    server.forceShutdown();
    hub.close();
    throw err;
  }
  return {
    addresses,
    close: () => {
      server.forceShutdown();
      hub.close();
      for (const t of targets) if (t.socket !== undefined) rmSync(t.socket, { force: true });
      return Promise.resolve();
    },
  };
}

function handlers(ctx: ApiContext, encodeEntry: (pod: Pod) => Buffer): UntypedServiceImplementation {
  const info = { info: ctx.info };
  return {
    GetInfo: unary(() => info),
    ListPods: unary((r) => listPods(ctx, r as never, encodeEntry).wire),
    InspectPod: unary((r) => inspectPod(ctx, r as never)),
    ListImages: unary((r) => listImages(ctx, r as never)),
    InspectImage: unary((r) => inspectImage(ctx, r as never)),
    ListenEvents: ((call) => listenEvents(ctx, call as never)) as handleServerStreamingCall<unknown, unknown>,
    GetLogs: ((call) => getLogs(ctx, call as never)) as handleServerStreamingCall<unknown, unknown>,
  };
}

/** A unary handler around `fn`: its result, or its error as a status. */
function unary(fn: (request: unknown) => unknown): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    try {
      callback(null, fn(call.request));
    } catch (err) {
      callback(toServiceError(err instanceof RktError ? err : wrap(call.getPath(), err)), null);
    }
  };
}

/** A listen address: TCP `host:port`, or `unix://PATH` / `unix:PATH` (PATH absolute). */
export function parseListenAddress(text: string): { address: string; socket?: string } {
  const unix = /^unix:(?:\/\/)?(\/.+)$/.exec(text);
  if (unix !== null) {
    const path = unix[1] ?? "";
    return { address: `unix://${path}`, socket: path };
  }
  if (/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text) && Number(text.slice(text.lastIndexOf(":") + 1)) <= 65535) return { address: text };
  throw new RktError("invalid-argument", `invalid listen address "${text}"`, { hint: "use HOST:PORT (e.g. localhost:15441, 0.0.0.0:15441, [::1]:15441) or unix:///PATH" });
}

/** A socket file left by a service that died is in the way of a new bind; anything else is kept. */
function removeStaleSocket(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isSocket() === true) rmSync(path, { force: true });
}
