/**
 * A pass-through stream that hashes and counts what flows through it: the digest and size of a
 * blob as it is written, so a built layer is read once (the uncompressed tar's digest is the OCI
 * diff_id or the ACI image ID; the compressed file's digest is the blob's).
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/**
 * @example
 * const tarDigest = new DigestStream("sha256");
 * await pipeline(source, tarDigest, createGzip(), createWriteStream(file));
 * tarDigest.digest(); // "sha256:..." of the uncompressed bytes
 */
export class DigestStream extends Transform {
  /** Bytes seen so far. */
  size = 0;
  private readonly algorithm: "sha256" | "sha512";
  private readonly hash: Hash;
  private result: string | undefined;

  constructor(algorithm: "sha256" | "sha512") {
    super();
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** `algorithm:hex` of everything seen; call after the stream has finished. */
  digest(): string {
    this.result ??= `${this.algorithm}:${this.hash.digest("hex")}`;
    return this.result;
  }
}
