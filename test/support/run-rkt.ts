/**
 * Runs the built CLI (`bin/rkt` of this checkout) as a child process, the way a user would, so
 * end-to-end tests see real exit codes and the stdout/stderr split of the CLI contract.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Absolute path of `bin/rkt` in this checkout (it runs `dist/rkt.mjs`, built by `npm run build`). */
export const RKT_BIN = fileURLToPath(new URL("../../bin/rkt", import.meta.url));

/** How {@link runRkt} runs the CLI. */
export interface RunRktOptions {
  /** The rkt data directory, passed as the global flag `--dir=<dir>` before `args`. */
  readonly dir: string;
  /** Added to (and overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the CLI's stdin, which is then closed. Without it stdin is closed at once. */
  readonly input?: string | Uint8Array;
  readonly cwd?: string;
  /** Kills the CLI with SIGKILL after this long and fails the call. Default 120 s. */
  readonly timeoutMs?: number;
}

/** What the CLI did: exit status and everything it printed. */
export interface RunRktResult {
  /** Exit code; `null` when the process died from a signal (see `signal`). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Spawns `bin/rkt --dir=<dir> ...args` and collects its output. Never throws for a non-zero
 * exit: tests assert on `code`. Throws only if the CLI cannot be spawned or times out.
 *
 * @example
 * const r = await runRkt(["image", "list", "--format=json"], { dir });
 * assert.equal(r.code, 0, r.stderr);
 */
export async function runRkt(args: readonly string[], options: RunRktOptions): Promise<RunRktResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const child = spawn(RKT_BIN, [`--dir=${options.dir}`, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => stdout.push(b));
  child.stderr.on("data", (b: Buffer) => stderr.push(b));
  // EPIPE when the CLI exits without reading its input is not the test's failure.
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.input ?? "");

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c, s) => resolve([c, s]));
    });
    const result = {
      code,
      signal,
      stdout: Buffer.concat(stdout).toString("utf8"),
      stderr: Buffer.concat(stderr).toString("utf8"),
    };
    if (timedOut) {
      throw new Error(`rkt ${args.join(" ")}: killed after ${timeoutMs} ms\nstderr:\n${result.stderr}`);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}
