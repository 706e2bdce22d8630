/* SPDX-License-Identifier: MIT */
/*
 * Implementation of the log family. One write(2) per line so lines from concurrent processes
 * do not interleave. Never allocates: safe to call anywhere except between clone and execve,
 * where nothing may log at all.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

static int max_level = LOG_INFO;
static int journal = -1;

void sbx_log_set_max_level(int level)
{
	max_level = level;
}

int sbx_log_get_max_level(void)
{
	return max_level;
}

/* JOURNAL_STREAM is "dev:ino" of the stream systemd connected stderr to. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;
	char *end, *end2;

	if (!e)
		return 0;
	dev = strtoull(e, &end, 10);
	if (end == e || *end != ':')
		return 0;
	ino = strtoull(end + 1, &end2, 10);
	if (end2 == end + 1)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

int sbx_log_internal(int level, int r, const char *fmt, ...)
{
	char buf[2048];
	size_t n = 0;
	int saved = errno;
	int k;
	va_list ap;

	if (r > 0)
		r = -r;
	if (journal < 0)
		journal = stderr_is_journal();
	if (journal)
		k = snprintf(buf, sizeof(buf), "<%d>", level);
	else
		k = snprintf(buf, sizeof(buf), "%s: ", program_invocation_short_name);
	if (k > 0)
		n = (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	if (r < 0) {
		k = snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(-r));
		if (k > 0)
			n += (size_t)k;
		if (n >= sizeof(buf) - 1)
			n = sizeof(buf) - 2;
	}
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
	errno = saved;
	return r;
}
