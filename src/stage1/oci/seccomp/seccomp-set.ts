/**
 * A seccomp set as rkt's users write it: `--seccomp mode=retain|remove[,errno=ENAME],NAME,...` on
 * the command line, or the appc isolators `os/linux/seccomp-retain-set` and
 * `os/linux/seccomp-remove-set` (`{"set": [...], "errno": "ENAME"}`) in an image or pod manifest.
 * Entries are syscall names or `@scope/name` groups (syscall-groups.ts); both are checked here, so
 * a typo is an error and not a silently different filter.
 */
import { RktError } from "../../../lib/errors.js";
import { errnoNumber } from "./errno-names.js";
import { SYSCALL_GROUP_NAMES, syscallGroup } from "./syscall-groups.js";
import { isSyscallName } from "./syscall-names.js";

/**
 * The filter an app asked for. "retain": only the set's calls are allowed; "remove": all calls but
 * the set's. A blocked call fails with `errno`, or kills the app with SIGSYS when none is given
 * (rkt's behaviour, systemd's SystemCallFilter=).
 */
export interface SeccompSet {
  readonly mode: "retain" | "remove";
  readonly errno?: string | undefined;
  readonly set: readonly string[];
}

/** The appc isolator names of the two modes. */
export const SECCOMP_ISOLATORS = { retain: "os/linux/seccomp-retain-set", remove: "os/linux/seccomp-remove-set" } as const;

/**
 * Parses the value of `--seccomp`: `mode=` first-class (exactly once), `errno=` at most once, and
 * at least one syscall name or group.
 *
 * @example
 * parseSeccompFlag("mode=remove,errno=ENOTSUP,socket,@systemd/mount");
 * // { mode: "remove", errno: "ENOTSUP", set: ["socket", "@systemd/mount"] }
 */
export function parseSeccompFlag(text: string, flag = "--seccomp"): SeccompSet {
  const what = `${flag} ${JSON.stringify(text)}`;
  let mode: "retain" | "remove" | undefined;
  let errno: string | undefined;
  const set: string[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq < 0) {
      set.push(item);
      continue;
    }
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === "mode") {
      if (mode !== undefined) throw bad(what, "mode is given twice");
      if (value !== "retain" && value !== "remove") throw bad(what, `mode must be retain or remove, not ${JSON.stringify(value)}`);
      mode = value;
    } else if (key === "errno") {
      if (errno !== undefined) throw bad(what, "errno is given twice");
      errno = value;
    } else {
      throw bad(what, `unknown option ${JSON.stringify(key)}`);
    }
  }
  if (mode === undefined) throw bad(what, "mode=retain or mode=remove is missing");
  const parsed: SeccompSet = { mode, ...(errno === undefined ? {} : { errno }), set };
  checkSeccompSet(parsed, what);
  return parsed;
}

/**
 * Checks a set's entries and errno: every entry is a known syscall or group, the errno a known
 * name, the set not empty. `what` names the source in errors (`--seccomp`, `isolator ...`).
 *
 * @example
 * checkSeccompSet({ mode: "retain", set: ["read", "wirte"] }, "--seccomp"); // throws: unknown syscall "wirte"
 */
export function checkSeccompSet(set: SeccompSet, what: string): void {
  if (set.set.length === 0) {
    throw new RktError("invalid-argument", `${what}: the set of syscalls is empty`, { hint: "name syscalls or groups, e.g. mode=remove,socket or mode=retain,@rkt/default-whitelist" });
  }
  if (set.errno !== undefined) errnoNumber(set.errno, what);
  for (const item of set.set) {
    if (item.startsWith("@")) {
      if (!SYSCALL_GROUP_NAMES.includes(item)) {
        throw new RktError("invalid-argument", `${what}: unknown syscall group ${JSON.stringify(item)}`, { hint: `groups: ${SYSCALL_GROUP_NAMES.join(", ")}` });
      }
    } else if (!isSyscallName(item)) {
      throw new RktError("invalid-argument", `${what}: unknown syscall ${JSON.stringify(item)}`, { hint: "syscall names are those of syscalls(2), e.g. mount, ptrace, socket" });
    }
  }
}

/**
 * What a set amounts to:
 * - "unconfined": retain `@appc.io/all` (rkt's opt-out), no filter at all;
 * - "default": remove `@appc.io/empty` (rkt's opt-in to its default), the default profile, with
 *   the set's errno for blocked calls when one is given;
 * - "list": the syscalls the set names, groups expanded, duplicates dropped.
 *
 * appc's switches in the other mode (retain `@appc.io/empty`, remove `@appc.io/all`) name no call;
 * a set of nothing else is the default profile, as in rkt.
 *
 * @example
 * expandSeccompSet({ mode: "retain", set: ["@appc.io/all"] });          // { kind: "unconfined" }
 * expandSeccompSet({ mode: "remove", set: ["@systemd/clock", "stime"] }); // { kind: "list", calls: ["adjtimex", ...] }
 */
export function expandSeccompSet(set: SeccompSet): { kind: "unconfined" } | { kind: "default" } | { kind: "list"; calls: string[] } {
  if (set.mode === "retain" && set.set.includes("@appc.io/all")) return { kind: "unconfined" };
  if (set.mode === "remove" && set.set.includes("@appc.io/empty")) return { kind: "default" };
  const calls = new Set<string>();
  for (const item of set.set) {
    if (item === "@appc.io/empty" || item === "@appc.io/all") continue;
    for (const call of syscallGroup(item) ?? [item]) calls.add(call);
  }
  return calls.size === 0 ? { kind: "default" } : { kind: "list", calls: [...calls] };
}

function bad(what: string, why: string): RktError {
  return new RktError("invalid-argument", `invalid ${what}: ${why}`, { hint: "use --seccomp mode=retain|remove[,errno=ENAME],SYSCALL|@GROUP,..., e.g. --seccomp mode=remove,errno=EPERM,socket" });
}
