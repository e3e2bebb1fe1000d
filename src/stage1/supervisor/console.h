/*
 * console: the terminal side of an interactive pod (`rkt run --interactive`).
 *
 * The OCI runtime allocates the app's pty and hands us its master over a unix socket, as
 * runc's `--console-socket` does (runc/libcontainer/utils SendFile: one message carrying the
 * pty's name and the fd as SCM_RIGHTS). We put the user's terminal in raw mode, so every key
 * reaches the app's own line discipline, and relay bytes both ways. Ctrl-] pressed three times
 * within a second ends the pod, as systemd-nspawn does for rkt's default stage1.
 */
#ifndef RKT_CONSOLE_H
#define RKT_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CONSOLE_INPUT_MAX 4096
#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */
#define CONSOLE_ESCAPE_COUNT 3

struct console {
  int listen_fd;    /* console socket until the runtime has sent the master; -1 after */
  char *sock_path;  /* unlinked once the master arrived */
  /* Keyboard bytes waiting for the pty to take them; read no more while any are left. */
  char pending[CONSOLE_INPUT_MAX + CONSOLE_ESCAPE_COUNT];
  size_t pending_len;
  int escapes;                /* Ctrl-] presses held back, not yet forwarded */
  struct timespec first_escape;
};

/* Listens at path (replacing a stale socket), private to the owner. */
int console_listen(struct console *c, const char *path);

/*
 * Accepts the runtime's connection and receives the pty master. Returns the master fd
 * (non-blocking, close-on-exec), 0 if no connection was pending after all, -1 on error.
 * Closes and unlinks the socket once the master arrived.
 */
int console_receive_master(struct console *c);

/* Closes the socket and removes its path, if still there. */
void console_close(struct console *c);

/* Puts stdin in raw mode if it is a terminal; console_restore undoes it. */
int console_raw(void);

/* Whether console_raw changed the terminal (and console_restore has not undone it yet). */
bool console_is_raw(void);

/* Restores the terminal mode console_raw changed. Async-signal-safe, idempotent. */
void console_restore(void);

/* Copies the terminal's window size (stdin) to the pty master. */
void console_resize(int master);

/*
 * Adds keyboard input to c->pending, holding Ctrl-] presses back. Returns true when the third
 * press within a second arrived: the user asked to end the pod, and the presses are dropped.
 * Presses that do not complete the sequence are forwarded with the next byte. Room: pending
 * must be empty and n <= CONSOLE_INPUT_MAX.
 */
bool console_filter_input(struct console *c, const char *in, size_t n);

/*
 * Writes pending input to the master. Returns 0 when done or when the pty is full for now
 * (pending_len > 0 then: wait for POLLOUT), -1 when the pty is gone (pending is dropped).
 */
int console_flush_input(struct console *c, int master);

#endif
