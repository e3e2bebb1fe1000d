/**
 * rkt-launch: exit codes, the `wait <pid>` hand-over on fd 3, signal forwarding, and the whole
 * chain (rkt-launch → node → rkt-supervisor → app) with the resident size of the two programs.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { buildBinaries, type Binaries } from "./build-binaries.js";
import { appFile, argvFile, fakePod, podTempDir, readLog } from "./fake-pod.js";
import { spawnCollect, waitFor, type Running } from "./spawn-collect.js";

let bin: Binaries;
before(async () => {
  bin = await buildBinaries();
});
after(() => bin.remove());

/* rkt-launch NODE SCRIPT ARGS: a shell stands in for node, `-c` for the script. */
function launchSh(script: string, ...args: string[]) {
  return spawnCollect(bin.launch, ["/bin/sh", "-c", script, "node", ...args]);
}

/* A stand-in pod supervisor: says "ready PID", exits 11 on TERM. */
const STAND_IN = 'trap "exit 11" TERM; echo ready $$; while :; do sleep 0.05; done';

/** Children of a process (from /proc/PID/task/PID/children; rkt-launch is single-threaded). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
  return text.split(" ").filter((s) => s !== "").map(Number);
}

/**
 * Waits until node has exited and the supervisor printed as "ready PID" is rkt-launch's only
 * child. The supervisor is killed after the test if it is still there.
 */
async function handedOver(t: TestContext, launch: Running): Promise<number> {
  await waitFor(() => /ready \d+/.test(launch.stdout()), "the supervisor to be ready");
  const supervisor = Number(/ready (\d+)/.exec(launch.stdout())![1]);
  t.after(async () => {
    // Only if the pid is still the stand-in supervisor, not a reused one.
    const cmdline = await readFile(`/proc/${supervisor}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(STAND_IN)) process.kill(supervisor, "SIGKILL");
  });
  await waitFor(async () => (await childrenOf(launch.pid)).join() === String(supervisor), "node to exit");
  return supervisor;
}

/** Resident memory of a process in kB (/proc/PID/status): all of it, and its private part. */
async function memoryKb(pid: number): Promise<{ rss: number; anon: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (m === null) throw new Error(`no ${name} for ${pid}`);
    return Number(m[1]);
  };
  return { rss: field("VmRSS"), anon: field("RssAnon") };
}

test("rkt-launch exits with its child's code, and 128+signo when a signal killed it", async () => {
  assert.equal((await launchSh("exit 5").done).code, 5);
  assert.equal((await launchSh("kill -9 $$").done).code, 137);
  const r = await launchSh('echo "fd=$RKT_LAUNCH_FD"; test -w /proc/self/fd/3 && echo writable').done;
  assert.equal(r.stdout, "fd=3\nwritable\n");
  assert.equal((await spawnCollect(bin.launch, ["/nonexistent/node", "x"]).done).code, 127);
});

test("rkt-launch waits for the supervisor named by `wait <pid>` and exits with its code", async () => {
  // The "supervisor" outlives the "node" that spawned it and keeps fd 3 open: no EOF to wait for.
  const r = await launchSh('setsid sh -c "sleep 0.3; exit 42" & echo "wait $!" >&3; exit 0').done;
  assert.equal(r.code, 42, r.stderr);
  const killed = await launchSh('sh -c "sleep 0.2; kill -9 \\$\\$" & echo "wait $!" >&3; exit 3').done;
  assert.equal(killed.code, 137, "the awaited process's status, not node's");
});

test("rkt-launch fails with 254 on a malformed hand-over or a pid that is not its child", async () => {
  const bogus = await launchSh('echo "bogus" >&3; exit 0').done;
  assert.equal(bogus.code, 254);
  assert.match(bogus.stderr, /^rkt-launch: Node wrote an unknown hand-over line/);
  const foreign = await launchSh('echo "wait 1" >&3; exit 0').done;
  assert.equal(foreign.code, 254);
  assert.match(foreign.stderr, /pod supervisor 1 is not our child/);
});

test("rkt-launch forwards SIGTERM to node, and to the supervisor once handed over", async (t) => {
  const node = launchSh('trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done');
  await waitFor(() => node.stdout().includes("ready"), "node to be ready");
  node.child.kill("SIGTERM");
  assert.equal((await node.done).code, 9);

  const handed = launchSh('sh -c "$1" & echo "wait $!" >&3; exit 0', STAND_IN);
  await handedOver(t, handed);
  handed.child.kill("SIGTERM");
  assert.equal((await handed.done).code, 11);
});

test("rkt-launch → node → rkt-supervisor → finally: a real Node hand-over, SIGTERM stops the pod, both stay small", async (t) => {
  const dir = await podTempDir(t);
  await fakePod(dir, [{ name: "app", script: "trap 'echo stopping; exit 143' TERM; echo ready; while :; do sleep 0.05; done" }]);
  await writeFile(join(dir, "supervisor", "finally"), argvFile(["/bin/sh", "-c", 'echo "teardown $RKT_EXIT_CODE"; exit "$RKT_EXIT_CODE"']));
  // What `rkt run` will do: spawn the supervisor, hand its pid over on fd 3, exit.
  const script = [
    'import { spawn } from "node:child_process";',
    'import { writeSync } from "node:fs";',
    'const sup = spawn(process.argv[1], [process.argv[2]], { stdio: "inherit" });',
    "sup.unref();",
    'writeSync(Number(process.env.RKT_LAUNCH_FD), `wait ${sup.pid}\\n`);',
    "process.exit(0);",
  ].join("\n");
  const p = spawnCollect(bin.launch, [process.execPath, "--input-type=module", "-e", script, bin.supervisor, dir], {
    env: { RKT_STOP_TIMEOUT: "5" },
  });
  await waitFor(async () => (await readLog(dir, "app")).some((r) => r.text === "ready"), "the app to run");
  const supervisorPid = Number(await readFile(join(dir, "supervisor", "pid"), "utf8"));
  await waitFor(async () => (await childrenOf(p.pid)).join() === String(supervisorPid), "node to exit");
  const launch = await memoryKb(p.pid);
  const supervisor = await memoryKb(supervisorPid);
  t.diagnostic(
    `while the pod runs: rkt-launch VmRSS ${launch.rss} kB (private ${launch.anon} kB), ` +
      `rkt-supervisor VmRSS ${supervisor.rss} kB (private ${supervisor.anon} kB)`,
  );
  assert.ok(launch.rss + supervisor.rss < 10 * 1024, "the pod's overhead stays under 10 MB");

  p.child.kill("SIGTERM");
  const r = await p.done;
  assert.equal(r.code, 143, r.stderr);
  assert.equal(r.stdout, "ready\nstopping\nteardown 143\n", "finally ran, then rkt-launch exited with its code");
  assert.equal(await appFile(dir, "app", "exit"), "143");
});

const sq = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/*
 * A supervisor in rkt-launch's process group gets the terminal's SIGINT itself, so rkt-launch must
 * not add a second (which means "KILL now"); one in its own session gets it only from rkt-launch.
 * A duplicate usually merges with the supervisor's still-pending copy, so this test cannot prove
 * there is none; it proves one Ctrl-C is one graceful stop in both arrangements.
 */
test("rkt-launch passes one Ctrl-C from the terminal to the supervisor, in its process group or not", async (t) => {
  for (const spawnSupervisor of ['"$1" "$2" &', 'setsid "$1" "$2" &']) {
    const dir = await podTempDir(t);
    // Stopping takes the app 0.5 s: a duplicate SIGINT would make the supervisor KILL it (137).
    await fakePod(dir, [{ name: "app", script: "trap 'sleep 0.5; exit 7' TERM; echo ready; while :; do sleep 0.05; done" }]);
    const node = `${spawnSupervisor} echo "wait $!" >&3; exit 0`;
    const inner = `echo "launch $$"; exec ${sq(bin.launch)} /bin/sh -c ${sq(node)} node ${sq(bin.supervisor)} ${sq(dir)}`;
    const run = spawnCollect("script", ["-qfec", inner, "/dev/null"], { stdin: true, env: { RKT_STOP_TIMEOUT: "10" } });
    await waitFor(() => /launch \d+/.test(run.stdout()) && run.stdout().includes("ready"), "the pod to run");
    const launchPid = Number(/launch (\d+)/.exec(run.stdout())![1]);
    const supervisorPid = Number(await readFile(join(dir, "supervisor", "pid"), "utf8"));
    await waitFor(async () => (await childrenOf(launchPid)).join() === String(supervisorPid), "node to exit");
    run.write("\x03");
    const r = await run.done;
    assert.equal(r.code, 7, `${spawnSupervisor}: ${r.stdout}${r.stderr}`);
    assert.equal(await appFile(dir, "app", "exit"), "7");
  }
});
