/* SPDX-License-Identifier: MIT */
/*
 * fd helpers. sbx_fd_close_from() runs in the sandbox child between clone and execve, so it
 * uses only syscalls: no malloc, no stdio (runc CVE-2024-21626: an inherited fd is a way out).
 */
#include "common/fd-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/macro.h"

static bool is_kept(int fd, const int *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* A /proc/self/fd entry name as an fd number: true when it is non-empty and all digits. */
static bool parse_fd_name(const char *name, int *ret_fd)
{
	int fd = 0;

	if (name[0] == '\0')
		return false;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		fd = fd * 10 + (*p - '0');
	}
	*ret_fd = fd;
	return true;
}

/* Fallback: walk /proc/self/fd with getdents64 into a stack buffer. */
static int close_from_proc(int from, const int *keep, size_t n_keep)
{
	char buf[4096];
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n < 0) {
			int r = -errno;
			(void)close(dfd);
			return r;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			int fd = 0;
			if (parse_fd_name(d->d_name, &fd) && fd >= from && fd != dfd &&
			    !is_kept(fd, keep, n_keep))
				(void)close(fd);
			off += d->d_reclen;
		}
	}
	(void)close(dfd);
	return 0;
}

int sbx_fd_close_from(int from, const int *keep, size_t n_keep)
{
	int lo = from;

	/* close_range over the gaps between kept fds; keep[] is small and unsorted. */
	for (;;) {
		int next = -1;
		for (size_t i = 0; i < n_keep; i++)
			if (keep[i] >= lo && (next < 0 || keep[i] < next))
				next = keep[i];
		unsigned hi = next < 0 ? ~0U : (unsigned)next - 1;
		if (next < 0 || next > lo)
			if (syscall(SYS_close_range, (unsigned)lo, hi, 0) < 0)
				return close_from_proc(from, keep, n_keep);
		if (next < 0)
			return 0;
		lo = next + 1;
	}
}

int sbx_fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int sbx_fd_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf;
			if (cap > max + 1)
				return -EFBIG;
			nbuf = realloc(buf, ncap);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			cap = ncap;
		}
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int sbx_fd_write_string(int dirfd, const char *path, const char *s)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(s);
	ssize_t k;

	if (fd < 0)
		return -errno;
	k = write(fd, s, len);
	if (k < 0)
		return -errno;
	if ((size_t)k != len)
		return -EIO;
	return 0;
}

int sbx_fd_private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
		return -EPERM;
	return 0;
}
