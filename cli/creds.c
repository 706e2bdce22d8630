/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl keys --systemd-creds`: the keyring kept only as a systemd credential. Decryption
 * pipes systemd-creds' stdout straight into locked memory; encryption pipes the serialised
 * keyring into its stdin and sends its stdout (base64 ciphertext) to a 0600 temporary in the
 * target's directory, renamed into place after fsync. No plaintext ever reaches a file, an
 * argument or the environment. systemd-creds prints its own diagnostics on our stderr; they
 * name files and keys' sources, never contents.
 */
#include "cli/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "common/error.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "keys/keyring.h"
#include "keys/secret.h"

/* systemd-creds from PATH (default /usr/bin:/bin), as a path in buf. -ENOPKG without it. */
static int find_tool(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char copy[8192], *save = NULL;
	int n = snprintf(copy, sizeof(copy), "%s", path && path[0] ? path : "/usr/bin:/bin");

	if (n < 0 || (size_t)n >= sizeof(copy))
		return -ENAMETOOLONG;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		int k = snprintf(buf, len, "%s/systemd-creds", d);
		if (k > 0 && (size_t)k < len && access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOPKG;
}

/* Starts argv[0] with stdin from in and stdout to out; returns its pid or -errno. */
static int spawn(char *const argv[], int in, int out)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int r;

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	return r != 0 ? -r : pid;
}

/* Waits for pid; 0 when it exited 0, else -EIO with its status in reterr. */
static int reap(pid_t pid, const char *verb, char *reterr, size_t errlen)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return sbx_error_set(reterr, errlen, -errno,
					     "cannot wait for systemd-creds: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return sbx_error_set(reterr, errlen, -EIO,
				     "systemd-creds %s failed (exit status %d)", verb,
				     WEXITSTATUS(st));
	return sbx_error_set(reterr, errlen, -EIO, "systemd-creds %s was killed by signal %d", verb,
			     WTERMSIG(st));
}

int sbx_creds_load(const char *path, struct sbx_keyring **ret, char *reterr, size_t errlen)
{
	_cleanup_(sbx_secret_freep) struct sbx_secret *text = NULL;
	_cleanup_close_ int devnull = -1;
	char tool[4096], name[] = "--name=" SBX_CREDS_NAME;
	struct stat st;
	int p[2], r, rr;
	pid_t pid;

	if (stat(path, &st) < 0)
		return sbx_error_set(reterr, errlen, -errno, "cannot open: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sbx_error_set(reterr, errlen, -EBADMSG, "not a regular file");
	if (find_tool(tool, sizeof(tool)) < 0)
		return sbx_error_set(
		    reterr, errlen, -ENOPKG,
		    "systemd-creds is not installed (it comes with systemd 250 or later)");
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(p, O_CLOEXEC) < 0)
		return sbx_error_set(reterr, errlen, -errno, "%s", strerror(errno));
	char *argv[] = {tool, "decrypt", name, (char *)path, "-", NULL};
	pid = spawn(argv, devnull, p[1]);
	(void)close(p[1]);
	if (pid < 0) {
		(void)close(p[0]);
		return sbx_error_set(reterr, errlen, pid, "cannot run '%s': %s", tool,
				     strerror(-pid));
	}
	r = sbx_secret_read_fd(p[0], SBX_KEYRING_MAX_SIZE, &text);
	(void)close(p[0]); /* a writer still going gets EPIPE and stops */
	rr = reap(pid, "decrypt", reterr, errlen);
	if (rr < 0)
		return rr;
	if (r < 0)
		return sbx_error_set(reterr, errlen, r, "cannot read the decrypted keyring: %s",
				     strerror(-r));
	return sbx_keyring_parse(text, ret, reterr, errlen);
}

/* Runs `systemd-creds encrypt` with the keyring on stdin and stdout into out. */
static int encrypt_to(const struct sbx_keyring *kr, int out, const char *with_key, char *reterr,
		      size_t errlen)
{
	_cleanup_free_ char *key_opt = NULL;
	char tool[4096], name[] = "--name=" SBX_CREDS_NAME;
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	int p[2], r, rr;
	pid_t pid;

	if (find_tool(tool, sizeof(tool)) < 0)
		return sbx_error_set(
		    reterr, errlen, -ENOPKG,
		    "systemd-creds is not installed (it comes with systemd 250 or later)");
	if (with_key && asprintf(&key_opt, "--with-key=%s", with_key) < 0)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0)
		return sbx_error_set(reterr, errlen, -errno, "%s", strerror(errno));
	char *argv[] = {tool, "encrypt", name, "-", "-", key_opt, NULL};
	pid = spawn(argv, p[0], out);
	(void)close(p[0]);
	if (pid < 0) {
		(void)close(p[1]);
		return sbx_error_set(reterr, errlen, pid, "cannot run '%s': %s", tool,
				     strerror(-pid));
	}
	/* If systemd-creds dies early, the write fails with EPIPE instead of killing us. */
	(void)sigaction(SIGPIPE, &ign, &old);
	r = sbx_keyring_write_fd(kr, p[1]);
	(void)close(p[1]); /* end of input: systemd-creds encrypts and exits */
	(void)sigaction(SIGPIPE, &old, NULL);
	rr = reap(pid, "encrypt", reterr, errlen);
	if (rr < 0)
		return rr;
	if (r < 0)
		return sbx_error_set(reterr, errlen, r,
				     "cannot hand the keyring to systemd-creds: %s", strerror(-r));
	return 0;
}

int sbx_creds_save(const struct sbx_keyring *kr, const char *path, bool create,
		   const char *with_key, char *reterr, size_t errlen)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	char dir[PATH_MAX];
	struct stat st;
	int r;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return sbx_error_set(reterr, errlen, -ENAMETOOLONG, "path too long");
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	if (create && lstat(path, &st) == 0)
		return sbx_error_set(reterr, errlen, -EEXIST, "exists");
	fd = mkostemp(tmp, O_CLOEXEC); /* 0600 from the start */
	if (fd < 0)
		return sbx_error_set(reterr, errlen, -errno, "cannot create a file beside it: %s",
				     strerror(errno));
	r = encrypt_to(kr, fd, with_key, reterr, errlen);
	if (r >= 0) {
		if (fstat(fd, &st) < 0 || st.st_size == 0)
			r = sbx_error_set(reterr, errlen, -EIO, "systemd-creds wrote nothing");
		else if (fsync(fd) < 0)
			r = sbx_error_set(reterr, errlen, -errno, "cannot write: %s",
					  strerror(errno));
	}
	if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, create ? RENAME_NOREPLACE : 0) < 0)
		r = sbx_error_set(reterr, errlen, -errno, "cannot put it in place: %s",
				  strerror(errno));
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return sbx_error_set(reterr, errlen, -errno, "cannot sync its directory: %s",
				     strerror(errno));
	return 0;
}
