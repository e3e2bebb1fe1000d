/**
 * Real OpenPGP keys and signatures made by GnuPG, for trust and signing tests. Each keyring lives
 * in its own temporary GNUPGHOME (removed with the test's temp dir), so nothing touches the
 * user's keys and parallel tests do not share an agent.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execTool } from "./exec-tool.js";

/** A GnuPG home with one signing key in it. */
export interface GpgKey {
  /** The GNUPGHOME directory (pass it as env GNUPGHOME to run gpg yourself). */
  readonly home: string;
  /** 40 lowercase hex digits, as rkt names key files. */
  readonly fingerprint: string;
  /** The public key, ASCII-armored. */
  readonly armoredPublicKey: string;
  /** The user ID the key was made with. */
  readonly userId: string;
}

/** How {@link createGpgKey} makes the key. */
export interface GpgKeyOptions {
  /** Default "rkt test <test@example.com>". */
  readonly userId?: string;
  /** Default "ed25519"; "rsa2048" and "rsa4096" are accepted too. */
  readonly algorithm?: "ed25519" | "rsa2048" | "rsa4096";
}

/**
 * Creates a GnuPG home under `dir` (a new sub-directory) with a fresh passphrase-less signing key.
 *
 * @example
 * const key = await createGpgKey(await tempDir(t));
 * await gpgDetachSign(key, "app.aci"); // writes app.aci.asc
 */
export async function createGpgKey(dir: string, options: GpgKeyOptions = {}): Promise<GpgKey> {
  const home = join(dir, `gnupg-${Math.random().toString(36).slice(2, 10)}`);
  await mkdir(home, { mode: 0o700 });
  const userId = options.userId ?? "rkt test <test@example.com>";
  const algorithm = options.algorithm ?? "ed25519";
  await gpg(home, ["--quick-generate-key", userId, algorithm, "sign", "2d"]);
  const colons = (await gpg(home, ["--list-keys", "--with-colons", "--with-fingerprint"])).toString("utf8");
  const fpr = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (fpr === undefined) throw new Error(`gpg made a key but listed no fingerprint:\n${colons}`);
  const armoredPublicKey = (await gpg(home, ["--armor", "--export", fpr])).toString("utf8");
  return { home, fingerprint: fpr.toLowerCase(), armoredPublicKey, userId };
}

/** Writes the armored public key of `key` to `file` and returns `file`. */
export async function writePublicKey(key: GpgKey, file: string): Promise<string> {
  await writeFile(file, key.armoredPublicKey);
  return file;
}

/**
 * Makes an armored detached signature of `file` with `key`, written to `out` (default
 * `<file>.asc`, the name rkt looks for next to an ACI). Returns the signature's path.
 */
export async function gpgDetachSign(key: GpgKey, file: string, out = `${file}.asc`): Promise<string> {
  await gpg(key.home, ["--batch", "--yes", "--armor", "--local-user", key.fingerprint, "--output", out, "--detach-sign", file]);
  return out;
}

/** Runs gpg with `home` as its GNUPGHOME, non-interactively, and returns stdout. */
export async function gpg(home: string, args: readonly string[]): Promise<Buffer> {
  return execTool("gpg", ["--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { env: { GNUPGHOME: home } });
}
