/*
 * buffer: a growable byte queue for the supervisor's sockets (control replies, attach frames,
 * an app's pending stdin). Appends at the end, consumes from the front without moving the
 * bytes each time, and gives its memory back once empty, so an idle pod holds none.
 */
#ifndef RKT_BUFFER_H
#define RKT_BUFFER_H

#include <stddef.h>

struct buffer {
  char *data;
  size_t off; /* first byte not consumed yet */
  size_t len; /* end of the queued bytes: data[off..len) is queued */
  size_t cap;
};

/* Bytes queued. */
size_t buffer_size(const struct buffer *b);

/* Queues n bytes. -1 (ENOMEM) leaves the buffer as it was. */
int buffer_append(struct buffer *b, const void *data, size_t n);

/* Drops n queued bytes from the front (n <= buffer_size). */
void buffer_consume(struct buffer *b, size_t n);

/*
 * Writes queued bytes to a non-blocking fd until it takes no more. Returns 0 when the buffer is
 * empty or the fd is full for now (EAGAIN), -1 on any other error (errno set; EPIPE: the reader
 * is gone). Sockets are written with MSG_NOSIGNAL, anything else with write(2).
 */
int buffer_flush(struct buffer *b, int fd, int is_socket);

void buffer_free(struct buffer *b);

#endif
