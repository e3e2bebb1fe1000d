/**
 * `rkt trust [--prefix=PREFIX] [--root] [--skip-fingerprint-review] [--insecure-allow-http] [PUBKEY...]`:
 * add public keys to the local key store (`--local-config`, default /etc/rkt), as rkt did. Each
 * key's fingerprint and user IDs are shown (on stderr, like rkt) and the user confirms on the
 * terminal; without a terminal, `--skip-fingerprint-review` must say the review happened
 * elsewhere. OpenPGP keys (ACI signatures) and PEM public keys (cosign) are both accepted.
 */
import { createInterface, type Interface } from "node:readline";
import { domainAuthHeaders, loadAuthConfig } from "../config/auth-config.js";
import { trustKeys, type KeyCandidate } from "../engine/trust/trust-keys.js";
import { Keystore } from "../image/verify/keystore.js";
import { RktError } from "../lib/errors.js";
import { boolFlag, stringFlag } from "./args/flags.js";
import { defineCommand } from "./command.js";
import type { Output } from "./output/output.js";

const USAGE = "trust [--prefix=PREFIX] [--insecure-allow-http] [--skip-fingerprint-review] [--root] [PUBKEY ...]";

export const trustCommand = defineCommand({
  path: ["trust"],
  summary: "Trust a key for image verification",
  usage: USAGE,
  flags: {
    prefix: stringFlag("prefix to limit trust to"),
    root: boolFlag("add root key from filesystem without a prefix"),
    skipFingerprintReview: boolFlag("accept key without fingerprint confirmation"),
    insecureAllowHttp: boolFlag("allow HTTP use for key discovery and/or retrieval"),
  },
  async run(ctx, { values, positionals }) {
    const { globals, out } = ctx;
    if (values.prefix === "" && !values.root) {
      if (positionals.length > 0) {
        throw new RktError("invalid-argument", "--root required for non-prefixed (root) keys", {
          hint: `to trust it for every image: rkt trust --root ${positionals.join(" ")}; or only for some: rkt trust --prefix "example.com/hello" ${positionals.join(" ")}`,
        });
      }
      throw new RktError("invalid-argument", "--prefix or --root is required", { hint: `usage: rkt ${USAGE}` });
    }
    if (values.prefix !== "" && values.root) throw new RktError("invalid-argument", "--root and --prefix usage mutually exclusive");
    if (values.root && positionals.length === 0) {
      throw new RktError("invalid-argument", "at least one key or --prefix required", { hint: "a root key is never discovered: rkt trust --root PUBKEY (a file or URL)" });
    }
    const scope = values.root ? { root: true as const } : { prefix: values.prefix };
    const keystore = new Keystore({ systemConfigDir: globals.systemConfigDir, localConfigDir: globals.localConfigDir });
    const auth = loadAuthConfig([globals.systemConfigDir, globals.localConfigDir, globals.userConfigDir]);
    const prefixText = values.root ? "" : values.prefix;
    const answers = new LineReader();
    try {
      await trustKeys(
        keystore,
        {
          scope,
          locations: positionals,
          insecureAllowHttp: values.insecureAllowHttp,
          http: { insecureTls: globals.insecure.has("tls"), headers: (url) => domainAuthHeaders(auth, url), signal: ctx.signal },
        },
        {
          async review(candidate) {
            showKey(out, prefixText, candidate);
            const fromHttps = globals.trustKeysFromHttps && candidate.location.startsWith("https://");
            if (values.skipFingerprintReview || fromHttps) {
              out.stderr(`Trusting "${candidate.location}" for prefix "${prefixText}" without fingerprint review.\n`);
              return true;
            }
            if (!process.stdin.isTTY) {
              throw new RktError("failed-precondition", `cannot ask whether to trust ${candidate.location}: standard input is not a terminal`, {
                hint: "compare the fingerprint above with the one the key's owner published, then run again with --skip-fingerprint-review",
              });
            }
            const accepted = await answers.askYesNo(out, "Are you sure you want to trust this key (yes/no)? ");
            if (accepted) out.stderr(`Trusting "${candidate.location}" for prefix "${prefixText}" after fingerprint review.\n`);
            return accepted;
          },
          declined(candidate) {
            out.stderr(`Not trusting "${candidate.location}"\n`);
          },
          trusted(key) {
            out.stderr(key.prefix === undefined ? `Added root key at "${key.path}"\n` : `Added key for prefix "${key.prefix}" at "${key.path}"\n`);
          },
        },
      );
    } finally {
      answers.close();
    }
    return 0;
  },
});

/** The key summary rkt printed before asking: prefix, location, fingerprint(s), user IDs. */
function showKey(out: Output, prefix: string, candidate: KeyCandidate): void {
  const { info } = candidate;
  const lines = [`prefix: "${prefix}"`, `key: "${candidate.location}"`];
  if (info.kind === "openpgp") {
    lines.push(`gpg key fingerprint is: ${groupFingerprint(info.fingerprint)}`);
    for (const sub of info.subkeyFingerprints) lines.push(`    subkey fingerprint: ${groupFingerprint(sub)}`);
    for (const uid of info.userIds) lines.push(`\t${uid}`);
  } else {
    lines.push(`public key fingerprint (sha256) is: ${info.fingerprint}`, `\t${info.description}`);
  }
  if (candidate.alreadyTrusted) lines.push(`(this key is already trusted for "${prefix}")`);
  out.stderr(`${lines.join("\n")}\n`);
}

/** `8B86 DE38 890D DB72 9186  7B02 5210 BD88 8818 2190`: gpg's grouping, as rkt printed it. */
function groupFingerprint(hex: string): string {
  const groups = hex.toUpperCase().match(/.{1,4}/g) ?? [];
  return groups.map((g, i) => (i === 0 ? g : i === groups.length / 2 ? `  ${g}` : ` ${g}`)).join("");
}

/** Answers typed on the terminal, one line each, read lazily from stdin. */
class LineReader {
  #rl: Interface | undefined;
  #lines: AsyncIterator<string> | undefined;

  /** Asks until the user types yes or no; end of input counts as no answer (an error). */
  async askYesNo(out: Output, question: string): Promise<boolean> {
    this.#rl ??= createInterface({ input: process.stdin, terminal: false });
    this.#lines ??= this.#rl[Symbol.asyncIterator]();
    for (;;) {
      out.stderr(question);
      const next = await this.#lines.next();
      if (next.done === true) throw new RktError("failed-precondition", "no answer: standard input ended", { hint: "answer yes or no, or pass --skip-fingerprint-review" });
      const answer = next.value.trim().toLowerCase();
      if (answer === "yes") return true;
      if (answer === "no") return false;
      out.stderr("Please enter 'yes' or 'no'\n");
    }
  }

  close(): void {
    this.#rl?.close();
  }
}
