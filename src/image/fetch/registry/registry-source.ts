/**
 * A registry image as an ImageSource (the `docker://` Distribution of rkt): the reference names
 * the registry, repository and tag or digest; the RegistryClient does the HTTP.
 */
import type { Readable } from "node:stream";
import { manifestReference, type DockerReference } from "../../reference.js";
import type { BlobRef, ImageSource, ManifestBytes } from "../image-source.js";
import { RegistryClient, type RegistryClientOptions } from "./registry-client.js";
import type { CosignVerification, SigstoreTrustedKey } from "../../verify/sigstore/verify-cosign-signatures.js";

/** Everything a RegistryClient needs except the registry, which comes from the reference. */
export type RegistrySourceOptions = Omit<RegistryClientOptions, "registry">;

/**
 * The ImageSource for `docker://REGISTRY/NAME[:TAG|@DIGEST]`.
 *
 * @example
 * const source = new RegistrySource(parseDockerReference("docker://redis:7"), {
 *   insecureHttp: false, insecureTls: false, userAgent: "rkt" });
 * const root = await source.rootManifest();
 */
export class RegistrySource implements ImageSource {
  readonly label: string;
  readonly name: string;
  private readonly ref: DockerReference;
  private readonly client: RegistryClient;

  constructor(ref: DockerReference, options: RegistrySourceOptions) {
    this.ref = ref;
    this.label = `docker://${ref.name}`;
    this.name = ref.name;
    this.client = new RegistryClient({ ...options, registry: ref.registry });
  }

  /** The manifest or index the tag (or digest) points at. */
  rootManifest(signal?: AbortSignal): Promise<ManifestBytes> {
    return this.client.getManifest(this.ref.repository, manifestReference(this.ref), undefined, { signal });
  }

  /** A manifest by digest: an index's child. */
  manifest(digest: string, signal?: AbortSignal): Promise<ManifestBytes> {
    return this.client.getManifest(this.ref.repository, digest, undefined, { signal });
  }

  /** A blob's bytes, unverified: the store pipes them through a VerifyStream. */
  openBlob(blob: BlobRef, signal?: AbortSignal): Promise<Readable> {
    return this.client.getBlob(this.ref.repository, blob, { signal });
  }

  /**
   * Checks that manifest `digest` carries a cosign signature by one of `keys` in this repository
   * (see verify-cosign-signatures.ts); throws "permission-denied" when it does not.
   */
  async verifyCosign(digest: string, keys: readonly SigstoreTrustedKey[], _signal?: AbortSignal): Promise<CosignVerification> {
    const { verifyCosignSignatures } = await import("../../verify/sigstore/verify-cosign-signatures.js");
    return verifyCosignSignatures(this.client, this.ref.repository, manifestReference(this.ref), digest, keys);
  }

  /** Nothing to release: connections belong to Node's global agents and idle ones do not hold the process. */
  close(): void {
    // Intentionally empty.
  }
}
