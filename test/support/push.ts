/**
 * Puts images from an OCI layout into a test registry. `pushImage` uploads the exact bytes of the
 * layout (manifests, indexes, configs, layers) with our own API v2 client, so the digests a test
 * built are the digests the registry serves; `pushWithSkopeo` lets skopeo do it, as a third-party
 * producer (it may rewrite manifests, which is the point).
 */
import { execTool } from "./exec-tool.js";
import { isIndexMediaType } from "./media-types.js";
import { findInLayout, parseIndex, parseManifest, readBlob, type Descriptor } from "./oci-layout.js";
import { RegistryClient } from "./registry-client.js";
import type { TestRegistry } from "./registry.js";

/** Which entry of the layout to push, and under which tag. */
export interface PushOptions {
  /** The tag to push to. Default "latest". */
  readonly tag?: string;
  /** The index.json entry to push (its ref.name annotation). Default: the only entry. */
  readonly ref?: string;
}

/** What was pushed, as the registry serves it. */
export interface PushedImage {
  /** Digest of the top-level manifest or index, as the registry serves it. */
  readonly digest: string;
  readonly mediaType: string;
  /** `127.0.0.1:PORT/<name>:<tag>`, ready for `docker://`. */
  readonly reference: string;
}

/**
 * Uploads an image or index (and everything it references) from `layoutDir` to
 * `registry/<name>:<tag>` byte for byte: blobs by monolithic upload (POST then PUT ?digest=),
 * index children by digest before the index (the registry checks references exist), then the
 * top-level manifest under the tag with its own media type.
 *
 * @example
 * await busyboxImage({ dir: layout });
 * const pushed = await pushImage(layout, registry, "library/busybox");
 * // pushed.reference === `${registry.host}/library/busybox:latest`
 */
export async function pushImage(layoutDir: string, registry: TestRegistry, name: string, options: PushOptions = {}): Promise<PushedImage> {
  const tag = options.tag ?? "latest";
  const top = await findInLayout(layoutDir, options.ref);
  const client = new RegistryClient(registry);
  await pushNode(client, layoutDir, name, top, tag);
  return { digest: top.digest, mediaType: top.mediaType, reference: `${registry.host}/${name}:${tag}` };
}

/**
 * Copies an image from `layoutDir` to `registry/<name>:<tag>` with `skopeo copy` (all platforms
 * of an index). Trusts the registry's test CA through `--dest-cert-dir`, and sends its credentials.
 *
 * @example
 * await pushWithSkopeo(layout, registry, "skopeo/busybox");
 */
export async function pushWithSkopeo(layoutDir: string, registry: TestRegistry, name: string, options: PushOptions = {}): Promise<PushedImage> {
  const tag = options.tag ?? "latest";
  const reference = `${registry.host}/${name}:${tag}`;
  const args = ["--insecure-policy", "copy", "--quiet", "--multi-arch", "all"];
  if (registry.caDir !== undefined) args.push("--dest-cert-dir", registry.caDir);
  else args.push("--dest-tls-verify=false");
  if (registry.username !== undefined && registry.password !== undefined) args.push("--dest-creds", `${registry.username}:${registry.password}`);
  args.push(`oci:${layoutDir}${options.ref === undefined ? "" : `:${options.ref}`}`, `docker://${reference}`);
  await execTool("skopeo", args, { env: { HOME: process.env.HOME ?? "/root" } });
  const pushed = await new RegistryClient(registry).getManifest(name, tag);
  return { digest: pushed.digest, mediaType: pushed.mediaType, reference };
}

async function pushNode(client: RegistryClient, dir: string, name: string, descriptor: Descriptor, reference: string): Promise<void> {
  const bytes = await readBlob(dir, descriptor.digest);
  if (isIndexMediaType(descriptor.mediaType)) {
    for (const child of parseIndex(bytes).manifests) await pushNode(client, dir, name, child, child.digest);
  } else {
    const manifest = parseManifest(bytes);
    for (const blob of [manifest.config, ...manifest.layers]) await pushBlob(client, dir, name, blob.digest);
  }
  const res = await client.request("PUT", `/v2/${name}/manifests/${reference}`, {
    headers: { "Content-Type": descriptor.mediaType },
    body: bytes,
  });
  if (res.status !== 201) throw new Error(`PUT manifest ${name}:${reference}: ${res.status} ${res.body.toString("utf8")}`);
  const served = res.headers["docker-content-digest"];
  if (served !== undefined && served !== descriptor.digest) {
    throw new Error(`PUT manifest ${name}:${reference}: registry computed ${String(served)}, we sent ${descriptor.digest}`);
  }
}

async function pushBlob(client: RegistryClient, dir: string, name: string, digest: string): Promise<void> {
  if (await client.hasBlob(name, digest)) return;
  const data = await readBlob(dir, digest);
  const started = await client.request("POST", `/v2/${name}/blobs/uploads/`);
  const location = started.headers.location;
  if (started.status !== 202 || location === undefined) {
    throw new Error(`POST blob upload ${name}: ${started.status} ${started.body.toString("utf8")}`);
  }
  // The Location may carry its own query (upload state); the digest is added to it.
  const url = new URL(location, "http://placeholder");
  url.searchParams.set("digest", digest);
  const target = /^https?:\/\//.test(location) ? url.toString() : `${url.pathname}${url.search}`;
  const done = await client.request("PUT", target, { headers: { "Content-Type": "application/octet-stream" }, body: data });
  if (done.status !== 201) throw new Error(`PUT blob ${name}@${digest}: ${done.status} ${done.body.toString("utf8")}`);
}
