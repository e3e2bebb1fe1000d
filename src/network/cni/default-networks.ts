/**
 * rkt's two built-in networks (rkt Documentation/networking/overview.md, stage1's
 * `99-default.conf` and `99-default-restricted.conf`):
 *
 * - `default`: a ptp veth pair per pod with host-local addresses from 172.16.28.0/24, a default
 *   route through the host, and IP masquerading so the pod reaches what the host reaches.
 * - `default-restricted`: the same shape on 172.31.0.0/16 with no default route and no
 *   masquerade: the pod can talk to the host (and the metadata service) and nothing else. rkt
 *   adds it to every pod that does not join `default`.
 *
 * A file in `<localConfig>/net.d` with either name replaces the built-in one.
 *
 * They declare CNI spec 0.4.0: the oldest version with CHECK and `prevResult` on DEL, and one the
 * plugins rkt runs on (containernetworking-plugins 1.x: 0.1.0 to 1.0.0) all support.
 */

/** The built-in network pods join by default. */
export const DEFAULT_NETWORK = "default";
/** The built-in network pods join when they do not join `default`. */
export const DEFAULT_RESTRICTED_NETWORK = "default-restricted";

/** The CNI spec version of the built-in configurations. */
export const BUILTIN_CNI_VERSION = "0.4.0";

/** Options of {@link builtinNetworkConfigs}. */
export interface BuiltinNetworkOptions {
  /**
   * Where host-local keeps the built-in networks' leases (its `dataDir`); unset, host-local's own
   * default, `/var/lib/cni/networks/<name>`.
   */
  readonly ipamDataDir?: string;
}

/**
 * The built-in networks' configuration files, as JSON text, by name.
 *
 * @example
 * const { default: bytes } = builtinNetworkConfigs();
 * // {"cniVersion":"0.4.0","name":"default","type":"ptp","ipMasq":true,"ipam":{...}}
 */
export function builtinNetworkConfigs(options: BuiltinNetworkOptions = {}): Readonly<Record<typeof DEFAULT_NETWORK | typeof DEFAULT_RESTRICTED_NETWORK, string>> {
  const dataDir = options.ipamDataDir === undefined ? {} : { dataDir: options.ipamDataDir };
  const defaultNet = {
    cniVersion: BUILTIN_CNI_VERSION,
    name: DEFAULT_NETWORK,
    type: "ptp",
    ipMasq: true,
    ipam: { type: "host-local", subnet: "172.16.28.0/24", routes: [{ dst: "0.0.0.0/0" }], ...dataDir },
  };
  const restricted = {
    cniVersion: BUILTIN_CNI_VERSION,
    name: DEFAULT_RESTRICTED_NETWORK,
    type: "ptp",
    ipMasq: false,
    ipam: { type: "host-local", subnet: "172.31.0.0/16", ...dataDir },
  };
  return { [DEFAULT_NETWORK]: JSON.stringify(defaultNet), [DEFAULT_RESTRICTED_NETWORK]: JSON.stringify(restricted) };
}
