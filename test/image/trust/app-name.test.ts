/** appc image names as typed on the command line: `name:version` and `name,label=value`. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostAppcPlatform, isAcIdentifier, parseAppImageName } from "../../../src/image/formats/appc/app-name.js";
import { RktError } from "../../../src/lib/errors.js";

const linuxAmd64 = { os: "linux", arch: "amd64" };

test("parseAppImageName reads name:version and defaults os and arch to the host's", () => {
  const app = parseAppImageName("example.com/app:0.0.1", linuxAmd64);
  assert.equal(app.name, "example.com/app");
  assert.deepEqual([...app.labels], [["version", "0.0.1"], ["os", "linux"], ["arch", "amd64"]]);
});

test("parseAppImageName reads labels and defaults version to latest", () => {
  const app = parseAppImageName("example.com/app,os=linux,arch=aarch64,channel=alpha", linuxAmd64);
  assert.deepEqual(Object.fromEntries(app.labels), { os: "linux", arch: "aarch64", channel: "alpha", version: "latest" });
  const both = parseAppImageName("coreos.com/etcd:v2.0.0,channel=beta", linuxAmd64);
  assert.equal(both.labels.get("version"), "v2.0.0");
  assert.equal(both.labels.get("channel"), "beta");
});

test("parseAppImageName refuses names and labels appc does not allow", () => {
  const bad: [string, RegExp][] = [
    ["Example.com/app", /invalid image name "Example\.com\/app"/],
    ["example.com/app/", /invalid image name/],
    ["example.com//app", /invalid image name/],
    ["-example.com", /invalid image name/],
    ["", /invalid image name/],
    ["example.com/app:", /invalid version ""/],
    ["example.com/app,channel", /malformed label "channel"/],
    ["example.com/app,name=x", /"name" cannot be a label/],
    ["example.com/app,Channel=x", /invalid label name "Channel"/],
    ["example.com/app:1,version=2", /label "version" is given twice/],
    ["example.com/app,os=", /label "os" has no value/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseAppImageName(text, linuxAmd64), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && message.test(err.message), text);
  }
});

test("isAcIdentifier follows appc's AC Identifier rule", () => {
  for (const ok of ["a", "example.com/app", "a-b.c_d~e/f", "0abc"]) assert.ok(isAcIdentifier(ok), ok);
  for (const no of ["", "A", "a/", "/a", "a..b", "a b", "a:b"]) assert.ok(!isAcIdentifier(no), no);
});

test("hostAppcPlatform spells architectures as appc does", () => {
  assert.deepEqual(hostAppcPlatform("x64"), { os: "linux", arch: "amd64" });
  assert.deepEqual(hostAppcPlatform("arm64"), { os: "linux", arch: "aarch64" });
  assert.deepEqual(hostAppcPlatform("ia32"), { os: "linux", arch: "i386" });
});
