/** The swappable stage1 engines: default (runc), crun (detected), fly (host namespaces), sandbox (gVisor). */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("default stage1: the app has its own PID namespace and the pod's hostname", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--net=none", "--hostname=podhost", busybox, "--exec=/bin/sh", "--", "-c", "echo $$; hostname"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "1\npodhost\n");
});

test("fly stage1: one app in the host's namespaces", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--stage1-name=fly", busybox, "--exec=/bin/sh", "--", "-c", "hostname; [ $$ -ne 1 ] && echo not-pid-1"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${hostname()}\nnot-pid-1\n`);
  const two = await runRkt(["run", "--stage1-name=fly", busybox, "---", busybox, "--name=second"], { dir });
  assert.equal(two.code, 254);
  assert.match(two.stderr, /exactly one app/);
});

test("crun stage1: used where it works, otherwise rkt says why and falls back to runc", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--net=none", "--stage1-name=crun", busybox, "--exec=/bin/echo", "--", "ran"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "ran\n");
  const hybrid = readFileSync("/proc/self/mounts", "utf8").includes("/sys/fs/cgroup/unified cgroup2");
  if (hybrid || !existsSync("/usr/bin/crun")) assert.match(r.stderr, /stage1 "crun" cannot run here \(.+\); using the default stage1 \(runc\)/);
});

test("sandbox stage1: the app runs on gVisor's kernel", { skip: existsSync("/usr/bin/runsc") ? false : "runsc (Debian package runsc) is not installed" }, async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--net=none", "--stage1-name=sandbox", busybox, "--exec=/bin/sh", "--", "-c", "dmesg | head -1"], { dir, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gVisor/);
  const host = await runRkt(["run", "--net=host", "--stage1-name=sandbox", busybox], { dir });
  assert.equal(host.code, 254);
  assert.match(host.stderr, /host's network/);
});

test("an unknown stage1 is refused with the list of flavors", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--net=none", "--stage1-name=kvm", busybox], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /default, crun, fly, sandbox/);
});

test("the default stage1 comes from stage1.d in the configuration, and --stage1-name overrides it", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const config = await tempDir(t);
  mkdirSync(join(config, "stage1.d"));
  writeFileSync(join(config, "stage1.d", "default.json"), JSON.stringify({ rktKind: "stage1", rktVersion: "v1", name: "fly" }));
  const fly = await runRkt([`--local-config=${config}`, "run", busybox, "--exec=/bin/hostname"], { dir });
  assert.equal(fly.code, 0, fly.stderr);
  assert.equal(fly.stdout, `${hostname()}\n`);
  const overridden = await runRkt([`--local-config=${config}`, "run", "--net=none", "--stage1-name=default", "--hostname=inpod", busybox, "--exec=/bin/hostname"], { dir });
  assert.equal(overridden.stdout, "inpod\n");
});
