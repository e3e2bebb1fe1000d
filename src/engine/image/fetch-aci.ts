/**
 * Fetching ACI images (appc): from a file, from an https URL, or by name through appc meta
 * discovery, each verified before anything is stored (rkt-features §3):
 *
 * 1. the ACI and its armored detached signature are downloaded into the store's tmp area (the
 *    signature from `--signature FILE`, `<file>.asc` beside a file, `<url>.asc`, or the
 *    discovery template with `{ext}` = `aci.asc`);
 * 2. its manifest is read, and when the image was asked for by name, the manifest's name and
 *    every label asked for must match (appc discovery.md: "the image manifest's name and labels
 *    MUST match");
 * 3. the signature must be good and made by a key trusted for the image's name (root.d, or
 *    prefix.d along its path); with `--trust-keys-from-https` and no key for the name yet, the
 *    keys the publisher lists in `ac-discovery-pubkeys` are trusted first (trust on first use);
 * 4. only then is it imported (importAci), dependencies first, each through this same path.
 *
 * `--insecure-options=image` skips 3 (rkt's warning is printed by the CLI), never 2.
 */
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { describe, RktError, wrap } from "../../lib/errors.js";
import { domainAuthHeaders } from "../../config/auth-config.js";
import { hostAppcPlatform, parseAppImageName, type AppImageName } from "../../image/formats/appc/app-name.js";
import { aciImageIdMatches, type AciDependency } from "../../image/formats/appc/image-manifest.js";
import { discoverApp } from "../../image/fetch/appc/discovery.js";
import { httpGet, type HttpOptions } from "../../image/fetch/appc/http-get.js";
import { importAci } from "../../image/fetch/aci/import-aci.js";
import { recordEvent } from "../../events/event-journal.js";
import { readAciManifest } from "../../image/fetch/aci/read-aci-manifest.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { Keystore, type TrustedKey } from "../../image/verify/keystore.js";
import { verifyDetachedSignature } from "../../image/verify/openpgp-signature.js";
import { trustDiscoveredKeys } from "../trust/trust-discovered-keys.js";
import type { FetchOptions } from "./fetch-images.js";

/** ACIs are single archives; this bounds a download from a hostile server (8 GiB). */
const MAX_ACI_BYTES = 8 * 1024 ** 3;
/** A detached signature is a few hundred bytes. */
const MAX_SIGNATURE_BYTES = 64 * 1024;

/**
 * An ACI file on disk (`rkt fetch ./app.aci`). Its signature: `options.signature`, else
 * `<file>.asc` when it exists.
 *
 * @example
 * const rec = await fetchAciFile(store, "/tmp/app-1.0.aci", options);
 */
export async function fetchAciFile(store: ImageStore, path: string, options: FetchOptions): Promise<ImageRecord> {
  const signature = options.signature ?? (existsSync(`${path}.asc`) ? `${path}.asc` : undefined);
  return verifyAndImport(store, path, path, signature === undefined ? undefined : () => readSignatureFile(signature), undefined, options);
}

/**
 * An ACI at an http(s) URL; its signature at `<url>.asc` unless `options.signature` names a file.
 * Plain http only with `--insecure-options=http`.
 */
export async function fetchAciUrl(store: ImageStore, url: string, options: FetchOptions): Promise<ImageRecord> {
  return withDownloadArea(store, async (dir) => {
    const http = httpOptions(options);
    const file = join(dir, "image.aci");
    await download(url, file, http, MAX_ACI_BYTES, "image");
    const sig = options.signature !== undefined ? () => readSignatureFile(options.signature ?? "") : async () => fetchSignature(`${url}.asc`, http);
    return verifyAndImport(store, file, url, sig, undefined, options);
  });
}

/**
 * An image by appc name (`example.com/app:1.0`, `example.com/app,version=1.0`): from the store
 * when the pull policy allows and an image of that name and labels is there, else through
 * discovery.
 */
export async function fetchAciByName(store: ImageStore, text: string, options: FetchOptions): Promise<ImageRecord> {
  return fetchApp(store, parseAppImageName(text), text, options);
}

async function fetchApp(store: ImageStore, app: AppImageName, label: string, options: FetchOptions): Promise<ImageRecord> {
  if (options.pullPolicy !== "update") {
    const stored = findStoredApp(store, app);
    if (stored !== undefined) return stored;
    if (options.pullPolicy === "never") {
      throw new RktError("not-found", `image ${label} is not in the store and --pull-policy=never forbids fetching it`, { hint: "fetch it first, or use --pull-policy=new" });
    }
  }
  const http = httpOptions(options);
  const found = await discoverApp(app, http);
  const failures: string[] = [];
  for (const endpoint of found.aci) {
    try {
      return await withDownloadArea(store, async (dir) => {
        const file = join(dir, "image.aci");
        await download(endpoint.url, file, http, MAX_ACI_BYTES, "image");
        const sig = options.signature !== undefined ? () => readSignatureFile(options.signature ?? "") : async () => fetchSignature(endpoint.ascUrl, http);
        return verifyAndImport(store, file, endpoint.url, sig, app, options);
      });
    } catch (err) {
      // A mirror that is down is worth skipping; a verification failure is not.
      if (!(err instanceof RktError) || err.kind !== "unavailable" || found.aci.length === 1) throw err;
      failures.push(`${endpoint.url}: ${describe(err)}`);
    }
  }
  throw new RktError("unavailable", `no download of ${label} worked:\n  ${failures.join("\n  ")}`);
}

/** The newest stored ACI named `app.name` whose labels include every label asked for. */
function findStoredApp(store: ImageStore, app: AppImageName): ImageRecord | undefined {
  const version = app.labels.get("version") ?? "latest";
  const ref = store.getRef(`${app.name}:${version}`);
  const byRef = ref === undefined ? undefined : store.getImage(ref.id);
  if (byRef !== undefined && labelsMatch(byRef, app)) return byRef;
  return store
    .listImages()
    .filter((r) => r.aci?.name === app.name && labelsMatch(r, app))
    .sort((a, b) => b.importTime.localeCompare(a.importTime))[0];
}

/** appc: a label the image does not carry matches anything (os/arch independent images). */
function labelsMatch(rec: ImageRecord, app: AppImageName): boolean {
  const labels = rec.aci?.labels;
  if (labels === undefined) return false;
  for (const [k, v] of app.labels) {
    const have = labels[k];
    if (have !== undefined && have !== v) return false;
    if (have === undefined && k === "version" && v !== "latest") return false;
  }
  return true;
}

async function verifyAndImport(
  store: ImageStore,
  file: string,
  label: string,
  signature: (() => Promise<Buffer>) | undefined,
  expected: AppImageName | undefined,
  options: FetchOptions,
): Promise<ImageRecord> {
  const manifest = await readAciManifest(file, label, options.signal);
  if (expected !== undefined) checkNameAndLabels(manifest.name, manifest.labels, expected, label);
  if (!options.insecure.has("image")) {
    if (signature === undefined) {
      throw new RktError("permission-denied", `${label} has no signature (no ${label}.asc beside it), and signature verification is on by default`, {
        hint: "give its armored signature with --signature FILE, or fetch it unverified with --insecure-options=image",
      });
    }
    const sig = await signature();
    const keys = await keysFor(manifest.name, options);
    await verifyDetachedSignature({ data: file, signature: sig, keys, imageName: manifest.name, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  }
  const lock = await store.lockStore("shared", options.signal);
  try {
    const record = await importAci(store, file, {
      label,
      resolveDependency: (dep) => fetchDependency(store, dep, options),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    recordEvent(store.paths.dataDir, "image-imported", record.id, record.aci?.name ?? label);
    return record;
  } finally {
    lock.release();
  }
}

async function keysFor(name: string, options: FetchOptions): Promise<TrustedKey[]> {
  const keystore = new Keystore(options.trust);
  const keys = keystore.keysFor(name, "openpgp");
  if (keys.length > 0 || !options.trust.trustKeysFromHttps) return keys;
  const trusted = await trustDiscoveredKeys(name, keystore, {
    ...httpOptions(options),
    insecurePubkey: options.insecure.has("pubkey"),
    onKey: (c) => options.warn?.(`trusting key ${c.info.fingerprint} from ${c.location} for prefix "${name}" (--trust-keys-from-https)`),
  });
  return trusted.filter((k) => k.kind === "openpgp");
}

/** Dependencies: by name and labels (the host's os/arch unless given), new pull policy. */
async function fetchDependency(store: ImageStore, dep: AciDependency, options: FetchOptions): Promise<ImageRecord> {
  const imageId = dep.imageID;
  if (imageId !== undefined) {
    const byId = store.listImages().find((r) => aciImageIdMatches(r.id, imageId));
    if (byId !== undefined) return byId;
  }
  const host = hostAppcPlatform();
  const labels = new Map<string, string>(dep.labels.map((l) => [l.name, l.value]));
  if (!labels.has("os")) labels.set("os", host.os);
  if (!labels.has("arch")) labels.set("arch", host.arch);
  const { signature: _ownSignature, ...rest } = options;
  return fetchApp(store, { name: dep.imageName, labels }, dep.imageName, { ...rest, pullPolicy: options.pullPolicy === "never" ? "never" : "new" });
}

function checkNameAndLabels(name: string, labels: readonly { readonly name: string; readonly value: string }[], expected: AppImageName, label: string): void {
  if (name !== expected.name) {
    throw new RktError("permission-denied", `${label} is named "${name}" in its manifest, not "${expected.name}" as asked`, { hint: "the discovery page points at the wrong image, or someone swapped it" });
  }
  for (const [k, v] of expected.labels) {
    const have = labels.find((l) => l.name === k)?.value;
    if (have !== undefined && have !== v) {
      throw new RktError("permission-denied", `${label} has label ${k}=${have} in its manifest, not ${k}=${v} as asked`, { hint: "the discovery page points at the wrong image, or someone swapped it" });
    }
  }
}

function httpOptions(options: FetchOptions): HttpOptions {
  return {
    insecureHttp: options.insecure.has("http"),
    insecureTls: options.insecure.has("tls"),
    headers: (url) => domainAuthHeaders(options.auth, url),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

async function download(url: string, file: string, http: HttpOptions, maxBytes: number, what: string): Promise<void> {
  const res = await httpGet(url, { ...http, maxBytes });
  if (res.status !== 200) {
    res.body.destroy();
    throw new RktError(res.status === 404 ? "not-found" : "unavailable", `${what} ${url}: the server answered HTTP ${res.status}`);
  }
  try {
    await pipeline(res.body, createWriteStream(file, { mode: 0o600 }), http.signal === undefined ? {} : { signal: http.signal });
  } catch (err) {
    throw wrap(`downloading ${url}`, err);
  }
}

async function fetchSignature(url: string, http: HttpOptions): Promise<Buffer> {
  const res = await httpGet(url, { ...http, maxBytes: MAX_SIGNATURE_BYTES });
  if (res.status === 404) {
    res.body.destroy();
    throw new RktError("permission-denied", `no signature at ${url} (HTTP 404), and signature verification is on by default`, {
      hint: "the publisher must put FILE.aci.asc beside the image; to fetch it unverified pass --insecure-options=image",
    });
  }
  if (res.status !== 200) {
    res.body.destroy();
    throw new RktError("unavailable", `signature ${url}: the server answered HTTP ${res.status}`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readSignatureFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw wrap(`reading signature ${path}`, err, "invalid-argument");
  }
}

async function withDownloadArea<T>(store: ImageStore, fn: (dir: string) => Promise<T>): Promise<T> {
  const entry = store.tmpEntry("download");
  try {
    mkdirSync(entry.path, { mode: 0o700 });
    return await fn(entry.path);
  } finally {
    entry.dispose();
  }
}
