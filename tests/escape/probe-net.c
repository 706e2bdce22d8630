/* SPDX-License-Identifier: MIT */
/*
 * probe: the network. Only lo may exist; the host's loopback ports, abstract and path sockets,
 * the outside world and the VM host (vsock) must all be out of reach, and no privileged socket
 * or interface operation may work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "probe.h"

static int a_net_ifaces(int argc, char **argv)
{
	char buf[8192];

	(void)argc, (void)argv;
	if (probe_read_file("/proc/net/dev", buf, sizeof(buf)) < 0)
		return probe_fail("cannot read /proc/net/dev: %s", probe_ename(errno));
	int line = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (line++ < 2)
			continue;
		char *colon = strchr(l, ':');
		if (!colon)
			continue;
		*colon = '\0';
		while (*l == ' ')
			l++;
		if (strcmp(l, "lo") != 0)
			probe_esc("interface '%s' visible", l);
	}
	return probe_verdict();
}

/* connect() with a deadline; returns 0 or -errno. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	int fl = fcntl(fd, F_GETFL);

	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n = poll(&p, 1, ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	int err = 0;
	socklen_t el = sizeof(err);
	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	return -err;
}

static int a_tcp_host(int argc, char **argv)
{
	const char *port_s = probe_arg_or_env(argc, argv, 1, "SBX_PROBE_TCP_PORT");

	if (!port_s)
		return probe_skip("no port given (probe tcp-host PORT or SBX_PROBE_TCP_PORT)");
	int port = atoi(port_s);
	if (port <= 0 || port > 65535)
		return probe_fail("bad port '%s'", port_s);

	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return probe_fail("socket: %s", probe_ename(errno));
	int r = connect_timeout(fd, (struct sockaddr *)&a4, sizeof(a4), 2000);
	if (r == 0) {
		char b[64];
		ssize_t n = read(fd, b, sizeof(b) - 1);
		probe_esc("connected to 127.0.0.1:%d%s", port,
			  n > 0 ? " and read the host's banner" : "");
	} else {
		probe_note("127.0.0.1:%d: %s", port, probe_ename(-r));
	}
	(void)close(fd);

	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	a6.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect_timeout(fd, (struct sockaddr *)&a6, sizeof(a6), 2000) == 0)
			probe_esc("connected to [::1]:%d", port);
		(void)close(fd);
	}
	return probe_verdict();
}

/* A UDP connect() sends nothing; it succeeds only when a route exists. */
static int a_net_external(int argc, char **argv)
{
	static const char *const v4[] = {"1.1.1.1", "8.8.8.8", "192.0.2.1", "10.0.0.1",
					 "172.17.0.1"};
	static const char *const v6[] = {"2606:4700:4700::1111", "2001:4860:4860::8888"};

	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
		(void)inet_pton(AF_INET, v4[i], &a.sin_addr);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			probe_esc("route to %s exists", v4[i]);
		(void)close(fd);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
		(void)inet_pton(AF_INET6, v6[i], &a.sin6_addr);
		int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			probe_esc("route to %s exists", v6[i]);
		(void)close(fd);
	}
	return probe_verdict();
}

static int a_net_raw(int argc, char **argv)
{
	(void)argc, (void)argv;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (probe_must_fail(fd, "socket(AF_INET, SOCK_RAW)") == false)
		(void)close(fd);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (probe_must_fail(fd, "socket(AF_PACKET, SOCK_RAW)") == false)
		(void)close(fd);
	return probe_verdict();
}

/* SIOCSIFFLAGS with lo's current flags changes nothing, but needs CAP_NET_ADMIN. */
static int a_net_admin(int argc, char **argv)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)argc, (void)argv;
	if (fd < 0)
		return probe_fail("socket: %s", probe_ename(errno));
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		(void)close(fd);
		return probe_skip("SIOCGIFFLAGS lo: %s", probe_ename(errno));
	}
	long r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	(void)probe_must_be_denied(r, "SIOCSIFFLAGS on lo");
	(void)close(fd);
	return probe_verdict();
}

static int a_net_bind_low(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)argc, (void)argv;
	if (fd < 0)
		return probe_fail("socket: %s", probe_ename(errno));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)probe_must_fail(bind(fd, (struct sockaddr *)&a, sizeof(a)), "bind to 127.0.0.1:1");
	(void)close(fd);
	return probe_verdict();
}

static int unix_connect(const char *name, bool abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (n + 2 > sizeof(a.sun_path)) {
		(void)close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
	int r = connect_timeout(fd, (struct sockaddr *)&a, len, 2000);
	(void)close(fd);
	return r;
}

static int a_abstract_host(int argc, char **argv)
{
	const char *name = probe_arg_or_env(argc, argv, 1, "SBX_PROBE_ABSTRACT");

	if (!name)
		return probe_skip("no name given (probe abstract-host NAME or SBX_PROBE_ABSTRACT)");
	int r = unix_connect(name, true);
	if (r == 0)
		probe_esc("connected to the host's abstract socket @%s", name);
	else
		probe_note("@%s: %s", name, probe_ename(-r));
	return probe_verdict();
}

static int a_unix_connect(int argc, char **argv)
{
	static const char *const defaults[] = {
	    "/run/sbx/sbxd.sock",
	    "/var/run/sbx/sbxd.sock",
	    "/run/dbus/system_bus_socket",
	    "/var/run/docker.sock",
	    "/run/containerd/containerd.sock",
	    "/run/systemd/private",
	    "/run/systemd/journal/socket",
	    "/run/systemd/notify",
	    "/dev/log",
	    "/tmp/.X11-unix/X0",
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (unix_connect(defaults[i], false) == 0)
			probe_esc("connected to %s", defaults[i]);
	for (int i = 1; i < argc; i++)
		if (unix_connect(argv[i], false) == 0)
			probe_esc("connected to %s", argv[i]);
	return probe_verdict();
}

/* AF_VSOCK is not network-namespaced: in a VM it is a channel to the hypervisor host, which
 * the filter must refuse (Docker's profile does). Only connects when given a port, so a plain
 * run never talks to whatever listens on the VM host. */
static int a_vsock(int argc, char **argv)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		if (errno != EPERM && errno != EACCES)
			probe_note("socket(AF_VSOCK): %s", probe_ename(errno));
		return probe_verdict();
	}
	probe_esc("socket(AF_VSOCK) succeeded: vsock is not namespaced");
	if (argc > 1) {
		int port = atoi(argv[1]);
		struct sockaddr_vm a = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = (unsigned)port};
		int r = connect_timeout(fd, (struct sockaddr *)&a, sizeof(a), 2000);
		if (r == 0 || r == -ECONNREFUSED || r == -ECONNRESET)
			probe_esc("the VM host answers over vsock port %d (%s)", port,
				  r ? probe_ename(-r) : "connected");
	}
	(void)close(fd);
	return probe_verdict();
}

static const struct attack attacks[] = {
    {"net-ifaces", a_net_ifaces, 0, "only lo in /proc/net/dev"},
    {"tcp-host", a_tcp_host, 0, "connect to the host's 127.0.0.1:PORT (arg or SBX_PROBE_TCP_PORT)"},
    {"abstract-host", a_abstract_host, 0, "connect to the host's abstract socket @NAME"},
    {"unix-connect", a_unix_connect, 0, "connect to /run/sbx/sbxd.sock, dbus, docker, [PATH...]"},
    {"net-external", a_net_external, 0, "a route to any outside address"},
    {"net-raw", a_net_raw, 0, "raw and packet sockets"},
    {"net-admin", a_net_admin, 0, "SIOCSIFFLAGS on lo"},
    {"net-bind-low", a_net_bind_low, 0, "bind a privileged port"},
    {"vsock", a_vsock, 0, "AF_VSOCK sockets refused [PORT: also connect to the VM host]"},
};

const struct probe_table probe_net_table = PROBE_TABLE(attacks);
