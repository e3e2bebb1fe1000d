/**
 * ExecSync: a command run in a running container through the OCI runtime's exec (it joins the
 * container's namespaces and cgroup, with its user and environment), its output captured. Each
 * stream is capped at 16 MiB and the rest dropped, as api.proto asks (CVE-2022-1708: a command
 * printing without end must not exhaust the runtime's memory). With a timeout, the command is
 * killed when it passes, and the caller learns it timed out (the kubelet's exec probes tell a
 * timeout from a failure).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { containerId as runtimeContainerId, PodFiles } from "../../pod/pod-files.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import type { CriContext } from "./cri-context.js";
import { requireContainer } from "./cri-container.js";
import { parseContainerId } from "./cri-ids.js";

/** Output kept per stream. */
export const EXEC_OUTPUT_CAP = 16 * 1024 * 1024;

/** What ExecSync ran into. */
export interface ExecSyncResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number;
  /** The timeout passed and the command was killed. */
  readonly timedOut: boolean;
}

/**
 * Runs `cmd` in container `id` and waits for it (at most `timeoutSeconds`; 0 = no limit).
 * Throws RktError "not-found" for an unknown container, "failed-precondition" when it does not
 * run, "invalid-argument" for an empty command.
 *
 * @example
 * const r = await execSync(ctx, id, ["cat", "/etc/hostname"], 5);
 * r.stdout.toString(); // "web\n"
 */
export async function execSync(ctx: CriContext, id: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecSyncResult> {
  if (cmd.length === 0 || cmd[0] === "") throw new RktError("invalid-argument", "ExecSync needs a command");
  const { uuid, app } = parseContainerId(id);
  const { sandbox } = requireContainer(ctx, uuid, app);
  if (sandbox.state !== "SANDBOX_READY") throw new RktError("failed-precondition", `container ${id} is not running: its sandbox was stopped`);
  const files = new PodFiles(sandbox.ref.path);
  const runtime = runtimeFor(parseFlavor(readFileSync(files.stage1, "utf8").trim()), () => undefined);
  const argv = runtime.execArgv(runtimeContainerId(uuid, app), false, undefined, [], cmd);
  // The runtime writes the command's pid here, so that a timeout kills the command itself (the
  // runtime's exec relays signals, but SIGKILL cannot be relayed).
  const dir = mkdtempSync(join(tmpdir(), "rkt-exec-"));
  const pidFile = join(dir, "pid");
  const at = argv.indexOf("exec");
  const full = at < 0 ? argv : [...argv.slice(0, at + 1), "--pid-file", pidFile, ...argv.slice(at + 1)];
  const [bin = "runc", ...args] = full;
  try {
    return await new Promise<ExecSyncResult>((resolve, reject) => {
      const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
      const out = capture(child.stdout);
      const err = capture(child.stderr);
      let timedOut = false;
      const timer =
        timeoutSeconds > 0
          ? setTimeout(() => {
              timedOut = true;
              killPidFile(pidFile);
              child.kill("SIGKILL");
            }, timeoutSeconds * 1000)
          : undefined;
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(new RktError("internal", `cannot run ${bin}: ${e.message}`));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        const stderr = err();
        // runc's own failures (no such container, executable not found) exit 1..255 with its
        // message on stderr, like the command's; the container not running is a precondition.
        if (code !== 0 && /container .* (does not exist|is not running)|cannot exec in a (stopped|paused) container/i.test(stderr.toString())) {
          reject(new RktError("failed-precondition", `container ${id} is not running`));
          return;
        }
        resolve({ stdout: out(), stderr, exitCode: code ?? 128 + (signal === null ? 0 : constants.signals[signal]), timedOut });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Collects a stream up to the cap, reading (and dropping) the rest so the writer never blocks. */
function capture(stream: NodeJS.ReadableStream): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on("data", (chunk: Buffer) => {
    if (size >= EXEC_OUTPUT_CAP) return;
    const part = chunk.subarray(0, EXEC_OUTPUT_CAP - size);
    chunks.push(part);
    size += part.length;
  });
  return () => Buffer.concat(chunks);
}

function killPidFile(path: string): void {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGKILL");
  } catch {
    // not started yet, or gone
  }
}
