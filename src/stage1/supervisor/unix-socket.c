/* unix-socket: see unix-socket.h. */
#define _GNU_SOURCE
#include "unix-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 64

int unix_listen(const char *dir, const char *name) {
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd == -1) return -1;
  int fd = -1, saved;
  /* Our pid in the temporary name: a crashed predecessor's leftover is not ours to trip on. */
  char tmp[256];
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int n = snprintf(tmp, sizeof tmp, "%s.%d.tmp", name, (int)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) {
    errno = ENAMETOOLONG;
    goto fail;
  }
  n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, tmp);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
    n = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dfd, tmp);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
      errno = ENAMETOOLONG;
      goto fail;
    }
  }
  if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT) goto fail;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd == -1) goto fail;
  /* Owner only from the first instant: a wider umask must never expose it, even briefly. */
  mode_t old = umask(077);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc == -1) goto fail;
  if (fchmodat(dfd, tmp, 0600, 0) == -1 || listen(fd, BACKLOG) == -1 ||
      renameat(dfd, tmp, dfd, name) == -1) {
    saved = errno;
    unlinkat(dfd, tmp, 0);
    errno = saved;
    goto fail;
  }
  close(dfd);
  return fd;
fail:
  saved = errno;
  if (fd != -1) close(fd);
  close(dfd);
  errno = saved;
  return -1;
}

int unix_accept(int listen_fd) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd == -1 && (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)) errno = EAGAIN;
  return fd;
}
