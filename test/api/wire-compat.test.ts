/**
 * Wire compatibility with rkt's v1alpha API: a client that knows nothing but rkt's api.proto
 * field numbers (written out below from rkt's file, not from ours) sends hand-encoded requests
 * to the real service and decodes the responses by hand (raw-protobuf.ts). A renumbered field,
 * a changed type (sint32 vs int32, a packed enum) or a renamed method breaks this test even if
 * our own generated client still agrees with our own .proto.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { recordEvent } from "../../src/events/event-journal.js";
import { ImageStore } from "../../src/image/store/image-store.js";
import { tempDir } from "../support/tmp.js";
import { startTestService, syntheticImage, syntheticPod } from "./api-fixtures.js";
import { decode, encode, messages, sint, str, uint, type RawField } from "./raw-protobuf.js";

// rkt api/v1alpha/api.proto, by number.
const PodState = { RUNNING: 4, EXITED: 6 } as const;
const EventType = { POD_PREPARED: 1, IMAGE_IMPORTED: 8 } as const;
const ImageType = { OCI: 3 } as const;

const identity = (b: Buffer): Buffer => b;

function unary(client: Client, method: string, request: readonly RawField[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(`/v1alpha.PublicAPI/${method}`, identity, identity, encode(request), (err: ServiceError | null, value?: Buffer) => (err === null && value !== undefined ? resolve(value) : reject(err ?? new Error("no response"))));
  });
}

function serverStream(client: Client, method: string, request: readonly RawField[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const call = client.makeServerStreamRequest(`/v1alpha.PublicAPI/${method}`, identity, identity, encode(request));
    call.on("data", (b: Buffer) => out.push(b));
    call.on("error", reject);
    call.on("end", () => resolve(out));
  });
}

test("a client built from rkt's field numbers alone talks to the service (GetInfo, ListPods, ListImages, InspectPod, ListenEvents)", async (t) => {
  const dir = await tempDir(t, "rkt-api-wire-");
  const store = ImageStore.open(dir);
  const image = syntheticImage(store, { names: ["localhost/web:1.0"], labels: { tier: "front" }, importTime: "2024-01-01T00:00:00Z" });
  const running = syntheticPod(dir, { dir: "run", locked: true, supervisorPid: 1234, created: "2024-07-01T00:00:00.000Z", apps: [{ name: "web", imageId: image.id, started: "2024-07-01T00:00:01.000000000Z" }] });
  t.after(() => running.release());
  const exited = syntheticPod(dir, { dir: "run", created: "2024-07-02T00:00:00.000Z", apps: [{ name: "job", imageId: image.id, started: "2024-07-02T00:00:01.000000000Z", exitCode: 3 }] });
  recordEvent(dir, "pod-prepared", running.uuid, "web");
  recordEvent(dir, "image-imported", image.id, "localhost/web:1.0");
  const { address } = await startTestService(t, dir);
  const client = new Client(address, credentials.createInsecure());
  t.after(() => client.close());

  // GetInfo: GetInfoResponse{info=1: Info{rkt_version=1, appc_version=2, api_version=3, global_flags=4{dir=1}}}
  const info = messages(decode(await unary(client, "GetInfo", [])), 1)[0]!;
  assert.equal(str(info, 3), "1.0.0-alpha");
  assert.equal(str(info, 2), "0.8.11");
  assert.equal(str(messages(info, 4)[0]!, 1), dir);

  // ListPods{filters=1: PodFilter{states=2 (unpacked here)}, detail=2}
  const list = decode(await unary(client, "ListPods", [{ no: 1, message: [{ no: 2, varint: PodState.RUNNING }, { no: 2, varint: PodState.EXITED }] }, { no: 2, varint: true }]));
  const pods = messages(list, 1);
  assert.deepEqual(pods.map((p) => str(p, 1)).sort(), [running.uuid, exited.uuid].sort());
  const pod = pods.find((p) => str(p, 1) === running.uuid)!;
  assert.equal(sint(pod, 2), 1234, "pid is a zigzag sint32");
  assert.equal(Number(uint(pod, 3)), PodState.RUNNING);
  assert.equal(uint(pod, 9), 1719792000000000000n, "created_at: int64 nanoseconds");
  assert.equal(uint(pod, 10), 1719792001000000000n, "started_at");
  assert.equal(str(pod, 8), `/rkt/${running.uuid}`, "cgroup");
  assert.ok((JSON.parse(str(pod, 6)) as { acKind: string }).acKind === "PodManifest", "manifest: bytes, with detail");
  const app = messages(pod, 4)[0]!;
  assert.equal(str(app, 1), "web");
  assert.equal(str(messages(app, 2)[0]!, 2), image.id.replace(":", "-"), "App.image.id");
  assert.equal(Number(uint(app, 3)), 1, "APP_STATE_RUNNING");
  assert.equal(sint(app, 4), -1, "exit_code: zigzag sint32 -1");
  const job = messages(pods.find((p) => str(p, 1) === exited.uuid)!, 4)[0]!;
  assert.equal(sint(job, 4), 3);

  // The same filter with the states packed, as proto3 encoders write repeated enums.
  const packed = messages(decode(await unary(client, "ListPods", [{ no: 1, message: [{ no: 2, packed: [PodState.EXITED] }] }])), 1);
  assert.deepEqual(packed.map((p) => str(p, 1)), [exited.uuid]);

  // ListImages{filters=1: ImageFilter{labels=5: KeyValue{Key=1, value=2}, imported_after=6}}
  const images = messages(decode(await unary(client, "ListImages", [{ no: 1, message: [{ no: 5, message: [{ no: 1, bytes: "tier" }, { no: 2, bytes: "front" }] }, { no: 6, varint: 1700000000 }] }])), 1);
  assert.equal(images.length, 1);
  const img = images[0]!;
  assert.equal(Number(uint(messages(img, 1)[0]!, 1)), ImageType.OCI, "base_format.type");
  assert.equal(str(img, 2), image.id.replace(":", "-"));
  assert.equal(str(img, 3), "localhost/web");
  assert.equal(str(img, 4), "1.0");
  assert.equal(uint(img, 5), 1704067200n, "import_timestamp: seconds");
  assert.ok(uint(img, 7) > 0n, "size");
  assert.deepEqual(messages(img, 9).map((kv) => [str(kv, 1), str(kv, 2)])[0], ["tier", "front"]);

  // InspectPod{id=1} of an unknown pod: NOT_FOUND.
  await assert.rejects(unary(client, "InspectPod", [{ no: 1, bytes: "00000000-0000-4000-8000-000000000000" }]), (e: ServiceError) => e.code === status.NOT_FOUND);

  // ListenEvents{filter=1: EventFilter{types=1 (packed), since_time=4, until_time=5}} -> stream of {events=1: Event{type=1, id=2, from=3, time=4}}
  const now = Math.floor(Date.now() / 1000);
  const responses = await serverStream(client, "ListenEvents", [{ no: 1, message: [{ no: 1, packed: [EventType.POD_PREPARED, EventType.IMAGE_IMPORTED] }, { no: 4, varint: now - 60 }, { no: 5, varint: now + 1 }] }]);
  const events = responses.flatMap((r) => messages(decode(r), 1));
  assert.deepEqual(events.map((e) => [Number(uint(e, 1)), str(e, 2), str(e, 3)]), [
    [EventType.POD_PREPARED, running.uuid, "web"],
    [EventType.IMAGE_IMPORTED, image.id.replace(":", "-"), "localhost/web:1.0"],
  ]);
  assert.ok(events.every((e) => Math.abs(Number(uint(e, 4)) - now) < 120), "time: seconds since the epoch");
});
