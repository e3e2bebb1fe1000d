/**
 * The client side of a mutable pod's control socket (`supervisor/control.sock`; the protocol is in
 * src/stage1/supervisor/README.md, "Control socket"): one request line, one reply (`ok ...` or
 * `error <message>`; `status` adds lines). Every rkt command that changes a mutable pod talks to
 * its supervisor through here; the supervisor is the only process that knows what runs now.
 */
import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { RktError } from "../lib/errors.js";

/** sun_path holds 108 bytes with its NUL; longer paths go through /proc/self/fd. */
const MAX_SOCKET_PATH = 107;

/** One app as `status` reports it. */
export interface SupervisedApp {
  readonly name: string;
  readonly state: "created" | "starting" | "running" | "stopping" | "exited" | "restarting";
  readonly pid: number | undefined;
  readonly exitCode: number | undefined;
  readonly restarts: number;
}

/**
 * Sends `request` to the supervisor of the pod in `podDir` and resolves with the reply's text
 * after `ok` (and the extra lines of `status`). Throws RktError "failed-precondition" for an
 * `error` reply (its message), "unavailable" when the supervisor does not answer (the pod ended or
 * its supervisor died).
 *
 * @example
 * const pid = Number((await supervisorRequest(podDir, "start web")).reply); // "ok 4242"
 */
export async function supervisorRequest(podDir: string, request: string, timeoutMs = 120_000): Promise<{ reply: string; lines: string[] }> {
  const path = join(podDir, "supervisor", "control.sock");
  return withSocketPath(path, (socketPath) =>
    new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      let buffer = "";
      let expected: number | undefined;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RktError("unavailable", `the pod's supervisor did not answer "${request}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        socket.destroy();
        fn();
      };
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.write(`${request}\n`));
      socket.on("data", (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split("\n");
        if (lines.length < 2) return;
        const first = lines[0] ?? "";
        if (first.startsWith("error")) {
          finish(() => reject(new RktError("failed-precondition", first.slice(5).trim())));
          return;
        }
        if (!first.startsWith("ok")) {
          finish(() => reject(new RktError("internal", `unexpected reply from the pod's supervisor: ${first}`)));
          return;
        }
        const reply = first.slice(2).trim();
        if (request.startsWith("status")) expected ??= Number(reply);
        const extra = lines.slice(1, -1);
        if (expected !== undefined && extra.length < expected) return;
        finish(() => resolve({ reply, lines: extra.slice(0, expected ?? 0) }));
      });
      socket.on("error", (err: NodeJS.ErrnoException) => {
        finish(() =>
          reject(
            err.code === "ENOENT" || err.code === "ECONNREFUSED"
              ? new RktError("unavailable", "the pod's supervisor is not running (the pod has ended, or it is not a mutable pod)", { hint: "see `rkt status UUID`" })
              : new RktError("unavailable", `talking to the pod's supervisor: ${err.message}`),
          ),
        );
      });
      socket.on("end", () => {
        if (buffer.includes("\n")) return;
        finish(() => reject(new RktError("unavailable", `the pod's supervisor hung up on "${request}"`)));
      });
    }),
  );
}

/**
 * The apps the supervisor knows, with their live state.
 *
 * @example
 * for (const app of await supervisedApps(podDir)) console.log(app.name, app.state);
 */
export async function supervisedApps(podDir: string, name?: string): Promise<SupervisedApp[]> {
  const { lines } = await supervisorRequest(podDir, name === undefined ? "status" : `status ${name}`);
  return lines.map((line) => {
    const [n = "", state = "", pid = "-", exit = "-", restarts = "0"] = line.split(/\s+/);
    return {
      name: n,
      state: state as SupervisedApp["state"],
      pid: pid === "-" ? undefined : Number(pid),
      exitCode: exit === "-" ? undefined : Number(exit),
      restarts: Number(restarts),
    };
  });
}

/** Runs `fn` with a connectable path for `path`, going through /proc/self/fd when it is too long. */
export async function withSocketPath<T>(path: string, fn: (path: string) => Promise<T>): Promise<T> {
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return fn(path);
  const fd = openSync(dirname(path), "r");
  try {
    return await fn(`/proc/self/fd/${fd}/${path.slice(dirname(path).length + 1)}`);
  } finally {
    closeSync(fd);
  }
}
