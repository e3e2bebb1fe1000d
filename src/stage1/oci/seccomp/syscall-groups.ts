/**
 * The named syscall sets of `--seccomp` and the appc seccomp isolators: appc's `@appc.io/all` and
 * `@appc.io/empty`, rkt's `@rkt/default-whitelist` and `@rkt/default-blacklist`, Docker's
 * `@docker/default-whitelist` and `@docker/default-blacklist`, and systemd's groups as rkt exposed
 * them (`@systemd/mount`, ...).
 *
 * The whitelist is the allow-list of Docker's default profile (moby profiles/seccomp/default.json,
 * 2024): the calls every container may make, whatever its capabilities. rkt's own 2016 copy of it
 * predates statx, rseq, clone3, openat2, pidfd_* and the 64-bit time calls, without which current
 * C libraries fail, so `@rkt/default-whitelist` is this same list, as rkt always meant it to be
 * ("rkt tries not to diverge from docker here"). Docker's profile also allows some calls only to
 * apps holding a capability ({@link CAPABILITY_SYSCALLS}) or on one architecture
 * ({@link ARCH_SYSCALLS}), and filters the arguments of clone and personality; the default profile
 * (seccomp-profile.ts) applies those rules, a plain whitelist names only the calls.
 */
import type { CapabilityName } from "../capabilities.js";

const words = (text: string): readonly string[] => text.split(/\s+/).filter((w) => w !== "");

/**
 * Docker's default allow-list: calls allowed to every app, without conditions (see the module
 * comment). ptrace is among them, as in Docker since Linux 4.8 closed the seccomp bypass through
 * it: an app can only trace its own pod's processes, with the kernel's usual permission checks.
 */
export const UNCONDITIONAL_SYSCALLS: readonly string[] = words(`
  _llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod
  chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
  clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range
  creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
  epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
  fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32
  fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
  fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64
  futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area getcpu getcwd getdents
  getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
  getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid
  getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32
  getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy
  io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc
  kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr
  link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise
  map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
  mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
  mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
  msgsnd msync munlock munlockall munmap nanosleep newfstatat open openat openat2 pause pidfd_open
  pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl
  pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 ptrace pwrite64 pwritev
  pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
  remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
  sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
  sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid
  setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
  setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
  setsid setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
  signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat stat64 statfs statfs64
  statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
  timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
  timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill
  truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes
  vfork vmsplice wait4 waitid waitpid write writev
`);

/**
 * Calls Docker's profile allows only to an app whose bounding set holds the capability: the
 * kernel would refuse most of them anyway, the filter removes the attack surface of the rest.
 * CAP_SYS_ADMIN also lifts the argument filter on clone (namespace flags) and allows clone3.
 */
export const CAPABILITY_SYSCALLS: Readonly<Partial<Record<CapabilityName, readonly string[]>>> = {
  CAP_BPF: ["bpf"],
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_PERFMON: ["perf_event_open"],
  CAP_SYS_ADMIN: words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
    move_mount name_to_handle_at open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns
    syslog umount umount2 unshare`),
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "finit_module", "init_module"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
  CAP_SYS_RAWIO: ["ioperm", "iopl"],
  CAP_SYS_TIME: ["clock_settime", "clock_settime64", "settimeofday", "stime"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYSLOG: ["syslog"],
};

/** Calls Docker's profile allows on one architecture family only (Node's `process.arch` names). */
export const ARCH_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  x64: ["arch_prctl", "modify_ldt"],
  ia32: ["modify_ldt"],
  arm64: ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"],
  arm: ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"],
};

/**
 * Docker's documented list of significant calls its default profile blocks (docs/security/seccomp.md),
 * which rkt took as its default blacklist.
 */
export const DOCKER_DEFAULT_BLACKLIST: readonly string[] = words(`
  acct add_key adjtimex bpf clock_adjtime clock_settime create_module delete_module finit_module
  get_kernel_syms get_mempolicy init_module ioperm iopl kcmp kexec_file_load kexec_load keyctl
  lookup_dcookie mbind mount move_pages name_to_handle_at nfsservctl open_by_handle_at perf_event_open
  pivot_root process_vm_readv process_vm_writev ptrace query_module quotactl reboot request_key
  set_mempolicy setns settimeofday stime swapon swapoff sysfs _sysctl umount umount2 unshare uselib
  userfaultfd ustat vm86 vm86old
`);

const SYSTEMD_RAW_IO = words("ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write");
const SYSTEMD_CLOCK = words("adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday stime");

/** systemd's SystemCallFilter= groups (systemd.exec(5)) that rkt offered as `@systemd/<name>`. */
export const SYSTEMD_GROUPS: Readonly<Record<string, readonly string[]>> = {
  clock: SYSTEMD_CLOCK,
  "default-whitelist": words(`
    arch_prctl brk cacheflush clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 execve exit exit_group futex futex_time64 get_robust_list get_thread_area getegid
    getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid getppid getrandom
    getresgid getresgid32 getresuid getresuid32 getrlimit getsid gettid gettimeofday getuid getuid32 membarrier
    mmap mmap2 mprotect munmap nanosleep pause prlimit64 restart_syscall rseq rt_sigreturn sched_getaffinity
    sched_yield set_robust_list set_thread_area set_tid_address set_tls sigreturn time ugetrlimit`),
  mount: words("chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree pivot_root umount umount2"),
  "network-io": words(`accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg
    recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socket socketcall socketpair`),
  obsolete: words(`_sysctl afs_syscall bdflush break create_module ftime get_kernel_syms getpmsg gtty idle lock mpx
    prof profil putpmsg query_module security sgetmask ssetmask stty sysfs tuxcall ulimit uselib ustat vserver`),
  privileged: words(`_sysctl acct bpf capset chown chown32 chroot delete_module fanotify_init fchown fchown32
    fchownat finit_module init_module kexec_file_load kexec_load lchown lchown32 nfsservctl open_by_handle_at
    pivot_root quotactl reboot setdomainname setfsuid setfsuid32 setgroups setgroups32 sethostname setresuid
    setresuid32 setreuid setreuid32 setuid setuid32 swapoff swapon vhangup`).concat(SYSTEMD_CLOCK, SYSTEMD_RAW_IO),
  process: words(`arch_prctl capget clone clone3 execveat fork getrusage kill pidfd_open pidfd_send_signal prctl
    rt_sigqueueinfo rt_tgsigqueueinfo setns swapcontext tgkill times tkill unshare vfork wait4 waitid waitpid`),
  "raw-io": SYSTEMD_RAW_IO,
};

/**
 * Calls the default profile allows only with some arguments: clone without namespace flags, and
 * personality with the few personas Docker lists.
 */
export const ARGUMENT_FILTERED_SYSCALLS: readonly string[] = ["clone", "personality"];

/**
 * `@docker/default-whitelist` and `@rkt/default-whitelist` as plain lists: the unconditional
 * calls, the argument-filtered ones without their filters, chroot (CAP_SYS_CHROOT is a default
 * capability) and every architecture's extras (the runtime skips names its architecture lacks),
 * as rkt's list had them.
 */
export const DOCKER_DEFAULT_WHITELIST: readonly string[] = [
  ...new Set([...UNCONDITIONAL_SYSCALLS, ...ARGUMENT_FILTERED_SYSCALLS, "chroot", ...Object.values(ARCH_SYSCALLS).flat()]),
];

/** The `@scope/name` groups, with the calls each stands for. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  "@docker/default-whitelist": DOCKER_DEFAULT_WHITELIST,
  "@docker/default-blacklist": DOCKER_DEFAULT_BLACKLIST,
  "@rkt/default-whitelist": DOCKER_DEFAULT_WHITELIST,
  "@rkt/default-blacklist": DOCKER_DEFAULT_BLACKLIST,
  ...Object.fromEntries(Object.entries(SYSTEMD_GROUPS).map(([name, calls]) => [`@systemd/${name}`, calls])),
};

/** Every group name a set may use, appc's two included. */
export const SYSCALL_GROUP_NAMES: readonly string[] = ["@appc.io/all", "@appc.io/empty", ...Object.keys(GROUPS)];

/**
 * The calls a group stands for; undefined for an unknown name and for appc's `@appc.io/all` and
 * `@appc.io/empty`, which are not lists but switches (see seccomp-set.ts).
 *
 * @example
 * syscallGroup("@systemd/mount")?.includes("mount"); // true
 */
export function syscallGroup(name: string): readonly string[] | undefined {
  return Object.hasOwn(GROUPS, name) ? GROUPS[name] : undefined;
}
