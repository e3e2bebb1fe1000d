/**
 * Kernel paths, devices and resource limits of default pods (rkt-features §6): rkt's masked and
 * read-only paths, a read-only cgroupfs, the device cgroup (standard devices, plus host devices
 * given as volumes, read-only when the volume is, or listed for the CRI), `--insecure-options=paths`
 * lifting both, a privileged app, and rlimits that never exceed what this host allows rkt.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { capabilitiesFromMask, DEFAULT_CAPABILITIES } from "../../src/stage1/oci/capabilities.js";
import { parseHardLimits, readHostLimits } from "../../src/stage1/oci/host-limits.js";
import { buildRuntimeSpec } from "../../src/stage1/oci/runtime-spec.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("kernel paths are masked or read-only, the cgroupfs is read-only; --insecure-options=paths lifts them", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const script = [
    "echo kallsyms=$(wc -c < /proc/kallsyms)",
    "ls /sys/firmware | wc -l | sed 's/^/firmware=/'",
    "echo 60 > /proc/sys/vm/swappiness 2>/dev/null; echo procsys=$?",
    "echo 1 > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?",
    "echo max > /sys/fs/cgroup/pids/pids.max 2>/dev/null; echo cgroup=$?",
    "grep ' /sys/fs/cgroup/memory ' /proc/self/mounts | grep -c '[ ,]ro[ ,]' | sed 's/^/cgroupro=/'",
  ].join("; ");
  const locked = await runRkt(["run", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", script], { dir });
  assert.equal(locked.code, 0, locked.stderr);
  assert.match(locked.stdout, /kallsyms=0\n/);
  if (existsSync("/sys/firmware")) assert.match(locked.stdout, /firmware=0\n/);
  assert.match(locked.stdout, /procsys=1\nsysrq=1\ncgroup=1\ncgroupro=1/);

  const open = await runRkt(["--insecure-options=paths", "run", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", "echo kallsyms=$(wc -c < /proc/kallsyms); cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness; echo procsys=$?"], { dir });
  assert.equal(open.code, 0, open.stderr);
  assert.doesNotMatch(open.stdout, /kallsyms=0\n/);
  assert.match(open.stdout, /procsys=0/);
  assert.match(open.stderr, /warning: kernel paths are not masked/);
});

test("the device cgroup: a host device given as a volume is usable (read-only if the volume is); others are not", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  // /dev/fuse (char 10:229): opening it is all it takes to see what the device cgroup allows.
  const read = "( : < /dev/fuse ) 2>/dev/null; echo read=$?";
  const write = "( : > /dev/fuse ) 2>/dev/null; echo write=$?";
  const none = await runRkt(["run", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", `mknod /dev/fuse c 10 229 && ${read}`], { dir });
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /read=1/, "a node the app makes itself stays unusable");

  const ro = await runRkt(["run", "--net=none", "--volume=fuse,kind=host,source=/dev/fuse,readOnly=true", busybox, "--mount=volume=fuse,target=/dev/fuse", "--exec=/bin/sh", "--", "-c", `${read}; ${write}`], { dir });
  assert.equal(ro.code, 0, ro.stderr);
  assert.match(ro.stdout, /read=0\nwrite=1/);

  const rw = await runRkt(["run", "--net=none", "--volume=fuse,kind=host,source=/dev/fuse", busybox, "--mount=volume=fuse,target=/dev/fuse", "--exec=/bin/sh", "--", "-c", `${read}; ${write}`], { dir });
  assert.equal(rw.code, 0, rw.stderr);
  assert.match(rw.stdout, /read=0\nwrite=0/);
});

test("devices, masked paths and privileged from the manifest's annotations (what the CRI records)", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const first = await runRkt(["run", "--net=none", busybox, "--exec=/bin/true"], { dir });
  assert.equal(first.code, 0, first.stderr);
  const uuid = (JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string }[])[0]?.name ?? "";
  const manifest = JSON.parse((await runRkt(["cat-manifest", uuid], { dir })).stdout) as { apps: { annotations?: { name: string; value: string }[]; app: { exec: string[] } }[] };
  const app = manifest.apps[0];
  assert.ok(app !== undefined);
  const file = join(await tempDir(t), "pod.json");
  const run = async (annotations: { name: string; value: string }[], script: string): Promise<string> => {
    app.annotations = annotations;
    app.app.exec = ["/bin/sh", "-c", script];
    writeFileSync(file, JSON.stringify(manifest));
    const r = await runRkt(["run", "--net=none", `--pod-manifest=${file}`], { dir });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const devices = await run(
    [
      { name: "rkt.dev/devices", value: JSON.stringify([{ hostPath: "/dev/fuse", containerPath: "/dev/hostfuse", permissions: "r" }]) },
      { name: "rkt.dev/masked-paths", value: JSON.stringify(["/etc/hostname"]) },
      { name: "rkt.dev/readonly-paths", value: JSON.stringify([]) },
    ],
    "ls -l /dev/hostfuse | cut -c1; ( : < /dev/hostfuse ) 2>/dev/null; echo read=$?; ( : > /dev/hostfuse ) 2>/dev/null; echo write=$?; echo kallsyms=$(wc -c < /proc/kallsyms); echo hostname=$(wc -c < /etc/hostname); cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness; echo procsys=$?",
  );
  assert.match(devices, /^c\nread=0\nwrite=1\n/, "the CRI device is created, readable, not writable");
  assert.doesNotMatch(devices, /kallsyms=0\n/, "a CRI list replaces the default masked paths");
  assert.match(devices, /hostname=0\n/);
  assert.match(devices, /procsys=0/, "an empty read-only list replaces the default one");

  const privileged = await run([{ name: "rkt.dev/privileged", value: "true" }], "grep -E '^(CapBnd|Seccomp):' /proc/self/status; ( : > /dev/fuse ) && echo fuse-writable; grep -c ' /sys sysfs rw' /proc/self/mounts");
  const host = await readHostLimits();
  const bnd = /CapBnd:\t([0-9a-f]+)/.exec(privileged)?.[1] ?? "0";
  assert.equal(capabilitiesFromMask(BigInt(`0x${bnd}`)).length, host.boundingCapabilities.length, "every capability rkt holds");
  assert.match(privileged, /Seccomp:\t0\nfuse-writable\n1/, "no seccomp, the host's devices, /sys writable");
});

test("rlimits never ask the kernel for more than rkt's own hard limits unless it holds CAP_SYS_RESOURCE", async () => {
  const limits = "Max processes             63432                63432                processes\nMax open files            1024                 20000                files\nMax nice priority         0                    0                    \n";
  assert.deepEqual(parseHardLimits(limits), { RLIMIT_NPROC: 63432, RLIMIT_NOFILE: 20000, RLIMIT_NICE: 0 });
  const host = await readHostLimits();
  const base = { rootfs: "/r", process: { args: ["/bin/true"], env: [], uid: 0, gid: 0 } };
  const spec = buildRuntimeSpec({ ...base, host });
  assert.deepEqual(spec.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: Math.min(1_048_576, host.nofileHardLimit), hard: Math.min(1_048_576, host.nofileHardLimit) }]);
  const tight = { nofileHardLimit: 20000, hardLimits: { RLIMIT_NPROC: 100 }, boundingCapabilities: DEFAULT_CAPABILITIES, effectiveCapabilities: [] };
  assert.throws(() => buildRuntimeSpec({ ...base, process: { ...base.process, rlimits: [{ type: "RLIMIT_NPROC", soft: 50, hard: 200 }] }, host: tight }), /RLIMIT_NPROC hard limit 200 is above rkt's own \(100\)/);
  const ok = buildRuntimeSpec({ ...base, process: { ...base.process, rlimits: [{ type: "RLIMIT_NPROC", soft: 50, hard: 200 }] }, host: { ...tight, effectiveCapabilities: ["CAP_SYS_RESOURCE"] } });
  assert.ok(ok.process.rlimits?.some((r) => r.type === "RLIMIT_NPROC" && r.hard === 200));
});
