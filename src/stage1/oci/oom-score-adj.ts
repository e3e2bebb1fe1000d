/**
 * Checking `--oom-score-adj` (the appc `os/linux/oom-score-adj` isolator, OCI
 * `process.oomScoreAdj`) before anything starts. The runtime writes the value to
 * /proc/<pid>/oom_score_adj; lowering it below the current value needs CAP_SYS_RESOURCE
 * (proc(5)), and without it runc fails late with a bare "Permission denied" from nsexec.
 */
import { RktError } from "../../lib/errors.js";
import type { CapabilityName } from "./capabilities.js";

/** The kernel's range for oom_score_adj (proc(5)). */
export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

/**
 * Validates an oom_score_adj value for this host. Out of range is always an error; a negative value
 * is one when the calling process lacks CAP_SYS_RESOURCE in `effectiveCapabilities` (from
 * readHostLimits), since the kernel then refuses it. `flag` names the source in errors.
 *
 * @example
 * validateOomScoreAdj(500, host);  // 500
 * validateOomScoreAdj(-100, host); // throws invalid-argument here: no CAP_SYS_RESOURCE
 */
export function validateOomScoreAdj(
  value: number,
  host: { readonly effectiveCapabilities: readonly CapabilityName[] },
  flag = "--oom-score-adj",
): number {
  if (!Number.isInteger(value) || value < OOM_SCORE_ADJ_MIN || value > OOM_SCORE_ADJ_MAX) {
    throw new RktError("invalid-argument", `invalid ${flag}=${value}: must be a whole number from ${OOM_SCORE_ADJ_MIN} to ${OOM_SCORE_ADJ_MAX}`);
  }
  if (value < 0 && !host.effectiveCapabilities.includes("CAP_SYS_RESOURCE")) {
    throw new RktError(
      "invalid-argument",
      `invalid ${flag}=${value}: this machine refuses negative values, because rkt runs without CAP_SYS_RESOURCE (needed to lower oom_score_adj, proc(5))`,
      { hint: `use a value from 0 to ${OOM_SCORE_ADJ_MAX}, or run rkt with CAP_SYS_RESOURCE` },
    );
  }
  return value;
}
