/* SPDX-License-Identifier: MIT */
/*
 * The uid/gid pool. Every live sandbox runs as its own uid (gid == uid), so no two sandboxes
 * can signal, ptrace or share files with each other, and RLIMIT_NPROC counts one sandbox.
 *
 * A lease is an exclusive flock on RUNTIME_DIR/uids/UID.lock. flock, not a table in memory,
 * because several processes lease from the same pool (sbxd and any number of `sbxctl exec`);
 * the kernel drops the lock when the last holder dies, so a killed process never strands a
 * uid. The sandbox's init inherits the lock fd and holds it until the namespace is gone.
 * Lock files are left in place: unlinking a flocked file races with a concurrent opener.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "sandbox/internal.h"

int sbx_ids_lease(const char *runtime_dir, uint32_t base, uint32_t count, struct sbx_ids_lease *ret)
{
	char dir[512], path[600];
	uint32_t start = 0;
	int r;

	if (count == 0 || base == 0 || base > UINT32_MAX - count)
		return -EINVAL;
	if ((size_t)snprintf(dir, sizeof(dir), "%s", runtime_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	r = sbx_fd_private_dir(dir);
	if (r < 0)
		return r;
	(void)snprintf(dir, sizeof(dir), "%s/uids", runtime_dir);
	r = sbx_fd_private_dir(dir);
	if (r < 0)
		return r;

	/* A random start keeps concurrent leasers from all contending on the first uid. */
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != sizeof(start))
		start = (uint32_t)getpid();
	for (uint32_t i = 0; i < count; i++) {
		uid_t uid = base + (start + i) % count;
		int fd;

		(void)snprintf(path, sizeof(path), "%s/%u.lock", dir, (unsigned)uid);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			ret->uid = uid;
			ret->lock_fd = fd;
			return 0;
		}
		r = -errno;
		(void)close(fd);
		if (r != -EWOULDBLOCK)
			return r;
	}
	return -EUSERS; /* every uid of the pool is in use */
}

void sbx_ids_release(struct sbx_ids_lease *lease)
{
	lease->lock_fd = safe_close(lease->lock_fd);
}
