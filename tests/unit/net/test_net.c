/*
 * Unit tests of src/net: timers and their cancellation, a wakeup from
 * another thread, echo over loopback in plaintext and TLS (1 MiB, so
 * writes are partial), the output budget, STARTTLS in the middle of a
 * connection, idle timeouts and the listener's connection cap and rate
 * limit.  Client and server share one loop; nothing leaves 127.0.0.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "net/net.h"

/* Runs the loop until *flag is set or ms elapse; returns the flag. */
static int
run_until(struct ev_loop *loop, const int *flag, uint64_t ms)
{
	uint64_t end = time_mono_ms() + ms;

	while (!*flag && time_mono_ms() < end)
		assert_int_equal(ev_run_once(loop, 20), L_OK);
	return *flag;
}

/* ---- timers ---- */

struct tstate {
	int order[8];
	int n;
	int done;
};

struct tcase {
	struct tstate *st;
	int tag;
};

static void
t_fire(struct ev_loop *loop, void *arg)
{
	struct tcase *tc = arg;

	tc->st->order[tc->st->n++] = tc->tag;
	if (tc->tag == 99)
		tc->st->done = 1;
}

static void
test_timers(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct tstate st = { .n = 0 };
	struct tcase c30 = { &st, 30 }, c10a = { &st, 10 }, c10b = { &st, 11 },
	    c20 = { &st, 20 }, cx = { &st, 77 }, cend = { &st, 99 };
	uint64_t h77, h20;

	assert_non_null(loop);
	assert_true(ev_timer_add(loop, 30, t_fire, &c30) != 0);
	assert_true(ev_timer_add(loop, 10, t_fire, &c10a) != 0);
	h20 = ev_timer_add(loop, 20, t_fire, &c20);
	assert_true(ev_timer_add(loop, 10, t_fire, &c10b) != 0);
	h77 = ev_timer_add(loop, 15, t_fire, &cx);
	assert_true(ev_timer_add(loop, 60, t_fire, &cend) != 0);
	assert_int_equal(ev_timer_cancel(loop, h77), L_OK);
	assert_int_equal(ev_timer_cancel(loop, h77), L_ERR_NOTFOUND);
	assert_int_equal(ev_timer_cancel(loop, 0), L_ERR_NOTFOUND);

	assert_true(run_until(loop, &st.done, 2000));
	assert_int_equal(st.n, 5);
	assert_int_equal(st.order[0], 10);
	assert_int_equal(st.order[1], 11);	/* same deadline: FIFO */
	assert_int_equal(st.order[2], 20);
	assert_int_equal(st.order[3], 30);
	assert_int_equal(st.order[4], 99);
	/* A fired timer's handle is stale, not reused. */
	assert_int_equal(ev_timer_cancel(loop, h20), L_ERR_NOTFOUND);
	ev_loop_free(loop);
}

/* Many timers in random order come out sorted (exercises the heap). */
static uint64_t heap_last;
static int heap_bad, heap_count;

static void
t_heap_fire(struct ev_loop *loop, void *arg)
{
	uint64_t when = (uint64_t)(uintptr_t)arg;

	if (when < heap_last)
		heap_bad++;
	heap_last = when;
	heap_count++;
}

static void
test_timer_heap(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	uint64_t handles[500];
	int i, cancelled = 0, zero = 0;

	assert_non_null(loop);
	srand(42);
	for (i = 0; i < 500; i++) {
		uint64_t ms = (uint64_t)(rand() % 100);
		handles[i] = ev_timer_add(loop, ms, t_heap_fire,
		    (void *)(uintptr_t)ms);
		assert_true(handles[i] != 0);
	}
	for (i = 0; i < 500; i += 3) {
		assert_int_equal(ev_timer_cancel(loop, handles[i]), L_OK);
		cancelled++;
	}
	heap_last = 0;
	heap_bad = heap_count = 0;
	(void)run_until(loop, &zero, 250);
	assert_int_equal(heap_bad, 0);
	assert_int_equal(heap_count, 500 - cancelled);
	ev_loop_free(loop);
}

/* ---- async wakeup ---- */

struct astate {
	struct ev_async *a;
	atomic_int posted;
	int seen;
	int done;
	int calls;
};

static void
a_cb(struct ev_loop *loop, void *arg)
{
	struct astate *s = arg;

	s->calls++;
	s->seen = atomic_load(&s->posted);
	if (s->seen == 1000)
		s->done = 1;
}

static void *
a_thread(void *arg)
{
	struct astate *s = arg;
	int i;

	for (i = 0; i < 1000; i++) {
		atomic_fetch_add(&s->posted, 1);
		ev_async_signal(s->a);
		if (i % 100 == 0)
			usleep(1000);
	}
	return NULL;
}

static void
test_async(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct astate s;
	pthread_t th;

	memset(&s, 0, sizeof(s));
	assert_non_null(loop);
	assert_non_null(s.a = ev_async_new(loop, a_cb, &s));
	assert_int_equal(pthread_create(&th, NULL, a_thread, &s), 0);
	assert_true(run_until(loop, &s.done, 3000));
	pthread_join(th, NULL);
	assert_int_equal(s.seen, 1000);
	assert_true(s.calls >= 1 && s.calls <= 1000);
	ev_async_free(s.a);
	ev_loop_free(loop);
}

/* ---- connections: shared fixtures ---- */

#define BIG (1024 * 1024)

struct side {
	struct conn *c;
	char *in;
	size_t in_len;
	int tls;
	int closed;
	int reason;
	int connected;
	int drained;
	char version[32];
	char alpn[32];
};

struct pair {
	struct ev_loop *loop;
	struct side srv, cli;
	SSL_CTX *sctx, *cctx;
	int echo;		/* server echoes input */
	int starttls;		/* server answers "STARTTLS\n" */
	int accepted;
	int pause_srv;		/* server starts with reads paused */
	unsigned accepts;
};

static void
side_add(struct side *s, const char *data, size_t len)
{
	char *n = realloc(s->in, s->in_len + len + 1);

	assert_non_null(n);
	memcpy(n + s->in_len, data, len);
	s->in = n;
	s->in_len += len;
	s->in[s->in_len] = '\0';
}

static void
srv_data(struct conn *c, void *arg, const char *data, size_t len)
{
	struct pair *p = arg;

	side_add(&p->srv, data, len);
	if (p->starttls && !conn_is_tls(c) &&
	    strstr(p->srv.in, "STARTTLS\n") != NULL) {
		/* The rest of this chunk is plaintext after the command:
		 * an XMPP parser drops it, and so do we. */
		p->srv.in_len = 0;
		assert_int_equal(conn_write(c, "PROCEED\n", 8), L_OK);
		assert_int_equal(conn_starttls(c, p->sctx), L_OK);
		return;
	}
	if (p->echo)
		assert_int_equal(conn_write(c, data, len), L_OK);
}

static void
srv_close(struct conn *c, void *arg, int reason)
{
	struct pair *p = arg;

	if (p->srv.c == c) {
		p->srv.closed = 1;
		p->srv.reason = reason;
		p->srv.c = NULL;
	}
}

static void
side_tls(struct side *s, struct conn *c)
{
	s->tls = 1;
	snprintf(s->version, sizeof(s->version), "%s",
	    conn_tls_version(c) ? conn_tls_version(c) : "");
	snprintf(s->alpn, sizeof(s->alpn), "%s",
	    conn_tls_alpn(c) ? conn_tls_alpn(c) : "");
}

static void
srv_tls(struct conn *c, void *arg)
{
	side_tls(&((struct pair *)arg)->srv, c);
}

static const struct conn_cbs srv_cbs = {
	.on_data = srv_data,
	.on_close = srv_close,
	.on_tls = srv_tls,
};

static void
on_accept(struct conn *c, void *arg)
{
	struct pair *p = arg;

	p->accepts++;
	p->accepted = 1;
	p->srv.c = c;
	conn_set_cbs(c, &srv_cbs, p);
	conn_set_limits(c, 4 * BIG, 0);
	if (p->pause_srv)
		conn_pause_read(c);
}

static void
cli_data(struct conn *c, void *arg, const char *data, size_t len)
{
	struct pair *p = arg;

	side_add(&p->cli, data, len);
	if (p->starttls && !conn_is_tls(c) &&
	    strstr(p->cli.in, "PROCEED\n") != NULL) {
		p->cli.in_len = 0;
		assert_int_equal(conn_starttls_client(c, p->cctx,
		    "example.test"), L_OK);
	}
}

static void
cli_close(struct conn *c, void *arg, int reason)
{
	struct pair *p = arg;

	p->cli.closed = 1;
	p->cli.reason = reason;
	p->cli.c = NULL;
}

static void
cli_tls(struct conn *c, void *arg)
{
	side_tls(&((struct pair *)arg)->cli, c);
}

static void
cli_connect(struct conn *c, void *arg)
{
	((struct pair *)arg)->cli.connected = 1;
}

static void
cli_drain(struct conn *c, void *arg)
{
	((struct pair *)arg)->cli.drained++;
}

static const struct conn_cbs cli_cbs = {
	.on_data = cli_data,
	.on_close = cli_close,
	.on_tls = cli_tls,
	.on_connect = cli_connect,
	.on_drain = cli_drain,
};

static char certdir[64];

static int
setup_certs(void **state)
{
	char err[256];

	snprintf(certdir, sizeof(certdir), "/tmp/liaison-net-XXXXXX");
	if (mkdtemp(certdir) == NULL)
		return -1;
	if (tls_make_dev_certs(certdir, "example.test", err,
	    sizeof(err)) != L_OK) {
		fprintf(stderr, "dev certs: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown_certs(void **state)
{
	const char *names[] = { "ca.pem", "ca.key", "server.pem",
	    "server.key" };
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", certdir, names[i]);
		unlink(path);
	}
	rmdir(certdir);
	return 0;
}

static SSL_CTX *
make_server_ctx(void)
{
	char cert[128], key[128], err[256];
	SSL_CTX *ctx;

	snprintf(cert, sizeof(cert), "%s/server.pem", certdir);
	snprintf(key, sizeof(key), "%s/server.key", certdir);
	ctx = tls_server_ctx_new(cert, key, NULL, err, sizeof(err));
	if (ctx == NULL)
		fprintf(stderr, "server ctx: %s\n", err);
	return ctx;
}

static SSL_CTX *
make_client_ctx(void)
{
	char ca[128];

	snprintf(ca, sizeof(ca), "%s/ca.pem", certdir);
	return tls_client_ctx_new(ca, true);
}

/* Trusts only the leaf, which is not a trust anchor: verification of
 * the server's chain must fail. */
static SSL_CTX *
make_untrusting_ctx(void)
{
	char leaf[128];

	snprintf(leaf, sizeof(leaf), "%s/server.pem", certdir);
	return tls_client_ctx_new(leaf, true);
}

static void
pair_cleanup(struct pair *p)
{
	ev_loop_free(p->loop);	/* calls the remaining on_close */
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	free(p->srv.in);
	free(p->cli.in);
}

/* Sends 1 MiB through the echo server and checks every byte. */
static void
echo_big(bool direct_tls)
{
	struct pair p;
	struct listener *l;
	char addr[64], *big;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.echo = 1;
	p.pause_srv = 1;
	assert_non_null(p.loop = ev_loop_new());
	if (direct_tls) {
		assert_non_null(p.sctx = make_server_ctx());
		assert_non_null(p.cctx = make_client_ctx());
		assert_int_equal(tls_client_ctx_set_alpn_xmpp(p.cctx), L_OK);
	}
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", direct_tls,
	    p.sctx, on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	conn_set_limits(p.cli.c, 4 * BIG, 0);
	/* A fixed small send buffer: the kernel cannot swallow 1 MiB. */
	assert_int_equal(conn_set_sockbuf(p.cli.c, 16384, 0), L_OK);
	if (direct_tls)
		assert_int_equal(conn_starttls_client(p.cli.c, p.cctx,
		    "example.test"), L_OK);

	assert_non_null(big = malloc(BIG));
	for (i = 0; i < BIG; i++)
		big[i] = (char)('a' + (i * 7 + i / 4093) % 26);
	assert_int_equal(conn_write(p.cli.c, big, BIG), L_OK);
	assert_int_equal(conn_pending_out(p.cli.c), BIG);

	/* The server does not read yet: the kernel takes only part of the
	 * megabyte and the rest waits in our queue. */
	assert_true(run_until(p.loop, &p.accepted, 2000));
	if (direct_tls)
		assert_true(run_until(p.loop, &p.cli.tls, 2000));
	{
		int zero = 0;

		(void)run_until(p.loop, &zero, 100);
	}
	assert_true(conn_pending_out(p.cli.c) > 0);
	assert_true(conn_pending_out(p.cli.c) < BIG);
	assert_int_equal(p.cli.drained, 0);
	conn_resume_read(p.srv.c);

	{
		int got = 0;
		uint64_t end = time_mono_ms() + 5000;

		while (!got && time_mono_ms() < end) {
			assert_int_equal(ev_run_once(p.loop, 20), L_OK);
			got = p.cli.in_len >= BIG || p.cli.closed;
		}
	}
	assert_true(p.cli.connected);
	assert_false(p.cli.closed);
	assert_int_equal(p.cli.in_len, BIG);
	assert_memory_equal(p.cli.in, big, BIG);
	/* 1 MiB cannot go out in one write: the queue drained in parts. */
	assert_true(p.cli.drained >= 1);
	assert_int_equal(conn_pending_out(p.cli.c), 0);
	if (direct_tls) {
		assert_true(p.cli.tls && p.srv.tls);
		assert_string_equal(p.cli.version, "TLSv1.3");
		assert_string_equal(p.srv.alpn, "xmpp-client");
		assert_string_equal(p.cli.alpn, "xmpp-client");
		assert_true(conn_is_tls(p.cli.c));
	} else {
		assert_false(conn_is_tls(p.cli.c));
		assert_null(conn_tls_version(p.cli.c));
	}

	/* Graceful close from the server: the client sees the last bytes
	 * and then the end of the stream. */
	p.echo = 0;
	p.cli.in_len = 0;
	assert_int_equal(conn_write(p.srv.c, "bye", 3), L_OK);
	conn_close(p.srv.c);
	assert_int_equal(conn_write(p.srv.c, "x", 1), L_ERR_CLOSED);
	assert_true(run_until(p.loop, &p.cli.closed, 3000));
	assert_int_equal(p.cli.in_len, 3);
	assert_memory_equal(p.cli.in, "bye", 3);
	assert_int_equal(p.cli.reason, CONN_R_EOF);
	assert_true(run_until(p.loop, &p.srv.closed, 3000));
	assert_int_equal(p.srv.reason, CONN_R_LOCAL);
	assert_int_equal(listener_conn_count(l), 0);

	free(big);
	pair_cleanup(&p);
}

static void
test_echo_plain(void **state)
{
	echo_big(false);
}

static void
test_echo_tls(void **state)
{
	echo_big(true);
}

/* A client that does not trust the CA fails the handshake cleanly. */
static void
test_tls_untrusted(void **state)
{
	struct pair p;
	struct listener *l;
	char addr[64];

	memset(&p, 0, sizeof(p));
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(p.sctx = make_server_ctx());
	assert_non_null(p.cctx = make_untrusting_ctx());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", true, p.sctx,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	assert_int_equal(conn_starttls_client(p.cli.c, p.cctx,
	    "example.test"), L_OK);
	assert_true(run_until(p.loop, &p.cli.closed, 3000));
	assert_int_equal(p.cli.reason, CONN_R_TLS);
	assert_false(p.cli.tls);
	pair_cleanup(&p);
}

/* The budget refuses a write that would exceed it and queues nothing. */
static void
test_budget(void **state)
{
	struct pair p;
	struct listener *l;
	char addr[64], chunk[600];

	memset(&p, 0, sizeof(p));
	memset(chunk, 'x', sizeof(chunk));
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	conn_set_limits(p.cli.c, 1000, 0);
	/* Still connecting: nothing can be written, all stays queued. */
	assert_int_equal(conn_write(p.cli.c, chunk, 600), L_OK);
	assert_int_equal(conn_write(p.cli.c, chunk, 600), L_ERR_LIMIT);
	assert_int_equal(conn_pending_out(p.cli.c), 600);
	assert_int_equal(conn_write(p.cli.c, chunk, 400), L_OK);
	assert_int_equal(conn_write(p.cli.c, chunk, 1), L_ERR_LIMIT);
	assert_int_equal(conn_pending_out(p.cli.c), 1000);

	/* A server that stops reading fills the client's queue until the
	 * budget refuses more. */
	assert_true(run_until(p.loop, &p.accepted, 2000));
	conn_pause_read(p.srv.c);
	{
		char *blk = calloc(1, 65536);
		int rc = L_OK, i;

		assert_non_null(blk);
		conn_set_limits(p.cli.c, 256 * 1024, 0);
		for (i = 0; i < 2000 && rc == L_OK; i++) {
			rc = conn_write(p.cli.c, blk, 65536);
			ev_run_once(p.loop, 1);
		}
		assert_int_equal(rc, L_ERR_LIMIT);
		assert_true(conn_pending_out(p.cli.c) <= 256 * 1024);
		free(blk);
	}
	/* Resuming lets the bytes through. */
	conn_resume_read(p.srv.c);
	{
		uint64_t end = time_mono_ms() + 3000;

		while (conn_pending_out(p.cli.c) > 0 && time_mono_ms() < end)
			ev_run_once(p.loop, 10);
	}
	assert_int_equal(conn_pending_out(p.cli.c), 0);
	assert_false(p.cli.closed);
	pair_cleanup(&p);
}

/* STARTTLS in the middle of a plaintext conversation. */
static void
test_starttls(void **state)
{
	struct pair p;
	struct listener *l;
	char addr[64];

	memset(&p, 0, sizeof(p));
	p.starttls = 1;
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(p.sctx = make_server_ctx());
	assert_non_null(p.cctx = make_client_ctx());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	assert_int_equal(conn_write(p.cli.c, "hello\n", 6), L_OK);
	assert_true(run_until(p.loop, &p.accepted, 2000));
	{
		uint64_t end = time_mono_ms() + 2000;

		while (p.srv.in_len < 6 && time_mono_ms() < end)
			ev_run_once(p.loop, 10);
	}
	assert_string_equal(p.srv.in, "hello\n");
	assert_false(conn_is_tls(p.srv.c));

	assert_int_equal(conn_write(p.cli.c, "STARTTLS\n", 9), L_OK);
	assert_true(run_until(p.loop, &p.cli.tls, 3000));
	assert_true(run_until(p.loop, &p.srv.tls, 3000));
	assert_true(conn_is_tls(p.srv.c));
	assert_null(conn_peer_cert(p.srv.c));	/* no client cert */
	assert_non_null(conn_peer_cert(p.cli.c));
	assert_non_null(conn_tls_cipher(p.cli.c));

	p.echo = 1;
	p.srv.in_len = 0;
	p.cli.in_len = 0;
	assert_int_equal(conn_write(p.cli.c, "secret\n", 7), L_OK);
	{
		uint64_t end = time_mono_ms() + 2000;

		while (p.cli.in_len < 7 && time_mono_ms() < end)
			ev_run_once(p.loop, 10);
	}
	assert_int_equal(p.cli.in_len, 7);
	assert_memory_equal(p.cli.in, "secret\n", 7);
	/* STARTTLS twice is refused. */
	assert_int_equal(conn_starttls(p.srv.c, p.sctx), L_ERR_INVAL);
	pair_cleanup(&p);
}

/* A silent peer is disconnected by the idle timeout. */
static void
test_timeout(void **state)
{
	struct pair p;
	struct listener *l;
	char addr[64];
	uint64_t t0;

	memset(&p, 0, sizeof(p));
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	assert_true(run_until(p.loop, &p.accepted, 2000));
	t0 = time_mono_ms();
	conn_set_timeout(p.srv.c, 150);
	assert_true(run_until(p.loop, &p.srv.closed, 2000));
	assert_int_equal(p.srv.reason, CONN_R_TIMEOUT);
	assert_true(time_mono_ms() - t0 >= 140);
	assert_true(run_until(p.loop, &p.cli.closed, 2000));
	assert_int_equal(p.cli.reason, CONN_R_EOF);
	pair_cleanup(&p);
}

/* The listener holds at most max_conns; over the cap a connection is
 * closed at once, and a slot freed is usable again. */
struct capstate {
	int closed[8];
	int reasons[8];
	int nclosed;
};

static struct capstate capst;

static void
cap_close(struct conn *c, void *arg)
{
	(void)c;
}

static void
capcli_close(struct conn *c, void *arg, int reason)
{
	int i = (int)(intptr_t)arg;

	capst.closed[i] = 1;
	capst.reasons[i] = reason;
	capst.nclosed++;
}

static const struct conn_cbs capcli_cbs = { .on_close = capcli_close };

static void
test_listener_cap(void **state)
{
	struct pair p;
	struct listener *l;
	struct conn *cc[4];
	char addr[64];
	int i, zero = 0;

	memset(&p, 0, sizeof(p));
	memset(&capst, 0, sizeof(capst));
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	listener_set_limits(l, 2, 0, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	for (i = 0; i < 3; i++) {
		assert_non_null(cc[i] = conn_connect(p.loop, addr, NULL,
		    &capcli_cbs, (void *)(intptr_t)i));
		/* In order: let each be accepted before the next. */
		(void)run_until(p.loop, &zero, 100);
	}
	(void)run_until(p.loop, &capst.closed[2], 2000);
	assert_int_equal(p.accepts, 2);
	assert_int_equal(listener_conn_count(l), 2);
	assert_false(capst.closed[0]);
	assert_false(capst.closed[1]);
	assert_true(capst.closed[2]);
	assert_int_equal(capst.reasons[2], CONN_R_EOF);

	/* Free a slot: the server side of the first goes away. */
	conn_abort(cc[0]);
	{
		uint64_t end = time_mono_ms() + 2000;

		while (listener_conn_count(l) != 1 && time_mono_ms() < end)
			ev_run_once(p.loop, 10);
	}
	assert_int_equal(listener_conn_count(l), 1);
	assert_non_null(cc[3] = conn_connect(p.loop, addr, NULL, &capcli_cbs,
	    (void *)(intptr_t)3));
	(void)run_until(p.loop, &zero, 200);
	assert_int_equal(p.accepts, 3);
	assert_false(capst.closed[3]);
	pair_cleanup(&p);
	(void)cap_close;
}

/* Per-source rate limit: a burst of 3, then refusals. */
static void
test_listener_rate(void **state)
{
	struct pair p;
	struct listener *l;
	char addr[64];
	int i, zero = 0;

	memset(&p, 0, sizeof(p));
	memset(&capst, 0, sizeof(capst));
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	listener_set_limits(l, 0, 1, 3);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	for (i = 0; i < 6; i++)
		assert_non_null(conn_connect(p.loop, addr, "127.0.0.1",
		    &capcli_cbs, (void *)(intptr_t)i));
	(void)run_until(p.loop, &zero, 300);
	assert_int_equal(p.accepts, 3);
	assert_int_equal(capst.nclosed, 3);
	pair_cleanup(&p);
}

/* Development certificates: created once, keys private, names right. */
static void
test_dev_certs(void **state)
{
	char path[128], err[256];
	struct stat st1, st2;
	X509 *x;
	FILE *f;
	GENERAL_NAMES *san;
	int i, found = 0, wild = 0;

	snprintf(path, sizeof(path), "%s/server.key", certdir);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/ca.key", certdir);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0600);

	snprintf(path, sizeof(path), "%s/server.pem", certdir);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(tls_make_dev_certs(certdir, "example.test", err,
	    sizeof(err)), L_OK);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);	/* not remade */

	assert_non_null(f = fopen(path, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL));
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		const char *s;

		if (gn->type != GEN_DNS)
			continue;
		s = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
		found |= strcmp(s, "example.test") == 0;
		wild |= strcmp(s, "*.example.test") == 0;
	}
	assert_true(found && wild);
	assert_int_equal(X509_check_host(x, "example.test", 0, 0, NULL), 1);
	GENERAL_NAMES_free(san);
	X509_free(x);

	assert_int_equal(tls_make_dev_certs("/nonexistent-dir-xyz", "a.b",
	    err, sizeof(err)), L_ERR_IO);
	assert_true(err[0] != '\0');
	assert_int_equal(tls_make_dev_certs(certdir, "bad,name", err,
	    sizeof(err)) == L_OK, 1);	/* exists: not regenerated */
}

static void
test_addr_errors(void **state)
{
	struct ev_loop *loop = ev_loop_new();

	assert_non_null(loop);
	assert_null(listener_new(loop, "127.0.0.1", false, NULL,
	    (listener_accept_fn)cap_close, NULL));
	assert_null(listener_new(loop, "nohost:5", false, NULL,
	    (listener_accept_fn)cap_close, NULL));
	assert_null(conn_connect(loop, "1.2.3.4:99999", NULL, &capcli_cbs,
	    NULL));
	ev_loop_free(loop);
}

/* Output queued in the before-sleep hook reaches the peer in the same
 * iteration, before the loop sleeps. */
struct hookstate {
	struct pair *p;
	int calls;
	int wrote;
};

static void
hook(struct ev_loop *loop, void *arg)
{
	struct hookstate *h = arg;

	h->calls++;
	if (h->p->srv.c != NULL && !h->wrote) {
		assert_int_equal(conn_write(h->p->srv.c, "queued", 6), L_OK);
		h->wrote = 1;
	}
}

static void
test_before_sleep(void **state)
{
	struct pair p;
	struct hookstate h = { &p, 0, 0 };
	struct listener *l;
	char addr[64];
	uint64_t end;

	memset(&p, 0, sizeof(p));
	assert_non_null(p.loop = ev_loop_new());
	ev_set_before_sleep(p.loop, hook, &h);
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", false, NULL,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	assert_true(run_until(p.loop, &p.accepted, 2000));
	end = time_mono_ms() + 2000;
	while (p.cli.in_len < 6 && time_mono_ms() < end)
		ev_run_once(p.loop, 10);
	assert_true(h.wrote);
	assert_string_equal(p.cli.in, "queued");
	assert_true(h.calls >= 2);
	pair_cleanup(&p);
}

/* A client certificate signed by the server's CA is seen and verified
 * (what SASL EXTERNAL relies on); without one, none is reported. */
static void
test_client_cert(void **state)
{
	struct pair p;
	struct listener *l;
	char cert[128], key[128], ca[128], addr[64], err[256];

	memset(&p, 0, sizeof(p));
	snprintf(cert, sizeof(cert), "%s/server.pem", certdir);
	snprintf(key, sizeof(key), "%s/server.key", certdir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", certdir);
	assert_non_null(p.loop = ev_loop_new());
	assert_non_null(p.sctx = tls_server_ctx_new(cert, key, ca, err,
	    sizeof(err)));
	assert_non_null(p.cctx = make_client_ctx());
	/* The dev server certificate allows clientAuth: reuse it. */
	assert_int_equal(SSL_CTX_use_certificate_file(p.cctx, cert,
	    SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(p.cctx, key,
	    SSL_FILETYPE_PEM), 1);
	assert_non_null(l = listener_new(p.loop, "127.0.0.1:0", true, p.sctx,
	    on_accept, &p));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", listener_port(l));
	assert_non_null(p.cli.c = conn_connect(p.loop, addr, NULL, &cli_cbs,
	    &p));
	assert_int_equal(conn_starttls_client(p.cli.c, p.cctx,
	    "example.test"), L_OK);
	assert_int_equal(conn_write(p.cli.c, "x", 1), L_OK);
	assert_true(run_until(p.loop, &p.srv.tls, 3000));
	assert_non_null(conn_peer_cert(p.srv.c));
	assert_true(conn_peer_cert_verified(p.srv.c));
	assert_non_null(conn_ssl(p.srv.c));

	/* A bad key file is reported with a message. */
	SSL_CTX *bad = tls_server_ctx_new(cert, ca, NULL, err, sizeof(err));
	assert_null(bad);
	assert_true(strstr(err, "key") != NULL);
	pair_cleanup(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_heap),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_echo_plain),
		cmocka_unit_test(test_echo_tls),
		cmocka_unit_test(test_tls_untrusted),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_listener_cap),
		cmocka_unit_test(test_listener_rate),
		cmocka_unit_test(test_dev_certs),
		cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_before_sleep),
		cmocka_unit_test(test_client_cert),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
