/**
 * The pod manifest (appc spec, pods.md "Pod Manifest Schema", acVersion 0.8.11): what `rkt
 * cat-manifest` prints and `rkt run --pod-manifest` takes. It is the pod's source of truth: every
 * later step (mounts, runtime configs, status) is derived from it, so an edited manifest runs
 * exactly as edited.
 *
 * Beyond appc, `image.id` holds our OCI image ID (`sha256:<hex>` manifest digest) and `app` is
 * always filled from the image config, so the manifest is self-contained.
 */
import * as z from "../lib/schema.js";

const nameValue = z.object({ name: z.string(), value: z.string() });

export const isolatorSchema = z.object({ name: z.string(), value: z.unknown() });
export type Isolator = z.infer<typeof isolatorSchema>;

export const appSectionSchema = z.object({
  exec: z.array(z.string()),
  user: z.string(),
  group: z.string(),
  supplementaryGIDs: z.optional(z.array(z.number().check(z.int(), z.nonnegative()))),
  workingDirectory: z.optional(z.string()),
  environment: z.optional(z.array(nameValue)),
  isolators: z.optional(z.array(isolatorSchema)),
  mountPoints: z.optional(z.array(z.object({ name: z.string(), path: z.string(), readOnly: z.optional(z.boolean()) }))),
  ports: z.optional(
    z.array(
      z.object({
        name: z.string(),
        protocol: z.string(),
        port: z.number().check(z.int()),
        count: z.optional(z.number().check(z.int())),
        socketActivated: z.optional(z.boolean()),
      }),
    ),
  ),
});
export type AppSection = z.infer<typeof appSectionSchema>;

export const podAppSchema = z.object({
  name: z.string().check(z.regex(/^[a-z0-9]+([-][a-z0-9]+)*$/, "app names are lowercase letters, digits and dashes (appc ACName)")),
  image: z.object({
    name: z.optional(z.string()),
    id: z.string(),
    labels: z.optional(z.array(nameValue)),
  }),
  app: appSectionSchema,
  readOnlyRootFS: z.optional(z.boolean()),
  mounts: z.optional(z.array(z.object({ volume: z.string(), path: z.string() }))),
  annotations: z.optional(z.array(nameValue)),
});
export type PodApp = z.infer<typeof podAppSchema>;

export const volumeSchema = z.object({
  name: z.string(),
  kind: z.enum(["host", "empty"]),
  source: z.optional(z.string()),
  readOnly: z.optional(z.boolean()),
  recursive: z.optional(z.boolean()),
  mode: z.optional(z.string()),
  uid: z.optional(z.number().check(z.int())),
  gid: z.optional(z.number().check(z.int())),
});
export type Volume = z.infer<typeof volumeSchema>;

export const podManifestSchema = z.object({
  acVersion: z.string(),
  acKind: z.literal("PodManifest"),
  apps: z.array(podAppSchema),
  volumes: z.optional(z.array(volumeSchema)),
  isolators: z.optional(z.array(isolatorSchema)),
  annotations: z.optional(z.array(nameValue)),
  ports: z.optional(z.array(z.object({ name: z.string(), hostPort: z.number().check(z.int()), hostIP: z.optional(z.string()), podPort: z.optional(z.unknown()) }))),
  userAnnotations: z.optional(z.record(z.string(), z.string())),
  userLabels: z.optional(z.record(z.string(), z.string())),
});
export type PodManifest = z.infer<typeof podManifestSchema>;

export const AC_VERSION = "0.8.11";

/** Looks up a value in appc's `[{name, value}]` lists. */
export function nameValueGet(list: readonly { name: string; value: string }[] | undefined, name: string): string | undefined {
  return list?.find((e) => e.name === name)?.value;
}
