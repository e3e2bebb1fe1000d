/**
 * The image configuration: platform, rootfs diff IDs, history and the execution defaults rkt turns
 * into an app (image-spec config.md; the Docker config `application/vnd.docker.container.image.v1+json`
 * has the same shape for these fields).
 */
import * as z from "../../lib/schema.js";
import { digestSchema } from "./digest.js";
import { parseDocument } from "./parse-document.js";

/**
 * Execution defaults (config.md, "config"). Docker writes `null` for unset fields and the spec says
 * any OPTIONAL field MAY be null, "which is equivalent to being absent", so null becomes undefined.
 */
export interface ImageExecConfig {
  readonly User?: string | undefined;
  /** Keys `port/tcp`, `port/udp` or `port` (tcp); the values are empty objects. */
  readonly ExposedPorts?: Readonly<Record<string, unknown>> | undefined;
  /** `NAME=value` entries. */
  readonly Env?: readonly string[] | undefined;
  readonly Entrypoint?: readonly string[] | undefined;
  readonly Cmd?: readonly string[] | undefined;
  /** Keys are absolute paths; the values are empty objects. */
  readonly Volumes?: Readonly<Record<string, unknown>> | undefined;
  readonly WorkingDir?: string | undefined;
  readonly Labels?: Readonly<Record<string, string>> | undefined;
  /** A signal name (`SIGTERM`) or number, sent to stop the container. */
  readonly StopSignal?: string | undefined;
}

/** One history entry (config.md, "history"). */
export interface ImageHistoryEntry {
  readonly created?: string | undefined;
  readonly author?: string | undefined;
  readonly created_by?: string | undefined;
  readonly comment?: string | undefined;
  /** True when the step made no filesystem change, so it has no entry in `rootfs.diff_ids`. */
  readonly empty_layer?: boolean | undefined;
}

/** An image configuration, OCI or Docker. */
export interface ImageConfig {
  readonly created?: string | undefined;
  readonly author?: string | undefined;
  /** REQUIRED (config.md). */
  readonly architecture: string;
  /** REQUIRED (config.md). */
  readonly os: string;
  readonly "os.version"?: string | undefined;
  readonly "os.features"?: readonly string[] | undefined;
  readonly variant?: string | undefined;
  readonly config?: ImageExecConfig | undefined;
  /** REQUIRED; `type` MUST be `layers` and rkt errors on anything else, as the spec demands. */
  readonly rootfs: { readonly type: "layers"; readonly diff_ids: readonly string[] };
  readonly history?: readonly ImageHistoryEntry[] | undefined;
}

/** `T | null | undefined` in, `T | undefined` out (config.md: null is equivalent to absent). */
function nullable<T extends z.ZodMiniType>(schema: T) {
  return z.pipe(
    z.nullish(schema),
    z.transform((v: z.infer<T> | null | undefined) => v ?? undefined),
  );
}

const execConfigSchema = z.object({
  User: nullable(z.string()),
  ExposedPorts: nullable(z.record(z.string(), z.unknown())),
  Env: nullable(z.array(z.string())),
  Entrypoint: nullable(z.array(z.string())),
  Cmd: nullable(z.array(z.string())),
  Volumes: nullable(z.record(z.string(), z.unknown())),
  WorkingDir: nullable(z.string()),
  Labels: nullable(z.record(z.string(), z.string())),
  StopSignal: nullable(z.string()),
});

const historySchema = z.object({
  created: nullable(z.string()),
  author: nullable(z.string()),
  created_by: nullable(z.string()),
  comment: nullable(z.string()),
  empty_layer: nullable(z.boolean()),
});

/** Schema for an image configuration blob. Unknown fields are dropped (config.md: "should be ignored"). */
export const imageConfigSchema: z.ZodMiniType<ImageConfig> = z.object({
  created: nullable(z.string()),
  author: nullable(z.string()),
  architecture: z.string().check(z.minLength(1)),
  os: z.string().check(z.minLength(1)),
  "os.version": nullable(z.string()),
  "os.features": nullable(z.array(z.string())),
  variant: nullable(z.string()),
  config: nullable(execConfigSchema),
  rootfs: z.object({
    type: z.literal("layers", { error: 'rootfs.type must be "layers" (OCI image-spec config.md)' }),
    diff_ids: z.array(digestSchema),
  }),
  history: nullable(z.array(historySchema)),
});

/**
 * Parses an image configuration blob. `what` names it in errors.
 *
 * @example
 * const config = parseImageConfig(bytes, `config ${descriptor.digest} of docker://redis`);
 * config.config?.Entrypoint; // ["docker-entrypoint.sh"]
 */
export function parseImageConfig(bytes: Uint8Array, what = "image config"): ImageConfig {
  return parseDocument(bytes, imageConfigSchema, what);
}
