/**
 * The v1alpha messages (proto/v1alpha/api.proto) as the service's handlers see them: decoded by
 * @grpc/proto-loader with field names as in the .proto (`keepCase`), enums as their names, 64-bit
 * integers as decimal strings (nanosecond times do not fit a JS number), and every field present
 * (`defaults`, `arrays`). Requests are still checked (request-checks.ts): an enum number this
 * file does not know arrives as a number, not a name.
 */

/** proto-loader's options for this API; the types below depend on them. */
export const PROTO_LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, arrays: true } as const;

/** An int64 on the wire, as a decimal string. */
export type Int64 = string;

/** `ImageType` names. */
export type ImageTypeName = "IMAGE_TYPE_UNDEFINED" | "IMAGE_TYPE_APPC" | "IMAGE_TYPE_DOCKER" | "IMAGE_TYPE_OCI";
/** `AppState` names. */
export type AppStateName = "APP_STATE_UNDEFINED" | "APP_STATE_RUNNING" | "APP_STATE_EXITED";

/** PodState names, in enum order. */
export const POD_STATE_NAMES = [
  "POD_STATE_UNDEFINED",
  "POD_STATE_EMBRYO",
  "POD_STATE_PREPARING",
  "POD_STATE_PREPARED",
  "POD_STATE_RUNNING",
  "POD_STATE_ABORTED_PREPARE",
  "POD_STATE_EXITED",
  "POD_STATE_DELETING",
  "POD_STATE_GARBAGE",
] as const;
/** One of {@link POD_STATE_NAMES}. */
export type PodStateName = (typeof POD_STATE_NAMES)[number];

/** EventType names this service knows. */
export const EVENT_TYPE_NAMES = [
  "EVENT_TYPE_UNDEFINED",
  "EVENT_TYPE_POD_PREPARED",
  "EVENT_TYPE_POD_PREPARE_ABORTED",
  "EVENT_TYPE_POD_STARTED",
  "EVENT_TYPE_POD_EXITED",
  "EVENT_TYPE_POD_GARBAGE_COLLECTED",
  "EVENT_TYPE_APP_STARTED",
  "EVENT_TYPE_APP_EXITED",
  "EVENT_TYPE_IMAGE_IMPORTED",
  "EVENT_TYPE_IMAGE_REMOVED",
  "EVENT_TYPE_POD_REMOVED",
] as const;
/** One of {@link EVENT_TYPE_NAMES}. */
export type EventTypeName = (typeof EVENT_TYPE_NAMES)[number];

/** `KeyValue`: the capital K is rkt's field name. */
export interface KeyValue {
  Key: string;
  value: string;
}

/** `ImageFormat`. */
export interface ImageFormat {
  type: ImageTypeName;
  version: string;
}

/** `Image`: an image of the store (image-view.ts). */
export interface Image {
  base_format: ImageFormat;
  id: string;
  name: string;
  version: string;
  import_timestamp: Int64;
  manifest: Buffer;
  size: Int64;
  annotations: KeyValue[];
  labels: KeyValue[];
}

/** `Network`: a network a pod joined. */
export interface Network {
  name: string;
  ipv4: string;
  ipv6: string;
}

/** `App`: an app of a pod. */
export interface App {
  name: string;
  image: Image;
  state: AppStateName;
  exit_code: number;
  annotations: KeyValue[];
}

/** `Pod` (pod-view.ts). */
export interface Pod {
  id: string;
  pid: number;
  state: PodStateName;
  apps: App[];
  networks: Network[];
  manifest: Buffer;
  annotations: KeyValue[];
  cgroup: string;
  created_at: Int64;
  started_at: Int64;
  gc_marked_at: Int64;
}

/** A request's enum field: a name, or the number when the name is unknown. */
export type EnumIn<N extends string> = N | number;

/** `PodFilter` (pod-filter.ts). */
export interface PodFilter {
  ids: string[];
  states: EnumIn<PodStateName>[];
  app_names: string[];
  image_ids: string[];
  network_names: string[];
  annotations: KeyValue[];
  cgroups: string[];
  pod_sub_cgroups: string[];
}

/** `ImageFilter` (image-filter.ts). */
export interface ImageFilter {
  ids: string[];
  prefixes: string[];
  base_names: string[];
  keywords: string[];
  labels: KeyValue[];
  imported_after: Int64;
  imported_before: Int64;
  annotations: KeyValue[];
  full_names: string[];
}

/** `GlobalFlags`: the service's global flags. */
export interface GlobalFlags {
  dir: string;
  system_config_dir: string;
  local_config_dir: string;
  user_config_dir: string;
  insecure_flags: string;
  trust_keys_from_https: boolean;
}

/** `Info`: what GetInfo answers. */
export interface Info {
  rkt_version: string;
  appc_version: string;
  api_version: string;
  global_flags: GlobalFlags;
}

/** `Event` (events-rpc.ts). */
export interface Event {
  type: EventTypeName;
  id: string;
  from: string;
  time: Int64;
  data: KeyValue[];
}

/** `EventFilter`. */
export interface EventFilter {
  types: EnumIn<EventTypeName>[];
  ids: string[];
  names: string[];
  since_time: Int64;
  until_time: Int64;
}

/** `ListPodsRequest`. */
export interface ListPodsRequest {
  filters: PodFilter[];
  detail: boolean;
}
/** `InspectPodRequest`. */
export interface InspectPodRequest {
  id: string;
}
/** `ListImagesRequest`. */
export interface ListImagesRequest {
  filters: ImageFilter[];
  detail: boolean;
}
/** `InspectImageRequest`. */
export interface InspectImageRequest {
  id: string;
}
/** `ListenEventsRequest`. */
export interface ListenEventsRequest {
  /** Absent when the client sent none (proto-loader leaves message fields null). */
  filter: EventFilter | null;
}
/** `GetLogsRequest`. */
export interface GetLogsRequest {
  pod_id: string;
  app_name: string;
  lines: number;
  follow: boolean;
  since_time: Int64;
  until_time: Int64;
}
