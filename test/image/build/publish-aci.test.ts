import assert from "node:assert/strict";
import { test } from "node:test";
import { publishLayout } from "../../../src/image/build/publish-aci.js";
import { RktError } from "../../../src/lib/errors.js";

const LABELS = { version: "1.0", os: "linux", arch: "amd64" };

test("publishLayout puts the page at the name's path and the ACI where the template points", () => {
  assert.deepEqual(publishLayout("example.com/group/app", LABELS, "https://example.com/aci/{os}/{arch}/{name}-{version}.{ext}"), {
    page: "group/app/index.html",
    aci: "aci/linux/amd64/example.com/group/app-1.0.aci",
    signature: "aci/linux/amd64/example.com/group/app-1.0.aci.asc",
  });
  assert.equal(publishLayout("example.com", LABELS, "https://example.com/{name}.{ext}").page, "index.html");
  assert.equal(publishLayout("example.com/app", { os: "linux" }, "https://example.com/{name}-{version}.{ext}").aci, "example.com/app-latest.aci", "version defaults to latest, as discovery fills it");
});

test("publishLayout refuses templates the image cannot fill and paths outside the web root", () => {
  const invalid = (pattern: RegExp) => (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && pattern.test(err.message);
  assert.throws(() => publishLayout("example.com/app", LABELS, "https://example.com/{name}-{channel}.{ext}"), invalid(/uses a label image example\.com\/app does not have/));
  assert.throws(() => publishLayout("example.com/app", LABELS, "https://example.com/a%2F..%2F..%2Fetc/{name}.{ext}"), invalid(/not a file under the web root/));
  assert.throws(() => publishLayout("example.com/app", LABELS, "https://example.com/{name}.aci"), invalid(/has no \{ext\}/));
});
