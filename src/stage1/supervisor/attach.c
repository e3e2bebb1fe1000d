/*
 * attach: apps/NAME/attach.sock of a mutable pod's app, for `rkt attach` and CRI Attach
 * (README.md, "Attach socket").
 *
 * Any number of clients see the app's output as it comes (the CRI log keeps the history) and
 * may all type into its stdin. Both directions carry frames [type: 1 byte][length: 4 bytes,
 * big-endian][data]. The app never waits for a client: output to a client that does not keep
 * up piles up in its buffer, and past ATTACH_OUT_MAX that client is disconnected. Input is
 * taken from clients only while the app's stdin buffer has room, so a client typing faster than
 * the app reads waits (its socket buffer fills), and nothing else does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "supervisor.h"
#include "unix-socket.h"

enum frame {
  FRAME_STDIN = 0,
  FRAME_STDOUT = 1,
  FRAME_STDERR = 2,
  FRAME_EXIT = 3,
  FRAME_RESIZE = 4,
  FRAME_STDIN_EOF = 5,
};

#define FRAME_HEADER 5
#define ATTACH_MAX_FRAME 32768            /* client->supervisor data */
#define ATTACH_OUT_MAX (1024 * 1024)      /* unread output before a client is dropped */
#define ATTACH_STDIN_MAX 65536            /* input waiting for the app */
#define ATTACH_MAX_CLIENTS 64

struct attach_client {
  int fd;       /* -1 once disconnected */
  bool rd_eof;  /* sends nothing more, still reads */
  char *in;     /* FRAME_HEADER + ATTACH_MAX_FRAME bytes, allocated on the first read */
  size_t in_len;
  struct buffer out;
  struct attach_client *next;
};

struct attach {
  int listen_fd;
  char *path;
  struct attach_client *clients;
  size_t nclients;
};

int attach_listen(struct app *a) {
  int fd = unix_listen(a->dir, "attach.sock");
  if (fd == -1) return -1;
  a->attach = xmalloc(sizeof *a->attach);
  a->attach->listen_fd = fd;
  a->attach->path = xpath(a->dir, "attach.sock");
  return 0;
}

static void client_close(struct app *a, struct attach_client *c) {
  if (c->fd == -1) return;
  close(c->fd);
  c->fd = -1;
  buffer_free(&c->out);
  free(c->in);
  c->in = NULL;
  c->in_len = 0;
  /* stdin "stream once": the first session to end closes the app's stdin (CRI StdinOnce). */
  if (a->cfg.stdin_once && a->stdin_fd != -1) {
    a->stdin_eof = true;
    attach_input_ready(a);
  }
}

void attach_close(struct app *a) {
  struct attach *at = a->attach;
  if (at == NULL) return;
  for (struct attach_client *c = at->clients; c != NULL; c = c->next) {
    if (c->fd != -1) close(c->fd);
    c->fd = -1;
  }
  if (at->listen_fd != -1) {
    close(at->listen_fd);
    at->listen_fd = -1;
    unlink(at->path);
  }
}

void attach_sweep(struct app *a) {
  struct attach *at = a->attach;
  for (struct attach_client **p = &at->clients; *p != NULL;) {
    struct attach_client *c = *p;
    if (c->fd != -1) {
      p = &c->next;
      continue;
    }
    *p = c->next;
    buffer_free(&c->out);
    free(c->in);
    free(c);
    at->nclients--;
  }
}

void attach_free(struct app *a) {
  if (a->attach == NULL) return;
  attach_close(a);
  attach_sweep(a);
  free(a->attach->path);
  free(a->attach);
  a->attach = NULL;
}

/* Queues one frame for a client; a client that has fallen too far behind is dropped. */
static void client_send(struct app *a, struct attach_client *c, unsigned char type, const char *data, size_t n) {
  if (c->fd == -1) return;
  if (buffer_size(&c->out) + FRAME_HEADER + n > ATTACH_OUT_MAX) {
    warn("app %s: an attach client read too slowly and was disconnected", a->name);
    client_close(a, c);
    return;
  }
  unsigned char head[FRAME_HEADER] = {type, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                      (unsigned char)(n >> 8), (unsigned char)n};
  if (buffer_append(&c->out, head, sizeof head) == -1 || buffer_append(&c->out, data, n) == -1)
    die("out of memory");
  if (buffer_flush(&c->out, c->fd, 1) == -1) client_close(a, c);
}

void attach_output(struct app *a, unsigned char type, const char *data, size_t n) {
  if (a->attach == NULL) return;
  for (struct attach_client *c = a->attach->clients; c != NULL; c = c->next) client_send(a, c, type, data, n);
}

static void send_exit(struct app *a, struct attach_client *c) {
  char text[16];
  int n = snprintf(text, sizeof text, "%d", a->exit_code);
  client_send(a, c, FRAME_EXIT, text, (size_t)n);
}

void attach_app_exited(struct app *a) {
  if (a->attach == NULL) return;
  for (struct attach_client *c = a->attach->clients; c != NULL; c = c->next) send_exit(a, c);
}

void attach_input_ready(struct app *a) {
  int fd = app_input_fd(a);
  if (fd == -1) {
    buffer_free(&a->stdin_buf);
    return;
  }
  if (buffer_flush(&a->stdin_buf, fd, 0) == -1) {
    /* EPIPE: the app closed its stdin (or is gone); EIO: the tty's app side is gone. */
    if (errno != EPIPE && errno != EIO) warn("app %s: writing its stdin: %s", a->name, strerror(errno));
    buffer_free(&a->stdin_buf);
    if (a->stdin_fd != -1) close(a->stdin_fd);
    a->stdin_fd = -1;
    a->stdin_open = false;
    return;
  }
  if (buffer_size(&a->stdin_buf) == 0 && a->stdin_eof && a->stdin_fd != -1) {
    close(a->stdin_fd);
    a->stdin_fd = -1;
    a->stdin_open = false;
  }
}

static uint32_t be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/*
 * Acts on the complete frames a client sent. Returns true if it stopped at stdin data the app's
 * buffer has no room for yet (the client then waits: nothing more is read from it).
 */
static bool client_process(struct app *a, struct attach_client *c) {
  size_t off = 0;
  bool stalled = false;
  while (c->fd != -1 && c->in_len - off >= FRAME_HEADER) {
    const char *f = c->in + off;
    unsigned char type = (unsigned char)f[0];
    uint32_t len = be32(f + 1);
    if (len > ATTACH_MAX_FRAME || (type == FRAME_RESIZE && len != 4) ||
        (type != FRAME_STDIN && type != FRAME_RESIZE && type != FRAME_STDIN_EOF)) {
      warn("app %s: an attach client sent a bad frame (type %u, length %u) and was disconnected",
           a->name, type, (unsigned)len);
      client_close(a, c);
      return false;
    }
    if (c->in_len - off < FRAME_HEADER + len) break;
    const char *data = f + FRAME_HEADER;
    if (type == FRAME_STDIN && app_input_fd(a) != -1 && !a->stdin_eof) {
      if (buffer_size(&a->stdin_buf) + len > ATTACH_STDIN_MAX) {
        stalled = true;
        break;
      }
      if (buffer_append(&a->stdin_buf, data, len) == -1) die("out of memory");
      attach_input_ready(a);
    } else if (type == FRAME_RESIZE && a->cfg.stdin_mode == STDIN_TTY && a->tty.fd != -1) {
      const unsigned char *u = (const unsigned char *)data;
      struct winsize ws = {.ws_row = (unsigned short)(u[0] << 8 | u[1]), .ws_col = (unsigned short)(u[2] << 8 | u[3])};
      if (ioctl(a->tty.fd, TIOCSWINSZ, &ws) == -1) warn("app %s: resizing its tty: %s", a->name, strerror(errno));
    } else if (type == FRAME_STDIN_EOF && a->cfg.stdin_mode == STDIN_STREAM && a->stdin_fd != -1) {
      a->stdin_eof = true;
      attach_input_ready(a);
    }
    /* Anything else (input with no stdin to take it, a resize without a tty) is dropped. */
    off += FRAME_HEADER + len;
  }
  if (c->fd != -1 && off > 0) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
  return stalled;
}

void attach_poll(struct pollset *ps, struct app *a) {
  struct attach *at = a->attach;
  if (at->listen_fd != -1 && at->nclients < ATTACH_MAX_CLIENTS)
    pollset_add(ps, at->listen_fd, POLLIN, SLOT_ATTACH_LISTEN, a, NULL);
  for (struct attach_client *c = at->clients; c != NULL; c = c->next) {
    if (c->fd == -1) continue;
    /* Input that waited for room in the app's stdin buffer may fit now. */
    bool stalled = c->in_len > 0 && client_process(a, c);
    if (c->fd == -1) continue;
    short ev = 0;
    if (!c->rd_eof && !stalled && c->in_len < FRAME_HEADER + ATTACH_MAX_FRAME) ev |= POLLIN;
    if (buffer_size(&c->out) > 0) ev |= POLLOUT;
    pollset_add(ps, c->fd, ev, SLOT_ATTACH_CLIENT, a, c);
  }
}

static void accept_clients(struct app *a) {
  struct attach *at = a->attach;
  while (at->nclients < ATTACH_MAX_CLIENTS) {
    int fd = unix_accept(at->listen_fd);
    if (fd == -1) {
      if (errno != EAGAIN) warn("app %s: attach socket: accept: %s", a->name, strerror(errno));
      return;
    }
    struct attach_client *c = xmalloc(sizeof *c);
    c->fd = fd;
    c->next = at->clients;
    at->clients = c;
    at->nclients++;
    /* Attaching to an app that is done (and not coming back) says so at once. */
    if (a->state == APP_EXITED && a->has_exit) send_exit(a, c);
  }
}

static void client_read(struct app *a, struct attach_client *c) {
  if (c->in == NULL) c->in = xmalloc(FRAME_HEADER + ATTACH_MAX_FRAME);
  while (c->fd != -1 && c->in_len < FRAME_HEADER + ATTACH_MAX_FRAME) {
    ssize_t n = read(c->fd, c->in + c->in_len, FRAME_HEADER + ATTACH_MAX_FRAME - c->in_len);
    if (n == -1 && errno == EINTR) continue;
    if (n == 0) c->rd_eof = true;
    if (n == -1 && errno != EAGAIN) client_close(a, c);
    if (n <= 0) return;
    c->in_len += (size_t)n;
    if (client_process(a, c)) return;
  }
}

void attach_ready(struct slot *s, short revents) {
  struct app *a = s->obj;
  if (a->attach == NULL) return;
  if (s->kind == SLOT_ATTACH_LISTEN) {
    if (a->attach->listen_fd != -1) accept_clients(a);
    return;
  }
  struct attach_client *c = s->sub;
  if (c->fd == -1) return;
  if ((revents & POLLOUT) && buffer_flush(&c->out, c->fd, 1) == -1) {
    client_close(a, c);
    return;
  }
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!c->rd_eof) client_read(a, c);
    /* Gone: what it sent before it left has been acted on. */
    if (revents & (POLLHUP | POLLERR)) client_close(a, c);
  }
}
