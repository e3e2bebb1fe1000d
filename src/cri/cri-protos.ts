/**
 * The CRI service definitions, loaded at run time from our .proto files (proto/runtime-v1.proto,
 * proto/runtime-v1alpha2.proto; scripts/build.mjs copies them to dist/cri/proto/).
 *
 * proto-loader options, chosen so that decoded messages are the engine's shapes
 * (src/engine/cri-support/cri-types.ts) without a mapping layer:
 * - keepCase: field names as in the .proto (`pod_sandbox_id`), the names api.proto documents;
 * - longs: String: int64 timestamps are nanoseconds since the epoch, past 2^53; strings keep
 *   every digit (encoding accepts strings and numbers);
 * - enums: String: states travel as their names (`CONTAINER_RUNNING`), readable in logs;
 * - defaults: true: every scalar and list is present with its proto3 default and absent
 *   messages are null, so handlers never meet `undefined` for a field the .proto declares;
 * - oneofs: true (none are used today; cheap to keep right).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { RktError } from "../lib/errors.js";

/** The CRI versions rkt serves. */
export type CriVersion = "v1" | "v1alpha2";

/** Both services of one CRI version. */
export interface CriServices {
  readonly version: CriVersion;
  readonly runtime: ServiceDefinition;
  readonly image: ServiceDefinition;
  /** The loaded package (message constructors), for clients. */
  readonly pkg: GrpcObject;
}

/** The proto-loader options described in the module comment. */
export const CRI_PROTO_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

/**
 * The directory holding the .proto files: beside this module in the sources, `dist/cri/proto`
 * in the bundle (whose code runs from dist/ or dist/chunks/).
 */
export function criProtoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "proto"), join(here, "cri", "proto"), join(here, "..", "cri", "proto")];
  const found = candidates.find((d) => existsSync(join(d, "runtime-v1.proto")));
  if (found === undefined) throw new RktError("internal", `the CRI .proto files are missing (looked in ${candidates.join(", ")})`, { hint: "rebuild rkt: npm run build" });
  return found;
}

/**
 * Loads one CRI version's services.
 *
 * @example
 * const v1 = loadCriServices("v1");
 * server.addService(v1.runtime, handlers);
 */
export function loadCriServices(version: CriVersion, dir = criProtoDir()): CriServices {
  const definition = loadSync(join(dir, `runtime-${version}.proto`), CRI_PROTO_OPTIONS);
  const pkg = loadPackageDefinition(definition);
  const runtimePkg = (pkg.runtime as GrpcObject)[version] as GrpcObject;
  const service = (name: string): ServiceDefinition => (runtimePkg[name] as unknown as { service: ServiceDefinition }).service;
  return { version, runtime: service("RuntimeService"), image: service("ImageService"), pkg: runtimePkg };
}
