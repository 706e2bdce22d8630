/* SPDX-License-Identifier: MIT */
/* sbxd's configuration file (supervisor/config.c): strict keys, every fault reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/redirect.h>

#include "supervisor/authz.h"
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

static struct sbx_rate rate_of(const char *limits_rate)
{
	struct sbx_config *c = NULL;
	struct sbx_rate r;
	char text[256];

	(void)snprintf(text, sizeof(text), "{\"limits\":{\"run_rate\":%s}}", limits_rate);
	cr_assert(eq(int, sbx_config_load_data(text, strlen(text), "t.json", &c), 0), "%s", text);
	r = c->run_rate;
	sbx_config_free(c);
	return r;
}

Test(config, run_rate_forms)
{
	struct sbx_config *c = NULL;
	struct sbx_rate r;

	cr_assert(eq(int, sbx_config_load_data("{}", 2, "t.json", &c), 0));
	cr_assert(eq(u32, c->run_rate.per_second, 100), "default");
	cr_assert(eq(u32, c->run_rate.burst, 200), "default");
	sbx_config_free(c);
	r = rate_of("\"50/s\"");
	cr_assert(eq(u32, r.per_second, 50));
	cr_assert(eq(u32, r.burst, 100), "burst twice the rate");
	r = rate_of("{\"per_second\": 5, \"burst\": 1}");
	cr_assert(eq(u32, r.per_second, 5));
	cr_assert(eq(u32, r.burst, 1));
	r = rate_of("{\"per_second\": 7}");
	cr_assert(eq(u32, r.burst, 14));
	cr_assert(eq(u32, rate_of("\"off\"").per_second, 0));
	cr_assert(eq(u32, rate_of("0").per_second, 0));
	cr_assert(eq(u32, rate_of("{\"per_second\": 0}").per_second, 0));
	cr_assert(eq(u32, rate_of("\"1000000/s\"").per_second, 1000000));
}

Test(config, run_rate_faults_are_refused, .init = cr_redirect_stderr)
{
	static const char *const bad[] = {
	    "\"50\"",
	    "\"50/m\"",
	    "\"50/s \"",
	    "\" 50/s\"",
	    "\"-5/s\"",
	    "\"0/s\"",
	    "\"05/s\"",
	    "\"1000001/s\"",
	    "\"\"",
	    "\"of\\u0000f\"",
	    "50",
	    "-1",
	    "true",
	    "[50]",
	    "1.5",
	    "{}",
	    "{\"per_second\": -1}",
	    "{\"per_second\": 1000001}",
	    "{\"per_second\": \"50\"}",
	    "{\"per_second\": 5, \"burst\": 0}",
	    "{\"per_second\": 5, \"burst\": 2000001}",
	    "{\"per_second\": 5, \"bust\": 9}",
	};
	struct sbx_config *c = NULL;
	char text[256], buf[8192] = "";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "{\"limits\":{\"run_rate\":%s}}", bad[i]);
		cr_assert(eq(int, sbx_config_load_data(text, strlen(text), "t.json", &c), -22),
			  "accepted: %s", text);
		cr_assert(c == NULL);
	}
	(void)snprintf(text, sizeof(text), "{\"clients\":[{\"uids\":[5],\"run_rate\":\"x\"}]}");
	cr_assert(eq(int, sbx_config_load_data(text, strlen(text), "t.json", &c), -22));
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, "t.json: limits.run_rate: must be \"off\", a rate like \"50/s\"") !=
		      NULL,
		  "%s", buf);
	cr_assert(strstr(buf, "limits.run_rate: burst must be an integer from 1 to 2000000") !=
		      NULL,
		  "%s", buf);
	cr_assert(strstr(buf, "limits.run_rate: unknown key 'bust'") != NULL, "%s", buf);
	cr_assert(strstr(buf, "clients[0].run_rate: must be") != NULL, "%s", buf);
}

/* The first rule naming the peer that sets run_rate wins; else limits.run_rate, except for
 * root, which only a rule limits. */
Test(config, run_rate_of_a_peer)
{
	static const char text[] =
	    "{\"limits\":{\"run_rate\":\"30/s\"},\"clients\":["
	    "{\"uids\":[1001],\"ops\":[\"run\"]},"
	    "{\"uids\":[1002],\"run_rate\":\"off\"},"
	    "{\"uids\":[1001,1002,0],\"run_rate\":{\"per_second\":500,\"burst\":10}},"
	    "{\"uids\":[1001],\"run_rate\":\"1/s\"}]}";
	struct sbx_config *c = NULL;
	struct sbx_peer p = {0};

	cr_assert(eq(int, sbx_config_load_data(text, strlen(text), "t.json", &c), 0));
	p.uid = 1001;
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).per_second, 500));
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).burst, 10));
	p.uid = 1002;
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).per_second, 0));
	p.uid = 1003;
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).per_second, 30));
	p.uid = 0;
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).per_second, 500), "a rule names root");
	sbx_config_free(c);
	cr_assert(eq(int, sbx_config_load_data("{}", 2, "t.json", &c), 0));
	cr_assert(eq(u32, sbx_authz_run_rate(c, &p).per_second, 0), "root: off by default");
	sbx_config_free(c);
}
