/*
 * rkt-supervisor: stage1's supervisor for one pod.
 *
 *   rkt-supervisor POD_DIR [--interactive] [--detach] [--mutable]
 *                                          (env RKT_LOCK_FD, RKT_STOP_TIMEOUT, RKT_READY_FD)
 *
 * Why this is C and not TypeScript: rkt has no daemon, `rkt run` is the pod, so whatever stays
 * resident while a pod runs is paid once per pod, and that cost beyond the apps must stay under
 * 10 MB. A resident Node process is ~40 MB before it does anything; this program is about 1 MB
 * (mostly shared libc pages), starts in a millisecond and needs nothing but libc. It is also the
 * process that must outlive every failure of the apps, so it is kept small enough to read in a
 * few sittings. The Node stage0 does everything else: it writes the pod directory, spawns us, and
 * gets control back through `finally`.
 *
 * What it does (file contract in README.md next to this file):
 *  - starts apps through their `start` argv (an OCI runtime's `run --detach`), as a child
 *    subreaper so that the app process is re-parented to us when the runtime exits and waitpid()
 *    tells us its real exit status;
 *  - writes each app's output to its CRI log (and, in the foreground, to our stdout/stderr);
 *  - records started/finished/exit per app;
 *  - run mode (`rkt run`): starts the apps listed in supervisor/apps one after the other; shared
 *    fate: the first app to fail stops the others (TERM, then KILL after RKT_STOP_TIMEOUT
 *    seconds), and its code is the pod's exit code;
 *  - mutable mode (`rkt app ...`): starts nothing by itself; apps are started, stopped,
 *    signalled and forgotten one by one through supervisor/control.sock (control.c), restarted by
 *    their own policy with backoff, and attached to through apps/NAME/attach.sock (attach.c);
 *  - SIGINT/SIGTERM/SIGHUP/SIGQUIT stop the pod, a second one kills at once;
 *  - then execs POD_DIR/supervisor/finally (with RKT_EXIT_CODE) so that Node tears the pod down
 *    while the pod lock (RKT_LOCK_FD, which we never close) is still held.
 *
 * One thread, one poll() loop; signals arrive through a signalfd, so nothing runs in a signal
 * handler except restoring the terminal on a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pod-files.h"
#include "supervisor.h"
#include "unix-socket.h"

/* Backoff defaults (milliseconds) and bounds of apps/NAME/restart. */
#define BACKOFF_INITIAL 100
#define BACKOFF_MAX 10000
#define BACKOFF_RESET_MIN 10000
#define BACKOFF_LIMIT 86400000U

struct pod P = {.lock_fd = -1, .sfd = -1, .devnull = -1, .console = {.listen_fd = -1}};

static void finish(int code) __attribute__((noreturn));

static void vwarn(const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (P.detach) {
    /* Detached, stderr is supervisor/log: say when. */
    char ts[TIMESTAMP_MAX];
    timestamp_now(ts);
    dprintf(STDERR_FILENO, "%s rkt-supervisor: %s\n", ts, msg);
    return;
  }
  /* In raw mode the terminal does not turn \n into \r\n for us. */
  dprintf(STDERR_FILENO, "rkt-supervisor: %s%s", msg, console_is_raw() ? "\r\n" : "\n");
}

void warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
}

/*
 * Something the supervisor itself cannot go on without. Kill what we started (the runtime's
 * state is then torn down by `finally`, which still runs) and report 254.
 */
void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    if (a->state == APP_STARTING && a->start_pid > 0) kill(a->start_pid, SIGKILL);
    if (a->state == APP_RUNNING && a->pid > 0) kill(a->pid, SIGKILL);
  }
  finish(EXIT_RKT);
}

void *xmalloc(size_t n) {
  void *p = calloc(1, n);
  if (p == NULL) die("out of memory");
  return p;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (p == NULL) die("out of memory");
  return p;
}

char *xpath(const char *dir, const char *name) {
  char *p = path_join(dir, name);
  if (p == NULL) die("out of memory");
  return p;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_RKT;
}

struct timespec now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

static struct timespec add_ms(struct timespec t, long long ms) {
  t.tv_sec += (time_t)(ms / 1000);
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

struct timespec deadline_after(double seconds) {
  struct timespec t = now_mono();
  time_t whole = (time_t)seconds; /* seconds is in [0, 86400] */
  t.tv_sec += whole;
  t.tv_nsec += (long)((seconds - (double)whole) * 1e9);
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

static long long ms_between(struct timespec from, struct timespec to) {
  return (long long)(to.tv_sec - from.tv_sec) * 1000LL + (to.tv_nsec - from.tv_nsec) / 1000000L;
}

static bool earlier(struct timespec a, struct timespec b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Milliseconds until t, rounded up so poll() never wakes a hair early and spins. */
int ms_until(struct timespec t) {
  struct timespec n = now_mono();
  long long ns = (long long)(t.tv_sec - n.tv_sec) * 1000000000LL + (t.tv_nsec - n.tv_nsec);
  if (ns <= 0) return 0;
  long long ms = (ns + 999999) / 1000000;
  return ms >= INT_MAX ? INT_MAX : (int)ms;
}

void pollset_add(struct pollset *ps, int fd, short events, enum slot_kind kind, void *obj, void *sub) {
  if (ps->n == ps->cap) {
    size_t cap = ps->cap == 0 ? 16 : ps->cap * 2;
    struct pollfd *pfds = realloc(ps->pfds, cap * sizeof *pfds);
    if (pfds == NULL) die("out of memory");
    ps->pfds = pfds;
    struct slot *slots = realloc(ps->slots, cap * sizeof *slots);
    if (slots == NULL) die("out of memory");
    ps->slots = slots;
    ps->cap = cap;
  }
  ps->pfds[ps->n] = (struct pollfd){.fd = fd, .events = events};
  ps->slots[ps->n++] = (struct slot){.kind = kind, .obj = obj, .sub = sub};
}

/* --- files of the pod directory ------------------------------------------------------------ */

/* Writes POD_DIR/apps/NAME/<file>; failure is reported, not fatal: the pod still runs. */
static void app_write(struct app *a, const char *file, const char *text) {
  char *path = xpath(a->dir, file);
  if (write_file_atomic(path, text, strlen(text)) == -1)
    warn("app %s: writing %s: %s", a->name, path, strerror(errno));
  free(path);
}

static void app_write_time(struct app *a, const char *file) {
  char ts[TIMESTAMP_MAX];
  timestamp_now(ts);
  app_write(a, file, ts);
}

/*
 * An argv file. NULL with err[0] == '\0' if it does not exist and may be absent; NULL with a
 * message in err if it cannot be used. The vector and its strings are one allocation each
 * (argv[0] points at the start of the file's text): free_argv frees both.
 */
static char **read_argv(const char *path, bool optional, size_t spare, size_t *argc, char *err,
                        size_t errlen) {
  size_t len, n;
  err[0] = '\0';
  char *buf = read_file(path, &len);
  if (buf == NULL) {
    if (!(optional && errno == ENOENT)) snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
    return NULL;
  }
  char **argv = split_argv(buf, len, spare, &n);
  if (argv == NULL) {
    snprintf(err, errlen, "%s: %s", path,
             errno == EINVAL ? "not a NUL-separated argv (each argument ends with \\0)"
                             : strerror(errno));
    free(buf);
    return NULL;
  }
  if (argc != NULL) *argc = n;
  return argv;
}

static void free_argv(char **argv) {
  if (argv == NULL) return;
  free(argv[0]);
  free(argv);
}

/* read_argv for files read at start-up, where a bad file ends the pod. */
static char **load_argv(const char *path, bool optional, size_t spare, size_t *argc) {
  char err[PATH_MAX + 128];
  char **argv = read_argv(path, optional, spare, argc, err, sizeof err);
  if (argv == NULL && err[0] != '\0') die("%s", err);
  return argv;
}

/* An optional small text file: 1 and *text when present, 0 when absent, -1 with err. */
static int read_text(const char *dir, const char *name, char **text, char *err, size_t errlen) {
  char *path = xpath(dir, name);
  size_t len;
  *text = read_file(path, &len);
  int rc = 1;
  if (*text == NULL) {
    rc = errno == ENOENT ? 0 : -1;
    if (rc == -1) snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
  } else if (strlen(*text) != len) {
    snprintf(err, errlen, "%s: contains a NUL byte", path);
    free(*text);
    *text = NULL;
    rc = -1;
  }
  free(path);
  return rc;
}

static bool parse_ms(const char *s, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > BACKOFF_LIMIT) return false;
  *out = (unsigned)v;
  return true;
}

/* apps/NAME/restart: POLICY [INITIAL_MS [MAX_MS [RESET_MS]]]. */
static int parse_restart(char *text, struct app_config *cfg, char *err, size_t errlen) {
  char *save = NULL, *tok[5];
  size_t n = 0;
  for (char *t = strtok_r(text, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
    if (n == 5) break;
    tok[n++] = t;
  }
  const char *usage = "restart: want \"never|on-failure|always [INITIAL_MS [MAX_MS [RESET_MS]]]\"";
  if (n == 0 || n > 4) goto bad;
  if (strcmp(tok[0], "never") == 0) cfg->restart = RESTART_NEVER;
  else if (strcmp(tok[0], "on-failure") == 0) cfg->restart = RESTART_ON_FAILURE;
  else if (strcmp(tok[0], "always") == 0) cfg->restart = RESTART_ALWAYS;
  else goto bad;
  cfg->initial_ms = BACKOFF_INITIAL;
  if (n > 1 && (!parse_ms(tok[1], &cfg->initial_ms) || cfg->initial_ms == 0)) goto bad;
  cfg->max_ms = cfg->initial_ms > BACKOFF_MAX ? cfg->initial_ms : BACKOFF_MAX;
  if (n > 2 && (!parse_ms(tok[2], &cfg->max_ms) || cfg->max_ms < cfg->initial_ms)) goto bad;
  cfg->reset_ms = 2 * cfg->max_ms > BACKOFF_RESET_MIN ? 2 * cfg->max_ms : BACKOFF_RESET_MIN;
  if (n > 3 && !parse_ms(tok[3], &cfg->reset_ms)) goto bad;
  return 0;
bad:
  snprintf(err, errlen, "%s (milliseconds, 1 <= INITIAL <= MAX <= %u)", usage, BACKOFF_LIMIT);
  return -1;
}

/* apps/NAME/stdin: null | stream [once] | tty. */
static int parse_stdin(char *text, struct app_config *cfg, char *err, size_t errlen) {
  char *save = NULL;
  char *mode = strtok_r(text, " \t\r\n", &save);
  char *opt = mode == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
  char *extra = opt == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
  if (mode != NULL && strcmp(mode, "null") == 0 && opt == NULL) cfg->stdin_mode = STDIN_NONE;
  else if (mode != NULL && strcmp(mode, "tty") == 0 && opt == NULL) cfg->stdin_mode = STDIN_TTY;
  else if (mode != NULL && strcmp(mode, "stream") == 0 && extra == NULL &&
           (opt == NULL || strcmp(opt, "once") == 0)) {
    cfg->stdin_mode = STDIN_STREAM;
    cfg->stdin_once = opt != NULL;
  } else {
    snprintf(err, errlen, "stdin: want \"null\", \"stream\", \"stream once\" or \"tty\"");
    return -1;
  }
  return 0;
}

static void config_free(struct app_config *cfg) {
  free_argv(cfg->start_argv);
  free_argv(cfg->signal_argv);
  free(cfg->log_path);
  *cfg = (struct app_config){0};
}

/* Everything apps/NAME says about how to run the app, read fresh (mutable mode). */
static int config_load(const char *dir, struct app_config *cfg, char *err, size_t errlen) {
  *cfg = (struct app_config){.restart = RESTART_NEVER};
  char *path = xpath(dir, "start");
  cfg->start_argv = read_argv(path, false, 0, NULL, err, errlen);
  free(path);
  if (cfg->start_argv == NULL) goto fail;
  path = xpath(dir, "signal");
  cfg->signal_argv = read_argv(path, true, 1, &cfg->signal_argc, err, errlen);
  free(path);
  if (cfg->signal_argv == NULL && err[0] != '\0') goto fail;
  char *text;
  int rc = read_text(dir, "restart", &text, err, errlen);
  if (rc == -1) goto fail;
  if (rc == 1) {
    rc = parse_restart(text, cfg, err, errlen);
    free(text);
    if (rc == -1) goto fail;
  }
  rc = read_text(dir, "stdin", &text, err, errlen);
  if (rc == -1) goto fail;
  if (rc == 1) {
    rc = parse_stdin(text, cfg, err, errlen);
    free(text);
    if (rc == -1) goto fail;
  }
  rc = read_text(dir, "log-path", &text, err, errlen);
  if (rc == -1) goto fail;
  if (rc == 1) {
    text[strcspn(text, "\r\n")] = '\0';
    if (text[0] != '/') {
      snprintf(err, errlen, "log-path: \"%s\" is not an absolute path", text);
      free(text);
      goto fail;
    }
    cfg->log_path = text;
  }
  return 0;
fail:
  config_free(cfg);
  return -1;
}

/* --- the apps ------------------------------------------------------------------------------ */

bool valid_app_name(const char *s) {
  return s[0] != '\0' && strlen(s) <= 255 && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
         strcmp(s, "..") != 0;
}

/* A fresh app, not in P.apps yet. */
static struct app *app_alloc(const char *name) {
  struct app *a = xmalloc(sizeof *a);
  a->name = xstrdup(name);
  char *apps_dir = xpath(P.dir, "apps");
  a->dir = xpath(apps_dir, name);
  free(apps_dir);
  a->state = P.mutable_pod ? APP_CREATED : APP_PENDING;
  a->log_fd = -1;
  a->stdin_fd = -1;
  a->restarts_written = -1;
  int out = P.detach ? -1 : 1, err = P.detach ? -1 : 2;
  a->out = (struct stream){.fd = -1, .copy_fd = out, .attach_type = 1, .log = {.name = "stdout"}};
  a->err = (struct stream){.fd = -1, .copy_fd = err, .attach_type = 2, .log = {.name = "stderr"}};
  a->tty = (struct stream){.fd = -1, .copy_fd = out, .attach_type = 1, .log = {.name = "stdout"}};
  return a;
}

static void app_push(struct app *a) {
  if (P.napps == P.apps_cap) {
    size_t cap = P.apps_cap == 0 ? 4 : P.apps_cap * 2;
    struct app **apps = realloc(P.apps, cap * sizeof *apps);
    if (apps == NULL) die("out of memory");
    P.apps = apps;
    P.apps_cap = cap;
  }
  P.apps[P.napps++] = a;
}

static void app_free(struct app *a) {
  attach_free(a);
  config_free(&a->cfg);
  cri_stream_free(&a->out.log);
  cri_stream_free(&a->err.log);
  cri_stream_free(&a->tty.log);
  buffer_free(&a->stdin_buf);
  free(a->console);
  free(a->name);
  free(a->dir);
  free(a);
}

struct app *app_find(const char *name) {
  for (size_t i = 0; i < P.napps; i++)
    if (!P.apps[i]->forgotten && strcmp(P.apps[i]->name, name) == 0) return P.apps[i];
  return NULL;
}

/* Apps dropped by `forget` this iteration: nothing points at them any more. */
static void apps_sweep(void) {
  size_t kept = 0;
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    if (a->attach != NULL) attach_sweep(a);
    if (a->forgotten) app_free(a);
    else P.apps[kept++] = a;
  }
  P.napps = kept;
}

/* supervisor/apps: names, one per line. Run mode: at least one, each with its files read now.
   Mutable mode: optional; each app is loaded as by a `create` request, and none starts. */
static void load_apps(void) {
  char *path = xpath(P.dir, "supervisor/apps");
  size_t len;
  char *text = read_file(path, &len);
  if (text == NULL) {
    if (P.mutable_pod && errno == ENOENT) {
      free(path);
      return;
    }
    die("reading %s: %s", path, strerror(errno));
  }
  if (strlen(text) != len) die("%s: contains a NUL byte", path);
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    if (!valid_app_name(line)) die("%s: invalid app name \"%s\"", path, line);
    if (app_find(line) != NULL) die("%s: app \"%s\" listed twice", path, line);
    if (P.mutable_pod) {
      char err[PATH_MAX + 256];
      if (app_load(line, err, sizeof err) == NULL) die("%s: app %s: %s", path, line, err);
      continue;
    }
    struct app *a = app_alloc(line);
    app_push(a);
    char *f = xpath(a->dir, "start");
    a->cfg.start_argv = load_argv(f, false, 0, NULL);
    free(f);
    f = xpath(a->dir, "signal");
    a->cfg.signal_argv = load_argv(f, true, 1, &a->cfg.signal_argc);
    free(f);
  }
  free(text);
  if (P.napps == 0 && !P.mutable_pod) die("%s lists no apps", path);
  free(path);
  if (P.interactive && P.napps != 1) die("--interactive needs exactly one app, got %zu", P.napps);
}

struct app *app_load(const char *name, char *err, size_t errlen) {
  /* Status lines and requests are space-separated words. */
  if (!valid_app_name(name) || strpbrk(name, " \t\r\n\v\f") != NULL) {
    snprintf(err, errlen, "invalid app name \"%s\"", name);
    return NULL;
  }
  struct app *a = app_find(name);
  if (a != NULL && (a->state == APP_STARTING || a->state == APP_RUNNING)) {
    snprintf(err, errlen, "app %s is %s", name, app_state_name(a));
    return NULL;
  }
  char *apps_dir = xpath(P.dir, "apps");
  char *dir = xpath(apps_dir, name);
  free(apps_dir);
  struct stat st;
  int rc = stat(dir, &st);
  if (rc == -1 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "no app directory %s: %s", dir, rc == -1 ? strerror(errno) : "not a directory");
    free(dir);
    return NULL;
  }
  struct app_config cfg;
  rc = config_load(dir, &cfg, err, errlen);
  free(dir);
  if (rc == -1) return NULL;
  if (a == NULL) {
    a = app_alloc(name);
    if (attach_listen(a) == -1) {
      snprintf(err, errlen, "%s/attach.sock: %s", a->dir, strerror(errno));
      config_free(&cfg);
      app_free(a);
      return NULL;
    }
    app_push(a);
  }
  config_free(&a->cfg);
  a->cfg = cfg;
  return a;
}

const char *app_state_name(const struct app *a) {
  switch (a->state) {
  case APP_PENDING:
  case APP_CREATED:
    return "created";
  case APP_STARTING:
    return "starting";
  case APP_RUNNING:
    return a->stop_want > 0 ? "stopping" : "running";
  case APP_RESTARTING:
    return "restarting";
  case APP_EXITED:
  case APP_SKIPPED:
    break;
  }
  return "exited";
}

int app_input_fd(const struct app *a) {
  if (!a->stdin_open) return -1;
  if (a->cfg.stdin_mode == STDIN_STREAM) return a->stdin_fd;
  if (a->cfg.stdin_mode == STDIN_TTY) return a->tty.fd;
  return -1;
}

/* --- app output ---------------------------------------------------------------------------- */

static char chunk[READ_CHUNK];

static void echo(int fd, const char *data, size_t n) {
  if (fd < 0 || P.echo_broken[fd]) return;
  if (write_all(fd, data, n) == -1) {
    P.echo_broken[fd] = true;
    if (errno != EPIPE) warn("copying app output to fd %d: %s", fd, strerror(errno));
  }
}

static void log_result(struct app *a, int rc) {
  if (rc == -1 && !a->log_failed) {
    a->log_failed = true;
    warn("app %s: writing its log: %s", a->name, strerror(errno));
  }
}

static void stream_close(struct app *a, struct stream *s) {
  if (s->fd == -1) return;
  if (a->log_fd != -1) log_result(a, cri_log_flush(a->log_fd, &s->log));
  cri_stream_free(&s->log);
  close(s->fd);
  s->fd = -1;
}

enum pump { PUMP_DATA, PUMP_AGAIN, PUMP_CLOSED };

static enum pump stream_pump(struct app *a, struct stream *s) {
  ssize_t n;
  do n = read(s->fd, chunk, sizeof chunk);
  while (n == -1 && errno == EINTR);
  if (n > 0) {
    echo(s->copy_fd, chunk, (size_t)n);
    if (a->log_fd != -1) log_result(a, cri_log_write(a->log_fd, &s->log, chunk, (size_t)n));
    if (a->attach != NULL) attach_output(a, s->attach_type, chunk, (size_t)n);
    return PUMP_DATA;
  }
  if (n == -1 && errno == EAGAIN) return PUMP_AGAIN;
  /* EIO is how a pty master says the app side has gone: the end of the stream, not an error. */
  if (n == -1 && errno != EIO) warn("app %s: reading its %s: %s", a->name, s->log.name, strerror(errno));
  if (s == &a->tty) a->stdin_open = false;
  stream_close(a, s);
  return PUMP_CLOSED;
}

/* Everything already written, without waiting for writers that are still alive. */
static void stream_drain(struct app *a, struct stream *s) {
  while (s->fd != -1 && stream_pump(a, s) == PUMP_DATA) {
  }
}

static void app_console_close(struct app *a) {
  if (a->console == NULL) return;
  console_close(a->console);
  free(a->console);
  a->console = NULL;
}

static void app_stdin_close(struct app *a) {
  if (a->stdin_fd != -1) close(a->stdin_fd);
  a->stdin_fd = -1;
  a->stdin_open = false;
  a->stdin_eof = false;
  buffer_free(&a->stdin_buf);
}

/* What an earlier run left open: its output (read what is there), stdin, console socket. */
static void app_close_run(struct app *a) {
  struct stream *all[] = {&a->out, &a->err, &a->tty};
  for (size_t j = 0; j < 3; j++) {
    stream_drain(a, all[j]);
    stream_close(a, all[j]);
  }
  app_stdin_close(a);
  app_console_close(a);
}

void app_forget(struct app *a) {
  app_close_run(a);
  if (a->log_fd != -1) close(a->log_fd);
  a->log_fd = -1;
  attach_close(a);
  a->forgotten = true;
}

/* --- processes ----------------------------------------------------------------------------- */

/* In a fresh child: stdio, the signal state we changed, then exec. Never returns. */
static void exec_child(char **argv, int in, int out, int err) {
  if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1) _exit(127);
  /* Our own process group: a Ctrl-C on the terminal reaches us, and we stop the apps in order,
     instead of killing the runtime halfway through creating a container. */
  setpgid(0, 0);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &P.orig_mask, NULL);
  execvp(argv[0], argv);
  dprintf(2, "rkt-supervisor: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void app_exited(struct app *a, int status);
static void start_next(void);

/*
 * The start command failed, or started something we cannot supervise: the app failed.
 * `ran`: the start command ran, so a pid file it left is this run's and names a process to kill.
 */
static void start_failed(struct app *a, const char *why, bool ran) {
  warn("app %s: %s", a->name, why);
  char *msg = xmalloc(strlen(why) + 2);
  strcpy(msg, why);
  strcat(msg, "\n");
  app_write(a, "error", msg);
  free(msg);
  /* The runtime may have got as far as starting the process; do not leave it behind. */
  pid_t pid;
  char *pid_path = xpath(a->dir, "pid");
  if (a->pid > 0 && !a->reaped_early) kill(a->pid, SIGKILL);
  else if (ran && a->pid == 0 && read_pid_file(pid_path, &pid) == 0) kill(pid, SIGKILL);
  free(pid_path);
  control_app_started(a, why);
  a->state = APP_RUNNING; /* so that app_exited records it like any other exit */
  app_exited(a, EXIT_RKT << 8);
}

static int open_log(struct app *a) {
  char *path = a->cfg.log_path != NULL ? xstrdup(a->cfg.log_path) : xpath(a->dir, "log");
  /* O_APPEND: a restarted pod adds to the log; each record is one write (see cri-log.c). */
  a->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  int saved = errno;
  free(path);
  errno = saved;
  a->log_failed = false;
  return a->log_fd == -1 ? -1 : 0;
}

int app_reopen_log(struct app *a) {
  if (a->log_fd != -1) close(a->log_fd);
  a->log_fd = -1;
  return open_log(a);
}

static int nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void app_start(struct app *a) {
  char why[PATH_MAX + 128];
  app_close_run(a);
  a->state = APP_STARTING;
  a->start_pid = 0;
  a->pid = 0;
  a->reaped_early = false;
  a->stop_level = 0;
  a->stop_want = 0;
  a->kill_armed = false;
  a->has_run = false;
  a->has_exit = false;
  /* Files of an earlier run would be taken for this one's: a stale pid file could even make us
     kill an unrelated process that reuses the pid. */
  static const char *const stale[] = {"pid", "started", "finished", "exit", "error"};
  for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
    char *path = xpath(a->dir, stale[i]);
    if (unlink(path) == -1 && errno != ENOENT) {
      snprintf(why, sizeof why, "removing %s of an earlier run: %s", stale[i], strerror(errno));
      free(path);
      start_failed(a, why, false);
      return;
    }
    free(path);
  }
  if (P.mutable_pod && a->restarts_written != (long)a->restarts) {
    /* Once per app and then per restart: an fsync'd write is not free, and `start` waits. */
    char text[16];
    snprintf(text, sizeof text, "%u", a->restarts);
    app_write(a, "restarts", text);
    a->restarts_written = (long)a->restarts;
  }
  if (a->log_fd == -1 && open_log(a) == -1) {
    snprintf(why, sizeof why, "opening its log: %s", strerror(errno));
    start_failed(a, why, false);
    return;
  }
  int in = P.devnull;
  if (a->cfg.stdin_mode == STDIN_STREAM) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == -1) die("pipe: %s", strerror(errno));
    if (nonblocking(fds[1]) == -1) die("fcntl: %s", strerror(errno));
    in = fds[0];
    a->stdin_fd = fds[1];
    a->stdin_open = true;
  } else if (a->cfg.stdin_mode == STDIN_TTY) {
    /* The runtime connects to apps/NAME/console.sock and sends the pty master over it. */
    int fd = unix_listen(a->dir, "console.sock");
    if (fd == -1) {
      snprintf(why, sizeof why, "console socket %s/console.sock: %s", a->dir, strerror(errno));
      start_failed(a, why, false);
      return;
    }
    a->console = xmalloc(sizeof *a->console);
    a->console->listen_fd = fd;
    a->console->sock_path = xpath(a->dir, "console.sock");
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) == -1) die("pipe: %s", strerror(errno));
  if (pipe2(err, O_CLOEXEC) == -1) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid == -1) die("fork: %s", strerror(errno));
  if (pid == 0) exec_child(a->cfg.start_argv, in, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (in != P.devnull) close(in);
  if (nonblocking(out[0]) == -1 || nonblocking(err[0]) == -1) die("fcntl: %s", strerror(errno));
  a->out.fd = out[0];
  a->err.fd = err[0];
  a->start_pid = pid;
}

/* Run mode: starts apps in order, each once the previous one's start command has finished. */
static void start_next(void) {
  if (P.mutable_pod) return;
  while (P.stop_level == 0 && P.next_app < P.napps) {
    for (size_t i = 0; i < P.napps; i++)
      if (P.apps[i]->state == APP_STARTING) return;
    app_start(P.apps[P.next_app++]);
  }
}

/* Runs the app's `signal` command with the signal name appended. */
static struct helper *signal_command(struct app *a, const char *signame) {
  /* The runtime knows how to signal its app (runsc: the host pid is the sandbox, not the app). */
  a->cfg.signal_argv[a->cfg.signal_argc] = (char *)signame;
  pid_t pid = fork();
  if (pid == -1) die("fork: %s", strerror(errno));
  if (pid == 0) exec_child(a->cfg.signal_argv, P.devnull, STDERR_FILENO, STDERR_FILENO);
  a->cfg.signal_argv[a->cfg.signal_argc] = NULL;
  struct helper *h = xmalloc(sizeof *h);
  *h = (struct helper){.pid = pid, .app_name = xstrdup(a->name), .next = P.helpers};
  P.helpers = h;
  return h;
}

static void signal_app(struct app *a, int level) {
  if (a->stop_level >= level) return;
  a->stop_level = level;
  int sig = level == 1 ? SIGTERM : SIGKILL;
  if (a->cfg.signal_argv == NULL) {
    if (kill(a->pid, sig) == -1 && errno != ESRCH)
      warn("app %s: kill %d: %s", a->name, (int)a->pid, strerror(errno));
    return;
  }
  signal_command(a, level == 1 ? "TERM" : "KILL");
}

int app_signal(struct app *a, int sig, const char *signame, struct helper **helper, char *err,
               size_t errlen) {
  if (a->cfg.signal_argv != NULL) {
    *helper = signal_command(a, signame);
    return 1;
  }
  if (kill(a->pid, sig) == -1 && errno != ESRCH) {
    snprintf(err, errlen, "kill %d: %s", (int)a->pid, strerror(errno));
    return -1;
  }
  return 0;
}

void app_stop(struct app *a, int level, struct timespec deadline) {
  switch (a->state) {
  case APP_RESTARTING:
    /* Stopping a restarting app cancels the restart; it stays exited. */
    a->state = APP_EXITED;
    break;
  case APP_STARTING:
  case APP_RUNNING:
    if (level > a->stop_want) a->stop_want = level;
    if (level == 1 && (!a->kill_armed || earlier(deadline, a->kill_at))) {
      a->kill_at = deadline;
      a->kill_armed = true;
    }
    /* A starting app gets its signal as soon as it is up; KILL also kills its start command. */
    if (a->state == APP_RUNNING) signal_app(a, a->stop_want);
    else if (level == 2 && a->start_pid > 0) kill(a->start_pid, SIGKILL);
    break;
  default:
    break;
  }
}

void pod_stop(int level, struct timespec deadline) {
  if (level > P.stop_level) P.stop_level = level;
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    if (a->state == APP_PENDING) a->state = APP_SKIPPED;
    else app_stop(a, level, deadline);
  }
}

/*
 * Stops the pod: level 1 sends TERM to every running app and arms the KILL deadline, level 2
 * sends KILL. Apps not started yet never start; an app whose start command is still running
 * gets its signal as soon as it is up, and at level 2 the start command itself is killed.
 */
static void stop_pod(int level) {
  if (level <= P.stop_level) return;
  pod_stop(level, level == 1 ? deadline_after(P.grace) : now_mono());
}

static void note_exit_code(int code) {
  if (code == 0 || P.exit_code != 0) return;
  /* Shared fate: the first failure ends the pod and becomes its exit code. */
  P.exit_code = code;
  stop_pod(1);
}

static bool wants_restart(const struct app *a, int code) {
  if (!P.mutable_pod || P.stop_level > 0 || a->stop_want > 0) return false;
  return a->cfg.restart == RESTART_ALWAYS || (a->cfg.restart == RESTART_ON_FAILURE && code != 0);
}

static void app_exited(struct app *a, int status) {
  int code = exit_code_of(status);
  /* Output written before the exit belongs in the log before the exit is recorded. */
  stream_drain(a, &a->out);
  stream_drain(a, &a->err);
  stream_drain(a, &a->tty);
  app_write_time(a, "finished");
  char text[16];
  snprintf(text, sizeof text, "%d", code);
  /* `exit` last: its presence is what says the app is done. */
  app_write(a, "exit", text);
  a->state = APP_EXITED;
  a->has_exit = true;
  a->exit_code = code;
  if (!P.mutable_pod) {
    note_exit_code(code);
    return;
  }
  /* Input has nobody to go to any more. */
  app_stdin_close(a);
  app_console_close(a);
  attach_app_exited(a);
  control_app_exited(a);
  if (!wants_restart(a, code)) return;
  /* Exponential backoff, back to the start once a run lasted reset_ms. */
  struct timespec now = now_mono();
  if (a->has_run && ms_between(a->run_since, now) >= (long long)a->cfg.reset_ms) a->backoff_ms = 0;
  if (a->backoff_ms == 0) a->backoff_ms = a->cfg.initial_ms;
  else a->backoff_ms = a->backoff_ms * 2 > a->cfg.max_ms ? a->cfg.max_ms : a->backoff_ms * 2;
  a->restart_at = add_ms(now, a->backoff_ms);
  a->state = APP_RESTARTING;
}

static void start_done(struct app *a, int status) {
  char why[PATH_MAX + 256];
  a->start_pid = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      snprintf(why, sizeof why, "start command killed by signal %d", WTERMSIG(status));
    else
      snprintf(why, sizeof why, "start command exited with status %d", exit_code_of(status));
    start_failed(a, why, true);
    start_next();
    return;
  }
  if (a->pid == 0) {
    char *path = xpath(a->dir, "pid");
    int rc = read_pid_file(path, &a->pid);
    if (rc == -1)
      snprintf(why, sizeof why, "start command succeeded but left no valid pid file %s: %s", path,
               strerror(errno));
    free(path);
    if (rc == -1) {
      a->pid = 0;
      start_failed(a, why, true);
      start_next();
      return;
    }
  }
  int st = 0;
  pid_t r = a->reaped_early ? a->pid : waitpid(a->pid, &st, WNOHANG);
  if (a->reaped_early) st = a->early_status;
  if (r == -1) {
    snprintf(why, sizeof why,
             "app pid %d is not a child of the supervisor (%s); a runtime must leave the app "
             "process to its caller",
             (int)a->pid, strerror(errno));
    a->reaped_early = true; /* nothing of ours to kill */
    start_failed(a, why, true);
    start_next();
    return;
  }
  if (a->cfg.stdin_mode == STDIN_TTY && a->tty.fd == -1) {
    /* The runtime sends the master before it exits; it may still wait in the socket's queue. */
    int master = a->console != NULL && a->console->listen_fd != -1 ? console_receive_master(a->console) : 0;
    if (master <= 0) {
      snprintf(why, sizeof why, "the runtime sent no pty master over %s/console.sock%s%s", a->dir,
               master == -1 ? ": " : "", master == -1 ? strerror(errno) : "");
      start_failed(a, why, true);
      return;
    }
    a->tty.fd = master;
    a->stdin_open = true;
    app_console_close(a);
  }
  app_write_time(a, "started");
  a->state = APP_RUNNING;
  a->has_run = true;
  a->run_since = now_mono();
  control_app_started(a, NULL);
  if (r == a->pid) app_exited(a, st);
  else if (a->stop_want > 0) signal_app(a, a->stop_want);
  start_next();
}

/* A child we did not start: an app re-parented to us before we reaped its start command. */
static void orphan_reaped(pid_t pid, int status) {
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    if (a->state != APP_STARTING || a->pid != 0) continue;
    /* The pid file is there before the app can be ours: runc writes it before it exits, and its
       exit is what re-parents the app. */
    pid_t p;
    char *path = xpath(a->dir, "pid");
    int rc = read_pid_file(path, &p);
    free(path);
    if (rc == 0 && p == pid) {
      a->pid = pid;
      a->reaped_early = true;
      a->early_status = status;
      return;
    }
  }
  /* Anything else (an app's daemonised descendant) is just reaped. */
}

static void reaped(pid_t pid, int status) {
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    if (a->state == APP_STARTING && a->start_pid == pid) {
      start_done(a, status);
      return;
    }
    if (a->state == APP_RUNNING && a->pid == pid) {
      app_exited(a, status);
      return;
    }
  }
  for (struct helper **h = &P.helpers; *h != NULL; h = &(*h)->next) {
    if ((*h)->pid != pid) continue;
    struct helper *done = *h;
    *h = done->next;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      warn("app %s: signal command failed (status %d)", done->app_name, exit_code_of(status));
    control_helper_done(done, status);
    free(done->app_name);
    free(done);
    return;
  }
  orphan_reaped(pid, status);
}

static void reap_all(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) return;
    if (pid == -1) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return;
      die("waitpid: %s", strerror(errno));
    }
    reaped(pid, status);
  }
}

/* --- signals ------------------------------------------------------------------------------- */

static void handle_signals(void) {
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(P.sfd, &si, sizeof si);
    if (n == -1) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      die("reading signalfd: %s", strerror(errno));
    }
    if (n != (ssize_t)sizeof si) die("reading signalfd: short read");
    switch (si.ssi_signo) {
    case SIGCHLD:
      reap_all();
      break;
    case SIGWINCH:
      if (P.interactive && P.apps[0]->tty.fd != -1) console_resize(P.apps[0]->tty.fd);
      break;
    default:
      /* The first asks nicely, the second does not wait for the grace period. */
      stop_pod(P.stop_level == 0 ? 1 : 2);
      break;
    }
  }
}

/* Restores the terminal if we crash; the default action then follows (SA_RESETHAND). */
static void on_fatal(int sig) {
  console_restore();
  raise(sig);
}

static void setup_signals(void) {
  static const int handled[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
    /* An ignored signal is discarded before signalfd could see it, and an ignored SIGCHLD
       reaps children behind our back: take back whatever our parent set. */
    signal(handled[i], SIG_DFL);
    sigaddset(&set, handled[i]);
  }
  if (sigprocmask(SIG_BLOCK, &set, &P.orig_mask) == -1) die("sigprocmask: %s", strerror(errno));
  P.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (P.sfd == -1) die("signalfd: %s", strerror(errno));
  /* A reader of our stdout, an app pipe or a socket going away is not a reason to die. */
  signal(SIGPIPE, SIG_IGN);
  static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  struct sigaction sa = {.sa_handler = on_fatal, .sa_flags = SA_RESETHAND};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
}

/* --- the end ------------------------------------------------------------------------------- */

/*
 * Hands the pod to `finally` (Node's teardown) with the lock still held, or exits. From here on
 * nothing may call die(): finish is where die ends up.
 */
static void finish(int code) {
  console_restore();
  console_close(&P.console);
  if (P.mutable_pod) {
    /* No client may find a socket nobody serves any more. */
    control_close();
    for (size_t i = 0; i < P.napps; i++) {
      attach_close(P.apps[i]);
      if (P.apps[i]->console != NULL) console_close(P.apps[i]->console);
    }
  }
  if (P.finally_argv == NULL) exit(code);
  char text[16];
  snprintf(text, sizeof text, "%d", code);
  if (setenv("RKT_EXIT_CODE", text, 1) == -1) {
    dprintf(2, "rkt-supervisor: setenv: %s\n", strerror(errno));
    _exit(EXIT_RKT);
  }
  /* The lock must survive this exec: that is the whole point of exec'ing instead of exiting. */
  if (P.lock_fd != -1 && fcntl(P.lock_fd, F_SETFD, 0) == -1) {
    dprintf(2, "rkt-supervisor: fcntl RKT_LOCK_FD: %s\n", strerror(errno));
    _exit(EXIT_RKT);
  }
  /* Consume signals that already arrived (we acted on them, or the pod ended anyway) so they
     do not kill `finally` the moment it unblocks them. */
  if (P.sfd != -1) {
    struct signalfd_siginfo si;
    while (read(P.sfd, &si, sizeof si) > 0) {
    }
  }
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &P.orig_mask, NULL);
  execvp(P.finally_argv[0], P.finally_argv);
  dprintf(2, "rkt-supervisor: exec finally %s: %s\n", P.finally_argv[0], strerror(errno));
  _exit(EXIT_RKT);
}

/* Run mode: every app has exited or never started. Mutable: shut down and none runs. */
static bool pod_done(void) {
  if (P.mutable_pod && P.stop_level == 0) return false;
  for (size_t i = 0; i < P.napps; i++) {
    enum app_state s = P.apps[i]->state;
    if (s == APP_STARTING || s == APP_RUNNING || (!P.mutable_pod && s == APP_PENDING)) return false;
  }
  return true;
}

static void close_streams(void) {
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    struct stream *all[] = {&a->out, &a->err, &a->tty};
    for (size_t j = 0; j < 3; j++) {
      /* A descendant of the app may still hold the pipe; take what is there and go. */
      stream_drain(a, all[j]);
      stream_close(a, all[j]);
    }
    if (a->log_fd != -1) {
      close(a->log_fd);
      a->log_fd = -1;
    }
  }
}

/* --- interactive --------------------------------------------------------------------------- */

static void receive_console(void) {
  struct app *a = P.apps[0];
  int master = console_receive_master(&P.console);
  if (master == 0) return;
  if (master == -1) die("console socket: receiving the pty master: %s", strerror(errno));
  a->tty.fd = master;
  if (console_raw() == -1) warn("putting the terminal in raw mode: %s", strerror(errno));
  console_resize(master);
  P.stdin_open = true;
}

static void read_stdin(void) {
  struct app *a = P.apps[0];
  ssize_t n;
  do n = read(STDIN_FILENO, chunk, CONSOLE_INPUT_MAX);
  while (n == -1 && errno == EINTR);
  if (n == -1 && errno == EAGAIN) return;
  if (n <= 0) {
    /* End of input (or the terminal hung up): the app keeps running without a keyboard. */
    P.stdin_open = false;
    return;
  }
  if (console_filter_input(&P.console, chunk, (size_t)n)) {
    stop_pod(2);
    P.console.pending_len = 0;
    return;
  }
  if (console_flush_input(&P.console, a->tty.fd) == -1) P.stdin_open = false;
}

/* --- main loop ----------------------------------------------------------------------------- */

/* Mutable apps: a per-app console socket while starting, stdin, attach clients. */
static void poll_mutable_app(struct pollset *ps, struct app *a) {
  if (a->tty.fd != -1) pollset_add(ps, a->tty.fd, POLLIN, SLOT_STREAM, a, &a->tty);
  if (a->console != NULL && a->console->listen_fd != -1)
    pollset_add(ps, a->console->listen_fd, POLLIN, SLOT_APP_CONSOLE, a, NULL);
  /* Attach clients first: handing their input over may close stdin. */
  if (a->attach != NULL) attach_poll(ps, a);
  int in = app_input_fd(a);
  if (in != -1 && buffer_size(&a->stdin_buf) > 0) pollset_add(ps, in, POLLOUT, SLOT_APP_INPUT, a, NULL);
}

static void app_console_ready(struct app *a) {
  int master = console_receive_master(a->console);
  if (master == 0) return;
  if (master == -1) {
    /* start_done fails the start: it finds no master. */
    warn("app %s: console socket: receiving the pty master: %s", a->name, strerror(errno));
    app_console_close(a);
    return;
  }
  a->tty.fd = master;
  a->stdin_open = true;
  app_console_close(a);
}

static void dispatch(struct slot *s, struct pollfd *p) {
  struct app *a = s->obj;
  struct stream *st = s->sub;
  switch (s->kind) {
  case SLOT_SIGNALS:
    handle_signals();
    break;
  case SLOT_STREAM:
    if (st->fd == p->fd) stream_pump(a, st);
    break;
  case SLOT_CONSOLE_SOCKET:
    if (P.console.listen_fd != -1) receive_console();
    break;
  case SLOT_STDIN:
    if (P.stdin_open && P.apps[0]->tty.fd != -1) read_stdin();
    break;
  case SLOT_MASTER:
    if (st->fd != p->fd) break;
    if ((p->revents & POLLOUT) && console_flush_input(&P.console, st->fd) == -1) P.stdin_open = false;
    if (p->revents & (POLLIN | POLLHUP | POLLERR)) stream_pump(a, st);
    if (st->fd == -1) P.stdin_open = false;
    break;
  case SLOT_APP_CONSOLE:
    if (a->console != NULL && a->console->listen_fd == p->fd) app_console_ready(a);
    break;
  case SLOT_APP_INPUT:
    if (app_input_fd(a) == p->fd) attach_input_ready(a);
    break;
  case SLOT_CONTROL_LISTEN:
  case SLOT_CONTROL_CONN:
    control_ready(s, p->revents);
    break;
  case SLOT_ATTACH_LISTEN:
  case SLOT_ATTACH_CLIENT:
    attach_ready(s, p->revents);
    break;
  }
}

/* Stop deadlines that passed escalate to KILL; backoffs that passed restart their app. Returns
   the poll timeout until the next one (-1: none). */
static int run_timers(void) {
  int timeout = -1;
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = P.apps[i];
    int ms = -1;
    if ((a->state == APP_STARTING || a->state == APP_RUNNING) && a->stop_want == 1 && a->kill_armed) {
      ms = ms_until(a->kill_at);
      if (ms == 0) app_stop(a, 2, a->kill_at);
    } else if (a->state == APP_RESTARTING) {
      ms = ms_until(a->restart_at);
      if (ms == 0) {
        a->restarts++;
        app_start(a);
      }
    }
    /* Whatever changed is looked at again on the next round, at once. */
    if (ms == 0) return 0;
    if (ms > 0 && (timeout == -1 || ms < timeout)) timeout = ms;
  }
  return timeout;
}

static void run(void) {
  struct pollset ps = {0};
  start_next();
  for (;;) {
    if (P.mutable_pod) control_tick();
    int timeout = run_timers();
    if (pod_done()) break;
    ps.n = 0;
    pollset_add(&ps, P.sfd, POLLIN, SLOT_SIGNALS, NULL, NULL);
    for (size_t i = 0; i < P.napps; i++) {
      struct app *a = P.apps[i];
      if (a->out.fd != -1) pollset_add(&ps, a->out.fd, POLLIN, SLOT_STREAM, a, &a->out);
      if (a->err.fd != -1) pollset_add(&ps, a->err.fd, POLLIN, SLOT_STREAM, a, &a->err);
      if (P.mutable_pod) poll_mutable_app(&ps, a);
    }
    if (P.interactive) {
      struct app *a = P.apps[0];
      if (P.console.listen_fd != -1) pollset_add(&ps, P.console.listen_fd, POLLIN, SLOT_CONSOLE_SOCKET, NULL, NULL);
      if (a->tty.fd != -1)
        pollset_add(&ps, a->tty.fd, POLLIN | (P.console.pending_len > 0 ? POLLOUT : 0), SLOT_MASTER, a, &a->tty);
      if (P.stdin_open && a->tty.fd != -1 && P.console.pending_len == 0)
        pollset_add(&ps, STDIN_FILENO, POLLIN, SLOT_STDIN, NULL, NULL);
    }
    if (P.mutable_pod) control_poll(&ps);
    if (poll(ps.pfds, ps.n, timeout) == -1) {
      if (errno == EINTR) continue;
      die("poll: %s", strerror(errno));
    }
    for (size_t i = 0; i < ps.n; i++)
      if (ps.pfds[i].revents != 0) dispatch(&ps.slots[i], &ps.pfds[i]);
    if (P.interactive && P.apps[0]->state == APP_EXITED) P.stdin_open = false;
    apps_sweep();
    if (P.mutable_pod) control_sweep();
  }
  free(ps.pfds);
  free(ps.slots);
}

/* Keeps fds 0-2 taken, so a pipe or log never lands there and gets clobbered by dup2. */
static void ensure_stdio(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) != -1) continue;
    int n = open("/dev/null", O_RDWR);
    if (n == -1) _exit(EXIT_RKT);
    if (n != fd) _exit(EXIT_RKT);
  }
}

static void usage(void) {
  dprintf(2, "usage: rkt-supervisor POD_DIR [--interactive] [--detach] [--mutable]\n");
  exit(EXIT_RKT);
}

/* An fd named by an environment variable: >= 3 (--detach points 0-2 at /dev/null). */
static int env_fd(const char *var) {
  const char *text = getenv(var);
  if (text == NULL) return -1;
  char *end;
  errno = 0;
  long fd = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || end == text || fd < 3 || fd > INT_MAX)
    die("%s=%s: not a file descriptor above 2", var, text);
  /* Close-on-exec for every child we start. */
  if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1) die("%s=%s: %s", var, text, strerror(errno));
  return (int)fd;
}

int main(int argc, char **argv) {
  ensure_stdio();
  if (argc < 2) usage();
  P.dir = argv[1];
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--interactive") == 0) P.interactive = true;
    else if (strcmp(argv[i], "--detach") == 0) P.detach = true;
    else if (strcmp(argv[i], "--mutable") == 0) P.mutable_pod = true;
    else usage();
  }
  setup_signals();

  /* Read `finally` first: from here on every failure still hands the pod to the teardown. */
  char *path = xpath(P.dir, "supervisor/finally");
  P.finally_argv = load_argv(path, true, 0, NULL);
  free(path);

  /* The lock stays close-on-exec for every child; finish() clears that for `finally` only. */
  P.lock_fd = env_fd("RKT_LOCK_FD");
  int ready_fd = env_fd("RKT_READY_FD");
  unsetenv("RKT_READY_FD");
  if (ready_fd != -1 && ready_fd == P.lock_fd) die("RKT_READY_FD and RKT_LOCK_FD are the same fd");
  const char *grace = getenv("RKT_STOP_TIMEOUT");
  P.grace = 10;
  if (grace != NULL) {
    char *end;
    P.grace = strtod(grace, &end);
    if (end == grace || *end != '\0' || !(P.grace >= 0 && P.grace <= 86400))
      die("RKT_STOP_TIMEOUT=%s: not a number of seconds", grace);
  }
  if (P.mutable_pod && P.interactive) die("--mutable and --interactive exclude each other");
  if (P.interactive && P.detach) die("--interactive and --detach exclude each other");
  /* A mutable pod outlives the command that made it: it is always detached. */
  if (P.mutable_pod) P.detach = true;

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) die("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  P.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (P.devnull == -1) die("/dev/null: %s", strerror(errno));

  if (P.detach) {
    /* Our own session: the caller's terminal closing must not hang up the pod. Node may already
       have made us a session leader (spawn with detached: true). */
    if (getsid(0) != getpid() && setsid() == -1) die("setsid: %s", strerror(errno));
    for (int fd = 0; fd < 3; fd++)
      if (dup2(P.devnull, fd) == -1) die("dup2 /dev/null: %s", strerror(errno));
    /* Our own complaints (and the signal commands' and finally's) go to supervisor/log, as
       nobody reads our stderr any more. Without it they are lost, which is no reason to fail. */
    path = xpath(P.dir, "supervisor/log");
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    free(path);
    if (log != -1) {
      dup2(log, STDERR_FILENO);
      close(log);
    }
  }

  path = xpath(P.dir, "supervisor/pid");
  char text[16];
  snprintf(text, sizeof text, "%d", (int)getpid());
  if (write_file_atomic(path, text, strlen(text)) == -1) die("writing %s: %s", path, strerror(errno));
  free(path);

  load_apps();
  if (P.interactive) {
    path = xpath(P.dir, "supervisor/console.sock");
    if (console_listen(&P.console, path) == -1) die("console socket %s: %s", path, strerror(errno));
    free(path);
  }
  if (P.mutable_pod && control_listen() == -1)
    die("%s/supervisor/control.sock: %s", P.dir, strerror(errno));
  if (ready_fd != -1) {
    /* Everything a client may look for is there; a failed write means nobody waits. */
    (void)write_all(ready_fd, "ready\n", 6);
    close(ready_fd);
  }

  run();
  if (P.mutable_pod) control_pod_done();
  close_streams();
  finish(P.mutable_pod ? 0 : P.exit_code);
}
