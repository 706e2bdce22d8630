/* SPDX-License-Identifier: MIT */
/*
 * probe: the file system and resource limits. Read-only binds and / stay read-only, the cwd and
 * '..' stay inside the root, nothing (fds, environment, session, SysV IPC) leaks in from the
 * host, and the fork bomb, memory hog and disk filler are stopped by limits. The resource
 * attacks and linger run only with --inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "probe.h"

/* ---- the file system ---------------------------------------------------------------- */

static bool is_refusal(int e)
{
	return e == EROFS || e == EACCES || e == EPERM;
}

/* Creates and removes a file and a directory in dir; records an escape when either works. */
static void try_write_dir(const char *dir)
{
	char p[PATH_MAX];

	(void)snprintf(p, sizeof(p), "%s/.sbx-probe-%d", dir, getpid());
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)close(fd);
		(void)unlink(p);
		probe_esc("created a file in %s", dir);
	} else if (!is_refusal(errno) && errno != ENOENT) {
		probe_note("create in %s: %s", dir, probe_ename(errno));
	}
	if (mkdir(p, 0700) == 0) {
		(void)rmdir(p);
		probe_esc("created a directory in %s", dir);
	}
}

static int a_ro_binds(int argc, char **argv)
{
	const char *dirs[] = {"/usr", "/usr/bin", "/usr/lib", "/etc",	"/bin",
			      "/lib", "/lib64",	  "/sbin",    probe_dir};
	static const char *const files[] = {"/etc/hosts", "/etc/passwd", "/usr/bin/env", "/bin/sh"};
	size_t tried = 0;

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (access(dirs[i], F_OK) != 0)
			continue;
		tried++;
		try_write_dir(dirs[i]);
	}
	for (int i = 1; i < argc; i++)
		try_write_dir(argv[i]);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		if (stat(files[i], &st) < 0)
			continue;
		tried++;
		if (probe_open_read(files[i], O_WRONLY, false) >= 0)
			probe_esc("opened %s for writing", files[i]);
		if (chmod(files[i], st.st_mode & 07777) == 0)
			probe_esc("chmod %s", files[i]);
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		int fd = open(self, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			probe_esc("opened our own binary %s for writing", self);
			(void)close(fd);
		}
	}
	if (!tried)
		return probe_skip("no read-only bind found");
	return probe_verdict();
}

static int a_root_writable(int argc, char **argv)
{
	(void)argc, (void)argv;
	try_write_dir("/");
	return probe_verdict();
}

static int a_link_ro(int argc, char **argv)
{
	static const char *const files[] = {"/usr/bin/env", "/etc/hosts", "/bin/sh"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(files[i], F_OK) != 0)
			continue;
		char dir[PATH_MAX], l[PATH_MAX + 64];
		(void)snprintf(dir, sizeof(dir), "%s", files[i]);
		*strrchr(dir, '/') = '\0';
		(void)snprintf(l, sizeof(l), "%s/.sbx-probe-link-%d", dir, getpid());
		if (link(files[i], l) == 0) {
			probe_esc("hard link to %s inside its read-only mount", files[i]);
			(void)unlink(l);
		}
		if (symlink("/", l) == 0) {
			probe_esc("symlink in %s", dir);
			(void)unlink(l);
		}
		const char *t = probe_tmp_dir();
		if (t) {
			(void)snprintf(l, sizeof(l), "%s/.sbx-probe-link-%d", t, getpid());
			if (link(files[i], l) == 0) {
				/* Across mounts this cannot work; if it does, the file is no longer
				 * protected by the read-only mount. */
				probe_esc("hard link to %s in %s", files[i], t);
				(void)unlink(l);
			}
		}
	}
	return probe_verdict();
}

/* runc CVE-2024-21626: a cwd or fd that resolves outside the root. */
static int a_cwd(int argc, char **argv)
{
	char buf[PATH_MAX];
	struct stat root, cur, prev = {0};

	(void)argc, (void)argv;
	if (!getcwd(buf, sizeof(buf)))
		probe_esc("getcwd failed (%s): cwd is outside the root", probe_ename(errno));
	else if (buf[0] != '/')
		probe_esc("cwd is '%s', outside the root", buf);
	if (stat("/", &root) < 0)
		return probe_fail("stat /: %s", probe_ename(errno));
	int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return probe_verdict();
	bool reached = false;
	for (int i = 0; i < 256; i++) {
		if (fstat(fd, &cur) < 0)
			break;
		if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino) {
			reached = true;
			break;
		}
		if (i > 0 && cur.st_dev == prev.st_dev && cur.st_ino == prev.st_ino)
			break; /* a fixed point that is not our root: outside it */
		prev = cur;
		int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		(void)close(fd);
		fd = up;
		if (fd < 0)
			break;
	}
	if (fd >= 0)
		(void)close(fd);
	if (!reached)
		probe_esc("walking '..' up from the cwd never reaches our root");
	return probe_verdict();
}

static int a_root_dotdot(int argc, char **argv)
{
	struct stat root, up;

	(void)argc, (void)argv;
	if (stat("/", &root) < 0 || chdir("/") < 0 || chdir("..") < 0 || chdir("../..") < 0)
		return probe_fail("chdir: %s", probe_ename(errno));
	if (stat(".", &up) < 0)
		return probe_fail("stat: %s", probe_ename(errno));
	if (up.st_dev != root.st_dev || up.st_ino != root.st_ino)
		probe_esc("'..' from / leads somewhere else");
	if (stat("/..", &up) == 0 && (up.st_dev != root.st_dev || up.st_ino != root.st_ino))
		probe_esc("'/..' is not '/'");
	return probe_verdict();
}

static int a_fd_leak(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (size_t i = 0; i < probe_n_start_fds; i++) {
		int fd = probe_start_fds[i];
		char p[64], t[PATH_MAX];
		(void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(p, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		struct stat st;
		bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		if (fd > 2)
			probe_esc("fd %d inherited (%s)", fd, n > 0 ? t : "?");
		else if (dir)
			probe_esc("fd %d is a directory (%s): openat(fd, \"..\") leaves the root",
				  fd, t);
	}
	return probe_verdict();
}

static int a_env_leak(int argc, char **argv)
{
	static const char *const names[] = {
	    "SBX_TEST_HOST_CANARY",
	    "SSH_AUTH_SOCK",
	    "SSH_CONNECTION",
	    "SSH_CLIENT",
	    "SUDO_USER",
	    "SUDO_COMMAND",
	    "DBUS_SESSION_BUS_ADDRESS",
	    "XDG_RUNTIME_DIR",
	    "LD_PRELOAD",
	    "LD_LIBRARY_PATH",
	    "INVOCATION_ID",
	    "NOTIFY_SOCKET",
	    "LISTEN_FDS",
	    "CREDENTIALS_DIRECTORY",
	    "SBX_MASTER_KEY",
	    "SBX_KEYRING",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getenv(names[i]))
			probe_esc("%s is set", names[i]);
	for (int i = 1; i < argc; i++)
		if (getenv(argv[i]))
			probe_esc("%s is set", argv[i]);
	return probe_verdict();
}

static int a_session(int argc, char **argv)
{
	(void)argc, (void)argv;
	pid_t sid = getsid(0);
	if (sid == 0)
		probe_esc("our session leader is outside the pid namespace (no setsid)");
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (t >= 0) {
		probe_esc("/dev/tty opens: a controlling terminal is reachable");
		(void)close(t);
	}
	return probe_verdict();
}

static int a_ipc_ns(int argc, char **argv)
{
	static const char *const files[] = {"/proc/sysvipc/shm", "/proc/sysvipc/msg",
					    "/proc/sysvipc/sem"};
	char buf[8192];

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (probe_read_file(files[i], buf, sizeof(buf)) <= 0)
			continue;
		char *nl = strchr(buf, '\n');
		if (nl && nl[1])
			probe_esc("%s lists objects we did not create", files[i]);
	}
	return probe_verdict();
}

/* ---- resource limits ---------------------------------------------------------------- */

#define FORKBOMB_MAX	 10000
#define MEMHOG_MAX_MIB	 2048
#define DISKFILL_MAX_MIB 1024

static int a_forkbomb(int argc, char **argv)
{
	int max = argc > 1 ? atoi(argv[1]) : FORKBOMB_MAX;
	pid_t *pids = calloc((size_t)max, sizeof(pid_t));
	int n = 0, err = 0;

	if (!pids)
		return probe_fail("calloc");
	for (; n < max; n++) {
		pid_t p = fork();
		if (p == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)alarm(LONG_TIMEOUT);
			for (;;)
				(void)pause();
		}
		if (p < 0) {
			err = errno;
			break;
		}
		pids[n] = p;
	}
	for (int i = 0; i < n; i++)
		(void)kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		(void)waitpid(pids[i], NULL, 0);
	free(pids);
	if (n >= max)
		probe_esc("forked %d processes without hitting a limit", n);
	else
		probe_note("fork failed after %d processes: %s", n, probe_ename(err));
	return probe_verdict();
}

static int a_memhog(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : MEMHOG_MAX_MIB;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return probe_fail("pipe: %s", probe_ename(errno));
	pid_t c = fork();
	if (c < 0)
		return probe_fail("fork: %s", probe_ename(errno));
	if (c == 0) {
		(void)close(p[0]);
		for (long mib = 0; mib < max; mib += 16) {
			char *m = mmap(NULL, 16UL << 20, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				_exit(3);
			for (size_t off = 0; off < (16UL << 20); off += 4096)
				m[off] = (char)(off | 1);
			long done = mib + 16;
			(void)write(p[1], &done, sizeof(done));
		}
		_exit(0);
	}
	(void)close(p[1]);
	long got = 0, v;
	while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
		got = v;
	(void)close(p[0]);
	int st;
	(void)waitpid(c, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		probe_esc("touched %ld MiB without being stopped", got);
	else if (WIFSIGNALED(st))
		probe_note("hog killed by %s after %ld MiB", sigabbrev_np(WTERMSIG(st)) ?: "?",
			   got);
	else
		probe_note("allocation failed after %ld MiB", got);
	return probe_verdict();
}

static int a_diskfill(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : DISKFILL_MAX_MIB;
	const char *t = probe_tmp_dir();
	static char buf[1 << 20];
	char p[PATH_MAX];

	if (!t)
		return probe_skip("no writable directory");
	(void)signal(SIGXFSZ, SIG_IGN);
	memset(buf, 'x', sizeof(buf));
	(void)snprintf(p, sizeof(p), "%s/.sbx-probe-fill-%d", t, getpid());
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return probe_skip("cannot create %s: %s", p, probe_ename(errno));
	long mib = 0;
	int err = 0;
	while (mib < max) {
		ssize_t n = write(fd, buf, sizeof(buf));
		if (n < 0) {
			err = errno;
			break;
		}
		if (n < (ssize_t)sizeof(buf)) {
			err = ENOSPC;
			break;
		}
		mib++;
	}
	(void)close(fd);
	(void)unlink(p);
	if (mib >= max)
		probe_esc("wrote %ld MiB to %s without hitting a limit", mib, t);
	else
		probe_note("stopped after %ld MiB in %s: %s", mib, t, probe_ename(err));
	return probe_verdict();
}

/* Not an attack by itself: a payload that tries to outlive its sandbox (detached, in its own
 * session, deaf to the polite signals). The host test kills the supervisor and then looks for
 * any process whose command line carries TOKEN. */
static int a_linger(int argc, char **argv)
{
	int secs = argc > 2 ? atoi(argv[2]) : 60;

	if (argc < 2)
		return probe_fail("usage: probe linger TOKEN [SECONDS]");
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	pid_t c = fork();
	if (c == 0) {
		(void)setsid();
		if (fork() == 0) {
			(void)prctl(PR_SET_PDEATHSIG, 0);
			(void)alarm((unsigned)secs);
			for (;;)
				(void)pause();
		}
		_exit(0);
	}
	(void)waitpid(c, NULL, 0);
	(void)printf("lingering %s\n", argv[1]);
	(void)fflush(stdout);
	(void)alarm((unsigned)secs);
	for (;;)
		(void)pause();
}

static const struct attack attacks[] = {
    {"ro-binds", a_ro_binds, 0, "write under /usr, /etc, /bin, the probe's dir [DIR...]"},
    {"root-writable", a_root_writable, 0, "write in /"},
    {"link-ro", a_link_ro, 0, "hard and symbolic links in read-only binds"},
    {"cwd", a_cwd, 0, "the cwd is inside the root (CVE-2024-21626)"},
    {"root-dotdot", a_root_dotdot, 0, "'..' from / stays /"},
    {"fd-leak", a_fd_leak, 0, "no inherited fd above 2, no directory fd"},
    {"env-leak", a_env_leak, 0, "no host environment [NAME...]"},
    {"session", a_session, 0, "own session, no controlling terminal"},
    {"ipc-ns", a_ipc_ns, 0, "no foreign SysV IPC objects"},
    {"forkbomb", a_forkbomb, F_DANGER | F_LONG, "fork until refused [MAX]"},
    {"memhog", a_memhog, F_DANGER | F_LONG, "touch memory until stopped [MAX_MIB]"},
    {"diskfill", a_diskfill, F_DANGER | F_LONG, "write /tmp until stopped [MAX_MIB]"},
};

const struct probe_table probe_fs_table = PROBE_TABLE(attacks);

/* Not part of `all` (F_NOALL): listed last, after kill-all. */
static const struct attack last_attacks[] = {
    {"linger", a_linger, F_DANGER | F_NOALL, "outlive the sandbox: TOKEN [SECONDS]"},
};

const struct probe_table probe_fs_last_table = PROBE_TABLE(last_attacks);
