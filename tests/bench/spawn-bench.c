/* SPDX-License-Identifier: MIT */
/*
 * Times a command: runs it N times (after W warm-up runs), each from fork to reaped exit,
 * with `-j K` runs in flight at once, and prints count, p50, p99, mean (ms) and runs/s as one
 * line of `key=value` pairs for tests/bench/bench.sh. stdout/stderr of the command go to
 * /dev/null; a failing run is reported and makes the benchmark fail.
 *   spawn-bench [-n N] [-w W] [-j K] -- CMD [ARG...]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static pid_t start(char **cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		(void)dup2(null, 2);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	int n = 200, warm = 10, jobs = 1, opt;
	double *lat, t0, total;
	struct {
		pid_t pid;
		double t;
	} * run;
	int started = 0, done = 0, failed = 0;

	while ((opt = getopt(argc, argv, "n:w:j:")) >= 0) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'w')
			warm = atoi(optarg);
		else if (opt == 'j')
			jobs = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc || n <= 0 || jobs <= 0)
		return 2;
	for (int i = 0; i < warm; i++) {
		int st;
		(void)waitpid(start(argv + optind), &st, 0);
	}
	lat = calloc((size_t)n, sizeof(*lat));
	run = calloc((size_t)jobs, sizeof(*run));
	if (!lat || !run)
		return 2;
	t0 = now_ms();
	while (done < n) {
		int st;
		pid_t w;
		while (started < n && started - done < jobs) {
			for (int k = 0; k < jobs; k++)
				if (run[k].pid == 0) {
					run[k].t = now_ms();
					run[k].pid = start(argv + optind);
					break;
				}
			started++;
		}
		w = wait(&st);
		if (w < 0)
			return 2;
		for (int k = 0; k < jobs; k++)
			if (run[k].pid == w) {
				lat[done++] = now_ms() - run[k].t;
				run[k].pid = 0;
			}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	total = now_ms() - t0;
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += lat[i];
	printf("n=%d jobs=%d p50=%.2f p99=%.2f mean=%.2f per_s=%.1f failed=%d\n", n, jobs,
	       lat[n / 2], lat[(n * 99) / 100 >= n ? n - 1 : (n * 99) / 100], sum / n,
	       (double)n * 1000.0 / total, failed);
	return failed ? 1 : 0;
}
