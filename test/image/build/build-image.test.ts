import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { gunzipSync } from "node:zlib";
import { buildImage, type BuildImageRequest, type BuiltImage } from "../../../src/engine/image/build-image.js";
import type { BuildSpec } from "../../../src/image/build/build-spec.js";
import { hostAppcPlatform, ociPlatform } from "../../../src/image/build/platform-labels.js";
import { ImageStore } from "../../../src/image/store/image-store.js";
import { RktError } from "../../../src/lib/errors.js";
import { checkLayout } from "../../support/check-layout.js";
import { execTool } from "../../support/exec-tool.js";
import { createGpgKey, gpg } from "../../support/gpg.js";
import { busyboxImage } from "../../support/image-fixtures.js";
import { tarHeaders } from "../../support/layer-tar.js";
import { tempDir } from "../../support/tmp.js";
import { storeAci, storeOciLayoutImage } from "./store-fixtures.js";

const HOST = hostAppcPlatform();

/** A context directory with an executable, a config file, a symlink and a nested directory. */
function makeContext(dir: string): string {
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "app"), "#!/bin/sh\necho hello from app\n", { mode: 0o755 });
  symlinkSync("app", join(dir, "bin", "app-link"));
  mkdirSync(join(dir, "conf", "nested"), { recursive: true });
  writeFileSync(join(dir, "conf", "app.conf"), "debug=false\n", { mode: 0o644 });
  writeFileSync(join(dir, "conf", "nested", "deep.txt"), "deep\n", { mode: 0o644 });
  return dir;
}

const SPEC: BuildSpec = {
  name: "example.com/app",
  labels: { version: "1.0.0" },
  copy: [
    { from: "bin", to: "/usr/bin" },
    { from: "conf", to: "/etc/app" },
  ],
  exec: ["/usr/bin/app", "--serve"],
  user: "1000",
  group: "1000",
  workingDirectory: "/var/lib/app",
  environment: { APP_MODE: "prod", LANG: "C" },
  ports: [{ name: "http", protocol: "tcp", port: 8080 }],
  mountPoints: [{ name: "data", path: "/var/lib/app", readOnly: false }],
  annotations: { authors: "rkt test <test@example.com>" },
};

async function build(t: TestContext, options: Partial<BuildImageRequest> & { readonly outputs: readonly string[]; readonly contextDir: string }): Promise<BuiltImage[]> {
  const report = await buildImage({
    overrides: SPEC,
    cwd: options.contextDir,
    overwrite: false,
    compression: "gzip",
    dataDir: join(await tempDir(t), "rkt"),
    tmpDir: tmpdir(),
    ...options,
  });
  return [...report.images];
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function rejectsWith(kind: RktError["kind"], pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof RktError, `expected an RktError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

test("buildImage writes a gzipped ACI: manifest first, then the files under rootfs/", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const out = await tempDir(t);
  const [aci] = await build(t, { contextDir: ctx, outputs: [join(out, "app.aci")], overrides: { ...SPEC, dependencies: [{ imageName: "example.com/base", labels: { version: "2" } }] } });
  assert.ok(aci?.kind === "aci");
  const file = readFileSync(aci.path);
  // gzip header (RFC 1952): no mtime, no file name
  assert.deepEqual([...file.subarray(0, 3)], [0x1f, 0x8b, 8]);
  assert.equal(file[3], 0, "FLG: no FNAME, FCOMMENT or FEXTRA");
  assert.equal(file.readUInt32LE(4), 0, "MTIME is zero");
  const tar = gunzipSync(file);
  assert.equal(aci.imageId, `sha512-${createHash("sha512").update(tar).digest("hex")}`);
  const headers = await tarHeaders(tar);
  assert.deepEqual(
    headers.map((h) => `${h.type} ${h.name} ${h.mode.toString(8)} ${h.uid}:${h.gid} ${h.mtime.getTime()}${h.type === "symlink" ? ` -> ${h.linkname}` : ""}`),
    [
      "file manifest 644 0:0 0",
      "directory rootfs/ 755 0:0 0",
      "directory rootfs/etc/ 755 0:0 0",
      "directory rootfs/etc/app/ 755 0:0 0",
      "file rootfs/etc/app/app.conf 644 0:0 0",
      "directory rootfs/etc/app/nested/ 755 0:0 0",
      "file rootfs/etc/app/nested/deep.txt 644 0:0 0",
      "directory rootfs/usr/ 755 0:0 0",
      "directory rootfs/usr/bin/ 755 0:0 0",
      "file rootfs/usr/bin/app 755 0:0 0",
      "symlink rootfs/usr/bin/app-link 777 0:0 0 -> app",
    ],
  );
  assert.ok(headers.every((h) => h.uname === "" && h.gname === "" && h.pax === null), "no user names, no PAX records");
  const manifest = JSON.parse(tar.subarray(512, 512 + (headers[0]?.size ?? 0)).toString("utf8")) as unknown;
  assert.deepEqual(manifest, {
    acKind: "ImageManifest",
    acVersion: "0.8.11",
    name: "example.com/app",
    labels: [
      { name: "arch", value: HOST.arch },
      { name: "os", value: HOST.os },
      { name: "version", value: "1.0.0" },
    ],
    app: {
      exec: ["/usr/bin/app", "--serve"],
      user: "1000",
      group: "1000",
      workingDirectory: "/var/lib/app",
      environment: [
        { name: "APP_MODE", value: "prod" },
        { name: "LANG", value: "C" },
      ],
      mountPoints: [{ name: "data", path: "/var/lib/app", readOnly: false }],
      ports: [{ name: "http", protocol: "tcp", port: 8080 }],
    },
    dependencies: [{ imageName: "example.com/base", labels: [{ name: "version", value: "2" }] }],
    annotations: [{ name: "authors", value: "rkt test <test@example.com>" }],
  });
});

test("buildImage writes an OCI layout that skopeo and umoci read, with the spec as image config", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const layout = join(await tempDir(t), "layout");
  const [image] = await build(t, { contextDir: ctx, outputs: [`oci:${layout}`] });
  assert.ok(image?.kind === "oci-layout");
  assert.equal(image.tag, "example.com/app:1.0.0", "the default tag is NAME:VERSION");
  assert.deepEqual(await checkLayout(layout), []);
  const inspect = JSON.parse((await execTool("skopeo", ["inspect", `oci:${layout}:${image.tag}`])).toString("utf8")) as { Digest: string };
  assert.equal(inspect.Digest, image.manifestDigest);
  const config = JSON.parse((await execTool("skopeo", ["inspect", "--config", `oci:${layout}:${image.tag}`])).toString("utf8")) as Record<string, unknown>;
  const platform = ociPlatform(HOST.os, HOST.arch);
  assert.equal(config.os, platform.os);
  assert.equal(config.architecture, platform.architecture);
  assert.equal(config.created, "1970-01-01T00:00:00Z");
  assert.deepEqual(config.config, {
    User: "1000:1000",
    ExposedPorts: { "8080/tcp": {} },
    Env: ["APP_MODE=prod", "LANG=C"],
    Entrypoint: ["/usr/bin/app", "--serve"],
    Volumes: { "/var/lib/app": {} },
    WorkingDir: "/var/lib/app",
    Labels: { version: "1.0.0", authors: "rkt test <test@example.com>" },
  });

  const bundle = join(await tempDir(t), "bundle");
  await execTool("umoci", ["unpack", "--image", `${layout}:${image.tag}`, bundle]);
  const rootfs = join(bundle, "rootfs");
  assert.equal(readFileSync(join(rootfs, "usr/bin/app"), "utf8"), "#!/bin/sh\necho hello from app\n");
  assert.equal(statSync(join(rootfs, "usr/bin/app")).mode & 0o7777, 0o755);
  assert.equal(readlinkSync(join(rootfs, "usr/bin/app-link")), "app");
  assert.equal(readFileSync(join(rootfs, "etc/app/nested/deep.txt"), "utf8"), "deep\n");
});

test("buildImage adds tags to an existing layout (umoci's) and replaces a tag it builds again", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const layout = join(await tempDir(t), "layout");
  await execTool("umoci", ["init", "--layout", layout]);
  await execTool("umoci", ["new", "--image", `${layout}:theirs`]);
  const [a1] = await build(t, { contextDir: ctx, outputs: [`oci:${layout}:a`] });
  const [b] = await build(t, { contextDir: ctx, outputs: [`oci:${layout}:b`], overrides: { ...SPEC, labels: { version: "2" } } });
  const [a2] = await build(t, { contextDir: ctx, outputs: [`oci:${layout}:a`], overrides: { ...SPEC, environment: { NEW: "1" } } });
  assert.ok(a1?.kind === "oci-layout" && b?.kind === "oci-layout" && a2?.kind === "oci-layout");
  assert.notEqual(a1.manifestDigest, a2.manifestDigest);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  assert.deepEqual(
    index.manifests.map((m) => `${m.annotations?.["org.opencontainers.image.ref.name"] ?? "?"} ${m.digest === a2.manifestDigest ? "a2" : m.digest === b.manifestDigest ? "b" : "other"}`),
    ["theirs other", "b b", "a a2"],
  );
  assert.deepEqual(await checkLayout(layout), []);
  for (const tag of ["theirs", "a", "b"]) await execTool("skopeo", ["inspect", `oci:${layout}:${tag}`]);
});

test("buildImage writes an OCI archive that skopeo reads, the same image as the layout", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const out = await tempDir(t);
  const [layout, archive] = await build(t, { contextDir: ctx, outputs: [`oci:${join(out, "layout")}:v1`, `oci-archive:${join(out, "app.tar")}:v1`] });
  assert.ok(layout?.kind === "oci-layout" && archive?.kind === "oci-archive");
  assert.equal(archive.manifestDigest, layout.manifestDigest);
  const inspect = JSON.parse((await execTool("skopeo", ["inspect", `oci-archive:${archive.path}:v1`])).toString("utf8")) as { Digest: string; Layers: string[] };
  assert.equal(inspect.Digest, archive.manifestDigest);
  assert.equal(inspect.Layers.length, 1);
  const headers = await tarHeaders(readFileSync(archive.path));
  assert.deepEqual(headers.slice(0, 4).map((h) => h.name), ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
  assert.ok(headers.every((h) => h.mtime.getTime() === 0));
});

test("buildImage is reproducible: same inputs, same bytes, wherever the context is and whatever its times and modes", async (t) => {
  const ctx = makeContext(join(await tempDir(t), "ctx"));
  const copy = join(await tempDir(t), "elsewhere", "copy");
  cpSync(ctx, copy, { recursive: true, verbatimSymlinks: true });
  // Different times, and permission bits a different umask or checkout would give.
  for (const [path, mode] of [["bin/app", 0o700], ["conf/app.conf", 0o600], ["conf/nested", 0o700], ["conf", 0o750]] as const) chmodSync(join(copy, path), mode);
  for (const path of ["bin/app", "conf/app.conf", "conf/nested/deep.txt", "conf", "bin"]) utimesSync(join(copy, path), new Date("2001-02-03"), new Date("2004-05-06"));

  const outputs = (dir: string): string[] => [join(dir, "app.aci"), `oci:${join(dir, "layout")}:v1`, `oci-archive:${join(dir, "app.tar")}:v1`];
  const first = await tempDir(t);
  const second = await tempDir(t);
  const third = await tempDir(t);
  const a = await build(t, { contextDir: ctx, outputs: outputs(first) });
  const b = await build(t, { contextDir: ctx, outputs: outputs(second) });
  const c = await build(t, { contextDir: copy, outputs: outputs(third) });
  const ids = (images: BuiltImage[]): string[] => images.map((i) => (i.kind === "aci" ? i.imageId : i.manifestDigest));
  assert.deepEqual(ids(b), ids(a));
  assert.deepEqual(ids(c), ids(a));
  for (const file of ["app.aci", "app.tar"]) {
    const digest = sha256(readFileSync(join(first, file)));
    assert.equal(sha256(readFileSync(join(second, file))), digest, `${file} built twice`);
    assert.equal(sha256(readFileSync(join(third, file))), digest, `${file} built from the copied context`);
  }
  assert.deepEqual(readdirSync(join(third, "layout", "blobs", "sha256")).sort(), readdirSync(join(first, "layout", "blobs", "sha256")).sort());

  // The one input that is a time: SOURCE_DATE_EPOCH changes every digest, and stamps every entry.
  const fourth = await tempDir(t);
  const d = await build(t, { contextDir: ctx, outputs: outputs(fourth), sourceDateEpoch: 1_700_000_000 });
  for (const [i, id] of ids(d).entries()) assert.notEqual(id, ids(a)[i]);
  const headers = await tarHeaders(gunzipSync(readFileSync(join(fourth, "app.aci"))));
  assert.ok(headers.every((h) => h.mtime.getTime() === 1_700_000_000_000));
});

test("buildImage --compression=none writes a plain tar ACI and an uncompressed OCI layer", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const out = await tempDir(t);
  const [aci, layout] = await build(t, { contextDir: ctx, outputs: [join(out, "app.aci"), `oci:${join(out, "layout")}:v1`], compression: "none" });
  assert.ok(aci?.kind === "aci" && layout?.kind === "oci-layout");
  const file = readFileSync(aci.path);
  assert.equal(aci.imageId, `sha512-${createHash("sha512").update(file).digest("hex")}`);
  assert.equal(file.subarray(257, 262).toString(), "ustar");
  assert.deepEqual(await checkLayout(layout.path), []);
  const manifest = JSON.parse((await execTool("skopeo", ["inspect", "--raw", `oci:${layout.path}:v1`])).toString("utf8")) as { layers: { mediaType: string }[] };
  assert.deepEqual(manifest.layers.map((l) => l.mediaType), ["application/vnd.oci.image.layer.v1.tar"]);
});

test("buildImage --sign writes an armored detached signature gpg verifies", async (t) => {
  const dir = await tempDir(t);
  const key = await createGpgKey(dir);
  const ctx = makeContext(join(dir, "ctx"));
  const [aci] = await build(t, { contextDir: ctx, outputs: [join(dir, "app.aci")], sign: { keyId: key.fingerprint, env: { ...process.env, GNUPGHOME: key.home } } });
  assert.ok(aci?.kind === "aci");
  assert.equal(aci.signature, `${aci.path}.asc`);
  assert.match(readFileSync(`${aci.path}.asc`, "utf8"), /^-----BEGIN PGP SIGNATURE-----/);
  await gpg(key.home, ["--verify", `${aci.path}.asc`, aci.path]);
  // The signature covers these bytes: one changed byte and gpg refuses it.
  const tampered = readFileSync(aci.path);
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
  writeFileSync(aci.path, tampered);
  await assert.rejects(gpg(key.home, ["--verify", `${aci.path}.asc`, aci.path]), /BAD signature|exit 1/);
});

test("buildImage leaves neither ACI nor signature when signing fails", async (t) => {
  const dir = await tempDir(t);
  const key = await createGpgKey(dir);
  const ctx = makeContext(join(dir, "ctx"));
  const out = join(dir, "out");
  mkdirSync(out);
  await assert.rejects(
    build(t, { contextDir: ctx, outputs: [join(out, "app.aci")], sign: { keyId: "nobody@example.invalid", env: { ...process.env, GNUPGHOME: key.home } } }),
    rejectsWith("failed-precondition", /signing .* with gpg failed/),
  );
  assert.deepEqual(readdirSync(out), []);
});

test("buildImage refuses bad input with one clear error each and writes nothing", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const out = await tempDir(t);
  const aci = join(out, "app.aci");
  const cases: [Partial<BuildImageRequest>, RktError["kind"], RegExp][] = [
    [{ overrides: { ...SPEC, copy: [{ from: "missing.txt", to: "/x" }] } }, "not-found", /copy source "missing\.txt" does not exist/],
    [{ overrides: { ...SPEC, copy: [{ from: "../../etc/passwd", to: "/x" }] } }, "permission-denied", /outside the context directory/],
    [{ overrides: { ...SPEC, name: "Example.com/App" } }, "invalid-argument", /invalid image name "Example\.com\/App"/],
    [{ overrides: { ...SPEC, name: undefined } }, "invalid-argument", /an ACI needs an image name/],
    [{ overrides: { ...SPEC, exec: ["app"] } }, "invalid-argument", /exec "app" is not an absolute path/],
    [{ overrides: { ...SPEC, labels: { os: "linux", arch: "sparc" } } }, "invalid-argument", /arch=sparc is not valid with os=linux/],
    [{ overrides: { ...SPEC, ports: [{ name: "HTTP", protocol: "tcp", port: 80 }] } }, "invalid-argument", /invalid port name "HTTP"/],
    [{ outputs: [join(out, "app.tar")] }, "invalid-argument", /unknown output/],
    [{ outputs: [] }, "invalid-argument", /no output given/],
    [{ outputs: [join(out, "missing-dir", "app.aci")] }, "not-found", /does not exist/],
    [{ outputs: [`oci:${join(out, "l")}`], overrides: { ...SPEC, dependencies: [{ imageName: "example.com/base" }] } }, "invalid-argument", /dependencies cannot be written into an OCI image/],
    [{ outputs: [`oci:${join(out, "l")}`], sign: { env: process.env } }, "invalid-argument", /--sign signs ACI outputs/],
    [{ outputs: [`oci:${join(out, "l")}:bad tag`] }, "invalid-argument", /invalid tag "bad tag"/],
  ];
  for (const [request, kind, pattern] of cases) {
    await assert.rejects(build(t, { contextDir: ctx, outputs: [aci], ...request }), rejectsWith(kind, pattern));
  }
  assert.deepEqual(readdirSync(out), []);

  writeFileSync(aci, "old");
  await assert.rejects(build(t, { contextDir: ctx, outputs: [aci] }), rejectsWith("already-exists", /app\.aci already exists/));
  assert.equal(readFileSync(aci, "utf8"), "old");
  await build(t, { contextDir: ctx, outputs: [aci], overwrite: true });
  assert.notEqual(readFileSync(aci, "utf8"), "old");
  assert.deepEqual(readdirSync(out), ["app.aci"]);

  const notLayout = join(out, "not-a-layout");
  mkdirSync(notLayout);
  writeFileSync(join(notLayout, "file"), "x");
  const other = join(out, "other.aci");
  // Every output is checked before the first is written: the ACI listed first is not written.
  await assert.rejects(build(t, { contextDir: ctx, outputs: [other, `oci:${notLayout}`] }), rejectsWith("already-exists", /not an OCI image layout/));
  assert.deepEqual(readdirSync(notLayout), ["file"]);
  await assert.rejects(build(t, { contextDir: ctx, outputs: [other, `oci-archive:${other}`] }), rejectsWith("invalid-argument", /both write/));
  assert.deepEqual(readdirSync(out).sort(), ["app.aci", "not-a-layout"]);
});

test("buildImage writes several tags of one layout in one build", async (t) => {
  const ctx = makeContext(await tempDir(t));
  const layout = join(await tempDir(t), "layout");
  const images = await build(t, { contextDir: ctx, outputs: [`oci:${layout}:1.0.0`, `oci:${layout}:latest`, `oci:${layout}`] });
  assert.deepEqual(images.map((i) => (i.kind === "aci" ? "" : i.tag)), ["1.0.0", "latest", "example.com/app:1.0.0"]);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  assert.equal(index.manifests.length, 3);
  assert.equal(new Set(index.manifests.map((m) => m.digest)).size, 1);
  assert.deepEqual(await checkLayout(layout), []);
});

test("buildImage on an OCI base from the store: its layers first, its config as defaults", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "rkt"));
  const busybox = join(dir, "busybox");
  await busyboxImage({ dir: busybox });
  const base = await storeOciLayoutImage(store, busybox, "latest", "localhost/busybox:latest");
  const ctx = makeContext(join(dir, "ctx"));
  const layout = join(dir, "layout");
  const [image] = await build(t, {
    contextDir: ctx,
    outputs: [`oci:${layout}:v1`],
    dataDir: join(dir, "rkt"),
    overrides: { copy: SPEC.copy, exec: ["/usr/bin/app"], environment: { APP: "1" }, base: "localhost/busybox:latest" },
  });
  assert.ok(image?.kind === "oci-layout");
  assert.deepEqual(await checkLayout(layout), []);
  const manifest = JSON.parse((await execTool("skopeo", ["inspect", "--raw", `oci:${layout}:v1`])).toString("utf8")) as { layers: { digest: string }[] };
  assert.equal(manifest.layers.length, 2);
  assert.equal(manifest.layers[0]?.digest, base.layers[0]?.digest, "the base layer is copied as it is");
  const config = JSON.parse((await execTool("skopeo", ["inspect", "--config", `oci:${layout}:v1`])).toString("utf8")) as { config: Record<string, unknown>; history: unknown[] };
  assert.deepEqual(config.config.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP=1"]);
  assert.deepEqual(config.config.Entrypoint, ["/usr/bin/app"]);
  assert.equal(config.config.Cmd, undefined, "a new entrypoint drops the base's Cmd");
  assert.equal(config.config.WorkingDir, "/");
  const bundle = join(dir, "bundle");
  await execTool("umoci", ["unpack", "--image", `${layout}:v1`, bundle]);
  assert.ok(statSync(join(bundle, "rootfs/bin/busybox")).isFile());
  assert.ok(statSync(join(bundle, "rootfs/usr/bin/app")).isFile());
});

test("buildImage on an ACI base: a pinned dependency for ACIs, converted layers for OCI", async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, "rkt");
  const store = ImageStore.open(dataDir);
  const baseCtx = join(dir, "base-ctx");
  mkdirSync(join(baseCtx, "lib"), { recursive: true });
  writeFileSync(join(baseCtx, "lib", "base.txt"), "from the base\n");
  const [baseAci] = await build(t, { contextDir: baseCtx, outputs: [join(dir, "base.aci")], overrides: { name: "example.com/base", labels: { version: "2" }, copy: [{ from: "lib", to: "/lib" }] } });
  assert.ok(baseAci?.kind === "aci");
  const base = storeAci(store, baseAci.path);

  const ctx = makeContext(join(dir, "ctx"));
  const [aci, layout] = await build(t, {
    contextDir: ctx,
    dataDir,
    outputs: [join(dir, "app.aci"), `oci:${join(dir, "layout")}:v1`],
    overrides: { ...SPEC, dependencies: undefined, base: baseAci.imageId },
  });
  assert.ok(aci?.kind === "aci" && layout?.kind === "oci-layout");
  const tar = gunzipSync(readFileSync(aci.path));
  const size = (await tarHeaders(tar))[0]?.size ?? 0;
  const manifest = JSON.parse(tar.subarray(512, 512 + size).toString("utf8")) as { dependencies: unknown };
  assert.deepEqual(manifest.dependencies, [
    {
      imageName: "example.com/base",
      imageID: baseAci.imageId,
      labels: [
        { name: "arch", value: HOST.arch },
        { name: "os", value: HOST.os },
        { name: "version", value: "2" },
      ],
      size: base.size,
    },
  ]);

  assert.deepEqual(await checkLayout(layout.path), []);
  const bundle = join(dir, "bundle");
  await execTool("umoci", ["unpack", "--image", `${layout.path}:v1`, bundle]);
  assert.equal(readFileSync(join(bundle, "rootfs/lib/base.txt"), "utf8"), "from the base\n");
  assert.ok(statSync(join(bundle, "rootfs/usr/bin/app")).isFile());
  assert.equal(existsSync(join(bundle, "rootfs/manifest")), false, "the ACI's manifest is not a file of the layer");
  assert.equal(existsSync(join(bundle, "rootfs/rootfs")), false);
});

test("buildImage refuses an OCI base for an ACI and an unknown base", async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, "rkt");
  const busybox = join(dir, "busybox");
  await busyboxImage({ dir: busybox });
  await storeOciLayoutImage(ImageStore.open(dataDir), busybox, "latest", "localhost/busybox:latest");
  const ctx = makeContext(join(dir, "ctx"));
  await assert.rejects(
    build(t, { contextDir: ctx, dataDir, outputs: [join(dir, "app.aci")], overrides: { ...SPEC, base: "localhost/busybox:latest" } }),
    rejectsWith("invalid-argument", /an ACI can only depend on ACIs/),
  );
  await assert.rejects(
    build(t, { contextDir: ctx, dataDir, outputs: [`oci:${join(dir, "l")}`], overrides: { ...SPEC, base: "example.com/nothing:1" } }),
    rejectsWith("not-found", /example\.com\/nothing:1/),
  );
  assert.equal(existsSync(join(dir, "app.aci")), false);
});

test("buildImage keeps long and non-ASCII names, the same way every time", async (t) => {
  const ctx = await tempDir(t);
  const long = join("a".repeat(60), "b".repeat(60), "c".repeat(60));
  mkdirSync(join(ctx, long), { recursive: true });
  writeFileSync(join(ctx, long, `${"d".repeat(99)}.txt`), "long\n");
  writeFileSync(join(ctx, "héllo wörld.txt"), "utf8\n");
  const overrides: BuildSpec = { name: "example.com/names", copy: [{ from: ".", to: "/data" }] };
  const one = await tempDir(t);
  const two = await tempDir(t);
  const [a] = await build(t, { contextDir: ctx, overrides, outputs: [`oci:${join(one, "layout")}:v1`] });
  const [b] = await build(t, { contextDir: ctx, overrides, outputs: [`oci:${join(two, "layout")}:v1`] });
  assert.ok(a?.kind === "oci-layout" && b?.kind === "oci-layout");
  assert.equal(a.manifestDigest, b.manifestDigest);
  const bundle = join(one, "bundle");
  await execTool("umoci", ["unpack", "--image", `${a.path}:v1`, bundle]);
  assert.equal(readFileSync(join(bundle, "rootfs/data", long, `${"d".repeat(99)}.txt`), "utf8"), "long\n");
  assert.equal(readFileSync(join(bundle, "rootfs/data/héllo wörld.txt"), "utf8"), "utf8\n");
});
