/* SPDX-License-Identifier: MIT */
/*
 * Network of a sandbox with its own namespace: only the loopback interface, brought up so
 * programs that talk to themselves over 127.0.0.1 work. There is no other interface and so
 * no route out (network mode "proxy" will add a listener handed in by the supervisor).
 */
#include <errno.h>
#include <net/if.h>
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
