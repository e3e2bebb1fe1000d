/**
 * Engine errors as gRPC statuses: the one place the API service translates RktError kinds (the
 * CLI maps the same kinds to exit codes). Anything that is not an RktError is a bug: INTERNAL,
 * without its stack.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { describe, RktError, type ErrorKind } from "../lib/errors.js";

const CODES: Readonly<Record<ErrorKind, status>> = {
  "not-found": status.NOT_FOUND,
  "already-exists": status.ALREADY_EXISTS,
  "invalid-argument": status.INVALID_ARGUMENT,
  "failed-precondition": status.FAILED_PRECONDITION,
  unavailable: status.UNAVAILABLE,
  "permission-denied": status.PERMISSION_DENIED,
  unimplemented: status.UNIMPLEMENTED,
  "data-loss": status.DATA_LOSS,
  "resource-exhausted": status.RESOURCE_EXHAUSTED,
  internal: status.INTERNAL,
};

/**
 * The status a failed call ends with: the RktError's kind as a code, its message (and hint) as
 * the details.
 *
 * @example
 * callback(toServiceError(new RktError("not-found", "no pod with UUID \"x\"")), null);
 */
export function toServiceError(err: unknown): Partial<ServiceError> & { code: status; details: string } {
  if (err instanceof RktError) {
    const details = err.hint === undefined ? err.message : `${err.message} (hint: ${err.hint})`;
    return { code: CODES[err.kind], details, metadata: new Metadata() };
  }
  return { code: status.INTERNAL, details: `internal error: ${describe(err)}`, metadata: new Metadata() };
}
