/*
 * The breakout suite's probe (breakout.test.ts compiles it with `cc -static` into a test image).
 * Each attempt makes the one system call an escape would start with and prints one line,
 * `<attempt>\t<result>`, where result is "ok" (optionally ":detail") or the errno name.
 * Nothing here writes anything new to the host: writes put back the value just read, disks are
 * opened read-only, the module loaded is /dev/null.
 *
 *   breakout-probe ROOT_MAJOR ROOT_MINOR HOST_MARKER HOST_PID
 *
 * ROOT_MAJOR:ROOT_MINOR is the host's root disk, HOST_MARKER a file on the host's root that the
 * pod must not reach, HOST_PID a process outside the pod.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *errname(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case EBADF: return "EBADF";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case ENOTDIR: return "ENOTDIR";
  case EINVAL: return "EINVAL";
  case EROFS: return "EROFS";
  case ENOSYS: return "ENOSYS";
  case ENOEXEC: return "ENOEXEC";
  case ENOKEY: return "ENOKEY";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  default: {
    static char buf[32];
    snprintf(buf, sizeof buf, "errno%d", e);
    return buf;
  }
  }
}

static void report(const char *attempt, int rc, const char *detail) {
  if (rc < 0) printf("%s\t%s\n", attempt, errname(errno));
  else if (detail != NULL && detail[0] != '\0') printf("%s\tok:%s\n", attempt, detail);
  else printf("%s\tok\n", attempt);
  fflush(stdout);
}

/* Reads a file and writes the same bytes back: proves write access without changing anything. */
static int rewrite(const char *path) {
  char buf[256];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) { errno = EIO; return -1; }
  /* sysfs multiple-choice files show "a [b] c": write back the chosen one. */
  buf[n] = '\0';
  char *open_br = strchr(buf, '['), *close_br = open_br ? strchr(open_br, ']') : NULL;
  const char *value = buf;
  size_t len = (size_t)n;
  if (open_br && close_br) { value = open_br + 1; len = (size_t)(close_br - open_br - 1); }
  fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  ssize_t w = write(fd, value, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return w < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: breakout-probe ROOT_MAJOR ROOT_MINOR HOST_MARKER HOST_PID\n"); return 2; }
  unsigned root_major = (unsigned)atoi(argv[1]), root_minor = (unsigned)atoi(argv[2]);
  const char *marker = argv[3];
  char detail[128];
  int rc;

  mkdir("/probe-mnt", 0755);
  report("mount a tmpfs", mount("none", "/probe-mnt", "tmpfs", 0, NULL), NULL);

  report("unshare a mount namespace", unshare(CLONE_NEWNS), NULL);

  int nsfd = open("/proc/self/ns/net", O_RDONLY);
  report("setns into a network namespace", nsfd < 0 ? -1 : setns(nsfd, CLONE_NEWNET), NULL);

  int nullfd = open("/dev/null", O_RDONLY);
  rc = (int)syscall(SYS_finit_module, nullfd, "", 0);
  /* Any answer but EPERM (and ENOSYS: a kernel without modules) means the call reached the
   * module loader with the right to load: only the empty "module" stopped it. */
  if (rc < 0 && errno != EPERM && errno != ENOSYS) { snprintf(detail, sizeof detail, "loader said %s", errname(errno)); rc = 0; } else detail[0] = '\0';
  report("load a kernel module", rc, detail);

  pid_t host_pid = (pid_t)atoi(argv[4]);
  rc = (int)ptrace(PTRACE_ATTACH, host_pid, NULL, NULL);
  if (rc == 0) ptrace(PTRACE_DETACH, host_pid, NULL, NULL);
  report("ptrace a process outside the pod", rc, NULL);

  report("write /proc/sys", rewrite("/proc/sys/vm/swappiness"), NULL);

  rc = rewrite("/sys/kernel/mm/transparent_hugepage/enabled");
  if (rc < 0 && errno == EROFS) {
    /* An escape would try to make /sys writable first. */
    if (mount(NULL, "/sys", NULL, MS_REMOUNT, NULL) == 0) rc = rewrite("/sys/kernel/mm/transparent_hugepage/enabled");
    else errno = EROFS;
  }
  report("write /sys", rc, NULL);

  report("write the app's cgroup limits", rewrite("/sys/fs/cgroup/pids/pids.max"), NULL);

  int fd = open("/proc/kcore", O_RDONLY);
  char byte;
  if (fd < 0) rc = -1;
  else {
    ssize_t n = read(fd, &byte, 1);
    rc = n == 1 ? 0 : -1;
    if (n == 0) errno = ENODATA;
    close(fd);
  }
  if (rc < 0 && errno == ENODATA) printf("read /proc/kcore\tEMPTY\n");
  else report("read /proc/kcore", rc, NULL);

  FILE *ks = fopen("/proc/kallsyms", "r");
  if (ks == NULL) report("read /proc/kallsyms", -1, NULL);
  else {
    char line[256];
    if (fgets(line, sizeof line, ks) == NULL) printf("read /proc/kallsyms\tEMPTY\n");
    else if (strncmp(line, "0000000000000000", 16) == 0) printf("read /proc/kallsyms\tZEROED\n");
    else printf("read /proc/kallsyms\tok:addresses\n");
    fclose(ks);
  }

  fd = open("/dev/vda", O_RDONLY);
  if (fd < 0) fd = open("/dev/sda", O_RDONLY);
  if (fd >= 0) { rc = read(fd, detail, 1) == 1 ? 0 : -1; close(fd); } else rc = -1;
  report("read the host disk through /dev", rc, NULL);

  rc = mknod("/probe-disk", S_IFBLK | 0600, makedev(root_major, root_minor));
  if (rc < 0) printf("mknod the host disk and read it\tmknod:%s\n", errname(errno));
  else {
    fd = open("/probe-disk", O_RDONLY);
    if (fd >= 0) { rc = read(fd, detail, 1) == 1 ? 0 : -1; close(fd); } else rc = -1;
    report("mknod the host disk and read it", rc, NULL);
  }

  /* The host's kernel log (char 1:11), a device every Linux host has and root can read. */
  rc = mknod("/probe-kmsg", S_IFCHR | 0600, makedev(1, 11));
  if (rc < 0) printf("mknod /dev/kmsg and read the host's log\tmknod:%s\n", errname(errno));
  else {
    static char record[8192]; /* /dev/kmsg reads whole records: a short buffer gets EINVAL */
    fd = open("/probe-kmsg", O_RDONLY | O_NONBLOCK);
    if (fd >= 0) { rc = read(fd, record, sizeof record) > 0 ? 0 : -1; close(fd); } else rc = -1;
    report("mknod /dev/kmsg and read the host's log", rc, NULL);
  }

  rc = sethostname("breakout-probe", strlen("breakout-probe"));
  report("sethostname", rc, NULL);

  rc = (int)syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -4 /* KEY_SPEC_USER_KEYRING */, 0);
  report("keyctl (the user keyring)", rc, NULL);

  char path[512];
  snprintf(path, sizeof path, "/proc/1/root%s", marker);
  struct stat st;
  rc = stat(path, &st);
  report("reach the host root through /proc/1/root", rc, NULL);
  return 0;
}
