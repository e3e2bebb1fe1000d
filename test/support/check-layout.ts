/**
 * Checks an OCI image layout for integrity: every blob reachable from index.json exists with its
 * digest and size, and every image config's `rootfs.diff_ids` match its layers uncompressed. For
 * asserting that a layout written by us or by a third-party tool is usable.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decompress, type Compression } from "./layer-tar.js";
import { isIndexMediaType } from "./media-types.js";
import { blobPath, parseIndex, parseManifest, readIndexJson, sha256Digest, type Descriptor } from "./oci-layout.js";

/**
 * Returns the problems found in the layout at `dir` (empty when it is sound), one line each.
 *
 * @example
 * assert.deepEqual(await checkLayout(dir), []);
 */
export async function checkLayout(dir: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    const layout = JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")) as { imageLayoutVersion?: unknown };
    if (layout.imageLayoutVersion !== "1.0.0") problems.push(`oci-layout: imageLayoutVersion ${String(layout.imageLayoutVersion)}`);
  } catch (err) {
    problems.push(`oci-layout: ${String(err)}`);
  }
  let entries: Descriptor[];
  try {
    entries = await readIndexJson(dir);
  } catch (err) {
    return [...problems, `index.json: ${String(err)}`];
  }
  if (entries.length === 0) problems.push("index.json: no manifests");
  for (const entry of entries) await checkNode(dir, entry, problems);
  return problems;
}

async function checkNode(dir: string, d: Descriptor, problems: string[]): Promise<void> {
  const bytes = await blob(dir, d, problems);
  if (bytes === undefined) return;
  try {
    if (isIndexMediaType(d.mediaType)) {
      for (const child of parseIndex(bytes).manifests) await checkNode(dir, child, problems);
      return;
    }
    const manifest = parseManifest(bytes);
    const config = await blob(dir, manifest.config, problems);
    if (config === undefined) return;
    const diffIds = (JSON.parse(config.toString("utf8")) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
      problems.push(`${manifest.config.digest}: rootfs.diff_ids do not match the ${manifest.layers.length} layers`);
      return;
    }
    for (const [i, layer] of manifest.layers.entries()) {
      const data = await blob(dir, layer, problems);
      if (data === undefined) continue;
      const tarBytes = await decompress(data, compressionOf(layer.mediaType));
      if (sha256Digest(tarBytes) !== diffIds[i]) problems.push(`${layer.digest}: uncompressed digest is not diff_id ${String(diffIds[i])}`);
    }
  } catch (err) {
    problems.push(`${d.digest}: ${String(err)}`);
  }
}

async function blob(dir: string, d: Descriptor, problems: string[]): Promise<Buffer | undefined> {
  let data: Buffer;
  try {
    data = await readFile(blobPath(dir, d.digest));
  } catch {
    problems.push(`${d.digest}: blob missing`);
    return undefined;
  }
  if (sha256Digest(data) !== d.digest) problems.push(`${d.digest}: content has digest ${sha256Digest(data)}`);
  if (data.length !== d.size) problems.push(`${d.digest}: size ${data.length}, descriptor says ${d.size}`);
  return data;
}

function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith("gzip")) return "gzip";
  if (mediaType.endsWith("zstd")) return "zstd";
  return "none";
}
