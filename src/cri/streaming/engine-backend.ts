/**
 * rkt's {@link StreamingBackend}: exec through the pod's OCI runtime (`runc exec` into the app's
 * container `rkt-<uuid>-<app>`, as `rkt app exec` does), attach through the supervisor's attach
 * socket (attachApp), and port forwarding through a socket created inside the pod's network
 * namespace (`/run/rkt/ns/<uuid>/net`; the host's for host-network pods).
 *
 * Exec with a terminal: runc in the foreground allocates the container's pty itself, but only
 * when its own stdio is a terminal it can size and set raw (runc 1.1 refuses otherwise: "open
 * /dev/tty: no such device"). So each tty exec gets a pty of ours: runc's stdio is its slave,
 * we read and write its master (in raw mode, no echo of our own), and a resize sets our pty's
 * window and sends runc SIGWINCH, which copies the size on to the container's pty. runc's own
 * log goes to a file of its own (`--log FILE --log-format json`), so its failures ("exec
 * failed: ...") become errors rather than an exit code 255 the command never returned.
 *
 * @example
 * const backend = new EngineStreamingBackend({ pods, resolveContainer: (id) => criIds.container(id) });
 * const server = new StreamingServer({ address: "127.0.0.1:0", backend });
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants as fsConstants, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable, type Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ReadStream } from "node:tty";
import { promisify } from "node:util";
import { attachApp, appStdinMode } from "../../engine/app/attach-app.js";
import { openMutablePod } from "../../engine/app/mutable-pod.js";
import { describe, RktError } from "../../lib/errors.js";
import { containerId, PodFiles } from "../../pod/pod-files.js";
import type { PodStore } from "../../pod/pod-store.js";
import { podNamespacePaths } from "../../stage1/pod-namespaces.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingBackend, TerminalSize } from "./streaming-backend.js";
import { openPtyMaster, setWindowSize, tcpSocketInNetns } from "./streaming-syscalls.js";

const run = promisify(execFile);

/** Where a CRI container lives in rkt: a pod and one of its apps. */
export interface ContainerLocation {
  readonly podUuid: string;
  readonly app: string;
}

/** Options of {@link EngineStreamingBackend}. */
export interface EngineStreamingBackendOptions {
  readonly pods: PodStore;
  /** The CRI container id's pod and app (the id format is the CRI server's business). */
  readonly resolveContainer: (containerId: string) => ContainerLocation | Promise<ContainerLocation>;
  /** The CRI sandbox id's pod UUID. Default: the sandbox id is the UUID. */
  readonly resolveSandbox?: (podSandboxId: string) => string | Promise<string>;
}

/** The size a terminal starts with when the client has not said yet. */
const DEFAULT_SIZE: TerminalSize = { width: 80, height: 24 };
/** How long a tty exec waits for the client's first size before starting the command. */
const FIRST_SIZE_WAIT_MS = 200;

/** The engine's streaming backend. See the module comment. */
export class EngineStreamingBackend implements StreamingBackend {
  constructor(private readonly options: EngineStreamingBackendOptions) {}

  async exec(req: ExecRequest): Promise<number> {
    const { podUuid, app } = await this.options.resolveContainer(req.containerId);
    const ref = this.options.pods.find(podUuid);
    const state = this.options.pods.state(ref);
    if (state !== "running") throw new RktError("failed-precondition", `container ${req.containerId}: its pod ${ref.uuid} is ${state}, not running`);
    const runtime = runtimeFor(parseFlavor(readFileSync(new PodFiles(ref.path).stage1, "utf8").trim()), () => undefined);
    const id = containerId(ref.uuid, app);
    await requireRunning(runtime.stateArgv(id), req.containerId);
    const [bin = "runc", ...args] = runtime.execArgv(id, req.tty, undefined, req.tty ? ["TERM=xterm"] : [], req.cmd);
    const logDir = await mkdtemp(join(tmpdir(), "rkt-exec-"));
    try {
      // Global flags go before the subcommand: the runtime's own log, as JSON lines.
      const log = join(logDir, "runtime.log");
      const argv = ["--log", log, "--log-format", "json", ...args];
      const code = await (req.tty ? execWithTerminal(bin, argv, req) : execWithPipes(bin, argv, req));
      const failure = await runtimeError(log);
      if (failure !== undefined) throw new RktError("internal", `${bin} exec: ${failure}`);
      return code;
    } finally {
      await rm(logDir, { recursive: true, force: true });
    }
  }

  async attach(req: AttachRequest): Promise<void> {
    const { podUuid, app } = await this.options.resolveContainer(req.containerId);
    const pod = openMutablePod(this.options.pods, podUuid);
    const mode = appStdinMode(pod.files.dir, app);
    // Input the app cannot take is read and dropped, so it does not hold up the session.
    if (mode === "null") req.stdin?.resume();
    const stdout = new TerminalSink(req.stdout);
    const stderr = new TerminalSink(req.stderr);
    const resizing = (async () => {
      for await (const size of req.resize ?? []) stdout.resize(size);
    })();
    try {
      await attachApp(this.options.pods, pod.ref.uuid, app, { stdin: req.stdin ?? Readable.from([]), stdout, stderr }, {
        input: req.stdin !== undefined,
        // CRI StdinOnce: the app's stdin closes when its first attach ends its input.
        closeStdin: mode === "stream once",
        signal: req.signal,
      });
    } finally {
      stdout.end();
      stderr.end();
      await Promise.all([stdout.flushed(), stderr.flushed()]);
      void resizing;
    }
  }

  async portForward(req: PortForwardRequest): Promise<Duplex> {
    const uuid = await (this.options.resolveSandbox ?? ((id: string) => id))(req.podSandboxId);
    const pod = openMutablePod(this.options.pods, uuid);
    const socket = pod.options.hostNetwork ? new Socket() : new Socket({ fd: tcpSocketInNetns(podNamespacePaths(pod.ref.uuid, false).net), readable: true, writable: true });
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        socket.destroy();
        reject(new RktError("unavailable", "the client went away"));
      };
      req.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", (err) => {
        req.signal?.removeEventListener("abort", onAbort);
        reject(new RktError("unavailable", `connecting to 127.0.0.1:${req.port} in the pod's network: ${describe(err)}`, { cause: err }));
      });
      socket.connect(req.port, "127.0.0.1", () => {
        req.signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
    socket.setNoDelay(true);
    return socket;
  }
}

/** Throws unless the runtime says container `id` runs. */
async function requireRunning(stateArgv: readonly string[], criId: string): Promise<void> {
  const [bin = "runc", ...args] = stateArgv;
  let status: string;
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 1024 * 1024 });
    status = String((JSON.parse(stdout) as { status?: unknown }).status);
  } catch (err) {
    throw new RktError("not-found", `container ${criId} has no runtime container: ${describe(err)}`, { cause: err });
  }
  if (status !== "running") throw new RktError("failed-precondition", `container ${criId} is ${status}, not running`);
}

/** The first error the runtime logged (JSON lines), if any. */
async function runtimeError(log: string): Promise<string | undefined> {
  const text = await readFile(log, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (entry.level === "error" && typeof entry.msg === "string") return entry.msg;
    } catch {
      // not JSON: ignore
    }
  }
  return undefined;
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return signal === null ? 254 : 128 + osConstants.signals[signal];
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(new RktError("internal", `cannot run ${child.spawnfile}: ${err.message}`, { cause: err })));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
}

async function execWithPipes(bin: string, argv: readonly string[], req: ExecRequest): Promise<number> {
  const child = spawn(bin, argv, { stdio: [req.stdin === undefined ? "ignore" : "pipe", req.stdout === undefined ? "ignore" : "pipe", req.stderr === undefined ? "ignore" : "pipe"] });
  const exited = waitExit(child);
  const stdin = req.stdin;
  if (stdin !== undefined && child.stdin !== null) {
    const sink = child.stdin;
    sink.on("error", () => undefined); // EPIPE once the command stops reading
    stdin.pipe(sink);
    void exited.finally(() => stdin.unpipe(sink)).catch(() => undefined);
  }
  const onAbort = (): void => {
    child.stdin?.destroy();
  };
  req.signal?.addEventListener("abort", onAbort, { once: true });
  const copies = [copyOut(child.stdout, req.stdout), copyOut(child.stderr, req.stderr)];
  try {
    const { code, signal } = await exited;
    await Promise.all(copies);
    return exitCode(code, signal);
  } finally {
    req.signal?.removeEventListener("abort", onAbort);
  }
}

/** Copies a child's output to the client's stream (ending it); a gone client stops nothing. */
async function copyOut(from: Readable | null, to: Writable | undefined): Promise<void> {
  if (from === null || to === undefined) return;
  await pipeline(from, to).catch(() => from.resume());
}

async function execWithTerminal(bin: string, argv: readonly string[], req: ExecRequest): Promise<number> {
  const sizes = req.resize?.[Symbol.asyncIterator]();
  let nextSize = sizes?.next();
  // The command should start at the client's size: kubectl sends it as soon as the session is up.
  const first = nextSize === undefined ? undefined : await Promise.race([nextSize, sleep(FIRST_SIZE_WAIT_MS).then(() => "late" as const)]);
  let size = DEFAULT_SIZE;
  if (first !== undefined && first !== "late") {
    if (first.done !== true) size = first.value;
    nextSize = first.done === true ? undefined : sizes?.next();
  }
  const { master, slavePath } = openPtyMaster();
  let terminal: ReadStream;
  let child: ChildProcess;
  try {
    setWindowSize(master, size.width, size.height);
    terminal = new ReadStream(master);
    // No echo or line editing on our pty before runc sets it up (termios set through a master
    // apply to the pair). runc then clears ONLCR on the container's pty and leaves output
    // processing to ours, so NL reaches the client as CRNL, as from any terminal. (Output the
    // command writes before runc got there can carry CRCRNL: runc's own race, invisible on a
    // terminal.)
    terminal.setRawMode(true);
    const slave = openSync(slavePath, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    try {
      child = spawn(bin, argv, { stdio: [slave, slave, slave] });
    } finally {
      closeSync(slave);
    }
  } catch (err) {
    closeSync(master);
    throw err;
  }
  const exited = waitExit(child);
  // Output, until the master reports EIO: every slave fd is closed (runc exited) and what was
  // written before is read.
  const output = new Promise<void>((resolve) => {
    terminal.on("data", (chunk: Buffer) => {
      const out = req.stdout;
      if (out === undefined || out.destroyed) return;
      if (!out.write(chunk)) {
        terminal.pause();
        out.once("drain", () => terminal.resume());
      }
    });
    terminal.on("error", () => resolve());
    terminal.on("end", () => resolve());
    terminal.on("close", () => resolve());
  });
  const onInput = (chunk: Buffer): void => {
    if (!terminal.destroyed) terminal.write(chunk);
  };
  req.stdin?.on("data", onInput);
  const onAbort = (): void => {
    // A terminal hang-up: runc passes SIGHUP on to the command.
    child.kill("SIGHUP");
  };
  req.signal?.addEventListener("abort", onAbort, { once: true });
  let resizing = true;
  const resizer = (async () => {
    while (resizing && nextSize !== undefined && sizes !== undefined) {
      const r = await nextSize;
      if (r.done === true || !resizing) return;
      nextSize = sizes.next();
      try {
        setWindowSize(master, r.value.width, r.value.height);
        child.kill("SIGWINCH");
      } catch {
        return;
      }
    }
  })();
  try {
    const { code, signal } = await exited;
    await Promise.race([output, sleep(5000)]);
    return exitCode(code, signal);
  } finally {
    resizing = false;
    void resizer;
    req.stdin?.off("data", onInput);
    req.stdin?.resume();
    req.signal?.removeEventListener("abort", onAbort);
    terminal.destroy();
    if (req.stdout !== undefined && !req.stdout.writableEnded) req.stdout.end();
  }
}

/**
 * attachApp's view of an output stream: a Writable that passes data on to the client's stream
 * (or drops it), and carries the terminal size attachApp reads (`rows`, `columns`, "resize").
 */
class TerminalSink extends Writable {
  rows: number | undefined;
  columns: number | undefined;

  constructor(private readonly target: Writable | undefined) {
    super();
  }

  resize(size: TerminalSize): void {
    this.rows = size.height;
    this.columns = size.width;
    this.emit("resize");
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const target = this.target;
    if (target === undefined || target.destroyed || target.writableEnded) {
      callback();
      return;
    }
    target.write(chunk, () => callback());
  }

  /** Resolves once everything written was taken by the target. */
  flushed(): Promise<void> {
    if (this.writableFinished || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.once("finish", resolve);
      this.once("close", resolve);
    });
  }
}
