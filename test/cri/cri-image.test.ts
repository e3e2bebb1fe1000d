/**
 * The CRI ImageService against a real Docker registry on 127.0.0.1: pulls with the kubelet's
 * credentials, image status (ID, names, digests, size, default user), list, idempotent removal,
 * the store's filesystem usage, registry mirrors from registries.d, and the errors of pulls that
 * cannot work.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxImage, busyboxLayer } from "../support/image-fixtures.js";
import { buildImage } from "../support/oci-builder.js";
import { pushImage } from "../support/push.js";
import { sharedRegistry, startRegistry } from "../support/registry.js";
import { tempDir } from "../support/tmp.js";
import { execOut, sandboxConfig, startCri } from "./cri-fixture.js";

type Image = { id: string; repo_tags: string[]; repo_digests: string[]; size: string; uid: { value: string } | null; username: string };

test("PullImage with the kubelet's credentials; ImageStatus reports ID, names, digests, size and user; ListImages; RemoveImage is idempotent; ImageFsInfo counts the store", async (t) => {
  const registry = await startRegistry({ auth: "basic" });
  t.after(() => registry.stop());
  const layouts = await tempDir(t);
  await buildImage({ dir: join(layouts, "numeric"), layers: [busyboxLayer()], config: { User: "1000:1000", Cmd: ["sh"], Env: ["PATH=/bin"] } });
  await buildImage({ dir: join(layouts, "named"), layers: [busyboxLayer()], config: { User: "app", Cmd: ["id", "-un"], Env: ["PATH=/bin"] } });
  const numeric = await pushImage(join(layouts, "numeric"), registry, "team/numeric", { tag: "1.0" });
  await pushImage(join(layouts, "named"), registry, "team/named", { tag: "1.0" });
  const cri = await startCri(t);
  const image = (name: string): Promise<{ image: Image | null; info: Record<string, string> }> => cri.client.callImage("ImageStatus", { image: { image: name }, verbose: true }) as Promise<{ image: Image | null; info: Record<string, string> }>;

  const numericName = `${registry.host}/team/numeric:1.0`;
  assert.notEqual(await cri.client.codeOf("PullImage", { image: { image: numericName } }, true), "OK", "no credentials, no pull");
  const { image_ref: ref } = (await cri.client.callImage("PullImage", { image: { image: numericName }, auth: { username: registry.username, password: registry.password } })) as { image_ref: string };
  assert.match(ref, /^sha256:[0-9a-f]{64}$/);
  const auth = Buffer.from(`${registry.username ?? ""}:${registry.password ?? ""}`).toString("base64");
  await cri.client.callImage("PullImage", { image: { image: `${registry.host}/team/named:1.0` }, auth: { auth, server_address: registry.host } });

  const n = await image(numericName);
  assert.ok(n.image !== null);
  assert.equal(n.image.id, ref);
  assert.deepEqual(n.image.repo_tags, [numericName]);
  assert.deepEqual(n.image.repo_digests, [`${registry.host}/team/numeric@${numeric.digest}`]);
  assert.ok(Number(n.image.size) > 1_000_000);
  assert.deepEqual([n.image.uid, n.image.username], [{ value: "1000" }, ""]);
  assert.match(n.info.info ?? "", /"User":"1000:1000"/);
  const byId = await image(ref);
  assert.equal(byId.image?.id, ref);
  const byDigest = await image(`${registry.host}/team/numeric@${numeric.digest}`);
  assert.equal(byDigest.image?.id, ref);
  const named = await image(`${registry.host}/team/named:1.0`);
  assert.deepEqual([named.image?.uid, named.image?.username], [null, "app"]);
  assert.equal((await image(`${registry.host}/team/absent:1.0`)).image, null, "an absent image is no error");

  const all = (await cri.client.callImage("ListImages", {})) as { images: Image[] };
  assert.equal(all.images.length, 3, "busybox and the two pulled");
  const filtered = (await cri.client.callImage("ListImages", { filter: { image: { image: numericName } } })) as { images: Image[] };
  assert.deepEqual(filtered.images.map((i) => i.id), [ref]);
  const fs = (await cri.client.callImage("ImageFsInfo", {})) as { image_filesystems: { fs_id: { mountpoint: string }; used_bytes: { value: string }; inodes_used: { value: string } }[] };
  assert.equal(fs.image_filesystems[0]?.fs_id.mountpoint, join(cri.dir, "cas"));
  assert.ok(Number(fs.image_filesystems[0]?.used_bytes.value) > 1_000_000);
  assert.ok(Number(fs.image_filesystems[0]?.inodes_used.value) > 10);

  // A container of the pulled image, named by ID as the kubelet does, runs as the image's user.
  const pod = sandboxConfig(cri, "pulled");
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config: pod })) as { pod_sandbox_id: string };
  const { container_id: id } = (await cri.client.call("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "c" }, image: { image: ref }, command: ["sleep", "600"] }, sandbox_config: pod })) as { container_id: string };
  await cri.client.call("StartContainer", { container_id: id });
  assert.equal((await execOut(cri, id, ["id", "-u"])).trim(), "1000");

  await cri.client.callImage("RemoveImage", { image: { image: `${registry.host}/team/named:1.0` } });
  await cri.client.callImage("RemoveImage", { image: { image: `${registry.host}/team/named:1.0` } });
  assert.equal((await image(`${registry.host}/team/named:1.0`)).image, null);
  assert.equal(((await cri.client.callImage("ListImages", {})) as { images: Image[] }).images.length, 2);
});

test("registry mirrors in registries.d serve docker.io and registry.k8s.io images, stored under their canonical names", async (t) => {
  const registry = await sharedRegistry();
  const layout = join(await tempDir(t), "busybox");
  await busyboxImage({ dir: layout });
  await pushImage(layout, registry, "library/busybox", { tag: "1.36" });
  await pushImage(layout, registry, "k8s-cache/pause", { tag: "3.9" });
  const localConfig = await tempDir(t);
  mkdirSync(join(localConfig, "registries.d"));
  writeFileSync(join(localConfig, "registries.d", "10-hub.json"), JSON.stringify({ rktKind: "registryMirrors", rktVersion: "v1", registries: ["docker.io"], mirrors: [{ location: registry.host, insecure: true }] }));
  writeFileSync(join(localConfig, "registries.d", "20-k8s.json"), JSON.stringify({ rktKind: "registryMirrors", rktVersion: "v1", registries: ["registry.k8s.io"], mirrors: [{ location: `${registry.host}/k8s-cache`, insecure: true }] }));
  const cri = await startCri(t, { localConfig });

  const hub = (await cri.client.callImage("PullImage", { image: { image: "busybox:1.36" } })) as { image_ref: string };
  const pause = (await cri.client.callImage("PullImage", { image: { image: "registry.k8s.io/pause:3.9" } })) as { image_ref: string };
  assert.equal(hub.image_ref, pause.image_ref, "the same image, under two names");
  const status = (await cri.client.callImage("ImageStatus", { image: { image: "docker.io/library/busybox:1.36" } })) as { image: Image };
  // (The fixture's localhost/busybox:latest is the very same image.)
  assert.deepEqual(status.image.repo_tags.sort(), ["docker.io/library/busybox:1.36", "localhost/busybox:latest", "registry.k8s.io/pause:3.9"]);
  // Names the kubelet may use for the same image all find it.
  for (const name of ["busybox:1.36", "library/busybox:1.36", "registry.k8s.io/pause:3.9"]) {
    assert.equal(((await cri.client.callImage("ImageStatus", { image: { image: name } })) as { image: Image | null }).image?.id, hub.image_ref, name);
  }
});

test("PullImage of an image the registry does not have, or of a malformed name, fails with the right code", async (t) => {
  const registry = await sharedRegistry();
  const cri = await startCri(t);
  assert.equal(await cri.client.codeOf("PullImage", { image: { image: `${registry.host}/nothing/here:1.0` } }, true), "NOT_FOUND");
  assert.equal(await cri.client.codeOf("PullImage", { image: { image: "Not A Name" } }, true), "INVALID_ARGUMENT");
  assert.equal(await cri.client.codeOf("PullImage", { image: { image: "" } }, true), "INVALID_ARGUMENT");
  assert.equal(await cri.client.codeOf("PullImage", { image: { image: `${registry.host}/x:1` }, auth: { auth: "not-base64-of-a-pair" } }, true), "INVALID_ARGUMENT");
});
