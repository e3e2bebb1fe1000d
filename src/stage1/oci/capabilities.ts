/**
 * Linux capabilities by name (capabilities(7)): the full list, rkt's default bounding set, and the
 * OCI `process.capabilities` sets an app gets (runtime-spec config.md, "Linux Process").
 */
import { RktError } from "../../lib/errors.js";

/**
 * Every capability Linux defines, indexed by its number (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE =
 * 40, Linux 5.9). runc 1.1 knows exactly these; a name outside the list is an error, not a warning.
 */
export const LINUX_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

/** A capability name as the OCI runtime spec writes it: `CAP_NET_ADMIN`. */
export type CapabilityName = (typeof LINUX_CAPABILITIES)[number];

/**
 * rkt's default bounding set (rkt-features §6; Docker's default set is the same 14): what an app
 * keeps unless `--caps-retain`/`--caps-remove` or `--insecure-options=capabilities` say otherwise.
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  "CAP_AUDIT_WRITE",
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_KILL",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_NET_BIND_SERVICE",
  "CAP_SETUID",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETFCAP",
  "CAP_SYS_CHROOT",
];

const KNOWN = new Set<string>(LINUX_CAPABILITIES);

/**
 * Whether `name` is a capability name (exactly, `CAP_` prefix and upper case).
 *
 * @example
 * isCapabilityName("CAP_NET_ADMIN"); // true
 * isCapabilityName("net_admin");     // false: see parseCapabilityNames
 */
export function isCapabilityName(name: string): name is CapabilityName {
  return KNOWN.has(name);
}

/**
 * Parses the capability list of `--caps-retain` / `--caps-remove` (comma separated, or already
 * split). Names are case-insensitive and the `CAP_` prefix is optional, as with Docker's
 * `--cap-add`; duplicates are dropped. `flag` names the source in errors.
 *
 * @example
 * parseCapabilityNames("CAP_NET_ADMIN,sys_time", "--caps-retain"); // ["CAP_NET_ADMIN", "CAP_SYS_TIME"]
 * parseCapabilityNames("CAP_FLY", "--caps-retain"); // throws invalid-argument
 */
export function parseCapabilityNames(list: string | readonly string[], flag: string): CapabilityName[] {
  const items = typeof list === "string" ? list.split(",") : list;
  const out: CapabilityName[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === "") continue;
    const upper = item.toUpperCase();
    const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
    if (!isCapabilityName(name)) {
      throw new RktError("invalid-argument", `${flag}: unknown capability ${JSON.stringify(item)}`, {
        hint: "capability names are those of capabilities(7), e.g. CAP_NET_ADMIN or NET_ADMIN",
      });
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * The capability names set in a kernel capability mask, such as the hex `CapBnd` field of
 * /proc/self/status. Bits Linux has no name for (beyond CAP_CHECKPOINT_RESTORE) are ignored.
 *
 * @example
 * capabilitiesFromMask(0x20000420n); // ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
 */
export function capabilitiesFromMask(mask: bigint): CapabilityName[] {
  return LINUX_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The kernel mask of a set of capability names: the inverse of {@link capabilitiesFromMask}, for
 * comparing with /proc/<pid>/status.
 *
 * @example
 * capabilityMask(["CAP_KILL", "CAP_AUDIT_WRITE"]).toString(16); // "20000020"
 */
export function capabilityMask(names: readonly CapabilityName[]): bigint {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(LINUX_CAPABILITIES.indexOf(name));
  return mask;
}

/** The five capability sets of OCI `process.capabilities` (config.md, "Linux Process"). */
export interface CapabilitySets {
  readonly bounding: readonly CapabilityName[];
  readonly effective: readonly CapabilityName[];
  readonly inheritable: readonly CapabilityName[];
  readonly permitted: readonly CapabilityName[];
  readonly ambient: readonly CapabilityName[];
}

/**
 * The OCI capability sets for an app whose bounding set is `bounding`. A root app (uid 0) holds
 * them: bounding, effective and permitted. A non-root app gets the bounding set only, so it starts
 * with no effective capabilities, as rkt's apps did (systemd drops them at the uid change) and as
 * the kernel does for any non-root execve; setuid binaries and file capabilities can still raise
 * it within the bounding set unless no_new_privs is set. Inheritable and ambient stay empty: caps
 * never leak across execve into unprivileged programs.
 *
 * @example
 * capabilitySetsFor(0, DEFAULT_CAPABILITIES).effective.length;    // 14
 * capabilitySetsFor(1000, DEFAULT_CAPABILITIES).effective.length; // 0
 */
export function capabilitySetsFor(uid: number, bounding: readonly CapabilityName[]): CapabilitySets {
  const held = uid === 0 ? [...bounding] : [];
  return { bounding: [...bounding], effective: held, inheritable: [], permitted: [...held], ambient: [] };
}

/** The appc isolator names of rkt's `--caps-retain` and `--caps-remove`. */
export const CAPABILITY_ISOLATORS = { retain: "os/linux/capabilities-retain-set", remove: "os/linux/capabilities-remove-set" } as const;

/**
 * An app's bounding set from a retain set (exactly those) or a remove set (rkt's default minus
 * those); rkt's default set when neither is given. The two are mutually exclusive (appc, rkt's
 * capabilities guide). `what` names the two sources in the error, e.g. `--caps-retain and
 * --caps-remove`.
 *
 * @example
 * boundingSetFor({ remove: ["CAP_NET_RAW"] }, "...").includes("CAP_NET_RAW"); // false
 * boundingSetFor({ retain: ["CAP_SYS_ADMIN"] }, "...");                       // ["CAP_SYS_ADMIN"]
 */
export function boundingSetFor(sets: { readonly retain?: readonly CapabilityName[] | undefined; readonly remove?: readonly CapabilityName[] | undefined }, what: string): CapabilityName[] {
  if (sets.retain !== undefined && sets.remove !== undefined) {
    throw new RktError("invalid-argument", `${what} cannot both be given: one app has either a retain set or a remove set`, {
      hint: "use --caps-retain to list exactly the capabilities the app keeps, or --caps-remove to drop some from the default set",
    });
  }
  if (sets.retain !== undefined) return [...new Set(sets.retain)];
  const remove = new Set(sets.remove ?? []);
  return DEFAULT_CAPABILITIES.filter((c) => !remove.has(c));
}
