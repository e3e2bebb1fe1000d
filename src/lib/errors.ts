/**
 * One error type for the whole engine, with a closed set of kinds. The CLI maps every kind to exit
 * code 254 (rkt's own failure); the gRPC servers map kinds to status codes. Nothing else inspects
 * messages.
 *
 * @example
 * throw new RktError("not-found", `image "${name}" is not in the store`, {
 *   hint: `fetch it first: rkt fetch ${name}`,
 * });
 */
export type ErrorKind =
  | "not-found"
  | "already-exists"
  | "invalid-argument"
  | "failed-precondition"
  | "unavailable"
  | "permission-denied"
  | "unimplemented"
  | "data-loss"
  | "resource-exhausted"
  | "internal";

export interface RktErrorOptions {
  /** What the user can do about it, printed on its own line. */
  readonly hint?: string | undefined;
  readonly cause?: unknown;
}

export class RktError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: RktErrorOptions = {}) {
    super(redact(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RktError";
    this.kind = kind;
    this.hint = options.hint;
  }
}

/**
 * Adds context in front of an error while keeping its kind and hint: `fetching docker://redis:
 * resolving manifest: 401`. Non-RktErrors become "internal" unless `kind` says otherwise.
 */
export function wrap(context: string, err: unknown, kind?: ErrorKind): RktError {
  if (err instanceof RktError) {
    const wrapped = new RktError(kind ?? err.kind, `${context}: ${err.message}`, { hint: err.hint, cause: err });
    return wrapped;
  }
  const sys = systemErrorKind(err);
  return new RktError(kind ?? sys, `${context}: ${describe(err)}`, { cause: err });
}

/** The message of any thrown value, without a stack. */
export function describe(err: unknown): string {
  if (err instanceof Error) return redact(err.message);
  return redact(String(err));
}

/** The errno code (`ENOENT`, ...) of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function systemErrorKind(err: unknown): ErrorKind {
  switch (errnoCode(err)) {
    case "ENOENT":
      return "not-found";
    case "EEXIST":
      return "already-exists";
    case "EACCES":
    case "EPERM":
      return "permission-denied";
    case "ENOSPC":
    case "EDQUOT":
      return "resource-exhausted";
    default:
      return "internal";
  }
}

/** Credentials never reach an error message or a log line: `https://user:pw@host` and bearer tokens. */
export function redact(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, "$1***:***@")
    .replace(/(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, "$1 ***");
}
