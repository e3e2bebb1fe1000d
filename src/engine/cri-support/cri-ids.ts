/**
 * CRI identifiers for rkt's pods and apps, derived from what is on disk so that a restarted
 * server gives the same answers: a sandbox ID is the pod UUID; a container ID is the pod UUID, a
 * dash and the app name (`<uuid>-<app>`). The UUID has a fixed length, so the split is
 * unambiguous. Only letters, digits and dashes: the kubelet builds file names from container IDs
 * (`/var/log/containers/<pod>_<ns>_<container>-<id>.log`), so no `/` or `_`.
 */
import { RktError } from "../../lib/errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const APP = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A container ID taken apart. */
export interface ContainerRef {
  readonly uuid: string;
  readonly app: string;
}

/**
 * The container ID of app `app` of pod `uuid`.
 *
 * @example
 * criContainerId("2d4f...-...", "nginx-0"); // "2d4f...-...-nginx-0"
 */
export function criContainerId(uuid: string, app: string): string {
  return `${uuid}-${app}`;
}

/**
 * Takes a container ID apart. Throws RktError "invalid-argument" for anything that is not one
 * (empty, wrong shape), naming it.
 *
 * @example
 * parseContainerId("2d4f...-nginx-0"); // { uuid: "2d4f...", app: "nginx-0" }
 */
export function parseContainerId(id: string): ContainerRef {
  const uuid = id.slice(0, 36);
  const app = id.slice(37);
  if (!UUID.test(uuid) || id[36] !== "-" || !APP.test(app)) {
    throw new RktError("invalid-argument", id === "" ? "the container ID is empty" : `"${id}" is not a container ID of this runtime`, { hint: "container IDs are <pod uuid>-<app name>; see ListContainers" });
  }
  return { uuid, app };
}

/**
 * Checks a sandbox ID (a pod UUID; prefixes are not accepted, as IDs come from this runtime).
 * Throws RktError "invalid-argument" otherwise.
 */
export function checkSandboxId(id: string): string {
  if (!UUID.test(id)) {
    throw new RktError("invalid-argument", id === "" ? "the sandbox ID is empty" : `"${id}" is not a sandbox ID of this runtime`, { hint: "sandbox IDs are pod UUIDs; see ListPodSandbox" });
  }
  return id;
}

/**
 * The app name of a CRI container: its name made an app name (lowercase letters, digits, single
 * dashes) and its attempt, so that (name, attempt), unique within a sandbox by the CRI's rule,
 * gives a unique app: `nginx` attempt 0 is `nginx-0`. Names made only of other characters become
 * `container`.
 *
 * @example
 * criAppName({ name: "Web_Server", attempt: 2 }); // "web-server-2"
 */
export function criAppName(metadata: { readonly name: string; readonly attempt: number }): string {
  const base = metadata.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 200).replace(/^-+|-+$/g, "");
  return `${base === "" ? "container" : base}-${metadata.attempt}`;
}
