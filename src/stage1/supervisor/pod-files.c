/* pod-files: see pod-files.h. */
#define _GNU_SOURCE
#include "pod-files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + 1 + b + 1);
  if (p == NULL) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) return NULL;
  size_t cap = 256, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL) goto fail;
  for (;;) {
    if (cap - n < 2) {
      if (cap >= POD_FILE_MAX) {
        errno = EFBIG;
        goto fail;
      }
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) goto fail;
      buf = bigger;
      cap *= 2;
    }
    /* Leave one byte for the terminating NUL. */
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r == -1) {
      if (errno == EINTR) continue;
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return buf;
fail: {
  int saved = errno;
  free(buf);
  close(fd);
  errno = saved;
  return NULL;
}
}

char **split_argv(char *buf, size_t len, size_t spare, size_t *argc) {
  if (len == 0 || buf[len - 1] != '\0') {
    errno = EINVAL;
    return NULL;
  }
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0') n++;
  char **argv = calloc(n + spare + 1, sizeof *argv);
  if (argv == NULL) return NULL;
  char *p = buf;
  for (size_t i = 0; i < n; i++) {
    argv[i] = p;
    p += strlen(p) + 1;
  }
  /* An empty program name cannot be exec'd; say so here rather than as a confusing ENOENT. */
  if (argv[0][0] == '\0') {
    free(argv);
    errno = EINVAL;
    return NULL;
  }
  *argc = n;
  return argv;
}

int read_pid_file(const char *path, pid_t *pid) {
  size_t len;
  char *text = read_file(path, &len);
  if (text == NULL) return -1;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  int ok = errno == 0 && end != text && v > 0 && v <= INT_MAX;
  while (ok && *end != '\0') {
    if (*end != '\n' && *end != ' ' && *end != '\t' && *end != '\r') ok = 0;
    end++;
  }
  free(text);
  if (!ok) {
    errno = EINVAL;
    return -1;
  }
  *pid = (pid_t)v;
  return 0;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w == -1) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len) {
  char *tmp = malloc(strlen(path) + sizeof ".tmp");
  if (tmp == NULL) return -1;
  strcpy(tmp, path);
  strcat(tmp, ".tmp");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd == -1) goto fail;
  /* fsync before rename: after a crash the name must not point at an empty inode. */
  if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
    int saved = errno;
    close(fd);
    unlink(tmp);
    errno = saved;
    goto fail;
  }
  if (close(fd) == -1 || rename(tmp, path) == -1) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
    goto fail;
  }
  free(tmp);
  return 0;
fail: {
  int saved = errno;
  free(tmp);
  errno = saved;
  return -1;
}
}

void format_timestamp(const struct timespec *ts, char out[TIMESTAMP_MAX]) {
  struct tm tm;
  if (gmtime_r(&ts->tv_sec, &tm) == NULL) {
    snprintf(out, TIMESTAMP_MAX, "1970-01-01T00:00:00.000000000Z");
    return;
  }
  snprintf(out, TIMESTAMP_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts->tv_nsec);
}

void timestamp_now(char out[TIMESTAMP_MAX]) {
  struct timespec ts;
  /* CLOCK_REALTIME cannot fail with a valid pointer; zero keeps the output well-formed anyway. */
  if (clock_gettime(CLOCK_REALTIME, &ts) == -1) ts = (struct timespec){0, 0};
  format_timestamp(&ts, out);
}
