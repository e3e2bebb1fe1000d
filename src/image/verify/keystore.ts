/**
 * rkt's key store: the public keys trusted to sign images, per image name prefix.
 *
 * Layout (rkt's, Documentation/signing-and-verification-guide.md): under each of the system
 * (vendor, `/usr/lib/rkt`) and local (administrator, `/etc/rkt`) config directories,
 *
 *     trustedkeys/root.d/<fingerprint>                      trusted for every image
 *     trustedkeys/prefix.d/<prefix>/<fingerprint>           trusted for names under <prefix>
 *
 * with `/` in a prefix kept as nested directories (`prefix.d/coreos.com/etcd/8b86de...`). A key
 * applies to an image name when its prefix is a path prefix of the name, component by
 * component: `a.com/b` covers `a.com/b` and `a.com/b/c`, not `a.com/bc`. An empty local file
 * named after a fingerprint masks the vendor key with that fingerprint (rkt's way to distrust a
 * key the distribution shipped). New keys are always written to the local directory.
 *
 * Prefixes are appc names (`example.com/app`) or Docker repositories (`127.0.0.1:5000/team`,
 * `registry.example/x`): lowercase components of letters, digits and `._~-`, with a `:port`
 * allowed in the first. They become directory paths, so `..`, empty components and absolute
 * paths are refused before any path is built.
 *
 * Both kinds of key live side by side: OpenPGP (file name: the 40-hex v4 fingerprint) and
 * sigstore PEM public keys (file name: the 64-hex SHA-256 of the DER SubjectPublicKeyInfo).
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, errnoCode, RktError } from "../../lib/errors.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { detectKeyKind, inspectPemPublicKey, inspectPublicKey, type KeyKind, type PublicKeyInfo } from "./inspect-public-key.js";
import { parsePublicKey, publicKeyFingerprint } from "./sigstore/public-key.js";

export type { KeyKind };

/** A key the store trusts, as read from (or just written to) its file. */
export interface TrustedKey {
  readonly kind: KeyKind;
  /** openpgp: 40 lowercase hex (v4); sigstore: 64 hex, SHA-256 of the DER SubjectPublicKeyInfo. */
  readonly fingerprint: string;
  /** The key's file. */
  readonly path: string;
  /** The file's content: the armored OpenPGP public key or the PEM public key. */
  readonly text: string;
  /** The prefix it is trusted for; undefined for root.d keys (every image). */
  readonly prefix: string | undefined;
}

/** Where a key is trusted: for names under a prefix, or for every image (root.d). */
export type KeyScope = { readonly prefix: string } | { readonly root: true };

/** The config directories the store lives in (rkt's `--system-config` and `--local-config`). */
export interface KeystoreDirs {
  readonly systemConfigDir: string;
  readonly localConfigDir: string;
}

const FINGERPRINT_FILE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** Key files are small; anything larger is not a key. */
const MAX_KEY_FILE_BYTES = 1 << 20;

/**
 * Checks that `prefix` can name a key store directory (see the module comment). Throws RktError
 * "invalid-argument" saying what is wrong.
 *
 * @example
 * checkKeyPrefix("127.0.0.1:5000/team");  // fine
 * checkKeyPrefix("example.com/../etc");   // throws
 */
export function checkKeyPrefix(prefix: string, what = "prefix"): void {
  const bad = (why: string, hint?: string): RktError =>
    new RktError("invalid-argument", `invalid ${what} "${prefix}": ${why}`, {
      hint: hint ?? "a prefix is an image name or the start of one, e.g. example.com/app or 127.0.0.1:5000/team",
    });
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(prefix);
  if (scheme !== null) throw bad(`it must not contain a URL scheme`, `omit ${scheme[1] ?? ""}://`);
  if (prefix === "") throw bad("it is empty");
  if (prefix.length > 1024) throw bad("it is longer than 1024 characters");
  if (prefix.startsWith("/")) throw bad("it is an absolute path, not an image name");
  const parts = prefix.split("/");
  parts.forEach((part, i) => {
    if (part === "") throw bad(prefix.endsWith("/") && i === parts.length - 1 ? "it ends with /" : "it has an empty path component (//)");
    if (part === "." || part === "..") throw bad(`"${part}" is not allowed as a path component`);
    if (/[A-Z]/.test(part)) throw bad("image names are lowercase", `use "${prefix.toLowerCase()}"`);
    const allowed = i === 0 ? /^[a-z0-9][a-z0-9._~-]*(?::[0-9]{1,5})?$/ : /^[a-z0-9][a-z0-9._~-]*$/;
    if (!allowed.test(part)) {
      if (i > 0 && part.includes(":")) throw bad(`"${part}" has a ":"; a prefix names images without a version or tag`, `use "${prefix.slice(0, prefix.lastIndexOf(":"))}"`);
      throw bad(`"${part}" may only contain lowercase letters, digits and ._~-${i === 0 ? " (and a :port)" : ""}, starting with a letter or digit`);
    }
  });
}

/**
 * The key store of one rkt configuration.
 *
 * @example
 * const ks = new Keystore({ systemConfigDir: "/usr/lib/rkt", localConfigDir: "/etc/rkt" });
 * const keys = ks.keysFor("example.com/app");                 // root.d + prefix.d/example.com + prefix.d/example.com/app
 * await ks.addKey(armoredKey, { prefix: "example.com/app" }); // writes /etc/rkt/trustedkeys/prefix.d/example.com/app/<fingerprint>
 */
export class Keystore {
  readonly #dirs: KeystoreDirs;

  constructor(dirs: KeystoreDirs) {
    this.#dirs = dirs;
  }

  /**
   * The keys trusted for `imageName` (`example.com/app`, `127.0.0.1:5000/x/busybox`): root.d
   * keys plus prefix.d keys along the name's path, local keys and the vendor keys that no local
   * empty file masks, one entry per fingerprint, root keys first. `kind` keeps one kind only.
   * Throws RktError "invalid-argument" for a name that cannot be a key store path, and
   * "failed-precondition" for a key file the store cannot use (named after no fingerprint, not
   * a public key, a PEM key whose fingerprint is not its name).
   */
  keysFor(imageName: string, kind?: KeyKind): TrustedKey[] {
    checkKeyPrefix(imageName, "image name");
    const scopes: { readonly rel: readonly string[]; readonly prefix: string | undefined }[] = [{ rel: ["root.d"], prefix: undefined }];
    const parts = imageName.split("/");
    for (let i = 1; i <= parts.length; i++) scopes.push({ rel: ["prefix.d", ...parts.slice(0, i)], prefix: parts.slice(0, i).join("/") });

    const masked = new Set<string>();
    const local: TrustedKey[] = [];
    const system: TrustedKey[] = [];
    for (const scope of scopes) {
      for (const entry of this.#readDir(join(this.#dirs.localConfigDir, "trustedkeys", ...scope.rel), scope.prefix)) {
        if (entry.masks) masked.add(entry.fingerprint);
        else local.push(entry.key);
      }
      for (const entry of this.#readDir(join(this.#dirs.systemConfigDir, "trustedkeys", ...scope.rel), scope.prefix)) {
        if (!entry.masks) system.push(entry.key);
      }
    }
    const out = new Map<string, TrustedKey>();
    for (const key of [...local, ...system.filter((k) => !masked.has(k.fingerprint))]) {
      if (kind !== undefined && key.kind !== kind) continue;
      if (!out.has(key.fingerprint)) out.set(key.fingerprint, key);
    }
    // Root keys first, then by prefix length: the order rkt listed them in.
    return [...out.values()].sort((a, b) => (a.prefix?.length ?? -1) - (b.prefix?.length ?? -1));
  }

  /**
   * Trusts a public key (armored or binary OpenPGP, or PEM) for `scope`: inspects it (secret,
   * revoked and expired keys are refused, see inspect-public-key.ts) and writes it, readable by
   * everyone (0644, directories 0755), to the local config directory, named after its
   * fingerprint, atomically. Writing the same key again replaces it (and lifts a local mask).
   * `what` names the key in errors (a file path, a URL).
   *
   * A PEM key is written before the returned promise first yields.
   */
  async addKey(key: string | Uint8Array, scope: KeyScope, what = "the key"): Promise<TrustedKey> {
    const prefix = "prefix" in scope ? scope.prefix : undefined;
    if (prefix !== undefined) checkKeyPrefix(prefix);
    const kind = detectKeyKind(key, what);
    const info: PublicKeyInfo =
      kind === "sigstore" ? inspectPemPublicKey(typeof key === "string" ? key : Buffer.from(key).toString("utf8"), what) : await inspectPublicKey(key, what);
    return this.#write(info, prefix);
  }

  /** Where a key for `scope` with `fingerprint` is (or would be) written. */
  localKeyPath(scope: KeyScope, fingerprint: string): string {
    const rel = "prefix" in scope ? ["prefix.d", ...scope.prefix.split("/")] : ["root.d"];
    if ("prefix" in scope) checkKeyPrefix(scope.prefix);
    return join(this.#dirs.localConfigDir, "trustedkeys", ...rel, fingerprint);
  }

  #write(info: PublicKeyInfo, prefix: string | undefined): TrustedKey {
    const rel = prefix === undefined ? ["root.d"] : ["prefix.d", ...prefix.split("/")];
    const dir = join(this.#dirs.localConfigDir, "trustedkeys", ...rel);
    makeDirs(dir);
    const path = join(dir, info.fingerprint);
    try {
      atomicWriteFileSync(path, info.text, 0o644);
      // The umask may have taken bits away: every user may read trusted keys (rkt's 0644).
      chmodSync(path, 0o644);
    } catch (err) {
      throw new RktError(errnoCode(err) === "EACCES" ? "permission-denied" : "internal", `cannot write trusted key ${path}: ${describe(err)}`, {
        cause: err,
        hint: errnoCode(err) === "EACCES" ? "trusting keys needs write access to the local config directory (run as root, or pass --local-config)" : undefined,
      });
    }
    return { kind: info.kind, fingerprint: info.fingerprint, path, text: info.text, prefix };
  }

  /** The key files of one directory: keys, or masks (empty files). A missing directory has none. */
  #readDir(dir: string, prefix: string | undefined): ({ readonly masks: true; readonly fingerprint: string } | { readonly masks: false; readonly fingerprint: string; readonly key: TrustedKey })[] {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return [];
      throw new RktError("failed-precondition", `cannot read key store directory ${dir}: ${describe(err)}`, { cause: err });
    }
    const out: ({ masks: true; fingerprint: string } | { masks: false; fingerprint: string; key: TrustedKey })[] = [];
    for (const name of names.sort()) {
      // Our own temp files (atomic writes) and editor leftovers start with a dot.
      if (name.startsWith(".")) continue;
      const path = join(dir, name);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      // Sub-directories are longer prefixes, read on their own when the name reaches them.
      if (!st.isFile()) continue;
      if (!FINGERPRINT_FILE.test(name)) {
        throw new RktError("failed-precondition", `key store file ${path} is not named after a key fingerprint`, {
          hint: "rkt names trusted key files by their fingerprint: add keys with `rkt trust`, and remove or rename this file",
        });
      }
      if (st.size === 0) {
        out.push({ masks: true, fingerprint: name });
        continue;
      }
      if (st.size > MAX_KEY_FILE_BYTES) throw new RktError("failed-precondition", `key store file ${path} is ${st.size} bytes, too large for a public key`);
      const text = readFileSync(path, "utf8");
      let kind: KeyKind;
      try {
        kind = detectKeyKind(text, `key store file ${path}`);
      } catch (err) {
        throw new RktError("failed-precondition", describe(err), { cause: err, hint: "remove the file, and trust the key again with `rkt trust`" });
      }
      if (kind === "sigstore") {
        const fingerprint = publicKeyFingerprint(parsePublicKey(text, `key store file ${path}`));
        if (fingerprint !== name) {
          throw new RktError("failed-precondition", `key store file ${path} holds the key with fingerprint ${fingerprint}, not ${name}`, {
            hint: "remove the file, and trust the key again with `rkt trust`",
          });
        }
      } else if (name.length !== 40 && name.length !== 64) {
        throw new RktError("failed-precondition", `key store file ${path} is not named after an OpenPGP fingerprint`);
      }
      // OpenPGP fingerprints are checked against the name when the key is parsed to verify a signature.
      out.push({ masks: false, fingerprint: name, key: { kind, fingerprint: name, path, text, prefix } });
    }
    return out;
  }
}

/** mkdir -p with mode 0755 for what it creates, whatever the umask; existing directories are left as they are. */
function makeDirs(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return;
    if (errnoCode(err) === "ENOENT" && dirname(dir) !== dir) {
      makeDirs(dirname(dir));
      makeDirs(dir);
      return;
    }
    throw new RktError(errnoCode(err) === "EACCES" ? "permission-denied" : "internal", `cannot create key store directory ${dir}: ${describe(err)}`, { cause: err });
  }
  chmodSync(dir, 0o755);
}
