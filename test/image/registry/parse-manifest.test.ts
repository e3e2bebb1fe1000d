import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { parseImageConfig } from "../../../src/image/formats/image-config.js";
import {
  DOCKER_IMAGE_CONFIG,
  DOCKER_LAYER_TAR_GZIP,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V1_SIGNED,
  DOCKER_MANIFEST_V2,
  OCI_IMAGE_CONFIG,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
  OCI_LAYER_TAR_GZIP,
  layerEncoding,
} from "../../../src/image/formats/media-types.js";
import { parseManifest } from "../../../src/image/formats/parse-manifest.js";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const ociManifest = {
  schemaVersion: 2,
  mediaType: OCI_IMAGE_MANIFEST,
  config: { mediaType: OCI_IMAGE_CONFIG, digest: D1, size: 100 },
  layers: [{ mediaType: OCI_LAYER_TAR_GZIP, digest: D2, size: 2000 }],
};
const dockerManifest = {
  schemaVersion: 2,
  mediaType: DOCKER_MANIFEST_V2,
  config: { mediaType: DOCKER_IMAGE_CONFIG, digest: D1, size: 100 },
  layers: [{ mediaType: DOCKER_LAYER_TAR_GZIP, digest: D2, size: 2000 }],
};
const dockerList = {
  schemaVersion: 2,
  mediaType: DOCKER_MANIFEST_LIST,
  manifests: [{ mediaType: DOCKER_MANIFEST_V2, digest: D1, size: 500, platform: { os: "linux", architecture: "amd64" } }],
};

function rejects(fn: () => unknown, kind: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  });
}

test("parseManifest reads an OCI manifest by its mediaType field", () => {
  const parsed = parseManifest(json(ociManifest), "application/json", "img");
  assert.equal(parsed.kind, "manifest");
  assert.equal(parsed.format, "oci");
  assert.equal(parsed.mediaType, OCI_IMAGE_MANIFEST);
  if (parsed.kind !== "manifest") return;
  assert.equal(parsed.manifest.layers[0]?.digest, D2);
  assert.equal(parsed.manifest.config.size, 100);
});

test("parseManifest reads a Docker schema 2 manifest", () => {
  const parsed = parseManifest(json(dockerManifest), DOCKER_MANIFEST_V2, "img");
  assert.equal(parsed.kind, "manifest");
  assert.equal(parsed.format, "docker");
});

test("parseManifest reads a Docker manifest list and requires platforms in it", () => {
  const parsed = parseManifest(json(dockerList), undefined, "img");
  assert.equal(parsed.kind, "index");
  assert.equal(parsed.format, "docker");
  if (parsed.kind === "index") assert.deepEqual(parsed.index.manifests[0]?.platform, { os: "linux", architecture: "amd64" });
  const noPlatform = { ...dockerList, manifests: [{ mediaType: DOCKER_MANIFEST_V2, digest: D1, size: 500 }] };
  rejects(() => parseManifest(json(noPlatform), undefined, "img"), "invalid-argument", /platform/);
});

test("parseManifest uses the Content-Type when the body has no mediaType", () => {
  const { mediaType: _m, ...bare } = ociManifest;
  const index = { schemaVersion: 2, manifests: [] };
  assert.equal(parseManifest(json(bare), `${OCI_IMAGE_MANIFEST}; charset=utf-8`, "img").mediaType, OCI_IMAGE_MANIFEST);
  assert.equal(parseManifest(json(index), OCI_IMAGE_INDEX, "img").kind, "index");
});

test("parseManifest sniffs the kind of an OCI document without any type", () => {
  const { mediaType: _m, ...bare } = ociManifest;
  assert.equal(parseManifest(json(bare), undefined, "img").kind, "manifest");
  assert.equal(parseManifest(json({ schemaVersion: 2, manifests: [] }), "application/json", "img").kind, "index");
});

test("parseManifest trusts the body's mediaType over the header", () => {
  assert.equal(parseManifest(json(dockerManifest), OCI_IMAGE_INDEX, "img").mediaType, DOCKER_MANIFEST_V2);
});

test("parseManifest refuses schema 1 with the deprecation message", () => {
  const schema1 = { schemaVersion: 1, name: "library/redis", tag: "latest", fsLayers: [], history: [] };
  rejects(() => parseManifest(json(schema1), DOCKER_MANIFEST_V1_SIGNED, "docker://redis"), "unimplemented", /schema 1 is deprecated and not supported; push the image again/);
  rejects(() => parseManifest(json(schema1), "application/json", "docker://redis"), "unimplemented", /schema 1/);
  rejects(() => parseManifest(json({ schemaVersion: 2 }), DOCKER_MANIFEST_V1_SIGNED, "x"), "unimplemented", /schema 1/);
});

test("parseManifest refuses unknown manifest types, naming the type", () => {
  const artifact = { ...ociManifest, mediaType: "application/vnd.oci.artifact.manifest.v1+json" };
  rejects(() => parseManifest(json(artifact), undefined, "img"), "unimplemented", /vnd\.oci\.artifact\.manifest\.v1\+json/);
});

test("parseManifest validates descriptors: digest format and size", () => {
  const badDigest = { ...ociManifest, layers: [{ mediaType: OCI_LAYER_TAR_GZIP, digest: "sha256:abc", size: 1 }] };
  rejects(() => parseManifest(json(badDigest), undefined, "img"), "invalid-argument", /layers\.0\.digest: invalid digest/);
  const negative = { ...ociManifest, config: { ...ociManifest.config, size: -1 } };
  rejects(() => parseManifest(json(negative), undefined, "img"), "invalid-argument", /config\.size/);
  const fraction = { ...ociManifest, config: { ...ociManifest.config, size: 1.5 } };
  rejects(() => parseManifest(json(fraction), undefined, "img"), "invalid-argument", /config\.size/);
  const huge = { ...ociManifest, config: { ...ociManifest.config, size: 2 ** 60 } };
  rejects(() => parseManifest(json(huge), undefined, "img"), "invalid-argument", /config\.size/);
  const badType = { ...ociManifest, config: { ...ociManifest.config, mediaType: "not a type\n" } };
  rejects(() => parseManifest(json(badType), undefined, "img"), "invalid-argument", /media type/);
});

test("parseManifest rejects a manifest whose mediaType field contradicts its schema", () => {
  rejects(() => parseManifest(json({ ...ociManifest, schemaVersion: 3 }), undefined, "img"), "invalid-argument", /schemaVersion/);
  rejects(() => parseManifest(json({ schemaVersion: 2, mediaType: DOCKER_MANIFEST_V2, manifests: [] }), undefined, "img"), "invalid-argument", /config/);
});

test("parseManifest rejects bytes that are not a JSON object", () => {
  rejects(() => parseManifest(Buffer.from("{"), undefined, "img"), "invalid-argument", /not JSON/);
  rejects(() => parseManifest(Buffer.from("[]"), undefined, "img"), "invalid-argument", /not a JSON object/);
  rejects(() => parseManifest(Buffer.from([0xff, 0xfe]), undefined, "img"), "invalid-argument", /not UTF-8/);
  rejects(() => parseManifest(json({ schemaVersion: 2 }), undefined, "img"), "invalid-argument", /no mediaType/);
});

test("parseImageConfig reads Docker configs with null fields as absent", () => {
  const config = parseImageConfig(
    json({
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/bin"], Cmd: null, Entrypoint: ["/init"], Volumes: null, ExposedPorts: { "80/tcp": {} }, Labels: null, StopSignal: "SIGQUIT", WorkingDir: "" },
      rootfs: { type: "layers", diff_ids: [D1] },
      history: [{ created_by: "/bin/sh", empty_layer: true }, { created: null }],
      unknownField: 1,
    }),
  );
  assert.equal(config.config?.Cmd, undefined);
  assert.deepEqual(config.config?.Entrypoint, ["/init"]);
  assert.equal(config.config?.StopSignal, "SIGQUIT");
  assert.deepEqual(config.rootfs.diff_ids, [D1]);
  assert.equal(config.history?.[0]?.empty_layer, true);
});

test("parseImageConfig requires os, architecture and rootfs type layers", () => {
  rejects(() => parseImageConfig(json({ os: "linux", rootfs: { type: "layers", diff_ids: [] } })), "invalid-argument", /architecture/);
  rejects(() => parseImageConfig(json({ os: "linux", architecture: "amd64", rootfs: { type: "tarball", diff_ids: [] } })), "invalid-argument", /rootfs\.type must be "layers"/);
  rejects(() => parseImageConfig(json({ os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: ["x"] } })), "invalid-argument", /diff_ids\.0/);
});

test("layerEncoding knows compression and distributability of layer types", () => {
  assert.deepEqual(layerEncoding(DOCKER_LAYER_TAR_GZIP), { compression: "gzip", distributable: true });
  assert.deepEqual(layerEncoding("application/vnd.oci.image.layer.v1.tar+zstd"), { compression: "zstd", distributable: true });
  assert.deepEqual(layerEncoding("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"), { compression: "gzip", distributable: false });
  assert.equal(layerEncoding("application/vnd.cncf.helm.chart.content.v1.tar+gzip"), undefined);
});
