/**
 * The shape of a CLI command: a path of words (`["image", "list"]`), its flags, and a `run` that
 * parses nothing itself and calls the engine. One file per command under src/cli/, nouns as
 * folders.
 */
import type { GlobalOptions } from "../config/global-options.js";
import type { FlagSpecs, ParsedFlags } from "./args/flags.js";
import type { Output } from "./output/output.js";

export interface CommandContext {
  readonly globals: GlobalOptions;
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** How to run this rkt again: [node, script]; the native stage1 programs sit beside the script. */
  readonly self: { readonly node: string; readonly script: string };
}

export interface Command<S extends FlagSpecs = FlagSpecs> {
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  readonly flags: S;
  /** Internal commands are not listed by `rkt help`. */
  readonly hidden?: boolean;
  /** Stop flag parsing at the first positional (for `run`'s per-app sections). */
  readonly stopAtPositional?: boolean;
  /** Returns the exit code. */
  run(ctx: CommandContext, args: ParsedFlags<S>): Promise<number>;
}

/** Lets each command file keep its flag types while the registry holds them all. */
export function defineCommand<S extends FlagSpecs>(cmd: Command<S>): Command {
  return cmd;
}
