/**
 * Workshop: the other CNI network kinds for pods, each defined in a test local config's net.d and
 * joined with `rkt run --net=NAME`:
 *
 * - bridge: host veths plugged into a test-unique Linux bridge that holds the gateway address;
 *   two pods ping each other; once they exit the bridge is the only thing left (the plugin never
 *   removes it), and the test removes it.
 * - macvlan (bridge mode) and ipvlan (l2): the parent ("master") is never the host's eth0 but a
 *   link the test makes on the host: a dummy link when the kernel has them, else a veth pair
 *   whose both ends stay on the host with test-unique names. Pods on the same parent talk to each
 *   other. A kernel without ipvlan skips that test with the reason, and checks instead that rkt
 *   reports the plugin's failure and leaves nothing behind.
 *
 * Traffic goes only between pods these tests create.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { restoreIpForwardAfterAll } from "../network/host-fixture.js";
import type { PodTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { cniLeaseDir, host, hostLinks, hostTry, IDLE, kernelMakesOn, later, listPods, localConfigWith, parentLink, podLeftovers, startPod, testLeaseDir, uniqueSuffix, workshopStore } from "./workshop-fixture.js";

restoreIpForwardAfterAll();

function natRules(): string[] {
  return host("iptables", ["-w", "-t", "nat", "-S"]).split("\n").filter((l) => l !== "");
}

/**
 * Starts two idle busybox pods on `net`, has each ping the other's address (from `rkt status`)
 * from inside its namespaces, stops both and checks they exited 0 and hold nothing any more.
 */
async function twoPodsPingEachOther(t: TestContext, store: PodTestStore, net: string, localConfig: string, subnetPrefix: string): Promise<void> {
  const { dir, busybox } = store;
  const globals = [`--local-config=${localConfig}`];
  const ready = (s: { networks: Readonly<Record<string, string>> }): boolean => s.networks[net] !== undefined;
  const a = await startPod(t, dir, [`--net=${net}`, busybox, ...IDLE], { globals, ready });
  const b = await startPod(t, dir, [`--net=${net}`, busybox, ...IDLE], { globals, ready });
  const ipA = a.status.networks[net]!;
  const ipB = b.status.networks[net]!;
  for (const ip of [ipA, ipB]) assert.ok(ip.startsWith(subnetPrefix), `${ip} is on ${net}`);
  const listed = await listPods(dir);
  assert.ok(listed.find((p) => p.name === a.uuid)?.networks?.some((n) => n.name === net && n.ip4 === ipA), "rkt list shows the pod's address on the network");

  for (const [from, to] of [[a, ipB], [b, ipA]] as const) {
    const r = await runRkt(["enter", from.uuid, "/bin/busybox", "ping", "-c", "2", "-W", "5", to], { dir, timeoutMs: 30_000 });
    assert.equal(r.code, 0, `pod ${from.uuid} pings ${to} on ${net}:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /2 packets transmitted, 2 packets received/);
  }

  for (const pod of [a, b]) {
    const stop = await runRkt(["stop", pod.uuid], { dir });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await pod.exited, 0, pod.output());
  }
  assert.deepEqual(podLeftovers(dir, [a.uuid, b.uuid], [cniLeaseDir(net), cniLeaseDir("default-restricted")]), []);
}

test("bridge: two pods on a test bridge network ping each other; after they exit only the bridge is left", async (t) => {
  const store = await workshopStore(t);
  const linksBefore = hostLinks();
  const natBefore = natRules();
  const suffix = uniqueSuffix();
  const bridge = `rktwsbr${suffix}`;
  const net = `rkt-ws-bridge-${suffix}`;
  later(t, () => hostTry("ip", ["link", "del", bridge]));
  testLeaseDir(t, net);
  const localConfig = await localConfigWith(t, {
    "10-bridge-test.conf": { cniVersion: "0.4.0", name: net, type: "bridge", bridge, isGateway: true, ipMasq: true, ipam: { type: "host-local", subnet: "10.244.78.0/24" } },
  });

  await twoPodsPingEachOther(t, store, net, localConfig, "10.244.78.");

  assert.deepEqual(hostLinks().filter((l) => !linksBefore.includes(l)), [bridge], "the bridge is the only new link: the pods' veths are gone");
  assert.match(host("ip", ["-4", "-o", "addr", "show", "dev", bridge]), /inet 10\.244\.78\.1\/24/, "isGateway put the gateway address on the bridge");
  assert.deepEqual(natRules(), natBefore, "the masquerade chains of both pods are gone");
  host("ip", ["link", "del", bridge]);
  assert.deepEqual(hostLinks(), linksBefore);
});

for (const kind of ["macvlan", "ipvlan"] as const) {
  const subnet = kind === "macvlan" ? "10.244.79" : "10.244.80";
  test(`${kind}: two pods on ${kind === "ipvlan" ? "an" : "a"} ${kind} network over a test parent link (not eth0) ping each other`, async (t) => {
    const store = await workshopStore(t);
    const linksBefore = hostLinks();
    const parent = parentLink(t);
    if (kind === "ipvlan" && !kernelMakesOn(parent.name, "ipvlan")) {
      t.skip(`this kernel cannot make ipvlan links (\`ip link add X link ${parent.name} type ipvlan\` fails on the test ${parent.kind} parent); the next test checks how rkt reports it`);
      return;
    }
    const net = `rkt-ws-${kind}-${uniqueSuffix()}`;
    testLeaseDir(t, net);
    const localConfig = await localConfigWith(t, {
      [`10-${kind}-test.conf`]: { cniVersion: "0.4.0", name: net, type: kind, master: parent.name, mode: kind === "macvlan" ? "bridge" : "l2", ipam: { type: "host-local", subnet: `${subnet}.0/24` } },
    });

    await twoPodsPingEachOther(t, store, net, localConfig, `${subnet}.`);

    assert.deepEqual(hostLinks().filter((l) => !linksBefore.includes(l)).sort(), [...parent.links].sort(), `only the test's parent (${parent.kind}) is left on the host`);
  });
}

test("ipvlan on a kernel without it: rkt run fails naming the network and the plugin, and leaves nothing", async (t) => {
  const { dir, busybox } = await workshopStore(t);
  const linksBefore = hostLinks();
  const natBefore = natRules();
  const parent = parentLink(t);
  if (kernelMakesOn(parent.name, "ipvlan")) {
    t.skip("this kernel has ipvlan; the ipvlan test above runs pods on it");
    return;
  }
  const net = `rkt-ws-ipvlan-${uniqueSuffix()}`;
  const leases = testLeaseDir(t, net);
  const localConfig = await localConfigWith(t, {
    "10-ipvlan-test.conf": { cniVersion: "0.4.0", name: net, type: "ipvlan", master: parent.name, mode: "l2", ipam: { type: "host-local", subnet: "10.244.80.0/24" } },
  });
  const r = await runRkt([`--local-config=${localConfig}`, "run", `--net=${net}`, busybox, "--exec=/bin/true"], { dir });
  assert.equal(r.code, 254, r.stderr);
  assert.match(r.stderr, new RegExp(`network "${net}".*plugin ipvlan ADD failed: .*operation not supported`));
  const pods = await listPods(dir);
  assert.deepEqual(pods.filter((p) => p.state === "running"), [], "no pod runs");
  assert.deepEqual(podLeftovers(dir, pods.map((p) => p.name), [leases, cniLeaseDir("default-restricted")]), []);
  assert.deepEqual(hostLinks().filter((l) => !linksBefore.includes(l)).sort(), [...parent.links].sort());
  assert.deepEqual(natRules(), natBefore);
});
