/*
 * supervisor: what the parts of rkt-supervisor share. rkt-supervisor.c owns the pod and its
 * apps (start, exit, stop, restart) and the poll loop; control.c serves the control socket of a
 * mutable pod, attach.c the apps' attach sockets. See README.md for the file contract.
 */
#ifndef RKT_SUPERVISOR_H
#define RKT_SUPERVISOR_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buffer.h"
#include "console.h"
#include "cri-log.h"

/* rkt's exit code for "rkt itself failed" (and for an app whose start command failed). */
#define EXIT_RKT 254
#define READ_CHUNK 16384

enum app_state {
  APP_PENDING,    /* not started yet (run mode: started in turn) */
  APP_CREATED,    /* mutable: known, never started */
  APP_STARTING,   /* start command running */
  APP_RUNNING,    /* start command succeeded, app process alive */
  APP_EXITED,     /* exit recorded */
  APP_RESTARTING, /* mutable: exited, waiting out its backoff before the next start */
  APP_SKIPPED,    /* never started: the pod was stopping by its turn */
};

enum restart_policy { RESTART_NEVER, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum stdin_mode { STDIN_NONE, STDIN_STREAM, STDIN_TTY };

struct stream {
  int fd;      /* pipe read end, or the pty master; -1 once closed */
  int copy_fd; /* where a foreground pod echoes it (1 or 2); -1 when detached */
  unsigned char attach_type; /* attach frame type of this output (1 stdout, 2 stderr) */
  struct cri_stream log;
};

/* What apps/NAME/{start,signal,restart,stdin,log-path} say; read at each `start` request. */
struct app_config {
  char **start_argv;
  char **signal_argv; /* NULL: signal the pid with kill(2) */
  size_t signal_argc;
  enum restart_policy restart;
  unsigned initial_ms, max_ms, reset_ms; /* backoff */
  enum stdin_mode stdin_mode;
  bool stdin_once; /* the first attach client to leave closes stdin */
  char *log_path;  /* NULL: apps/NAME/log */
};

struct attach; /* attach.c */

struct app {
  char *name;
  char *dir;
  struct app_config cfg;
  enum app_state state;
  pid_t start_pid;
  pid_t pid; /* app process, from the pid file; 0 until known */
  /* The app was reaped before its start command was (both exited, in either order). */
  bool reaped_early;
  int early_status;
  int stop_level; /* highest stop signal delivered to this run: 0 none, 1 TERM, 2 KILL */
  int stop_want;  /* stop asked for (0, 1, 2): signal once up, never restart */
  bool kill_armed;
  struct timespec kill_at; /* KILL deadline while stop_want == 1 */
  bool has_run;            /* this run got as far as running */
  struct timespec run_since;
  struct timespec restart_at; /* while APP_RESTARTING */
  unsigned backoff_ms;        /* last backoff delay; 0 after a long enough run */
  unsigned restarts;          /* restarts by the policy */
  long restarts_written;      /* what apps/NAME/restarts says; -1: not written yet */
  bool has_exit;
  int exit_code; /* of the last run */
  bool forgotten; /* dropped: freed at the end of the loop iteration */
  int log_fd;
  bool log_failed; /* reported once; output still reaches the console */
  struct stream out, err, tty;
  struct console *console; /* tty: the runtime's console socket while starting */
  int stdin_fd;            /* stream: write end of the app's stdin pipe; -1 if none */
  bool stdin_open;         /* stdin takes input (stream pipe or tty master) */
  bool stdin_eof;          /* stream: close stdin once stdin_buf is written */
  struct buffer stdin_buf; /* input from attach clients not written yet */
  struct attach *attach;
};

/* A running `signal` command, reaped like everything else, its failure reported. */
struct helper {
  pid_t pid;
  char *app_name;
  struct helper *next;
};

struct pod {
  const char *dir;
  bool interactive, detach, mutable_pod;
  struct app **apps;
  size_t napps, apps_cap, next_app;
  char **finally_argv;
  int lock_fd;
  sigset_t orig_mask;
  int sfd;
  int devnull;
  double grace;        /* seconds between TERM and KILL */
  int stop_level;      /* the pod: 0 running, 1 stopping (TERM sent), 2 KILL sent */
  int exit_code;       /* first non-zero app exit code */
  bool echo_broken[3]; /* our stdout/stderr went away (EPIPE): stop copying to it */
  bool stdin_open;     /* interactive: still relaying the keyboard */
  struct console console;
  struct helper *helpers;
};

extern struct pod P;

/* --- the poll set, rebuilt every loop iteration ---------------------------------------------- */

enum slot_kind {
  SLOT_SIGNALS,
  SLOT_STREAM,          /* obj app, sub stream */
  SLOT_CONSOLE_SOCKET,  /* --interactive */
  SLOT_STDIN,           /* --interactive */
  SLOT_MASTER,          /* --interactive, obj app, sub stream */
  SLOT_APP_CONSOLE,     /* obj app: its console socket while starting */
  SLOT_APP_INPUT,       /* obj app: its stdin takes buffered input */
  SLOT_CONTROL_LISTEN,
  SLOT_CONTROL_CONN,    /* obj struct conn */
  SLOT_ATTACH_LISTEN,   /* obj app */
  SLOT_ATTACH_CLIENT,   /* obj app, sub struct attach_client */
};

struct slot {
  enum slot_kind kind;
  void *obj;
  void *sub;
};

struct pollset {
  struct pollfd *pfds;
  struct slot *slots;
  size_t n, cap;
};

/* Adds fd to the set. Handlers must check that obj still owns fd: earlier slots' work may have
   closed it (objects are freed only between iterations, so the pointer itself stays valid). */
void pollset_add(struct pollset *ps, int fd, short events, enum slot_kind kind, void *obj, void *sub);

/* --- rkt-supervisor.c ------------------------------------------------------------------------ */

void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xmalloc(size_t n);
char *xstrdup(const char *s);
char *xpath(const char *dir, const char *name);
struct timespec now_mono(void);
/* CLOCK_MONOTONIC now + seconds (0 to 86400). */
struct timespec deadline_after(double seconds);
/* Milliseconds until t, rounded up; 0 if past. */
int ms_until(struct timespec t);
int exit_code_of(int status);
bool valid_app_name(const char *s);

/* A live (not forgotten) app by name, or NULL. */
struct app *app_find(const char *name);
/*
 * Reads apps/NAME's files fresh and makes the app known (state created) or updates a known
 * app's configuration (not while starting or running). NULL with a message in err on failure,
 * the app unchanged.
 */
struct app *app_load(const char *name, char *err, size_t errlen);
/* Starts an app (created, exited or restarting); control_app_started reports the outcome. */
void app_start(struct app *a);
/*
 * Asks an app to stop: level 1 TERM (KILL once `deadline` passed), level 2 KILL. A starting app
 * gets its signal when up; a restarting app just stays exited. Never followed by a restart.
 */
void app_stop(struct app *a, int level, struct timespec deadline);
/*
 * Sends sig to a running app (through apps/NAME/signal if it has one). Returns 0 when sent,
 * 1 when a signal command runs (*helper; control_helper_done reports it), -1 with err.
 * signame is what a signal command gets (TERM, or a number).
 */
int app_signal(struct app *a, int sig, const char *signame, struct helper **helper, char *err,
               size_t errlen);
/* Drops an app that is not starting or running; its sockets go now, its memory later. */
void app_forget(struct app *a);
/* Reopens the app's log file (after a log rotation). -1 with errno. */
int app_reopen_log(struct app *a);
/* "created", "starting", "running", "stopping", "exited" or "restarting". */
const char *app_state_name(const struct app *a);
/* Where the app's stdin input goes (pipe write end or pty master), -1 if nowhere. */
int app_input_fd(const struct app *a);
/* Stops every app (mutable: the pod then ends once none runs). A later call may only lower
   deadlines or raise the level. */
void pod_stop(int level, struct timespec deadline);

/* --- control.c ------------------------------------------------------------------------------- */

/* Listens on supervisor/control.sock. -1 with errno. */
int control_listen(void);
/* Serves the requests that can be served now (before each poll). */
void control_tick(void);
void control_poll(struct pollset *ps);
void control_ready(struct slot *s, short revents);
/* Frees connections closed during this iteration. */
void control_sweep(void);
/* Closes everything and removes the socket. Safe from finish(). */
void control_close(void);
/* A start finished: error NULL means the app runs. Answers `start` requests waiting for it. */
void control_app_started(struct app *a, const char *error);
/* An app exited: answers `stop` requests waiting for it. */
void control_app_exited(struct app *a);
/* A signal command ended. */
void control_helper_done(struct helper *h, int status);
/* Every app has stopped after a shutdown: answers `shutdown` requests (best effort). */
void control_pod_done(void);

/* --- attach.c -------------------------------------------------------------------------------- */

/* Listens on apps/NAME/attach.sock. -1 with errno. */
int attach_listen(struct app *a);
/* Disconnects every client and removes the socket. Safe from finish(). */
void attach_close(struct app *a);
/* Sends app output (type 1 stdout, 2 stderr) to every client. */
void attach_output(struct app *a, unsigned char type, const char *data, size_t n);
/* Sends the exit frame to every client. */
void attach_app_exited(struct app *a);
void attach_poll(struct pollset *ps, struct app *a);
void attach_ready(struct slot *s, short revents);
/* Writes buffered input to the app's stdin (SLOT_APP_INPUT). */
void attach_input_ready(struct app *a);
/* Frees clients closed during this iteration. */
void attach_sweep(struct app *a);
/* Frees all attach state (after attach_close). */
void attach_free(struct app *a);

#endif
