/**
 * rkt-supervisor --mutable attach sockets (apps/NAME/attach.sock): stdin as a pipe ("stream") and
 * as a pty ("tty", through the python fake runc's console socket), several clients at once, the
 * exit frame, "stream once", and clients that read too slowly or send garbage.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { AttachClient, FRAME } from "./attach-client.js";
import { buildBinaries, type Binaries } from "./build-binaries.js";
import { ControlClient } from "./control-client.js";
import { appFile, argvFile, podTempDir, readLog, records, writeFakeApp, type FakeApp } from "./fake-pod.js";
import { startMutable } from "./mutable-pod.js";
import { waitFor } from "./spawn-collect.js";

let bin: Binaries;
before(async () => {
  bin = await buildBinaries();
});
after(() => bin.remove());

/** A running mutable pod with `apps` created (not started) and a control connection. */
async function podWith(t: TestContext, apps: readonly FakeApp[]): Promise<{ dir: string; c: ControlClient }> {
  const dir = await podTempDir(t);
  await mkdir(join(dir, "supervisor"), { recursive: true });
  await writeFile(join(dir, "supervisor", "finally"), argvFile(["/bin/true"]));
  for (const app of apps) await writeFakeApp(dir, app);
  const sup = await startMutable(bin.supervisor, dir, { RKT_STOP_TIMEOUT: "2" });
  const c = await ControlClient.connect(sup.control);
  t.after(() => c.close());
  for (const app of apps) assert.equal(await c.request(`create ${app.name}`), "ok");
  return { dir, c };
}

async function attach(t: TestContext, dir: string, app: string): Promise<AttachClient> {
  const a = await AttachClient.connect(join(dir, "apps", app, "attach.sock"));
  t.after(() => a.close());
  return a;
}

test("rkt-supervisor attach: stream stdin from two clients, output and the exit frame to both, all in the log", async (t) => {
  const script = 'while read line; do echo "out:$line"; echo "err:$line" >&2; done; echo bye; exit 3';
  const { dir, c } = await podWith(t, [{ name: "echo", script, stdin: "stream" }]);
  // Attached before the start: nothing is missed.
  const first = await attach(t, dir, "echo");
  const second = await attach(t, dir, "echo");
  assert.match(await c.request("start echo"), /^ok \d+$/);
  first.stdin("one\n");
  await first.waitStdout("out:one\n");
  await second.waitStdout("out:one\n");
  await second.until(() => second.stderr() === "err:one\n", "stderr as its own frames");
  second.stdin("two\n");
  await first.waitStdout("out:two\n");
  first.eof();
  assert.equal(await first.waitExit(), 3);
  assert.equal(await second.waitExit(), 3);
  assert.equal(first.stdout(), "out:one\nout:two\nbye\n");
  assert.equal(second.stdout(), first.stdout());
  assert.equal(await appFile(dir, "echo", "exit"), "3");
  const log = await readLog(dir, "echo");
  assert.deepEqual(records(log, "stdout"), ["F out:one", "F out:two", "F bye"]);
  assert.deepEqual(records(log, "stderr"), ["F err:one", "F err:two"]);
  // A client attaching to an app that is done hears so at once.
  const late = await attach(t, dir, "echo");
  assert.equal(await late.waitExit(), 3);
  assert.equal(late.stdout(), "", "no history is replayed: the log has it");
});

test("rkt-supervisor attach: a restarted app gets a fresh stdin, and clients see every run", async (t) => {
  const { dir, c } = await podWith(t, [{ name: "cat", script: "exec cat", stdin: "stream", restart: "always 50" }]);
  const a = await attach(t, dir, "cat");
  assert.match(await c.request("start cat"), /^ok \d+$/);
  a.stdin("first\n");
  await a.waitStdout("first\n");
  a.eof();
  await a.until(() => a.exitCodes().length === 1, "the first exit");
  await waitFor(async () => (await c.appStatus("cat")).state === "running", "the restart");
  a.stdin("second\n");
  await a.waitStdout("second\n");
  assert.equal(await c.request("stop cat"), "ok 143");
  await a.until(() => a.exitCodes().length === 2, "the second exit");
  assert.deepEqual(a.exitCodes(), [0, 143]);
});

test("rkt-supervisor attach: a tty app gets its pty from the runtime's console socket, input, resizes, one output stream", async (t) => {
  const script = 'while read line; do case "$line" in size) stty size ;; quit) exit 3 ;; *) echo "got:$line" ;; esac; done';
  const { dir, c } = await podWith(t, [{ name: "term", script, stdin: "tty" }]);
  const a = await attach(t, dir, "term");
  assert.match(await c.request("start term"), /^ok \d+$/);
  a.resize(30, 100);
  a.stdin("size\n");
  await a.waitStdout("30 100");
  a.stdin("hello\n");
  await a.waitStdout("got:hello");
  a.stdin("quit\n");
  assert.equal(await a.waitExit(), 3);
  assert.equal(a.stderr(), "", "a tty has one stream");
  const log = await readLog(dir, "term");
  assert.ok(log.some((r) => r.stream === "stdout" && r.text === "got:hello\r"), JSON.stringify(log));
});

test("rkt-supervisor attach: `stream once` closes stdin when the first client leaves", async (t) => {
  const { dir, c } = await podWith(t, [{ name: "once", script: "cat; echo eof-seen; exit 0", stdin: "stream once" }]);
  const typist = await attach(t, dir, "once");
  const watcher = await attach(t, dir, "once");
  assert.match(await c.request("start once"), /^ok \d+$/);
  typist.stdin("x\n");
  await watcher.waitStdout("x\n");
  typist.close();
  assert.equal(await watcher.waitExit(), 0);
  assert.equal(watcher.stdout(), "x\neof-seen\n");
});

test("rkt-supervisor attach: a client that does not read is dropped and never holds the app back", async (t) => {
  // 8 MiB of output once the clients are there, in 128 KiB steps a reader can keep up with; a
  // client that does not read may fall at most 1 MiB behind.
  const script = 'd=$(dirname "$0"); while [ ! -e "$d/go" ]; do sleep 0.02; done; for i in $(seq 64); do head -c 131072 /dev/zero | tr "\\0" x; sleep 0.01; done; exit 0';
  const { dir, c } = await podWith(t, [{ name: "flood", script }]);
  assert.match(await c.request("start flood"), /^ok \d+$/);
  const fast = await attach(t, dir, "flood");
  const slow = await attach(t, dir, "flood");
  slow.socket.pause();
  await writeFile(join(dir, "apps", "flood", "go"), "");
  assert.equal(await fast.waitExit(), 0);
  assert.equal(fast.stdout().length, 64 * 131072);
  slow.socket.resume();
  await slow.until(() => slow.closed, "the slow client to be disconnected");
  assert.deepEqual(slow.exitCodes(), [], "it was gone before the exit");
  assert.ok(slow.stdout().length < 64 * 131072);
  assert.match(await readFile(join(dir, "supervisor", "log"), "utf8"), /rkt-supervisor: app flood: an attach client read too slowly and was disconnected/);
  assert.equal(await appFile(dir, "flood", "exit"), "0");
});

test("rkt-supervisor attach: a client sending a bad frame is disconnected, the others are not", async (t) => {
  const { dir, c } = await podWith(t, [{ name: "cat", script: "exec cat", stdin: "stream" }]);
  assert.match(await c.request("start cat"), /^ok \d+$/);
  const good = await attach(t, dir, "cat");
  const bad = await attach(t, dir, "cat");
  bad.frame(FRAME.exit, "0"); // not a client frame
  await bad.until(() => bad.closed, "the bad client to be disconnected");
  const huge = await attach(t, dir, "cat");
  huge.socket.write(Buffer.from([FRAME.stdin, 0x7f, 0xff, 0xff, 0xff]));
  await huge.until(() => huge.closed, "an oversized frame to be refused");
  good.stdin("still here\n");
  await good.waitStdout("still here\n");
  assert.equal((await c.appStatus("cat")).state, "running");
});

test("rkt-supervisor attach: an app without stdin shows its output; input to it is dropped", async (t) => {
  const script = 'd=$(dirname "$0"); while [ ! -e "$d/go" ]; do sleep 0.02; done; echo hello; read x || echo "no input"';
  const { dir, c } = await podWith(t, [{ name: "quiet", script }]);
  assert.match(await c.request("start quiet"), /^ok \d+$/);
  const a = await attach(t, dir, "quiet");
  a.stdin("ignored\n");
  a.resize(10, 10);
  await writeFile(join(dir, "apps", "quiet", "go"), "");
  assert.equal(await a.waitExit(), 0);
  assert.equal(a.stdout(), "hello\nno input\n");
});
