/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl keys`: the keyring administrator (docs/keys.md). Every subcommand first makes the
 * process undumpable with no core file, since it holds key bytes; key bytes and passphrases
 * stay behind keys/ handles and are never printed. A keyring that fails validation is one
 * line naming the file and the fault, exit 78 (EX_CONFIG); `verify` exits 1 instead.
 * Changes take the admin lock, then write atomically (keys/keyring-file.c). Backup and
 * restore are in cmd-keys-backup.c.
 */
#include "cli/cmd-keys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/creds.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/parse.h"
#include "keys/backup.h"
#include "keys/fernet.h"
#include "keys/keyring.h"
#include "keys/sealed.h"
#include "keys/secret.h"

static const char *arg_keyring;
static const char *arg_out;
static const char *arg_in;
static const char *arg_passphrase_file;
static const char *arg_fernet_key_file;
static bool arg_yes;
static bool arg_force;
static bool arg_creds;
static const char *arg_with_key;

static void usage(FILE *f)
{
	(void)fprintf(
	    f,
	    "usage: sbxctl keys COMMAND [--keyring PATH] [OPTIONS]\n"
	    "\n"
	    "  init                      create a keyring (never overwrites one)\n"
	    "  rotate                    add a new primary key; the old one stays active\n"
	    "  retire ID                 stop key ID from opening blobs (reversible)\n"
	    "  activate ID               undo a retire\n"
	    "  destroy ID [--yes]        wipe key ID for ever (keeps a tombstone)\n"
	    "  list                      id, state, dates and fingerprint of each key\n"
	    "  verify                    check the keyring; exit 0 when sound, 1 if not\n"
	    "  usage [--since T] LOG...   which key ids opened blobs (from the audit log)\n"
	    "  backup --out FILE         write a passphrase-encrypted backup\n"
	    "  restore --in FILE [--force]  put a backup in place of the keyring\n"
	    "  import-fernet --fernet-key-file F\n"
	    "                            CONTEXT<TAB>FERNET-TOKEN lines on stdin become\n"
	    "                            CONTEXT<TAB>sbx1:... lines on stdout\n"
	    "\n"
	    "  --keyring PATH            default %s\n"
	    "  --systemd-creds           keep the keyring only as a systemd credential\n"
	    "                            encrypted by systemd-creds (default path %s)\n"
	    "  --with-key KEY            systemd-creds' --with-key= (host, tpm2, host+tpm2)\n"
	    "  --passphrase-file FILE    read the passphrase from FILE's first line\n"
	    "                            instead of the terminal (at least %d bytes)\n",
	    SBX_KEYRING_DEFAULT_PATH, SBX_CREDS_DEFAULT_PATH, SBX_PASSPHRASE_MIN);
}

/* Key material is about to be in memory: no core file, no ptrace by same-uid processes. */
static int harden(void)
{
	const struct rlimit zero = {0, 0};
	int r;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(errno, "cannot disable dumping");
	if (setrlimit(RLIMIT_CORE, &zero) < 0)
		return log_error_errno(errno, "cannot disable core files");
	r = sbx_secret_init(false);
	if (r < 0)
		return log_error_errno(r, "cannot lock memory for keys (RLIMIT_MEMLOCK?)");
	return 0;
}

const char *sbx_cmd_keys_path(void)
{
	if (arg_keyring)
		return arg_keyring;
	return arg_creds ? SBX_CREDS_DEFAULT_PATH : sbx_keyring_default_path();
}

/* The keyring file, or with --systemd-creds the credential systemd-creds decrypts. */
int sbx_cmd_keys_load_from(const char *path, struct sbx_keyring **ret, char *err, size_t errlen)
{
	if (arg_creds)
		return sbx_creds_load(path, ret, err, errlen);
	return sbx_keyring_load(path, geteuid() == 0 ? 0 : SBX_KEYRING_OWNER_SELF, ret, err,
				errlen);
}

/* Loads and validates; on failure the one line naming the file and the fault. */
int sbx_cmd_keys_load(struct sbx_keyring **ret)
{
	char err[SBX_KEYRING_ERR_MAX] = "";
	int r = sbx_cmd_keys_load_from(sbx_cmd_keys_path(), ret, err, sizeof(err));

	if (r < 0)
		log_error("keyring '%s': %s", sbx_cmd_keys_path(), err);
	return r;
}

int sbx_cmd_keys_save(const struct sbx_keyring *kr, bool create)
{
	char err[SBX_KEYRING_ERR_MAX] = "";
	int r;

	if (arg_creds) {
		r = sbx_creds_save(kr, sbx_cmd_keys_path(), create, arg_with_key, err, sizeof(err));
		if (r < 0 && r != -EEXIST)
			return log_error("cannot write keyring '%s': %s", sbx_cmd_keys_path(), err),
			       r;
	} else {
		r = sbx_keyring_save(kr, sbx_cmd_keys_path(), create);
	}
	if (r == -EEXIST)
		return log_error_errno(r, "refusing to overwrite keyring '%s'",
				       sbx_cmd_keys_path());
	if (r < 0)
		return log_error_errno(r, "cannot write keyring '%s'", sbx_cmd_keys_path());
	return 0;
}

static int parse_id(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!s || sbx_parse_u64(s, &v) < 0 || v == 0 || v > UINT32_MAX) {
		log_error("expected a key id (a positive number), got '%s'", s ? s : "");
		return -EINVAL;
	}
	*ret = (uint32_t)v;
	return 0;
}

static void fmt_time(uint64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, 32, "%" PRIu64, t);
}

/* Creates the keyring's directory (/etc/sbx) if needed, the last level only, never a whole
 * tree. The credential store is root's alone (systemd's convention for credstore.encrypted). */
int sbx_cmd_keys_make_dir(void)
{
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s", sbx_cmd_keys_path()) >= (int)sizeof(dir))
		return log_error_errno(ENAMETOOLONG, "keyring path too long");
	if (mkdir(dirname(dir), arg_creds ? 0700 : 0755) < 0 && errno != EEXIST)
		return log_error_errno(errno, "cannot create '%s'", dir);
	return 0;
}

static int cmd_init(void)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	struct sbx_key_info k;
	int r;

	r = sbx_cmd_keys_make_dir();
	if (r < 0)
		return r;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_ frees it */
	r = sbx_keyring_new(&kr);
	if (r < 0)
		return log_error_errno(r, "cannot create keys");
	r = sbx_cmd_keys_save(kr, true);
	if (r < 0)
		return r;
	(void)sbx_keyring_info(kr, 0, &k);
	(void)printf("created keyring %s%s: key %" PRIu32 " primary, fingerprint %s\n"
		     "Back it up now: sbxctl keys backup%s --out FILE (keep it apart from "
		     "database backups).\n",
		     sbx_cmd_keys_path(), arg_creds ? " (encrypted by systemd-creds)" : "", k.id,
		     k.fingerprint, arg_creds ? " --systemd-creds" : "");
	return 0;
}

static int cmd_rotate(void)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_close_ int lock = -1;
	uint32_t old, id = 0;
	int r;

	lock = sbx_keyring_lock(sbx_cmd_keys_path());
	if (lock < 0)
		return log_error_errno(lock, "cannot lock '%s'", sbx_cmd_keys_path());
	r = sbx_cmd_keys_load(&kr);
	if (r < 0)
		return SBX_EXIT_CONFIG;
	old = sbx_keyring_primary_id(kr);
	r = sbx_keyring_rotate(kr, &id);
	if (r < 0)
		return log_error_errno(r, "cannot add a key");
	r = sbx_cmd_keys_save(kr, false);
	if (r < 0)
		return r;
	(void)printf("key %" PRIu32 " is now primary; key %" PRIu32 " is active.\n"
		     "Rewrap stored blobs, then 'sbxctl keys retire %" PRIu32 "'.\n",
		     id, old, old);
	return 0;
}

static int confirm_destroy(uint32_t id)
{
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	char want[16], buf[32];
	ssize_t k;

	if (fd < 0) {
		log_error("refusing to destroy key %" PRIu32 " without confirmation: no terminal; "
			  "pass --yes",
			  id);
		return -ENXIO;
	}
	(void)dprintf(fd,
		      "Destroying key %" PRIu32
		      " wipes it for ever: blobs sealed under it can never "
		      "be opened again.\nType the key id to confirm: ",
		      id);
	k = read(fd, buf, sizeof(buf) - 1);
	buf[k > 0 ? k : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	(void)snprintf(want, sizeof(want), "%" PRIu32, id);
	if (strcmp(buf, want) != 0) {
		log_error("not confirmed; key %" PRIu32 " left as it was", id);
		return -ECANCELED;
	}
	return 0;
}

static int cmd_state(const char *verb, const char *ids)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_close_ int lock = -1;
	struct sbx_key_info k;
	uint32_t id;
	int r;

	if (parse_id(ids, &id) < 0)
		return SBX_CMD_KEYS_USAGE;
	lock = sbx_keyring_lock(sbx_cmd_keys_path());
	if (lock < 0)
		return log_error_errno(lock, "cannot lock '%s'", sbx_cmd_keys_path());
	r = sbx_cmd_keys_load(&kr);
	if (r < 0)
		return SBX_EXIT_CONFIG;
	if (strcmp(verb, "destroy") == 0) {
		r = sbx_keyring_find(kr, id, &k);
		if (r >= 0 && k.state != SBX_KEY_PRIMARY && k.state != SBX_KEY_DESTROYED &&
		    !arg_yes && confirm_destroy(id) < 0)
			return SBX_CMD_KEYS_FAIL;
		r = sbx_keyring_destroy(kr, id);
	} else if (strcmp(verb, "retire") == 0) {
		r = sbx_keyring_retire(kr, id);
	} else {
		r = sbx_keyring_activate(kr, id);
	}
	switch (r) {
	case 0:
		break;
	case -ENOKEY:
		return log_error("no key %" PRIu32 " in '%s'", id, sbx_cmd_keys_path()),
		       SBX_CMD_KEYS_FAIL;
	case -EBUSY:
		return log_error("key %" PRIu32 " is the primary key; rotate first", id),
		       SBX_CMD_KEYS_FAIL;
	case -ESTALE:
		return log_error("key %" PRIu32 " was destroyed; that cannot be undone", id),
		       SBX_CMD_KEYS_FAIL;
	case -EALREADY:
		(void)sbx_keyring_find(kr, id, &k);
		return log_error("key %" PRIu32 " is already %s", id, sbx_key_state_name(k.state)),
		       SBX_CMD_KEYS_FAIL;
	default:
		return log_error_errno(r, "cannot %s key %" PRIu32, verb, id), SBX_CMD_KEYS_FAIL;
	}
	if (sbx_cmd_keys_save(kr, false) < 0)
		return SBX_CMD_KEYS_FAIL;
	(void)sbx_keyring_find(kr, id, &k);
	(void)printf("key %" PRIu32 " is now %s\n", id, sbx_key_state_name(k.state));
	return 0;
}

static int cmd_list(void)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	char fp[SBX_KEY_FP_HEX + 1], c[32], ch[32];
	struct sbx_key_info k;

	if (sbx_cmd_keys_load(&kr) < 0)
		return SBX_EXIT_CONFIG;
	(void)printf("%-6s %-10s %-21s %-21s %s\n", "ID", "STATE", "CREATED", "CHANGED",
		     "FINGERPRINT");
	for (size_t i = 0; sbx_keyring_info(kr, i, &k) >= 0; i++) {
		fmt_time(k.created, c);
		fmt_time(k.changed, ch);
		(void)printf("%-6" PRIu32 " %-10s %-21s %-21s %s\n", k.id,
			     sbx_key_state_name(k.state), c, ch, k.fingerprint);
	}
	sbx_keyring_audit_fingerprint(kr, fp);
	(void)printf("next id %" PRIu32 "; audit key fingerprint %s\n", sbx_keyring_next_id(kr),
		     fp);
	return 0;
}

static int cmd_verify(void)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;

	if (sbx_cmd_keys_load(&kr) < 0)
		return SBX_CMD_KEYS_FAIL;
	(void)printf("keyring %s: ok (%zu keys, primary %" PRIu32 ", next id %" PRIu32 ")\n",
		     sbx_cmd_keys_path(), sbx_keyring_count(kr), sbx_keyring_primary_id(kr),
		     sbx_keyring_next_id(kr));
	return 0;
}

static int cmd_import_fernet(void)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_(sbx_secret_freep) struct sbx_secret *fkey = NULL;
	_cleanup_free_ char *line = NULL;
	_cleanup_close_ int fd = -1;
	size_t cap = 0, lineno = 0, ok = 0, failed = 0;
	int r;

	if (!arg_fernet_key_file)
		return log_error("import-fernet needs --fernet-key-file FILE"), SBX_CMD_KEYS_USAGE;
	if (sbx_cmd_keys_load(&kr) < 0)
		return SBX_EXIT_CONFIG;
	fd = open(arg_fernet_key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(errno, "cannot open '%s'", arg_fernet_key_file),
		       SBX_CMD_KEYS_FAIL;
	r = sbx_fernet_key_read_fd(fd, &fkey);
	if (r < 0)
		return log_error("'%s' does not hold a Fernet key (32 bytes of base64url)",
				 arg_fernet_key_file),
		       SBX_CMD_KEYS_FAIL;
	/* Lines carry contexts and ciphertext only; stdio buffers are fine for them. */
	while (getline(&line, &cap, stdin) >= 0) {
		_cleanup_free_ char *blob = NULL;
		enum sbx_fernet_error fe = SBX_FERNET_OK;
		char *tab;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		tab = strchr(line, '\t');
		if (!tab) {
			log_error("line %zu: malformed (want CONTEXT<TAB>TOKEN)", lineno);
			failed++;
			continue;
		}
		*tab = '\0';
		r = sbx_fernet_reseal(fkey, kr, tab + 1, line, &blob, &fe);
		if (r < 0) {
			if (fe != SBX_FERNET_OK)
				log_error("line %zu: %s", lineno, sbx_fernet_error_name(fe));
			else
				log_error_errno(r, "line %zu: cannot seal", lineno);
			failed++;
			continue;
		}
		(void)printf("%s\t%s\n", line, blob);
		ok++;
	}
	if (fflush(stdout) != 0)
		return log_error_errno(errno, "cannot write the output"), SBX_CMD_KEYS_FAIL;
	log_info("imported %zu, failed %zu", ok, failed);
	return failed ? SBX_CMD_KEYS_FAIL : 0;
}

static int parse_args(int argc, char **argv)
{
	enum {
		OPT_KEYRING = 256,
		OPT_PASSFILE,
		OPT_FERNET,
		OPT_CREDS,
		OPT_WITH_KEY,
	};
	static const struct option opts[] = {
	    {"keyring", required_argument, NULL, OPT_KEYRING},
	    {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
	    {"fernet-key-file", required_argument, NULL, OPT_FERNET},
	    {"systemd-creds", no_argument, NULL, OPT_CREDS},
	    {"with-key", required_argument, NULL, OPT_WITH_KEY},
	    {"out", required_argument, NULL, 'o'},
	    {"in", required_argument, NULL, 'i'},
	    {"yes", no_argument, NULL, 'y'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:i:yfh", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_KEYRING:
			arg_keyring = optarg;
			break;
		case OPT_PASSFILE:
			arg_passphrase_file = optarg;
			break;
		case OPT_FERNET:
			arg_fernet_key_file = optarg;
			break;
		case OPT_CREDS:
			arg_creds = true;
			break;
		case OPT_WITH_KEY:
			arg_with_key = optarg;
			break;
		case 'o':
			arg_out = optarg;
			break;
		case 'i':
			arg_in = optarg;
			break;
		case 'y':
			arg_yes = true;
			break;
		case 'f':
			arg_force = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (arg_with_key && !arg_creds) {
		log_error("--with-key only applies with --systemd-creds");
		return -EINVAL;
	}
	return 1;
}

int sbx_cmd_keys(int argc, char **argv)
{
	/* `keys usage [--since T] FILE...` reads the audit log: the audit command owns it. */
	if (argc >= 2 && strcmp(argv[1], "usage") == 0) {
		argv[1] = "key-usage";
		argv[0] = "audit";
		return sbx_cmd_audit(argc, argv);
	}
	const char *verb, *id = NULL;
	int r;

	/* Options may come before or after the verb (getopt permutes). */
	r = parse_args(argc, argv);
	if (r <= 0)
		return r < 0 ? SBX_EXIT_USAGE : 0;
	if (optind >= argc) {
		usage(stderr);
		return SBX_EXIT_USAGE;
	}
	verb = argv[optind++];
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return SBX_EXIT_USAGE;
	}
	if (harden() < 0)
		return SBX_CMD_KEYS_FAIL;
	if (strcmp(verb, "retire") == 0 || strcmp(verb, "activate") == 0 ||
	    strcmp(verb, "destroy") == 0)
		r = cmd_state(verb, id);
	else if (id)
		return log_error("'keys %s' takes no argument", verb), SBX_EXIT_USAGE;
	else if (strcmp(verb, "init") == 0)
		r = cmd_init();
	else if (strcmp(verb, "rotate") == 0)
		r = cmd_rotate();
	else if (strcmp(verb, "list") == 0)
		r = cmd_list();
	else if (strcmp(verb, "verify") == 0)
		r = cmd_verify();
	else if (strcmp(verb, "backup") == 0)
		r = sbx_cmd_keys_backup_write(arg_out, arg_passphrase_file, arg_force);
	else if (strcmp(verb, "restore") == 0)
		r = sbx_cmd_keys_backup_restore(arg_in, arg_passphrase_file, arg_force);
	else if (strcmp(verb, "import-fernet") == 0)
		r = cmd_import_fernet();
	else
		return log_error("unknown keys command '%s'", verb), SBX_EXIT_USAGE;
	/* Helpers return a positive exit status, SBX_CMD_KEYS_USAGE, or -errno after logging. */
	if (r == SBX_CMD_KEYS_USAGE)
		return SBX_EXIT_USAGE;
	return r < 0 ? SBX_CMD_KEYS_FAIL : r;
}
