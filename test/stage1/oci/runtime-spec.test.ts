import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { DEFAULT_CAPABILITIES, LINUX_CAPABILITIES, type CapabilityName } from "../../../src/stage1/oci/capabilities.js";
import { buildRuntimeSpec, type AppRuntimeInput } from "../../../src/stage1/oci/runtime-spec.js";

/** This machine: every capability but CAP_SYS_RESOURCE, nofile hard limit 20000. */
const HOST = {
  nofileHardLimit: 20_000,
  boundingCapabilities: LINUX_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE"),
};

function input(overrides: Partial<AppRuntimeInput> = {}, process: Partial<AppRuntimeInput["process"]> = {}): AppRuntimeInput {
  return {
    rootfs: "/var/lib/rkt/pods/run/u/apps/web/rootfs",
    host: HOST,
    ...overrides,
    process: { args: ["/bin/sh"], env: [["PATH", "/bin"], ["A", "1=2"]], uid: 0, gid: 0, ...process },
  };
}

function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "invalid-argument");
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

test("buildRuntimeSpec writes an OCI 1.0.2 config with the process as given", () => {
  const spec = buildRuntimeSpec(input({}, { cwd: "/srv", additionalGids: [10, 20, 10], terminal: true }));
  assert.equal(spec.ociVersion, "1.0.2");
  assert.deepEqual(spec.root, { path: "/var/lib/rkt/pods/run/u/apps/web/rootfs", readonly: false });
  assert.deepEqual(spec.process.args, ["/bin/sh"]);
  assert.deepEqual(spec.process.env, ["PATH=/bin", "A=1=2"]);
  assert.equal(spec.process.cwd, "/srv");
  assert.equal(spec.process.terminal, true);
  assert.deepEqual(spec.process.user, { uid: 0, gid: 0, additionalGids: [10, 20] });
  assert.equal(spec.process.oomScoreAdj, undefined);
  // A plain JSON document: what goes to disk reads back the same.
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
});

test("buildRuntimeSpec defaults the working directory to / and the rootfs to read-write", () => {
  const spec = buildRuntimeSpec(input());
  assert.equal(spec.process.cwd, "/");
  assert.equal(spec.root.readonly, false);
  assert.equal(buildRuntimeSpec(input({ readonlyRootfs: true })).root.readonly, true);
});

test("buildRuntimeSpec makes every namespace private by default", () => {
  const spec = buildRuntimeSpec(input({ hostname: "rkt-1234" }));
  assert.deepEqual(spec.linux?.namespaces, [{ type: "pid" }, { type: "mount" }, { type: "network" }, { type: "ipc" }, { type: "uts" }]);
  assert.equal(spec.hostname, "rkt-1234");
});

test("buildRuntimeSpec joins namespaces by path and leaves host ones out", () => {
  const spec = buildRuntimeSpec(
    input({
      hostname: "rkt-1234",
      namespaces: { pid: "host", network: { path: "/run/rkt/ns/u/net" }, ipc: "host", uts: { path: "/run/rkt/ns/u/uts" } },
    }),
  );
  assert.deepEqual(spec.linux?.namespaces, [{ type: "mount" }, { type: "network", path: "/run/rkt/ns/u/net" }, { type: "uts", path: "/run/rkt/ns/u/uts" }]);
  // The joined UTS namespace keeps its name: runc refuses a hostname without a new one.
  assert.equal(spec.hostname, undefined);
  assert.equal(buildRuntimeSpec(input({ hostname: "x", namespaces: { uts: "host" } })).hostname, undefined);
});

test("buildRuntimeSpec refuses relative namespace paths and bad host names", () => {
  rejects(() => buildRuntimeSpec(input({ namespaces: { network: { path: "ns/net" } } })), "namespaces.network.path");
  rejects(() => buildRuntimeSpec(input({ hostname: "bad_host name" })), "hostname");
  rejects(() => buildRuntimeSpec(input({ hostname: "a".repeat(65) })), "hostname");
});

test("buildRuntimeSpec mounts runc's default file systems", () => {
  const spec = buildRuntimeSpec(input());
  const byDest = new Map(spec.mounts?.map((m) => [m.destination, m]));
  assert.deepEqual([...byDest.keys()], ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]);
  assert.equal(byDest.get("/proc")?.type, "proc");
  assert.deepEqual(byDest.get("/dev")?.options, ["nosuid", "strictatime", "mode=755", "size=65536k"]);
  assert.ok(byDest.get("/dev/pts")?.options?.includes("newinstance"));
  assert.ok(byDest.get("/dev/pts")?.options?.includes("ptmxmode=0666"));
  assert.ok(byDest.get("/dev/pts")?.options?.includes("gid=5"));
  assert.ok(byDest.get("/dev/shm")?.options?.includes("size=65536k"));
  assert.equal(byDest.get("/dev/mqueue")?.type, "mqueue");
  assert.equal(byDest.get("/sys")?.type, "sysfs");
  assert.ok(byDest.get("/sys")?.options?.includes("ro"));
  assert.equal(byDest.get("/sys/fs/cgroup")?.type, "cgroup");
  assert.ok(byDest.get("/sys/fs/cgroup")?.options?.includes("ro"));
});

test("buildRuntimeSpec appends extra mounts, and one on a default destination replaces it in place", () => {
  const spec = buildRuntimeSpec(
    input({
      mounts: [
        { type: "bind", source: "/var/lib/rkt/pods/run/u/hosts", destination: "/etc/hosts", readOnly: true, recursive: false },
        { type: "bind", source: "/srv/data", destination: "/data/" },
        { type: "tmpfs", destination: "/dev/shm", options: ["nosuid", "nodev", "size=1g"] },
        { type: "tmpfs", destination: "/tmp" },
      ],
    }),
  );
  const dests = spec.mounts?.map((m) => m.destination);
  assert.deepEqual(dests, ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/etc/hosts", "/data", "/tmp"]);
  assert.deepEqual(spec.mounts?.[3], { destination: "/dev/shm", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1g"] });
  assert.deepEqual(spec.mounts?.[7], { destination: "/etc/hosts", type: "bind", source: "/var/lib/rkt/pods/run/u/hosts", options: ["bind", "ro"] });
  assert.deepEqual(spec.mounts?.[8], { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "rw"] });
  assert.deepEqual(spec.mounts?.[9]?.options, ["nosuid", "nodev", "mode=755"]);
});

test("buildRuntimeSpec refuses relative, duplicate and root mount destinations and relative sources", () => {
  rejects(() => buildRuntimeSpec(input({ mounts: [{ type: "tmpfs", destination: "tmp" }] })), "mounts[0].destination");
  rejects(() => buildRuntimeSpec(input({ mounts: [{ type: "tmpfs", destination: "/a" }, { type: "tmpfs", destination: "/a/" }] })), "mounted twice");
  rejects(() => buildRuntimeSpec(input({ mounts: [{ type: "tmpfs", destination: "/x/.." }] })), "rootfs itself");
  rejects(() => buildRuntimeSpec(input({ mounts: [{ type: "bind", source: "data", destination: "/data" }] })), "mounts[0].source");
});

test("buildRuntimeSpec gives a root app rkt's 14 capabilities in bounding, effective and permitted", () => {
  const caps = buildRuntimeSpec(input()).process.capabilities;
  assert.deepEqual(caps?.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(caps?.effective, DEFAULT_CAPABILITIES);
  assert.deepEqual(caps?.permitted, DEFAULT_CAPABILITIES);
  assert.deepEqual(caps?.inheritable, []);
  assert.deepEqual(caps?.ambient, []);
});

test("buildRuntimeSpec gives a non-root app no effective capabilities and no_new_privs", () => {
  const spec = buildRuntimeSpec(input({}, { uid: 1000, gid: 1000 }));
  assert.deepEqual(spec.process.capabilities?.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(spec.process.capabilities?.effective, []);
  assert.deepEqual(spec.process.capabilities?.permitted, []);
  assert.equal(spec.process.noNewPrivileges, true);
  assert.equal(buildRuntimeSpec(input()).process.noNewPrivileges, false);
  assert.equal(buildRuntimeSpec(input({}, { uid: 1000, gid: 1000, noNewPrivileges: false })).process.noNewPrivileges, false);
  assert.equal(buildRuntimeSpec(input({}, { noNewPrivileges: true })).process.noNewPrivileges, true);
});

test("buildRuntimeSpec keeps a requested bounding set", () => {
  const caps: CapabilityName[] = ["CAP_NET_ADMIN", "CAP_KILL", "CAP_NET_ADMIN"];
  assert.deepEqual(buildRuntimeSpec(input({}, { capabilities: caps })).process.capabilities?.effective, ["CAP_NET_ADMIN", "CAP_KILL"]);
  assert.deepEqual(buildRuntimeSpec(input({}, { capabilities: [] })).process.capabilities?.bounding, []);
});

test("buildRuntimeSpec refuses a capability this process does not hold", () => {
  rejects(() => buildRuntimeSpec(input({}, { capabilities: ["CAP_SYS_RESOURCE"] })), "CAP_SYS_RESOURCE", "bounding set");
  rejects(() => buildRuntimeSpec(input({}, { capabilities: ["CAP_FLY" as CapabilityName] })), "unknown capability");
});

test("buildRuntimeSpec gives all capabilities this process holds with insecure capabilities", () => {
  const spec = buildRuntimeSpec(input({ insecure: { capabilities: true } }, { capabilities: ["CAP_KILL"] }));
  assert.equal(spec.process.capabilities?.bounding?.length, 40);
  assert.ok(!spec.process.capabilities?.effective?.includes("CAP_SYS_RESOURCE"));
  assert.ok(spec.process.capabilities?.effective?.includes("CAP_SYS_ADMIN"));
  // Paths stay protected: the options are independent.
  assert.ok(spec.linux?.maskedPaths?.includes("/proc/kcore"));
});

test("buildRuntimeSpec masks rkt's and Docker's kernel paths", () => {
  const linux = buildRuntimeSpec(input()).linux;
  for (const p of ["/proc/kcore", "/proc/kallsyms", "/proc/sched_debug", "/proc/config.gz", "/sys/firmware", "/sys/module", "/sys/power", "/sys/hypervisor", "/proc/acpi", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/scsi"]) {
    assert.ok(linux?.maskedPaths?.includes(p), `${p} is not masked`);
  }
  for (const p of ["/proc/bus", "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/sys/block", "/sys/kernel", "/proc/asound", "/proc/irq", "/proc/sys"]) {
    assert.ok(linux?.readonlyPaths?.includes(p), `${p} is not read-only`);
  }
  // The read-only cgroup mount stays visible: apps read their limits there.
  assert.ok(!linux?.maskedPaths?.some((p) => p === "/sys/fs" || p.startsWith("/sys/fs/")));
});

test("buildRuntimeSpec drops masked paths and the device cgroup with insecure paths", () => {
  const linux = buildRuntimeSpec(input({ insecure: { paths: true } })).linux;
  assert.equal(linux?.maskedPaths, undefined);
  assert.equal(linux?.readonlyPaths, undefined);
  assert.deepEqual(linux?.resources?.devices, [{ allow: true, access: "rwm" }]);
});

test("buildRuntimeSpec denies all devices but the standard ones", () => {
  const devices = buildRuntimeSpec(input({ deviceRules: [{ allow: true, type: "c", major: 10, minor: 200, access: "rw" }] })).linux?.resources?.devices ?? [];
  assert.deepEqual(devices[0], { allow: false, access: "rwm" });
  const allowed = devices.slice(1).map((d) => `${d.type}:${d.major}:${d.minor ?? "*"}:${d.access}`);
  assert.deepEqual(allowed, ["c:1:3:rwm", "c:1:5:rwm", "c:1:7:rwm", "c:1:8:rwm", "c:1:9:rwm", "c:5:0:rwm", "c:5:1:rwm", "c:5:2:rwm", "c:136:*:rwm", "c:10:200:rw"]);
  rejects(() => buildRuntimeSpec(input({ deviceRules: [{ allow: true, access: "rwx" }] })), "deviceRules[0]");
});

test("buildRuntimeSpec caps RLIMIT_NOFILE at the caller's hard limit", () => {
  assert.deepEqual(buildRuntimeSpec(input()).process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 20_000, hard: 20_000 }]);
  const roomy = buildRuntimeSpec(input({ host: { ...HOST, nofileHardLimit: Infinity } }));
  assert.deepEqual(roomy.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 1_048_576, hard: 1_048_576 }]);
  const big = buildRuntimeSpec(input({ host: { ...HOST, nofileHardLimit: 4_000_000 } }));
  assert.equal(big.process.rlimits?.[0]?.hard, 1_048_576);
});

test("buildRuntimeSpec replaces the default rlimit of the same type and adds others", () => {
  const spec = buildRuntimeSpec(input({}, { rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 4096 }, { type: "RLIMIT_CORE", soft: 0, hard: 0 }] }));
  assert.deepEqual(spec.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 4096 }, { type: "RLIMIT_CORE", soft: 0, hard: 0 }]);
});

test("buildRuntimeSpec refuses rlimits the kernel would refuse", () => {
  rejects(() => buildRuntimeSpec(input({}, { rlimits: [{ type: "RLIMIT_NOFILE", soft: 30_000, hard: 30_000 }] })), "RLIMIT_NOFILE", "20000");
  rejects(() => buildRuntimeSpec(input({}, { rlimits: [{ type: "RLIMIT_CORE", soft: 2, hard: 1 }] })), "soft limit");
  rejects(() => buildRuntimeSpec(input({}, { rlimits: [{ type: "RLIMIT_BOGUS" as "RLIMIT_CORE", soft: 1, hard: 1 }] })), "unknown rlimit");
});

test("buildRuntimeSpec sets memory and CPU limits", () => {
  const resources = buildRuntimeSpec(input({ resources: { memoryLimitBytes: 128_000_000, cpuMillis: 500, cpuShares: 2048 }, cgroupsPath: "/rkt/u/web" })).linux;
  assert.deepEqual(resources?.resources?.memory, { limit: 128_000_000 });
  assert.deepEqual(resources?.resources?.cpu, { shares: 2048, quota: 50_000, period: 100_000 });
  assert.equal(resources?.cgroupsPath, "/rkt/u/web");
  const none = buildRuntimeSpec(input()).linux;
  assert.equal(none?.resources?.memory, undefined);
  assert.equal(none?.resources?.cpu, undefined);
  assert.equal(none?.cgroupsPath, undefined);
});

test("buildRuntimeSpec refuses bad resource values and cgroup paths", () => {
  rejects(() => buildRuntimeSpec(input({ resources: { memoryLimitBytes: 0 } })), "memoryLimitBytes");
  rejects(() => buildRuntimeSpec(input({ resources: { cpuShares: 1 } })), "cpuShares");
  assert.throws(() => buildRuntimeSpec(input({ resources: { cpuMillis: -1 } })), RktError);
  rejects(() => buildRuntimeSpec(input({ cgroupsPath: "/rkt/../../escape" })), "cgroupsPath");
});

test("buildRuntimeSpec range-checks oomScoreAdj and passes it on", () => {
  assert.equal(buildRuntimeSpec(input({}, { oomScoreAdj: 500 })).process.oomScoreAdj, 500);
  assert.equal(buildRuntimeSpec(input({}, { oomScoreAdj: -500 })).process.oomScoreAdj, -500);
  rejects(() => buildRuntimeSpec(input({}, { oomScoreAdj: 1001 })), "oomScoreAdj");
});

test("buildRuntimeSpec refuses what the runtime would fail on later", () => {
  rejects(() => buildRuntimeSpec(input({}, { args: [] })), "process.args");
  rejects(() => buildRuntimeSpec(input({}, { args: ["/bin/sh", "a\0b"] })), "process.args[1]", "NUL");
  rejects(() => buildRuntimeSpec(input({}, { cwd: "srv" })), "process.cwd");
  rejects(() => buildRuntimeSpec(input({}, { uid: -1 })), "process.uid");
  rejects(() => buildRuntimeSpec(input({}, { gid: 2 ** 32 })), "process.gid");
  rejects(() => buildRuntimeSpec(input({}, { additionalGids: [1.5] })), "additionalGids[0]");
  rejects(() => buildRuntimeSpec(input({}, { env: [["A=B", "c"]] })), "process.env");
  rejects(() => buildRuntimeSpec(input({}, { env: [["A", "c\0"]] })), "process.env A", "NUL");
  rejects(() => buildRuntimeSpec(input({ rootfs: "" })), "rootfs");
});

test("buildRuntimeSpec for fly shares the host's namespaces, devices, /proc and /sys", () => {
  const spec = buildRuntimeSpec(
    input({
      flavor: "fly",
      hostname: "ignored",
      namespaces: { network: "private" },
      resources: { memoryLimitBytes: 1 << 30, cpuMillis: 500 },
      cgroupsPath: "/rkt/u/kubelet",
      mounts: [{ type: "bind", source: "/var/lib/kubelet", destination: "/var/lib/kubelet" }],
    }),
  );
  assert.deepEqual(spec.linux?.namespaces, [{ type: "mount" }]);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.process.capabilities?.effective?.length, 40);
  assert.equal(spec.linux?.maskedPaths, undefined);
  assert.equal(spec.linux?.readonlyPaths, undefined);
  assert.deepEqual(spec.linux?.resources, { devices: [{ allow: true, access: "rwm" }] });
  assert.equal(spec.linux?.cgroupsPath, "/rkt/u/kubelet");
  const mounts = spec.mounts ?? [];
  for (const d of ["/dev", "/proc", "/sys"]) {
    assert.deepEqual(mounts.find((m) => m.destination === d), { destination: d, type: "bind", source: d, options: ["rbind", "rw"] });
  }
  assert.equal(mounts.find((m) => m.destination === "/tmp")?.type, "tmpfs");
  // fly's host volumes are not recursive by default (rkt-features §4).
  assert.deepEqual(mounts.find((m) => m.destination === "/var/lib/kubelet")?.options, ["bind", "rw"]);
});

test("buildRuntimeSpec for sandbox keeps the default isolation", () => {
  const sandbox = buildRuntimeSpec(input({ flavor: "sandbox", hostname: "h" }));
  assert.deepEqual(sandbox, buildRuntimeSpec(input({ hostname: "h" })));
});

test("buildRuntimeSpec copies annotations", () => {
  assert.deepEqual(buildRuntimeSpec(input({ annotations: { "io.rkt.app": "web" } })).annotations, { "io.rkt.app": "web" });
});
