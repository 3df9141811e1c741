/*
 * Connections: a TCP socket, plain or TLS, with an output queue and a
 * byte budget, driven by the loop.  Reads are delivered to on_data as they
 * arrive; writes are queued and flushed after the before-sleep hook.
 * Closing is deferred: a failed or closed conn goes on the loop's dead
 * list and its on_close runs from the loop, so no conn_* call made by the
 * owner ever re-enters the owner or frees the conn under it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/log.h"
#include "net/net_int.h"

#define CONN_DEFAULT_MAX_OUT	(1024 * 1024)
#define CONN_DEFAULT_BUDGET	(64 * 1024)
#define CONN_EAGER_FLUSH	(64 * 1024)	/* flush in conn_write above */
/* An empty output queue is freed: an idle session then holds no output
 * buffer (memory per idle session), and one malloc per burst of writes
 * costs little beside the TLS record it feeds. */
#define CONN_KEEP_CAP		0
#define CONN_CLOSE_MS		10000		/* graceful flush bound */
#define CONN_LINGER_MS		2000		/* wait for the peer's FIN */

static uint64_t conn_next_id = 1;

static void conn_io(struct ev_loop *loop, int fd, int events, void *arg);
static int conn_do_flush(struct conn *c, int from_loop);
static void conn_do_handshake(struct conn *c);

const char *
conn_reason_str(int reason)
{
	switch (reason) {
	case CONN_R_LOCAL:	return "local";
	case CONN_R_EOF:	return "eof";
	case CONN_R_IO:		return "io";
	case CONN_R_TLS:	return "tls";
	case CONN_R_TIMEOUT:	return "timeout";
	case CONN_R_LIMIT:	return "limit";
	}
	return "unknown";
}

static struct conn *
conn_alloc(struct ev_loop *loop, int fd)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = conn_next_id++;
	c->loop = loop;
	c->fd = fd;
	c->max_out = CONN_DEFAULT_MAX_OUT;
	c->read_budget = CONN_DEFAULT_BUDGET;
	c->last_in = loop->now;
	nlist_init(&c->wnode);
	nlist_init(&c->rnode);
	nlist_init(&c->dnode);
	nlist_init(&c->lnode);
	if (ev_io_add(loop, fd, 0, conn_io, c) != L_OK) {
		free(c);
		return NULL;
	}
	nlist_add_tail(&loop->conns, &c->all);
	return c;
}

/* Registers the epoll interest the conn's state calls for. */
static void
conn_update_mask(struct conn *c)
{
	int mask = 0, pending = c->out_len > c->out_off;

	if (c->dead)
		return;
	if (c->connecting) {
		mask = EV_WRITE;
	} else if (c->handshaking) {
		mask = c->hs_wants_wr ? EV_WRITE : EV_READ;
	} else {
		if (c->lingering ||
		    (!c->paused && !c->closing && !c->tls_pending &&
		    c->cbs != NULL) || c->ssl_wr_wants_rd)
			mask |= EV_READ;
		if ((pending && !c->ssl_wr_wants_rd) || c->ssl_rd_wants_wr)
			mask |= EV_WRITE;
	}
	if (mask != c->mask && ev_io_mod(c->loop, c->fd, mask) == L_OK)
		c->mask = mask;
}

/* Ends the connection now: the fd is closed, and on_close will run from
 * the loop.  Idempotent. */
static void
conn_fail(struct conn *c, int reason)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->reason = reason;
	if (c->idle_timer)
		ev_timer_cancel(c->loop, c->idle_timer);
	if (c->close_timer)
		ev_timer_cancel(c->loop, c->close_timer);
	c->idle_timer = c->close_timer = 0;
	ev_io_del(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	nlist_del(&c->wnode);
	nlist_del(&c->rnode);
	nlist_add_tail(&c->loop->dead, &c->dnode);
	if (reason != CONN_R_LOCAL)
		slog_debug(c->id, "connection %s ended: %s", c->peer,
		    conn_reason_str(reason));
}

static void
conn_free(struct conn *c)
{
	nlist_del(&c->all);
	nlist_del(&c->dnode);
	if (c->listener != NULL)
		listener_conn_gone(c->listener, c);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->tls_ctx != NULL)
		SSL_CTX_free(c->tls_ctx);
	free(c->servername);
	free(c->out);
	free(c);
}

static void
conn_reap(struct ev_loop *loop)
{
	struct conn *c;

	/* on_close may end other conns; they join the list and are reaped
	 * in the same pass. */
	while (!nlist_empty(&loop->dead)) {
		c = NLIST_ENTRY(loop->dead.next, struct conn, dnode);
		nlist_del(&c->dnode);
		if (c->cbs != NULL && c->cbs->on_close != NULL)
			c->cbs->on_close(c, c->arg, c->reason);
		conn_free(c);
	}
}

static void
conn_log_tls_error(struct conn *c, const char *what)
{
	char msg[256];
	unsigned long e;

	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		slog_info(c->id, "%s %s: %s", what, c->peer, msg);
	} else {
		slog_info(c->id, "%s %s", what, c->peer);
	}
	ERR_clear_error();
}

/* Maps a failed SSL call to a conn ending.  Returns L_AGAIN for
 * WANT_READ / WANT_WRITE (setting *want to EV_READ or EV_WRITE). */
static int
conn_ssl_error(struct conn *c, int ret, int *want, const char *what)
{
	int err = SSL_get_error(c->ssl, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		*want = EV_READ;
		return L_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EV_WRITE;
		return L_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		conn_fail(c, CONN_R_EOF);
		return L_ERR_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			/* A socket error, or EOF without close_notify. */
			conn_fail(c, errno == 0 || errno == EPIPE ||
			    errno == ECONNRESET ? CONN_R_EOF : CONN_R_IO);
			return L_ERR_CLOSED;
		}
		/* FALLTHROUGH */
	default:
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			conn_fail(c, CONN_R_EOF);
			return L_ERR_CLOSED;
		}
		conn_log_tls_error(c, what);
		conn_fail(c, CONN_R_TLS);
		return L_ERR_CLOSED;
	}
}

/* ---- output ---- */

static void
conn_queue_compact(struct conn *c)
{
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > CONN_KEEP_CAP) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	} else if (c->out_off > c->out_cap / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
}

static void
conn_consumed(struct conn *c, size_t n)
{
	c->out_off += n;
	if (c->plain_left > 0)
		c->plain_left -= n < c->plain_left ? n : c->plain_left;
}

/* Writes plaintext straight to the socket: `limit` bytes at most. */
static int
conn_write_plain(struct conn *c, size_t limit)
{
	ssize_t n;
	size_t want;

	while (limit > 0) {
		want = limit;
		n = send(c->fd, c->out + c->out_off, want, MSG_NOSIGNAL);
		if (n > 0) {
			conn_consumed(c, (size_t)n);
			limit -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return L_AGAIN;
		conn_fail(c, errno == EPIPE || errno == ECONNRESET ?
		    CONN_R_EOF : CONN_R_IO);
		return L_ERR_CLOSED;
	}
	return L_OK;
}

/* Through TLS.  With SSL_MODE_ENABLE_PARTIAL_WRITE each SSL_write may
 * take part of the buffer; with ACCEPT_MOVING_WRITE_BUFFER a retry after
 * WANT_* may pass the same bytes at a new address (the queue may have
 * been compacted or grown meanwhile), which is what we do. */
static int
conn_write_tls(struct conn *c)
{
	size_t left;
	int n, want, rc;

	c->ssl_wr_wants_rd = 0;
	while ((left = c->out_len - c->out_off) > 0) {
		if (left > INT32_MAX)
			left = INT32_MAX;
		ERR_clear_error();
		n = SSL_write(c->ssl, c->out + c->out_off, (int)left);
		if (n > 0) {
			conn_consumed(c, (size_t)n);
			continue;
		}
		rc = conn_ssl_error(c, n, &want, "TLS write failed");
		if (rc == L_AGAIN && want == EV_READ)
			c->ssl_wr_wants_rd = 1;
		return rc;
	}
	return L_OK;
}

static int
conn_start_tls(struct conn *c)
{
	c->tls_pending = 0;
	if ((c->ssl = SSL_new(c->tls_ctx)) == NULL)
		goto err;
	if (SSL_set_fd(c->ssl, c->fd) != 1)
		goto err;
	if (c->tls_server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (c->servername != NULL) {
			if (SSL_set_tlsext_host_name(c->ssl,
			    c->servername) != 1)
				goto err;
			if ((SSL_CTX_get_verify_mode(c->tls_ctx) &
			    SSL_VERIFY_PEER) &&
			    SSL_set1_host(c->ssl, c->servername) != 1)
				goto err;
		}
	}
	SSL_CTX_free(c->tls_ctx);	/* the SSL holds its own reference */
	c->tls_ctx = NULL;
	c->handshaking = 1;
	c->hs_wants_wr = 1;	/* the client speaks first; harmless for
				   a server, the socket is writable */
	return L_OK;
err:
	conn_log_tls_error(c, "TLS setup failed");
	conn_fail(c, CONN_R_TLS);
	return L_ERR_CLOSED;
}

/* Writes what can be written.  from_loop: called by the loop (not from
 * an owner's call), so on_drain and the handshake may run. */
static int
conn_do_flush(struct conn *c, int from_loop)
{
	int rc = L_OK;

	if (c->dead)
		return L_ERR_CLOSED;
	if (c->connecting || c->lingering)
		return L_AGAIN;
	if (c->ssl == NULL) {
		if (c->tls_pending) {
			rc = conn_write_plain(c, c->plain_left);
			if (rc == L_OK && from_loop) {
				if ((rc = conn_start_tls(c)) == L_OK)
					conn_do_handshake(c);
				rc = c->dead ? L_ERR_CLOSED : L_AGAIN;
			} else if (rc == L_OK) {
				rc = L_AGAIN;
			}
		} else {
			rc = conn_write_plain(c, c->out_len - c->out_off);
		}
	} else if (c->handshaking) {
		rc = L_AGAIN;
	} else {
		rc = conn_write_tls(c);
	}
	if (c->dead)
		return L_ERR_CLOSED;
	conn_queue_compact(c);
	if (rc == L_AGAIN) {
		if (!c->handshaking && !c->tls_pending)
			c->blocked = 1;
	} else if (rc == L_OK) {
		if (c->closing) {
			/* All written: send close_notify, shut our side, and
			 * wait briefly for the peer's FIN so unread input
			 * does not turn our close into a reset that destroys
			 * the last bytes we sent. */
			if (c->ssl != NULL && c->tls_up) {
				ERR_clear_error();
				(void)SSL_shutdown(c->ssl);
				ERR_clear_error();
			}
			(void)shutdown(c->fd, SHUT_WR);
			c->lingering = 1;
		} else if (c->blocked && from_loop) {
			c->blocked = 0;
			if (c->cbs != NULL && c->cbs->on_drain != NULL)
				c->cbs->on_drain(c, c->arg);
		}
	}
	if (!c->dead)
		conn_update_mask(c);
	return c->dead ? L_ERR_CLOSED : rc;
}

int
conn_write(struct conn *c, const void *data, size_t len)
{
	size_t pending, need, ncap;
	char *n;

	if (c->dead || c->closing)
		return L_ERR_CLOSED;
	pending = c->out_len - c->out_off;
	if (len > c->max_out || pending > c->max_out - len)
		return L_ERR_LIMIT;
	if (len == 0)
		return L_OK;
	if (c->out_cap - c->out_len < len) {
		conn_queue_compact(c);
		need = c->out_len + len;
		if (need > c->out_cap) {
			ncap = c->out_cap ? c->out_cap : 4096;
			while (ncap < need)
				ncap *= 2;
			if ((n = realloc(c->out, ncap)) == NULL)
				return L_ERR_NOMEM;
			c->out = n;
			c->out_cap = ncap;
		}
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	if (c->wnode.next == &c->wnode)
		nlist_add_tail(&c->loop->wpending, &c->wnode);
	if (pending + len >= CONN_EAGER_FLUSH && !c->blocked)
		(void)conn_do_flush(c, 0);	/* a failure shows at on_close */
	return L_OK;
}

int
conn_flush(struct conn *c)
{
	return conn_do_flush(c, 0);
}

size_t
conn_pending_out(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* ---- input ---- */

static void
conn_deliver(struct conn *c, const char *data, size_t len)
{
	c->last_in = c->loop->now;
	if (c->cbs != NULL && c->cbs->on_data != NULL)
		c->cbs->on_data(c, c->arg, data, len);
}

static int
conn_can_deliver(const struct conn *c)
{
	return !c->dead && !c->paused && !c->closing && !c->tls_pending &&
	    !c->handshaking && c->cbs != NULL;
}

/* Reads up to the read budget.  The loop's shared buffer is safe to use:
 * reads happen only from loop handlers, never inside a conn_* call, so
 * no on_data can be running when another read starts. */
static void
conn_do_read(struct conn *c)
{
	struct ev_loop *loop = c->loop;
	size_t got = 0;
	ssize_t n;
	int r, want, rc;

	while (conn_can_deliver(c) && got < c->read_budget) {
		if (c->ssl == NULL) {
			n = recv(c->fd, loop->rbuf, sizeof(loop->rbuf), 0);
			if (n > 0) {
				got += (size_t)n;
				conn_deliver(c, loop->rbuf, (size_t)n);
				continue;
			}
			if (n == 0) {
				conn_fail(c, CONN_R_EOF);
				return;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_fail(c, errno == ECONNRESET ? CONN_R_EOF :
			    CONN_R_IO);
			return;
		}
		c->ssl_rd_wants_wr = 0;
		ERR_clear_error();
		r = SSL_read(c->ssl, loop->rbuf, sizeof(loop->rbuf));
		if (r > 0) {
			got += (size_t)r;
			conn_deliver(c, loop->rbuf, (size_t)r);
			continue;
		}
		rc = conn_ssl_error(c, r, &want, "TLS read failed");
		if (rc == L_AGAIN && want == EV_WRITE)
			c->ssl_rd_wants_wr = 1;
		/* OpenSSL allocates its 17 KB read buffer before it learns
		 * the socket is empty, and SSL_MODE_RELEASE_BUFFERS does not
		 * free it on that path: give it back so an idle connection
		 * holds no record buffer (it refuses while data is held). */
		if (rc == L_AGAIN && want == EV_READ && !SSL_has_pending(c->ssl))
			(void)SSL_free_buffers(c->ssl);
		if (rc == L_AGAIN && !c->dead)
			conn_update_mask(c);
		return;
	}
	/* Budget spent or delivery stopped.  Plain sockets are level-
	 * triggered; TLS may hold decrypted bytes epoll cannot see. */
	if (conn_can_deliver(c) && c->ssl != NULL && SSL_has_pending(c->ssl)
	    && c->rnode.next == &c->rnode)
		nlist_add_tail(&loop->rready, &c->rnode);
}

/* Input after our side is shut: discard it until the peer's FIN. */
static void
conn_do_linger(struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->loop->rbuf, sizeof(c->loop->rbuf), 0);
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_fail(c, CONN_R_LOCAL);
		return;
	}
}

static void
conn_do_handshake(struct conn *c)
{
	const unsigned char *alpn;
	unsigned int alen;
	int r, want;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		if (conn_ssl_error(c, r, &want, "TLS handshake failed") ==
		    L_AGAIN) {
			c->hs_wants_wr = want == EV_WRITE;
			conn_update_mask(c);
		}
		return;
	}
	c->handshaking = 0;
	c->hs_wants_wr = 0;
	c->tls_up = 1;
	c->last_in = c->loop->now;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
	if (alpn != NULL && alen > 0 && alen < sizeof(c->alpn)) {
		memcpy(c->alpn, alpn, alen);
		c->alpn[alen] = '\0';
	}
	slog_debug(c->id, "TLS up with %s: %s %s", c->peer,
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	if (c->cbs != NULL && c->cbs->on_tls != NULL)
		c->cbs->on_tls(c, c->arg);
	if (c->dead)
		return;
	/* Application data may have come with the last handshake flight,
	 * and output may have been queued meanwhile. */
	if (c->rnode.next == &c->rnode)
		nlist_add_tail(&c->loop->rready, &c->rnode);
	if (c->out_len > c->out_off && c->wnode.next == &c->wnode)
		nlist_add_tail(&c->loop->wpending, &c->wnode);
	conn_update_mask(c);
}

static void
conn_finish_connect(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		errno = err;
		slog_info(c->id, "connect to %s failed: %s", c->peer,
		    strerror(err));
		conn_fail(c, CONN_R_IO);
		return;
	}
	c->connecting = 0;
	if (c->cbs != NULL && c->cbs->on_connect != NULL)
		c->cbs->on_connect(c, c->arg);
	if (c->dead)
		return;
	if (c->tls_pending && c->plain_left == 0) {
		if (conn_start_tls(c) == L_OK)
			conn_do_handshake(c);
		return;
	}
	conn_do_flush(c, 1);
}

static void
conn_io(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;

	if ((events & EV_HUP) && !(c->mask & EV_READ) && !c->connecting) {
		/* The peer is gone while we were not reading (paused, or no
		 * owner yet); level-triggered HUP would spin, so end now. */
		conn_fail(c, CONN_R_EOF);
		return;
	}
	if (c->connecting) {
		if (events & EV_WRITE)
			conn_finish_connect(c);
		return;
	}
	if (c->handshaking) {
		conn_do_handshake(c);
		return;
	}
	if (c->lingering) {
		conn_do_linger(c);
		return;
	}
	if ((events & EV_WRITE) || ((events & EV_READ) && c->ssl_wr_wants_rd))
		conn_do_flush(c, 1);
	if (c->dead)
		return;
	if ((events & EV_READ) || ((events & EV_WRITE) && c->ssl_rd_wants_wr))
		conn_do_read(c);
	if (!c->dead)
		conn_update_mask(c);
}

/* ---- the loop's per-iteration work ---- */

int
conn_loop_has_work(struct ev_loop *loop)
{
	return !nlist_empty(&loop->rready) || !nlist_empty(&loop->dead) ||
	    !nlist_empty(&loop->wpending);
}

int
conn_loop_tick(struct ev_loop *loop)
{
	struct nlist batch;
	struct conn *c;

	/* Buffered TLS input first: it may queue replies flushed below.
	 * Work batched by snapshot, so callbacks that queue more wait for
	 * the next iteration instead of looping here. */
	nlist_splice(&loop->rready, &batch);
	while (!nlist_empty(&batch)) {
		c = NLIST_ENTRY(batch.next, struct conn, rnode);
		nlist_del(&c->rnode);
		conn_do_read(c);
		if (!c->dead)
			conn_update_mask(c);
	}
	nlist_splice(&loop->wpending, &batch);
	while (!nlist_empty(&batch)) {
		c = NLIST_ENTRY(batch.next, struct conn, wnode);
		nlist_del(&c->wnode);
		conn_do_flush(c, 1);
	}
	conn_reap(loop);
	return conn_loop_has_work(loop);
}

void
conn_loop_shutdown(struct ev_loop *loop)
{
	struct nlist *n;

	/* conn_fail leaves a conn on loop->conns (conn_free unlinks it), so
	 * this walk is safe; the reap then calls every on_close. */
	conn_reap(loop);
	for (n = loop->conns.next; n != &loop->conns; n = n->next)
		conn_fail(NLIST_ENTRY(n, struct conn, all), CONN_R_LOCAL);
	conn_reap(loop);
}

/* ---- timers ---- */

static void
conn_idle_fire(struct ev_loop *loop, void *arg)
{
	struct conn *c = arg;
	uint64_t idle = loop->now - c->last_in;

	c->idle_timer = 0;
	if (c->idle_ms == 0)
		return;
	if (idle >= c->idle_ms) {
		slog_info(c->id, "connection %s idle for %llu ms, closing",
		    c->peer, (unsigned long long)idle);
		conn_fail(c, CONN_R_TIMEOUT);
		return;
	}
	/* Re-armed lazily: reads only stamp last_in, so a busy conn costs
	 * one timer per period, not one heap operation per read. */
	c->idle_timer = ev_timer_add(loop, c->idle_ms - idle,
	    conn_idle_fire, c);
}

int
conn_set_sockbuf(struct conn *c, int sndbuf, int rcvbuf)
{
	if (c->dead)
		return L_ERR_CLOSED;
	if (sndbuf > 0 && setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1)
		return L_ERR_IO;
	if (rcvbuf > 0 && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1)
		return L_ERR_IO;
	return L_OK;
}

void
conn_set_timeout(struct conn *c, uint64_t ms)
{
	if (c->dead)
		return;
	if (c->idle_timer)
		ev_timer_cancel(c->loop, c->idle_timer);
	c->idle_timer = 0;
	c->idle_ms = ms;
	c->last_in = c->loop->now;
	if (ms > 0)
		c->idle_timer = ev_timer_add(c->loop, ms, conn_idle_fire, c);
}

static void
conn_close_fire(struct ev_loop *loop, void *arg)
{
	struct conn *c = arg;

	c->close_timer = 0;
	slog_debug(c->id, "graceful close of %s timed out", c->peer);
	conn_fail(c, CONN_R_LOCAL);
}

/* ---- owner's controls ---- */

void
conn_set_cbs(struct conn *c, const struct conn_cbs *cbs, void *arg)
{
	c->cbs = cbs;
	c->arg = arg;
	if (c->dead)
		return;
	conn_update_mask(c);
	if (c->ssl != NULL && SSL_has_pending(c->ssl) &&
	    c->rnode.next == &c->rnode)
		nlist_add_tail(&c->loop->rready, &c->rnode);
}

void
conn_set_limits(struct conn *c, size_t max_pending_out, size_t read_budget)
{
	c->max_out = max_pending_out ? max_pending_out : CONN_DEFAULT_MAX_OUT;
	c->read_budget = read_budget ? read_budget : CONN_DEFAULT_BUDGET;
}

void
conn_close(struct conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = 1;
	if (c->tls_pending) {
		/* Send the plaintext that preceded STARTTLS, never what was
		 * meant to go through TLS. */
		c->out_len = c->out_off + c->plain_left;
		c->tls_pending = 0;
	}
	nlist_del(&c->rnode);
	c->close_timer = ev_timer_add(c->loop, CONN_CLOSE_MS,
	    conn_close_fire, c);
	if (c->close_timer == 0 || c->connecting || c->handshaking) {
		/* Nothing can be flushed soon, or no timer to bound it. */
		conn_fail(c, CONN_R_LOCAL);
		return;
	}
	/* The flush (and shutdown) happens from the loop. */
	if (c->wnode.next == &c->wnode)
		nlist_add_tail(&c->loop->wpending, &c->wnode);
	conn_update_mask(c);
}

void
conn_abort(struct conn *c)
{
	conn_fail(c, CONN_R_LOCAL);
}

void
conn_pause_read(struct conn *c)
{
	c->paused = 1;
	nlist_del(&c->rnode);
	conn_update_mask(c);
}

void
conn_resume_read(struct conn *c)
{
	if (c->dead || !c->paused)
		return;
	c->paused = 0;
	conn_update_mask(c);
	/* Delivery happens from the loop, never inside this call. */
	if (c->ssl != NULL && c->tls_up && SSL_has_pending(c->ssl) &&
	    c->rnode.next == &c->rnode)
		nlist_add_tail(&c->loop->rready, &c->rnode);
}

static int
conn_tls_request(struct conn *c, SSL_CTX *ctx, int server,
    const char *servername)
{
	if (c->dead || c->closing)
		return L_ERR_CLOSED;
	if (ctx == NULL || c->ssl != NULL || c->tls_pending)
		return L_ERR_INVAL;
	if (servername != NULL &&
	    (c->servername = l_strdup(servername)) == NULL)
		return L_ERR_NOMEM;
	if (SSL_CTX_up_ref(ctx) != 1)
		return L_ERR_CRYPTO;
	c->tls_ctx = ctx;
	c->tls_server = server != 0;
	c->tls_pending = 1;
	c->plain_left = c->out_len - c->out_off;
	nlist_del(&c->rnode);
	if (c->wnode.next == &c->wnode)
		nlist_add_tail(&c->loop->wpending, &c->wnode);
	conn_update_mask(c);
	return L_OK;
}

int
conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	ssize_t n;
	int rc;

	if ((rc = conn_tls_request(c, ctx, 1, NULL)) != L_OK)
		return rc;
	/* RFC 6120 5.4.3.3: plaintext the client sent after <starttls/>
	 * is discarded.  Safe only while <proceed/> is still queued here:
	 * until the client reads it, nothing on the socket can be its
	 * ClientHello. */
	if (c->plain_left > 0) {
		while ((n = recv(c->fd, c->loop->rbuf,
		    sizeof(c->loop->rbuf), 0)) > 0 ||
		    (n == -1 && errno == EINTR))
			;
	}
	return L_OK;
}

int
conn_starttls_client(struct conn *c, SSL_CTX *ctx, const char *servername)
{
	return conn_tls_request(c, ctx, 0, servername);
}

/* ---- creation ---- */

struct conn *
conn_new_accepted(struct ev_loop *loop, int fd, const struct sockaddr *sa)
{
	struct conn *c;
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = conn_alloc(loop, fd)) == NULL)
		return NULL;
	net_format_addr(sa, c->peer);
	/* No callbacks yet: the mask stays empty until conn_set_cbs. */
	return c;
}

struct conn *
conn_connect(struct ev_loop *loop, const char *addr,
    const char *source_addr, const struct conn_cbs *cbs, void *arg)
{
	struct sockaddr_storage ss, src;
	socklen_t len, slen;
	struct conn *c;
	int fd, one = 1;

	if (cbs == NULL || cbs->on_close == NULL)
		return NULL;
	if (net_parse_addr(addr, 0, &ss, &len) != L_OK) {
		log_warnx("bad address \"%s\"", addr);
		return NULL;
	}
	if (source_addr != NULL &&
	    net_parse_addr(source_addr, 1, &src, &slen) != L_OK) {
		log_warnx("bad source address \"%s\"", source_addr);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("socket");
		return NULL;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (source_addr != NULL) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, slen) == -1) {
			log_warn("bind %s", source_addr);
			goto err;
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		log_warn("connect %s", addr);
		goto err;
	}
	if ((c = conn_alloc(loop, fd)) == NULL)
		goto err;
	net_format_addr((struct sockaddr *)&ss, c->peer);
	c->is_client = 1;
	/* Even an immediate success completes from the loop, so on_connect
	 * never runs inside this call. */
	c->connecting = 1;
	c->cbs = cbs;
	c->arg = arg;
	conn_update_mask(c);
	return c;
err:
	close(fd);
	return NULL;
}

/* ---- getters ---- */

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

const char *
conn_peer_addr(const struct conn *c)
{
	return c->peer;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->tls_up;
}

bool
conn_is_client(const struct conn *c)
{
	return c->is_client;
}

const char *
conn_tls_version(const struct conn *c)
{
	return c->tls_up ? SSL_get_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return c->tls_up ? SSL_get_cipher_name(c->ssl) : NULL;
}

const char *
conn_tls_alpn(const struct conn *c)
{
	return c->tls_up && c->alpn[0] != '\0' ? c->alpn : NULL;
}

X509 *
conn_peer_cert(const struct conn *c)
{
	return c->tls_up ? SSL_get0_peer_certificate(c->ssl) : NULL;
}

bool
conn_peer_cert_verified(const struct conn *c)
{
	return c->tls_up && SSL_get0_peer_certificate(c->ssl) != NULL &&
	    SSL_get_verify_result(c->ssl) == X509_V_OK;
}

SSL *
conn_ssl(const struct conn *c)
{
	return c->ssl;
}

int
conn_tls_channel_binding(const struct conn *c, const char **type,
    unsigned char *out, size_t max, size_t *len)
{
	static const char label[] = "EXPORTER-Channel-Binding";
	int ver;
	size_t n;

	*type = NULL;
	*len = 0;
	if (!c->tls_up || c->ssl == NULL)
		return L_ERR_INVAL;
	ver = SSL_version(c->ssl);
	if (ver == TLS1_3_VERSION) {
		if (max < 32)
			return L_ERR_LIMIT;
		if (SSL_export_keying_material(c->ssl, out, 32, label,
		    sizeof label - 1, NULL, 0, 0) != 1) {
			ERR_clear_error();
			return L_ERR_CRYPTO;
		}
		*type = "tls-exporter";
		*len = 32;
		return L_OK;
	}
	if (ver != TLS1_2_VERSION)
		return L_ERR_INVAL;
	/* tls-unique is the first Finished of the handshake: the client's
	 * on a full handshake, the server's on an abbreviated one. */
	if ((SSL_session_reused(c->ssl) != 0) == (c->is_client != 0))
		n = SSL_get_peer_finished(c->ssl, out, max);
	else
		n = SSL_get_finished(c->ssl, out, max);
	if (n == 0)
		return L_ERR_CRYPTO;
	if (n > max)
		return L_ERR_LIMIT;
	*type = "tls-unique";
	*len = n;
	return L_OK;
}

struct ev_loop *
conn_loop(const struct conn *c)
{
	return c->loop;
}
