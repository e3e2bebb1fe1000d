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
import { RktError } from "../lib/errors.js";
import { readConfigFiles } from "./config-files.js";

/** The configured default flavor name, or undefined when nothing is configured. */
export function configuredStage1(configDirs: readonly string[]): string | undefined {
  let chosen: string | undefined;
  for (const { path, json } of readConfigFiles(configDirs, "stage1.d")) {
    if (typeof json !== "object" || json === null) continue;
    const { rktKind, rktVersion, name } = json as Record<string, unknown>;
    if (rktKind !== "stage1") continue;
    if (rktVersion !== "v1" || typeof name !== "string" || name === "") {
      throw new RktError("invalid-argument", `invalid stage1 configuration ${path}: expected {"rktKind": "stage1", "rktVersion": "v1", "name": "<flavor>"}`);
    }
    chosen = name;
  }
  return chosen;
}
