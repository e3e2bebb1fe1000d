/**
 * The metadata service's registration API, on its unix socket (root only, mode 0600), as rkt
 * defined it:
 *
 * - `PUT /pods/{uuid}?token=TOKEN` with the pod manifest as the body: registers the pod. Our
 *   addition: `&pod-dir=PATH`, the pod's directory, to forget the pod once it exits
 *   (metadata-registry.ts). The answer carries `X-Rkt-Metadata-Port`, the public port, so the
 *   registrar can build AC_METADATA_URL without guessing it.
 * - `PUT /pods/{uuid}/{app}` with the app's image manifest: registers an app.
 * - `DELETE /pods/{uuid}`: forgets the pod.
 *
 * 400 for a malformed UUID, token or manifest; 404 for an unknown pod.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { podManifestSchema } from "../pod/pod-manifest.js";
import { AC_NAME } from "../image/formats/appc/image-manifest.js";
import { BodyTooLarge, readBody, reply } from "./http-exchange.js";
import type { MetadataRegistry } from "./metadata-registry.js";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Tokens are URL path segments: long, and from the base64url alphabet. */
const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;
const MAX_MANIFEST = 4 * 1024 * 1024;

/**
 * Handles one registration request; resolves with the status sent.
 *
 * @example
 * http.createServer((req, res) => void handleRegistration(registry, 18112, req, res));
 */
export async function handleRegistration(registry: MetadataRegistry, publicPort: number, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const url = new URL(req.url ?? "/", "http://registration");
  const m = /^\/pods\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
  const send = (status: number, body: string | object = "", headers: Record<string, string> = {}): number => {
    reply(res, status, body, headers);
    return status;
  };
  if (m === null) return send(404, "no such endpoint: use /pods/{uuid} or /pods/{uuid}/{app}");
  const uuid = m[1] ?? "";
  const app = m[2];
  if (!UUID_RE.test(uuid)) return send(400, `UUID "${uuid}" is missing or malformed`);
  let body: Buffer;
  try {
    body = await readBody(req, MAX_MANIFEST);
  } catch (err) {
    return send(err instanceof BodyTooLarge ? 413 : 400, err instanceof Error ? err.message : String(err));
  }
  if (req.method === "DELETE" && app === undefined) {
    return registry.unregister(uuid) ? send(200) : send(404, `pod ${uuid} is not registered`);
  }
  if (req.method !== "PUT") return send(405, "use PUT to register, DELETE to unregister", { Allow: app === undefined ? "PUT, DELETE" : "PUT" });
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    return send(400, `JSON-decoding failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (app !== undefined) {
    if (!AC_NAME.test(app)) return send(400, `app name "${app}" is not a valid AC name`);
    if (typeof json !== "object" || json === null || Array.isArray(json)) return send(400, "the image manifest must be a JSON object");
    return registry.registerApp(uuid, app, JSON.stringify(json)) ? send(200) : send(404, `pod ${uuid} is not registered`);
  }
  const token = url.searchParams.get("token") ?? "";
  if (!TOKEN_RE.test(token)) return send(400, "token missing or malformed (16-256 characters of A-Z a-z 0-9 _ -)");
  const manifest = podManifestSchema.safeParse(json);
  if (!manifest.success) return send(400, `not a pod manifest: ${manifest.error.issues[0]?.message ?? "invalid"}`);
  const podDir = url.searchParams.get("pod-dir") ?? undefined;
  if (podDir !== undefined && !podDir.startsWith("/")) return send(400, "pod-dir must be an absolute path");
  registry.register({ uuid, token, manifest: manifest.data, manifestJson: JSON.stringify(json), podDir });
  return send(200, "", { "X-Rkt-Metadata-Port": String(publicPort) });
}
