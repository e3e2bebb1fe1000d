/**
 * Seccomp (rkt-features §6): the default filter (Docker's default profile, EPERM), `--seccomp`
 * sets with rkt's groups and rkt's SIGSYS default, Docker/OCI profile files, the insecure option,
 * and bad input. Filters are checked by the runc this host runs, in real pods.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DEFAULT_CAPABILITIES } from "../../src/stage1/oci/capabilities.js";
import { convertSeccompProfile } from "../../src/stage1/oci/seccomp/seccomp-profile-file.js";
import { defaultSeccompProfile, seccompFromSet } from "../../src/stage1/oci/seccomp/seccomp-profile.js";
import { expandSeccompSet, parseSeccompFlag } from "../../src/stage1/oci/seccomp/seccomp-set.js";
import { DOCKER_DEFAULT_BLACKLIST, DOCKER_DEFAULT_WHITELIST, SYSCALL_GROUP_NAMES, syscallGroup, UNCONDITIONAL_SYSCALLS, CAPABILITY_SYSCALLS } from "../../src/stage1/oci/seccomp/syscall-groups.js";
import { isSyscallName } from "../../src/stage1/oci/seccomp/syscall-names.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("every syscall of every group is a known syscall name", () => {
  const all = [...DOCKER_DEFAULT_WHITELIST, ...DOCKER_DEFAULT_BLACKLIST, ...Object.values(CAPABILITY_SYSCALLS).flat(), ...SYSCALL_GROUP_NAMES.flatMap((g) => syscallGroup(g) ?? [])];
  assert.deepEqual(all.filter((n) => !isSyscallName(n)), []);
  assert.ok(isSyscallName("statx") && isSyscallName("clone3") && isSyscallName("_llseek") && !isSyscallName("open_at"));
});

test("defaultSeccompProfile is Docker's: EPERM, native and companion architectures, capability-gated calls, clone without namespace flags, clone3 as ENOSYS", () => {
  const p = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: "x64" });
  assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const allowed = new Set(p.syscalls?.[0]?.names);
  for (const call of ["read", "openat", "statx", "rseq", "chroot", "arch_prctl", "ptrace"]) assert.ok(allowed.has(call), call);
  for (const call of ["mount", "unshare", "setns", "keyctl", "add_key", "bpf", "init_module", "finit_module", "kexec_load", "reboot", "clone", "clone3", "personality", "open_by_handle_at", "io_uring_setup"]) assert.ok(!allowed.has(call), call);
  const clone = p.syscalls?.find((r) => r.names.includes("clone"));
  assert.deepEqual(clone?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }]);
  assert.deepEqual(p.syscalls?.find((r) => r.names.includes("clone3")), { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
  assert.equal(p.syscalls?.filter((r) => r.names.includes("personality")).length, 5);

  const admin = defaultSeccompProfile({ capabilities: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], arch: "x64" });
  const adminAllowed = new Set(admin.syscalls?.[0]?.names);
  for (const call of ["mount", "umount2", "unshare", "setns", "clone", "clone3"]) assert.ok(adminAllowed.has(call), call);
  assert.equal(admin.syscalls?.some((r) => r.args !== undefined && r.names.includes("clone")), false);

  const arm = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: "arm64" });
  assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  assert.ok(arm.syscalls?.[0]?.names.includes("cacheflush"));
  assert.ok(!arm.syscalls?.[0]?.names.includes("arch_prctl"));
  assert.ok(UNCONDITIONAL_SYSCALLS.length > 300);
});

test("--seccomp sets: rkt's flag syntax, appc's switches, SIGSYS without errno, clone3 kept as ENOSYS in retain sets", () => {
  assert.deepEqual(parseSeccompFlag("mode=remove,errno=ENOTSUP,socket,@systemd/mount"), { mode: "remove", errno: "ENOTSUP", set: ["socket", "@systemd/mount"] });
  assert.deepEqual(expandSeccompSet({ mode: "retain", set: ["@appc.io/all"] }), { kind: "unconfined" });
  assert.deepEqual(expandSeccompSet({ mode: "remove", set: ["@appc.io/empty"] }), { kind: "default" });
  const ctx = { capabilities: DEFAULT_CAPABILITIES, arch: "x64" };
  assert.equal(seccompFromSet({ mode: "retain", set: ["@appc.io/all"] }, ctx, "t"), undefined);
  const remove = seccompFromSet({ mode: "remove", set: ["@rkt/default-blacklist"] }, ctx, "t");
  assert.equal(remove?.defaultAction, "SCMP_ACT_ALLOW");
  assert.equal(remove?.syscalls?.[0]?.action, "SCMP_ACT_KILL_PROCESS");
  assert.ok(remove?.syscalls?.[0]?.names.includes("keyctl"));
  const retain = seccompFromSet({ mode: "retain", errno: "ENOSYS", set: ["@rkt/default-whitelist", "umount2"] }, ctx, "t");
  assert.deepEqual([retain?.defaultAction, retain?.defaultErrnoRet], ["SCMP_ACT_ERRNO", 38]);
  assert.ok(retain?.syscalls?.some((r) => r.names.includes("clone3") && r.errnoRet === 38));
  const empty = seccompFromSet({ mode: "remove", errno: "EACCES", set: ["@appc.io/empty"] }, ctx, "t");
  assert.equal(empty?.defaultErrnoRet, 13, "remove @appc.io/empty is the default profile, with the set's errno");
  for (const [text, message] of [
    ["socket", /mode=retain or mode=remove is missing/],
    ["mode=keep,socket", /mode must be retain or remove/],
    ["mode=remove", /the set of syscalls is empty/],
    ["mode=remove,sokket", /--seccomp "mode=remove,sokket": unknown syscall "sokket"/],
    ["mode=remove,@rkt/nope", /unknown syscall group "@rkt\/nope"/],
    ["mode=remove,errno=EBOGUS,socket", /unknown errno "EBOGUS"/],
    ["mode=remove,mode=retain,socket", /mode is given twice/],
    ["mode=remove,flags=x,socket", /unknown option "flags"/],
  ] as const) {
    assert.throws(() => parseSeccompFlag(text), (err: Error) => message.test(err.message), text);
  }
});

test("convertSeccompProfile reads Docker's format: names or name, archMap, includes and excludes by capability, architecture and kernel", () => {
  const profile = JSON.stringify({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] }, { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] }],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW", args: [] },
      { name: "mount", action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { name: "mount", action: "SCMP_ACT_ERRNO", errnoRet: 1, excludes: { caps: ["CAP_SYS_ADMIN"] } },
      { name: "arch_prctl", action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
      { name: "cacheflush", action: "SCMP_ACT_ALLOW", includes: { arches: ["arm64"] } },
      { name: "ptrace", action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
      { name: "future", action: "SCMP_ACT_ALLOW", includes: { minKernel: "99.0" } },
    ],
  });
  const p = convertSeccompProfile(profile, "test profile", { capabilities: DEFAULT_CAPABILITIES, arch: "x64", kernelRelease: "6.1.0-18-amd64" });
  assert.deepEqual(p.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
  assert.deepEqual(p.syscalls?.map((r) => `${r.names.join(",")}:${r.action}`), ["read,write:SCMP_ACT_ALLOW", "mount:SCMP_ACT_ERRNO", "arch_prctl:SCMP_ACT_ALLOW", "ptrace:SCMP_ACT_ALLOW"]);
  assert.throws(() => convertSeccompProfile('{"defaultAction":"SCMP_ACT_NOPE"}', "bad profile", { capabilities: [] }), /invalid bad profile: defaultAction/);
  assert.throws(() => convertSeccompProfile("{", "broken profile", { capabilities: [] }), /broken profile/);
});

test("the default filter is on in a pod, and --insecure-options=seccomp turns it off with a warning", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const on = await runRkt(["run", "--net=none", busybox, "--exec=/bin/grep", "--", "^Seccomp:", "/proc/self/status"], { dir });
  assert.equal(on.code, 0, on.stderr);
  assert.equal(on.stdout, "Seccomp:\t2\n");
  const off = await runRkt(["--insecure-options=seccomp", "run", "--net=none", busybox, "--exec=/bin/grep", "--", "^Seccomp:", "/proc/self/status"], { dir });
  assert.equal(off.code, 0, off.stderr);
  assert.equal(off.stdout, "Seccomp:\t0\n");
  assert.match(off.stderr, /warning: seccomp filtering has been disabled/);
});

test("--seccomp per app: a removed call fails with the errno asked, or kills the app with SIGSYS; retain sets with rkt's groups run a shell", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const errno = await runRkt(["run", "--net=none", busybox, "--seccomp=mode=remove,errno=ENOTSUP,mkdir,mkdirat", "--exec=/bin/sh", "--", "-c", "mkdir /x; echo rc=$?"], { dir });
  assert.equal(errno.code, 0, errno.stderr);
  assert.match(errno.stdout, /rc=1/);
  assert.match(errno.stderr, /Operation not supported/);

  const kill = await runRkt(["run", "--net=none", busybox, "--seccomp", "mode=remove,mkdir,mkdirat", "--exec=/bin/mkdir", "--", "/x"], { dir });
  assert.equal(kill.code, 128 + 31, `killed by SIGSYS: ${kill.stderr}`);

  const retain = await runRkt(["run", "--net=none", busybox, "--seccomp=mode=retain,errno=EPERM,@rkt/default-whitelist", "--exec=/bin/sh", "--", "-c", "echo allowed; sleep 0 && mount -t tmpfs none /tmp; echo mount=$?"], { dir });
  assert.equal(retain.code, 0, retain.stderr);
  assert.match(retain.stdout, /allowed\nmount=1/);

  const optOut = await runRkt(["run", "--net=none", busybox, "--seccomp=mode=retain,@appc.io/all", "--exec=/bin/grep", "--", "^Seccomp:", "/proc/self/status"], { dir });
  assert.equal(optOut.stdout, "Seccomp:\t0\n", optOut.stderr);

  const bad = await runRkt(["run", "--net=none", busybox, "--seccomp=mode=remove,not_a_syscall", "--exec=/bin/true"], { dir });
  assert.equal(bad.code, 254);
  assert.match(bad.stderr, /--seccomp "mode=remove,not_a_syscall": unknown syscall "not_a_syscall"/);
});

test("a Docker-format seccomp profile file (the CRI's localhost/<path>) is converted and accepted by runc", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const work = await tempDir(t);
  const custom = join(work, "no-mkdir.json");
  writeFileSync(custom, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }));
  // A pod manifest carries the profile as rkt records it for the CRI: the app annotation.
  const first = await runRkt(["run", "--net=none", busybox, "--exec=/bin/true"], { dir });
  assert.equal(first.code, 0, first.stderr);
  const uuid = (JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string }[])[0]?.name ?? "";
  const manifest = JSON.parse((await runRkt(["cat-manifest", uuid], { dir })).stdout) as { apps: { annotations?: { name: string; value: string }[]; app: { exec: string[] } }[] };
  const profiles = [custom, ...(existsSync("/usr/share/containers/seccomp.json") ? ["/usr/share/containers/seccomp.json"] : [])];
  for (const profile of profiles) {
    const app = manifest.apps[0];
    assert.ok(app !== undefined);
    app.annotations = [{ name: "rkt.dev/seccomp-profile", value: profile }];
    app.app.exec = ["/bin/sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /x 2>&1; echo rc=$?"];
    const file = join(work, "pod.json");
    writeFileSync(file, JSON.stringify(manifest));
    const r = await runRkt(["run", "--net=none", `--pod-manifest=${file}`], { dir });
    assert.equal(r.code, 0, `${profile}: ${r.stderr}`);
    assert.match(r.stdout, /Seccomp:\t2/);
    if (profile === custom) assert.match(r.stdout, /Permission denied\nrc=1/);
    else assert.match(r.stdout, /rc=0/, "podman's default profile allows mkdir");
  }
  assert.ok(readFileSync(custom, "utf8").length > 0);
});
