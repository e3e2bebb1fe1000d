/**
 * The OCI image configuration a build writes (image-spec config.md): the platform, the layers'
 * diff_ids, and the execution defaults translated from the appc-style build spec:
 * exec -> Entrypoint, environment -> Env, user[:group] -> User, workingDirectory -> WorkingDir,
 * ports -> ExposedPorts (`PORT/PROTO`, a range as one key per port), mountPoints -> Volumes,
 * labels and annotations -> Labels. On a base image the base's values are the defaults: Env,
 * ExposedPorts, Volumes and Labels are merged (the build's win), and a new Entrypoint drops the
 * base's Cmd, as Docker does for ENTRYPOINT.
 */
import type { ImageConfig } from "../formats/image-config.js";
import type { BuildSpec } from "./build-spec.js";
import type { OciPlatform } from "./platform-labels.js";

/** An OCI image configuration as rkt writes it. */
export interface OciConfigDocument {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly config: {
    readonly User?: string;
    readonly ExposedPorts?: Readonly<Record<string, Record<string, never>>>;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[];
    readonly Cmd?: readonly string[];
    readonly Volumes?: Readonly<Record<string, Record<string, never>>>;
    readonly WorkingDir?: string;
    readonly Labels?: Readonly<Record<string, string>>;
    readonly StopSignal?: string;
  };
  readonly rootfs: { readonly type: "layers"; readonly diff_ids: readonly string[] };
  readonly history: readonly { readonly created?: string; readonly created_by?: string; readonly comment?: string; readonly empty_layer?: boolean }[];
}

/** Inputs of {@link ociConfigDocument} besides the spec. */
export interface OciConfigInputs {
  readonly platform: OciPlatform;
  /** The base image's configuration, when building on one. */
  readonly base?: ImageConfig | undefined;
  /** Every layer's diff_id, base layers first. */
  readonly diffIds: readonly string[];
  /** RFC 3339 time of the build (from SOURCE_DATE_EPOCH, or the epoch). */
  readonly created: string;
}

/**
 * @example
 * ociConfigDocument({ exec: ["/bin/app"], ports: [{ name: "http", protocol: "tcp", port: 80 }] },
 *   { platform: { os: "linux", architecture: "amd64" }, diffIds: ["sha256:..."], created: "1970-01-01T00:00:00Z" });
 * // config: { Entrypoint: ["/bin/app"], ExposedPorts: { "80/tcp": {} } }
 */
export function ociConfigDocument(spec: BuildSpec, inputs: OciConfigInputs): OciConfigDocument {
  const base = inputs.base?.config;
  const env = new Map<string, string>();
  for (const entry of base?.Env ?? []) {
    const eq = entry.indexOf("=");
    env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? "" : entry.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(spec.environment ?? {})) env.set(k, v);

  const ports: Record<string, Record<string, never>> = {};
  for (const key of Object.keys(base?.ExposedPorts ?? {})) ports[key] = {};
  for (const p of spec.ports ?? []) {
    for (let port = p.port; port < p.port + (p.count ?? 1); port++) ports[`${port}/${p.protocol}`] = {};
  }
  const volumes: Record<string, Record<string, never>> = {};
  for (const key of Object.keys(base?.Volumes ?? {})) volumes[key] = {};
  for (const m of spec.mountPoints ?? []) volumes[m.path] = {};
  const labels: Record<string, string> = { ...base?.Labels, ...spec.labels, ...spec.annotations };

  const baseUser = base?.User === undefined || base.User === "" ? undefined : base.User.split(":")[0];
  const user = spec.user ?? baseUser;
  const userField = spec.group === undefined ? (spec.user ?? base?.User) : `${user ?? "0"}:${spec.group}`;
  const entrypoint = spec.exec ?? base?.Entrypoint;
  const cmd = spec.exec === undefined ? base?.Cmd : undefined;
  const workingDir = spec.workingDirectory ?? base?.WorkingDir;

  const config = {
    ...(userField === undefined || userField === "" ? {} : { User: userField }),
    ...(Object.keys(ports).length > 0 ? { ExposedPorts: ports } : {}),
    ...(env.size > 0 ? { Env: [...env].map(([k, v]) => `${k}=${v}`) } : {}),
    ...(entrypoint === undefined ? {} : { Entrypoint: entrypoint }),
    ...(cmd === undefined ? {} : { Cmd: cmd }),
    ...(Object.keys(volumes).length > 0 ? { Volumes: volumes } : {}),
    ...(workingDir === undefined || workingDir === "" ? {} : { WorkingDir: workingDir }),
    ...(Object.keys(labels).length > 0 ? { Labels: labels } : {}),
    ...(base?.StopSignal === undefined ? {} : { StopSignal: base.StopSignal }),
  };
  const history = (inputs.base?.history ?? []).map((h) => ({
    ...(h.created === undefined ? {} : { created: h.created }),
    ...(h.created_by === undefined ? {} : { created_by: h.created_by }),
    ...(h.comment === undefined ? {} : { comment: h.comment }),
    ...(h.empty_layer === undefined ? {} : { empty_layer: h.empty_layer }),
  }));
  history.push({ created: inputs.created, created_by: "rkt image build" });
  return {
    created: inputs.created,
    architecture: inputs.platform.architecture,
    os: inputs.platform.os,
    ...(inputs.platform.variant === undefined ? {} : { variant: inputs.platform.variant }),
    config,
    rootfs: { type: "layers", diff_ids: inputs.diffIds },
    history,
  };
}
