/** registries.d: mirrors per registry from rkt's configuration directories. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadRegistryMirrors } from "../../src/config/registry-mirrors.js";
import { RktError } from "../../src/lib/errors.js";
import { tempDir } from "../support/tmp.js";

function write(root: string, name: string, json: unknown): void {
  mkdirSync(join(root, "registries.d"), { recursive: true });
  writeFileSync(join(root, "registries.d", name), typeof json === "string" ? json : JSON.stringify(json));
}

test("loadRegistryMirrors reads mirrors in order, splits host and path, and a later directory replaces a registry's list", async (t) => {
  const system = await tempDir(t);
  const local = await tempDir(t);
  write(system, "a.json", { rktKind: "registryMirrors", rktVersion: "v1", registries: ["Docker.IO", "quay.io"], mirrors: [{ location: "mirror.example:5000/hub" }, { location: "127.0.0.1:5001", insecure: true }] });
  write(local, "b.json", { rktKind: "registryMirrors", rktVersion: "v1", registries: ["quay.io"], mirrors: [{ location: "[::1]:5002" }] });
  write(local, "other.json", { rktKind: "dockerAuth", rktVersion: "v1" });
  assert.deepEqual(loadRegistryMirrors([system, local, ""]), [
    { registry: "docker.io", host: "mirror.example:5000", pathPrefix: "hub", insecure: false },
    { registry: "docker.io", host: "127.0.0.1:5001", pathPrefix: "", insecure: true },
    { registry: "quay.io", host: "[::1]:5002", pathPrefix: "", insecure: false },
  ]);
  assert.deepEqual(loadRegistryMirrors([join(system, "nothing")]), []);
});

test("loadRegistryMirrors names the file and the field of a bad configuration", async (t) => {
  const dir = await tempDir(t);
  write(dir, "bad.json", { rktKind: "registryMirrors", rktVersion: "v1", registries: ["docker.io"], mirrors: [{ location: "http://x" }] });
  assert.throws(() => loadRegistryMirrors([dir]), (e: unknown) => e instanceof RktError && e.kind === "invalid-argument" && e.message.includes("bad.json") && e.message.includes("mirrors.0.location"));
  write(dir, "bad.json", "{not json");
  assert.throws(() => loadRegistryMirrors([dir]), /malformed configuration file/);
});
