/**
 * The default stage1, configurable as in rkt: `stage1.d/*.json` under the system, local and user
 * configuration directories (later ones win), e.g.
 *
 * ```json
 * {"rktKind": "stage1", "rktVersion": "v1", "name": "sandbox"}
 * ```
 *
 * rkt's entries named a stage1 image (name, version, location); ours name a built-in flavor.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RktError } from "../lib/errors.js";

/** The configured default flavor name, or undefined when nothing is configured. */
export function configuredStage1(configDirs: readonly string[]): string | undefined {
  let chosen: string | undefined;
  for (const base of configDirs) {
    if (base === "") continue;
    const dir = join(base, "stage1.d");
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const path = join(dir, file);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, "utf8"));
      } catch (err) {
        throw new RktError("invalid-argument", `malformed configuration file ${path}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (typeof json !== "object" || json === null) continue;
      const { rktKind, rktVersion, name } = json as Record<string, unknown>;
      if (rktKind !== "stage1") continue;
      if (rktVersion !== "v1" || typeof name !== "string" || name === "") {
        throw new RktError("invalid-argument", `invalid stage1 configuration ${path}: expected {"rktKind": "stage1", "rktVersion": "v1", "name": "<flavor>"}`);
      }
      chosen = name;
    }
  }
  return chosen;
}
