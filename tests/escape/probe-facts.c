/* SPDX-License-Identifier: MIT */
/*
 * probe: `probe facts`, a report of what the probe sees (ids, capabilities, no_new_privs,
 * seccomp, hostname, interfaces, processes, mounts, fds, core limit, cwd, whether generated code
 * runs: a JIT's mmap, write, mprotect(PROT_EXEC)). It judges nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/resource.h>

#include "probe.h"

static int count_lines(const char *path)
{
	static char buf[65536];
	int n = 0;

	if (probe_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (char *c = buf; *c; c++)
		n += *c == '\n';
	return n;
}

/* What a JIT does (write code, then make it executable, never both at once); "ok" when the
 * generated function ran, else the call that was refused. */
static const char *jit(void)
{
#if !defined(__x86_64__)
	return "not checked on this architecture";
#else
	static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
	static char why[96];
	const char *r = "ok";
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		(void)snprintf(why, sizeof(why), "refused: mmap: %s", strerror(errno));
		return why;
	}
	memcpy(p, code, sizeof(code));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0) {
		(void)snprintf(why, sizeof(why), "refused: mprotect(PROT_EXEC): %s",
			       strerror(errno));
		r = why;
	} else if (((int (*)(void))p)() != 42) {
		r = "wrong result";
	}
	(void)munmap(p, 4096);
	return r;
#endif
}

int probe_facts(void)
{
	char v[256], host[HOST_NAME_MAX + 1] = "?";
	uid_t r, e, s;
	gid_t rg, eg, sg, g[64];

	(void)getresuid(&r, &e, &s);
	(void)getresgid(&rg, &eg, &sg);
	int ng = getgroups(64, g);
	(void)gethostname(host, sizeof(host));
	(void)printf("pid        %d (parent %d)\n", getpid(), getppid());
	(void)printf("uid        %u/%u/%u  gid %u/%u/%u  groups", r, e, s, rg, eg, sg);
	for (int i = 0; i < ng; i++)
		(void)printf(" %u", g[i]);
	(void)printf(ng > 0 ? "\n" : " none\n");
	(void)printf("caps      ");
	static const char *const sets[] = {"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		probe_status_field("self", sets[i], v, sizeof(v));
		(void)printf(" %s=%llx", sets[i] + 3, probe_hexval(v));
	}
	(void)printf("\n");
	probe_status_field("self", "NoNewPrivs", v, sizeof(v));
	(void)printf("nnp        %s", v);
	probe_status_field("self", "Seccomp", v, sizeof(v));
	(void)printf("  seccomp %s (0 off, 2 filter)\n", v);
	(void)printf("hostname   %s\n", host);

	char dev[8192];
	(void)printf("net       ");
	if (probe_read_file("/proc/net/dev", dev, sizeof(dev)) > 0) {
		int line = 0;
		for (char *l = strtok(dev, "\n"); l; l = strtok(NULL, "\n")) {
			char *colon = strchr(l, ':');
			if (line++ < 2 || !colon)
				continue;
			*colon = '\0';
			while (*l == ' ')
				l++;
			(void)printf(" %s", l);
		}
	}
	(void)printf("\n");
	int npids = 0;
	(void)probe_scan_pids(NULL, 0, &npids);
	(void)printf("processes  %d visible in /proc\n", npids);
	(void)printf("mounts     %d\n", count_lines("/proc/self/mounts"));
	(void)printf("open fds  ");
	for (size_t i = 0; i < probe_n_start_fds; i++)
		(void)printf(" %d", probe_start_fds[i]);
	(void)printf("\n");
	struct rlimit rl;
	if (getrlimit(RLIMIT_CORE, &rl) == 0)
		(void)printf("core limit %llu\n", (unsigned long long)rl.rlim_cur);
	if (getcwd(v, sizeof(v)))
		(void)printf("cwd        %s\n", v);
	(void)printf("jit        %s\n", jit());
	return 0;
}
