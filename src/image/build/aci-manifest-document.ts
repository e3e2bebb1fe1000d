/**
 * The appc image manifest a build writes as an ACI's `manifest` (appc spec 0.8.11, aci.md "Image
 * Manifest Schema"). Typed here for writing only; reading ACIs has its own parser with the full
 * schema. Lists the spec keeps as maps (labels, environment, annotations) become appc's
 * `[{name, value}]`; labels, annotations and dependency labels are sorted by name so the bytes do
 * not depend on the order flags were given in.
 */
import type { BuildSpec, DependencySpec } from "./build-spec.js";
import { aciPlatformLabels } from "./platform-labels.js";

/** The appc spec version written into `acVersion` (the version rkt 1.30 implemented). */
export const APPC_VERSION = "0.8.11";

/** appc's `{name, value}` pair. */
export interface NameValue {
  readonly name: string;
  readonly value: string;
}

/** The `app` section (aci.md "app"). */
export interface AciAppDocument {
  readonly exec?: readonly string[];
  readonly user: string;
  readonly group: string;
  readonly workingDirectory?: string;
  readonly environment?: readonly NameValue[];
  readonly isolators?: readonly { readonly name: string; readonly value: unknown }[];
  readonly mountPoints?: readonly { readonly name: string; readonly path: string; readonly readOnly: boolean }[];
  readonly ports?: readonly { readonly name: string; readonly protocol: string; readonly port: number; readonly count?: number; readonly socketActivated?: boolean }[];
}

/** One entry of `dependencies` (aci.md "dependencies"). */
export interface AciDependencyDocument {
  readonly imageName: string;
  readonly imageID?: string;
  readonly labels?: readonly NameValue[];
  readonly size?: number;
}

/** An appc ImageManifest as rkt writes it. */
export interface AciManifestDocument {
  readonly acKind: "ImageManifest";
  readonly acVersion: string;
  readonly name: string;
  readonly labels?: readonly NameValue[];
  readonly app?: AciAppDocument;
  readonly dependencies?: readonly AciDependencyDocument[];
  readonly annotations?: readonly NameValue[];
}

/**
 * The manifest for `spec` (already checked, with a name). `dependencies` are the spec's plus a
 * base image turned into one, in order. The `app` section is written when the spec says anything
 * about running the image; appc requires `user` and `group` there, which default to "0".
 *
 * @example
 * aciManifestDocument({ name: "example.com/app", exec: ["/bin/app"] }, { host: { os: "linux", arch: "amd64" }, dependencies: [] });
 * // { acKind: "ImageManifest", acVersion: "0.8.11", name: "example.com/app",
 * //   labels: [{name:"arch",value:"amd64"},{name:"os",value:"linux"}], app: { exec: ["/bin/app"], user: "0", group: "0" } }
 */
export function aciManifestDocument(
  spec: BuildSpec & { readonly name: string },
  options: { readonly host: { readonly os: string; readonly arch: string }; readonly dependencies: readonly DependencySpec[] },
): AciManifestDocument {
  const { os, arch } = aciPlatformLabels(spec.labels ?? {}, options.host);
  const labels: Record<string, string> = { ...spec.labels };
  delete labels.os;
  delete labels.arch;
  if (os !== undefined) labels.os = os;
  if (arch !== undefined) labels.arch = arch;
  const app = appDocument(spec);
  const dependencies = options.dependencies.map(dependencyDocument);
  const annotations = nameValues(spec.annotations);
  return {
    acKind: "ImageManifest",
    acVersion: APPC_VERSION,
    name: spec.name,
    ...(Object.keys(labels).length > 0 ? { labels: nameValues(labels) } : {}),
    ...(app === undefined ? {} : { app }),
    ...(dependencies.length > 0 ? { dependencies } : {}),
    ...(annotations.length > 0 ? { annotations } : {}),
  };
}

function appDocument(spec: BuildSpec): AciAppDocument | undefined {
  const runs =
    spec.exec !== undefined ||
    spec.user !== undefined ||
    spec.group !== undefined ||
    spec.workingDirectory !== undefined ||
    spec.environment !== undefined ||
    spec.ports !== undefined ||
    spec.mountPoints !== undefined ||
    spec.isolators !== undefined;
  if (!runs) return undefined;
  return {
    ...(spec.exec === undefined ? {} : { exec: spec.exec }),
    user: spec.user ?? "0",
    group: spec.group ?? "0",
    ...(spec.workingDirectory === undefined ? {} : { workingDirectory: spec.workingDirectory }),
    ...(spec.environment === undefined ? {} : { environment: Object.entries(spec.environment).map(([name, value]) => ({ name, value })) }),
    ...(spec.isolators === undefined ? {} : { isolators: spec.isolators.map((i) => ({ name: i.name, value: i.value })) }),
    ...(spec.mountPoints === undefined ? {} : { mountPoints: spec.mountPoints.map((m) => ({ name: m.name, path: m.path, readOnly: m.readOnly ?? false })) }),
    ...(spec.ports === undefined
      ? {}
      : {
          ports: spec.ports.map((p) => ({
            name: p.name,
            protocol: p.protocol,
            port: p.port,
            ...(p.count === undefined ? {} : { count: p.count }),
            ...(p.socketActivated === undefined ? {} : { socketActivated: p.socketActivated }),
          })),
        }),
  };
}

function dependencyDocument(d: DependencySpec): AciDependencyDocument {
  const labels = nameValues(d.labels);
  return {
    imageName: d.imageName,
    ...(d.imageID === undefined ? {} : { imageID: d.imageID }),
    ...(labels.length > 0 ? { labels } : {}),
    ...(d.size === undefined ? {} : { size: d.size }),
  };
}

function nameValues(map: Readonly<Record<string, string>> | undefined): NameValue[] {
  return Object.entries(map ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
}
