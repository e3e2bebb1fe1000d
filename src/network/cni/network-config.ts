/**
 * CNI network configurations: the files in `<localConfig>/net.d` (default `/etc/rkt/net.d`) plus
 * rkt's built-in `default` and `default-restricted` networks.
 *
 * Two file formats (CNI SPEC.md "Network Configuration" and "Network Configuration Lists"):
 * `*.conf` holds one plugin (`type` at the top level), `*.conflist` a list (`plugins`). Files are
 * read in lexicographic order of their names, which is the order `--net=all` joins them in and
 * so the order of the pod's interfaces (eth0, eth1, ...). Other files in net.d are ignored: the
 * directory may also hold custom plugin binaries, as it did in rkt.
 *
 * Every configuration keeps the exact text it was read from: it is saved with the pod, so DEL
 * runs with the configuration ADD ran with even if net.d changed since.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { checkJson, decodeJsonText } from "../../lib/json-document.js";
import { builtinNetworkConfigs, DEFAULT_NETWORK, DEFAULT_RESTRICTED_NETWORK, type BuiltinNetworkOptions } from "./default-networks.js";

/** rkt's default local configuration directory; networks live in its `net.d`. */
export const DEFAULT_LOCAL_CONFIG = "/etc/rkt";

/** Names `--net` gives a meaning of its own; no network may be called that. */
export const RESERVED_NETWORK_NAMES: readonly string[] = ["all", "none", "host"];

/** One plugin of a network: its `type` (the executable's name) and its configuration object. */
export interface PluginConfig {
  readonly type: string;
  readonly conf: Readonly<Record<string, unknown>>;
}

/** A loaded, validated network configuration. */
export interface NetworkConfig {
  readonly name: string;
  readonly cniVersion: string;
  /** The file it was read from, or `builtin:<name>`. */
  readonly source: string;
  /** The exact JSON text of the configuration. */
  readonly bytes: string;
  readonly format: "conf" | "conflist";
  /** One for a `.conf`; the list, in order, for a `.conflist`. */
  readonly plugins: readonly PluginConfig[];
  /** Whether a plugin of the network masquerades (`ipMasq: true`): port forwarding picks such a network. */
  readonly ipMasq: boolean;
  /** `disableCheck` of a list: CHECK must not run (SPEC.md "Network Configuration Lists"). */
  readonly disableCheck: boolean;
  readonly builtin: boolean;
}

// SPEC.md "Network Configuration": name "must start with a alphanumeric character, optionally
// followed by any combination of one or more alphanumeric characters, underscore (_), dot (.) or
// hyphen (-)".
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// A plugin type names an executable looked up in the plugin directories: a bare file name, never
// a path (`"type": "../../bin/sh"` must not run /bin/sh).
const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;
const VERSION_PATTERN = /^\d+\.\d+\.\d+$/;

/** A required string field: "missing" when absent, rather than zod's "expected string, received undefined". */
const requiredString = (): z.ZodMiniString => z.string({ error: (issue) => (issue.input === undefined ? "missing (required)" : "must be a string") });
const nameSchema = requiredString().check(z.regex(NAME_PATTERN, "a network name is letters, digits, '_', '.' and '-', starting with a letter or digit"));
const versionSchema = requiredString().check(z.regex(VERSION_PATTERN, 'cniVersion is a version like "0.4.0"'));
const typeSchema = requiredString().check(z.regex(TYPE_PATTERN, "a plugin type is the file name of a plugin executable"));
const disableCheckSchema = z.optional(z.union([z.boolean(), z.enum(["true", "false"])]));

const pluginSchema = z.looseObject({ type: typeSchema, ipMasq: z.optional(z.boolean()) });
const confSchema = z.looseObject({ cniVersion: versionSchema, name: nameSchema, type: typeSchema, ipMasq: z.optional(z.boolean()) });
const listSchema = z.looseObject({
  cniVersion: versionSchema,
  name: nameSchema,
  disableCheck: disableCheckSchema,
  plugins: z.array(pluginSchema, { error: (issue) => (issue.input === undefined ? "missing (required)" : "must be a list of plugins") }).check(
    z.minLength(1, "a network configuration list needs at least one plugin"),
  ),
});

/**
 * Parses one network configuration from its text. `format` follows the file's extension;
 * `source` names it in errors.
 *
 * @example
 * const net = parseNetworkConfig('{"cniVersion":"0.4.0","name":"lan","type":"bridge"}', "conf", "/etc/rkt/net.d/10-lan.conf");
 */
export function parseNetworkConfig(bytes: string, format: "conf" | "conflist", source: string, builtin = false): NetworkConfig {
  const what = `network configuration ${source}`;
  const json = decodeJsonText(bytes, what);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new RktError("invalid-argument", `invalid ${what}: not a JSON object`);
  }
  if (format === "conf") {
    if ("plugins" in json && !("type" in json)) {
      throw new RktError("invalid-argument", `invalid ${what}: a .conf file holds one plugin ("type"), not a "plugins" list`, {
        hint: "rename it to .conflist",
      });
    }
    const conf = checkJson(json, confSchema, what);
    return {
      name: conf.name,
      cniVersion: conf.cniVersion,
      source,
      bytes,
      format,
      plugins: [{ type: conf.type, conf }],
      ipMasq: conf.ipMasq === true,
      disableCheck: false,
      builtin,
    };
  }
  if ("type" in json && !("plugins" in json)) {
    throw new RktError("invalid-argument", `invalid ${what}: a .conflist file holds a "plugins" list, not a single plugin`, {
      hint: "rename it to .conf",
    });
  }
  const list = checkJson(json, listSchema, what);
  return {
    name: list.name,
    cniVersion: list.cniVersion,
    source,
    bytes,
    format,
    plugins: list.plugins.map((p) => ({ type: p.type, conf: p })),
    ipMasq: list.plugins.some((p) => p.ipMasq === true),
    disableCheck: list.disableCheck === true || list.disableCheck === "true",
    builtin,
  };
}

/** Options of {@link loadNetworkConfigs}. */
export interface LoadNetworkConfigsOptions extends BuiltinNetworkOptions {
  /** rkt's local configuration directory (default `/etc/rkt`); networks are in its `net.d`. */
  readonly localConfig?: string;
  /**
   * Read the files of this directory instead of `<localConfig>/net.d` (the CRI server: the
   * kubelet's `/etc/cni/net.d`).
   */
  readonly netDir?: string;
  /** Add the built-in `default` and `default-restricted` networks (default true). */
  readonly builtins?: boolean;
}

/**
 * Every network rkt knows, in load order: the files of `<localConfig>/net.d` in lexicographic
 * order of their names, then the built-in `default` and `default-restricted` unless a file
 * defines a network of that name (which then replaces the built-in where its file sorts).
 *
 * Fails with "invalid-argument" naming the file for malformed JSON, a missing or malformed
 * `name`, `cniVersion`, `type` or `plugins`, a reserved name (all, none, host), or a name two
 * files share. A missing net.d is no error: only the built-in networks exist then.
 *
 * @example
 * const networks = await loadNetworkConfigs({ localConfig: "/etc/rkt" });
 * networks.map((n) => n.name); // ["lan", "default", "default-restricted"]
 */
export async function loadNetworkConfigs(options: LoadNetworkConfigsOptions = {}): Promise<readonly NetworkConfig[]> {
  const dir = options.netDir ?? join(options.localConfig ?? DEFAULT_LOCAL_CONFIG, "net.d");
  let entries: { name: string; isFile: boolean }[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).map((e) => ({ name: e.name, isFile: e.isFile() || e.isSymbolicLink() }));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") entries = [];
    else throw wrap(`reading network configurations in ${dir}`, err);
  }
  // Code-unit order, not locale order: the same on every machine, like Go's sort.Strings in rkt.
  const files = entries
    .filter((e) => e.isFile && !e.name.startsWith(".") && (e.name.endsWith(".conf") || e.name.endsWith(".conflist")))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const networks: NetworkConfig[] = [];
  const byName = new Map<string, NetworkConfig>();
  for (const file of files) {
    const path = join(dir, file);
    let bytes: string;
    try {
      bytes = await readFile(path, "utf8");
    } catch (err) {
      // A dangling symlink or a file removed while listing: say which.
      throw wrap(`reading network configuration ${path}`, err);
    }
    const net = parseNetworkConfig(bytes, file.endsWith(".conflist") ? "conflist" : "conf", path);
    if (RESERVED_NETWORK_NAMES.includes(net.name)) {
      throw new RktError("invalid-argument", `invalid network configuration ${path}: the name "${net.name}" is reserved`, {
        hint: `--net=${net.name} has its own meaning; rename the network`,
      });
    }
    const earlier = byName.get(net.name);
    if (earlier !== undefined) {
      throw new RktError("invalid-argument", `network "${net.name}" is defined twice: in ${earlier.source} and in ${path}`, {
        hint: "network names must be unique; rename or remove one of the files",
      });
    }
    byName.set(net.name, net);
    networks.push(net);
  }
  if (options.builtins === false) return networks;
  const builtins = builtinNetworkConfigs(options);
  for (const name of [DEFAULT_NETWORK, DEFAULT_RESTRICTED_NETWORK] as const) {
    if (!byName.has(name)) networks.push(parseNetworkConfig(builtins[name], "conf", `builtin:${name}`, true));
  }
  return networks;
}
