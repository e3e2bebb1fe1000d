/**
 * ListPods and InspectPod (api.proto `PublicAPI`): every pod of the data directory, whichever
 * command made it, as its directory shows it now. Thin: parse the request, read, filter.
 */
import type { ApiContext } from "./api-context.js";
import { LockTable } from "./lock-table.js";
import { bad, checkPodFilters, matchesPodFilters } from "./pod-filter.js";
import type { InspectPodRequest, ListPodsRequest, Pod } from "./v1alpha-messages.js";

/**
 * ListPods: pods matching any filter (all without filters), oldest first; manifests only with
 * `detail`. Malformed filters: INVALID_ARGUMENT. `encodeEntry` encodes one pod as a `pods` entry
 * of the response (what InspectPodResponse{pod} is on the wire); `wire` is the whole response,
 * made of entries that settled pods keep between requests (pod-view.ts).
 *
 * @example
 * listPods(ctx, { filters: [], detail: false }, encodeEntry).pods.length;
 */
export function listPods(ctx: ApiContext, request: ListPodsRequest, encodeEntry: (pod: Pod) => Buffer): { pods: Pod[]; wire: Buffer } {
  checkPodFilters(request.filters);
  const locks = LockTable.read();
  const images = ctx.catalog.snapshot();
  const refs = ctx.pods.list();
  const listed: { pod: Pod; entry: Buffer; created: bigint }[] = [];
  for (const ref of refs) {
    const { pod, entry } = ctx.reader.encoded(ref, locks, images, request.detail, encodeEntry);
    if (matchesPodFilters(pod, request.filters)) listed.push({ pod, entry, created: BigInt(pod.created_at) });
  }
  ctx.reader.retain(new Set(refs.map((r) => r.path)));
  listed.sort((a, b) => compareBig(a.created, b.created) || (a.pod.id < b.pod.id ? -1 : a.pod.id > b.pod.id ? 1 : 0));
  return { pods: listed.map((l) => l.pod), wire: Buffer.concat(listed.map((l) => l.entry)) };
}

/**
 * InspectPod: one pod by UUID (or a unique prefix), with its manifest. Unknown: NOT_FOUND;
 * empty, malformed or ambiguous: INVALID_ARGUMENT.
 *
 * @example
 * inspectPod(ctx, { id: "0a1b2c3d" }).pod.state; // "POD_STATE_RUNNING"
 */
export function inspectPod(ctx: ApiContext, request: InspectPodRequest): { pod: Pod } {
  if (request.id === "") throw bad("InspectPod needs a pod id", "ListPods gives the pods' UUIDs");
  const ref = ctx.pods.find(request.id);
  return { pod: ctx.reader.pod(ref, LockTable.read(), ctx.catalog.snapshot(), true) };
}

function compareBig(x: bigint, y: bigint): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
