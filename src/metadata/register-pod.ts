/**
 * The registrar's side of the metadata service's registration API (registration-api.ts): what
 * `rkt run --mds-register` calls before the pod's apps start. Speaks HTTP over the unix socket.
 *
 * @example
 * const { port } = await registerPod("/run/rkt/metadata-svc.sock", { uuid, token, manifest, podDir, apps });
 */
import { request } from "node:http";
import { RktError } from "../lib/errors.js";
import type { PodManifest } from "../pod/pod-manifest.js";
import { DEFAULT_METADATA_PORT } from "./metadata-defaults.js";

/** A pod to register: its manifest, its directory and each app's image manifest (JSON). */
export interface PodRegistration {
  readonly uuid: string;
  readonly token: string;
  readonly manifest: PodManifest;
  readonly podDir: string;
  readonly apps: readonly { readonly name: string; readonly imageManifest: Buffer }[];
}

/**
 * Registers the pod and its apps; resolves with the service's public port. Throws RktError
 * "unavailable" when the service cannot be reached, "internal" when it refuses.
 */
export async function registerPod(socket: string, pod: PodRegistration, signal?: AbortSignal): Promise<{ port: number }> {
  const query = new URLSearchParams({ token: pod.token, "pod-dir": pod.podDir });
  const first = await put(socket, `/pods/${pod.uuid}?${query.toString()}`, Buffer.from(JSON.stringify(pod.manifest)), signal);
  for (const app of pod.apps) await put(socket, `/pods/${pod.uuid}/${app.name}`, app.imageManifest, signal);
  const port = Number(first.port);
  return { port: Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_METADATA_PORT };
}

function put(socket: string, path: string, body: Buffer, signal?: AbortSignal): Promise<{ port: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: "PUT", path, headers: { "Content-Type": "application/json", "Content-Length": body.length }, ...(signal === undefined ? {} : { signal }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode === 200) {
          const port = res.headers["x-rkt-metadata-port"];
          resolve({ port: typeof port === "string" ? port : undefined });
        } else {
          reject(new RktError("internal", `the metadata service refused the registration (${res.statusCode ?? "?"}): ${Buffer.concat(chunks).toString("utf8").trim()}`));
        }
      });
      res.on("error", reject);
    });
    req.on("error", (err) => {
      reject(new RktError("unavailable", `cannot reach the metadata service at ${socket}: ${err.message}`, { hint: "start it with `rkt metadata-service`, or run the pod without --mds-register" }));
    });
    req.end(body);
  });
}
