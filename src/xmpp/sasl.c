/*
 * Server-side SASL: the mechanism table, the exchange driver that enforces
 * the step contract of sasl.h, SCRAM (RFC 5802, 7677, with -PLUS channel
 * binding), PLAIN (RFC 4616) and strict base64.  An unknown user runs the
 * same exchange against dummy credentials derived from a per-process
 * secret, so neither the messages nor the work reveal whether it exists.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/errors.h"
#include "xmpp/jid.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

#define SCRAM_NONCE_RAW		18	/* random bytes: 24 base64 chars */
#define SCRAM_NONCE_MAX		512	/* client nonce bytes we accept */

enum ctx_phase {
	PHASE_RUNNING,
	PHASE_AWAIT_CREDS,
	PHASE_SUCCESS,
	PHASE_FAILURE,
};

struct sasl_ctx {
	const struct sasl_mech *mech;	/* a row of sasl_mechs */
	const struct sasl_env *env;	/* borrowed, outlives us */
	void *state;			/* the mechanism's, freed by it */
	enum ctx_phase phase;
	char *authcid;			/* prepared localpart, owned */
	int creds_hash;
	bool creds_set;			/* sasl_set_creds was called */
	bool creds_known;		/* and with usable creds */
	bool store_failed;
	struct scram_creds creds;	/* wiped in sasl_free */
	const char *condition;		/* static string */
	char *username;			/* owned, after success */
	char *test_nonce;		/* owned, tests only */
};

/* --- Strict base64 ------------------------------------------------------ */

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
sasl_b64_decode(const char *in, size_t inlen, struct buf *out)
{
	size_t pad = 0, olen;
	int rc, n;

	if (inlen > SASL_B64_INPUT_MAX)
		return L_ERR_LIMIT;
	if (inlen == 0 || (inlen == 1 && in[0] == '='))
		return 0;
	if (inlen % 4 != 0)
		return L_ERR_INVAL;
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	/* Validate first: EVP_DecodeBlock skips whitespace and accepts
	 * non-canonical trailing bits, which a strict peer must not. */
	for (size_t i = 0; i < inlen - pad; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return L_ERR_INVAL;
	if (pad == 2 && (b64_value((unsigned char)in[inlen - 3]) & 0x0f))
		return L_ERR_INVAL;
	if (pad == 1 && (b64_value((unsigned char)in[inlen - 2]) & 0x03))
		return L_ERR_INVAL;
	olen = inlen / 4 * 3;
	if ((rc = buf_reserve(out, olen)) != 0)
		return rc;
	n = EVP_DecodeBlock((unsigned char *)out->data + out->len,
	    (const unsigned char *)in, (int)inlen);
	if (n < 0 || (size_t)n != olen)
		return L_ERR_INVAL;
	out->len += olen - pad;
	out->data[out->len] = '\0';
	return 0;
}

int
sasl_b64_encode(const unsigned char *in, size_t inlen, struct buf *out)
{
	size_t olen;
	int rc;

	if (inlen > SIZE_MAX / 2 || inlen > INT32_MAX / 2)
		return L_ERR_LIMIT;
	olen = (inlen + 2) / 3 * 4;
	if ((rc = buf_reserve(out, olen)) != 0)
		return rc;
	if (inlen > 0)
		EVP_EncodeBlock((unsigned char *)out->data + out->len, in,
		    (int)inlen);
	out->len += olen;
	out->data[out->len] = '\0';
	return 0;
}

/* --- Dummy credentials for unknown users -------------------------------- */

static unsigned char dummy_secret[32];
static bool dummy_ready;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	dummy_ready = RAND_bytes(dummy_secret, sizeof dummy_secret) == 1;
}

/*
 * Fills creds that no password matches, with a salt that is stable for a
 * given user name for the life of the process (a salt that changed on
 * every attempt would itself tell that the user does not exist).
 */
static int
dummy_creds(int hash, const char *authcid, struct scram_creds *c)
{
	unsigned char mac[32];
	int rc;

	memset(c, 0, sizeof *c);
	pthread_once(&dummy_once, dummy_init);
	if (!dummy_ready)
		return L_ERR_CRYPTO;
	if (hash == 0)
		hash = SCRAM_SHA256;
	if ((rc = scram_hmac(SCRAM_SHA256, dummy_secret, sizeof dummy_secret,
	    authcid, strlen(authcid), mac)) != 0)
		return rc;
	c->hash = hash;
	memcpy(c->salt, mac, SCRAM_SALT_LEN);
	c->salt_len = SCRAM_SALT_LEN;
	c->iterations = SCRAM_ITER_DEFAULT;
	c->key_len = scram_hash_len(hash);
	if (RAND_bytes(c->stored_key, (int)c->key_len) != 1 ||
	    RAND_bytes(c->server_key, (int)c->key_len) != 1)
		return L_ERR_CRYPTO;
	return 0;
}

/* Does the authzid name the user authcid@domain (a bare JID)? */
static bool
authzid_is_self(const char *authzid, size_t len, const char *authcid,
    const char *domain)
{
	struct jid j;
	bool ok;

	if (domain == NULL || jid_parse_n(authzid, len, &j) != 0)
		return false;
	ok = j.node != NULL && j.resource == NULL &&
	    strcmp(j.node, authcid) == 0 && strcmp(j.domain, domain) == 0;
	jid_cleanup(&j);
	return ok;
}

/* --- SCRAM ---------------------------------------------------------------- */

enum scram_phase {
	SCRAM_EXPECT_FIRST,
	SCRAM_AWAIT_CREDS,
	SCRAM_EXPECT_FINAL,
};

struct scram_state {
	enum scram_phase phase;
	int hash;
	bool plus;
	struct buf gs2_header;		/* "n,," or "p=tls-exporter,a=..," */
	struct buf first_bare;		/* client-first-message-bare */
	struct buf server_first;
	struct buf nonce;		/* client nonce + server nonce */
	struct scram_creds creds;	/* real or dummy */
	bool user_known;
};

static int
scram_start(struct sasl_ctx *ctx)
{
	struct scram_state *st;

	if ((st = calloc(1, sizeof *st)) == NULL)
		return L_ERR_NOMEM;
	st->hash = ctx->mech->param;
	st->plus = (ctx->mech->flags & SASL_NEEDS_CB) != 0;
	buf_init(&st->gs2_header, SASL_INPUT_MAX);
	buf_init(&st->first_bare, SASL_INPUT_MAX);
	buf_init(&st->server_first, SASL_INPUT_MAX);
	buf_init(&st->nonce, SASL_INPUT_MAX);
	ctx->state = st;
	return 0;
}

static void
scram_free(struct sasl_ctx *ctx)
{
	struct scram_state *st = ctx->state;

	if (st == NULL)
		return;
	buf_cleanup(&st->gs2_header);
	buf_cleanup(&st->first_bare);
	buf_cleanup(&st->server_first);
	buf_cleanup(&st->nonce);
	scram_creds_wipe(&st->creds);
	free(st);
	ctx->state = NULL;
}

/*
 * Decodes a saslname (RFC 5802: ',' as "=2C", '=' as "=3D") of [p, p+len)
 * into a new string; NULL on a bad escape, NUL byte or no memory.
 */
static char *
scram_saslname_decode(const char *p, size_t len)
{
	char *s = malloc(len + 1);
	size_t o = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0')
			goto err;
		if (p[i] != '=') {
			s[o++] = p[i];
			continue;
		}
		if (len - i < 3)
			goto err;
		if (p[i + 1] == '2' && p[i + 2] == 'C')
			s[o++] = ',';
		else if (p[i + 1] == '3' && p[i + 2] == 'D')
			s[o++] = '=';
		else
			goto err;
		i += 2;
	}
	s[o] = '\0';
	return s;
err:
	free(s);
	return NULL;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E. */
static bool
scram_nonce_is_valid(const char *p, size_t len)
{
	if (len == 0 || len > SCRAM_NONCE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* Finds the next ',' in [p, end) or returns end. */
static const char *
next_comma(const char *p, const char *end)
{
	const char *c = memchr(p, ',', (size_t)(end - p));

	return c != NULL ? c : end;
}

static int
scram_client_first(struct sasl_ctx *ctx, struct scram_state *st,
    const char *in, size_t inlen)
{
	const struct sasl_env *env = ctx->env;
	const char *end = in + inlen, *p = in, *f, *bare;
	const char *authzid = NULL, *nonce;
	size_t authzid_len = 0, nonce_len;
	char *name = NULL, *authcid = NULL, *authz = NULL;
	int rc;

	if (inlen == 0 || memchr(in, '\0', inlen) != NULL)
		return sasl_ctx_fail(ctx, "malformed-request");
	/* gs2-cbind-flag: "p=" cb-name / "n" / "y". */
	f = next_comma(p, end);
	if (f == end)
		return sasl_ctx_fail(ctx, "malformed-request");
	if (f - p == 1 && (*p == 'n' || *p == 'y')) {
		if (st->plus)
			return sasl_ctx_fail(ctx, "malformed-request");
		/* 'y': the client could bind but thinks we cannot.  If we
		 * advertised -PLUS, someone stripped it (RFC 5802 6). */
		if (*p == 'y' && env->is_tls && env->cb_data != NULL &&
		    env->cb_type != NULL)
			return sasl_ctx_fail(ctx, "not-authorized");
	} else if (f - p > 2 && p[0] == 'p' && p[1] == '=') {
		if (!st->plus || env->cb_type == NULL ||
		    strlen(env->cb_type) != (size_t)(f - p - 2) ||
		    memcmp(p + 2, env->cb_type, (size_t)(f - p - 2)) != 0)
			return sasl_ctx_fail(ctx, "not-authorized");
	} else
		return sasl_ctx_fail(ctx, "malformed-request");
	p = f + 1;
	/* [ authzid ] "," */
	f = next_comma(p, end);
	if (f == end)
		return sasl_ctx_fail(ctx, "malformed-request");
	if (f != p) {
		if (f - p < 3 || p[0] != 'a' || p[1] != '=')
			return sasl_ctx_fail(ctx, "malformed-request");
		authzid = p + 2;
		authzid_len = (size_t)(f - p - 2);
	}
	bare = f + 1;
	if ((rc = buf_append(&st->gs2_header, in, (size_t)(bare - in))) != 0)
		goto nomem;
	/* client-first-message-bare: "n=" saslname ",r=" nonce [,ext]. */
	p = bare;
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
		return sasl_ctx_fail(ctx, "malformed-request");
	f = next_comma(p, end);
	if (f == end || f - p < 3 || p[0] != 'n' || p[1] != '=')
		return sasl_ctx_fail(ctx, "malformed-request");
	if ((name = scram_saslname_decode(p + 2, (size_t)(f - p - 2))) == NULL)
		return sasl_ctx_fail(ctx, "malformed-request");
	p = f + 1;
	f = next_comma(p, end);
	if (f - p < 3 || p[0] != 'r' || p[1] != '=') {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	nonce = p + 2;
	nonce_len = (size_t)(f - p - 2);
	if (!scram_nonce_is_valid(nonce, nonce_len)) {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	/* Extensions after the nonce are ignored (RFC 5802 5.1). */
	if ((rc = jid_prep_node(name, &authcid)) != 0) {
		/* No account can have this name: failing now says
		 * nothing about which accounts exist. */
		rc = sasl_ctx_fail(ctx, rc == L_ERR_NOMEM ?
		    "temporary-auth-failure" : "not-authorized");
		goto out;
	}
	if (authzid != NULL) {
		if ((authz = scram_saslname_decode(authzid, authzid_len))
		    == NULL || !authzid_is_self(authz, strlen(authz), authcid,
		    env->domain)) {
			rc = sasl_ctx_fail(ctx, "invalid-authzid");
			goto out;
		}
	}
	if ((rc = buf_append(&st->first_bare, bare, (size_t)(end - bare)))
	    != 0 || (rc = buf_append(&st->nonce, nonce, nonce_len)) != 0 ||
	    (rc = sasl_ctx_want_creds(ctx, authcid, st->hash)) != 0)
		goto nomem_out;
	st->phase = SCRAM_AWAIT_CREDS;
	rc = SASL_NEED_CREDS;
	goto out;
nomem_out:
	rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
out:
	free(name);
	free(authcid);
	free(authz);
	return rc;
nomem:
	return sasl_ctx_fail(ctx, "temporary-auth-failure");
}

static int
scram_server_first(struct sasl_ctx *ctx, struct scram_state *st,
    struct buf *out)
{
	unsigned char raw[SCRAM_NONCE_RAW];
	const struct scram_creds *c = sasl_ctx_creds(ctx);
	int rc;

	if (sasl_ctx_store_failed(ctx))
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	if (c != NULL && c->hash == st->hash) {
		st->creds = *c;
		st->user_known = true;
	} else if (dummy_creds(st->hash, ctx->authcid, &st->creds) != 0)
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	if (ctx->test_nonce != NULL)
		rc = buf_append_str(&st->nonce, ctx->test_nonce);
	else if (RAND_bytes(raw, sizeof raw) != 1)
		rc = L_ERR_CRYPTO;
	else
		rc = sasl_b64_encode(raw, sizeof raw, &st->nonce);
	if (rc != 0 ||
	    (rc = buf_append_str(&st->server_first, "r=")) != 0 ||
	    (rc = buf_append(&st->server_first, st->nonce.data,
	    st->nonce.len)) != 0 ||
	    (rc = buf_append_str(&st->server_first, ",s=")) != 0 ||
	    (rc = sasl_b64_encode(st->creds.salt, st->creds.salt_len,
	    &st->server_first)) != 0 ||
	    (rc = buf_appendf(&st->server_first, ",i=%u",
	    st->creds.iterations)) != 0 ||
	    (rc = buf_append(out, st->server_first.data,
	    st->server_first.len)) != 0)
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	st->phase = SCRAM_EXPECT_FINAL;
	return SASL_CONTINUE;
}

/*
 * Checks the channel-binding field: base64 of the gs2 header, followed by
 * the binding data for -PLUS.
 */
static bool
scram_cbind_matches(const struct sasl_ctx *ctx, const struct scram_state *st,
    const char *p, size_t len)
{
	struct buf want, got;
	bool ok = false;

	buf_init(&want, 0);
	buf_init(&got, 0);
	if (buf_append(&want, st->gs2_header.data, st->gs2_header.len) != 0)
		goto out;
	if (st->plus && buf_append(&want, ctx->env->cb_data,
	    ctx->env->cb_len) != 0)
		goto out;
	if (sasl_b64_decode(p, len, &got) != 0)
		goto out;
	ok = got.len == want.len && scram_mem_equal(got.data, want.data,
	    want.len);
out:
	buf_cleanup(&want);
	buf_cleanup(&got);
	return ok;
}

static int
scram_client_final(struct sasl_ctx *ctx, struct scram_state *st,
    const unsigned char *uin, size_t inlen, struct buf *out)
{
	const char *in = (const char *)uin, *end = in + inlen, *p, *f;
	const char *proof_at;
	unsigned char proof[SCRAM_KEY_MAX], sig[SCRAM_KEY_MAX];
	unsigned char client_key[SCRAM_KEY_MAX], stored[SCRAM_KEY_MAX];
	size_t hl = st->creds.key_len;
	struct buf auth, pbuf;
	bool ok;
	int rc;

	buf_init(&auth, 0);
	buf_init(&pbuf, 0);
	if (in == NULL || inlen == 0 || memchr(in, '\0', inlen) != NULL) {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	/* "c=" cbind ",r=" nonce [,ext] ",p=" proof; the proof is last. */
	proof_at = NULL;
	for (p = end; p - in >= 3; p--)
		if (p[-3] == ',' && p[-2] == 'p' && p[-1] == '=') {
			proof_at = p - 3;
			break;
		}
	f = next_comma(in, end);
	if (proof_at == NULL || f - in < 2 || in[0] != 'c' || in[1] != '=' ||
	    f > proof_at) {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	if (!scram_cbind_matches(ctx, st, in + 2, (size_t)(f - in - 2))) {
		rc = sasl_ctx_fail(ctx, "not-authorized");
		goto out;
	}
	p = f + 1;
	f = next_comma(p, end);
	if (f > proof_at || f - p < 2 || p[0] != 'r' || p[1] != '=') {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	/* The nonce must be ours: a replayed client-final carries the
	 * nonce of another exchange. */
	if ((size_t)(f - p - 2) != st->nonce.len ||
	    memcmp(p + 2, st->nonce.data, st->nonce.len) != 0) {
		rc = sasl_ctx_fail(ctx, "not-authorized");
		goto out;
	}
	if (sasl_b64_decode(proof_at + 3, (size_t)(end - proof_at - 3),
	    &pbuf) != 0 || pbuf.len != hl) {
		rc = sasl_ctx_fail(ctx, "malformed-request");
		goto out;
	}
	memcpy(proof, pbuf.data, hl);
	/* AuthMessage = client-first-bare "," server-first ","
	 * client-final-without-proof. */
	if (buf_append(&auth, st->first_bare.data, st->first_bare.len) != 0 ||
	    buf_append(&auth, ",", 1) != 0 ||
	    buf_append(&auth, st->server_first.data, st->server_first.len)
	    != 0 || buf_append(&auth, ",", 1) != 0 ||
	    buf_append(&auth, in, (size_t)(proof_at - in)) != 0) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	/* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); the client
	 * knows the password iff H(ClientKey) == StoredKey.  Dummy creds
	 * go through the same computation. */
	if (scram_hmac(st->hash, st->creds.stored_key, hl, auth.data,
	    auth.len, sig) != 0) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	for (size_t i = 0; i < hl; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (scram_hash(st->hash, client_key, hl, stored) != 0) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	ok = scram_mem_equal(stored, st->creds.stored_key, hl);
	if (!ok || !st->user_known) {
		rc = sasl_ctx_fail(ctx, "not-authorized");
		goto out;
	}
	if (scram_hmac(st->hash, st->creds.server_key, hl, auth.data,
	    auth.len, sig) != 0 || buf_append_str(out, "v=") != 0 ||
	    sasl_b64_encode(sig, hl, out) != 0) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	rc = sasl_ctx_succeed(ctx);
out:
	l_wipe(proof, sizeof proof);
	l_wipe(sig, sizeof sig);
	l_wipe(client_key, sizeof client_key);
	l_wipe(stored, sizeof stored);
	buf_cleanup(&auth);
	buf_cleanup(&pbuf);
	return rc;
}

static int
scram_step(struct sasl_ctx *ctx, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	struct scram_state *st = ctx->state;

	switch (st->phase) {
	case SCRAM_EXPECT_FIRST:
		if (in == NULL)	/* no initial response: empty challenge */
			return SASL_CONTINUE;
		return scram_client_first(ctx, st, (const char *)in, inlen);
	case SCRAM_AWAIT_CREDS:
		return scram_server_first(ctx, st, out);
	case SCRAM_EXPECT_FINAL:
		return scram_client_final(ctx, st, in, inlen, out);
	}
	return sasl_ctx_fail(ctx, "temporary-auth-failure");
}

/* --- PLAIN ---------------------------------------------------------------- */

struct plain_state {
	bool awaiting;
	char *password;			/* wiped and freed */
};

static int
plain_start(struct sasl_ctx *ctx)
{
	if ((ctx->state = calloc(1, sizeof(struct plain_state))) == NULL)
		return L_ERR_NOMEM;
	return 0;
}

static void
plain_free(struct sasl_ctx *ctx)
{
	struct plain_state *st = ctx->state;

	if (st == NULL)
		return;
	if (st->password != NULL) {
		l_wipe(st->password, strlen(st->password));
		free(st->password);
	}
	free(st);
	ctx->state = NULL;
}

static int
plain_message(struct sasl_ctx *ctx, struct plain_state *st,
    const unsigned char *in, size_t inlen)
{
	const char *s = (const char *)in, *end = s + inlen;
	const char *z1, *z2, *authcid_raw, *pw;
	char *name = NULL, *authcid = NULL;
	size_t pwlen;
	int rc;

	/* message = [authzid] NUL authcid NUL passwd (RFC 4616). */
	if ((z1 = memchr(s, '\0', inlen)) == NULL ||
	    (z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1))) == NULL ||
	    memchr(z2 + 1, '\0', (size_t)(end - z2 - 1)) != NULL)
		return sasl_ctx_fail(ctx, "malformed-request");
	authcid_raw = z1 + 1;
	pw = z2 + 1;
	pwlen = (size_t)(end - pw);
	if (z2 == authcid_raw || pwlen == 0 || pwlen > SCRAM_PASSWORD_MAX)
		return sasl_ctx_fail(ctx, "malformed-request");
	if ((name = l_strndup(authcid_raw, (size_t)(z2 - authcid_raw)))
	    == NULL) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	if ((rc = jid_prep_node(name, &authcid)) != 0) {
		rc = sasl_ctx_fail(ctx, rc == L_ERR_NOMEM ?
		    "temporary-auth-failure" : "not-authorized");
		goto out;
	}
	if (z1 != s && !authzid_is_self(s, (size_t)(z1 - s), authcid,
	    ctx->env->domain)) {
		rc = sasl_ctx_fail(ctx, "invalid-authzid");
		goto out;
	}
	if ((st->password = l_strndup(pw, pwlen)) == NULL ||
	    sasl_ctx_want_creds(ctx, authcid, 0) != 0) {
		rc = sasl_ctx_fail(ctx, "temporary-auth-failure");
		goto out;
	}
	st->awaiting = true;
	rc = SASL_NEED_CREDS;
out:
	free(name);
	free(authcid);
	return rc;
}

static int
plain_verify(struct sasl_ctx *ctx, struct plain_state *st)
{
	const struct scram_creds *c = sasl_ctx_creds(ctx);
	struct scram_creds dummy;
	int rc;

	if (sasl_ctx_store_failed(ctx))
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	if (c == NULL) {
		/* Same derivation as for a real user, bound to fail. */
		if (dummy_creds(SCRAM_SHA256, ctx->authcid, &dummy) != 0) {
			scram_creds_wipe(&dummy);
			return sasl_ctx_fail(ctx, "temporary-auth-failure");
		}
		(void)scram_creds_verify_password(&dummy, st->password);
		scram_creds_wipe(&dummy);
		return sasl_ctx_fail(ctx, "not-authorized");
	}
	rc = scram_creds_verify_password(c, st->password);
	l_wipe(st->password, strlen(st->password));
	if (rc == L_ERR_AUTH)
		return sasl_ctx_fail(ctx, "not-authorized");
	if (rc != 0)
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	return sasl_ctx_succeed(ctx);
}

static int
plain_step(struct sasl_ctx *ctx, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	struct plain_state *st = ctx->state;

	if (st->awaiting)
		return plain_verify(ctx, st);
	if (in == NULL)		/* no initial response: empty challenge */
		return SASL_CONTINUE;
	return plain_message(ctx, st, in, inlen);
}

/* --- The table and the driver ---------------------------------------------- */

/* Preference order: strongest first. */
static const struct sasl_mech sasl_mechs[] = {
	{ "SCRAM-SHA-256-PLUS", SASL_NEEDS_TLS | SASL_NEEDS_CB, SCRAM_SHA256,
	    scram_start, scram_step, scram_free },
	{ "SCRAM-SHA-1-PLUS", SASL_NEEDS_TLS | SASL_NEEDS_CB, SCRAM_SHA1,
	    scram_start, scram_step, scram_free },
	{ "SCRAM-SHA-256", 0, SCRAM_SHA256,
	    scram_start, scram_step, scram_free },
	{ "SCRAM-SHA-1", 0, SCRAM_SHA1,
	    scram_start, scram_step, scram_free },
	{ "PLAIN", SASL_NEEDS_TLS, 0,
	    plain_start, plain_step, plain_free },
};
#define SASL_NMECHS (sizeof sasl_mechs / sizeof sasl_mechs[0])
_Static_assert(SASL_NMECHS <= SASL_MECHS_MAX, "too many mechanisms");

/* Does the connection meet a row's requirements other than TLS? */
static bool
mech_is_possible(const struct sasl_mech *m, const struct sasl_env *env)
{
	if ((m->flags & SASL_NEEDS_CERT) && !(env->is_tls && env->has_cert))
		return false;
	if ((m->flags & SASL_NEEDS_CB) && !(env->is_tls &&
	    env->cb_type != NULL && env->cb_data != NULL && env->cb_len > 0))
		return false;
	return true;
}

size_t
sasl_mechs_offer(const struct sasl_env *env, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < SASL_NMECHS && n < max; i++) {
		const struct sasl_mech *m = &sasl_mechs[i];

		if ((m->flags & SASL_NEEDS_TLS) && !env->is_tls)
			continue;
		if (!mech_is_possible(m, env))
			continue;
		names[n++] = m->name;
	}
	return n;
}

const char *
sasl_rc_condition(int rc)
{
	switch (rc) {
	case L_ERR_INVAL:
		return "invalid-mechanism";
	case L_ERR_DENIED:
		return "encryption-required";
	default:
		return "temporary-auth-failure";
	}
}

struct sasl_ctx *
sasl_new(const char *mech, const struct sasl_env *env, int *rc)
{
	const struct sasl_mech *m = NULL;
	struct sasl_ctx *ctx;

	for (size_t i = 0; mech != NULL && i < SASL_NMECHS; i++)
		if (strcmp(sasl_mechs[i].name, mech) == 0)
			m = &sasl_mechs[i];
	if (m == NULL || !mech_is_possible(m, env)) {
		*rc = L_ERR_INVAL;
		return NULL;
	}
	if ((m->flags & SASL_NEEDS_TLS) && !env->is_tls) {
		*rc = L_ERR_DENIED;
		return NULL;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL) {
		*rc = L_ERR_NOMEM;
		return NULL;
	}
	ctx->mech = m;
	ctx->env = env;
	if ((*rc = m->start(ctx)) != 0) {
		sasl_free(ctx);
		return NULL;
	}
	return ctx;
}

int
sasl_step(struct sasl_ctx *ctx, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	int r;

	buf_reset(out);
	switch (ctx->phase) {
	case PHASE_SUCCESS:
	case PHASE_FAILURE:
		if (ctx->condition == NULL)
			ctx->condition = "malformed-request";
		ctx->phase = PHASE_FAILURE;
		return SASL_FAILURE;
	case PHASE_AWAIT_CREDS:
		/* The resume must carry no data and follow set_creds (or
		 * set_store_error): anything else is a session bug. */
		if (in != NULL || !ctx->creds_set)
			return sasl_ctx_fail(ctx, "temporary-auth-failure");
		ctx->phase = PHASE_RUNNING;
		break;
	case PHASE_RUNNING:
		if (in != NULL && inlen > SASL_INPUT_MAX)
			return sasl_ctx_fail(ctx, "malformed-request");
		break;
	}
	r = ctx->mech->step(ctx, in, inlen, out);
	switch (r) {
	case SASL_CONTINUE:
		break;
	case SASL_NEED_CREDS:
		ctx->phase = PHASE_AWAIT_CREDS;
		ctx->creds_set = false;
		break;
	case SASL_SUCCESS:
		ctx->phase = PHASE_SUCCESS;
		break;
	default:
		if (ctx->condition == NULL)
			ctx->condition = "temporary-auth-failure";
		r = SASL_FAILURE;
		break;
	}
	if (r == SASL_FAILURE) {
		ctx->phase = PHASE_FAILURE;
		if (out->data != NULL)
			l_wipe(out->data, out->len);
		buf_reset(out);
	}
	return r;
}

const char *
sasl_authcid(const struct sasl_ctx *ctx)
{
	return ctx->authcid;
}

int
sasl_creds_hash(const struct sasl_ctx *ctx)
{
	return ctx->creds_hash;
}

void
sasl_set_creds(struct sasl_ctx *ctx, const struct scram_creds *creds)
{
	scram_creds_wipe(&ctx->creds);
	ctx->creds_set = true;
	ctx->creds_known = false;
	if (creds == NULL)
		return;
	/* Creds of the wrong hash or malformed ones are treated as no
	 * user: the exchange then fails like any unknown user. */
	if (creds->key_len != scram_hash_len(creds->hash) ||
	    creds->key_len == 0 || creds->salt_len == 0 ||
	    creds->salt_len > SCRAM_SALT_MAX || creds->iterations == 0 ||
	    creds->iterations > SCRAM_ITER_MAX ||
	    (ctx->creds_hash != 0 && creds->hash != ctx->creds_hash))
		return;
	ctx->creds = *creds;
	ctx->creds_known = true;
}

void
sasl_set_store_error(struct sasl_ctx *ctx)
{
	ctx->store_failed = true;
	ctx->creds_set = true;
}

const char *
sasl_username(const struct sasl_ctx *ctx)
{
	return ctx->phase == PHASE_SUCCESS ? ctx->username : NULL;
}

const char *
sasl_condition(const struct sasl_ctx *ctx)
{
	return ctx->phase == PHASE_FAILURE ? ctx->condition : NULL;
}

const char *
sasl_mech_name(const struct sasl_ctx *ctx)
{
	return ctx->mech->name;
}

void
sasl_free(struct sasl_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->mech != NULL && ctx->mech->free != NULL)
		ctx->mech->free(ctx);
	scram_creds_wipe(&ctx->creds);
	free(ctx->authcid);
	free(ctx->username);
	free(ctx->test_nonce);
	free(ctx);
}

void *
sasl_mech_state(const struct sasl_ctx *ctx)
{
	return ctx->state;
}

void
sasl_mech_state_set(struct sasl_ctx *ctx, void *state)
{
	ctx->state = state;
}

const struct sasl_env *
sasl_ctx_env(const struct sasl_ctx *ctx)
{
	return ctx->env;
}

const struct sasl_mech *
sasl_ctx_mech(const struct sasl_ctx *ctx)
{
	return ctx->mech;
}

int
sasl_ctx_fail(struct sasl_ctx *ctx, const char *condition)
{
	ctx->condition = condition;
	ctx->phase = PHASE_FAILURE;
	return SASL_FAILURE;
}

int
sasl_ctx_want_creds(struct sasl_ctx *ctx, const char *authcid, int hash)
{
	char *s;

	if ((s = l_strdup(authcid)) == NULL)
		return L_ERR_NOMEM;
	free(ctx->authcid);
	ctx->authcid = s;
	ctx->creds_hash = hash;
	return 0;
}

const struct scram_creds *
sasl_ctx_creds(const struct sasl_ctx *ctx)
{
	return ctx->creds_known ? &ctx->creds : NULL;
}

bool
sasl_ctx_store_failed(const struct sasl_ctx *ctx)
{
	return ctx->store_failed;
}

int
sasl_ctx_succeed(struct sasl_ctx *ctx)
{
	if (ctx->authcid == NULL)
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	free(ctx->username);
	if ((ctx->username = l_strdup(ctx->authcid)) == NULL)
		return sasl_ctx_fail(ctx, "temporary-auth-failure");
	return SASL_SUCCESS;
}

int
sasl_test_set_nonce(struct sasl_ctx *ctx, const char *nonce)
{
	char *s;

	if (!scram_nonce_is_valid(nonce, strlen(nonce)))
		return L_ERR_INVAL;
	if ((s = l_strdup(nonce)) == NULL)
		return L_ERR_NOMEM;
	free(ctx->test_nonce);
	ctx->test_nonce = s;
	return 0;
}
