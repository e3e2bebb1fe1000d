/*
 * cri-log: writes an app's output in the Kubernetes CRI container log format, so `rkt logs`,
 * the CRI server and kubelet's own parser all read the same file:
 *
 *   <RFC 3339 UTC timestamp> <stdout|stderr> <F|P> <text>\n
 *
 * One record per line of output, without its newline. A line longer than CRI_LOG_MAX_LINE is
 * cut into P (partial) records followed by the F (full) record that ends it, exactly as
 * containerd's CRI logger (internal/cri/io/logger.go) does with kubelet's 16 KiB limit. A tail
 * that never got its newline (the stream ended) is written as a P record, again as containerd
 * does: a reader that joins P records and adds "\n" after each F record gets the original bytes
 * back.
 */
#ifndef RKT_CRI_LOG_H
#define RKT_CRI_LOG_H

#include <stddef.h>

#define CRI_LOG_MAX_LINE 16384

/* The unfinished line of one stream (stdout or stderr) of one app. */
struct cri_stream {
  const char *name; /* "stdout" or "stderr" */
  char *buf;        /* CRI_LOG_MAX_LINE bytes, allocated on the first unfinished line */
  size_t len;
};

/* Appends n bytes of output, writing a record to log_fd for every line they complete. */
int cri_log_write(int log_fd, struct cri_stream *s, const char *data, size_t n);

/* Writes the unfinished line, if any, as a P record (the stream has ended). */
int cri_log_flush(int log_fd, struct cri_stream *s);

void cri_stream_free(struct cri_stream *s);

#endif
