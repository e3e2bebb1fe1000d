import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { applyLayer } from "../../../src/image/layer/apply-layer.js";
import { RktError } from "../../../src/lib/errors.js";
import { lgetxattr, llistxattr } from "../../../src/sys/libc.js";
import { buildLayer, streamOf } from "./build-layer.js";
import { HOSTILE_LAYERS, SENTINEL, SENTINEL_CONTENT } from "./hostile-corpus.js";
import { withTempDir } from "./temp-dir.js";

/**
 * Everything in the sandbox except inside the roots: names, types, modes, owners, all times, sizes,
 * content hashes, link targets and xattrs. Any change outside the roots shows up here, including
 * a file created and deleted again (the parent directory's mtime moves).
 */
async function snapshot(sandbox: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string): Promise<void> => {
    const host = join(sandbox, rel);
    const st = await lstat(host);
    let detail = "";
    if (st.isFile()) detail = createHash("sha256").update(await readFile(host)).digest("hex");
    else if (st.isSymbolicLink()) detail = await readlink(host);
    const xattrs = llistxattr(host)
      .sort()
      .map((name) => `${name}=${lgetxattr(host, name)?.toString("hex")}`);
    out[rel || "."] = [st.mode, st.uid, st.gid, st.size, st.rdev, st.mtimeMs, st.ctimeMs, detail, ...xattrs].join(" ");
    if (st.isDirectory()) {
      for (const name of (await readdir(host)).sort()) {
        // The roots themselves may change; everything else, roots/ included, may not.
        if (rel === "roots" && (name === "flat" || /^layer\d+$/.test(name))) continue;
        await visit(rel === "" ? name : `${rel}/${name}`);
      }
    }
  };
  await visit("");
  return out;
}

/** The sentinel, outside/, and the empty roots: roots/flat, or roots/layer<i> per layer. */
async function prepareSandbox(sandbox: string, mode: "flatten" | "overlay", layerCount: number): Promise<string[]> {
  await writeFile(join(sandbox, SENTINEL), SENTINEL_CONTENT, { mode: 0o644 });
  await mkdir(join(sandbox, "outside"));
  await writeFile(join(sandbox, "outside/file"), "outside\n");
  await mkdir(join(sandbox, "roots"));
  const roots = mode === "flatten" ? [join(sandbox, "roots/flat")] : Array.from({ length: layerCount }, (_, i) => join(sandbox, `roots/layer${i}`));
  for (const root of roots) await mkdir(root);
  return roots;
}

/** Applies the layers in order (all onto one root, or each onto its own); returns what applyLayer threw. */
async function run(layers: readonly Buffer[], roots: readonly string[], mode: "flatten" | "overlay"): Promise<unknown> {
  try {
    for (const [i, tar] of layers.entries()) await applyLayer(streamOf(tar), { root: roots[mode === "flatten" ? 0 : i]!, mode });
  } catch (err) {
    return err;
  }
  return undefined;
}

for (const mode of ["flatten", "overlay"] as const) {
  for (const c of HOSTILE_LAYERS) {
    test(`applyLayer keeps hostile layer "${c.name}" inside the root (${mode}, ${c.expect}): ${c.why}`, async () => {
      await withTempDir(async (sandbox) => {
        const layers = await Promise.all(c.layers({ sandbox }).map((entries) => buildLayer(entries)));
        const roots = await prepareSandbox(sandbox, mode, layers.length);
        const before = await snapshot(sandbox);

        const error = await run(layers, roots, mode);

        assert.deepEqual(await snapshot(sandbox), before, "something outside the root changed");
        assert.equal(await readFile(join(sandbox, SENTINEL), "utf8"), SENTINEL_CONTENT);
        if (c.expect === "reject") {
          assert.ok(error instanceof RktError, `expected a rejection, got ${String(error)}`);
          assert.equal(error.kind, "invalid-argument", error.message);
          assert.match(error.message, /layer/);
        } else {
          assert.equal(error, undefined, `expected the layer to apply: ${String(error)}`);
          if (mode === "flatten" && c.check !== undefined) await c.check(roots[0]!, { sandbox });
        }
      });
    });
  }
}

test("the hostile corpus names are unique", () => {
  const names = HOSTILE_LAYERS.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
});
