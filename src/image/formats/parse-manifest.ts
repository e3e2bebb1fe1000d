/**
 * Turns manifest bytes from a registry or layout into a typed manifest or index. The kind is
 * decided by the document's own `mediaType` field first, then the Content-Type the server sent,
 * then the document's shape (OCI allows manifests and indexes without `mediaType`). The body wins
 * over the header because the body is what the digest covers; a header is only a server's claim.
 */
import type * as z from "../../lib/schema.js";
import { RktError } from "../../lib/errors.js";
import type { ImageIndex } from "./image-index.js";
import { dockerManifestListSchema, ociIndexSchema } from "./image-index.js";
import type { ImageManifest } from "./image-manifest.js";
import { dockerManifestSchema, ociManifestSchema } from "./image-manifest.js";
import {
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V2,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
  isSchema1MediaType,
} from "./media-types.js";
import { decodeJson, formatIssues } from "./parse-document.js";

/** A parsed manifest document: either one image, or an index of per-platform images. */
export type ParsedManifest =
  | {
      readonly kind: "manifest";
      readonly format: "oci" | "docker";
      /** The media type the document was read as. */
      readonly mediaType: typeof OCI_IMAGE_MANIFEST | typeof DOCKER_MANIFEST_V2;
      readonly manifest: ImageManifest;
    }
  | {
      readonly kind: "index";
      readonly format: "oci" | "docker";
      readonly mediaType: typeof OCI_IMAGE_INDEX | typeof DOCKER_MANIFEST_LIST;
      readonly index: ImageIndex;
    };

/** The message for schema 1 manifests, which rkt refuses (see parseManifest). */
export const SCHEMA1_UNSUPPORTED =
  "Docker image manifest schema 1 is deprecated and not supported; push the image again with a current docker/skopeo to get schema 2";

/**
 * Parses a manifest or index. `contentType` is the HTTP Content-Type (parameters are ignored), or
 * undefined when there is none (a layout). `what` names the image in errors.
 *
 * Docker schema 1 is refused: it has no config blob and no content-addressable layers list, and
 * registries stopped serving it (Docker Hub since 2024). Unknown types are refused too: an OCI
 * artifact manifest or a Helm chart is not an image rkt can run.
 *
 * @example
 * const parsed = parseManifest(bytes, res.headers["content-type"], "docker://redis:7");
 * if (parsed.kind === "index") selectPlatform(parsed.index);
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what = "manifest"): ParsedManifest {
  const doc = decodeJson(bytes, `manifest of ${what}`);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new RktError("invalid-argument", `invalid manifest of ${what}: not a JSON object`);
  }
  const fields = doc as Record<string, unknown>;
  const bodyType = typeof fields.mediaType === "string" ? fields.mediaType : undefined;
  const headerType = contentType === undefined ? undefined : essence(contentType);

  if (fields.schemaVersion === 1 || [bodyType, headerType].some((t) => t !== undefined && isSchema1MediaType(t))) {
    throw new RktError("unimplemented", `${what}: ${SCHEMA1_UNSUPPORTED}`);
  }

  const mediaType = bodyType ?? specificType(headerType) ?? sniff(fields);
  switch (mediaType) {
    case OCI_IMAGE_MANIFEST:
      return { kind: "manifest", format: "oci", mediaType, manifest: check(ociManifestSchema.safeParse(doc), what) };
    case DOCKER_MANIFEST_V2:
      return { kind: "manifest", format: "docker", mediaType, manifest: check(dockerManifestSchema.safeParse(doc), what) };
    case OCI_IMAGE_INDEX:
      return { kind: "index", format: "oci", mediaType, index: check(ociIndexSchema.safeParse(doc), what) };
    case DOCKER_MANIFEST_LIST:
      return { kind: "index", format: "docker", mediaType, index: check(dockerManifestListSchema.safeParse(doc), what) };
    case undefined:
      throw new RktError("invalid-argument", `invalid manifest of ${what}: no mediaType and neither "manifests" nor "config"/"layers"`);
    default:
      throw new RktError("unimplemented", `${what}: media type "${printable(mediaType)}" is not a container image manifest rkt supports`, {
        hint: "rkt runs OCI image manifests/indexes and Docker manifest schema 2/manifest lists; artifacts such as Helm charts or signatures are not images",
      });
  }
}

/** `type/subtype` without parameters, lowercased (RFC 9110 section 8.3.1: case-insensitive). */
function essence(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** A header type that says something; generic JSON types (some registries send them) do not. */
function specificType(type: string | undefined): string | undefined {
  if (type === undefined || type === "" || type === "application/json" || type === "text/plain" || type === "application/octet-stream") {
    return undefined;
  }
  return type;
}

/** OCI allows omitting `mediaType` (manifest.md, image-index.md: "reserved"/"SHOULD"); go by shape. */
function sniff(fields: Record<string, unknown>): string | undefined {
  if (Array.isArray(fields.manifests)) return OCI_IMAGE_INDEX;
  if ("config" in fields && Array.isArray(fields.layers)) return OCI_IMAGE_MANIFEST;
  return undefined;
}

function check<T>(result: { success: true; data: T } | { success: false; error: z.core.$ZodError }, what: string): T {
  if (!result.success) throw new RktError("invalid-argument", `invalid manifest of ${what}: ${formatIssues(result.error)}`);
  return result.data;
}

/** Media types come from the network: keep them short and printable in messages. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}...` : clean;
}

/**
 * Re-exported for callers that think of platform selection as part of reading a manifest; the
 * implementation lives in select-platform.ts.
 */

