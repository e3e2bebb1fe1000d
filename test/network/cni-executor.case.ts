/**
 * The behaviour every CniExecutor must have, as rkt relies on it: run against the real plugins
 * (cni-executor-process.test.ts) and the fake (cni-executor-fake.test.ts), so the fake stays
 * honest.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { addNetwork, delNetwork, pluginVersions, type CniExecutor, type NetworkRuntime } from "../../src/network/cni/cni-exec.js";
import { normalizeResult } from "../../src/network/cni/cni-result.js";
import { parseNetworkConfig, type NetworkConfig } from "../../src/network/cni/network-config.js";

/** What one case gets: an executor, a network namespace to add to, and a host-local data dir. */
export interface ExecutorHarness {
  readonly executor: CniExecutor;
  readonly netns: string;
  readonly dataDir: string;
  /** A container ID unique to this case. */
  readonly containerId: string;
}

/** Registers the shared cases; `setup` builds a harness and cleans it up after the case. */
export function cniExecutorSuite(label: string, setup: (t: TestContext) => Promise<ExecutorHarness>): void {
  const ptp = (h: ExecutorHarness, subnet: string, extra: Record<string, unknown> = {}): NetworkConfig =>
    parseNetworkConfig(
      JSON.stringify({ cniVersion: "0.4.0", name: `t-${h.containerId}`, type: "ptp", ipam: { type: "host-local", subnet, dataDir: h.dataDir }, ...extra }),
      "conf",
      "test",
    );
  const rt = (h: ExecutorHarness, more: Partial<NetworkRuntime> = {}): NetworkRuntime => ({ containerId: h.containerId, netns: h.netns, ifname: "eth0", cniArgs: "", ...more });

  test(`${label}: VERSION lists the spec versions the plugin supports`, async (t) => {
    const h = await setup(t);
    const v = await pluginVersions(h.executor, "ptp");
    assert.ok(v.supportedVersions.includes("0.4.0"), JSON.stringify(v));
  });

  test(`${label}: ADD gives eth0 in the pod an address from the subnet, DEL releases it`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "10.251.1.0/24");
    const result = normalizeResult(await addNetwork(h.executor, net, rt(h)));
    assert.equal(result.ips.length, 1);
    assert.match(result.ips[0]!.address, /^10\.251\.1\.\d+\/24$/);
    assert.equal(result.ips[0]!.gateway, "10.251.1.1");
    assert.deepEqual(
      result.interfaces.filter((i) => i.sandbox !== undefined).map((i) => [i.name, i.sandbox]),
      [["eth0", h.netns]],
    );
    await delNetwork(h.executor, net, rt(h));
    // Released: ADD for the same container and interface works again.
    normalizeResult(await addNetwork(h.executor, net, rt(h)));
    await delNetwork(h.executor, net, rt(h));
  });

  test(`${label}: a second ADD for the same container and interface fails with the plugin's message`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "10.251.2.0/24");
    await addNetwork(h.executor, net, rt(h));
    try {
      await assert.rejects(addNetwork(h.executor, net, rt(h)), (err: unknown) => {
        assert.ok(err instanceof RktError);
        assert.match(err.message, new RegExp(`^network "t-${h.containerId}": plugin ptp ADD failed: .*duplicate allocation`));
        return true;
      });
    } finally {
      await delNetwork(h.executor, net, rt(h));
    }
  });

  test(`${label}: DEL is idempotent, also for a container never added`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "10.251.3.0/24");
    await delNetwork(h.executor, net, rt(h));
    await addNetwork(h.executor, net, rt(h));
    await delNetwork(h.executor, net, rt(h));
    await delNetwork(h.executor, net, rt(h));
  });

  test(`${label}: CNI_ARGS IP=... asks host-local for that address`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "10.251.4.0/24");
    const r = normalizeResult(await addNetwork(h.executor, net, rt(h, { cniArgs: "IP=10.251.4.77" })));
    await delNetwork(h.executor, net, rt(h, { cniArgs: "IP=10.251.4.77" }));
    assert.equal(r.ips[0]?.address, "10.251.4.77/24");
  });

  test(`${label}: unknown CNI_ARGS fail unless IgnoreUnknown=1`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "10.251.5.0/24");
    await assert.rejects(addNetwork(h.executor, net, rt(h, { cniArgs: "FOO=bar" })), /ARGS: unknown args/);
    await delNetwork(h.executor, net, rt(h));
    const args = "IgnoreUnknown=1;FOO=bar";
    await addNetwork(h.executor, net, rt(h, { cniArgs: args }));
    await delNetwork(h.executor, net, rt(h, { cniArgs: args }));
  });

  test(`${label}: a plugin that is not installed is not-found, naming it`, async (t) => {
    const h = await setup(t);
    const net = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "x", type: "rkt-no-such-plugin" }), "conf", "test");
    await assert.rejects(addNetwork(h.executor, net, rt(h)), (err: unknown) => err instanceof RktError && err.kind === "not-found" && /"rkt-no-such-plugin" not found/.test(err.message));
  });

  test(`${label}: an invalid subnet is the plugin's error`, async (t) => {
    const h = await setup(t);
    const net = ptp(h, "not-a-cidr");
    await assert.rejects(addNetwork(h.executor, net, rt(h)), /plugin ptp ADD failed: invalid CIDR address: not-a-cidr \(CNI error \d+\)/);
  });

  test(`${label}: a cniVersion the plugin does not support is CNI error 1, failed-precondition`, async (t) => {
    const h = await setup(t);
    const net = parseNetworkConfig(JSON.stringify({ cniVersion: "9.9.9", name: "v", type: "ptp", ipam: { type: "host-local", subnet: "10.251.6.0/24", dataDir: h.dataDir } }), "conf", "test");
    await assert.rejects(addNetwork(h.executor, net, rt(h)), (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.equal(err.kind, "failed-precondition");
      assert.match(err.message, /incompatible CNI versions.*\(CNI error 1\)/);
      assert.match(err.hint ?? "", /does not support cniVersion 9\.9\.9/);
      return true;
    });
  });

  test(`${label}: an aborted signal runs nothing and is unavailable`, async (t) => {
    const h = await setup(t);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await assert.rejects(addNetwork(h.executor, ptp(h, "10.251.8.0/24"), rt(h, { signal: ac.signal })), (err: unknown) => err instanceof RktError && err.kind === "unavailable" && /plugin ptp ADD: aborted/.test(err.message));
  });

  test(`${label}: a list chains each plugin's result into the next as prevResult`, async (t) => {
    const h = await setup(t);
    const net = parseNetworkConfig(
      JSON.stringify({ cniVersion: "0.4.0", name: `t-${h.containerId}`, plugins: [{ type: "ptp", ipam: { type: "host-local", subnet: "10.251.7.0/24", dataDir: h.dataDir } }, { type: "tuning" }] }),
      "conflist",
      "test",
    );
    const result = normalizeResult(await addNetwork(h.executor, net, rt(h)));
    try {
      // tuning passes ptp's result through unchanged.
      assert.match(result.ips[0]?.address ?? "", /^10\.251\.7\.\d+\/24$/);
    } finally {
      await delNetwork(h.executor, net, rt(h));
    }
  });
}
