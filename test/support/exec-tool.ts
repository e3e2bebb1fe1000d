/**
 * Runs a host tool (openssl, skopeo, umoci, zstd) that the fixtures use, failing with the tool's
 * stderr so a broken fixture says why instead of producing an empty file.
 */
import { spawn } from "node:child_process";

/** Options of {@link execTool}. */
export interface ExecToolOptions {
  /** Written to stdin, which is then closed. */
  readonly input?: Uint8Array;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Default 120 s; the tool is killed with SIGKILL after it. */
  readonly timeoutMs?: number;
}

/**
 * Runs `cmd args...` and resolves with its stdout; rejects if it cannot start, exits non-zero or
 * times out.
 *
 * @example
 * await execTool("umoci", ["init", "--layout", dir]);
 * const compressed = await execTool("zstd", ["-q", "-c"], { input: tar });
 */
export async function execTool(cmd: string, args: readonly string[], options: ExecToolOptions = {}): Promise<Buffer> {
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => stdout.push(b));
  child.stderr.on("data", (b: Buffer) => stderr.push(b));
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.input ?? Buffer.alloc(0));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", (err) => reject(new Error(`${cmd}: cannot run: ${err.message}`, { cause: err })));
      child.once("close", (c, s) => resolve([c, s]));
    });
    if (code !== 0) {
      const why = code === null ? `killed by ${signal}` : `exit ${code}`;
      const err = Buffer.concat(stderr).toString("utf8").trim();
      throw new Error(`${cmd} ${args.join(" ")}: ${why}${err === "" ? "" : `: ${err}`}`);
    }
    return Buffer.concat(stdout);
  } finally {
    clearTimeout(timer);
  }
}
