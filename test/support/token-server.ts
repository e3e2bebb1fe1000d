/**
 * A minimal Docker Registry token server (distribution docs/spec/auth/token.md) running inside the
 * test process: `GET <realm>?service=...&scope=...` with HTTP basic credentials answers a JWT,
 * signed RS256 with a throwaway key, that grants every requested action. The registry trusts the
 * key through `auth.token.rootcertbundle`; the token carries the certificate in its `x5c` header,
 * which is how distribution 2.8 finds the verification key without libtrust key IDs.
 */
import { createPrivateKey, createSign, randomBytes, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { selfSignedRsaCert } from "./test-ca.js";

/** One token request as the server saw it, for tests that assert on scopes or credentials. */
export interface TokenRequest {
  readonly service: string | null;
  readonly scopes: readonly string[];
  /** The basic-auth user name, when credentials were sent. */
  readonly account: string | undefined;
  /** Whether a token was issued (false: missing or wrong credentials). */
  readonly granted: boolean;
}

/** A running token server. */
export interface TokenServer {
  /** The `realm` URL clients are sent to by the registry's `WWW-Authenticate: Bearer` challenge. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The signing certificate, to be the registry's `rootcertbundle`. */
  readonly certFile: string;
  /** Every request so far, oldest first. */
  readonly requests: readonly TokenRequest[];
  close(): Promise<void>;
}

/** Where the token server keeps its key, and whom it trusts. */
export interface TokenServerOptions {
  /** Where the signing key and certificate are written (the caller removes it). */
  readonly dir: string;
  readonly username: string;
  readonly password: string;
  readonly service?: string;
  readonly issuer?: string;
  /** Token lifetime. Default 300 s. */
  readonly expiresInSeconds?: number;
}

/**
 * Starts the token server on 127.0.0.1 (a free port). Requests without valid credentials get
 * 401 with a Basic challenge; anonymous access is not granted.
 *
 * @example
 * const tokens = await startTokenServer({ dir, username: "u", password: "p" });
 * // registry config: auth.token.{realm, service, issuer, rootcertbundle} = tokens.{realm, service, issuer, certFile}
 * await tokens.close();
 */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const service = options.service ?? "rkt-test-registry";
  const issuer = options.issuer ?? "rkt-test-token-issuer";
  const expiresIn = options.expiresInSeconds ?? 300;
  const cert = await selfSignedRsaCert(options.dir, "token-signer", "/CN=rkt test token issuer");
  const key = createPrivateKey(await readFile(cert.keyFile));
  const x5c = new X509Certificate(await readFile(cert.certFile)).raw.toString("base64");
  const requests: TokenRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    const creds = basicCredentials(req.headers.authorization);
    const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter((s) => s !== "");
    const ok = creds !== undefined && creds.username === options.username && creds.password === options.password;
    requests.push({ service: url.searchParams.get("service"), scopes, account: creds?.username, granted: ok });
    if (!ok) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="rkt-test-token"', "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad or missing credentials" }] }));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(
      { typ: "JWT", alg: "RS256", x5c: [x5c] },
      {
        iss: issuer,
        sub: options.username,
        aud: service,
        exp: now + expiresIn,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(16).toString("hex"),
        access: scopes.map(grant).filter((a) => a !== undefined),
      },
      key,
    );
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile: cert.certFile,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * Turns a scope (`repository:<name>:<actions>`, `registry:catalog:*`) into a grant of everything
 * it asks. Names may hold `:` (a port), so type is before the first colon, actions after the last.
 */
function grant(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",") };
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function signJwt(header: object, claims: object, key: ReturnType<typeof createPrivateKey>): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = createSign("RSA-SHA256").update(input).sign(key).toString("base64url");
  return `${input}.${signature}`;
}
