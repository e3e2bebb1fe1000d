/*
 * rkt-supervisor: stage1's supervisor for one pod.
 *
 *   rkt-supervisor POD_DIR [--interactive] [--detach]      (env RKT_LOCK_FD, RKT_STOP_TIMEOUT)
 *
 * Why this is C and not TypeScript: rkt has no daemon, `rkt run` is the pod, so whatever stays
 * resident while a pod runs is paid once per pod, and that cost beyond the apps must stay under
 * 10 MB. A resident Node process is ~40 MB before it does anything; this program is about 1 MB
 * (mostly shared libc pages), starts in a millisecond and needs nothing but libc. It is also the
 * process that must outlive every failure of the apps, so it is kept small enough to read in one
 * sitting. The Node stage0 does everything else: it writes the pod directory, spawns us, and
 * gets control back through `finally`.
 *
 * What it does (file contract in README.md next to this file):
 *  - starts the apps listed in POD_DIR/supervisor/apps one after the other, each through its
 *    `start` argv (an OCI runtime's `run --detach`), as a child subreaper so that the app process
 *    is re-parented to us when the runtime exits and waitpid() tells us its real exit status;
 *  - writes each app's output to its CRI log (and, in the foreground, to our stdout/stderr);
 *  - records started/finished/exit per app; shared fate: the first app to fail stops the others
 *    (TERM, then KILL after RKT_STOP_TIMEOUT seconds), and its code is the pod's exit code;
 *  - SIGINT/SIGTERM/SIGHUP/SIGQUIT stop the pod the same way, a second one kills at once;
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

#include "console.h"
#include "cri-log.h"
#include "pod-files.h"

/* rkt's exit code for "rkt itself failed" (and for an app whose start command failed). */
#define EXIT_RKT 254
#define READ_CHUNK 16384

enum app_state {
  APP_PENDING,  /* not started yet */
  APP_STARTING, /* start command running */
  APP_RUNNING,  /* start command succeeded, app process alive */
  APP_EXITED,   /* exit recorded */
  APP_SKIPPED,  /* never started: the pod was stopping by its turn */
};

struct stream {
  int fd;      /* pipe read end, or the pty master; -1 once closed */
  int copy_fd; /* where a foreground pod echoes it (1 or 2); -1 when detached */
  struct cri_stream log;
};

struct app {
  const char *name;
  char *dir;
  char **start_argv;
  char **signal_argv; /* NULL: signal the pid with kill(2) */
  size_t signal_argc;
  enum app_state state;
  pid_t start_pid;
  pid_t pid; /* app process, from the pid file; 0 until known */
  /* The app was reaped before its start command was (both exited, in either order). */
  bool reaped_early;
  int early_status;
  int stop_level; /* highest stop signal delivered: 0 none, 1 TERM, 2 KILL */
  int log_fd;
  bool log_failed; /* reported once; output still reaches the console */
  struct stream out, err, tty;
};

/* A running `signal` command, reaped like everything else, its failure reported. */
struct helper {
  pid_t pid;
  struct app *app;
  struct helper *next;
};

static struct {
  const char *dir;
  bool interactive, detach;
  struct app *apps;
  size_t napps, next_app;
  char **finally_argv;
  int lock_fd;
  sigset_t orig_mask;
  int sfd;
  int devnull;
  double grace;                /* seconds between TERM and KILL */
  int stop_level;              /* 0 running, 1 TERM sent, 2 KILL sent */
  struct timespec kill_at;     /* CLOCK_MONOTONIC deadline while stop_level == 1 */
  int exit_code;               /* first non-zero app exit code */
  bool echo_broken[3];         /* our stdout/stderr went away (EPIPE): stop copying to it */
  bool stdin_open;             /* interactive: still relaying the keyboard */
  struct console console;
  struct helper *helpers;
} P = {.lock_fd = -1, .sfd = -1, .devnull = -1, .console = {.listen_fd = -1}};

static void finish(int code) __attribute__((noreturn));

static void vwarn(const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* In raw mode the terminal does not turn \n into \r\n for us. */
  dprintf(STDERR_FILENO, "rkt-supervisor: %s%s", msg, console_is_raw() ? "\r\n" : "\n");
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
}

/*
 * Something the supervisor itself cannot go on without. Kill what we started (the runtime's
 * state is then torn down by `finally`, which still runs) and report 254.
 */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = &P.apps[i];
    if (a->state == APP_STARTING && a->start_pid > 0) kill(a->start_pid, SIGKILL);
    if (a->state == APP_RUNNING && a->pid > 0) kill(a->pid, SIGKILL);
  }
  finish(EXIT_RKT);
}

static void *xmalloc(size_t n) {
  void *p = calloc(1, n);
  if (p == NULL) die("out of memory");
  return p;
}

static char *xpath(const char *dir, const char *name) {
  char *p = path_join(dir, name);
  if (p == NULL) die("out of memory");
  return p;
}

static int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_RKT;
}

static struct timespec now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

/* Milliseconds until t, rounded up so poll() never wakes a hair early and spins. */
static int ms_until(struct timespec t) {
  struct timespec n = now_mono();
  long long ns = (long long)(t.tv_sec - n.tv_sec) * 1000000000LL + (t.tv_nsec - n.tv_nsec);
  if (ns <= 0) return 0;
  long long ms = (ns + 999999) / 1000000;
  return ms >= INT_MAX ? INT_MAX : (int)ms;
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

/* An argv file; NULL if it does not exist and may be absent. */
static char **load_argv(const char *path, bool optional, size_t spare, size_t *argc) {
  size_t len, n;
  char *buf = read_file(path, &len);
  if (buf == NULL) {
    if (optional && errno == ENOENT) return NULL;
    die("reading %s: %s", path, strerror(errno));
  }
  char **argv = split_argv(buf, len, spare, &n);
  if (argv == NULL) {
    die("%s: %s", path,
        errno == EINVAL ? "not a NUL-separated argv (each argument ends with \\0)"
                        : strerror(errno));
  }
  if (argc != NULL) *argc = n;
  return argv;
}

static bool valid_app_name(const char *s) {
  return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void load_apps(void) {
  char *path = xpath(P.dir, "supervisor/apps");
  size_t len;
  char *text = read_file(path, &len);
  if (text == NULL) die("reading %s: %s", path, strerror(errno));
  if (strlen(text) != len) die("%s: contains a NUL byte", path);
  size_t max = 1;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') max++;
  P.apps = xmalloc(max * sizeof *P.apps);
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    if (!valid_app_name(line)) die("%s: invalid app name \"%s\"", path, line);
    for (size_t i = 0; i < P.napps; i++)
      if (strcmp(P.apps[i].name, line) == 0) die("%s: app \"%s\" listed twice", path, line);
    struct app *a = &P.apps[P.napps++];
    a->name = line;
    char *apps_dir = xpath(P.dir, "apps");
    a->dir = xpath(apps_dir, line);
    free(apps_dir);
    char *f = xpath(a->dir, "start");
    a->start_argv = load_argv(f, false, 0, NULL);
    free(f);
    f = xpath(a->dir, "signal");
    a->signal_argv = load_argv(f, true, 1, &a->signal_argc);
    free(f);
    a->log_fd = -1;
    a->out = (struct stream){.fd = -1, .copy_fd = P.detach ? -1 : 1, .log = {.name = "stdout"}};
    a->err = (struct stream){.fd = -1, .copy_fd = P.detach ? -1 : 2, .log = {.name = "stderr"}};
    a->tty = (struct stream){.fd = -1, .copy_fd = P.detach ? -1 : 1, .log = {.name = "stdout"}};
  }
  if (P.napps == 0) die("%s lists no apps", path);
  free(path);
  if (P.interactive && P.napps != 1) die("--interactive needs exactly one app, got %zu", P.napps);
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
    return PUMP_DATA;
  }
  if (n == -1 && errno == EAGAIN) return PUMP_AGAIN;
  /* EIO is how a pty master says the app side has gone: the end of the stream, not an error. */
  if (n == -1 && errno != EIO) warn("app %s: reading its %s: %s", a->name, s->log.name, strerror(errno));
  stream_close(a, s);
  return PUMP_CLOSED;
}

/* Everything already written, without waiting for writers that are still alive. */
static void stream_drain(struct app *a, struct stream *s) {
  while (s->fd != -1 && stream_pump(a, s) == PUMP_DATA) {
  }
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
  a->state = APP_RUNNING; /* so that app_exited records it like any other exit */
  app_exited(a, EXIT_RKT << 8);
}

static int open_log(struct app *a) {
  char *path = xpath(a->dir, "log");
  /* O_APPEND: a restarted pod adds to the log; each record is one write (see cri-log.c). */
  a->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  int saved = errno;
  free(path);
  errno = saved;
  return a->log_fd == -1 ? -1 : 0;
}

static int nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void start_app(struct app *a) {
  char why[256];
  a->state = APP_STARTING;
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
  if (open_log(a) == -1) {
    snprintf(why, sizeof why, "opening its log: %s", strerror(errno));
    start_failed(a, why, false);
    return;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) == -1) die("pipe: %s", strerror(errno));
  if (pipe2(err, O_CLOEXEC) == -1) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid == -1) die("fork: %s", strerror(errno));
  if (pid == 0) exec_child(a->start_argv, P.devnull, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (nonblocking(out[0]) == -1 || nonblocking(err[0]) == -1) die("fcntl: %s", strerror(errno));
  a->out.fd = out[0];
  a->err.fd = err[0];
  a->start_pid = pid;
}

/* Starts apps in order, each once the previous one's start command has finished. */
static void start_next(void) {
  while (P.stop_level == 0 && P.next_app < P.napps) {
    for (size_t i = 0; i < P.napps; i++)
      if (P.apps[i].state == APP_STARTING) return;
    start_app(&P.apps[P.next_app++]);
  }
}

static void signal_app(struct app *a, int level) {
  if (a->stop_level >= level) return;
  a->stop_level = level;
  int sig = level == 1 ? SIGTERM : SIGKILL;
  if (a->signal_argv == NULL) {
    if (kill(a->pid, sig) == -1 && errno != ESRCH)
      warn("app %s: kill %d: %s", a->name, (int)a->pid, strerror(errno));
    return;
  }
  /* The runtime knows how to signal its app (runsc: the host pid is the sandbox, not the app). */
  a->signal_argv[a->signal_argc] = level == 1 ? "TERM" : "KILL";
  pid_t pid = fork();
  if (pid == -1) die("fork: %s", strerror(errno));
  if (pid == 0) exec_child(a->signal_argv, P.devnull, STDERR_FILENO, STDERR_FILENO);
  struct helper *h = xmalloc(sizeof *h);
  *h = (struct helper){.pid = pid, .app = a, .next = P.helpers};
  P.helpers = h;
}

/*
 * Stops the pod: level 1 sends TERM to every running app and arms the KILL deadline, level 2
 * sends KILL. Apps not started yet never start; an app whose start command is still running
 * gets its signal as soon as it is up, and at level 2 the start command itself is killed.
 */
static void stop_pod(int level) {
  if (level <= P.stop_level) return;
  P.stop_level = level;
  if (level == 1) {
    struct timespec t = now_mono();
    time_t whole = (time_t)P.grace; /* grace is in [0, 86400] */
    t.tv_sec += whole;
    t.tv_nsec += (long)((P.grace - (double)whole) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
      t.tv_sec++;
      t.tv_nsec -= 1000000000L;
    }
    P.kill_at = t;
  }
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = &P.apps[i];
    if (a->state == APP_PENDING) a->state = APP_SKIPPED;
    else if (a->state == APP_RUNNING) signal_app(a, level);
    else if (a->state == APP_STARTING && level == 2) kill(a->start_pid, SIGKILL);
  }
}

static void note_exit_code(int code) {
  if (code == 0 || P.exit_code != 0) return;
  /* Shared fate: the first failure ends the pod and becomes its exit code. */
  P.exit_code = code;
  stop_pod(1);
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
  note_exit_code(code);
}

static void start_done(struct app *a, int status) {
  char why[512];
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
  app_write_time(a, "started");
  a->state = APP_RUNNING;
  if (r == a->pid) app_exited(a, st);
  else if (P.stop_level > 0) signal_app(a, P.stop_level);
  start_next();
}

/* A child we did not start: an app re-parented to us before we reaped its start command. */
static void orphan_reaped(pid_t pid, int status) {
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = &P.apps[i];
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
    struct app *a = &P.apps[i];
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
      warn("app %s: signal command failed (status %d)", done->app->name, exit_code_of(status));
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
      if (P.apps[0].tty.fd != -1) console_resize(P.apps[0].tty.fd);
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
  /* A reader of our stdout or of an app pipe going away is not a reason to die. */
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

static bool pod_done(void) {
  for (size_t i = 0; i < P.napps; i++)
    if (P.apps[i].state != APP_EXITED && P.apps[i].state != APP_SKIPPED) return false;
  return true;
}

static void close_streams(void) {
  for (size_t i = 0; i < P.napps; i++) {
    struct app *a = &P.apps[i];
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
  struct app *a = &P.apps[0];
  int master = console_receive_master(&P.console);
  if (master == 0) return;
  if (master == -1) die("console socket: receiving the pty master: %s", strerror(errno));
  a->tty.fd = master;
  if (console_raw() == -1) warn("putting the terminal in raw mode: %s", strerror(errno));
  console_resize(master);
  P.stdin_open = true;
}

static void read_stdin(void) {
  struct app *a = &P.apps[0];
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

/* --- main ---------------------------------------------------------------------------------- */

enum slot_kind { SLOT_SIGNALS, SLOT_STREAM, SLOT_CONSOLE_SOCKET, SLOT_STDIN, SLOT_MASTER };

struct slot {
  enum slot_kind kind;
  struct app *app;
  struct stream *stream;
};

static void run(void) {
  size_t max = 4 + 3 * P.napps;
  struct pollfd *pfds = xmalloc(max * sizeof *pfds);
  struct slot *slots = xmalloc(max * sizeof *slots);
  start_next();
  while (!pod_done()) {
    size_t n = 0;
#define ADD(fd_, ev_, ...) \
  (pfds[n] = (struct pollfd){.fd = (fd_), .events = (ev_)}, slots[n++] = (struct slot){__VA_ARGS__})
    ADD(P.sfd, POLLIN, .kind = SLOT_SIGNALS);
    for (size_t i = 0; i < P.napps; i++) {
      struct app *a = &P.apps[i];
      if (a->out.fd != -1) ADD(a->out.fd, POLLIN, .kind = SLOT_STREAM, .app = a, .stream = &a->out);
      if (a->err.fd != -1) ADD(a->err.fd, POLLIN, .kind = SLOT_STREAM, .app = a, .stream = &a->err);
    }
    if (P.interactive) {
      struct app *a = &P.apps[0];
      if (P.console.listen_fd != -1) ADD(P.console.listen_fd, POLLIN, .kind = SLOT_CONSOLE_SOCKET);
      if (a->tty.fd != -1)
        ADD(a->tty.fd, POLLIN | (P.console.pending_len > 0 ? POLLOUT : 0), .kind = SLOT_MASTER,
            .app = a, .stream = &a->tty);
      if (P.stdin_open && a->tty.fd != -1 && P.console.pending_len == 0)
        ADD(STDIN_FILENO, POLLIN, .kind = SLOT_STDIN);
    }
#undef ADD
    int timeout = P.stop_level == 1 ? ms_until(P.kill_at) : -1;
    if (poll(pfds, n, timeout) == -1) {
      if (errno == EINTR) continue;
      die("poll: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
      if (pfds[i].revents == 0) continue;
      struct slot *s = &slots[i];
      /* An earlier slot's work may have closed this fd (and a new pipe may reuse the number). */
      if (s->stream != NULL && s->stream->fd != pfds[i].fd) continue;
      switch (s->kind) {
      case SLOT_SIGNALS:
        handle_signals();
        break;
      case SLOT_STREAM:
        stream_pump(s->app, s->stream);
        break;
      case SLOT_CONSOLE_SOCKET:
        if (P.console.listen_fd != -1) receive_console();
        break;
      case SLOT_STDIN:
        if (P.stdin_open && P.apps[0].tty.fd != -1) read_stdin();
        break;
      case SLOT_MASTER:
        if ((pfds[i].revents & POLLOUT) && console_flush_input(&P.console, s->stream->fd) == -1)
          P.stdin_open = false;
        if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) stream_pump(s->app, s->stream);
        if (s->stream->fd == -1) P.stdin_open = false;
        break;
      }
    }
    if (P.stop_level == 1 && ms_until(P.kill_at) == 0) stop_pod(2);
    if (P.interactive && P.apps[0].state == APP_EXITED) P.stdin_open = false;
  }
  free(pfds);
  free(slots);
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
  dprintf(2, "usage: rkt-supervisor POD_DIR [--interactive] [--detach]\n");
  exit(EXIT_RKT);
}

int main(int argc, char **argv) {
  ensure_stdio();
  if (argc < 2) usage();
  P.dir = argv[1];
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--interactive") == 0) P.interactive = true;
    else if (strcmp(argv[i], "--detach") == 0) P.detach = true;
    else usage();
  }
  setup_signals();

  /* Read `finally` first: from here on every failure still hands the pod to the teardown. */
  char *path = xpath(P.dir, "supervisor/finally");
  P.finally_argv = load_argv(path, true, 0, NULL);
  free(path);

  const char *lock = getenv("RKT_LOCK_FD");
  if (lock != NULL) {
    char *end;
    errno = 0;
    long fd = strtol(lock, &end, 10);
    /* Not 0-2: --detach points those at /dev/null, which would drop the lock. */
    if (errno != 0 || *end != '\0' || end == lock || fd < 3 || fd > INT_MAX)
      die("RKT_LOCK_FD=%s: not a file descriptor above 2", lock);
    /* Close-on-exec for every child we start; cleared again for `finally` only. */
    if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1) die("RKT_LOCK_FD=%s: %s", lock, strerror(errno));
    P.lock_fd = (int)fd;
  }
  const char *grace = getenv("RKT_STOP_TIMEOUT");
  P.grace = 10;
  if (grace != NULL) {
    char *end;
    P.grace = strtod(grace, &end);
    if (end == grace || *end != '\0' || !(P.grace >= 0 && P.grace <= 86400))
      die("RKT_STOP_TIMEOUT=%s: not a number of seconds", grace);
  }
  if (P.interactive && P.detach) die("--interactive and --detach exclude each other");

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) die("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  P.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (P.devnull == -1) die("/dev/null: %s", strerror(errno));

  if (P.detach) {
    /* Our own session: the caller's terminal closing must not hang up the pod. Node may already
       have made us a session leader (spawn with detached: true). */
    if (getsid(0) != getpid() && setsid() == -1) die("setsid: %s", strerror(errno));
    for (int fd = 0; fd < 3; fd++)
      if (dup2(P.devnull, fd) == -1) die("dup2 /dev/null: %s", strerror(errno));
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

  run();
  close_streams();
  finish(P.exit_code);
}
