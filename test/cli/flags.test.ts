import assert from "node:assert/strict";
import { test } from "node:test";
import { boolFlag, listFlag, parseDuration, parseFlags, stringFlag } from "../../src/cli/args/flags.js";
import { RktError } from "../../src/lib/errors.js";

const specs = {
  full: boolFlag("full"),
  pullPolicy: stringFlag("policy", "update", ["new", "update", "never"]),
  insecureOptions: listFlag("insecure", true),
};

test("parseFlags reads --name=value, --name value and bare booleans", () => {
  const r = parseFlags(["--full", "--pull-policy", "new", "docker://a", "--insecure-options=image,http"], specs, "fetch");
  assert.equal(r.values.full, true);
  assert.equal(r.values.pullPolicy, "new");
  assert.deepEqual(r.values.insecureOptions, ["image", "http"]);
  assert.deepEqual(r.positionals, ["docker://a"]);
});

test("parseFlags rejects unknown flags and bad choices, naming them", () => {
  assert.throws(() => parseFlags(["--fulll"], specs, "fetch"), (e: unknown) => e instanceof RktError && e.message.includes("--fulll"));
  assert.throws(() => parseFlags(["--pull-policy=sometimes"], specs, "fetch"), (e: unknown) => e instanceof RktError && e.message.includes("sometimes"));
});

test("parseFlags stops at the first positional when asked, keeping the rest verbatim", () => {
  const r = parseFlags(["--full", "img", "--exec=/x", "--", "a"], specs, "run", { stopAtPositional: true });
  assert.deepEqual(r.positionals, ["img", "--exec=/x", "--", "a"]);
});

test("parseDuration reads Go durations and rejects garbage", () => {
  assert.equal(parseDuration("30m0s", "g"), 30 * 60_000);
  assert.equal(parseDuration("24h", "g"), 86_400_000);
  assert.equal(parseDuration("1h30m", "g"), 5_400_000);
  assert.equal(parseDuration("0", "g"), 0);
  assert.throws(() => parseDuration("10 minutes", "g"));
});
