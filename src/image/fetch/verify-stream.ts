/**
 * Verifying content while it streams: image content is hostile until its digest matches
 * (image-spec descriptor.md, "Verification": "Before consuming content targeted by a descriptor
 * from untrusted sources, the byte content SHOULD be verified against the digest string"; and "If
 * the length of the retrieved content does not match the specified length, the content SHOULD NOT
 * be trusted").
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { RktError } from "../../lib/errors.js";
import { DIGEST_FORMAT_HINT, parseDigest, type ParsedDigest } from "../formats/digest.js";

/** What the bytes must be: a digest, and (when known) an exact size. */
export interface ExpectedContent {
  /** `sha256:<hex>` or `sha512:<hex>`; the algorithm picks the hash. */
  readonly digest: string;
  /** Exact byte count; undefined checks the digest only (a DiffID has no size). */
  readonly size?: number | undefined;
}

/**
 * A pass-through Transform that hashes and counts every byte. It fails with RktError("data-loss")
 * naming the digest as soon as more bytes arrive than `size` (so a hostile server cannot fill the
 * disk), and at the end when the size is short or the digest differs. Nothing downstream should be
 * committed before this stream has finished without error: pipe into a temp file, rename on
 * success (the store does this).
 *
 * @example
 * await pipeline(await client.getBlob(repo, desc), new VerifyStream(desc), createWriteStream(tmp));
 */
export class VerifyStream extends Transform {
  /** Bytes seen so far. */
  get bytes(): number {
    return this.seen;
  }

  private readonly expected: ParsedDigest;
  private readonly digest: string;
  private readonly size: number | undefined;
  private readonly hash: Hash;
  private seen = 0;

  constructor(expected: ExpectedContent) {
    super();
    const parsed = parseDigest(expected.digest);
    if (parsed === undefined) {
      throw new RktError("invalid-argument", `cannot verify content against "${expected.digest}": ${DIGEST_FORMAT_HINT}`);
    }
    if (expected.size !== undefined && (!Number.isSafeInteger(expected.size) || expected.size < 0)) {
      throw new RktError("invalid-argument", `cannot verify ${expected.digest}: expected size ${expected.size} is not a non-negative integer`);
    }
    this.expected = parsed;
    this.digest = expected.digest;
    this.size = expected.size;
    this.hash = createHash(parsed.algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.size !== undefined && this.seen > this.size) {
      callback(new RktError("data-loss", `content of ${this.digest} is longer than the expected ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== undefined && this.seen !== this.size) {
      callback(new RktError("data-loss", `content of ${this.digest} is truncated: got ${this.seen} of ${this.size} bytes`));
      return;
    }
    const actual = this.hash.digest("hex");
    if (actual !== this.expected.hex) {
      callback(new RktError("data-loss", `content does not match its digest: expected ${this.digest}, got ${this.expected.algorithm}:${actual}`));
      return;
    }
    callback();
  }
}
