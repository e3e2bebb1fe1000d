/**
 * Kernel interfaces an app must not write (`readonlyPaths`) or see (`maskedPaths`): rkt's lists
 * (rkt-features §6, from its systemd `ReadOnlyPaths=` / `InaccessiblePaths=` units) merged with
 * Docker's defaults (moby oci/defaults.go). The runtime bind-mounts each read-only path onto itself
 * read-only, and covers each masked path with /dev/null (files) or an empty read-only tmpfs
 * (directories); paths this kernel does not have are skipped (runc, crun and runsc all ignore
 * ENOENT here). `--insecure-options=paths` drops both lists.
 */

/**
 * Made read-only. /proc/sys covers rkt's core_pattern, modprobe and panic_on_oom entries, which stay
 * listed so the list reads as rkt's.
 */
export const READONLY_PATHS: readonly string[] = [
  // rkt
  "/proc/bus",
  "/proc/sys/kernel/core_pattern",
  "/proc/sys/kernel/modprobe",
  "/proc/sys/vm/panic_on_oom",
  "/proc/sysrq-trigger",
  "/sys/block",
  "/sys/bus",
  "/sys/class",
  "/sys/dev",
  "/sys/devices",
  "/sys/kernel",
  // Docker
  "/proc/asound",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
];

/**
 * Made inaccessible. rkt also listed /sys/fs/; it is not masked here because masking it would hide
 * the read-only /sys/fs/cgroup mount apps read their limits from (rkt's apps saw their cgroup
 * files too); the rest of /sys is read-only anyway.
 */
export const MASKED_PATHS: readonly string[] = [
  // rkt
  "/sys/firmware",
  "/sys/hypervisor",
  "/sys/module",
  "/sys/power",
  "/proc/config.gz",
  "/proc/kallsyms",
  "/proc/sched_debug",
  "/proc/kcore",
  "/proc/kmem",
  "/proc/mem",
  // Docker
  "/proc/acpi",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/scsi",
  "/sys/devices/virtual/powercap",
];
