/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl audit`: the audit reviewer (docs/audit.md). `init` makes the key state and shows the
 * first key once, `verify` checks the chain (exit 0 ok, 1 tampered, 2 usage or I/O), `show`,
 * `stats` and `key-usage` read the records. Reading never trusts the log: it prints what the
 * lines say; only `verify` says whether they are authentic. Key bytes stay inside audit/.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <jansson.h>

#include "audit/audit.h"
#include "audit/verify.h"
#include "cli/commands.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/parse.h"

#define EXIT_TAMPERED 1

static const char *arg_dir, *arg_key_file, *arg_key_out, *arg_task, *arg_event, *arg_policy;
static char arg_since[32], arg_until[32];
static long long arg_uid = -1;
static bool arg_json;
static char *arg_anchors[SBX_AUDIT_VERIFY_ANCHORS_MAX];
static size_t arg_n_anchors;

static void usage(FILE *f)
{
	(void)fprintf(
	    f, "usage: sbxctl audit COMMAND [OPTIONS] [FILE...]\n"
	       "\n"
	       "  init --dir DIR [--key-out F]  create DIR/" SBX_AUDIT_STATE_NAME
	       " and show the first key once\n"
	       "  verify [--key-file F] [--anchor SEQ:MAC]... FILE...\n"
	       "                                check the chain: 0 ok, 1 tampered, 2 usage/I/O\n"
	       "  show [--since T] [--until T] [--task ID] [--event NAME] [--uid N]\n"
	       "       [--policy NAME] [--json] FILE...   matching records, as a table or JSON\n"
	       "  stats FILE...                 events, refusals by code, tasks by policy, uid\n"
	       "  key-usage [--since T] FILE... which key ids opened blobs (secrets.opened)\n"
	       "\n"
	       "TIME: 2024-05-01, 2024-05-01T12:00:00Z, @UNIXSECONDS, or an age: 30m, 12h, 7d.\n"
	       "verify finds DIR/" SBX_AUDIT_KEY_NAME
	       " by itself when the log sits in an sbxd --dev DIR.\n");
}

/* TIME to the log's own ts format, so that filters compare strings. */
static int parse_time(const char *s, char ret[32])
{
	struct tm tm = {0};
	time_t t;
	uint64_t n;
	const char *end;
	size_t len = strlen(s);

	if (s[0] == '@') {
		if (sbx_parse_u64(s + 1, &n) < 0)
			return -EINVAL;
		t = (time_t)n;
	} else if (len > 1 && strchr("smhd", s[len - 1]) && s[0] >= '0' && s[0] <= '9' &&
		   !strchr(s, '-')) {
		char num[32];
		if (len >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (sbx_parse_u64(num, &n) < 0 || n > 100ULL * 365 * 86400)
			return -EINVAL;
		n *= s[len - 1] == 's'	 ? 1
		     : s[len - 1] == 'm' ? 60
		     : s[len - 1] == 'h' ? 3600
					 : 86400;
		t = time(NULL) - (time_t)n;
	} else {
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end && (*end == 'T' || *end == ' '))
			end = strptime(end + 1, "%H:%M", &tm);
		if (end && *end == ':')
			end = strptime(end + 1, "%S", &tm);
		if (end && *end == '.')
			end += 1 + strspn(end + 1, "0123456789");
		if (end && *end == 'Z')
			end++;
		if (!end || *end)
			return -EINVAL;
		t = timegm(&tm);
	}
	if (!gmtime_r(&t, &tm) || strftime(ret, 32, "%Y-%m-%dT%H:%M:%S.000000Z", &tm) == 0)
		return -EINVAL;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	enum {
		O_DIR = 0x100,
		O_KEY,
		O_KEY_OUT,
		O_ANCHOR,
		O_SINCE,
		O_UNTIL,
		O_TASK,
		O_EVENT,
		O_UID,
		O_POLICY,
		O_JSON
	};
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"dir", required_argument, NULL, O_DIR},
	    {"key-file", required_argument, NULL, O_KEY},
	    {"key-out", required_argument, NULL, O_KEY_OUT},
	    {"anchor", required_argument, NULL, O_ANCHOR},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"task", required_argument, NULL, O_TASK},
	    {"event", required_argument, NULL, O_EVENT},
	    {"uid", required_argument, NULL, O_UID},
	    {"policy", required_argument, NULL, O_POLICY},
	    {"json", no_argument, NULL, O_JSON},
	    {},
	};
	uint64_t n;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(0);
		case O_DIR:
			arg_dir = optarg;
			break;
		case O_KEY:
			arg_key_file = optarg;
			break;
		case O_KEY_OUT:
			arg_key_out = optarg;
			break;
		case O_ANCHOR:
			if (arg_n_anchors >= ARRAY_SIZE(arg_anchors))
				return log_error_errno(E2BIG, "too many --anchor");
			arg_anchors[arg_n_anchors++] = optarg;
			break;
		case O_SINCE:
		case O_UNTIL:
			if (parse_time(optarg, c == O_SINCE ? arg_since : arg_until) < 0)
				return log_error_errno(EINVAL, "bad time '%s'", optarg);
			break;
		case O_TASK:
			arg_task = optarg;
			break;
		case O_EVENT:
			arg_event = optarg;
			break;
		case O_UID:
			if (sbx_parse_u64(optarg, &n) < 0 || n > UINT32_MAX)
				return log_error_errno(EINVAL, "bad uid '%s'", optarg);
			arg_uid = (long long)n;
			break;
		case O_POLICY:
			arg_policy = optarg;
			break;
		case O_JSON:
			arg_json = true;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

static int harden(void)
{
	const struct rlimit zero = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &zero) < 0)
		return log_error_errno(errno, "cannot disable core dumps");
	return 0;
}

static int cmd_init(void)
{
	_cleanup_free_ char *state = NULL;
	char fp[SBX_AUDIT_FP_HEX + 1];
	int r;

	if (!arg_dir) {
		(void)fprintf(stderr, "sbxctl audit init: --dir DIR is required\n");
		return SBX_EXIT_USAGE;
	}
	if (harden() < 0)
		return SBX_EXIT_FAILURE;
	if (mkdir(arg_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(errno, "cannot create '%s'", arg_dir), SBX_EXIT_USAGE;
	if (asprintf(&state, "%s/%s", arg_dir, SBX_AUDIT_STATE_NAME) < 0)
		return SBX_EXIT_FAILURE;
	if (access(state, F_OK) == 0) {
		(void)fprintf(stderr, "sbxctl: '%s' exists already, not replaced\n", state);
		return SBX_EXIT_USAGE;
	}
	(void)fprintf(
	    stderr,
	    "sbxctl: the first audit key follows, shown this once. Store it off this host\n"
	    "        (a password manager, paper, an HSM): it verifies the whole log, and\n"
	    "        whoever holds it can also forge records, so keep it from this host.\n");
	(void)fflush(stderr);
	r = sbx_audit_state_init(state, arg_key_out, arg_key_out ? -1 : STDOUT_FILENO, fp);
	if (r == -EEXIST)
		return log_error_errno(r, "'%s' exists already, not replaced", state),
		       SBX_EXIT_USAGE;
	if (r < 0)
		return log_error_errno(r, "cannot create '%s'", state), SBX_EXIT_USAGE;
	(void)fprintf(stderr, "sbxctl: created '%s'; first key fingerprint %s%s%s\n", state, fp,
		      arg_key_out ? ", key written to " : "", arg_key_out ? arg_key_out : "");
	return 0;
}

/* --key-file, else audit.key next to the first log file (sbxd --dev DIR). */
static char *key_file_for(const char *log)
{
	_cleanup_free_ char *copy = strdup(log);
	char *path = NULL;

	if (arg_key_file)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return strdup(arg_key_file);
	if (!copy || asprintf(&path, "%s/%s", dirname(copy), SBX_AUDIT_KEY_NAME) < 0)
		return NULL;
	if (access(path, R_OK) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

static int cmd_verify(int n, char **files)
{
	_cleanup_(sbx_audit_verify_freep) struct sbx_audit_verify *v = NULL;
	_cleanup_free_ char *key = NULL;
	struct sbx_audit_verify_result res;
	int r;

	if (n == 0) {
		(void)fprintf(stderr, "sbxctl audit verify: no FILE given\n");
		return SBX_EXIT_USAGE;
	}
	if (harden() < 0)
		return SBX_EXIT_USAGE;
	key = key_file_for(files[0]);
	if (!key) {
		(void)fprintf(stderr, "sbxctl audit verify: no key: give --key-file (the first key "
				      "from 'sbxctl audit init')\n");
		return SBX_EXIT_USAGE;
	}
	r = sbx_audit_verify_new(key, &v);
	if (r < 0)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return log_error_errno(r, "cannot read key file '%s'", key), SBX_EXIT_USAGE;
	for (size_t i = 0; i < arg_n_anchors; i++)
		if (sbx_audit_verify_add_anchor(v, arg_anchors[i]) < 0) {
			(void)fprintf(stderr, "sbxctl audit verify: bad anchor '%s' (SEQ:MAC)\n",
				      arg_anchors[i]);
			return SBX_EXIT_USAGE;
		}
	r = sbx_audit_verify_files(v, files, (size_t)n);
	if (r < 0)
		return log_error_errno(r, "cannot read the log"), SBX_EXIT_USAGE;
	sbx_audit_verify_finish(v, &res);
	if (res.reason == SBX_AUDIT_VERIFY_OK) {
		(void)printf("ok %" PRIu64 " records, tip %" PRIu64 ":%s\n", res.records,
			     res.tip_seq, res.records ? res.tip_mac : "");
		return 0;
	}
	(void)printf("FAIL seq %" PRIu64 ": %s\n", res.bad_seq,
		     sbx_audit_verify_reason_name(res.reason));
	if (res.file)
		(void)fprintf(stderr, "sbxctl: %s:%" PRIu64 ": %s\n", res.file, res.line,
			      res.detail);
	else
		(void)fprintf(stderr, "sbxctl: %s\n", res.detail);
	(void)fprintf(stderr,
		      "sbxctl: %" PRIu64 " records verified before it, last good %" PRIu64 "\n",
		      res.records, res.tip_seq);
	if (res.key_mismatch)
		(void)fprintf(stderr,
			      "sbxctl: the log names another first key than '%s': wrong "
			      "--key-file?\n",
			      key);
	return EXIT_TAMPERED;
}

/* Calls fn for each record line of each file, oldest file first (by its first seq). */
typedef void (*record_cb)(json_t *rec, const char *line, void *userdata);

static uint64_t first_seq(const char *path)
{
	FILE *f = fopen(path, "re");
	char buf[64] = "";
	uint64_t seq = UINT64_MAX;

	if (f) {
		if (fgets(buf, sizeof(buf), f) && strncmp(buf, "{\"seq\":", 7) == 0)
			seq = strtoull(buf + 7, NULL, 10);
		(void)fclose(f);
	}
	return seq;
}

static int for_each_record(int n, char **files, record_cb fn, void *userdata)
{
	uint64_t seqs[256];
	char *line = NULL;
	size_t cap = 0;

	if (n > (int)ARRAY_SIZE(seqs))
		return log_error_errno(E2BIG, "too many files");
	for (int i = 0; i < n; i++)
		seqs[i] = first_seq(files[i]);
	for (int i = 1; i < n; i++) /* insertion sort: a handful of files */
		for (int j = i; j > 0 && seqs[j] < seqs[j - 1]; j--) {
			uint64_t s = seqs[j];
			char *p = files[j];
			seqs[j] = seqs[j - 1], files[j] = files[j - 1];
			seqs[j - 1] = s, files[j - 1] = p;
		}
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "re");
		ssize_t len;

		if (!f) {
			free(line);
			return log_error_errno(errno, "cannot open '%s'", files[i]);
		}
		while ((len = getline(&line, &cap, f)) > 0) {
			json_t *rec;
			if (line[len - 1] == '\n')
				line[--len] = '\0';
			rec = json_loadb(line, (size_t)len, 0, NULL);
			if (json_is_object(rec))
				fn(rec, line, userdata);
			json_decref(rec);
		}
		(void)fclose(f);
	}
	free(line);
	return 0;
}

static const char *str_of(json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s ? s : "";
}

static bool matches(json_t *rec)
{
	const char *ts = str_of(rec, "ts");
	json_t *uid = json_object_get(json_object_get(rec, "peer"), "uid");

	if ((arg_since[0] && strcmp(ts, arg_since) < 0) ||
	    (arg_until[0] && strcmp(ts, arg_until) > 0))
		return false;
	if (arg_task && strcmp(str_of(rec, "task"), arg_task) != 0)
		return false;
	if (arg_event && fnmatch(arg_event, str_of(rec, "event"), 0) != 0)
		return false;
	if (arg_uid >= 0 && (!json_is_integer(uid) || json_integer_value(uid) != arg_uid))
		return false;
	return !arg_policy || strcmp(str_of(rec, "policy"), arg_policy) == 0;
}

static void show_one(json_t *rec, const char *line, void *userdata)
{
	static const char *const fixed[] = {"seq", "ts", "event", "peer", "task", "mac"};
	json_t *uid = json_object_get(json_object_get(rec, "peer"), "uid");
	const char *key;
	json_t *val;
	char uid_s[16] = "-";

	(void)userdata;
	if (!matches(rec))
		return;
	if (arg_json) {
		(void)puts(line);
		return;
	}
	if (json_is_integer(uid))
		(void)snprintf(uid_s, sizeof(uid_s), "%" JSON_INTEGER_FORMAT,
			       json_integer_value(uid));
	(void)printf("%-7" JSON_INTEGER_FORMAT " %.19s  %-18s %-6s %-12s",
		     json_integer_value(json_object_get(rec, "seq")), str_of(rec, "ts"),
		     str_of(rec, "event"), uid_s, *str_of(rec, "task") ? str_of(rec, "task") : "-");
	json_object_foreach(rec, key, val)
	{
		bool skip = false;
		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
			skip |= strcmp(key, fixed[i]) == 0;
		if (skip)
			continue;
		if (json_is_string(val)) {
			(void)printf(" %s=%s", key, json_string_value(val));
		} else {
			char *s = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
			(void)printf(" %s=%s", key, s ? s : "?");
			free(s);
		}
	}
	(void)putchar('\n');
}

/* A small counter table: name -> count. */
struct tally {
	char *names[512];
	uint64_t counts[512];
	size_t n;
};

static void tally_add(struct tally *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0) {
			t->counts[i]++;
			return;
		}
	if (t->n < ARRAY_SIZE(t->names) && (t->names[t->n] = strdup(name)))
		t->counts[t->n++] = 1;
}

static void tally_print(struct tally *t, const char *title)
{
	(void)printf("%s:\n", title);
	if (t->n == 0)
		(void)printf("  (none)\n");
	for (size_t i = 0; i < t->n; i++) {
		(void)printf("  %-32s %" PRIu64 "\n", t->names[i], t->counts[i]);
		free(t->names[i]);
	}
}

struct stats {
	struct tally events, refusals, policies, uids;
};

static void stats_one(json_t *rec, const char *line, void *userdata)
{
	struct stats *s = userdata;
	const char *event = str_of(rec, "event");
	json_t *uid = json_object_get(json_object_get(rec, "peer"), "uid");
	char buf[160];

	(void)line;
	if (!matches(rec))
		return;
	tally_add(&s->events, event);
	if (fnmatch("*.refused", event, 0) == 0) {
		(void)snprintf(buf, sizeof(buf), "%s %s", event, str_of(rec, "code"));
		tally_add(&s->refusals, buf);
	}
	if (strcmp(event, "task.started") == 0) {
		tally_add(&s->policies, *str_of(rec, "policy") ? str_of(rec, "policy") : "-");
		(void)snprintf(buf, sizeof(buf), "uid %" JSON_INTEGER_FORMAT,
			       json_is_integer(uid) ? json_integer_value(uid) : -1);
		tally_add(&s->uids, buf);
	}
}

struct key_use {
	uint64_t ids[1024], counts[1024];
	char first[1024][28], last[1024][28];
	size_t n;
};

static void key_one(json_t *rec, const char *line, void *userdata)
{
	struct key_use *k = userdata;
	json_t *id = json_object_get(rec, "key_id");
	const char *ts = str_of(rec, "ts");
	size_t i;

	(void)line;
	if (!matches(rec) || strcmp(str_of(rec, "event"), "secrets.opened") != 0 ||
	    !json_is_integer(id))
		return;
	for (i = 0; i < k->n && k->ids[i] != (uint64_t)json_integer_value(id); i++)
		;
	if (i == k->n) {
		if (k->n == ARRAY_SIZE(k->ids))
			return;
		k->ids[k->n++] = (uint64_t)json_integer_value(id);
		(void)snprintf(k->first[i], sizeof(k->first[i]), "%.27s", ts);
	}
	k->counts[i]++;
	(void)snprintf(k->last[i], sizeof(k->last[i]), "%.27s", ts);
}

static int cmd_read(const char *cmd, int n, char **files)
{
	if (n == 0) {
		(void)fprintf(stderr, "sbxctl audit %s: no FILE given\n", cmd);
		return SBX_EXIT_USAGE;
	}
	if (strcmp(cmd, "show") == 0) {
		if (!arg_json)
			(void)printf("%-7s %-19s  %-18s %-6s %-12s %s\n", "SEQ", "TIME (UTC)",
				     "EVENT", "UID", "TASK", "DETAILS");
		return for_each_record(n, files, show_one, NULL) < 0 ? SBX_EXIT_USAGE : 0;
	}
	if (strcmp(cmd, "stats") == 0) {
		_cleanup_free_ struct stats *s = calloc(1, sizeof(*s));
		if (!s || for_each_record(n, files, stats_one, s) < 0)
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
			return SBX_EXIT_USAGE;
		tally_print(&s->events, "events");
		tally_print(&s->refusals, "refusals by code");
		tally_print(&s->policies, "tasks started by policy");
		tally_print(&s->uids, "tasks started by client uid");
		return 0;
	}
	_cleanup_free_ struct key_use *k = calloc(1, sizeof(*k));
	if (!k || for_each_record(n, files, key_one, k) < 0)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
		return SBX_EXIT_USAGE;
	(void)printf("%-8s %-10s %-27s %s\n", "KEY_ID", "OPENED", "FIRST", "LAST");
	for (size_t i = 0; i < k->n; i++)
		(void)printf("%-8" PRIu64 " %-10" PRIu64 " %-27s %s\n", k->ids[i], k->counts[i],
			     k->first[i], k->last[i]);
	if (k->n == 0)
		(void)printf("(no secrets.opened records%s)\n",
			     arg_since[0] ? " in that time" : "");
	return 0;
}

int sbx_cmd_audit(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SBX_EXIT_USAGE : 0;
	}
	cmd = argv[1];
	if (parse_args(argc - 1, argv + 1) < 0) {
		usage(stderr);
		return SBX_EXIT_USAGE;
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(cmd, "init") == 0)
		return argc ? SBX_EXIT_USAGE : cmd_init();
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "show") == 0 || strcmp(cmd, "stats") == 0 || strcmp(cmd, "key-usage") == 0)
		return cmd_read(cmd, argc, argv);
	(void)fprintf(stderr, "sbxctl audit: unknown command '%s'\n", cmd);
	usage(stderr);
	return SBX_EXIT_USAGE;
}
