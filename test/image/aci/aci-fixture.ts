/**
 * ACI files built by code for the ACI tests: a tar with `manifest` and `rootfs/` (appc aci.md
 * "Image Layout"), plain or compressed with gzip, bzip2 or xz by the real tools.
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { execTool } from "../../support/exec-tool.js";
import { layerTar, type LayerEntry } from "../../support/layer-tar.js";

/** How an ACI file is compressed (aci.md: "MAY be compressed with gzip, bzip2, or xz"). */
export type AciCompression = "none" | "gzip" | "bzip2" | "xz";

/** An image manifest with the usual labels; `extra` overrides or adds fields. */
export function manifestFor(name: string, version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    acKind: "ImageManifest",
    acVersion: "0.8.11",
    name,
    labels: [
      { name: "version", value: version },
      { name: "os", value: "linux" },
      { name: "arch", value: "amd64" },
    ],
    app: { exec: ["/bin/app"], user: "0", group: "0" },
    ...extra,
  };
}

/** Prefixes rootfs entries with `rootfs/` (hard link targets too). */
export function inRootfs(entries: readonly LayerEntry[]): LayerEntry[] {
  const prefix = (p: string): string => `rootfs/${p.replace(/^\/+/, "")}`;
  return entries.map((e) => {
    if (e.type === "raw") return e;
    if (e.type === "hardlink") return { ...e, path: prefix(e.path), target: prefix(e.target) };
    return { ...e, path: prefix(e.path) };
  });
}

/**
 * The uncompressed ACI tar: `manifest` (JSON of `manifest`, or the bytes as given), the `rootfs/`
 * directory, then `rootfs` entries (paths relative to rootfs) and `raw` entries as they are.
 */
export async function aciTar(manifest: Record<string, unknown> | string | Buffer | undefined, rootfs: readonly LayerEntry[], raw: readonly LayerEntry[] = []): Promise<Buffer> {
  const entries: LayerEntry[] = [];
  if (manifest !== undefined) {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(typeof manifest === "string" ? manifest : JSON.stringify(manifest));
    entries.push({ type: "file", path: "manifest", content: bytes });
  }
  entries.push({ type: "dir", path: "rootfs", mode: 0o755 }, ...inRootfs(rootfs), ...raw);
  return layerTar(entries);
}

/** Compresses an ACI tar. */
export async function compressAci(tar: Buffer, compression: AciCompression): Promise<Buffer> {
  switch (compression) {
    case "none":
      return tar;
    case "gzip":
      return gzipSync(tar);
    case "bzip2":
      return execTool("bzip2", ["-c", "-9"], { input: tar });
    case "xz":
      return execTool("xz", ["-c", "-T1"], { input: tar });
  }
}

/** Writes an ACI file into `dir` and returns its path. */
export async function writeAci(dir: string, fileName: string, tar: Buffer, compression: AciCompression = "gzip"): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, await compressAci(tar, compression));
  return path;
}

/** `sha512:<hex>` of some bytes: the image ID of an uncompressed ACI tar. */
export function sha512Of(data: Buffer): string {
  return `sha512:${createHash("sha512").update(data).digest("hex")}`;
}

/** `sha256:<hex>` of some bytes. */
export function sha256Of(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
