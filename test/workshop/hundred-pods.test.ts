/**
 * Workshop: pods come and go, and `rkt gc` leaves nothing. 100 short busybox pods (`true`) on the
 * default network, five at a time; then `rkt gc --grace-period=0s` collects them all and the host
 * is as before: no veth, no CNI nat chain or rule of theirs, no namespace pins under
 * /run/rkt/ns, no mounts under the data dir, no runc containers, and host-local's `default` lease
 * dir holds no lease of theirs.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { restoreIpForwardAfterAll } from "../network/host-fixture.js";
import { runRkt } from "../support/run-rkt.js";
import { cniHostState, cniLeaseDir, listPods, podLeftovers, workshopStore } from "./workshop-fixture.js";

restoreIpForwardAfterAll();

const PODS = 100;
const AT_ONCE = 5;

function podDirs(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["embryo", "prepare", "prepared", "run", "exited-garbage", "garbage"]) {
    try {
      for (const u of readdirSync(join(dir, "pods", sub))) out.push(`${sub}/${u}`);
    } catch {
      // no such state dir yet
    }
  }
  return out;
}

test(`${PODS} pods on the default network, ${AT_ONCE} at a time, then rkt gc --grace-period=0s: nothing left`, async (t) => {
  const { dir, busybox } = await workshopStore(t);
  const before = cniHostState();
  const started = Date.now();
  const codes: (number | null)[] = [];
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < PODS) {
      next++;
      const r = await runRkt(["run", "--net=default", busybox, "--exec=/bin/true"], { dir, timeoutMs: 60_000 });
      codes.push(r.code);
      if (r.code !== 0) failures.push(r.stderr);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  const ranMs = Date.now() - started;
  assert.deepEqual(failures, [], "every pod ran");
  assert.equal(codes.length, PODS);

  const pods = await listPods(dir);
  assert.equal(pods.length, PODS);
  assert.ok(pods.every((p) => p.state === "exited"), "all pods exited");
  const ips = pods.map((p) => p.networks?.find((n) => n.name === "default")?.ip4 ?? "");
  assert.ok(ips.every((ip) => /^172\.16\.28\.\d+$/.test(ip)), `every pod was on the default network: ${ips.join(" ")}`);
  // host-local hands addresses out round-robin over the subnet's 253, so 100 in a row never repeat.
  assert.equal(new Set(ips).size, PODS, "every pod had an address of its own");
  const uuids = pods.map((p) => p.name);

  const gc = await runRkt(["gc", "--grace-period=0s"], { dir });
  assert.equal(gc.code, 0, gc.stderr);
  const collected = gc.stderr.split("\n").filter((l) => l.startsWith("Garbage collecting pod")).length;
  assert.deepEqual(podLeftovers(dir, uuids, [cniLeaseDir("default")]), [], "no nat rule, namespace pin, mount, runc container or lease of theirs is left");
  assert.deepEqual(cniHostState(), before, "no veth and no CNI nat chain is left");
  const left = await listPods(dir);
  assert.deepEqual(
    left.map((p) => `${p.name} ${p.state}`),
    [],
    `rkt gc --grace-period=0s collected ${collected} of ${PODS} pods; still listed:`,
  );
  assert.deepEqual(podDirs(dir), [], "no pod directory is left");
  t.diagnostic(`${PODS} pods ran in ${ranMs} ms (${AT_ONCE} at a time)`);
});
