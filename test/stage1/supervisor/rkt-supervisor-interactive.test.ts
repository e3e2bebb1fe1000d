/**
 * rkt-supervisor --interactive with real ptys: `script` gives the supervisor a terminal, and a
 * fake runc (python3, FAKE_RUNC in fake-pod.ts) does what `runc run --detach --console-socket`
 * does: it allocates the app's pty, starts the app on it, and sends the master over the console
 * socket with SCM_RIGHTS.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { buildBinaries, type Binaries } from "./build-binaries.js";
import { appFile, FAKE_RUNC, fakePod, podTempDir, readLog } from "./fake-pod.js";
import { spawnCollect, waitFor, type Running } from "./spawn-collect.js";

let bin: Binaries;
before(async () => {
  bin = await buildBinaries();
});
after(() => bin.remove());

/*
 * Shell that waits (up to 10 s) until the app's terminal size is no longer `size`. The pty starts
 * at 0x0 and gets the user's size when the supervisor receives the master, which races with the
 * app's first instructions; real runc avoids that with the spec's process.consoleSize.
 */
const sizeNot = (size: string): string =>
  `i=0; while [ "$(stty size)" = "${size}" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`;

const sq = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * A one-app pod run as `rkt-supervisor POD --interactive` on a fresh 40x100 terminal. After the
 * supervisor exits, the terminal is checked: "RAW-LEFT" is printed if it was left in raw mode.
 * `outside` runs in the background next to the supervisor, on the same terminal.
 */
async function interactivePod(t: TestContext, appScript: string, outside = ""): Promise<{ dir: string; run: Running }> {
  const dir = await podTempDir(t);
  const runc = join(dir, "fake-runc.py");
  await writeFile(runc, FAKE_RUNC);
  const sock = join(dir, "supervisor", "console.sock");
  const start = ["python3", runc, "--console-socket", sock, "--pid-file", join(dir, "apps", "app", "pid"), "--", "sh", "-c", appScript, dir];
  await fakePod(dir, [{ name: "app", start }]);
  const inner = [
    `POD=${sq(dir)}`,
    "stty rows 40 cols 100",
    outside === "" ? "" : `(${outside}) </dev/tty &`,
    `${sq(bin.supervisor)} ${sq(dir)} --interactive`,
    "code=$?",
    'stty -a | grep -q -- "-icanon" && echo RAW-LEFT',
    'exit "$code"',
  ].filter((l) => l !== "").join("\n");
  // script: -q quiet, -f flush at once, -e exit with the child's code, -c the command.
  const run = spawnCollect("script", ["-qfec", `sh -c ${sq(inner)}`, "/dev/null"], { stdin: true, env: { RKT_STOP_TIMEOUT: "2" } });
  return { dir, run };
}

test("rkt-supervisor --interactive relays keys and output through the app's pty and restores the terminal", async (t) => {
  const { dir, run } = await interactivePod(t, `${sizeNot("0 0")}; stty size; echo ready; read line; echo "got:$line"; exit 3`);
  await waitFor(() => run.stdout().includes("ready"), "the app to be ready");
  run.write("hello\r");
  const r = await run.done;
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /40 100/, "the window size reached the app");
  assert.match(r.stdout, /got:hello/);
  assert.doesNotMatch(r.stdout, /RAW-LEFT/, "the terminal is cooked again");
  assert.equal(await appFile(dir, "app", "exit"), "3");
  const log = await readLog(dir, "app");
  assert.ok(log.some((rec) => rec.stream === "stdout" && rec.tag === "F" && rec.text === "got:hello\r"), JSON.stringify(log));
});

test("rkt-supervisor --interactive propagates window size changes (SIGWINCH)", async (t) => {
  // $0 is the pod dir: the app marks when it has its first size, then the resize happens.
  const app = `${sizeNot("0 0")}; stty size; touch "$0/sized"; ${sizeNot("40 100")}; stty size`;
  const { run } = await interactivePod(t, app, 'while [ ! -e "$POD/sized" ]; do sleep 0.05; done; stty rows 50 cols 120');
  const r = await run.done;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /40 100\s+50 120/);
});

test("rkt-supervisor --interactive ends the pod on Ctrl-] three times, without forwarding them", async (t) => {
  // A single Ctrl-] (with other keys after it) is for the app: `cat -v` shows it as ^].
  const { dir, run } = await interactivePod(t, "stty -echo; echo ready; exec cat -v");
  await waitFor(() => run.stdout().includes("ready"), "the app to be ready");
  run.write("a\x1db\r");
  await waitFor(() => run.stdout().includes("a^]b"), "the lone Ctrl-] to reach the app");
  run.write("\x1d\x1d\x1d");
  const r = await run.done;
  assert.equal(r.code, 137, r.stdout + r.stderr);
  assert.equal(await appFile(dir, "app", "exit"), "137");
  assert.equal(r.stdout.split("^]").length - 1, 1, "only the lone Ctrl-] was forwarded");
  assert.doesNotMatch(r.stdout, /RAW-LEFT/);
});
