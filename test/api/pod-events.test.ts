/**
 * The API service watching real pods and images that other rkt processes make and change
 * (`rkt run`, `rkt prepare`, `rkt app sandbox`, `rkt gc`, `rkt fetch`, `rkt image rm`, each a
 * separate process of the built CLI), with runc and the native supervisor: events arrive as the
 * pods change, and ListPods / InspectPod / GetLogs read every kind of pod. Needs root and
 * `npm run build`; podTestStore checks nothing is left on the host.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { busyboxImage } from "../support/image-fixtures.js";
import { podTestStore } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { collectStream, startTestService, streamReady, type Message } from "./api-fixtures.js";

type Event = { type: string; id: string; from: string; data: { Key: string; value: string }[] };
type Pod = { id: string; state: string; apps: { name: string; state: string; exit_code: number }[] };

/** Every event of a ListenEvents stream, with when it arrived here (ms since the epoch). */
function listen(stream: ReturnType<Awaited<ReturnType<typeof startTestService>>["client"]["stream"]>): { events: Event[]; arrived: number[] } {
  const out = { events: [] as Event[], arrived: [] as number[] };
  stream.on("data", (m: Message) => {
    for (const e of m.events as Event[]) {
      out.events.push(e);
      out.arrived.push(Date.now());
    }
  });
  stream.on("error", () => undefined);
  return out;
}

async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const dataOf = (e: Event, key: string): string | undefined => e.data.find((d) => d.Key === key)?.value;

test("a pod run by another rkt process streams prepared, started (within 100 ms), exited with its code, collected and removed", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const { client } = await startTestService(t, dir);
  const stream = client.stream("ListenEvents", {});
  t.after(() => stream.cancel());
  await streamReady(stream);
  const seen = listen(stream);

  const uuidFile = join(await tempDir(t), "uuid");
  const r = await runRkt(["run", "--net=none", `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "echo hello from the pod; exit 3"], { dir });
  assert.equal(r.code, 3, r.stderr);
  const uuid = readFileSync(uuidFile, "utf8").trim();
  await waitFor("the pod's exit", () => seen.events.some((e) => e.id === uuid && e.type === "EVENT_TYPE_POD_EXITED"));
  const mine = seen.events.filter((e) => e.id === uuid);
  assert.deepEqual(mine.map((e) => e.type), ["EVENT_TYPE_POD_PREPARED", "EVENT_TYPE_POD_STARTED", "EVENT_TYPE_POD_EXITED"]);
  assert.ok(mine.every((e) => e.from === "busybox"), JSON.stringify(mine));
  assert.equal(dataOf(mine[2]!, "exitCode"), "3");
  // Latency: from the moment `rkt run` recorded the start to the moment this client had it.
  const startedIndex = seen.events.findIndex((e) => e.id === uuid && e.type === "EVENT_TYPE_POD_STARTED");
  const latency = seen.arrived[startedIndex]! - Number(BigInt(dataOf(seen.events[startedIndex]!, "timeNanos")!) / 1_000_000n);
  t.diagnostic(`started pod seen ${latency} ms after rkt run recorded it`);
  assert.ok(latency < 100, `started pod seen after ${latency} ms`);

  // By the time the exit is announced the pod's lock is free: it reads as exited.
  const { pod } = (await client.call("InspectPod", { id: uuid })) as { pod: Pod };
  assert.equal(pod.state, "POD_STATE_EXITED");
  assert.deepEqual(pod.apps.map((a) => [a.name, a.state, a.exit_code]), [["busybox", "APP_STATE_EXITED", 3]]);
  const logs = await collectStream(client.stream("GetLogs", { pod_id: uuid }), () => false);
  assert.deepEqual(logs.flatMap((m) => m.lines as string[]), ["hello from the pod"]);

  const gc = await runRkt(["gc", "--grace-period=0s"], { dir });
  assert.equal(gc.code, 0, gc.stderr);
  await waitFor("the pod's removal", () => seen.events.some((e) => e.id === uuid && e.type === "EVENT_TYPE_POD_REMOVED"));
  assert.deepEqual(seen.events.filter((e) => e.id === uuid).slice(3).map((e) => [e.type, e.from]), [["EVENT_TYPE_POD_GARBAGE_COLLECTED", "busybox"], ["EVENT_TYPE_POD_REMOVED", "busybox"]]);
  assert.deepEqual(((await client.call("ListPods", {})) as { pods: Pod[] }).pods, []);
});

test("prepared and mutable pods are listed; GetLogs follows a running app until its pod is stopped", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const { client } = await startTestService(t, dir);
  const prepared = await runRkt(["prepare", "--quiet", busybox, "--exec=/bin/true"], { dir });
  assert.equal(prepared.code, 0, prepared.stderr);
  const preparedUuid = prepared.stdout.trim();
  const sandbox = await runRkt(["app", "sandbox", "--net=none"], { dir });
  assert.equal(sandbox.code, 0, sandbox.stderr);
  const uuid = sandbox.stdout.trim();
  const add = await runRkt(["app", "add", uuid, busybox, "--name=ticker", "--exec=/bin/sh", "--", "-c", "i=0; trap 'exit 0' TERM; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"], { dir });
  assert.equal(add.code, 0, add.stderr);
  const start = await runRkt(["app", "start", uuid, "--app=ticker"], { dir });
  assert.equal(start.code, 0, start.stderr);

  const { pods } = (await client.call("ListPods", {})) as { pods: Pod[] };
  const states = Object.fromEntries(pods.map((p) => [p.id, p.state]));
  assert.equal(states[preparedUuid], "POD_STATE_PREPARED");
  assert.equal(states[uuid], "POD_STATE_RUNNING");
  const byApp = (await client.call("ListPods", { filters: [{ app_names: ["ticker"], states: ["POD_STATE_RUNNING"] }] })) as { pods: Pod[] };
  assert.deepEqual(byApp.pods.map((p) => [p.id, p.apps[0]?.state]), [[uuid, "APP_STATE_RUNNING"]]);

  const events = client.stream("ListenEvents", { filter: { ids: [uuid] } });
  t.after(() => events.cancel());
  await streamReady(events);
  const seen = listen(events);
  const follow = client.stream("GetLogs", { pod_id: uuid, app_name: "ticker", follow: true });
  const lines: string[] = [];
  let ended = false;
  follow.on("data", (m: Message) => lines.push(...(m.lines as string[])));
  follow.on("end", () => (ended = true));
  follow.on("error", (err) => assert.fail(err));
  await waitFor("three lines", () => lines.length >= 3);
  assert.deepEqual(lines.slice(0, 3), ["tick 1", "tick 2", "tick 3"]);
  assert.equal(ended, false, "a followed running pod keeps the stream open");

  const stop = await runRkt(["stop", uuid], { dir });
  assert.equal(stop.code, 0, stop.stderr);
  await waitFor("the stream's end", () => ended);
  await waitFor("the sandbox's exit", () => seen.events.some((e) => e.type === "EVENT_TYPE_POD_EXITED"));
  assert.equal(dataOf(seen.events.find((e) => e.type === "EVENT_TYPE_POD_EXITED")!, "exitCode"), "0");
  const { pod } = (await client.call("InspectPod", { id: uuid })) as { pod: Pod };
  assert.equal(pod.state, "POD_STATE_EXITED");
});

test("images fetched and removed by other rkt processes stream as imported and removed", async (t) => {
  const { dir } = await podTestStore(t);
  const { client } = await startTestService(t, dir);
  const stream = client.stream("ListenEvents", { filter: { types: ["EVENT_TYPE_IMAGE_IMPORTED", "EVENT_TYPE_IMAGE_REMOVED"] } });
  t.after(() => stream.cancel());
  await streamReady(stream);
  const seen = listen(stream);
  const layout = join(await tempDir(t), "other");
  await busyboxImage({ dir: layout, format: "docker" });
  const fetched = await runRkt(["fetch", "--insecure-options=image", "--full", layout], { dir });
  assert.equal(fetched.code, 0, fetched.stderr);
  const id = fetched.stdout.trim();
  await waitFor("the import", () => seen.events.length >= 1);
  assert.equal(seen.events[0]!.type, "EVENT_TYPE_IMAGE_IMPORTED");
  assert.equal(seen.events[0]!.id, id);
  const { image } = (await client.call("InspectImage", { id })) as { image: { id: string; base_format: { type: string } } };
  assert.equal(image.base_format.type, "IMAGE_TYPE_DOCKER");
  const rm = await runRkt(["image", "rm", id], { dir });
  assert.equal(rm.code, 0, rm.stderr);
  await waitFor("the removal", () => seen.events.length >= 2);
  assert.deepEqual([seen.events[1]!.type, seen.events[1]!.id], ["EVENT_TYPE_IMAGE_REMOVED", id]);
});
