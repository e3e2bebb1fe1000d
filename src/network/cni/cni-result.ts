/**
 * What CNI plugins print (CNI SPEC.md "Result", "Well-known Error Codes", and the VERSION
 * command): schemas at the boundary, and one normalised view of a result whatever spec version the
 * plugin spoke.
 *
 * The raw result object is kept as the plugin printed it: the spec requires the runtime to hand it
 * back verbatim as `prevResult` to the next plugin of a list and on DEL/CHECK. Only rkt's own
 * reading of it (addresses, routes, DNS) goes through {@link normalizeResult}.
 */
import * as z from "../../lib/schema.js";

const stringList = z.optional(z.array(z.string()));

/** The DNS block of a result or a network config (SPEC.md "DNS"). */
export const cniDnsSchema = z.looseObject({
  nameservers: stringList,
  domain: z.optional(z.string()),
  search: stringList,
  options: stringList,
});
/** DNS settings from a result or a network config. */
export type CniDns = z.infer<typeof cniDnsSchema>;

const routeSchema = z.looseObject({ dst: z.string(), gw: z.optional(z.string()) });

/**
 * A result of spec 0.3.0 and later (0.3.x, 0.4.0, 1.0.0): `interfaces`, `ips`, `routes`, `dns`.
 * 1.0.0 dropped `ips[].version`, so it is optional.
 */
const currentResultSchema = z.looseObject({
  cniVersion: z.string(),
  interfaces: z.optional(
    z.array(z.looseObject({ name: z.string(), mac: z.optional(z.string()), sandbox: z.optional(z.string()) })),
  ),
  ips: z.optional(
    z.array(
      z.looseObject({
        version: z.optional(z.enum(["4", "6"])),
        address: z.string(),
        gateway: z.optional(z.string()),
        interface: z.optional(z.number().check(z.int(), z.nonnegative())),
      }),
    ),
  ),
  routes: z.optional(z.array(routeSchema)),
  dns: z.optional(cniDnsSchema),
});

const legacyIpSchema = z.looseObject({ ip: z.string(), gateway: z.optional(z.string()), routes: z.optional(z.array(routeSchema)) });

/** A result of spec 0.1.0 / 0.2.0 (where `cniVersion` could be missing): `ip4`, `ip6`, `dns`. */
const legacyResultSchema = z.looseObject({
  cniVersion: z.optional(z.enum(["0.1.0", "0.2.0"])),
  ip4: z.optional(legacyIpSchema),
  ip6: z.optional(legacyIpSchema),
  dns: z.optional(cniDnsSchema),
});

/** Any result rkt accepts from a plugin: a 0.1/0.2 one, or a current one (which names its version). */
export const cniResultSchema = z.union([legacyResultSchema, currentResultSchema]);

/** The error a plugin prints with a non-zero exit (SPEC.md "Result", errors). */
export const cniErrorSchema = z.looseObject({
  cniVersion: z.optional(z.string()),
  code: z.number().check(z.int()),
  msg: z.string(),
  details: z.optional(z.string()),
});
/** A plugin's error answer: `{ code, msg, details }`. */
export type CniError = z.infer<typeof cniErrorSchema>;

/** The answer to CNI_COMMAND=VERSION. */
export const cniVersionInfoSchema = z.looseObject({
  cniVersion: z.string(),
  supportedVersions: z.array(z.string()),
});
/** The answer to VERSION: `{ cniVersion, supportedVersions }`. */
export type CniVersionInfo = z.infer<typeof cniVersionInfoSchema>;

/** One address a network gave the pod, in CIDR notation (`172.16.28.2/24`). */
export interface CniAddress {
  readonly version: "4" | "6";
  readonly address: string;
  readonly gateway?: string;
  /** The interface it sits on, when the plugin said (an index resolved to its name). */
  readonly interface?: string;
}

/** A route a network gave the pod (`0.0.0.0/0` is the default route). */
export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
}

/** rkt's reading of a result, the same for every spec version. */
export interface NormalizedResult {
  readonly interfaces: readonly { readonly name: string; readonly mac?: string; readonly sandbox?: string }[];
  readonly ips: readonly CniAddress[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
}

/**
 * Reads a raw result (already checked against {@link cniResultSchema}) into the current shape:
 * 0.1/0.2 `ip4`/`ip6` become `ips` and their `routes`; a missing `version` (1.0.0) is taken from
 * the address.
 *
 * @example
 * const { ips } = normalizeResult(result); // [{ version: "4", address: "172.16.28.2/24", ... }]
 */
export function normalizeResult(raw: unknown): NormalizedResult {
  const current = currentResultSchema.safeParse(raw);
  if (current.success && (current.data.interfaces !== undefined || current.data.ips !== undefined || current.data.routes !== undefined)) {
    const r = current.data;
    const interfaces = (r.interfaces ?? []).map((i) => ({ name: i.name, ...(i.mac === undefined ? {} : { mac: i.mac }), ...(i.sandbox === undefined ? {} : { sandbox: i.sandbox }) }));
    const ips = (r.ips ?? []).map((ip): CniAddress => {
      const ifname = ip.interface === undefined ? undefined : interfaces[ip.interface]?.name;
      return {
        version: ip.version ?? (ip.address.includes(":") ? "6" : "4"),
        address: ip.address,
        ...(ip.gateway === undefined ? {} : { gateway: ip.gateway }),
        ...(ifname === undefined ? {} : { interface: ifname }),
      };
    });
    return { interfaces, ips, routes: (r.routes ?? []).map(route), dns: r.dns ?? {} };
  }
  const legacy = legacyResultSchema.safeParse(raw);
  if (!legacy.success) return { interfaces: [], ips: [], routes: [], dns: {} };
  const ips: CniAddress[] = [];
  const routes: CniRoute[] = [];
  for (const [version, block] of [["4", legacy.data.ip4], ["6", legacy.data.ip6]] as const) {
    if (block === undefined) continue;
    ips.push({ version, address: block.ip, ...(block.gateway === undefined ? {} : { gateway: block.gateway }) });
    for (const r of block.routes ?? []) routes.push(route(r));
  }
  return { interfaces: [], ips, routes, dns: legacy.data.dns ?? {} };
}

function route(r: { dst: string; gw?: string | undefined }): CniRoute {
  return r.gw === undefined ? { dst: r.dst } : { dst: r.dst, gw: r.gw };
}

/** True if the DNS block says anything at all. */
export function hasDns(dns: CniDns): boolean {
  return (dns.nameservers?.length ?? 0) > 0 || (dns.search?.length ?? 0) > 0 || (dns.options?.length ?? 0) > 0 || (dns.domain ?? "") !== "";
}
