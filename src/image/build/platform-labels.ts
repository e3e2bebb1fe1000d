/**
 * The platform of a built image in both vocabularies: appc `os`/`arch` labels (appc
 * schema/types/labels.go `ValidOSArch`: `linux/amd64`, `linux/aarch64`, ...) for an ACI, and OCI
 * `os`/`architecture`/`variant` (image-spec config.md, Go's GOOS/GOARCH names: `arm64`, `386`)
 * for an OCI image. Users may write either spelling in the `arch` label; each output gets its own.
 */
import { RktError } from "../../lib/errors.js";

/** An OCI platform (image-spec config.md `os`, `architecture`, `variant`). */
export interface OciPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

/** The appc os/arch pairs an ACI may carry (appc `ValidOSArch`). */
const APPC_ARCHES: ReadonlyMap<string, readonly string[]> = new Map([
  ["linux", ["amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64", "ppc64le", "s390x"]],
  ["freebsd", ["amd64", "i386", "arm"]],
  ["darwin", ["x86_64", "i386"]],
]);

/** appc arch -> OCI architecture (+ variant). */
const APPC_TO_OCI: ReadonlyMap<string, { architecture: string; variant?: string }> = new Map([
  ["amd64", { architecture: "amd64" }],
  ["x86_64", { architecture: "amd64" }],
  ["i386", { architecture: "386" }],
  ["aarch64", { architecture: "arm64" }],
  ["aarch64_be", { architecture: "arm64be" }],
  ["armv6l", { architecture: "arm", variant: "v6" }],
  ["armv7l", { architecture: "arm", variant: "v7" }],
  ["armv7b", { architecture: "armbe", variant: "v7" }],
  ["ppc64", { architecture: "ppc64" }],
  ["ppc64le", { architecture: "ppc64le" }],
  ["s390x", { architecture: "s390x" }],
]);

/** OCI/Go spellings users may type in the `arch` label -> appc arch. */
const OCI_TO_APPC: ReadonlyMap<string, string> = new Map([
  ["arm64", "aarch64"],
  ["386", "i386"],
  ["arm", "armv7l"],
]);

/** Node's `process.arch` -> appc arch. */
const NODE_TO_APPC: ReadonlyMap<string, string> = new Map([
  ["x64", "amd64"],
  ["ia32", "i386"],
  ["arm64", "aarch64"],
  ["arm", "armv7l"],
  ["ppc64", "ppc64le"],
  ["s390x", "s390x"],
]);

/** The host's appc `os` and `arch`, the defaults of a built ACI (as acbuild set them). */
export function hostAppcPlatform(nodePlatform: string = process.platform, nodeArch: string = process.arch): { os: string; arch: string } {
  return { os: nodePlatform === "win32" ? "windows" : nodePlatform, arch: NODE_TO_APPC.get(nodeArch) ?? nodeArch };
}

/**
 * The appc spelling of an `arch` label value typed in either vocabulary.
 *
 * @example
 * appcArch("arm64"); // "aarch64"
 * appcArch("amd64"); // "amd64"
 */
export function appcArch(arch: string): string {
  return OCI_TO_APPC.get(arch) ?? arch;
}

/**
 * Throws unless `os`/`arch` is a pair an ACI may carry (appc `ValidOSArch`); `arch` may be
 * absent (an architecture-independent image) but then needs no check.
 */
export function checkAppcPlatform(os: string | undefined, arch: string | undefined): void {
  if (arch !== undefined && os === undefined) {
    throw new RktError("invalid-argument", `label arch=${arch} without an os label`, { hint: "appc: arch means something only with os; add --label os=linux" });
  }
  if (os === undefined) return;
  const arches = APPC_ARCHES.get(os);
  if (arches === undefined) {
    throw new RktError("invalid-argument", `label os=${os} is not an appc operating system`, { hint: `use one of: ${[...APPC_ARCHES.keys()].join(", ")}` });
  }
  if (arch !== undefined && !arches.includes(arch)) {
    throw new RktError("invalid-argument", `label arch=${arch} is not valid with os=${os} in an ACI`, { hint: `use one of: ${arches.join(", ")}` });
  }
}

/**
 * The OCI platform for appc `os`/`arch` values (either spelling for `arch`).
 *
 * @example
 * ociPlatform("linux", "armv7l"); // { os: "linux", architecture: "arm", variant: "v7" }
 */
export function ociPlatform(os: string, arch: string): OciPlatform {
  const mapped = APPC_TO_OCI.get(appcArch(arch));
  if (mapped === undefined) return { os, architecture: arch };
  return mapped.variant === undefined ? { os, architecture: mapped.architecture } : { os, architecture: mapped.architecture, variant: mapped.variant };
}

/**
 * The appc `os`/`arch` labels an ACI gets: as given (`arch` in appc spelling), or the host's
 * when no `os` label is given, as acbuild did. Without them rkt's name lookups, which default
 * `os`/`arch` to the host's (discovery.md "Validation"), would never match the image.
 *
 * @example
 * aciPlatformLabels({}, { os: "linux", arch: "amd64" }); // { os: "linux", arch: "amd64" }
 * aciPlatformLabels({ os: "linux" }, host); // { os: "linux", arch: undefined }: any architecture
 */
export function aciPlatformLabels(labels: Readonly<Record<string, string>>, host: { readonly os: string; readonly arch: string }): { os: string | undefined; arch: string | undefined } {
  const arch = labels.arch === undefined ? undefined : appcArch(labels.arch);
  if (labels.os !== undefined) return { os: labels.os, arch };
  if (arch !== undefined) return { os: undefined, arch };
  return { os: host.os, arch: host.arch };
}
