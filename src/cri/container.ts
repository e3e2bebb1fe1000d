/**
 * RuntimeService RPCs of containers: CreateContainer, StartContainer, StopContainer,
 * RemoveContainer, ListContainers, ContainerStatus, UpdateContainerResources,
 * ReopenContainerLog. The rules are the engine's: src/engine/cri-support/cri-container.ts.
 */
import type { CriContext } from "../engine/cri-support/cri-context.js";
import {
  containerStatus,
  createContainer,
  listContainers,
  removeContainer,
  reopenContainerLog,
  startContainer,
  stopContainer,
  updateContainerResources,
  type ContainerFilter,
} from "../engine/cri-support/cri-container.js";
import { checkSandboxId } from "../engine/cri-support/cri-ids.js";
import type { CriContainerConfig, CriLinuxContainerResources } from "../engine/cri-support/cri-types.js";
import { RktError } from "../lib/errors.js";
import type { CriHandlers } from "./cri-handlers.js";

/** The container RPCs over `ctx`. */
export function containerHandlers(ctx: CriContext): CriHandlers {
  return {
    CreateContainer: async (req: { readonly pod_sandbox_id: string; readonly config: CriContainerConfig | null }) => {
      if (req.config === null) throw new RktError("invalid-argument", "CreateContainer needs a container config");
      return { container_id: await createContainer(ctx, checkSandboxId(req.pod_sandbox_id), req.config) };
    },
    StartContainer: async (req: { readonly container_id: string }) => {
      await startContainer(ctx, req.container_id);
      return {};
    },
    // api.proto: idempotent, and "must forcibly kill the container after the grace period".
    StopContainer: async (req: { readonly container_id: string; readonly timeout: string }) => {
      await stopContainer(ctx, req.container_id, Number(req.timeout));
      return {};
    },
    // api.proto: idempotent; a running container "must be forcibly removed".
    RemoveContainer: async (req: { readonly container_id: string }) => {
      await removeContainer(ctx, req.container_id);
      return {};
    },
    ListContainers: async (req: { readonly filter: ContainerFilter | null }) => ({ containers: await listContainers(ctx, req.filter) }),
    // api.proto: "If the container is not present, returns an error" (NOT_FOUND).
    ContainerStatus: (req: { readonly container_id: string; readonly verbose: boolean }) => containerStatus(ctx, req.container_id, req.verbose),
    UpdateContainerResources: async (req: { readonly container_id: string; readonly linux: CriLinuxContainerResources | null }) => {
      await updateContainerResources(ctx, req.container_id, req.linux);
      return {};
    },
    ReopenContainerLog: async (req: { readonly container_id: string }) => {
      await reopenContainerLog(ctx, req.container_id);
      return {};
    },
  };
}
