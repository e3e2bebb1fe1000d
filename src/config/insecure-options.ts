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

/** The warnings rkt printed when a user turned a protection off. */
export function insecureWarnings(opts: InsecureOptions): string[] {
  const w: string[] = [];
  if (opts.has("image")) w.push("image signature verification has been disabled");
  if (opts.has("tls")) w.push("TLS has been disabled");
  if (opts.has("http")) w.push("plain HTTP has been allowed for fetching images, signatures and keys");
  if (opts.has("pubkey")) w.push("public keys may be fetched over insecure channels");
  return w;
}
