/*
 * Unit tests of SCRAM credentials and the SASL mechanisms: the published
 * RFC 5802 and RFC 7677 exchanges byte for byte, wrong passwords, unknown
 * users, replayed and tampered messages, channel binding flags, authzid,
 * PLAIN inside and outside TLS, the step contract, and strict base64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

static const struct sasl_env env_plain = { .domain = "example.com" };
static const struct sasl_env env_tls = {
	.domain = "example.com", .is_tls = true,
};
static const unsigned char cb_bytes[] = "0123456789abcdef0123456789abcdef";
static const struct sasl_env env_cb = {
	.domain = "example.com", .is_tls = true,
	.cb_type = "tls-exporter", .cb_data = cb_bytes, .cb_len = 32,
};

static void
b64dec(const char *s, struct buf *out)
{
	buf_reset(out);
	assert_int_equal(sasl_b64_decode(s, strlen(s), out), 0);
}

/* Creds for the RFC examples: user "user", password "pencil". */
static void
rfc_creds(int hash, struct scram_creds *c)
{
	struct buf salt;

	buf_init(&salt, 0);
	b64dec(hash == SCRAM_SHA1 ? "QSXCR+Q6sek8bf92" :
	    "W22ZaJ0SNY7soEsUEjb6gQ==", &salt);
	assert_int_equal(scram_creds_make_salt(hash, "pencil",
	    (unsigned char *)salt.data, salt.len, 4096, c), 0);
	buf_cleanup(&salt);
}

static int
step_str(struct sasl_ctx *ctx, const char *msg, struct buf *out)
{
	return sasl_step(ctx, (const unsigned char *)msg, strlen(msg), out);
}

/* Feeds client-first, answers the creds request, returns server-first. */
static void
scram_begin(struct sasl_ctx *ctx, const char *client_first,
    const char *want_user, const struct scram_creds *creds, struct buf *out)
{
	assert_int_equal(step_str(ctx, client_first, out), SASL_NEED_CREDS);
	assert_int_equal(out->len, 0);
	assert_string_equal(sasl_authcid(ctx), want_user);
	sasl_set_creds(ctx, creds);
	assert_int_equal(sasl_step(ctx, NULL, 0, out), SASL_CONTINUE);
}

/*
 * A SCRAM client, independent of the server code paths: builds the
 * client-final message for `password` from the server-first message.
 */
static void
client_final(int hash, const char *password, const char *first_bare,
    const char *server_first, const char *cbind_b64, struct buf *out)
{
	unsigned char salted[64], ck[64], sk[64], sig[64], proof[64];
	size_t hl = scram_hash_len(hash);
	const char *s = strstr(server_first, ",s="), *i = strstr(server_first,
	    ",i=");
	struct buf salt, auth, nonce;

	assert_non_null(s);
	assert_non_null(i);
	buf_init(&salt, 0);
	buf_init(&auth, 0);
	buf_init(&nonce, 0);
	assert_int_equal(sasl_b64_decode(s + 3, (size_t)(i - s - 3), &salt),
	    0);
	assert_int_equal(buf_append(&nonce, server_first + 2,
	    (size_t)(s - server_first - 2)), 0);
	assert_int_equal(scram_salt_password(hash, password, strlen(password),
	    (unsigned char *)salt.data, salt.len, (unsigned)atoi(i + 3),
	    salted), 0);
	assert_int_equal(scram_hmac(hash, salted, hl, "Client Key", 10, ck),
	    0);
	assert_int_equal(scram_hash(hash, ck, hl, sk), 0);
	buf_reset(out);
	assert_int_equal(buf_appendf(out, "c=%s,r=%s", cbind_b64, nonce.data),
	    0);
	assert_int_equal(buf_appendf(&auth, "%s,%s,%s", first_bare,
	    server_first, out->data), 0);
	assert_int_equal(scram_hmac(hash, sk, hl, auth.data, auth.len, sig),
	    0);
	for (size_t k = 0; k < hl; k++)
		proof[k] = ck[k] ^ sig[k];
	assert_int_equal(buf_append_str(out, ",p="), 0);
	assert_int_equal(sasl_b64_encode(proof, hl, out), 0);
	buf_cleanup(&salt);
	buf_cleanup(&auth);
	buf_cleanup(&nonce);
}

static void
rfc_exchange(int hash, const char *mech, const char *cnonce,
    const char *snonce, const char *server_first, const char *final,
    const char *verifier)
{
	struct scram_creds creds;
	struct sasl_ctx *ctx;
	struct buf out, first;
	int rc;

	rfc_creds(hash, &creds);
	buf_init(&out, 0);
	buf_init(&first, 0);
	ctx = sasl_new(mech, &env_plain, &rc);
	assert_non_null(ctx);
	assert_int_equal(sasl_test_set_nonce(ctx, snonce), 0);
	assert_int_equal(buf_appendf(&first, "n,,n=user,r=%s", cnonce), 0);
	scram_begin(ctx, first.data, "user", &creds, &out);
	assert_int_equal(sasl_creds_hash(ctx), hash);
	assert_string_equal(out.data, server_first);
	assert_null(sasl_username(ctx));
	assert_int_equal(step_str(ctx, final, &out), SASL_SUCCESS);
	assert_string_equal(out.data, verifier);
	assert_string_equal(sasl_username(ctx), "user");
	assert_null(sasl_condition(ctx));
	/* Nothing more is accepted after success. */
	assert_int_equal(step_str(ctx, final, &out), SASL_FAILURE);
	assert_null(sasl_username(ctx));
	sasl_free(ctx);
	buf_cleanup(&out);
	buf_cleanup(&first);
}

static void
test_rfc5802_sha1(void **state)
{
	rfc_exchange(SCRAM_SHA1, "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
	    "3rfcNHYJY1ZVvWVs7j",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

static void
test_rfc7677_sha256(void **state)
{
	rfc_exchange(SCRAM_SHA256, "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
	    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

/*
 * Runs a full exchange with our test client: password `pw` against creds
 * made from "pencil" (or no creds).  Returns the final result and the
 * condition; the server-first message is returned in *sf.
 */
static int
scram_run(int hash, const struct sasl_env *env, const char *mech,
    const char *gs2, const char *cbind_b64, const char *pw,
    const struct scram_creds *creds, const char **cond, struct buf *sf)
{
	struct sasl_ctx *ctx;
	struct buf out, first;
	const char *bare = "n=user,r=clientnonce123";
	int rc;

	buf_init(&out, 0);
	buf_init(&first, 0);
	ctx = sasl_new(mech, env, &rc);
	assert_non_null(ctx);
	assert_int_equal(buf_appendf(&first, "%s%s", gs2, bare), 0);
	scram_begin(ctx, first.data, "user", creds, &out);
	if (sf != NULL) {
		buf_reset(sf);
		assert_int_equal(buf_append(sf, out.data, out.len), 0);
	}
	client_final(hash, pw, bare, out.data, cbind_b64, &first);
	rc = step_str(ctx, first.data, &out);
	*cond = sasl_condition(ctx) != NULL ? sasl_condition(ctx) : "";
	if (rc == SASL_FAILURE)
		assert_int_equal(out.len, 0);
	sasl_free(ctx);
	buf_cleanup(&out);
	buf_cleanup(&first);
	return rc;
}

static void
test_scram_wrong_password_and_unknown_user(void **state)
{
	struct scram_creds c1, c256, made;
	struct buf sf1, sf2;
	const char *cond;

	buf_init(&sf1, 0);
	buf_init(&sf2, 0);
	rfc_creds(SCRAM_SHA1, &c1);
	rfc_creds(SCRAM_SHA256, &c256);
	/* Our client against fresh random creds: right password works. */
	assert_int_equal(scram_creds_make(SCRAM_SHA256, "pencil", 0, &made),
	    0);
	assert_int_equal(scram_run(SCRAM_SHA256, &env_plain, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil", &made, &cond, NULL), SASL_SUCCESS);
	assert_int_equal(scram_run(SCRAM_SHA1, &env_plain, "SCRAM-SHA-1",
	    "n,,", "biws", "pencil", &c1, &cond, NULL), SASL_SUCCESS);

	assert_int_equal(scram_run(SCRAM_SHA256, &env_plain, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil2", &c256, &cond, NULL), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	assert_int_equal(scram_run(SCRAM_SHA1, &env_plain, "SCRAM-SHA-1",
	    "n,,", "biws", "Pencil", &c1, &cond, NULL), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");

	/* Unknown user: same step, same condition, a salt and iteration
	 * count like a real user's, and the same salt on a second try. */
	assert_int_equal(scram_run(SCRAM_SHA256, &env_plain, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil", NULL, &cond, &sf1), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	assert_non_null(strstr(sf1.data, ",i=4096"));
	assert_int_equal(strlen(strstr(sf1.data, ",s=")),
	    strlen(",s=") + 24 + strlen(",i=4096"));
	assert_int_equal(scram_run(SCRAM_SHA256, &env_plain, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil", NULL, &cond, &sf2), SASL_FAILURE);
	assert_string_equal(strstr(sf1.data, ",s="), strstr(sf2.data, ",s="));
	/* Creds of the other hash count as no user. */
	assert_int_equal(scram_run(SCRAM_SHA256, &env_plain, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil", &c1, &cond, NULL), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	buf_cleanup(&sf1);
	buf_cleanup(&sf2);
}

static void
test_scram_replay_and_tamper(void **state)
{
	static const char *final =
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
	static const char *tampered[] = {
	    /* one bit of the proof */
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Tw=",
	    /* the nonce */
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7k,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    /* the channel binding: "y,," instead of "n,," */
	    "c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    /* an extension added: the AuthMessage changes */
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,x=1,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	};
	struct scram_creds c;
	struct sasl_ctx *ctx;
	struct buf out;
	int rc;

	rfc_creds(SCRAM_SHA1, &c);
	buf_init(&out, 0);
	/* Replay into a new exchange (random server nonce). */
	ctx = sasl_new("SCRAM-SHA-1", &env_plain, &rc);
	assert_non_null(ctx);
	scram_begin(ctx, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "user", &c,
	    &out);
	assert_int_equal(step_str(ctx, final, &out), SASL_FAILURE);
	assert_string_equal(sasl_condition(ctx), "not-authorized");
	sasl_free(ctx);

	for (size_t i = 0; i < sizeof tampered / sizeof tampered[0]; i++) {
		ctx = sasl_new("SCRAM-SHA-1", &env_plain, &rc);
		assert_non_null(ctx);
		assert_int_equal(sasl_test_set_nonce(ctx,
		    "3rfcNHYJY1ZVvWVs7j"), 0);
		scram_begin(ctx, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		    "user", &c, &out);
		if (step_str(ctx, tampered[i], &out) != SASL_FAILURE)
			fail_msg("tampered message %zu accepted", i);
		assert_string_equal(sasl_condition(ctx), "not-authorized");
		sasl_free(ctx);
	}
	buf_cleanup(&out);
}

/* One client-first message; returns the result and condition. */
static int
first_only(const struct sasl_env *env, const char *mech, const char *msg,
    const char **cond)
{
	struct sasl_ctx *ctx;
	struct buf out;
	int rc;

	buf_init(&out, 0);
	ctx = sasl_new(mech, env, &rc);
	assert_non_null(ctx);
	rc = step_str(ctx, msg, &out);
	*cond = sasl_condition(ctx) != NULL ? sasl_condition(ctx) : "";
	sasl_free(ctx);
	buf_cleanup(&out);
	return rc;
}

static void
test_scram_malformed(void **state)
{
	static const char *bad[] = {
		"", "n", "n,", "n,,", "x,,n=user,r=abc", "n,,r=abc",
		"n,,n=user", "n,,n=user,r=", "n,,n=user,x=abc",
		"m=ext,n,,n=user,r=abc", "n,,m=ext,n=user,r=abc",
		"n,b=x,n=user,r=abc", "n,,n=us=3Xer,r=abc",
		"n,,n=user,r=a\001b",
	};
	const char *cond;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (first_only(&env_plain, "SCRAM-SHA-256", bad[i], &cond) !=
		    SASL_FAILURE)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_string_equal(cond, "malformed-request");
	}
	/* A NUL inside. */
	{
		struct sasl_ctx *ctx;
		struct buf out;
		int rc;

		buf_init(&out, 0);
		ctx = sasl_new("SCRAM-SHA-1", &env_plain, &rc);
		assert_int_equal(sasl_step(ctx, (const unsigned char *)
		    "n,,n=u\0x,r=abc", 14, &out), SASL_FAILURE);
		sasl_free(ctx);
		buf_cleanup(&out);
	}
	/* Escaped names decode: "=2C" is ',', prepared to lower case. */
	{
		struct sasl_ctx *ctx;
		struct buf out;
		int rc;

		buf_init(&out, 0);
		ctx = sasl_new("SCRAM-SHA-1", &env_plain, &rc);
		assert_int_equal(step_str(ctx, "n,,n=Us=3Der,r=abc", &out),
		    SASL_NEED_CREDS);
		assert_string_equal(sasl_authcid(ctx), "us=er");
		sasl_free(ctx);
		/* ',' is not forbidden... but '@' is, by Nodeprep. */
		ctx = sasl_new("SCRAM-SHA-1", &env_plain, &rc);
		assert_int_equal(step_str(ctx, "n,,n=a@b,r=abc", &out),
		    SASL_FAILURE);
		assert_string_equal(sasl_condition(ctx), "not-authorized");
		sasl_free(ctx);
		buf_cleanup(&out);
	}
}

static void
test_scram_authzid(void **state)
{
	const char *cond;

	assert_int_equal(first_only(&env_plain, "SCRAM-SHA-256",
	    "n,a=user@example.com,n=user,r=abc", &cond), SASL_NEED_CREDS);
	assert_int_equal(first_only(&env_plain, "SCRAM-SHA-256",
	    "n,a=USER@Example.COM,n=User,r=abc", &cond), SASL_NEED_CREDS);
	assert_int_equal(first_only(&env_plain, "SCRAM-SHA-256",
	    "n,a=admin@example.com,n=user,r=abc", &cond), SASL_FAILURE);
	assert_string_equal(cond, "invalid-authzid");
	assert_int_equal(first_only(&env_plain, "SCRAM-SHA-256",
	    "n,a=user@other.example,n=user,r=abc", &cond), SASL_FAILURE);
	assert_string_equal(cond, "invalid-authzid");
	assert_int_equal(first_only(&env_plain, "SCRAM-SHA-256",
	    "n,a=user@example.com/res,n=user,r=abc", &cond), SASL_FAILURE);
	assert_string_equal(cond, "invalid-authzid");
}

static void
test_scram_channel_binding(void **state)
{
	struct scram_creds c;
	struct buf cb;
	const char *cond, *names[SASL_MECHS_MAX];
	size_t n;
	unsigned char hdr[64];
	size_t hl = strlen("p=tls-exporter,,");

	rfc_creds(SCRAM_SHA256, &c);
	/* 'y' is fine when we offer no -PLUS, refused when we do. */
	assert_int_equal(scram_run(SCRAM_SHA256, &env_tls, "SCRAM-SHA-256",
	    "y,,", "eSws", "pencil", &c, &cond, NULL), SASL_SUCCESS);
	assert_int_equal(first_only(&env_cb, "SCRAM-SHA-256",
	    "y,,n=user,r=abc", &cond), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	/* 'n' is fine either way; 'p' needs a -PLUS mechanism. */
	assert_int_equal(scram_run(SCRAM_SHA256, &env_cb, "SCRAM-SHA-256",
	    "n,,", "biws", "pencil", &c, &cond, NULL), SASL_SUCCESS);
	assert_int_equal(first_only(&env_cb, "SCRAM-SHA-256",
	    "p=tls-exporter,,n=user,r=abc", &cond), SASL_FAILURE);
	assert_int_equal(first_only(&env_cb, "SCRAM-SHA-256-PLUS",
	    "n,,n=user,r=abc", &cond), SASL_FAILURE);
	assert_int_equal(first_only(&env_cb, "SCRAM-SHA-256-PLUS",
	    "p=tls-unique,,n=user,r=abc", &cond), SASL_FAILURE);

	/* -PLUS with the right binding data succeeds, other data fails. */
	memcpy(hdr, "p=tls-exporter,,", hl);
	memcpy(hdr + hl, cb_bytes, 32);
	buf_init(&cb, 0);
	assert_int_equal(sasl_b64_encode(hdr, hl + 32, &cb), 0);
	assert_int_equal(scram_run(SCRAM_SHA256, &env_cb,
	    "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", cb.data, "pencil", &c,
	    &cond, NULL), SASL_SUCCESS);
	hdr[hl] ^= 1;
	buf_reset(&cb);
	assert_int_equal(sasl_b64_encode(hdr, hl + 32, &cb), 0);
	assert_int_equal(scram_run(SCRAM_SHA256, &env_cb,
	    "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", cb.data, "pencil", &c,
	    &cond, NULL), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	buf_cleanup(&cb);

	n = sasl_mechs_offer(&env_cb, names, SASL_MECHS_MAX);
	assert_int_equal(n, 5);
	assert_string_equal(names[0], "SCRAM-SHA-256-PLUS");
	assert_string_equal(names[1], "SCRAM-SHA-1-PLUS");
	assert_string_equal(names[2], "SCRAM-SHA-256");
	assert_string_equal(names[3], "SCRAM-SHA-1");
	assert_string_equal(names[4], "PLAIN");
}

static void
test_offer_and_new(void **state)
{
	const char *names[SASL_MECHS_MAX];
	struct sasl_ctx *ctx;
	int rc;

	assert_int_equal(sasl_mechs_offer(&env_plain, names, SASL_MECHS_MAX),
	    2);
	assert_string_equal(names[0], "SCRAM-SHA-256");
	assert_string_equal(names[1], "SCRAM-SHA-1");
	assert_int_equal(sasl_mechs_offer(&env_tls, names, SASL_MECHS_MAX),
	    3);
	assert_string_equal(names[2], "PLAIN");
	assert_int_equal(sasl_mechs_offer(&env_tls, names, 1), 1);

	assert_null(sasl_new("PLAIN", &env_plain, &rc));
	assert_int_equal(rc, L_ERR_DENIED);
	assert_string_equal(sasl_rc_condition(rc), "encryption-required");
	assert_null(sasl_new("DIGEST-MD5", &env_tls, &rc));
	assert_string_equal(sasl_rc_condition(rc), "invalid-mechanism");
	assert_null(sasl_new("scram-sha-1", &env_tls, &rc));
	assert_int_equal(rc, L_ERR_INVAL);
	assert_null(sasl_new("SCRAM-SHA-1-PLUS", &env_tls, &rc));
	assert_int_equal(rc, L_ERR_INVAL);
	assert_null(sasl_new("EXTERNAL", &env_tls, &rc));
	ctx = sasl_new("SCRAM-SHA-1", &env_tls, &rc);
	assert_non_null(ctx);
	assert_string_equal(sasl_mech_name(ctx), "SCRAM-SHA-1");
	sasl_free(ctx);
	sasl_free(NULL);
}

static int
plain_run(const struct sasl_env *env, const char *msg, size_t len,
    const struct scram_creds *creds, const char **cond)
{
	struct sasl_ctx *ctx;
	struct buf out;
	int rc;

	buf_init(&out, 0);
	ctx = sasl_new("PLAIN", env, &rc);
	assert_non_null(ctx);
	rc = sasl_step(ctx, (const unsigned char *)msg, len, &out);
	if (rc == SASL_NEED_CREDS) {
		assert_int_equal(sasl_creds_hash(ctx), 0);
		assert_string_equal(sasl_authcid(ctx), "user");
		sasl_set_creds(ctx, creds);
		rc = sasl_step(ctx, NULL, 0, &out);
	}
	if (rc == SASL_SUCCESS)
		assert_string_equal(sasl_username(ctx), "user");
	*cond = sasl_condition(ctx) != NULL ? sasl_condition(ctx) : "";
	assert_int_equal(out.len, 0);
	sasl_free(ctx);
	buf_cleanup(&out);
	return rc;
}

#define PLAIN(s) (s), sizeof(s) - 1

static void
test_plain(void **state)
{
	struct scram_creds c1, c256;
	const char *cond;

	rfc_creds(SCRAM_SHA1, &c1);
	assert_int_equal(scram_creds_make(SCRAM_SHA256, "pencil", 0, &c256),
	    0);
	assert_int_equal(plain_run(&env_tls, PLAIN("\0user\0pencil"), &c1,
	    &cond), SASL_SUCCESS);
	assert_int_equal(plain_run(&env_tls, PLAIN("\0User\0pencil"), &c256,
	    &cond), SASL_SUCCESS);
	assert_int_equal(plain_run(&env_tls,
	    PLAIN("user@example.com\0user\0pencil"), &c256, &cond),
	    SASL_SUCCESS);
	assert_int_equal(plain_run(&env_tls, PLAIN("\0user\0pencul"), &c256,
	    &cond), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	assert_int_equal(plain_run(&env_tls, PLAIN("\0user\0pencil"), NULL,
	    &cond), SASL_FAILURE);
	assert_string_equal(cond, "not-authorized");
	assert_int_equal(plain_run(&env_tls,
	    PLAIN("boss@example.com\0user\0pencil"), &c256, &cond),
	    SASL_FAILURE);
	assert_string_equal(cond, "invalid-authzid");
	assert_int_equal(plain_run(&env_tls, PLAIN("user\0pencil"), &c256,
	    &cond), SASL_FAILURE);
	assert_string_equal(cond, "malformed-request");
	assert_int_equal(plain_run(&env_tls, PLAIN("\0user\0pen\0cil"), &c256,
	    &cond), SASL_FAILURE);
	assert_string_equal(cond, "malformed-request");
	assert_int_equal(plain_run(&env_tls, PLAIN("\0\0pencil"), &c256,
	    &cond), SASL_FAILURE);
	assert_int_equal(plain_run(&env_tls, PLAIN("\0user\0"), &c256,
	    &cond), SASL_FAILURE);
	assert_string_equal(cond, "malformed-request");
}

static void
test_step_contract(void **state)
{
	struct scram_creds c;
	struct sasl_ctx *ctx;
	unsigned char *big;
	struct buf out;
	int rc;

	rfc_creds(SCRAM_SHA256, &c);
	buf_init(&out, 0);
	/* No initial response: an empty challenge, then the real one. */
	ctx = sasl_new("PLAIN", &env_tls, &rc);
	assert_int_equal(sasl_step(ctx, NULL, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_step(ctx, (const unsigned char *)
	    "\0user\0pencil", 12, &out), SASL_NEED_CREDS);
	/* Resuming without an answer from the store is a session bug. */
	assert_int_equal(sasl_step(ctx, NULL, 0, &out), SASL_FAILURE);
	assert_string_equal(sasl_condition(ctx), "temporary-auth-failure");
	sasl_free(ctx);
	/* A store failure. */
	ctx = sasl_new("SCRAM-SHA-256", &env_tls, &rc);
	assert_int_equal(step_str(ctx, "n,,n=user,r=abc", &out),
	    SASL_NEED_CREDS);
	sasl_set_store_error(ctx);
	assert_int_equal(sasl_step(ctx, NULL, 0, &out), SASL_FAILURE);
	assert_string_equal(sasl_condition(ctx), "temporary-auth-failure");
	/* And nothing afterwards. */
	assert_int_equal(step_str(ctx, "c=biws", &out), SASL_FAILURE);
	sasl_free(ctx);
	/* Oversized input. */
	big = calloc(1, SASL_INPUT_MAX + 1);
	assert_non_null(big);
	memcpy(big, "n,,n=user,r=", 12);
	memset(big + 12, 'a', SASL_INPUT_MAX + 1 - 12);
	ctx = sasl_new("SCRAM-SHA-256", &env_tls, &rc);
	assert_int_equal(sasl_step(ctx, big, SASL_INPUT_MAX + 1, &out),
	    SASL_FAILURE);
	assert_string_equal(sasl_condition(ctx), "malformed-request");
	sasl_free(ctx);
	free(big);
	buf_cleanup(&out);
}

static void
test_b64(void **state)
{
	static const struct { const char *in; const char *out; } good[] = {
		{ "", "" }, { "=", "" }, { "QQ==", "A" }, { "QUI=", "AB" },
		{ "QUJD", "ABC" }, { "AP8=", "\x00\xff" },
		{ "biws", "n,," },
	};
	static const char *bad[] = {
		"==", "Q", "QQ", "QQ=", "QR==", "QUJ=", "Q Q==", "QQ==\n",
		"QQ==QQ==", "====", "A===", "QUJD\r\n", "QU*D", "QUJD=",
		"=QUJ", "Q===",
	};
	struct buf b;
	unsigned char bytes[10];

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		buf_reset(&b);
		assert_int_equal(sasl_b64_decode(good[i].in,
		    strlen(good[i].in), &b), 0);
		assert_int_equal(b.len, i == 5 ? 2 : strlen(good[i].out));
		assert_memory_equal(b.data == NULL ? "" : b.data, good[i].out,
		    b.len);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&b);
		if (sasl_b64_decode(bad[i], strlen(bad[i]), &b) != L_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* Round trips of every length up to 10. */
	for (size_t n = 0; n <= sizeof bytes; n++) {
		struct buf e;

		for (size_t k = 0; k < n; k++)
			bytes[k] = (unsigned char)(0xf0 + 7 * k);
		buf_init(&e, 0);
		buf_reset(&b);
		assert_int_equal(sasl_b64_encode(bytes, n, &e), 0);
		assert_int_equal(e.len, (n + 2) / 3 * 4);
		assert_int_equal(sasl_b64_decode(e.data == NULL ? "" : e.data,
		    e.len, &b), 0);
		assert_int_equal(b.len, n);
		if (n > 0)
			assert_memory_equal(b.data, bytes, n);
		buf_cleanup(&e);
	}
	/* Over the limit. */
	{
		char *big = malloc(SASL_B64_INPUT_MAX + 4);

		assert_non_null(big);
		memset(big, 'A', SASL_B64_INPUT_MAX + 4);
		buf_reset(&b);
		assert_int_equal(sasl_b64_decode(big, SASL_B64_INPUT_MAX + 4,
		    &b), L_ERR_LIMIT);
		buf_reset(&b);
		assert_int_equal(sasl_b64_decode(big, SASL_B64_INPUT_MAX, &b),
		    0);
		assert_int_equal(b.len, SASL_B64_INPUT_MAX / 4 * 3);
		free(big);
	}
	buf_cleanup(&b);
}

static void
test_creds(void **state)
{
	struct scram_creds a, b, p;
	struct buf t;

	assert_int_equal(scram_creds_make(SCRAM_SHA256, "pencil", 0, &a), 0);
	assert_int_equal(a.iterations, SCRAM_ITER_DEFAULT);
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(a.key_len, 32);
	assert_int_equal(scram_creds_make(SCRAM_SHA256, "pencil", 0, &b), 0);
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_int_equal(scram_creds_verify_password(&a, "pencil"), 0);
	assert_int_equal(scram_creds_verify_password(&a, "pencil "),
	    L_ERR_AUTH);
	assert_int_equal(scram_creds_verify_password(&a, ""), L_ERR_AUTH);
	assert_int_equal(scram_creds_make(SCRAM_SHA1, "pencil", 1000, &b),
	    L_ERR_INVAL);
	assert_int_equal(scram_creds_make(3, "pencil", 0, &b), L_ERR_INVAL);
	assert_int_equal(scram_creds_make(SCRAM_SHA1, "", 0, &b), L_ERR_INVAL);
	assert_int_equal(scram_creds_make(SCRAM_SHA1, "a\x07" "b", 0, &b),
	    L_ERR_INVAL);

	/* SASLprep: soft hyphen maps to nothing, U+00A0 to space. */
	assert_int_equal(scram_creds_make(SCRAM_SHA1, "I\xc2\xad" "X", 0, &b),
	    0);
	assert_int_equal(scram_creds_verify_password(&b, "IX"), 0);
	assert_int_equal(scram_creds_make(SCRAM_SHA1, "a\xc2\xa0" "b", 0, &b),
	    0);
	assert_int_equal(scram_creds_verify_password(&b, "a b"), 0);

	/* Text form round trip and rejection of damaged forms. */
	buf_init(&t, 0);
	assert_int_equal(scram_creds_format(&a, &t), 0);
	assert_true(strncmp(t.data, "scram-sha-256:4096:", 19) == 0);
	assert_int_equal(scram_creds_parse(t.data, &p), 0);
	assert_int_equal(p.hash, a.hash);
	assert_int_equal(p.iterations, a.iterations);
	assert_int_equal(p.salt_len, a.salt_len);
	assert_memory_equal(p.salt, a.salt, a.salt_len);
	assert_memory_equal(p.stored_key, a.stored_key, 32);
	assert_memory_equal(p.server_key, a.server_key, 32);
	assert_int_equal(scram_creds_verify_password(&p, "pencil"), 0);
	assert_int_equal(scram_creds_parse("scram-sha-256:4096:QQ==:QQ==:QQ==",
	    &p), L_ERR_INVAL);
	assert_int_equal(scram_creds_parse("scram-sha-1:0:QQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &p),
	    L_ERR_INVAL);
	assert_int_equal(scram_creds_parse("scram-sha-1:4096:QQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &p),
	    0);
	assert_int_equal(scram_creds_parse("scram-md5:4096:QQ==:QQ==:QQ==",
	    &p), L_ERR_INVAL);
	assert_int_equal(scram_creds_parse("scram-sha-1:4096:QQ==:QQ==", &p),
	    L_ERR_INVAL);
	assert_int_equal(scram_creds_parse("scram-sha-1:4096x:QQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &p),
	    L_ERR_INVAL);
	buf_cleanup(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5802_sha1),
		cmocka_unit_test(test_rfc7677_sha256),
		cmocka_unit_test(test_scram_wrong_password_and_unknown_user),
		cmocka_unit_test(test_scram_replay_and_tamper),
		cmocka_unit_test(test_scram_malformed),
		cmocka_unit_test(test_scram_authzid),
		cmocka_unit_test(test_scram_channel_binding),
		cmocka_unit_test(test_offer_and_new),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_step_contract),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_creds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
