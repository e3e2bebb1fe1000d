/* cri-log: see cri-log.h. */
#define _GNU_SOURCE
#include "cri-log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "pod-files.h"

/*
 * One record in one writev: the log is opened O_APPEND, so a record is never interleaved with
 * another writer's and a reader never sees half a header.
 */
static int write_record(int fd, const char *stream, char tag, const char *a, size_t alen,
                        const char *b, size_t blen) {
  char head[TIMESTAMP_MAX + 16];
  char ts[TIMESTAMP_MAX];
  timestamp_now(ts);
  int hlen = snprintf(head, sizeof head, "%s %s %c ", ts, stream, tag);
  if (hlen < 0 || (size_t)hlen >= sizeof head) {
    errno = EOVERFLOW;
    return -1;
  }
  struct iovec iov[4] = {
      {head, (size_t)hlen}, {(void *)a, alen}, {(void *)b, blen}, {"\n", 1}};
  int iovcnt = 4, i = 0;
  while (i < iovcnt) {
    ssize_t w = writev(fd, iov + i, iovcnt - i);
    if (w == -1) {
      if (errno == EINTR) continue;
      return -1;
    }
    /* Short write (disk full, quota): skip what went out and retry the rest. */
    size_t done = (size_t)w;
    while (i < iovcnt && done >= iov[i].iov_len) done -= iov[i++].iov_len;
    if (i < iovcnt) {
      iov[i].iov_base = (char *)iov[i].iov_base + done;
      iov[i].iov_len -= done;
    }
  }
  return 0;
}

int cri_log_write(int fd, struct cri_stream *s, const char *data, size_t n) {
  int rc = 0;
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl != NULL ? (size_t)(nl - data) : n;
    size_t room = CRI_LOG_MAX_LINE - s->len;
    if (take > room) {
      /*
       * More bytes of this line than fit: the buffer plus the first `room` bytes make a full
       * P record. Only now, not when the buffer merely filled up, because a newline right
       * after exactly CRI_LOG_MAX_LINE bytes makes that line an F record (containerd).
       */
      if (write_record(fd, s->name, 'P', s->buf, s->len, data, room) == -1) rc = -1;
      s->len = 0;
      data += room;
      n -= room;
      continue;
    }
    if (nl != NULL) {
      if (write_record(fd, s->name, 'F', s->buf, s->len, data, take) == -1) rc = -1;
      s->len = 0;
      data += take + 1;
      n -= take + 1;
      continue;
    }
    if (s->buf == NULL && (s->buf = malloc(CRI_LOG_MAX_LINE)) == NULL) return -1;
    memcpy(s->buf + s->len, data, take);
    s->len += take;
    n = 0;
  }
  return rc;
}

int cri_log_flush(int fd, struct cri_stream *s) {
  if (s->len == 0) return 0;
  int rc = write_record(fd, s->name, 'P', s->buf, s->len, "", 0);
  s->len = 0;
  return rc;
}

void cri_stream_free(struct cri_stream *s) {
  free(s->buf);
  s->buf = NULL;
  s->len = 0;
}
