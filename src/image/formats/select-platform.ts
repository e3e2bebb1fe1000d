/**
 * Picking the entry of an image index (or Docker manifest list) that runs on a platform, by default
 * the host's. Matching follows image-index.md ("platform": GOOS/GOARCH values, the ARM variant
 * table) with the compatibility rules containerd uses: an arm/v7 host runs arm/v6 images, an
 * arm64 entry without a variant is arm64/v8, an amd64 entry without a variant is amd64/v1.
 */
import { RktError } from "../../lib/errors.js";
import { formatPlatform, type Descriptor, type Platform } from "./descriptor.js";
import type { ImageIndex } from "./image-index.js";
import { isImageManifestMediaType, isIndexMediaType } from "./media-types.js";

/** The platform an image must run on. */
export interface PlatformRequest {
  readonly os: string;
  readonly architecture: string;
  /** CPU variant (`v7`, `v8`); undefined means the architecture's baseline. */
  readonly variant?: string | undefined;
}

/**
 * The platform of this machine, from Node's `process.arch` (passed in so tests can pick another).
 * rkt runs Linux containers only, so the OS is always `linux`. 32-bit ARM is assumed to be v7,
 * the baseline of every distribution still shipping armhf.
 *
 * @example
 * hostPlatform("x64"); // { os: "linux", architecture: "amd64" }
 * hostPlatform("arm64"); // { os: "linux", architecture: "arm64", variant: "v8" }
 */
export function hostPlatform(nodeArch: string = process.arch): PlatformRequest {
  switch (nodeArch) {
    case "x64":
      return { os: "linux", architecture: "amd64" };
    case "arm64":
      return { os: "linux", architecture: "arm64", variant: "v8" };
    case "arm":
      return { os: "linux", architecture: "arm", variant: "v7" };
    case "ia32":
      return { os: "linux", architecture: "386" };
    case "ppc64":
      // Node reports "ppc64" on little-endian Linux too, the only ppc64 Linux images ship for.
      return { os: "linux", architecture: "ppc64le" };
    case "mipsel":
      return { os: "linux", architecture: "mipsle" };
    default:
      // s390x, riscv64, loong64, mips: Node and Go spell them the same.
      return { os: "linux", architecture: nodeArch };
  }
}

/**
 * The index entry to use for `want`: the best compatible platform, ties broken by index order (the
 * spec defines no preference, and registries list the canonical build first). Entries whose media
 * type is neither a manifest nor an index are ignored, as image-index.md requires for unknown
 * types; entries without a platform match anything but rank after every real match. The result
 * may itself be an index (nested indexes are allowed): fetch it and select again.
 *
 * Throws RktError("not-found") listing the platforms the index offers when none fits.
 *
 * @example
 * const entry = selectPlatform(index, { os: "linux", architecture: "arm64" }, "docker://redis");
 */
export function selectPlatform(index: ImageIndex, want: PlatformRequest = hostPlatform(), what = "image"): Descriptor {
  const target = normalize(want);
  let best: { rank: number; entry: Descriptor } | undefined;
  for (const entry of index.manifests) {
    if (!isImageManifestMediaType(entry.mediaType) && !isIndexMediaType(entry.mediaType)) continue;
    const rank = entry.platform === undefined ? NO_PLATFORM_RANK : compatibility(target, normalize(entry.platform));
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { rank, entry };
  }
  if (best !== undefined) return best.entry;

  const offered = [
    ...new Set(
      index.manifests
        .map((m) => m.platform)
        .filter((p): p is Platform => p !== undefined && !(p.os === "unknown" && p.architecture === "unknown"))
        .map(formatPlatform),
    ),
  ];
  const wanted = formatPlatform(want);
  if (offered.length === 0) {
    throw new RktError("not-found", `${what}: the image index lists no image for any platform, so none for ${wanted}`);
  }
  throw new RktError("not-found", `${what}: no image for ${wanted}; the index offers ${offered.join(", ")}`, {
    hint: "the image was not built for this platform; use an image that lists it, or a machine of one of the listed platforms",
  });
}

/** Entries without a platform: usable, but only when nothing describes itself as a match. */
const NO_PLATFORM_RANK = 1_000_000;

interface NormalPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string | undefined;
}

/** Go's spellings for the aliases people and old manifests use, and each architecture's default variant. */
function normalize(p: PlatformRequest): NormalPlatform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant === undefined || p.variant === "" ? undefined : p.variant.toLowerCase();
  switch (architecture) {
    case "x86_64":
    case "x86-64":
      architecture = "amd64";
      break;
    case "aarch64":
      architecture = "arm64";
      break;
    case "armhf":
      architecture = "arm";
      variant ??= "v7";
      break;
    case "armel":
      architecture = "arm";
      variant ??= "v6";
      break;
    case "i386":
    case "i686":
    case "x86":
      architecture = "386";
      break;
  }
  if (variant !== undefined && /^\d/.test(variant)) variant = `v${variant}`;
  if (architecture === "arm64") variant ??= "v8";
  if (architecture === "arm") variant ??= "v7";
  if (architecture === "amd64") variant ??= "v1";
  return { os, architecture, variant };
}

/** Architectures whose variants are ordered levels: a newer CPU runs code built for an older one. */
const LEVELLED = new Set(["arm", "arm64", "amd64"]);

/** 0 for an exact match, larger for a worse but compatible one, undefined when it cannot run. */
function compatibility(want: NormalPlatform, have: NormalPlatform): number | undefined {
  if (want.os !== have.os || want.architecture !== have.architecture) return undefined;
  if (want.variant === have.variant) return 0;
  if (LEVELLED.has(want.architecture)) {
    const w = level(want.variant);
    const h = level(have.variant);
    if (w === undefined || h === undefined || h > w) return undefined;
    return w - h;
  }
  if (want.variant === undefined) return 1;
  return undefined;
}

/** `v7` -> 700, `v8.2` -> 802. */
function level(variant: string | undefined): number | undefined {
  const m = variant === undefined ? null : /^v(\d+)(?:\.(\d+))?$/.exec(variant);
  if (m === null) return undefined;
  return Number(m[1]) * 100 + Number(m[2] ?? 0);
}
