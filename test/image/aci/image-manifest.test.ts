import assert from "node:assert/strict";
import { test } from "node:test";
import { aciImageIdMatches, aciLabel, parseAciManifest } from "../../../src/image/formats/appc/image-manifest.js";
import { RktError } from "../../../src/lib/errors.js";
import { manifestFor } from "./aci-fixture.js";

function parse(value: unknown): ReturnType<typeof parseAciManifest> {
  return parseAciManifest(Buffer.from(typeof value === "string" ? value : JSON.stringify(value)), "test.aci");
}

/** Asserts that parsing fails with an invalid-argument RktError naming the file and matching `field`. */
function rejects(value: unknown, field: RegExp): void {
  assert.throws(
    () => parse(value),
    (err: unknown) => {
      assert.ok(err instanceof RktError, String(err));
      assert.equal(err.kind, "invalid-argument");
      assert.match(err.message, /image manifest of test\.aci/);
      assert.match(err.message, field);
      return true;
    },
  );
}

// The example of appc aci.md "Image Manifest Schema", with string annotation values.
const specExample = {
  acKind: "ImageManifest",
  acVersion: "0.8.11",
  name: "example.com/reduce-worker",
  labels: [
    { name: "version", value: "1.0.0" },
    { name: "arch", value: "amd64" },
    { name: "os", value: "linux" },
  ],
  app: {
    exec: ["/usr/bin/reduce-worker", "--quiet"],
    user: "100",
    group: "300",
    supplementaryGIDs: [400, 500],
    eventHandlers: [
      { exec: ["/usr/bin/data-downloader"], name: "pre-start" },
      { exec: ["/usr/bin/deregister-worker", "--verbose"], name: "post-stop" },
    ],
    workingDirectory: "/opt/work",
    environment: [{ name: "REDUCE_WORKER_DEBUG", value: "true" }],
    isolators: [
      { name: "resource/cpu", value: { request: "250m", limit: "500m" } },
      { name: "os/linux/capabilities-retain-set", value: { set: ["CAP_NET_BIND_SERVICE"] } },
    ],
    mountPoints: [{ name: "work", path: "/var/lib/work", readOnly: false }],
    ports: [
      { name: "health", port: 4000, protocol: "tcp", socketActivated: true },
      { name: "ftp-data", port: 20000, count: 1000, protocol: "tcp" },
    ],
  },
  dependencies: [
    {
      imageName: "example.com/reduce-worker-base",
      imageID: `sha512-${"a".repeat(32)}`,
      labels: [
        { name: "os", value: "linux" },
        { name: "env", value: "canary" },
      ],
      size: 22017258,
    },
  ],
  pathWhitelist: ["/etc/ca/example.com/crt", "/usr/bin/map-reduce-worker", "/etc/systemd/system/"],
  annotations: [
    { name: "authors", value: "Carly Container <carly@example.com>" },
    { name: "created", value: "2014-10-27T19:32:27.67021798Z" },
    { name: "homepage", value: "https://example.com" },
    { name: "appc.io/executor/supports-systemd-notify", value: "false" },
  ],
};

test("parseAciManifest reads the spec's example manifest", () => {
  const m = parse(specExample);
  assert.equal(m.name, "example.com/reduce-worker");
  assert.equal(aciLabel(m.labels, "version"), "1.0.0");
  assert.deepEqual(m.app?.exec, ["/usr/bin/reduce-worker", "--quiet"]);
  assert.deepEqual(m.app?.supplementaryGIDs, [400, 500]);
  assert.equal(m.app?.eventHandlers.length, 2);
  assert.deepEqual(m.app?.ports[0], { name: "health", protocol: "tcp", port: 4000, count: 1, socketActivated: true });
  assert.equal(m.app?.ports[1]?.count, 1000);
  assert.deepEqual(m.app?.mountPoints, [{ name: "work", path: "/var/lib/work", readOnly: false }]);
  assert.equal(m.dependencies[0]?.imageName, "example.com/reduce-worker-base");
  assert.equal(m.dependencies[0]?.size, 22017258);
  assert.equal(m.pathWhitelist.length, 3);
});

test("parseAciManifest fills absent lists with empty ones and leaves app out when absent", () => {
  const m = parse({ acKind: "ImageManifest", acVersion: "0.8.11", name: "example.com/files" });
  assert.deepEqual([m.labels, m.dependencies, m.pathWhitelist, m.annotations], [[], [], [], []]);
  assert.equal(m.app, undefined);
});

test("parseAciManifest refuses what is not a JSON image manifest", () => {
  rejects("{not json", /not JSON/);
  assert.throws(() => parseAciManifest(Buffer.from([0xff, 0xfe, 0x00]), "test.aci"), /test\.aci: not UTF-8/);
  rejects([], /\(document\)/);
  rejects({ ...manifestFor("example.com/app", "1"), acKind: "PodManifest" }, /acKind: must be "ImageManifest"/);
  rejects({ ...manifestFor("example.com/app", "1"), acVersion: "latest" }, /acVersion/);
  rejects({ ...manifestFor("example.com/app", "1"), acVersion: "1.0.0" }, /acVersion: 1\.0\.0 is not an appc 0\.x version/);
  rejects({ acKind: "ImageManifest", acVersion: "0.8.11" }, /name/);
});

test("parseAciManifest checks names against the AC Identifier and AC Name types", () => {
  rejects(manifestFor("Example.com/App", "1"), /name: "Example\.com\/App" is not an AC Identifier/);
  rejects(manifestFor("example.com/app/", "1"), /name: .* is not an AC Identifier/);
  rejects(manifestFor("127.0.0.1:5000/app", "1"), /not an AC Identifier/);
  const app = { exec: ["/x"], user: "0", group: "0" };
  rejects(manifestFor("example.com/app", "1", { app: { ...app, ports: [{ name: "HTTP", port: 80, protocol: "tcp" }] } }), /app\.ports\.0\.name: "HTTP" is not an AC Name/);
  rejects(manifestFor("example.com/app", "1", { app: { ...app, mountPoints: [{ name: "data.dir", path: "/data" }] } }), /app\.mountPoints\.0\.name/);
  rejects(manifestFor("example.com/app", "1", { app: { ...app, isolators: [{ name: "Resource/CPU", value: {} }] } }), /app\.isolators\.0\.name/);
  rejects(manifestFor("example.com/app", "1", { annotations: [{ name: "bad name", value: "x" }] }), /annotations\.0\.name/);
});

test("parseAciManifest enforces the label rules: no 'name', unique, known os/arch pairs", () => {
  const base = manifestFor("example.com/app", "1");
  rejects({ ...base, labels: [{ name: "name", value: "x" }] }, /labels\.0\.name: a label cannot be called "name"/);
  rejects({ ...base, labels: [{ name: "version", value: "1" }, { name: "version", value: "2" }] }, /labels\.1\.name: "version" appears twice/);
  rejects({ ...base, labels: [{ name: "os", value: "plan9" }] }, /unknown os "plan9"/);
  rejects({ ...base, labels: [{ name: "os", value: "linux" }, { name: "arch", value: "x86_64" }] }, /unknown arch "x86_64" for linux/);
  // arch alone means nothing (it needs os), as appc's labels.go reads it
  assert.equal(aciLabel(parse({ ...base, labels: [{ name: "arch", value: "anything" }] }).labels, "arch"), "anything");
  rejects({ ...base, dependencies: [{ imageName: "example.com/base", labels: [{ name: "os", value: "hurd" }] }] }, /dependencies\.0\.labels os/);
});

test("parseAciManifest checks the app section as appc does", () => {
  const m = (app: Record<string, unknown>): Record<string, unknown> => manifestFor("example.com/app", "1", { app: { exec: ["/bin/app"], user: "0", group: "0", ...app } });
  rejects(m({ user: "" }), /app\.user: is required/);
  rejects(manifestFor("example.com/app", "1", { app: { exec: ["/bin/app"], user: "0" } }), /app\.group: is required/);
  rejects(m({ workingDirectory: "opt/work" }), /app\.workingDirectory: "opt\/work" is not an absolute path/);
  rejects(m({ environment: [{ name: "0DEBUG", value: "1" }] }), /app\.environment\.0\.name/);
  rejects(m({ environment: [{ name: "A", value: "1" }, { name: "A", value: "2" }] }), /app\.environment\.1\.name: "A" appears twice/);
  rejects(m({ eventHandlers: [{ name: "post-start", exec: ["/x"] }] }), /app\.eventHandlers\.0\.name/);
  rejects(m({ eventHandlers: [{ name: "pre-start", exec: ["/x"] }, { name: "pre-start", exec: ["/y"] }] }), /only one "pre-start" handler/);
  rejects(m({ ports: [{ name: "http", port: 0, protocol: "tcp" }] }), /app\.ports\.0\.port: 0 is not in 1-65535/);
  rejects(m({ ports: [{ name: "http", port: 65535, count: 2, protocol: "tcp" }] }), /app\.ports\.0\.count/);
  rejects(m({ ports: [{ name: "http", port: 80, protocol: "tcp" }, { name: "http", port: 81, protocol: "tcp" }] }), /app\.ports\.1\.name/);
  rejects(m({ mountPoints: [{ name: "data", path: "data" }] }), /app\.mountPoints\.0\.path/);
  rejects(m({ supplementaryGIDs: [-1] }), /app\.supplementaryGIDs/);
  rejects(m({ exec: "/bin/app" }), /app\.exec/);
  // exec may be absent or, per the later spec text, a name looked up in PATH
  assert.deepEqual(parse(m({ exec: ["app"] })).app?.exec, ["app"]);
  assert.deepEqual(parse(manifestFor("example.com/app", "1", { app: { user: "0", group: "0" } })).app?.exec, []);
});

test("parseAciManifest checks dependencies, pathWhitelist and the recognized annotations", () => {
  const base = manifestFor("example.com/app", "1");
  rejects({ ...base, dependencies: [{ imageName: "" }] }, /dependencies\.0\.imageName/);
  rejects({ ...base, dependencies: [{ imageName: "example.com/base", imageID: "sha256-abc" }] }, /dependencies\.0\.imageID: "sha256-abc" is not an image ID/);
  rejects({ ...base, dependencies: [{ imageName: "example.com/base", size: -1 }] }, /dependencies\.0\.size/);
  rejects({ ...base, pathWhitelist: ["etc/passwd"] }, /pathWhitelist\.0: "etc\/passwd" is not an absolute path/);
  rejects({ ...base, pathWhitelist: ["/etc/../root"] }, /pathWhitelist\.0: .* contains "\.\."/);
  rejects({ ...base, annotations: [{ name: "created", value: "yesterday" }] }, /annotations created: "yesterday" is not an RFC 3339 date-time/);
  rejects({ ...base, annotations: [{ name: "homepage", value: "ftp://example.com" }] }, /annotations homepage/);
  rejects({ ...base, annotations: [{ name: "a", value: "1" }, { name: "a", value: "2" }] }, /annotations\.1\.name/);
  rejects({ ...base, annotations: [{ name: "appc.io/executor/supports-systemd-notify", value: false }] }, /annotations\.0\.value/);
});

test("aciImageIdMatches compares full store IDs with shortened appc IDs", () => {
  const id = `sha512:${"0123456789abcdef".repeat(8)}`;
  assert.equal(aciImageIdMatches(id, `sha512-${"0123456789abcdef".repeat(2)}`), true);
  assert.equal(aciImageIdMatches(id, `sha512-${"0123456789abcdef".repeat(8)}`), true);
  assert.equal(aciImageIdMatches(id, "sha512-1123"), false);
  assert.equal(aciImageIdMatches(id, "sha256-0123"), false);
});
