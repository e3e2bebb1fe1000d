/**
 * ACI apps in pods, next to OCI apps: what the appc image manifest says (exec, user/group,
 * environment, working directory, mount points, ports, isolators) is what the app gets, flags
 * override it, and a pod of an ACI and an OCI image runs both.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

/** Builds `example.com/probe:1.0` with `rkt image build` from a spec and fetches it unsigned. */
async function probeAci(t: TestContext, dir: string, spec: Record<string, unknown>): Promise<string> {
  const context = await tempDir(t);
  await mkdir(join(context, "bin"));
  await copyFile("/bin/busybox", join(context, "bin", "busybox"));
  await mkdir(join(context, "work"));
  await writeFile(join(context, "work", "note"), "inside the image\n");
  const specFile = join(context, "spec.json");
  await writeFile(specFile, JSON.stringify({ name: "example.com/probe", labels: { version: "1.0" }, copy: [{ from: "bin/busybox", to: "/bin/busybox" }, { from: "work", to: "/srv/work" }], ...spec }));
  const aci = join(await tempDir(t), "probe.aci");
  const b = await runRkt(["image", "build", `--spec=${specFile}`, `--output=${aci}`, context], { dir });
  assert.equal(b.code, 0, b.stderr);
  const f = await runRkt(["fetch", "--insecure-options=image", aci], { dir });
  assert.equal(f.code, 0, f.stderr);
  return f.stdout.trim();
}

test("an ACI app runs with its manifest's exec, user, group, environment and working directory", async (t) => {
  const { dir } = await podTestStore(t);
  await probeAci(t, dir, {
    exec: ["/bin/busybox", "sh", "-c", 'echo "uid=$(busybox id -u) gid=$(busybox id -g) pwd=$(busybox pwd) greeting=$GREETING"; busybox cat note'],
    user: "1234",
    group: "567",
    workingDirectory: "/srv/work",
    environment: { GREETING: "from the manifest" },
  });
  const r = await runRkt(["run", "--net=none", "example.com/probe:1.0"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /uid=1234 gid=567 pwd=\/srv\/work greeting=from the manifest/);
  assert.match(r.stdout, /inside the image/);

  // Flags override the manifest; arguments after -- follow the ACI's exec (rkt appended them).
  const o = await runRkt(["run", "--net=none", "example.com/probe:1.0", "--user=0", "--environment=GREETING=from a flag", "--exec=/bin/busybox", "--", "sh", "-c", 'echo "uid=$(busybox id -u) greeting=$GREETING"'], { dir });
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stdout, /uid=0 greeting=from a flag/);
});

test("a pod of an OCI app and an ACI app: the ACI's mount point takes the pod volume of its name, ports are named as in the manifest", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  await probeAci(t, dir, {
    exec: ["/bin/busybox", "sh", "-c", "busybox cat /data/hello"],
    mountPoints: [{ name: "data", path: "/data", readOnly: true }],
    ports: [{ name: "http", protocol: "tcp", port: 8080 }],
  });
  const host = await tempDir(t);
  await writeFile(join(host, "hello"), "from the host volume\n");
  const r = await runRkt(["run", "--net=none", `--volume=data,kind=host,source=${host}`, busybox, "--exec=/bin/echo", "--", "oci app here", "---", "example.com/probe:1.0"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /oci app here/);
  assert.match(r.stdout, /from the host volume/);
  const list = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string }[];
  const uuid = list[0]!.name;
  const m = await runRkt(["cat-manifest", uuid], { dir });
  const manifest = JSON.parse(m.stdout) as { apps: { name: string; image: { id: string }; app: { ports?: { name: string }[] }; mounts?: { volume: string; path: string }[] }[] };
  const probe = manifest.apps.find((a) => a.name === "probe")!;
  assert.match(probe.image.id, /^sha512:/);
  assert.deepEqual(probe.mounts, [{ volume: "data", path: "/data" }]);
  assert.deepEqual(probe.app.ports?.map((p) => p.name), ["http"]);
});

test("an ACI mount point without a volume gets an empty one (not the image's content, unlike Docker volumes)", async (t) => {
  const { dir } = await podTestStore(t);
  await probeAci(t, dir, {
    exec: ["/bin/busybox", "sh", "-c", "busybox ls -A /srv/work | busybox wc -l"],
    mountPoints: [{ name: "work", path: "/srv/work" }],
  });
  const r = await runRkt(["run", "--net=none", "example.com/probe:1.0"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "0");
});
