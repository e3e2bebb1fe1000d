/**
 * rkt's `--insecure-options`: the only way to loosen a default, always explicit. Values and the
 * groups they expand to are rkt's (all-fetch includes pubkey, as rkt's code did).
 */
import { RktError } from "../lib/errors.js";

export const INSECURE_OPTIONS = ["image", "tls", "http", "pubkey", "ondisk", "capabilities", "paths", "seccomp"] as const;
export type InsecureOption = (typeof INSECURE_OPTIONS)[number];

const GROUPS: Readonly<Record<string, readonly InsecureOption[]>> = {
  none: [],
  "all-fetch": ["image", "tls", "http", "pubkey"],
  "all-run": ["capabilities", "paths", "seccomp"],
  all: INSECURE_OPTIONS,
};

export type InsecureOptions = ReadonlySet<InsecureOption>;

export function parseInsecureOptions(values: readonly string[]): InsecureOptions {
  const out = new Set<InsecureOption>();
  for (const raw of values) {
    const v = raw.trim().toLowerCase();
    const group = GROUPS[v];
    if (group !== undefined) {
      for (const g of group) out.add(g);
    } else if ((INSECURE_OPTIONS as readonly string[]).includes(v)) {
      out.add(v as InsecureOption);
    } else {
      throw new RktError("invalid-argument", `unknown value "${raw}" for "--insecure-options"`, {
        hint: `valid values: none, ${INSECURE_OPTIONS.join(", ")}, all-fetch, all-run, all`,
      });
    }
  }
  return out;
}

/**
 * The warnings rkt printed when a user turned a protection off: those of fetching (image, tls,
 * http, pubkey) for `scope` "fetch", those of running a pod (capabilities, paths, seccomp) for
 * "run", printed when the pod starts.
 *
 * @example
 * insecureWarnings(parseInsecureOptions(["all-run"]), "run"); // 3 warnings
 */
export function insecureWarnings(opts: InsecureOptions, scope: "fetch" | "run" = "fetch"): string[] {
  const w: string[] = [];
  if (scope === "run") {
    if (opts.has("capabilities")) w.push("apps get every capability rkt holds (--insecure-options=capabilities)");
    if (opts.has("paths")) w.push("kernel paths are not masked and host devices are not restricted (--insecure-options=paths)");
    if (opts.has("seccomp")) w.push("seccomp filtering has been disabled (--insecure-options=seccomp)");
    return w;
  }
  if (opts.has("image")) w.push("image signature verification has been disabled");
  if (opts.has("tls")) w.push("TLS has been disabled");
  if (opts.has("http")) w.push("plain HTTP has been allowed for fetching images, signatures and keys");
  if (opts.has("pubkey")) w.push("public keys may be fetched over insecure channels");
  return w;
}
