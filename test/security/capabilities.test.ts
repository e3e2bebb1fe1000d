/**
 * Capabilities of `rkt run` apps (rkt-features §6): rkt's 14 by default, `--caps-retain` and
 * `--caps-remove` per app, an ACI's capability isolators (replaced by the flags), nothing
 * effective for non-root apps, everything with `--insecure-options=capabilities`, and clear errors
 * for bad names or both flags at once.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { capabilitiesFromMask, capabilityMask, DEFAULT_CAPABILITIES, type CapabilityName } from "../../src/stage1/oci/capabilities.js";
import { readHostLimits } from "../../src/stage1/oci/host-limits.js";
import { APP_UID } from "../support/image-fixtures.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

/** The capability lines of /proc/self/status, as names. */
function statusCaps(stdout: string): Record<string, CapabilityName[]> {
  const out: Record<string, CapabilityName[]> = {};
  for (const m of stdout.matchAll(/^Cap(Inh|Prm|Eff|Bnd|Amb):\s*([0-9a-f]+)$/gm)) out[m[1] ?? ""] = capabilitiesFromMask(BigInt(`0x${m[2] ?? "0"}`));
  return out;
}

const sorted = (caps: readonly CapabilityName[]): string[] => [...caps].sort();

test("a root app holds rkt's 14 capabilities; a non-root app has them only in its bounding set, with no_new_privs", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const root = await runRkt(["run", "--net=none", busybox, "--exec=/bin/grep", "--", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"], { dir });
  assert.equal(root.code, 0, root.stderr);
  const r = statusCaps(root.stdout);
  assert.deepEqual(sorted(r.Bnd ?? []), sorted(DEFAULT_CAPABILITIES));
  assert.deepEqual(sorted(r.Eff ?? []), sorted(DEFAULT_CAPABILITIES));
  assert.deepEqual(r.Amb, []);
  assert.match(root.stdout, /^NoNewPrivs:\s+0$/m);

  const user = await runRkt(["run", "--net=none", busybox, `--user=${APP_UID}`, "--exec=/bin/grep", "--", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"], { dir });
  assert.equal(user.code, 0, user.stderr);
  const u = statusCaps(user.stdout);
  assert.deepEqual(sorted(u.Bnd ?? []), sorted(DEFAULT_CAPABILITIES));
  assert.deepEqual([u.Eff, u.Prm, u.Amb, u.Inh], [[], [], [], []]);
  assert.match(user.stdout, /^NoNewPrivs:\s+1$/m, "rkt forces no_new_privs for non-root apps under seccomp");
});

test("--caps-retain keeps exactly the set, --caps-remove drops from the default, per app", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(
    [
      "run", "--net=none",
      busybox, "--name=retain", "--caps-retain=CAP_NET_ADMIN,sys_time", "--exec=/bin/grep", "--", "^CapBnd", "/proc/self/status",
      "---", busybox, "--name=remove", "--caps-remove=NET_RAW,CAP_MKNOD", "--exec=/bin/sh", "--", "-c", "sleep 0.3; grep ^CapBnd /proc/self/status",
    ],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  const masks = [...r.stdout.matchAll(/^CapBnd:\s*([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1] ?? "0"}`));
  assert.equal(masks.length, 2, r.stdout);
  assert.ok(masks.includes(capabilityMask(["CAP_NET_ADMIN", "CAP_SYS_TIME"])), r.stdout);
  assert.ok(masks.includes(capabilityMask(DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_NET_RAW" && c !== "CAP_MKNOD"))), r.stdout);

  // A retained capability works: CAP_NET_ADMIN sets loopback down in the pod's own namespace.
  const admin = await runRkt(["run", "--net=none", busybox, "--caps-retain=CAP_NET_ADMIN", "--exec=/bin/ip", "--", "link", "set", "lo", "down"], { dir });
  assert.equal(admin.code, 0, admin.stderr);
  const plain = await runRkt(["run", "--net=none", busybox, "--exec=/bin/ip", "--", "link", "set", "lo", "down"], { dir });
  assert.notEqual(plain.code, 0, "the default set has no CAP_NET_ADMIN");
});

/** An ACI with capability isolators, built with rkt image build and fetched unsigned. */
async function aciWithIsolators(t: TestContext, dir: string, isolators: readonly unknown[], exec = ["/bin/busybox", "grep", "^CapBnd", "/proc/self/status"]): Promise<string> {
  const context = await tempDir(t);
  await mkdir(join(context, "bin"));
  await copyFile("/bin/busybox", join(context, "bin", "busybox"));
  const spec = join(context, "spec.json");
  await writeFile(spec, JSON.stringify({
    name: "example.com/caps", labels: { version: "1.0" },
    copy: [{ from: "bin/busybox", to: "/bin/busybox" }],
    exec,
    isolators,
  }));
  const aci = join(await tempDir(t), "caps.aci");
  const b = await runRkt(["image", "build", `--spec=${spec}`, `--output=${aci}`, context], { dir });
  assert.equal(b.code, 0, b.stderr);
  const f = await runRkt(["fetch", "--insecure-options=image", aci], { dir });
  assert.equal(f.code, 0, f.stderr);
  return "example.com/caps:1.0";
}

test("an ACI's os/linux/capabilities-retain-set applies, and --caps-remove replaces it", async (t) => {
  const { dir } = await podTestStore(t);
  const image = await aciWithIsolators(t, dir, [{ name: "os/linux/capabilities-retain-set", value: { set: ["CAP_KILL", "CAP_CHOWN"] } }]);
  const fromImage = await runRkt(["run", "--net=none", image], { dir });
  assert.equal(fromImage.code, 0, fromImage.stderr);
  assert.equal(fromImage.stdout.trim(), `CapBnd:\t${capabilityMask(["CAP_KILL", "CAP_CHOWN"]).toString(16).padStart(16, "0")}`);

  const replaced = await runRkt(["run", "--net=none", image, "--caps-remove=CAP_KILL"], { dir });
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal(replaced.stdout.trim(), `CapBnd:\t${capabilityMask(DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_KILL")).toString(16).padStart(16, "0")}`);

  const pods = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string; started_at?: number }[];
  const last = pods.sort((a, b) => (a.started_at ?? 0) - (b.started_at ?? 0)).pop()?.name ?? "";
  const manifest = await runRkt(["cat-manifest", last], { dir });
  assert.equal(manifest.code, 0, manifest.stderr);
  assert.match(manifest.stdout, /os\/linux\/capabilities-remove-set/, "the flag is recorded in the pod manifest");
  assert.doesNotMatch(manifest.stdout, /capabilities-retain-set/, "the image's set was replaced");
});

test("an ACI with both capability isolators is refused before a pod exists", async (t) => {
  const { dir } = await podTestStore(t);
  const image = await aciWithIsolators(t, dir, [
    { name: "os/linux/capabilities-retain-set", value: { set: ["CAP_KILL"] } },
    { name: "os/linux/capabilities-remove-set", value: { set: ["CAP_CHOWN"] } },
  ]);
  const r = await runRkt(["run", "--net=none", image], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /capabilities-retain-set and os\/linux\/capabilities-remove-set cannot both be given/);
  const list = await runRkt(["list", "--no-legend"], { dir });
  assert.equal(list.stdout, "");
});

test("--insecure-options=capabilities gives every capability rkt holds, with a warning", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["--insecure-options=capabilities", "run", "--net=none", busybox, "--exec=/bin/grep", "--", "^CapBnd", "/proc/self/status"], { dir });
  assert.equal(r.code, 0, r.stderr);
  const host = await readHostLimits();
  assert.deepEqual(sorted(statusCaps(r.stdout).Bnd ?? []), sorted(host.boundingCapabilities));
  assert.match(r.stderr, /warning: apps get every capability rkt holds/);
});

test("bad capability flags: the flag and the value are named, exit 254, no pod is created", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const cases: [string[], RegExp][] = [
    [["--caps-retain=CAP_FLY"], /--caps-retain=CAP_FLY: unknown capability "CAP_FLY"/],
    [["--caps-remove=net_raw,bogus"], /--caps-remove=net_raw,bogus: unknown capability "bogus"/],
    [["--caps-retain=CAP_NET_ADMIN", "--caps-remove=CAP_NET_RAW"], /--caps-retain=CAP_NET_ADMIN and --caps-remove=CAP_NET_RAW cannot both be given/],
    [["--caps-remove="], /--caps-remove: no capability given/],
  ];
  for (const [flags, message] of cases) {
    const r = await runRkt(["run", "--net=none", busybox, ...flags, "--exec=/bin/true"], { dir });
    assert.equal(r.code, 254, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // A capability rkt itself lacks (this host drops CAP_SYS_RESOURCE) is refused at prepare.
  const host = await readHostLimits();
  const missing = (["CAP_SYS_RESOURCE", "CAP_SYS_MODULE", "CAP_BPF"] as const).find((c) => !host.boundingCapabilities.includes(c));
  if (missing !== undefined) {
    const r = await runRkt(["run", "--net=none", busybox, `--caps-retain=${missing}`, "--exec=/bin/true"], { dir });
    assert.equal(r.code, 254, r.stderr);
    assert.match(r.stderr, new RegExp(`asks for ${missing}, which rkt itself does not hold`));
  }
  const list = await runRkt(["list", "--no-legend"], { dir });
  assert.equal(list.stdout, "", "a refused request leaves no pod");
});

test("an ACI's os/linux/no-new-privileges isolator sets no_new_privs for a root app", async (t) => {
  const { dir } = await podTestStore(t);
  const image = await aciWithIsolators(t, dir, [{ name: "os/linux/no-new-privileges", value: true }], ["/bin/busybox", "grep", "^NoNewPrivs", "/proc/self/status"]);
  const r = await runRkt(["run", "--net=none", image], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
});
