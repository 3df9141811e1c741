/*
 * The audit log's Ed25519 keys, through OpenSSL's EVP interface: reading
 * and writing the PEM key files, the public key's fingerprint, and the
 * signature of a checkpoint line (made by the writer, checked by the
 * verifier), always over SIGN_TAG first for domain separation.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "base/errors.h"
#include "policy/audit_int.h"

static int
hex_decode(const char *p, size_t n, unsigned char *out)
{
	size_t	i;

	if (n % 2 != 0)
		return L_ERR_INVAL;
	for (i = 0; i < n / 2; i++) {
		int hi = audit_hex_value((unsigned char)p[2 * i]);
		int lo = audit_hex_value((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return L_ERR_INVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The raw public key's SHA-256 in hex.  0 or L_ERR_CRYPTO. */
int
audit_key_fingerprint(EVP_PKEY *key, char out[HASH_HEX + 1])
{
	unsigned char	raw[32];
	size_t		len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 ||
	    len != sizeof(raw))
		return L_ERR_CRYPTO;
	return audit_sha256_hex(raw, len, out);
}

/* Reads an Ed25519 key file: the private key, or the public one. */
EVP_PKEY *
audit_key_read(const char *path, bool private)
{
	FILE		*f;
	EVP_PKEY	*key;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	key = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) :
	    PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (key != NULL && !EVP_PKEY_is_a(key, "ED25519")) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* Writes a key file through a temporary name and rename().  */
int
audit_key_write(const char *path, mode_t mode, EVP_PKEY *key, bool private)
{
	char	*tmp = NULL;
	FILE	*f = NULL;
	int	 fd = -1, rc = L_ERR_IO, ok;

	if ((tmp = malloc(strlen(path) + 5)) == NULL)
		return L_ERR_NOMEM;
	sprintf(tmp, "%s.tmp", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0)
		goto out;
	if ((f = fdopen(fd, "w")) == NULL)
		goto out;
	fd = -1;
	if (private)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_PUBKEY(f, key);
	if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	free(tmp);
	return rc;
}

/* Ed25519 signature of SIGN_TAG + msg, in hex into out[SIG_HEX + 1]. */
int
audit_sign_hex(EVP_PKEY *key, const char *msg, size_t n, char *out)
{
	EVP_MD_CTX	*ctx = NULL;
	struct buf	 b;
	unsigned char	 sig[SIG_LEN];
	size_t		 siglen = sizeof(sig);
	int		 rc = L_ERR_CRYPTO;

	buf_init(&b, 0);
	if (buf_append_str(&b, SIGN_TAG) != 0 || buf_append(&b, msg, n) != 0) {
		rc = L_ERR_NOMEM;
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)b.data,
	    b.len) != 1 || siglen != SIG_LEN)
		goto out;
	audit_hex_encode(sig, siglen, out);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	buf_cleanup(&b);
	return rc;
}

/* True if sighex is a valid signature by key of SIGN_TAG + msg. */
bool
audit_sig_is_valid(EVP_PKEY *key, const char *msg, size_t n, struct str sighex)
{
	EVP_MD_CTX	*ctx = NULL;
	struct buf	 b;
	unsigned char	 sig[SIG_LEN];
	bool		 ok = false;

	buf_init(&b, 0);
	if (!audit_is_lowhex(sighex.p, sighex.len, SIG_HEX) ||
	    hex_decode(sighex.p, sighex.len, sig) != 0)
		goto out;
	if (buf_append_str(&b, SIGN_TAG) != 0 || buf_append(&b, msg, n) != 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, sig, sizeof(sig), (unsigned char *)b.data,
	    b.len) == 1;
out:
	EVP_MD_CTX_free(ctx);
	buf_cleanup(&b);
	return ok;
}
