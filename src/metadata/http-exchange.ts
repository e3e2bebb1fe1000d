/**
 * The little HTTP the metadata service needs on top of node:http: read a request body with a
 * size limit, answer with a status and a text or JSON body, and log the request without its
 * token (the first path segment of the public API is the pod's secret).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Thrown by {@link readBody} past its limit; answered with 413. */
export class BodyTooLarge extends Error {}

/** Reads the whole body, or throws BodyTooLarge past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new BodyTooLarge(`request body over ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Ends `res` with `status` and a body (objects as JSON, strings as text/plain). */
export function reply(res: ServerResponse, status: number, body: string | object = "", headers: Readonly<Record<string, string>> = {}): void {
  const isText = typeof body === "string";
  const text = isText ? body : JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": isText ? "text/plain; charset=utf-8" : "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** `METHOD /path - STATUS`, with the token segment of a public path masked. */
export function logLine(req: IncomingMessage, status: number, maskFirstSegment: boolean): string {
  const path = (req.url ?? "").split("?")[0] ?? "";
  const shown = maskFirstSegment ? path.replace(/^\/[^/]*/, "/***") : path;
  return `${req.method ?? "?"} ${shown} - ${status}`;
}
