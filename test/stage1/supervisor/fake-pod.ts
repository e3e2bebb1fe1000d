/**
 * Pod directories for rkt-supervisor tests, with a fake OCI runtime that behaves like
 * `runc run --detach`: it starts the app, has its pid written to the pid file, exits 0 and never
 * waits for the app, which is re-parented to the supervisor (a subreaper). Apps with a terminal
 * use a second fake (python3) that does what `runc run --detach --console-socket` does.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { makeTempDir, removeTempDir } from "../../support/tmp.js";

/** One app of a {@link fakePod}. */
export interface FakeApp {
  readonly name: string;
  /** Shell script the app runs (`sh -c`). */
  readonly script?: string;
  /** A start argv replacing the fake runtime, e.g. one that fails. */
  readonly start?: readonly string[];
  /** Give the app a `signal` command, which appends each signal name it gets to `signals`. */
  readonly signalCommand?: boolean;
  /** Content of `apps/NAME/restart` (mutable pods), e.g. "on-failure 50 200". */
  readonly restart?: string;
  /** Content of `apps/NAME/stdin` (mutable pods): "stream", "stream once" or "tty". */
  readonly stdin?: string;
}

/** Options of {@link fakePod}. */
export interface FakePodOptions {
  /** argv of `supervisor/finally`. */
  readonly finally?: readonly string[];
}

/** One record of a CRI log file. */
export interface LogRecord {
  readonly time: string;
  readonly stream: "stdout" | "stderr";
  readonly tag: "F" | "P";
  readonly text: string;
}

/*
 * $1 is the pid file, $2 the app script. Not `sh -c APP &`: a shell reaps a background job that
 * exits before the shell does, which runc never does. `setsid -f` forks the app and exits at once
 * without waiting, so the app is the supervisor's from the start; it writes its own pid (temp +
 * rename, as runc does) before it runs the script, and the runtime exits once the file is there.
 * The app's $0 is the pid file path, so its command line names the pod directory and
 * killLeftovers can tell it from an unrelated process. The app inherits the runtime's stdin, as
 * runc's detached pass-through mode does (a mutable pod's "stream" stdin reaches it that way).
 */
const FAKE_RUNTIME =
  `setsid -f sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sh -c "$1" "$0"' "$1" "$2"; ` +
  'while [ ! -e "$1" ]; do sleep 0.01; done; exit 0';

/* Records the signal name (appended last, $2) and delivers it to the app's process group. */
const FAKE_SIGNAL = 'echo "$2" >> "$1/signals"; kill -s "$2" "$(cat "$1/pid")"';

/** NUL-separated argv, every argument terminated by \0 (the supervisor's file format). */
export function argvFile(argv: readonly string[]): string {
  return argv.map((a) => `${a}\0`).join("");
}

/**
 * Writes `supervisor/apps`, `apps/NAME/{start,signal}` and `supervisor/finally` under `dir`.
 *
 * @example
 * await fakePod(dir, [{ name: "web", script: "echo hi; exit 0" }]);
 */
export async function fakePod(dir: string, apps: readonly FakeApp[], options: FakePodOptions = {}): Promise<void> {
  await mkdir(join(dir, "supervisor"), { recursive: true });
  await writeFile(join(dir, "supervisor", "apps"), apps.map((a) => `${a.name}\n`).join(""));
  for (const app of apps) await writeFakeApp(dir, app);
  if (options.finally !== undefined) await writeFile(join(dir, "supervisor", "finally"), argvFile(options.finally));
}

/**
 * Writes one app's files (`apps/NAME/{start,signal,restart,stdin}`), as stage0 does before it
 * asks a mutable pod's supervisor to start it. With `stdin: "tty"` the start command is the
 * python fake runc, given `--console-socket apps/NAME/console.sock`.
 *
 * @example
 * await writeFakeApp(dir, { name: "echo", script: "exec cat", stdin: "stream" });
 */
export async function writeFakeApp(dir: string, app: FakeApp): Promise<void> {
  const appDir = join(dir, "apps", app.name);
  await mkdir(appDir, { recursive: true });
  let start = app.start ?? ["/bin/sh", "-c", FAKE_RUNTIME, "fake-runtime", join(appDir, "pid"), app.script ?? "exit 0"];
  if (app.start === undefined && app.stdin === "tty") {
    const runc = join(dir, "fake-runc.py");
    await writeFile(runc, FAKE_RUNC);
    start = ["python3", runc, "--console-socket", join(appDir, "console.sock"), "--pid-file", join(appDir, "pid"), "--", "sh", "-c", app.script ?? "exit 0", appDir];
  }
  await writeFile(join(appDir, "start"), argvFile(start));
  if (app.signalCommand === true) {
    await writeFile(join(appDir, "signal"), argvFile(["/bin/sh", "-c", FAKE_SIGNAL, "fake-signal", appDir]));
  }
  if (app.restart !== undefined) await writeFile(join(appDir, "restart"), `${app.restart}\n`);
  if (app.stdin !== undefined) await writeFile(join(appDir, "stdin"), `${app.stdin}\n`);
}

/**
 * A fake `runc run --detach --console-socket SOCK --pid-file PIDFILE -- CMD...` (python3): it
 * allocates the app's pty, starts the app on it, writes the pid file and sends the master over
 * the console socket with SCM_RIGHTS, then exits.
 */
export const FAKE_RUNC = `
import fcntl, os, socket, sys, termios
_, _, sock, _, pid_file, _, *cmd = sys.argv
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 256)
    os.execvp(cmd[0], cmd)
os.close(slave)
with open(pid_file + ".tmp", "w") as f:
    f.write(str(pid))
os.rename(pid_file + ".tmp", pid_file)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
socket.send_fds(s, [b"/dev/pts/fake"], [master])
s.close()
os._exit(0)
`;

/** Contents of `apps/NAME/FILE`, or undefined if it does not exist. */
export async function appFile(dir: string, app: string, file: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, "apps", app, file), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

const RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) (.*)$/s;

/** Parses `apps/NAME/log`, failing on any line that is not a CRI log record. */
export async function readLog(dir: string, app: string): Promise<LogRecord[]> {
  const text = (await appFile(dir, app, "log")) ?? "";
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Error(`log of ${app} does not end with a newline`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      const m = RECORD.exec(line);
      if (m === null) throw new Error(`not a CRI log record: ${JSON.stringify(line)}`);
      return { time: m[1]!, stream: m[2] as LogRecord["stream"], tag: m[3] as LogRecord["tag"], text: m[4]! };
    });
}

/** The records of one stream as "TAG text" strings, for compact assertions. */
export function records(log: readonly LogRecord[], stream: LogRecord["stream"]): string[] {
  return log.filter((r) => r.stream === stream).map((r) => `${r.tag} ${r.text}`);
}

/**
 * A fresh pod directory for test `t`. When the test ends, the processes it left running are
 * killed first ({@link killLeftovers} needs the pid files in it), then the directory is removed.
 *
 * @example
 * const dir = await podTempDir(t);
 * await fakePod(dir, [{ name: "web", script: "exit 0" }]);
 */
export async function podTempDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir("rkt-pod-");
  t.after(async () => {
    await killLeftovers(dir);
    await removeTempDir(dir);
  });
  return dir;
}

/**
 * Kills (with their process groups) apps and the supervisor a failed test left running. A pid is
 * killed only if its command line names `dir`, so a pid reused by another process is left alone.
 */
export async function killLeftovers(dir: string): Promise<void> {
  const pidFiles = [join(dir, "supervisor", "pid")];
  try {
    for (const app of await readdir(join(dir, "apps"))) pidFiles.push(join(dir, "apps", app, "pid"));
  } catch {
    // no apps dir: nothing started
  }
  for (const file of pidFiles) {
    let pid: number;
    let cmdline: string;
    try {
      pid = Number.parseInt(await readFile(file, "utf8"), 10);
      cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.includes(dir)) continue;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone, or not a group leader
      }
    }
  }
}
