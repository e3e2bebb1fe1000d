/**
 * The API service over a data directory written by code (api-fixtures.ts): pods in every state,
 * image records with labels and annotations, logs and journal lines, through a gRPC client
 * generated from our api.proto. Real pods and other rkt processes are in pod-events.test.ts; the
 * client written from rkt's field numbers in wire-compat.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { recordEvent } from "../../src/events/event-journal.js";
import { ImageStore } from "../../src/image/store/image-store.js";
import { tempDir } from "../support/tmp.js";
import { collectStream, startTestService, streamReady, syntheticImage, syntheticPod, type Message } from "./api-fixtures.js";

type Pod = { id: string; state: string; pid: number; apps: { name: string; state: string; exit_code: number; image: { id: string; name: string; version: string } }[]; networks: { name: string; ipv4: string }[]; manifest: Buffer; annotations: { Key: string; value: string }[]; cgroup: string; created_at: string; started_at: string; gc_marked_at: string };
type Image = { id: string; name: string; version: string; manifest: Buffer; labels: { Key: string; value: string }[]; annotations: { Key: string; value: string }[]; base_format: { type: string }; import_timestamp: string; size: string };
type ApiEvent = { type: string; id: string; from: string; time: string; data: { Key: string; value: string }[] };

async function expectCode(promise: Promise<unknown>, code: status, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: ServiceError) => {
    assert.equal(err.code, code, `expected ${status[code]}, got ${status[err.code]}: ${err.details}`);
    if (pattern !== undefined) assert.match(err.details, pattern);
    return true;
  });
}

/** A store with two images and pods in every state; the running pod's lock is held here. */
async function fixture(t: TestContext): Promise<{ dir: string; images: { web: string; db: string }; pods: { running: string; exited: string; prepared: string; garbage: string; embryo: string; aborted: string } }> {
  const dir = await tempDir(t, "rkt-api-");
  const store = ImageStore.open(dir);
  const web = syntheticImage(store, { names: ["localhost/web:1.0"], labels: { tier: "front" }, annotations: { "org.example.team": "a" }, importTime: "2024-01-01T00:00:00Z" });
  const db = syntheticImage(store, { names: ["registry-1.docker.io/library/db:latest", "localhost/db-backup:2"], format: "docker", labels: { tier: "back" }, importTime: "2024-06-01T00:00:00Z" });
  const started = "2024-07-01T10:00:00.123456789Z";
  const running = syntheticPod(dir, {
    dir: "run",
    locked: true,
    created: "2024-07-01T09:59:59.000Z",
    supervisorPid: 4242,
    annotations: [["owner", "alice"]],
    userAnnotations: { "k8s.io/name": "frontend" },
    network: { name: "default", ip4: "172.16.28.9", gateway: "172.16.28.1" },
    apps: [
      { name: "web", imageId: web.id, started, annotations: [["role", "http"]] },
      { name: "db", imageId: db.id, started },
    ],
  });
  t.after(() => running.release());
  const exited = syntheticPod(dir, {
    dir: "run",
    created: "2024-07-02T00:00:00.000Z",
    supervisorPid: 99,
    apps: [{ name: "job", imageId: web.id, started, exitCode: 3, log: ["2024-07-02T00:00:01.000000000Z stdout F one", "2024-07-02T00:00:02.000000000Z stderr P tw", "2024-07-02T00:00:02.500000000Z stderr F o", "2024-07-02T00:00:03.000000000Z stdout F three", "2024-07-02T00:00:04.000000000Z stdout P no newline"] }],
  });
  const prepared = syntheticPod(dir, { dir: "prepared", created: "2024-07-03T00:00:00.000Z", apps: [{ name: "web", imageId: web.id }] });
  const garbage = syntheticPod(dir, { dir: "exited-garbage", created: "2024-07-04T00:00:00.000Z", apps: [{ name: "old", imageId: db.id, started, exitCode: 0 }] });
  const embryo = syntheticPod(dir, { dir: "embryo", created: "2024-07-05T00:00:00.000Z" });
  const aborted = syntheticPod(dir, { dir: "prepare", created: "2024-07-06T00:00:00.000Z", apps: [{ name: "x", imageId: web.id }] });
  return { dir, images: { web: web.id.replace(":", "-"), db: db.id.replace(":", "-") }, pods: { running: running.uuid, exited: exited.uuid, prepared: prepared.uuid, garbage: garbage.uuid, embryo: embryo.uuid, aborted: aborted.uuid } };
}

test("GetInfo reports rkt's, appc's and the API's versions and the service's global flags", async (t) => {
  const dir = await tempDir(t, "rkt-api-");
  const { client } = await startTestService(t, dir);
  const { info } = (await client.call("GetInfo", {})) as { info: { rkt_version: string; appc_version: string; api_version: string; global_flags: { dir: string; insecure_flags: string } } };
  assert.equal(info.api_version, "1.0.0-alpha");
  assert.equal(info.appc_version, "0.8.11");
  assert.equal(info.rkt_version, "9.9.9-test");
  assert.equal(info.global_flags.dir, dir);
  assert.equal(info.global_flags.insecure_flags, "image");
});

test("ListPods shows pods in every state with apps, exit codes, networks, annotations and times", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  const { pods } = (await client.call("ListPods", {})) as { pods: Pod[] };
  const byId = new Map(pods.map((p) => [p.id, p]));
  assert.equal(pods.length, 6);
  // Oldest first.
  assert.deepEqual(pods.map((p) => p.id), [f.pods.running, f.pods.exited, f.pods.prepared, f.pods.garbage, f.pods.embryo, f.pods.aborted]);
  const running = byId.get(f.pods.running)!;
  assert.equal(running.state, "POD_STATE_RUNNING");
  assert.equal(running.pid, 4242);
  assert.equal(running.cgroup, `/rkt/${f.pods.running}`);
  assert.deepEqual(running.networks.map((n) => [n.name, n.ipv4]), [["default", "172.16.28.9"]]);
  assert.deepEqual(running.annotations.map((a) => [a.Key, a.value]), [["owner", "alice"], ["k8s.io/name", "frontend"]]);
  assert.deepEqual(running.apps.map((a) => [a.name, a.state, a.exit_code, a.image.id, a.image.name, a.image.version]), [
    ["web", "APP_STATE_RUNNING", -1, f.images.web, "localhost/web", "1.0"],
    ["db", "APP_STATE_RUNNING", -1, f.images.db, "localhost/db-backup", "2"],
  ]);
  assert.equal(running.created_at, "1719827999000000000");
  assert.equal(running.started_at, "1719828000123456789");
  assert.equal(running.manifest.length, 0, "no manifest without detail");

  const exited = byId.get(f.pods.exited)!;
  assert.equal(exited.state, "POD_STATE_EXITED");
  assert.deepEqual(exited.apps.map((a) => [a.name, a.state, a.exit_code]), [["job", "APP_STATE_EXITED", 3]]);
  assert.equal(exited.cgroup, "");
  assert.equal(byId.get(f.pods.prepared)!.state, "POD_STATE_PREPARED");
  assert.equal(byId.get(f.pods.prepared)!.pid, -1);
  const garbage = byId.get(f.pods.garbage)!;
  assert.equal(garbage.state, "POD_STATE_GARBAGE");
  assert.notEqual(garbage.gc_marked_at, "0");
  // rkt: an embryo and an aborted prepare have only their ID and state.
  assert.deepEqual([byId.get(f.pods.embryo)!.state, byId.get(f.pods.embryo)!.apps.length], ["POD_STATE_EMBRYO", 0]);
  assert.deepEqual([byId.get(f.pods.aborted)!.state, byId.get(f.pods.aborted)!.apps.length], ["POD_STATE_ABORTED_PREPARE", 0]);

  const detailed = (await client.call("ListPods", { detail: true })) as { pods: Pod[] };
  const manifest = JSON.parse(detailed.pods.find((p) => p.id === f.pods.running)!.manifest.toString()) as { apps: { name: string }[] };
  assert.deepEqual(manifest.apps.map((a) => a.name), ["web", "db"]);
});

test("ListPods filters: AND within a filter, OR across filters; malformed filters are INVALID_ARGUMENT", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  const ids = async (filters: Message[]): Promise<string[]> => ((await client.call("ListPods", { filters })) as { pods: Pod[] }).pods.map((p) => p.id).sort();
  const sorted = (...xs: string[]): string[] => xs.sort();
  assert.deepEqual(await ids([{ states: ["POD_STATE_RUNNING"] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ states: ["POD_STATE_EXITED", "POD_STATE_PREPARED"] }]), sorted(f.pods.exited, f.pods.prepared));
  assert.deepEqual(await ids([{ app_names: ["web", "db"] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ app_names: ["web"] }]), sorted(f.pods.running, f.pods.prepared));
  assert.deepEqual(await ids([{ image_ids: [f.images.db] }]), sorted(f.pods.running, f.pods.garbage));
  assert.deepEqual(await ids([{ image_ids: [f.images.db.replace("-", ":")], states: ["POD_STATE_GARBAGE"] }]), [f.pods.garbage]);
  assert.deepEqual(await ids([{ network_names: ["default"] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ annotations: [{ Key: "owner", value: "alice" }] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ annotations: [{ Key: "owner", value: "bob" }] }]), []);
  assert.deepEqual(await ids([{ cgroups: [`/rkt/${f.pods.running}`] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ pod_sub_cgroups: [`/rkt/${f.pods.running}/web`] }]), [f.pods.running]);
  assert.deepEqual(await ids([{ ids: [f.pods.exited] }, { app_names: ["old"] }]), sorted(f.pods.exited, f.pods.garbage));

  await expectCode(client.call("ListPods", { filters: [{ ids: ["not-a-uuid"] }] }), status.INVALID_ARGUMENT, /not a pod UUID/);
  await expectCode(client.call("ListPods", { filters: [{ states: [42] }] }), status.INVALID_ARGUMENT, /unknown pod state 42/);
  await expectCode(client.call("ListPods", { filters: [{ image_ids: ["sha256-abc"] }] }), status.INVALID_ARGUMENT, /not an image ID/);
  await expectCode(client.call("ListPods", { filters: [{ annotations: [{ Key: "", value: "x" }] }] }), status.INVALID_ARGUMENT, /empty key/);
  await expectCode(client.call("ListPods", { filters: [{ cgroups: ["rkt/x"] }] }), status.INVALID_ARGUMENT, /absolute/);
  // The service keeps serving after refusals.
  assert.equal(((await client.call("ListPods", {})) as { pods: Pod[] }).pods.length, 6);
});

test("InspectPod answers by UUID or unique prefix with the manifest; unknown is NOT_FOUND, malformed INVALID_ARGUMENT", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  const { pod } = (await client.call("InspectPod", { id: f.pods.exited.slice(0, 13) })) as { pod: Pod };
  assert.equal(pod.id, f.pods.exited);
  assert.equal(pod.state, "POD_STATE_EXITED");
  assert.ok(pod.manifest.length > 0);
  await expectCode(client.call("InspectPod", { id: "00000000-0000-4000-8000-000000000000" }), status.NOT_FOUND, /no pod with UUID/);
  await expectCode(client.call("InspectPod", { id: "../../etc" }), status.INVALID_ARGUMENT);
  await expectCode(client.call("InspectPod", { id: "" }), status.INVALID_ARGUMENT, /needs a pod id/);
});

test("ListImages lists names, versions, labels, annotations and sizes, and filters like rkt", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  const { images } = (await client.call("ListImages", {})) as { images: Image[] };
  assert.deepEqual(images.map((i) => [i.id, i.name, i.version, i.base_format.type]), [
    [f.images.web, "localhost/web", "1.0", "IMAGE_TYPE_OCI"],
    [f.images.db, "localhost/db-backup", "2", "IMAGE_TYPE_DOCKER"],
  ]);
  const web = images[0]!;
  assert.equal(web.import_timestamp, "1704067200");
  assert.ok(Number(web.size) > 0);
  assert.equal(web.manifest.length, 0);
  assert.deepEqual(web.labels.map((l) => [l.Key, l.value]), [["tier", "front"], ["os", "linux"], ["arch", "amd64"]]);
  assert.equal(web.annotations.find((a) => a.Key === "org.example.team")?.value, "a");

  const names = async (filters: Message[]): Promise<string[]> => ((await client.call("ListImages", { filters })) as { images: Image[] }).images.map((i) => i.id);
  assert.deepEqual(await names([{ prefixes: ["registry-1.docker.io/library/"] }]), [f.images.db]);
  assert.deepEqual(await names([{ base_names: ["db"] }]), [f.images.db]);
  assert.deepEqual(await names([{ base_names: ["d"] }]), []);
  assert.deepEqual(await names([{ keywords: ["eb"] }]), [f.images.web]);
  assert.deepEqual(await names([{ labels: [{ Key: "tier", value: "back" }] }]), [f.images.db]);
  assert.deepEqual(await names([{ annotations: [{ Key: "org.example.team", value: "a" }] }]), [f.images.web]);
  assert.deepEqual(await names([{ imported_after: "1704067200" }]), [f.images.db]);
  assert.deepEqual(await names([{ imported_before: "1717200000" }]), [f.images.web]);
  assert.deepEqual(await names([{ full_names: ["localhost/web:1.0"] }, { full_names: ["registry-1.docker.io/library/db"] }]), [f.images.web, f.images.db]);
  assert.deepEqual(await names([{ ids: [f.images.web], keywords: ["db"] }]), []);
  const detailed = (await client.call("ListImages", { detail: true, filters: [{ ids: [f.images.web] }] })) as { images: Image[] };
  assert.equal((JSON.parse(detailed.images[0]!.manifest.toString()) as { schemaVersion: number }).schemaVersion, 2);

  await expectCode(client.call("ListImages", { filters: [{ imported_after: "100", imported_before: "50" }] }), status.INVALID_ARGUMENT, /not before/);
  await expectCode(client.call("ListImages", { filters: [{ ids: ["busybox"] }] }), status.INVALID_ARGUMENT, /not an image ID/);
  await expectCode(client.call("ListImages", { filters: [{ keywords: [""] }] }), status.INVALID_ARGUMENT, /empty value/);
});

test("InspectImage finds an image by ID, prefix or name; unknown is NOT_FOUND", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  for (const id of [f.images.web, f.images.web.replace("-", ":"), f.images.web.slice(0, 16), "localhost/web:1.0"]) {
    const { image } = (await client.call("InspectImage", { id })) as { image: Image };
    assert.equal(image.id, f.images.web, id);
    assert.ok(image.manifest.length > 0);
  }
  await expectCode(client.call("InspectImage", { id: `sha256-${"0".repeat(64)}` }), status.NOT_FOUND);
  await expectCode(client.call("InspectImage", { id: "localhost/nothing:1" }), status.NOT_FOUND);
  await expectCode(client.call("InspectImage", { id: "" }), status.INVALID_ARGUMENT);
});

test("GetLogs returns an exited pod's lines (partial records joined), with lines, since and until", async (t) => {
  const f = await fixture(t);
  const { client } = await startTestService(t, f.dir);
  const lines = async (request: Message): Promise<string[]> => (await collectStream(client.stream("GetLogs", request), () => false)).flatMap((m) => m.lines as string[]);
  assert.deepEqual(await lines({ pod_id: f.pods.exited }), ["one", "two", "three", "no newline"]);
  assert.deepEqual(await lines({ pod_id: f.pods.exited, app_name: "job", lines: 2 }), ["three", "no newline"]);
  const base = Date.parse("2024-07-02T00:00:00Z") / 1000;
  assert.deepEqual(await lines({ pod_id: f.pods.exited, since_time: String(base + 2), until_time: String(base + 4) }), ["two", "three"]);
  // follow on an exited pod ends after what is there.
  assert.deepEqual(await lines({ pod_id: f.pods.exited, follow: true }), ["one", "two", "three", "no newline"]);
  await expectCode(collectStream(client.stream("GetLogs", { pod_id: f.pods.exited, app_name: "nope" }), () => false), status.NOT_FOUND, /no app "nope"/);
  await expectCode(collectStream(client.stream("GetLogs", { pod_id: "00000000-0000-4000-8000-000000000000" }), () => false), status.NOT_FOUND);
  await expectCode(collectStream(client.stream("GetLogs", { pod_id: f.pods.exited, lines: -1 }), () => false), status.INVALID_ARGUMENT);
  await expectCode(collectStream(client.stream("GetLogs", { pod_id: f.pods.exited, since_time: "10", until_time: "5" }), () => false), status.INVALID_ARGUMENT);
});

test("ListenEvents replays the journal from since_time, filters by type, id and name, and ends at until_time", async (t) => {
  const dir = await tempDir(t, "rkt-api-");
  mkdirSync(join(dir, "pods"), { recursive: true });
  const uuid = "11111111-2222-4333-8444-555555555555";
  recordEvent(dir, "pod-prepared", uuid, "web,db");
  recordEvent(dir, "pod-removed", uuid);
  recordEvent(dir, "image-imported", `sha256:${"a".repeat(64)}`, "localhost/web:1.0");
  const { client } = await startTestService(t, dir);
  const since = String(Math.floor(Date.now() / 1000) - 60);
  const until = String(Math.floor(Date.now() / 1000) + 2);
  const all = (await collectStream(client.stream("ListenEvents", { filter: { since_time: since, until_time: until } }), () => false)).flatMap((m) => m.events as ApiEvent[]);
  assert.deepEqual(all.map((e) => [e.type, e.id, e.from]), [
    ["EVENT_TYPE_POD_PREPARED", uuid, "web,db"],
    // A line without a name gets the name the journal gave the pod before.
    ["EVENT_TYPE_POD_REMOVED", uuid, "web,db"],
    ["EVENT_TYPE_IMAGE_IMPORTED", `sha256-${"a".repeat(64)}`, "localhost/web:1.0"],
  ]);
  assert.ok(all.every((e) => Math.abs(Number(e.time) - Date.now() / 1000) < 60));
  assert.ok(all.every((e) => e.data.some((d) => d.Key === "timeNanos")));

  const filtered = async (filter: Message): Promise<string[]> =>
    (await collectStream(client.stream("ListenEvents", { filter: { since_time: since, until_time: until, ...filter } }), () => false)).flatMap((m) => (m.events as ApiEvent[]).map((e) => e.type));
  assert.deepEqual(await filtered({ types: ["EVENT_TYPE_IMAGE_IMPORTED"] }), ["EVENT_TYPE_IMAGE_IMPORTED"]);
  assert.deepEqual(await filtered({ ids: [uuid] }), ["EVENT_TYPE_POD_PREPARED", "EVENT_TYPE_POD_REMOVED"]);
  assert.deepEqual(await filtered({ names: ["db"] }), ["EVENT_TYPE_POD_PREPARED", "EVENT_TYPE_POD_REMOVED"]);
  assert.deepEqual(await filtered({ ids: [`sha256:${"a".repeat(64)}`] }), ["EVENT_TYPE_IMAGE_IMPORTED"]);

  await expectCode(collectStream(client.stream("ListenEvents", { filter: { types: [77] } }), () => false), status.INVALID_ARGUMENT, /unknown event type/);
  await expectCode(collectStream(client.stream("ListenEvents", { filter: { since_time: "20", until_time: "10" } }), () => false), status.INVALID_ARGUMENT);
});

test("ListenEvents delivers new journal lines live, survives clients that disconnect mid-stream", async (t) => {
  const dir = await tempDir(t, "rkt-api-");
  const { client } = await startTestService(t, dir);
  // A client that goes away: the service must keep serving the others.
  const quitter = client.stream("ListenEvents", {});
  await streamReady(quitter);
  quitter.cancel();
  const stream = client.stream("ListenEvents", { filter: { types: ["EVENT_TYPE_IMAGE_REMOVED"] } });
  await streamReady(stream);
  const got = collectStream(stream, (ms) => ms.flatMap((m) => m.events as ApiEvent[]).length >= 1);
  recordEvent(dir, "image-imported", `sha256:${"b".repeat(64)}`, "x");
  recordEvent(dir, "image-removed", `sha256:${"b".repeat(64)}`, "x");
  const events = (await got).flatMap((m) => m.events as ApiEvent[]);
  assert.deepEqual(events.map((e) => e.type), ["EVENT_TYPE_IMAGE_REMOVED"]);
  assert.ok(((await client.call("GetInfo", {})) as { info: unknown }).info !== undefined);
});

test("a pod-exited event waits until the pod's lock is free; a pod whose lock goes silently gets an observed exit", async (t) => {
  const dir = await tempDir(t, "rkt-api-");
  const pod = syntheticPod(dir, { dir: "run", locked: true, apps: [{ name: "web", imageId: `sha256:${"c".repeat(64)}`, started: new Date().toISOString() }] });
  const silent = syntheticPod(dir, { dir: "run", locked: true, apps: [{ name: "quiet", imageId: `sha256:${"c".repeat(64)}` }] });
  t.after(() => {
    pod.release();
    silent.release();
  });
  const { client } = await startTestService(t, dir, { reconcileMs: 100 });
  const stream = client.stream("ListenEvents", { filter: { types: ["EVENT_TYPE_POD_EXITED"] } });
  await streamReady(stream);
  const received: ApiEvent[] = [];
  stream.on("data", (m: Message) => received.push(...(m.events as ApiEvent[])));
  stream.on("error", () => undefined);

  recordEvent(dir, "pod-exited", pod.uuid, "", { exitCode: "0" });
  await sleep(300);
  assert.equal(received.length, 0, "held while the pod lock is held");
  pod.release();
  await waitUntil(() => received.length === 1, 2000);
  assert.equal(received[0]!.id, pod.uuid);
  assert.equal(received[0]!.from, "web");
  assert.equal(received[0]!.data.find((d) => d.Key === "exitCode")?.value, "0");

  silent.release();
  await waitUntil(() => received.length === 2, 3000);
  assert.equal(received[1]!.id, silent.uuid);
  assert.equal(received[1]!.data.find((d) => d.Key === "observed")?.value, "true");
  stream.cancel();
});

async function waitUntil(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`condition not met within ${ms} ms`);
    await sleep(10);
  }
}
