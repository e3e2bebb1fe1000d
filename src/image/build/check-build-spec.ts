/**
 * The rules a build spec must meet before anything is written, stated by the appc spec in prose
 * (types.md "AC Identifier", "AC Name"; aci.md "Image Manifest Schema") and by the OCI image
 * spec: one error per problem, naming the field and the fix, so a build never produces an image
 * that rkt (or another runtime) would refuse to fetch.
 */
import { posix } from "node:path";
import { RktError } from "../../lib/errors.js";
import type { BuildSpec } from "./build-spec.js";
import { aciPlatformLabels, checkAppcPlatform } from "./platform-labels.js";

/**
 * AC Identifier (types.md): lowercase URI unreserved characters, beginning and ending with a
 * letter or digit. Image names, label names, annotation names, isolator names.
 */
export const AC_IDENTIFIER = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** AC Name (types.md): lowercase letters, digits and single dashes. Port and mount point names. */
export const AC_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** Environment variable names (aci.md "environment", IEEE Std 1003.1-2001 chapter 8). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** appc image IDs (types.md "Image ID Type"); rkt writes and accepts sha512. */
const IMAGE_ID = /^sha512-[a-f0-9]{128}$/;

/** Which output formats the spec must suit. */
export interface BuildTargets {
  readonly aci: boolean;
  readonly oci: boolean;
  /** The host's appc os/arch: an ACI's defaults. */
  readonly host: { readonly os: string; readonly arch: string };
}

/**
 * Throws an "invalid-argument" RktError for the first rule `spec` breaks for `targets`.
 *
 * @example
 * checkBuildSpec({ exec: ["/bin/app"] }, { aci: true, oci: false, host: hostAppcPlatform() }); // throws: an ACI needs a name
 */
export function checkBuildSpec(spec: BuildSpec, targets: BuildTargets): void {
  if (spec.name === undefined) {
    if (targets.aci) fail("an ACI needs an image name", "pass --name=example.com/app or set \"name\" in the spec");
  } else if (!AC_IDENTIFIER.test(spec.name)) {
    fail(`invalid image name "${spec.name}": not an AC Identifier`, "use lowercase letters, digits and -._~/ between them, e.g. example.com/my-app");
  }
  for (const [name, value] of Object.entries(spec.labels ?? {})) {
    if (name === "name") fail('the label "name" is not allowed', "the image name is --name; appc forbids a label called name");
    if (!AC_IDENTIFIER.test(name)) fail(`invalid label name "${name}"`, "label names are AC Identifiers: lowercase letters, digits and -._~/");
    if (value === "") fail(`label ${name} has an empty value`);
  }
  if (targets.aci) {
    const { os, arch } = aciPlatformLabels(spec.labels ?? {}, targets.host);
    checkAppcPlatform(os, arch);
  }
  for (const [name] of Object.entries(spec.annotations ?? {})) {
    if (!AC_IDENTIFIER.test(name)) fail(`invalid annotation name "${name}"`, "annotation names are AC Identifiers: lowercase letters, digits and -._~/");
  }
  if (spec.exec !== undefined) {
    const cmd = spec.exec[0];
    if (cmd === undefined || cmd === "") fail("exec is empty", "give the executable: --exec=/usr/bin/app");
    if (targets.aci && !cmd.startsWith("/")) fail(`exec "${cmd}" is not an absolute path`, "appc requires the executable as an absolute path inside the image (aci.md, app.exec)");
  }
  if (spec.user === "") fail("user is empty", "give a user name or UID, or leave it out (default 0)");
  if (spec.group === "") fail("group is empty", "give a group name or GID, or leave it out (default 0)");
  if (spec.workingDirectory !== undefined) absolute(spec.workingDirectory, "workingDirectory");
  for (const [name] of Object.entries(spec.environment ?? {})) {
    if (!ENV_NAME.test(name)) fail(`invalid environment variable name "${name}"`, "use letters, digits and underscores, not starting with a digit");
  }
  const ports = new Set<string>();
  for (const p of spec.ports ?? []) {
    if (!AC_NAME.test(p.name)) fail(`invalid port name "${p.name}"`, "port names are AC Names: lowercase letters, digits and dashes, e.g. http");
    if (ports.has(p.name)) fail(`port name "${p.name}" is used twice`);
    ports.add(p.name);
    if (p.protocol === "" || !/^[a-z0-9]+$/.test(p.protocol)) fail(`port ${p.name}: invalid protocol "${p.protocol}"`, "use tcp or udp");
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) fail(`port ${p.name}: ${p.port} is not a port number (1-65535)`);
    if (p.count !== undefined && (p.count < 1 || p.port + p.count - 1 > 65535)) fail(`port ${p.name}: count ${p.count} is out of range`);
  }
  const mounts = new Set<string>();
  for (const m of spec.mountPoints ?? []) {
    if (!AC_NAME.test(m.name)) fail(`invalid mount point name "${m.name}"`, "mount point names are AC Names: lowercase letters, digits and dashes");
    if (mounts.has(m.name)) fail(`mount point name "${m.name}" is used twice`);
    mounts.add(m.name);
    absolute(m.path, `mount point ${m.name}`);
  }
  for (const i of spec.isolators ?? []) {
    if (!AC_IDENTIFIER.test(i.name)) fail(`invalid isolator name "${i.name}"`, "e.g. resource/memory, os/linux/capabilities-retain-set");
  }
  for (const c of spec.copy ?? []) {
    absolute(c.to, `copy destination of "${c.from}"`);
    if (c.mode !== undefined && (c.mode < 0 || c.mode > 0o7777)) fail(`copy "${c.from}": mode ${c.mode.toString(8)} is not a permission mode`);
  }
  const deps = spec.dependencies ?? [];
  for (const d of deps) {
    if (!AC_IDENTIFIER.test(d.imageName)) fail(`invalid dependency name "${d.imageName}": not an AC Identifier`);
    if (d.imageID !== undefined && !IMAGE_ID.test(d.imageID)) fail(`dependency ${d.imageName}: invalid imageID "${d.imageID}"`, "expected sha512-<128 hex digits>");
    for (const name of Object.keys(d.labels ?? {})) {
      if (!AC_IDENTIFIER.test(name) || name === "name") fail(`dependency ${d.imageName}: invalid label name "${name}"`);
    }
  }
  if (targets.oci && deps.length > 0) {
    fail("appc dependencies cannot be written into an OCI image", "for OCI outputs give a base image from the store with --base (its layers come first)");
  }
}

function absolute(path: string, what: string): void {
  if (!path.startsWith("/")) fail(`${what}: "${path}" is not an absolute path`);
  if (path.split("/").includes("..")) fail(`${what}: "${path}" contains ".."`);
  if (posix.normalize(path) !== path) {
    fail(`${what}: "${path}" is not a clean path`, `write it as ${posix.normalize(path)}`);
  }
}

function fail(message: string, hint?: string): never {
  throw new RktError("invalid-argument", message, hint === undefined ? {} : { hint });
}
