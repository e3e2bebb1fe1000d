/*
 * pod-files: the small files of the pod directory contract between the Node stage0 and
 * rkt-supervisor (see README.md): whole-file reads, NUL-separated argv files, pid files,
 * crash-safe writes and the RFC 3339 timestamps the files and the CRI log carry.
 *
 * Every function reports failure as -1 or NULL with errno set; the caller adds context.
 */
#ifndef RKT_POD_FILES_H
#define RKT_POD_FILES_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Room for "2006-01-02T15:04:05.999999999Z" and a NUL, with slack for years past 9999. */
#define TIMESTAMP_MAX 48

/* Files in the contract are small; anything larger is a bug or an attack, not data. */
#define POD_FILE_MAX (1024 * 1024)

/* "dir/name" in a fresh allocation. */
char *path_join(const char *dir, const char *name);

/* Whole file in a fresh allocation with a NUL after the last byte (not counted in *len). */
char *read_file(const char *path, size_t *len);

/*
 * Splits a NUL-separated argv (every argument terminated by \0) into a NULL-terminated vector
 * pointing into buf. The vector has room for `spare` more entries before its NULL, so a caller
 * can append arguments (the signal name) without copying. EINVAL if empty or unterminated.
 */
char **split_argv(char *buf, size_t len, size_t spare, size_t *argc);

/* Reads a pid file: decimal, optionally followed by whitespace, > 0. */
int read_pid_file(const char *path, pid_t *pid);

/* Writes path through path.tmp + fsync + rename, so a reader sees the old file or the new one. */
int write_file_atomic(const char *path, const char *data, size_t len);

/* write(2) until everything is written, retrying EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/*
 * Formats ts as RFC 3339 UTC with nine fractional digits ("...T15:04:05.000000001Z"). Always
 * nine digits, as CRI-O's conmon writes them: Go's time.RFC3339Nano layout parses it, and
 * fixed-width stamps sort as text.
 */
void format_timestamp(const struct timespec *ts, char out[TIMESTAMP_MAX]);

/* format_timestamp of CLOCK_REALTIME now. */
void timestamp_now(char out[TIMESTAMP_MAX]);

#endif
