/* buffer: see buffer.h. */
#define _GNU_SOURCE
#include "buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Memory above this is released as soon as the buffer runs empty (a burst is over). */
#define BUFFER_KEEP 16384

size_t buffer_size(const struct buffer *b) { return b->len - b->off; }

int buffer_append(struct buffer *b, const void *data, size_t n) {
  if (n == 0) return 0;
  if (b->cap - b->len < n && b->off > 0) {
    /* Reuse the consumed front before growing. */
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
  }
  if (b->cap - b->len < n) {
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (cap - b->len < n) {
      if (cap > ((size_t)-1) / 2) {
        errno = ENOMEM;
        return -1;
      }
      cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

void buffer_consume(struct buffer *b, size_t n) {
  b->off += n;
  if (b->off < b->len) return;
  b->off = b->len = 0;
  if (b->cap > BUFFER_KEEP) buffer_free(b);
}

int buffer_flush(struct buffer *b, int fd, int is_socket) {
  while (buffer_size(b) > 0) {
    ssize_t w = is_socket ? send(fd, b->data + b->off, buffer_size(b), MSG_NOSIGNAL | MSG_DONTWAIT)
                          : write(fd, b->data + b->off, buffer_size(b));
    if (w == -1) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    buffer_consume(b, (size_t)w);
  }
  return 0;
}

void buffer_free(struct buffer *b) {
  free(b->data);
  *b = (struct buffer){0};
}
