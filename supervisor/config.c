/* SPDX-License-Identifier: MIT */
/*
 * Configuration parsing. Strict like the policy parser: unknown keys, wrong types and
 * impossible values are errors, all of them reported, nothing half-applied.
 */
#include "supervisor/config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/parse.h"
#include "supervisor/protocol.h"

struct ctx {
	const char *file;
	int errors;
};

_printf_(3, 4) static void bad(struct ctx *c, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: %s: %s", c->file, key, msg);
	c->errors++;
}

static void check_keys(struct ctx *c, json_t *obj, const char *where, const char *const *known)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		bool ok = false;
		for (const char *const *p = known; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok)
			bad(c, where[0] ? where : k, "unknown key '%s'", k);
	}
}

static void get_str(struct ctx *c, json_t *obj, const char *key, const char *name, char **dst)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		bad(c, name, "must be a non-empty string without NUL bytes");
		return;
	}
	free(*dst);
	*dst = strdup(json_string_value(v));
}

static void get_path(struct ctx *c, json_t *obj, const char *key, const char *name, char **dst)
{
	get_str(c, obj, key, name, dst);
	if (*dst && (*dst)[0] != '/')
		bad(c, name, "must be an absolute path, not '%s'", *dst);
}

/* A size: number of bytes or "64M". */
static void get_size(struct ctx *c, json_t *obj, const char *key, const char *name, uint64_t *dst,
		     bool duration)
{
	json_t *v = json_object_get(obj, key);
	int r = 0;

	if (!v)
		return;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		*dst = (uint64_t)json_integer_value(v);
	else if (json_is_string(v))
		r = duration ? sbx_parse_duration_ms(json_string_value(v), dst)
			     : sbx_parse_size(json_string_value(v), dst);
	else
		r = -EINVAL;
	if (r < 0)
		bad(c, name,
		    duration ? "must be milliseconds or a duration like \"30s\""
			     : "must be bytes or a size like \"64M\"");
}

/* name is the key's full path ("limits.max_tasks"); its last part is the key in obj. */
static void get_u32(struct ctx *c, json_t *obj, const char *name, uint32_t *dst, uint32_t min,
		    uint32_t max)
{
	const char *dot = strrchr(name, '.');
	json_t *v = json_object_get(obj, dot ? dot + 1 : name);

	if (!v)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		bad(c, name, "must be an integer from %u to %u", min, max);
		return;
	}
	*dst = (uint32_t)json_integer_value(v);
}

/* A rate of task starts: "off" or 0, "N/s" (burst 2N), or {"per_second": N, "burst": M}. */
static void get_rate(struct ctx *c, json_t *v, const char *name, struct sbx_rate *dst)
{
	static const char *const known[] = {"per_second", "burst", NULL};
	const char *s = json_string_value(v);
	json_t *n, *b;

	if (json_is_integer(v) && json_integer_value(v) == 0) {
		*dst = (struct sbx_rate){0, 0};
		return;
	}
	if (s && strlen(s) == json_string_length(v)) {
		char *end;
		unsigned long r;
		if (strcmp(s, "off") == 0) {
			*dst = (struct sbx_rate){0, 0};
			return;
		}
		r = s[0] >= '1' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
		if (r >= 1 && r <= SBX_RATE_MAX && strcmp(end, "/s") == 0) {
			*dst = (struct sbx_rate){(uint32_t)r, 2 * (uint32_t)r};
			return;
		}
	}
	if (json_is_object(v)) {
		int errors = c->errors;
		check_keys(c, v, name, known);
		n = json_object_get(v, "per_second");
		b = json_object_get(v, "burst");
		if (!json_is_integer(n) || json_integer_value(n) < 0 ||
		    json_integer_value(n) > SBX_RATE_MAX)
			bad(c, name, "per_second must be an integer from 0 (off) to %u",
			    SBX_RATE_MAX);
		else if (b && (!json_is_integer(b) || json_integer_value(b) < 1 ||
			       json_integer_value(b) > (json_int_t)SBX_BURST_MAX))
			bad(c, name, "burst must be an integer from 1 to %u", SBX_BURST_MAX);
		else if (c->errors == errors)
			*dst = (struct sbx_rate){(uint32_t)json_integer_value(n),
						 b ? (uint32_t)json_integer_value(b)
						   : 2 * (uint32_t)json_integer_value(n)};
		return;
	}
	bad(c, name,
	    "must be \"off\", a rate like \"50/s\" (1 to %u a second, burst twice that) or "
	    "{\"per_second\": N, \"burst\": M}",
	    SBX_RATE_MAX);
}

static void parse_socket(struct ctx *c, json_t *s, struct sbx_config *cfg)
{
	static const char *const known[] = {"path", "mode", "group", NULL};
	char *mode = NULL, *group = NULL;

	if (!json_is_object(s)) {
		bad(c, "socket", "must be an object");
		return;
	}
	check_keys(c, s, "socket", known);
	get_path(c, s, "path", "socket.path", &cfg->socket_path);
	get_str(c, s, "mode", "socket.mode", &mode);
	if (mode) {
		char *end;
		unsigned long m = strtoul(mode, &end, 8);
		if (*end || m > 0777 || (m & 0007))
			bad(c, "socket.mode",
			    "must be octal like \"0660\", with no bits for others");
		else
			cfg->socket_mode = (mode_t)m;
	}
	get_str(c, s, "group", "socket.group", &group);
	if (group) {
		struct group *g = getgrnam(group);
		if (!g)
			bad(c, "socket.group", "no such group '%s'", group);
		else
			cfg->socket_gid = g->gr_gid;
	}
	free(mode);
	free(group);
}

static void parse_audit(struct ctx *c, json_t *a, struct sbx_config *cfg)
{
	static const char *const known[] = {"path", "state_dir", "durability", "rotate_size", NULL};
	json_t *d;

	if (!json_is_object(a)) {
		bad(c, "audit", "must be an object");
		return;
	}
	check_keys(c, a, "audit", known);
	get_path(c, a, "path", "audit.path", &cfg->audit_path);
	get_path(c, a, "state_dir", "audit.state_dir", &cfg->audit_dir);
	get_size(c, a, "rotate_size", "audit.rotate_size", &cfg->audit_rotate_size, false);
	d = json_object_get(a, "durability");
	if (d) {
		if (json_is_string(d) && strcmp(json_string_value(d), "fsync") == 0)
			cfg->audit_fsync = true;
		else if (json_is_string(d) && strcmp(json_string_value(d), "group") == 0)
			cfg->audit_fsync = false;
		else
			bad(c, "audit.durability", "must be \"group\" or \"fsync\"");
	}
}

static void parse_limits(struct ctx *c, json_t *l, struct sbx_config *cfg)
{
	static const char *const known[] = {
	    "max_tasks",    "max_queued",   "max_connections", "max_frame", "output_max",
	    "write_buffer", "idle_timeout", "shutdown_grace",  "run_rate",  NULL};
	json_t *v;

	if (!json_is_object(l)) {
		bad(c, "limits", "must be an object");
		return;
	}
	check_keys(c, l, "limits", known);
	get_u32(c, l, "limits.max_tasks", &cfg->max_tasks, 1, 65536);
	get_u32(c, l, "limits.max_queued", &cfg->max_queued, 0, 1000000);
	get_u32(c, l, "limits.max_connections", &cfg->max_connections, 1, 1000000);
	get_size(c, l, "max_frame", "limits.max_frame", &cfg->max_frame, false);
	get_size(c, l, "output_max", "limits.output_max", &cfg->output_max, false);
	get_size(c, l, "write_buffer", "limits.write_buffer", &cfg->write_buffer, false);
	get_size(c, l, "idle_timeout", "limits.idle_timeout", &cfg->idle_timeout_ms, true);
	get_size(c, l, "shutdown_grace", "limits.shutdown_grace", &cfg->shutdown_grace_ms, true);
	if ((v = json_object_get(l, "run_rate")))
		get_rate(c, v, "limits.run_rate", &cfg->run_rate);
	if (cfg->max_frame < 1024 || cfg->max_frame > (64U << 20))
		bad(c, "limits.max_frame", "must be between 1K and 64M");
	if (cfg->write_buffer < 65536)
		bad(c, "limits.write_buffer", "must be at least 64K");
}

/* r[key] when it is an array, else NULL (reported when present). A rule field of the wrong
 * type must not pass for an empty list: "ops": "run" would grant nothing, silently. */
static json_t *rule_array(struct ctx *c, json_t *r, const char *key, const char *where)
{
	json_t *a = json_object_get(r, key);

	if (a && !json_is_array(a)) {
		bad(c, where, "'%s' must be an array", key);
		return NULL;
	}
	return a;
}

/* A string without NUL bytes (a name that strdup or getgrnam would cut short). */
static const char *rule_string(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static void parse_rule(struct ctx *c, json_t *r, size_t i, struct sbx_client_rule *rule)
{
	static const char *const known[] = {"uids", "groups", "ops", "policies", "run_rate", NULL};
	char where[64], rate_key[80];
	json_t *v, *a;
	size_t j;

	(void)snprintf(where, sizeof(where), "clients[%zu]", i);
	if (!json_is_object(r)) {
		bad(c, where, "must be an object");
		return;
	}
	check_keys(c, r, where, known);
	rule->uids = calloc(json_array_size(rule_array(c, r, "uids", where)) + 1, sizeof(uid_t));
	rule->gids = calloc(json_array_size(rule_array(c, r, "groups", where)) + 1, sizeof(gid_t));
	if (!rule->uids || !rule->gids) {
		bad(c, where, "out of memory");
		return;
	}
	a = json_object_get(r, "uids");
	json_array_foreach(a, j, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 0x7fffffff)
			bad(c, where, "uids[%zu] must be a uid number", j);
		else
			rule->uids[rule->n_uids++] = (uid_t)json_integer_value(v);
	}
	a = json_object_get(r, "groups");
	json_array_foreach(a, j, v)
	{
		struct group *g = rule_string(v) ? getgrnam(rule_string(v)) : NULL;
		if (!g)
			bad(c, where, "groups[%zu]: no such group", j);
		else
			rule->gids[rule->n_gids++] = g->gr_gid;
	}
	a = rule_array(c, r, "ops", where);
	if (!json_object_get(r, "ops"))
		rule->ops = (1U << SBX_OP_HELLO) | (1U << SBX_OP_RUN) | (1U << SBX_OP_CANCEL) |
			    (1U << SBX_OP_LIST);
	json_array_foreach(a, j, v)
	{
		int op = rule_string(v) ? sbx_op_from_name(rule_string(v)) : -1;
		if (op < 0)
			bad(c, where, "ops[%zu] is not an op name", j);
		else
			rule->ops |= 1U << op;
	}
	a = rule_array(c, r, "policies", where);
	if (a) {
		rule->policies = calloc(json_array_size(a) + 1, sizeof(char *));
		if (!rule->policies) {
			bad(c, where, "out of memory");
			return;
		}
		json_array_foreach(a, j, v)
		{
			char *name = rule_string(v) ? strdup(rule_string(v)) : NULL;
			if (!name)
				bad(c, where, "policies[%zu] must be a policy name", j);
			else
				rule->policies[rule->n_policies++] = name;
		}
	}
	if ((v = json_object_get(r, "run_rate"))) {
		(void)snprintf(rate_key, sizeof(rate_key), "%s.run_rate", where);
		rule->has_run_rate = true;
		get_rate(c, v, rate_key, &rule->run_rate);
	}
	if (rule->n_uids == 0 && rule->n_gids == 0)
		bad(c, where, "names no uid and no group");
}

static struct sbx_config *defaults(void)
{
	struct sbx_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->socket_path = strdup("/run/sbx/sbxd.sock");
	cfg->socket_mode = 0660;
	cfg->socket_gid = (gid_t)-1;
	cfg->socket_uid = (uid_t)-1;
	cfg->policy_dir = strdup(SBX_SYSCONFDIR "/sbx/policies");
	cfg->profile_dir = strdup(SBX_SYSCONFDIR "/sbx/profiles");
	cfg->audit_path = strdup("/var/log/sbx/audit.jsonl");
	cfg->audit_dir = strdup("/var/lib/sbx");
	cfg->audit_rotate_size = 256ULL << 20;
	cfg->runtime_dir = strdup("/run/sbx");
	cfg->max_tasks = 64;
	cfg->max_queued = 256;
	cfg->max_connections = 512;
	cfg->max_frame = 1U << 20;
	cfg->output_max = 16U << 20;
	cfg->write_buffer = 1U << 20;
	cfg->idle_timeout_ms = 300000;
	cfg->shutdown_grace_ms = 30000;
	cfg->run_rate = (struct sbx_rate){100, 200};
	return cfg;
}

/* Checks root (borrowed) and builds the configuration named path. */
static int from_json(json_t *root, const char *path, struct sbx_config **ret)
{
	static const char *const known[] = {"socket",  "keyring",     "policy_dir", "profile_dir",
					    "audit",   "runtime_dir", "uid_pool",   "limits",
					    "clients", NULL};
	struct ctx c = {.file = path};
	struct sbx_config *cfg = defaults();
	json_t *v;
	size_t i;

	if (!cfg)
		return log_error_errno(-ENOMEM, "%s", path);
	cfg->path = strdup(path);
	if (!json_is_object(root))
		bad(&c, "(top)", "the configuration must be a JSON object");
	check_keys(&c, root, "", known);
	if ((v = json_object_get(root, "socket")))
		parse_socket(&c, v, cfg);
	get_path(&c, root, "keyring", "keyring", &cfg->keyring_path);
	get_path(&c, root, "policy_dir", "policy_dir", &cfg->policy_dir);
	get_path(&c, root, "profile_dir", "profile_dir", &cfg->profile_dir);
	get_path(&c, root, "runtime_dir", "runtime_dir", &cfg->runtime_dir);
	if ((v = json_object_get(root, "audit")))
		parse_audit(&c, v, cfg);
	if ((v = json_object_get(root, "uid_pool"))) {
		static const char *const pk[] = {"base", "size", NULL};
		if (!json_is_object(v))
			bad(&c, "uid_pool", "must be an object");
		check_keys(&c, v, "uid_pool", pk);
		get_u32(&c, v, "uid_pool.base", &cfg->uid_base, 1000, 0x7ffe0000);
		get_u32(&c, v, "uid_pool.size", &cfg->uid_count, 1, 1U << 24);
	}
	if ((v = json_object_get(root, "limits")))
		parse_limits(&c, v, cfg);
	if ((v = json_object_get(root, "clients"))) {
		if (!json_is_array(v))
			bad(&c, "clients", "must be an array of rules");
		cfg->clients = calloc(json_array_size(v) + 1, sizeof(*cfg->clients));
		if (!cfg->clients) {
			sbx_config_free(cfg);
			return log_error_errno(-ENOMEM, "%s", path);
		}
		for (i = 0; i < json_array_size(v); i++)
			parse_rule(&c, json_array_get(v, i), i, &cfg->clients[cfg->n_clients++]);
	}
	if (c.errors) {
		sbx_config_free(cfg);
		return -EINVAL;
	}
	*ret = cfg;
	return 0;
}

int sbx_config_load(const char *path, struct sbx_config **ret)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_error("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	r = from_json(root, path, ret);
	json_decref(root);
	return r;
}

int sbx_config_load_data(const char *data, size_t len, const char *name, struct sbx_config **ret)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_error("%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	r = from_json(root, name, ret);
	json_decref(root);
	return r;
}

int sbx_config_dev(const char *dir, uid_t user, struct sbx_config **ret)
{
	struct sbx_config *cfg = defaults();
	int fail = 0;

	if (!cfg)
		return -ENOMEM;
	cfg->dev = true;
	free(cfg->socket_path);
	free(cfg->policy_dir);
	free(cfg->audit_path);
	free(cfg->audit_dir);
	fail |= asprintf(&cfg->socket_path, "%s/sbxd.sock", dir) < 0;
	fail |= asprintf(&cfg->keyring_path, "%s/keyring", dir) < 0;
	fail |= asprintf(&cfg->policy_dir, "%s/policies", dir) < 0;
	fail |= asprintf(&cfg->audit_path, "%s/audit.jsonl", dir) < 0;
	fail |= asprintf(&cfg->audit_dir, "%s", dir) < 0;
	fail |= asprintf(&cfg->path, "--dev %s", dir) < 0;
	if (fail) {
		sbx_config_free(cfg);
		return -ENOMEM;
	}
	cfg->socket_mode = 0600;
	cfg->socket_uid = user;
	/* The invoking user may do everything but read stats of others. */
	cfg->clients = calloc(1, sizeof(*cfg->clients));
	if (cfg->clients && user != 0) {
		cfg->clients[0].uids = calloc(1, sizeof(uid_t));
		cfg->clients[0].uids[0] = user;
		cfg->clients[0].n_uids = 1;
		cfg->clients[0].ops = ~0U;
		cfg->n_clients = 1;
	}
	*ret = cfg;
	return 0;
}

struct sbx_config *sbx_config_free(struct sbx_config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_clients; i++) {
		free(c->clients[i].uids);
		free(c->clients[i].gids);
		for (size_t j = 0; j < c->clients[i].n_policies; j++)
			free(c->clients[i].policies[j]);
		free(c->clients[i].policies);
	}
	free(c->clients);
	free(c->path);
	free(c->socket_path);
	free(c->keyring_path);
	free(c->policy_dir);
	free(c->profile_dir);
	free(c->audit_path);
	free(c->audit_dir);
	free(c->runtime_dir);
	free(c);
	return NULL;
}
