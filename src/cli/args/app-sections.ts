/**
 * rkt's per-app command line: `IMAGE [app flags] [-- ARGS...] [--- IMAGE2 [app flags] ...]`.
 * App flags apply to the image before them; `--` starts the app's arguments, which run to `---`
 * (or the end); a bare positional starts the next app, as in `rkt run img1 img2`.
 */
import { RktError } from "../../lib/errors.js";
import { flagName, parseFlags, type FlagSpecs, type FlagValues } from "./flags.js";

export interface AppSection<S extends FlagSpecs> {
  readonly image: string;
  readonly values: FlagValues<S>;
  readonly given: ReadonlySet<string>;
  /** Arguments after `--`, undefined when there was no `--`. */
  readonly args: readonly string[] | undefined;
}

export function parseAppSections<S extends FlagSpecs>(argv: readonly string[], specs: S, command: string): AppSection<S>[] {
  const sections: AppSection<S>[] = [];
  let i = 0;
  while (i < argv.length) {
    const image = argv[i] ?? "";
    if (image === "---") {
      i++;
      continue;
    }
    if (image.startsWith("--")) {
      const name = image.slice(2).split("=")[0] ?? "";
      const known = Object.keys(specs).some((k) => flagName(k) === name);
      throw new RktError("invalid-argument", known ? `app flag "${image}" must follow the image it applies to` : `unknown flag "${image}" for "rkt ${command}"`, {
        hint: `usage: rkt ${command} [flags] IMAGE [app flags] [-- ARGS] [--- IMAGE ...]`,
      });
    }
    i++;
    const flagArgs: string[] = [];
    let args: string[] | undefined;
    while (i < argv.length) {
      const a = argv[i] ?? "";
      if (a === "---") {
        i++;
        break;
      }
      if (a === "--") {
        const end = argv.indexOf("---", i + 1);
        args = argv.slice(i + 1, end < 0 ? argv.length : end);
        i = end < 0 ? argv.length : end + 1;
        break;
      }
      if (!a.startsWith("--")) break; // the next image
      flagArgs.push(a);
      const eq = a.includes("=");
      const key = Object.entries(specs).find(([k]) => flagName(k) === a.slice(2))?.[1];
      if (!eq && key !== undefined && key.kind !== "bool" && key.bare === undefined) {
        const v = argv[i + 1];
        if (v !== undefined) flagArgs.push(v);
        i++;
      }
      i++;
    }
    const parsed = parseFlags(flagArgs, specs, command);
    if (parsed.positionals.length > 0) throw new RktError("invalid-argument", `unexpected argument "${parsed.positionals[0] ?? ""}" after image ${image}`);
    sections.push({ image, values: parsed.values, given: parsed.given, args });
  }
  return sections;
}
