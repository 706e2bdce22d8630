/* SPDX-License-Identifier: MIT */
/*
 * Writes the BPF filters sbx compiles for a seccomp profile to files, one per filter, in the
 * raw form `bwrap --add-seccomp-fd` reads, so the benchmark gives bwrap the same filters.
 *   bpf-export PROFILE OUTPREFIX   -> OUTPREFIX.0, OUTPREFIX.1, ...; prints the count
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "policy/profile.h"
#include "sandbox/seccomp.h"

int main(int argc, char **argv)
{
	struct sbx_diags diags = {0};
	struct sbx_profile *prof = NULL;
	struct sbx_seccomp_prog *prog = NULL;
	char path[4096];

	if (argc != 3)
		return 2;
	if (sbx_profile_resolve(argv[1], "/nonexistent", &prof, &diags) < 0 ||
	    sbx_seccomp_compile(prof, &prog) < 0) {
		(void)fprintf(stderr, "bpf-export: cannot compile profile '%s'\n", argv[1]);
		return 1;
	}
	for (unsigned i = 0; i < sbx_seccomp_count(prog); i++) {
		int fd;
		(void)snprintf(path, sizeof(path), "%s.%u", argv[2], i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || sbx_seccomp_export_bpf(prog, i, fd) < 0)
			return 1;
		(void)close(fd);
	}
	printf("%u %zu\n", sbx_seccomp_count(prog), sbx_seccomp_size(prog));
	sbx_seccomp_free(prog);
	sbx_profile_free(prof);
	return 0;
}
