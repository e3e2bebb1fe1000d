/**
 * Workshop: "Start nginx using --net=host". A real nginx (Debian's binary from the host, with the
 * shared libraries ldd names, on the busybox layer: the workshop's "an image from a binary") runs
 * as a pod in the host's network namespace, listens on a free high port of 127.0.0.1, answers a GET
 * from the test, and `rkt stop` ends it cleanly.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { fetchLayout, freePort, host, httpGet, httpGetOk, NGINX_BIN, NGINX_INDEX, nginxImage, parseStatus, startPod, workshopStore } from "./workshop-fixture.js";

test("nginx with --net=host answers on the host's 127.0.0.1:PORT; rkt stop ends the pod with exit code 0", { skip: existsSync(NGINX_BIN) ? false : `${NGINX_BIN} is missing: scripts/install.sh installs Debian's nginx` }, async (t) => {
  const { dir } = await workshopStore(t);
  const port = await freePort();
  const layout = join(await tempDir(t), "nginx");
  await nginxImage(layout, `127.0.0.1:${port}`);
  const image = await fetchLayout(dir, layout);

  const pod = await startPod(t, dir, ["--insecure-options=image", "--net=host", image]);
  assert.deepEqual(pod.status.networks, {}, "a host-network pod joins no CNI network");

  assert.equal(await httpGetOk("127.0.0.1", port, "/"), NGINX_INDEX);
  const listeners = host("ss", ["-ltnpH", `sport = :${port}`]);
  assert.match(listeners, new RegExp(`127\\.0\\.0\\.1:${port}\\b.*"nginx"`), "nginx itself listens in the host's network namespace");
  const list = await runRkt(["list"], { dir });
  assert.match(list.stdout, new RegExp(`^${pod.uuid.slice(0, 8)}\\s+nginx\\s+localhost/nginx:latest\\s+running`, "m"));

  const stop = await runRkt(["stop", pod.uuid], { dir });
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, `"${pod.uuid}"\n`);
  assert.equal(await pod.exited, 0, `nginx exits 0 on SIGTERM, and so does rkt run:\n${pod.output()}`);
  const status = parseStatus((await runRkt(["status", pod.uuid], { dir })).stdout);
  assert.equal(status.state, "exited");
  assert.match(status.raw, /^app-nginx=0$/m);
  const after = await httpGet("127.0.0.1", port, "/");
  assert.ok("error" in after, `nothing answers on ${port} once the pod is stopped: ${JSON.stringify(after)}`);
});
