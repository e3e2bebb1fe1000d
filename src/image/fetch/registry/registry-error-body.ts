/**
 * The JSON error body of a failed registry request (distribution-spec spec.md, "Error Codes"):
 * `{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "...", "detail": ...}]}`. Clients SHOULD
 * treat unknown codes as UNKNOWN; rkt only shows them.
 */
import * as z from "../../../lib/schema.js";

const errorBodySchema = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.optional(z.string()) })).check(z.minLength(1)),
});

/** A registry error: its code (`NAME_UNKNOWN`) and message. */
export interface RegistryErrorEntry {
  readonly code: string;
  readonly message: string | undefined;
}

/**
 * The error entries of a registry error body, or an empty list when the body is not one (an HTML
 * page from a proxy, say: that is not echoed, it would only clutter the message).
 */
export function parseRegistryErrors(body: Uint8Array): RegistryErrorEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString("utf8")) as unknown;
  } catch {
    return [];
  }
  const parsed = errorBodySchema.safeParse(value);
  if (!parsed.success) return [];
  return parsed.data.errors.map((e) => ({ code: printable(e.code, 40), message: e.message === undefined ? undefined : printable(e.message, 200) }));
}

/** `CODE: message; CODE2: message2`, for appending to an error message. */
export function formatRegistryErrors(entries: readonly RegistryErrorEntry[]): string {
  return entries
    .slice(0, 3)
    .map((e) => (e.message === undefined || e.message === "" ? e.code : `${e.code}: ${e.message}`))
    .join("; ");
}

/** Text from the network, made safe to print: no control characters, bounded length. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}
