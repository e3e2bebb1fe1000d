/**
 * `--private-users` (rkt-features §6): each pod in a user namespace of its own, on a host id range
 * no other running pod has, over the shared image layers (idmapped, not copied), with empty
 * volumes and read-only host volumes shifted and writable host volumes left as they are.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { APP_UID } from "../support/image-fixtures.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

/** The host id that container id 0 maps to, from the app's /proc/self/uid_map output. */
function hostBase(stdout: string): number {
  const m = /^\s*0\s+(\d+)\s+65536$/m.exec(stdout);
  assert.ok(m !== null, `no uid_map line in ${stdout}`);
  return Number(m[1]);
}

test("--private-users: root in the pod is an unprivileged host range; the image looks root-owned; new files land in the range", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--private-users", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c '%u:%g' /bin/busybox /home/app; touch /new; grep ^CapEff /proc/self/status"], { dir });
  assert.equal(r.code, 0, r.stderr);
  const base = hostBase(r.stdout);
  assert.ok(base >= 524288 && base % 65536 === 0, `range base ${base} is in systemd's container range`);
  assert.match(r.stdout, new RegExp(`^\\s*0\\s+${base}\\s+65536\\n\\s*0\\s+${base}\\s+65536\\n0\\n0:0\\n${APP_UID}:${APP_UID}\\n`));
  const uuid = (JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string }[])[0]?.name ?? "";
  const upper = join(dir, "pods", "run", uuid, "overlay", "busybox", "upper");
  const st = statSync(join(upper, "new"));
  assert.deepEqual([st.uid, st.gid], [base, base], "the app's root writes files as the range's first id");
  assert.deepEqual(readdirSync(join(dir, "userns", "ranges")), [], "the range is freed when the pod ends");
});

test("--private-users: two pods running at once get ranges that do not overlap", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const [one, two] = await Promise.all([
    runRkt(["run", "--private-users", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", "cat /proc/self/uid_map; sleep 2"], { dir }),
    runRkt(["run", "--private-users", "--net=none", busybox, "--exec=/bin/sh", "--", "-c", "cat /proc/self/uid_map; sleep 2"], { dir }),
  ]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  const ranges = [hostBase(one.stdout), hostBase(two.stdout)];
  assert.ok(Math.abs((ranges[0] ?? 0) - (ranges[1] ?? 0)) >= 65536, `overlapping ranges ${ranges.join(", ")}`);
});

test("--private-users volumes: empty volumes are owned inside the range, read-only host volumes are idmapped, writable ones are not shifted", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const ro = join(await tempDir(t), "ro");
  mkdirSync(ro);
  writeFileSync(join(ro, "secret"), "root only\n", { mode: 0o600 });
  const rw = join(await tempDir(t), "rw");
  mkdirSync(rw);
  chmodSync(rw, 0o777);
  const r = await runRkt(
    [
      "run", "--private-users", "--net=none",
      `--volume=ro,kind=host,source=${ro},readOnly=true`, `--volume=rw,kind=host,source=${rw}`, `--volume=e,kind=empty,uid=${APP_UID},gid=${APP_UID}`,
      busybox, "--mount=volume=ro,target=/ro", "--mount=volume=rw,target=/rw", "--mount=volume=e,target=/e",
      "--exec=/bin/sh", "--", "-c", "cat /proc/self/uid_map; cat /ro/secret; stat -c '%u' /ro/secret /rw /e; echo hi > /rw/out",
    ],
    { dir },
  );
  assert.equal(r.code, 0, r.stderr);
  const base = hostBase(r.stdout);
  assert.match(r.stdout, new RegExp(`root only\\n0\\n65534\\n${APP_UID}\\n`), "ro volume as root's, rw volume as nobody's, empty volume the app user's");
  const out = statSync(join(rw, "out"));
  assert.equal(out.uid, base, "a file the pod writes into a writable host volume belongs to its range, not to the host's root");
});

test("--private-users works with a CNI network and run-prepared, and refuses stage1 fly and --net=host", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const net = await runRkt(["run", "--private-users", "--net=default", busybox, "--exec=/bin/sh", "--", "-c", "ip -o -4 addr show eth0 | grep -c inet; (nc -l -p 80 & sleep 0.2; kill $!) && echo port-80"], { dir });
  assert.equal(net.code, 0, net.stderr);
  assert.match(net.stdout, /^1\nport-80\n/, "the pod's root administers its own network namespace");

  const prepared = await runRkt(["prepare", "--quiet", "--private-users", busybox, "--exec=/bin/cat", "--", "/proc/self/uid_map"], { dir });
  assert.equal(prepared.code, 0, prepared.stderr);
  const ran = await runRkt(["run-prepared", "--net=none", prepared.stdout.trim()], { dir });
  assert.equal(ran.code, 0, ran.stderr);
  hostBase(ran.stdout);

  const fly = await runRkt(["run", "--private-users", "--stage1-name=fly", busybox, "--exec=/bin/true"], { dir });
  assert.equal(fly.code, 254);
  assert.match(fly.stderr, /--private-users is not supported by stage1 "fly"/);
  const hostNet = await runRkt(["run", "--private-users", "--net=host", busybox, "--exec=/bin/true"], { dir });
  assert.equal(hostNet.code, 254);
  assert.match(hostNet.stderr, /--private-users needs a network namespace of the pod's own/);
});
