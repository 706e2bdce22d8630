/* SPDX-License-Identifier: MIT */
/* sbxd's configuration file (supervisor/config.c): strict keys, every fault reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/redirect.h>

#include "supervisor/config.h"

static char path[] = "/tmp/sbx-test-config-XXXXXX";

static void write_config(const char *text)
{
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert(eq(int, (int)write(fd, text, strlen(text)), (int)strlen(text)));
	(void)close(fd);
}

static void teardown(void)
{
	(void)unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
}

TestSuite(config, .fini = teardown);

Test(config, defaults_and_values)
{
	struct sbx_config *c = NULL;

	write_config("{\"socket\":{\"path\":\"/run/x.sock\",\"mode\":\"0600\"},"
		     "\"limits\":{\"max_tasks\":3,\"max_frame\":\"64K\",\"idle_timeout\":\"5s\"},"
		     "\"audit\":{\"durability\":\"fsync\"},"
		     "\"clients\":[{\"uids\":[1000],\"ops\":[\"run\",\"hello\"],\"policies\":["
		     "\"default\"]}]}");
	cr_assert(eq(int, sbx_config_load(path, &c), 0));
	cr_assert(eq(str, c->socket_path, "/run/x.sock"));
	cr_assert(eq(u32, (unsigned)c->socket_mode, 0600));
	cr_assert(eq(u32, c->max_tasks, 3));
	cr_assert(eq(u64, c->max_frame, 65536));
	cr_assert(eq(u64, c->idle_timeout_ms, 5000));
	cr_assert(c->audit_fsync);
	cr_assert(eq(sz, c->n_clients, 1));
	cr_assert(eq(u32, c->clients[0].uids[0], 1000));
	cr_assert(eq(sz, c->clients[0].n_policies, 1));
	cr_assert(eq(u32, c->max_queued, 256), "default kept");
	sbx_config_free(c);
}

Test(config, every_fault_is_reported, .init = cr_redirect_stderr)
{
	struct sbx_config *c = NULL;
	char buf[4096] = "";

	write_config("{\"socket\":{\"mode\":\"0666\"},\"policy_dir\":\"relative\","
		     "\"limits\":{\"max_tasks\":0,\"max_frame\":\"1\"},\"colour\":1,"
		     "\"audit\":{\"durability\":\"sometimes\"},\"clients\":[{\"ops\":[\"fly\"]}]}");
	cr_assert(eq(int, sbx_config_load(path, &c), -22));
	cr_assert(c == NULL);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, "socket.mode") != NULL, "%s", buf);
	cr_assert(strstr(buf, "policy_dir: must be an absolute path") != NULL, "%s", buf);
	cr_assert(strstr(buf, "limits.max_tasks") != NULL, "%s", buf);
	cr_assert(strstr(buf, "limits.max_frame") != NULL, "%s", buf);
	cr_assert(strstr(buf, "unknown key 'colour'") != NULL, "%s", buf);
	cr_assert(strstr(buf, "audit.durability") != NULL, "%s", buf);
	cr_assert(strstr(buf, "ops[0] is not an op name") != NULL, "%s", buf);
	cr_assert(strstr(buf, "names no uid and no group") != NULL, "%s", buf);
}

Test(config, syntax_error_has_position, .init = cr_redirect_stderr)
{
	struct sbx_config *c = NULL;

	write_config("{\n  \"limits\": {,}\n}\n");
	cr_assert(eq(int, sbx_config_load(path, &c), -22));
}

Test(config, dev_configuration)
{
	struct sbx_config *c = NULL;

	cr_assert(eq(int, sbx_config_dev("/tmp/devdir", 1000, &c), 0));
	cr_assert(c->dev);
	cr_assert(eq(str, c->socket_path, "/tmp/devdir/sbxd.sock"));
	cr_assert(eq(str, c->audit_path, "/tmp/devdir/audit.jsonl"));
	cr_assert(eq(u32, (unsigned)c->socket_uid, 1000));
	cr_assert(eq(sz, c->n_clients, 1));
	sbx_config_free(c);
}

/* Rule fields of the wrong type were taken for empty lists ("ops": "run" granted nothing, and
 * "policies": "x" allowed none) and NUL bytes cut names short; now each is an error. Found
 * reading supervisor/config.c for its fuzz target. Uses the in-memory entry point. */
Test(config, wrong_types_and_nul_bytes_are_refused, .init = cr_redirect_stderr)
{
	static const char *const bad[] = {
	    "{\"clients\":[{\"uids\":[0],\"ops\":\"run\"}]}",
	    "{\"clients\":[{\"uids\":[0],\"policies\":\"default\"}]}",
	    "{\"clients\":[{\"uids\":0}]}",
	    "{\"clients\":[{\"uids\":[0],\"groups\":\"root\"}]}",
	    "{\"clients\":[{\"uids\":[0],\"policies\":[\"default\\u0000x\"]}]}",
	    "{\"clients\":[{\"groups\":[\"root\\u0000x\"]}]}",
	    "{\"policy_dir\":\"/etc\\u0000/x\"}",
	    "{\"uid_pool\":5}",
	};
	struct sbx_config *c = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(eq(int, sbx_config_load_data(bad[i], strlen(bad[i]), "t.json", &c), -22),
			  "accepted: %s", bad[i]);
		cr_assert(c == NULL);
	}
	const char *ok = "{\"clients\":[{\"groups\":[\"root\"],\"ops\":[]}]}";
	cr_assert(eq(int, sbx_config_load_data(ok, strlen(ok), "t.json", &c), 0));
	cr_assert(eq(u32, c->clients[0].ops, 0), "an empty list grants nothing");
	sbx_config_free(c);
}
