/**
 * A pod's verifiable identity (appc metadata service, "Identity endpoints"): the service signs
 * content for a pod with a key only it holds, and anyone can ask it whether a signature was made
 * for a given pod UUID. The signature is HMAC-SHA512 over the UUID's 16 bytes followed by the
 * content, base64 (standard alphabet), as rkt computed it. The key is random per service start:
 * signatures do not outlive the service.
 *
 * @example
 * const identity = PodIdentity.random();
 * const sig = identity.sign(uuid, "hello");
 * identity.verify(uuid, "hello", sig); // true
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** See the module comment. */
export class PodIdentity {
  private constructor(private readonly key: Buffer) {}

  /** A fresh 64-byte key from the system's CSPRNG. */
  static random(): PodIdentity {
    return new PodIdentity(randomBytes(64));
  }

  /** The base64 signature of `content` for pod `uuid` (a canonical UUID string). */
  sign(uuid: string, content: string): string {
    return this.mac(uuid, content).toString("base64");
  }

  /** Whether `signature` (base64) is this service's signature of `content` for pod `uuid`. */
  verify(uuid: string, content: string, signature: string): boolean {
    const given = Buffer.from(signature, "base64");
    const expected = this.mac(uuid, content);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(uuid: string, content: string): Buffer {
    return createHmac("sha512", this.key).update(uuidBytes(uuid)).update(content, "utf8").digest();
  }
}

/** The 16 bytes of a UUID string (`0a1b2c3d-...`). */
export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}
