/**
 * `rkt attach`: connects this terminal (or pipes) to a running app's streams through its attach
 * socket (`apps/NAME/attach.sock`; frames described in src/stage1/supervisor/README.md, "Attach
 * socket"), and leaves it running when the user detaches. Output from when you attach on (the log
 * has the rest: `rkt logs`); input only if the app was added with a stdin (`--stdin=stream|tty`).
 *
 * Detaching: with a terminal, Ctrl-P Ctrl-Q (as Docker and podman do); otherwise Ctrl-C (a
 * signal). Neither stops the app. End of input stops sending input (and closes the app's stdin
 * with `closeStdin`).
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { RktError } from "../../lib/errors.js";
import type { PodStore } from "../../pod/pod-store.js";
import { withSocketPath } from "../../stage1/supervisor-control.js";
import { openMutablePod, requireApp } from "./mutable-pod.js";

/** Frame types of the attach protocol. */
const FRAME = { stdin: 0, stdout: 1, stderr: 2, exit: 3, resize: 4, eof: 5 } as const;
/** Ctrl-P Ctrl-Q. */
const DETACH = Buffer.from([0x10, 0x11]);

/** The caller's side of an attach. */
export interface AttachStreams {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: Writable & { columns?: number; rows?: number; on?: (event: "resize", fn: () => void) => unknown };
  readonly stderr: Writable;
}

/** Options of {@link attachApp}. */
export interface AttachOptions {
  /** Send input (default true when the app has a stdin). */
  readonly input?: boolean;
  /** Pass end of input on to the app (closes its stdin; stream mode). Default false: only the relay stops. */
  readonly closeStdin?: boolean;
  readonly signal?: AbortSignal;
}

/** How an attach ended. */
export type AttachResult = { readonly kind: "exited"; readonly exitCode: number } | { readonly kind: "detached" };

/** The app's stdin mode as it was added: `null`, `stream`, `stream once` or `tty`. */
export function appStdinMode(podDir: string, app: string): string {
  try {
    return readFileSync(join(podDir, "apps", app, "stdin"), "utf8").trim() || "null";
  } catch {
    return "null";
  }
}

/**
 * Attaches `streams` to app `name` of mutable pod `uuid` until the app exits (its exit code) or
 * the user detaches.
 *
 * @example
 * const r = await attachApp(pods, uuid, "shell", process);
 * if (r.kind === "exited") process.exitCode = r.exitCode;
 */
export async function attachApp(pods: PodStore, uuid: string, name: string, streams: AttachStreams, options: AttachOptions = {}): Promise<AttachResult> {
  const pod = openMutablePod(pods, uuid);
  requireApp(pods.readManifest(pod.ref), pod.ref.uuid, name);
  const mode = appStdinMode(pod.files.dir, name);
  const tty = mode === "tty";
  const sendInput = (options.input ?? true) && mode !== "null";
  return withSocketPath(join(pod.files.app(name), "attach.sock"), (path) =>
    new Promise<AttachResult>((resolve, reject) => {
      const socket = connect(path);
      let pending = Buffer.alloc(0);
      let settled = false;
      const cleanup: (() => void)[] = [];
      const finish = (result: AttachResult | Error): void => {
        if (settled) return;
        settled = true;
        for (const fn of cleanup.reverse()) fn();
        socket.destroy();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      socket.on("error", (err: NodeJS.ErrnoException) =>
        finish(err.code === "ENOENT" || err.code === "ECONNREFUSED" ? new RktError("unavailable", `app "${name}" has no attach socket: the pod's supervisor is gone`) : new RktError("unavailable", `attach: ${err.message}`)),
      );
      socket.on("close", () => finish({ kind: "detached" }));
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5) {
          const type = pending[0];
          const length = pending.readUInt32BE(1);
          if (pending.length < 5 + length) break;
          const data = pending.subarray(5, 5 + length);
          pending = pending.subarray(5 + length);
          if (type === FRAME.stdout) streams.stdout.write(data);
          else if (type === FRAME.stderr) streams.stderr.write(data);
          else if (type === FRAME.exit) finish({ kind: "exited", exitCode: Number(data.toString("latin1")) });
        }
      });
      const onAbort = (): void => finish({ kind: "detached" });
      options.signal?.addEventListener("abort", onAbort, { once: true });
      cleanup.push(() => options.signal?.removeEventListener("abort", onAbort));

      if (sendInput) relayInput(socket, streams, tty, options.closeStdin === true, finish, cleanup);
      if (tty) {
        const resize = (): void => {
          const { rows, columns } = streams.stdout;
          if (rows === undefined || columns === undefined) return;
          const data = Buffer.alloc(4);
          data.writeUInt16BE(rows, 0);
          data.writeUInt16BE(columns, 2);
          socket.write(frame(FRAME.resize, data));
        };
        socket.once("connect", resize);
        streams.stdout.on?.("resize", resize);
        cleanup.push(() => streams.stdout.removeListener("resize", resize));
      }
    }),
  );
}

function relayInput(socket: Socket, streams: AttachStreams, tty: boolean, closeStdin: boolean, finish: (r: AttachResult) => void, cleanup: (() => void)[]): void {
  const stdin = streams.stdin;
  const raw = tty && stdin.isTTY === true && stdin.setRawMode !== undefined;
  if (raw) {
    stdin.setRawMode?.(true);
    cleanup.push(() => stdin.setRawMode?.(false));
  }
  let last = -1;
  const onData = (chunk: Buffer): void => {
    let data = chunk;
    if (raw) {
      // Ctrl-P Ctrl-Q, possibly split over two reads.
      const joined = last === DETACH[0] ? Buffer.concat([Buffer.from([last]), chunk]) : chunk;
      if (joined.includes(DETACH)) {
        const before = joined.subarray(0, joined.indexOf(DETACH));
        if (before.length > 0 && last !== DETACH[0]) socket.write(frame(FRAME.stdin, before));
        finish({ kind: "detached" });
        return;
      }
      last = chunk[chunk.length - 1] ?? -1;
      if (last === DETACH[0]) data = chunk.subarray(0, chunk.length - 1);
    }
    for (let off = 0; off < data.length; off += 32768) socket.write(frame(FRAME.stdin, data.subarray(off, off + 32768)));
  };
  // End of input stops the relay; output still comes until the app exits or the user detaches.
  const onEnd = (): void => {
    if (closeStdin) socket.write(frame(FRAME.eof, Buffer.alloc(0)));
  };
  stdin.on("data", onData);
  stdin.on("end", onEnd);
  cleanup.push(() => {
    stdin.removeListener("data", onData);
    stdin.removeListener("end", onEnd);
    stdin.pause();
  });
  stdin.resume();
}

function frame(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}
