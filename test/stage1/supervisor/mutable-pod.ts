/**
 * Starts `rkt-supervisor POD_DIR --mutable` as stage0 will: detached, with RKT_READY_FD on a
 * pipe, resolving once the supervisor says "ready" (its control socket listens by then).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/** A running mutable supervisor, a child of the test process. */
export interface MutableSupervisor {
  readonly child: ChildProcess;
  readonly pid: number;
  /** supervisor/control.sock */
  readonly control: string;
  /** Settles when the supervisor (or the `finally` it exec'd) has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns the supervisor and waits for its ready line on fd 3 (it writes "ready\n" and closes the
 * pipe; a supervisor that fails first just closes it).
 *
 * @example
 * const sup = await startMutable(bin.supervisor, dir);
 * const c = await ControlClient.connect(sup.control);
 */
export async function startMutable(supervisor: string, dir: string, env: Readonly<Record<string, string>> = {}): Promise<MutableSupervisor> {
  const child = spawn(supervisor, [dir, "--mutable"], {
    env: { ...process.env, RKT_READY_FD: "3", ...env },
    stdio: ["ignore", "ignore", "ignore", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${supervisor}: could not spawn`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const ready = child.stdio[3];
  if (ready === null || ready === undefined || !("on" in ready)) throw new Error("no ready pipe");
  const said = await new Promise<string>((resolve) => {
    const parts: Buffer[] = [];
    ready.on("data", (b: Buffer) => parts.push(b));
    ready.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    ready.on("error", () => resolve(Buffer.concat(parts).toString("utf8")));
  });
  if (said !== "ready\n") throw new Error(`the supervisor did not get ready (said ${JSON.stringify(said)}; exit ${JSON.stringify(await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 500))]))})`);
  return { child, pid: child.pid, control: join(dir, "supervisor", "control.sock"), exited };
}
