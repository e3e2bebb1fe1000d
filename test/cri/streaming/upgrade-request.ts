/**
 * A raw HTTP/1.1 upgrade request over a TCP socket, for the test clients: sends the request
 * line and headers, reads the response head, and hands over the socket with whatever bytes
 * followed the head.
 */
import { connect, type Socket } from "node:net";

/** The response to an upgrade request. */
export interface UpgradeResponse {
  readonly status: number;
  /** Header names lower case; repeated headers in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly socket: Socket;
  /** Bytes after the response head (protocol data, or an error body). */
  readonly rest: Buffer;
}

/** Sends `method url` with `headers` and resolves with the response head. */
export function upgradeRequest(url: string, method: string, headers: readonly (readonly [string, string])[]): Promise<UpgradeResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1] ?? "0");
      const map = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        map.set(name, [...(map.get(name) ?? []), line.slice(i + 1).trim()]);
      }
      resolve({ status, headers: map, socket, rest: buf.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("connect", () => {
      const head = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...headers.map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
      socket.write(head);
    });
  });
}

/** Reads the rest of an error response (the socket closes after it). */
export function readBody(res: UpgradeResponse): Promise<string> {
  return new Promise((resolve) => {
    let body = res.rest.toString("utf8");
    res.socket.on("data", (c: Buffer) => (body += c.toString("utf8")));
    res.socket.once("close", () => resolve(body));
    res.socket.resume();
  });
}
