/**
 * The events journal (src/events): lines written by many processes at once stay whole, the
 * shell teardown's line parses like Node's, rotation keeps every line for a follower, and
 * history plus live delivery give every event exactly once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { exitEventShell, JOURNAL_ROTATE_BYTES, journalPaths, recordEvent } from "../../src/events/event-journal.js";
import { JournalFollower, type JournalEntry } from "../../src/events/journal-follower.js";
import { parseEventLine } from "../../src/events/rkt-event.js";
import { tempDir } from "../support/tmp.js";

function sh(script: string, env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script], { env: { ...process.env, ...env }, stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", resolve);
  });
}

test("recordEvent and the shell teardown's line append whole lines, also from many processes at once", async (t) => {
  const dir = await tempDir(t, "rkt-journal-");
  const uuid = "0a1b2c3d-0000-4000-8000-00000000000a";
  const writers = [1, 2, 3, 4].map((n) => sh(`i=0; while [ $i -lt 150 ]; do i=$((i+1)); ${exitEventShell(dir, uuid)}; done`, { RKT_EXIT_CODE: String(n) }));
  for (let i = 0; i < 150; i++) recordEvent(dir, "image-imported", `sha256:${"e".repeat(64)}`, "localhost/x:1", { n: String(i) });
  assert.deepEqual(await Promise.all(writers), [0, 0, 0, 0]);
  const lines = readFileSync(journalPaths(dir).current, "utf8").split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 750);
  const events = lines.map((l) => parseEventLine(l));
  assert.ok(events.every((e) => e !== undefined), "every line parses");
  const exits = events.filter((e) => e?.type === "pod-exited");
  assert.equal(exits.length, 600);
  assert.deepEqual([...new Set(exits.map((e) => e?.data.exitCode))].sort(), ["1", "2", "3", "4"]);
  assert.ok(exits.every((e) => e?.id === uuid && Math.abs(Number((e.timeNs / 1_000_000n) - BigInt(Date.now()))) < 60_000), "shell lines carry the UUID and a nanosecond time");
  assert.equal((statSync(journalPaths(dir).current).mode & 0o777).toString(8), "640");
});

test("recordEvent never throws, even when the journal cannot be written", async (t) => {
  const dir = await tempDir(t, "rkt-journal-");
  // A file where the events directory should be.
  appendFileSync(`${dir}/events`, "");
  recordEvent(dir, "pod-removed", "x");
});

test("a follower gets every event once: history before, live after, across a rotation", async (t) => {
  const dir = await tempDir(t, "rkt-journal-");
  recordEvent(dir, "pod-prepared", "p1", "a");
  recordEvent(dir, "pod-started", "p1", "a");
  const live: JournalEntry[] = [];
  const follower = new JournalFollower(dir, (e) => live.push(e));
  follower.start();
  t.after(() => follower.close());
  assert.deepEqual(follower.history(0n).map((e) => e.event.type), ["pod-prepared", "pod-started"]);
  assert.equal(live.length, 0);

  recordEvent(dir, "pod-exited", "p1", "a");
  await waitFor(() => live.length === 1);
  // Fill the journal past the rotation size (with a line that is not an event) and write on.
  mkdirSync(journalPaths(dir).dir, { recursive: true });
  appendFileSync(journalPaths(dir).current, `${"x".repeat(JOURNAL_ROTATE_BYTES)}\n`);
  recordEvent(dir, "pod-removed", "p1", "a");
  assert.ok(statSync(journalPaths(dir).previous).size > JOURNAL_ROTATE_BYTES, "rotated to journal.1");
  recordEvent(dir, "image-imported", "i1", "b");
  await waitFor(() => live.length === 3);
  assert.deepEqual(live.map((e) => e.event.type), ["pod-exited", "pod-removed", "image-imported"]);
  // History now: the previous generation and what was delivered of the current one, once each.
  assert.deepEqual(follower.history(0n).map((e) => e.event.type), ["pod-prepared", "pod-started", "pod-exited", "pod-removed", "image-imported"]);
  assert.equal(new Set(follower.history(0n).map((e) => e.key)).size, 5);
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail("timed out");
    await sleep(10);
  }
}
