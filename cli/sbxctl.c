/* SPDX-License-Identifier: MIT */
/*
 * sbxctl: the command-line tool. One table of subcommands; each lives in cli/cmd-*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/macro.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"exec", sbx_cmd_exec, "run one program in a sandbox (root)"},
    {"run", sbx_cmd_run, "run one program in a sandbox through sbxd"},
    {"ps", sbx_cmd_ps, "list sbxd's tasks"},
    {"stats", sbx_cmd_stats, "sbxd's counters (root)"},
    {"policy", sbx_cmd_policy, "check policy files"},
    {"keys", sbx_cmd_keys, "administer the keyring"},
    {"seal", sbx_cmd_seal, "seal NAME=VALUE lines from stdin into a blob"},
    {"sealed", sbx_cmd_sealed, "inspect a sealed blob's header"},
    {"audit", sbx_cmd_audit, "verify and review the audit log"},
};

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: sbxctl COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		(void)fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	(void)fprintf(f, "\n'sbxctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SBX_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		(void)printf("sbxctl %s\n", SBX_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	(void)fprintf(stderr, "sbxctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return SBX_EXIT_USAGE;
}
