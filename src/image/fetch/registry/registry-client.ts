/**
 * A client for the OCI distribution API / Docker Registry HTTP API v2
 * (opencontainers/distribution-spec spec.md, "Pull", and "Push" for `rkt image push`): manifests by
 * tag or digest, blobs by digest, monolithic blob uploads and manifest PUTs, with the registry
 * token auth flow (docker/distribution docs/spec/auth/token.md), redirects,
 * bounded retries of transient failures, and verification of everything that carries a digest.
 *
 * Security posture: HTTPS with the system CAs unless the user allowed plain HTTP
 * (`--insecure-options=http`) or skipped verification (`--insecure-options=tls`, which applies to
 * the registry's own host only, never to a CDN it redirects to); credentials and tokens are sent
 * only to the registry's origin and its token realm, dropped on cross-origin redirects, and never
 * printed.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough, Readable, Transform, type TransformCallback } from "node:stream";
import { RktError } from "../../../lib/errors.js";
import * as z from "../../../lib/schema.js";
import { DIGEST_FORMAT_HINT, digestOf, parseDigest } from "../../formats/digest.js";
import { isSchema1MediaType, SUPPORTED_MANIFEST_MEDIA_TYPES } from "../../formats/media-types.js";
import { parseDocument } from "../../formats/parse-document.js";
import { SCHEMA1_UNSUPPORTED } from "../../formats/parse-manifest.js";
import { isValidRegistryHost, isValidRepository, isValidTag } from "../../reference.js";
import { parseAuthChallenges } from "./auth-challenge.js";
import { basicAuthorization, type CredentialsProvider } from "./credentials.js";
import { describeUrl, isCertificateError, readBody, sendRequest, transportError, type HostRole } from "./http-transport.js";
import { RegistryAuth, type IssuedToken, type TokenRequest } from "./registry-auth.js";
import { formatRegistryErrors, parseRegistryErrors, type RegistryErrorEntry } from "./registry-error-body.js";
import { DEFAULT_RETRY_POLICY, parseRetryAfter, RetryableError, withRetries, type RetryPolicy } from "./retry.js";

/** How to reach one registry. */
export interface RegistryClientOptions {
  /** `host[:port]` as in the image reference (`registry-1.docker.io`, `localhost:5000`). */
  readonly registry: string;
  /**
   * `--insecure-options=http`: plain HTTP is allowed. HTTPS is still tried first (as Docker does
   * for insecure registries), and the client falls back to HTTP only when the server does not
   * speak TLS; without this option plain HTTP is never used, not even after a redirect.
   */
  readonly insecureHttp: boolean;
  /** `--insecure-options=tls`: skip certificate verification for the registry's own host. */
  readonly insecureTls: boolean;
  /** Credentials lookup, asked only after the registry challenges. */
  readonly credentials?: CredentialsProvider | undefined;
  readonly userAgent: string;
  /** Cancels every request of this client. */
  readonly signal?: AbortSignal | undefined;
  /** Defaults to DEFAULT_RETRY_POLICY. */
  readonly retry?: RetryPolicy | undefined;
  /** Socket inactivity limit per request; default 30 s. */
  readonly timeoutMs?: number | undefined;
  /** Largest manifest accepted; default MAX_MANIFEST_BYTES. */
  readonly maxManifestBytes?: number | undefined;
  /** Clock for token expiry and Retry-After dates; default Date.now. */
  readonly now?: (() => number) | undefined;
  /** Jitter source for retries; default Math.random. */
  readonly random?: (() => number) | undefined;
}

/** A manifest or index as the registry sent it, verified against its digest. */
export interface FetchedManifest {
  readonly bytes: Buffer;
  /**
   * The Content-Type without parameters, lowercased; may be generic (`application/json`) or empty,
   * in which case parseManifest decides from the body.
   */
  readonly mediaType: string;
  /** The requested digest when fetched by digest, else the sha256 of the bytes. */
  readonly digest: string;
}

/** What a HEAD on a manifest tells without downloading it. */
export interface ManifestHead {
  readonly mediaType: string;
  /** Docker-Content-Digest, when the registry sent a valid one (it SHOULD; spec.md). */
  readonly digest: string | undefined;
  /** Content-Length, when sent. */
  readonly size: number | undefined;
}

/** Per-call options. */
export interface RequestOptions {
  /** Cancels this call (in addition to the client's signal). */
  readonly signal?: AbortSignal | undefined;
}

/** Options of getBlob. */
export interface BlobOptions extends RequestOptions {
  /** Start at this byte (resuming a partial download, spec.md "Resumable Pull"); default 0. */
  readonly offset?: number | undefined;
}

/** A blob to upload: its digest and size, and a way to read it (again, for a retry). */
export interface UploadBlob {
  readonly digest: string;
  readonly size: number;
  /** A fresh stream of the blob's bytes (or the bytes), for each attempt. */
  readonly open: () => Readable | Buffer;
}

/**
 * Manifests larger than this are refused. Real manifests are a few KiB (a big index is ~100 KiB);
 * the limit keeps a hostile registry from making rkt buffer an unbounded body. 4 MiB is what
 * containerd and the distribution registry use as their manifest limit.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Redirect hops followed per request (blob downloads usually take one, to a CDN). */
export const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 30_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Status codes worth another try: rate limiting and overloaded or restarting upstreams. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);
const GENERIC_CONTENT_TYPES = new Set(["", "application/json", "text/plain", "application/octet-stream"]);

/**
 * token.md, "Token Response Fields": `token`, or `access_token` for OAuth 2.0 compatibility; at
 * least one is required.
 */
const tokenResponseSchema = z
  .object({
    token: z.optional(z.string()),
    access_token: z.optional(z.string()),
    expires_in: z.optional(z.number().check(z.positive())),
  })
  .check(z.refine((t) => (t.token ?? t.access_token ?? "") !== "", { error: 'neither "token" nor "access_token" is set' }));

const REGISTRY: HostRole = { role: "registry" };
const TOKEN_SERVER: HostRole = { role: "token server" };
const REDIRECT_TARGET: HostRole = { role: "redirect target" };

/**
 * A client for one registry. One instance per fetch: it caches the auth scheme and tokens, and
 * the decision between HTTPS and HTTP.
 *
 * @example
 * const client = new RegistryClient({ registry: "registry-1.docker.io", insecureHttp: false,
 *   insecureTls: false, userAgent: "rkt/2.0" });
 * const { bytes, mediaType, digest } = await client.getManifest("library/redis", "7");
 * const layer = await client.getBlob("library/redis", manifest.layers[0]);
 */
export class RegistryClient {
  /** The registry `host[:port]` this client talks to. */
  readonly registry: string;
  private readonly options: RegistryClientOptions;
  private readonly auth: RegistryAuth;
  private readonly now: () => number;
  private origin: Promise<URL> | undefined;

  constructor(options: RegistryClientOptions) {
    if (!isValidRegistryHost(options.registry)) {
      throw new RktError("invalid-argument", `invalid registry host "${options.registry}": expected host[:port]`);
    }
    this.registry = options.registry.toLowerCase();
    this.options = options;
    this.now = options.now ?? Date.now;
    this.auth = new RegistryAuth({
      registry: this.registry,
      credentials: options.credentials,
      fetchToken: (request) => this.fetchToken(request, options.signal),
      now: this.now,
    });
  }

  /**
   * GET a manifest or index by tag or digest (spec.md, "Pulling manifests"). The Accept header
   * lists `acceptTypes` (default: every type rkt supports). The body is limited to
   * `maxManifestBytes` and verified: against the requested digest when fetching by digest (the
   * spec's MUST: "the client MUST always verify the content against the digest used to fetch the
   * content"), and against Docker-Content-Digest when the registry sends one ("if it is used, the
   * client MUST verify the value").
   *
   * Errors: not-found (tag, digest or repository unknown), permission-denied (401/403),
   * unimplemented (schema 1), failed-precondition (a media type not asked for), resource-exhausted
   * (too large), data-loss (digest mismatch), unavailable (network, 5xx after retries).
   */
  async getManifest(
    repository: string,
    reference: string,
    acceptTypes: readonly string[] = SUPPORTED_MANIFEST_MEDIA_TYPES,
    options: RequestOptions = {},
  ): Promise<FetchedManifest> {
    const target = this.manifestTarget(repository, reference);
    const signal = this.signalFor(options.signal);
    const limit = this.options.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    return this.retrying(signal, async () => {
      const res = await this.request("GET", target.path, { accept: acceptTypes.join(", ") }, scopeFor(repository), signal);
      if (res.statusCode !== 200) throw await this.statusError(res, target.notFound, target.image, signal);
      const mediaType = contentType(res);
      this.checkMediaType(res, mediaType, acceptTypes, target.image);
      const bytes = await this.readOrFail(res, limit, () => {
        return new RktError("resource-exhausted", `${target.image}: the manifest is larger than the ${formatBytes(limit)} limit`, {
          hint: "a real image manifest is a few KiB; this registry is misbehaving or the reference points at something else",
        });
      });
      const digest = this.verifyManifest(bytes, res, target);
      return { bytes, mediaType, digest };
    });
  }

  /**
   * HEAD a manifest (spec.md, "Checking if content exists in the registry"): its media type and
   * digest without the body, which lets `--pull-policy=update` see that a tag has not moved.
   */
  async headManifest(
    repository: string,
    reference: string,
    acceptTypes: readonly string[] = SUPPORTED_MANIFEST_MEDIA_TYPES,
    options: RequestOptions = {},
  ): Promise<ManifestHead> {
    const target = this.manifestTarget(repository, reference);
    const signal = this.signalFor(options.signal);
    return this.retrying(signal, async () => {
      const res = await this.request("HEAD", target.path, { accept: acceptTypes.join(", ") }, scopeFor(repository), signal);
      if (res.statusCode !== 200) throw await this.statusError(res, target.notFound, target.image, signal);
      res.resume();
      const mediaType = contentType(res);
      this.checkMediaType(res, mediaType, acceptTypes, target.image);
      const header = headerValue(res, "docker-content-digest");
      const digest = header !== undefined && parseDigest(header) !== undefined ? header : undefined;
      const length = Number(res.headers["content-length"]);
      return { mediaType, digest, size: Number.isSafeInteger(length) && length >= 0 ? length : undefined };
    });
  }

  /**
   * GET a blob (spec.md, "Pulling blobs"), following redirects (usually to a CDN, which gets no
   * Authorization header). With `offset`, asks for the rest with a Range request; if the server
   * ignores the range and sends everything, the first `offset` bytes are skipped here, so the
   * stream always starts at `offset`.
   *
   * The stream is NOT verified: pipe it through a VerifyStream for the descriptor (with the bytes
   * before `offset` hashed first). Retries cover getting the response; a failure mid-body surfaces
   * as a stream error (RktError "unavailable"), and the caller may resume with `offset`.
   */
  async getBlob(repository: string, descriptor: { readonly digest: string; readonly size: number }, options: BlobOptions = {}): Promise<Readable> {
    this.checkRepository(repository);
    if (parseDigest(descriptor.digest) === undefined) {
      throw new RktError("invalid-argument", `invalid blob digest "${descriptor.digest}": ${DIGEST_FORMAT_HINT}`);
    }
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > descriptor.size) {
      throw new RktError("invalid-argument", `invalid offset ${offset} for blob ${descriptor.digest} of ${descriptor.size} bytes`);
    }
    if (offset === descriptor.size) return Readable.from([]);
    const what = `blob ${descriptor.digest} of ${this.registry}/${repository}`;
    const signal = this.signalFor(options.signal);
    const { res, skip } = await this.retrying(signal, async () => {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const res = await this.request("GET", `/v2/${repository}/blobs/${descriptor.digest}`, headers, scopeFor(repository), signal);
      const notFound = `blob ${descriptor.digest} not found in repository ${repository} on ${this.registry}`;
      if (res.statusCode === 200) {
        checkLength(res, descriptor.size, what);
        return { res, skip: offset };
      }
      if (res.statusCode === 206 && offset > 0) {
        const range = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(headerValue(res, "content-range") ?? "");
        if (range === null || Number(range[1]) !== offset) {
          res.destroy();
          throw new RktError("data-loss", `${what}: asked for bytes from ${offset} but the registry sent range "${headerValue(res, "content-range") ?? ""}"`);
        }
        checkLength(res, descriptor.size - offset, what);
        return { res, skip: 0 };
      }
      throw await this.statusError(res, notFound, what, signal);
    });
    return this.bodyStream(res, skip, what, signal);
  }

  // ---- push (spec.md, "Push") ----

  /**
   * Whether `repository` has blob `digest` (HEAD, spec.md "Checking if content exists in the
   * registry"), asked with push scope: a push checks every blob first and uploads only the missing
   * ones.
   */
  async hasBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    this.checkRepository(repository);
    if (parseDigest(digest) === undefined) throw new RktError("invalid-argument", `invalid blob digest "${digest}": ${DIGEST_FORMAT_HINT}`);
    const signal = this.signalFor(options.signal);
    const what = `blob ${digest} of ${this.registry}/${repository}`;
    return this.retrying(signal, async () => {
      const res = await this.request("HEAD", `/v2/${repository}/blobs/${digest}`, {}, pushScopeFor(repository), signal);
      res.resume();
      if (res.statusCode === 200) return true;
      if (res.statusCode === 404) return false;
      throw await this.statusError(res, `${what} not found`, what, signal);
    });
  }

  /**
   * Uploads a blob in one piece (spec.md, "Pushing a blob monolithically", the POST-then-PUT
   * form): POST /v2/<name>/blobs/uploads/ opens an upload session, whose Location gets the body in
   * a PUT with `?digest=`. The registry checks the digest before committing the blob. The whole
   * exchange is retried on transient failures, re-opening the body each time.
   */
  async putBlob(repository: string, blob: UploadBlob, options: RequestOptions = {}): Promise<void> {
    this.checkRepository(repository);
    if (parseDigest(blob.digest) === undefined) throw new RktError("invalid-argument", `invalid blob digest "${blob.digest}": ${DIGEST_FORMAT_HINT}`);
    if (!Number.isSafeInteger(blob.size) || blob.size < 0) throw new RktError("invalid-argument", `invalid size ${blob.size} for blob ${blob.digest}`);
    const signal = this.signalFor(options.signal);
    const scope = pushScopeFor(repository);
    const what = `uploading blob ${blob.digest} to ${this.registry}/${repository}`;
    await this.retrying(signal, async () => {
      const started = await this.requestAt("POST", `/v2/${repository}/blobs/uploads/`, {}, scope, signal);
      const location = headerValue(started.res, "location");
      if (started.res.statusCode !== 202 || location === undefined) {
        if (started.res.statusCode === 202) started.res.resume();
        throw started.res.statusCode === 202
          ? new RktError("unavailable", `${what}: the registry opened an upload without a Location header`)
          : await this.statusError(started.res, `repository ${repository} not found on ${this.registry}`, what, signal);
      }
      started.res.resume();
      let target: URL;
      try {
        target = new URL(location, started.url);
      } catch {
        throw new RktError("unavailable", `${what}: the registry sent an invalid upload location`);
      }
      // The location may carry upload state in its query; the digest is appended to it (spec.md:
      // "<location>?digest=<digest>" where location "MAY contain critical query parameters").
      target.search = `${target.search === "" ? "?" : `${target.search}&`}digest=${encodeURIComponent(blob.digest)}`;
      const headers = { "content-type": "application/octet-stream" };
      const res = await this.request("PUT", target, headers, scope, signal, { length: blob.size, open: blob.open });
      if (res.statusCode !== 201) throw await this.statusError(res, `repository ${repository} not found on ${this.registry}`, what, signal);
      res.resume();
    });
  }

  /**
   * PUTs a manifest under a tag or digest (spec.md, "Pushing Manifests") with its media type as
   * Content-Type, and returns its digest. When the registry reports the digest it computed
   * (Docker-Content-Digest), it must be the digest of the bytes sent.
   */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, options: RequestOptions = {}): Promise<string> {
    const target = this.manifestTarget(repository, reference);
    const digest = digestOf(bytes, parseDigest(target.digest ?? "")?.algorithm ?? "sha256");
    if (target.digest !== undefined && target.digest !== digest) {
      throw new RktError("invalid-argument", `${target.image}: the manifest's digest is ${digest}, not the ${target.digest} it is pushed as`);
    }
    const signal = this.signalFor(options.signal);
    const what = `pushing manifest ${target.image}`;
    return this.retrying(signal, async () => {
      const res = await this.request("PUT", target.path, { "content-type": mediaType }, pushScopeFor(repository), signal, {
        length: bytes.length,
        open: () => bytes,
      });
      if (res.statusCode !== 201) throw await this.statusError(res, `repository ${repository} not found on ${this.registry}`, what, signal);
      res.resume();
      const reported = headerValue(res, "docker-content-digest");
      if (reported !== undefined && parseDigest(reported)?.algorithm === "sha256" && reported !== digestOf(bytes)) {
        throw new RktError("data-loss", `${what}: the registry stored a manifest with digest ${reported}, not the ${digest} sent`);
      }
      return digest;
    });
  }

  // ---- requests ----

  /**
   * One request to the registry, answering at most one auth challenge: anonymous (or with what
   * is already known) first, then again after a 401 if the challenge gave something new to try.
   * Redirects are followed inside. The caller owns the returned response.
   */
  private async request(
    method: HttpMethod,
    path: string | URL,
    headers: Readonly<Record<string, string>>,
    scope: string,
    signal: AbortSignal | undefined,
    body?: RequestBody,
  ): Promise<IncomingMessage> {
    return (await this.requestAt(method, path, headers, scope, signal, body)).res;
  }

  /**
   * request() that also returns the URL that answered (after redirects), against which a relative
   * Location header resolves. `path` is a path on the registry, or a full URL (an upload
   * location); credentials go only to the registry's origin either way.
   */
  private async requestAt(
    method: HttpMethod,
    path: string | URL,
    headers: Readonly<Record<string, string>>,
    scope: string,
    signal: AbortSignal | undefined,
    body?: RequestBody,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    const origin = await this.resolveOrigin(signal);
    const start = typeof path === "string" ? new URL(path, origin) : path;
    for (let challenged = false; ; challenged = true) {
      const authorization = await this.auth.authorization(scope);
      const answered = await this.follow(method, start, headers, (u) => (u.origin === origin.origin ? authorization : undefined), REGISTRY, signal, body);
      const { res, url } = answered;
      if (res.statusCode !== 401 || url.origin !== origin.origin || challenged) return answered;
      const challenges = parseAuthChallenges(res.headersDistinct["www-authenticate"]);
      if (!(await this.auth.respond(challenges, scope, authorization))) return answered;
      res.resume();
    }
  }

  /**
   * Sends a request and follows redirects (up to MAX_REDIRECTS). `authFor` decides per URL
   * whether the Authorization header goes along: only to the origin it belongs to, so a redirect
   * to another host never receives registry credentials or tokens.
   */
  private async follow(
    method: HttpMethod,
    first: URL,
    headers: Readonly<Record<string, string>>,
    authFor: (url: URL) => string | undefined,
    firstRole: HostRole,
    signal: AbortSignal | undefined,
    body?: RequestBody,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    let url = first;
    for (let hops = 0; ; hops++) {
      const who = hops > 0 ? REDIRECT_TARGET : firstRole;
      this.checkScheme(url, who);
      const authorization = authFor(url);
      const sent: Record<string, string> = { ...headers, "user-agent": this.options.userAgent };
      if (authorization !== undefined) sent.authorization = authorization;
      const rejectUnauthorized = !(this.options.insecureTls && url.hostname === this.hostname());
      const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      let res: IncomingMessage;
      try {
        res =
          method === "GET" || method === "HEAD"
            ? await sendRequest({ method, url, headers: sent, rejectUnauthorized, timeoutMs, signal })
            : await sendWithBody({ method, url, headers: sent, rejectUnauthorized, timeoutMs, signal }, body ?? EMPTY_BODY);
      } catch (err) {
        signal?.throwIfAborted();
        throw transportError(err, url, who);
      }
      const status = res.statusCode ?? 0;
      if (!REDIRECT_STATUSES.has(status)) return { res, url };
      if ((method === "POST" || method === "PUT") && status !== 307 && status !== 308) {
        // 301/302/303 would turn an upload into a GET (RFC 9110 15.4): not what a registry does.
        res.resume();
        throw new RktError("unavailable", `${describeUrl(url)} answered ${method} with a ${status} redirect; only 307/308 keep an upload's body`);
      }
      const location = headerValue(res, "location");
      res.resume();
      if (location === undefined) {
        throw new RktError("unavailable", `${describeUrl(url)} answered ${status} without a Location header`);
      }
      if (hops >= MAX_REDIRECTS) {
        throw new RktError("unavailable", `${describeUrl(first)}: more than ${MAX_REDIRECTS} redirects`);
      }
      try {
        url = new URL(location, url);
      } catch {
        throw new RktError("unavailable", `${describeUrl(url)} redirected to an invalid URL`);
      }
    }
  }

  /**
   * The registry's base URL. Without `insecureHttp`, always https. With it, HTTPS is probed once
   * (GET /v2/, the API version check of the Docker registry API) and plain HTTP is used only if the
   * server cannot do TLS on that port: a certificate problem is reported, not silently bypassed.
   */
  private resolveOrigin(signal: AbortSignal | undefined): Promise<URL> {
    const https = new URL(`https://${this.registry}`);
    if (!this.options.insecureHttp) return Promise.resolve(https);
    this.origin ??= (async () => {
      try {
        const res = await sendRequest({
          method: "GET",
          url: new URL("/v2/", https),
          headers: { "user-agent": this.options.userAgent },
          rejectUnauthorized: !this.options.insecureTls,
          timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          signal,
        });
        res.resume();
        return https;
      } catch (err) {
        signal?.throwIfAborted();
        if (isCertificateError(err)) throw transportError(err, https, REGISTRY);
        return new URL(`http://${this.registry}`);
      }
    })();
    // A failed probe (certificate error, abort) must not stick: the next call probes again.
    this.origin.catch(() => {
      this.origin = undefined;
    });
    return this.origin;
  }

  /** Refuses plain HTTP unless allowed, wherever the URL came from (registry, redirect, realm). */
  private checkScheme(url: URL, who: HostRole): void {
    if (url.protocol === "https:") return;
    if (url.protocol === "http:" && this.options.insecureHttp) return;
    if (url.protocol === "http:") {
      throw new RktError("failed-precondition", `refusing plain HTTP to ${who.role} ${describeUrl(url)} (registry ${this.registry})`, {
        hint: "rkt uses plain HTTP only when told to: pass --insecure-options=http if you trust the network",
      });
    }
    throw new RktError("failed-precondition", `${who.role} URL ${describeUrl(url)} is neither https nor http`);
  }

  /** Host name of the registry, without port or IPv6 brackets kept by URL. */
  private hostname(): string {
    return new URL(`https://${this.registry}`).hostname;
  }

  // ---- tokens ----

  /**
   * Gets a bearer token (token.md, "Requesting a Token"): GET the realm with `service` and one
   * `scope` parameter per scope, Basic credentials when we have them. The realm must be HTTPS
   * unless plain HTTP is allowed, because the credentials travel with it.
   */
  private async fetchToken(request: TokenRequest, signal: AbortSignal | undefined): Promise<IssuedToken> {
    const url = new URL(request.realm);
    if (request.service !== undefined && request.service !== "") url.searchParams.set("service", request.service);
    for (const scope of request.scopes) url.searchParams.append("scope", scope);
    const basic = request.credentials === undefined ? undefined : basicAuthorization(request.credentials);
    const { res } = await this.follow("GET", url, { accept: "application/json" }, (u) => (u.origin === url.origin ? basic : undefined), TOKEN_SERVER, signal);
    const status = res.statusCode ?? 0;
    const where = `token server ${describeUrl(request.realm)}`;
    if (status === 200) {
      const body = await this.readOrFail(res, MAX_TOKEN_RESPONSE_BYTES, () => new RktError("unavailable", `${where} sent an oversized answer`));
      const parsed = parseDocument(body, tokenResponseSchema, `answer of ${where}`, "unavailable");
      return { token: parsed.token ?? parsed.access_token ?? "", expiresInSeconds: parsed.expires_in };
    }
    res.resume();
    if (status === 401 || status === 403) {
      throw new RktError(
        "permission-denied",
        request.credentials === undefined
          ? `${where} refused an anonymous token for ${this.registry} (${status})`
          : `${where} rejected the credentials configured for ${this.registry} (${status})`,
        { hint: authHint(this.registry, request.credentials !== undefined) },
      );
    }
    if (TRANSIENT_STATUSES.has(status)) {
      throw new RetryableError("unavailable", `${where} answered ${status} ${res.statusMessage ?? ""}`.trimEnd(), {
        retryAfterMs: parseRetryAfter(headerValue(res, "retry-after"), this.now()),
      });
    }
    throw new RktError("unavailable", `${where} answered ${status} ${res.statusMessage ?? ""}`.trimEnd());
  }

  // ---- responses ----

  /** The RktError for a non-success status; reads (a bounded amount of) the error body first. */
  private async statusError(res: IncomingMessage, notFound: string, what: string, signal: AbortSignal | undefined): Promise<RktError> {
    const status = res.statusCode ?? 0;
    const entries: RegistryErrorEntry[] = [];
    if (res.readable && status >= 400) {
      try {
        entries.push(...parseRegistryErrors(await readBody(res, MAX_ERROR_BODY_BYTES, () => new RktError("unavailable", "error body too large"))));
      } catch {
        signal?.throwIfAborted();
      }
    }
    res.destroy();
    const detail = entries.length === 0 ? "" : ` (${formatRegistryErrors(entries)})`;
    const statusText = `${status}${res.statusMessage === undefined || res.statusMessage === "" ? "" : ` ${res.statusMessage}`}`;
    if (status === 404) {
      const nameUnknown = entries.some((e) => e.code === "NAME_UNKNOWN");
      return new RktError("not-found", nameUnknown ? `${what}: repository not found on ${this.registry}${detail}` : `${notFound}${detail}`);
    }
    if (status === 401 || status === 403) {
      const hasCredentials = this.auth.hasCredentials();
      return new RktError(
        "permission-denied",
        `${what}: access denied (${statusText})${detail}${hasCredentials ? "" : "; the repository may not exist, or it may require credentials"}`,
        { hint: authHint(this.registry, hasCredentials) },
      );
    }
    if (TRANSIENT_STATUSES.has(status)) {
      return new RetryableError("unavailable", `${what}: registry answered ${statusText}${detail}`, {
        retryAfterMs: parseRetryAfter(headerValue(res, "retry-after"), this.now()),
      });
    }
    if (status >= 500) return new RktError("unavailable", `${what}: registry answered ${statusText}${detail}`);
    return new RktError("failed-precondition", `${what}: registry answered ${statusText}${detail}`);
  }

  /**
   * Refuses a manifest response whose Content-Type is a specific type we did not ask for; generic
   * types (application/json, none) are left for parseManifest to decide from the body.
   */
  private checkMediaType(res: IncomingMessage, mediaType: string, acceptTypes: readonly string[], image: string): void {
    if (isSchema1MediaType(mediaType)) {
      res.destroy();
      throw new RktError("unimplemented", `${image}: ${SCHEMA1_UNSUPPORTED}`);
    }
    if (!GENERIC_CONTENT_TYPES.has(mediaType) && !acceptTypes.includes(mediaType)) {
      res.destroy();
      throw new RktError("failed-precondition", `${image}: the registry sent media type "${printable(mediaType)}", which rkt did not ask for`, {
        hint: `rkt accepts ${acceptTypes.join(", ")}; the reference may point at an artifact rather than a container image`,
      });
    }
  }

  /**
   * Checks a manifest against its digests and returns the digest to record: the requested one, or
   * the sha256 of the bytes when fetched by tag.
   */
  private verifyManifest(bytes: Buffer, res: IncomingMessage, target: ManifestTarget): string {
    const header = headerValue(res, "docker-content-digest");
    const headerDigest = header === undefined ? undefined : parseDigest(header);
    if (header !== undefined && headerDigest !== undefined && digestOf(bytes, headerDigest.algorithm) !== header) {
      throw new RktError("data-loss", `${target.image}: the manifest does not match the Docker-Content-Digest ${header} the registry sent`);
    }
    if (target.digest !== undefined) {
      const algorithm = parseDigest(target.digest)?.algorithm ?? "sha256";
      const actual = digestOf(bytes, algorithm);
      if (actual !== target.digest) {
        throw new RktError("data-loss", `${target.image}: the registry sent a manifest with digest ${actual}, not the requested ${target.digest}`);
      }
      return target.digest;
    }
    return digestOf(bytes, "sha256");
  }

  /** readBody with transport errors mapped (a reset mid-manifest is retried). */
  private async readOrFail(res: IncomingMessage, limit: number, tooLarge: () => RktError): Promise<Buffer> {
    try {
      return await readBody(res, limit, tooLarge);
    } catch (err) {
      if (err instanceof RktError) throw err;
      throw transportError(err, new URL(`https://${this.registry}`), REGISTRY);
    }
  }

  /**
   * The blob body as a stream that starts at the requested offset and fails with RktErrors:
   * transport errors mid-body become "unavailable" (retryable by resuming), an abort stays an
   * abort.
   */
  private bodyStream(res: IncomingMessage, skip: number, what: string, signal: AbortSignal | undefined): Readable {
    const out = new PassThrough();
    // Plain pipe() instead of pipeline(): pipeline would destroy `out` with the raw Node error
    // before we could put an RktError in its place.
    const fail = (err: Error): void => {
      if (signal?.aborted === true) {
        out.destroy(signal.reason instanceof Error ? signal.reason : err);
        return;
      }
      out.destroy(err instanceof RktError ? err : new RktError("unavailable", `${what}: download interrupted`, { cause: err }));
    };
    res.once("error", fail);
    let source: Readable = res;
    if (skip > 0) {
      const skipper = new SkipBytes(skip);
      skipper.once("error", fail);
      source = res.pipe(skipper);
    }
    source.pipe(out);
    // A consumer that stops early (a VerifyStream failing, say) releases the connection.
    out.once("close", () => {
      if (!res.complete) res.destroy();
    });
    return out;
  }

  // ---- helpers ----

  private retrying<T>(signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    return withRetries(attempt, {
      policy: this.options.retry ?? DEFAULT_RETRY_POLICY,
      signal,
      ...(this.options.random === undefined ? {} : { random: this.options.random }),
    });
  }

  private signalFor(call: AbortSignal | undefined): AbortSignal | undefined {
    const own = this.options.signal;
    if (call === undefined) return own;
    if (own === undefined) return call;
    return AbortSignal.any([own, call]);
  }

  private checkRepository(repository: string): void {
    if (!isValidRepository(repository)) {
      throw new RktError("invalid-argument", `invalid repository name "${repository}" for registry ${this.registry}`);
    }
  }

  private manifestTarget(repository: string, reference: string): ManifestTarget {
    this.checkRepository(repository);
    if (reference.includes(":")) {
      if (parseDigest(reference) === undefined) {
        throw new RktError("invalid-argument", `invalid manifest digest "${reference}": ${DIGEST_FORMAT_HINT}`);
      }
      return {
        path: `/v2/${repository}/manifests/${reference}`,
        image: `${this.registry}/${repository}@${reference}`,
        digest: reference,
        notFound: `manifest ${reference} not found in repository ${repository} on ${this.registry}`,
      };
    }
    if (!isValidTag(reference)) throw new RktError("invalid-argument", `invalid tag "${reference}"`);
    return {
      path: `/v2/${repository}/manifests/${reference}`,
      image: `${this.registry}/${repository}:${reference}`,
      digest: undefined,
      notFound: `tag ${reference} not found in repository ${repository} on ${this.registry}`,
    };
  }
}

interface ManifestTarget {
  readonly path: string;
  /** `registry/repository:tag` or `@digest`, for messages. */
  readonly image: string;
  readonly digest: string | undefined;
  readonly notFound: string;
}

/** Drops the first `count` bytes: the part of a resumed blob a server resent anyway. */
class SkipBytes extends Transform {
  private remaining: number;

  constructor(count: number) {
    super();
    this.remaining = count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.remaining >= chunk.length) {
      this.remaining -= chunk.length;
      callback();
      return;
    }
    const rest = chunk.subarray(this.remaining);
    this.remaining = 0;
    callback(null, rest);
  }
}

/** The methods the client sends; POST and PUT carry a body (uploads). */
type HttpMethod = "GET" | "HEAD" | "POST" | "PUT";

/** A request body: its exact length and a fresh copy of it per attempt (auth retries, redirects). */
interface RequestBody {
  readonly length: number;
  readonly open: () => Readable | Buffer;
}

const EMPTY_BODY: RequestBody = { length: 0, open: () => Buffer.alloc(0) };

/**
 * sendRequest (http-transport.ts) for requests with a body: sends `body` with its Content-Length
 * and resolves with the response head. A response that comes before the body is sent (a 401, a
 * refusal) stops the upload.
 */
function sendWithBody(
  req: {
    readonly method: "POST" | "PUT";
    readonly url: URL;
    readonly headers: Readonly<Record<string, string>>;
    readonly rejectUnauthorized: boolean;
    readonly timeoutMs: number;
    readonly signal?: AbortSignal | undefined;
  },
  body: RequestBody,
): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const headers = { ...req.headers, "content-length": String(body.length) };
    const options = { method: req.method, headers, ...(req.signal === undefined ? {} : { signal: req.signal }) };
    const r = req.url.protocol === "https:" ? httpsRequest(req.url, { ...options, rejectUnauthorized: req.rejectUnauthorized }) : httpRequest(req.url, options);
    r.setTimeout(req.timeoutMs, () => {
      r.destroy(Object.assign(new Error(`no data for ${Math.round(req.timeoutMs / 1000)} s`), { code: "ETIMEDOUT" }));
    });
    // Errors after the response (the rest of an upload the server refused early) are not this
    // request's result any more; `on`, not `once`, so a second error is not an unhandled one.
    r.on("error", reject);
    let source: Readable | Buffer;
    try {
      source = body.open();
    } catch (err) {
      r.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    r.once("response", (res) => {
      if (!Buffer.isBuffer(source) && !source.readableEnded) {
        source.unpipe(r);
        source.destroy();
      }
      resolve(res);
    });
    if (Buffer.isBuffer(source)) {
      r.end(source);
    } else {
      source.once("error", (err) => r.destroy(err));
      source.pipe(r);
    }
  });
}

/** The pull-and-push scope a push asks for (docs/spec/auth/scope.md). */
function pushScopeFor(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** The pull scope of a repository (docs/spec/auth/scope.md). */
function scopeFor(repository: string): string {
  return `repository:${repository}:pull`;
}

function authHint(registry: string, hasCredentials: boolean): string {
  return hasCredentials
    ? `check the dockerAuth credentials for ${registry} in /etc/rkt/auth.d`
    : `if the image is private, add a dockerAuth entry for ${registry} with credentials to /etc/rkt/auth.d`;
}

/** A Content-Length that contradicts the descriptor fails before any byte is read. */
function checkLength(res: IncomingMessage, expected: number, what: string): void {
  const declared = headerValue(res, "content-length");
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) !== expected) {
    res.destroy();
    throw new RktError("data-loss", `${what}: the registry announces ${declared} bytes, the manifest says ${expected}`);
  }
}

function headerValue(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}

function contentType(res: IncomingMessage): string {
  return (headerValue(res, "content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}...` : clean;
}

