/**
 * macvlan and ipvlan with the real plugins (root). Their parent ("master") link must be in the
 * network namespace the plugin runs in, and tests never use the host's eth0: so a test "host"
 * namespace H gets a veth pair as the parent (this kernel has no dummy links), and the plugins
 * run inside H (`ip netns exec H`, the executor's prefix) while adding interfaces to pod
 * namespaces. Everything stays inside namespaces the test created.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { ProcessCniExecutor } from "../../src/network/cni/executors/process-executor.js";
import { loadNetworkConfigs } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";
import { attachPodNetworks, detachPodNetworks, type PodNetworkResult } from "../../src/network/pod-network.js";
import { createNetns, hostChanges, kernelHasLinkType, leaseFiles, links, networkTestEnv, ping, sh, testId, type TestNetns } from "./host-fixture.js";

/** A test "host" namespace with a veth pair rkt-p0/rkt-p1 up, rkt-p0 being the parent. */
async function parentNamespace(t: TestContext): Promise<TestNetns> {
  const h = await createNetns(t);
  await sh("ip", ["-n", h.name, "link", "add", "rkt-p0", "type", "veth", "peer", "name", "rkt-p1"]);
  await sh("ip", ["-n", h.name, "link", "set", "rkt-p0", "up"]);
  await sh("ip", ["-n", h.name, "link", "set", "rkt-p1", "up"]);
  return h;
}

for (const kind of ["macvlan", "ipvlan"] as const) {
  const subnet = kind === "macvlan" ? "10.252.3" : "10.252.4";
  const an = kind === "ipvlan" ? "an" : "a";
  const conf = JSON.stringify({
    cniVersion: "0.4.0",
    name: `rkt-test-${kind}`,
    type: kind,
    master: "rkt-p0",
    mode: kind === "macvlan" ? "bridge" : "l2",
    ipam: { type: "host-local", subnet: `${subnet}.0/24`, dataDir: "$LEASES" },
  });

  test(`two pods on ${an} ${kind} network over a veth parent in a test namespace reach each other; DEL leaves nothing`, async (t) => {
    if (!(await kernelHasLinkType(kind))) {
      t.skip(`this kernel cannot make ${kind} links (see the next test for how rkt reports it)`);
      return;
    }
    const env = await networkTestEnv(t, { "10-x.conf": conf });
    const h = await parentNamespace(t);
    const executor = new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni"], prefix: ["ip", "netns", "exec", h.name] });
    const nets = await loadNetworkConfigs({ localConfig: env.localConfig });
    const pods: { ns: string; r: PodNetworkResult }[] = [];
    for (let i = 0; i < 2; i++) {
      const ns = await createNetns(t);
      const uuid = testId();
      // Only the pod's own network: default-restricted is a ptp network on the real host.
      const networks = selectNetworks(parseNetFlags([`rkt-test-${kind}`]), nets).filter((n) => n.config.name === `rkt-test-${kind}`);
      const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks, executor });
      pods.push({ ns: ns.name, r });
    }
    const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
    assert.match(a.r.networks[0]?.ip4 ?? "", new RegExp(`^${subnet.replaceAll(".", "\\.")}\\.\\d+$`));
    assert.ok((await links(a.ns)).includes("eth0"));
    assert.equal(await ping(b.r.networks[0]!.ip4!, a.ns), true, "pod a reaches pod b");

    for (const p of pods) await detachPodNetworks(p.r.netInfo, { executor });
    for (const p of pods) assert.deepEqual(await links(p.ns), ["lo"]);
    assert.deepEqual((await links(h.name)).sort(), ["lo", "rkt-p0", "rkt-p1"]);
    assert.deepEqual(await leaseFiles(env.leases, `rkt-test-${kind}`), []);
    assert.deepEqual(await hostChanges(env.before, { keepNetns: [h.name, ...pods.map((p) => p.ns)] }), []);
  });

  test(`${an} ${kind} network whose parent is missing fails naming the network and plugin, and leaves nothing`, async (t) => {
    const env = await networkTestEnv(t, { "10-x.conf": conf.replace("rkt-p0", "rkt-nope") });
    const h = await parentNamespace(t);
    const executor = new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni"], prefix: ["ip", "netns", "exec", h.name] });
    const ns = await createNetns(t);
    const networks = selectNetworks(parseNetFlags([`rkt-test-${kind}`]), await loadNetworkConfigs({ localConfig: env.localConfig })).filter((n) => n.config.name === `rkt-test-${kind}`);
    await assert.rejects(attachPodNetworks({ uuid: testId(), netnsPath: ns.path, networks, executor }), (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.match(err.message, new RegExp(`^joining network "rkt-test-${kind}" \\(.*10-x\\.conf\\): network "rkt-test-${kind}": plugin ${kind} ADD failed: (Link not found|.*rkt-nope)`));
      return true;
    });
    assert.deepEqual(await links(ns.name), ["lo"]);
    assert.deepEqual((await links(h.name)).sort(), ["lo", "rkt-p0", "rkt-p1"]);
    assert.deepEqual(await leaseFiles(env.leases, `rkt-test-${kind}`), []);
    assert.deepEqual(await hostChanges(env.before, { keepNetns: [h.name, ns.name] }), []);
  });
}

test("on a kernel without ipvlan, joining an ipvlan network reports the plugin's error and leaves nothing", async (t) => {
  if (await kernelHasLinkType("ipvlan")) {
    t.skip("this kernel has ipvlan; the ipvlan network test above covers it");
    return;
  }
  const env = await networkTestEnv(t, {
    "10-x.conf": JSON.stringify({ cniVersion: "0.4.0", name: "rkt-test-ipvlan", type: "ipvlan", master: "rkt-p0", ipam: { type: "host-local", subnet: "10.252.4.0/24", dataDir: "$LEASES" } }),
  });
  const h = await parentNamespace(t);
  const executor = new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni"], prefix: ["ip", "netns", "exec", h.name] });
  const ns = await createNetns(t);
  const networks = selectNetworks(parseNetFlags(["rkt-test-ipvlan"]), await loadNetworkConfigs({ localConfig: env.localConfig })).filter((n) => n.config.name === "rkt-test-ipvlan");
  await assert.rejects(attachPodNetworks({ uuid: testId(), netnsPath: ns.path, networks, executor }), /joining network "rkt-test-ipvlan" \(.*\): network "rkt-test-ipvlan": plugin ipvlan ADD failed: failed to create ipvlan: operation not supported/);
  assert.deepEqual(await links(ns.name), ["lo"]);
  assert.deepEqual((await links(h.name)).sort(), ["lo", "rkt-p0", "rkt-p1"]);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-ipvlan"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [h.name, ns.name] }), []);
});
