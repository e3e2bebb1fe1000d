import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import type { Platform } from "../../../src/image/formats/descriptor.js";
import type { ImageIndex } from "../../../src/image/formats/image-index.js";
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from "../../../src/image/formats/media-types.js";
import { hostPlatform, selectPlatform } from "../../../src/image/formats/select-platform.js";

let n = 0;
function entry(platform: Platform | undefined, mediaType = OCI_IMAGE_MANIFEST) {
  n++;
  return { mediaType, digest: `sha256:${n.toString(16).padStart(64, "0")}`, size: 10, ...(platform === undefined ? {} : { platform }) };
}
function index(...manifests: ReturnType<typeof entry>[]): ImageIndex {
  return { schemaVersion: 2, manifests };
}

test("hostPlatform maps Node's architectures to Go's", () => {
  assert.deepEqual(hostPlatform("x64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(hostPlatform("arm64"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(hostPlatform("arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(hostPlatform("ia32"), { os: "linux", architecture: "386" });
  assert.deepEqual(hostPlatform("s390x"), { os: "linux", architecture: "s390x" });
});

test("selectPlatform picks the entry for the requested platform", () => {
  const amd = entry({ os: "linux", architecture: "amd64" });
  const arm = entry({ os: "linux", architecture: "arm64", variant: "v8" });
  const idx = index(entry({ os: "windows", architecture: "amd64" }), arm, amd);
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "amd64" }), amd);
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "arm64" }), arm);
});

test("selectPlatform defaults to the host platform", () => {
  const host = hostPlatform();
  const mine = entry({ os: "linux", architecture: host.architecture, ...(host.variant === undefined ? {} : { variant: host.variant }) });
  assert.equal(selectPlatform(index(entry({ os: "linux", architecture: "riscv-none" }), mine)), mine);
});

test("selectPlatform treats arm64 without a variant as arm64/v8", () => {
  const bare = entry({ os: "linux", architecture: "arm64" });
  assert.equal(selectPlatform(index(bare), { os: "linux", architecture: "arm64", variant: "v8" }), bare);
  const v8 = entry({ os: "linux", architecture: "arm64", variant: "v8" });
  assert.equal(selectPlatform(index(v8), { os: "linux", architecture: "arm64" }), v8);
  assert.equal(selectPlatform(index(entry({ os: "linux", architecture: "aarch64" })), hostPlatform("arm64")).platform?.architecture, "aarch64");
});

test("selectPlatform prefers the exact arm variant and falls back to older ones", () => {
  const v5 = entry({ os: "linux", architecture: "arm", variant: "v5" });
  const v6 = entry({ os: "linux", architecture: "arm", variant: "v6" });
  const v7 = entry({ os: "linux", architecture: "arm", variant: "v7" });
  assert.equal(selectPlatform(index(v5, v6, v7), { os: "linux", architecture: "arm", variant: "v7" }), v7);
  assert.equal(selectPlatform(index(v5, v6), { os: "linux", architecture: "arm", variant: "v7" }), v6);
  assert.throws(() => selectPlatform(index(v7), { os: "linux", architecture: "arm", variant: "v6" }), RktError);
});

test("selectPlatform does not run a newer amd64 level on the baseline", () => {
  const v3 = entry({ os: "linux", architecture: "amd64", variant: "v3" });
  const base = entry({ os: "linux", architecture: "amd64" });
  assert.equal(selectPlatform(index(v3, base), { os: "linux", architecture: "amd64" }), base);
  assert.equal(selectPlatform(index(base, v3), { os: "linux", architecture: "amd64", variant: "v3" }), v3);
  assert.throws(() => selectPlatform(index(v3), { os: "linux", architecture: "amd64" }), /no image for linux\/amd64/);
});

test("selectPlatform ignores unknown media types and ranks entries without platform last", () => {
  const other = entry({ os: "linux", architecture: "amd64" }, "application/vnd.example.thing+json");
  const anything = entry(undefined);
  const nested = entry({ os: "linux", architecture: "amd64" }, OCI_IMAGE_INDEX);
  assert.equal(selectPlatform(index(other, anything), { os: "linux", architecture: "amd64" }), anything);
  assert.equal(selectPlatform(index(anything, nested), { os: "linux", architecture: "amd64" }), nested);
});

test("selectPlatform lists the available platforms when none matches", () => {
  const idx = index(
    entry({ os: "linux", architecture: "arm64", variant: "v8" }),
    entry({ os: "linux", architecture: "ppc64le" }),
    entry({ os: "unknown", architecture: "unknown" }),
  );
  assert.throws(
    () => selectPlatform(idx, { os: "linux", architecture: "amd64" }, "docker://redis"),
    (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.equal(err.kind, "not-found");
      assert.equal(err.message, "docker://redis: no image for linux/amd64; the index offers linux/arm64/v8, linux/ppc64le");
      return true;
    },
  );
  assert.throws(() => selectPlatform(index(), { os: "linux", architecture: "amd64" }), /lists no image for any platform/);
});
