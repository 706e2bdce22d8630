/* SPDX-License-Identifier: MIT */
/* File descriptor and whole-file helpers. No logging; -errno returns. */
#pragma once

#include <stddef.h>

#include <sys/types.h>

/* Closes every fd >= from except the ones in keep[] (close_range, with a /proc/self/fd
 * fallback for old kernels). Async-signal-safe and malloc-free: callable after clone. */
int sbx_fd_close_from(int from, const int *keep, size_t n_keep);
/* Writes all of buf, retrying on EINTR and short writes. */
int sbx_fd_write_all(int fd, const void *buf, size_t len);
/* Reads a whole file (at most max bytes, -EFBIG beyond) into a NUL-terminated malloc buffer. */
int sbx_fd_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Creates path (mode 0700) if missing and checks it is a directory owned by the caller's euid
 * without group/other write bits: a directory someone else planted is refused with -EPERM
 * (bubblewrap CVE-2019-12439). */
int sbx_fd_private_dir(const char *path);
/* Writes a short string to a file (sysfs/cgroupfs style: open O_WRONLY, one write). */
int sbx_fd_write_string(int dirfd, const char *path, const char *s);
