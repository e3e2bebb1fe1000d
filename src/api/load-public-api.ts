/**
 * The PublicAPI service definition, loaded from proto/v1alpha/api.proto at run time with
 * @grpc/proto-loader. The .proto file ships beside the code: src/api/proto/ in a checkout,
 * dist/api/proto/ in the bundle (scripts/build.mjs copies it), so the file is found relative to
 * this module whether it runs from src/ (tests) or from dist/ or one of dist's chunks.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { RktError } from "../lib/errors.js";
import { PROTO_LOADER_OPTIONS } from "./v1alpha-messages.js";

const PROTO = "v1alpha/api.proto";

/** Where api.proto is, from this module's location (src/api, dist, or dist/chunks). */
export function publicApiProtoPath(): string {
  const candidates = [`./proto/${PROTO}`, `./api/proto/${PROTO}`, `../api/proto/${PROTO}`].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new RktError("internal", `the API definition ${PROTO} is missing (looked in ${candidates.join(", ")})`, { hint: "rebuild rkt: npm run build copies it into dist/api/proto" });
  }
  return found;
}

/**
 * Loads `v1alpha.PublicAPI`.
 *
 * @example
 * server.addService(loadPublicApi(), handlers);
 */
export function loadPublicApi(): ServiceDefinition {
  const definition = loadSync(publicApiProtoPath(), { ...PROTO_LOADER_OPTIONS });
  const service = definition["v1alpha.PublicAPI"];
  if (service === undefined || !("GetInfo" in service)) throw new RktError("internal", "api.proto does not define v1alpha.PublicAPI");
  return service;
}
