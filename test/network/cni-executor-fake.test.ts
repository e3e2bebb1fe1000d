/** The shared executor cases against the in-memory fake. */
import { FakeCniExecutor } from "../../src/network/cni/executors/fake-executor.js";
import { cniExecutorSuite } from "./cni-executor.case.js";
import { testId } from "./host-fixture.js";

cniExecutorSuite("FakeCniExecutor", () =>
  Promise.resolve({ executor: new FakeCniExecutor(), netns: "/run/netns/fake", dataDir: "/nonexistent", containerId: testId() }),
);
