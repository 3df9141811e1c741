/*
 * Internals shared by the files of the net layer (loop.c, conn.c,
 * listener.c, tls.c): intrusive lists, the loop's structure and the hooks
 * by which the loop drives connection output and close delivery.  Never
 * included outside src/net/.
 */
#ifndef LIAISON_NET_NET_INT_H
#define LIAISON_NET_NET_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/net.h"

/* A doubly linked intrusive list with a sentinel head. */
struct nlist {
	struct nlist *prev, *next;
};

#define NLIST_ENTRY(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void
nlist_init(struct nlist *h)
{
	h->prev = h->next = h;
}

static inline int
nlist_empty(const struct nlist *h)
{
	return h->next == h;
}

/* A node not on any list points to itself, so removal is idempotent. */
static inline void
nlist_del(struct nlist *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline void
nlist_add_tail(struct nlist *h, struct nlist *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Moves every node of `from` to the empty list `to`. */
static inline void
nlist_splice(struct nlist *from, struct nlist *to)
{
	nlist_init(to);
	if (nlist_empty(from))
		return;
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	nlist_init(from);
}

struct ev_io_slot {
	ev_io_fn cb;
	void *arg;
	int mask;	/* interest given by the owner */
	int used;
};

struct ev_timer {
	uint64_t when;	/* monotonic ms */
	uint64_t seq;	/* insertion order, breaks ties */
	ev_timer_fn cb;
	void *arg;
	uint32_t heap_idx;
	uint32_t gen;	/* bumped when the slot is freed */
	uint32_t next_free;
	int live;
};

#define NET_READ_CHUNK	16384

struct ev_loop {
	int epfd;
	int stop;
	uint64_t now;

	struct ev_io_slot *ios;		/* indexed by fd */
	int nios;
	struct epoll_event *events;
	int nevents;

	struct ev_timer *tslots;	/* slab of timers */
	uint32_t ntslots;
	uint32_t free_head;		/* UINT32_MAX = none */
	uint32_t *heap;			/* indexes into tslots */
	uint32_t heap_len;
	uint64_t tseq;

	ev_hook_fn before_sleep;
	void *before_sleep_arg;

	struct nlist conns;		/* every live conn */
	struct nlist wpending;		/* conns with output to flush */
	struct nlist rready;		/* conns with TLS-buffered input */
	struct nlist dead;		/* conns awaiting on_close */
	struct nlist asyncs;
	struct nlist listeners;

	char rbuf[NET_READ_CHUNK];	/* shared read buffer, see conn.c */
};

/* conn.c: called by the loop each iteration.  Flushes queued output,
 * delivers buffered input and on_close of dead conns.  Returns nonzero
 * when work remains that must not wait for an fd event. */
int conn_loop_tick(struct ev_loop *loop);
int conn_loop_has_work(struct ev_loop *loop);
/* conn.c: aborts and reaps every conn (for ev_loop_free). */
void conn_loop_shutdown(struct ev_loop *loop);
/* listener.c: frees every listener (for ev_loop_free). */
void listener_loop_shutdown(struct ev_loop *loop);

struct conn {
	uint64_t id;
	struct ev_loop *loop;
	int fd;
	const struct conn_cbs *cbs;
	void *arg;
	char peer[64];
	char alpn[32];		/* negotiated ALPN protocol, or "" */

	/* Output queue: bytes [out_off, out_len) of out are pending.  The
	 * first plain_left of them go out in plaintext before a pending
	 * TLS handshake starts (e.g. <proceed/>). */
	char *out;
	size_t out_off, out_len, out_cap;
	size_t plain_left;
	size_t max_out;
	size_t read_budget;

	SSL *ssl;
	SSL_CTX *tls_ctx;	/* referenced while a handshake is pending */
	char *servername;	/* client side SNI, owned */

	unsigned is_client:1;
	unsigned connecting:1;
	unsigned tls_pending:1;	/* STARTTLS asked, plaintext draining */
	unsigned tls_server:1;
	unsigned handshaking:1;
	unsigned tls_up:1;
	unsigned paused:1;
	unsigned closing:1;	/* graceful close: flushing */
	unsigned lingering:1;	/* write side shut, draining input */
	unsigned dead:1;	/* on the dead list, fd closed */
	unsigned blocked:1;	/* output could not all be written */
	unsigned ssl_rd_wants_wr:1;	/* SSL_read said WANT_WRITE */
	unsigned ssl_wr_wants_rd:1;	/* SSL_write said WANT_READ */
	unsigned hs_wants_wr:1;	/* handshake said WANT_WRITE */
	int mask;		/* epoll interest now registered */
	int reason;

	uint64_t idle_ms, last_in;
	uint64_t idle_timer, close_timer;

	struct listener *listener;
	struct nlist all;	/* loop->conns */
	struct nlist wnode;	/* loop->wpending */
	struct nlist rnode;	/* loop->rready */
	struct nlist dnode;	/* loop->dead */
	struct nlist lnode;	/* listener's conns */
};

/* conn.c: wraps an accepted socket (non-blocking already).  Returns NULL
 * on failure, leaving fd open for the caller. */
struct conn *conn_new_accepted(struct ev_loop *loop, int fd,
    const struct sockaddr *sa);
/* listener.c: a conn of l is being freed. */
void listener_conn_gone(struct listener *l, struct conn *c);

/* Parses "A.B.C.D:PORT", "[V6]:PORT", and when port_optional, a bare
 * address.  Returns 0 or L_ERR_INVAL. */
int net_parse_addr(const char *s, int port_optional,
    struct sockaddr_storage *ss, socklen_t *len);
/* Formats "1.2.3.4:5" or "[::1]:5" into out (64 bytes). */
void net_format_addr(const struct sockaddr *sa, char out[64]);

#endif
