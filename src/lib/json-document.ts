/**
 * JSON from outside becomes typed data here: JSON.parse, then a zod schema, with the document
 * named in the error (`invalid image config sha256:...: rootfs.type: ...`). Shared by the image
 * formats (parse-document.ts adds strict UTF-8 for bytes) and the network module (net.d files,
 * plugin output, net-info.json).
 */
import { RktError, type ErrorKind } from "./errors.js";
import type * as z from "./schema.js";

/**
 * Parses `text` as JSON described by `schema`; `what` names the document in errors.
 *
 * @example
 * const info = parseJson(text, netInfoSchema, "/var/lib/rkt/pods/run/UUID/net-info.json");
 */
export function parseJson<T>(text: string, schema: z.ZodMiniType<T>, what: string, kind: ErrorKind = "invalid-argument"): T {
  return checkJson(decodeJsonText(text, what, kind), schema, what, kind);
}

/**
 * Validates an already-decoded value against `schema`.
 *
 * @example
 * const result = checkJson(pluginOutput, cniResultSchema, "result of plugin ptp ADD", "internal");
 */
export function checkJson<T>(value: unknown, schema: z.ZodMiniType<T>, what: string, kind: ErrorKind = "invalid-argument"): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new RktError(kind, `invalid ${what}: ${formatIssues(result.error)}`);
  return result.data;
}

/**
 * JSON.parse with the document named in the error.
 *
 * @example
 * const value = decodeJsonText(text, "network configuration /etc/rkt/net.d/10-lan.conf");
 */
export function decodeJsonText(text: string, what: string, kind: ErrorKind = "invalid-argument"): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RktError(kind, `invalid ${what}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * The first few issues of a zod error as `path: message`, one line.
 *
 * @example
 * formatIssues(error); // "name: missing (required); plugins.0.type: must be a string"
 */
export function formatIssues(error: z.core.$ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length === 0 ? "(document)" : issue.path.map(String).join(".");
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : "";
  return shown.join("; ") + more;
}
