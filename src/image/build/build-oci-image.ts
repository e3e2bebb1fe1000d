/**
 * Builds the blobs of an OCI image once (image-spec manifest.md, config.md, layer.md) as files in
 * a work directory, for every OCI output to copy: the base's layers (if any), one layer with the copied files (tar, gzip
 * unless asked not to), the configuration and the manifest. JSON documents are serialized with a
 * fixed key order and no whitespace, so equal inputs give equal digests.
 */
import { createWriteStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { RktError } from "../../lib/errors.js";
import { digestOf } from "../formats/digest.js";
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP } from "../formats/media-types.js";
import type { OciBase } from "./base-image.js";
import type { BuildSpec } from "./build-spec.js";
import { DigestStream } from "./digest-stream.js";
import { ociConfigDocument } from "./oci-config-document.js";
import { packRootfs } from "./pack-rootfs.js";
import { ociPlatform, type OciPlatform } from "./platform-labels.js";
import type { RootfsEntry } from "./rootfs-entries.js";

/** A blob of a built image, in a file (the work directory, or the store for base layers). */
export interface OciBlob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly path: string;
}

/** A built OCI image: what an index entry points at, and every blob it needs. */
export interface OciImage {
  readonly manifest: OciBlob;
  readonly config: OciBlob;
  readonly layers: readonly OciBlob[];
  readonly platform: OciPlatform;
}

/** Inputs of {@link buildOciImage} besides the entries and the spec. */
export interface BuildOciImageOptions {
  readonly base?: OciBase | undefined;
  /** The host's appc os/arch, used when neither the labels nor a base say. */
  readonly host: { readonly os: string; readonly arch: string };
  /** Stamped on every tar entry, and (as RFC 3339) as the config's `created`. */
  readonly mtime: Date;
  readonly compression: "gzip" | "none";
  /** A private directory for the layer file. */
  readonly workDir: string;
  readonly signal?: AbortSignal;
}

/**
 * @example
 * const image = await buildOciImage(entries, spec, { host, mtime: new Date(0), compression: "gzip", workDir });
 * image.manifest.digest; // "sha256:..."
 */
export async function buildOciImage(entries: readonly RootfsEntry[], spec: BuildSpec, options: BuildOciImageOptions): Promise<OciImage> {
  const platform = pickPlatform(spec, options);
  const layerPath = join(options.workDir, "layer");
  const tarDigest = new DigestStream("sha256");
  const blobDigest = new DigestStream("sha256");
  const out = createWriteStream(layerPath, { flags: "wx", mode: 0o644 });
  const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
  const tar = packRootfs(entries, { mtime: options.mtime });
  if (options.compression === "gzip") await pipeline(tar, tarDigest, createGzip({ level: 9 }), blobDigest, out, signalOpt);
  else await pipeline(tar, tarDigest, blobDigest, out, signalOpt);

  const baseLayers: OciBlob[] = (options.base?.layers ?? []).map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, path: l.path }));
  const layer: OciBlob = {
    mediaType: options.compression === "gzip" ? OCI_LAYER_TAR_GZIP : OCI_LAYER_TAR,
    digest: blobDigest.digest(),
    size: blobDigest.size,
    path: layerPath,
  };
  const layers = [...baseLayers, layer];
  const configDoc = ociConfigDocument(spec, {
    platform,
    base: options.base?.config,
    diffIds: [...(options.base?.layers ?? []).map((l) => l.diffId), tarDigest.digest()],
    created: options.mtime.toISOString().replace(/\.000Z$/, "Z"),
  });
  const config = jsonBlob(OCI_IMAGE_CONFIG, configDoc, join(options.workDir, "config.json"));
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: descriptor(config),
    layers: layers.map(descriptor),
  };
  const manifest = jsonBlob(OCI_IMAGE_MANIFEST, manifestDoc, join(options.workDir, "manifest.json"));
  return { manifest, config, layers, platform };
}

/** An OCI descriptor of a blob (image-spec descriptor.md). */
export function descriptor(blob: OciBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
}

function jsonBlob(mediaType: string, doc: unknown, path: string): OciBlob {
  const data = Buffer.from(JSON.stringify(doc));
  writeFileSync(path, data, { flag: "wx", mode: 0o644 });
  return { mediaType, digest: digestOf(data), size: data.length, path };
}

/** The labels' os/arch, else the base's platform, else the host's; labels may not contradict the base. */
function pickPlatform(spec: BuildSpec, options: BuildOciImageOptions): OciPlatform {
  const os = spec.labels?.os;
  const arch = spec.labels?.arch;
  const base = options.base?.platform;
  if (base !== undefined) {
    const osDiffers = os !== undefined && os !== base.os;
    const archDiffers = arch !== undefined && ociPlatform(base.os, arch).architecture !== base.architecture;
    if (osDiffers || archDiffers) {
      throw new RktError("invalid-argument", `labels os=${os ?? base.os} arch=${arch ?? base.architecture} contradict the base image's platform ${base.os}/${base.architecture}`, {
        hint: "drop the os/arch labels to inherit the base's platform, or pick a base for that platform",
      });
    }
    return base;
  }
  // OCI requires an architecture (config.md), so an image without labels gets the host's.
  return ociPlatform(os ?? options.host.os, arch ?? options.host.arch);
}
