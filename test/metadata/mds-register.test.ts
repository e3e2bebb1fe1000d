/**
 * `rkt run --mds-register` end to end: a real pod (runc, host network) registered with a
 * metadata service on 127.0.0.1 reads its own UUID and image ID through AC_METADATA_URL and gets
 * content signed as itself; the token stays out of the pod manifest and out of files others can
 * read; without a service the run fails cleanly. Needs root and `npm run build`.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { startMetadataService } from "../../src/metadata/metadata-service.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

function post(port: number, path: string, form: Record<string, string>): Promise<number> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path, headers: { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("rkt run --mds-register: the pod reads its UUID and image ID and signs as itself through AC_METADATA_URL", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const work = await tempDir(t);
  const socket = join(work, "metadata-svc.sock");
  const mds = await startMetadataService({ registrationSocket: socket, listenAddress: "127.0.0.1", listenPort: 0 });
  t.after(() => mds.close());
  const uuidFile = join(work, "uuid");
  const script = [
    'u="$AC_METADATA_URL/acMetadata/v1"',
    'echo "url=$AC_METADATA_URL"',
    'echo "uuid=$(wget -qO- "$u/pod/uuid")"',
    'echo "image=$(wget -qO- "$u/apps/busybox/image/id")"',
    'echo "sig=$(wget -qO- --post-data content=hello "$u/pod/hmac/sign")"',
  ].join("; ");
  const r = await runRkt(["run", "--insecure-options=image", "--net=host", "--mds-register", `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", script], { dir, env: { RKT_METADATA_SOCKET: socket } });
  assert.equal(r.code, 0, r.stderr);
  const out = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const uuid = readFileSync(uuidFile, "utf8").trim();
  assert.match(out.url ?? "", new RegExp(`^http://127\\.0\\.0\\.1:${mds.port}/[A-Za-z0-9_-]{43}$`));
  assert.equal(out.uuid, uuid);
  assert.match(out.image ?? "", /^sha256:[0-9a-f]{64}$/);
  assert.equal(Buffer.from(out.sig ?? "", "base64").length, 64);

  // The pod has exited: its token is void. Another (registered) pod can still verify its signature.
  const token = (out.url ?? "").split("/").pop() ?? "";
  assert.equal(await post(mds.port, `/${token}/acMetadata/v1/pod/hmac/sign`, { content: "x" }), 401);
  const verifier = "verifier-token-000000000000000";
  mds.registry.register({ uuid: "cccccccc-0000-4000-8000-00000000000c", token: verifier, manifest: { acVersion: "0.8.11", acKind: "PodManifest", apps: [] }, manifestJson: "{}" });
  assert.equal(await post(mds.port, `/${verifier}/acMetadata/v1/pod/hmac/verify`, { uuid, content: "hello", signature: out.sig ?? "" }), 200);
  assert.equal(await post(mds.port, `/${verifier}/acMetadata/v1/pod/hmac/verify`, { uuid: "cccccccc-0000-4000-8000-00000000000c", content: "hello", signature: out.sig ?? "" }), 403);

  // The token is in no file but the apps' OCI configs, which only root reads.
  const manifest = await runRkt(["cat-manifest", uuid], { dir });
  assert.ok(!manifest.stdout.includes(token), "token not in the pod manifest");
  const config = join(dir, "pods", "run", uuid, "apps", "busybox", "config.json");
  assert.ok(readFileSync(config, "utf8").includes(token));
  assert.equal((statSync(config).mode & 0o777).toString(8), "600");
});

test("rkt run --mds-register without a metadata service fails with exit 254 and leaves no pod running", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const work = await tempDir(t);
  const r = await runRkt(["run", "--insecure-options=image", "--net=none", "--mds-register", busybox, "--exec=/bin/true"], { dir, env: { RKT_METADATA_SOCKET: join(work, "nobody.sock") } });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /cannot reach the metadata service/);
  const list = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { state: string }[];
  assert.ok(list.every((p) => p.state !== "running"), JSON.stringify(list));
});
