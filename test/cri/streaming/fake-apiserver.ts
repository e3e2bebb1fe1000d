/**
 * Just enough of a Kubernetes API server for `kubectl exec`, `attach` and `port-forward` to
 * reach a StreamingServer the way a cluster does: discovery, one Running pod, and the pod's
 * exec/attach/portforward subresources, which ask the streaming server for a URL (the kubelet's
 * CRI Exec/Attach/PortForward calls) and then relay the client's upgrade request and every byte
 * after it to that URL, untouched (what kube-apiserver and kubelet's proxies do).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { StreamingServer } from "../../../src/cri/streaming/streaming-server.js";

/** The fake API server. */
export interface FakeApiServer {
  readonly url: string;
  /** Requests seen, `METHOD path?query` (upgrade requests marked with their Upgrade header). */
  readonly requests: string[];
  close(): Promise<void>;
}

const POD = "streamer";

function pod(): unknown {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: POD, namespace: "default", uid: "00000000-0000-0000-0000-000000000001", resourceVersion: "1" },
    spec: { containers: [{ name: "app", image: "busybox", stdin: true, tty: false }] },
    status: { phase: "Running", containerStatuses: [{ name: "app", ready: true, restartCount: 0, image: "busybox", imageID: "", state: { running: {} } }] },
  };
}

const RESOURCES = {
  kind: "APIResourceList",
  groupVersion: "v1",
  resources: [
    { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"], shortNames: ["po"] },
    { name: "pods/exec", singularName: "", namespaced: true, kind: "PodExecOptions", verbs: ["create", "get"] },
    { name: "pods/attach", singularName: "", namespaced: true, kind: "PodAttachOptions", verbs: ["create", "get"] },
    { name: "pods/portforward", singularName: "", namespaced: true, kind: "PodPortForwardOptions", verbs: ["create", "get"] },
  ],
};

/** Starts the fake API server in front of `streaming`; `sandbox` is the pod's sandbox id. */
export async function startFakeApiServer(streaming: StreamingServer, sandbox: string, containerId: string): Promise<FakeApiServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === "/api") json(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] });
    else if (path === "/apis") json(200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
    else if (path === "/api/v1") json(200, RESOURCES);
    else if (path === `/api/v1/namespaces/default/pods/${POD}`) json(200, pod());
    else json(404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `${path} not found`, reason: "NotFound", code: 404 });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requests.push(`${req.method ?? ""} ${req.url ?? ""} [${String(req.headers.upgrade)}]`);
    const u = new URL(req.url ?? "/", "http://x");
    const q = u.searchParams;
    const flag = (name: string): boolean => q.get(name) === "true" || q.get(name) === "1";
    let target: string;
    if (u.pathname.endsWith("/exec")) target = streaming.getExecUrl({ containerId, cmd: q.getAll("command"), tty: flag("tty"), stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr") && !flag("tty") });
    else if (u.pathname.endsWith("/attach")) target = streaming.getAttachUrl({ containerId, tty: flag("tty"), stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr") && !flag("tty") });
    else if (u.pathname.endsWith("/portforward")) target = streaming.getPortForwardUrl({ podSandboxId: sandbox, ports: q.getAll("port").flatMap((p) => p.split(",")).map(Number) });
    else {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    // Relay the upgrade request as it came (its path now the streaming URL's), then the bytes.
    const t = new URL(target);
    const upstream = connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method ?? "GET"} ${t.pathname} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] ?? "";
        lines.push(`${name.toLowerCase() === "host" ? "Host" : name}: ${name.toLowerCase() === "host" ? t.host : (req.rawHeaders[i + 1] ?? "")}`);
      }
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
    socket.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The pod's name in the fake API server. */
export const FAKE_POD = POD;
