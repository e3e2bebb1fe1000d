/**
 * A CRI container's Linux security context (api.proto `LinuxContainerSecurityContext`) as what
 * rkt's app model takes: the user and groups of the app request, and its `security` section
 * (capabilities, seccomp, no_new_privs, privileged, masked and read-only paths, devices).
 *
 * Decisions, each where the CRI leaves room:
 * - Capabilities start from rkt's default 14 (the same set Docker and containerd start from);
 *   `drop: ["ALL"]` empties it, `add: ["ALL"]` gives every capability; names are accepted with
 *   or without `CAP_`, in any case.
 * - seccomp: the typed `seccomp` profile wins over the older `seccomp_profile_path`. An empty
 *   path means rkt's default profile, not unconfined: rkt is secure by default, as CRI-O is with
 *   `seccomp_use_default_when_empty` (api.proto calls "" unconfined; the kubelet sends
 *   `unconfined` when a pod asks for it).
 * - masked_paths / readonly_paths replace rkt's defaults when given; empty lists keep them.
 */
import { RktError } from "../../lib/errors.js";
import { DEFAULT_CAPABILITIES, LINUX_CAPABILITIES, parseCapabilityNames, type CapabilityName } from "../../stage1/oci/capabilities.js";
import type { AppSecurity } from "../pod/app-request.js";
import type { CriContainerSecurityContext, CriDevice, CriSecurityProfile } from "./cri-types.js";

/** Who the app runs as and how it is confined. */
export interface CriAppSecurity {
  readonly user?: string;
  readonly group?: string;
  readonly supplementaryGids?: readonly number[];
  readonly readonlyRootfs: boolean;
  readonly security: AppSecurity;
}

/**
 * Maps a security context (null: none given) and the container's devices. `sandboxPrivileged` is
 * the sandbox's own flag: a privileged container needs a privileged sandbox (api.proto: "If a
 * privileged container is to be executed within it, this MUST be true"). Throws RktError
 * "invalid-argument" for contradictions the CRI says the runtime must refuse, and unknown names.
 *
 * @example
 * criAppSecurity({ ...sc, capabilities: { add_capabilities: ["NET_ADMIN"], drop_capabilities: ["ALL"] } }, [], false).security.capsRetain;
 * // ["CAP_NET_ADMIN"]
 */
export function criAppSecurity(sc: CriContainerSecurityContext | null, devices: readonly CriDevice[], sandboxPrivileged: boolean): CriAppSecurity {
  const deviceList = devices.map((d) => {
    if (!d.host_path.startsWith("/") || !d.container_path.startsWith("/")) {
      throw new RktError("invalid-argument", `device ${JSON.stringify(d.host_path)} -> ${JSON.stringify(d.container_path)}: both paths must be absolute`);
    }
    if (!/^[rwm]{0,3}$/.test(d.permissions)) throw new RktError("invalid-argument", `device ${d.host_path}: permissions ${JSON.stringify(d.permissions)} are not made of r, w and m`);
    return { hostPath: d.host_path, containerPath: d.container_path, permissions: d.permissions === "" ? "rwm" : d.permissions };
  });
  if (sc === null) return { readonlyRootfs: false, security: deviceList.length > 0 ? { devices: deviceList } : {} };

  if (sc.privileged && !sandboxPrivileged) {
    throw new RktError("invalid-argument", "a privileged container needs a privileged sandbox", { hint: "the sandbox's security context must have privileged: true" });
  }
  const username = sc.run_as_username;
  const uid = sc.run_as_user === null ? undefined : int(sc.run_as_user.value, "run_as_user");
  if (username !== "" && uid !== undefined) throw new RktError("invalid-argument", "run_as_user and run_as_username are both set; only one may be");
  const gid = sc.run_as_group === null ? undefined : int(sc.run_as_group.value, "run_as_group");
  if (gid !== undefined && username === "" && uid === undefined) {
    throw new RktError("invalid-argument", "run_as_group is set without run_as_user or run_as_username", { hint: "api.proto: run_as_group should only be specified when run_as_user or run_as_username is" });
  }
  const supplementary = sc.supplemental_groups.map((g) => int(g, "supplemental_groups"));

  const security: AppSecurity = {
    ...(sc.privileged ? { privileged: true } : {}),
    ...capabilities(sc),
    ...seccomp(sc.seccomp ?? null, sc.seccomp_profile_path),
    noNewPrivileges: sc.no_new_privs,
    ...(sc.masked_paths.length > 0 ? { maskedPaths: [...sc.masked_paths] } : {}),
    ...(sc.readonly_paths.length > 0 ? { readonlyPaths: [...sc.readonly_paths] } : {}),
    ...(deviceList.length > 0 ? { devices: deviceList } : {}),
  };
  return {
    ...(username !== "" ? { user: username } : uid !== undefined ? { user: String(uid) } : {}),
    ...(gid === undefined ? {} : { group: String(gid) }),
    ...(supplementary.length > 0 ? { supplementaryGids: supplementary } : {}),
    readonlyRootfs: sc.readonly_rootfs,
    security,
  };
}

/** The bounding set: rkt's default, then drops, then adds ("ALL" in either). Omitted when unchanged. */
function capabilities(sc: CriContainerSecurityContext): Pick<AppSecurity, "capsRetain"> {
  const add = sc.capabilities?.add_capabilities ?? [];
  const drop = sc.capabilities?.drop_capabilities ?? [];
  if (add.length === 0 && drop.length === 0) return {};
  const isAll = (c: string): boolean => c.toUpperCase() === "ALL";
  let set: CapabilityName[] = drop.some(isAll) ? [] : [...DEFAULT_CAPABILITIES];
  const dropped = parseCapabilityNames(drop.filter((c) => !isAll(c)), "capabilities.drop_capabilities");
  set = set.filter((c) => !dropped.includes(c));
  if (add.some(isAll)) {
    set = [...LINUX_CAPABILITIES];
  } else {
    for (const c of parseCapabilityNames(add, "capabilities.add_capabilities")) if (!set.includes(c)) set.push(c);
  }
  return { capsRetain: set };
}

function seccomp(profile: CriSecurityProfile | null, path: string): Pick<AppSecurity, "seccomp"> {
  if (profile !== null) {
    switch (profile.profile_type) {
      case "RuntimeDefault":
        return {};
      case "Unconfined":
        return { seccomp: { unconfined: true } };
      case "Localhost":
        return { seccomp: { profileFile: localProfile(profile.localhost_ref, "seccomp.localhost_ref") } };
    }
  }
  if (path === "" || path === "runtime/default" || path === "docker/default") return {};
  if (path === "unconfined") return { seccomp: { unconfined: true } };
  if (path.startsWith("localhost/")) return { seccomp: { profileFile: localProfile(path.slice("localhost/".length), "seccomp_profile_path") } };
  throw new RktError("invalid-argument", `unknown seccomp profile ${JSON.stringify(path)}`, { hint: "use runtime/default, unconfined or localhost/<absolute path>" });
}

function localProfile(path: string, field: string): string {
  if (!path.startsWith("/")) throw new RktError("invalid-argument", `${field}: the seccomp profile ${JSON.stringify(path)} is not an absolute path on the node`);
  return path;
}

function int(value: string | number, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 4_294_967_294) throw new RktError("invalid-argument", `${field}: ${String(value)} is not an id from 0 to 4294967294`);
  return n;
}
