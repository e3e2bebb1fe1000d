/** What the `rkt app` commands share: `UUID --app=NAME`, and a stop timeout. */
import { RktError } from "../../lib/errors.js";
import { stringFlag } from "../args/flags.js";

/** `--app=NAME`. */
export const appNameFlag = stringFlag("name of the app");

/** The pod UUID (one positional) and the app name (`--app`, required). */
export function appArgument(positionals: readonly string[], app: string, verb: string): { uuid: string; app: string } {
  const [uuid] = positionals;
  if (uuid === undefined || positionals.length !== 1) throw new RktError("invalid-argument", "expected exactly one pod UUID", { hint: `usage: rkt app ${verb} UUID --app=NAME` });
  if (app === "") throw new RktError("invalid-argument", "--app is required", { hint: `usage: rkt app ${verb} UUID --app=NAME (see rkt app list UUID)` });
  return { uuid, app };
}

/** `--timeout=SECONDS` (decimal allowed), or undefined when not given. */
export function parseTimeout(text: string): number | undefined {
  if (text === "") return undefined;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n > 86400) throw new RktError("invalid-argument", `invalid value "${text}" for --timeout: expected seconds from 0 to 86400`);
  return n;
}
