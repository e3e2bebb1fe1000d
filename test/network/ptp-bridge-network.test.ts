/**
 * User networks from net.d with the real ptp and bridge plugins (root): pods in namespaces the
 * test creates reach each other; a static address through `--net=name:IP=...`; the built-in
 * default-restricted joins alongside.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { loadNetworkConfigs } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";
import { attachPodNetworks, detachPodNetworks, type PodNetworkResult } from "../../src/network/pod-network.js";
import { addresses, createNetns, hostChanges, leaseFiles, links, networkTestEnv, ping, restoreIpForwardAfterAll, sh, testId } from "./host-fixture.js";

restoreIpForwardAfterAll();

const PTP = JSON.stringify({
  cniVersion: "0.4.0",
  name: "rkt-test-ptp",
  type: "ptp",
  ipam: { type: "host-local", subnet: "10.252.1.0/24", dataDir: "$LEASES" },
});

test("two pods on a ptp network reach each other; a static IP from --net=name:IP=...; default-restricted comes along", async (t) => {
  const env = await networkTestEnv(t, { "10-ptp.conf": PTP });
  const nets = await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases });
  const pods: { ns: string; r: PodNetworkResult }[] = [];
  for (const flags of [["rkt-test-ptp:IP=10.252.1.77"], ["rkt-test-ptp"]]) {
    const ns = await createNetns(t);
    const uuid = testId();
    env.track("rkt-test-ptp", uuid);
    env.track("default-restricted", uuid);
    const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks: selectNetworks(parseNetFlags(flags), nets), localConfig: env.localConfig });
    pods.push({ ns: ns.name, r });
  }
  const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
  assert.deepEqual(a.r.networks.map((n) => `${n.name}:${n.ifname}`), ["rkt-test-ptp:eth0", "default-restricted:eth1"]);
  assert.equal(a.r.networks[0]?.ip4, "10.252.1.77");
  assert.deepEqual(await addresses(a.ns, "eth0"), ["10.252.1.77/24"]);
  assert.equal(a.r.netInfo.networks[0]?.cniArgs, "IP=10.252.1.77");
  assert.match(b.r.networks[0]?.ip4 ?? "", /^10\.252\.1\.\d+$/);
  assert.match(a.r.networks[1]?.ip4 ?? "", /^172\.31\.\d+\.\d+$/);
  assert.equal((await sh("ip", ["-n", a.ns, "route", "show", "default"])).stdout, "", "default-restricted gives no default route");
  assert.deepEqual((await leaseFiles(env.leases, "rkt-test-ptp")).sort(), [b.r.networks[0]?.ip4, "10.252.1.77"].sort());

  assert.equal(await ping(b.r.networks[0]!.ip4!, a.ns), true, "pod a reaches pod b");
  assert.equal(await ping("10.252.1.77", b.ns), true, "pod b reaches pod a");
  assert.equal(await ping(a.r.networks[1]!.ip4!), true, "the host reaches pod a on default-restricted");

  for (const p of pods) await detachPodNetworks(p.r.netInfo);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-ptp"), []);
  assert.deepEqual(await leaseFiles(env.leases, "default-restricted"), []);
  for (const p of pods) assert.deepEqual(await links(p.ns), ["lo"]);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: pods.map((p) => p.ns) }), []);
});

test("two pods on a bridge network reach each other and the host; DEL leaves only the bridge, which the plugin never removes", async (t) => {
  const bridge = `rkt-br-${randomBytes(3).toString("hex")}`;
  const conf = JSON.stringify({
    cniVersion: "0.4.0",
    name: "rkt-test-bridge",
    type: "bridge",
    bridge,
    isGateway: true,
    ipMasq: true,
    ipam: { type: "host-local", subnet: "10.252.2.0/24", dataDir: "$LEASES" },
  });
  const env = await networkTestEnv(t, { "10-bridge.conf": conf });
  const nets = await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases });
  const pods: { ns: string; r: PodNetworkResult }[] = [];
  for (let i = 0; i < 2; i++) {
    const ns = await createNetns(t);
    const uuid = testId();
    env.track("rkt-test-bridge", uuid);
    env.track("default", uuid);
    const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks: selectNetworks(parseNetFlags(["rkt-test-bridge,default"]), nets), localConfig: env.localConfig });
    pods.push({ ns: ns.name, r });
  }
  const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
  assert.deepEqual(a.r.networks.map((n) => `${n.name}:${n.ifname}`), ["rkt-test-bridge:eth0", "default:eth1"]);
  assert.ok((await links()).includes(bridge));
  assert.match((await sh("ip", ["-o", "-4", "addr", "show", "dev", bridge])).stdout, /inet 10\.252\.2\.1\/24/, "isGateway puts the gateway on the bridge");
  assert.equal(await ping(b.r.networks[0]!.ip4!, a.ns), true, "pod a reaches pod b over the bridge");
  assert.equal(await ping(a.r.networks[0]!.ip4!), true, "the host reaches pod a through the bridge");

  for (const p of pods) await detachPodNetworks(p.r.netInfo);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-bridge"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: pods.map((p) => p.ns) }), [`link ${bridge}`]);
  await sh("ip", ["link", "del", bridge]);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: pods.map((p) => p.ns) }), []);
});
