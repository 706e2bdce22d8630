/* SPDX-License-Identifier: MIT */
/* Placeholder until the command lands. */
#include <stdio.h>

#include "cli/commands.h"

int sbx_cmd_sealed(int argc, char **argv)
{
	(void)argc;
	(void)fprintf(stderr, "sbxctl: '%s' is not implemented yet\n", argv[0]);
	return SBX_EXIT_USAGE;
}
