/**
 * `rkt image build`: builds an image from a context directory and a build spec (a JSON file,
 * flags laid over it) and writes it to every `--output` at once: ACIs (`FILE.aci`, optionally
 * signed with gpg), OCI layouts (`oci:DIR[:TAG]`) and OCI archives (`oci-archive:FILE[:TAG]`),
 * all with the same files and settings.
 *
 * Reproducible: the same context, spec and SOURCE_DATE_EPOCH give the same bytes, hence the same
 * ACI image ID and OCI digests, whoever builds, wherever the context sits and whatever its files'
 * times, owners or umask were (see rootfs-entries.ts and pack-rootfs.ts for what is normalized).
 * Every timestamp is SOURCE_DATE_EPOCH, or the epoch (1970-01-01T00:00:00Z) when unset.
 *
 * Nothing half-written is left: everything is checked before the first byte is written (spec,
 * outputs, copy sources), files are written under temporary names and renamed when complete
 * (an ACI and its signature only once both exist), and an OCI layout's index.json is replaced
 * last.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { RktError, wrap } from "../../lib/errors.js";
import { aciManifestDocument } from "../../image/build/aci-manifest-document.js";
import { aciBaseDependency, ociBase, type OciBase } from "../../image/build/base-image.js";
import { checkRefName, parseBuildOutput, type BuildOutput } from "../../image/build/build-output.js";
import { buildOciImage, type OciImage } from "../../image/build/build-oci-image.js";
import { mergeBuildSpecs, parseBuildSpec, type BuildSpec } from "../../image/build/build-spec.js";
import { checkBuildSpec } from "../../image/build/check-build-spec.js";
import { gpgDetachSign } from "../../image/build/gpg-detach-sign.js";
import { PendingFile } from "../../image/build/pending-file.js";
import { hostAppcPlatform } from "../../image/build/platform-labels.js";
import { publishAci, publishLayout, type PublishLayout, type PublishTarget } from "../../image/build/publish-aci.js";
import { collectRootfsEntries } from "../../image/build/rootfs-entries.js";
import { writeAci } from "../../image/build/write-aci.js";
import { writeOciArchive } from "../../image/build/write-oci-archive.js";
import { checkOciLayoutTarget, writeOciLayout } from "../../image/build/write-oci-layout.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import { ImageStore } from "../../image/store/image-store.js";
import { findImage } from "./find-image.js";

/** What to build and where. */
export interface BuildImageRequest {
  /** The directory `copy` sources are relative to. */
  readonly contextDir: string;
  /** A JSON build spec; its fields are the defaults `overrides` lay over. */
  readonly specFile?: string | undefined;
  /** Spec fields from flags (see mergeBuildSpecs). */
  readonly overrides: BuildSpec;
  /** Replaces the arguments of the spec's exec, keeping its executable (`--arg` without `--exec`). */
  readonly args?: readonly string[] | undefined;
  /** `--output` values: FILE.aci, oci:DIR[:TAG], oci-archive:FILE[:TAG]. */
  readonly outputs: readonly string[];
  /** Relative output paths are resolved against it. */
  readonly cwd: string;
  /** Replace existing ACI and archive files (an OCI layout is always added to). */
  readonly overwrite: boolean;
  /** Of the ACI and the built OCI layer. */
  readonly compression: "gzip" | "none";
  /** Seconds since the epoch stamped on everything; default 0. */
  readonly sourceDateEpoch?: number | undefined;
  /** Sign every ACI output with gpg (FILE.aci.asc). */
  readonly sign?: { readonly keyId?: string | undefined; readonly env: NodeJS.ProcessEnv } | undefined;
  /** Also lay out the (first) ACI, its signature and its discovery page under a web root. */
  readonly publish?: PublishTarget | undefined;
  /** The rkt data directory, whose store holds the `base` image. */
  readonly dataDir: string;
  /** Where the build's scratch directory goes. */
  readonly tmpDir: string;
  readonly signal?: AbortSignal;
}

/** One written output. */
export type BuiltImage =
  | { readonly kind: "aci"; readonly output: string; readonly path: string; readonly imageId: string; readonly signature: string | undefined }
  | { readonly kind: "oci-layout" | "oci-archive"; readonly output: string; readonly path: string; readonly tag: string; readonly manifestDigest: string };

/** What a build wrote, and what the user should know about it. */
export interface BuildImageReport {
  readonly images: readonly BuiltImage[];
  /** Spec fields an output format could not carry. */
  readonly warnings: readonly string[];
  /** What `publish` wrote, relative to its directory. */
  readonly published: PublishLayout | undefined;
}

/**
 * @example
 * const report = await buildImage({ contextDir: "/src/app", overrides: { name: "example.com/app", copy: [{ from: "app", to: "/bin/app" }], exec: ["/bin/app"] },
 *   outputs: ["app.aci", "oci:out:1.0"], cwd: "/src", overwrite: false, compression: "gzip", dataDir: "/var/lib/rkt", tmpDir: "/tmp" });
 */
export async function buildImage(request: BuildImageRequest): Promise<BuildImageReport> {
  const outputs = parseOutputs(request);
  const spec = loadSpec(request);
  const host = hostAppcPlatform();
  const targets = { aci: outputs.some((o) => o.kind === "aci"), oci: outputs.some((o) => o.kind !== "aci"), host };
  checkBuildSpec(spec, targets);
  if (request.sign !== undefined && !targets.aci) {
    throw new RktError("invalid-argument", "--sign signs ACI outputs, and there is none", { hint: "OCI images are signed when pushed (rkt image push --sign-key=KEY)" });
  }
  if (request.publish !== undefined && !targets.aci) {
    throw new RktError("invalid-argument", "--publish-dir publishes an ACI, and no output is one", { hint: "add --output=FILE.aci" });
  }
  const ociTag = outputs.some((o) => o.kind !== "aci" && o.tag === undefined) ? defaultOciTag(spec) : "";
  checkOutputs(outputs, request);
  const warnings: string[] = [];
  if (targets.oci && spec.isolators !== undefined) warnings.push("isolators are appc-only: the OCI outputs do not carry them");
  if (targets.oci && spec.ports?.some((p) => p.socketActivated === true) === true) warnings.push("socket activation is appc-only: the OCI outputs only expose the ports");

  const entries = collectRootfsEntries(request.contextDir, spec.copy ?? []);
  const mtime = new Date((request.sourceDateEpoch ?? 0) * 1000);
  const signalOpt = request.signal === undefined ? {} : { signal: request.signal };
  const store = spec.base === undefined ? undefined : ImageStore.open(request.dataDir);
  // Shared, so `rkt image gc` cannot delete the base's blobs while they are being copied.
  const lock = store === undefined ? undefined : await store.lockStore("shared", request.signal);
  let workDir: string | undefined;
  try {
    workDir = mkdtempSync(join(request.tmpDir, "rkt-build-"));
    const base: ImageRecord | undefined = store === undefined || spec.base === undefined ? undefined : findImage(store, spec.base);
    // Everything that can fail on the inputs happens before the first output is written: the
    // ACI manifest (a base must be an ACI) and the OCI blobs (into the work directory).
    const aciManifest =
      targets.aci && spec.name !== undefined
        ? aciManifestDocument(
            { ...spec, name: spec.name },
            { host, dependencies: [...(base === undefined || store === undefined || spec.base === undefined ? [] : [aciBaseDependency(store, base, spec.base)]), ...(spec.dependencies ?? [])] },
          )
        : undefined;
    const publishing =
      request.publish === undefined || aciManifest === undefined
        ? undefined
        : { target: request.publish, name: aciManifest.name, labels: Object.fromEntries((aciManifest.labels ?? []).map((l) => [l.name, l.value])) };
    // Checks the template against the image before anything is written.
    if (publishing !== undefined) publishLayout(publishing.name, publishing.labels, publishing.target.aciTemplate);
    let ociImage: OciImage | undefined;
    if (targets.oci) {
      const fromBase: OciBase | undefined = base === undefined || store === undefined ? undefined : await ociBase(store, base, { workDir, compression: request.compression, ...signalOpt });
      ociImage = await buildOciImage(entries, spec, { base: fromBase, host, mtime, compression: request.compression, workDir, ...signalOpt });
    }
    const images: BuiltImage[] = [];
    let published: PublishLayout | undefined;
    for (const out of outputs) {
      if (out.kind === "aci") {
        if (aciManifest === undefined) continue;
        const manifest = aciManifest;
        const built = await buildAci(out, request, (file) => writeAci(entries, manifest, file, { mtime, compression: request.compression, ...signalOpt }));
        images.push(built);
        if (publishing !== undefined && published === undefined && built.kind === "aci") {
          published = publishAci(publishing.target, { name: publishing.name, labels: publishing.labels, aciFile: built.path, signatureFile: built.signature });
        }
        continue;
      }
      if (ociImage === undefined) continue;
      const tag = out.tag ?? ociTag;
      try {
        if (out.kind === "oci-layout") {
          await writeOciLayout(ociImage, out.path, tag);
        } else {
          const pending = PendingFile.beside(out.path);
          try {
            await writeOciArchive(ociImage, pending.path, tag, { mtime, ...signalOpt });
            pending.commit();
          } finally {
            pending.discard();
          }
        }
      } catch (err) {
        throw wrap(`writing ${out.text}`, err);
      }
      images.push({ kind: out.kind, output: out.text, path: out.path, tag, manifestDigest: ociImage.manifest.digest });
    }
    return { images, warnings, published };
  } finally {
    lock?.release();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  }
}

async function buildAci(out: BuildOutput, request: BuildImageRequest, write: (file: string) => Promise<{ imageId: string }>): Promise<BuiltImage> {
  const pending = PendingFile.beside(out.path);
  const signature = request.sign === undefined ? undefined : PendingFile.beside(`${out.path}.asc`);
  try {
    const { imageId } = await write(pending.path);
    if (request.sign !== undefined && signature !== undefined) {
      await gpgDetachSign(pending.path, signature.path, { keyId: request.sign.keyId, env: request.sign.env, ...(request.signal === undefined ? {} : { signal: request.signal }) });
    }
    pending.commit();
    signature?.commit();
    return { kind: "aci", output: out.text, path: out.path, imageId, signature: signature?.dest };
  } catch (err) {
    throw wrap(`writing ${out.text}`, err);
  } finally {
    pending.discard();
    signature?.discard();
  }
}

function parseOutputs(request: BuildImageRequest): BuildOutput[] {
  if (request.outputs.length === 0) {
    throw new RktError("invalid-argument", "no output given", { hint: "add --output=FILE.aci, --output=oci:DIR[:TAG] or --output=oci-archive:FILE[:TAG]" });
  }
  const outputs = request.outputs.map((o) => parseBuildOutput(o, request.cwd));
  // Several tags of one layout are fine; anything else written twice is a mistake.
  const seen = new Map<string, BuildOutput>();
  for (const o of outputs) {
    const other = seen.get(o.path);
    if (other !== undefined && !(other.kind === "oci-layout" && o.kind === "oci-layout" && other.tag !== o.tag)) {
      throw new RktError("invalid-argument", `outputs ${other.text} and ${o.text} both write ${o.path}`);
    }
    seen.set(o.path, o);
  }
  return outputs;
}

function loadSpec(request: BuildImageRequest): BuildSpec {
  let spec = request.overrides;
  if (request.specFile !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(request.specFile);
    } catch (err) {
      throw wrap(`reading build spec ${request.specFile}`, err);
    }
    spec = mergeBuildSpecs(parseBuildSpec(bytes, request.specFile), request.overrides);
  }
  if (request.args !== undefined) {
    const cmd = spec.exec?.[0];
    if (cmd === undefined) throw new RktError("invalid-argument", "--arg without an executable", { hint: "give --exec=PATH, or an exec in the spec" });
    spec = { ...spec, exec: [cmd, ...request.args] };
  }
  return spec;
}

/** ACI and archive files are not replaced without --overwrite; their directories must exist. */
function checkOutputs(outputs: readonly BuildOutput[], request: BuildImageRequest): void {
  for (const o of outputs) {
    const parent = statSync(dirname(o.path), { throwIfNoEntry: false });
    if (o.kind !== "oci-layout" && parent?.isDirectory() !== true) {
      throw new RktError("not-found", `cannot write ${o.text}: directory ${dirname(o.path)} does not exist`, { hint: "create it first" });
    }
    if (o.kind === "oci-layout") {
      checkOciLayoutTarget(o.path);
      continue;
    }
    const files = [o.path, ...(o.kind === "aci" && request.sign !== undefined ? [`${o.path}.asc`] : [])];
    for (const file of files) {
      if (statSync(file, { throwIfNoEntry: false }) !== undefined && !request.overwrite) {
        throw new RktError("already-exists", `${file} already exists`, { hint: "pass --overwrite to replace it, or choose another output" });
      }
    }
  }
}

/** The tag of an OCI output without one: `NAME:VERSION` (version default "latest"), else the version. */
function defaultOciTag(spec: BuildSpec): string {
  const version = spec.labels?.version ?? "latest";
  const tag = spec.name === undefined ? version : `${spec.name}:${version}`;
  checkRefName(tag, "the default OCI tag (from --name and the version label)");
  return tag;
}
