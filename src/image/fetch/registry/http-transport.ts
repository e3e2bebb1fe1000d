/**
 * One HTTP(S) request with node:http / node:https, and the translation of transport failures into
 * RktErrors that say what failed and what to do. TLS options are per request (a registry may be
 * trusted insecurely while the CDN it redirects to is not), which is why this is not fetch/undici.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { describe, errnoCode, RktError } from "../../../lib/errors.js";
import { RetryableError } from "./retry.js";

/** A request to send. Bodies are never sent: pulling only GETs and HEADs. */
export interface TransportRequest {
  readonly method: "GET" | "HEAD";
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** False skips certificate verification (`--insecure-options=tls`); https only. */
  readonly rejectUnauthorized: boolean;
  /** Socket inactivity limit, while connecting and while the body streams. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Sends a request and resolves with the response head; the body is left to the caller, who must
 * consume or destroy it. Rejects with the raw Node error (see transportError).
 */
export function sendRequest(req: TransportRequest): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const options = { method: req.method, headers: req.headers, ...(req.signal === undefined ? {} : { signal: req.signal }) };
    const r = req.url.protocol === "https:" ? httpsRequest(req.url, { ...options, rejectUnauthorized: req.rejectUnauthorized }) : httpRequest(req.url, options);
    r.setTimeout(req.timeoutMs, () => {
      r.destroy(Object.assign(new Error(`no data for ${Math.round(req.timeoutMs / 1000)} s`), { code: "ETIMEDOUT" }));
    });
    r.once("response", resolve);
    r.once("error", reject);
    r.end();
  });
}

/**
 * Reads a whole body, refusing more than `limit` bytes: a declared Content-Length over the limit
 * fails before reading, and a body that grows past it is cut off. `tooLarge` makes the error.
 */
export async function readBody(res: IncomingMessage, limit: number, tooLarge: () => RktError): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      res.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * A URL as it may appear in messages: scheme, host and path. The query is dropped because
 * pre-signed blob URLs (S3, GCS) carry their signature there, and user info is never printed.
 */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Who a failing host is, for messages: the registry itself, or a host it sent us to. */
export interface HostRole {
  /** `registry`, `token server` or `redirect target`. */
  readonly role: string;
}

const CERT_ERRORS = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Whether a transport error is a certificate verification failure (as opposed to no TLS at all). */
export function isCertificateError(err: unknown): boolean {
  return CERT_ERRORS.has(errnoCode(err) ?? "");
}

/** Whether a transport error means the server does not speak TLS there (it answered plain HTTP). */
export function isPlainHttpAnswer(err: unknown): boolean {
  const code = errnoCode(err) ?? "";
  if (code !== "EPROTO" && !code.startsWith("ERR_SSL_")) return false;
  return /wrong version number|packet length too long|http request/i.test(describe(err));
}

/**
 * The RktError for a failed request to `url`. Connection resets and timeouts become
 * RetryableErrors; name resolution, refused connections and TLS failures do not, because trying
 * again in a second changes nothing.
 */
export function transportError(err: unknown, url: URL, who: HostRole): RktError {
  if (err instanceof RktError) return err;
  const code = errnoCode(err) ?? "";
  const host = url.host;
  const options = { cause: err };
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return new RktError("unavailable", `cannot resolve ${who.role} host ${url.hostname}`, {
        ...options,
        hint: "check the name, and this machine's DNS configuration and network",
      });
    case "ECONNREFUSED":
      return new RktError("unavailable", `connection refused by ${who.role} ${host}`, {
        ...options,
        hint: `is a registry listening on ${host}? (the port is ${url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port})`,
      });
    case "ECONNRESET":
      return new RetryableError("unavailable", `connection to ${who.role} ${host} was reset`, options);
    case "ETIMEDOUT":
      return new RetryableError("unavailable", `${who.role} ${host} did not answer: ${describe(err)}`, options);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new RktError("unavailable", `cannot reach ${who.role} ${host}: ${describe(err)}`, options);
  }
  if (isCertificateError(err)) {
    return new RktError("failed-precondition", `TLS certificate of ${who.role} ${host} is not trusted: ${describe(err)}`, {
      ...options,
      hint: "add the registry's CA to the system trust store, or pass --insecure-options=tls to skip verification (unsafe: anyone on the network can impersonate the registry)",
    });
  }
  if (isPlainHttpAnswer(err)) {
    return new RktError("failed-precondition", `${who.role} ${host} does not speak HTTPS (it answered in plain HTTP)`, {
      ...options,
      hint: "rkt uses plain HTTP only when told to: pass --insecure-options=http if you trust the network to this registry",
    });
  }
  if (code === "EPROTO" || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) {
    return new RktError("failed-precondition", `TLS handshake with ${who.role} ${host} failed: ${describe(err)}`, options);
  }
  return new RktError("unavailable", `request to ${describeUrl(url)} failed: ${describe(err)}`, options);
}
