/*
 * rkt-launch: the process the user's shell (or systemd) waits on for `rkt run`.
 *
 *   rkt-launch NODE SCRIPT [ARGS...]
 *
 * Why this exists, and why it is C: rkt has no daemon, `rkt run` is the pod, and what a running
 * pod costs beyond its apps must stay under 10 MB. Node does the real work of `rkt run` (fetch,
 * render, network, spawn the pod's rkt-supervisor), but a resident Node process is ~40 MB, so
 * Node must exit once the pod runs. Yet the caller must keep waiting on one pid that ends with
 * the pod's exit code and passes signals on. That pid is this program: it runs Node as its
 * child, and when Node hands over the supervisor's pid and exits, it keeps waiting for that
 * supervisor instead. It needs nothing but libc, and resident it is about 1 MB (mostly shared
 * libc pages).
 *
 * The hand-over: Node gets the write end of a pipe as fd 3 (RKT_LAUNCH_FD=3) and may write one
 * line, "wait <pid>\n", naming a supervisor it spawned and left running. We are a child
 * subreaper (PR_SET_CHILD_SUBREAPER), so when Node exits the orphaned supervisor becomes our
 * child and waitpid() gives us its real exit status. Without the line, Node's status is ours.
 *
 * Exit status: the awaited process's code, 128+signo if a signal killed it, 254 if we failed.
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT go to Node, and once the line has been read to the
 * supervisor instead; except a signal from the terminal (Ctrl-C) when the target is in our
 * process group, which the terminal has already signalled as a whole.
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
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_RKT 254
#define LAUNCH_FD 3

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(STDERR_FILENO, "rkt-launch: %s\n", msg);
  exit(EXIT_RKT);
}

static int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_RKT;
}

/*
 * The hand-over line. "wait " + a pid + "\n" fits in 32 bytes; anything longer is not the line,
 * so the buffer is bounded by the protocol, never by luck.
 */
static struct {
  int fd; /* read end; -1 once at EOF */
  char buf[32];
  size_t len;
  bool complete;
  pid_t pid;
} line = {.fd = -1};

static void parse_line(void) {
  const char *p = line.buf;
  if (strncmp(p, "wait ", 5) != 0) fail("Node wrote an unknown hand-over line (want \"wait <pid>\")");
  char *end;
  errno = 0;
  long v = strtol(p + 5, &end, 10);
  if (errno != 0 || end == p + 5 || *end != '\n' || v <= 0 || v > INT_MAX)
    fail("Node wrote an invalid pid in its hand-over line");
  line.pid = (pid_t)v;
  line.complete = true;
}

/* Reads whatever Node has written so far, without waiting for more. */
static void read_line(void) {
  while (line.fd != -1 && !line.complete) {
    if (line.len == sizeof line.buf) fail("Node's hand-over line is too long");
    ssize_t n = read(line.fd, line.buf + line.len, 1);
    if (n == -1) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      fail("reading fd %d pipe: %s", LAUNCH_FD, strerror(errno));
    }
    if (n == 0) {
      /* EOF: Node and everything it passed fd 3 to are gone. A half line is no line. */
      if (line.len > 0) fail("Node's hand-over line ends without a newline");
      close(line.fd);
      line.fd = -1;
      return;
    }
    /* One byte at a time: we must not consume anything past the one line. */
    if (line.buf[line.len++] == '\n') parse_line();
  }
}

static pid_t node;
static bool node_done;

/*
 * Node has exited. With the line read, the supervisor is now our child (the kernel re-parents
 * orphans before it notifies the parent that the original parent died): wait for it from now
 * on. Returns the exit code to end with now, or -1 to keep waiting.
 */
static int node_exited(int status) {
  node_done = true;
  /* Node writes the line before it exits, so it is in the pipe by now if it was written. */
  read_line();
  if (!line.complete) return exit_code_of(status);
  int st;
  pid_t r;
  do r = waitpid(line.pid, &st, WNOHANG);
  while (r == -1 && errno == EINTR);
  if (r == -1) fail("pod supervisor %d is not our child (%s)", (int)line.pid, strerror(errno));
  return r == line.pid ? exit_code_of(st) : -1;
}

/* Reaps every child that has exited; returns the code to exit with, or -1 to keep waiting. */
static int reap(void) {
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid == -1) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return -1;
      fail("waitpid: %s", strerror(errno));
    }
    if (pid == 0) return -1;
    if (pid == node && !node_done) {
      int code = node_exited(st);
      if (code != -1) return code;
    } else if (node_done && line.complete && pid == line.pid) {
      return exit_code_of(st);
    }
    /* Anything else is an adopted orphan (we are a subreaper): reaped and forgotten. */
  }
}

static void forward(const struct signalfd_siginfo *si) {
  int sig = (int)si->ssi_signo;
  /* Once the line is read the supervisor is the pod; Node is only finishing its exit. */
  pid_t to = line.complete ? line.pid : node_done ? 0 : node;
  if (to <= 0) return;
  /*
   * A key on the terminal (Ctrl-C, Ctrl-\) or a hang-up signals the whole foreground process
   * group (the kernel sends it as SI_KERNEL). A target in our group got its own copy; a second
   * one would not be harmless: to the supervisor it means "stop now, skip the grace period".
   */
  if (si->ssi_code == SI_KERNEL && getpgid(to) == getpgrp()) return;
  if (kill(to, sig) == -1 && errno != ESRCH)
    dprintf(STDERR_FILENO, "rkt-launch: forwarding signal %d to %d: %s\n", sig, (int)to, strerror(errno));
}

int main(int argc, char **argv) {
  if (argc < 3) {
    dprintf(STDERR_FILENO, "usage: rkt-launch NODE SCRIPT [ARGS...]\n");
    return EXIT_RKT;
  }
  /* Keep 0-2 taken so the pipe below never lands there. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd) return EXIT_RKT;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));

  sigset_t set, orig;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  /* An ignored signal never reaches a signalfd, and an ignored SIGCHLD auto-reaps children:
     undo whatever our parent set, as we handle all of them ourselves. */
  signal(SIGCHLD, SIG_DFL);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
    signal(forwarded[i], SIG_DFL);
    sigaddset(&set, forwarded[i]);
  }
  /* Blocked before the fork, so no signal slips between fork and knowing Node's pid. */
  if (sigprocmask(SIG_BLOCK, &set, &orig) == -1) fail("sigprocmask: %s", strerror(errno));
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd == -1) fail("signalfd: %s", strerror(errno));

  int p[2];
  if (pipe2(p, O_CLOEXEC) == -1) fail("pipe: %s", strerror(errno));
  node = fork();
  if (node == -1) fail("fork: %s", strerror(errno));
  if (node == 0) {
    /* dup2 clears close-on-exec on the copy; a pipe already at fd 3 needs it cleared by hand. */
    if (p[1] == LAUNCH_FD) {
      if (fcntl(LAUNCH_FD, F_SETFD, 0) == -1) _exit(EXIT_RKT);
    } else if (dup2(p[1], LAUNCH_FD) == -1) {
      _exit(EXIT_RKT);
    }
    if (setenv("RKT_LAUNCH_FD", "3", 1) == -1) _exit(EXIT_RKT);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    execvp(argv[1], argv + 1);
    dprintf(STDERR_FILENO, "rkt-launch: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  close(p[1]);
  line.fd = p[0];
  /* Non-blocking: the supervisor Node spawns may inherit fd 3 and keep the pipe open, so the
     end of Node is never an EOF we could wait for. */
  int fl = fcntl(line.fd, F_GETFL);
  if (fl == -1 || fcntl(line.fd, F_SETFL, fl | O_NONBLOCK) == -1) fail("fcntl: %s", strerror(errno));

  for (;;) {
    struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = line.fd, .events = POLLIN}};
    nfds_t n = line.fd != -1 && !line.complete ? 2 : 1;
    if (poll(pfd, n, -1) == -1) {
      if (errno == EINTR) continue;
      fail("poll: %s", strerror(errno));
    }
    /* The line first: a signal that arrives with it is for the supervisor it names. */
    if (n == 2 && pfd[1].revents != 0) read_line();
    if (pfd[0].revents == 0) continue;
    struct signalfd_siginfo si;
    for (;;) {
      ssize_t r = read(sfd, &si, sizeof si);
      if (r == -1) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        fail("reading signalfd: %s", strerror(errno));
      }
      if (r != (ssize_t)sizeof si) fail("reading signalfd: short read");
      if (si.ssi_signo != SIGCHLD) {
        read_line();
        forward(&si);
        continue;
      }
      int code = reap();
      if (code != -1) return code;
    }
  }
}
