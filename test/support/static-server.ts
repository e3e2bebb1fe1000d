/**
 * A small HTTP or HTTPS server on a loopback address for discovery, key and ACI downloads in tests:
 * the web host a user would publish an image on.
 *
 * appc names cannot carry a port (`example.com/app`, no `:8443`), and discovery always asks
 * `https://<name>?ac-discovery=1` on the default port. So each server binds port 443 (or 80) on
 * its own address out of 127.0.0.0/8 (all of it is loopback on Linux) and tests name images after
 * that address: `127.41.7.3/app`. Nothing leaves the machine, and parallel servers never collide.
 */
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createTestCa, issueServerCert } from "./test-ca.js";

/** What one route answers. */
export interface StaticResponse {
  readonly status?: number;
  readonly body: string | Uint8Array;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A route: fixed content, a file read at request time, or a function of the request. */
export type Route = StaticResponse | { readonly file: string; readonly contentType?: string } | ((req: IncomingMessage) => StaticResponse | Promise<StaticResponse>);

/** How {@link startStaticServer} serves. */
export interface StaticServerOptions {
  /** HTTPS with a certificate from a fresh test CA (default true). */
  readonly tls?: boolean;
  /** Directory for the CA and certificate files (required with tls). */
  readonly dir?: string;
  /** Routes by URL path (no query string), e.g. `/app` or `/app-1.0-linux-amd64.aci`. */
  readonly routes?: Readonly<Record<string, Route>>;
  /** Default: 443 with tls, 80 without. 0 picks a free port (then names cannot reach it). */
  readonly port?: number;
}

/** One request the server saw. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
}

/** A running server. Stop it with `close()`. */
export interface StaticServer {
  /** The loopback address it listens on, e.g. `127.41.7.3`: use it as the host part of names. */
  readonly host: string;
  readonly port: number;
  /** `https://127.41.7.3` (with `:port` when not the default). */
  readonly origin: string;
  /** The test CA's certificate (PEM file), with tls: pass it as NODE_EXTRA_CA_CERTS. */
  readonly caFile: string | undefined;
  /** Every request so far, oldest first. */
  readonly requests: SeenRequest[];
  /** Adds or replaces a route while running. */
  route(path: string, route: Route): void;
  close(): Promise<void>;
}

/**
 * Starts a server with `routes`; unknown paths answer 404.
 *
 * @example
 * const server = await startStaticServer({ dir, routes: { "/app": { body: html, contentType: "text/html" } } });
 * t.after(() => server.close());
 * // rkt fetch ${server.host}/app:1.0 with env NODE_EXTRA_CA_CERTS=server.caFile
 */
export async function startStaticServer(options: StaticServerOptions = {}): Promise<StaticServer> {
  const tls = options.tls ?? true;
  const routes = new Map<string, Route>(Object.entries(options.routes ?? {}));
  const requests: SeenRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers });
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = routes.get(path);
    void answer(route, req)
      .then((r) => {
        res.writeHead(r.status ?? 200, { "content-type": r.contentType ?? "application/octet-stream", ...r.headers });
        res.end(req.method === "HEAD" ? undefined : r.body);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      });
  };
  const port = options.port ?? (tls ? 443 : 80);
  let lastError: unknown;
  // A random address can be taken by a parallel test: try a few.
  for (let attempt = 0; attempt < 8; attempt++) {
    const host = randomLoopback();
    let server: Server;
    let caFile: string | undefined;
    if (tls) {
      if (options.dir === undefined) throw new Error("startStaticServer: tls needs options.dir for the CA files");
      const ca = await createTestCa(options.dir, `ca-${host}`);
      const cert = await issueServerCert(ca, options.dir, `server-${host}`, host);
      server = createHttpsServer({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) }, handler);
      caFile = ca.certFile;
    } else {
      server = createHttpServer(handler);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
    } catch (err) {
      lastError = err;
      continue;
    }
    const address = server.address();
    const actualPort = typeof address === "object" && address !== null ? address.port : port;
    const defaultPort = tls ? 443 : 80;
    return {
      host,
      port: actualPort,
      origin: `${tls ? "https" : "http"}://${host}${actualPort === defaultPort ? "" : `:${actualPort}`}`,
      caFile,
      requests,
      route: (path, route) => routes.set(path, route),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
  throw new Error(`startStaticServer: no free loopback address: ${String(lastError)}`);
}

async function answer(route: Route | undefined, req: IncomingMessage): Promise<StaticResponse> {
  if (route === undefined) return { status: 404, body: "not found\n", contentType: "text/plain" };
  if (typeof route === "function") return route(req);
  if ("file" in route) return { body: await readFile(route.file), ...(route.contentType === undefined ? {} : { contentType: route.contentType }) };
  return route;
}

/** An address in 127.16.0.0/12 .. 127.254.x.x, away from 127.0.0.1 where registries listen. */
function randomLoopback(): string {
  const b = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));
  return `127.${b(16, 254)}.${b(1, 254)}.${b(1, 254)}`;
}

/**
 * The HTML page appc meta discovery reads: `ac-discovery` and `ac-discovery-pubkeys` meta tags.
 *
 * @example
 * discoveryPage(`${host}/app`, `https://${host}/app-{version}-{os}-{arch}.{ext}`, `https://${host}/pubkeys.gpg`)
 */
export function discoveryPage(prefix: string, template: string, pubkeys?: string): string {
  const tags = [`<meta name="ac-discovery" content="${prefix} ${template}">`];
  if (pubkeys !== undefined) tags.push(`<meta name="ac-discovery-pubkeys" content="${prefix} ${pubkeys}">`);
  return `<!DOCTYPE html>\n<html>\n<head>\n${tags.join("\n")}\n</head>\n<body></body>\n</html>\n`;
}
