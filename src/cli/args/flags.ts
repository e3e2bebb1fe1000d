/**
 * Flag parsing with rkt's (cobra's) conventions: `--name=value` or `--name value`, booleans as
 * `--name`, `--name=true|false`, repeatable flags, `--` ends flags. Unknown flags are errors that
 * name the flag and the command, so typos never silently change behaviour.
 *
 * @example
 * const spec = { full: boolFlag("print the full image ID") };
 * const { values, positionals } = parseFlags(["--full", "docker://busybox"], spec, "fetch");
 * values.full; // true
 */
import { RktError } from "../../lib/errors.js";

export interface BoolFlag {
  readonly kind: "bool";
  readonly help: string;
  readonly default: boolean;
  readonly hidden?: boolean;
  /** A one-letter alias (`-f`), for the few flags users type that way (`rkt logs -f`). */
  readonly short?: string;
}
export interface StringFlag {
  readonly kind: "string";
  readonly help: string;
  readonly default: string;
  readonly choices?: readonly string[];
  readonly hidden?: boolean;
  /** The value of a bare `--name` (cobra's NoOptDefVal): then the flag never takes the next word. */
  readonly bare?: string;
}
export interface ListFlag {
  readonly kind: "list";
  readonly help: string;
  /** Split each occurrence on commas (rkt's CSV flags such as --insecure-options). */
  readonly csv: boolean;
  readonly hidden?: boolean;
  /** The value of a bare `--name`, as for StringFlag. */
  readonly bare?: string;
}
export type FlagSpec = BoolFlag | StringFlag | ListFlag;
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends BoolFlag ? boolean : S[K] extends StringFlag ? string : string[];
};

export const boolFlag = (help: string, def = false, hidden = false): BoolFlag => ({ kind: "bool", help, default: def, hidden });
export const stringFlag = (help: string, def = "", choices?: readonly string[]): StringFlag =>
  choices === undefined ? { kind: "string", help, default: def } : { kind: "string", help, default: def, choices };
export const listFlag = (help: string, csv = false): ListFlag => ({ kind: "list", help, csv });

export interface ParsedFlags<S extends FlagSpecs> {
  values: FlagValues<S>;
  /** Which flags were given explicitly. */
  given: Set<string>;
  positionals: string[];
}

export interface ParseOptions {
  /** Stop at the first positional: everything after it is returned untouched (rkt run's apps). */
  readonly stopAtPositional?: boolean;
}

/** Converts a camelCase spec key to its flag name: `pullPolicy` -> `pull-policy`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S, command: string, options: ParseOptions = {}): ParsedFlags<S> {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [key, spec] of Object.entries(specs)) byName.set(flagName(key), [key, spec]);
  const values: Record<string, boolean | string | string[]> = {};
  for (const [key, spec] of Object.entries(specs)) values[key] = spec.kind === "list" ? [] : spec.default;
  const given = new Set<string>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (/^-[a-zA-Z]$/.test(arg)) {
      const hit = Object.entries(specs).find(([, spec]) => spec.kind === "bool" && spec.short === arg.slice(1));
      if (hit !== undefined) {
        values[hit[0]] = true;
        given.add(hit[0]);
        continue;
      }
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg.length > 1) {
        throw new RktError("invalid-argument", `unknown shorthand flag "${arg}" for "rkt ${command}"`, {
          hint: `see \`rkt help ${command}\`; rkt's flags are long (--name)`,
        });
      }
      if (options.stopAtPositional === true) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const entry = byName.get(name);
    if (entry === undefined) {
      throw new RktError("invalid-argument", `unknown flag "--${name}" for "rkt ${command}"`, {
        hint: `see \`rkt help ${command}\` for its flags`,
      });
    }
    const [key, spec] = entry;
    given.add(key);
    if (spec.kind === "bool") {
      values[key] = inline === undefined ? true : parseBool(inline, name);
      continue;
    }
    let value = inline ?? spec.bare;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new RktError("invalid-argument", `flag "--${name}" needs a value`);
      value = next;
      i++;
    }
    if (spec.kind === "string") {
      if (spec.choices !== undefined && !spec.choices.includes(value)) {
        throw new RktError("invalid-argument", `invalid value "${value}" for "--${name}": must be one of ${spec.choices.join(", ")}`);
      }
      values[key] = value;
    } else {
      const list = values[key] as string[];
      if (spec.csv) list.push(...value.split(",").map((s) => s.trim()).filter((s) => s.length > 0));
      else list.push(value);
    }
  }
  return { values: values as FlagValues<S>, given, positionals };
}

export function parseBool(text: string, name: string): boolean {
  switch (text.toLowerCase()) {
    case "true":
    case "1":
    case "t":
    case "yes":
      return true;
    case "false":
    case "0":
    case "f":
    case "no":
      return false;
    default:
      throw new RktError("invalid-argument", `invalid value "${text}" for "--${name}": expected true or false`);
  }
}

/**
 * Go-style durations as rkt printed and accepted them: `30m0s`, `24h`, `1h30m`, `500ms`, `0`.
 * Returns milliseconds.
 */
export function parseDuration(text: string, flag: string): number {
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += n * (unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : unit === "s" ? 1000 : 1);
    matched = re.lastIndex;
  }
  if (matched !== text.length || text.length === 0) {
    throw new RktError("invalid-argument", `invalid duration "${text}" for "--${flag}"`, { hint: "use Go duration syntax, e.g. 30m0s, 24h, 90s" });
  }
  return total;
}
