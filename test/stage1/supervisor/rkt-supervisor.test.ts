/**
 * rkt-supervisor against fake runtimes (fake-pod.ts): output and CRI logs, exit codes, shared
 * fate, stopping, `finally` under the pod lock, start failures and --detach.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { buildBinaries, type Binaries } from "./build-binaries.js";
import { appFile, fakePod, podTempDir, readLog, records, type FakeApp, type FakePodOptions } from "./fake-pod.js";
import { spawnCollect, waitFor, type Running, type SpawnCollectOptions } from "./spawn-collect.js";

let bin: Binaries;
before(async () => {
  bin = await buildBinaries();
});
after(() => bin.remove());

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

/* An app that says "ready", exits with `code` on TERM, and otherwise runs until killed. */
const trapsTerm = (code: number): string =>
  `trap 'echo got TERM; exit ${code}' TERM; echo ready; while :; do sleep 0.05; done`;
const ignoresTerm = "trap '' TERM; echo ready; while :; do sleep 0.05; done";

async function pod(t: TestContext, apps: readonly FakeApp[], options: FakePodOptions = {}): Promise<string> {
  const dir = await podTempDir(t);
  await fakePod(dir, apps, options);
  return dir;
}

function supervise(dir: string, args: readonly string[] = [], options: SpawnCollectOptions = {}): Running {
  return spawnCollect(bin.supervisor, [dir, ...args], options);
}

async function logSays(dir: string, app: string, text: string): Promise<boolean> {
  return (await readLog(dir, app)).some((r) => r.text === text);
}

test("rkt-supervisor copies app output to stdout/stderr and writes it as CRI log records", async (t) => {
  const dir = await pod(t, [{ name: "app", script: "echo hello; echo oops >&2; echo world; printf 'no newline'" }]);
  const p = supervise(dir);
  const r = await p.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello\nworld\nno newline");
  assert.equal(r.stderr, "oops\n");
  const log = await readLog(dir, "app");
  assert.deepEqual(records(log, "stdout"), ["F hello", "F world", "P no newline"]);
  assert.deepEqual(records(log, "stderr"), ["F oops"]);
  assert.equal(await appFile(dir, "app", "exit"), "0");
  assert.match((await appFile(dir, "app", "started")) ?? "", TIMESTAMP);
  assert.match((await appFile(dir, "app", "finished")) ?? "", TIMESTAMP);
  assert.equal(await readFile(join(dir, "supervisor", "pid"), "utf8"), String(p.pid));
});

test("rkt-supervisor splits lines longer than 16 KiB into P records ending with an F record", async (t) => {
  // 40000 a's then a newline; exactly 16384 b's then a newline (a full line, not a partial one).
  const script = "head -c 40000 /dev/zero | tr '\\0' a; echo; head -c 16384 /dev/zero | tr '\\0' b; echo";
  const dir = await pod(t, [{ name: "long", script }]);
  const r = await supervise(dir).done;
  assert.equal(r.code, 0, r.stderr);
  const log = await readLog(dir, "long");
  assert.deepEqual(
    log.map((rec) => `${rec.tag} ${rec.text[0] ?? ""}${rec.text.length}`),
    ["P a16384", "P a16384", "F a7232", "F b16384"],
  );
});

test("rkt-supervisor runs apps in order and exits 0 when every app succeeds, an early exit 0 stopping nothing", async (t) => {
  const dir = await pod(t, [
    { name: "first", script: "echo one; exit 0" },
    { name: "second", script: "sleep 0.4; echo still here; exit 0" },
  ]);
  const r = await supervise(dir).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "one\nstill here\n");
  assert.equal(await appFile(dir, "first", "exit"), "0");
  assert.equal(await appFile(dir, "second", "exit"), "0");
  const started = [await appFile(dir, "first", "started"), await appFile(dir, "second", "started")];
  assert.ok(started[0]! <= started[1]!, `started in order: ${started.join(" ")}`);
});

test("rkt-supervisor records the code of an app that exits before its start command is reaped", async (t) => {
  // The app may exit before or after the fake runtime; either order must give its own code.
  for (let i = 0; i < 5; i++) {
    const dir = await pod(t, [{ name: "quick", script: "exit 4" }]);
    const r = await supervise(dir).done;
    assert.equal(r.code, 4, r.stderr);
    assert.equal(await appFile(dir, "quick", "exit"), "4");
  }
});

test("rkt-supervisor shares fate: a failing app stops the others with TERM and its code is the pod's", async (t) => {
  const dir = await pod(t, [
    { name: "web", script: trapsTerm(0) },
    { name: "sandboxed", script: trapsTerm(0), signalCommand: true },
    { name: "job", script: "sleep 0.3; echo failing >&2; exit 3" },
  ]);
  const r = await supervise(dir, [], { env: { RKT_STOP_TIMEOUT: "10" } }).done;
  assert.equal(r.code, 3, r.stderr);
  assert.equal(await appFile(dir, "job", "exit"), "3");
  for (const app of ["web", "sandboxed"]) {
    assert.equal(await appFile(dir, app, "exit"), "0", app);
    assert.ok(await logSays(dir, app, "got TERM"), `${app} got TERM`);
  }
  // The app with a `signal` command was signalled through it, not with kill(2).
  assert.equal(await appFile(dir, "sandboxed", "signals"), "TERM\n");
});

test("rkt-supervisor stops apps on SIGTERM and KILLs those still running after RKT_STOP_TIMEOUT", async (t) => {
  const dir = await pod(t, [
    { name: "polite", script: trapsTerm(7) },
    { name: "stubborn", script: ignoresTerm },
  ]);
  const p = supervise(dir, [], { env: { RKT_STOP_TIMEOUT: "0.5" } });
  await waitFor(async () => (await logSays(dir, "polite", "ready")) && (await logSays(dir, "stubborn", "ready")), "both apps to be ready");
  const sent = Date.now();
  p.child.kill("SIGTERM");
  const r = await p.done;
  const took = Date.now() - sent;
  assert.equal(await appFile(dir, "polite", "exit"), "7");
  assert.equal(await appFile(dir, "stubborn", "exit"), "137");
  assert.equal(r.code, 7, "the first non-zero exit is the pod's");
  assert.ok(took >= 450 && took < 5000, `KILL came after the grace period (${took} ms)`);
});

test("rkt-supervisor KILLs at once on a second SIGTERM", async (t) => {
  const dir = await pod(t, [{ name: "stubborn", script: ignoresTerm }]);
  const p = supervise(dir, [], { env: { RKT_STOP_TIMEOUT: "60" } });
  await waitFor(() => logSays(dir, "stubborn", "ready"), "the app to be ready");
  p.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  const sent = Date.now();
  p.child.kill("SIGTERM");
  const r = await p.done;
  assert.equal(r.code, 137, r.stderr);
  assert.ok(Date.now() - sent < 5000);
});

test("rkt-supervisor execs finally with RKT_EXIT_CODE while the pod lock is still held", async (t) => {
  const dir = await podTempDir(t);
  const lock = join(dir, "pod.lck");
  // `finally` reports what it sees, then waits until the test has checked the lock from outside.
  const fin = [
    "/bin/sh",
    "-c",
    'echo "code=$RKT_EXIT_CODE fd=$RKT_LOCK_FD open=$(test -e /proc/self/fd/$RKT_LOCK_FD && echo yes)" > "$1/finally.out"; ' +
      'touch "$1/finally.ready"; while [ ! -e "$1/go" ]; do sleep 0.02; done; exit 0',
    "finally",
    dir,
  ];
  await fakePod(dir, [{ name: "app", script: "exit 5" }], { finally: fin });
  // flock(1) takes the lock on fd 9, which the supervisor gets as RKT_LOCK_FD.
  const p = spawnCollect("/bin/sh", ["-c", 'exec 9>"$1"; flock -x 9; RKT_LOCK_FD=9 exec "$2" "$3"', "wrap", lock, bin.supervisor, dir]);
  await waitFor(() => existsSync(join(dir, "finally.ready")), "finally to run");
  assert.equal(await readFile(join(dir, "finally.out"), "utf8"), "code=5 fd=9 open=yes\n");
  const held = await spawnCollect("flock", ["-n", "-E", "99", lock, "true"]).done;
  assert.equal(held.code, 99, "the pod lock is held while finally runs");
  await writeFile(join(dir, "go"), "");
  const r = await p.done;
  assert.equal(r.code, 0, "finally's own code is the process's");
  const free = await spawnCollect("flock", ["-n", "-E", "99", lock, "true"]).done;
  assert.equal(free.code, 0, "the lock is free once finally has exited");
});

test("rkt-supervisor records 254 when a start command fails, stops the pod and never starts later apps", async (t) => {
  const dir = await pod(t, [
    { name: "web", script: trapsTerm(0) },
    { name: "broken", start: ["/bin/sh", "-c", "echo cannot start >&2; exit 1"] },
    { name: "later", script: "echo should not run" },
  ]);
  const r = await supervise(dir).done;
  assert.equal(r.code, 254, r.stderr);
  assert.equal(await appFile(dir, "broken", "exit"), "254");
  assert.match((await appFile(dir, "broken", "error")) ?? "", /start command exited with status 1/);
  assert.deepEqual(records(await readLog(dir, "broken"), "stderr"), ["F cannot start"]);
  assert.equal(await appFile(dir, "web", "exit"), "0");
  assert.equal(await appFile(dir, "later", "exit"), undefined);
  assert.equal(await appFile(dir, "later", "log"), undefined);
  assert.match(r.stderr, /rkt-supervisor: app broken: start command exited with status 1/);
});

test("rkt-supervisor fails an app whose start command cannot be executed, or leaves no pid file", async (t) => {
  const dir = await pod(t, [
    { name: "missing", start: ["/nonexistent/runtime", "run"] },
  ]);
  const r = await supervise(dir).done;
  assert.equal(r.code, 254);
  assert.equal(await appFile(dir, "missing", "exit"), "254");
  assert.match(r.stderr, /exec \/nonexistent\/runtime: No such file or directory/);

  const dir2 = await pod(t, [{ name: "nopid", start: ["/bin/true"] }]);
  const r2 = await supervise(dir2).done;
  assert.equal(r2.code, 254);
  assert.match((await appFile(dir2, "nopid", "error")) ?? "", /no valid pid file/);
});

test("rkt-supervisor --detach writes only the logs and runs in its own session", async (t) => {
  const dir = await pod(t, [{ name: "app", script: "echo out; echo err >&2; sleep 0.3; exit 0" }]);
  const p = supervise(dir, ["--detach"]);
  await waitFor(() => logSays(dir, "app", "out"), "the app's output");
  const stat = await readFile(`/proc/${p.pid}/stat`, "utf8");
  const session = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3];
  assert.equal(session, String(p.pid), "session leader");
  const r = await p.done;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
  const log = await readLog(dir, "app");
  assert.deepEqual(records(log, "stdout"), ["F out"]);
  assert.deepEqual(records(log, "stderr"), ["F err"]);
});

test("rkt-supervisor rejects a malformed pod directory with 254 and a message", async (t) => {
  const dir = await pod(t, [{ name: "app" }]);
  await writeFile(join(dir, "apps", "app", "start"), "/bin/true"); // not NUL-terminated
  const r = await supervise(dir).done;
  assert.equal(r.code, 254);
  assert.match(r.stderr, /^rkt-supervisor: .*start: not a NUL-separated argv/);

  await writeFile(join(dir, "supervisor", "apps"), "../escape\n");
  const r2 = await supervise(dir).done;
  assert.equal(r2.code, 254);
  assert.match(r2.stderr, /invalid app name/);
});
