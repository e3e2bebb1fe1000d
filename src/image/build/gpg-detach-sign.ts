/**
 * Signs a built ACI with the user's own GnuPG: an ASCII-armored detached signature, the form appc
 * requires (aci.md "Image Archives": "the format MUST be ascii-armored detached signature mode",
 * named `<image>.aci.asc`). rkt never handles the private key; gpg (and its agent, for
 * passphrases) does, with the keyring of the environment's GNUPGHOME.
 */
import { spawn } from "node:child_process";
import { RktError } from "../../lib/errors.js";

/** How {@link gpgDetachSign} runs gpg. */
export interface GpgSignOptions {
  /** A key ID, fingerprint or user ID (gpg `--local-user`); default: gpg's default key. */
  readonly keyId?: string | undefined;
  /** gpg's environment (GNUPGHOME, GPG_TTY, PATH). */
  readonly env: NodeJS.ProcessEnv;
  /** The gpg program; default "gpg" from PATH. */
  readonly gpg?: string;
  readonly signal?: AbortSignal;
}

/**
 * Writes an armored detached signature of `file` to `signatureFile` (replacing it).
 *
 * @example
 * await gpgDetachSign("app.aci", "app.aci.asc", { keyId: "alice@example.com", env: process.env });
 */
export async function gpgDetachSign(file: string, signatureFile: string, options: GpgSignOptions): Promise<void> {
  const gpg = options.gpg ?? "gpg";
  const args = ["--batch", "--yes", "--armor", ...(options.keyId === undefined ? [] : ["--local-user", options.keyId]), "--output", signatureFile, "--detach-sign", file];
  const child = spawn(gpg, args, { env: options.env, stdio: ["ignore", "ignore", "pipe"], ...(options.signal === undefined ? {} : { signal: options.signal }) });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (b: Buffer) => stderr.push(b));
  const [code, error] = await new Promise<[number | null, Error | undefined]>((resolve) => {
    child.once("error", (err) => resolve([null, err]));
    child.once("close", (c) => resolve([c, undefined]));
  });
  if (error !== undefined) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new RktError("failed-precondition", `cannot sign ${file}: ${gpg} is not installed`, { hint: "install GnuPG (apt-get install gnupg), or build without --sign" });
    }
    throw new RktError("internal", `cannot sign ${file}: running ${gpg}: ${error.message}`, { cause: error });
  }
  if (code !== 0) {
    const why = Buffer.concat(stderr).toString("utf8").trim().split("\n").slice(-3).join("; ");
    throw new RktError("failed-precondition", `signing ${file} with gpg failed (exit ${code ?? "by signal"}): ${why}`, {
      hint:
        options.keyId === undefined
          ? "make sure gpg has a secret key (gpg --list-secret-keys; GNUPGHOME selects the keyring), or name one with --sign-key"
          : `make sure gpg has the secret key "${options.keyId}" (gpg --list-secret-keys; GNUPGHOME selects the keyring)`,
    });
  }
}
