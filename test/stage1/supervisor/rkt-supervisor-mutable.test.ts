/**
 * rkt-supervisor --mutable against fake runtimes: a pod that lives with zero apps, apps started,
 * stopped, signalled and forgotten one by one over supervisor/control.sock, restart policies with
 * backoff, shutdown (request or SIGTERM) running `finally`, clients that vanish mid-request, a
 * supervisor that outlives the process that spawned it, and bad requests.
 */
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { makeTempDir, removeTempDir } from "../../support/tmp.js";
import { AttachClient } from "./attach-client.js";
import { buildBinaries, type Binaries } from "./build-binaries.js";
import { ControlClient, controlRequest } from "./control-client.js";
import { appFile, argvFile, killLeftovers, podTempDir, readLog, writeFakeApp, type FakeApp } from "./fake-pod.js";
import { startMutable, type MutableSupervisor } from "./mutable-pod.js";
import { spawnCollect, waitFor } from "./spawn-collect.js";

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

/* `finally` writes what it saw to POD/finally.out. */
const FINALLY = (dir: string): string[] => ["/bin/sh", "-c", 'echo "code=$RKT_EXIT_CODE" > "$1/finally.out"', "finally", dir];

interface Pod {
  readonly dir: string;
  readonly sup: MutableSupervisor;
  readonly c: ControlClient;
}

/**
 * An empty mutable pod (supervisor/finally only; `apps` written and listed in supervisor/apps
 * if given) with its supervisor running and a control connection.
 */
async function mutablePod(t: TestContext, options: { apps?: readonly FakeApp[]; env?: Record<string, string> } = {}): Promise<Pod> {
  const dir = await podTempDir(t);
  await mkdir(join(dir, "supervisor"), { recursive: true });
  await writeFile(join(dir, "supervisor", "finally"), argvFile(FINALLY(dir)));
  if (options.apps !== undefined) {
    for (const app of options.apps) await writeFakeApp(dir, app);
    await writeFile(join(dir, "supervisor", "apps"), options.apps.map((a) => `${a.name}\n`).join(""));
  }
  const sup = await startMutable(bin.supervisor, dir, { RKT_STOP_TIMEOUT: "5", ...options.env });
  const c = await ControlClient.connect(sup.control);
  t.after(() => c.close());
  return { dir, sup, c };
}

async function logSays(dir: string, app: string, text: string): Promise<boolean> {
  return (await readLog(dir, app)).some((r) => r.text === text);
}

async function waitState(c: ControlClient, app: string, state: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await c.appStatus(app)).state === state, `${app} to be ${state}`, timeoutMs);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

test("rkt-supervisor --mutable lives with zero apps until `shutdown`, then runs finally with RKT_EXIT_CODE=0", async (t) => {
  const { dir, sup, c } = await mutablePod(t);
  const sock = await stat(sup.control);
  assert.ok(sock.isSocket());
  assert.equal(sock.mode & 0o777, 0o600, "the control socket is private to its owner");
  assert.equal(await readFile(join(dir, "supervisor", "pid"), "utf8"), String(sup.pid));
  const st = await readFile(`/proc/${sup.pid}/stat`, "utf8");
  assert.equal(st.slice(st.lastIndexOf(")") + 2).split(" ")[3], String(sup.pid), "detached: a session leader");
  await sleep(300);
  assert.ok(alive(sup.pid), "nothing to run is no reason to end");
  assert.deepEqual(await c.send("status"), ["ok 0"]);
  assert.equal(await c.request("shutdown"), "ok");
  assert.deepEqual(await sup.exited, { code: 0, signal: null });
  assert.equal(await readFile(join(dir, "finally.out"), "utf8"), "code=0\n");
  assert.equal(existsSync(sup.control), false, "the socket is gone with its server");
});

test("rkt-supervisor --mutable starts, stops, restarts by hand and forgets an app added to the running pod", async (t) => {
  const { dir, c } = await mutablePod(t);
  // stage0 writes the app's files into the running pod, then asks.
  await writeFakeApp(dir, { name: "web", script: trapsTerm(7) });
  const started = await c.request("start web");
  assert.match(started, /^ok \d+$/);
  const pid = Number(started.slice(3));
  assert.equal(Number(await appFile(dir, "web", "pid")), pid);
  assert.deepEqual(await c.appStatus("web"), { name: "web", state: "running", pid, exit: undefined, restarts: 0 });
  assert.match((await appFile(dir, "web", "started")) ?? "", TIMESTAMP);
  assert.equal(await appFile(dir, "web", "restarts"), "0");
  assert.equal((await stat(join(dir, "apps", "web", "attach.sock"))).mode & 0o777, 0o600);
  assert.equal(await c.request("start web"), `error app web is already running (pid ${pid})`);
  assert.equal(await c.request("forget web"), "error app web is running: stop it first");

  await waitFor(() => logSays(dir, "web", "ready"), "web to be ready");
  assert.equal(await c.request("stop web"), "ok 7", "the reply waits for the exit and carries its code");
  assert.deepEqual(await c.appStatus("web"), { name: "web", state: "exited", pid: undefined, exit: 7, restarts: 0 });
  assert.equal(await appFile(dir, "web", "exit"), "7");
  assert.match((await appFile(dir, "web", "finished")) ?? "", TIMESTAMP);
  assert.ok(await logSays(dir, "web", "got TERM"));
  assert.equal(await c.request("stop web"), "ok 7", "stopping a stopped app is fine");

  // A later start reads the app's files again.
  await writeFakeApp(dir, { name: "web", script: "echo second run; exit 4" });
  assert.match(await c.request("start web"), /^ok \d+$/);
  await waitState(c, "web", "exited");
  assert.equal((await c.appStatus("web")).exit, 4);
  assert.equal(await appFile(dir, "web", "exit"), "4");
  assert.ok(await logSays(dir, "web", "ready"), "the log keeps the first run");
  assert.ok(await logSays(dir, "web", "second run"));

  assert.equal(await c.request("forget web"), "ok");
  assert.deepEqual(await c.send("status"), ["ok 0"]);
  assert.equal(existsSync(join(dir, "apps", "web", "attach.sock")), false);
  assert.equal(await c.request("forget web"), "ok", "forgetting is idempotent");
  assert.equal(await c.request("stop web"), "error no app web");
});

test("rkt-supervisor --mutable knows the apps of supervisor/apps and of `create` as created, and starts none of them", async (t) => {
  const { dir, c } = await mutablePod(t, { apps: [{ name: "one", script: "exit 0" }, { name: "two" }] });
  await writeFakeApp(dir, { name: "three", script: "exit 0" });
  assert.equal(await c.request("create three"), "ok");
  assert.ok(existsSync(join(dir, "apps", "three", "attach.sock")), "attachable before its first start");
  const all = await c.status();
  assert.deepEqual([...all.values()].map((s) => `${s.name} ${s.state} ${s.pid} ${s.exit} ${s.restarts}`).sort(), [
    "one created undefined undefined 0",
    "three created undefined undefined 0",
    "two created undefined undefined 0",
  ]);
  assert.equal(await appFile(dir, "one", "started"), undefined);
  assert.equal(await c.request("stop one"), "ok -", "a never-started app has no exit code");
  assert.match(await c.request("start one"), /^ok \d+$/);
  await waitState(c, "one", "exited");
  assert.equal((await c.appStatus("two")).state, "created");
  await writeFakeApp(dir, { name: "bad", script: "exit 0", stdin: "sometimes" });
  assert.equal(await c.request("create bad"), 'error stdin: want "null", "stream", "stream once" or "tty"', "create checks the files");
  assert.equal(await c.request("status bad"), "error no app bad");
});

test("rkt-supervisor --mutable keeps apps independent: a failing app or start stops nothing else", async (t) => {
  const { dir, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "web", script: trapsTerm(0) });
  await writeFakeApp(dir, { name: "job", script: "echo failing >&2; exit 3" });
  await writeFakeApp(dir, { name: "broken", start: ["/bin/sh", "-c", "echo cannot start >&2; exit 1"] });
  assert.match(await c.request("start web"), /^ok \d+$/);
  assert.equal(await c.request("start broken"), "error start broken: start command exited with status 1");
  assert.deepEqual(await c.appStatus("broken"), { name: "broken", state: "exited", pid: undefined, exit: 254, restarts: 0 });
  assert.match((await appFile(dir, "broken", "error")) ?? "", /start command exited with status 1/);
  assert.match(await c.request("start job"), /^ok \d+$/);
  await waitState(c, "job", "exited");
  assert.equal(await appFile(dir, "job", "exit"), "3");
  await sleep(200);
  assert.equal((await c.appStatus("web")).state, "running", "no shared fate in a mutable pod");
});

test("rkt-supervisor --mutable restarts on-failure with doubling backoff up to the maximum, then stops once it succeeds", async (t) => {
  const { dir, c } = await mutablePod(t);
  // Each run appends its start time (ms) to `runs`; the fourth run succeeds.
  const script = 'd=$(dirname "$0"); date +%s%3N >> "$d/runs"; [ "$(wc -l < "$d/runs")" -ge 4 ] && exit 0; echo "run fails" >&2; exit 1';
  await writeFakeApp(dir, { name: "flaky", script, restart: "on-failure 100 250" });
  assert.match(await c.request("start flaky"), /^ok \d+$/);
  await waitFor(async () => {
    const s = await c.appStatus("flaky");
    return s.state === "exited" && s.exit === 0;
  }, "the fourth run to succeed");
  assert.deepEqual(await c.appStatus("flaky"), { name: "flaky", state: "exited", pid: undefined, exit: 0, restarts: 3 });
  assert.equal(await appFile(dir, "flaky", "restarts"), "3");
  assert.equal(await appFile(dir, "flaky", "exit"), "0");
  const runs = ((await appFile(dir, "flaky", "runs")) ?? "").trim().split("\n").map(Number);
  assert.equal(runs.length, 4);
  const gaps = runs.slice(1).map((r, i) => r - runs[i]!);
  // Each restart waits at least its backoff: 100, 200, then 250 (the maximum), never less.
  assert.ok(gaps[0]! >= 100 && gaps[1]! >= 200 && gaps[2]! >= 250, `gaps ${gaps.join(", ")}`);
  assert.equal((await readLog(dir, "flaky")).filter((r) => r.text === "run fails").length, 3);
  await sleep(400);
  assert.equal((await c.appStatus("flaky")).restarts, 3, "a success is not restarted by on-failure");
});

test("rkt-supervisor --mutable backoff starts over after a run that lasted the reset time", async (t) => {
  const { dir, c } = await mutablePod(t);
  // Every run lasts 150 ms, longer than the 100 ms reset: each restart waits the initial 300 ms,
  // where doubling would wait 300, 600, 1200.
  const script = 'd=$(dirname "$0"); date +%s%3N >> "$d/runs"; sleep 0.15; exit 1';
  await writeFakeApp(dir, { name: "slow", script, restart: "on-failure 300 100000 100" });
  assert.match(await c.request("start slow"), /^ok \d+$/);
  await waitFor(async () => ((await appFile(dir, "slow", "runs")) ?? "").trim().split("\n").length >= 4, "four runs", 15_000);
  assert.match(await c.request("stop slow 1"), /^ok (1|143)$/);
  const runs = ((await appFile(dir, "slow", "runs")) ?? "").trim().split("\n").map(Number);
  const gaps = runs.slice(1, 4).map((r, i) => r - runs[i]!);
  assert.ok(gaps.every((g) => g >= 450), `at least run + backoff: ${gaps.join(", ")}`);
  assert.ok(gaps[2]! < 1100, `the third restart did not double to 1200 ms: ${gaps.join(", ")}`);
});

test("rkt-supervisor --mutable restarts `always` even after exit 0, and a stop ends it for good", async (t) => {
  const { dir, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "loop", script: "echo run; exit 0", restart: "always 50 50" });
  assert.match(await c.request("start loop"), /^ok \d+$/);
  await waitFor(async () => (await c.appStatus("loop")).restarts >= 2, "two restarts");
  // The stop may find it running (TERM: 143), starting, or waiting to restart (last exit 0).
  assert.match(await c.request("stop loop 2"), /^ok (0|143)$/);
  const stopped = await c.appStatus("loop");
  assert.equal(stopped.state, "exited");
  await sleep(400);
  assert.deepEqual(await c.appStatus("loop"), stopped, "a stop is never followed by a restart");
  assert.equal(await appFile(dir, "loop", "restarts"), String(stopped.restarts));
});

test("rkt-supervisor --mutable: stopping an app that waits out its backoff cancels the restart; `never` is the default", async (t) => {
  const { dir, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "waiting", script: "exit 2", restart: "on-failure 60000" });
  await writeFakeApp(dir, { name: "once", script: "exit 3" });
  assert.match(await c.request("start waiting"), /^ok \d+$/);
  assert.match(await c.request("start once"), /^ok \d+$/);
  await waitState(c, "waiting", "restarting");
  assert.deepEqual(await c.appStatus("waiting"), { name: "waiting", state: "restarting", pid: undefined, exit: 2, restarts: 0 });
  assert.equal(await appFile(dir, "waiting", "exit"), "2", "each exit is recorded, also before a restart");
  assert.equal(await c.request("stop waiting"), "ok 2", "answered at once");
  assert.equal((await c.appStatus("waiting")).state, "exited");
  await waitState(c, "once", "exited");
  await sleep(300);
  assert.deepEqual(await c.appStatus("once"), { name: "once", state: "exited", pid: undefined, exit: 3, restarts: 0 });
  // A start by hand after all that works as usual.
  assert.match(await c.request("start waiting"), /^ok \d+$/);
  await waitState(c, "waiting", "restarting");
  assert.equal((await c.appStatus("waiting")).restarts, 0);
});

test("rkt-supervisor --mutable signals a running app with kill(2) or through its signal command", async (t) => {
  const { dir, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "plain", script: "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done" });
  await writeFakeApp(dir, { name: "sandboxed", script: trapsTerm(0), signalCommand: true });
  assert.match(await c.request("start plain"), /^ok \d+$/);
  assert.match(await c.request("start sandboxed"), /^ok \d+$/);
  await waitFor(() => logSays(dir, "plain", "ready"), "plain to be ready");
  assert.equal(await c.request("signal plain USR1"), "ok");
  await waitFor(() => logSays(dir, "plain", "got USR1"), "the signal to arrive");
  assert.equal(await c.request("signal sandboxed SIGHUP"), "ok", "answered once the signal command exited 0");
  assert.equal(await appFile(dir, "sandboxed", "signals"), "HUP\n");
  assert.equal(await c.request("signal plain BOGUS"), 'error unknown signal "BOGUS" (want a name like TERM or SIGTERM, or a number)');
  await writeFakeApp(dir, { name: "idle", script: "exit 0" });
  assert.equal(await c.request("signal idle TERM"), "error no app idle");
});

test("rkt-supervisor --mutable shuts down on SIGTERM: TERM, KILL after RKT_STOP_TIMEOUT, finally, sockets gone", async (t) => {
  const { dir, sup, c } = await mutablePod(t, { env: { RKT_STOP_TIMEOUT: "0.5" } });
  await writeFakeApp(dir, { name: "polite", script: trapsTerm(7) });
  await writeFakeApp(dir, { name: "stubborn", script: ignoresTerm });
  assert.match(await c.request("start polite"), /^ok \d+$/);
  assert.match(await c.request("start stubborn"), /^ok \d+$/);
  await waitFor(async () => (await logSays(dir, "polite", "ready")) && (await logSays(dir, "stubborn", "ready")), "both apps to be ready");
  sup.child.kill("SIGTERM");
  assert.deepEqual(await sup.exited, { code: 0, signal: null });
  assert.equal(await appFile(dir, "polite", "exit"), "7");
  assert.equal(await appFile(dir, "stubborn", "exit"), "137");
  assert.equal(await readFile(join(dir, "finally.out"), "utf8"), "code=0\n");
  assert.equal(existsSync(sup.control), false);
  assert.equal(existsSync(join(dir, "apps", "polite", "attach.sock")), false);
});

test("rkt-supervisor --mutable `shutdown TIMEOUT` answers once every app has stopped, serving others meanwhile", async (t) => {
  const { dir, sup, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "stubborn", script: ignoresTerm });
  assert.match(await c.request("start stubborn"), /^ok \d+$/);
  await waitFor(() => logSays(dir, "stubborn", "ready"), "the app to be ready");
  const shutdown = c.request("shutdown 0.5");
  const other = await ControlClient.connect(sup.control);
  t.after(() => other.close());
  assert.equal((await other.appStatus("stubborn")).state, "stopping");
  assert.equal(await other.request("start stubborn"), "error the pod is shutting down");
  assert.equal(await shutdown, "ok");
  assert.equal(await appFile(dir, "stubborn", "exit"), "137");
  assert.deepEqual(await sup.exited, { code: 0, signal: null });
});

test("rkt-supervisor --mutable carries on when a client is killed mid-request, and a slow stop blocks no one", async (t) => {
  const { dir, sup, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "stubborn", script: ignoresTerm });
  assert.match(await c.request("start stubborn"), /^ok \d+$/);
  await waitFor(() => logSays(dir, "stubborn", "ready"), "the app to be ready");
  const client = [
    'import { connect } from "node:net";',
    "const s = connect(process.argv[1]);",
    's.on("connect", () => s.write("stop stubborn 30\\n", () => console.log("sent")));',
    "setInterval(() => {}, 1000);",
  ].join("\n");
  const p = spawnCollect(process.execPath, ["--input-type=module", "-e", client, sup.control]);
  await waitFor(() => p.stdout().includes("sent"), "the client to send its request");
  await waitState(c, "stubborn", "stopping");
  p.child.kill("SIGKILL");
  await p.done;
  await sleep(100);
  assert.ok(alive(sup.pid));
  assert.equal((await c.appStatus("stubborn")).state, "stopping", "the vanished client's stop goes on");
  assert.equal(await c.request("stop stubborn 0.2"), "ok 137", "a shorter timeout takes over");
  assert.equal(await appFile(dir, "stubborn", "exit"), "137");
});

test("rkt-supervisor --mutable outlives the process that spawned it, and a later client sees the true states and codes", async (t) => {
  const dir = await podTempDir(t);
  await mkdir(join(dir, "supervisor"), { recursive: true });
  await writeFile(join(dir, "supervisor", "finally"), argvFile(FINALLY(dir)));
  await writeFakeApp(dir, { name: "quick", script: "sleep 0.3; exit 5" });
  await writeFakeApp(dir, { name: "long", script: trapsTerm(9) });
  // What `rkt app sandbox` + `rkt app start` do: spawn detached, wait for ready, start apps, exit.
  const stage0 = [
    'import { spawn } from "node:child_process";',
    'import { connect } from "node:net";',
    "const [sup, dir] = process.argv.slice(1);",
    'const child = spawn(sup, [dir, "--mutable"], { stdio: ["ignore", "ignore", "ignore", "pipe"], env: { ...process.env, RKT_READY_FD: "3" }, detached: true });',
    "child.unref();",
    'child.stdio[3].resume().on("end", () => {',
    '  const s = connect(dir + "/supervisor/control.sock");',
    '  let got = "";',
    '  s.on("data", (d) => { got += d; if (got.split("\\n").length > 2) { console.log(got.trim()); process.exit(0); } });',
    '  s.write("start quick\\nstart long\\n");',
    "});",
  ].join("\n");
  const p = spawnCollect(process.execPath, ["--input-type=module", "-e", stage0, bin.supervisor, dir]);
  const r = await p.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok \d+\nok \d+\n$/);
  const pid = Number(await readFile(join(dir, "supervisor", "pid"), "utf8"));
  await sleep(600);
  assert.ok(alive(pid), "the supervisor outlives its parent");
  const c = await ControlClient.connect(join(dir, "supervisor", "control.sock"));
  t.after(() => c.close());
  const all = await c.status();
  assert.deepEqual(all.get("quick"), { name: "quick", state: "exited", pid: undefined, exit: 5, restarts: 0 }, "an exit nobody watched");
  assert.equal(all.get("long")?.state, "running");
  assert.equal(await c.request("stop long"), "ok 9");
  assert.equal(await c.request("shutdown"), "ok");
  await waitFor(() => existsSync(join(dir, "finally.out")), "finally to run");
  assert.equal(await readFile(join(dir, "finally.out"), "utf8"), "code=0\n");
});

test("rkt-supervisor --mutable answers bad requests with an error and keeps serving, in order on one connection", async (t) => {
  const { dir, sup, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "badpolicy", script: "exit 0", restart: "sometimes" });
  await writeFakeApp(dir, { name: "badstart" });
  await writeFile(join(dir, "apps", "badstart", "start"), "/bin/true"); // not NUL-terminated
  const usage = "(want create NAME | start NAME | stop NAME [TIMEOUT] | signal NAME SIGNAL | status [NAME] | forget NAME | reopen-log NAME | shutdown [TIMEOUT])";
  const cases: [string, string][] = [
    ["frobnicate", `error bad request "frobnicate" with 0 arguments ${usage}`],
    ["start", `error bad request "start" with 0 arguments ${usage}`],
    ["a b c d e", `error too many words ${usage}`],
    ["start ../etc", 'error invalid app name "../etc"'],
    ["start nosuch", `error no app directory ${join(dir, "apps", "nosuch")}: No such file or directory`],
    ["stop nosuch", "error no app nosuch"],
    ["status nosuch", "error no app nosuch"],
    ["stop nosuch soon", 'error stop nosuch: timeout "soon" is not a number of seconds (0 to 86400)'],
    ["shutdown -1", 'error shutdown: timeout "-1" is not a number of seconds (0 to 86400)'],
    ["start badstart", `error ${join(dir, "apps", "badstart", "start")}: not a NUL-separated argv (each argument ends with \\0)`],
  ];
  // All at once on one connection: the replies come back in order.
  const replies = await Promise.all(cases.map(([req]) => c.request(req)));
  assert.deepEqual(replies, cases.map(([, want]) => want));
  assert.match(await c.request("start badpolicy"), /^error restart: want "never\|on-failure\|always \[INITIAL_MS \[MAX_MS \[RESET_MS\]\]\]"/);
  assert.deepEqual(await c.send("status"), ["ok 0"], "a failed start leaves no app behind");
  // An empty line asks nothing; a final request may end at EOF without its newline.
  assert.deepEqual(await Promise.all(c.sendRaw("\n\nstatus\n", 1)), [["ok 0"]]);
  assert.equal(await controlRequest(sup.control, "status\r"), "ok 0", "CRLF is fine");

  const long = await ControlClient.connect(sup.control);
  t.after(() => long.close());
  const [tooLong] = long.sendRaw("x".repeat(5000), 1);
  assert.deepEqual(await tooLong, ["error request longer than 4095 bytes"]);
  await waitFor(() => long.closed, "the supervisor to hang up on it");
  assert.deepEqual(await c.send("status"), ["ok 0"], "still serving");
});

test("rkt-supervisor --mutable logs to apps/NAME/log-path and reopens it on `reopen-log` (log rotation)", async (t) => {
  const { dir, c } = await mutablePod(t);
  const logPath = join(dir, "elsewhere.log");
  await writeFakeApp(dir, { name: "talker", script: 'd=$(dirname "$0"); echo first; while [ ! -e "$d/go" ]; do sleep 0.02; done; echo second' });
  await writeFile(join(dir, "apps", "talker", "log-path"), `${logPath}\n`);
  assert.match(await c.request("start talker"), /^ok \d+$/);
  await waitFor(async () => (await readFile(logPath, "utf8").catch(() => "")).endsWith(" stdout F first\n"), "the first line");
  await rename(logPath, `${logPath}.1`);
  assert.equal(await c.request("reopen-log talker"), "ok");
  await writeFile(join(dir, "apps", "talker", "go"), "");
  await waitState(c, "talker", "exited");
  assert.match(await readFile(`${logPath}.1`, "utf8"), /^\S+ stdout F first\n$/);
  assert.match(await readFile(logPath, "utf8"), /^\S+ stdout F second\n$/);
  assert.equal(await appFile(dir, "talker", "log"), undefined);
  await writeFile(join(dir, "apps", "talker", "log-path"), "relative.log");
  assert.equal(await c.request("create talker"), 'error log-path: "relative.log" is not an absolute path');
  assert.equal(await c.request("reopen-log nosuch"), "error no app nosuch");
});

test("rkt-supervisor --mutable idles in about 1 MB", async (t) => {
  const { dir, sup, c } = await mutablePod(t);
  await writeFakeApp(dir, { name: "idle", script: "sleep 60" });
  assert.match(await c.request("start idle"), /^ok \d+$/);
  await sleep(100);
  const status = await readFile(`/proc/${sup.pid}/status`, "utf8");
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]);
  t.diagnostic(`idle mutable pod with one app: rkt-supervisor VmRSS ${kb("VmRSS")} kB (private ${kb("RssAnon")} kB)`);
  assert.ok(kb("RssAnon") < 1024, "private memory under 1 MB");
  assert.ok(kb("VmRSS") < 4096);
});

test("rkt-supervisor --mutable serves a pod directory too long for a socket address (through /proc/self/fd)", async (t) => {
  const base = await makeTempDir("rkt-pod-");
  const dir = join(base, "d".repeat(120));
  t.after(async () => {
    await killLeftovers(dir);
    await removeTempDir(base);
  });
  await mkdir(join(dir, "supervisor"), { recursive: true });
  await writeFile(join(dir, "supervisor", "finally"), argvFile(FINALLY(dir)));
  await writeFakeApp(dir, { name: "cat", script: "exec cat", stdin: "stream" });
  const sup = await startMutable(bin.supervisor, dir);
  // A client reaches the socket the way the supervisor bound it: through an fd of its directory.
  const supDir = openSync(join(dir, "supervisor"), "r");
  const appDir = openSync(join(dir, "apps", "cat"), "r");
  t.after(() => {
    closeSync(supDir);
    closeSync(appDir);
  });
  const c = await ControlClient.connect(`/proc/self/fd/${supDir}/control.sock`);
  t.after(() => c.close());
  assert.match(await c.request("start cat"), /^ok \d+$/);
  const a = await AttachClient.connect(`/proc/self/fd/${appDir}/attach.sock`);
  t.after(() => a.close());
  a.stdin("long way\n");
  await a.waitStdout("long way\n");
  assert.equal(await c.request("shutdown"), "ok");
  assert.deepEqual(await sup.exited, { code: 0, signal: null });
});
