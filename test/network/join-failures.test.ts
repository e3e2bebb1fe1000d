/**
 * A pod that cannot join one of its networks leaves nothing behind (root, real plugins): the
 * networks already joined and the failing one are DEL'ed, with their veths, leases and
 * masquerade rules, before the error reaches the caller.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { loadNetworkConfigs } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";
import { attachPodNetworks } from "../../src/network/pod-network.js";
import { createNetns, hostChanges, leaseFiles, links, networkTestEnv, restoreIpForwardAfterAll, testId } from "./host-fixture.js";

restoreIpForwardAfterAll();

const OK = JSON.stringify({ cniVersion: "0.4.0", name: "rkt-test-ok", type: "ptp", ipMasq: true, ipam: { type: "host-local", subnet: "10.252.5.0/24", dataDir: "$LEASES" } });

test("a network whose plugin is not installed: the network joined before it is left again, and the error names the plugin", async (t) => {
  const env = await networkTestEnv(t, {
    "10-ok.conf": OK,
    "20-missing.conf": JSON.stringify({ cniVersion: "0.4.0", name: "rkt-test-missing", type: "rkt-test-no-such-plugin" }),
  });
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("rkt-test-ok", uuid);
  const networks = selectNetworks(parseNetFlags(["rkt-test-ok,rkt-test-missing,default"]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  await assert.rejects(attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "not-found");
    assert.match(err.message, /^joining network "rkt-test-missing" \(.*20-missing\.conf\): CNI plugin "rkt-test-no-such-plugin" not found in \/usr\/lib\/cni, \/opt\/cni\/bin, .*\/net\.d$/);
    assert.equal(err.hint, "install containernetworking-plugins, or put the plugin's executable in <local-config>/net.d");
    return true;
  });
  assert.deepEqual(await links(ns.name), ["lo"]);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-ok"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name] }), [], "no veth, lease or masquerade rule is left");
});

test("a custom plugin in net.d that fails in a list: the plugins before it are DEL'ed, and its message and details are shown", async (t) => {
  const failing = [
    "#!/bin/sh",
    "cat > /dev/null",
    'if [ "$CNI_COMMAND" = ADD ]; then',
    '  echo \'{"cniVersion":"0.4.0","code":100,"msg":"rkt test plugin refuses","details":"as the test asked"}\'',
    "  exit 1",
    "fi",
    "exit 0",
  ].join("\n");
  const list = JSON.stringify({
    cniVersion: "0.4.0",
    name: "rkt-test-chain",
    plugins: [{ type: "ptp", ipMasq: true, ipam: { type: "host-local", subnet: "10.252.6.0/24", dataDir: "$LEASES" } }, { type: "rkt-test-failing" }],
  });
  const env = await networkTestEnv(t, { "10-chain.conflist": list, "rkt-test-failing": failing });
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("rkt-test-chain", uuid);
  const networks = selectNetworks(parseNetFlags(["rkt-test-chain"]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  await assert.rejects(attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.match(err.message, /network "rkt-test-chain": plugin rkt-test-failing ADD failed: rkt test plugin refuses: as the test asked \(CNI error 100\)$/);
    return true;
  });
  assert.deepEqual(await links(ns.name), ["lo"]);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-chain"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name] }), []);
});

test("a configuration the plugin rejects: its message is shown and the networks joined before are left again", async (t) => {
  const env = await networkTestEnv(t, {
    "10-ok.conf": OK,
    "20-bad.conf": JSON.stringify({ cniVersion: "0.4.0", name: "rkt-test-bad", type: "ptp", ipam: { type: "host-local", subnet: "10.252.7.0/33", dataDir: "$LEASES" } }),
  });
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("rkt-test-ok", uuid);
  env.track("rkt-test-bad", uuid);
  const networks = selectNetworks(parseNetFlags(["rkt-test-ok,rkt-test-bad"]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  await assert.rejects(attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig }), /network "rkt-test-bad": plugin ptp ADD failed: invalid CIDR address: 10\.252\.7\.0\/33/);
  assert.deepEqual(await links(ns.name), ["lo"]);
  assert.deepEqual(await leaseFiles(env.leases, "rkt-test-ok"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name] }), []);
});

test("joining into a namespace that does not exist fails with the plugin's message and leaves nothing", async (t) => {
  const env = await networkTestEnv(t);
  const uuid = testId();
  env.track("default", uuid);
  const networks = selectNetworks(parseNetFlags([]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  await assert.rejects(attachPodNetworks({ uuid, netnsPath: `/run/netns/${uuid}`, networks, localConfig: env.localConfig }), /plugin ptp ADD failed: failed to open netns/);
  assert.deepEqual(await leaseFiles(env.leases, "default"), []);
  assert.deepEqual(await hostChanges(env.before), []);
});
