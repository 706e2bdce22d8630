/* SPDX-License-Identifier: MIT */
/*
 * The bytes of an open tunnel (CONNECT, or absolute-form http after its rewritten head), moved
 * socket to socket with splice(2) through one pipe per direction, so the payload never enters
 * user space: a copy through a buffer costs the loop thread as much CPU as the transfer
 * itself and held tunnels near 0.4 of a direct transfer on loopback (docs/testing.md).
 *
 * libuv has no splice and two watchers of one fd in one loop do not work, so once the 200 and
 * the head are written (nothing left in libuv's write queue, nothing buffered on the read
 * side: the head was read into c->head and reading stopped) the relay dup()s both sockets,
 * closes their uv_tcp_t handles and watches the dups with uv_poll_t. uv_poll_t is
 * level-triggered (epoll): a side is polled for readable only while its direction may take
 * more (no EOF, pipe not full) and for writable only while the other direction's pipe holds
 * bytes, so neither a full pipe nor a slow end spins the loop; at most BURST bytes per
 * direction per wakeup keep one fast tunnel from holding the loop. Both sockets and pipes are
 * non-blocking (splice on a socket obeys the file's O_NONBLOCK, SPLICE_F_NONBLOCK covers the
 * pipe).
 *
 * Counting is proxy-conn's: bytes read from a side (spliced into its pipe) count towards
 * bytes_out/bytes_in and the task's max_bytes, checked before they go on; they refresh the
 * idle clock. EOF from a side is passed on (shutdown SHUT_WR) once its pipe is drained; both
 * directions done ends the connection. Must never read payload bytes into memory or block.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/socket.h>

#include "common/log.h"
#include "supervisor/proxy-conn.h"

#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

static void on_poll(uv_poll_t *h, int status, int events);

static void on_poll_closed(uv_handle_t *h)
{
	struct sbx_proxy_conn *c = h->data;
	const int i = h == (uv_handle_t *)&c->poll[0] ? 0 : 1;

	(void)close(c->fd[i]);
	c->fd[i] = -1;
	sbx_proxy_conn_release(c);
}

static void on_tcp_closed(uv_handle_t *h)
{
	sbx_proxy_conn_release(h->data);
}

/* The reason to close with after a failed splice; EINVAL and ENOSYS mean this kernel cannot
 * splice these sockets, which no fallback hides: the tunnel fails and the log says why. */
static const char *splice_failed(int err, bool reading)
{
	if (err == EINVAL || err == ENOSYS) {
		log_error_errno(-err, "proxy: splice() refused a tunnel's socket or pipe");
		return "error";
	}
	return reading ? "closed" : "error"; /* as a failed read or write of the old relay */
}

/* Splices what side d has into direction d's pipe, at most up to the task's byte budget plus
 * one byte (enough to see it crossed; such bytes never go on). */
static const char *fill(struct sbx_proxy_conn *c, int d, bool *progress)
{
	struct sbx_proxy_dir *x = &c->dir[d];
	struct sbx_proxy *px = c->px;
	const uint64_t max = px->policy->net_max_bytes;
	const uint64_t left = max > px->bytes ? max - px->bytes : 0;
	size_t want = x->size - x->in_pipe;
	ssize_t n;

	if (left < want)
		want = (size_t)left + 1;
	n = splice(c->fd[d], NULL, x->pipe[1], NULL, want, SPLICE_FLAGS);
	if (n < 0) {
		if (errno == EINTR)
			return NULL;
		if (errno != EAGAIN)
			return splice_failed(errno, true);
		/* The socket is empty or the pipe out of slots (a slot holds a page or part
		 * of one, so bytes cannot tell): with bytes in the pipe, wait for a drain. */
		x->full = x->in_pipe > 0;
		return NULL;
	}
	*progress = true;
	if (n == 0) {
		x->eof = true;
		return NULL;
	}
	if ((uint64_t)n > left)
		return "limit";
	px->bytes += (uint64_t)n;
	*(d == 0 ? &c->bytes_out : &c->bytes_in) += (uint64_t)n;
	c->last = uv_now(px->loop);
	x->in_pipe += (size_t)n;
	return NULL;
}

/* Moves direction d (side d to side !d) until neither end takes more or BURST bytes went
 * out; passes an EOF on once the pipe is drained. Returns a close reason, or NULL. */
static const char *pump(struct sbx_proxy_conn *c, int d)
{
	struct sbx_proxy_dir *x = &c->dir[d];
	size_t moved = 0;
	bool progress = true;

	while (progress && moved < SBX_PROXY_BURST) {
		const char *why = NULL;
		progress = false;
		if (!x->eof && !x->full && x->in_pipe < x->size)
			why = fill(c, d, &progress);
		if (why)
			return why;
		if (x->in_pipe > 0) {
			ssize_t n =
			    splice(x->pipe[0], NULL, c->fd[!d], NULL, x->in_pipe, SPLICE_FLAGS);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return splice_failed(errno, false);
			if (n > 0) {
				x->in_pipe -= (size_t)n;
				x->full = false;
				moved += (size_t)n;
				progress = true;
			}
		}
	}
	if (x->eof && x->in_pipe == 0 && !x->shut) {
		x->shut = true;
		if (shutdown(c->fd[!d], SHUT_WR) < 0 || c->dir[!d].shut)
			return "closed";
	}
	return NULL;
}

/* Polls each side for exactly what can make progress now (uv_poll_start costs an epoll_ctl,
 * so only on a change). */
static int update(struct sbx_proxy_conn *c)
{
	for (int i = 0; i < 2; i++) {
		const struct sbx_proxy_dir *from = &c->dir[i], *to = &c->dir[!i];
		unsigned ev = 0;
		int r = 0;
		if (!from->eof && !from->full && from->in_pipe < from->size)
			ev |= UV_READABLE;
		if (to->in_pipe > 0)
			ev |= UV_WRITABLE;
		if (ev == c->polled[i])
			continue;
		c->polled[i] = ev;
		if (ev)
			r = uv_poll_start(&c->poll[i], (int)ev, on_poll);
		else
			r = uv_poll_stop(&c->poll[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sbx_proxy_conn *c = h->data;
	const int i = h == &c->poll[0] ? 0 : 1;
	const char *why = NULL;

	if (c->state != PX_OPEN)
		return;
	if (status < 0) { /* EPOLLERR: a reset, as a failed read */
		sbx_proxy_conn_close(c, "closed");
		return;
	}
	if (events & UV_READABLE)
		why = pump(c, i);
	if (!why && (events & UV_WRITABLE))
		why = pump(c, !i);
	if (!why && update(c) < 0)
		why = "error";
	if (why)
		sbx_proxy_conn_close(c, why);
}

static int open_dir(struct sbx_proxy_dir *x)
{
	int size;

	if (pipe2(x->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	/* Bigger than the default 64 KiB so a burst takes few calls. Without CAP_SYS_RESOURCE
	 * (sbxctl exec) it is refused (EPERM) past /proc/sys/fs/pipe-max-size or the user's pipe
	 * budget; the default pipe works too, slower. */
	(void)fcntl(x->pipe[1], F_SETPIPE_SZ, SBX_PROXY_PIPE);
	size = fcntl(x->pipe[1], F_GETPIPE_SZ);
	if (size <= 0)
		return -errno;
	x->size = (size_t)size;
	return 0;
}

int sbx_proxy_relay_start(struct sbx_proxy_conn *c)
{
	uv_tcp_t *tcp[2] = {&c->client, &c->origin};
	int r;

	for (int i = 0; i < 2; i++)
		c->fd[i] = c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
	c->relaying = true; /* from here on sbx_proxy_relay_stop undoes what was done */
	for (int i = 0; i < 2; i++) {
		uv_os_fd_t fd;
		r = uv_fileno((uv_handle_t *)tcp[i], &fd);
		if (r < 0)
			return r;
		c->fd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (c->fd[i] < 0)
			return -errno;
		r = open_dir(&c->dir[i]);
		if (r < 0)
			return r;
		r = uv_poll_init_socket(c->px->loop, &c->poll[i], c->fd[i]);
		if (r < 0) {
			(void)close(c->fd[i]);
			c->fd[i] = -1;
			return r;
		}
		c->poll[i].data = c;
		c->refs++;
	}
	/* The dups keep the sockets; their uv_tcp_t handles are done. */
	c->client_open = c->origin_open = false;
	uv_close((uv_handle_t *)&c->client, on_tcp_closed);
	uv_close((uv_handle_t *)&c->origin, on_tcp_closed);
	return update(c);
}

void sbx_proxy_relay_stop(struct sbx_proxy_conn *c)
{
	if (!c->relaying)
		return;
	c->relaying = false;
	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < 2; j++)
			if (c->dir[i].pipe[j] >= 0)
				(void)close(c->dir[i].pipe[j]);
		c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
		if (c->poll[i].data == c)				      /* initialised */
			uv_close((uv_handle_t *)&c->poll[i], on_poll_closed); /* closes fd[i] */
		else if (c->fd[i] >= 0)
			(void)close(c->fd[i]);
	}
}
