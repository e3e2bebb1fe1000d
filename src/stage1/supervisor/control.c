/*
 * control: supervisor/control.sock of a mutable pod, through which stage0 (`rkt app ...`, the CRI
 * server) starts, stops, signals and forgets apps and shuts the pod down (README.md, "Control
 * socket").
 *
 * A connection carries request lines; each gets one reply, in order. A request that waits for
 * something (a start command, an app's exit, a signal command, the shutdown) holds back the
 * connection's later requests, never the event loop: the reply is written when the event
 * happens. A client that goes away mid-request changes nothing: what it asked for is still
 * carried out, the reply is dropped. Nothing here blocks: reads and writes are non-blocking,
 * replies wait in a buffer, and a client that does not read its replies gets no more requests
 * served until it does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"
#include "unix-socket.h"

#define CONTROL_LINE_MAX 4096 /* a request line, its newline included */
#define CONTROL_MAX_CONNS 64
#define CONTROL_OUT_HIGH 65536 /* serve no more requests while this much reply is unread */

enum wait { WAIT_NONE, WAIT_START, WAIT_STOP, WAIT_SIGNAL, WAIT_SHUTDOWN };

struct conn {
  int fd;       /* -1 once the client is gone (or we hung up) */
  bool rd_eof;  /* the client sent all it will send */
  bool closing; /* protocol error: hang up once the reply is out */
  bool closed;  /* done: freed by control_sweep */
  char in[CONTROL_LINE_MAX];
  size_t in_len;
  struct buffer out;
  enum wait wait;
  struct app *app;       /* WAIT_START, WAIT_STOP */
  struct helper *helper; /* WAIT_SIGNAL */
  struct conn *next;
};

static struct {
  int listen_fd;
  char *path;
  struct conn *conns;
  size_t nconns;
} C = {.listen_fd = -1};

int control_listen(void) {
  char *dir = xpath(P.dir, "supervisor");
  C.listen_fd = unix_listen(dir, "control.sock");
  int saved = errno;
  C.path = xpath(dir, "control.sock");
  free(dir);
  errno = saved;
  return C.listen_fd == -1 ? -1 : 0;
}

static void conn_hangup(struct conn *c) {
  if (c->fd != -1) close(c->fd);
  c->fd = -1;
  buffer_free(&c->out);
}

/* Queues one reply (a line; newlines in it become spaces) and writes what the socket takes. */
static void reply_raw(struct conn *c, const char *text) {
  if (c->fd == -1) return;
  size_t len = strlen(text);
  if (buffer_append(&c->out, text, len) == -1) die("out of memory");
  for (size_t i = buffer_size(&c->out) - len; i < buffer_size(&c->out) - 1; i++)
    if (c->out.data[c->out.off + i] == '\n' || c->out.data[c->out.off + i] == '\r')
      c->out.data[c->out.off + i] = ' ';
  if (buffer_flush(&c->out, c->fd, 1) == -1) conn_hangup(c);
}

static void reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct conn *c, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n] = '\n';
  line[n + 1] = '\0';
  reply_raw(c, line);
}

static void reply_exit(struct conn *c, const struct app *a) {
  if (a->has_exit) reply(c, "ok %d", a->exit_code);
  else reply(c, "ok -");
}

/* --- requests ------------------------------------------------------------------------------ */

static bool parse_seconds(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0 && v <= 86400)) return false;
  *out = v;
  return true;
}

static const struct {
  const char *name;
  int sig;
} signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL},   {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},   {"STOP", SIGSTOP},     {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},   {"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},     {"SYS", SIGSYS},
};

/* TERM, SIGTERM or 15. The name a signal command gets: the bare name, or the number. */
static int parse_signal(const char *s, const char **name) {
  const char *bare = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (strcmp(bare, signals[i].name) == 0) {
      *name = signals[i].name;
      return signals[i].sig;
    }
  }
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > SIGRTMAX) return -1;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (signals[i].sig == v) {
      *name = signals[i].name;
      return (int)v;
    }
  }
  *name = s;
  return (int)v;
}

static struct app *known_app(struct conn *c, const char *name) {
  struct app *a = app_find(name);
  if (a == NULL) reply(c, "error no app %s", name);
  return a;
}

static void req_start(struct conn *c, const char *name) {
  char err[PATH_MAX + 256];
  if (P.stop_level > 0) {
    reply(c, "error the pod is shutting down");
    return;
  }
  struct app *a = app_find(name);
  if (a != NULL && a->state == APP_STARTING) {
    reply(c, "error app %s is already starting", name);
    return;
  }
  if (a != NULL && a->state == APP_RUNNING) {
    reply(c, "error app %s is already running (pid %d)", name, (int)a->pid);
    return;
  }
  a = app_load(name, err, sizeof err);
  if (a == NULL) {
    reply(c, "error %s", err);
    return;
  }
  /* Waiting first: a start that fails at once answers before app_start returns. */
  c->wait = WAIT_START;
  c->app = a;
  app_start(a);
}

static void req_create(struct conn *c, const char *name) {
  char err[PATH_MAX + 256];
  if (P.stop_level > 0) {
    reply(c, "error the pod is shutting down");
    return;
  }
  if (app_load(name, err, sizeof err) == NULL) reply(c, "error %s", err);
  else reply(c, "ok");
}

static void req_stop(struct conn *c, const char *name, const char *timeout) {
  double seconds = P.grace;
  if (timeout != NULL && !parse_seconds(timeout, &seconds)) {
    reply(c, "error stop %s: timeout \"%s\" is not a number of seconds (0 to 86400)", name, timeout);
    return;
  }
  struct app *a = known_app(c, name);
  if (a == NULL) return;
  if (a->state != APP_STARTING && a->state != APP_RUNNING) {
    /* Stopping what does not run is done at once (and cancels a pending restart). */
    app_stop(a, 1, now_mono());
    reply_exit(c, a);
    return;
  }
  c->wait = WAIT_STOP;
  c->app = a;
  app_stop(a, 1, deadline_after(seconds));
}

static void req_signal(struct conn *c, const char *name, const char *sig_text) {
  const char *signame;
  int sig = parse_signal(sig_text, &signame);
  if (sig == -1) {
    reply(c, "error unknown signal \"%s\" (want a name like TERM or SIGTERM, or a number)", sig_text);
    return;
  }
  struct app *a = known_app(c, name);
  if (a == NULL) return;
  if (a->state != APP_RUNNING) {
    reply(c, "error app %s is not running (%s)", name, app_state_name(a));
    return;
  }
  char err[256];
  struct helper *h = NULL;
  int rc = app_signal(a, sig, signame, &h, err, sizeof err);
  if (rc == -1) reply(c, "error signal %s: %s", name, err);
  else if (rc == 0) reply(c, "ok");
  else {
    c->wait = WAIT_SIGNAL;
    c->helper = h;
  }
}

static void status_line(struct conn *c, const struct app *a) {
  char pid[16] = "-", code[16] = "-";
  bool has_pid = a->pid > 0 && (a->state == APP_STARTING || a->state == APP_RUNNING);
  if (has_pid) snprintf(pid, sizeof pid, "%d", (int)a->pid);
  if (a->has_exit) snprintf(code, sizeof code, "%d", a->exit_code);
  reply(c, "%s %s %s %s %u", a->name, app_state_name(a), pid, code, a->restarts);
}

static void req_status(struct conn *c, const char *name) {
  if (name != NULL) {
    struct app *a = known_app(c, name);
    if (a == NULL) return;
    reply(c, "ok 1");
    status_line(c, a);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < P.napps; i++)
    if (!P.apps[i]->forgotten) n++;
  reply(c, "ok %zu", n);
  for (size_t i = 0; i < P.napps; i++)
    if (!P.apps[i]->forgotten) status_line(c, P.apps[i]);
}

static void req_forget(struct conn *c, const char *name) {
  struct app *a = app_find(name);
  if (a == NULL) {
    /* Forgetting is idempotent: `rkt app rm` of an app never started is fine. */
    reply(c, "ok");
    return;
  }
  if (a->state == APP_STARTING || a->state == APP_RUNNING || a->state == APP_RESTARTING) {
    reply(c, "error app %s is %s: stop it first", name, app_state_name(a));
    return;
  }
  app_forget(a);
  reply(c, "ok");
}

static void req_shutdown(struct conn *c, const char *timeout) {
  double seconds = P.grace;
  if (timeout != NULL && !parse_seconds(timeout, &seconds)) {
    reply(c, "error shutdown: timeout \"%s\" is not a number of seconds (0 to 86400)", timeout);
    return;
  }
  c->wait = WAIT_SHUTDOWN;
  pod_stop(1, deadline_after(seconds));
}

static void req_reopen_log(struct conn *c, const char *name) {
  struct app *a = known_app(c, name);
  if (a == NULL) return;
  if (app_reopen_log(a) == -1) reply(c, "error reopening the log of %s: %s", name, strerror(errno));
  else reply(c, "ok");
}

static const char USAGE[] =
    "create NAME | start NAME | stop NAME [TIMEOUT] | signal NAME SIGNAL | status [NAME] | "
    "forget NAME | reopen-log NAME | shutdown [TIMEOUT]";

static void handle(struct conn *c, char *line) {
  size_t len = strlen(line);
  if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
  char *argv[4], *save = NULL;
  size_t argc = 0;
  for (char *t = strtok_r(line, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
    if (argc == 4) {
      reply(c, "error too many words (want %s)", USAGE);
      return;
    }
    argv[argc++] = t;
  }
  if (argc == 0) return; /* an empty line asks nothing and gets no reply */
  const char *cmd = argv[0];
  const char *a1 = argc > 1 ? argv[1] : NULL, *a2 = argc > 2 ? argv[2] : NULL;
  if (strcmp(cmd, "create") == 0 && argc == 2) req_create(c, a1);
  else if (strcmp(cmd, "start") == 0 && argc == 2) req_start(c, a1);
  else if (strcmp(cmd, "stop") == 0 && (argc == 2 || argc == 3)) req_stop(c, a1, a2);
  else if (strcmp(cmd, "signal") == 0 && argc == 3) req_signal(c, a1, a2);
  else if (strcmp(cmd, "status") == 0 && argc <= 2) req_status(c, a1);
  else if (strcmp(cmd, "forget") == 0 && argc == 2) req_forget(c, a1);
  else if (strcmp(cmd, "reopen-log") == 0 && argc == 2) req_reopen_log(c, a1);
  else if (strcmp(cmd, "shutdown") == 0 && argc <= 2) req_shutdown(c, a1);
  else reply(c, "error bad request \"%s\" with %zu argument%s (want %s)", cmd, argc - 1, argc == 2 ? "" : "s", USAGE);
}

/* --- connections --------------------------------------------------------------------------- */

/* Serves the buffered requests the connection may have served now. */
static void conn_process(struct conn *c) {
  while (!c->closed && c->wait == WAIT_NONE && !c->closing && buffer_size(&c->out) < CONTROL_OUT_HIGH) {
    char *nl = memchr(c->in, '\n', c->in_len);
    if (nl == NULL) {
      if (c->in_len == sizeof c->in) {
        reply(c, "error request longer than %d bytes", CONTROL_LINE_MAX - 1);
        c->closing = true;
        c->in_len = 0;
      } else if ((c->rd_eof || c->fd == -1) && c->in_len > 0) {
        /* The last request may end at EOF instead of a newline. */
        c->in[c->in_len] = '\0';
        c->in_len = 0;
        handle(c, c->in);
      }
      break;
    }
    *nl = '\0';
    size_t used = (size_t)(nl - c->in) + 1;
    /* handle() may reply and even hang up; the line is ours until then. */
    char line[CONTROL_LINE_MAX];
    memcpy(line, c->in, used);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    handle(c, line);
  }
  if (c->closed || c->wait != WAIT_NONE) return;
  bool idle = memchr(c->in, '\n', c->in_len) == NULL;
  if (c->fd == -1 && idle) c->closed = true; /* gone, and everything it asked for is done */
  else if ((c->rd_eof || c->closing) && idle && buffer_size(&c->out) == 0) {
    conn_hangup(c);
    c->closed = true;
  }
}

void control_tick(void) {
  for (struct conn *c = C.conns; c != NULL; c = c->next) conn_process(c);
}

void control_poll(struct pollset *ps) {
  /* Still served while shutting down: `status` shows the apps going. */
  if (C.listen_fd != -1 && C.nconns < CONTROL_MAX_CONNS)
    pollset_add(ps, C.listen_fd, POLLIN, SLOT_CONTROL_LISTEN, NULL, NULL);
  for (struct conn *c = C.conns; c != NULL; c = c->next) {
    if (c->closed || c->fd == -1) continue;
    short ev = 0;
    if (!c->rd_eof && !c->closing && c->in_len < sizeof c->in) ev |= POLLIN;
    if (buffer_size(&c->out) > 0) ev |= POLLOUT;
    /* Even with no events, poll reports a hang-up: that is how a vanished client is noticed. */
    pollset_add(ps, c->fd, ev, SLOT_CONTROL_CONN, c, NULL);
  }
}

static void accept_conns(void) {
  while (C.nconns < CONTROL_MAX_CONNS) {
    int fd = unix_accept(C.listen_fd);
    if (fd == -1) {
      if (errno != EAGAIN) warn("control socket: accept: %s", strerror(errno));
      return;
    }
    struct conn *c = xmalloc(sizeof *c);
    c->fd = fd;
    c->next = C.conns;
    C.conns = c;
    C.nconns++;
  }
}

static void conn_read(struct conn *c) {
  while (c->in_len < sizeof c->in) {
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n > 0) {
      c->in_len += (size_t)n;
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == 0) c->rd_eof = true;
    else if (errno != EAGAIN) conn_hangup(c);
    return;
  }
}

void control_ready(struct slot *s, short revents) {
  if (s->kind == SLOT_CONTROL_LISTEN) {
    if (C.listen_fd != -1) accept_conns();
    return;
  }
  struct conn *c = s->obj;
  if (c->closed || c->fd == -1) return;
  if ((revents & POLLOUT) && buffer_flush(&c->out, c->fd, 1) == -1) {
    conn_hangup(c);
    return;
  }
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!c->rd_eof && c->in_len < sizeof c->in) conn_read(c);
    /* Gone for good: what it sent is still served (control_tick), the replies dropped. */
    if (c->fd != -1 && (revents & (POLLHUP | POLLERR))) conn_hangup(c);
  }
}

void control_sweep(void) {
  for (struct conn **p = &C.conns; *p != NULL;) {
    struct conn *c = *p;
    if (!c->closed) {
      p = &c->next;
      continue;
    }
    *p = c->next;
    conn_hangup(c);
    free(c);
    C.nconns--;
  }
}

void control_close(void) {
  if (C.listen_fd != -1) close(C.listen_fd);
  C.listen_fd = -1;
  if (C.path != NULL) unlink(C.path);
  for (struct conn *c = C.conns; c != NULL; c = c->next)
    if (c->fd != -1) close(c->fd);
}

void control_app_started(struct app *a, const char *error) {
  for (struct conn *c = C.conns; c != NULL; c = c->next) {
    if (c->wait != WAIT_START || c->app != a) continue;
    c->wait = WAIT_NONE;
    c->app = NULL;
    if (error != NULL) reply(c, "error start %s: %s", a->name, error);
    else reply(c, "ok %d", (int)a->pid);
  }
}

void control_app_exited(struct app *a) {
  for (struct conn *c = C.conns; c != NULL; c = c->next) {
    if (c->wait != WAIT_STOP || c->app != a) continue;
    c->wait = WAIT_NONE;
    c->app = NULL;
    reply_exit(c, a);
  }
}

void control_helper_done(struct helper *h, int status) {
  for (struct conn *c = C.conns; c != NULL; c = c->next) {
    if (c->wait != WAIT_SIGNAL || c->helper != h) continue;
    c->wait = WAIT_NONE;
    c->helper = NULL;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) reply(c, "ok");
    else reply(c, "error signal %s: the signal command failed (status %d)", h->app_name, exit_code_of(status));
  }
}

void control_pod_done(void) {
  for (struct conn *c = C.conns; c != NULL; c = c->next) {
    if (c->wait != WAIT_SHUTDOWN) continue;
    c->wait = WAIT_NONE;
    reply(c, "ok");
  }
}
