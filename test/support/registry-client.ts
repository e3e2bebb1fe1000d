/**
 * A small Docker Registry HTTP API v2 client for tests (distribution docs/spec/api.md), written
 * independently of the engine's so that pushing fixtures and reading them back does not depend on
 * the code under test. Speaks plain HTTP or HTTPS with the test CA, and answers Basic and Bearer
 * (token) challenges with the registry's test credentials.
 */
import { readFile } from "node:fs/promises";
import { request as httpRequestRaw, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequestRaw } from "node:https";
import { sha256Digest } from "./oci-layout.js";

/** A complete HTTP response. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** PEM CA file contents to trust for https (the test CA). */
  readonly ca?: string | Buffer;
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * One HTTP(S) request with the whole body in memory. Any status resolves; only transport errors
 * and timeouts reject.
 */
export async function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? httpsRequestRaw : httpRequestRaw;
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["Content-Length"] = String(options.body.length);
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = send(
      u,
      { method: options.method ?? "GET", headers, ...(options.ca === undefined ? {} : { ca: options.ca }), timeout: options.timeoutMs ?? 30_000, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${url}: timed out`)));
    req.on("error", reject);
    req.end(options.body === undefined ? undefined : Buffer.from(options.body));
  });
}

/** What the client needs to reach a registry: a TestRegistry fits. */
export interface RegistryEndpoint {
  /** `http://127.0.0.1:PORT` or `https://...`. */
  readonly url: string;
  readonly caFile?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** A manifest as the registry served it. */
export interface FetchedManifest {
  readonly mediaType: string;
  /** The `Docker-Content-Digest` the registry answered (checked against the bytes). */
  readonly digest: string;
  readonly bytes: Buffer;
}

/** Every manifest type the fixtures produce, for `Accept`. */
const ACCEPT_MANIFESTS = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * Registry API calls with authentication handled: a request that gets 401 is retried once with
 * Basic credentials or with a token fetched from the challenge's realm for the challenge's scope.
 *
 * @example
 * const client = new RegistryClient(registry);
 * const m = await client.getManifest("busybox", "latest");
 * assert.equal(m.digest, image.descriptor.digest);
 */
export class RegistryClient {
  readonly #endpoint: RegistryEndpoint;
  #ca: Buffer | undefined;
  /** Authorization header that last worked; tried first on the next request. */
  #authorization: string | undefined;

  /** `credentials: null` makes an anonymous client even if the endpoint has credentials. */
  constructor(endpoint: RegistryEndpoint, credentials?: { username: string; password: string } | null) {
    this.#endpoint =
      credentials === null
        ? { url: endpoint.url, caFile: endpoint.caFile }
        : credentials === undefined
          ? endpoint
          : { ...endpoint, ...credentials };
  }

  /**
   * Sends `method` to `pathOrUrl` (a path under the registry, or an absolute URL such as an
   * upload Location), answering one auth challenge if needed.
   */
  async request(method: string, pathOrUrl: string, options: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<HttpResponse> {
    const url = new URL(pathOrUrl, this.#endpoint.url).toString();
    if (this.#ca === undefined && this.#endpoint.caFile !== undefined) this.#ca = await readFile(this.#endpoint.caFile);
    const ca = this.#ca;
    const send = (authorization: string | undefined): Promise<HttpResponse> =>
      httpRequest(url, {
        method,
        headers: { ...options.headers, ...(authorization === undefined ? {} : { Authorization: authorization }) },
        ...(options.body === undefined ? {} : { body: options.body }),
        ...(ca === undefined ? {} : { ca }),
      });
    const first = await send(this.#authorization);
    if (first.status !== 401) return first;
    const authorization = await this.#answerChallenge(first.headers["www-authenticate"], ca);
    if (authorization === undefined) return first;
    const second = await send(authorization);
    if (second.status !== 401) this.#authorization = authorization;
    return second;
  }

  /** GET /v2/<name>/manifests/<reference>, failing unless 200 and the digest header matches the bytes. */
  async getManifest(name: string, reference: string): Promise<FetchedManifest> {
    const res = await this.request("GET", `/v2/${name}/manifests/${reference}`, { headers: { Accept: ACCEPT_MANIFESTS } });
    if (res.status !== 200) throw new Error(`GET manifest ${name}:${reference}: ${res.status} ${res.body.toString("utf8")}`);
    const digest = sha256Digest(res.body);
    const header = res.headers["docker-content-digest"];
    if (header !== undefined && header !== digest) throw new Error(`GET manifest ${name}:${reference}: header digest ${String(header)}, body ${digest}`);
    return { mediaType: res.headers["content-type"] ?? "", digest, bytes: res.body };
  }

  /** GET /v2/<name>/blobs/<digest>, failing unless 200 and the bytes have that digest. */
  async getBlob(name: string, digest: string): Promise<Buffer> {
    const res = await this.request("GET", `/v2/${name}/blobs/${digest}`);
    if (res.status !== 200) throw new Error(`GET blob ${name}@${digest}: ${res.status}`);
    if (sha256Digest(res.body) !== digest) throw new Error(`GET blob ${name}@${digest}: content has digest ${sha256Digest(res.body)}`);
    return res.body;
  }

  /** HEAD /v2/<name>/blobs/<digest>: whether the registry has the blob in that repository. */
  async hasBlob(name: string, digest: string): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${name}/blobs/${digest}`);
    return res.status === 200;
  }

  async #answerChallenge(header: string | string[] | undefined, ca: Buffer | undefined): Promise<string | undefined> {
    const { username, password } = this.#endpoint;
    const challenge = Array.isArray(header) ? header[0] : header;
    if (challenge === undefined) return undefined;
    const basic = username === undefined || password === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    if (/^Basic\b/i.test(challenge)) return basic;
    if (!/^Bearer\b/i.test(challenge)) return undefined;
    const params = parseChallengeParams(challenge.replace(/^Bearer\s*/i, ""));
    const realm = params.get("realm");
    if (realm === undefined) return undefined;
    const tokenUrl = new URL(realm);
    const service = params.get("service");
    if (service !== undefined) tokenUrl.searchParams.set("service", service);
    const scope = params.get("scope");
    if (scope !== undefined) for (const s of scope.split(" ")) tokenUrl.searchParams.append("scope", s);
    const res = await httpRequest(tokenUrl.toString(), {
      headers: basic === undefined ? {} : { Authorization: basic },
      ...(ca === undefined ? {} : { ca }),
    });
    if (res.status !== 200) return undefined;
    const body = JSON.parse(res.body.toString("utf8")) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    return typeof token === "string" ? `Bearer ${token}` : undefined;
  }
}

/** Parses `k="v",k2="v2"` (RFC 7235 auth-params, quoted or token values). */
export function parseChallengeParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const m of text.matchAll(re)) {
    const key = m[1];
    if (key !== undefined) out.set(key.toLowerCase(), (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1"));
  }
  return out;
}
