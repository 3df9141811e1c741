/*
 * liaison-bench: an XMPP load generator that speaks standard XMPP
 * (STARTTLS, SCRAM-SHA-1/256 or PLAIN, bind, session, presence), so the
 * same run measures Liaison, Prosody and ejabberd.  It is self-contained:
 * its own epoll loop, OpenSSL, and a stanza splitter that cuts the stream
 * into top-level elements (it counts messages exactly, it does not
 * validate XML).  This header is shared by the bench's files only.
 */
#ifndef LIAISON_BENCH_H
#define LIAISON_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* A byte queue: data[off, len) is pending. */
struct bq {
	char *data;
	size_t off;
	size_t len;
	size_t cap;
};

void bq_append(struct bq *q, const void *p, size_t n);
void bq_appendf(struct bq *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bq_consume(struct bq *q, size_t n);
void bq_free(struct bq *q);
static inline size_t bq_pending(const struct bq *q) { return q->len - q->off; }

enum mech { MECH_AUTO, MECH_SCRAM_SHA256, MECH_SCRAM_SHA1, MECH_PLAIN };

/* Per-user cache of the PBKDF2 result: the client's cost of SCRAM is paid
 * once per user, so the bench measures the server, not its own hashing. */
struct scram_cache {
	unsigned char salt[64];
	int salt_len;
	int iter;
	int mech;
	unsigned char salted[64];
};

struct scram {
	int mech;		/* MECH_SCRAM_* */
	char cnonce[32];
	char first_bare[160];
	unsigned char server_sig[64];
	int hlen;
};

/* Authentication state for one login.  Returns the base64 text of the
 * next client message in out (NUL-terminated), or -1 on a protocol or
 * verification failure. */
int scram_client_first(struct scram *s, int mech, const char *user,
    char *out, size_t outsz);
int scram_client_final(struct scram *s, struct scram_cache *cache,
    const char *password, const char *server_first_b64, char *out,
    size_t outsz);
int scram_verify_server_final(struct scram *s, const char *b64);
int plain_initial(const char *user, const char *password, char *out,
    size_t outsz);
const char *mech_name(int mech);

enum cstate {
	CS_CONNECTING, CS_FEAT1, CS_PROCEED, CS_TLS_HS, CS_FEAT2, CS_SASL,
	CS_FEAT3, CS_BIND, CS_SESSION, CS_READY, CS_DEAD,
	CS_RELAY_TLS
};

struct conn;

/* What a scenario does with its connections. */
struct conn_ops {
	void (*ready)(struct conn *c);
	/* A top-level element received once ready. */
	void (*stanza)(struct conn *c, const char *el, size_t len);
	/* The connection failed or closed; was_ready tells which. */
	void (*closed)(struct conn *c, bool was_ready);
};

struct conn {
	int fd;
	SSL *ssl;
	enum cstate st;
	int user;		/* account index */
	int slot;		/* scenario's index of this connection */
	const char *prefix;	/* account name prefix */
	const struct conn_ops *ops;
	struct bq in, out;
	size_t scan;		/* splitter: next byte to look at */
	size_t el_start;	/* start of the open top-level element */
	int depth;
	bool out_armed;		/* EPOLLOUT registered */
	bool session_needed;
	bool tls_write_wants_read;
	struct scram scram;
	uint64_t t_start;	/* ns, when the connect began */
	/* scenario state */
	long sent, recv, inflight;
	bool active;
};

struct opts {
	const char *host;
	int port;
	const char *domain;
	const char *prefix;
	const char *fan_prefix;
	const char *password;
	const char *server;	/* label in RESULT lines */
	const char *scenarios;
	const char *relay_host;
	int relay_port;
	int users;
	int nsrc;
	int mech;
	double duration;
	double drain;
	int sessions;
	int pairs;
	int window;
	int rate;
	int size;
	int concurrency;
	int fan_users;
	int fan_contacts;
	int fan_rate;
	long max_msgs;
	pid_t server_pid;
	const char *label_file;
	char *label_xml;
	bool presence;
	bool quiet;
	bool registering;	/* the 'register' scenario runs */
};

extern struct opts O;
extern struct scram_cache *scram_caches;	/* per user, per prefix */

/* The event loop. */
void loop_init(void);
/* Runs until done() returns true or the deadline (monotonic ns) passes;
 * tick() runs at least every millisecond when given. */
void loop_run(uint64_t deadline, bool (*done)(void), void (*tick)(void));
uint64_t now_ns(void);
/* Set by a tick: when it next has work (monotonic ns); 0 = in 1 ms. */
extern uint64_t tick_next;

/* Connections. */
struct conn *conn_open(int user, const char *prefix, int slot,
    const struct conn_ops *ops);
void conn_send(struct conn *c, const void *p, size_t n);
void conn_sendf(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void conn_close(struct conn *c);
/* Frees a dead connection's memory. */
void conn_free(struct conn *c);
void conn_stats(long *opened, long *failed);
/* Relay mode: the next scenario's pair ids start afresh. */
void relay_next_base(void);

/* Element helpers: the start tag's attribute (unescaped, truncated to
 * outsz), the text of the first child named `name`. */
bool el_attr(const char *el, size_t len, const char *attr, char *out,
    size_t outsz);
bool el_child_text(const char *el, size_t len, const char *name,
    const char **text, size_t *tlen);
bool el_is(const char *el, size_t len, const char *name);
bool el_contains(const char *el, size_t len, const char *needle);

/* Statistics. */
struct lat {
	uint64_t *v;
	size_t n, cap;
};
void lat_add(struct lat *l, uint64_t ns);
/* Percentile in microseconds, q in [0,1]. Sorts on first call. */
double lat_pct(struct lat *l, double q);
void lat_free(struct lat *l);
long server_rss_kb(pid_t pid);

#endif
