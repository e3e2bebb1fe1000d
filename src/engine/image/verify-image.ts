/**
 * `rkt image verify`: checks that what the store holds for an image is still what was fetched:
 * every blob against its digest, and every unpacked layer tree against the tree digest recorded
 * when it was unpacked (rkt's treestore `hash` check). Catches both disk corruption and tampering
 * with the shared trees pods mount.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { treeDigest } from "../../image/layer/tree-digest.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { splitDigest } from "../../image/store/store-paths.js";
import { findImage } from "./find-image.js";

export interface VerifyReport {
  readonly id: string;
  readonly names: readonly string[];
  /** Empty when everything matched. */
  readonly problems: readonly string[];
}

export async function verifyImage(store: ImageStore, image: string): Promise<VerifyReport> {
  const rec = findImage(store, image);
  const problems: string[] = [];
  const blobs = [rec.id, rec.configDigest, ...rec.layers.map((l) => l.digest)];
  for (const digest of blobs) {
    if (!store.hasBlob(digest)) {
      problems.push(`blob ${digest} is missing`);
      continue;
    }
    const actual = await digestFile(store.blobPath(digest), splitDigest(digest).algorithm);
    if (actual !== digest) problems.push(`blob ${digest} is corrupt (its content hashes to ${actual})`);
  }
  for (const layer of rec.layers) {
    if (!store.hasLayer(layer.diffId)) {
      problems.push(`unpacked layer ${layer.diffId} is missing`);
      continue;
    }
    const info = store.layerInfo(layer.diffId);
    const actual = await treeDigest(store.layerRootfs(layer.diffId));
    if (actual !== info.treeDigest) problems.push(`unpacked layer ${layer.diffId} was modified (tree digest ${actual}, recorded ${info.treeDigest})`);
  }
  return { id: rec.id, names: store.namesOf(rec.id), problems };
}

async function digestFile(path: string, algorithm: "sha256" | "sha512"): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), hash);
  return `${algorithm}:${hash.digest("hex")}`;
}

