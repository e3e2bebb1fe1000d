import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { parseNofileHardLimit, parseStatusCapabilities, readHostLimits } from "../../../src/stage1/oci/host-limits.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max processes             96365                96365                processes 
Max open files            1024                 20000                files     
Max locked memory         8388608              8388608              bytes     
`;

const STATUS = "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n";

test("parseNofileHardLimit reads the hard column of Max open files", () => {
  assert.equal(parseNofileHardLimit(LIMITS), 20000);
  assert.equal(parseNofileHardLimit("Max open files            unlimited            unlimited            files\n"), Infinity);
});

test("parseNofileHardLimit fails clearly on a limits file without the line", () => {
  assert.throws(() => parseNofileHardLimit("Max processes 1 1 processes\n"), (err: unknown) => err instanceof RktError && err.message.includes("Max open files"));
});

test("parseStatusCapabilities decodes CapBnd and CapEff", () => {
  const caps = parseStatusCapabilities(STATUS);
  assert.equal(caps.bounding.length, 40);
  assert.ok(!caps.bounding.includes("CAP_SYS_RESOURCE"));
  assert.deepEqual(caps.effective, caps.bounding);
  assert.deepEqual(parseStatusCapabilities("CapEff:\t0000000000000000\nCapBnd:\t0000000000000021\n"), { bounding: ["CAP_CHOWN", "CAP_KILL"], effective: [] });
});

test("readHostLimits reads limits and status from the given proc directory", async () => {
  await withTempDir(async (dir) => {
    const proc = join(dir, "proc-self");
    await mkdir(proc);
    await writeFile(join(proc, "limits"), LIMITS);
    await writeFile(join(proc, "status"), STATUS);
    const host = await readHostLimits(proc);
    assert.equal(host.nofileHardLimit, 20000);
    assert.ok(host.effectiveCapabilities.includes("CAP_SYS_ADMIN"));
  });
});

test("readHostLimits reads this process's real limits", async () => {
  const host = await readHostLimits();
  assert.ok(host.nofileHardLimit > 0);
  assert.ok(host.boundingCapabilities.length > 0 || process.getuid?.() !== 0);
});
