/* SPDX-License-Identifier: MIT */
/*
 * Network of a sandbox with its own namespace: only the loopback interface, brought up so
 * programs that talk to themselves over 127.0.0.1 work. There is no other interface and so
 * no route out. In network mode "proxy" the child also makes the one way out: a TCP listener
 * on 127.0.0.1:3128 inside the namespace, passed to the supervisor with SCM_RIGHTS and closed
 * here before the payload exists. The supervisor accepts on it from its own namespace (a
 * socket keeps the namespace it was made in) and proxies to the allowed hosts. The payload can
 * connect to it but never accept on it, and cannot bind the port itself while it exists.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include "sandbox/internal.h"

void sbx_net_lo_up(int report_fd)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		sbx_child_fail(report_fd, "lo_up", errno);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		sbx_child_fail(report_fd, "lo_up", errno);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		sbx_child_fail(report_fd, "lo_up", errno);
	(void)close(fd);
}

void sbx_net_proxy_listener(int report_fd)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET,
	    .sin_port = htons(SBX_PROXY_PORT),
	    .sin_addr = {htonl(INADDR_LOOPBACK)},
	};
	struct sbx_report rep = {.kind = SBX_REPORT_LISTENER};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &rep, .iov_len = sizeof(rep)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		sbx_child_fail(report_fd, "proxy_listener", errno);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, SBX_PROXY_BACKLOG) < 0)
		sbx_child_fail(report_fd, "proxy_listener", errno);
	memset(u.buf, 0, sizeof(u.buf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(report_fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(rep))
		sbx_child_fail(report_fd, "proxy_listener", errno ? errno : EIO);
	(void)close(fd);
}
