/* SPDX-License-Identifier: MIT */
/*
 * sbxd under systemd's protocols, without a systemd PID 1: socket activation through
 * systemd-socket-activate (LISTEN_FDS), and the notify protocol read from a datagram socket
 * of the test's own set as NOTIFY_SOCKET (READY=1, RELOADING=1, STOPPING=1 at the right
 * moments).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "tests/integration/harness.h"

static char *tmp;
static char sbxd[4096];

static void setup(void)
{
	sbx_test_require_root();
	sbx_test_build_path_r("sbxd", sbxd, sizeof(sbxd));
	sbx_test_require_file(sbxd);
	tmp = sbx_test_mkdtemp("systemd");
	cr_assert(tmp != NULL);
}

static void teardown(void)
{
	if (tmp) {
		(void)sbx_test_rm_rf(tmp);
		free(tmp);
		tmp = NULL;
	}
}

TestSuite(systemd, .init = setup, .fini = teardown, .timeout = 60);

static int notify_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0));
	return fd;
}

/* Waits up to 10 s for a datagram containing want. */
static void expect_notify(int fd, const char *want)
{
	char buf[512];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		cr_assert(poll(&p, 1, 10000) == 1, "no '%s' from sbxd", want);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		cr_assert(n > 0);
		buf[n] = '\0';
		if (strstr(buf, want))
			return;
	}
}

static pid_t start(char *const argv[], const char *notify)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		(void)dup2(null, STDOUT_FILENO);
		(void)dup2(null, STDERR_FILENO);
		(void)setenv("NOTIFY_SOCKET", notify, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void hello(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[1024];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	cr_assert(eq(int, connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0), "connect: %s",
		  strerror(errno));
	cr_assert(eq(int, (int)write(fd, "{\"id\":\"h\",\"op\":\"hello\"}\n", 24), 24));
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert(n > 0);
	buf[n] = '\0';
	cr_assert(sbx_test_contains(buf, "\"ok\":true"), "reply: %s", buf);
	(void)close(fd);
}

static void stop(pid_t pid, int nfd)
{
	int st;

	cr_assert(eq(int, kill(pid, SIGTERM), 0));
	expect_notify(nfd, "STOPPING=1");
	cr_assert(eq(int, waitpid(pid, &st, 0), pid));
	int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	cr_assert(ok, "sbxd did not exit 0 (status %#x)", st);
}

Test(systemd, notify_ready_reloading_stopping)
{
	char dir[4096], nsock[4096], sock[4200];
	int nfd;
	pid_t pid;

	(void)snprintf(dir, sizeof(dir), "%s/dev", tmp);
	(void)snprintf(nsock, sizeof(nsock), "%s/notify", tmp);
	(void)snprintf(sock, sizeof(sock), "%s/sbxd.sock", dir);
	nfd = notify_socket(nsock);
	char *argv[] = {sbxd, "--dev", dir, NULL};
	pid = start(argv, nsock);
	expect_notify(nfd, "READY=1");
	hello(sock);
	cr_assert(eq(int, kill(pid, SIGHUP), 0));
	expect_notify(nfd, "RELOADING=1");
	expect_notify(nfd, "READY=1");
	hello(sock);
	stop(pid, nfd);
	(void)close(nfd);
}

Test(systemd, socket_activation)
{
	char dir[4096], nsock[4096], sock[4096];
	int nfd;
	pid_t pid;

	(void)snprintf(dir, sizeof(dir), "%s/dev", tmp);
	(void)snprintf(nsock, sizeof(nsock), "%s/notify", tmp);
	(void)snprintf(sock, sizeof(sock), "%s/activated.sock", tmp);
	nfd = notify_socket(nsock);
	/* systemd-socket-activate listens and hands the socket to sbxd as fd 3 (LISTEN_FDS=1);
	 * it passes on only the variables named with -E. */
	char *argv[] = {"/usr/bin/systemd-socket-activate",
			"-E",
			"NOTIFY_SOCKET",
			"-l",
			sock,
			sbxd,
			"--dev",
			dir,
			NULL};
	sbx_test_require_file(argv[0]);
	pid = start(argv, nsock);
	/* It starts sbxd on the first connection (inetd style), which then answers it. */
	for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		(void)usleep(20000);
	hello(sock);
	expect_notify(nfd, "READY=1");
	/* sbxd did not bind its own socket: the activated one is the only one. */
	char own[4200];
	(void)snprintf(own, sizeof(own), "%s/sbxd.sock", dir);
	cr_assert(ne(int, access(own, F_OK), 0), "sbxd bound %s despite LISTEN_FDS", own);
	stop(pid, nfd);
	(void)close(nfd);
}
