/**
 * ListPods filters (rkt's semantics, api.proto `PodFilter`): within one filter every condition
 * must hold; a pod is listed when it matches any filter, or when there are none. A filter that
 * cannot match anything by construction (a malformed UUID, an unknown state) is the caller's
 * mistake and fails the request with INVALID_ARGUMENT instead of returning nothing.
 */
import { RktError } from "../lib/errors.js";
import { digestForm } from "./image-view.js";
import { keyValueMap } from "./pod-view.js";
import { POD_STATE_NAMES, type KeyValue, type Pod, type PodFilter } from "./v1alpha-messages.js";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Throws RktError "invalid-argument" naming the first malformed condition of `filters`.
 *
 * @example
 * checkPodFilters([{ ...emptyFilter, ids: ["not-a-uuid"] }]); // throws
 */
export function checkPodFilters(filters: readonly PodFilter[]): void {
  filters.forEach((f, i) => {
    const where = `filters[${i}]`;
    for (const id of f.ids) if (!UUID_RE.test(id)) throw bad(`${where}.ids: "${id}" is not a pod UUID`, "pod UUIDs look like 0a1b2c3d-...; ListPods gives them");
    for (const s of f.states) {
      if (typeof s !== "string" || !(POD_STATE_NAMES as readonly string[]).includes(s)) throw bad(`${where}.states: unknown pod state ${String(s)}`);
    }
    for (const id of f.image_ids) if (digestForm(id) === undefined) throw bad(`${where}.image_ids: "${id}" is not an image ID`, "give a full ID, sha256-<64 hex digits>");
    checkNonEmpty(f.app_names, `${where}.app_names`);
    checkNonEmpty(f.network_names, `${where}.network_names`);
    checkKeys(f.annotations, `${where}.annotations`);
    for (const c of [...f.cgroups, ...f.pod_sub_cgroups]) if (!c.startsWith("/")) throw bad(`${where}: cgroup "${c}" is not an absolute cgroup path`);
  });
}

/**
 * Whether `pod` passes `filters` (any of them; all pods when empty).
 *
 * @example
 * pods.filter((p) => matchesPodFilters(p, request.filters));
 */
export function matchesPodFilters(pod: Pod, filters: readonly PodFilter[]): boolean {
  return filters.length === 0 || filters.some((f) => matchesPodFilter(pod, f));
}

function matchesPodFilter(pod: Pod, f: PodFilter): boolean {
  if (f.ids.length > 0 && !f.ids.includes(pod.id)) return false;
  if (f.states.length > 0 && !f.states.includes(pod.state)) return false;
  const apps = new Set(pod.apps.map((a) => a.name));
  if (!f.app_names.every((n) => apps.has(n))) return false;
  const images = new Set(pod.apps.map((a) => digestForm(a.image.id)));
  if (!f.image_ids.every((id) => images.has(digestForm(id)))) return false;
  const nets = new Set(pod.networks.map((n) => n.name));
  if (!f.network_names.every((n) => nets.has(n))) return false;
  if (!containsAll(pod.annotations, f.annotations)) return false;
  if (f.cgroups.length > 0 && !f.cgroups.includes(pod.cgroup)) return false;
  if (f.pod_sub_cgroups.length > 0 && (pod.cgroup === "" || !f.pod_sub_cgroups.some((c) => c.startsWith(pod.cgroup)))) return false;
  return true;
}

/** Whether every required key-value is in `actual` with that value. */
export function containsAll(actual: readonly KeyValue[], required: readonly KeyValue[]): boolean {
  if (required.length === 0) return true;
  const map = keyValueMap(actual);
  return required.every((kv) => map.get(kv.Key) === kv.value);
}

/** Throws invalid-argument for an empty string in `values`. */
export function checkNonEmpty(values: readonly string[], where: string): void {
  if (values.some((v) => v === "")) throw bad(`${where}: empty value`);
}

/** Throws invalid-argument for a key-value without a key. */
export function checkKeys(values: readonly KeyValue[], where: string): void {
  if (values.some((kv) => kv.Key === "")) throw bad(`${where}: a key-value has an empty key`);
}

/** An invalid-argument error about a request. */
export function bad(message: string, hint?: string): RktError {
  return new RktError("invalid-argument", message, { hint });
}
