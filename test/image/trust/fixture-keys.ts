/**
 * Keys for the trust tests that test/support/gpg.ts does not make: made by gpg in the past
 * (`--faked-system-time`) so they are expired, revoked with their own revocation certificate,
 * or split into a certify-only primary key and a signing subkey. Plus PEM public keys as cosign
 * writes them.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gpg, type GpgKey } from "../../support/gpg.js";

/** Creates a GnuPG home under `dir` with a key made by `generate`, and describes it. */
async function makeKey(dir: string, userId: string, generate: (home: string) => Promise<void>): Promise<GpgKey> {
  const home = join(dir, `gnupg-${Math.random().toString(36).slice(2, 10)}`);
  await mkdir(home, { mode: 0o700 });
  await generate(home);
  const colons = (await gpg(home, ["--list-keys", "--with-colons", "--with-fingerprint"])).toString("utf8");
  const fpr = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (fpr === undefined) throw new Error(`gpg listed no fingerprint:\n${colons}`);
  const armoredPublicKey = (await gpg(home, ["--armor", "--export", fpr])).toString("utf8");
  return { home, fingerprint: fpr.toLowerCase(), armoredPublicKey, userId };
}

/** Exports `key` again (after gpg changed it: new subkey, revocation, expiry). */
export async function reexport(key: GpgKey): Promise<GpgKey> {
  const armoredPublicKey = (await gpg(key.home, ["--armor", "--export", key.fingerprint])).toString("utf8");
  return { ...key, armoredPublicKey };
}

/**
 * A key created on 2020-01-01 that signs `file` on 2020-01-03 (`<file>.asc`), and whose expiry
 * was then set to 2020-01-02: the signature was made after the key had expired.
 */
export async function keyExpiredBeforeSigning(dir: string, file: string): Promise<{ key: GpgKey; signature: string }> {
  const userId = "expired signer <expired@example.com>";
  let key = await makeKey(dir, userId, async (home) => {
    await gpg(home, ["--faked-system-time", "20200101T000000", "--quick-generate-key", userId, "ed25519", "sign", "never"]);
  });
  const signature = `${file}.asc`;
  await gpg(key.home, ["--faked-system-time", "20200103T000000", "--yes", "--armor", "--local-user", key.fingerprint, "--output", signature, "--detach-sign", file]);
  await gpg(key.home, ["--faked-system-time", "20200101T120000", "--quick-set-expire", key.fingerprint, "1d"]);
  key = await reexport(key);
  return { key, signature };
}

/** A key that expired in 2020 (made then with a one-day lifetime). */
export async function expiredKey(dir: string): Promise<GpgKey> {
  const userId = "old key <old@example.com>";
  return makeKey(dir, userId, async (home) => {
    await gpg(home, ["--faked-system-time", "20200101T000000", "--quick-generate-key", userId, "ed25519", "sign", "1d"]);
  });
}

/** A key revoked by its owner (gpg's stored revocation certificate, imported). */
export async function revokedKey(dir: string): Promise<GpgKey> {
  const userId = "revoked key <revoked@example.com>";
  const key = await makeKey(dir, userId, async (home) => {
    await gpg(home, ["--quick-generate-key", userId, "ed25519", "sign", "2d"]);
  });
  const revs = join(key.home, "openpgp-revocs.d");
  const file = (await readdir(revs)).find((n) => n.endsWith(".rev"));
  if (file === undefined) throw new Error("gpg stored no revocation certificate");
  // gpg prefixes the armor line with ":" so the certificate is not imported by accident.
  const cert = (await readFile(join(revs, file), "utf8")).replace(/^:-----BEGIN/m, "-----BEGIN");
  const certFile = join(key.home, "revocation.asc");
  await writeFile(certFile, cert);
  await gpg(key.home, ["--import", certFile]);
  return reexport(key);
}

/** A certify-only primary key with an ed25519 signing subkey: gpg signs with the subkey. */
export async function keyWithSigningSubkey(dir: string): Promise<GpgKey> {
  const userId = "subkey signer <sub@example.com>";
  const key = await makeKey(dir, userId, async (home) => {
    await gpg(home, ["--quick-generate-key", userId, "ed25519", "cert", "2d"]);
  });
  await gpg(key.home, ["--quick-add-key", key.fingerprint, "ed25519", "sign", "2d"]);
  return reexport(key);
}

/** An ECDSA P-256 key pair as PEM (what `cosign generate-key-pair` makes, unencrypted). */
export function pemKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}
