/* SPDX-License-Identifier: MIT */
/*
 * Small macros every file uses: scope-bound cleanup (systemd's _cleanup_ idiom), ownership
 * transfer, array sizes. Nothing here allocates or logs.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _noreturn_     __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _nonnull_(...) __attribute__((nonnull(__VA_ARGS__)))
#define _wur_	       __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Takes the value out of a variable and leaves a harmless one behind (NULL, -1). */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -1;       \
		_fd_;            \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Closes an fd, keeping errno, and returns -1 so `fd = safe_close(fd)` reads well. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(const int *fd)
{
	(void)safe_close(*fd);
}

#define _cleanup_free_	_cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Turns a libc-style failure into a negative errno, never 0. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
