/* SPDX-License-Identifier: MIT */
/*
 * sbxd: start-up, signals, reload and shutdown around one libuv loop.
 *
 *   sbxd [--config FILE]        production, usually under systemd (sbxd.socket, notify)
 *   sbxd --dev DIR              the embedded default: DIR gets a keyring, the shipped
 *                               policies, an audit log and a socket for the invoking user
 *   sbxd --check-config [...]   validate config, policies and keyring; exit 0 or 78
 *
 * The daemon is not dumpable and has no core limit (it holds keys); it refuses to run when
 * memory cannot be locked, except with --dev. A broken keyring, configuration or policy set
 * at start is one line per fault and exit 78 (EX_CONFIG). SIGHUP reloads all three
 * atomically (a broken file keeps the old set); SIGTERM stops accepting, lets tasks run up to
 * shutdown_grace, then kills them (reason "shutdown").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "keys/keyring.h"
#include "keys/secret.h"
#include "policy/embedded.h"
#include "sandbox/sandbox.h"
#include "supervisor/records.h"
#include "supervisor/sbxd.h"

#define EXIT_CONFIG 78

static struct {
	const char *config;
	const char *dev;
	bool check;
} arg;

static struct sbx_server server;
static uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;

/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	(void)close(fd);
}

/* LISTEN_FDS from systemd socket activation: fd 3 when it is for us. */
static int inherited_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (!pid || !fds || strtol(pid, NULL, 10) != getpid() || strtol(fds, NULL, 10) < 1)
		return -1;
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	return 3;
}

static int load_keyring(const struct sbx_config *cfg, struct sbx_keyring **ret)
{
	const char *path = cfg->keyring_path ? cfg->keyring_path : sbx_keyring_default_path();
	char err[SBX_KEYRING_ERR_MAX] = "";
	int r;

	r = sbx_keyring_load(path, cfg->dev ? SBX_KEYRING_OWNER_SELF : 0, ret, err, sizeof(err));
	if (r >= 0 && (r = sbx_keyring_validate(*ret, err, sizeof(err))) < 0)
		*ret = sbx_keyring_free(*ret);
	if (r < 0)
		log_error("keyring '%s': %s", path, err[0] ? err : strerror(-r));
	return r;
}

/* --dev DIR: everything a first run needs, created once and reused after. */
static int dev_setup(const char *dir, struct sbx_config **ret)
{
	const char *sudo = getenv("SUDO_UID");
	uid_t user = sudo ? (uid_t)strtoul(sudo, NULL, 10) : getuid();
	const struct sbx_embedded_file *f = sbx_embedded_find("policy/default.json");
	struct sbx_keyring *kr = NULL;
	struct sbx_config *cfg;
	struct stat st;
	char path[4096];
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "creating '%s'", dir);
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 0077))
		return log_error("'%s' must be a directory owned by uid %u with mode 0700", dir,
				 (unsigned)geteuid()),
		       -EPERM;
	r = sbx_config_dev(dir, user, &cfg);
	if (r < 0)
		return r;
	if (access(cfg->keyring_path, F_OK) < 0) {
		r = sbx_keyring_new(&kr);
		if (r >= 0)
			r = sbx_keyring_save(kr, cfg->keyring_path, true);
		kr = sbx_keyring_free(kr);
		if (r < 0) {
			sbx_config_free(cfg);
			return log_error_errno(r, "creating keyring '%s'", cfg->keyring_path);
		}
		log_info("created a fresh keyring in '%s' (dev mode; back it up for real use)",
			 cfg->keyring_path);
	}
	if (mkdir(cfg->policy_dir, 0700) < 0 && errno != EEXIST) {
		sbx_config_free(cfg);
		return log_error_errno(-errno, "creating '%s'", cfg->policy_dir);
	}
	(void)snprintf(path, sizeof(path), "%s/default.json", cfg->policy_dir);
	if (f && access(path, F_OK) < 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || sbx_fd_write_all(fd, f->data, f->size) < 0) {
			r = log_error_errno(-errno, "writing '%s'", path);
			if (fd >= 0)
				(void)close(fd);
			sbx_config_free(cfg);
			return r;
		}
		(void)close(fd);
	}
	*ret = cfg;
	return 0;
}

static void record_keyring(const char *event)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	sbx_audit_fields_uint(&f, "primary", sbx_keyring_primary_id(server.keyring));
	sbx_audit_fields_uint(&f, "keys", sbx_keyring_count(server.keyring));
	(void)sbx_record(&server, event, NULL, NULL, &f);
}

/* What changed between the running keyring and the reloaded one (rotations and retirements
 * are done offline with `sbxctl keys`; sbxd records them when it takes them in). */
static void record_keyring_changes(const struct sbx_keyring *old, const struct sbx_keyring *new)
{
	uint32_t from = sbx_keyring_primary_id(old), to = sbx_keyring_primary_id(new);
	struct sbx_key_info now, before;

	if (from != to) {
		struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
		sbx_audit_fields_uint(&f, "from", from);
		sbx_audit_fields_uint(&f, "to", to);
		(void)sbx_record(&server, "keyring.rotated", NULL, NULL, &f);
	}
	for (size_t i = 0; sbx_keyring_info(new, i, &now) == 0; i++) {
		bool was_retired =
		    sbx_keyring_find(old, now.id, &before) == 0 &&
		    (before.state == SBX_KEY_RETIRED || before.state == SBX_KEY_DESTROYED);
		if ((now.state == SBX_KEY_RETIRED || now.state == SBX_KEY_DESTROYED) &&
		    !was_retired) {
			struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;
			sbx_audit_fields_uint(&f, "key_id", now.id);
			sbx_audit_fields_str(&f, "state", sbx_key_state_name(now.state));
			(void)sbx_record(&server, "keyring.retired", NULL, NULL, &f);
		}
	}
}

static void record_daemon(const char *event, const char *failed)
{
	struct sbx_audit_fields f = SBX_AUDIT_FIELDS_INIT;

	sbx_audit_fields_str(&f, "version", SBX_VERSION);
	sbx_audit_fields_int(&f, "pid", getpid());
	sbx_audit_fields_uint(&f, "policies", server.policies->n);
	if (failed) {
		sbx_audit_fields_bool(&f, "ok", false);
		sbx_audit_fields_str(&f, "failed", failed);
	}
	(void)sbx_record(&server, event, NULL, NULL, &f);
	(void)sbx_records_commit(&server);
}

/* 0 for a directory, else -errno (-ENOTDIR for anything else). */
static int check_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void reload(void)
{
	const char *failed = NULL;
	struct sbx_config *cfg = NULL;
	struct sbx_policy_set *set = NULL;
	struct sbx_keyring *kr = NULL;
	const struct sbx_config *use;
	int r;

	notify("RELOADING=1");
	if (arg.config && sbx_config_load(arg.config, &cfg) < 0) {
		log_error("reload: configuration '%s' is broken; keeping the running one",
			  arg.config);
		failed = "config";
		goto done;
	}
	use = cfg ? cfg : server.cfg;
	/* A missing directory would load as "only the shipped default": on reload that would
	 * silently drop every policy in use, so it is a broken set like any other. */
	if ((r = check_dir(use->policy_dir)) < 0) {
		log_error_errno(r, "reload: policy directory '%s' (keeping the running set)",
				use->policy_dir);
		failed = "policies";
		goto done;
	}
	if (sbx_policies_load(use->policy_dir, use->profile_dir, &set) < 0) {
		log_error("reload: policies are broken; keeping the running set");
		failed = "policies";
		goto done;
	}
	if (load_keyring(use, &kr) < 0) {
		log_error("reload: keyring is broken; keeping the running keys");
		failed = "keyring";
		goto done;
	}
	sbx_policies_free(server.policies);
	server.policies = TAKE_PTR(set);
	record_keyring_changes(server.keyring, kr);
	sbx_keyring_free(server.keyring);
	server.keyring = TAKE_PTR(kr);
	if (cfg) {
		/* Buffers of open connections are sized by these: they stay. */
		cfg->max_frame = server.cfg->max_frame;
		free(cfg->socket_path);
		cfg->socket_path = TAKE_PTR(server.cfg->socket_path);
		sbx_config_free(server.cfg);
		server.cfg = TAKE_PTR(cfg);
	}
	log_info("reloaded: %zu policies", server.policies->n);
	record_keyring("keyring.loaded");
done:
	record_daemon("daemon.reloaded", failed);
	sbx_policies_free(set);
	sbx_keyring_free(kr);
	sbx_config_free(cfg);
	notify("READY=1\nSTATUS=running");
}

static void on_drain_timeout(uv_timer_t *t)
{
	(void)t;
	log_notice("shutdown grace over: killing %u running task(s)", server.n_running);
	sbx_tasks_kill_all(&server, "shutdown");
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)h;
	if (sig == SIGHUP) {
		reload();
		return;
	}
	if (sig == SIGUSR1) {
		int r = sbx_audit_rotate(server.audit);
		if (r < 0)
			log_error_errno(r, "rotating the audit log");
		return;
	}
	if (server.draining) {
		sbx_tasks_kill_all(&server, "shutdown");
		return;
	}
	notify("STOPPING=1\nSTATUS=draining");
	log_info("stopping: no new connections or tasks; %u running", server.n_running);
	server.draining = true;
	sbx_server_stop_listening(&server);
	if (!server.tasks) {
		uv_stop(server.loop);
		return;
	}
	(void)uv_timer_init(server.loop, &server.drain_timer);
	uv_update_time(server.loop); /* the whole grace from now, not from the turn's start */
	(void)uv_timer_start(&server.drain_timer, on_drain_timeout, server.cfg->shutdown_grace_ms,
			     0);
}

static void close_walk(uv_handle_t *h, void *arg_)
{
	(void)arg_;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"dev", required_argument, NULL, 'd'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:d:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg.config = optarg;
			break;
		case 'd':
			arg.dev = optarg;
			break;
		case 'C':
			arg.check = true;
			break;
		case 'v':
			sbx_log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			printf("usage: sbxd [--config FILE | --dev DIR] [--check-config] "
			       "[--verbose]\n");
			exit(0);
		case 'V':
			printf("sbxd %s\n", SBX_VERSION);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc || (arg.config && arg.dev))
		return log_error("usage: sbxd [--config FILE | --dev DIR] [--check-config]"),
		       -EINVAL;
	return 0;
}

static int start(void)
{
	struct sbx_config *cfg = NULL;
	const struct rlimit no_core = {0, 0};
	int r;

	/* Keys live here: no core file, no ptrace or /proc/PID/mem by other processes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &no_core) < 0)
		return log_error_errno(-errno, "disabling core dumps");
	r = sbx_secret_init(arg.dev != NULL);
	if (r < 0)
		return log_error_errno(r, "locked memory is not available (raise RLIMIT_MEMLOCK or "
					  "run as root; only --dev runs without it)");
	if (arg.dev)
		r = dev_setup(arg.dev, &cfg);
	else
		r = sbx_config_load(arg.config ? arg.config : SBX_CONFIG_DEFAULT_PATH, &cfg);
	if (r < 0 || !cfg)
		return r < 0 ? r : -EINVAL;
	server.cfg = cfg;
	if (load_keyring(cfg, &server.keyring) < 0)
		return -EINVAL;
	if (sbx_policies_load(cfg->policy_dir, cfg->profile_dir, &server.policies) < 0)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	char dir[4096];
	int r, fd;

	if (parse_args(argc, argv) < 0)
		return 2;
	if (start() < 0)
		return EXIT_CONFIG;
	if (arg.check) {
		printf("ok: configuration %s, %zu policies, keyring %s with primary key %u\n",
		       server.cfg->path ? server.cfg->path : "(defaults)", server.policies->n,
		       server.cfg->keyring_path ? server.cfg->keyring_path
						: sbx_keyring_default_path(),
		       (unsigned)sbx_keyring_primary_id(server.keyring));
		return 0;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	server.loop = uv_default_loop();
	r = sbx_sandbox_delegate_cgroup(dir, sizeof(dir));
	if (r < 0) {
		log_error_errno(r, "moving into a leaf of the delegated cgroup subtree");
		return EXIT_CONFIG;
	}
	if (r > 0)
		log_info("task cgroups go below the delegated subtree '%s'", dir);
	sbx_sandbox_prune_exec(); /* groups of tasks of an sbxd that was killed outright */
	fd = inherited_socket();
	if (fd < 0) {
		(void)snprintf(dir, sizeof(dir), "%s", server.cfg->socket_path);
		(void)mkdir(dirname(dir), 0755);
	}
	if (sbx_records_open(&server) < 0)
		return EXIT_CONFIG;
	sbx_records_start_loop(&server);
	record_daemon("daemon.started", NULL);
	record_keyring("keyring.loaded");
	/* Handlers before the socket accepts: a client that connects and signals at once
	 * (a reload right after start) must find SIGHUP handled, not fatal. Signals that come
	 * before uv_run wait in libuv until the loop runs. */
	(void)uv_signal_init(server.loop, &sig_term);
	(void)uv_signal_init(server.loop, &sig_int);
	(void)uv_signal_init(server.loop, &sig_hup);
	(void)uv_signal_init(server.loop, &sig_usr1);
	(void)uv_signal_start(&sig_usr1, on_signal, SIGUSR1);
	(void)uv_signal_start(&sig_term, on_signal, SIGTERM);
	(void)uv_signal_start(&sig_int, on_signal, SIGINT);
	(void)uv_signal_start(&sig_hup, on_signal, SIGHUP);
	if (sbx_server_listen(&server, fd) < 0)
		return 1;
	log_info("listening on %s (%zu policies, keyring '%s' with primary key %u%s)",
		 server.cfg->socket_path, server.policies->n,
		 server.cfg->keyring_path ? server.cfg->keyring_path : sbx_keyring_default_path(),
		 (unsigned)sbx_keyring_primary_id(server.keyring),
		 server.cfg->dev ? ", dev mode" : "");
	notify("READY=1\nSTATUS=running");

	r = uv_run(server.loop, UV_RUN_DEFAULT);
	(void)r;
	sbx_server_close_all(&server);
	uv_walk(server.loop, close_walk, NULL);
	(void)uv_run(server.loop, UV_RUN_DEFAULT);
	record_daemon("daemon.stopped", NULL);
	sbx_records_close(&server);
	(void)uv_loop_close(server.loop);
	sbx_policies_free(server.policies);
	sbx_keyring_free(server.keyring);
	sbx_ratelimit_free(server.run_rate);
	sbx_config_free(server.cfg);
	log_info("stopped");
	return 0;
}
