/*
 * Listening sockets: accept4 in a bounded loop, a cap on concurrent
 * connections, a per-source token bucket so a flood from one address
 * cannot starve other sessions, and a pause instead of a spin when the
 * process runs out of descriptors.  Also the address parsing shared by
 * listeners and outgoing connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/log.h"
#include "net/net_int.h"

#define LISTENER_ACCEPT_BATCH	64	/* accepts per readiness event */
#define LISTENER_EMFILE_MS	100	/* pause when out of descriptors */
#define LISTENER_BUCKETS	1024	/* source addresses tracked */
#define LISTENER_DEF_MAX	10000
#define LISTENER_DEF_RATE	20
#define LISTENER_DEF_BURST	50

/* A token bucket for one source address.  The table is fixed-size, so a
 * flood from many addresses costs no memory; two addresses hashing to
 * the same busy slot share it, which only ever makes the limit stricter
 * for them. */
struct src_bucket {
	unsigned char addr[16];
	unsigned char alen;
	double tokens;
	uint64_t last_ms;
};

struct listener {
	struct ev_loop *loop;
	int fd;
	int port;
	bool direct_tls;
	SSL_CTX *ctx;		/* referenced */
	listener_accept_fn cb;
	void *arg;
	unsigned max_conns, rate, burst;
	unsigned nconns;
	uint64_t pause_timer;
	uint64_t last_warn_ms;
	struct nlist conns;	/* conn->lnode */
	struct nlist node;	/* loop->listeners */
	struct src_bucket buckets[LISTENER_BUCKETS];
};

/* ---- addresses ---- */

int
net_parse_addr(const char *s, int port_optional, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *port = NULL, *end;
	unsigned long p = 0;
	char *ep;
	size_t hl;
	int v6 = 0;

	if (s == NULL)
		return L_ERR_INVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return L_ERR_INVAL;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return L_ERR_INVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return L_ERR_INVAL;
		v6 = 1;
	} else {
		end = strrchr(s, ':');
		if (end != NULL && strchr(s, ':') != end) {
			/* Bare IPv6 without brackets: no port possible. */
			end = NULL;
			v6 = 1;
		}
		hl = end ? (size_t)(end - s) : strlen(s);
		if (hl >= sizeof(host))
			return L_ERR_INVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (end != NULL)
			port = end + 1;
	}
	if (port != NULL) {
		errno = 0;
		p = strtoul(port, &ep, 10);
		if (*port == '\0' || *ep != '\0' || errno != 0 || p > 65535)
			return L_ERR_INVAL;
	} else if (!port_optional) {
		return L_ERR_INVAL;
	}
	if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof(*sin);
		return L_OK;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*sin6);
		return L_OK;
	}
	return L_ERR_INVAL;
}

void
net_format_addr(const struct sockaddr *sa, char out[64])
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char h[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, h, sizeof(h)) != NULL)
		snprintf(out, 64, "%s:%u", h, ntohs(sin->sin_port));
	else if (sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof(h)) != NULL)
		snprintf(out, 64, "[%s]:%u", h, ntohs(sin6->sin6_port));
	else
		snprintf(out, 64, "?");
}

/* ---- limits ---- */

static bool
listener_rate_ok(struct listener *l, const struct sockaddr *sa)
{
	const unsigned char *a;
	struct src_bucket *b;
	uint64_t now = l->loop->now, h = 1469598103934665603ULL;
	size_t alen, i;

	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		alen = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		alen = 16;
	} else {
		return true;
	}
	for (i = 0; i < alen; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	b = &l->buckets[h % LISTENER_BUCKETS];
	if (b->alen != alen || memcmp(b->addr, a, alen) != 0) {
		/* Take the slot over only once its owner's bucket is full
		 * again (idle), so two flooders cannot reset each other. */
		if (b->alen != 0) {
			b->tokens += (double)(now - b->last_ms) *
			    l->rate / 1000.0;
			b->last_ms = now;
			if (b->tokens < l->burst)
				goto take;
		}
		memcpy(b->addr, a, alen);
		b->alen = (unsigned char)alen;
		b->tokens = l->burst;
		b->last_ms = now;
	}
	b->tokens += (double)(now - b->last_ms) * l->rate / 1000.0;
	b->last_ms = now;
	if (b->tokens > l->burst)
		b->tokens = l->burst;
take:
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static void
listener_warn(struct listener *l, const char *what, const char *peer)
{
	/* At most one line a second: a flood must not flood the log. */
	if (l->loop->now - l->last_warn_ms < 1000 && l->last_warn_ms != 0)
		return;
	l->last_warn_ms = l->loop->now;
	log_warnx("listener port %d: %s (%s), refusing", l->port, what, peer);
}

/* ---- accepting ---- */

static void listener_io(struct ev_loop *loop, int fd, int events, void *arg);

static void
listener_resume(struct ev_loop *loop, void *arg)
{
	struct listener *l = arg;

	l->pause_timer = 0;
	ev_io_mod(loop, l->fd, EV_READ);
}

static void
listener_io(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t slen;
	struct conn *c;
	char peer[64];
	int cfd, i;

	for (i = 0; i < LISTENER_ACCEPT_BATCH; i++) {
		slen = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: the pending connection
				 * would wake us at once, forever.  Stop
				 * watching for a moment instead. */
				if (loop->now - l->last_warn_ms >= 1000) {
					l->last_warn_ms = loop->now;
					log_warn("accept on port %d, pausing",
					    l->port);
				}
				l->pause_timer = ev_timer_add(loop,
				    LISTENER_EMFILE_MS, listener_resume, l);
				if (l->pause_timer != 0)
					ev_io_mod(loop, fd, 0);
				return;
			}
			log_warn("accept on port %d", l->port);
			return;
		}
		if (l->nconns >= l->max_conns) {
			net_format_addr((struct sockaddr *)&ss, peer);
			listener_warn(l, "connection cap reached", peer);
			close(cfd);
			continue;
		}
		if (!listener_rate_ok(l, (struct sockaddr *)&ss)) {
			net_format_addr((struct sockaddr *)&ss, peer);
			listener_warn(l, "connection rate from source", peer);
			close(cfd);
			continue;
		}
		if ((c = conn_new_accepted(loop, cfd,
		    (struct sockaddr *)&ss)) == NULL) {
			log_warnx("out of memory accepting a connection");
			close(cfd);
			continue;
		}
		c->listener = l;
		nlist_add_tail(&l->conns, &c->lnode);
		l->nconns++;
		slog_debug(c->id, "accepted %s on port %d", c->peer, l->port);
		if (l->direct_tls && conn_starttls(c, l->ctx) != L_OK) {
			conn_abort(c);
			continue;
		}
		l->cb(c, l->arg);
	}
}

void
listener_conn_gone(struct listener *l, struct conn *c)
{
	nlist_del(&c->lnode);
	c->listener = NULL;
	l->nconns--;
}

struct listener *
listener_new(struct ev_loop *loop, const char *addr, bool direct_tls,
    SSL_CTX *ctx, listener_accept_fn cb, void *arg)
{
	struct sockaddr_storage ss;
	struct listener *l;
	socklen_t len;
	int one = 1;

	if (cb == NULL || (direct_tls && ctx == NULL)) {
		log_warnx("listener %s: no callback or TLS context", addr);
		return NULL;
	}
	if (net_parse_addr(addr, 0, &ss, &len) != L_OK) {
		log_warnx("listener: bad address \"%s\"", addr);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->loop = loop;
	l->direct_tls = direct_tls;
	l->cb = cb;
	l->arg = arg;
	l->max_conns = LISTENER_DEF_MAX;
	l->rate = LISTENER_DEF_RATE;
	l->burst = LISTENER_DEF_BURST;
	nlist_init(&l->conns);
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (l->fd == -1) {
		log_warn("listener %s: socket", addr);
		goto err;
	}
	(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, len) == -1) {
		log_warn("listener %s: bind", addr);
		goto err_fd;
	}
	if (listen(l->fd, 511) == -1) {
		log_warn("listener %s: listen", addr);
		goto err_fd;
	}
	len = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("listener %s: getsockname", addr);
		goto err_fd;
	}
	l->port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ctx != NULL) {
		if (SSL_CTX_up_ref(ctx) != 1)
			goto err_fd;
		l->ctx = ctx;
	}
	if (ev_io_add(loop, l->fd, EV_READ, listener_io, l) != L_OK)
		goto err_ctx;
	nlist_add_tail(&loop->listeners, &l->node);
	log_info("listening on %s%s", addr, direct_tls ? " (direct TLS)" : "");
	return l;
err_ctx:
	SSL_CTX_free(l->ctx);
err_fd:
	close(l->fd);
err:
	free(l);
	return NULL;
}

void
listener_free(struct listener *l)
{
	struct conn *c;

	if (l == NULL)
		return;
	while (!nlist_empty(&l->conns)) {
		c = NLIST_ENTRY(l->conns.next, struct conn, lnode);
		listener_conn_gone(l, c);
	}
	if (l->pause_timer)
		ev_timer_cancel(l->loop, l->pause_timer);
	ev_io_del(l->loop, l->fd);
	close(l->fd);
	nlist_del(&l->node);
	SSL_CTX_free(l->ctx);
	free(l);
}

void
listener_loop_shutdown(struct ev_loop *loop)
{
	while (!nlist_empty(&loop->listeners))
		listener_free(NLIST_ENTRY(loop->listeners.next,
		    struct listener, node));
}

int
listener_port(const struct listener *l)
{
	return l->port;
}

void
listener_set_limits(struct listener *l, unsigned max_conns,
    unsigned rate_per_sec, unsigned burst)
{
	if (max_conns)
		l->max_conns = max_conns;
	if (rate_per_sec)
		l->rate = rate_per_sec;
	if (burst)
		l->burst = burst;
}

unsigned
listener_conn_count(const struct listener *l)
{
	return l->nconns;
}
