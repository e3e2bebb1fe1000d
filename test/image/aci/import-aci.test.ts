import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { formatImageId } from "../../../src/cli/output/image-id.js";
import { ACI_MEDIA_TYPE, type AciDependency } from "../../../src/image/formats/appc/image-manifest.js";
import { aciStoreName, importAci } from "../../../src/image/fetch/aci/import-aci.js";
import { MAX_ACI_MANIFEST_BYTES } from "../../../src/image/layer/apply-layer.js";
import type { ImageRecord } from "../../../src/image/store/image-record.js";
import { ImageStore } from "../../../src/image/store/image-store.js";
import { RktError } from "../../../src/lib/errors.js";
import { tempDir } from "../../support/tmp.js";
import { aciTar, compressAci, manifestFor, sha256Of, sha512Of, writeAci, type AciCompression } from "./aci-fixture.js";

const noDependencies = (dep: AciDependency): Promise<ImageRecord> => Promise.reject(new Error(`unexpected dependency ${dep.imageName}`));

function imported(store: ImageStore, file: string, resolveDependency = noDependencies): Promise<ImageRecord> {
  return importAci(store, file, { label: file, resolveDependency });
}

/** Every file the store holds outside locks: what a refused import must not leave behind. */
function storeContent(store: ImageStore): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (rel === "" && name === "locks") continue;
      const path = join(dir, name);
      if (lstatSync(path).isDirectory()) walk(path, `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  walk(store.paths.cas, "");
  return out;
}

test("importAci stores the uncompressed tar under its sha512 and records an aci image", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const manifest = manifestFor("example.com/hello", "1.0.0", { annotations: [{ name: "authors", value: "rkt tests" }] });
  const tar = await aciTar(manifest, [
    { type: "dir", path: "bin", mode: 0o755 },
    { type: "file", path: "bin/app", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
    { type: "symlink", path: "bin/sh", target: "/bin/app" },
    { type: "hardlink", path: "bin/app2", target: "bin/app" },
    { type: "file", path: "etc/.wh.notes", content: "appc has no whiteouts\n" },
  ]);
  const file = await writeAci(dir, "hello.aci", tar, "gzip");
  const rec = await imported(store, file);

  const id = sha512Of(tar);
  assert.equal(rec.id, id);
  assert.match(formatImageId(rec.id, 32), /^sha512-[0-9a-f]{32}$/);
  assert.equal(rec.format, "aci");
  assert.equal(rec.manifestMediaType, ACI_MEDIA_TYPE);
  assert.deepEqual(store.readBlob(id), tar, "the blob is the uncompressed archive");
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  assert.equal(rec.configDigest, sha256Of(manifestBytes));
  assert.deepEqual(store.readBlob(rec.configDigest), manifestBytes);
  assert.deepEqual(rec.layers, [{ digest: id, mediaType: ACI_MEDIA_TYPE, size: tar.length, diffId: id }]);
  assert.deepEqual(rec.platform, { os: "linux", architecture: "amd64" });
  assert.deepEqual(rec.aci, { name: "example.com/hello", labels: { version: "1.0.0", os: "linux", arch: "amd64" }, dependencies: [] });
  assert.equal(rec.source, file);
  assert.deepEqual(store.getImage(id), rec);
  assert.equal(aciStoreName(rec), "example.com/hello:1.0.0");
  assert.equal(store.getRef("example.com/hello:1.0.0")?.id, id);

  const rootfs = store.layerRootfs(id);
  assert.deepEqual(readdirSync(rootfs).sort(), ["bin", "etc"], "only rootfs/ is unpacked, without the manifest");
  assert.equal(readFileSync(join(rootfs, "bin/app"), "utf8"), "#!/bin/sh\necho hi\n");
  assert.equal(statSync(join(rootfs, "bin/app")).mode & 0o777, 0o755);
  assert.equal(readlinkSync(join(rootfs, "bin/sh")), "/bin/app");
  assert.equal(statSync(join(rootfs, "bin/app2")).ino, statSync(join(rootfs, "bin/app")).ino, "hard link targets lose their rootfs/ prefix");
  assert.equal(readFileSync(join(rootfs, "etc/.wh.notes"), "utf8"), "appc has no whiteouts\n");
  assert.equal(store.layerInfo(id).diffId, id);
  assert.deepEqual(readdirSync(store.paths.tmp).filter((n) => !n.endsWith(".lck")), [], "no temp work left");
});

test("importAci gives the same image ID for a plain, gzip, bzip2 or xz ACI, and again on re-import", async (t) => {
  const dir = await tempDir(t);
  const tar = await aciTar(manifestFor("example.com/same", "1"), [{ type: "file", path: "data", content: randomBytes(200_000) }]);
  const ids = new Set<string>();
  for (const compression of ["none", "gzip", "bzip2", "xz"] as AciCompression[]) {
    const store = ImageStore.open(join(dir, `store-${compression}`));
    const rec = await imported(store, await writeAci(dir, `same-${compression}.aci`, tar, compression));
    ids.add(rec.id);
    assert.deepEqual(store.readBlob(rec.id), tar, `${compression}: the stored blob is the uncompressed tar`);
  }
  assert.deepEqual([...ids], [sha512Of(tar)]);

  const store = ImageStore.open(join(dir, "store-none"));
  const first = store.getImage(sha512Of(tar));
  const again = await imported(store, await writeAci(dir, "again.aci", tar, "xz"));
  assert.equal(again.id, first?.id);
  assert.equal(again.importTime, first?.importTime, "a re-import keeps the import time");
});

test("importAci takes the platform from the os and arch labels, in OCI's names", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const labels = (arch: string | undefined): Record<string, unknown> => ({
    labels: [{ name: "version", value: arch ?? "any" }, ...(arch === undefined ? [] : [{ name: "os", value: "linux" }, { name: "arch", value: arch }])],
  });
  const arm = await imported(store, await writeAci(dir, "arm.aci", await aciTar(manifestFor("example.com/p", "1", labels("armv7l")), [])));
  assert.deepEqual(arm.platform, { os: "linux", architecture: "arm", variant: "v7" });
  const arm64 = await imported(store, await writeAci(dir, "arm64.aci", await aciTar(manifestFor("example.com/p", "1", labels("aarch64")), [])));
  assert.deepEqual(arm64.platform, { os: "linux", architecture: "arm64" });
  const any = await imported(store, await writeAci(dir, "any.aci", await aciTar(manifestFor("example.com/p", "1", labels(undefined)), [])));
  assert.deepEqual(any.platform, { os: "", architecture: "" }, "no os/arch labels: OS and architecture independent");
  const noVersion = await imported(store, await writeAci(dir, "nov.aci", await aciTar(manifestFor("example.com/nov", "1", { labels: [] }), [])));
  assert.equal(store.getRef("example.com/nov:latest")?.id, noVersion.id);
});

/** A resolver over ACI files by name, importing each dependency (and its dependencies) on demand. */
function resolverFor(store: ImageStore, files: ReadonlyMap<string, string>, calls: string[] = []): (dep: AciDependency) => Promise<ImageRecord> {
  const resolve = async (dep: AciDependency): Promise<ImageRecord> => {
    calls.push(dep.imageName);
    const file = files.get(dep.imageName);
    if (file === undefined) throw new RktError("not-found", `no ACI for ${dep.imageName}`);
    return importAci(store, file, { label: file, resolveDependency: resolve });
  };
  return resolve;
}

test("importAci layers dependencies below the image, later ones above earlier ones, each over its own", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const file = (name: string, content: string): { type: "file"; path: string; content: string } => ({ type: "file", path: name, content });
  const dep = (name: string): Record<string, unknown> => ({ imageName: name, labels: [{ name: "version", value: "1" }] });
  const b0 = await aciTar(manifestFor("example.com/b0", "1"), [file("etc/b0", "b0"), file("etc/who", "b0"), file("etc/shared", "b0")]);
  const b1 = await aciTar(manifestFor("example.com/b1", "1", { dependencies: [dep("example.com/b0")] }), [file("etc/who", "b1"), file("etc/b1", "b1")]);
  const b2 = await aciTar(manifestFor("example.com/b2", "1", { dependencies: [dep("example.com/b0")] }), [file("etc/who", "b2")]);
  const app = await aciTar(manifestFor("example.com/app", "1", { dependencies: [dep("example.com/b1"), dep("example.com/b2")] }), [file("app", "app")]);
  const files = new Map([
    ["example.com/b0", await writeAci(dir, "b0.aci", b0, "bzip2")],
    ["example.com/b1", await writeAci(dir, "b1.aci", b1, "xz")],
    ["example.com/b2", await writeAci(dir, "b2.aci", b2, "none")],
  ]);
  const calls: string[] = [];
  const rec = await importAci(store, await writeAci(dir, "app.aci", app), { label: "app.aci", resolveDependency: resolverFor(store, files, calls) });

  assert.deepEqual(calls, ["example.com/b1", "example.com/b0", "example.com/b2", "example.com/b0"], "dependencies resolved in manifest order");
  const [id0, id1, id2, idApp] = [b0, b1, b2, app].map(sha512Of);
  // b1 = [b0, b1], b2 = [b0, b2]; stacked [b0, b1, b0, b2, app], b0 kept at its topmost place.
  assert.deepEqual(rec.layers.map((l) => l.diffId), [id1, id0, id2, idApp]);
  assert.deepEqual(rec.aci?.dependencies, [id1, id2]);
  assert.deepEqual(store.getImage(id1 ?? "")?.layers.map((l) => l.diffId), [id0, id1]);
});

test("importAci refuses a dependency whose image ID or name differs from what the manifest requires, storing nothing", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const base = await aciTar(manifestFor("example.com/base", "1"), [{ type: "file", path: "etc/base", content: "base" }]);
  const files = new Map([["example.com/base", await writeAci(dir, "base.aci", base)]]);
  const wrongId = await aciTar(manifestFor("example.com/app", "1", { dependencies: [{ imageName: "example.com/base", imageID: `sha512-${"0".repeat(32)}` }] }), []);
  const appFile = await writeAci(dir, "app.aci", wrongId);
  await assert.rejects(importAci(store, appFile, { label: "app.aci", resolveDependency: resolverFor(store, files) }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "data-loss");
    assert.match(err.message, /^app\.aci: dependency 0 \(example\.com\/base\): the image found is sha512-[0-9a-f]+, not sha512-0+ as the manifest requires$/);
    return true;
  });
  assert.equal(store.getImage(sha512Of(wrongId)), undefined);
  assert.equal(store.hasBlob(sha512Of(wrongId)), false);

  const rightId = await aciTar(manifestFor("example.com/app", "2", { dependencies: [{ imageName: "example.com/base", imageID: formatImageId(sha512Of(base), 32) }] }), []);
  const ok = await importAci(store, await writeAci(dir, "app2.aci", rightId), { label: "app2.aci", resolveDependency: resolverFor(store, files) });
  assert.equal(ok.layers.length, 2);

  const renamed = await aciTar(manifestFor("example.com/app", "3", { dependencies: [{ imageName: "example.com/other" }] }), []);
  await assert.rejects(
    importAci(store, await writeAci(dir, "app3.aci", renamed), { label: "app3.aci", resolveDependency: () => Promise.resolve(ok) }),
    (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && /the image found is named example\.com\/app/.test(err.message),
  );
});

test("importAci detects a dependency loop instead of importing forever", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const a = await aciTar(manifestFor("example.com/a", "1", { dependencies: [{ imageName: "example.com/b" }] }), []);
  const b = await aciTar(manifestFor("example.com/b", "1", { dependencies: [{ imageName: "example.com/a" }] }), []);
  const files = new Map([
    ["example.com/a", await writeAci(dir, "a.aci", a)],
    ["example.com/b", await writeAci(dir, "b.aci", b)],
  ]);
  await assert.rejects(
    importAci(store, files.get("example.com/a") ?? "", { label: "a.aci", resolveDependency: resolverFor(store, files) }),
    (err: unknown) => err instanceof RktError && /dependency loop: image example\.com\/a/.test(err.message),
  );
  assert.deepEqual(store.listImages(), []);
});

test("importAci refuses hostile or broken archives with one clear error each and leaves nothing in the store", async (t) => {
  const dir = await tempDir(t);
  const manifest = manifestFor("example.com/bad", "1");
  const corruptGzip = await compressAci(await aciTar(manifest, [{ type: "file", path: "x", content: randomBytes(50_000) }]), "gzip");
  corruptGzip.fill(0x55, 30, 2000);
  const cases: { name: string; file: () => Promise<string>; message: RegExp }[] = [
    {
      name: "a name with ..",
      file: async () => writeAci(dir, "dotdot.aci", await aciTar(manifest, [], [{ type: "file", path: "rootfs/../x", content: "x" }])),
      message: /layer entry "rootfs\/\.\.\/x" contains "\.\."/,
    },
    {
      name: "a hard link to a host path",
      file: async () => writeAci(dir, "hardlink.aci", await aciTar(manifest, [], [{ type: "raw", header: { name: "rootfs/passwd", type: "link", linkname: "/etc/passwd" } }])),
      message: /layer entry "rootfs\/passwd" links to "\/etc\/passwd", which is outside "rootfs\/"/,
    },
    {
      name: "a file outside rootfs/",
      file: async () => writeAci(dir, "outside.aci", await aciTar(manifest, [], [{ type: "file", path: "etc/passwd", content: "root::0:0::/:/bin/sh\n" }])),
      message: /layer entry "etc\/passwd" is outside "rootfs\/"/,
    },
    {
      name: "a manifest that is not JSON",
      file: async () => writeAci(dir, "notjson.aci", await aciTar("{acKind: ImageManifest", [])),
      message: /: invalid image manifest of the archive: not JSON/,
    },
    {
      name: "a manifest that breaks the schema",
      file: async () => writeAci(dir, "badname.aci", await aciTar(manifestFor("Example.com/Bad", "1"), [])),
      message: /: invalid image manifest of the archive: name: "Example\.com\/Bad" is not an AC Identifier/,
    },
    {
      name: "no manifest",
      file: async () => writeAci(dir, "nomanifest.aci", await aciTar(undefined, [{ type: "file", path: "x", content: "x" }])),
      message: /not an ACI: it has no "manifest" file/,
    },
    {
      name: "a manifest over the limit",
      file: async () => writeAci(dir, "huge.aci", await aciTar(Buffer.alloc(MAX_ACI_MANIFEST_BYTES + 1, 0x20), [])),
      message: /layer entry "manifest" is 1048577 bytes, over the 1048576 bytes rkt reads/,
    },
    {
      name: "a manifest far over the limit",
      file: async () => writeAci(dir, "huger.aci", await aciTar(Buffer.alloc(4 * MAX_ACI_MANIFEST_BYTES, 0x20), [])),
      message: /layer entry "manifest" is 4194304 bytes, over the 1048576 bytes rkt reads/,
    },
    {
      name: "two manifests",
      file: async () => writeAci(dir, "two.aci", await aciTar(manifest, [], [{ type: "file", path: "manifest", content: JSON.stringify(manifest) }])),
      message: /layer entry "manifest" appears twice/,
    },
    {
      name: "corrupt gzip",
      file: async () => {
        const path = join(dir, "corrupt.aci");
        await writeFile(path, corruptGzip);
        return path;
      },
      message: /decompressing gzip ACI: /,
    },
    {
      name: "truncated xz",
      file: async () => {
        const xz = await compressAci(await aciTar(manifest, [{ type: "file", path: "x", content: randomBytes(50_000) }]), "xz");
        const path = join(dir, "truncated.aci");
        await writeFile(path, xz.subarray(0, xz.length - 100));
        return path;
      },
      message: /decompressing xz ACI: xz failed \(exit status \d+\)/,
    },
    {
      name: "not a tar",
      file: async () => {
        const path = join(dir, "random.aci");
        await writeFile(path, randomBytes(4096));
        return path;
      },
      message: /ACI is not a valid tar|bad header checksum/,
    },
  ];
  for (const c of cases) {
    const store = ImageStore.open(join(dir, `store-${c.name.replace(/\W+/g, "-")}`));
    const file = await c.file();
    await assert.rejects(
      importAci(store, file, { label: file, resolveDependency: noDependencies }),
      (err: unknown) => {
        assert.ok(err instanceof RktError, `${c.name}: ${String(err)}`);
        assert.equal(err.kind, "invalid-argument", `${c.name}: ${err.message}`);
        assert.ok(err.message.startsWith(`${file}: `), `${c.name}: the message names the file: ${err.message}`);
        assert.match(err.message, c.message, c.name);
        return true;
      },
      c.name,
    );
    assert.deepEqual(storeContent(store), [], `${c.name}: nothing left in the store`);
  }
});

test("importAci keeps a symlink escape inside the image's tree", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const outside = join(dir, "outside");
  const name = `escaped-${randomBytes(4).toString("hex")}`;
  const tar = await aciTar(manifestFor("example.com/escape", "1"), [
    { type: "symlink", path: "up", target: "/" },
    { type: "symlink", path: "out", target: "../../../../../../../../.." + outside },
    { type: "file", path: `up/${name}`, content: "inside" },
    { type: "file", path: `out/${name}`, content: "inside too" },
  ]);
  const rec = await imported(store, await writeAci(dir, "escape.aci", tar));
  assert.equal(existsSync(`/${name}`), false, "nothing written through the absolute symlink on the host");
  assert.equal(existsSync(join(outside, name)), false, "nothing written through the relative symlink on the host");
  const rootfs = store.layerRootfs(rec.id);
  assert.equal(readFileSync(join(rootfs, name), "utf8"), "inside", "the absolute link resolved inside the tree");
  assert.equal(readFileSync(join(rootfs, outside, name), "utf8"), "inside too");
});

test("importAci stops when aborted and leaves nothing in the store", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  // 64 MiB of zeros: a small file that takes far longer than 20 ms to unpack.
  const file = await writeAci(dir, "big.aci", await aciTar(manifestFor("example.com/big", "1"), [{ type: "file", path: "big", content: Buffer.alloc(64 << 20) }]), "gzip");
  const controller = new AbortController();
  const importing = importAci(store, file, { label: file, resolveDependency: noDependencies, signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(importing, (err: unknown) => err instanceof Error && err.name === "AbortError");
  assert.deepEqual(storeContent(store), []);
});

test("importAci says which file it could not open", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  await assert.rejects(
    imported(store, join(dir, "missing.aci")),
    (err: unknown) => err instanceof RktError && err.kind === "not-found" && err.message.includes("missing.aci"),
  );
});

test("the store can unpack an ACI layer again from its blob, to the same tree", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(join(dir, "data"));
  const tar = await aciTar(manifestFor("example.com/again", "1"), [
    { type: "file", path: "etc/a", content: "a" },
    { type: "hardlink", path: "etc/b", target: "etc/a" },
  ]);
  const rec = await imported(store, await writeAci(dir, "again.aci", tar, "xz"));
  const layer = rec.layers[0];
  assert.ok(layer !== undefined);
  const before = store.layerInfo(layer.diffId);
  rmSync(store.paths.layerDir(layer.diffId), { recursive: true });
  assert.equal(store.hasLayer(layer.diffId), false);
  const after = await store.unpackLayer(layer);
  assert.deepEqual(after, before);
  assert.deepEqual(readdirSync(store.layerRootfs(layer.diffId)), ["etc"]);
});
