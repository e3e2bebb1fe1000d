/**
 * An app's security settings in the pod manifest, both ways: AppSecurity (flags, the CRI) becomes
 * appc isolators and app annotations when the manifest is built, and the manifest's isolators and
 * annotations (the image's included) become the runtime inputs when the app is prepared. The
 * manifest is the record: a pod rebuilt from it gets the same filter.
 *
 * | Setting               | In the manifest                                                      |
 * |-----------------------|----------------------------------------------------------------------|
 * | capsRetain/capsRemove | isolator os/linux/capabilities-retain-set / -remove-set `{"set": []}` |
 * | seccomp set           | isolator os/linux/seccomp-retain-set / -remove-set `{"set", "errno"}` |
 * | seccomp unconfined    | isolator os/linux/seccomp-retain-set `{"set": ["@appc.io/all"]}`       |
 * | seccomp profileFile   | annotation rkt.dev/seccomp-profile (the path, read at app start)      |
 * | noNewPrivileges       | isolator os/linux/no-new-privileges `true`                            |
 * | privileged            | annotation rkt.dev/privileged `true`                                  |
 * | maskedPaths           | annotation rkt.dev/masked-paths (JSON array)                          |
 * | readonlyPaths         | annotation rkt.dev/readonly-paths (JSON array)                        |
 * | devices               | annotation rkt.dev/devices (JSON array)                               |
 */
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { describe, RktError } from "../../lib/errors.js";
import { checkJson, decodeJsonText } from "../../lib/json-document.js";
import * as z from "../../lib/schema.js";
import { nameValueGet, type Isolator, type PodApp } from "../../pod/pod-manifest.js";
import { boundingSetFor, CAPABILITY_ISOLATORS, parseCapabilityNames, type CapabilityName } from "../../stage1/oci/capabilities.js";
import { allHostDevices, devicePermissions, deviceRule, hostDevice, specDevice } from "../../stage1/oci/host-devices.js";
import type { SeccompInput } from "../../stage1/oci/runtime-spec.js";
import type { SpecDevice, SpecDeviceCgroupRule } from "../../stage1/oci/runtime-spec-types.js";
import { errnoNumber } from "../../stage1/oci/seccomp/errno-names.js";
import { checkSeccompSet, SECCOMP_ISOLATORS, type SeccompSet } from "../../stage1/oci/seccomp/seccomp-set.js";
import type { AppSecurity } from "./app-request.js";

/** appc's no_new_privs isolator (its value is a boolean). */
export const NO_NEW_PRIVILEGES_ISOLATOR = "os/linux/no-new-privileges";

/** App annotations for settings appc has no isolator for. */
export const SECURITY_ANNOTATIONS = {
  privileged: "rkt.dev/privileged",
  maskedPaths: "rkt.dev/masked-paths",
  readonlyPaths: "rkt.dev/readonly-paths",
  devices: "rkt.dev/devices",
  seccompProfile: "rkt.dev/seccomp-profile",
} as const;

const CAPS_NAMES: readonly string[] = [CAPABILITY_ISOLATORS.retain, CAPABILITY_ISOLATORS.remove];
const SECCOMP_NAMES: readonly string[] = [SECCOMP_ISOLATORS.retain, SECCOMP_ISOLATORS.remove];

const setSchema = z.object({ set: z.array(z.string()), errno: z.optional(z.string()) });
const pathsSchema = z.array(z.string());
const devicesSchema = z.array(z.object({ hostPath: z.string(), containerPath: z.string(), permissions: z.string() }));

/** What {@link securityToManifest} adds to an app. */
export interface SecurityRecord {
  readonly isolators: Isolator[];
  /** Image isolators these replace (flags override the image, as in rkt). */
  readonly replaces: string[];
  readonly annotations: { name: string; value: string }[];
}

/**
 * Checks `security` and writes it as isolators and annotations. `app` names the app in errors.
 *
 * @example
 * securityToManifest({ capsRemove: ["NET_RAW"] }, "web").isolators;
 * // [{ name: "os/linux/capabilities-remove-set", value: { set: ["CAP_NET_RAW"] } }]
 */
export function securityToManifest(security: AppSecurity, app: string): SecurityRecord {
  const isolators: Isolator[] = [];
  const replaces: string[] = [];
  const annotations: { name: string; value: string }[] = [];
  const what = (field: string): string => `app "${app}": security.${field}`;
  if (security.capsRetain !== undefined || security.capsRemove !== undefined) {
    const retain = security.capsRetain === undefined ? undefined : parseCapabilityNames(security.capsRetain, what("capsRetain"));
    const remove = security.capsRemove === undefined ? undefined : parseCapabilityNames(security.capsRemove, what("capsRemove"));
    boundingSetFor({ retain, remove }, `${what("capsRetain")} and capsRemove`);
    replaces.push(...CAPS_NAMES);
    if (retain !== undefined) isolators.push({ name: CAPABILITY_ISOLATORS.retain, value: { set: retain } });
    if (remove !== undefined) isolators.push({ name: CAPABILITY_ISOLATORS.remove, value: { set: remove } });
  }
  const seccomp = security.seccomp;
  if (seccomp !== undefined) {
    replaces.push(...SECCOMP_NAMES);
    if ("unconfined" in seccomp) {
      isolators.push({ name: SECCOMP_ISOLATORS.retain, value: { set: ["@appc.io/all"] } });
    } else if ("profileFile" in seccomp) {
      if (!posix.isAbsolute(seccomp.profileFile)) throw new RktError("invalid-argument", `${what("seccomp.profileFile")}: ${JSON.stringify(seccomp.profileFile)} is not an absolute path`);
      annotations.push({ name: SECURITY_ANNOTATIONS.seccompProfile, value: seccomp.profileFile });
    } else {
      checkSeccompSet(seccomp, what("seccomp"));
      isolators.push({ name: SECCOMP_ISOLATORS[seccomp.mode], value: { set: [...seccomp.set], ...(seccomp.errno === undefined ? {} : { errno: seccomp.errno }) } });
    }
  }
  if (security.noNewPrivileges !== undefined) {
    replaces.push(NO_NEW_PRIVILEGES_ISOLATOR);
    isolators.push({ name: NO_NEW_PRIVILEGES_ISOLATOR, value: security.noNewPrivileges });
  }
  if (security.privileged === true) annotations.push({ name: SECURITY_ANNOTATIONS.privileged, value: "true" });
  for (const key of ["maskedPaths", "readonlyPaths"] as const) {
    const paths = security[key];
    if (paths === undefined) continue;
    for (const p of paths) if (!posix.isAbsolute(p)) throw new RktError("invalid-argument", `${what(key)}: ${JSON.stringify(p)} is not an absolute path`);
    annotations.push({ name: SECURITY_ANNOTATIONS[key], value: JSON.stringify(paths) });
  }
  if (security.devices !== undefined && security.devices.length > 0) {
    for (const d of security.devices) {
      devicePermissions(d.permissions, what(`devices ${d.hostPath}`));
      if (!d.containerPath.startsWith("/dev/")) throw new RktError("invalid-argument", `${what("devices")}: ${JSON.stringify(d.containerPath)} is not a path under /dev`);
      if (hostDevice(d.hostPath) === undefined) throw new RktError("invalid-argument", `${what("devices")}: ${d.hostPath} is not a device node`);
    }
    annotations.push({ name: SECURITY_ANNOTATIONS.devices, value: JSON.stringify(security.devices) });
  }
  return { isolators, replaces, annotations };
}

/** An app's security, resolved for its runtime config (see buildRuntimeSpec's inputs). */
export interface ResolvedSecurity {
  /** The bounding set; undefined for rkt's default. */
  readonly capabilities: CapabilityName[] | undefined;
  /** Undefined for rkt's default profile. */
  readonly seccomp: SeccompInput | undefined;
  /** True to force no_new_privs; undefined for the default rule. */
  readonly noNewPrivileges: true | undefined;
  readonly privileged: boolean;
  readonly maskedPaths: string[] | undefined;
  readonly readonlyPaths: string[] | undefined;
  readonly devices: SpecDevice[];
  readonly deviceRules: SpecDeviceCgroupRule[];
}

/**
 * Reads an app's security from its manifest entry (isolators, the image's among them, and
 * annotations), checking what may have come from an image or a hand-written manifest: unknown
 * capabilities or syscalls, both sets of a kind, a bad errno, a missing profile file.
 *
 * @example
 * const sec = await resolveAppSecurity(app);
 * sec.capabilities; // undefined: rkt's default 14
 */
export async function resolveAppSecurity(app: Pick<PodApp, "name" | "annotations"> & { readonly app: Pick<PodApp["app"], "isolators"> }): Promise<ResolvedSecurity> {
  const isolators = app.app.isolators ?? [];
  const annotations = app.annotations;
  const what = (name: string): string => `isolator ${name} of app "${app.name}"`;
  const find = (name: string): Isolator | undefined => isolators.find((i) => i.name === name);

  const capSet = (name: string): CapabilityName[] | undefined => {
    const iso = find(name);
    return iso === undefined ? undefined : parseCapabilityNames(checkJson(iso.value, setSchema, what(name)).set, what(name));
  };
  const retain = capSet(CAPABILITY_ISOLATORS.retain);
  const remove = capSet(CAPABILITY_ISOLATORS.remove);
  const capabilities = retain === undefined && remove === undefined ? undefined : boundingSetFor({ retain, remove }, `app "${app.name}": isolators ${CAPABILITY_ISOLATORS.retain} and ${CAPABILITY_ISOLATORS.remove}`);

  let seccomp: SeccompInput | undefined;
  const profile = nameValueGet(annotations, SECURITY_ANNOTATIONS.seccompProfile);
  const sets = isolators.filter((i) => SECCOMP_NAMES.includes(i.name));
  if (sets.length > 1) {
    throw new RktError("invalid-argument", `app "${app.name}" has ${sets.length} seccomp isolators; appc allows one per app`, { hint: `keep either ${SECCOMP_ISOLATORS.retain} or ${SECCOMP_ISOLATORS.remove}` });
  }
  if (profile !== undefined) {
    let text: string;
    try {
      text = await readFile(profile, "utf8");
    } catch (err) {
      throw new RktError("invalid-argument", `app "${app.name}": cannot read seccomp profile ${profile}: ${describe(err)}`, { cause: err });
    }
    seccomp = { kind: "profile", text, what: `seccomp profile ${profile}` };
  } else if (sets[0] !== undefined) {
    const iso = sets[0];
    const value = checkJson(iso.value, setSchema, what(iso.name));
    const set: SeccompSet = { mode: iso.name === SECCOMP_ISOLATORS.retain ? "retain" : "remove", set: value.set, ...(value.errno === undefined ? {} : { errno: value.errno }) };
    checkSeccompSet(set, what(iso.name));
    if (set.errno !== undefined) errnoNumber(set.errno, what(iso.name));
    seccomp = { kind: "set", set, what: what(iso.name) };
  }

  const nnpIso = find(NO_NEW_PRIVILEGES_ISOLATOR);
  if (nnpIso !== undefined && typeof nnpIso.value !== "boolean") throw new RktError("invalid-argument", `${what(NO_NEW_PRIVILEGES_ISOLATOR)} must be true or false`);

  const paths = (name: string): string[] | undefined => {
    const text = nameValueGet(annotations, name);
    return text === undefined ? undefined : checkJson(decodeJsonText(text, `annotation ${name} of app "${app.name}"`), pathsSchema, `annotation ${name} of app "${app.name}"`);
  };
  const privileged = nameValueGet(annotations, SECURITY_ANNOTATIONS.privileged) === "true";
  const devices: SpecDevice[] = [];
  const deviceRules: SpecDeviceCgroupRule[] = [];
  const devicesText = nameValueGet(annotations, SECURITY_ANNOTATIONS.devices);
  if (devicesText !== undefined) {
    const label = `annotation ${SECURITY_ANNOTATIONS.devices} of app "${app.name}"`;
    for (const d of checkJson(decodeJsonText(devicesText, label), devicesSchema, label)) {
      const dev = hostDevice(d.hostPath);
      if (dev === undefined) throw new RktError("invalid-argument", `app "${app.name}": device ${d.hostPath} is not a device node on this host`);
      devices.push(specDevice(d.containerPath, dev));
      deviceRules.push(deviceRule(dev, false, devicePermissions(d.permissions, `device ${d.hostPath} of app "${app.name}"`)));
    }
  }
  if (privileged) {
    const taken = new Set(devices.map((d) => d.path));
    for (const [path, dev] of allHostDevices()) if (!taken.has(path)) devices.push(specDevice(path, dev));
  }
  return {
    capabilities,
    seccomp,
    noNewPrivileges: nnpIso?.value === true ? true : undefined,
    privileged,
    maskedPaths: paths(SECURITY_ANNOTATIONS.maskedPaths),
    readonlyPaths: paths(SECURITY_ANNOTATIONS.readonlyPaths),
    devices,
    deviceRules,
  };
}
