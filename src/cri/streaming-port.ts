/**
 * What the CRI's Exec, Attach and PortForward RPCs need from the streaming server
 * (src/cri/streaming/streaming-server.ts): a URL the kubelet (or kubectl through it) then
 * connects to. The RPC handlers check the request against the engine (the container exists and
 * runs, the sandbox is ready) before asking for the URL. Declared here, by shape, so that the
 * RPC side depends on the port and not on the server's implementation.
 */

/** runtime.v1 ExecRequest, as the streaming server takes it. */
export interface ExecStreamRequest {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** runtime.v1 AttachRequest, as the streaming server takes it. */
export interface AttachStreamRequest {
  readonly containerId: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** runtime.v1 PortForwardRequest, as the streaming server takes it. */
export interface PortForwardStreamRequest {
  readonly podSandboxId: string;
  readonly ports: readonly number[];
}

/**
 * The streaming server as the RPCs see it. Each method validates the request, stores it under a
 * one-time token and returns `http://HOST:PORT/{exec,attach,portforward}/TOKEN`; it throws
 * RktError "invalid-argument" for a request it cannot serve.
 */
export interface StreamingPort {
  getExecUrl(req: ExecStreamRequest): string;
  getAttachUrl(req: AttachStreamRequest): string;
  getPortForwardUrl(req: PortForwardStreamRequest): string;
}
