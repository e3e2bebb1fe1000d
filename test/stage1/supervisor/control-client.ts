/**
 * A client of a mutable pod's control socket (supervisor/control.sock), as stage0 will be: one
 * connection, request lines in, reply lines out, in order. `status` replies span `ok N` plus N
 * lines; every other reply is one line.
 */
import { connect, type Socket } from "node:net";

/** One line of a `status` reply. */
export interface AppStatus {
  readonly name: string;
  readonly state: "created" | "starting" | "running" | "stopping" | "exited" | "restarting";
  readonly pid: number | undefined;
  readonly exit: number | undefined;
  readonly restarts: number;
}

interface Pending {
  readonly status: boolean;
  readonly lines: string[];
  readonly resolve: (lines: string[]) => void;
  readonly reject: (err: Error) => void;
}

/**
 * A connection to a control socket.
 *
 * @example
 * const c = await ControlClient.connect(join(dir, "supervisor", "control.sock"));
 * assert.match(await c.request("start web"), /^ok \d+$/);
 * c.close();
 */
export class ControlClient {
  private buf = "";
  private pending: Pending[] = [];
  private ended = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buf += d;
      this.drain();
    });
    socket.on("close", () => {
      this.ended = true;
      for (const p of this.pending) p.reject(new Error(`control socket closed; got ${JSON.stringify(p.lines)}`));
      this.pending = [];
    });
    socket.on("error", () => undefined);
  }

  /** Connects to the socket at `path`. */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => resolve(new ControlClient(s)));
      s.once("error", reject);
    });
  }

  /** Whether the supervisor closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** Sends a line; resolves with every line of its reply. */
  send(line: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ status: /^status\b/.test(line), lines: [], resolve, reject });
      this.socket.write(`${line}\n`);
    });
  }

  /** Sends raw bytes (for malformed requests); the caller expects `replies` replies. */
  sendRaw(data: string, replies: number): Promise<string[]>[] {
    const all: Promise<string[]>[] = [];
    for (let i = 0; i < replies; i++) {
      all.push(new Promise((resolve, reject) => this.pending.push({ status: false, lines: [], resolve, reject })));
    }
    this.socket.write(data);
    return all;
  }

  /** Sends a request with a one-line reply and resolves with that line. */
  async request(line: string): Promise<string> {
    return (await this.send(line)).join("\n");
  }

  /** `status` (all apps), parsed, keyed by name. */
  async status(): Promise<Map<string, AppStatus>> {
    const lines = await this.send("status");
    if (!/^ok \d+$/.test(lines[0] ?? "")) throw new Error(`status failed: ${lines.join("\n")}`);
    return new Map(lines.slice(1).map((l) => {
      const s = parseStatusLine(l);
      return [s.name, s];
    }));
  }

  /** `status NAME`, parsed. */
  async appStatus(name: string): Promise<AppStatus> {
    const lines = await this.send(`status ${name}`);
    if (lines[0] !== "ok 1" || lines[1] === undefined) throw new Error(`status ${name} failed: ${lines.join("\n")}`);
    return parseStatusLine(lines[1]);
  }

  close(): void {
    this.socket.destroy();
  }

  private drain(): void {
    for (;;) {
      const nl = this.buf.indexOf("\n");
      const p = this.pending[0];
      if (nl === -1 || p === undefined) return;
      p.lines.push(this.buf.slice(0, nl));
      this.buf = this.buf.slice(nl + 1);
      const m = p.status ? /^ok (\d+)$/.exec(p.lines[0] ?? "") : null;
      const want = m === null ? 1 : 1 + Number(m[1]);
      if (p.lines.length === want) {
        this.pending.shift();
        p.resolve(p.lines);
      }
    }
  }
}

/** Parses `NAME STATE PID EXIT RESTARTS` ("-" for none). */
export function parseStatusLine(line: string): AppStatus {
  const [name, state, pid, exit, restarts, ...rest] = line.split(" ");
  if (name === undefined || state === undefined || pid === undefined || exit === undefined || restarts === undefined || rest.length > 0) {
    throw new Error(`not a status line: ${JSON.stringify(line)}`);
  }
  return {
    name,
    state: state as AppStatus["state"],
    pid: pid === "-" ? undefined : Number(pid),
    exit: exit === "-" ? undefined : Number(exit),
    restarts: Number(restarts),
  };
}

/**
 * One request on a fresh connection, closed afterwards.
 *
 * @example
 * assert.equal(await controlRequest(sock, "stop web 1"), "ok 143");
 */
export async function controlRequest(path: string, line: string): Promise<string> {
  const c = await ControlClient.connect(path);
  try {
    return (await c.send(line)).join("\n");
  } finally {
    c.close();
  }
}
