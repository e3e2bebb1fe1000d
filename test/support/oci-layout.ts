/**
 * Reading and writing OCI image layout directories (image-spec image-layout.md): an `oci-layout`
 * file, `index.json`, and content-addressed `blobs/sha256/<hex>`. The fixtures write layouts here;
 * push.ts and the self-tests read them back.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { MEDIA_TYPES } from "./media-types.js";

/** The annotation that names an entry of `index.json` (image-spec annotations.md). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** An image platform (image-spec image-index.md "platform"), in GOOS/GOARCH names. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** An OCI content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  platform: z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

/** A parsed image index or manifest list: only what walking the graph needs. */
export type ParsedIndex = z.infer<typeof indexSchema>;
/** A parsed image manifest: only what walking the graph needs. */
export type ParsedManifest = z.infer<typeof manifestSchema>;

/** `sha256:<hex>` of `data`. */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Path of a blob inside a layout. */
export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  if (alg !== "sha256" || hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) throw new Error(`bad digest ${digest}`);
  return join(dir, "blobs", alg, hex);
}

/** Creates `oci-layout` and an empty `index.json` unless they exist. */
export async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  if (!(await exists(join(dir, "oci-layout")))) {
    await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }
  if (!(await exists(join(dir, "index.json")))) {
    await writeIndexJson(dir, []);
  }
}

/** Stores `data` as a blob and returns its descriptor. Existing blobs are kept (same digest, same bytes). */
export async function writeBlob(dir: string, mediaType: string, data: Uint8Array): Promise<Descriptor> {
  const digest = sha256Digest(data);
  const path = blobPath(dir, digest);
  if (!(await exists(path))) {
    await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    await writeFile(path, data);
  }
  return { mediaType, digest, size: data.length };
}

/** Reads a blob and checks it against its digest. */
export async function readBlob(dir: string, digest: string): Promise<Buffer> {
  const data = await readFile(blobPath(dir, digest));
  const actual = sha256Digest(data);
  if (actual !== digest) throw new Error(`blob ${digest} in ${dir} has digest ${actual}`);
  return data;
}

/** The descriptors listed in the layout's `index.json`. */
export async function readIndexJson(dir: string): Promise<Descriptor[]> {
  return indexSchema.parse(JSON.parse(await readFile(join(dir, "index.json"), "utf8"))).manifests;
}

/**
 * Adds `descriptor` to `index.json` under the name `ref` (replacing an entry of that name), or
 * unnamed when `ref` is undefined.
 */
export async function addToIndexJson(dir: string, descriptor: Descriptor, ref?: string): Promise<void> {
  const entries = (await readIndexJson(dir)).filter((d) => ref === undefined || d.annotations?.[REF_NAME_ANNOTATION] !== ref);
  const entry: Descriptor =
    ref === undefined
      ? descriptor
      : { ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME_ANNOTATION]: ref } };
  entries.push(entry);
  await writeIndexJson(dir, entries);
}

/**
 * Finds a top-level entry of `index.json`: the one named `ref`, or the only one when `ref` is
 * undefined.
 */
export async function findInLayout(dir: string, ref?: string): Promise<Descriptor> {
  const entries = await readIndexJson(dir);
  const found = ref === undefined ? entries : entries.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
  const [first] = found;
  if (first === undefined || found.length > 1) {
    const names = entries.map((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? d.digest).join(", ");
    throw new Error(`${dir}: ${ref === undefined ? "no single entry" : `no single entry named ${ref}`} in index.json (has: ${names})`);
  }
  return first;
}

/** Parses an index or manifest list blob. */
export function parseIndex(data: Uint8Array): ParsedIndex {
  return indexSchema.parse(JSON.parse(Buffer.from(data).toString("utf8")));
}

/** Parses an image manifest blob. */
export function parseManifest(data: Uint8Array): ParsedManifest {
  return manifestSchema.parse(JSON.parse(Buffer.from(data).toString("utf8")));
}

async function writeIndexJson(dir: string, manifests: readonly Descriptor[]): Promise<void> {
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
