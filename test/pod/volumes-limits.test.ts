/** Volumes, mounts, read-only roots and cgroup limits of `rkt run`. */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("a host volume and an empty volume are shared by the apps that mount them", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const host = join(await tempDir(t), "data");
  mkdirSync(host);
  writeFileSync(join(host, "in.txt"), "from host\n");
  const r = await runRkt(
    [
      "run", "--net=none",
      `--volume=data,kind=host,source=${host}`, "--volume=scratch,kind=empty,mode=0777",
      busybox, "--name=writer", "--mount=volume=data,target=/data", "--mount=volume=scratch,target=/scratch",
      "--exec=/bin/sh", "--", "-c", "cat /data/in.txt; echo written > /data/out.txt; echo shared > /scratch/s",
      "---", busybox, "--name=reader", "--mount=volume=scratch,target=/scratch",
      "--exec=/bin/sh", "--", "-c", "sleep 1; cat /scratch/s",
    ],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /from host/);
  assert.match(r.stdout, /shared/);
  assert.equal(readFileSync(join(host, "out.txt"), "utf8"), "written\n");
});

test("--readonly-rootfs makes the app's root read-only; a mounted volume stays writable", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(
    ["run", "--net=none", "--volume=w,kind=empty", busybox, "--readonly-rootfs=true", "--mount=volume=w,target=/w", "--exec=/bin/sh", "--", "-c", "touch /x 2>/dev/null && echo root-writable; touch /w/x && echo volume-writable"],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "volume-writable\n");
});

test("--memory, --cpu and --cpu-shares are enforced through cgroups", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(
    ["run", "--net=none", busybox, "--memory=64Mi", "--cpu=500m", "--cpu-shares=512", "--exec=/bin/sh", "--", "-c",
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares"],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), [String(64 * 1024 * 1024), "50000", "512"]);
});

test("--oom-score-adj: positive values apply, negative ones are refused plainly", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const ok = await runRkt(["run", "--net=none", busybox, "--oom-score-adj=500", "--exec=/bin/cat", "--", "/proc/self/oom_score_adj"], { dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "500\n");
  const neg = await runRkt(["run", "--net=none", busybox, "--oom-score-adj=-100"], { dir });
  assert.equal(neg.code, 254);
  assert.match(neg.stderr, /negative/);
});

test("--hosts-entry and --dns write the pod's /etc/hosts and /etc/resolv.conf", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(
    ["run", "--net=none", "--hosts-entry=10.1.2.3=db", "--hosts-entry=10.1.2.3=db.local", "--dns=9.9.9.9", "--dns-search=example.test", busybox, "--exec=/bin/sh", "--", "-c", "grep db /etc/hosts; grep -v '^#' /etc/resolv.conf"],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^10\.1\.2\.3\tdb db\.local$/m);
  assert.match(r.stdout, /^nameserver 9\.9\.9\.9$/m);
  assert.match(r.stdout, /^search example\.test$/m);
});
