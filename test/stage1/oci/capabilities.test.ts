import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import {
  capabilitiesFromMask,
  capabilityMask,
  capabilitySetsFor,
  DEFAULT_CAPABILITIES,
  isCapabilityName,
  LINUX_CAPABILITIES,
  parseCapabilityNames,
} from "../../../src/stage1/oci/capabilities.js";

test("LINUX_CAPABILITIES lists all 41 capabilities in kernel bit order", () => {
  assert.equal(LINUX_CAPABILITIES.length, 41);
  assert.equal(LINUX_CAPABILITIES[0], "CAP_CHOWN");
  assert.equal(LINUX_CAPABILITIES[24], "CAP_SYS_RESOURCE");
  assert.equal(LINUX_CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
  assert.equal(new Set(LINUX_CAPABILITIES).size, 41);
});

test("DEFAULT_CAPABILITIES is rkt's bounding set of 14", () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(
    [...DEFAULT_CAPABILITIES].sort(),
    [
      "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
      "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
    ],
  );
  assert.ok(!DEFAULT_CAPABILITIES.includes("CAP_SYS_ADMIN"));
});

test("isCapabilityName accepts exact names only", () => {
  assert.ok(isCapabilityName("CAP_NET_ADMIN"));
  assert.ok(!isCapabilityName("NET_ADMIN"));
  assert.ok(!isCapabilityName("cap_net_admin"));
  assert.ok(!isCapabilityName("CAP_FLY"));
});

test("parseCapabilityNames takes any case, an optional CAP_ prefix and drops duplicates", () => {
  assert.deepEqual(parseCapabilityNames("CAP_NET_ADMIN, sys_time,NET_ADMIN,", "--caps-retain"), ["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
  assert.deepEqual(parseCapabilityNames(["cap_kill"], "--caps-remove"), ["CAP_KILL"]);
});

test("parseCapabilityNames names the flag and the bad capability", () => {
  assert.throws(
    () => parseCapabilityNames("CAP_KILL,CAP_FLY", "--caps-retain"),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && err.message.includes("--caps-retain") && err.message.includes("CAP_FLY"),
  );
});

test("capabilitiesFromMask and capabilityMask convert /proc status masks both ways", () => {
  assert.deepEqual(capabilitiesFromMask(0x20000420n), ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
  assert.equal(capabilityMask(["CAP_KILL", "CAP_AUDIT_WRITE"]), 0x20000020n);
  // This machine's bounding set: everything but CAP_SYS_RESOURCE (bit 24).
  const caps = capabilitiesFromMask(0x1fffeffffffn);
  assert.equal(caps.length, 40);
  assert.ok(!caps.includes("CAP_SYS_RESOURCE"));
  // Bits beyond CAP_CHECKPOINT_RESTORE have no name and are ignored.
  assert.deepEqual(capabilitiesFromMask(1n << 50n), []);
});

test("capabilitySetsFor gives root the caps and a non-root user the bounding set only", () => {
  const root = capabilitySetsFor(0, DEFAULT_CAPABILITIES);
  assert.deepEqual(root.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(root.effective, DEFAULT_CAPABILITIES);
  assert.deepEqual(root.permitted, DEFAULT_CAPABILITIES);
  assert.deepEqual(root.inheritable, []);
  assert.deepEqual(root.ambient, []);
  const user = capabilitySetsFor(1000, DEFAULT_CAPABILITIES);
  assert.deepEqual(user.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(user.effective, []);
  assert.deepEqual(user.permitted, []);
  assert.deepEqual(user.inheritable, []);
  assert.deepEqual(user.ambient, []);
});
