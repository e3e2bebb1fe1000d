/**
 * A base image from the rkt store, as a build uses it: for an OCI output its layers (blobs
 * copied as they are, with OCI media types; an ACI's archives converted to layers) and its
 * configuration, whose execution defaults the build inherits; for an ACI output its appc
 * identity, which becomes the first `dependencies` entry pinned by image ID (aci.md
 * "dependencies": "the retrieved dependency must match the hash").
 */
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { parseImageConfig, type ImageConfig } from "../formats/image-config.js";
import { layerEncoding, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP, OCI_LAYER_TAR_ZSTD } from "../formats/media-types.js";
import type { ImageRecord } from "../store/image-record.js";
import type { ImageStore } from "../store/image-store.js";
import { splitDigest } from "../store/store-paths.js";
import { aciToOciLayer } from "./aci-to-oci-layer.js";
import type { DependencySpec } from "./build-spec.js";
import { ociPlatform, type OciPlatform } from "./platform-labels.js";

/** A layer of the base image, ready to be copied into an OCI output. */
export interface BaseLayer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  /** The blob's file (in the store, or converted in the work directory). */
  readonly path: string;
}

/** What an OCI output takes from the base. */
export interface OciBase {
  readonly layers: readonly BaseLayer[];
  /** Undefined for an ACI base: appc ignores a dependency's execution details (aci.md). */
  readonly config: ImageConfig | undefined;
  readonly platform: OciPlatform;
}

/**
 * The layers and configuration of `record` for an OCI output. ACI layers are converted into
 * `workDir` (compressed like the build's own layer).
 */
export async function ociBase(store: ImageStore, record: ImageRecord, options: { readonly workDir: string; readonly compression: "gzip" | "none"; readonly signal?: AbortSignal }): Promise<OciBase> {
  const layers: BaseLayer[] = [];
  for (const [i, layer] of record.layers.entries()) {
    const path = store.blobPath(layer.digest);
    if (store.blobSize(layer.digest) === undefined) {
      throw new RktError("data-loss", `base image ${record.id}: layer ${layer.digest} is missing from the store`, { hint: "fetch the base image again" });
    }
    if (record.format === "aci") {
      const out = join(options.workDir, `base-layer-${i}`);
      const written = await aciToOciLayer(path, out, { compression: options.compression, ...(options.signal === undefined ? {} : { signal: options.signal }) });
      layers.push({ mediaType: options.compression === "gzip" ? OCI_LAYER_TAR_GZIP : OCI_LAYER_TAR, ...written, path: out });
      continue;
    }
    const encoding = layerEncoding(layer.mediaType);
    if (encoding === undefined || !encoding.distributable) {
      throw new RktError("failed-precondition", `base image ${record.id}: layer ${layer.digest} has media type ${layer.mediaType}, which an OCI image cannot carry`, {
        hint: "pick a base image with ordinary tar, tar+gzip or tar+zstd layers",
      });
    }
    const mediaType = encoding.compression === "gzip" ? OCI_LAYER_TAR_GZIP : encoding.compression === "zstd" ? OCI_LAYER_TAR_ZSTD : OCI_LAYER_TAR;
    layers.push({ mediaType, digest: layer.digest, size: layer.size, diffId: layer.diffId, path });
  }
  if (record.format === "aci") {
    const labels = record.aci?.labels ?? {};
    return { layers, config: undefined, platform: ociPlatform(labels.os ?? record.platform.os, labels.arch ?? record.platform.architecture) };
  }
  const config = parseImageConfig(store.readBlob(record.configDigest), `config of base image ${record.id}`);
  const platform = { os: config.os, architecture: config.architecture, ...(config.variant === undefined ? {} : { variant: config.variant }) };
  return { layers, config, platform };
}

/**
 * The appc dependency an ACI output gets for a base ACI: its name and labels, pinned by image ID
 * and size. A base that is not an ACI cannot be an appc dependency.
 */
export function aciBaseDependency(store: ImageStore, record: ImageRecord, text: string): DependencySpec {
  if (record.format !== "aci" || record.aci === undefined) {
    throw new RktError("invalid-argument", `base image "${text}" is an ${record.format.toUpperCase()} image; an ACI can only depend on ACIs`, {
      hint: "build an OCI output (--output=oci:DIR) on this base, or pick an ACI base",
    });
  }
  const size = store.blobSize(record.id);
  return {
    imageName: record.aci.name,
    imageID: `sha512-${splitDigest(record.id).hex}`,
    labels: record.aci.labels,
    ...(size === undefined ? {} : { size }),
  };
}
