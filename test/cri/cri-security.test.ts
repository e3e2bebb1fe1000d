/**
 * A CRI container's security context, as rkt applies it (src/engine/cri-support/cri-security.ts
 * maps it onto the app's security settings): the user and groups, a read-only root, capabilities
 * added and dropped (ALL included), no_new_privs, seccomp profiles (runtime default, unconfined, a
 * file on the node), privileged containers, masked and read-only paths, and devices. Checked
 * from inside the container through /proc.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../support/tmp.js";
import { BUSYBOX, execOut, sandboxConfig, startCri, type CriFixture } from "./cri-fixture.js";

/** Capability numbers (capabilities(7)). */
const CAP = { NET_BIND_SERVICE: 10, NET_ADMIN: 12, SYS_ADMIN: 21, CHOWN: 0, KILL: 5 } as const;

async function container(cri: CriFixture, sandbox: string, pod: Record<string, unknown>, name: string, securityContext: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const { container_id: id } = (await cri.client.call("CreateContainer", {
    pod_sandbox_id: sandbox,
    config: { metadata: { name }, image: { image: BUSYBOX }, command: ["sleep", "600"], linux: { security_context: securityContext }, ...extra },
    sandbox_config: pod,
  })) as { container_id: string };
  await cri.client.call("StartContainer", { container_id: id });
  return id;
}

async function procStatus(cri: CriFixture, id: string, field: string): Promise<string> {
  const text = await execOut(cri, id, ["cat", "/proc/1/status"]);
  return new RegExp(`^${field}:\\s*(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
}

function capMask(caps: readonly number[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
}

async function code(cri: CriFixture, id: string, cmd: readonly string[]): Promise<number> {
  return ((await cri.client.call("ExecSync", { container_id: id, cmd, timeout: 10 })) as { exit_code: number }).exit_code;
}

test("security context: user, group, supplemental groups (with the image's for the user), read-only root, capabilities, no_new_privs", async (t) => {
  const cri = await startCri(t);
  const pod = sandboxConfig(cri, "secure");
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config: pod })) as { pod_sandbox_id: string };

  const ids = await container(cri, sandbox, pod, "ids", { run_as_user: { value: 1000 }, run_as_group: { value: 2000 }, supplemental_groups: [3000], readonly_rootfs: true, no_new_privs: true });
  assert.equal((await execOut(cri, ids, ["id", "-u"])).trim(), "1000");
  assert.equal((await execOut(cri, ids, ["id", "-g"])).trim(), "2000");
  const groups = (await execOut(cri, ids, ["id", "-G"])).trim().split(" ");
  assert.ok(groups.includes("3000"), `supplemental group: ${groups.join(" ")}`);
  assert.notEqual(await code(cri, ids, ["touch", "/x"]), 0, "the root filesystem is read-only");
  assert.equal(await procStatus(cri, ids, "NoNewPrivs"), "1");

  // A user by name, resolved in the image's /etc/passwd; its /etc/group groups come along.
  const named = await container(cri, sandbox, pod, "named", { run_as_username: "app" });
  assert.equal((await execOut(cri, named, ["id", "-u"])).trim(), "1000");
  assert.ok((await execOut(cri, named, ["id", "-G"])).trim().split(" ").includes("1000"));

  const dropAll = await container(cri, sandbox, pod, "dropall", { capabilities: { drop_capabilities: ["ALL"], add_capabilities: ["NET_BIND_SERVICE"] } });
  assert.equal(BigInt(`0x${await procStatus(cri, dropAll, "CapBnd")}`), capMask([CAP.NET_BIND_SERVICE]));
  assert.equal(await procStatus(cri, dropAll, "NoNewPrivs"), "0", "a root app without no_new_privs may escalate (allowPrivilegeEscalation)");
  const added = await container(cri, sandbox, pod, "netadmin", { capabilities: { add_capabilities: ["CAP_NET_ADMIN"], drop_capabilities: ["kill"] } });
  const bnd = BigInt(`0x${await procStatus(cri, added, "CapBnd")}`);
  assert.ok((bnd & capMask([CAP.NET_ADMIN])) !== 0n, "NET_ADMIN added");
  assert.ok((bnd & capMask([CAP.CHOWN])) !== 0n, "rkt's defaults kept");
  assert.equal(bnd & capMask([CAP.KILL]), 0n, "KILL dropped");
  assert.equal(bnd & capMask([CAP.SYS_ADMIN]), 0n, "SYS_ADMIN not in the default set");
  assert.equal(await cri.client.codeOf("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "bad" }, image: { image: BUSYBOX }, linux: { security_context: { capabilities: { add_capabilities: ["CAP_FLY"] } } } } }), "INVALID_ARGUMENT");
  assert.equal(await cri.client.codeOf("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "bad2" }, image: { image: BUSYBOX }, linux: { security_context: { run_as_group: { value: 5 } } } } }), "INVALID_ARGUMENT");
});

test("seccomp: runtime/default filters, unconfined does not, localhost/<path> loads the node's profile; privileged needs a privileged sandbox", async (t) => {
  const cri = await startCri(t);
  const profiles = await tempDir(t);
  const noMkdir = join(profiles, "no-mkdir.json");
  writeFileSync(noMkdir, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] }));
  const pod = sandboxConfig(cri, "seccomp", { linux: { security_context: { privileged: true, namespace_options: { network: "POD", pid: "CONTAINER", ipc: "POD" } } } });
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config: pod })) as { pod_sandbox_id: string };

  const byDefault = await container(cri, sandbox, pod, "default", { seccomp_profile_path: "runtime/default" });
  assert.equal(await procStatus(cri, byDefault, "Seccomp"), "2");
  const empty = await container(cri, sandbox, pod, "empty", {});
  assert.equal(await procStatus(cri, empty, "Seccomp"), "2", "no profile: rkt's default (secure by default)");
  const unconfined = await container(cri, sandbox, pod, "unconfined", { seccomp: { profile_type: "Unconfined" } });
  assert.equal(await procStatus(cri, unconfined, "Seccomp"), "0");
  const local = await container(cri, sandbox, pod, "local", { seccomp_profile_path: `localhost/${noMkdir}` });
  assert.equal(await procStatus(cri, local, "Seccomp"), "2");
  assert.notEqual(await code(cri, local, ["mkdir", "/tmp/d"]), 0, "the node's profile forbids mkdir");
  assert.equal(await code(cri, byDefault, ["mkdir", "/tmp/d"]), 0);

  const privileged = await container(cri, sandbox, pod, "privileged", { privileged: true });
  assert.equal(await procStatus(cri, privileged, "Seccomp"), "0");
  assert.ok((BigInt(`0x${await procStatus(cri, privileged, "CapBnd")}`) & capMask([CAP.SYS_ADMIN])) !== 0n);
  assert.equal(await code(cri, privileged, ["sh", "-c", "test -e /dev/kmsg || test -e /dev/mem"]), 0, "host devices are there");

  const plain = sandboxConfig(cri, "plain");
  const { pod_sandbox_id: unprivileged } = (await cri.client.call("RunPodSandbox", { config: plain })) as { pod_sandbox_id: string };
  assert.equal(await cri.client.codeOf("CreateContainer", { pod_sandbox_id: unprivileged, config: { metadata: { name: "p" }, image: { image: BUSYBOX }, linux: { security_context: { privileged: true } } } }), "INVALID_ARGUMENT");
});

test("masked and read-only paths as the kubelet lists them, and a host device", async (t) => {
  const cri = await startCri(t);
  const pod = sandboxConfig(cri, "paths");
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config: pod })) as { pod_sandbox_id: string };
  const id = await container(cri, sandbox, pod, "paths", { masked_paths: ["/proc/cpuinfo"], readonly_paths: ["/proc/sys"] }, {
    devices: [{ container_path: "/dev/rkt-null", host_path: "/dev/null", permissions: "rw" }],
  });
  assert.equal(await execOut(cri, id, ["cat", "/proc/cpuinfo"]), "", "masked: an empty file");
  assert.notEqual(await code(cri, id, ["sh", "-c", "echo 1 > /proc/sys/kernel/shm_rmid_forced"]), 0, "/proc/sys is read-only");
  assert.equal(await code(cri, id, ["sh", "-c", "echo x > /dev/rkt-null"]), 0, "the device is usable");
});
