/**
 * A CRI client written from the spec for tests and the benchmark: grpc-js over the real unix
 * socket with our .proto files (src/cri/proto), one method per RPC name, requests and responses in
 * the .proto's field names. It knows nothing of rkt: the same client talks to containerd.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO_DIR = fileURLToPath(new URL("../../src/cri/proto/", import.meta.url));

/** Decoded messages: the .proto's field names, int64 as strings, enums by name. */
export type Message = Record<string, unknown>;

/** A CRI call that failed: its gRPC status code and message. */
export class CriCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: status,
    readonly details: string,
  ) {
    super(`${method}: ${status[code]} ${details}`);
  }
}

/** Both CRI services of one version on one socket. */
export class CriClient {
  private readonly runtime: Client;
  private readonly image: Client;

  constructor(
    socket: string,
    readonly version: "v1" | "v1alpha2" = "v1",
  ) {
    const definition = loadSync(join(PROTO_DIR, `runtime-${version}.proto`), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = ((loadPackageDefinition(definition).runtime as GrpcObject)[version] as GrpcObject);
    type Ctor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options: Record<string, number>) => Client;
    const address = `unix://${socket}`;
    // ExecSync answers may carry 16 MiB per stream (api.proto).
    const options = { "grpc.max_receive_message_length": 40 * 1024 * 1024 };
    this.runtime = new (pkg.RuntimeService as unknown as Ctor)(address, credentials.createInsecure(), options);
    this.image = new (pkg.ImageService as unknown as Ctor)(address, credentials.createInsecure(), options);
  }

  /** Calls RuntimeService `method`. Rejects with a {@link CriCallError}. */
  call(method: string, request: Message = {}, timeoutMs = 120_000): Promise<Message> {
    return unary(this.runtime, method, request, timeoutMs);
  }

  /** Calls ImageService `method`. */
  callImage(method: string, request: Message = {}, timeoutMs = 300_000): Promise<Message> {
    return unary(this.image, method, request, timeoutMs);
  }

  /** The gRPC code a call fails with (or "OK"). */
  async codeOf(method: string, request: Message, imageService = false): Promise<string> {
    try {
      await (imageService ? this.callImage(method, request) : this.call(method, request));
      return "OK";
    } catch (err) {
      if (err instanceof CriCallError) return status[err.code];
      throw err;
    }
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}

function unary(client: Client, method: string, request: Message, timeoutMs: number): Promise<Message> {
  const fn = (client as unknown as Record<string, (req: Message, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Message) => void) => void>)[method];
  if (fn === undefined) return Promise.reject(new Error(`no RPC ${method}`));
  return new Promise((resolve, reject) => {
    fn.call(client, request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
      if (err !== null) reject(new CriCallError(method, err.code, err.details));
      else resolve(res);
    });
  });
}
