/**
 * Builds images by code into an OCI image layout: layers from {@link LayerEntry} lists, an image
 * config, and a manifest in OCI form or Docker schema 2 form; indexes (OCI image index or Docker
 * manifest list) for several platforms. Output is deterministic (fixed mtimes and created dates,
 * fixed JSON key order), so a fixture has the same digests on every run.
 *
 * Ready-made images (busybox, multi-layer, multi-platform) are in image-fixtures.ts.
 */
import { createHash } from "node:crypto";
import { compress, FIXED_MTIME, layerTar, type Compression, type LayerEntry } from "./layer-tar.js";
import { MEDIA_TYPES } from "./media-types.js";
import { addToIndexJson, initLayout, writeBlob, type Descriptor, type Platform } from "./oci-layout.js";

export type { Compression, LayerEntry } from "./layer-tar.js";
export type { Descriptor, Platform } from "./oci-layout.js";

/** "oci": OCI media types. "docker": Docker image manifest v2 schema 2 media types. */
export type ImageFormat = "oci" | "docker";

/** One layer: its entries in tar order, and optionally its own compression. */
export interface LayerSpec {
  readonly entries: readonly LayerEntry[];
  /** Overrides the image's compression for this layer (mixed layers are legal). */
  readonly compression?: Compression;
  /** The history entry's `created_by`. */
  readonly createdBy?: string;
}

/** The `config` object of an image config (image-spec config.md "Properties"). */
export interface ContainerConfig {
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, Record<string, never>>>;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Volumes?: Readonly<Record<string, Record<string, never>>>;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly StopSignal?: string;
}

/** What an image is made of, without where it goes. */
export interface ImageContent {
  readonly layers: readonly LayerSpec[];
  readonly config?: ContainerConfig;
  /** Default "oci". */
  readonly format?: ImageFormat;
  /** Default "gzip". */
  readonly compression?: Compression;
  /** Default: the host's (see {@link hostPlatform}). */
  readonly platform?: Platform;
  /** Manifest annotations (written for "oci" only; schema 2 has none). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Extra top-level fields merged into the image config, for unusual or hostile configs. */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

/** An image and where {@link buildImage} writes it. */
export interface ImageSpec extends ImageContent {
  /** The OCI layout directory; created if needed, other images in it are kept. */
  readonly dir: string;
  /** The name in index.json (`org.opencontainers.image.ref.name`); replaces an entry of that name. */
  readonly ref?: string;
}

/** A layer written to the layout. */
export interface BuiltLayer {
  readonly descriptor: Descriptor;
  /** sha256 of the uncompressed tar, as listed in the config's `rootfs.diff_ids`. */
  readonly diffId: string;
}

/** An image written to a layout, with every digest a test may want to assert on. */
export interface BuiltImage {
  readonly dir: string;
  readonly ref: string | undefined;
  readonly format: ImageFormat;
  readonly platform: Platform;
  /** The manifest's descriptor (with `platform`), as an index would list it. */
  readonly descriptor: Descriptor;
  readonly manifestBytes: Buffer;
  readonly config: { readonly descriptor: Descriptor; readonly bytes: Buffer };
  readonly layers: readonly BuiltLayer[];
}

/** An index written to a layout, with the images it lists. */
export interface BuiltIndex {
  readonly dir: string;
  readonly ref: string | undefined;
  readonly format: ImageFormat;
  readonly descriptor: Descriptor;
  readonly indexBytes: Buffer;
  readonly images: readonly BuiltImage[];
}

/** The created date written into configs and history: fixed so digests are stable. */
export const FIXED_CREATED = FIXED_MTIME.toISOString().replace(".000Z", "Z");

/**
 * Writes an image (layers, config, manifest) into the layout `spec.dir` and lists it in
 * index.json under `spec.ref`.
 *
 * @example
 * const image = await buildImage({
 *   dir,
 *   ref: "latest",
 *   layers: [{ entries: [{ type: "file", path: "/hello", content: "hi\n" }] }],
 *   config: { Cmd: ["/hello"] },
 *   format: "docker",
 * });
 * image.descriptor.digest; // sha256:... of the manifest
 */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  await initLayout(spec.dir);
  const image = await writeImage(spec.dir, spec.ref, spec);
  await addToIndexJson(spec.dir, withoutPlatform(image.descriptor), spec.ref);
  return image;
}

/** A multi-platform index and where {@link buildIndex} writes it. */
export interface IndexSpec {
  readonly dir: string;
  readonly ref?: string;
  /** "oci": OCI image index of OCI manifests; "docker": manifest list of schema 2 manifests. */
  readonly format?: ImageFormat;
  /** One image per platform; their own `format` is ignored in favour of the index's. */
  readonly images: readonly ImageContent[];
  /** Index annotations (written for "oci" only). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Writes an image per platform and an index listing them (with their platforms) into the layout,
 * and lists the index in index.json under `spec.ref`. The per-platform manifests are reachable only
 * through the index.
 *
 * @example
 * const index = await buildIndex({
 *   dir, ref: "latest",
 *   images: [
 *     { platform: { os: "linux", architecture: "amd64" }, layers: [...] },
 *     { platform: { os: "linux", architecture: "arm64" }, layers: [...] },
 *   ],
 * });
 */
export async function buildIndex(spec: IndexSpec): Promise<BuiltIndex> {
  await initLayout(spec.dir);
  const format = spec.format ?? "oci";
  const images: BuiltImage[] = [];
  for (const content of spec.images) images.push(await writeImage(spec.dir, undefined, { ...content, format }));
  const index =
    format === "oci"
      ? {
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociIndex,
          manifests: images.map((i) => i.descriptor),
          ...(spec.annotations === undefined ? {} : { annotations: spec.annotations }),
        }
      : { schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifestList, manifests: images.map((i) => i.descriptor) };
  const indexBytes = Buffer.from(JSON.stringify(index));
  const descriptor = await writeBlob(spec.dir, index.mediaType, indexBytes);
  await addToIndexJson(spec.dir, descriptor, spec.ref);
  return { dir: spec.dir, ref: spec.ref, format, descriptor, indexBytes, images };
}

/** The platform of the machine running the tests, in OCI terms (GOARCH names). */
export function hostPlatform(): Platform {
  const arch: Record<string, Platform> = {
    x64: { os: "linux", architecture: "amd64" },
    arm64: { os: "linux", architecture: "arm64" },
    arm: { os: "linux", architecture: "arm", variant: "v7" },
    ia32: { os: "linux", architecture: "386" },
    ppc64: { os: "linux", architecture: "ppc64le" },
    s390x: { os: "linux", architecture: "s390x" },
    riscv64: { os: "linux", architecture: "riscv64" },
  };
  return arch[process.arch] ?? { os: "linux", architecture: process.arch };
}

/** Layer media type for a format and compression. Docker schema 2 has no zstd layer type. */
export function layerMediaType(format: ImageFormat, compression: Compression): string {
  if (format === "oci") {
    return { none: MEDIA_TYPES.ociLayer, gzip: MEDIA_TYPES.ociLayerGzip, zstd: MEDIA_TYPES.ociLayerZstd }[compression];
  }
  if (compression === "zstd") throw new Error("Docker schema 2 has no zstd layer media type; use format \"oci\"");
  return compression === "gzip" ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.dockerLayer;
}

async function writeImage(dir: string, ref: string | undefined, content: ImageContent): Promise<BuiltImage> {
  const format = content.format ?? "oci";
  const platform = content.platform ?? hostPlatform();
  const layers: BuiltLayer[] = [];
  for (const layer of content.layers) {
    const tarBytes = await layerTar(layer.entries);
    const compression = layer.compression ?? content.compression ?? "gzip";
    const blob = await compress(tarBytes, compression);
    const descriptor = await writeBlob(dir, layerMediaType(format, compression), blob);
    layers.push({ descriptor, diffId: `sha256:${createHash("sha256").update(tarBytes).digest("hex")}` });
  }

  // Key order is fixed by construction; JSON.stringify keeps insertion order.
  const config = {
    created: FIXED_CREATED,
    architecture: platform.architecture,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    os: platform.os,
    config: content.config ?? {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: content.layers.map((l, i) => ({ created: FIXED_CREATED, created_by: l.createdBy ?? `rkt test layer ${i}` })),
    ...content.extraConfig,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor = await writeBlob(dir, format === "oci" ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig, configBytes);

  const manifest = {
    schemaVersion: 2,
    mediaType: format === "oci" ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
    ...(format === "oci" && content.annotations !== undefined ? { annotations: content.annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const stored = await writeBlob(dir, manifest.mediaType, manifestBytes);
  return {
    dir,
    ref,
    format,
    platform,
    descriptor: { ...stored, platform },
    manifestBytes,
    config: { descriptor: configDescriptor, bytes: configBytes },
    layers,
  };
}

function withoutPlatform(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
