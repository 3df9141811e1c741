/*
 * bench-relay: the ceiling.  A minimal epoll relay that terminates TLS on
 * both sides and moves bytes between paired connections with no XML and
 * no XMPP: what this machine can do for the same traffic at best.  A
 * client sends "R<id>\n" first; ids 2k and 2k+1 are relayed to each
 * other.  The certificate is generated at start (EC P-256, self-signed).
 *
 *   bench-relay --listen 127.0.0.1:5299 [--max-conns N]
 *
 * It serves until killed (compare.sh stops it by its pid).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TABLE (1u << 22)
#define OUT_HIGH (1u << 20)

struct rconn {
	int fd;
	SSL *ssl;
	bool hs_done, paired, reading, out_armed;
	long id;
	struct rconn *peer;
	char *out;
	size_t off, len, cap;
	char idbuf[24];
	size_t idlen;
};

static int epfd;
static struct rconn **table;	/* waiting for their partner, by id */

static void
arm(struct rconn *c)
{
	bool rd = c->reading && (!c->peer || c->peer->len - c->peer->off <
	    OUT_HIGH);
	struct epoll_event ev = { .events = (rd ? EPOLLIN : 0) |
	    (c->out_armed ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
rc_close(struct rconn *c)
{
	if (c->fd < 0)
		return;
	if (!c->paired && c->idlen == 0 && c->id >= 0 &&
	    table[(size_t)c->id % TABLE] == c)
		table[(size_t)c->id % TABLE] = NULL;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	close(c->fd);
	c->fd = -1;
	struct rconn *p = c->peer;
	c->peer = NULL;
	free(c->out);
	c->out = NULL;
	/* The structs are not freed: a later event of this batch may name
	 * them.  A few hundred bytes per connection, for a bounded run. */
	if (p) {
		p->peer = NULL;
		rc_close(p);
	}
}

static void
rc_flush(struct rconn *c)
{
	while (c->off < c->len) {
		int w = SSL_write(c->ssl, c->out + c->off, (int)(c->len - c->off));
		if (w <= 0) {
			int e = SSL_get_error(c->ssl, w);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				if (!c->out_armed) {
					c->out_armed = true;
					arm(c);
				}
				return;
			}
			c->off = c->len = 0;
			return;
		}
		c->off += (size_t)w;
	}
	c->off = c->len = 0;
	if (c->out_armed) {
		c->out_armed = false;
		arm(c);
	}
	/* The peer may have stopped reading for our sake. */
	if (c->peer)
		arm(c->peer);
}

static void
rc_queue(struct rconn *c, const char *p, size_t n)
{
	if (c->off > 0 && c->off == c->len)
		c->off = c->len = 0;
	if (c->len + n > c->cap) {
		if (c->off > 0) {
			memmove(c->out, c->out + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		size_t cap = c->cap ? c->cap : 16384;
		while (cap < c->len + n)
			cap *= 2;
		char *q = realloc(c->out, cap);
		if (!q)
			return;
		c->out = q;
		c->cap = cap;
	}
	memcpy(c->out + c->len, p, n);
	c->len += n;
}

/* Returns false when c was closed (and must not be touched). */
static bool
rc_read(struct rconn *c)
{
	char buf[65536];
	for (int rounds = 0; rounds < 16 || SSL_pending(c->ssl) > 0; rounds++) {
		int r = SSL_read(c->ssl, buf, sizeof buf);
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			return false;
		}
		size_t n = (size_t)r, i = 0;
		if (!c->paired) {
			/* The "R<id>\n" line. */
			while (i < n && c->idlen < sizeof c->idbuf - 1 &&
			    buf[i] != '\n')
				c->idbuf[c->idlen++] = buf[i++];
			if (i >= n)
				continue;
			if (buf[i] != '\n' || c->idbuf[0] != 'R')
				return false;
			i++;
			c->idbuf[c->idlen] = 0;
			c->id = atol(c->idbuf + 1);
			c->idlen = 0;
			struct rconn **slot = &table[(size_t)(c->id ^ 1) % TABLE];
			if (*slot && (*slot)->id == (c->id ^ 1)) {
				c->peer = *slot;
				(*slot)->peer = c;
				c->paired = (*slot)->paired = true;
				*slot = NULL;
				/* The partner's early bytes waited in its own queue:
				 * they are ours to receive. */
				struct rconn *p = c->peer;
				free(c->out);
				c->out = p->out;
				c->off = p->off;
				c->len = p->len;
				c->cap = p->cap;
				p->out = NULL;
				p->off = p->len = p->cap = 0;
				p->reading = true;
				arm(p);
				rc_flush(c);
			} else {
				table[(size_t)c->id % TABLE] = c;
			}
		}
		if (i < n) {
			if (c->peer) {
				rc_queue(c->peer, buf + i, n - i);
			} else {
				/* Partner not here yet: hold the bytes for it. */
				c->reading = false;
				rc_queue(c, buf + i, n - i);
				arm(c);
				return true;
			}
		}
		if (c->peer && c->peer->len - c->peer->off >= OUT_HIGH)
			break;
	}
	if (c->peer)
		rc_flush(c->peer);
	arm(c);
	return true;
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!ctx || !key || !x)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"bench-relay", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	if (!X509_sign(x, key, EVP_sha256()) ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

int
main(int argc, char **argv)
{
	const char *listen_at = "127.0.0.1:5299";
	for (int i = 1; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[i + 1];
	char host[64];
	const char *colon = strrchr(listen_at, ':');
	if (!colon || (size_t)(colon - listen_at) >= sizeof host) {
		fprintf(stderr, "usage: bench-relay --listen ADDR:PORT\n");
		return 2;
	}
	memcpy(host, listen_at, (size_t)(colon - listen_at));
	host[colon - listen_at] = 0;
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	SSL_CTX *ctx = make_ctx();
	table = calloc(TABLE, sizeof *table);
	if (!ctx || !table) {
		fprintf(stderr, "bench-relay: TLS set-up failed\n");
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(ls, 4096) < 0) {
		perror("bench-relay: listen");
		return 2;
	}
	epfd = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
	fprintf(stderr, "bench-relay: listening on %s\n", listen_at);

	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, 1000);
		for (int i = 0; i < n; i++) {
			struct rconn *c = evs[i].data.ptr;
			if (!c) {
				for (int k = 0; k < 64; k++) {
					int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
					if (fd < 0)
						break;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					    sizeof one);
					struct rconn *nc = calloc(1, sizeof *nc);
					nc->fd = fd;
					nc->id = -1;
					nc->reading = true;
					nc->ssl = SSL_new(ctx);
					SSL_set_fd(nc->ssl, fd);
					SSL_set_accept_state(nc->ssl);
					struct epoll_event e2 = { .events = EPOLLIN,
					    .data.ptr = nc };
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e2);
				}
				continue;
			}
			if (c->fd < 0)
				continue;
			if (!c->hs_done) {
				int r = SSL_do_handshake(c->ssl);
				if (r == 1) {
					c->hs_done = true;
				} else {
					int e = SSL_get_error(c->ssl, r);
					if (e != SSL_ERROR_WANT_READ &&
					    e != SSL_ERROR_WANT_WRITE) {
						rc_close(c);
					}
					continue;
				}
			}
			if (evs[i].events & EPOLLOUT)
				rc_flush(c);
			if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP |
			    EPOLLERR)) && !rc_read(c))
				rc_close(c);
		}
	}
}
