/**
 * Mutable pods end to end through the CLI (`rkt app sandbox|add|start|stop|rm|list|status|exec`,
 * `rkt attach`) with real runc: apps added to a running empty pod, started and stopped one at a
 * time, restarted by their policy, attached to, while no rkt process stays around; and the
 * refusals, each leaving the pod as it was. podTestStore checks that nothing is left on the host.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt, type RunRktResult } from "../support/run-rkt.js";

const IDLE = ["--exec=/bin/sh", "--", "-c", "echo up; trap 'exit 0' TERM; sleep 600 & wait"];

async function ok(dir: string, args: readonly string[]): Promise<RunRktResult> {
  const r = await runRkt(args, { dir });
  assert.equal(r.code, 0, `rkt ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function sandbox(t: TestContext): Promise<{ dir: string; busybox: string; uuid: string }> {
  const { dir, busybox } = await podTestStore(t);
  const r = await ok(dir, ["app", "sandbox", "--net=none"]);
  const uuid = r.stdout.trim();
  assert.match(uuid, /^[0-9a-f-]{36}$/);
  return { dir, busybox, uuid };
}

async function status(dir: string, uuid: string, app: string): Promise<Record<string, string>> {
  const r = await ok(dir, ["app", "status", uuid, `--app=${app}`]);
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test("app sandbox lives with zero apps; apps are added, started, exec'd into, stopped, started again and removed", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  const list0 = JSON.parse((await ok(dir, ["list", "--format=json"])).stdout) as { name: string; state: string }[];
  assert.deepEqual(list0.map((p) => [p.name, p.state]), [[uuid, "running"]]);

  await ok(dir, ["app", "add", uuid, busybox, "--name=web", ...IDLE]);
  assert.match((await ok(dir, ["app", "list", "--no-legend", uuid])).stdout, /^web\s+created$/m);
  await ok(dir, ["app", "start", uuid, "--app=web"]);
  const s = await status(dir, uuid, "web");
  assert.equal(s.state, "running");
  assert.match(s.pid ?? "", /^\d+$/);

  // exec returns the command's exit code, in the app's namespaces.
  const e = await runRkt(["app", "exec", "--app=web", uuid, "/bin/sh", "-c", "echo in-web; exit 7"], { dir });
  assert.equal(e.code, 7, e.stderr);
  assert.match(e.stdout, /in-web/);

  await ok(dir, ["app", "add", uuid, busybox, "--name=second", "--exec=/bin/sh", "--", "-c", "echo second done; exit 3"]);
  await ok(dir, ["app", "start", uuid, "--app=second"]);
  const second = await waitFor("second to exit", async () => ((await status(dir, uuid, "second")).state === "exited" ? status(dir, uuid, "second") : undefined));
  assert.equal(second.exit_code, "3");
  // An app's exit does not touch the others (no shared fate in a mutable pod).
  assert.equal((await status(dir, uuid, "web")).state, "running");

  await ok(dir, ["app", "stop", uuid, "--app=web", "--timeout=5"]);
  const stopped = await status(dir, uuid, "web");
  assert.equal(stopped.state, "exited");
  assert.equal(stopped.exit_code, "0");
  await ok(dir, ["app", "start", uuid, "--app=web"]);
  assert.equal((await status(dir, uuid, "web")).state, "running");
  const logs = await ok(dir, ["logs", uuid, "--app=web"]);
  assert.equal(logs.stdout.match(/^up$/gm)?.length, 2, logs.stdout);

  await ok(dir, ["app", "rm", uuid, "--app=web"]);
  assert.doesNotMatch((await ok(dir, ["app", "list", uuid])).stdout, /web/);
  assert.match((await ok(dir, ["cat-manifest", uuid])).stdout, /"second"/);

  // Stopping the pod ends it; gc (podTestStore) reclaims everything.
  await ok(dir, ["stop", uuid]);
  await waitFor("the pod to exit", async () => ((await ok(dir, ["status", uuid])).stdout.includes("state=exited") ? true : undefined));
});

test("restart policies: on-failure restarts with backoff until stopped, always restarts a clean exit, never does not", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  await ok(dir, ["app", "add", uuid, busybox, "--name=flaky", "--restart=on-failure:50:200", "--exec=/bin/sh", "--", "-c", "echo try; exit 4"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=clean", "--restart=always:50:200", "--exec=/bin/true"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=once", "--restart=on-failure:50:200", "--exec=/bin/true"]);
  for (const app of ["flaky", "clean", "once"]) await ok(dir, ["app", "start", uuid, `--app=${app}`]);
  await waitFor("three restarts of flaky and clean", async () => (Number((await status(dir, uuid, "flaky")).restarts) >= 3 && Number((await status(dir, uuid, "clean")).restarts) >= 3 ? true : undefined));
  const once = await status(dir, uuid, "once");
  assert.equal(once.state, "exited");
  assert.equal(once.restarts, "0");
  assert.equal(once.exit_code, "0");

  await ok(dir, ["app", "stop", uuid, "--app=flaky"]);
  const after = Number((await status(dir, uuid, "flaky")).restarts);
  await sleep(700);
  const later = await status(dir, uuid, "flaky");
  assert.equal(later.state, "exited");
  assert.equal(Number(later.restarts), after, "a stopped app is not restarted");
  const logs = await ok(dir, ["logs", uuid, "--app=flaky"]);
  assert.ok((logs.stdout.match(/^try$/gm)?.length ?? 0) >= 4, logs.stdout);
  await ok(dir, ["stop", uuid]);
});

test("attach: input reaches a stream app, its output comes back, and the app's exit code is attach's", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  await ok(dir, ["app", "add", uuid, busybox, "--name=echo", "--stdin=stream", "--exec=/bin/sh", "--", "-c", "read line; echo got:$line; echo to-stderr >&2; exit 5"]);
  assert.equal((await ok(dir, ["attach", "--mode=list", uuid])).stdout, "stdin\nstdout\nstderr\n");
  // Attach before the start: nothing is missed.
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "attach", "--app=echo", uuid], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await sleep(500);
  await ok(dir, ["app", "start", uuid, "--app=echo"]);
  child.stdin.write("hello over attach\n");
  const code = await Promise.race([exited, sleep(15_000).then(() => "timeout" as const)]);
  if (code === "timeout") child.kill("SIGKILL");
  assert.equal(code, 5, `stdout ${out} stderr ${err}`);
  assert.match(out, /got:hello over attach/);
  assert.match(err, /to-stderr/);
  await ok(dir, ["stop", uuid]);
});

test("a detached pod's apps are supervised with no rkt process left: an app killed from outside is seen exited with its signal", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  await ok(dir, ["app", "add", uuid, busybox, "--name=victim", ...IDLE]);
  await ok(dir, ["app", "start", uuid, "--app=victim"]);
  const pid = Number((await status(dir, uuid, "victim")).pid);
  // No rkt (Node) process of this test is alive now: only the pod's native supervisor.
  const supervisor = Number(readFileSync(join(dir, "pods", "run", uuid, "supervisor", "pid"), "utf8"));
  assert.ok(supervisor > 0);
  process.kill(pid, "SIGKILL");
  const s = await waitFor("the kill to be recorded", async () => {
    const st = await status(dir, uuid, "victim");
    return st.state === "exited" ? st : undefined;
  });
  assert.equal(s.exit_code, "137");
  const podStatus = await ok(dir, ["status", uuid]);
  assert.match(podStatus.stdout, /app-victim=137/);
  await ok(dir, ["stop", uuid]);
});

test("bad input: each refusal is one clear error, exit 254, and the pod is unchanged", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  await ok(dir, ["app", "add", uuid, busybox, "--name=web", ...IDLE]);
  await ok(dir, ["app", "start", uuid, "--app=web"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=idle", ...IDLE]);
  const manifest = (await ok(dir, ["cat-manifest", uuid])).stdout;
  const cases: [string[], RegExp][] = [
    [["app", "add", uuid, busybox, "--name=web", "--exec=/bin/true"], /already has an app named "web"/],
    [["app", "add", uuid, "localhost/not-fetched:1.0"], /not in the store/],
    [["app", "add", "00000000-0000-0000-0000-000000000000", busybox], /no pod with UUID/],
    [["app", "start", uuid, "--app=web"], /already running/],
    [["app", "start", uuid, "--app=nope"], /has no app "nope"/],
    [["app", "exec", "--app=idle", uuid, "/bin/true"], /idle.*(created|not running)/],
    [["app", "add", uuid, busybox, "--restart=sometimes"], /--restart/],
    [["app", "stop", uuid], /--app is required/],
  ];
  for (const [args, re] of cases) {
    const r = await runRkt(args, { dir });
    assert.equal(r.code, 254, `rkt ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, `rkt ${args.join(" ")}`);
  }
  assert.equal((await ok(dir, ["cat-manifest", uuid])).stdout, manifest, "the pod's manifest did not change");
  assert.equal((await status(dir, uuid, "web")).state, "running");

  // A pod of `rkt run` is not mutable; an exited sandbox takes no apps.
  await ok(dir, ["stop", uuid]);
  await waitFor("the pod to exit", async () => ((await ok(dir, ["status", uuid])).stdout.includes("state=exited") ? true : undefined));
  const late = await runRkt(["app", "add", uuid, busybox, "--name=late"], { dir });
  assert.equal(late.code, 254);
  assert.match(late.stderr, /not running/);
  const run = await runRkt(["run", "--net=none", busybox, "--exec=/bin/true"], { dir });
  assert.equal(run.code, 0, run.stderr);
  const fixed = (JSON.parse((await ok(dir, ["list", "--format=json"])).stdout) as { name: string }[]).find((p) => p.name !== uuid)!;
  const r = await runRkt(["app", "add", fixed.name, busybox, "--name=x"], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /not running|not a mutable pod/);
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** `rkt attach` under script(1): a real terminal, as a user's. */
function attachInTerminal(dir: string, uuid: string, app: string): { write: (s: string) => void; output: () => string; exited: Promise<number | null>; kill: () => void } {
  const cmd = [RKT_BIN, `--dir=${dir}`, "attach", `--app=${app}`, uuid].map(shellQuote).join(" ");
  const child = spawn("script", ["-qfec", `stty rows 40 cols 100; ${cmd}`, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  return {
    write: (s) => child.stdin.write(s),
    output: () => output,
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
    kill: () => child.kill("SIGKILL"),
  };
}

test("attach to a tty app: a real terminal with its size, Ctrl-P Ctrl-Q detaches and the app keeps running, exit code on exit", async (t) => {
  const { dir, busybox, uuid } = await sandbox(t);
  await ok(dir, ["app", "add", uuid, busybox, "--name=sh", "--stdin=tty", "--exec=/bin/sh"]);
  await ok(dir, ["app", "start", uuid, "--app=sh"]);
  const first = attachInTerminal(dir, uuid, "sh");
  try {
    await sleep(500);
    first.write("[ -t 0 ] && echo TTY-$((6*7)); /bin/busybox stty size\n");
    await waitFor("the tty check", () => Promise.resolve(/TTY-42/.test(first.output()) && /40 100/.test(first.output()) ? true : undefined));
    first.write("\x10\x11");
    const code = await Promise.race([first.exited, sleep(10_000).then(() => "timeout" as const)]);
    assert.equal(code, 0, first.output());
    assert.match(first.output(), /detached/);
  } finally {
    first.kill();
  }
  assert.equal((await status(dir, uuid, "sh")).state, "running");
  const second = attachInTerminal(dir, uuid, "sh");
  try {
    await sleep(500);
    second.write("exit 3\n");
    const code = await Promise.race([second.exited, sleep(10_000).then(() => "timeout" as const)]);
    assert.equal(code, 3, second.output());
  } finally {
    second.kill();
  }
  assert.equal((await status(dir, uuid, "sh")).exit_code, "3");
  await ok(dir, ["stop", uuid]);
});
