/**
 * A StreamingBackend for the protocol tests: exec commands are scripts of this file (below),
 * attach echoes, and port forwarding connects to real TCP servers on 127.0.0.1 that the test
 * maps ports to. It records what the server gave it.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingBackend, TerminalSize } from "../../../src/cri/streaming/streaming-backend.js";

/** What the fake saw. */
export interface FakeRecord {
  readonly execs: ExecRequest[];
  readonly attaches: AttachRequest[];
  readonly sizes: TerminalSize[];
  aborted: number;
  readonly forwards: { podSandboxId: string; port: number }[];
}

function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    if (stream === undefined) {
      resolve(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", () => resolve(Buffer.concat(chunks)));
  });
}

function write(stream: NodeJS.WritableStream | undefined, data: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (stream === undefined) {
      resolve();
      return;
    }
    stream.write(data, () => resolve());
  });
}

/**
 * Exec scripts (cmd[0]):
 * - `echo`: copies stdin to stdout until stdin ends; exit 0
 * - `exit N`: writes "out\n" to stdout and "err\n" to stderr; exit N
 * - `big N`: writes N bytes ("x") to stdout; exit 0
 * - `count`: reads stdin to its end, prints how many bytes; exit 0
 * - `sizes`: records resize events until stdin ends; prints them; exit 0
 * - `hang`: waits until the client goes away (counts `aborted`)
 * - `fail`: throws
 */
export class FakeBackend implements StreamingBackend {
  readonly record: FakeRecord = { execs: [], attaches: [], sizes: [], aborted: 0, forwards: [] };
  /** Port-forward targets: pod port to a local port. */
  readonly ports = new Map<number, number>();

  async exec(req: ExecRequest): Promise<number> {
    this.record.execs.push(req);
    const [cmd, arg] = req.cmd;
    switch (cmd) {
      case "echo":
        for await (const chunk of req.stdin ?? []) await write(req.stdout, chunk as Buffer);
        return 0;
      case "exit":
        await write(req.stdout, "out\n");
        await write(req.stderr, "err\n");
        return Number(arg);
      case "big":
        await write(req.stdout, Buffer.alloc(Number(arg), "x"));
        return 0;
      case "count": {
        const all = await readAll(req.stdin);
        await write(req.stdout, `${all.length}\n`);
        return 0;
      }
      case "sizes": {
        const collecting = (async () => {
          for await (const size of req.resize ?? []) this.record.sizes.push(size);
        })();
        await readAll(req.stdin);
        await write(req.stdout, JSON.stringify(this.record.sizes));
        void collecting;
        return 0;
      }
      case "hang":
        await new Promise<void>((resolve) => {
          if (req.signal?.aborted === true) resolve();
          req.signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        this.record.aborted++;
        return 0;
      case "fail":
        throw new Error("no such command in the fake");
      default:
        throw new Error(`unknown fake command ${String(cmd)}`);
    }
  }

  async attach(req: AttachRequest): Promise<void> {
    this.record.attaches.push(req);
    for await (const chunk of req.stdin ?? []) await write(req.stdout, Buffer.concat([Buffer.from("attached:"), chunk as Buffer]));
  }

  portForward(req: PortForwardRequest): Promise<Duplex> {
    this.record.forwards.push({ podSandboxId: req.podSandboxId, port: req.port });
    const local = this.ports.get(req.port);
    if (local === undefined) return Promise.reject(new Error(`connect ECONNREFUSED 127.0.0.1:${req.port}`));
    return new Promise((resolve, reject) => {
      const s = connect(local, "127.0.0.1", () => resolve(s));
      s.once("error", reject);
    });
  }
}

/**
 * A TCP server on 127.0.0.1 that answers each connection with `prefix` followed by an echo of
 * everything it receives, and closes its side when the client closes its own.
 */
export async function echoServer(prefix = ""): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    if (prefix !== "") s.write(prefix);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { server, port: address.port, sockets };
}
