/**
 * The built-in default network end to end with the real plugins (ptp + host-local, root): in a
 * network namespace the test creates, with host-local's leases in a test directory.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { loadNetworkConfigs } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";
import { attachPodNetworks, checkPodNetworks, detachPodNetworks } from "../../src/network/pod-network.js";
import { addresses, createNetns, hostChanges, hostState, leaseFiles, links, networkTestEnv, ping, restoreIpForwardAfterAll, sh, testId } from "./host-fixture.js";

restoreIpForwardAfterAll();

async function natRulesOf(containerId: string): Promise<string[]> {
  return (await hostState()).nat.filter((r) => r.includes(`id: \\"${containerId}\\"`));
}

test("the default network gives the pod 172.16.28.0/24, a default route and masquerading; DEL takes it all back", async (t) => {
  const env = await networkTestEnv(t);
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("default", uuid);
  const networks = selectNetworks(parseNetFlags([]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig });

  const net = r.networks[0]!;
  assert.deepEqual(r.networks.map((n) => `${n.name}:${n.ifname}`), ["default:eth0"]);
  assert.match(net.ip4 ?? "", /^172\.16\.28\.\d+$/);
  assert.deepEqual(await addresses(ns.name, "eth0"), [`${net.ip4}/24`]);
  assert.deepEqual(net.routes, [{ dst: "0.0.0.0/0" }]);
  assert.match((await sh("ip", ["-n", ns.name, "route", "show", "default"])).stdout, /^default via 172\.16\.28\.1 dev eth0/);
  assert.equal(await ping(net.ip4!), true, "the host reaches the pod");
  assert.deepEqual(await leaseFiles(env.leases, "default"), [net.ip4]);
  const masq = await natRulesOf(uuid);
  assert.ok(masq.some((rule) => rule.includes("-j MASQUERADE")), masq.join("\n"));
  const hostVeth = (r.netInfo.networks[0]?.result as { interfaces: { name: string; sandbox?: string }[] }).interfaces.find((i) => i.sandbox === undefined)?.name;
  assert.ok(hostVeth !== undefined && (await links()).includes(hostVeth));
  assert.deepEqual(await checkPodNetworks(r.netInfo), ["default"]);

  await detachPodNetworks(r.netInfo);
  assert.deepEqual(await leaseFiles(env.leases, "default"), [], "the lease is released");
  assert.deepEqual(await natRulesOf(uuid), [], "the masquerade rules are gone");
  assert.deepEqual(await links(ns.name), ["lo"], "eth0 is gone from the pod");
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name] }), [], "the host is as before");
  await detachPodNetworks(r.netInfo);
});

test("detachPodNetworks after the namespace is gone still releases the lease and removes the masquerade rules", async (t) => {
  const env = await networkTestEnv(t);
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("default", uuid);
  const networks = selectNetworks(parseNetFlags(["default"]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig });
  await sh("ip", ["netns", "del", ns.name]);
  assert.equal(existsSync(ns.path), false);
  assert.notDeepEqual(await natRulesOf(uuid), [], "ptp's rules are still there before DEL");

  await detachPodNetworks(r.netInfo);
  assert.deepEqual(await leaseFiles(env.leases, "default"), []);
  assert.deepEqual(await natRulesOf(uuid), []);
  assert.deepEqual(await hostChanges(env.before), []);
});

test("CHECK notices a pod whose eth0 was deleted, and DEL still leaves nothing behind", async (t) => {
  const env = await networkTestEnv(t);
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("default", uuid);
  const networks = selectNetworks(parseNetFlags([]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig });
  await sh("ip", ["-n", ns.name, "link", "del", "eth0"]);
  await assert.rejects(checkPodNetworks(r.netInfo), /network "default": plugin ptp CHECK failed/);
  // ptp's DEL cannot find eth0, so it skips its masquerade rules; rkt removes them.
  await detachPodNetworks(r.netInfo);
  assert.deepEqual(await natRulesOf(uuid), []);
  assert.deepEqual(await leaseFiles(env.leases, "default"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name] }), []);
});
