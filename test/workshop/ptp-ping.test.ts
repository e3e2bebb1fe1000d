/**
 * Workshop: "Configure a ptp network, start two busybox pods pinging each other." The network is
 * a file in a test local config's net.d (ptp + host-local on 10.244.77.0/24, a test-unique
 * name, leases in the test's directory); each pod learns the other's address from `rkt status`
 * and pings it from inside its own namespaces (`rkt enter`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { restoreIpForwardAfterAll } from "../network/host-fixture.js";
import { runRkt } from "../support/run-rkt.js";
import { cniHostState, cniLeaseDir, IDLE, leasesOf, listPods, localConfigWith, podLeftovers, startPod, testLeaseDir, uniqueSuffix, workshopStore } from "./workshop-fixture.js";

restoreIpForwardAfterAll();

test("two busybox pods on a test ptp network ping each other by the addresses rkt status shows", async (t) => {
  const { dir, busybox } = await workshopStore(t);
  const before = cniHostState();
  const net = `rkt-ws-ptp-${uniqueSuffix()}`;
  const localConfig = await localConfigWith(t, {
    "10-ptp-test.conf": { cniVersion: "0.4.0", name: net, type: "ptp", ipMasq: false, ipam: { type: "host-local", subnet: "10.244.77.0/24" } },
  });
  // host-local's own default lease dir for the test network; removed after the test.
  const leaseDir = testLeaseDir(t, net);
  const globals = [`--local-config=${localConfig}`];
  const onNet = (s: { networks: Readonly<Record<string, string>> }): boolean => s.networks[net] !== undefined;

  const a = await startPod(t, dir, [`--net=${net}`, busybox, ...IDLE], { globals, ready: onNet });
  const b = await startPod(t, dir, [`--net=${net}`, busybox, ...IDLE], { globals, ready: onNet });
  const ipA = a.status.networks[net]!;
  const ipB = b.status.networks[net]!;
  assert.match(ipA, /^10\.244\.77\.\d+$/);
  assert.match(ipB, /^10\.244\.77\.\d+$/);
  assert.notEqual(ipA, ipB);
  assert.deepEqual(Object.keys(a.status.networks), [net, "default-restricted"], "rkt adds default-restricted to pods that do not join default");

  const listed = await listPods(dir);
  for (const [pod, ip] of [[a, ipA], [b, ipB]] as const) {
    assert.ok(listed.find((p) => p.name === pod.uuid)?.networks?.some((n) => n.name === net && n.ip4 === ip), `rkt list shows ${pod.uuid} on ${net} with ${ip}`);
  }
  const address = await runRkt(["enter", a.uuid, "/bin/sh", "-c", "ip -4 -o addr show eth0"], { dir });
  assert.equal(address.code, 0, address.stderr);
  assert.match(address.stdout, new RegExp(`inet ${ipA.replaceAll(".", "\\.")}/24`));

  const aToB = await runRkt(["enter", a.uuid, "/bin/busybox", "ping", "-c", "2", "-W", "5", ipB], { dir, timeoutMs: 30_000 });
  assert.equal(aToB.code, 0, `pod a pings pod b:\n${aToB.stdout}${aToB.stderr}`);
  assert.match(aToB.stdout, /2 packets transmitted, 2 packets received/);
  const bToA = await runRkt(["enter", b.uuid, "/bin/busybox", "ping", "-c", "2", "-W", "5", ipA], { dir, timeoutMs: 30_000 });
  assert.equal(bToA.code, 0, `pod b pings pod a:\n${bToA.stdout}${bToA.stderr}`);
  assert.match(bToA.stdout, /2 packets transmitted, 2 packets received/);
  assert.equal(leasesOf(leaseDir, [a.uuid, b.uuid]).length, 2, "host-local holds one lease per pod");

  for (const pod of [a, b]) {
    const stop = await runRkt(["stop", pod.uuid], { dir });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await pod.exited, 0, pod.output());
  }
  assert.deepEqual(podLeftovers(dir, [a.uuid, b.uuid], [leaseDir, cniLeaseDir("default-restricted")]), [], "exited pods hold no lease, rule, namespace, mount or container");
  assert.deepEqual(cniHostState(), before, "the pods' host veths are gone");
});
