/**
 * The one place where rkt's errors become gRPC statuses (STYLE.md: errors are translated only at
 * the wire), for both gRPC front ends (the CRI server and the API service). Every RktError kind has
 * its code; anything else is a bug and goes out as INTERNAL. The message keeps rkt's text (what
 * failed and why) and its hint.
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { describe, RktError, type ErrorKind } from "./errors.js";

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
 * A status that only exists on the wire, for outcomes that are not rkt errors: an ExecSync whose
 * timeout passed is DEADLINE_EXCEEDED (the kubelet's exec probes look for that code).
 */
export class WireStatus extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "WireStatus";
  }
}

/**
 * The gRPC error for `err`.
 *
 * @example
 * callback(toServiceError(new RktError("not-found", "no pod sandbox \"x\"")), null); // NOT_FOUND
 */
export function toServiceError(err: unknown): Partial<ServiceError> & { code: status; details: string } {
  if (err instanceof WireStatus) return { code: err.code, details: err.message, message: err.message, metadata: new Metadata() };
  if (err instanceof RktError) {
    const details = err.hint === undefined ? err.message : `${err.message} (hint: ${err.hint})`;
    return { code: CODES[err.kind], details, message: details, metadata: new Metadata() };
  }
  const details = `internal error: ${describe(err)}`;
  return { code: status.INTERNAL, details, message: details, metadata: new Metadata() };
}
