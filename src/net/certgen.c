/*
 * Development certificates: a throw-away CA and a server certificate for
 * one domain, so `liaisond` with no arguments can offer TLS at once.
 * OpenSSL 3 EVP and X509 APIs only; files are written to a temporary
 * name, with mode 0600 for keys, and renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "base/errors.h"
#include "base/log.h"
#include "net/net_int.h"

#define CERT_DAYS_CA		3650
#define CERT_DAYS_SERVER	825

static void
cg_err(char *err, size_t errlen, const char *what)
{
	char msg[200];
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, msg, sizeof(msg));
	else if (errno != 0)
		snprintf(msg, sizeof(msg), "%s", strerror(errno));
	else
		snprintf(msg, sizeof(msg), "failed");
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, msg);
	ERR_clear_error();
}

/* The domain goes into an X509V3 configuration string: only host name
 * characters are allowed, so it cannot inject other names. */
static bool
cg_domain_ok(const char *d)
{
	size_t i, n = strlen(d);

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		    (d[i] >= 'A' && d[i] <= 'Z') ||
		    (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		    d[i] == '.'))
			return false;
	}
	return true;
}

static int
cg_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return L_ERR_CRYPTO;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? L_OK : L_ERR_CRYPTO;
}

/* A certificate for `key` named cn, signed by issuer_key (issuer NULL:
 * self-signed). */
static X509 *
cg_make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
    EVP_PKEY *issuer_key, int days)
{
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509_NAME *name;
	X509 *cert;

	if ((cert = X509_new()) == NULL)
		return NULL;
	if (X509_set_version(cert, 2) != 1)
		goto err;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto err;
	serial[0] &= 0x7f;	/* positive */
	serial[0] |= 0x01;	/* and nonzero */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto err;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL)
		goto err;
	if (X509_set_pubkey(cert, key) != 1)
		goto err;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"Liaison development", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		goto err;
	if (X509_set_issuer_name(cert, issuer != NULL ?
	    X509_get_subject_name(issuer) : name) != 1)
		goto err;
	if (cg_add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier,
	    "hash") != L_OK)
		goto err;
	if (issuer != NULL && cg_add_ext(cert, issuer,
	    NID_authority_key_identifier, "keyid:always") != L_OK)
		goto err;
	BN_free(bn);
	return cert;
err:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* Writes through a temporary file renamed into place, so a crash never
 * leaves half a key, and creates it with `mode` (0600 for keys). */
static int
cg_write(const char *dir, const char *name, mode_t mode, EVP_PKEY *key,
    X509 *cert, char *err, size_t errlen)
{
	char path[4096], tmp[4096 + 8];
	FILE *f = NULL;
	int fd, ok;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "path too long");
		return L_ERR_INVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return L_ERR_IO;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1 || rename(tmp, path) == -1) {
		cg_err(err, errlen, path);
		(void)unlink(tmp);
		return L_ERR_IO;
	}
	return L_OK;
}

static bool
cg_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
tls_make_dev_certs(const char *dir, const char *domain, char *err,
    size_t errlen)
{
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	X509 *ca = NULL, *srv = NULL;
	char san[1024];
	int rc = L_ERR_CRYPTO;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cg_exists(dir, "ca.pem") && cg_exists(dir, "server.pem") &&
	    cg_exists(dir, "server.key"))
		return L_OK;
	if (!cg_domain_ok(domain)) {
		snprintf(err, errlen, "bad domain for a certificate");
		return L_ERR_INVAL;
	}
	errno = 0;
	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (srv_key = EVP_EC_gen("P-256")) == NULL) {
		cg_err(err, errlen, "EC key generation");
		goto out;
	}

	if ((ca = cg_make_cert(ca_key, "Liaison development CA", NULL, NULL,
	    CERT_DAYS_CA)) == NULL ||
	    cg_add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE") ||
	    cg_add_ext(ca, ca, NID_key_usage,
	    "critical,keyCertSign,cRLSign") ||
	    X509_sign(ca, ca_key, EVP_sha256()) == 0) {
		cg_err(err, errlen, "CA certificate");
		goto out;
	}

	/* id-on-xmppAddr (RFC 6120 13.7.1.4) names the XMPP service. */
	snprintf(san, sizeof(san), "DNS:%s,DNS:*.%s,"
	    "otherName:1.3.6.1.5.5.7.8.5;UTF8:%s", domain, domain, domain);
	if ((srv = cg_make_cert(srv_key, domain, ca, ca_key,
	    CERT_DAYS_SERVER)) == NULL ||
	    cg_add_ext(srv, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    cg_add_ext(srv, ca, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment") ||
	    cg_add_ext(srv, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    cg_add_ext(srv, ca, NID_subject_alt_name, san) ||
	    X509_sign(srv, ca_key, EVP_sha256()) == 0) {
		cg_err(err, errlen, "server certificate");
		goto out;
	}

	/* Keys before certificates: ca.pem, server.pem and server.key all
	 * present is what marks the set complete. */
	if ((rc = cg_write(dir, "ca.key", 0600, ca_key, NULL, err,
	    errlen)) != L_OK ||
	    (rc = cg_write(dir, "server.key", 0600, srv_key, NULL, err,
	    errlen)) != L_OK ||
	    (rc = cg_write(dir, "server.pem", 0644, NULL, srv, err,
	    errlen)) != L_OK ||
	    (rc = cg_write(dir, "ca.pem", 0644, NULL, ca, err,
	    errlen)) != L_OK)
		goto out;
	log_info("created development certificates for %s in %s", domain,
	    dir);
	rc = L_OK;
out:
	X509_free(srv);
	X509_free(ca);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(ca_key);
	return rc;
}
