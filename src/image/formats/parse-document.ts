/**
 * The one way JSON from outside (registries, layouts, token servers) becomes typed data: strict
 * UTF-8, JSON.parse, then a zod schema. Parse, don't validate: callers get readonly typed values or
 * an RktError saying which document was wrong and where.
 */
import type * as z from "../../lib/schema.js";
import { RktError, type ErrorKind } from "../../lib/errors.js";
import { checkJson, decodeJsonText, formatIssues } from "../../lib/json-document.js";

/**
 * Decodes `bytes` as a UTF-8 JSON document described by `schema`. `what` names the document in
 * errors ("manifest of docker://redis"); `kind` is the error kind (default "invalid-argument").
 *
 * @example
 * const config = parseDocument(bytes, imageConfigSchema, "image config sha256:...");
 */
export function parseDocument<T>(bytes: Uint8Array, schema: z.ZodMiniType<T>, what: string, kind: ErrorKind = "invalid-argument"): T {
  return checkJson(decodeJson(bytes, what, kind), schema, what, kind);
}

/** Strict UTF-8 decode plus JSON.parse, with the document named in the error. */
export function decodeJson(bytes: Uint8Array, what: string, kind: ErrorKind = "invalid-argument"): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new RktError(kind, `invalid ${what}: not UTF-8 text`);
  }
  return decodeJsonText(text, what, kind);
}

export { formatIssues };
