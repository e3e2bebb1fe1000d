/**
 * A node:http server on 127.0.0.1 for seam tests of the registry client: each test supplies a
 * handler and gets every request recorded. The real registry harness lives in test/support; these
 * fakes exist to produce the misbehaviour a real registry will not (resets, oversized bodies,
 * wrong digests, odd redirects).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface FakeServer {
  /** `http://127.0.0.1:PORT` (or https). */
  readonly url: string;
  /** `127.0.0.1:PORT`, the registry host a client is given. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Starts a fake on an ephemeral port; `tls` makes it HTTPS with the given key and certificate. */
export async function startFakeServer(handler: Handler, tls?: { key: string; cert: string }): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const wrapped: Handler = (req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    handler(req, res);
  };
  const server: Server = tls === undefined ? createServer(wrapped) : createHttpsServer(tls, wrapped);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    url: `${tls === undefined ? "http" : "https"}://${host}`,
    host,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends a body with a Content-Type and, optionally, a Docker-Content-Digest. */
export function send(res: ServerResponse, status: number, body: Buffer | string, headers: Record<string, string> = {}): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { "content-length": String(bytes.length), ...headers });
  res.end(bytes);
}

/** A distribution-spec error body (spec.md, "Error Codes"). */
export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify({ errors: [{ code, message }] }), { "content-type": "application/json", ...headers });
}
