/*
 * SCRAM credentials and primitives (RFC 5802 section 3, RFC 7677) on
 * OpenSSL EVP.  SaltedPassword, ClientKey and the prepared password are
 * secrets: each lives in a local buffer that is wiped on every path out.
 * The exchange itself (nonces, messages, proofs) is in sasl.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stringprep.h>

#include "base/errors.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

static const EVP_MD *
scram_md(int hash)
{
	switch (hash) {
	case SCRAM_SHA1:
		return EVP_sha1();
	case SCRAM_SHA256:
		return EVP_sha256();
	default:
		return NULL;
	}
}

size_t
scram_hash_len(int hash)
{
	switch (hash) {
	case SCRAM_SHA1:
		return 20;
	case SCRAM_SHA256:
		return 32;
	default:
		return 0;
	}
}

const char *
scram_hash_mech(int hash)
{
	switch (hash) {
	case SCRAM_SHA1:
		return "SCRAM-SHA-1";
	case SCRAM_SHA256:
		return "SCRAM-SHA-256";
	default:
		return NULL;
	}
}

static const char *
scram_hash_tag(int hash)
{
	return hash == SCRAM_SHA1 ? "scram-sha-1" :
	    hash == SCRAM_SHA256 ? "scram-sha-256" : NULL;
}

bool
scram_mem_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int
scram_hash(int hash, const void *msg, size_t len, unsigned char *out)
{
	const EVP_MD *md = scram_md(hash);
	unsigned int olen = 0;

	if (md == NULL)
		return L_ERR_INVAL;
	if (EVP_Digest(msg, len, out, &olen, md, NULL) != 1)
		return L_ERR_CRYPTO;
	return 0;
}

int
scram_hmac(int hash, const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char *out)
{
	const EVP_MD *md = scram_md(hash);
	unsigned int olen = 0;

	if (md == NULL || keylen > INT32_MAX)
		return L_ERR_INVAL;
	if (HMAC(md, key, (int)keylen, msg, msglen, out, &olen) == NULL)
		return L_ERR_CRYPTO;
	return 0;
}

int
scram_salt_password(int hash, const char *prepared, size_t plen,
    const unsigned char *salt, size_t salt_len, unsigned iterations,
    unsigned char *out)
{
	const EVP_MD *md = scram_md(hash);

	if (md == NULL || iterations == 0 || iterations > SCRAM_ITER_MAX ||
	    plen > SCRAM_PASSWORD_MAX || salt_len > SCRAM_SALT_MAX)
		return L_ERR_INVAL;
	if (PKCS5_PBKDF2_HMAC(prepared, (int)plen, salt, (int)salt_len,
	    (int)iterations, md, (int)scram_hash_len(hash), out) != 1)
		return L_ERR_CRYPTO;
	return 0;
}

int
scram_saslprep(const char *in, char **out)
{
	char *res = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (in == NULL || (len = strlen(in)) == 0 || len > SCRAM_PASSWORD_MAX)
		return L_ERR_INVAL;
	rc = stringprep_profile(in, &res, "SASLprep",
	    STRINGPREP_NO_UNASSIGNED);
	if (rc == STRINGPREP_MALLOC_ERROR)
		return L_ERR_NOMEM;
	if (rc != STRINGPREP_OK || res == NULL || res[0] == '\0' ||
	    strlen(res) > SCRAM_PASSWORD_MAX) {
		if (res != NULL) {
			l_wipe(res, strlen(res));
			free(res);
		}
		return L_ERR_INVAL;
	}
	*out = res;
	return 0;
}

/*
 * Derives StoredKey and ServerKey (and, if client_key is not NULL, the
 * ClientKey) from a prepared password.  Secrets are wiped here.
 */
static int
scram_derive(int hash, const char *prepared, const unsigned char *salt,
    size_t salt_len, unsigned iterations, unsigned char *stored_key,
    unsigned char *server_key)
{
	unsigned char salted[SCRAM_KEY_MAX], client_key[SCRAM_KEY_MAX];
	size_t hl = scram_hash_len(hash);
	int rc;

	if ((rc = scram_salt_password(hash, prepared, strlen(prepared), salt,
	    salt_len, iterations, salted)) != 0)
		goto out;
	if ((rc = scram_hmac(hash, salted, hl, "Client Key", 10,
	    client_key)) != 0)
		goto out;
	if ((rc = scram_hash(hash, client_key, hl, stored_key)) != 0)
		goto out;
	if (server_key != NULL)
		rc = scram_hmac(hash, salted, hl, "Server Key", 10, server_key);
out:
	l_wipe(salted, sizeof salted);
	l_wipe(client_key, sizeof client_key);
	return rc;
}

int
scram_creds_make_salt(int hash, const char *password,
    const unsigned char *salt, size_t salt_len, unsigned iterations,
    struct scram_creds *out)
{
	char *prepared = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (scram_md(hash) == NULL || salt_len == 0 ||
	    salt_len > SCRAM_SALT_MAX || iterations == 0 ||
	    iterations > SCRAM_ITER_MAX)
		return L_ERR_INVAL;
	if ((rc = scram_saslprep(password, &prepared)) != 0)
		return rc;
	out->hash = hash;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	out->key_len = scram_hash_len(hash);
	rc = scram_derive(hash, prepared, salt, salt_len, iterations,
	    out->stored_key, out->server_key);
	l_wipe(prepared, strlen(prepared));
	free(prepared);
	if (rc != 0)
		scram_creds_wipe(out);
	return rc;
}

int
scram_creds_make(int hash, const char *password, unsigned iterations,
    struct scram_creds *out)
{
	unsigned char salt[SCRAM_SALT_LEN];

	memset(out, 0, sizeof *out);
	if (iterations == 0)
		iterations = SCRAM_ITER_DEFAULT;
	if (iterations < SCRAM_ITER_MIN || iterations > SCRAM_ITER_MAX)
		return L_ERR_INVAL;
	if (RAND_bytes(salt, sizeof salt) != 1)
		return L_ERR_CRYPTO;
	return scram_creds_make_salt(hash, password, salt, sizeof salt,
	    iterations, out);
}

static bool
scram_creds_is_sane(const struct scram_creds *c)
{
	return scram_md(c->hash) != NULL &&
	    c->key_len == scram_hash_len(c->hash) && c->salt_len > 0 &&
	    c->salt_len <= SCRAM_SALT_MAX && c->iterations > 0 &&
	    c->iterations <= SCRAM_ITER_MAX;
}

int
scram_creds_verify_password(const struct scram_creds *creds,
    const char *password)
{
	unsigned char stored[SCRAM_KEY_MAX];
	char *prepared = NULL;
	bool prep_ok;
	int rc;

	if (!scram_creds_is_sane(creds))
		return L_ERR_INVAL;
	prep_ok = scram_saslprep(password, &prepared) == 0;
	/* A password SASLprep refuses still costs one derivation, so the
	 * answer's timing does not tell which check failed. */
	rc = scram_derive(creds->hash, prep_ok ? prepared : "", creds->salt,
	    creds->salt_len, creds->iterations, stored, NULL);
	if (prepared != NULL) {
		l_wipe(prepared, strlen(prepared));
		free(prepared);
	}
	if (rc == 0 && (!scram_mem_equal(stored, creds->stored_key,
	    creds->key_len) || !prep_ok))
		rc = L_ERR_AUTH;
	l_wipe(stored, sizeof stored);
	return rc;
}

void
scram_creds_wipe(struct scram_creds *c)
{
	l_wipe(c, sizeof *c);
}

static int
b64_append(struct buf *out, const unsigned char *p, size_t n)
{
	return sasl_b64_encode(p, n, out);
}

int
scram_creds_format(const struct scram_creds *c, struct buf *out)
{
	int rc;

	if (!scram_creds_is_sane(c))
		return L_ERR_INVAL;
	if ((rc = buf_appendf(out, "%s:%u:", scram_hash_tag(c->hash),
	    c->iterations)) != 0 ||
	    (rc = b64_append(out, c->salt, c->salt_len)) != 0 ||
	    (rc = buf_append(out, ":", 1)) != 0 ||
	    (rc = b64_append(out, c->stored_key, c->key_len)) != 0 ||
	    (rc = buf_append(out, ":", 1)) != 0 ||
	    (rc = b64_append(out, c->server_key, c->key_len)) != 0)
		return rc;
	return 0;
}

/* Decodes field [p, end) as base64 of exactly `want` bytes (or 1..max). */
static int
field_b64(const char *p, const char *end, unsigned char *dst, size_t min,
    size_t max, size_t *got)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	if ((rc = sasl_b64_decode(p, (size_t)(end - p), &b)) != 0)
		goto out;
	if (b.len < min || b.len > max) {
		rc = L_ERR_INVAL;
		goto out;
	}
	memcpy(dst, b.data, b.len);
	*got = b.len;
out:
	if (b.data != NULL)
		l_wipe(b.data, b.len);
	buf_cleanup(&b);
	return rc;
}

int
scram_creds_parse(const char *s, struct scram_creds *out)
{
	const char *f[5], *end;
	size_t n = 0, got;
	unsigned long it;
	char *ep;
	int rc = L_ERR_INVAL;

	memset(out, 0, sizeof *out);
	if (s == NULL)
		return L_ERR_INVAL;
	f[n++] = s;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ':') {
			if (n == 5)
				return L_ERR_INVAL;
			f[n++] = p + 1;
		}
	}
	if (n != 5)
		return L_ERR_INVAL;
	end = s + strlen(s);
	if ((size_t)(f[1] - f[0] - 1) == strlen("scram-sha-1") &&
	    strncmp(f[0], "scram-sha-1", 11) == 0)
		out->hash = SCRAM_SHA1;
	else if ((size_t)(f[1] - f[0] - 1) == strlen("scram-sha-256") &&
	    strncmp(f[0], "scram-sha-256", 13) == 0)
		out->hash = SCRAM_SHA256;
	else
		goto err;
	out->key_len = scram_hash_len(out->hash);
	if (f[1][0] < '1' || f[1][0] > '9')
		goto err;
	errno = 0;
	it = strtoul(f[1], &ep, 10);
	if (errno != 0 || ep != f[2] - 1 || it > SCRAM_ITER_MAX)
		goto err;
	out->iterations = (unsigned)it;
	if ((rc = field_b64(f[2], f[3] - 1, out->salt, 1, SCRAM_SALT_MAX,
	    &out->salt_len)) != 0)
		goto err;
	if ((rc = field_b64(f[3], f[4] - 1, out->stored_key, out->key_len,
	    out->key_len, &got)) != 0)
		goto err;
	if ((rc = field_b64(f[4], end, out->server_key, out->key_len,
	    out->key_len, &got)) != 0)
		goto err;
	return 0;
err:
	scram_creds_wipe(out);
	return rc == 0 || rc == L_ERR_LIMIT ? L_ERR_INVAL : rc;
}
