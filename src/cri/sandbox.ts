/**
 * RuntimeService RPCs of pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
 * PodSandboxStatus, ListPodSandbox. The rules (idempotence, all-or-nothing start) are the
 * engine's: src/engine/cri-support/cri-sandbox.ts.
 */
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { checkSandboxId } from "../engine/cri-support/cri-ids.js";
import { listSandboxes, removeSandbox, runSandbox, sandboxStatus, stopSandbox, type SandboxFilter } from "../engine/cri-support/cri-sandbox.js";
import type { CriPodSandboxConfig } from "../engine/cri-support/cri-types.js";
import { RktError } from "../lib/errors.js";
import type { CriHandlers } from "./cri-handlers.js";

/**
 * The sandbox RPCs over `ctx`.
 *
 * @example
 * server.addService(v1.runtime, { ...wrap(sandboxHandlers(ctx)), ... });
 */
export function sandboxHandlers(ctx: CriContext): CriHandlers {
  return {
    RunPodSandbox: async (req: { readonly config: CriPodSandboxConfig | null; readonly runtime_handler: string }) => {
      if (req.config === null) throw new RktError("invalid-argument", "RunPodSandbox needs a sandbox config");
      return { pod_sandbox_id: await runSandbox(ctx, req.config, req.runtime_handler) };
    },
    // api.proto: idempotent; "must not return an error if all relevant resources have already
    // been reclaimed" (an unknown sandbox included, as CRI-O does).
    StopPodSandbox: async (req: { readonly pod_sandbox_id: string }) => {
      await stopSandbox(ctx, checkSandboxId(req.pod_sandbox_id));
      return {};
    },
    // api.proto: idempotent; "must not return an error if the sandbox has already been removed".
    RemovePodSandbox: async (req: { readonly pod_sandbox_id: string }) => {
      await removeSandbox(ctx, checkSandboxId(req.pod_sandbox_id));
      return {};
    },
    // api.proto: "If the PodSandbox is not present, returns an error" (NOT_FOUND).
    PodSandboxStatus: (req: { readonly pod_sandbox_id: string; readonly verbose: boolean }) => Promise.resolve(sandboxStatus(ctx, checkSandboxId(req.pod_sandbox_id), req.verbose)),
    ListPodSandbox: (req: { readonly filter: SandboxFilter | null }) => Promise.resolve({ items: listSandboxes(ctx, req.filter) }),
  };
}
