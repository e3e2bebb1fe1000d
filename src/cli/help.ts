/** `rkt help [COMMAND...]` and `--help`: usage text generated from the command table. */
import { flagName } from "./args/flags.js";
import type { Command } from "./command.js";
import { globalFlags } from "./global-flags.js";

export function renderHelp(commands: readonly Command[], words: readonly string[]): string {
  const cmd = commands.find((c) => c.path.join(" ") === words.join(" "));
  if (cmd === undefined || words.length === 0) {
    const lines = ["rkt - the pod-native container engine", "", "USAGE:", "  rkt [global options] <command> [command options] [arguments...]", "", "COMMANDS:"];
    const listed = commands.filter((c) => c.hidden !== true);
    const width = Math.max(...listed.map((c) => c.path.join(" ").length));
    for (const c of listed) lines.push(`  ${c.path.join(" ").padEnd(width)}  ${c.summary}`);
    lines.push("", "GLOBAL OPTIONS:", ...flagLines(globalFlags), "", "Run 'rkt help <command>' for more about a command.");
    return `${lines.join("\n")}\n`;
  }
  const lines = [`rkt ${cmd.path.join(" ")} - ${cmd.summary}`, "", "USAGE:", `  rkt ${cmd.usage}`];
  const own = flagLines(cmd.flags);
  if (own.length > 0) lines.push("", "OPTIONS:", ...own);
  return `${lines.join("\n")}\n`;
}

function flagLines(specs: Readonly<Record<string, { help: string; kind: string; hidden?: boolean; default?: unknown }>>): string[] {
  const entries = Object.entries(specs).filter(([, s]) => s.hidden !== true);
  const names = entries.map(([k, s]) => `--${flagName(k)}${s.kind === "bool" ? "" : "=VALUE"}`);
  const width = Math.max(0, ...names.map((n) => n.length));
  return entries.map(([, s], i) => {
    const def = s.kind === "string" && s.default !== "" ? ` (default "${String(s.default)}")` : "";
    return `  ${(names[i] ?? "").padEnd(width)}  ${s.help}${def}`;
  });
}
