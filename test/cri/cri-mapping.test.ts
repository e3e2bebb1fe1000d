/**
 * The pure parts of rkt's CRI support, case by case: container IDs and app names, the security
 * context mapping, and the OCI config adjustments (mounts, limits, namespaces, cgroup parent).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { criAppName, criContainerId, parseContainerId } from "../../src/engine/cri-support/cri-ids.js";
import type { ContainerRecord, SandboxRecord } from "../../src/engine/cri-support/cri-records.js";
import { criRuntimeSpec } from "../../src/engine/cri-support/cri-runtime-spec.js";
import { criAppSecurity } from "../../src/engine/cri-support/cri-security.js";
import type { CriContainerSecurityContext } from "../../src/engine/cri-support/cri-types.js";
import { RktError } from "../../src/lib/errors.js";
import { DEFAULT_CAPABILITIES } from "../../src/stage1/oci/capabilities.js";
import type { RuntimeSpec } from "../../src/stage1/oci/runtime-spec-types.js";

const UUID = "2d4f6a1e-0c3b-4d5e-8f90-1a2b3c4d5e6f";

const sc = (over: Partial<CriContainerSecurityContext> = {}): CriContainerSecurityContext => ({
  capabilities: null,
  privileged: false,
  namespace_options: null,
  run_as_user: null,
  run_as_group: null,
  run_as_username: "",
  readonly_rootfs: false,
  supplemental_groups: [],
  no_new_privs: false,
  masked_paths: [],
  readonly_paths: [],
  seccomp: null,
  seccomp_profile_path: "",
  ...over,
});

const invalid = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => e instanceof RktError && e.kind === "invalid-argument");

test("criContainerId and parseContainerId round-trip; anything else is invalid-argument", () => {
  assert.deepEqual(parseContainerId(criContainerId(UUID, "web-server-2")), { uuid: UUID, app: "web-server-2" });
  for (const bad of ["", UUID, `${UUID}-`, `${UUID}_web-0`, `${UUID}-Web-0`, "x-web-0", `${UUID}-web--0`]) invalid(() => parseContainerId(bad));
});

test("criAppName makes a unique app name from the CRI name and attempt", () => {
  assert.equal(criAppName({ name: "nginx", attempt: 0 }), "nginx-0");
  assert.equal(criAppName({ name: "Web_Server", attempt: 2 }), "web-server-2");
  assert.equal(criAppName({ name: "--", attempt: 1 }), "container-1");
  assert.match(criAppName({ name: "a".repeat(300), attempt: 3 }), /^a{200}-3$/);
});

test("criAppSecurity: capabilities from rkt's default set, drop ALL, add ALL, names in any case", () => {
  assert.deepEqual(criAppSecurity(sc({ capabilities: { add_capabilities: ["net_admin"], drop_capabilities: ["ALL"] } }), [], false).security.capsRetain, ["CAP_NET_ADMIN"]);
  const dropped = criAppSecurity(sc({ capabilities: { add_capabilities: [], drop_capabilities: ["CAP_KILL", "mknod"] } }), [], false).security.capsRetain ?? [];
  assert.deepEqual(dropped, DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_KILL" && c !== "CAP_MKNOD"));
  assert.equal((criAppSecurity(sc({ capabilities: { add_capabilities: ["ALL"], drop_capabilities: [] } }), [], false).security.capsRetain ?? []).length, 41);
  assert.equal(criAppSecurity(sc(), [], false).security.capsRetain, undefined, "unchanged: rkt's default");
  invalid(() => criAppSecurity(sc({ capabilities: { add_capabilities: ["FLY"], drop_capabilities: [] } }), [], false));
});

test("criAppSecurity: users, groups and the contradictions the CRI says to refuse", () => {
  assert.deepEqual(criAppSecurity(sc({ run_as_user: { value: "1000" }, run_as_group: { value: "2000" }, supplemental_groups: ["3000"] }), [], false), {
    user: "1000",
    group: "2000",
    supplementaryGids: [3000],
    readonlyRootfs: false,
    security: { noNewPrivileges: false },
  });
  assert.equal(criAppSecurity(sc({ run_as_username: "app" }), [], false).user, "app");
  invalid(() => criAppSecurity(sc({ run_as_username: "app", run_as_user: { value: 1 } }), [], false));
  invalid(() => criAppSecurity(sc({ run_as_group: { value: 1 } }), [], false));
  invalid(() => criAppSecurity(sc({ run_as_user: { value: "-1" } }), [], false));
  invalid(() => criAppSecurity(sc({ privileged: true }), [], false));
  assert.equal(criAppSecurity(sc({ privileged: true }), [], true).security.privileged, true);
});

test("criAppSecurity: seccomp from the typed profile first, then the path; devices", () => {
  const seccomp = (over: Partial<CriContainerSecurityContext>): unknown => criAppSecurity(sc(over), [], false).security.seccomp;
  assert.equal(seccomp({}), undefined);
  assert.equal(seccomp({ seccomp_profile_path: "runtime/default" }), undefined);
  assert.deepEqual(seccomp({ seccomp_profile_path: "unconfined" }), { unconfined: true });
  assert.deepEqual(seccomp({ seccomp_profile_path: "localhost//etc/p.json" }), { profileFile: "/etc/p.json" });
  assert.deepEqual(seccomp({ seccomp: { profile_type: "Localhost", localhost_ref: "/x.json" }, seccomp_profile_path: "unconfined" }), { profileFile: "/x.json" });
  assert.equal(seccomp({ seccomp: { profile_type: "RuntimeDefault", localhost_ref: "" }, seccomp_profile_path: "unconfined" }), undefined);
  invalid(() => seccomp({ seccomp_profile_path: "localhost/relative.json" }));
  invalid(() => seccomp({ seccomp_profile_path: "docker/whatever" }));
  assert.deepEqual(criAppSecurity(null, [{ host_path: "/dev/null", container_path: "/dev/x", permissions: "" }], false).security.devices, [{ hostPath: "/dev/null", containerPath: "/dev/x", permissions: "rwm" }]);
  invalid(() => criAppSecurity(null, [{ host_path: "/dev/null", container_path: "/dev/x", permissions: "rwx" }], false));
});

const sandbox: SandboxRecord = {
  v: 1,
  metadata: { name: "p", uid: "u", namespace: "n", attempt: 0 },
  createdAt: "1",
  runtimeHandler: "",
  logDirectory: "",
  hostname: "p",
  namespaces: { network: "POD", pid: "CONTAINER", ipc: "POD" },
  cgroupParent: "",
  sysctls: {},
  privileged: false,
  network: "",
};
const container: ContainerRecord = {
  v: 1,
  metadata: { name: "c", attempt: 0 },
  image: "busybox",
  imageId: "sha256:0",
  createdAt: "1",
  labels: {},
  annotations: {},
  logPath: "",
  mounts: [],
  tty: false,
  stdin: false,
  stdinOnce: false,
  resources: { cpu_period: "0", cpu_quota: "0", cpu_shares: "0", memory_limit_in_bytes: "0", oom_score_adj: "0", cpuset_cpus: "", cpuset_mems: "", memory_swap_limit_in_bytes: "0" },
};
const base: RuntimeSpec = {
  ociVersion: "1.0.2",
  process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/" },
  root: { path: "rootfs" },
  mounts: [{ destination: "/etc/hosts", type: "bind", source: "/pod/etc/hosts", options: ["bind", "rw"] }],
  linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "ipc", path: "/run/rkt/ns/x/ipc" }], cgroupsPath: "/rkt/x/c-0", resources: { devices: [{ allow: false }] } },
};

test("criRuntimeSpec: the kubelet's mounts replace or join rkt's, with propagation; limits; oom_score_adj clamped where the host refuses negatives", () => {
  const spec = criRuntimeSpec(base, {
    uuid: UUID,
    app: "c-0",
    sandbox,
    container: {
      ...container,
      mounts: [
        { container_path: "/etc/hosts", host_path: "/kubelet/hosts", readonly: false, selinux_relabel: false, propagation: "PROPAGATION_PRIVATE" },
        { container_path: "/data/", host_path: "/srv", readonly: true, selinux_relabel: false, propagation: "PROPAGATION_BIDIRECTIONAL" },
      ],
      resources: { ...container.resources, cpu_period: "100000", cpu_quota: "50000", memory_limit_in_bytes: "1048576", oom_score_adj: "-997", cpuset_cpus: "0" },
    },
    pidMode: "CONTAINER",
    negativeOomAllowed: false,
  }) as RuntimeSpec & { linux: { rootfsPropagation?: string; resources: { cpu?: unknown; memory?: unknown } } };
  assert.deepEqual(spec.mounts, [
    { destination: "/etc/hosts", type: "bind", source: "/kubelet/hosts", options: ["rbind", "rw", "rprivate"] },
    { destination: "/data", type: "bind", source: "/srv", options: ["rbind", "ro", "rshared"] },
  ]);
  assert.equal(spec.linux.rootfsPropagation, "rshared");
  assert.deepEqual(spec.linux.resources.cpu, { quota: 50000, period: 100000, cpus: "0" });
  assert.deepEqual(spec.linux.resources.memory, { limit: 1048576 });
  assert.equal(spec.process.oomScoreAdj, 0);
  assert.equal(spec.linux.cgroupsPath, "/rkt/x/c-0", "no cgroup parent: rkt's own");
});

test("criRuntimeSpec: the node's PID and IPC namespaces, the sandbox's sysctls and the kubelet's cgroup parent", () => {
  const spec = criRuntimeSpec(base, {
    uuid: UUID,
    app: "c-0",
    sandbox: { ...sandbox, namespaces: { network: "POD", pid: "POD", ipc: "NODE" }, sysctls: { "net.ipv4.ip_forward": "1" }, cgroupParent: "/kubepods/besteffort/podu/" },
    container,
    pidMode: "NODE",
    negativeOomAllowed: true,
  }) as RuntimeSpec & { linux: { sysctl?: Record<string, string> } };
  assert.deepEqual(spec.linux.namespaces, [{ type: "mount" }]);
  assert.deepEqual(spec.linux.sysctl, { "net.ipv4.ip_forward": "1" });
  assert.equal(spec.linux.cgroupsPath, `/kubepods/besteffort/podu/rkt-${UUID}-c-0`);
  assert.equal(spec.process.oomScoreAdj, undefined, "0 means not specified");
});
