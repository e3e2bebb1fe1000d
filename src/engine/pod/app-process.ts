/**
 * One app of the pod manifest, on its mounted root filesystem, becomes an OCI runtime config: the
 * user resolved in the image, the executable checked, the environment composed with rkt's
 * defaults, isolators turned into cgroup limits and security settings (capabilities, seccomp,
 * no_new_privs, kernel paths, devices: security-isolators.ts), and the pod's shared namespaces
 * joined, its user namespace first when it has one (`--private-users`).
 */
import { RktError } from "../../lib/errors.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import { composeAppEnv, getEnvVar } from "../../pod/app/app-env.js";
import { resolveAppUser } from "../../pod/app/app-user.js";
import { resolveExecutable } from "../../pod/app/exec-path.js";
import type { Isolator, PodApp } from "../../pod/pod-manifest.js";
import { readHostLimits, type HostLimits } from "../../stage1/oci/host-limits.js";
import { validateOomScoreAdj } from "../../stage1/oci/oom-score-adj.js";
import { parseCpuQuantity, parseCpuShares, parseMemoryQuantity } from "../../stage1/oci/resource-quantity.js";
import { deviceRule, volumeDevices } from "../../stage1/oci/host-devices.js";
import { buildRuntimeSpec, type AppMountInput, type AppResourcesInput, type UserNamespaceInput } from "../../stage1/oci/runtime-spec.js";
import type { RuntimeSpec } from "../../stage1/oci/runtime-spec-types.js";
import type { PodNamespaces } from "../../stage1/pod-namespaces.js";
import type { Stage1Flavor } from "../../stage1/stage1-flavor.js";
import { resolveAppSecurity } from "./security-isolators.js";

export interface AppProcessInput {
  readonly uuid: string;
  readonly app: PodApp;
  readonly rootfs: string;
  readonly imageLabel: string;
  readonly mounts: readonly { destination: string; source: string; readOnly: boolean; recursive: boolean }[];
  readonly etc: { readonly hosts: string; readonly resolv: string; readonly hostname: string };
  /** The pod's pinned namespaces; undefined for fly (the host's). */
  readonly ns: PodNamespaces | undefined;
  readonly hostname: string;
  readonly terminal: boolean;
  readonly flavor: Stage1Flavor;
  readonly insecure: InsecureOptions;
  readonly cgroupsPath: string;
  /** The pod's user namespace (`--private-users`); undefined: the host's. */
  readonly userNamespace?: UserNamespaceInput | undefined;
  /**
   * Host volume sources, to allow device nodes among them (read-only when the volume is);
   * defaults to every mount source.
   */
  readonly hostVolumeSources?: readonly { readonly source: string; readonly readOnly: boolean }[] | undefined;
}

let hostLimits: Promise<HostLimits> | undefined;

export async function buildAppProcess(input: AppProcessInput): Promise<RuntimeSpec> {
  const { app } = input;
  const host = await (hostLimits ??= readHostLimits());
  const user = await resolveAppUser({
    rootfs: input.rootfs,
    imageName: input.imageLabel,
    user: app.app.user === "" ? undefined : app.app.user,
    group: app.app.group === "" ? undefined : app.app.group,
    supplementaryGids: app.app.supplementaryGIDs,
  });
  const env = composeAppEnv({
    appName: app.name,
    imageName: input.imageLabel,
    imageEnv: (app.app.environment ?? []).map((e) => `${e.name}=${e.value}`),
    user: { uid: user.uid, name: user.name, home: user.home },
  });
  const cwd = app.app.workingDirectory ?? "/";
  if (app.app.exec.length === 0 || app.app.exec[0] === "") {
    throw new RktError("invalid-argument", `app "${app.name}" has nothing to run: image ${input.imageLabel} has no Entrypoint or Cmd`, { hint: "give one with --exec" });
  }
  const argv0 = await resolveExecutable(app.app.exec[0] ?? "", { rootfs: input.rootfs, imageName: input.imageLabel, path: getEnvVar(env, "PATH"), cwd });
  const fly = input.flavor === "fly";
  const mounts: AppMountInput[] = [
    { type: "bind", source: input.etc.hosts, destination: "/etc/hosts", readOnly: false, recursive: false },
    { type: "bind", source: input.etc.resolv, destination: "/etc/resolv.conf", readOnly: false, recursive: false },
    { type: "bind", source: input.etc.hostname, destination: "/etc/hostname", readOnly: false, recursive: false },
    ...input.mounts.map((m): AppMountInput => ({ type: "bind", source: m.source, destination: m.destination, readOnly: m.readOnly, recursive: m.recursive })),
  ];
  const oom = isolatorNumber(app.app.isolators, "os/linux/oom-score-adj");
  const security = await resolveAppSecurity(app);
  // A host device given as a volume (rkt-features §6) is usable, read-only if the volume is.
  const volumeDeviceRules = (input.hostVolumeSources ?? input.mounts).flatMap((m) => volumeDevices(m.source).map(([, dev]) => deviceRule(dev, m.readOnly)));
  return buildRuntimeSpec({
    rootfs: input.rootfs,
    readonlyRootfs: app.readOnlyRootFS === true,
    process: {
      args: [argv0 === app.app.exec[0] ? argv0 : (app.app.exec[0] ?? argv0), ...app.app.exec.slice(1)],
      env,
      cwd,
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids,
      terminal: input.terminal,
      ...(oom === undefined ? {} : { oomScoreAdj: validateOomScoreAdj(oom, host) }),
      ...(security.capabilities === undefined ? {} : { capabilities: security.capabilities }),
      ...(security.noNewPrivileges === undefined ? {} : { noNewPrivileges: true }),
    },
    ...(fly
      ? {}
      : {
          namespaces: {
            pid: "private" as const,
            // gVisor runs inside the pod's network namespace already (see stage1-flavor.ts).
            network: input.ns === undefined || input.ns.net === "host" || input.flavor === "sandbox" ? ("host" as const) : { path: input.ns.net },
            ipc: input.ns === undefined ? ("private" as const) : { path: input.ns.ipc },
            uts: input.ns === undefined ? ("private" as const) : { path: input.ns.uts },
          },
        }),
    mounts,
    resources: appResources(app.app.isolators),
    deviceRules: [...security.deviceRules, ...volumeDeviceRules],
    devices: security.devices,
    ...(security.seccomp === undefined ? {} : { seccomp: security.seccomp }),
    ...(security.maskedPaths === undefined ? {} : { maskedPaths: security.maskedPaths }),
    ...(security.readonlyPaths === undefined ? {} : { readonlyPaths: security.readonlyPaths }),
    privileged: security.privileged,
    ...(input.userNamespace === undefined ? {} : { userNamespace: input.userNamespace }),
    cgroupsPath: input.cgroupsPath,
    flavor: input.flavor === "crun" ? "default" : input.flavor,
    insecure: { capabilities: input.insecure.has("capabilities"), paths: input.insecure.has("paths"), seccomp: input.insecure.has("seccomp") },
    host,
    annotations: { "rkt.dev/pod": input.uuid, "rkt.dev/app": app.name },
  });
}

/** Checks an app's isolators without building anything: for prepare, before a pod exists. */
export async function validateIsolators(isolators: readonly Isolator[] | undefined, appName = "app"): Promise<void> {
  appResources(isolators);
  const security = await resolveAppSecurity({ name: appName, annotations: undefined, app: { isolators: isolators === undefined ? undefined : [...isolators] } });
  const host = await (hostLimits ??= readHostLimits());
  const missing = (security.capabilities ?? []).filter((c) => !host.boundingCapabilities.includes(c));
  if (missing.length > 0) {
    throw new RktError("invalid-argument", `app "${appName}" asks for ${missing.join(", ")}, which rkt itself does not hold, so no app it starts can`, {
      hint: `drop ${missing.join(", ")} from --caps-retain, or run rkt with ${missing.length === 1 ? "that capability" : "those capabilities"}`,
    });
  }
  const oom = isolatorNumber(isolators, "os/linux/oom-score-adj");
  if (oom !== undefined) validateOomScoreAdj(oom, await (hostLimits ??= readHostLimits()));
}

function appResources(isolators: readonly Isolator[] | undefined): AppResourcesInput {
  const memory = isolatorLimit(isolators, "resource/memory");
  const cpu = isolatorLimit(isolators, "resource/cpu");
  const shares = isolatorNumber(isolators, "os/linux/cpu-shares");
  return {
    ...(memory === undefined ? {} : { memoryLimitBytes: parseMemoryQuantity(memory) }),
    ...(cpu === undefined ? {} : { cpuMillis: parseCpuQuantity(cpu) }),
    ...(shares === undefined ? {} : { cpuShares: parseCpuShares(shares) }),
  };
}

function isolatorLimit(isolators: readonly Isolator[] | undefined, name: string): string | undefined {
  const v = isolators?.find((i) => i.name === name)?.value;
  if (v === undefined) return undefined;
  if (typeof v === "object" && v !== null && "limit" in v && typeof (v).limit === "string") return (v as { limit: string }).limit;
  throw new RktError("invalid-argument", `isolator ${name} must be {"limit": "<quantity>"}`);
}

function isolatorNumber(isolators: readonly Isolator[] | undefined, name: string): number | undefined {
  const v = isolators?.find((i) => i.name === name)?.value;
  if (v === undefined) return undefined;
  if (typeof v === "number") return v;
  throw new RktError("invalid-argument", `isolator ${name} must be a number`);
}
