/*
 * The bench's event loop and its client connections: a small epoll loop
 * (level-triggered, writes batched until before sleep, as Redis does), TCP
 * from several loopback source addresses, STARTTLS with OpenSSL (no
 * verification: this is a load generator), the XMPP login sequence, and a
 * stanza splitter that hands each complete top-level element to the
 * scenario.  The splitter relies on the server's output being well-formed
 * XML; it only tracks tags, quotes, comments and CDATA.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static int epfd = -1;
static SSL_CTX *ctx;
static struct conn **dirty;	/* connections with output to flush */
static size_t ndirty, capdirty;
static struct conn **grave;	/* closed, freed after the current batch */
static size_t ngrave, capgrave;
static long n_opened, n_failed;
static unsigned long src_counter;
static long relay_base;
uint64_t tick_next;

uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "liaison-bench: out of memory\n");
		exit(2);
	}
	return q;
}

/* Byte queues. */

static void
bq_reserve(struct bq *q, size_t n)
{
	if (q->off > 0 && (q->off == q->len || q->len + n > q->cap)) {
		memmove(q->data, q->data + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->len + n + 1)
			cap *= 2;
		q->data = xrealloc(q->data, cap);
		q->cap = cap;
	}
}

void
bq_append(struct bq *q, const void *p, size_t n)
{
	bq_reserve(q, n);
	memcpy(q->data + q->len, p, n);
	q->len += n;
}

void
bq_appendf(struct bq *q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	bq_reserve(q, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(q->data + q->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	q->len += (size_t)n;
}

void
bq_consume(struct bq *q, size_t n)
{
	q->off += n;
	if (q->off >= q->len)
		q->off = q->len = 0;
}

void
bq_free(struct bq *q)
{
	free(q->data);
	memset(q, 0, sizeof *q);
}

/* Loop. */

void
loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("epoll_create1");
		exit(2);
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		fprintf(stderr, "liaison-bench: SSL_CTX_new failed\n");
		exit(2);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Each bench connection is a new session, as a real client's is. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

static void
ep_mod(struct conn *c, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0),
	    .data.ptr = c };
	if (c->out_armed != want_out) {
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->out_armed = want_out;
	}
}

static void conn_fail(struct conn *c, const char *why);
static void conn_on_data(struct conn *c);
static void tls_step(struct conn *c);

static void
conn_flush(struct conn *c)
{
	if (c->st == CS_DEAD)
		return;
	while (bq_pending(&c->out) > 0) {
		size_t n = bq_pending(&c->out);
		const char *p = c->out.data + c->out.off;
		if (c->ssl) {
			int w = SSL_write(c->ssl, p, n > 1 << 20 ? 1 << 20 : (int)n);
			if (w <= 0) {
				int e = SSL_get_error(c->ssl, w);
				if (e == SSL_ERROR_WANT_WRITE) {
					ep_mod(c, true);
					return;
				}
				if (e == SSL_ERROR_WANT_READ) {
					c->tls_write_wants_read = true;
					return;
				}
				conn_fail(c, "tls write");
				return;
			}
			bq_consume(&c->out, (size_t)w);
		} else {
			ssize_t w = write(c->fd, p, n);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					ep_mod(c, true);
					return;
				}
				conn_fail(c, "write");
				return;
			}
			bq_consume(&c->out, (size_t)w);
		}
	}
	ep_mod(c, false);
}

static void
mark_dirty(struct conn *c)
{
	if (c->out_armed)
		return;	/* EPOLLOUT will flush it */
	for (size_t i = ndirty; i > 0 && i + 8 > ndirty; i--)
		if (dirty[i - 1] == c)
			return;
	if (ndirty == capdirty) {
		capdirty = capdirty ? capdirty * 2 : 1024;
		dirty = xrealloc(dirty, capdirty * sizeof *dirty);
	}
	dirty[ndirty++] = c;
}

static void
flush_dirty(void)
{
	/* A flush can close a connection, but never frees it here. */
	for (size_t i = 0; i < ndirty; i++)
		if (dirty[i]->st != CS_DEAD && dirty[i]->st != CS_TLS_HS &&
		    dirty[i]->st != CS_CONNECTING &&
		    dirty[i]->st != CS_RELAY_TLS)
			conn_flush(dirty[i]);
	ndirty = 0;
}

static void
bury(void)
{
	for (size_t i = 0; i < ngrave; i++)
		conn_free(grave[i]);
	ngrave = 0;
}

void
loop_run(uint64_t deadline, bool (*done)(void), void (*tick)(void))
{
	struct epoll_event evs[256];
	for (;;) {
		if (tick)
			tick();
		flush_dirty();
		bury();
		if (done && done())
			return;
		uint64_t t = now_ns();
		if (t >= deadline)
			return;
		/* Sleep until the scenario's next scheduled send (tick_next),
		 * with nanosecond resolution, so open-loop sends are on time. */
		uint64_t wake = t + 50000000ull;
		if (tick)
			wake = tick_next > t && tick_next < t + 1000000ull ?
			    tick_next : t + 1000000ull;
		if (wake > deadline)
			wake = deadline;
		struct timespec ts = { .tv_sec = (time_t)((wake - t) / 1000000000ull),
		    .tv_nsec = (long)((wake - t) % 1000000000ull) };
		int n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->st == CS_DEAD)
				continue;
			if (c->st == CS_CONNECTING) {
				int err = 0;
				socklen_t l = sizeof err;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err) {
					conn_fail(c, strerror(err));
					continue;
				}
				if (O.relay_host) {
					c->st = CS_RELAY_TLS;
					tls_step(c);
				} else {
					c->st = CS_FEAT1;
					conn_sendf(c, "<?xml version='1.0'?><stream:stream"
					    " xmlns='jabber:client' xmlns:stream="
					    "'http://etherx.jabber.org/streams' to='%s'"
					    " version='1.0'>", O.domain);
					conn_flush(c);
				}
				continue;
			}
			if (c->st == CS_TLS_HS || c->st == CS_RELAY_TLS) {
				tls_step(c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_on_data(c);
			if (c->st != CS_DEAD && (evs[i].events & EPOLLOUT))
				conn_flush(c);
		}
	}
}

/* Connections. */

static void
conn_stream_header(struct conn *c)
{
	conn_sendf(c, "<stream:stream xmlns='jabber:client'"
	    " xmlns:stream='http://etherx.jabber.org/streams' to='%s'"
	    " version='1.0'>", O.domain);
}

struct conn *
conn_open(int user, const char *prefix, int slot, const struct conn_ops *ops)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->user = user;
	c->prefix = prefix;
	c->slot = slot;
	c->ops = ops;
	c->t_start = now_ns();
	n_opened++;

	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *host = O.relay_host ? O.relay_host : O.host;
	sa.sin_port = htons((uint16_t)(O.relay_host ? O.relay_port : O.port));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "liaison-bench: bad address %s\n", host);
		exit(2);
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->st = CS_DEAD;
		n_failed++;
		if (!O.quiet)
			fprintf(stderr, "liaison-bench: socket: %s\n", strerror(errno));
		free(c);
		return NULL;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (O.nsrc > 1) {
		/* Source 127.0.0.(1+k): one address gives ~28000 ports. */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(0x7f000001u +
		    (uint32_t)(src_counter++ % (unsigned long)O.nsrc));
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof one);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0 &&
		    !O.quiet)
			fprintf(stderr, "liaison-bench: bind: %s\n", strerror(errno));
	}
	c->st = CS_CONNECTING;
	c->out_armed = true;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		c->st = CS_DEAD;
		n_failed++;
		free(c);
		return NULL;
	}
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return c;
}

void
conn_send(struct conn *c, const void *p, size_t n)
{
	if (c->st == CS_DEAD)
		return;
	bq_append(&c->out, p, n);
	mark_dirty(c);
}

void
conn_sendf(struct conn *c, const char *fmt, ...)
{
	if (c->st == CS_DEAD)
		return;
	va_list ap;
	char tmp[2048];
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		bq_append(&c->out, tmp, (size_t)n);
	} else {
		char *big = malloc((size_t)n + 1);
		if (!big)
			return;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		bq_append(&c->out, big, (size_t)n);
		free(big);
	}
	mark_dirty(c);
}

static void
conn_shut(struct conn *c)
{
	bool was_ready = c->st == CS_READY;
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->st = CS_DEAD;
	if (ngrave == capgrave) {
		capgrave = capgrave ? capgrave * 2 : 1024;
		grave = xrealloc(grave, capgrave * sizeof *grave);
	}
	/* The scenario drops its pointer in closed(); freed after the batch. */
	grave[ngrave++] = c;
	if (c->ops && c->ops->closed)
		c->ops->closed(c, was_ready);
}

static void
conn_fail(struct conn *c, const char *why)
{
	if (c->st == CS_DEAD)
		return;
	if (c->st != CS_READY)
		n_failed++;
	if (!O.quiet && c->st != CS_READY)
		fprintf(stderr, "liaison-bench: %s%d: login failed in state %d:"
		    " %s\n", c->prefix, c->user, c->st, why);
	conn_shut(c);
}

void
conn_close(struct conn *c)
{
	if (c->st == CS_DEAD)
		return;
	if (c->st == CS_READY && !O.relay_host) {
		static const char end[] = "</stream:stream>";
		bq_append(&c->out, end, sizeof end - 1);
		conn_flush(c);
	}
	if (c->st != CS_DEAD)
		conn_shut(c);
}

void
conn_free(struct conn *c)
{
	bq_free(&c->in);
	bq_free(&c->out);
	free(c);
}

void
conn_stats(long *opened, long *failed)
{
	*opened = n_opened;
	*failed = n_failed;
}

static void
conn_ready(struct conn *c)
{
	c->st = CS_READY;
	if (O.presence && !O.relay_host)
		conn_sendf(c, "<presence/>");
	if (c->ops->ready)
		c->ops->ready(c);
}

static void
tls_step(struct conn *c)
{
	if (!c->ssl) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl) {
			conn_fail(c, "SSL_new");
			return;
		}
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_connect_state(c->ssl);
		if (!O.relay_host)
			SSL_set_tlsext_host_name(c->ssl, O.domain);
	}
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		ep_mod(c, false);
		if (c->st == CS_RELAY_TLS) {
			/* Pair ids: 2k and 2k+1 are relayed to each other. */
			char id[32];
			int n = snprintf(id, sizeof id, "R%ld\n",
			    relay_base + c->slot);
			bq_append(&c->out, id, (size_t)n);
			c->depth = 1;
			conn_ready(c);
			mark_dirty(c);
		} else {
			c->st = CS_FEAT2;
			conn_stream_header(c);
		}
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		ep_mod(c, false);
	else if (e == SSL_ERROR_WANT_WRITE)
		ep_mod(c, true);
	else
		conn_fail(c, "TLS handshake");
}

/* Element helpers. */

bool
el_is(const char *el, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len < n + 2 || el[0] != '<' || memcmp(el + 1, name, n) != 0)
		return false;
	char d = el[1 + n];
	return d == ' ' || d == '>' || d == '/' || d == '\t' || d == '\n' ||
	    d == '\r';
}

bool
el_contains(const char *el, size_t len, const char *needle)
{
	return memmem(el, len, needle, strlen(needle)) != NULL;
}

static size_t
start_tag_end(const char *el, size_t len)
{
	char q = 0;
	for (size_t i = 1; i < len; i++) {
		char ch = el[i];
		if (q) {
			if (ch == q)
				q = 0;
		} else if (ch == '"' || ch == '\'') {
			q = ch;
		} else if (ch == '>') {
			return i;
		}
	}
	return len;
}

bool
el_attr(const char *el, size_t len, const char *attr, char *out,
    size_t outsz)
{
	size_t end = start_tag_end(el, len);
	size_t al = strlen(attr);
	for (size_t i = 1; i + al + 2 < end; i++) {
		char b = el[i - 1];
		if ((b == ' ' || b == '\t' || b == '\n' || b == '\r') &&
		    memcmp(el + i, attr, al) == 0 && el[i + al] == '=' &&
		    (el[i + al + 1] == '\'' || el[i + al + 1] == '"')) {
			char q = el[i + al + 1];
			size_t s = i + al + 2, o = 0;
			while (s < end && el[s] != q && o + 1 < outsz)
				out[o++] = el[s++];
			out[o] = 0;
			return true;
		}
	}
	return false;
}

/* The text of the element itself (name == NULL) or of its first child
 * element called name; no unescaping (base64 and our markers need none). */
bool
el_child_text(const char *el, size_t len, const char *name,
    const char **text, size_t *tlen)
{
	const char *p = el;
	size_t plen = len;
	if (name) {
		char pat[64];
		int n = snprintf(pat, sizeof pat, "<%s", name);
		const char *s = el + 1;
		for (;;) {
			s = memmem(s, len - (size_t)(s - el), pat, (size_t)n);
			if (!s)
				return false;
			char d = s[n];
			if (d == '>' || d == ' ' || d == '/')
				break;
			s += n;
		}
		p = s;
		plen = len - (size_t)(s - el);
	}
	size_t e = start_tag_end(p, plen);
	if (e >= plen || p[e - 1] == '/') {
		*text = p + e;
		*tlen = 0;
		return true;
	}
	const char *t = p + e + 1;
	const char *lt = memchr(t, '<', plen - e - 1);
	if (!lt)
		return false;
	*text = t;
	*tlen = (size_t)(lt - t);
	return true;
}

static void
copy_text(const char *el, size_t len, char *out, size_t outsz)
{
	const char *t;
	size_t tl;
	out[0] = 0;
	if (!el_child_text(el, len, NULL, &t, &tl))
		return;
	if (tl >= outsz)
		tl = outsz - 1;
	memcpy(out, t, tl);
	out[tl] = 0;
}

/* The XMPP login, one element at a time; returns true when the stream was
 * restarted (the caller stops scanning the old buffer). */
static bool
login_step(struct conn *c, const char *el, size_t len)
{
	char b64[1024], txt[1024], user[96];
	snprintf(user, sizeof user, "%s%d", c->prefix, c->user);

	if (el_is(el, len, "stream:error")) {
		conn_fail(c, "stream error");
		return true;
	}
	switch (c->st) {
	case CS_FEAT1:
		if (!el_is(el, len, "stream:features"))
			break;
		if (!el_contains(el, len, "<starttls")) {
			conn_fail(c, "no STARTTLS offered");
			return true;
		}
		conn_sendf(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
		c->st = CS_PROCEED;
		break;
	case CS_PROCEED:
		if (!el_is(el, len, "proceed")) {
			conn_fail(c, "STARTTLS refused");
			return true;
		}
		c->in.off = c->in.len = 0;
		c->scan = c->el_start = 0;
		c->depth = 0;
		c->st = CS_TLS_HS;
		conn_flush(c);
		tls_step(c);
		return true;
	case CS_FEAT2: {
		if (!el_is(el, len, "stream:features"))
			break;
		if (O.registering) {
			/* XEP-0077 in-band registration, for the peers' accounts. */
			conn_sendf(c, "<iq type='set' id='reg1'><query xmlns="
			    "'jabber:iq:register'><username>%s</username><password>"
			    "%s</password></query></iq>", user, O.password);
			c->st = CS_BIND;
			break;
		}
		int m = O.mech;
		if (m == MECH_AUTO) {
			if (el_contains(el, len, ">SCRAM-SHA-256<"))
				m = MECH_SCRAM_SHA256;
			else if (el_contains(el, len, ">SCRAM-SHA-1<"))
				m = MECH_SCRAM_SHA1;
			else
				m = MECH_PLAIN;
		}
		char want[64];
		snprintf(want, sizeof want, ">%s<", mech_name(m));
		if (!el_contains(el, len, want)) {
			conn_fail(c, "mechanism not offered");
			return true;
		}
		int r = m == MECH_PLAIN ?
		    plain_initial(user, O.password, b64, sizeof b64) :
		    scram_client_first(&c->scram, m, user, b64, sizeof b64);
		if (r < 0) {
			conn_fail(c, "sasl");
			return true;
		}
		c->scram.mech = m;
		conn_sendf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"
		    " mechanism='%s'>%s</auth>", mech_name(m), b64);
		c->st = CS_SASL;
		break;
	}
	case CS_SASL:
		if (el_is(el, len, "challenge")) {
			copy_text(el, len, txt, sizeof txt);
			struct scram_cache *sc = NULL;
			if (scram_caches && c->prefix == O.prefix)
				sc = &scram_caches[2 * c->user];
			else if (scram_caches)
				sc = &scram_caches[2 * c->user + 1];
			if (c->scram.mech == MECH_PLAIN ||
			    scram_client_final(&c->scram, sc, O.password, txt, b64,
			    sizeof b64) < 0) {
				conn_fail(c, "bad SCRAM challenge");
				return true;
			}
			conn_sendf(c, "<response xmlns='urn:ietf:params:xml:ns:"
			    "xmpp-sasl'>%s</response>", b64);
		} else if (el_is(el, len, "success")) {
			copy_text(el, len, txt, sizeof txt);
			if (c->scram.mech != MECH_PLAIN &&
			    scram_verify_server_final(&c->scram, txt) < 0) {
				conn_fail(c, "server signature did not verify");
				return true;
			}
			c->in.off = c->in.len = 0;
			c->scan = c->el_start = 0;
			c->depth = 0;
			c->st = CS_FEAT3;
			conn_stream_header(c);
			return true;
		} else {
			conn_fail(c, "authentication failed");
			return true;
		}
		break;
	case CS_FEAT3:
		if (!el_is(el, len, "stream:features"))
			break;
		c->session_needed = false;
		const char *s = memmem(el, len, "xmpp-session", 12);
		if (s) {
			const char *e = memmem(s, len - (size_t)(s - el), "</session>", 10);
			const char *o = memmem(s, len - (size_t)(s - el), "<optional", 9);
			c->session_needed = !(o && (!e || o < e));
		}
		conn_sendf(c, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:"
		    "xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>");
		c->st = CS_BIND;
		break;
	case CS_BIND:
	case CS_SESSION: {
		char id[16], type[16];
		if (!el_is(el, len, "iq") || !el_attr(el, len, "id", id, sizeof id))
			break;
		el_attr(el, len, "type", type, sizeof type);
		if (O.registering) {
			/* An account that exists already is what we want. */
			if (strcmp(type, "result") == 0 ||
			    el_contains(el, len, "<conflict")) {
				c->st = CS_READY;
				c->ops->ready(c);
			} else {
				conn_fail(c, "registration refused");
			}
			return true;
		}
		if (strcmp(type, "result") != 0) {
			conn_fail(c, c->st == CS_BIND ? "bind" : "session");
			return true;
		}
		if (c->st == CS_BIND && c->session_needed) {
			conn_sendf(c, "<iq type='set' id='s1'><session xmlns="
			    "'urn:ietf:params:xml:ns:xmpp-session'/></iq>");
			c->st = CS_SESSION;
		} else {
			conn_ready(c);
		}
		break;
	}
	default:
		break;
	}
	return false;
}

static void
element(struct conn *c, const char *el, size_t len, bool *restarted)
{
	if (c->st != CS_READY) {
		*restarted = login_step(c, el, len);
		return;
	}
	if (!O.relay_host && el_is(el, len, "iq")) {
		char type[16], id[64];
		if (el_attr(el, len, "type", type, sizeof type) &&
		    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
			/* Roster pushes and pings from the server. */
			char from[256] = "";
			el_attr(el, len, "id", id, sizeof id);
			if (el_attr(el, len, "from", from, sizeof from) && from[0])
				conn_sendf(c, "<iq type='result' id='%s' to='%s'/>", id,
				    from);
			else
				conn_sendf(c, "<iq type='result' id='%s'/>", id);
			if (strcmp(type, "set") != 0)
				return;
		}
	}
	if (el_is(el, len, "stream:error")) {
		conn_fail(c, "stream error");
		*restarted = true;
		return;
	}
	c->ops->stanza(c, el, len);
	if (c->st == CS_DEAD)
		*restarted = true;
}

/* Cuts in[] into top-level elements. */
static void
split(struct conn *c)
{
	char *d = c->in.data;
	size_t len = c->in.len;
	while (c->scan < len) {
		char *p = memchr(d + c->scan, '<', len - c->scan);
		if (!p) {
			c->scan = len;
			break;
		}
		size_t i = (size_t)(p - d), j;
		if (i + 1 >= len) {
			c->scan = i;
			break;
		}
		char k = d[i + 1];
		if (k == '?' || k == '!') {
			const char *end = k == '?' ? "?>" :
			    (i + 3 < len && d[i + 2] == '-') ? "-->" :
			    (i + 2 < len && d[i + 2] == '[') ? "]]>" : ">";
			char *e = memmem(d + i, len - i, end, strlen(end));
			if (!e) {
				c->scan = i;
				break;
			}
			c->scan = (size_t)(e - d) + strlen(end);
			continue;
		}
		char q = 0;
		for (j = i + 1; j < len; j++) {
			char ch = d[j];
			if (q) {
				if (ch == q)
					q = 0;
			} else if (ch == '"' || ch == '\'') {
				q = ch;
			} else if (ch == '>') {
				break;
			}
		}
		if (j >= len) {
			c->scan = i;
			break;
		}
		c->scan = j + 1;
		bool restarted = false;
		if (k == '/') {
			c->depth--;
			if (c->depth == 1)
				element(c, d + c->el_start, j + 1 - c->el_start,
				    &restarted);
			else if (c->depth <= 0) {
				conn_fail(c, "stream closed by server");
				return;
			}
		} else if (d[j - 1] == '/') {
			if (c->depth == 1)
				element(c, d + i, j + 1 - i, &restarted);
		} else {
			if (c->depth == 1)
				c->el_start = i;
			c->depth++;
		}
		if (restarted || c->st == CS_DEAD)
			return;
	}
	/* Drop what is consumed; keep a partial element. */
	size_t keep = c->depth >= 2 ? c->el_start : c->scan;
	if (keep > 0 && c->st != CS_DEAD) {
		memmove(d, d + keep, len - keep);
		c->in.len -= keep;
		c->scan -= keep;
		if (c->depth >= 2)
			c->el_start = 0;
	}
}

static void
conn_on_data(struct conn *c)
{
	for (int rounds = 0;; rounds++) {
		/* Fairness: yield after 64 reads unless OpenSSL holds bytes
		 * that epoll cannot report. */
		if (rounds >= 64 && !(c->ssl && SSL_pending(c->ssl) > 0))
			break;
		bq_reserve(&c->in, 16384);
		char *p = c->in.data + c->in.len;
		size_t room = c->in.cap - c->in.len - 1;
		ssize_t n;
		if (c->ssl) {
			int r = SSL_read(c->ssl, p, (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					break;
				conn_fail(c, "connection closed");
				return;
			}
			n = r;
		} else {
			n = read(c->fd, p, room);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				conn_fail(c, n == 0 ? "connection closed" : "read");
				return;
			}
		}
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = 0;
		split(c);
		if (c->st == CS_DEAD || c->st == CS_TLS_HS)
			return;
	}
	if (c->tls_write_wants_read) {
		c->tls_write_wants_read = false;
		conn_flush(c);
	}
}

void
relay_next_base(void)
{
	relay_base += 1 << 20;
}

/* Statistics. */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void
lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		if (l->cap >= 50u << 20)
			return;	/* bounded: 400 MB of samples at most */
		l->cap = l->cap ? l->cap * 2 : 65536;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = ns;
}

double
lat_pct(struct lat *l, double q)
{
	static struct lat *sorted;
	static size_t sorted_n;
	if (l->n == 0)
		return 0;
	if (sorted != l || sorted_n != l->n) {
		qsort(l->v, l->n, sizeof *l->v, cmp_u64);
		sorted = l;
		sorted_n = l->n;
	}
	size_t i = (size_t)(q * (double)(l->n - 1) + 0.5);
	return (double)l->v[i] / 1000.0;
}

void
lat_free(struct lat *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

long
server_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}
