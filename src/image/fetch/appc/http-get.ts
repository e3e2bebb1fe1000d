/**
 * One HTTP(S) GET for appc downloads: discovery pages, public keys, ACIs and their signatures.
 * Follows redirects, but never from https to plain http unless plain HTTP was allowed
 * (`--insecure-options=http`): a redirect must not be a way around the rule. Certificates are
 * checked against the system CAs and NODE_EXTRA_CA_CERTS (Node's default store), plus any
 * `extraCa` the caller passes.
 *
 * Uses node:https directly (not fetch) for per-request TLS settings, as the registry client does.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { pipeline, Transform, type Readable, type TransformCallback } from "node:stream";
import { rootCertificates } from "node:tls";
import { describe, errnoCode, RktError } from "../../../lib/errors.js";
import { describeUrl, isCertificateError, isPlainHttpAnswer } from "../registry/http-transport.js";

/** How appc downloads reach their hosts. */
export interface HttpOptions {
  /** Allow plain http:// URLs and https -> http redirects (`--insecure-options=http`). */
  readonly insecureHttp: boolean;
  /** Skip certificate verification (`--insecure-options=tls`). */
  readonly insecureTls: boolean;
  /** Extra request headers for a URL, e.g. `Authorization` from auth.d for its host. Asked again after each redirect. */
  readonly headers?: (url: URL) => Readonly<Record<string, string>>;
  /** PEM CA certificates trusted in addition to the system's (tests, private CAs). */
  readonly extraCa?: readonly string[];
  /** Socket inactivity limit in ms (default 60 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A response whose body the caller must consume or destroy. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body; with `maxBytes`, it fails with RktError "resource-exhausted" past the limit. */
  readonly body: Readable;
  /** The URL that answered, after redirects. */
  readonly finalUrl: string;
}

const MAX_REDIRECTS = 10;

/**
 * GETs `url`, following up to 10 redirects, and resolves with the first non-redirect response
 * whatever its status. Throws RktError for a refused scheme, a downgrade, too many redirects
 * and transport failures (unreachable host, untrusted certificate, ...).
 *
 * @example
 * const res = await httpGet("https://example.com/app?ac-discovery=1", { insecureHttp: false, insecureTls: false, maxBytes: 1 << 20 });
 * if (res.status !== 200) res.body.destroy();
 */
export async function httpGet(url: string, options: HttpOptions & { readonly maxBytes?: number }): Promise<HttpResponse> {
  let current = parseUrl(url);
  checkScheme(current, options, undefined);
  for (let hop = 0; ; hop++) {
    const res = await send(current, options);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && status !== 304 && location !== undefined) {
      res.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new RktError("unavailable", `${describeUrl(parseUrl(url))}: more than ${MAX_REDIRECTS} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new RktError("unavailable", `${describeUrl(current)} redirected to an invalid URL "${location}"`);
      }
      checkScheme(next, options, current);
      current = next;
      continue;
    }
    const limit = options.maxBytes;
    let body: Readable = res;
    if (limit !== undefined) {
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > limit) {
        res.destroy();
        throw tooLarge(current, limit);
      }
      // pipeline: destroying the returned body (a consumer giving up) also closes the socket.
      body = pipeline(res, byteLimit(current, limit), () => undefined);
    }
    return { status, headers: res.headers, body, finalUrl: current.href };
  }
}

/**
 * Reads a whole response body into memory, up to `maxBytes` (the body must have been requested
 * with the same or a larger limit, or be small by nature).
 */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new RktError("invalid-argument", `invalid URL "${text}"`);
  }
}

function checkScheme(url: URL, options: HttpOptions, from: URL | undefined): void {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:") {
    if (options.insecureHttp) return;
    if (from !== undefined) {
      throw new RktError("permission-denied", `${describeUrl(from)} redirected to plain HTTP (${describeUrl(url)}); refusing to downgrade`, {
        hint: "pass --insecure-options=http only if you trust the network to this host",
      });
    }
    throw new RktError("permission-denied", `refusing plain HTTP for ${describeUrl(url)}`, {
      hint: "use an https:// URL, or pass --insecure-options=http if you trust the network to this host",
    });
  }
  throw new RktError("invalid-argument", `unsupported URL scheme "${url.protocol}" in ${url.protocol}//${url.host}${url.pathname}: only https (and http when allowed)`);
}

function send(url: URL, options: HttpOptions): Promise<IncomingMessage> {
  const headers = { "user-agent": "rkt", ...options.headers?.(url) };
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const common = { method: "GET", headers, ...(options.signal === undefined ? {} : { signal: options.signal }) };
    const req =
      url.protocol === "https:"
        ? httpsRequest(url, {
            ...common,
            rejectUnauthorized: !options.insecureTls,
            ...(options.extraCa !== undefined && options.extraCa.length > 0 ? { ca: [...rootCertificates, ...options.extraCa] } : {}),
          })
        : httpRequest(url, common);
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no data for ${Math.round(timeoutMs / 1000)} s`), { code: "ETIMEDOUT" }));
    });
    req.once("response", resolve);
    req.once("error", (err) => reject(transportError(err, url)));
    req.end();
  });
}

/** A transform that fails once more than `limit` bytes went through. */
function byteLimit(url: URL, limit: number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      total += chunk.length;
      if (total > limit) done(tooLarge(url, limit));
      else done(null, chunk);
    },
  });
}

function tooLarge(url: URL, limit: number): RktError {
  return new RktError("resource-exhausted", `${describeUrl(url)} sent more than ${limit} bytes, more than such a file can be`);
}

/** The RktError for a failed request: what failed, at which host, and what to do. */
function transportError(err: unknown, url: URL): RktError {
  if (err instanceof RktError) return err;
  const code = errnoCode(err) ?? "";
  const options = { cause: err };
  if (code === "ABORT_ERR") return new RktError("unavailable", `request to ${describeUrl(url)} was cancelled`, options);
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL"].includes(code)) {
    return new RktError("unavailable", `cannot resolve host ${url.hostname}`, { ...options, hint: "check the name, and this machine's DNS configuration and network" });
  }
  if (code === "ECONNREFUSED") {
    return new RktError("unavailable", `connection refused by ${url.host} (${describeUrl(url)})`, { ...options, hint: "is a web server listening there?" });
  }
  if (isCertificateError(err)) {
    return new RktError("failed-precondition", `TLS certificate of ${url.host} is not trusted: ${describe(err)}`, {
      ...options,
      hint: "add the host's CA to the system trust store (or NODE_EXTRA_CA_CERTS), or pass --insecure-options=tls to skip verification (unsafe)",
    });
  }
  if (isPlainHttpAnswer(err)) {
    return new RktError("failed-precondition", `${url.host} does not speak HTTPS (it answered in plain HTTP)`, {
      ...options,
      hint: "pass --insecure-options=http only if you trust the network to this host",
    });
  }
  return new RktError("unavailable", `request to ${describeUrl(url)} failed: ${describe(err)}`, options);
}
