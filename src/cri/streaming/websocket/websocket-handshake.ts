/**
 * The server side of the WebSocket opening handshake (RFC 6455 section 4.2): recognising an
 * upgrade request, checking its version and key, choosing a subprotocol, and the 101 response.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** RFC 6455 section 1.3: appended to the client's key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** True when `req` asks to become a WebSocket (`Upgrade: websocket`, `Connection: ... upgrade`). */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  const connection = req.headers.connection;
  return typeof upgrade === "string" && upgrade.toLowerCase() === "websocket" && typeof connection === "string" && /(^|,)\s*upgrade\s*(,|$)/i.test(connection);
}

/** The subprotocols the client offered (Sec-WebSocket-Protocol), in its order of preference. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw: string | string[] | undefined = req.headers["sec-websocket-protocol"];
  const values: string[] = raw === undefined ? [] : typeof raw === "string" ? [raw] : raw;
  return values.flatMap((v) => v.split(",")).map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Why a handshake cannot proceed, as the HTTP status and message to answer with. */
export interface HandshakeRefusal {
  readonly status: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Checks method, version and key; undefined when the request is a valid opening handshake. */
export function checkHandshake(req: IncomingMessage): HandshakeRefusal | undefined {
  if (req.method !== "GET" && req.method !== "POST") return { status: 405, message: `a WebSocket handshake is a GET request, not ${req.method ?? "?"}` };
  if (req.headers["sec-websocket-version"] !== "13") {
    return { status: 426, message: "unsupported WebSocket version: only 13 (RFC 6455) is spoken", headers: { "Sec-WebSocket-Version": "13" } };
  }
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || Buffer.from(key, "base64").length !== 16) return { status: 400, message: "the Sec-WebSocket-Key header is missing or not 16 bytes in base64" };
  return undefined;
}

/** Sec-WebSocket-Accept for a client key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** The 101 response completing the handshake, with the chosen subprotocol if any. */
export function handshakeResponse(key: string, protocol: string | undefined): string {
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
    ...(protocol === undefined || protocol === "" ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
    "",
    "",
  ].join("\r\n");
}
