/**
 * Workshop: "Sample Pod: micro-service talking to Redis". One pod of two apps on the default
 * network: a real redis (Debian's redis-server from the host, with its libraries) and a small
 * HTTP service (busybox `nc -ll -e` and a shell handler) that on each request sends `INCR hits`
 * to redis on 127.0.0.1:6379 inside the pod over RESP and answers with the count. From the host,
 * GET POD_IP:8080 twice gives 1, then 2; `rkt list` and `rkt cat-manifest` show both apps.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { restoreIpForwardAfterAll } from "../network/host-fixture.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { cniHostState, cniLeaseDir, fetchLayout, httpGet, httpGetOk, listPods, parseStatus, podLeftovers, REDIS_BIN, redisImage, serviceImage, startPod, workshopStore } from "./workshop-fixture.js";

restoreIpForwardAfterAll();

test("redis-service: rkt run --net=default REDIS --- SERVICE counts hits in redis, GET from the host twice", { skip: existsSync(REDIS_BIN) ? false : `${REDIS_BIN} is missing: scripts/install.sh installs Debian's redis-server` }, async (t) => {
  const { dir } = await workshopStore(t);
  const before = cniHostState();
  const images = await tempDir(t);
  await redisImage(join(images, "redis"));
  await serviceImage(join(images, "redis-service"));
  const redis = await fetchLayout(dir, join(images, "redis"));
  const service = await fetchLayout(dir, join(images, "redis-service"));

  // The service's shell exits 0 on SIGTERM (a shell as PID 1 ignores it otherwise).
  const pod = await startPod(t, dir, ["--net=default", redis, "---", service, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; nc -ll -p 8080 -e /handler.sh & wait"], {
    ready: (s) => s.networks.default !== undefined,
  });
  const ip = pod.status.networks.default!;
  assert.match(ip, /^172\.16\.28\.\d+$/);

  const list = await runRkt(["list"], { dir });
  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.split("\n");
  const row = rows.findIndex((l) => l.startsWith(pod.uuid.slice(0, 8)));
  assert.match(rows[row] ?? "", new RegExp(`^${pod.uuid.slice(0, 8)}\\s+redis\\s+localhost/redis:latest\\s+running\\s.*default:ip4=${ip.replaceAll(".", "\\.")}`), list.stdout);
  assert.match(rows[row + 1] ?? "", /^\s+redis-service\s+localhost\/redis-service:latest\s*$/, list.stdout);
  const listed = (await listPods(dir)).find((p) => p.name === pod.uuid);
  assert.deepEqual(listed?.app_names, ["redis", "redis-service"]);

  const manifest = await runRkt(["cat-manifest", pod.uuid], { dir });
  assert.equal(manifest.code, 0, manifest.stderr);
  const apps = (JSON.parse(manifest.stdout) as { apps: { name: string; image: { name: string }; app: { exec: string[]; ports?: { name: string }[] } }[] }).apps;
  assert.deepEqual(apps.map((a) => [a.name, a.image.name]), [["redis", "localhost/redis:latest"], ["redis-service", "localhost/redis-service:latest"]]);
  assert.equal(apps[0]?.app.exec[0], REDIS_BIN);
  assert.deepEqual(apps.map((a) => a.app.ports?.map((p) => p.name)), [["6379-tcp"], ["8080-tcp"]]);

  // The service may answer before redis listens: the first good answer must be the first hit.
  let first = "";
  for (let i = 0; i < 100 && first === ""; i++) {
    const r = await httpGet(ip, 8080, "/");
    if ("status" in r && r.status === 200) first = r.body;
    else await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(first, "hits: 1\n");
  assert.equal(await httpGetOk(ip, 8080, "/again"), "hits: 2\n");
  const fromRedis = await runRkt(["enter", "--app=redis", pod.uuid, "/bin/sh", "-c", "printf 'GET hits\\r\\nQUIT\\r\\n' | nc 127.0.0.1 6379"], { dir });
  assert.equal(fromRedis.code, 0, fromRedis.stderr);
  assert.equal(fromRedis.stdout, "$1\r\n2\r\n+OK\r\n", "redis itself holds the count");

  const stop = await runRkt(["stop", pod.uuid], { dir });
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(await pod.exited, 0, pod.output());
  const status = parseStatus((await runRkt(["status", pod.uuid], { dir })).stdout);
  assert.equal(status.state, "exited");
  assert.match(status.raw, /^app-redis=0$/m);
  assert.match(status.raw, /^app-redis-service=0$/m);
  assert.deepEqual(podLeftovers(dir, [pod.uuid], [cniLeaseDir("default")]), []);
  assert.deepEqual(cniHostState(), before, "the pod's veth and masquerade chain are gone");
});
