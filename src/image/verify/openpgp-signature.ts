/**
 * Detached OpenPGP signatures of ACIs (`app.aci.asc`), checked against the keys the key store
 * trusts for the image's name, as rkt did (rkt pkg/keystore `CheckSignature`):
 *
 * - the signature must come from a trusted key: its primary key or one of its subkeys (gpg
 *   signs with a signing subkey when the key has one);
 * - the key must have been valid when it signed: not expired then, not revoked, a signing key
 *   (OpenPGP.js checks this against the signature's creation time), and the signature itself
 *   must not be expired or made in the future;
 * - the data must hash to what was signed.
 *
 * The data is streamed from its file, never read whole: ACIs can be gigabytes. OpenPGP.js is
 * loaded on first use.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { describe, errnoCode, RktError } from "../../lib/errors.js";
import type { TrustedKey } from "./keystore.js";

/** What to verify. */
export interface DetachedSignatureCheck {
  /** The signed data: a file path (streamed) or the bytes. */
  readonly data: string | Buffer;
  /** The signature: armored text, or the bytes of an armored or binary signature. */
  readonly signature: string | Buffer;
  /** The keys trusted for the image (Keystore.keysFor); keys of other kinds are ignored. */
  readonly keys: readonly TrustedKey[];
  /** The image name the keys were chosen for; named in errors and in the `rkt trust` hint. */
  readonly imageName: string;
  /** "Now", for signatures made in the future and expired signatures (tests pass it). */
  readonly now?: Date;
  readonly signal?: AbortSignal;
}

/** Who signed: the trusted key that made a good signature. */
export interface SignatureSigner {
  /** The primary key's fingerprint (the key store's name for it). */
  readonly fingerprint: string;
  /** Its user IDs, e.g. `Carly Container <carly@example.com>`. */
  readonly userIds: string[];
  /** The key store entry. */
  readonly key: TrustedKey;
}

const ARMORED_SIGNATURE = "-----BEGIN PGP SIGNATURE-----";

/**
 * Verifies a detached signature (see the module comment) and returns the signer. Throws RktError:
 * "invalid-argument" when the signature is no OpenPGP signature; "permission-denied" when it was
 * made by a key not trusted for the name (hint: `rkt trust --prefix "<imageName>"`), when the
 * data does not match it (BAD signature: tampered data), or when the key was not valid when it
 * signed; "failed-precondition" for a key store file that does not hold the key it is named after.
 *
 * @example
 * const signer = await verifyDetachedSignature({
 *   data: "/tmp/app.aci", signature: readFileSync("/tmp/app.aci.asc"), imageName: "example.com/app",
 *   keys: keystore.keysFor("example.com/app", "openpgp"),
 * });
 * signer.userIds; // ["Carly Container <carly@example.com>"]
 */
export async function verifyDetachedSignature(input: DetachedSignatureCheck): Promise<SignatureSigner> {
  const openpgp = await import("openpgp");
  const { imageName } = input;
  const now = input.now ?? new Date();

  let signature: Awaited<ReturnType<typeof openpgp.readSignature>>;
  try {
    const text = typeof input.signature === "string" ? input.signature : input.signature.subarray(0, 64 * 1024).toString("latin1");
    signature = text.includes(ARMORED_SIGNATURE)
      ? await openpgp.readSignature({ armoredSignature: typeof input.signature === "string" ? input.signature : input.signature.toString("utf8") })
      : await openpgp.readSignature({ binarySignature: typeof input.signature === "string" ? Buffer.from(input.signature, "latin1") : input.signature });
  } catch (err) {
    throw new RktError("invalid-argument", `the signature of ${imageName} is not an OpenPGP signature: ${describe(err)}`, {
      cause: err,
      hint: "an ACI's signature is an armored detached signature: gpg --armor --detach-sign IMAGE.aci",
    });
  }
  const issuers = signature.getSigningKeyIDs();
  if (issuers.length === 0) {
    throw new RktError("invalid-argument", `the signature of ${imageName} holds no signature packet`, { hint: "sign the image with gpg --armor --detach-sign IMAGE.aci" });
  }

  const trusted: { readonly entry: TrustedKey; readonly key: InstanceType<typeof openpgp.PublicKey> }[] = [];
  for (const entry of input.keys) {
    if (entry.kind !== "openpgp") continue;
    let key: InstanceType<typeof openpgp.PublicKey>;
    try {
      key = (await openpgp.readKey({ armoredKey: entry.text })).toPublic();
    } catch (err) {
      throw new RktError("failed-precondition", `trusted key ${entry.path} is not a readable OpenPGP public key: ${describe(err)}`, {
        cause: err,
        hint: "remove the file, and trust the key again with `rkt trust`",
      });
    }
    if (key.getFingerprint().toLowerCase() !== entry.fingerprint) {
      throw new RktError("failed-precondition", `trusted key file ${entry.path} holds the key ${key.getFingerprint().toLowerCase()}, not ${entry.fingerprint}`, {
        hint: "remove the file, and trust the key again with `rkt trust`",
      });
    }
    if (issuers.some((id) => key.getKeys(id).length > 0)) trusted.push({ entry, key });
  }
  const issuerText = issuers.map((id) => id.toHex().toUpperCase()).join(", ");
  if (trusted.length === 0) {
    const known = input.keys.filter((k) => k.kind === "openpgp").length;
    throw new RktError(
      "permission-denied",
      `${imageName} is signed by OpenPGP key ${issuerText}, which is not trusted for "${imageName}"${known === 0 ? ` (no OpenPGP key is trusted for it)` : ""}`,
      { hint: `if you trust the image's publisher, trust their key: rkt trust --prefix "${imageName}" (finds it by meta discovery), or rkt trust --prefix "${imageName}" KEYFILE` },
    );
  }

  let message: Awaited<ReturnType<typeof openpgp.createMessage<Uint8Array>>>;
  if (typeof input.data === "string") {
    const web = Readable.toWeb(createReadStream(input.data, { signal: input.signal })) as WebReadableStream<Uint8Array>;
    message = await openpgp.createMessage({ binary: web as unknown as Uint8Array });
  } else {
    message = await openpgp.createMessage({ binary: new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength) });
  }
  const what = typeof input.data === "string" ? input.data : imageName;
  let results: Awaited<ReturnType<typeof openpgp.verify>>["signatures"];
  try {
    const verified = await openpgp.verify({ message, signature, verificationKeys: trusted.map((t) => t.key), format: "binary", date: now });
    // Streamed data is hashed as it is read: read it to the end before asking for the verdict.
    await drain(verified.data as unknown);
    results = verified.signatures;
  } catch (err) {
    throw readError(err, what, imageName);
  }

  let failure: { readonly err: unknown; readonly signer: (typeof trusted)[number] } | undefined;
  for (const result of results) {
    const signer = trusted.find((t) => t.key.getKeys(result.keyID).length > 0);
    if (signer === undefined) continue; // made by a key nobody trusts: ignored, another one may be good
    try {
      await result.verified;
      return { fingerprint: signer.entry.fingerprint, userIds: signer.key.getUserIDs(), key: signer.entry };
    } catch (err) {
      failure ??= { err, signer };
    }
  }
  if (failure === undefined) throw new RktError("permission-denied", `the signature of ${imageName} could not be verified with any trusted key`);
  const who = `${failure.signer.entry.fingerprint}${failure.signer.key.getUserIDs()[0] === undefined ? "" : ` (${failure.signer.key.getUserIDs()[0] ?? ""})`}`;
  const why = describe(failure.err);
  if (/digest did not match|verification failed/i.test(why)) {
    throw new RktError("permission-denied", `BAD signature: ${imageName} does not match its signature by key ${who}: the image may have been tampered with`, {
      cause: failure.err,
      hint: "do not use this image; fetch it again from a source you trust and tell its publisher",
    });
  }
  throw new RktError("permission-denied", `the signature of ${imageName} by key ${who} is not valid: ${why}`, {
    cause: failure.err,
    hint: /expired|revoked/i.test(why) ? "the key was expired or revoked when the image was signed: ask the publisher to sign it with a valid key" : undefined,
  });
}

/** Reads a web stream (or nothing, for in-memory data) to its end. */
async function drain(data: unknown): Promise<void> {
  if (typeof data !== "object" || data === null || !("getReader" in data)) return;
  const reader = (data as WebReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) return;
  }
}

function readError(err: unknown, what: string, imageName: string): RktError {
  if (err instanceof RktError) return err;
  if (errnoCode(err) === "ENOENT") return new RktError("not-found", `cannot read ${what}: no such file`, { cause: err });
  if (errnoCode(err) === "ABORT_ERR") return new RktError("unavailable", `verifying the signature of ${imageName} was cancelled`, { cause: err });
  if (errnoCode(err) !== undefined) return new RktError("internal", `cannot read ${what}: ${describe(err)}`, { cause: err });
  return new RktError("permission-denied", `the signature of ${imageName} could not be verified: ${describe(err)}`, { cause: err });
}
