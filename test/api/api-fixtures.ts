/**
 * Test support for the API service: a service started in this process over a data directory,
 * a client generated from our api.proto, and a data directory filled by code (pods in every state,
 * image records with manifests and configs) without running a pod or fetching an image, for
 * tests and bench/api.ts alike.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startApiService, type RunningApiService } from "../../src/api/api-server.js";
import { publicApiProtoPath } from "../../src/api/load-public-api.js";
import { PROTO_LOADER_OPTIONS } from "../../src/api/v1alpha-messages.js";
import type { ImageRecord } from "../../src/image/store/image-record.js";
import type { ImageStore } from "../../src/image/store/image-store.js";
import { FileLock } from "../../src/sys/file-lock.js";

/** Loosely typed messages, as the generated client returns them. */
export type Message = Record<string, unknown>;

/** A PublicAPI client: unary calls as promises, streams as grpc-js streams. */
export interface ApiClient {
  readonly raw: grpc.Client;
  call(method: "GetInfo" | "ListPods" | "InspectPod" | "ListImages" | "InspectImage", request: Message): Promise<Message>;
  stream(method: "ListenEvents" | "GetLogs", request: Message): grpc.ClientReadableStream<Message>;
  close(): void;
}

/**
 * A client of `v1alpha.PublicAPI` at `address`, generated from src/api/proto/v1alpha/api.proto.
 *
 * @example
 * const client = apiClient("unix:///tmp/api.sock");
 * const { pods } = await client.call("ListPods", {});
 */
export function apiClient(address: string): ApiClient {
  const pkg = grpc.loadPackageDefinition(loadSync(publicApiProtoPath(), { ...PROTO_LOADER_OPTIONS })) as unknown as {
    v1alpha: { PublicAPI: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client };
  };
  const raw = new pkg.v1alpha.PublicAPI(address, grpc.credentials.createInsecure());
  const methods = raw as unknown as Record<string, (...args: unknown[]) => unknown>;
  return {
    raw,
    call: (method, request) =>
      new Promise((resolve, reject) => {
        methods[method]?.call(raw, request, (err: grpc.ServiceError | null, response: Message) => (err === null ? resolve(response) : reject(err)));
      }),
    stream: (method, request) => methods[method]?.call(raw, request) as grpc.ClientReadableStream<Message>,
    close: () => raw.close(),
  };
}

/** A service and a client of it, both closed after the test. */
export interface TestService {
  readonly service: RunningApiService;
  readonly client: ApiClient;
  readonly address: string;
}

/**
 * Starts the API service over `dataDir` on a unix socket in it, and a client.
 *
 * @example
 * const { client } = await startTestService(t, dir);
 */
export async function startTestService(t: TestContext, dataDir: string, options: { reconcileMs?: number } = {}): Promise<TestService> {
  const socket = join(dataDir, "api.sock");
  const service = await startApiService({
    dataDir,
    listen: [`unix://${socket}`],
    info: {
      rkt_version: "9.9.9-test",
      appc_version: "0.8.11",
      api_version: "1.0.0-alpha",
      global_flags: { dir: dataDir, system_config_dir: "/usr/lib/rkt", local_config_dir: "/etc/rkt", user_config_dir: "", insecure_flags: "image", trust_keys_from_https: false },
    },
    ...(options.reconcileMs === undefined ? {} : { reconcileMs: options.reconcileMs }),
  });
  const client = apiClient(`unix://${socket}`);
  t.after(async () => {
    client.close();
    await service.close();
  });
  return { service, client, address: `unix://${socket}` };
}

/** What a synthetic pod looks like on disk. */
export interface PodSpec {
  readonly dir: "embryo" | "prepare" | "prepared" | "run" | "exited-garbage" | "garbage";
  readonly uuid?: string;
  /** Hold the pod's lock (running, preparing, deleting) until `release()`. */
  readonly locked?: boolean;
  readonly apps?: readonly {
    readonly name: string;
    readonly imageId: string;
    readonly exitCode?: number;
    readonly started?: string;
    readonly annotations?: readonly [string, string][];
    /** CRI log records, without the newline. */
    readonly log?: readonly string[];
  }[];
  readonly annotations?: readonly [string, string][];
  readonly userAnnotations?: Readonly<Record<string, string>>;
  readonly created?: string;
  readonly supervisorPid?: number;
  readonly network?: { readonly name: string; readonly ip4: string; readonly gateway: string };
}

/** A synthetic pod; `release()` drops its lock if it holds one. */
export interface SyntheticPod {
  readonly uuid: string;
  readonly path: string;
  release(): void;
}

/**
 * Writes a pod directory as rkt and its supervisor would have (manifest, times, exit codes,
 * logs, net-info), without running anything.
 *
 * @example
 * const pod = syntheticPod(dir, { dir: "run", locked: true, apps: [{ name: "web", imageId }] });
 */
export function syntheticPod(dataDir: string, spec: PodSpec): SyntheticPod {
  const uuid = spec.uuid ?? randomUUID();
  const path = join(dataDir, "pods", spec.dir, uuid);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "pod-created"), spec.created ?? new Date().toISOString());
  if (spec.dir !== "embryo") {
    const manifest = {
      acVersion: "0.8.11",
      acKind: "PodManifest",
      apps: (spec.apps ?? []).map((a) => ({
        name: a.name,
        image: { id: a.imageId },
        app: { exec: ["/bin/sh"], user: "0", group: "0" },
        ...(a.annotations === undefined ? {} : { annotations: a.annotations.map(([name, value]) => ({ name, value })) }),
      })),
      ...(spec.annotations === undefined ? {} : { annotations: spec.annotations.map(([name, value]) => ({ name, value })) }),
      ...(spec.userAnnotations === undefined ? {} : { userAnnotations: spec.userAnnotations }),
    };
    writeFileSync(join(path, "pod"), JSON.stringify(manifest));
    writeFileSync(join(path, "stage1"), "default");
  }
  for (const a of spec.apps ?? []) {
    const app = join(path, "apps", a.name);
    mkdirSync(app, { recursive: true });
    if (a.started !== undefined) writeFileSync(join(app, "started"), a.started);
    if (a.exitCode !== undefined) writeFileSync(join(app, "exit"), String(a.exitCode));
    if (a.log !== undefined) writeFileSync(join(app, "log"), a.log.map((l) => `${l}\n`).join(""));
  }
  if (spec.supervisorPid !== undefined) {
    mkdirSync(join(path, "supervisor"), { recursive: true });
    writeFileSync(join(path, "supervisor", "pid"), String(spec.supervisorPid));
  }
  if (spec.network !== undefined) {
    const n = spec.network;
    writeFileSync(
      join(path, "net-info.json"),
      JSON.stringify({
        version: 1,
        containerId: uuid,
        netns: `/run/rkt/ns/${uuid}/net`,
        pluginDirs: ["/usr/lib/cni"],
        networks: [{ name: n.name, ifname: "eth0", source: "test", format: "conflist", config: "{}", cniArgs: "", state: "added", result: { cniVersion: "0.4.0", ips: [{ version: "4", address: `${n.ip4}/24`, gateway: n.gateway }] } }],
      }),
    );
  }
  const lock = spec.locked === true ? FileLock.tryAcquire(path, "exclusive") : undefined;
  return { uuid, path, release: () => lock?.release() };
}

/** What a synthetic image looks like in the store. */
export interface ImageSpec {
  /** Store names (`localhost/web:1.0`); none: known by ID only. */
  readonly names?: readonly string[];
  readonly format?: "oci" | "docker";
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly importTime?: string;
  /** Makes the manifest (and so the ID) unique. */
  readonly salt?: string;
}

/**
 * Adds an image record with a real manifest and config blob (no layers) and its names.
 *
 * @example
 * const record = syntheticImage(store, { names: ["localhost/web:1.0"], labels: { tier: "front" } });
 */
export function syntheticImage(store: ImageStore, spec: ImageSpec): ImageRecord {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: spec.labels ?? {} }, rootfs: { type: "layers", diff_ids: [] } }));
  const configDigest = store.putBlob(config);
  const mediaType = spec.format === "docker" ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [],
      annotations: { ...(spec.annotations ?? {}), "test.salt": spec.salt ?? randomUUID() },
    }),
  );
  const id = store.putBlob(manifest);
  const now = spec.importTime ?? new Date().toISOString();
  const record: ImageRecord = {
    schemaVersion: 1,
    id,
    format: spec.format ?? "oci",
    manifestMediaType: mediaType,
    configDigest,
    layers: [],
    platform: { os: "linux", architecture: "amd64" },
    source: `test:${spec.names?.[0] ?? id}`,
    importTime: now,
    lastUsed: now,
    size: manifest.length + config.length,
  };
  store.putImage(record);
  for (const name of spec.names ?? []) store.setRef(name, id);
  return record;
}

/**
 * Reads a server stream until `until` says it has what it wants (or `ms` pass); returns every
 * message received. The stream is cancelled afterwards.
 */
export async function collectStream(stream: grpc.ClientReadableStream<Message>, until: (messages: readonly Message[]) => boolean, ms = 10_000): Promise<Message[]> {
  const messages: Message[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream: timed out after ${ms} ms; got ${JSON.stringify(messages)}`)), ms);
      stream.on("data", (m: Message) => {
        messages.push(m);
        if (until(messages)) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on("end", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    stream.cancel();
  }
  return messages;
}

/** Resolves once the server has sent the stream's headers (ListenEvents sends them at once). */
export function streamReady(stream: grpc.ClientReadableStream<Message>): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once("metadata", () => resolve());
    stream.once("error", reject);
  });
}
