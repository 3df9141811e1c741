/*
 * The net layer: a small epoll event loop (timers, fd watches, a
 * thread-safe wakeup), TCP connections that are plain or TLS (OpenSSL 3,
 * non-blocking, STARTTLS or direct TLS, client and server side), listeners
 * with connection caps and per-source rate limits, TLS contexts and
 * development certificates.  Everything except ev_async_signal() is used
 * from the loop's own thread only.
 */
#ifndef LIAISON_NET_NET_H
#define LIAISON_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct ev_loop;
struct ev_async;
struct conn;
struct listener;

/* ------------------------------------------------------------------ */
/* Event loop                                                          */
/* ------------------------------------------------------------------ */

/* Interest and readiness flags for ev_io_*. */
#define EV_READ		0x01
#define EV_WRITE	0x02
#define EV_HUP		0x04	/* reported only, never asked for */

/* Called when fd is ready; `events` holds EV_READ and/or EV_WRITE.  An
 * error or hang-up is reported as EV_HUP, even with an empty mask, plus
 * whichever of EV_READ/EV_WRITE are watched, so the owner's read or write
 * discovers it; the owner must then close the fd or ev_io_del it.
 * Level-triggered: the callback is called again on the next iteration
 * while the condition holds. */
typedef void (*ev_io_fn)(struct ev_loop *loop, int fd, int events,
    void *arg);
typedef void (*ev_timer_fn)(struct ev_loop *loop, void *arg);
typedef void (*ev_async_fn)(struct ev_loop *loop, void *arg);
typedef void (*ev_hook_fn)(struct ev_loop *loop, void *arg);

/* Returns a new loop, or NULL (out of memory or epoll_create failed). */
struct ev_loop *ev_loop_new(void);
/* Frees the loop.  Connections still open are aborted first, and their
 * on_close is called (reason CONN_R_LOCAL); listeners, timers and async
 * handles still registered are freed without callbacks.  Not from inside
 * ev_run(). */
void ev_loop_free(struct ev_loop *loop);
/* Runs until ev_stop(); returns 0, or L_ERR_IO if epoll_wait failed for a
 * reason other than EINTR.  One iteration: the before-sleep hook, then
 * the net layer's own flush of queued connection output, then epoll_wait
 * (bounded by the nearest timer), then ready fds, then due timers. */
int ev_run(struct ev_loop *loop);
/* Makes ev_run() return after the current iteration.  Loop thread only;
 * from another thread, signal an ev_async whose callback calls ev_stop. */
void ev_stop(struct ev_loop *loop);
/* Runs a single iteration, waiting at most `max_wait_ms` (-1 = until an
 * event or timer).  For tests and for embedding; returns as ev_run(). */
int ev_run_once(struct ev_loop *loop, int max_wait_ms);
/* The hook runs once per iteration just before the loop sleeps.  The
 * server flushes its queued stanzas there with conn_write(); the bytes
 * are written to sockets right after the hook returns.  NULL removes. */
void ev_set_before_sleep(struct ev_loop *loop, ev_hook_fn cb, void *arg);
/* Monotonic milliseconds, cached at the start of the iteration. */
uint64_t ev_now_ms(const struct ev_loop *loop);

/* Watches fd (non-blocking, owned by the caller) for `mask`.  ev_io_add
 * fails with L_ERR_EXISTS if fd is already watched; ev_io_mod changes the
 * mask (0 keeps the fd registered but silent) and ev_io_del forgets the
 * fd.  All may be called from inside any callback, including the fd's
 * own.  Return 0, L_ERR_NOMEM, L_ERR_IO, L_ERR_NOTFOUND. */
int ev_io_add(struct ev_loop *loop, int fd, int mask, ev_io_fn cb,
    void *arg);
int ev_io_mod(struct ev_loop *loop, int fd, int mask);
int ev_io_del(struct ev_loop *loop, int fd);

/* One-shot timer firing `ms` milliseconds from now (0 = next iteration).
 * Timers with the same deadline fire in the order they were added.
 * Returns a handle (never 0), or 0 if out of memory.  The handle stays
 * safe to pass to ev_timer_cancel even after the timer fired or was
 * cancelled (handles carry a generation and are never reused as-is). */
uint64_t ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_timer_fn cb,
    void *arg);
/* Returns 0 if the timer was pending and is now cancelled, or
 * L_ERR_NOTFOUND if it already fired, was cancelled, or is 0. */
int ev_timer_cancel(struct ev_loop *loop, uint64_t handle);

/* A wakeup another thread can trigger (an eventfd).  cb runs on the loop
 * thread at least once after each ev_async_signal(); several signals
 * before it runs are coalesced into one call, so the callback drains its
 * own queue completely.  ev_async_new returns NULL on failure. */
struct ev_async *ev_async_new(struct ev_loop *loop, ev_async_fn cb,
    void *arg);
/* Thread-safe and async-signal-safe.  Never blocks. */
void ev_async_signal(struct ev_async *a);
/* Loop thread only; after it returns no callback will run.  The caller
 * makes sure no other thread still signals `a`. */
void ev_async_free(struct ev_async *a);

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

/* Why a connection ended (the `reason` of on_close). */
enum conn_reason {
	CONN_R_LOCAL = 0,	/* conn_close() or conn_abort() by the owner */
	CONN_R_EOF = 1,		/* the peer closed (TCP FIN or TLS close) */
	CONN_R_IO = 2,		/* socket error, reset, connect failed */
	CONN_R_TLS = 3,		/* TLS handshake or record failure */
	CONN_R_TIMEOUT = 4,	/* conn_set_timeout() expired */
	CONN_R_LIMIT = 5,	/* refused by a listener cap or rate limit */
};

/* Returns a static name for a conn_reason ("eof", "timeout", ...). */
const char *conn_reason_str(int reason);

/*
 * The owner's callbacks.  The table is borrowed: it must outlive the
 * connection (a static const table is the normal case).  Any member may
 * be NULL except on_close.  `arg` is the owner's pointer given with the
 * table.
 *
 * Lifetime rules:
 * - on_close is called exactly once, always from the loop itself, never
 *   synchronously from inside a conn_* call made by the owner.  So the
 *   owner may call conn_write/conn_close/conn_abort anywhere, including
 *   inside its own callbacks, and keep using `c` until on_close.
 * - The connection is freed as soon as on_close returns; the owner drops
 *   every pointer to it there.  Inside on_close only the getters
 *   (conn_id, conn_peer_addr, ...) may be used.
 * - After conn_close/conn_abort, or once the connection failed, on_data,
 *   on_tls and on_drain are no longer called; conn_write returns
 *   L_ERR_CLOSED.
 * - Inside on_data the owner may call any conn_* function on any
 *   connection, including conn_starttls() and conn_pause_read().
 */
struct conn_cbs {
	/* Decrypted bytes from the peer; `data` is valid only during the
	 * call.  Not called while reads are paused. */
	void (*on_data)(struct conn *c, void *arg, const char *data,
	    size_t len);
	/* The connection is gone; see the lifetime rules above. */
	void (*on_close)(struct conn *c, void *arg, int reason);
	/* A TLS handshake completed (STARTTLS or direct TLS, either side);
	 * version, cipher and peer certificate can be read now. */
	void (*on_tls)(struct conn *c, void *arg);
	/* Client side: the TCP connection is established. */
	void (*on_connect)(struct conn *c, void *arg);
	/* The output queue became empty after it had held bytes that could
	 * not be written at once (for writers that pace themselves). */
	void (*on_drain)(struct conn *c, void *arg);
};

/* Sets (or replaces) the callbacks.  A listener's accept callback must
 * call this before it returns; until then bytes are held, not lost. */
void conn_set_cbs(struct conn *c, const struct conn_cbs *cbs, void *arg);

/* Queues a copy of data for writing (through TLS once it is up).  Bytes
 * are written at the latest right after the loop's before-sleep hook, and
 * sooner when the queue grows large.  Returns 0, L_ERR_LIMIT when the
 * pending output would exceed the budget (nothing is queued; the owner
 * normally aborts the slow reader), L_ERR_NOMEM, or L_ERR_CLOSED.  Never
 * calls back into the owner. */
int conn_write(struct conn *c, const void *data, size_t len);
/* Tries to write queued output now.  Returns 0 (all written), L_AGAIN
 * (some left, the loop will finish it), or L_ERR_CLOSED. */
int conn_flush(struct conn *c);
/* Bytes queued and not yet written to the socket (or to TLS). */
size_t conn_pending_out(const struct conn *c);

/* max_pending_out: output budget in bytes (default 1 MiB, 0 = default).
 * read_budget: bytes read per readiness event before yielding to other
 * connections, for fairness (default 64 KiB, 0 = default). */
void conn_set_limits(struct conn *c, size_t max_pending_out,
    size_t read_budget);
/* Sets the socket's kernel buffers (SO_SNDBUF / SO_RCVBUF; 0 leaves one
 * as it is).  Small buffers keep many idle sessions cheap and make the
 * output budget bite sooner; fixing a size disables kernel autotuning.
 * Returns 0 or L_ERR_IO. */
int conn_set_sockbuf(struct conn *c, int sndbuf, int rcvbuf);
/* Idle timeout: the connection ends with CONN_R_TIMEOUT when no byte was
 * received for `ms` milliseconds (re-armed by every read; also bounds a
 * TLS handshake, whose bytes count as input).  0 disables. */
void conn_set_timeout(struct conn *c, uint64_t ms);

/* Graceful close: stops reading, flushes queued output (bounded by 10 s),
 * sends a TLS close_notify, closes the socket; then on_close(LOCAL). */
void conn_close(struct conn *c);
/* Immediate close: drops queued output; then on_close(LOCAL). */
void conn_abort(struct conn *c);

/* Back-pressure: stop and restart calling on_data.  Bytes that TLS has
 * already decrypted are kept and delivered after conn_resume_read. */
void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);

/* Server side STARTTLS, called after queueing <proceed/>: queued
 * plaintext is flushed first, then the handshake starts; on_tls follows
 * (or on_close with CONN_R_TLS).  Plaintext received after the command
 * is discarded: called from on_data, no further plaintext is delivered,
 * and the owner's parser drops the rest of the current chunk (RFC 6120
 * 5.4.3.3).  ctx is referenced (SSL_CTX_up_ref), not owned.  Returns 0,
 * L_ERR_INVAL (already TLS), L_ERR_NOMEM, L_ERR_CRYPTO, L_ERR_CLOSED. */
int conn_starttls(struct conn *c, SSL_CTX *ctx);
/* Client side: starts a TLS handshake (after <proceed/>, or at once for
 * direct TLS; may be called before the TCP connect completes).
 * servername (may be NULL) is sent as SNI and, when ctx verifies,
 * checked against the server certificate.  Returns as conn_starttls. */
int conn_starttls_client(struct conn *c, SSL_CTX *ctx,
    const char *servername);

/* Opens a non-blocking TCP connection to "HOST:PORT" or "[V6]:PORT"
 * (numeric addresses only), bound to source_addr ("ADDR" or "ADDR:PORT",
 * may be NULL).  Returns the conn, or NULL if the address is invalid or
 * the socket could not be created; a later failure to connect arrives as
 * on_close(CONN_R_IO).  conn_write before the connect completes queues. */
struct conn *conn_connect(struct ev_loop *loop, const char *addr,
    const char *source_addr, const struct conn_cbs *cbs, void *arg);

/* Getters; strings are owned by the conn and valid until it is freed. */
uint64_t conn_id(const struct conn *c);		/* unique per process */
const char *conn_peer_addr(const struct conn *c); /* "1.2.3.4:5", "[::1]:5" */
bool conn_is_tls(const struct conn *c);		/* handshake completed */
bool conn_is_client(const struct conn *c);
const char *conn_tls_version(const struct conn *c);	/* NULL if not TLS */
const char *conn_tls_cipher(const struct conn *c);	/* NULL if not TLS */
/* ALPN protocol agreed ("xmpp-client"), or NULL. */
const char *conn_tls_alpn(const struct conn *c);
/* The peer's certificate (borrowed, valid until the conn is freed), or
 * NULL.  conn_peer_cert_verified tells whether it chained to the
 * context's CA file (a server context with a CA asks for client
 * certificates but does not fail the handshake without one, so SASL
 * EXTERNAL decides). */
X509 *conn_peer_cert(const struct conn *c);
bool conn_peer_cert_verified(const struct conn *c);
/* The OpenSSL object (borrowed) for channel binding, or NULL. */
SSL *conn_ssl(const struct conn *c);
/* Channel binding of this TLS connection (RFC 5056), as SCRAM-PLUS uses
 * it: "tls-exporter" (RFC 9266: 32 bytes of the exporter with label
 * "EXPORTER-Channel-Binding" and no context) on TLS 1.3, "tls-unique"
 * (RFC 5929: the first Finished message) on TLS 1.2.  Writes up to max
 * bytes to out, the length to *len and the static type name to *type.
 * Returns 0, L_ERR_INVAL (no TLS yet, or another version), L_ERR_LIMIT
 * (max too small) or L_ERR_CRYPTO. */
#define CONN_CB_MAX	64
int conn_tls_channel_binding(const struct conn *c, const char **type,
    unsigned char *out, size_t max, size_t *len);
struct ev_loop *conn_loop(const struct conn *c);

/* ------------------------------------------------------------------ */
/* Listeners                                                           */
/* ------------------------------------------------------------------ */

/* Called for each accepted connection; the callee must set callbacks
 * with conn_set_cbs (or conn_abort it).  With direct TLS the handshake
 * starts right after and on_tls follows. */
typedef void (*listener_accept_fn)(struct conn *c, void *arg);

/* Binds and listens on "ADDR:PORT" or "[V6]:PORT" (port 0 picks one; see
 * listener_port).  With direct_tls every connection starts TLS with ctx
 * at once (ctx is referenced; required then, else may be NULL).  Returns
 * NULL on failure and writes the reason to the log. */
struct listener *listener_new(struct ev_loop *loop, const char *addr,
    bool direct_tls, SSL_CTX *ctx, listener_accept_fn cb, void *arg);
/* Stops listening.  Connections already accepted live on. */
void listener_free(struct listener *l);
int listener_port(const struct listener *l);
/* max_conns: concurrent connections of this listener (default 10000).
 * rate_per_sec and burst: new connections accepted per source address
 * (token bucket; defaults 20/s, burst 50).  0 keeps a value unchanged.
 * Connections over a limit are accepted and closed at once (logged,
 * rate-limited), never handed to the accept callback. */
void listener_set_limits(struct listener *l, unsigned max_conns,
    unsigned rate_per_sec, unsigned burst);
unsigned listener_conn_count(const struct listener *l);

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

/* A server context: TLS 1.2 minimum, 1.3 preferred, AEAD ciphers with
 * forward secrecy, no compression, no renegotiation, server cipher
 * preference, ALPN "xmpp-client" when the client offers it (XEP-0368).
 * cert_file holds the certificate chain (PEM); ca_file (may be NULL)
 * enables client certificates for SASL EXTERNAL.  Returns NULL with a
 * message in err.  Free with SSL_CTX_free. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
    const char *ca_file, char *err, size_t errlen);
/* A client context, same protocol limits.  verify: check the server's
 * chain against ca_file (or the system store if NULL) and its name.
 * Returns NULL on failure. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, bool verify);
/* Makes a client context offer ALPN "xmpp-client" (direct TLS). */
int tls_client_ctx_set_alpn_xmpp(SSL_CTX *ctx);

/* Development certificates: unless dir/ca.pem, dir/server.pem and
 * dir/server.key all exist, creates in dir (which must exist) a CA
 * (EC P-256, self-signed, 10 years; ca.pem and ca.key) and a server
 * certificate for `domain` (SAN DNS:domain, DNS:*.domain and the XMPP
 * id-on-xmppAddr otherName; server.pem, server.key) signed by the CA.
 * Keys are written with mode 0600.  Returns 0, or an error with a
 * message in err. */
int tls_make_dev_certs(const char *dir, const char *domain, char *err,
    size_t errlen);

#endif
