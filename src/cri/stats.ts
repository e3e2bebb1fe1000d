/**
 * RuntimeService RPCs of resource usage: ContainerStats, ListContainerStats, PodSandboxStats,
 * ListPodSandboxStats (from cgroups, src/engine/cri-support/cri-stats.ts), and the metrics RPCs,
 * which describe no metrics (the kubelet then relies on the stats).
 */
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { containerStats, listContainerStats, listPodSandboxStats, podSandboxStats, type ContainerStatsFilter, type SandboxStatsFilter } from "../engine/cri-support/cri-stats.js";
import { checkSandboxId } from "../engine/cri-support/cri-ids.js";
import type { CriHandlers } from "./cri-handlers.js";

/** The stats RPCs over `ctx`. */
export function statsHandlers(ctx: CriContext): CriHandlers {
  return {
    ContainerStats: (req: { readonly container_id: string }) => Promise.resolve({ stats: containerStats(ctx, req.container_id) }),
    ListContainerStats: async (req: { readonly filter: ContainerStatsFilter | null }) => ({ stats: await listContainerStats(ctx, req.filter) }),
    PodSandboxStats: async (req: { readonly pod_sandbox_id: string }) => ({ stats: await podSandboxStats(ctx, checkSandboxId(req.pod_sandbox_id)) }),
    ListPodSandboxStats: async (req: { readonly filter: SandboxStatsFilter | null }) => ({ stats: await listPodSandboxStats(ctx, req.filter) }),
    ListMetricDescriptors: () => Promise.resolve({ descriptors: [] }),
    ListPodSandboxMetrics: () => Promise.resolve({ pod_metrics: [] }),
  };
}
