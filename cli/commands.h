/* SPDX-License-Identifier: MIT */
/* sbxctl subcommands. Each takes argv with argv[0] = its own name and returns the exit
 * status of sbxctl. */
#pragma once

int sbx_cmd_exec(int argc, char **argv);
int sbx_cmd_policy(int argc, char **argv);
int sbx_cmd_keys(int argc, char **argv);
int sbx_cmd_seal(int argc, char **argv);
int sbx_cmd_sealed(int argc, char **argv);
int sbx_cmd_run(int argc, char **argv);
int sbx_cmd_ps(int argc, char **argv);
int sbx_cmd_stats(int argc, char **argv);
int sbx_cmd_audit(int argc, char **argv);

/* Exit statuses shared by the commands (sysexits-like where they exist). */
#define SBX_EXIT_USAGE	  2
#define SBX_EXIT_TIMEOUT  124
#define SBX_EXIT_FAILURE  125 /* sbx itself failed: nothing ran */
#define SBX_EXIT_NOEXEC	  126
#define SBX_EXIT_NOTFOUND 127
#define SBX_EXIT_CONFIG	  78 /* EX_CONFIG: broken keyring, config */
