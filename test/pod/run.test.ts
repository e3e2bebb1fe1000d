/**
 * `rkt run` end to end: real runc, real overlay mounts, the native supervisor, through bin/rkt
 * and its launcher, the way a user runs it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { leftovers, podTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

const NONE = "--net=none";

test("run prints the app's output, exits with its code, and the pod is listed as exited", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const r = await runRkt(["run", NONE, `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "echo hello; echo oops >&2; exit 3"], { dir });
  assert.equal(r.stdout, "hello\n");
  assert.match(r.stderr, /oops/);
  assert.equal(r.code, 3);
  const uuid = readFileSync(uuidFile, "utf8").trim();
  const status = await runRkt(["status", uuid], { dir });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^state=exited$/m);
  assert.match(status.stdout, /^exited=true$/m);
  assert.match(status.stdout, /^app-busybox=3$/m);
  const list = await runRkt(["list"], { dir });
  assert.match(list.stdout, new RegExp(`^${uuid.slice(0, 8)}\\s+busybox\\s+localhost/busybox:latest\\s+exited`, "m"));
  const logs = await runRkt(["logs", uuid], { dir });
  assert.equal(logs.stdout, "hello\n");
  assert.equal(logs.stderr, "oops\n");
  assert.deepEqual(leftovers(dir), [], "an exited pod holds no mounts, namespaces or containers");
});

test("the app runs as the image's user resolved by name, with rkt's env precedence", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const envFile = join(await tempDir(t), "env");
  writeFileSync(envFile, "# comment\nFROM_FILE=file\nOVERRIDE=file\n");
  const r = await runRkt(
    ["run", NONE, `--set-env-file=${envFile}`, "--set-env=OVERRIDE=set", busybox, "--user=app", "--environment=APP_ONLY=yes", "--exec=/bin/sh", "--", "-c", 'id -u; id -g; echo "$FROM_FILE $OVERRIDE $APP_ONLY $HOME"; hostname'],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  const [uid, gid, env, hostname] = r.stdout.trim().split("\n");
  assert.equal(uid, "1000");
  assert.equal(gid, "1000");
  assert.equal(env, "file set yes /home/app");
  assert.match(hostname ?? "", /^rkt-[0-9a-f-]{36}$/);
});

test("apps of a pod share localhost; one failing app stops the others and sets the exit code", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const started = Date.now();
  const r = await runRkt(
    [
      "run", NONE, busybox, "--name=server", "--exec=/bin/busybox", "--", "sh", "-c", "trap 'exit 0' TERM; echo pong | nc -l -p 7777; sleep 600 & wait",
      "---", busybox, "--name=client", "--exec=/bin/sh", "--", "-c", "sleep 1; echo ping | nc 127.0.0.1 7777; exit 7",
    ],
    { dir, timeoutMs: 60_000 },
  );
  assert.equal(r.stdout.includes("pong"), true, r.stdout + r.stderr);
  assert.equal(r.code, 7);
  assert.ok(Date.now() - started < 30_000, "the sleeping server was stopped, not waited for");
});

test("SIGTERM to rkt run stops the pod cleanly", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "run", NONE, `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; sleep 600 & wait"], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let i = 0; i < 100; i++) {
    const s = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    if (s?.stdout.includes("state=running") === true && s.stdout.includes("pid=")) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  child.kill("SIGTERM");
  const code = await exited;
  assert.notEqual(code, null);
  const status = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir });
  assert.match(status.stdout, /state=exited/);
  assert.deepEqual(leftovers(dir), []);
});

test("prepare, run-prepared, cat-manifest and rkt run --pod-manifest of an edited manifest", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const prep = await runRkt(["prepare", "--quiet", busybox, "--exec=/bin/echo", "--", "prepared"], { dir });
  assert.equal(prep.code, 0, prep.stderr);
  const uuid = prep.stdout.trim();
  assert.match(uuid, /^[0-9a-f-]{36}$/);
  assert.match((await runRkt(["status", uuid], { dir })).stdout, /state=prepared/);
  const cat = await runRkt(["cat-manifest", uuid], { dir });
  const manifest = JSON.parse(cat.stdout) as { apps: { name: string; app: { exec: string[] } }[] };
  assert.deepEqual(manifest.apps[0]?.app.exec, ["/bin/echo", "prepared"]);
  const run = await runRkt(["run-prepared", NONE, uuid.slice(0, 8)], { dir });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "prepared\n");
  const again = await runRkt(["run-prepared", NONE, uuid], { dir });
  assert.equal(again.code, 254, "a pod runs once");
  const app = manifest.apps[0];
  assert.ok(app !== undefined);
  app.app.exec = ["/bin/echo", "edited"];
  const file = join(await tempDir(t), "pod.json");
  writeFileSync(file, JSON.stringify(manifest));
  const edited = await runRkt(["run", NONE, `--pod-manifest=${file}`], { dir });
  assert.equal(edited.code, 0, edited.stderr);
  assert.equal(edited.stdout, "edited\n");
});

test("enter runs a command in a running app; stop stops it; rm and gc leave nothing behind", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "run", NONE, `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; sleep 600 & wait"], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let uuid = "";
  for (let i = 0; i < 100; i++) {
    const s = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    if (s?.stdout.includes("state=running") === true) {
      uuid = readFileSync(uuidFile, "utf8").trim();
      break;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.notEqual(uuid, "");
  // the app may still be starting: retry enter briefly
  let enter = await runRkt(["enter", uuid, "/bin/echo", "inside"], { dir });
  for (let i = 0; i < 20 && enter.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 100));
    enter = await runRkt(["enter", uuid, "/bin/echo", "inside"], { dir });
  }
  assert.equal(enter.code, 0, enter.stderr);
  assert.equal(enter.stdout, "inside\n");
  const rmRunning = await runRkt(["rm", uuid], { dir });
  assert.equal(rmRunning.code, 254);
  assert.match(rmRunning.stderr, /running/);
  const stop = await runRkt(["stop", uuid], { dir });
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, `"${uuid}"\n`);
  await exited;
  const enterStopped = await runRkt(["enter", uuid, "/bin/true"], { dir });
  assert.equal(enterStopped.code, 254);
  assert.match(enterStopped.stderr, /not running/);
  const rm = await runRkt(["rm", uuid], { dir });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await runRkt(["status", uuid], { dir })).code, 254);
});

test("SIGKILL of rkt run and its supervisor leaves nothing that rkt gc does not reclaim", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "run", NONE, `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; sleep 600 & wait"], { stdio: "ignore" });
  let pid: number | undefined;
  for (let i = 0; i < 100 && pid === undefined; i++) {
    const s = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    const m = /^pid=(\d+)$/m.exec(s?.stdout ?? "");
    if (m !== null) pid = Number(m[1]);
    else await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(pid !== undefined);
  process.kill(pid, "SIGKILL");
  child.kill("SIGKILL");
  await new Promise((res) => setTimeout(res, 200));
  assert.match((await runRkt(["status", `--uuid-file=${uuidFile}`], { dir })).stdout, /state=exited/);
  assert.notDeepEqual(leftovers(dir), [], "the killed pod's container and mounts are still there before gc");
  const gc = await runRkt(["gc", "--grace-period=0s"], { dir });
  assert.equal(gc.code, 0, gc.stderr);
  assert.deepEqual(leftovers(dir), [], gc.stderr);
});

test("bad input: one clear error, exit 254, no pod left behind", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const cases: [string[], RegExp][] = [
    [["run", NONE, "example.com/no-such-image:1"], /not in the store|no-such-image/],
    [["run", NONE, busybox, "--exec=/bin/nope"], /\/bin\/nope/],
    [["run", NONE, busybox, "--user=nobody-here", "--exec=/bin/true"], /nobody-here/],
    [["run", NONE, busybox, "--name=a", "---", busybox, "--name=a"], /two apps are named "a"/],
    [["run", NONE, busybox, "--oom-score-adj=-5"], /oom-score-adj/],
    [["run", NONE, busybox, "--memory=lots"], /memory/],
    [["run", NONE, "--frobnicate", busybox], /--frobnicate/],
    [["run", "--net=nosuchnet", busybox], /nosuchnet/],
  ];
  for (const [args, message] of cases) {
    const r = await runRkt(args, { dir });
    assert.equal(r.code, 254, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  const list = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as unknown[];
  assert.deepEqual(list, [], "no half-made pods");
});

test("image rm and image gc keep the layer trees a pod uses; gc keeps its image", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const prep = await runRkt(["prepare", "--quiet", busybox, "--exec=/bin/echo", "--", "still here"], { dir });
  assert.equal(prep.code, 0, prep.stderr);
  const gc = await runRkt(["image", "gc", "--grace-period=0s"], { dir });
  assert.equal(gc.code, 0, gc.stderr);
  assert.equal((JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as unknown[]).length, 1, "the prepared pod's image stays");
  const run = await runRkt(["run-prepared", NONE, prep.stdout.trim()], { dir });
  assert.equal(run.stdout, "still here\n", run.stderr);
  const uuidFile = join(await tempDir(t), "uuid");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "run", NONE, `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; sleep 600 & wait"], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (let i = 0; i < 100; i++) {
    const s = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    if (s?.stdout.includes("pid=") === true) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const rm = await runRkt(["image", "rm", busybox], { dir });
  assert.equal(rm.code, 0, rm.stderr);
  const uuid = readFileSync(uuidFile, "utf8").trim();
  const enter = await runRkt(["enter", uuid, "/bin/cat", "/etc/passwd"], { dir });
  assert.match(enter.stdout, /^root:/, "the running pod's root still has its files");
  await runRkt(["stop", uuid], { dir });
  await exited;
});
