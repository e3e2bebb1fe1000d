/**
 * A frozen copy of the built CLI (bin/rkt and dist/) for the length of a benchmark. The checkout
 * is shared with people rebuilding it: `npm run build` replaces dist/ (and its hashed chunk files)
 * at any moment, and a run that straddles a rebuild would mix two builds or fail to load a chunk
 * that was just deleted. The copy lives in bench/out/, inside the checkout, so Node resolves
 * node_modules (koffi) from it exactly as from dist/.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout this file belongs to. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Which build of rkt a benchmark ran. */
export interface RktBuildInfo {
  /** sha256 (first 12 hex) over the names and bytes of dist's JavaScript files. */
  readonly fingerprint: string;
  /** dist/rkt.mjs, the entry every command loads. */
  readonly entryBytes: number;
  /** All JavaScript files of dist/ (entry and chunks), without source maps. */
  readonly totalBytes: number;
  readonly files: number;
  /** `git describe`-like: short HEAD, plus "+dirty" when src/ or scripts/ have uncommitted changes. */
  readonly revision: string;
}

/** A copy of bin/ and dist/; run `bin` (the same sh wrapper as bin/rkt). */
export interface RktSnapshot {
  readonly bin: string;
  readonly dist: string;
  readonly info: RktBuildInfo;
  remove(): void;
}

/**
 * Describes the build in `distDir` (default: the checkout's dist/).
 *
 * @example
 * const before = rktBuildInfo();
 */
export function rktBuildInfo(distDir = join(REPO_ROOT, "dist")): RktBuildInfo {
  if (!existsSync(join(distDir, "rkt.mjs"))) throw new Error(`${distDir}/rkt.mjs is missing: run \`npm run build\` first`);
  const files = listJs(distDir);
  const hash = createHash("sha256");
  let totalBytes = 0;
  for (const f of files) {
    const bytes = readFileSync(join(distDir, f));
    hash.update(`${f}\0${bytes.length}\0`).update(bytes);
    totalBytes += bytes.length;
  }
  return {
    fingerprint: hash.digest("hex").slice(0, 12),
    entryBytes: statSync(join(distDir, "rkt.mjs")).size,
    totalBytes,
    files: files.length,
    revision: gitRevision(),
  };
}

/**
 * Copies bin/rkt and dist/ into bench/out/rkt-snapshot-<pid>/ and describes the copy.
 *
 * @example
 * const rkt = snapshotRkt();
 * cleanup.defer("remove the rkt snapshot", () => rkt.remove());
 * await timedRun(rkt.bin, ["version"]);
 */
export function snapshotRkt(): RktSnapshot {
  const dir = join(REPO_ROOT, "bench", "out", `rkt-snapshot-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "bin"), { recursive: true });
  cpSync(join(REPO_ROOT, "bin", "rkt"), join(dir, "bin", "rkt"));
  cpSync(join(REPO_ROOT, "dist"), join(dir, "dist"), { recursive: true });
  const info = rktBuildInfo(join(dir, "dist"));
  return { bin: join(dir, "bin", "rkt"), dist: join(dir, "dist"), info, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function listJs(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...listJs(path, base));
    else if (/\.(mjs|js|cjs)$/.test(e.name)) out.push(relative(base, path));
  }
  return out;
}

function gitRevision(): string {
  try {
    const head = execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "src", "scripts"], { encoding: "utf8" }).trim() !== "";
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}
