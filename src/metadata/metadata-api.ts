/**
 * The app-facing metadata API (appc spec, "App Container Metadata Service"), under
 * `/{token}/acMetadata/v1`; apps find it in AC_METADATA_URL (`http://HOST:PORT/{token}`):
 *
 * | Method | Path | Answer |
 * |---|---|---|
 * | GET | `/pod/annotations` | the pod manifest's annotations, JSON `[{name, value}]` |
 * | GET | `/pod/annotations/{name}` | one value, text |
 * | GET | `/pod/manifest` | the pod manifest, JSON |
 * | GET | `/pod/uuid` | the pod's UUID, text |
 * | GET | `/apps/{app}/annotations` | the app's image annotations overlaid with its pod annotations |
 * | GET | `/apps/{app}/annotations/{name}` | one value, text |
 * | GET | `/apps/{app}/image/manifest` | the app's image manifest, JSON |
 * | GET | `/apps/{app}/image/id` | the app's image ID, text |
 * | POST | `/pod/hmac/sign` | form `content`: base64 HMAC-SHA512 for this pod (pod-identity.ts) |
 * | POST | `/pod/hmac/verify` | form `uuid`, `content`, `signature`: 200 if this service signed it for that pod, else 403 |
 *
 * An unknown token (or one whose pod has exited) gets 401: a pod's token reaches its own data
 * only. A malformed name gets 400, a missing app or annotation 404. Form values are read from
 * the query string and from an `application/x-www-form-urlencoded` body.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { AC_IDENTIFIER, AC_NAME } from "../image/formats/appc/image-manifest.js";
import { BodyTooLarge, readBody, reply } from "./http-exchange.js";
import type { MetadataPod, MetadataRegistry } from "./metadata-registry.js";
import type { PodIdentity } from "./pod-identity.js";

const MAX_FORM = 1024 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Handles one request of the public API; resolves with the status sent.
 *
 * @example
 * http.createServer((req, res) => void handleMetadataRequest(registry, identity, req, res));
 */
export async function handleMetadataRequest(registry: MetadataRegistry, identity: PodIdentity, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const send = (status: number, body: string | object = ""): number => {
    reply(res, status, body);
    return status;
  };
  const url = new URL(req.url ?? "/", "http://metadata");
  const m = /^\/([^/]+)\/acMetadata\/v1(\/.*)$/.exec(url.pathname);
  if (m === null) return send(404, "not a metadata path: /{token}/acMetadata/v1/...");
  const rest = m[2] ?? "";
  const hmac = /^\/pod\/hmac\/(sign|verify)$/.exec(rest);
  const method = req.method ?? "";
  if (hmac !== null ? method !== "POST" : method !== "GET" && method !== "HEAD") {
    res.setHeader("Allow", hmac !== null ? "POST" : "GET");
    return send(405, hmac !== null ? "use POST" : "use GET");
  }
  const pod = registry.lookup(decodeURIComponent(m[1] ?? ""));
  if (pod === undefined) return send(401, "pod not found: unknown token");

  if (hmac !== null) {
    let form: URLSearchParams;
    try {
      form = await readForm(req, url);
    } catch (err) {
      return send(err instanceof BodyTooLarge ? 413 : 400, err instanceof Error ? err.message : String(err));
    }
    if (hmac[1] === "sign") {
      const content = form.get("content");
      if (content === null || content === "") return send(400, "content form value not found");
      return send(200, identity.sign(pod.uuid, content));
    }
    const uuid = form.get("uuid") ?? "";
    const content = form.get("content") ?? "";
    const signature = form.get("signature") ?? "";
    if (!UUID_RE.test(uuid)) return send(400, "uuid field missing or malformed");
    if (content === "") return send(400, "content field missing");
    if (signature === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return send(400, "signature field missing or corrupt");
    return send(identity.verify(uuid, content, signature) ? 200 : 403);
  }

  const podRoute = /^\/pod\/(annotations|manifest|uuid)(?:\/(.+))?$/.exec(rest);
  if (podRoute !== null) return podEndpoint(pod, podRoute[1] ?? "", podRoute[2], res);
  const appRoute = /^\/apps\/([^/]+)\/(annotations|image\/manifest|image\/id)(?:\/(.+))?$/.exec(rest);
  if (appRoute !== null) return appEndpoint(pod, decodeURIComponent(appRoute[1] ?? ""), appRoute[2] ?? "", appRoute[3], res);
  return send(404, `no such endpoint: ${rest}`);
}

function podEndpoint(pod: MetadataPod, what: string, name: string | undefined, res: ServerResponse): number {
  const send = (status: number, body: string | object = ""): number => {
    reply(res, status, body);
    return status;
  };
  if (what === "annotations") {
    const annotations = pod.manifest.annotations ?? [];
    if (name === undefined) return send(200, annotations);
    const key = decodeURIComponent(name);
    if (!AC_IDENTIFIER.test(key)) return send(400, `pod annotation "${key}" is not a valid AC identifier`);
    const hit = annotations.find((a) => a.name === key);
    return hit === undefined ? send(404, `pod annotation "${key}" not found`) : send(200, hit.value);
  }
  if (name !== undefined) return send(404, "no such endpoint");
  if (what === "manifest") {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(pod.manifestJson) });
    res.end(pod.manifestJson);
    return 200;
  }
  return send(200, pod.uuid);
}

function appEndpoint(pod: MetadataPod, app: string, what: string, name: string | undefined, res: ServerResponse): number {
  const send = (status: number, body: string | object = ""): number => {
    reply(res, status, body);
    return status;
  };
  if (!AC_NAME.test(app)) return send(400, `app name "${app}" is not a valid AC name`);
  const inPod = pod.manifest.apps.find((a) => a.name === app);
  const imageManifest = pod.apps.get(app);
  if (inPod === undefined || imageManifest === undefined) return send(404, `app "${app}" not found`);
  if (what === "image/id") return name === undefined ? send(200, inPod.image.id) : send(404, "no such endpoint");
  if (what === "image/manifest") {
    if (name !== undefined) return send(404, "no such endpoint");
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(imageManifest) });
    res.end(imageManifest);
    return 200;
  }
  // The image's annotations, overlaid with the app's annotations in the pod manifest.
  const merged = new Map<string, string>();
  for (const a of imageAnnotations(imageManifest)) merged.set(a.name, a.value);
  for (const a of inPod.annotations ?? []) merged.set(a.name, a.value);
  if (name === undefined) return send(200, [...merged].map(([n, value]) => ({ name: n, value })));
  const key = decodeURIComponent(name);
  if (!AC_IDENTIFIER.test(key)) return send(400, `app annotation "${key}" is not a valid AC identifier`);
  const value = merged.get(key);
  return value === undefined ? send(404, `app annotation "${key}" not found`) : send(200, value);
}

/** Annotations of an image manifest: appc's `[{name, value}]`, or OCI's `{key: value}`. */
function imageAnnotations(json: string): { name: string; value: string }[] {
  try {
    const doc = JSON.parse(json) as { annotations?: unknown };
    const a = doc.annotations;
    if (Array.isArray(a)) {
      return a.filter((x): x is { name: string; value: string } => typeof (x as { name?: unknown }).name === "string" && typeof (x as { value?: unknown }).value === "string");
    }
    if (typeof a === "object" && a !== null) {
      return Object.entries(a).filter((e): e is [string, string] => typeof e[1] === "string").map(([n, value]) => ({ name: n, value }));
    }
  } catch {
    // not JSON: no annotations
  }
  return [];
}

/** Form values from the query string and a url-encoded body (body values win). */
async function readForm(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const form = new URLSearchParams(url.searchParams);
  const body = await readBody(req, MAX_FORM);
  const type = req.headers["content-type"] ?? "";
  if (body.length > 0) {
    if (!type.startsWith("application/x-www-form-urlencoded") && type !== "") throw new Error(`unsupported content type "${type}": send application/x-www-form-urlencoded`);
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) form.set(k, v);
  }
  return form;
}
