import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { builtinNetworkConfigs } from "../../src/network/cni/default-networks.js";
import { loadNetworkConfigs, parseNetworkConfig } from "../../src/network/cni/network-config.js";
import { tempDir } from "../support/tmp.js";

async function netd(t: Parameters<typeof tempDir>[0], files: Record<string, string>): Promise<string> {
  const localConfig = await tempDir(t);
  await mkdir(join(localConfig, "net.d"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(localConfig, "net.d", name), text);
  return localConfig;
}

const conf = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: "0.4.0", name, type: "ptp", ipam: { type: "host-local", subnet: "10.1.0.0/24" }, ...extra });

test("loadNetworkConfigs without a net.d knows only the built-in networks", async (t) => {
  const nets = await loadNetworkConfigs({ localConfig: join(await tempDir(t), "missing") });
  assert.deepEqual(nets.map((n) => [n.name, n.builtin, n.source]), [
    ["default", true, "builtin:default"],
    ["default-restricted", true, "builtin:default-restricted"],
  ]);
});

test("the built-in default network is ptp on 172.16.28.0/24 with a default route and masquerading", () => {
  const def = parseNetworkConfig(builtinNetworkConfigs().default, "conf", "builtin:default", true);
  assert.equal(def.cniVersion, "0.4.0");
  assert.equal(def.ipMasq, true);
  assert.deepEqual(def.plugins[0]?.conf, {
    cniVersion: "0.4.0",
    name: "default",
    type: "ptp",
    ipMasq: true,
    ipam: { type: "host-local", subnet: "172.16.28.0/24", routes: [{ dst: "0.0.0.0/0" }] },
  });
});

test("the built-in default-restricted network has no default route and no masquerading", () => {
  const r = parseNetworkConfig(builtinNetworkConfigs()["default-restricted"], "conf", "builtin:default-restricted", true);
  assert.equal(r.ipMasq, false);
  assert.deepEqual(r.plugins[0]?.conf["ipam"], { type: "host-local", subnet: "172.31.0.0/16" });
});

test("builtinNetworkConfigs puts host-local's leases in the given data dir", () => {
  const c = JSON.parse(builtinNetworkConfigs({ ipamDataDir: "/tmp/leases" }).default) as { ipam: { dataDir: string } };
  assert.equal(c.ipam.dataDir, "/tmp/leases");
});

test("loadNetworkConfigs reads .conf and .conflist files in lexicographic order, then the built-ins", async (t) => {
  const list = JSON.stringify({ cniVersion: "0.4.0", name: "chain", plugins: [{ type: "bridge", ipMasq: true }, { type: "tuning" }] });
  const localConfig = await netd(t, { "20-b.conf": conf("b"), "10-chain.conflist": list, "30-a.conf": conf("a"), "README": "not a network", "ptp-custom": "#!/bin/sh\n" });
  const nets = await loadNetworkConfigs({ localConfig });
  assert.deepEqual(nets.map((n) => n.name), ["chain", "b", "a", "default", "default-restricted"]);
  const chain = nets[0]!;
  assert.equal(chain.format, "conflist");
  assert.deepEqual(chain.plugins.map((p) => p.type), ["bridge", "tuning"]);
  assert.equal(chain.ipMasq, true);
  assert.equal(chain.source, join(localConfig, "net.d", "10-chain.conflist"));
  assert.equal(chain.bytes, list, "the exact text is kept for DEL");
});

test("a net.d file named default replaces the built-in default where it sorts", async (t) => {
  const localConfig = await netd(t, { "05-mine.conf": conf("default", { ipMasq: false }), "10-x.conf": conf("x") });
  const nets = await loadNetworkConfigs({ localConfig });
  assert.deepEqual(nets.map((n) => `${n.name}:${n.builtin}`), ["default:false", "x:false", "default-restricted:true"]);
  assert.equal(nets[0]?.ipMasq, false);
});

test("loadNetworkConfigs names the file with malformed JSON", async (t) => {
  const localConfig = await netd(t, { "10-bad.conf": '{"name": "bad",' });
  await assert.rejects(loadNetworkConfigs({ localConfig }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "invalid-argument");
    assert.match(err.message, /10-bad\.conf: not JSON/);
    return true;
  });
});

test("loadNetworkConfigs names the file and the field that is missing", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["no-name.conf", JSON.stringify({ cniVersion: "0.4.0", type: "ptp" }), /no-name\.conf: name: missing \(required\)/],
    ["no-version.conf", JSON.stringify({ name: "n", type: "ptp" }), /no-version\.conf: cniVersion:/],
    ["no-type.conf", JSON.stringify({ cniVersion: "0.4.0", name: "n" }), /no-type\.conf: type:/],
    ["no-plugins.conflist", JSON.stringify({ cniVersion: "0.4.0", name: "n" }), /no-plugins\.conflist: plugins: missing \(required\)/],
    ["empty.conflist", JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [] }), /empty\.conflist: plugins: a network configuration list needs at least one plugin/],
    ["plugin-no-type.conflist", JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ bridge: "x" }] }), /plugin-no-type\.conflist: plugins\.0\.type:/],
    ["bad-name.conf", JSON.stringify({ cniVersion: "0.4.0", name: "-x", type: "ptp" }), /bad-name\.conf: name: a network name is/],
    ["bad-version.conf", JSON.stringify({ cniVersion: "latest", name: "n", type: "ptp" }), /bad-version\.conf: cniVersion: cniVersion is a version/],
    ["array.conf", "[]", /array\.conf: not a JSON object/],
  ];
  for (const [file, text, message] of cases) {
    const localConfig = await netd(t, { [file]: text });
    await assert.rejects(loadNetworkConfigs({ localConfig }), message, file);
  }
});

test("a plugin type that is a path is refused, so a config cannot run an arbitrary binary", async (t) => {
  for (const type of ["../../bin/sh", "/bin/sh", "a/b"]) {
    const localConfig = await netd(t, { "10-evil.conf": JSON.stringify({ cniVersion: "0.4.0", name: "evil", type }) });
    await assert.rejects(loadNetworkConfigs({ localConfig }), /10-evil\.conf: type: a plugin type is the file name/);
  }
});

test("a .conf holding a plugin list and a .conflist holding one plugin are told to be renamed", async (t) => {
  const a = await netd(t, { "10-a.conf": JSON.stringify({ cniVersion: "0.4.0", name: "a", plugins: [{ type: "ptp" }] }) });
  await assert.rejects(loadNetworkConfigs({ localConfig: a }), (err: unknown) => err instanceof RktError && /10-a\.conf/.test(err.message) && err.hint === "rename it to .conflist");
  const b = await netd(t, { "10-b.conflist": conf("b") });
  await assert.rejects(loadNetworkConfigs({ localConfig: b }), (err: unknown) => err instanceof RktError && /10-b\.conflist/.test(err.message) && err.hint === "rename it to .conf");
});

test("two files defining the same network name are an error naming both", async (t) => {
  const localConfig = await netd(t, { "10-one.conf": conf("lan"), "20-two.conflist": JSON.stringify({ cniVersion: "0.4.0", name: "lan", plugins: [{ type: "bridge" }] }) });
  await assert.rejects(loadNetworkConfigs({ localConfig }), /network "lan" is defined twice: in .*10-one\.conf and in .*20-two\.conflist/);
});

test("the names all, none and host are reserved", async (t) => {
  for (const name of ["all", "none", "host"]) {
    const localConfig = await netd(t, { "10-x.conf": conf(name) });
    await assert.rejects(loadNetworkConfigs({ localConfig }), new RegExp(`the name "${name}" is reserved`));
  }
});

test("a dangling symlink in net.d is reported with its path", async (t) => {
  const localConfig = await netd(t, {});
  await symlink("/nonexistent/x.conf", join(localConfig, "net.d", "10-gone.conf"));
  await assert.rejects(loadNetworkConfigs({ localConfig }), /reading network configuration .*10-gone\.conf/);
});

test("parseNetworkConfig reads disableCheck as a boolean or the spec's string", () => {
  for (const v of [true, "true"]) {
    const n = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "n", disableCheck: v, plugins: [{ type: "ptp" }] }), "conflist", "x");
    assert.equal(n.disableCheck, true);
  }
  assert.equal(parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "ptp" }] }), "conflist", "x").disableCheck, false);
});
