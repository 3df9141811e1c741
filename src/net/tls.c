/*
 * TLS contexts for servers and clients: TLS 1.2 at least, 1.3 preferred,
 * AEAD suites with forward secrecy only, no compression, no
 * renegotiation, ALPN "xmpp-client" for direct TLS (XEP-0368), and
 * optional client certificates that SASL EXTERNAL judges later.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "base/errors.h"
#include "base/log.h"
#include "net/net_int.h"

#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"

/* ALPN wire format: one length byte, then the name. */
static const unsigned char alpn_xmpp[] = "\x0bxmpp-client";

static void
tls_err(char *err, size_t errlen, const char *what, const char *file)
{
	char msg[256];
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "unknown error");
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "",
		    file ? file : "", msg);
	ERR_clear_error();
}

/* Applies the protocol limits both sides share. */
static int
tls_ctx_common(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return L_ERR_CRYPTO;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Partial writes and a buffer that may move between retries are
	 * how conn.c writes its queue; released buffers keep idle
	 * sessions small. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		return L_ERR_CRYPTO;
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1)
		return L_ERR_CRYPTO;
	return L_OK;
}

static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_xmpp,
	    sizeof(alpn_xmpp) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;	/* proceed without ALPN */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Client certificates are requested, not required: the handshake
 * succeeds whatever the chain, and conn_peer_cert_verified() reports the
 * result so SASL EXTERNAL can refuse with a proper SASL failure. */
static int
tls_verify_accept(int preverify_ok, X509_STORE_CTX *store)
{
	return 1;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file,
    const char *ca_file, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "liaison";
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (tls_ctx_common(ctx) != L_OK) {
		tls_err(err, errlen, "TLS settings", NULL);
		goto err;
	}
	/* Resumption by stateless tickets only: no server-side session
	 * cache growing with every connection ever made. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_err(err, errlen, "certificate", cert_file);
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_err(err, errlen, "private key", key_file);
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "key does not match certificate",
		    key_file);
		goto err;
	}
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx,
	    sizeof(sid_ctx) - 1) != 1) {
		tls_err(err, errlen, "session id context", NULL);
		goto err;
	}
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			tls_err(err, errlen, "CA file", ca_file);
			goto err;
		}
		if ((names = SSL_load_client_CA_file(ca_file)) == NULL) {
			tls_err(err, errlen, "CA names", ca_file);
			goto err;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_accept);
	}
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	return ctx;
err:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(const char *ca_file, bool verify)
{
	SSL_CTX *ctx;
	char err[256];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (tls_ctx_common(ctx) != L_OK)
		goto fail;
	if (verify) {
		if ((ca_file != NULL ?
		    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) :
		    SSL_CTX_set_default_verify_paths(ctx)) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	tls_err(err, sizeof(err), "TLS client context", ca_file);
	log_warnx("%s", err);
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_client_ctx_set_alpn_xmpp(SSL_CTX *ctx)
{
	/* Note: SSL_CTX_set_alpn_protos returns 0 on success. */
	if (SSL_CTX_set_alpn_protos(ctx, alpn_xmpp, sizeof(alpn_xmpp) - 1))
		return L_ERR_CRYPTO;
	return L_OK;
}
