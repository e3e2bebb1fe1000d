/**
 * A client of an app's attach socket (apps/NAME/attach.sock): frames of
 * [type: 1 byte][length: 4 bytes big-endian][data] both ways. From the supervisor: 1 stdout,
 * 2 stderr, 3 exit (decimal code). To it: 0 stdin, 4 resize (rows, cols: 2 + 2 bytes), 5 EOF.
 */
import { connect, type Socket } from "node:net";

/** Frame types of the attach protocol. */
export const FRAME = { stdin: 0, stdout: 1, stderr: 2, exit: 3, resize: 4, eof: 5 } as const;

/**
 * A connection to an attach socket, collecting what the app prints.
 *
 * @example
 * const a = await AttachClient.connect(join(dir, "apps", "echo", "attach.sock"));
 * a.stdin("hello\n");
 * await a.waitStdout("hello\n");
 */
export class AttachClient {
  private buf = Buffer.alloc(0);
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private exits: number[] = [];
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  /** Connects to the socket at `path`. */
  static connect(path: string): Promise<AttachClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => resolve(new AttachClient(s)));
      s.once("error", reject);
    });
  }

  /** Whether the supervisor closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  stdout(): string {
    return Buffer.concat(this.out).toString("utf8");
  }

  stderr(): string {
    return Buffer.concat(this.err).toString("utf8");
  }

  /** Exit codes received, in order (one per exit of the app while attached). */
  exitCodes(): readonly number[] {
    return this.exits;
  }

  /** Sends one frame. */
  frame(type: number, data: Buffer | string = Buffer.alloc(0)): void {
    const body = typeof data === "string" ? Buffer.from(data) : data;
    const head = Buffer.alloc(5);
    head[0] = type;
    head.writeUInt32BE(body.length, 1);
    this.socket.write(Buffer.concat([head, body]));
  }

  stdin(data: string): void {
    this.frame(FRAME.stdin, data);
  }

  eof(): void {
    this.frame(FRAME.eof);
  }

  resize(rows: number, cols: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(rows, 0);
    b.writeUInt16BE(cols, 2);
    this.frame(FRAME.resize, b);
  }

  /** Waits until `check` holds, failing after `timeoutMs` with what arrived so far. */
  async until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        const tail = (text: string): string => JSON.stringify(text.length > 200 ? `...${text.slice(-200)}` : text);
        reject(new Error(`timed out waiting for ${what}; ${this.ended ? "disconnected" : "connected"}, stdout ${tail(this.stdout())} (${this.stdout().length} chars), stderr ${tail(this.stderr())}, exits ${JSON.stringify(this.exits)}`));
      }, timeoutMs);
      const wake = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
  }

  waitStdout(text: string): Promise<void> {
    return this.until(() => this.stdout().includes(text), `stdout ${JSON.stringify(text)}`);
  }

  /** Waits for the exit frame and returns its code. */
  async waitExit(): Promise<number> {
    await this.until(() => this.exits.length > 0, "the exit frame");
    return this.exits[0]!;
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) return;
      const type = this.buf[0];
      const data = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      if (type === FRAME.stdout) this.out.push(data);
      else if (type === FRAME.stderr) this.err.push(data);
      else if (type === FRAME.exit) this.exits.push(Number(data.toString("utf8")));
      else throw new Error(`unexpected frame type ${type}`);
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
