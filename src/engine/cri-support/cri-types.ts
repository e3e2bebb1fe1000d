/**
 * The parts of Kubernetes CRI messages (cri-api, pkg/apis/runtime/v1/api.proto; runtime.v1alpha2
 * is the same on the wire) that rkt's CRI support reads and writes, in the shape the gRPC layer
 * decodes them: field names as in the .proto (snake_case), every scalar present with its proto3
 * default ("" / 0 / false), absent messages `null`, 64-bit integers as decimal strings (they
 * carry nanosecond timestamps, beyond a double's 53 bits), enums by name. The CRI server passes
 * decoded requests straight in and encodes what comes back, so this file is the one contract
 * between the wire and the engine.
 */

/** int64/uint64 on the wire: a decimal string (a number is accepted when encoding). */
export type Int64 = string | number;

/** CRI `NamespaceMode`. */
export type CriNamespaceMode = "POD" | "CONTAINER" | "NODE" | "TARGET";

/** CRI `NamespaceOption`. */
export interface CriNamespaceOption {
  readonly network: CriNamespaceMode;
  readonly pid: CriNamespaceMode;
  readonly ipc: CriNamespaceMode;
  readonly target_id?: string;
}

/** CRI `SecurityProfile` (seccomp, apparmor). */
export interface CriSecurityProfile {
  readonly profile_type: "RuntimeDefault" | "Unconfined" | "Localhost";
  readonly localhost_ref: string;
}

/** CRI `Int64Value`: an optional int64. */
export interface CriInt64Value {
  readonly value: Int64;
}

/** CRI `PodSandboxMetadata`. */
export interface CriPodSandboxMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
}

/** CRI `PortMapping`. */
export interface CriPortMapping {
  readonly protocol: "TCP" | "UDP" | "SCTP";
  readonly container_port: number;
  readonly host_port: number;
  readonly host_ip: string;
}

/** CRI `DNSConfig`. */
export interface CriDnsConfig {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/** CRI `LinuxSandboxSecurityContext` (what rkt reads of it). */
export interface CriSandboxSecurityContext {
  readonly namespace_options: CriNamespaceOption | null;
  readonly privileged: boolean;
  readonly seccomp_profile_path?: string;
  readonly seccomp?: CriSecurityProfile | null;
}

/** CRI `LinuxPodSandboxConfig`. */
export interface CriLinuxPodSandboxConfig {
  readonly cgroup_parent: string;
  readonly security_context: CriSandboxSecurityContext | null;
  readonly sysctls: Readonly<Record<string, string>>;
}

/** CRI `PodSandboxConfig`. */
export interface CriPodSandboxConfig {
  readonly metadata: CriPodSandboxMetadata | null;
  readonly hostname: string;
  readonly log_directory: string;
  readonly dns_config: CriDnsConfig | null;
  readonly port_mappings: readonly CriPortMapping[];
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly linux: CriLinuxPodSandboxConfig | null;
}

/** CRI `ImageSpec`. */
export interface CriImageSpec {
  readonly image: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** CRI `Mount`. */
export interface CriMount {
  readonly container_path: string;
  readonly host_path: string;
  readonly readonly: boolean;
  readonly selinux_relabel: boolean;
  readonly propagation: "PROPAGATION_PRIVATE" | "PROPAGATION_HOST_TO_CONTAINER" | "PROPAGATION_BIDIRECTIONAL";
}

/** CRI `Device`. */
export interface CriDevice {
  readonly container_path: string;
  readonly host_path: string;
  readonly permissions: string;
}

/** CRI `LinuxContainerResources` (0 / "" = not specified). */
export interface CriLinuxContainerResources {
  readonly cpu_period: Int64;
  readonly cpu_quota: Int64;
  readonly cpu_shares: Int64;
  readonly memory_limit_in_bytes: Int64;
  readonly oom_score_adj: Int64;
  readonly cpuset_cpus: string;
  readonly cpuset_mems: string;
  readonly memory_swap_limit_in_bytes?: Int64;
}

/** CRI `Capability`. */
export interface CriCapability {
  readonly add_capabilities: readonly string[];
  readonly drop_capabilities: readonly string[];
}

/** CRI `LinuxContainerSecurityContext`. */
export interface CriContainerSecurityContext {
  readonly capabilities: CriCapability | null;
  readonly privileged: boolean;
  readonly namespace_options: CriNamespaceOption | null;
  readonly run_as_user: CriInt64Value | null;
  readonly run_as_group: CriInt64Value | null;
  readonly run_as_username: string;
  readonly readonly_rootfs: boolean;
  readonly supplemental_groups: readonly Int64[];
  readonly no_new_privs: boolean;
  readonly masked_paths: readonly string[];
  readonly readonly_paths: readonly string[];
  readonly seccomp?: CriSecurityProfile | null;
  readonly seccomp_profile_path: string;
}

/** CRI `ContainerMetadata`. */
export interface CriContainerMetadata {
  readonly name: string;
  readonly attempt: number;
}

/** CRI `ContainerConfig`. */
export interface CriContainerConfig {
  readonly metadata: CriContainerMetadata | null;
  readonly image: CriImageSpec | null;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly working_dir: string;
  readonly envs: readonly { readonly key: string; readonly value: string }[];
  readonly mounts: readonly CriMount[];
  readonly devices: readonly CriDevice[];
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly log_path: string;
  readonly stdin: boolean;
  readonly stdin_once: boolean;
  readonly tty: boolean;
  readonly linux: { readonly resources: CriLinuxContainerResources | null; readonly security_context: CriContainerSecurityContext | null } | null;
}

/** CRI `AuthConfig`. */
export interface CriAuthConfig {
  readonly username: string;
  readonly password: string;
  readonly auth: string;
  readonly server_address: string;
  readonly identity_token: string;
  readonly registry_token: string;
}

/** CRI `PodSandboxState`. */
export type CriSandboxState = "SANDBOX_READY" | "SANDBOX_NOTREADY";

/** CRI `ContainerState`. */
export type CriContainerState = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN";

/** CRI `PodSandbox` (list entry). */
export interface CriPodSandbox {
  readonly id: string;
  readonly metadata: CriPodSandboxMetadata;
  readonly state: CriSandboxState;
  readonly created_at: Int64;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly runtime_handler: string;
}

/** CRI `PodSandboxStatus`. */
export interface CriPodSandboxStatus extends CriPodSandbox {
  readonly network: { readonly ip: string; readonly additional_ips: { readonly ip: string }[] } | null;
  readonly linux: { readonly namespaces: { readonly options: CriNamespaceOption } } | null;
}

/** CRI `Container` (list entry). */
export interface CriContainer {
  readonly id: string;
  readonly pod_sandbox_id: string;
  readonly metadata: CriContainerMetadata;
  readonly image: CriImageSpec;
  readonly image_ref: string;
  readonly image_id: string;
  readonly state: CriContainerState;
  readonly created_at: Int64;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** CRI `ContainerStatus`. */
export interface CriContainerStatus {
  readonly id: string;
  readonly metadata: CriContainerMetadata;
  readonly state: CriContainerState;
  readonly created_at: Int64;
  readonly started_at: Int64;
  readonly finished_at: Int64;
  readonly exit_code: number;
  readonly image: CriImageSpec;
  readonly image_ref: string;
  readonly image_id: string;
  readonly reason: string;
  readonly message: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly mounts: CriMount[];
  readonly log_path: string;
  readonly resources: { readonly linux: CriLinuxContainerResources } | null;
}

/** CRI `Image`. */
export interface CriImage {
  readonly id: string;
  readonly repo_tags: string[];
  readonly repo_digests: string[];
  readonly size: Int64;
  readonly uid: CriInt64Value | null;
  readonly username: string;
  readonly spec: CriImageSpec | null;
  readonly pinned: boolean;
}

/** CRI `UInt64Value`. */
export interface CriUInt64Value {
  readonly value: Int64;
}

/** CRI `FilesystemUsage`. */
export interface CriFilesystemUsage {
  readonly timestamp: Int64;
  readonly fs_id: { readonly mountpoint: string };
  readonly used_bytes: CriUInt64Value;
  readonly inodes_used: CriUInt64Value;
}

/** CRI `CpuUsage`. */
export interface CriCpuUsage {
  readonly timestamp: Int64;
  readonly usage_core_nano_seconds: CriUInt64Value;
  readonly usage_nano_cores: CriUInt64Value | null;
}

/** CRI `MemoryUsage`. */
export interface CriMemoryUsage {
  readonly timestamp: Int64;
  readonly working_set_bytes: CriUInt64Value;
  readonly available_bytes: CriUInt64Value | null;
  readonly usage_bytes: CriUInt64Value;
  readonly rss_bytes: CriUInt64Value;
  readonly page_faults: CriUInt64Value;
  readonly major_page_faults: CriUInt64Value;
}

/** CRI `ContainerAttributes`. */
export interface CriContainerAttributes {
  readonly id: string;
  readonly metadata: CriContainerMetadata;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** CRI `ContainerStats`. */
export interface CriContainerStats {
  readonly attributes: CriContainerAttributes;
  readonly cpu: CriCpuUsage | null;
  readonly memory: CriMemoryUsage | null;
  readonly writable_layer: CriFilesystemUsage | null;
}

/** CRI `PodSandboxStats`. */
export interface CriPodSandboxStats {
  readonly attributes: { readonly id: string; readonly metadata: CriPodSandboxMetadata; readonly labels: Record<string, string>; readonly annotations: Record<string, string> };
  readonly linux: {
    readonly cpu: CriCpuUsage | null;
    readonly memory: CriMemoryUsage | null;
    readonly network: {
      readonly timestamp: Int64;
      readonly default_interface: CriNetworkInterfaceUsage | null;
      readonly interfaces: CriNetworkInterfaceUsage[];
    } | null;
    readonly process: { readonly timestamp: Int64; readonly process_count: CriUInt64Value } | null;
    readonly containers: CriContainerStats[];
  };
}

/** CRI `NetworkInterfaceUsage`. */
export interface CriNetworkInterfaceUsage {
  readonly name: string;
  readonly rx_bytes: CriUInt64Value;
  readonly rx_errors: CriUInt64Value;
  readonly tx_bytes: CriUInt64Value;
  readonly tx_errors: CriUInt64Value;
}

/** Nanoseconds since the epoch of `date` (ms precision), as CRI's int64 timestamps. */
export function nanos(date: Date | undefined): string {
  return date === undefined ? "0" : (BigInt(date.getTime()) * 1_000_000n).toString();
}

/** Now, in nanoseconds since the epoch (microsecond precision). */
export function nowNanos(): string {
  return (BigInt(Math.round(performance.timeOrigin * 1000 + performance.now() * 1000)) * 1000n).toString();
}
