/**
 * How an exec or attach ended, as the remote-command protocols report it on the error stream.
 * From v4 on it is a JSON metav1.Status (kubelet's v4WriteStatusFunc): Success, or Failure with
 * reason NonZeroExitCode and the exit code as the message of an ExitCode cause (clients turn it
 * into their own exit code), or an InternalError. Earlier versions (v1-v3) send only the
 * message of a failure, as text, and nothing on success.
 */

/** A metav1.Status, the fields these protocols use, in the order Go's encoder writes them. */
export interface RemoteCommandStatus {
  readonly metadata: Record<string, never>;
  readonly status: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly causes: readonly { readonly reason?: string; readonly message: string }[] };
  readonly code?: number;
}

/** The command exited 0 (or an attach ended). */
export function successStatus(): RemoteCommandStatus {
  return { metadata: {}, status: "Success" };
}

/** The command exited with `code` (not 0). */
export function exitCodeStatus(cmd: readonly string[], code: number): RemoteCommandStatus {
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

/** The command could not be run, or the session failed. */
export function internalErrorStatus(message: string): RemoteCommandStatus {
  return {
    metadata: {},
    status: "Failure",
    message: `Internal error occurred: ${message}`,
    reason: "InternalError",
    details: { causes: [{ message }] },
    code: 500,
  };
}

/**
 * The bytes to write on the error stream for `status` under `protocol`; empty when nothing is
 * to be written (success under v1-v3).
 */
export function encodeStatus(protocol: string, status: RemoteCommandStatus): Buffer {
  if (protocol.startsWith("v4.") || protocol.startsWith("v5.")) return Buffer.from(JSON.stringify(status), "utf8");
  return status.status === "Success" ? Buffer.alloc(0) : Buffer.from(status.message ?? "", "utf8");
}
