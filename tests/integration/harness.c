/* SPDX-License-Identifier: MIT */
/*
 * Integration test helpers (see harness.h). The runner forks, puts the child in its own process
 * group and polls stdin, stdout and stderr together, so a command that writes a lot to both
 * streams, or reads its stdin slowly, can never deadlock the test. A timeout SIGKILLs the
 * group; a sandbox under it dies with its parent (PR_SET_PDEATHSIG), which is what the
 * supervisor relies on too. Once the command has exited, a short grace period drains output
 * that orphans still hold open, then the pipes are closed regardless.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#define DEFAULT_TIMEOUT_MS 60000
#define DRAIN_GRACE_MS	   2000
#define MAX_RUN_ARGS	   256

struct buf {
	char *p;
	size_t len, cap;
};

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int buf_read(struct buf *b, int fd)
{
	if (b->cap - b->len < 4097) {
		size_t ncap = b->cap ? b->cap * 2 : 8192;
		char *n = realloc(b->p, ncap);

		if (!n)
			return -ENOMEM;
		b->p = n;
		b->cap = ncap;
	}
	ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return n > 0; /* 0: EOF */
}

static char *buf_take(struct buf *b, size_t *ret_len)
{
	if (!b->p) {
		b->p = calloc(1, 1);
		b->len = 0;
	}
	*ret_len = b->len;
	return b->p;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			(void)close(p[i]);
			p[i] = -1;
		}
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static _Noreturn void child_exec(char *const argv[], char *const envp[], int in_fd, int out_fd,
				 int err_fd)
{
	sigset_t all;

	(void)setpgid(0, 0);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	if (envp)
		(void)execvpe(argv[0], argv, envp);
	else
		(void)execvp(argv[0], argv);
	_exit(127);
}

int sbx_test_run(char *const argv[], char *const envp[], const void *in, size_t in_len,
		 int timeout_ms, struct sbx_test_run *ret)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	struct buf out = {0}, err = {0};
	size_t in_off = 0;
	int status = -1, r = 0;
	bool exited = false;

	memset(ret, 0, sizeof(*ret));
	ret->status = -1;
	ret->code = -1;
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;

	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0)
		goto fail_errno;
	if (in) {
		if (pipe2(pin, O_CLOEXEC) < 0)
			goto fail_errno;
	} else {
		pin[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (pin[0] < 0)
			goto fail_errno;
	}

	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
	double start = now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)signal(SIGPIPE, old_pipe);
		goto fail;
	}
	if (pid == 0)
		child_exec(argv, envp, pin[0], pout[1], perr[1]);
	(void)setpgid(pid, pid); /* both sides, so the kill below never misses */

	(void)close(pin[0]);
	pin[0] = -1;
	(void)close(pout[1]);
	pout[1] = -1;
	(void)close(perr[1]);
	perr[1] = -1;
	if (pin[1] >= 0) {
		set_nonblock(pin[1]);
		if (in_len == 0)
			close_pair(pin);
	}
	set_nonblock(pout[0]);
	set_nonblock(perr[0]);

	double deadline = start + timeout_ms, drain_until = 0;
	for (;;) {
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				exited = true;
				ret->elapsed_ms = now_ms() - start;
				drain_until = now_ms() + DRAIN_GRACE_MS;
				if (pin[1] >= 0)
					close_pair(pin);
			}
		}
		if (pout[0] < 0 && perr[0] < 0 && exited)
			break;
		double t = now_ms();
		if (!exited && t >= deadline && !ret->timed_out) {
			ret->timed_out = true;
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
		}
		if (exited && t >= drain_until)
			break;

		struct pollfd pfd[3] = {
		    {.fd = pout[0], .events = POLLIN},
		    {.fd = perr[0], .events = POLLIN},
		    {.fd = pin[1], .events = POLLOUT},
		};
		/* Short waits: the child's exit is noticed by waitpid, not by a signal. */
		int n = poll(pfd, 3, 20);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents) {
			int k = buf_read(&out, pout[0]);
			if (k == -ENOMEM) {
				r = k;
				break;
			}
			if (k <= 0) {
				(void)close(pout[0]);
				pout[0] = -1;
			}
		}
		if (pfd[1].revents) {
			int k = buf_read(&err, perr[0]);
			if (k == -ENOMEM) {
				r = k;
				break;
			}
			if (k <= 0) {
				(void)close(perr[0]);
				perr[0] = -1;
			}
		}
		if (pfd[2].revents) {
			if (pfd[2].revents & (POLLERR | POLLHUP)) {
				close_pair(pin);
			} else {
				ssize_t w =
				    write(pin[1], (const char *)in + in_off, in_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					close_pair(pin);
				if (in_off >= in_len)
					close_pair(pin);
			}
		}
	}
	if (!exited) {
		/* Only reached on an internal error: do not leave the child behind. */
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		ret->elapsed_ms = now_ms() - start;
	}
	(void)signal(SIGPIPE, old_pipe);

	ret->status = status;
	if (WIFEXITED(status))
		ret->code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret->signal = WTERMSIG(status);
	ret->out = buf_take(&out, &ret->out_len);
	ret->err = buf_take(&err, &ret->err_len);
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	return r;

fail_errno:
	r = -errno;
fail:
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	ret->out = buf_take(&out, &ret->out_len);
	ret->err = buf_take(&err, &ret->err_len);
	return r;
}

int sbx_test_runv(struct sbx_test_run *ret, int timeout_ms, const char *arg0, ...)
{
	char *argv[MAX_RUN_ARGS];
	size_t n = 0;
	va_list ap;

	argv[n++] = (char *)arg0;
	va_start(ap, arg0);
	for (const char *a; (a = va_arg(ap, const char *)) && n < MAX_RUN_ARGS - 1;)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return sbx_test_run(argv, NULL, NULL, 0, timeout_ms, ret);
}

void sbx_test_run_done(struct sbx_test_run *ret)
{
	free(ret->out);
	free(ret->err);
	memset(ret, 0, sizeof(*ret));
	ret->status = -1;
	ret->code = -1;
}

void sbx_test_run_dump(const char *what, const struct sbx_test_run *r)
{
	(void)fprintf(stderr,
		      "--- %s: code=%d signal=%d timed_out=%d elapsed=%.0fms\n"
		      "--- stdout:\n%s\n--- stderr:\n%s\n---\n",
		      what ? what : "run", r->code, r->signal, r->timed_out, r->elapsed_ms,
		      r->out ? r->out : "", r->err ? r->err : "");
}

char *sbx_test_build_path_r(const char *rel, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s/%s", SBX_BUILD_DIR, rel);
	return buf;
}

const char *sbx_test_build_path(const char *rel)
{
	static char buf[4096];

	return sbx_test_build_path_r(rel, buf, sizeof(buf));
}

void sbx_test_require_root(void)
{
	if (geteuid() != 0)
		cr_skip("needs root (euid is %u): sandboxes need namespaces, cgroups and pool uids",
			(unsigned)geteuid());
}

void sbx_test_require_file(const char *path)
{
	if (access(path, X_OK) != 0)
		cr_skip("'%s' is not built or not executable: %s", path, strerror(errno));
}

char *sbx_test_mkdtemp(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *p = NULL;

	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if (asprintf(&p, "%s/sbx-test-%s-XXXXXX", tmp, tag ? tag : "x") < 0)
		return NULL;
	if (!mkdtemp(p)) {
		int e = errno;
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV; /* a mount point: never remove what is under it */

	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		(void)close(fd);
		return -e;
	}
	int r = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int k = rm_rf_at(dirfd(d), de->d_name, dev);
		if (k < 0 && r == 0)
			r = k;
	}
	(void)closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int sbx_test_rm_rf(const char *path)
{
	struct stat st;

	if (!path || !path[0] || !strcmp(path, "/"))
		return -EINVAL;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(AT_FDCWD, path, st.st_dev);
}

int sbx_test_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(data), off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			(void)close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

bool sbx_test_contains(const char *haystack, const char *needle)
{
	return haystack && needle && strstr(haystack, needle);
}
