/**
 * The CLI dispatcher: finds the command from the leading words, parses global and command flags
 * together, runs it, and turns failures into one clear message and exit code 254 (rkt's own
 * failure, as rkt documented). Error kinds are mapped to exit codes here and nowhere else.
 */
import { RktError } from "../lib/errors.js";
import { flagName, parseFlags, type FlagSpecs } from "./args/flags.js";
import type { CommandContext } from "./command.js";
import { commands, loadAllCommands, loadCommand, type CommandEntry } from "./commands.js";
import { globalFlags, globalOptionsFrom } from "./global-flags.js";
import { renderHelp } from "./help.js";
import type { Output } from "./output/output.js";

/** rkt's exit code for its own failures (as opposed to an app's exit code). */
export const EXIT_RKT_FAILURE = 254;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output, signal: AbortSignal, self: CommandContext["self"]): Promise<number> {
  const { entry, rest, words, matched } = findCommand(argv);
  if (entry === undefined) {
    if (words.length === 0 || words[0] === "help") {
      out.stdout(renderHelp(await loadAllCommands(), words.slice(1)));
      return words.length === 0 && argv.length === 0 ? EXIT_RKT_FAILURE : 0;
    }
    out.stderr(`rkt: unknown command "${words.slice(0, matched + 1).join(" ")}"\nRun 'rkt help' for usage.\n`);
    return EXIT_RKT_FAILURE;
  }
  const label = entry.path.join(" ");
  try {
    // Only this command's module is loaded (see commands.ts).
    const command = await loadCommand(entry);
    const specs: FlagSpecs = { ...globalFlags, ...command.flags };
    const parsed = parseFlags(rest, specs, label, command.stopAtPositional === true ? { stopAtPositional: true } : {});
    if (parsed.given.has("help")) {
      out.stdout(renderHelp([command], [...command.path]));
      return 0;
    }
    const globals = globalOptionsFrom(parsed.values as never);
    const ctx: CommandContext = { globals, out, env, signal, self };
    return await command.run(ctx, parsed);
  } catch (err) {
    out.stderr(formatError(label, err, env.RKT_DEBUG === "1" || argv.includes("--debug")));
    return EXIT_RKT_FAILURE;
  }
}

/** The longest run of leading words (skipping global flags) that names a command. */
function findCommand(argv: readonly string[]): { entry: CommandEntry | undefined; rest: string[]; words: string[]; matched: number } {
  const leadingFlags: string[] = [];
  const words: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg.startsWith("--")) {
      leadingFlags.push(arg);
      const name = arg.slice(2).split("=")[0] ?? "";
      const spec = Object.entries(globalFlags).find(([k]) => flagName(k) === name)?.[1];
      if (spec !== undefined && spec.kind !== "bool" && !arg.includes("=") && i + 1 < argv.length) {
        leadingFlags.push(argv[++i] ?? "");
      }
      continue;
    }
    const candidate = [...words, arg];
    if (!commands.some((c) => startsWith(c.path, candidate))) break;
    words.push(arg);
  }
  let best: CommandEntry | undefined;
  for (const c of commands) {
    if (c.path.length <= words.length && startsWith(words, c.path) && (best === undefined || c.path.length > best.path.length)) best = c;
  }
  if (best === undefined) return { entry: undefined, rest: [], words: [...words, ...argv.slice(i)], matched: words.length };
  const extraWords = words.slice(best.path.length);
  return { entry: best, rest: [...leadingFlags, ...extraWords, ...argv.slice(i)], words, matched: words.length };
}

function startsWith(list: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((w, i) => list[i] === w);
}

export function formatError(label: string, err: unknown, debug: boolean): string {
  if (err instanceof RktError) {
    let text = `${label}: ${err.message}\n`;
    if (err.hint !== undefined) text += `  hint: ${err.hint}\n`;
    if (debug && err.stack !== undefined) text += `${err.stack}\n`;
    return text;
  }
  const message = err instanceof Error ? err.message : String(err);
  let text = `${label}: internal error: ${message}\n  hint: this is a bug in rkt; run again with --debug and report the output\n`;
  if (debug && err instanceof Error && err.stack !== undefined) text += `${err.stack}\n`;
  return text;
}
