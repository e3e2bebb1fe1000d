/**
 * rkt's configuration files: `*.json` in a kind's directory (`auth.d`, `stage1.d`, ...) under each
 * configuration root (system, local, user), read in precedence order, lowest first, and within a
 * directory in file-name order. Every reader of rkt configuration goes through here so that
 * missing directories, unreadable ones and malformed JSON are reported the same way.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errnoCode, RktError } from "../lib/errors.js";

export interface ConfigFile {
  /** The configuration root this file came from (its position gives the precedence). */
  readonly root: string;
  readonly path: string;
  readonly json: unknown;
}

/** The parsed JSON files of `<root>/<kindDir>/*.json` for each root, lowest precedence first. */
export function readConfigFiles(roots: readonly string[], kindDir: string): ConfigFile[] {
  const out: ConfigFile[] = [];
  for (const root of roots) {
    if (root === "") continue;
    const dir = join(root, kindDir);
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw new RktError("permission-denied", `cannot read ${dir}`, { cause: err });
    }
    for (const file of files) {
      const path = join(dir, file);
      try {
        out.push({ root, path, json: JSON.parse(readFileSync(path, "utf8")) as unknown });
      } catch (err) {
        throw new RktError("invalid-argument", `malformed configuration file ${path}: ${err instanceof Error ? err.message : String(err)}`, {
          hint: "fix the JSON or remove the file",
        });
      }
    }
  }
  return out;
}
