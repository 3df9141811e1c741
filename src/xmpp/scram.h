/*
 * SCRAM credentials (RFC 5802, RFC 7677) and the primitives the SASL
 * mechanisms are built from, on OpenSSL EVP.  Only StoredKey and ServerKey
 * are ever kept: the password and SaltedPassword live on the stack for the
 * duration of one call and are wiped before it returns.
 */
#ifndef LIAISON_XMPP_SCRAM_H
#define LIAISON_XMPP_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum {
	SCRAM_SHA1 = 1,
	SCRAM_SHA256 = 2,
};

#define SCRAM_SALT_LEN		16	/* bytes of random salt we generate */
#define SCRAM_SALT_MAX		32
#define SCRAM_KEY_MAX		64
#define SCRAM_ITER_DEFAULT	4096	/* minimum and default, both hashes */
#define SCRAM_ITER_MIN		4096
#define SCRAM_ITER_MAX		10000000
#define SCRAM_PASSWORD_MAX	1023	/* bytes, before and after SASLprep */

struct scram_creds {
	int hash;			/* SCRAM_SHA1 or SCRAM_SHA256 */
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[SCRAM_KEY_MAX];
	unsigned char server_key[SCRAM_KEY_MAX];
	size_t key_len;			/* 20 or 32: the hash's output size */
};

/* Digest length of a hash (20, 32) or 0 if unknown. */
size_t scram_hash_len(int hash);
/* "SCRAM-SHA-1", "SCRAM-SHA-256" or NULL. */
const char *scram_hash_mech(int hash);

/*
 * Makes credentials for `password` (UTF-8, SASLprep'd here) with a fresh
 * random 16-byte salt.  iterations 0 means SCRAM_ITER_DEFAULT; fewer than
 * SCRAM_ITER_MIN or more than SCRAM_ITER_MAX is L_ERR_INVAL.  Returns 0,
 * L_ERR_INVAL (bad hash, password prohibited by SASLprep or too long),
 * L_ERR_CRYPTO or L_ERR_NOMEM.  On failure *out is wiped.
 */
int scram_creds_make(int hash, const char *password, unsigned iterations,
    struct scram_creds *out);
/*
 * Same with a given salt (1..SCRAM_SALT_MAX bytes) and any iteration count
 * >= 1: for test vectors and for importing credentials.
 */
int scram_creds_make_salt(int hash, const char *password,
    const unsigned char *salt, size_t salt_len, unsigned iterations,
    struct scram_creds *out);

/*
 * Checks a password (for PLAIN) by recomputing StoredKey and comparing in
 * constant time.  Returns 0 on match, L_ERR_AUTH on mismatch (including a
 * password SASLprep rejects), L_ERR_INVAL for malformed creds, or
 * L_ERR_CRYPTO / L_ERR_NOMEM.
 */
int scram_creds_verify_password(const struct scram_creds *creds,
    const char *password);

/* Wipes the struct (it holds no heap memory). */
void scram_creds_wipe(struct scram_creds *c);

/*
 * Text form for the store and liaisonctl:
 *   "scram-sha-256:<iterations>:<b64 salt>:<b64 StoredKey>:<b64 ServerKey>"
 * (scram-sha-1 likewise).  format appends to out; parse checks every field
 * and returns 0 or L_ERR_INVAL.
 */
int scram_creds_format(const struct scram_creds *c, struct buf *out);
int scram_creds_parse(const char *s, struct scram_creds *out);

/*
 * SASLprep (RFC 4013) with libidn, stored strings variant (unassigned code
 * points refused).  *out is a new string the caller wipes and frees.
 * L_ERR_INVAL if prohibited, empty or longer than SCRAM_PASSWORD_MAX.
 */
int scram_saslprep(const char *in, char **out);

/*
 * Primitives.  `out` has room for scram_hash_len(hash) bytes.  Return 0 or
 * L_ERR_CRYPTO / L_ERR_INVAL.
 */
int scram_hash(int hash, const void *msg, size_t len, unsigned char *out);
int scram_hmac(int hash, const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char *out);
int scram_salt_password(int hash, const char *prepared, size_t plen,
    const unsigned char *salt, size_t salt_len, unsigned iterations,
    unsigned char *out);

/* Constant-time equality of two n-byte strings. */
bool scram_mem_equal(const void *a, const void *b, size_t n);

#endif
