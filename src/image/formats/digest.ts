/**
 * Content digests: `algorithm:hex` (image-spec descriptor.md, "Digests"). rkt accepts only the two
 * registered algorithms, sha256 and sha512 ("Registered algorithms"), with lowercase hex of the
 * exact length. The spec lets implementations pass unknown algorithms through validation, but
 * content rkt cannot verify must not be trusted, so an unknown algorithm is refused at the boundary
 * instead of failing later inside the store.
 */
import { createHash } from "node:crypto";
import * as z from "../../lib/schema.js";

/** The digest algorithms rkt can compute (descriptor.md, "Registered algorithms"). */
export type DigestAlgorithm = "sha256" | "sha512";

/** A digest split into its parts. */
export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  /** Lowercase hex: 64 characters for sha256, 128 for sha512. */
  readonly hex: string;
}

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };
const DIGEST_PATTERN = /^(sha256|sha512):([a-f0-9]+)$/;

/**
 * Splits a digest string, or returns undefined when it is not a sha256/sha512 digest with lowercase
 * hex of the right length.
 *
 * @example
 * parseDigest("sha256:" + "a".repeat(64)); // { algorithm: "sha256", hex: "aaaa..." }
 * parseDigest("md5:abc"); // undefined
 */
export function parseDigest(text: string): ParsedDigest | undefined {
  const m = DIGEST_PATTERN.exec(text);
  if (m === null) return undefined;
  const algorithm = m[1] as DigestAlgorithm;
  const hex = m[2] ?? "";
  if (hex.length !== HEX_LENGTH[algorithm]) return undefined;
  return { algorithm, hex };
}

/** Whether `text` is a digest rkt can verify. */
export function isDigest(text: string): boolean {
  return parseDigest(text) !== undefined;
}

/** A short explanation of the digest format, for error messages. */
export const DIGEST_FORMAT_HINT = "expected sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>";

/**
 * Schema for a digest field in a manifest, index or config (descriptor.md, "digest": REQUIRED, MUST
 * conform to "Digests").
 */
export const digestSchema = z.string().check(z.refine(isDigest, { error: `invalid digest: ${DIGEST_FORMAT_HINT}` }));

/**
 * The digest of some bytes, computed with the given algorithm.
 *
 * @example
 * digestOf(Buffer.from("")); // "sha256:e3b0c442..."
 */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}
