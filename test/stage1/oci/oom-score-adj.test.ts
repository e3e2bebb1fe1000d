import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import type { CapabilityName } from "../../../src/stage1/oci/capabilities.js";
import { validateOomScoreAdj } from "../../../src/stage1/oci/oom-score-adj.js";

const WITHOUT: { effectiveCapabilities: CapabilityName[] } = { effectiveCapabilities: ["CAP_SYS_ADMIN", "CAP_KILL"] };
const WITH: { effectiveCapabilities: CapabilityName[] } = { effectiveCapabilities: ["CAP_SYS_RESOURCE"] };

test("validateOomScoreAdj accepts 0 to 1000 everywhere", () => {
  assert.equal(validateOomScoreAdj(0, WITHOUT), 0);
  assert.equal(validateOomScoreAdj(1000, WITHOUT), 1000);
});

test("validateOomScoreAdj refuses negative values without CAP_SYS_RESOURCE and says why", () => {
  assert.throws(
    () => validateOomScoreAdj(-100, WITHOUT),
    (err: unknown) =>
      err instanceof RktError &&
      err.kind === "invalid-argument" &&
      err.message.includes("--oom-score-adj=-100") &&
      err.message.includes("this machine refuses negative values") &&
      err.message.includes("CAP_SYS_RESOURCE"),
  );
});

test("validateOomScoreAdj allows negative values with CAP_SYS_RESOURCE", () => {
  assert.equal(validateOomScoreAdj(-1000, WITH), -1000);
});

test("validateOomScoreAdj refuses values outside -1000..1000 and fractions", () => {
  for (const v of [-1001, 1001, 1.5, NaN]) {
    assert.throws(() => validateOomScoreAdj(v, WITH), (err: unknown) => err instanceof RktError && err.message.includes("-1000 to 1000"));
  }
});
