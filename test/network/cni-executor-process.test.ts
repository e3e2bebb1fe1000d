/**
 * The shared executor cases against the real plugins of /usr/lib/cni, each in a network
 * namespace of its own (root).
 */
import { removeLeftoverRules } from "../../src/network/iptables-leftovers.js";
import { ProcessCniExecutor } from "../../src/network/cni/executors/process-executor.js";
import { tempDir } from "../support/tmp.js";
import { cniExecutorSuite } from "./cni-executor.case.js";
import { createNetns, restoreIpForwardAfterAll, testId } from "./host-fixture.js";

restoreIpForwardAfterAll();

cniExecutorSuite("ProcessCniExecutor", async (t) => {
  const containerId = testId();
  const ns = await createNetns(t);
  const dataDir = await tempDir(t);
  // The cases' networks do not masquerade; this only guards against a case that fails half-way.
  t.after(() => removeLeftoverRules(`t-${containerId}`, containerId));
  return { executor: new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni"] }), netns: ns.path, dataDir, containerId };
});
