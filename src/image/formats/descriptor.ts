/**
 * Content descriptors and platforms, the references between the nodes of an image graph
 * (image-spec descriptor.md; platform from image-index.md, "platform").
 */
import * as z from "../../lib/schema.js";
import { digestSchema } from "./digest.js";

/**
 * A media type as RFC 6838 section 4.2 restricts it (descriptor.md, "mediaType": values MUST comply
 * with RFC 6838). Rejecting anything else keeps control characters and parameters out of the
 * strings rkt later compares and prints.
 */
export const mediaTypeSchema = z.string().check(
  z.regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, {
    error: "invalid media type (RFC 6838)",
  }),
);

/** The platform an image runs on (image-index.md, "platform"). Values follow Go's GOOS/GOARCH. */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly "os.version"?: string | undefined;
  readonly "os.features"?: readonly string[] | undefined;
  /** CPU variant: `v6`/`v7`/`v8` for arm, `v8` for arm64 (image-index.md variant table). */
  readonly variant?: string | undefined;
  readonly features?: readonly string[] | undefined;
}

/** Schema for a platform object; `architecture` and `os` are REQUIRED (image-index.md). */
export const platformSchema: z.ZodMiniType<Platform> = z.object({
  architecture: z.string().check(z.minLength(1)),
  os: z.string().check(z.minLength(1)),
  "os.version": z.optional(z.string()),
  "os.features": z.optional(z.array(z.string())),
  variant: z.optional(z.string()),
  features: z.optional(z.array(z.string())),
});

/**
 * A descriptor: what a blob is, its digest and its exact size (descriptor.md, "Properties"). The
 * size lets a fetch stop as soon as a registry sends more than promised ("If the length of the
 * retrieved content does not match the specified length, the content SHOULD NOT be trusted").
 */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  /** Size in bytes of the raw content: a non-negative safe integer. */
  readonly size: number;
  readonly urls?: readonly string[] | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** Only meaningful in an index's `manifests` (image-index.md). */
  readonly platform?: Platform | undefined;
  /** OCI 1.1 artifacts (descriptor.md, "artifactType"). */
  readonly artifactType?: string | undefined;
}

/** Schema for a descriptor: digest format checked, size a non-negative integer. */
export const descriptorSchema: z.ZodMiniType<Descriptor> = z.object({
  mediaType: mediaTypeSchema,
  digest: digestSchema,
  size: z.int().check(z.nonnegative()),
  urls: z.optional(z.array(z.string())),
  annotations: z.optional(z.record(z.string(), z.string())),
  platform: z.optional(platformSchema),
  artifactType: z.optional(mediaTypeSchema),
});

/**
 * A platform as people write it: `os/architecture[/variant]`.
 *
 * @example
 * formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }); // "linux/arm/v7"
 */
export function formatPlatform(platform: Platform): string {
  const base = `${platform.os}/${platform.architecture}`;
  return platform.variant === undefined || platform.variant === "" ? base : `${base}/${platform.variant}`;
}
