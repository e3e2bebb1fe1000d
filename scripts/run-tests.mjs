// Runs every *.test.ts under test/ and src/ with node's test runner through tsx. Node 20 has no
// glob support in `--test`, so the files are listed here. Files run one at a time
// (--test-concurrency=1): root tests share kernel state (mounts, netns, iptables) and the one
// registry the suite starts.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = [...find("test", []), ...find("src", [])];
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  // A hung test fails after 5 minutes instead of holding the whole run (CI has a 90-minute limit).
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=300000", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
