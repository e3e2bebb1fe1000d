/**
 * Spawns a process for a test and collects what it prints, while letting the test watch the
 * output and signal the process as it runs (which execTool, awaiting the end, cannot).
 */
import { spawn, type ChildProcess } from "node:child_process";

/** How the process ended and what it printed. */
export interface Collected {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running process; {@link Running.done} settles when it has exited and its pipes closed. */
export interface Running {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly done: Promise<Collected>;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Writes to its stdin (spawned with `stdin: true`). */
  write(data: string): void;
}

/** Options of {@link spawnCollect}. */
export interface SpawnCollectOptions {
  /** Added to (overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Keep stdin as a pipe the test writes to; otherwise stdin is /dev/null. */
  readonly stdin?: boolean;
  /** SIGKILL after this long (default 30 s); `done` still resolves. */
  readonly timeoutMs?: number;
}

/**
 * Spawns `cmd args` with piped stdout/stderr.
 *
 * @example
 * const p = spawnCollect(bin.supervisor, [podDir]);
 * await waitFor(() => p.stdout().includes("ready"));
 * p.child.kill("SIGTERM");
 * const r = await p.done;
 */
export function spawnCollect(cmd: string, args: readonly string[], options: SpawnCollectOptions = {}): Running {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...options.env },
    stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (b: Buffer) => out.push(b));
  child.stderr?.on("data", (b: Buffer) => err.push(b));
  child.stdin?.on("error", () => undefined);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  // A process that leaves an orphan holding its stdout never gets "close": stop reading 2 s
  // after it exited, so a failing test fails instead of hanging.
  let drain: NodeJS.Timeout | undefined;
  child.once("exit", () => {
    drain = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, 2_000);
  });
  const done = new Promise<Collected>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(drain);
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
  });
  if (child.pid === undefined) throw new Error(`${cmd}: could not spawn`);
  return {
    child,
    pid: child.pid,
    done,
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
    write: (data) => {
      child.stdin?.write(data);
    },
  };
}

/**
 * Polls `check` every 20 ms until it returns true; throws after `timeoutMs` saying what it
 * waited for.
 *
 * @example
 * await waitFor(() => existsSync(join(dir, "ready")), "the app to start");
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
