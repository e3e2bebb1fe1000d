import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, test } from "node:test";
import { RegistrySource } from "../../../src/image/fetch/registry/registry-source.js";
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from "../../../src/image/formats/media-types.js";
import { parseDockerReference } from "../../../src/image/reference.js";
import { send, sendError, startFakeServer, type FakeServer } from "./fake-server.js";

const sha256 = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const child = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_MANIFEST, config: {}, layers: [] }));
const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: [] }));
const layer = Buffer.from("layer bytes");

let server: FakeServer | undefined;
after(async () => server?.close());

test("RegistrySource resolves the tag, an index child by digest, and blobs", async () => {
  server = await startFakeServer((req, res) => {
    switch (req.url) {
      case "/v2/team/app/manifests/1.0":
        return send(res, 200, index, { "content-type": OCI_IMAGE_INDEX });
      case `/v2/team/app/manifests/${sha256(child)}`:
        return send(res, 200, child, { "content-type": OCI_IMAGE_MANIFEST });
      case `/v2/team/app/blobs/${sha256(layer)}`:
        return send(res, 200, layer);
      default:
        return sendError(res, 404, "NOT_FOUND", "no");
    }
  });
  const source = new RegistrySource(parseDockerReference(`docker://${server.host}/team/app:1.0`), { insecureHttp: true, insecureTls: false, userAgent: "rkt-test" });
  try {
    assert.equal(source.name, `${server.host}/team/app:1.0`);
    assert.equal(source.label, `docker://${server.host}/team/app:1.0`);
    const root = await source.rootManifest();
    assert.deepEqual([root.mediaType, root.digest], [OCI_IMAGE_INDEX, sha256(index)]);
    assert.deepEqual((await source.manifest(sha256(child))).bytes, child);
    const chunks: Buffer[] = [];
    for await (const c of await source.openBlob({ digest: sha256(layer), size: layer.length, mediaType: "application/octet-stream" }) as AsyncIterable<Buffer>) chunks.push(c);
    assert.deepEqual(Buffer.concat(chunks), layer);
  } finally {
    source.close();
  }
});
