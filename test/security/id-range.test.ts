/** The `--private-users` id range allocator: disjoint ranges, reuse by owner, stale ones swept. */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { allocateIdRange, idRangeRecord, POD_ID_RANGE_SIZE, releaseIdRange } from "../../src/stage1/userns/id-range.js";
import { tempDir } from "../support/tmp.js";

test("allocateIdRange gives live owners disjoint 65536-id ranges in systemd's container range, and an owner its own range again", async (t) => {
  const dir = await tempDir(t);
  const live = new Set<string>();
  const ranges = [];
  for (let i = 0; i < 20; i++) {
    const owner = `pod-${i}`;
    live.add(owner);
    ranges.push(await allocateIdRange(dir, owner, (o) => live.has(o)));
  }
  const bases = ranges.map((r) => r.base).sort((a, b) => a - b);
  for (const [i, base] of bases.entries()) {
    assert.ok(base >= 524288 && base + POD_ID_RANGE_SIZE <= 1879048192, `${base} outside the container range`);
    if (i > 0) assert.ok(base - (bases[i - 1] ?? 0) >= POD_ID_RANGE_SIZE, "overlap");
  }
  assert.deepEqual(await allocateIdRange(dir, "pod-3", (o) => live.has(o)), ranges[3]);
  assert.equal(idRangeRecord(dir, "pod-3"), join(dir, "ranges", "pod-3"));
});

test("allocateIdRange sweeps the ranges of owners that are no longer live; releaseIdRange frees one", async (t) => {
  const dir = await tempDir(t);
  await allocateIdRange(dir, "gone", () => true);
  await allocateIdRange(dir, "kept", () => true);
  await allocateIdRange(dir, "new", (o) => o === "kept");
  assert.deepEqual(readdirSync(join(dir, "ranges")).sort(), ["kept", "new"]);
  releaseIdRange(dir, "kept");
  releaseIdRange(dir, "never-had-one");
  assert.deepEqual(readdirSync(join(dir, "ranges")), ["new"]);
  await assert.rejects(allocateIdRange(dir, "../escape", () => true), /invalid id range owner/);
});
