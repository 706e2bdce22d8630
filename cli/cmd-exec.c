/* SPDX-License-Identifier: MIT */
/*
 * `sbxctl exec`: one program in one sandbox, in the foreground, like `bwrap` or
 * `nsjail -Mo`. stdin, stdout and stderr pass straight through. The exit status is the
 * payload's; 128+N when a signal N ended it; 124 on timeout; 125 when sbx itself failed
 * (nothing ran); 126 when the program is not executable; 127 when it was not found.
 *
 * SIGTERM/SIGINT/SIGHUP to sbxctl are forwarded to the payload (through the sandbox's init).
 * If sbxctl is killed outright, the sandbox's init has PDEATHSIG and its pid namespace dies
 * with it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "cli/commands.h"
#include "cli/exec-env.h"
#include "cli/exec-proxy.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/parse.h"
#include "keys/keyring.h"
#include "keys/sealed.h"
#include "policy/policy.h"
#include "policy/profile.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

struct exec_args {
	const char *sealed_file;
	const char *context;
	const char *keyring;
	const char *policy;
	const char *policy_dir;
	const char *profile_dir;
	const char *runtime_dir;
	uint64_t timeout_ms;
	bool timeout_set;
	struct sbx_exec_env env;
	struct {
		const char *src, *dst;
		bool rw;
	} binds[64];
	size_t n_binds;
	char **argv;
};

static void args_done(struct exec_args *a)
{
	sbx_exec_env_done(&a->env);
}

static void usage(FILE *f)
{
	(void)fprintf(
	    f,
	    "usage: sbxctl exec [--policy NAME|PATH] [--ro-bind SRC DST] [--bind SRC DST]\n"
	    "                   [--env NAME=VALUE] [--timeout SECONDS] [--] PROGRAM [ARG...]\n"
	    "\n"
	    "Runs PROGRAM in a new sandbox (as root). Exit status: the program's; 128+N\n"
	    "when killed by signal N; 124 timeout; 125 sbx failed; 126 not executable;\n"
	    "127 not found.\n"
	    "\n"
	    "  --policy NAME|PATH   policy name (in --policy-dir, then the built-in set)\n"
	    "                       or a file path; default 'default'\n"
	    "  --policy-dir DIR     where named policies live (default %s)\n"
	    "  --ro-bind SRC DST    also bind SRC read-only at DST\n"
	    "  --bind SRC DST       also bind SRC read-write at DST\n"
	    "  --env NAME=VALUE     set a variable the policy's 'env' list allows\n"
	    "  --timeout SECONDS    kill the whole sandbox after this long (at most the\n"
	    "                       policy's maximum; default the policy's default)\n"
	    "  --sealed FILE        a sealed blob (sbx1:...) whose secrets the payload gets\n"
	    "                       in its environment (names the policy accepts only)\n"
	    "  --context CTX        the context the blob was sealed for\n"
	    "  --keyring PATH       keyring to open it with (default %s)\n",
	    SBX_POLICY_DIR, SBX_KEYRING_DEFAULT_PATH);
}

static int parse_args(int argc, char **argv, struct exec_args *a)
{
	enum {
		OPT_RO_BIND = 256,
		OPT_BIND,
		OPT_POLICY_DIR,
		OPT_PROFILE_DIR,
		OPT_RUNTIME_DIR,
		OPT_SEALED,
		OPT_CONTEXT,
		OPT_KEYRING,
	};
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
	    {"profile-dir", required_argument, NULL, OPT_PROFILE_DIR},
	    {"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	    {"ro-bind", required_argument, NULL, OPT_RO_BIND},
	    {"bind", required_argument, NULL, OPT_BIND},
	    {"env", required_argument, NULL, 'e'},
	    {"timeout", required_argument, NULL, 't'},
	    {"sealed", required_argument, NULL, OPT_SEALED},
	    {"context", required_argument, NULL, OPT_CONTEXT},
	    {"keyring", required_argument, NULL, OPT_KEYRING},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c, r;

	a->policy = "default";
	a->policy_dir = SBX_POLICY_DIR;
	a->profile_dir = SBX_PROFILE_DIR;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:e:t:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'p':
			a->policy = optarg;
			break;
		case OPT_POLICY_DIR:
			a->policy_dir = optarg;
			break;
		case OPT_PROFILE_DIR:
			a->profile_dir = optarg;
			break;
		case OPT_RUNTIME_DIR:
			a->runtime_dir = optarg;
			break;
		case OPT_SEALED:
			a->sealed_file = optarg;
			break;
		case OPT_CONTEXT:
			a->context = optarg;
			break;
		case OPT_KEYRING:
			a->keyring = optarg;
			break;
		case OPT_RO_BIND:
		case OPT_BIND:
			if (optind >= argc)
				return log_error("--%s needs SRC and DST",
						 c == OPT_BIND ? "bind" : "ro-bind");
			if (a->n_binds >= ARRAY_SIZE(a->binds))
				return log_error("too many --bind/--ro-bind options (at most %zu)",
						 ARRAY_SIZE(a->binds));
			a->binds[a->n_binds].src = optarg;
			a->binds[a->n_binds].dst = argv[optind++];
			a->binds[a->n_binds].rw = c == OPT_BIND;
			a->n_binds++;
			break;
		case 'e':
			r = sbx_exec_env_add(&a->env, optarg);
			if (r < 0)
				return r;
			break;
		case 't':
			r = sbx_parse_duration_ms(optarg, &a->timeout_ms);
			if (r < 0 || a->timeout_ms == 0)
				return log_error(
				    "--timeout: '%s' is not a positive duration (seconds, "
				    "or with a unit: 500ms, 30s, 5m)",
				    optarg);
			a->timeout_set = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (!a->sealed_file != !a->context)
		return log_error("--sealed and --context go together"), -EINVAL;
	a->argv = argv + optind;
	return 0;
}

static void print_diags(const struct sbx_diags *d)
{
	char buf[1024];

	for (size_t i = 0; i < d->n; i++) {
		(void)sbx_diag_format(&d->v[i], buf, sizeof(buf));
		log_error("%s", buf);
	}
}

/* Policy + command-line binds + compiled seccomp profile. */
static int prepare(const struct exec_args *a, struct sbx_policy **ret_policy,
		   struct sbx_seccomp_prog **ret_prog)
{
	_cleanup_(sbx_policy_freep) struct sbx_policy *p = NULL;
	_cleanup_(sbx_profile_freep) struct sbx_profile *prof = NULL;
	struct sbx_diags diags = {0};
	char cache[4096];
	int r;

	r = sbx_policy_resolve(a->policy, a->policy_dir, &p, &diags);
	for (size_t i = 0; r >= 0 && i < a->n_binds; i++)
		r = sbx_policy_add_bind(p, a->binds[i].src, a->binds[i].dst, a->binds[i].rw,
					&diags);
	if (r >= 0)
		r = sbx_profile_resolve(p->seccomp, a->profile_dir, &prof, &diags);
	if (r < 0) {
		print_diags(&diags);
		sbx_diags_clear(&diags);
		return r;
	}
	(void)sbx_fd_private_dir(a->runtime_dir ? a->runtime_dir : SBX_RUNTIME_DIR_DEFAULT);
	(void)snprintf(cache, sizeof(cache), "%s/seccomp-cache",
		       a->runtime_dir ? a->runtime_dir : SBX_RUNTIME_DIR_DEFAULT);
	r = sbx_seccomp_compile_cached(prof, cache, ret_prog);
	if (r < 0) {
		(void)log_error_errno(r, "compiling seccomp profile '%s'", prof->name);
		return r; /* r < 0: the analyzer cannot see log_error_errno returns it */
	}
	*ret_policy = TAKE_PTR(p);
	return 0;
}

static bool accept_secret(const char *name, void *userdata)
{
	return sbx_policy_accepts_secret(userdata, name);
}

/* Opens --sealed under --context with the keyring; errors print their stable code. */
static int open_sealed(const struct exec_args *a, struct sbx_policy *p, struct sbx_secret_set **ret)
{
	_cleanup_(sbx_keyring_freep) struct sbx_keyring *kr = NULL;
	_cleanup_free_ char *blob = NULL;
	const struct rlimit zero = {0, 0};
	const char *path = a->keyring ? a->keyring : sbx_keyring_default_path();
	char err[SBX_KEYRING_ERR_MAX] = "";
	int r;

	/* This process will hold keys: no core file, no ptrace by others. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &zero) < 0)
		return log_error_errno(-errno, "disabling core dumps");
	r = sbx_secret_init(false);
	if (r < 0)
		return log_error_errno(r, "locked memory is not available");
	r = sbx_fd_read_file(a->sealed_file, SBX_SEALED_TEXT_MAX + 2, &blob, NULL);
	if (r < 0)
		return log_error_errno(r, "reading sealed blob '%s'", a->sealed_file);
	blob[strcspn(blob, "\r\n")] = '\0';
	r = sbx_keyring_load(path, 0, &kr, err, sizeof(err));
	if (r >= 0)
		r = sbx_keyring_validate(kr, err, sizeof(err));
	if (r < 0)
		return log_error("keyring '%s': %s", path, err[0] ? err : strerror(-r)), r;
	r = sbx_sealed_open(kr, blob, a->context, accept_secret, p, ret);
	if (r < 0) {
		enum sbx_error code = sbx_sealed_error(r);
		return log_error("%s: '%s' does not open for policy '%s' under context '%s'",
				 sbx_error_name(code), a->sealed_file, p->name, a->context),
		       r;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Network mode proxy: the listener comes before the exec report. */
static void start_proxy(struct sbx_sandbox *sb, const struct sbx_policy *p,
			struct sbx_exec_proxy **xp)
{
	int fd;

	if (p->net != SBX_NET_PROXY || *xp)
		return;
	fd = sbx_sandbox_take_listener(sb);
	if (fd >= 0 && sbx_exec_proxy_start(p, fd, xp) < 0)
		log_error("the sandbox has no egress");
}

/* Waits for the sandbox to end, forwarding signals; returns true on timeout. */
static bool wait_sandbox(struct sbx_sandbox *sb, const struct sbx_policy *p, int sigfd,
			 uint64_t timeout_ms, struct sbx_exec_proxy **xp)
{
	const uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	struct pollfd pfd[3] = {
	    {.fd = sbx_sandbox_pidfd(sb), .events = POLLIN},
	    {.fd = sbx_sandbox_report_fd(sb), .events = POLLIN},
	    {.fd = sigfd, .events = POLLIN},
	};

	for (;;) {
		int wait = -1;
		if (deadline) {
			uint64_t now = now_ms();
			if (now >= deadline)
				return true;
			wait = (int)(deadline - now > 60000 ? 60000 : deadline - now);
		}
		if (poll(pfd, pfd[1].fd >= 0 ? 3 : 1, wait) < 0 && errno != EINTR)
			return false;
		if (pfd[0].revents)
			return false;
		if (pfd[1].revents) {
			(void)sbx_sandbox_read_report(sb);
			start_proxy(sb, p, xp);
			if (pfd[1].revents & POLLHUP)
				pfd[1].fd = -1;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				(void)sbx_sandbox_signal(sb, (int)si.ssi_signo);
		}
	}
}

static int exit_status(const struct sbx_sandbox_result *res, const struct sbx_policy *p,
		       const char *program)
{
	char buf[512];

	switch (res->end) {
	case SBX_END_EXITED:
		return res->code;
	case SBX_END_SIGNALED:
		if (res->oom)
			log_error(
			    "sandbox killed: memory limit of policy '%s' reached (%llu bytes)",
			    p->name, (unsigned long long)p->memory_max);
		return 128 + res->signal;
	case SBX_END_SETUP_FAILED:
		if (strcmp(res->error.step, "execve") == 0 && res->error.err == ENOENT) {
			log_error("'%s': no such program in the sandbox", program);
			return SBX_EXIT_NOTFOUND;
		}
		if (strcmp(res->error.step, "execve") == 0 &&
		    (res->error.err == EACCES || res->error.err == ENOEXEC ||
		     res->error.err == EISDIR || res->error.err == EPERM)) {
			log_error("'%s': cannot execute: %s", program, strerror(res->error.err));
			return SBX_EXIT_NOEXEC;
		}
		log_error("sandbox setup failed at %s",
			  sbx_sandbox_strerror(&res->error, buf, sizeof(buf)));
		return SBX_EXIT_FAILURE;
	case SBX_END_RUNNING:
		break;
	}
	return SBX_EXIT_FAILURE;
}

/* The run time limit: the policy default, or --timeout if within the policy maximum. */
static int resolve_timeout(const struct exec_args *a, const struct sbx_policy *p, uint64_t *ret)
{
	*ret = p->timeout_default_ms;
	if (a->timeout_set) {
		if (p->timeout_max_ms && a->timeout_ms > p->timeout_max_ms) {
			log_error("--timeout %llums is above the maximum of policy '%s' (%llums)",
				  (unsigned long long)a->timeout_ms, p->name,
				  (unsigned long long)p->timeout_max_ms);
			return -1;
		}
		*ret = a->timeout_ms;
	}
	return 0;
}

/* Block the signals forwarded to the sandbox and return a signalfd for them (-1 on error). */
static int open_forward_signalfd(void)
{
	sigset_t fwd;
	int fd;

	sigemptyset(&fwd);
	for (const int *s = (const int[]){SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0};
	     *s; s++)
		sigaddset(&fwd, *s);
	(void)sigprocmask(SIG_BLOCK, &fwd, NULL);
	fd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		log_error_errno(-errno, "signalfd");
		return -1;
	}
	return fd;
}

int sbx_cmd_exec(int argc, char **argv)
{
	_cleanup_(sbx_policy_freep) struct sbx_policy *p = NULL;
	_cleanup_(sbx_seccomp_freep) struct sbx_seccomp_prog *prog = NULL;
	_cleanup_(sbx_sandbox_freep) struct sbx_sandbox *sb = NULL;
	_cleanup_(args_done) struct exec_args a = {0};
	_cleanup_(sbx_secret_set_freep) struct sbx_secret_set *secrets = NULL;
	_cleanup_close_ int sigfd = -1;
	char *const *senv = NULL;
	struct sbx_sandbox_error err;
	struct sbx_sandbox_result res;
	struct sbx_exec_proxy *xp = NULL;
	char task_id[32], buf[512];
	bool timed_out;
	uint64_t timeout;
	int r;

	if (parse_args(argc, argv, &a) < 0)
		return SBX_EXIT_FAILURE;
	if (geteuid() != 0) {
		log_error("exec must run as root (it creates namespaces and cgroups)");
		return SBX_EXIT_FAILURE;
	}
	if (prepare(&a, &p, &prog) < 0)
		return SBX_EXIT_FAILURE;
	if (resolve_timeout(&a, p, &timeout) < 0)
		return SBX_EXIT_FAILURE;
	if (a.sealed_file && open_sealed(&a, p, &secrets) < 0)
		return SBX_EXIT_FAILURE;
	if (secrets && sbx_secret_set_envp(secrets, &senv) < 0)
		return SBX_EXIT_FAILURE;
	if (sbx_exec_env_build(&a.env, p, senv) < 0)
		return SBX_EXIT_FAILURE;

	sigfd = open_forward_signalfd();
	if (sigfd < 0)
		return SBX_EXIT_FAILURE;

	(void)snprintf(task_id, sizeof(task_id), "exec-%d", (int)getpid());
	const struct sbx_sandbox_params params = {
	    .policy = p,
	    .seccomp = prog,
	    .argv = a.argv,
	    .envp = a.env.envp,
	    .stdio = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO},
	    .task_id = task_id,
	    .runtime_dir = a.runtime_dir,
	    .wipe_envp = true,
	};
	r = sbx_sandbox_spawn(&params, &sb, &err);
	/* The child has its copy: wipe ours now, not when the payload ends. */
	secrets = sbx_secret_set_free(secrets);
	if (r < 0) {
		log_error("sandbox setup failed at %s",
			  sbx_sandbox_strerror(&err, buf, sizeof(buf)));
		return SBX_EXIT_FAILURE;
	}
	timed_out = wait_sandbox(sb, p, sigfd, timeout, &xp);
	xp = sbx_exec_proxy_stop(xp);
	if (timed_out) {
		(void)sbx_sandbox_kill(sb);
		(void)sbx_sandbox_reap(sb, true, NULL);
		log_error("timeout: killed the sandbox after %llums", (unsigned long long)timeout);
		return SBX_EXIT_TIMEOUT;
	}
	r = sbx_sandbox_reap(sb, true, &res);
	sbx_sandbox_prune_exec();
	if (r < 0) {
		log_error_errno(r, "waiting for the sandbox");
		return SBX_EXIT_FAILURE;
	}
	return exit_status(&res, p, a.argv[0]);
}
