import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { exportImage } from "../../../src/engine/image/export-image.js";
import { renderImage } from "../../../src/engine/image/render-image.js";
import { verifyImage } from "../../../src/engine/image/verify-image.js";
import type { AciDependency } from "../../../src/image/formats/appc/image-manifest.js";
import { importAci } from "../../../src/image/fetch/aci/import-aci.js";
import { OCI_LAYER_TAR } from "../../../src/image/formats/media-types.js";
import type { ImageRecord } from "../../../src/image/store/image-record.js";
import { ImageStore } from "../../../src/image/store/image-store.js";
import type { LayerEntry } from "../../support/layer-tar.js";
import { tempDir } from "../../support/tmp.js";
import { withOverlayMount } from "../layer/temp-dir.js";
import { aciTar, manifestFor, sha512Of, writeAci } from "./aci-fixture.js";

const file = (path: string, content: string, mode = 0o644): LayerEntry => ({ type: "file", path, content, mode });
const dirEntry = (path: string, mode = 0o755, uid = 0): LayerEntry => ({ type: "dir", path, mode, uid, gid: uid });

/** Every path under `root`, relative, sorted; directories end in "/". */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (lstatSync(path).isDirectory()) {
        out.push(`${rel}${name}/`);
        walk(path, `${rel}${name}/`);
      } else {
        out.push(`${rel}${name}`);
      }
    }
  };
  walk(root, "");
  return out;
}

/** A base image and an app on it with a pathWhitelist, imported into a fresh store. */
async function whitelistedApp(dir: string): Promise<{ store: ImageStore; app: ImageRecord; base: ImageRecord; manifest: Buffer }> {
  const store = ImageStore.open(join(dir, "data"));
  const base = await aciTar(manifestFor("example.com/base", "1"), [
    dirEntry("bin"),
    file("bin/sh", "base sh", 0o755),
    file("bin/ls", "base ls", 0o755),
    dirEntry("etc", 0o750, 7),
    file("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
    file("etc/shadow", "secret\n", 0o600),
    dirEntry("usr/lib"),
    file("usr/lib/libc.so", "libc"),
    dirEntry("tmp", 0o1777),
    file(".wh.odd", "a base file whose name looks like a whiteout"),
  ]);
  const manifest = manifestFor("example.com/app", "1", {
    dependencies: [{ imageName: "example.com/base" }],
    pathWhitelist: ["/bin/sh", "/etc/passwd", "/app", "/tmp", "/.wh.odd"],
  });
  const app = await aciTar(manifest, [file("app", "the app", 0o755), file("extra", "own file, not whitelisted"), dirEntry("var/empty")]);
  const baseFile = await writeAci(dir, "base.aci", base, "xz");
  const resolveDependency = (dep: AciDependency): Promise<ImageRecord> => {
    assert.equal(dep.imageName, "example.com/base");
    return importAci(store, baseFile, { label: baseFile, resolveDependency: () => Promise.reject(new Error("base has no dependencies")) });
  };
  const appRec = await importAci(store, await writeAci(dir, "app.aci", app, "bzip2"), { label: "app.aci", resolveDependency });
  const baseRec = store.getImage(sha512Of(base));
  assert.ok(baseRec !== undefined);
  return { store, app: appRec, base: baseRec, manifest: Buffer.from(JSON.stringify(manifest)) };
}

const WHITELISTED_VIEW = [".wh.odd", "app", "bin/", "bin/sh", "etc/", "etc/passwd", "tmp/", "var/", "var/empty/"];

test("an ACI with a pathWhitelist gets a whiteout layer on top that keeps only the listed paths", async (t) => {
  const dir = await tempDir(t);
  const { store, app, base } = await whitelistedApp(dir);
  assert.equal(app.layers.length, 3);
  assert.deepEqual(app.layers.slice(0, 2).map((l) => l.diffId), [base.id, app.id]);
  const top = app.layers[2];
  assert.equal(top?.mediaType, OCI_LAYER_TAR);
  assert.ok(store.hasBlob(top.digest) && store.hasLayer(top.diffId));

  // rkt image render: dependencies, the image, the whitelist, flattened.
  const out = join(dir, "rendered");
  await renderImage(store, app.id, out, { rootfsOnly: false, overwrite: false });
  const rootfs = join(out, "rootfs");
  // The image's own directories stay (appc's renderer keeps them).
  assert.deepEqual(listTree(rootfs), WHITELISTED_VIEW);
  assert.equal(readFileSync(join(rootfs, ".wh.odd"), "utf8"), "a base file whose name looks like a whiteout");
  assert.equal(readFileSync(join(rootfs, "bin/sh"), "utf8"), "base sh");
  assert.equal(statSync(join(rootfs, "etc")).mode & 0o7777, 0o750, "directories keep the mode the merged tree gives them");
  assert.equal(statSync(join(rootfs, "etc")).uid, 7);
  assert.equal(statSync(join(rootfs, "tmp")).mode & 0o7777, 0o1777);
  assert.deepEqual(readdirSync(out).sort(), ["manifest", "rootfs"]);

  // What a pod mounts: the same trees as overlayfs lowerdirs, topmost first.
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  const lowers = [...app.layers].reverse().map((l) => store.layerRootfs(l.diffId));
  await withOverlayMount(lowers, mnt, () => {
    assert.deepEqual(listTree(mnt), WHITELISTED_VIEW);
    assert.equal(statSync(join(mnt, "etc")).mode & 0o7777, 0o750);
    return Promise.resolve();
  });

  // The base alone is untouched by its dependent's whitelist.
  const baseOut = join(dir, "base-rendered");
  await renderImage(store, base.id, baseOut, { rootfsOnly: true, overwrite: false });
  assert.ok(existsSync(join(baseOut, "etc/shadow")));
});

test("image render of an ACI without a whitelist stacks dependencies; extract gives only the image's own archive", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const base = await aciTar(manifestFor("example.com/base", "1"), [file("etc/os-release", "base"), file("etc/hostname", "base")]);
  const manifest = manifestFor("example.com/app", "1", { dependencies: [{ imageName: "example.com/base", labels: [{ name: "version", value: "1" }] }] });
  const app = await aciTar(manifest, [file("etc/hostname", "app"), file("app", "app")]);
  const baseFile = await writeAci(dir, "base.aci", base);
  const rec = await importAci(store, await writeAci(dir, "app.aci", app), {
    label: "app.aci",
    resolveDependency: () => importAci(store, baseFile, { label: baseFile, resolveDependency: () => Promise.reject(new Error("none")) }),
  });

  const rendered = join(dir, "rendered");
  await renderImage(store, rec.id, rendered, { rootfsOnly: false, overwrite: false });
  assert.deepEqual(listTree(join(rendered, "rootfs")), ["app", "etc/", "etc/hostname", "etc/os-release"]);
  assert.equal(readFileSync(join(rendered, "rootfs/etc/hostname"), "utf8"), "app", "the image's files win over its dependency's");
  assert.deepEqual(readFileSync(join(rendered, "manifest")), Buffer.from(JSON.stringify(manifest)), "the appc manifest, as in the archive");
  assert.equal(existsSync(join(rendered, "config")), false);

  const extracted = join(dir, "extracted");
  await renderImage(store, rec.id, extracted, { rootfsOnly: false, overwrite: false, extract: true });
  assert.deepEqual(listTree(join(extracted, "rootfs")), ["app", "etc/", "etc/hostname"]);
  assert.deepEqual(readdirSync(extracted).sort(), ["manifest", "rootfs"]);
});

test("image export writes the stored ACI uncompressed, and it imports again under the same ID", async (t) => {
  const dir = await tempDir(t);
  const { store, app } = await whitelistedApp(dir);
  const out = join(dir, "exported.aci");
  assert.equal(await exportImage(store, app.id, out, { overwrite: false }), app.id);
  const bytes = readFileSync(out);
  assert.equal(sha512Of(bytes), app.id);
  await assert.rejects(exportImage(store, app.id, out, { overwrite: false }), /already exists/);

  const other = ImageStore.open(join(dir, "other"));
  const base = store.getImage(app.layers[0]?.diffId ?? "");
  assert.ok(base !== undefined);
  const baseOut = join(dir, "base-exported.aci");
  await exportImage(store, base.id, baseOut, { overwrite: false });
  const again = await importAci(other, out, {
    label: out,
    resolveDependency: () => importAci(other, baseOut, { label: baseOut, resolveDependency: () => Promise.reject(new Error("none")) }),
  });
  assert.equal(again.id, app.id);
  assert.deepEqual(again.layers, app.layers, "the same layers, whitelist layer included: it is deterministic");
});

test("image verify checks an ACI's blobs and trees", async (t) => {
  const dir = await tempDir(t);
  const { store, app } = await whitelistedApp(dir);
  assert.deepEqual((await verifyImage(store, app.id)).problems, []);
});

test("a dependency's own pathWhitelist still applies below the image's", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const none = (): Promise<ImageRecord> => Promise.reject(new Error("no dependencies"));
  const base = await aciTar(manifestFor("example.com/base", "1"), [file("a", "a"), file("b", "b"), file("c", "c"), dirEntry("d"), file("d/x", "x")]);
  const mid = await aciTar(manifestFor("example.com/mid", "1", { dependencies: [{ imageName: "example.com/base" }], pathWhitelist: ["/a", "/b", "/d", "/m"] }), [file("m", "m")]);
  const app = await aciTar(manifestFor("example.com/app", "1", { dependencies: [{ imageName: "example.com/mid" }], pathWhitelist: ["/b", "/c", "/d/x", "/m", "/z"] }), [file("z", "z")]);
  const files = new Map([
    ["example.com/base", await writeAci(dir, "base.aci", base)],
    ["example.com/mid", await writeAci(dir, "mid.aci", mid)],
  ]);
  const resolve = (dep: AciDependency): Promise<ImageRecord> =>
    importAci(store, files.get(dep.imageName) ?? "", { label: dep.imageName, resolveDependency: dep.imageName === "example.com/mid" ? resolve : none });
  const rec = await importAci(store, await writeAci(dir, "app.aci", app), { label: "app.aci", resolveDependency: resolve });
  assert.equal(rec.layers.length, 5, "base, mid, mid's whitelist, app, app's whitelist");

  // mid keeps a, b, d (not d/x), m; app keeps b, c, d/x, m, z: what both keep, plus d on the way.
  const expected = ["b", "d/", "m", "z"];
  const out = join(dir, "rendered");
  await renderImage(store, rec.id, out, { rootfsOnly: true, overwrite: false });
  assert.deepEqual(listTree(out), expected);
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  await withOverlayMount([...rec.layers].reverse().map((l) => store.layerRootfs(l.diffId)), mnt, () => {
    assert.deepEqual(listTree(mnt), expected);
    return Promise.resolve();
  });
});

test("a pathWhitelist that leaves out a .wh. file of a dependency is refused, and the image not recorded", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const base = await aciTar(manifestFor("example.com/base", "1"), [file("etc/.wh.odd", "odd"), file("etc/keep", "keep")]);
  const baseFile = await writeAci(dir, "base.aci", base);
  const app = await aciTar(manifestFor("example.com/app", "1", { dependencies: [{ imageName: "example.com/base" }], pathWhitelist: ["/etc/keep"] }), []);
  await assert.rejects(
    importAci(store, await writeAci(dir, "app.aci", app), {
      label: "app.aci",
      resolveDependency: () => importAci(store, baseFile, { label: baseFile, resolveDependency: () => Promise.reject(new Error("none")) }),
    }),
    (err: unknown) => err instanceof Error && "kind" in err && err.kind === "unimplemented" && /leaves out \/etc\/\.wh\.odd, which rkt cannot hide/.test(err.message),
  );
  assert.equal(store.getImage(sha512Of(app)), undefined);
  assert.equal(store.hasBlob(sha512Of(app)), false);
  assert.equal(store.getRef("example.com/app:1"), undefined);
});
