/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl seal` and `sbxctl sealed inspect` (docs/keys.md). seal reads NAME=VALUE lines on
 * stdin straight into locked memory (values never on the command line, where ps and shell
 * history would see them) and prints one sbx1 blob under the primary key. inspect prints
 * the header only: version, key id, sealed at. Neither prints a value or a key byte.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "common/macro.h"
#include "keys/keyring.h"
#include "keys/sealed.h"
#include "keys/secret.h"

#define STDIN_MAX (1U << 20)

static void seal_usage(FILE *f)
{
	(void)fprintf(
	    f,
	    "usage: sbxctl seal --context CTX [--keyring PATH | --socket PATH] "
	    "< NAME=VALUE lines\n"
	    "\n"
	    "Seals the secrets on stdin for CTX (e.g. 'tenant:42/task:9001') under the\n"
	    "primary key and prints the blob. Names are normalised to SCREAMING_SNAKE_CASE.\n"
	    "  --keyring PATH   default %s\n"
	    "  --socket PATH    seal through sbxd instead (no keyring access needed)\n",
	    SBX_KEYRING_DEFAULT_PATH);
}

static const char *line_fault(int r)
{
	switch (r) {
	case -EPERM:
		return "reserved name (the environment must not carry it)";
	case -EEXIST:
		return "name given twice (perhaps spelt differently)";
	case -E2BIG:
		return "too many secrets or value too long";
	default:
		return "want NAME=VALUE with NAME matching [A-Za-z][A-Za-z0-9_.-]*";
	}
}

/* The same through sbxd (for app servers the rules allow to seal): the values travel in one
 * request line, in jansson memory that is wiped on free, and in a wiped send buffer. */
static int seal_via_socket(const char *socket, const char *context, struct sbx_secret_set *set)
{
	_cleanup_(sbx_client_freep) struct sbx_client *c = NULL;
	json_t *req, *secrets, *reply = NULL;
	char *const *envp;
	int r;

	if (sbx_secret_set_envp(set, &envp) < 0)
		return 1;
	secrets = json_object();
	for (char *const *e = envp; *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[SBX_SECRET_NAME_MAX + 1];
		(void)snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
		(void)json_object_set_new(secrets, name, json_string(eq + 1));
	}
	req = json_pack("{s:s, s:s, s:s, s:o}", "id", "seal", "op", "seal", "context", context,
			"secrets", secrets);
	r = sbx_client_connect(socket, &c);
	if (r >= 0)
		r = sbx_client_send(c, req);
	json_decref(req);
	if (r >= 0)
		r = sbx_client_recv(c, &reply);
	if (r < 0)
		return log_error_errno(r, "sealing through sbxd"), 1;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		(void)sbx_client_print_error(reply);
		json_decref(reply);
		return 1;
	}
	(void)printf("%s\n", json_string_value(json_object_get(reply, "sealed")));
	json_decref(reply);
	return fflush(stdout) == 0 ? 0 : 1;
}

struct seal_opts {
	const char *context, *path, *socket;
};

/* Parses and checks seal's arguments: -1 to go on, else the exit status to return now. */
static int parse_seal_opts(int argc, char **argv, struct seal_opts *o)
{
	static const struct option opts[] = {
	    {"context", required_argument, NULL, 'c'},
	    {"keyring", required_argument, NULL, 'k'},
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:k:s:h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->context = optarg;
			break;
		case 'k':
			o->path = optarg;
			break;
		case 'h':
			seal_usage(stdout);
			return 0;
		default:
			seal_usage(stderr);
			return SBX_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (values go on stdin, never the command line)",
			  argv[optind]);
		return SBX_EXIT_USAGE;
	}
	if (!o->context || sbx_sealed_context_check(o->context) < 0) {
		log_error("--context CTX is required: 1-%u printable ASCII bytes, no tabs",
			  SBX_SEALED_CONTEXT_MAX);
		return SBX_EXIT_USAGE;
	}
	return -1;
}

int sbx_cmd_seal(int argc, char **argv)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *in = NULL;
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *set = NULL;
	_cleanup_free_ char *blob = NULL;
	const struct rlimit zero = {0, 0};
	struct seal_opts o = {0};
	const char *context, *path, *socket;
	char err[SBX_KEYRING_ERR_MAX] = "";
	size_t line = 0;
	int r;

	r = parse_seal_opts(argc, argv, &o);
	if (r >= 0)
		return r;
	context = o.context;
	path = o.path;
	socket = o.socket;
	/* Plaintext and keys are about to be in memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &zero) < 0)
		return log_error_errno(errno, "cannot disable core dumps"), 1;
	r = sbx_secret_init(false);
	if (r < 0)
		return log_error_errno(r, "cannot lock memory for keys"), 1;
	if (!socket) {
		if (!path)
			path = sbx_keyring_default_path();
		r = sbx_keyring_load(path, geteuid() ? SBX_KEYRING_OWNER_SELF : 0, &kr, err,
				     sizeof(err));
		if (r < 0)
			return log_error("keyring '%s': %s", path, err), SBX_EXIT_CONFIG;
	}
	r = sbx_secret_read_fd(STDIN_FILENO, STDIN_MAX, &in);
	if (r < 0)
		return log_error_errno(r, "cannot read stdin"), 1;
	r = sbx_sealed_parse_env_lines(in, &set, &line);
	if (r < 0)
		return log_error("stdin line %zu: %s", line, line_fault(r)), 1;
	if (sbx_secret_set_count(set) == 0)
		return log_error("no NAME=VALUE lines on stdin"), 1;
	if (socket)
		return seal_via_socket(socket, context, set);
	r = sbx_sealed_seal(kr, set, context, &blob);
	if (r == -EILSEQ)
		return log_error("a value is not valid UTF-8"), 1;
	if (r < 0)
		return log_error_errno(r, "cannot seal (%s)", sbx_error_name(sbx_sealed_error(r))),
		       1;
	(void)printf("%s\n", blob);
	return fflush(stdout) == 0 ? 0 : 1;
}

int sbx_cmd_sealed(int argc, char **argv)
{
	struct sbx_sealed_header h;
	char when[32];
	struct tm tm;
	time_t t;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		(void)printf("usage: sbxctl sealed inspect BLOB\n\nPrints a blob's header "
			     "(version, key id, sealed at); needs no key.\n");
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "inspect") != 0) {
		(void)fprintf(stderr, "usage: sbxctl sealed inspect BLOB\n");
		return SBX_EXIT_USAGE;
	}
	if (sbx_sealed_inspect(argv[2], &h) < 0) {
		log_error("%s: not a v1 sealed blob", sbx_error_name(SBX_E_SEALED_MALFORMED));
		return 1;
	}
	t = (time_t)h.sealed_at;
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(when, sizeof(when), "%" PRIu64, h.sealed_at);
	(void)printf("version: %u\nkey_id: %" PRIu32 "\nsealed_at: %s\n", h.version, h.key_id,
		     when);
	return 0;
}
