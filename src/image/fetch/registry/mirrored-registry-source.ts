/**
 * A registry image fetched through mirrors (src/config/registry-mirrors.ts): the ImageSource of
 * `docker://REGISTRY/NAME`, named and stored as that, whose bytes come from the first endpoint
 * that has the manifest: each mirror in order, then the registry itself. Once the root manifest
 * came from an endpoint, everything else of the image (child manifests, blobs, signatures) comes
 * from the same one. Nothing is trusted more for coming from a mirror: the pull verifies every
 * digest, and signatures are checked against the keys trusted for the image's own name.
 */
import type { Readable } from "node:stream";
import { describe, RktError } from "../../../lib/errors.js";
import type { DockerReference } from "../../reference.js";
import type { BlobRef, ImageSource, ManifestBytes } from "../image-source.js";
import { RegistrySource, type RegistrySourceOptions } from "./registry-source.js";

/** Where to try to fetch an image from: a mirror, or the registry itself. */
export interface RegistryEndpoint {
  /** `host[:port]`. */
  readonly host: string;
  /** Put before the repository on this endpoint ("" for none). */
  readonly pathPrefix: string;
  /** Plain HTTP allowed (after HTTPS is refused), and TLS certificates unverified. */
  readonly insecure: boolean;
}

/**
 * The ImageSource trying `endpoints` in order.
 *
 * @example
 * const source = new MirroredRegistrySource(parseDockerReference("registry.k8s.io/pause:3.9"),
 *   [{ host: "127.0.0.1:5000", pathPrefix: "", insecure: true }, { host: "registry.k8s.io", pathPrefix: "", insecure: false }],
 *   { insecureHttp: false, insecureTls: false, userAgent: "rkt" });
 */
export class MirroredRegistrySource implements ImageSource {
  readonly label: string;
  readonly name: string;
  private readonly sources: readonly { readonly endpoint: RegistryEndpoint; readonly source: RegistrySource }[];
  private chosen: { readonly endpoint: RegistryEndpoint; readonly source: RegistrySource } | undefined;

  constructor(ref: DockerReference, endpoints: readonly RegistryEndpoint[], options: RegistrySourceOptions) {
    if (endpoints.length === 0) throw new RktError("internal", `no endpoint to fetch ${ref.name} from`);
    this.label = `docker://${ref.name}`;
    this.name = ref.name;
    this.sources = endpoints.map((endpoint) => ({
      endpoint,
      source: new RegistrySource(
        { ...ref, registry: endpoint.host, repository: endpoint.pathPrefix === "" ? ref.repository : `${endpoint.pathPrefix}/${ref.repository}` },
        { ...options, insecureHttp: options.insecureHttp || endpoint.insecure, insecureTls: options.insecureTls || endpoint.insecure },
      ),
    }));
  }

  /** The endpoint the image came from, once the root manifest was fetched. */
  get endpoint(): RegistryEndpoint | undefined {
    return this.chosen?.endpoint;
  }

  /** The root manifest from the first endpoint that has it; the errors of all of them otherwise. */
  async rootManifest(signal?: AbortSignal): Promise<ManifestBytes> {
    const failures: string[] = [];
    let last: unknown;
    for (const s of this.sources) {
      try {
        const manifest = await s.source.rootManifest(signal);
        this.chosen = s;
        return manifest;
      } catch (err) {
        if (signal?.aborted === true) throw err;
        last = err;
        failures.push(`${s.endpoint.host}${s.endpoint.pathPrefix === "" ? "" : `/${s.endpoint.pathPrefix}`}: ${describe(err)}`);
      }
    }
    const kind = last instanceof RktError ? last.kind : "unavailable";
    throw new RktError(kind, `no mirror or registry had ${this.name}: ${failures.join("; ")}`, { cause: last, hint: "check the mirrors in registries.d" });
  }

  manifest(digest: string, signal?: AbortSignal): Promise<ManifestBytes> {
    return this.current().manifest(digest, signal);
  }

  openBlob(blob: BlobRef, signal?: AbortSignal): Promise<Readable> {
    return this.current().openBlob(blob, signal);
  }

  verifyCosign(digest: string, keys: Parameters<RegistrySource["verifyCosign"]>[1], signal?: AbortSignal): ReturnType<RegistrySource["verifyCosign"]> {
    return this.current().verifyCosign(digest, keys, signal);
  }

  close(): void {
    for (const s of this.sources) s.source.close();
  }

  private current(): RegistrySource {
    if (this.chosen === undefined) throw new RktError("internal", `${this.label}: the root manifest must be fetched first`);
    return this.chosen.source;
  }
}
