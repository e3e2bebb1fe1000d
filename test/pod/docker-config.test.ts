/**
 * An image's own config becomes the app, natively (what rkt's docker2aci did by conversion):
 * Entrypoint + Cmd, Env, WorkingDir, User, ExposedPorts named `<port>-<proto>`, and Volumes as
 * mount points whose implicit volumes start with the image's content.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxLayer } from "../support/image-fixtures.js";
import { buildImage } from "../support/oci-builder.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts and Volumes become the app", async (t) => {
  const { dir } = await podTestStore(t);
  const layout = join(await tempDir(t), "svc");
  await buildImage({
    dir: layout,
    format: "docker",
    layers: [
      busyboxLayer(),
      {
        entries: [
          { type: "dir", path: "srv" },
          { type: "dir", path: "srv/data", uid: 1000, gid: 1000, mode: 0o750 },
          { type: "file", path: "srv/data/seed.txt", content: "seeded\n", uid: 1000, gid: 1000 },
        ],
      },
    ],
    config: {
      Entrypoint: ["/bin/sh", "-c"],
      Cmd: ['echo "$GREETING from $(pwd) as $(id -u)"; cat /srv/data/seed.txt; echo more >> /srv/data/seed.txt; cat /srv/data/seed.txt'],
      Env: ["PATH=/bin", "GREETING=hello"],
      WorkingDir: "/srv",
      User: "1000:1000",
      ExposedPorts: { "80/tcp": {}, "53/udp": {} },
      Volumes: { "/srv/data": {} },
    },
  });
  const id = (await runRkt(["fetch", "--insecure-options=image", layout], { dir })).stdout.trim();
  const r = await runRkt(["run", "--net=none", id, "--name=svc"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello from /srv as 1000\nseeded\nseeded\nmore\n");
  const uuid = (JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string }[])[0]?.name ?? "";
  const manifest = JSON.parse((await runRkt(["cat-manifest", uuid], { dir })).stdout) as {
    apps: { app: { ports: { name: string; protocol: string; port: number }[]; mountPoints: { name: string; path: string }[]; user: string; group: string } }[];
    volumes: { name: string; kind: string }[];
  };
  const app = manifest.apps[0]?.app;
  assert.deepEqual(app?.ports.map((p) => p.name).sort(), ["53-udp", "80-tcp"]);
  assert.deepEqual(app?.mountPoints, [{ name: "volume-srv-data", path: "/srv/data" }]);
  assert.deepEqual(manifest.volumes, [{ name: "svc-volume-srv-data", kind: "empty", mode: "0755", uid: 0, gid: 0 }]);
  assert.equal(app?.user, "1000");
  assert.equal(app?.group, "1000");
  // -- ARGS replace Cmd and keep the Entrypoint, as docker run does
  const args = await runRkt(["run", "--net=none", id, "--", "echo replaced"], { dir });
  assert.equal(args.stdout, "replaced\n");
});
