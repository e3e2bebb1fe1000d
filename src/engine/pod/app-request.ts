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
}
