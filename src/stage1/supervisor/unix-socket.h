/*
 * unix-socket: the listening sockets of a mutable pod (supervisor/control.sock and each app's
 * attach.sock). A client must never find the name before the socket listens, nor a stale
 * socket of an earlier supervisor that refuses connections: we bind a temporary name, listen,
 * and rename it over the final one.
 */
#ifndef RKT_UNIX_SOCKET_H
#define RKT_UNIX_SOCKET_H

/*
 * Listens on dir/name, mode 0600, non-blocking and close-on-exec; returns the fd or -1 (errno
 * set). A sun_path holds 107 bytes: a longer dir is reached through /proc/self/fd/N/, so any
 * pod directory works (clients with long paths can connect the same way).
 */
int unix_listen(const char *dir, const char *name);

/*
 * Accepts one pending connection, non-blocking and close-on-exec. Returns the fd, or -1 with
 * errno EAGAIN when there is none (also after a client that gave up: ECONNABORTED, EINTR).
 */
int unix_accept(int listen_fd);

#endif
