/**
 * buildRuntimeSpec's security inputs (issue 7): the seccomp filter by default and on request,
 * no_new_privs, kernel path lists, devices, privileged, the pod's user namespace, fly's defaults;
 * and the run-time warnings of --insecure-options.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { insecureWarnings, parseInsecureOptions } from "../../src/config/insecure-options.js";
import { DEFAULT_CAPABILITIES, LINUX_CAPABILITIES } from "../../src/stage1/oci/capabilities.js";
import { buildRuntimeSpec, type AppRuntimeInput } from "../../src/stage1/oci/runtime-spec.js";
import { securityToManifest } from "../../src/engine/pod/security-isolators.js";

const host = { nofileHardLimit: 20000, boundingCapabilities: LINUX_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE") };
const base: AppRuntimeInput = { rootfs: "/r", process: { args: ["/bin/true"], env: [], uid: 0, gid: 0 }, host };

test("buildRuntimeSpec writes rkt's default seccomp filter, none with insecure seccomp or for fly, and no_new_privs for non-root apps under it", () => {
  const spec = buildRuntimeSpec(base);
  assert.equal(spec.linux?.seccomp?.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(spec.process.noNewPrivileges, false);
  assert.equal(buildRuntimeSpec({ ...base, process: { ...base.process, uid: 1000 } }).process.noNewPrivileges, true);
  const off = buildRuntimeSpec({ ...base, process: { ...base.process, uid: 1000 }, insecure: { seccomp: true } });
  assert.equal(off.linux?.seccomp, undefined);
  assert.equal(off.process.noNewPrivileges, false, "rkt forced no_new_privs only together with seccomp");
  const fly = buildRuntimeSpec({ ...base, flavor: "fly" });
  assert.equal(fly.linux?.seccomp, undefined);
  assert.equal(fly.process.capabilities?.bounding?.length, host.boundingCapabilities.length);
  const flyAsked = buildRuntimeSpec({ ...base, flavor: "fly", process: { ...base.process, capabilities: ["CAP_KILL"] }, seccomp: { kind: "set", set: { mode: "remove", set: ["mount"] }, what: "t" } });
  assert.deepEqual(flyAsked.process.capabilities?.bounding, ["CAP_KILL"], "an explicit set applies to fly too");
  assert.equal(flyAsked.linux?.seccomp?.defaultAction, "SCMP_ACT_ALLOW");
  const retain = buildRuntimeSpec({ ...base, seccomp: { kind: "set", set: { mode: "retain", set: ["@rkt/default-whitelist"] }, what: "t" } });
  assert.equal(retain.process.noNewPrivileges, true, "a retain set goes in just before execve");
  assert.equal(buildRuntimeSpec({ ...base, seccomp: { kind: "unconfined" } }).linux?.seccomp, undefined);
});

test("buildRuntimeSpec: the default filter follows the final bounding set", () => {
  const admin = buildRuntimeSpec({ ...base, process: { ...base.process, capabilities: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"] } });
  assert.ok(admin.linux?.seccomp?.syscalls?.[0]?.names.includes("mount"));
  const all = buildRuntimeSpec({ ...base, insecure: { capabilities: true } });
  assert.ok(all.linux?.seccomp?.syscalls?.[0]?.names.includes("init_module"), "all capabilities, seccomp still on: Docker's --cap-add=ALL");
});

test("buildRuntimeSpec: path lists replace the defaults, devices get nodes and rules, privileged lifts everything, a user namespace is joined first", () => {
  const spec = buildRuntimeSpec({
    ...base,
    maskedPaths: ["/proc/x"],
    readonlyPaths: [],
    devices: [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 }],
    deviceRules: [{ allow: true, type: "c", major: 10, minor: 229, access: "rw" }],
    namespaces: { network: { path: "/run/rkt/ns/u/net" } },
    userNamespace: { path: "/run/rkt/ns/u/user", uidMappings: [{ containerID: 0, hostID: 524288, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 524288, size: 65536 }] },
  });
  assert.deepEqual(spec.linux?.maskedPaths, ["/proc/x"]);
  assert.deepEqual(spec.linux?.readonlyPaths, []);
  assert.deepEqual(spec.linux?.devices?.map((d) => d.path), ["/dev/fuse"]);
  assert.deepEqual(spec.linux?.resources?.devices?.at(-1), { allow: true, type: "c", major: 10, minor: 229, access: "rw" });
  assert.deepEqual(spec.linux?.namespaces?.[0], { type: "user", path: "/run/rkt/ns/u/user" });
  assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: 524288, size: 65536 }]);
  assert.throws(() => buildRuntimeSpec({ ...base, devices: [{ path: "/etc/passwd", type: "c", major: 1, minor: 1 }] }), /not a path under \/dev/);
  assert.throws(() => buildRuntimeSpec({ ...base, flavor: "fly", userNamespace: { path: "/u", uidMappings: [], gidMappings: [] } }), /fly/);

  const privileged = buildRuntimeSpec({ ...base, privileged: true });
  assert.equal(privileged.linux?.seccomp, undefined);
  assert.equal(privileged.linux?.maskedPaths, undefined);
  assert.deepEqual(privileged.linux?.resources?.devices, [{ allow: true, access: "rwm" }]);
  assert.ok(privileged.mounts?.some((m) => m.destination === "/sys" && m.options?.includes("rw")));
});

test("securityToManifest records AppSecurity as appc isolators and rkt.dev annotations, and checks it", () => {
  const record = securityToManifest({ capsRemove: ["NET_RAW"], seccomp: { mode: "remove", errno: "EPERM", set: ["@rkt/default-blacklist"] }, noNewPrivileges: true, privileged: true, maskedPaths: ["/proc/kcore"] }, "web");
  assert.deepEqual(record.isolators, [
    { name: "os/linux/capabilities-remove-set", value: { set: ["CAP_NET_RAW"] } },
    { name: "os/linux/seccomp-remove-set", value: { set: ["@rkt/default-blacklist"], errno: "EPERM" } },
    { name: "os/linux/no-new-privileges", value: true },
  ]);
  assert.deepEqual(record.annotations, [{ name: "rkt.dev/privileged", value: "true" }, { name: "rkt.dev/masked-paths", value: '["/proc/kcore"]' }]);
  assert.deepEqual(securityToManifest({ seccomp: { unconfined: true } }, "web").isolators, [{ name: "os/linux/seccomp-retain-set", value: { set: ["@appc.io/all"] } }]);
  assert.throws(() => securityToManifest({ capsRetain: ["CAP_KILL"], capsRemove: ["CAP_KILL"] }, "web"), /cannot both be given/);
  assert.throws(() => securityToManifest({ capsRetain: ["CAP_NOPE"] }, "web"), /app "web": security.capsRetain: unknown capability "CAP_NOPE"/);
  assert.throws(() => securityToManifest({ seccomp: { mode: "retain", set: ["reed"] } }, "web"), /unknown syscall "reed"/);
  assert.throws(() => securityToManifest({ devices: [{ hostPath: "/etc/passwd", containerPath: "/dev/x", permissions: "rw" }] }, "web"), /not a device node/);
  assert.throws(() => securityToManifest({ seccomp: { profileFile: "relative.json" } }, "web"), /not an absolute path/);
});

test("insecureWarnings: fetch warnings for fetching, run warnings when a pod starts", () => {
  const all = parseInsecureOptions(["all"]);
  assert.equal(insecureWarnings(all).length, 4);
  assert.deepEqual(insecureWarnings(parseInsecureOptions(["all-run"]), "run"), [
    "apps get every capability rkt holds (--insecure-options=capabilities)",
    "kernel paths are not masked and host devices are not restricted (--insecure-options=paths)",
    "seccomp filtering has been disabled (--insecure-options=seccomp)",
  ]);
  assert.deepEqual(insecureWarnings(parseInsecureOptions(["image"]), "run"), []);
});
