/**
 * The payload cosign signs: Red Hat's "simple signing" JSON (containers/image
 * docs/containers-signature.5.md, "JSON Data Format") with cosign's type string (cosign
 * specs/SIGNATURE_SPEC.md, "Simple Signing"):
 *
 * ```json
 * {"critical": {"identity": {"docker-reference": "registry.example/app:1.0"},
 *               "image": {"docker-manifest-digest": "sha256:..."},
 *               "type": "cosign container image signature"},
 *  "optional": {"creator": "rkt 0.1.0", "timestamp": 1700000000}}
 * ```
 *
 * `critical` is what a verifier must understand and check; `optional` is free-form (cosign writes
 * `null` when there is nothing, or the user's `-a key=value` annotations).
 */
import { RktError } from "../../../lib/errors.js";
import * as z from "../../../lib/schema.js";
import { digestSchema } from "../../formats/digest.js";
import { parseDocument } from "../../formats/parse-document.js";

/** The layer media type of a simple-signing payload in a cosign signature manifest. */
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
/** `critical.type` of cosign signatures ("The critical.type value used to identify cosign signatures"). */
export const COSIGN_SIGNATURE_TYPE = "cosign container image signature";

/** The checked content of a payload. */
export interface SimpleSigningPayload {
  /** `critical.identity.docker-reference`: the image name the signer signed. */
  readonly dockerReference: string;
  /** `critical.image.docker-manifest-digest`: the manifest the signature is for. */
  readonly manifestDigest: string;
  /** `critical.type`. */
  readonly type: string;
}

/**
 * Parsed strictly where it matters: `critical` must carry exactly the three fields (the
 * containers/image reading: an unknown critical field is something this verifier would not
 * understand, so the signature is not accepted); `optional` may hold anything.
 */
const payloadSchema = z.object({
  critical: z.strictObject({
    identity: z.strictObject({ "docker-reference": z.string() }),
    image: z.strictObject({ "docker-manifest-digest": digestSchema }),
    type: z.string(),
  }),
  optional: z.optional(z.unknown()),
});

/**
 * Parses a payload's bytes. Throws RktError "permission-denied" (an unusable signature is a
 * verification failure) naming `what`.
 *
 * @example
 * const { manifestDigest } = parseSimpleSigningPayload(bytes, "signature layer sha256:...");
 */
export function parseSimpleSigningPayload(bytes: Uint8Array, what: string): SimpleSigningPayload {
  const doc = parseDocument(bytes, payloadSchema, what, "permission-denied");
  return {
    dockerReference: doc.critical.identity["docker-reference"],
    manifestDigest: doc.critical.image["docker-manifest-digest"],
    type: doc.critical.type,
  };
}

/**
 * The payload bytes for signing `manifestDigest` as `dockerReference`, with the creator and a
 * Unix timestamp in `optional` (containers/image writes the same two fields; both are integers or
 * strings a strict reader accepts).
 *
 * @example
 * const payload = buildSimpleSigningPayload({ dockerReference: "127.0.0.1:5000/app:1.0",
 *   manifestDigest: "sha256:...", creator: "rkt 0.1.0", timestamp: 1700000000 });
 */
export function buildSimpleSigningPayload(input: {
  readonly dockerReference: string;
  readonly manifestDigest: string;
  readonly creator: string;
  readonly timestamp: number;
}): Buffer {
  if (!Number.isSafeInteger(input.timestamp)) throw new RktError("internal", `signature timestamp ${input.timestamp} is not an integer`);
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": input.dockerReference },
        image: { "docker-manifest-digest": input.manifestDigest },
        type: COSIGN_SIGNATURE_TYPE,
      },
      optional: { creator: input.creator, timestamp: input.timestamp },
    }),
  );
}
