/* SPDX-License-Identifier: MIT */
/*
 * rlimits of the payload. Set while still privileged (before the uid switch) so hard limits
 * may also be lowered; RLIMIT_CORE is always 0 so a crashing payload leaves no core with
 * whatever its memory held. RLIMIT_NPROC counts per real uid: with one pool uid per sandbox
 * it bounds one sandbox, a second fence next to the pids cgroup.
 */
#include <errno.h>

#include <sys/resource.h>

#include "sandbox/internal.h"

static const int resources[_SBX_RLIMIT_MAX] = {
    [SBX_RLIMIT_NOFILE] = RLIMIT_NOFILE,   [SBX_RLIMIT_NPROC] = RLIMIT_NPROC,
    [SBX_RLIMIT_FSIZE] = RLIMIT_FSIZE,	   [SBX_RLIMIT_CPU] = RLIMIT_CPU,
    [SBX_RLIMIT_AS] = RLIMIT_AS,	   [SBX_RLIMIT_STACK] = RLIMIT_STACK,
    [SBX_RLIMIT_MEMLOCK] = RLIMIT_MEMLOCK,
};

void sbx_rlimits_plan(const struct sbx_policy *p, struct sbx_rlimits *ret)
{
	ret->n = 0;
	for (size_t i = 0; i < _SBX_RLIMIT_MAX; i++) {
		if (p->rlimits[i] == SBX_LIMIT_UNSET)
			continue;
		ret->v[ret->n].resource = resources[i];
		ret->v[ret->n].lim.rlim_cur = p->rlimits[i];
		ret->v[ret->n].lim.rlim_max = p->rlimits[i];
		ret->n++;
	}
	ret->v[ret->n].resource = RLIMIT_CORE;
	ret->v[ret->n].lim.rlim_cur = 0;
	ret->v[ret->n].lim.rlim_max = 0;
	ret->n++;
}

void sbx_rlimits_apply(const struct sbx_rlimits *r, int report_fd)
{
	for (size_t i = 0; i < r->n; i++)
		if (setrlimit(r->v[i].resource, &r->v[i].lim) < 0)
			sbx_child_fail(report_fd, "setrlimit", errno);
}
