/* console: see console.h. */
#define _GNU_SOURCE
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* Globals because console_restore runs from fatal-signal handlers too. */
static struct termios saved_termios;
static volatile sig_atomic_t raw_active;

int console_listen(struct console *c, const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(addr.sun_path, path, len + 1);
  c->sock_path = strdup(path);
  if (c->sock_path == NULL) return -1;
  c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->listen_fd == -1) return -1;
  if (unlink(path) == -1 && errno != ENOENT) return -1;
  /* Whoever connects first gets to hand the user's keyboard a terminal: owner only. */
  mode_t old = umask(077);
  int rc = bind(c->listen_fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc == -1 || listen(c->listen_fd, 1) == -1) return -1;
  return 0;
}

int console_receive_master(struct console *c) {
  int conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn == -1) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return 0;
    return -1;
  }
  /* The runtime sends right after connecting; never let a silent peer hang the pod. */
  struct timeval tv = {.tv_sec = 10};
  if (setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1) {
    int saved = errno;
    close(conn);
    errno = saved;
    return -1;
  }
  char name[4096]; /* runc sends the pty's name (at most 4096 bytes); we only need the fd */
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {name, sizeof name};
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t n;
  do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  while (n == -1 && errno == EINTR);
  int saved = errno;
  close(conn);
  if (n == -1) {
    errno = saved;
    return -1;
  }
  int fd = -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
      cm->cmsg_len == CMSG_LEN(sizeof(int)))
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  /* Exactly one fd, and a terminal: anything else is not a console and must not be kept. */
  if (fd == -1 || (msg.msg_flags & MSG_CTRUNC) || !isatty(fd)) {
    if (fd != -1) close(fd);
    errno = EPROTO;
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  console_close(c);
  return fd;
}

void console_close(struct console *c) {
  if (c->listen_fd != -1) {
    close(c->listen_fd);
    c->listen_fd = -1;
  }
  if (c->sock_path != NULL) {
    unlink(c->sock_path);
    free(c->sock_path);
    c->sock_path = NULL;
  }
}

int console_raw(void) {
  if (!isatty(STDIN_FILENO)) return 0;
  if (tcgetattr(STDIN_FILENO, &saved_termios) == -1) return -1;
  struct termios raw = saved_termios;
  cfmakeraw(&raw);
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == -1) return -1;
  raw_active = 1;
  return 0;
}

bool console_is_raw(void) { return raw_active != 0; }

void console_restore(void) {
  if (raw_active) {
    raw_active = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  }
}

void console_resize(int master) {
  struct winsize ws;
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

static double elapsed(const struct timespec *from, const struct timespec *to) {
  return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

bool console_filter_input(struct console *c, const char *in, size_t n) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  for (size_t i = 0; i < n; i++) {
    bool expired = c->escapes > 0 && elapsed(&c->first_escape, &now) > 1.0;
    if (in[i] == CONSOLE_ESCAPE && !expired) {
      if (c->escapes++ == 0) c->first_escape = now;
      if (c->escapes == CONSOLE_ESCAPE_COUNT) {
        c->escapes = 0;
        return true;
      }
      continue;
    }
    /* Not (or too late for) the sequence: the held presses were meant for the app. */
    for (; c->escapes > 0; c->escapes--) c->pending[c->pending_len++] = CONSOLE_ESCAPE;
    if (in[i] == CONSOLE_ESCAPE) {
      c->escapes = 1;
      c->first_escape = now;
      continue;
    }
    c->pending[c->pending_len++] = in[i];
  }
  return false;
}

int console_flush_input(struct console *c, int master) {
  size_t off = 0;
  while (off < c->pending_len) {
    ssize_t w = write(master, c->pending + off, c->pending_len - off);
    if (w == -1) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      c->pending_len = 0;
      return -1;
    }
    off += (size_t)w;
  }
  memmove(c->pending, c->pending + off, c->pending_len - off);
  c->pending_len -= off;
  return 0;
}
