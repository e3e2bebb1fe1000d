/**
 * Runs one command and measures it: wall time from spawn to exit with a monotonic clock, and,
 * through GNU time (/usr/bin/time), the CPU time and peak RSS of the command and its children.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GNU_TIME = "/usr/bin/time";

/** How to run a command under {@link timedRun}. */
export interface TimedRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Sends the command SIGTERM when aborted; the run then rejects once the command has exited. */
  readonly signal?: AbortSignal;
  /** Also measure CPU time and peak RSS with GNU time (adds ~1 ms of fork/exec). Default false. */
  readonly cpu?: boolean;
  /** Kill after this long and fail. Default 10 minutes. */
  readonly timeoutMs?: number;
}

/** What a run cost and printed. */
export interface TimedRunResult {
  readonly wallMs: number;
  /** User + system CPU of the command and the children it waited for (with `cpu`). */
  readonly cpuMs: number | undefined;
  /** Peak resident set size of the largest process (with `cpu`). */
  readonly maxRssMb: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that exited non-zero or died from a signal; `stderr` says why. */
export class CommandFailedError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(command: string, exitCode: number | null, signal: NodeJS.Signals | null, stderr: string) {
    const why = exitCode === null ? `killed by ${signal ?? "a signal"}` : `exit ${exitCode}`;
    super(`${command}: ${why}${stderr.trim() === "" ? "" : `\n${stderr.trim()}`}`);
    this.name = "CommandFailedError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** True when GNU time is installed, i.e. `cpu: true` works. */
export function canMeasureCpu(): boolean {
  return existsSync(GNU_TIME);
}

/**
 * Runs `cmd args...` to completion and returns its wall time; throws (with the command's stderr)
 * if it exits non-zero, so a benchmark never reports the time of a failure.
 *
 * @example
 * const r = await timedRun("podman", ["pull", ref], { cpu: true, signal });
 * console.log(r.wallMs, r.cpuMs);
 */
export async function timedRun(cmd: string, args: readonly string[], options: TimedRunOptions = {}): Promise<TimedRunResult> {
  options.signal?.throwIfAborted();
  const cpu = options.cpu === true && canMeasureCpu();
  const scratch = cpu ? await mkdtemp(join(tmpdir(), "rkt-bench-time-")) : undefined;
  const timeFile = scratch === undefined ? undefined : join(scratch, "time");
  const [file, argv] =
    timeFile === undefined ? [cmd, [...args]] : [GNU_TIME, ["--format=%U %S %M", `--output=${timeFile}`, "--", cmd, ...args]];
  try {
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stopping it reaches GNU time's child and the command's helpers too.
      detached: true,
    });
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    // Not spawn's own `signal` option: that rejects at once, while the command may still be
    // writing into directories the caller is about to delete. Stop it, then wait for its exit.
    const onAbort = (): void => killGroup("SIGTERM");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => stdout.push(b));
    child.stderr.on("data", (b: Buffer) => stderr.push(b));
    // "exit" is the process's end; "close" also waits for its pipes, which a grandchild (a
    // helper of podman or rkt) could hold open. Time to exit, then collect the output.
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    const timeoutMs = options.timeoutMs ?? 600_000;
    const timer = setTimeout(() => killGroup("SIGKILL"), timeoutMs);
    let code: number | null;
    let sig: NodeJS.Signals | null;
    let ended: bigint;
    try {
      [code, sig, ended] = await new Promise<[number | null, NodeJS.Signals | null, bigint]>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (c, s) => resolve([c, s, process.hrtime.bigint()]));
      });
      await closed;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    options.signal?.throwIfAborted();
    const out = Buffer.concat(stdout).toString("utf8");
    const err = Buffer.concat(stderr).toString("utf8");
    if (code !== 0) throw new CommandFailedError(`${cmd} ${args.join(" ")}`, code, sig, err);
    let cpuMs: number | undefined;
    let maxRssMb: number | undefined;
    if (timeFile !== undefined) {
      // GNU time writes "Command exited..." lines first when the command fails; the figures are last.
      const last = (await readFile(timeFile, "utf8")).trim().split("\n").pop() ?? "";
      const [user, system, rssKb] = last.split(" ").map(Number);
      if (user !== undefined && system !== undefined && rssKb !== undefined && [user, system, rssKb].every(Number.isFinite)) {
        cpuMs = (user + system) * 1000;
        maxRssMb = rssKb / 1024;
      }
    }
    return { wallMs: Number(ended - started) / 1e6, cpuMs, maxRssMb, stdout: out, stderr: err };
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}
