/*
 * Server side of SASL (RFC 6120 section 6): a table of mechanisms, each a
 * row of functions, and the session-facing exchange.  The session owns the
 * XML and the store look-up; this module owns the bytes of the exchange.
 * Rows, in preference order: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (only
 * with channel-binding data), SCRAM-SHA-256, SCRAM-SHA-1, PLAIN (TLS only).
 */
#ifndef LIAISON_XMPP_SASL_H
#define LIAISON_XMPP_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "xmpp/scram.h"

#define SASL_INPUT_MAX		4096	/* decoded bytes per client message */
#define SASL_B64_INPUT_MAX	5464	/* base64 of SASL_INPUT_MAX (+ slack) */
#define SASL_MECHS_MAX		8	/* rows in the table */

/* Mechanism flags. */
#define SASL_NEEDS_TLS		0x01	/* offered only inside TLS */
#define SASL_NEEDS_CERT		0x02	/* offered only with a client cert */
#define SASL_NEEDS_CB		0x04	/* offered only with channel binding */

/* sasl_step results (positive: distinct from the L_* codes). */
enum {
	SASL_CONTINUE = 1,	/* send `out` in a <challenge/> */
	SASL_NEED_CREDS = 2,	/* fetch creds of sasl_authcid(), see below */
	SASL_SUCCESS = 3,	/* send <success/>, with `out` if non-empty */
	SASL_FAILURE = 4,	/* send <failure/> with sasl_condition() */
};

/*
 * What the session knows about the connection.  Borrowed by sasl_new for
 * the lifetime of the context: it must outlive it.
 */
struct sasl_env {
	const char *domain;		/* prepared domainpart of this host */
	bool is_tls;
	bool has_cert;			/* a verified client certificate */
	/*
	 * Channel binding of this TLS connection, or NULL/0 when none: with
	 * it the -PLUS rows are offered and a client 'y' flag is refused
	 * (RFC 5802 downgrade protection).  cb_type is "tls-exporter"
	 * (TLS 1.3, RFC 9266) or "tls-unique" (TLS 1.2).
	 */
	const char *cb_type;
	const unsigned char *cb_data;
	size_t cb_len;
};

struct sasl_ctx;

/*
 * A mechanism: one row of the table.  start is called by sasl_new (it may
 * allocate its state with sasl_mech_state_set); step receives each client
 * message (in == NULL only for "no initial response" or the resume after
 * SASL_NEED_CREDS) and returns a SASL_* result; free releases and wipes
 * its state.  `param` is a per-row constant (the SCRAM hash).  A new row,
 * such as EXTERNAL (XEP-0178, flags SASL_NEEDS_TLS | SASL_NEEDS_CERT), needs
 * nothing else from this header.
 */
struct sasl_mech {
	const char *name;
	unsigned flags;
	int param;
	int (*start)(struct sasl_ctx *ctx);
	int (*step)(struct sasl_ctx *ctx, const unsigned char *in,
	    size_t inlen, struct buf *out);
	void (*free)(struct sasl_ctx *ctx);
};

/*
 * Fills names[0..max) with the mechanisms to advertise for `env`, in
 * preference order; returns how many.  The names are static strings.
 */
size_t sasl_mechs_offer(const struct sasl_env *env, const char **names,
    size_t max);

/*
 * Starts an exchange for mechanism `mech` (as named in <auth mechanism=>).
 * Returns NULL with *rc set: L_ERR_INVAL (unknown or not offered here ->
 * "invalid-mechanism"), L_ERR_DENIED (needs TLS -> "encryption-required")
 * or L_ERR_NOMEM ("temporary-auth-failure").  sasl_rc_condition maps these
 * codes to the RFC 6120 condition.
 */
struct sasl_ctx *sasl_new(const char *mech, const struct sasl_env *env,
    int *rc);
const char *sasl_rc_condition(int rc);

/*
 * THE STEP CONTRACT.
 *
 * The session calls sasl_step with the decoded payload of <auth/> (in ==
 * NULL if the element was empty: no initial response; "=" decodes to an
 * empty, non-NULL response) and then of each <response/>.  `out` is reset
 * first and receives raw bytes (the session base64-encodes them).
 *
 *   SASL_CONTINUE   send <challenge>b64(out)</challenge> ("=" if empty),
 *                   wait for <response/>, call sasl_step again.
 *   SASL_NEED_CREDS look up the credentials of user sasl_authcid(ctx)
 *                   (the prepared localpart) for hash sasl_creds_hash(ctx)
 *                   (SCRAM_SHA1, SCRAM_SHA256, or 0: any one the user
 *                   has) asynchronously; then call sasl_set_creds(ctx,
 *                   &creds), sasl_set_creds(ctx, NULL) when there is no
 *                   such user, or sasl_set_store_error(ctx) when the
 *                   look-up failed (the exchange then ends with
 *                   temporary-auth-failure), and then sasl_step(ctx,
 *                   NULL, 0, out) again.  Nothing is sent meanwhile.
 *                   Resuming without one of these calls, or with data,
 *                   fails with temporary-auth-failure.
 *   SASL_SUCCESS    send <success/> with b64(out) as text if out.len > 0
 *                   (SCRAM server-final "v=...").  sasl_username(ctx) is
 *                   the authenticated localpart.
 *   SASL_FAILURE    send <failure><COND/></failure> with COND =
 *                   sasl_condition(ctx).  An unknown user and a wrong
 *                   password give the same condition (not-authorized),
 *                   at the same step, after similar work.
 *
 * Client input over SASL_INPUT_MAX fails with malformed-request.  After
 * SUCCESS or FAILURE, further steps return SASL_FAILURE.  <abort/> is the
 * session's: it frees the context and sends the "aborted" condition.
 */
int sasl_step(struct sasl_ctx *ctx, const unsigned char *in, size_t inlen,
    struct buf *out);

/* Valid after SASL_NEED_CREDS (and after success): prepared localpart. */
const char *sasl_authcid(const struct sasl_ctx *ctx);
/* Which credentials to fetch: SCRAM_SHA1, SCRAM_SHA256 or 0 (any). */
int sasl_creds_hash(const struct sasl_ctx *ctx);
/* Copies *creds (the caller may wipe its own); NULL = no such user. */
void sasl_set_creds(struct sasl_ctx *ctx, const struct scram_creds *creds);
/* The look-up failed: the exchange ends with temporary-auth-failure. */
void sasl_set_store_error(struct sasl_ctx *ctx);

/* The localpart authenticated, or NULL before SASL_SUCCESS. */
const char *sasl_username(const struct sasl_ctx *ctx);
/* RFC 6120 6.5 condition after SASL_FAILURE, else NULL. */
const char *sasl_condition(const struct sasl_ctx *ctx);
/* The mechanism name of this exchange. */
const char *sasl_mech_name(const struct sasl_ctx *ctx);

/* Wipes and frees; NULL is fine. */
void sasl_free(struct sasl_ctx *ctx);

/*
 * Strict base64 (RFC 4648, with padding, no whitespace).  decode: "=" alone
 * is the empty response (RFC 6120 6.4.2); any other character outside the
 * alphabet, bad padding or non-zero trailing bits is L_ERR_INVAL; input over
 * SASL_B64_INPUT_MAX is L_ERR_LIMIT.  decode appends raw bytes (it may hold
 * a password: l_wipe it before buf_cleanup); encode appends text ("" for
 * empty input).  Both return 0 or a negative code.
 */
int sasl_b64_decode(const char *in, size_t inlen, struct buf *out);
int sasl_b64_encode(const unsigned char *in, size_t inlen, struct buf *out);

/* For mechanisms (rows): their state, environment and outcome. */
void *sasl_mech_state(const struct sasl_ctx *ctx);
void sasl_mech_state_set(struct sasl_ctx *ctx, void *state);
const struct sasl_env *sasl_ctx_env(const struct sasl_ctx *ctx);
const struct sasl_mech *sasl_ctx_mech(const struct sasl_ctx *ctx);
/* Records the condition; returns SASL_FAILURE. */
int sasl_ctx_fail(struct sasl_ctx *ctx, const char *condition);
/* Sets the prepared authcid and the hash wanted; 0 or L_ERR_NOMEM. */
int sasl_ctx_want_creds(struct sasl_ctx *ctx, const char *authcid,
    int hash);
/* The creds set by the session, or NULL for an unknown user. */
const struct scram_creds *sasl_ctx_creds(const struct sasl_ctx *ctx);
/* True if sasl_set_store_error was called. */
bool sasl_ctx_store_failed(const struct sasl_ctx *ctx);
/* Marks success for the authcid set earlier; returns SASL_SUCCESS. */
int sasl_ctx_succeed(struct sasl_ctx *ctx);

/*
 * Test hook: the next SCRAM server nonce part is `nonce` instead of random
 * bytes (to replay the RFC 5802 / RFC 7677 examples).  Tests only.
 */
int sasl_test_set_nonce(struct sasl_ctx *ctx, const char *nonce);

#endif
