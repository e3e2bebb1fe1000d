import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBuildOutput } from "../../../src/image/build/build-output.js";
import { mergeBuildSpecs, parseBuildSpec, parseDependencyArgument } from "../../../src/image/build/build-spec.js";
import { RktError } from "../../../src/lib/errors.js";

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test("parseBuildSpec reads every field, octal modes as strings and dependencies as names", () => {
  const spec = parseBuildSpec(
    json({
      name: "example.com/app",
      labels: { version: "1" },
      copy: [{ from: "a", to: "/a", mode: "0755", uid: 1, gid: 2 }, { from: "b", to: "/b", mode: 420 }],
      exec: ["/a"],
      isolators: [{ name: "resource/memory", value: { limit: "1G" } }],
      dependencies: ["example.com/base:2,os=linux", { imageName: "example.com/other", labels: { arch: "amd64" } }],
      base: "sha256-abcd",
    }),
    "build.json",
  );
  assert.deepEqual(spec.copy, [
    { from: "a", to: "/a", mode: 0o755, uid: 1, gid: 2 },
    { from: "b", to: "/b", mode: 0o644 },
  ]);
  assert.deepEqual(spec.dependencies, [
    { imageName: "example.com/base", labels: { version: "2", os: "linux" } },
    { imageName: "example.com/other", labels: { arch: "amd64" } },
  ]);
  assert.deepEqual(spec.isolators, [{ name: "resource/memory", value: { limit: "1G" } }]);
});

test("parseBuildSpec refuses unknown fields, naming them and the file", () => {
  assert.throws(
    () => parseBuildSpec(json({ name: "example.com/app", workdir: "/x" }), "build.json"),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /build spec build\.json/.test(err.message) && /workdir/.test(err.message),
  );
  assert.throws(() => parseBuildSpec(json({ copy: [{ from: "a", to: "/a", mode: "rwx" }] }), "b.json"), /octal mode/);
  assert.throws(() => parseBuildSpec(Buffer.from("{"), "b.json"), /not JSON/);
});

test("mergeBuildSpecs lets flags replace scalars and lists, merge maps, and append copy steps", () => {
  const merged = mergeBuildSpecs(
    { name: "example.com/a", labels: { version: "1", os: "linux" }, exec: ["/a", "x"], environment: { A: "1" }, copy: [{ from: "a", to: "/a" }], ports: [{ name: "p", protocol: "tcp", port: 1 }] },
    { labels: { version: "2" }, exec: ["/b"], environment: { B: "2" }, copy: [{ from: "b", to: "/b" }], user: "app" },
  );
  assert.deepEqual(merged.labels, { version: "2", os: "linux" });
  assert.deepEqual(merged.exec, ["/b"]);
  assert.deepEqual(merged.environment, { A: "1", B: "2" });
  assert.deepEqual(merged.copy, [{ from: "a", to: "/a" }, { from: "b", to: "/b" }]);
  assert.deepEqual(merged.ports, [{ name: "p", protocol: "tcp", port: 1 }]);
  assert.equal(merged.user, "app");
  assert.equal(merged.name, "example.com/a");
});

test("parseDependencyArgument reads NAME[:VERSION][,LABEL=VALUE...]", () => {
  assert.deepEqual(parseDependencyArgument("example.com/base"), { imageName: "example.com/base" });
  assert.deepEqual(parseDependencyArgument("example.com/base:1.0"), { imageName: "example.com/base", labels: { version: "1.0" } });
  assert.deepEqual(parseDependencyArgument("example.com/base,version=1.0,arch=amd64"), { imageName: "example.com/base", labels: { version: "1.0", arch: "amd64" } });
  assert.throws(() => parseDependencyArgument("example.com/base,oops"), /"oops" is not LABEL=VALUE/);
});

test("parseBuildOutput knows FILE.aci, oci:DIR[:TAG] and oci-archive:FILE[:TAG]", () => {
  assert.deepEqual(parseBuildOutput("out/app.aci", "/src"), { kind: "aci", text: "out/app.aci", path: "/src/out/app.aci" });
  assert.deepEqual(parseBuildOutput("oci:layout", "/src"), { kind: "oci-layout", text: "oci:layout", path: "/src/layout", tag: undefined });
  assert.deepEqual(parseBuildOutput("oci:/abs/layout:example.com/app:1.0", "/src"), { kind: "oci-layout", text: "oci:/abs/layout:example.com/app:1.0", path: "/abs/layout", tag: "example.com/app:1.0" });
  assert.deepEqual(parseBuildOutput("oci-archive:app.tar:v1", "/src"), { kind: "oci-archive", text: "oci-archive:app.tar:v1", path: "/src/app.tar", tag: "v1" });
  assert.throws(() => parseBuildOutput("app.tar", "/src"), /unknown output "app\.tar"/);
  assert.throws(() => parseBuildOutput("docker://x/app.aci", "/src"), /unknown output/);
  assert.throws(() => parseBuildOutput("oci:", "/src"), /names no path/);
  assert.throws(() => parseBuildOutput("oci:dir:-bad", "/src"), /invalid tag "-bad"/);
});
