/**
 * RuntimeService RPCs that run or reach into a container: ExecSync (run and wait, here), and
 * Exec, Attach, PortForward, which only hand out a URL of the streaming server after checking
 * that the target exists and runs.
 */
import { status } from "@grpc/grpc-js";
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { containerStatus } from "../engine/cri-support/cri-container.js";
import { checkSandboxId } from "../engine/cri-support/cri-ids.js";
import { requireSandbox } from "../engine/cri-support/cri-sandbox.js";
import { execSync } from "../engine/cri-support/exec-sync.js";
import { RktError } from "../lib/errors.js";
import type { CriHandlers } from "./cri-handlers.js";
import { WireStatus } from "../lib/grpc-status.js";
import type { StreamingPort } from "./streaming-port.js";

interface StreamFlags {
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** The exec RPCs over `ctx`; `streaming` undefined means no streaming server (UNAVAILABLE). */
export function execHandlers(ctx: CriContext, streaming: StreamingPort | undefined): CriHandlers {
  const port = (): StreamingPort => {
    if (streaming === undefined) throw new RktError("unavailable", "this rkt cri has no streaming server: exec, attach and port-forward are not available", { hint: "start rkt cri with --streaming-address" });
    return streaming;
  };
  const running = async (id: string): Promise<void> => {
    const { status: s } = await containerStatus(ctx, id, false);
    if (s.state !== "CONTAINER_RUNNING") throw new RktError("failed-precondition", `container ${id} is not running (${s.state})`);
  };
  return {
    ExecSync: async (req: { readonly container_id: string; readonly cmd: readonly string[]; readonly timeout: string }) => {
      const timeout = Number(req.timeout);
      const r = await execSync(ctx, req.container_id, req.cmd, timeout > 0 ? timeout : 0);
      if (r.timedOut) throw new WireStatus(status.DEADLINE_EXCEEDED, `command ${JSON.stringify(req.cmd.join(" "))} in container ${req.container_id} timed out after ${timeout} s`);
      return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
    },
    Exec: async (req: StreamFlags & { readonly container_id: string; readonly cmd: readonly string[] }) => {
      checkStreams(req);
      if (req.cmd.length === 0) throw new RktError("invalid-argument", "Exec needs a command");
      await running(req.container_id);
      return { url: port().getExecUrl({ containerId: req.container_id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },
    Attach: async (req: StreamFlags & { readonly container_id: string }) => {
      checkStreams(req);
      await running(req.container_id);
      return { url: port().getAttachUrl({ containerId: req.container_id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }) };
    },
    PortForward: (req: { readonly pod_sandbox_id: string; readonly port: readonly number[] }) => {
      const sandbox = requireSandbox(ctx, checkSandboxId(req.pod_sandbox_id));
      if (sandbox.state !== "SANDBOX_READY") throw new RktError("failed-precondition", `pod sandbox ${req.pod_sandbox_id} is not ready`);
      for (const p of req.port) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RktError("invalid-argument", `port ${p} is not from 1 to 65535`);
      return Promise.resolve({ url: port().getPortForwardUrl({ podSandboxId: req.pod_sandbox_id, ports: req.port }) });
    },
  };
}

/** api.proto: one of stdin, stdout, stderr must be true; with a tty, stderr must be false. */
function checkStreams(req: StreamFlags): void {
  if (!req.stdin && !req.stdout && !req.stderr) throw new RktError("invalid-argument", "one of stdin, stdout and stderr must be true");
  if (req.tty && req.stderr) throw new RktError("invalid-argument", "a tty has no separate stderr: stderr must be false with tty");
}
