/**
 * What a user asks for, per app and per pod, before it becomes a pod manifest: the options-in side
 * of `rkt run` / `rkt prepare` (and later `rkt app add` and the CRI server).
 */
export interface AppRequest {
  /** The image argument as typed (`docker://nginx`, an ID, a name, a layout path). */
  readonly image: string;
  /** `--signature FILE`: the image's detached signature (ACI files and URLs). */
  readonly signature?: string | undefined;
  readonly name?: string | undefined;
  /** `--exec`: replaces the image's whole exec. */
  readonly exec?: string | undefined;
  /** Arguments after `--`: replace the image's Cmd (or follow --exec). */
  readonly args?: readonly string[] | undefined;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly supplementaryGids?: readonly number[] | undefined;
  readonly workingDir?: string | undefined;
  readonly readonlyRootfs?: boolean | undefined;
  /** `--environment K=V`, per app, highest precedence. */
  readonly environment?: readonly (readonly [string, string])[] | undefined;
  /** `--mount volume=NAME,target=PATH`. */
  readonly mounts?: readonly { readonly volume: string; readonly target: string }[] | undefined;
  readonly memory?: string | undefined;
  readonly cpu?: string | undefined;
  readonly cpuShares?: number | undefined;
  readonly oomScoreAdj?: number | undefined;
  readonly annotations?: readonly (readonly [string, string])[] | undefined;
  /** What the app may do to the kernel and the host (issue 7); rkt's defaults where unset. */
  readonly security?: AppSecurity | undefined;
}

/**
 * An app's security settings beyond rkt's defaults (rkt-features §6), from `rkt run` flags or a
 * CRI container's securityContext. Recorded in the pod manifest as appc isolators
 * (os/linux/capabilities-retain-set, -remove-set, os/linux/seccomp-retain-set, -remove-set,
 * os/linux/no-new-privileges) and app annotations (`rkt.dev/...`, see security-isolators.ts), so
 * the pod can be rebuilt from its manifest. Given settings replace the image's of the same kind.
 */
export interface AppSecurity {
  /** rkt `--caps-retain`: exactly these capabilities (exclusive with capsRemove). */
  readonly capsRetain?: readonly string[];
  /** rkt `--caps-remove`: rkt's default set minus these. */
  readonly capsRemove?: readonly string[];
  /**
   * rkt `--seccomp`: a retain or remove set; no filter; or a Docker/OCI seccomp JSON profile
   * (the CRI's `localhost/<path>`).
   */
  readonly seccomp?:
    | { readonly mode: "retain" | "remove"; readonly errno?: string; readonly set: readonly string[] }
    | { readonly unconfined: true }
    | { readonly profileFile: string };
  /** Set no_new_privs (forced anyway for non-root apps under seccomp). */
  readonly noNewPrivileges?: boolean;
  /** All capabilities, no seccomp, no masked or read-only paths, all host devices. */
  readonly privileged?: boolean;
  /** Replace the default masked paths (the CRI sends exact lists). */
  readonly maskedPaths?: readonly string[];
  /** Replace the default read-only paths. */
  readonly readonlyPaths?: readonly string[];
  /** Host devices to create in the app's /dev, with cgroup permissions (`rwm`). */
  readonly devices?: readonly { readonly hostPath: string; readonly containerPath: string; readonly permissions: string }[];
}

/**
 * Environment for every app of a pod, by source, lowest precedence first as rkt ordered them:
 * the caller's environment (`--inherit-env`), then the image's, then `--set-env-file`, then
 * `--set-env`, then each app's `--environment`.
 */
export interface PodEnvironment {
  readonly inherited: readonly (readonly [string, string])[];
  readonly fromFiles: readonly (readonly [string, string])[];
  readonly set: readonly (readonly [string, string])[];
}

export interface VolumeRequest {
  readonly name: string;
  readonly kind: "host" | "empty";
  readonly source?: string | undefined;
  readonly readOnly?: boolean | undefined;
  readonly recursive?: boolean | undefined;
  readonly mode?: string | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

export interface PodRequest {
  readonly apps: readonly AppRequest[];
  readonly volumes: readonly VolumeRequest[];
  /** `--mount` given before the first image: applies to every app. */
  readonly podMounts: readonly { readonly volume: string; readonly target: string }[];
  readonly annotations?: readonly (readonly [string, string])[] | undefined;
  readonly environment?: PodEnvironment | undefined;
  /**
   * `--private-users`: the pod runs in a user namespace of its own, on a host UID/GID range no other
   * pod has (recorded as the pod annotation rkt.dev/private-users).
   */
  readonly privateUsers?: boolean | undefined;
}
