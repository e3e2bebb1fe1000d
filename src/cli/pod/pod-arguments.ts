/**
 * Pod UUIDs from the command line, as rkt took them: UUIDs or unique prefixes as arguments, or
 * one UUID from `--uuid-file` (written by `--uuid-file-save`).
 */
import { readFileSync } from "node:fs";
import { describe, RktError } from "../../lib/errors.js";
import { PodStore, type PodRef } from "../../pod/pod-store.js";
import type { CommandContext } from "../command.js";

/** The UUIDs given, at least one; with `exactlyOne`, exactly one. */
export function podArguments(positionals: readonly string[], uuidFile: string, command: string, exactlyOne = false): string[] {
  let uuids: string[];
  if (uuidFile !== "") {
    if (positionals.length > 0) throw new RktError("invalid-argument", "give either a UUID or --uuid-file, not both");
    try {
      uuids = [readFileSync(uuidFile, "utf8").trim()];
    } catch (err) {
      throw new RktError("invalid-argument", `cannot read --uuid-file ${uuidFile}: ${describe(err)}`);
    }
  } else {
    uuids = [...positionals];
  }
  if (uuids.length === 0 || (exactlyOne && uuids.length !== 1)) {
    throw new RktError("invalid-argument", exactlyOne ? "expected exactly one pod UUID" : "no pod given", { hint: `usage: rkt ${command} UUID${exactlyOne ? "" : "..."}` });
  }
  return uuids;
}

/** The one pod UUID of a command that takes one. */
export function podArgument(positionals: readonly string[], uuidFile: string, command: string): string {
  return podArguments(positionals, uuidFile, command, true)[0] ?? "";
}

/**
 * Runs `fn` for each pod given; a failure is reported and the others still run, as rkt's stop and
 * rm did. Returns the exit code: 254 if any failed.
 */
export async function forEachPod(ctx: CommandContext, uuids: readonly string[], command: string, fn: (pods: PodStore, ref: PodRef) => Promise<void>): Promise<number> {
  const pods = new PodStore(ctx.globals.dataDir);
  let failed = 0;
  for (const u of uuids) {
    try {
      await fn(pods, pods.find(u));
    } catch (err) {
      failed++;
      ctx.out.stderr(`${command}: ${describe(err)}\n`);
    }
  }
  return failed > 0 ? 254 : 0;
}
