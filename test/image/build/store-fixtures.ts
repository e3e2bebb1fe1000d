/**
 * Puts images into a test store the way the fetch code records them, without going through a
 * fetch: an OCI layout's image (blobs copied, diff_ids computed) and an ACI (its uncompressed
 * archive as a sha512 blob, as `importAci` stores it). For build tests that need a base image.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ACI_MEDIA_TYPE } from "../../../src/image/formats/appc/image-manifest.js";
import type { ImageRecord } from "../../../src/image/store/image-record.js";
import type { ImageStore } from "../../../src/image/store/image-store.js";
import { decompress } from "../../support/layer-tar.js";
import { blobPath, findInLayout, parseManifest, sha256Digest } from "../../support/oci-layout.js";

/** Stores the image `ref` of the OCI layout `dir` under `name` and returns its record. */
export async function storeOciLayoutImage(store: ImageStore, dir: string, ref: string, name: string): Promise<ImageRecord> {
  const desc = await findInLayout(dir, ref);
  const manifestBytes = readFileSync(blobPath(dir, desc.digest));
  const manifest = parseManifest(manifestBytes);
  store.putBlob(manifestBytes, desc.digest);
  const configBytes = readFileSync(blobPath(dir, manifest.config.digest));
  store.putBlob(configBytes, manifest.config.digest);
  const config = JSON.parse(configBytes.toString("utf8")) as { os: string; architecture: string };
  const layers = [];
  for (const layer of manifest.layers) {
    const data = readFileSync(blobPath(dir, layer.digest));
    store.putBlob(data, layer.digest);
    const plain = await decompress(data, layer.mediaType.endsWith("gzip") ? "gzip" : layer.mediaType.endsWith("zstd") ? "zstd" : "none");
    layers.push({ digest: layer.digest, mediaType: layer.mediaType, size: layer.size, diffId: sha256Digest(plain) });
  }
  const now = new Date().toISOString();
  const record: ImageRecord = {
    schemaVersion: 1,
    id: desc.digest,
    format: "oci",
    manifestMediaType: desc.mediaType,
    configDigest: manifest.config.digest,
    layers,
    platform: { os: config.os, architecture: config.architecture },
    source: `oci:${dir}:${ref}`,
    importTime: now,
    lastUsed: now,
    size: 0,
  };
  store.putImage(record);
  store.setRef(name, record.id);
  return record;
}

/** Stores the ACI file `aciFile` (gzip or plain) as rkt's ACI import does, named by its manifest. */
export function storeAci(store: ImageStore, aciFile: string): ImageRecord {
  let tar = readFileSync(aciFile);
  if (tar[0] === 0x1f && tar[1] === 0x8b) tar = gunzipSync(tar);
  const id = `sha512:${createHash("sha512").update(tar).digest("hex")}`;
  store.putBlob(tar, id);
  const manifestBytes = extractManifest(tar);
  const configDigest = store.putBlob(manifestBytes);
  const manifest = JSON.parse(manifestBytes.toString("utf8")) as { name: string; labels?: { name: string; value: string }[] };
  const labels = Object.fromEntries((manifest.labels ?? []).map((l) => [l.name, l.value]));
  const now = new Date().toISOString();
  const record: ImageRecord = {
    schemaVersion: 1,
    id,
    format: "aci",
    manifestMediaType: "application/vnd.appc.aci.manifest",
    configDigest,
    layers: [{ digest: id, mediaType: ACI_MEDIA_TYPE, size: tar.length, diffId: id }],
    platform: { os: labels.os ?? "linux", architecture: labels.arch ?? "amd64" },
    source: aciFile,
    importTime: now,
    lastUsed: now,
    size: tar.length,
    aci: { name: manifest.name, labels, dependencies: [] },
  };
  store.putImage(record);
  store.setRef(`${manifest.name}:${labels.version ?? "latest"}`, id);
  return record;
}

/** The `manifest` entry of an uncompressed ACI (the first entry, as rkt writes it). */
function extractManifest(tar: Buffer): Buffer {
  const name = tar.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  if (name !== "manifest") throw new Error(`first entry of the ACI is ${name}, not manifest`);
  const size = parseInt(tar.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim(), 8);
  return tar.subarray(512, 512 + size);
}
