/**
 * The shape every RPC group file (sandbox.ts, container.ts, exec.ts, image.ts, stats.ts,
 * runtime-status.ts) exports: its unary RPCs by method name, each taking the decoded request and
 * resolving with the response object. The server (cri-server.ts) turns them into gRPC handlers and
 * errors into statuses; the handlers themselves only look up, delegate to the engine
 * (src/engine/cri-support) and shape the answer.
 */

/** One unary RPC: decoded request in, response out (errors are thrown RktErrors). */
export type CriHandler = (request: never) => Promise<object>;

/** The RPCs of one group, by method name as in the .proto. */
export type CriHandlers = Readonly<Record<string, CriHandler>>;
