/**
 * What every RPC handler of the API service reads from: the data directory's pod and image
 * stores, the readers that turn them into v1alpha messages, the events hub and the service's
 * fixed info. Built once per service by api-server.ts.
 */
import type { ImageStore } from "../image/store/image-store.js";
import type { PodStore } from "../pod/pod-store.js";
import type { EventHub } from "./event-hub.js";
import type { ImageCatalog } from "./image-view.js";
import type { PodReader } from "./pod-view.js";
import type { Info } from "./v1alpha-messages.js";

/** See the module comment. */
export interface ApiContext {
  readonly dataDir: string;
  readonly pods: PodStore;
  readonly images: ImageStore;
  readonly catalog: ImageCatalog;
  readonly reader: PodReader;
  readonly hub: EventHub;
  readonly info: Info;
}
