import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { classifyImageArgument } from "../../src/image/image-argument.js";
import { tempDir } from "../support/tmp.js";

test("classifyImageArgument splits oci:DIR:TAG at the first colon after an existing path, so tags may hold colons and slashes", async (t) => {
  const dir = join(await tempDir(t), "layout");
  await mkdir(dir);
  assert.deepEqual(classifyImageArgument(`oci:${dir}:example.com/app:1.0`), { kind: "oci-layout", text: `oci:${dir}:example.com/app:1.0`, path: dir, tag: "example.com/app:1.0" });
  assert.deepEqual(classifyImageArgument(`oci:${dir}:1.0`), { kind: "oci-layout", text: `oci:${dir}:1.0`, path: dir, tag: "1.0" });
  assert.deepEqual(classifyImageArgument(`oci:${dir}`), { kind: "oci-layout", text: `oci:${dir}`, path: dir, tag: undefined });
  // A path that does not exist: the last colon of the last component splits, and the error will name the path.
  assert.deepEqual(classifyImageArgument("oci:/nonexistent/x:tag"), { kind: "oci-layout", text: "oci:/nonexistent/x:tag", path: "/nonexistent/x", tag: "tag" });
});

test("classifyImageArgument tells ACI files from OCI archives by suffix or content, and names from URLs and IDs", async (t) => {
  const dir = await tempDir(t);
  const gz = join(dir, "app-image");
  await writeFile(gz, gzipSync(Buffer.from("not really a tar")));
  const aci = join(dir, "missing.aci");
  assert.equal(classifyImageArgument(gz).kind, "aci-file");
  assert.equal(classifyImageArgument(aci).kind, "aci-file");
  const plain = join(dir, "archive.tar");
  await writeFile(plain, Buffer.alloc(1024));
  assert.equal(classifyImageArgument(plain).kind, "oci-archive");
  assert.equal(classifyImageArgument("https://example.com/app.aci").kind, "url");
  assert.equal(classifyImageArgument("example.com/app:1.0").kind, "name");
  assert.equal(classifyImageArgument("sha512-0123abcd").kind, "id");
  assert.equal(classifyImageArgument("docker://busybox").kind, "docker");
});
