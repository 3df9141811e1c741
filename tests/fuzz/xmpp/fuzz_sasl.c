/*
 * Fuzz target for the SASL exchange.  Byte 0 picks the mechanism, the
 * connection (plain, TLS, TLS with channel binding) and whether the user
 * exists; the rest is split at 0xfe bytes into client messages fed to
 * sasl_step, answering SASL_NEED_CREDS with fixed credentials.  The same
 * bytes also go through base64 decoding and the credentials text parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *mechs[] = {
	"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "SCRAM-SHA-256-PLUS",
	"SCRAM-SHA-1-PLUS", "EXTERNAL", "BOGUS", "SCRAM-SHA-256",
};
static const unsigned char cb[] = "fuzz-channel-binding-data-32byte";

static void
run_exchange(const uint8_t *data, size_t size)
{
	static struct scram_creds creds[2];
	static bool ready;
	struct sasl_env env = { .domain = "example.com" };
	struct sasl_ctx *ctx;
	struct buf out;
	unsigned mode;
	const uint8_t *p, *end, *sep;
	int rc, r;

	if (!ready) {
		/* Few iterations keep PLAIN fast; the code path is the same. */
		if (scram_creds_make_salt(SCRAM_SHA1, "pencil",
		    (const unsigned char *)"saltsalt", 8, 16, &creds[0]) != 0 ||
		    scram_creds_make_salt(SCRAM_SHA256, "pencil",
		    (const unsigned char *)"saltsalt", 8, 16, &creds[1]) != 0)
			abort();
		ready = true;
	}
	if (size == 0)
		return;
	mode = data[0];
	env.is_tls = (mode & 0x08) != 0;
	if (mode & 0x10) {
		env.cb_type = "tls-exporter";
		env.cb_data = cb;
		env.cb_len = 32;
	}
	ctx = sasl_new(mechs[mode & 7], &env, &rc);
	if (ctx == NULL) {
		if (sasl_rc_condition(rc) == NULL)
			abort();
		return;
	}
	if (mode & 0x40)
		(void)sasl_test_set_nonce(ctx, "srvnonce");
	buf_init(&out, 0);
	p = data + 1;
	end = data + size;
	r = SASL_CONTINUE;
	while (r == SASL_CONTINUE) {
		if (p > end)
			break;
		sep = memchr(p, 0xfe, (size_t)(end - p));
		if (sep == NULL)
			sep = end;
		r = sasl_step(ctx, (mode & 0x80) && p == data + 1 ? NULL : p,
		    (size_t)(sep - p), &out);
		p = sep + 1;
		if (r == SASL_NEED_CREDS) {
			if (sasl_authcid(ctx) == NULL)
				abort();
			if (mode & 0x20)
				sasl_set_creds(ctx, NULL);
			else
				sasl_set_creds(ctx, &creds[sasl_creds_hash(ctx)
				    == SCRAM_SHA1 ? 0 : 1]);
			r = sasl_step(ctx, NULL, 0, &out);
		}
	}
	if (r == SASL_FAILURE && (sasl_condition(ctx) == NULL ||
	    out.len != 0 || sasl_username(ctx) != NULL))
		abort();
	if (r == SASL_SUCCESS && sasl_username(ctx) == NULL)
		abort();
	/* An unknown user never authenticates. */
	if (r == SASL_SUCCESS && (mode & 0x20))
		abort();
	sasl_free(ctx);
	buf_cleanup(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram_creds c;
	struct buf b, e;
	char *s;

	run_exchange(data, size);

	buf_init(&b, 0);
	buf_init(&e, 0);
	if (sasl_b64_decode((const char *)data, size, &b) == 0) {
		/* Strict decoding is canonical: re-encoding gives the input
		 * back (except "=" for the empty response). */
		if (sasl_b64_encode((unsigned char *)b.data, b.len, &e) != 0)
			abort();
		if (!(size == 1 && data[0] == '=') && (e.len != size ||
		    (size > 0 && memcmp(e.data, data, size) != 0)))
			abort();
	}
	buf_cleanup(&b);
	buf_cleanup(&e);
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)scram_creds_parse(s, &c);
		free(s);
	}
	return 0;
}
