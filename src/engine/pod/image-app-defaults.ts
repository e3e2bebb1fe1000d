/**
 * What an image says about running it, whatever its format: the defaults that `rkt run` flags
 * override. OCI/Docker images say it in their config (Entrypoint, Cmd, Env, User, WorkingDir,
 * ExposedPorts, Volumes), the way rkt's docker2aci read it; ACI images in the `app` section of their
 * appc image manifest.
 */
import { parseImageConfig } from "../../image/formats/image-config.js";
import { parseJson } from "../../lib/json-document.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";
import * as z from "../../lib/schema.js";
import { appSectionSchema, type AppSection, type Isolator } from "../../pod/pod-manifest.js";

/** An image's own answer to "how do I run you", before flags. */
export interface ImageAppDefaults {
  /** OCI Entrypoint, or the ACI's exec. */
  readonly entrypoint: readonly string[] | undefined;
  /** OCI Cmd: replaced by arguments after `--`. ACIs have none: their arguments follow exec. */
  readonly cmd: readonly string[] | undefined;
  readonly user: string;
  readonly group: string;
  readonly supplementaryGIDs: readonly number[];
  readonly workingDirectory: string;
  readonly environment: readonly (readonly [string, string])[];
  readonly isolators: readonly Isolator[];
  readonly mountPoints: NonNullable<AppSection["mountPoints"]>;
  readonly ports: NonNullable<AppSection["ports"]>;
  /**
   * Docker volume semantics: an implicit volume for a mount point starts with the image's content
   * at that path (Docker images), or empty (ACIs, as appc says).
   */
  readonly prefillVolumes: boolean;
}

/**
 * Reads the defaults of a stored image.
 *
 * @example
 * const d = imageAppDefaults(store, record, "docker://redis");
 * d.entrypoint; // ["docker-entrypoint.sh"]
 */
export function imageAppDefaults(store: ImageStore, record: ImageRecord, label: string): ImageAppDefaults {
  return record.format === "aci" ? aciDefaults(store, record, label) : ociDefaults(store, record, label);
}

function ociDefaults(store: ImageStore, record: ImageRecord, label: string): ImageAppDefaults {
  const cfg = parseImageConfig(store.readBlob(record.configDigest), `config of image ${label}`).config ?? {};
  const [user = "", group = ""] = (cfg.User ?? "").split(":");
  const environment: [string, string][] = [];
  for (const e of cfg.Env ?? []) {
    const eq = e.indexOf("=");
    if (eq > 0) environment.push([e.slice(0, eq), e.slice(eq + 1)]);
  }
  const ports = Object.keys(cfg.ExposedPorts ?? {}).flatMap((key) => {
    const [port = "", proto = "tcp"] = key.split("/");
    const n = Number(port);
    return Number.isInteger(n) && n > 0 && n < 65536 ? [{ name: `${n}-${proto}`, protocol: proto, port: n }] : [];
  });
  return {
    entrypoint: cfg.Entrypoint ?? undefined,
    cmd: cfg.Cmd ?? undefined,
    user: user === "" ? "0" : user,
    group,
    supplementaryGIDs: [],
    workingDirectory: cfg.WorkingDir === undefined || cfg.WorkingDir === "" ? "/" : cfg.WorkingDir,
    environment,
    isolators: [],
    mountPoints: Object.keys(cfg.Volumes ?? {}).map((path) => ({ name: volumeNameFor(path), path })),
    ports,
    prefillVolumes: true,
  };
}

/** The part of an appc image manifest that runs: its optional `app` section. */
const aciAppSchema = z.object({ app: z.optional(appSectionSchema) });

function aciDefaults(store: ImageStore, record: ImageRecord, label: string): ImageAppDefaults {
  const app = parseJson(store.readBlob(record.configDigest).toString("utf8"), aciAppSchema, `image manifest of ${label}`).app;
  return {
    entrypoint: app?.exec,
    cmd: undefined,
    user: app?.user ?? "0",
    group: app?.group ?? "0",
    supplementaryGIDs: app?.supplementaryGIDs ?? [],
    workingDirectory: app?.workingDirectory === undefined || app.workingDirectory === "" ? "/" : app.workingDirectory,
    environment: (app?.environment ?? []).map((e) => [e.name, e.value] as const),
    isolators: app?.isolators ?? [],
    mountPoints: app?.mountPoints ?? [],
    ports: app?.ports ?? [],
    prefillVolumes: false,
  };
}

/** rkt's docker2aci naming: `/var/lib/redis` -> `volume-var-lib-redis`. */
function volumeNameFor(path: string): string {
  const base = path.replace(/^\/+|\/+$/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `volume-${base === "" ? "root" : base}`;
}
