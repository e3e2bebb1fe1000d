/**
 * `rkt image push [--sign-key=FILE] IMAGE docker://HOST[:PORT]/REPO[:TAG]`: uploads a stored OCI or
 * Docker image to a registry under a tag and, with a signing key, signs the pushed manifest the way
 * `cosign sign --key` does, so that rkt (with the key trusted: `rkt trust --prefix`), cosign, podman
 * and skopeo (`sigstoreSigned` policy) verify it.
 *
 * The registry connection follows `rkt fetch`: HTTPS unless `--insecure-options=http`, certificate
 * checks unless `--insecure-options=tls`, credentials from auth.d `dockerAuth` entries.
 */
import { readFile } from "node:fs/promises";
import { RktError, wrap } from "../../lib/errors.js";
import type { AuthConfig } from "../../config/auth-config.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import { DOCKER_HUB_REGISTRY, parseDockerReference } from "../../image/reference.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { findImage } from "./find-image.js";

/** The key to sign with. */
export interface SigningKeyFiles {
  /** A cosign private key (encrypted) or a PEM private key. */
  readonly keyFile: string;
  /** The passphrase is the first line of this file (as skopeo's --sign-passphrase-file). */
  readonly passphraseFile?: string | undefined;
}

/** Inputs of pushImage besides the image and the destination. */
export interface PushOptions {
  readonly insecure: InsecureOptions;
  readonly auth: AuthConfig;
  /** Sign the pushed manifest with this key. */
  readonly sign?: SigningKeyFiles | undefined;
  /** User-Agent header, also the signature's `optional.creator`; default "rkt". */
  readonly userAgent?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Progress lines ("Pushing blob ...", "Pushing signature to ..."), for stderr. */
  readonly onProgress?: ((line: string) => void) | undefined;
  /** Clock for the signature timestamp; default Date.now. */
  readonly now?: (() => number) | undefined;
}

/** What was pushed. */
export interface PushReport {
  /** The manifest digest the registry serves the image under. */
  readonly digest: string;
  /** `host[:port]/repo:tag`. */
  readonly reference: string;
  /** Present when the image was signed. */
  readonly signature?: {
    /** `host[:port]/repo:sha256-<hex>.sig`. */
    readonly reference: string;
    readonly digest: string;
    /** The signing key's fingerprint (SHA-256 of its public key's DER SubjectPublicKeyInfo). */
    readonly fingerprint: string;
  };
}

/**
 * Pushes `image` (an ID or name in the store) to `destination` (`docker://HOST[:PORT]/REPO[:TAG]`,
 * tag `latest` when omitted). The key is read, and decrypted, before anything is uploaded.
 *
 * @example
 * const { digest } = await pushImage(store, "sha256-0123abcd", "docker://127.0.0.1:5000/app:1.0",
 *   { insecure, auth, sign: { keyFile: "cosign.key", passphraseFile: "pass.txt" } });
 */
export async function pushImage(store: ImageStore, image: string, destination: string, options: PushOptions): Promise<PushReport> {
  try {
    return await push(store, image, destination, options);
  } catch (err) {
    throw wrap(`pushing ${image} to ${destination}`, err);
  }
}

async function push(store: ImageStore, image: string, destination: string, options: PushOptions): Promise<PushReport> {
  if (/^(oci|oci-archive|oci-layout|dir|docker-archive|docker-daemon|containers-storage|file|https?):/.test(destination)) {
    throw new RktError("invalid-argument", `unsupported destination "${destination}"`, { hint: "push to a registry: docker://HOST[:PORT]/REPO[:TAG]" });
  }
  const ref = parseDockerReference(destination);
  if (ref.digest !== undefined) {
    throw new RktError("invalid-argument", `destination "${destination}" names a digest; an image is pushed under a tag`, {
      hint: "use docker://HOST[:PORT]/REPO[:TAG]; the pushed digest is printed",
    });
  }
  const tag = ref.tag ?? "latest";
  const record = findImage(store, image);
  const key = options.sign === undefined ? undefined : await readKey(options.sign);

  const { RegistryClient } = await import("../../image/fetch/registry/registry-client.js");
  const { uploadImage } = await import("../../image/push/upload-image.js");
  const client = new RegistryClient({
    registry: ref.registry,
    insecureHttp: options.insecure.has("http"),
    insecureTls: options.insecure.has("tls"),
    credentials: (registry) => options.auth.dockerCredentials(registry),
    userAgent: options.userAgent ?? "rkt",
    signal: options.signal,
  });
  const reference = `${ref.registry}/${ref.repository}:${tag}`;
  const uploaded = await uploadImage(store, record, client, ref.repository, tag, {
    signal: options.signal,
    onBlob: (e) => options.onProgress?.(`${e.action === "exists" ? "Blob exists" : "Pushed blob"} ${e.digest} (${e.size} bytes)`),
  });
  options.onProgress?.(`Pushed manifest ${uploaded.digest} to ${reference}`);
  if (key === undefined) return { digest: uploaded.digest, reference };

  const { pushCosignSignature } = await import("../../image/push/push-cosign-signature.js");
  const now = options.now ?? Date.now;
  const signature = await pushCosignSignature(client, ref.repository, {
    manifestDigest: uploaded.digest,
    dockerReference: signedIdentity(ref.registry, ref.repository, tag),
    key,
    creator: options.userAgent ?? "rkt",
    timestamp: Math.floor(now() / 1000),
    signal: options.signal,
  });
  const signatureReference = `${ref.registry}/${ref.repository}:${signature.tag}`;
  options.onProgress?.(`Pushed signature by key ${signature.fingerprint} to ${signatureReference}`);
  return { digest: uploaded.digest, reference, signature: { reference: signatureReference, digest: signature.digest, fingerprint: signature.fingerprint } };
}

async function readKey(sign: SigningKeyFiles) {
  const { readSigningKey } = await import("../../image/verify/sigstore/signing-key.js");
  const text = await readTextFile(sign.keyFile, "signing key");
  const passphrase = sign.passphraseFile === undefined ? undefined : firstLine(await readTextFile(sign.passphraseFile, "passphrase file"));
  return readSigningKey(text, passphrase === undefined ? undefined : Buffer.from(passphrase), sign.keyFile);
}

async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw wrap(`reading ${what} ${path}`, err);
  }
}

/**
 * The passphrase in a passphrase file: its first line without the newline, as skopeo's
 * --sign-passphrase-file and gpg's --passphrase-file read it, so one file works with all three.
 */
function firstLine(text: string): string {
  const newline = text.indexOf("\n");
  return newline < 0 ? text : text.slice(0, newline);
}

/**
 * The docker-reference a signature names: `host[:port]/repo:tag`, with Docker Hub written
 * `docker.io/...` as containers/image and cosign's users name it. With the tag, skopeo's and
 * podman's default `matchRepoDigestOrExact` accepts the image when pulled by this tag as well as by
 * digest; rkt and cosign look at the repository only.
 */
function signedIdentity(registry: string, repository: string, tag: string): string {
  return `${registry === DOCKER_HUB_REGISTRY ? "docker.io" : registry}/${repository}:${tag}`;
}
