/**
 * `rkt fetch` and the image half of `rkt run`/`prepare`: turn an image argument into an image in
 * the store, honouring the pull policy and the trust rules.
 *
 * Pull policies (rkt): `new` uses what the store has and goes remote only when it has nothing;
 * `update` always asks the source and keeps the stored image when nothing changed; `never` uses the
 * store only.
 *
 * Start-up cost: `--pull-policy=new` of an image already in the store must answer in well under
 * 150 ms, so this module statically imports only what that cached path runs (the store lookup).
 * The sources (the registry client with node:http/https/tls, tar-stream for archives) and the pull
 * routine are loaded with dynamic `import()` once a fetch really has to reach a source; the bundler
 * puts each in its own chunk.
 */
import { RktError, wrap } from "../../lib/errors.js";
import type { AuthConfig } from "../../config/auth-config.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import type { RegistryMirror } from "../../config/registry-mirrors.js";
import type { Platform } from "../../image/formats/descriptor.js";
import { classifyImageArgument, type ImageArgument } from "../../image/image-argument.js";
import type { ImageSource } from "../../image/fetch/image-source.js";
import type { PullProgress, ResolvedManifest } from "../../image/fetch/pull-image.js";
import { DOCKER_HUB_REGISTRY, parseDockerReference } from "../../image/reference.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { findImage, tryFindImage } from "./find-image.js";
import { recordEvent } from "../../events/event-journal.js";

export type { PullProgress };
export type PullPolicy = "new" | "update" | "never";

/** Where trusted keys live, and whether keys found by discovery over HTTPS may be trusted on first use. */
export interface TrustOptions {
  readonly systemConfigDir: string;
  readonly localConfigDir: string;
  /** `--trust-keys-from-https`. */
  readonly trustKeysFromHttps: boolean;
}

export interface FetchOptions {
  readonly pullPolicy: PullPolicy;
  readonly insecure: InsecureOptions;
  readonly auth: AuthConfig;
  readonly trust: TrustOptions;
  /** `--signature FILE` for the image (ACI files and URLs). */
  readonly signature?: string | undefined;
  /** Non-fatal messages (a key trusted on first use). */
  readonly warn?: ((message: string) => void) | undefined;
  readonly platform?: Platform;
  readonly onProgress?: (p: PullProgress) => void;
  readonly signal?: AbortSignal;
  readonly userAgent?: string;
  /** Registry mirrors (registries.d): tried in order before the registry itself. */
  readonly mirrors?: readonly RegistryMirror[] | undefined;
}

/** Fetches one image and returns its record. */
export async function fetchImage(store: ImageStore, text: string, options: FetchOptions): Promise<ImageRecord> {
  const arg = classifyImageArgument(text);
  try {
    return await fetchClassified(store, arg, options);
  } catch (err) {
    throw wrap(`fetching ${text}`, err);
  }
}

async function fetchClassified(store: ImageStore, arg: ImageArgument, options: FetchOptions): Promise<ImageRecord> {
  switch (arg.kind) {
    case "id":
      return findImage(store, arg.text);
    case "name": {
      // The store first (any image by name: `busybox`, `localhost/x:1`, `example.com/app:1.0`);
      // then, for an appc name, discovery.
      if (options.pullPolicy !== "update" || !isDiscoverable(arg.text)) {
        const stored = tryFindImage(store, arg.text);
        if (stored !== undefined) return stored;
        if (!isDiscoverable(arg.text)) return findImage(store, arg.text);
      }
      const { fetchAciByName } = await import("./fetch-aci.js");
      return fetchAciByName(store, arg.text, options);
    }
    case "url": {
      const { fetchAciUrl } = await import("./fetch-aci.js");
      return fetchAciUrl(store, arg.text, options);
    }
    case "aci-file": {
      const { fetchAciFile } = await import("./fetch-aci.js");
      return fetchAciFile(store, arg.path, options);
    }
    case "docker": {
      const ref = parseDockerReference(arg.text);
      const verify = options.insecure.has("image") ? undefined : await cosignVerifier(`${ref.registry}/${ref.repository}`, options);
      return fetchFromSource(store, () => registrySource(arg.text, options), options, ref.name, verify);
    }
    case "oci-layout":
      requireUnsigned(options.insecure, "this OCI image layout carries no signature rkt can verify");
      return fetchFromSource(store, () => openLayout(arg.path, arg.tag, arg.text), options, undefined);
    case "oci-archive":
      requireUnsigned(options.insecure, "this OCI archive carries no signature rkt can verify");
      return fetchFromSource(store, () => openArchive(store, arg.path, arg.tag, arg.text, options.signal), options, undefined);
  }
}

/**
 * Docker and OCI registry images verify against cosign-format signatures in the registry, with the
 * sigstore keys trusted for the repository. Without such a key the image cannot be verified, and
 * fetching it needs the explicit `--insecure-options=image`, as in rkt.
 */
async function cosignVerifier(repositoryName: string, options: FetchOptions): Promise<SignatureCheck> {
  const { Keystore } = await import("../../image/verify/keystore.js");
  const keys = new Keystore(options.trust).keysFor(repositoryName, "sigstore");
  if (keys.length === 0) {
    throw new RktError("permission-denied", `no signing key is trusted for ${repositoryName}, and signature verification is on by default`, {
      hint: `trust the publisher's cosign public key (rkt trust --prefix "${repositoryName}" cosign.pub), or fetch it unverified with --insecure-options=image`,
    });
  }
  return async (source, resolved, signal) => {
    if (source.verifyCosign === undefined) throw new RktError("internal", `${source.label}: this source cannot verify signatures`);
    // A signature may name the tag's target (an index, as cosign signs multi-platform images) or
    // the platform manifest chosen from it.
    try {
      await source.verifyCosign(resolved.index?.digest ?? resolved.manifest.digest, keys, signal);
    } catch (err) {
      if (resolved.index === undefined) throw err;
      await source.verifyCosign(resolved.manifest.digest, keys, signal);
    }
  };
}

/** Checks a resolved manifest before anything of it is stored. */
type SignatureCheck = (source: ImageSource, resolved: ResolvedManifest, signal: AbortSignal | undefined) => Promise<void>;

/**
 * Names that appc discovery can find: the first component is a domain or address
 * (`example.com/app`, `127.41.7.3/app`). `busybox` or `localhost/x` only name the store: looking
 * them up on the network would be a surprise (and a DNS query for a bare word).
 */
function isDiscoverable(name: string): boolean {
  const host = name.split(/[/,:]/)[0] ?? "";
  return host.includes(".") && !name.startsWith("localhost/");
}

function requireUnsigned(insecure: InsecureOptions, why: string): void {
  if (!insecure.has("image")) {
    throw new RktError("permission-denied", `${why}, and signature verification is on by default`, {
      hint: "to fetch it unverified, pass --insecure-options=image",
    });
  }
}

// The three openers below import their source lazily (see the top of this file): the registry
// client pulls in node:http/https/tls, the archive reader tar-stream.

async function registrySource(text: string, options: FetchOptions): Promise<ImageSource> {
  const ref = parseDockerReference(text);
  const clientOptions = {
    insecureHttp: options.insecure.has("http"),
    insecureTls: options.insecure.has("tls"),
    credentials: (registry: string) => options.auth.dockerCredentials(registry),
    userAgent: options.userAgent ?? "rkt",
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const mirrors = (options.mirrors ?? []).filter((m) => sameRegistry(m.registry, ref.registry));
  if (mirrors.length > 0) {
    const { MirroredRegistrySource } = await import("../../image/fetch/registry/mirrored-registry-source.js");
    return new MirroredRegistrySource(ref, [...mirrors, { host: ref.registry, pathPrefix: "", insecure: false }], clientOptions);
  }
  const { RegistrySource } = await import("../../image/fetch/registry/registry-source.js");
  return new RegistrySource(ref, clientOptions);
}

/** Registry names as configuration writes them: Docker Hub has three. */
function sameRegistry(configured: string, registry: string): boolean {
  const hub = (r: string): string => (r === "docker.io" || r === "index.docker.io" ? DOCKER_HUB_REGISTRY : r);
  return hub(configured.toLowerCase()) === hub(registry.toLowerCase());
}

async function openLayout(path: string, tag: string | undefined, label: string): Promise<ImageSource> {
  const { OciLayoutSource } = await import("../../image/fetch/oci-layout-source.js");
  return new OciLayoutSource(path, tag, label);
}

async function openArchive(store: ImageStore, path: string, tag: string | undefined, label: string, signal?: AbortSignal): Promise<ImageSource> {
  const { OciArchiveSource } = await import("../../image/fetch/oci-archive-source.js");
  const entry = store.tmpEntry("archive");
  return OciArchiveSource.open(path, tag, label, entry.path, () => entry.dispose(), signal);
}

/**
 * The pull-policy logic shared by every source. `knownName` is the store name when it is known
 * without opening the source (registries): then `new` and `never` need no network at all. Local
 * layouts and archives are read anyway, which is cheap, and content already stored is not copied
 * again.
 */
async function fetchFromSource(store: ImageStore, open: () => Promise<ImageSource>, options: FetchOptions, knownName: string | undefined, verify?: SignatureCheck): Promise<ImageRecord> {
  if (knownName !== undefined && options.pullPolicy !== "update") {
    const existing = lookupName(store, knownName);
    if (existing !== undefined) return existing;
    if (options.pullPolicy === "never") {
      throw new RktError("not-found", `image ${knownName} is not in the store and --pull-policy=never forbids fetching it`, {
        hint: "fetch it first, or use --pull-policy=new",
      });
    }
  }
  // From here on the source is read: load the pull routine too (lazily, like the sources).
  const { pullImage, resolveManifest } = await import("../../image/fetch/pull-image.js");
  const source = await open();
  try {
    const lock = await store.lockStore("shared", options.signal);
    try {
      const resolved = await resolveManifest(source, options.platform, options.signal);
      await verify?.(source, resolved, options.signal);
      let record = store.getImage(resolved.manifest.digest);
      if (record === undefined || !isComplete(store, record)) {
        record = await pullImage(store, source, resolved, {
          ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.platform === undefined ? {} : { platform: options.platform }),
        });
        recordEvent(store.paths.dataDir, "image-imported", record.id, source.name);
      }
      store.setRef(source.name, record.id);
      return record;
    } finally {
      lock.release();
    }
  } finally {
    source.close();
  }
}

function lookupName(store: ImageStore, name: string): ImageRecord | undefined {
  const ref = store.getRef(name);
  if (ref === undefined) return undefined;
  const rec = store.getImage(ref.id);
  return rec !== undefined && isComplete(store, rec) ? rec : undefined;
}

/** A record whose content was removed by hand (or a damaged store) is fetched again. */
function isComplete(store: ImageStore, rec: ImageRecord): boolean {
  return store.hasBlob(rec.id) && store.hasBlob(rec.configDigest) && rec.layers.every((l) => store.hasLayer(l.diffId) && store.hasBlob(l.digest));
}
