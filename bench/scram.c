/*
 * The client side of SASL SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, 7677)
 * and PLAIN (RFC 4616), on OpenSSL EVP.  The server's signature is
 * verified, so a login counts only when the server proved it knows the
 * password.  PBKDF2 results are cached per user (see struct scram_cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "bench.h"

const char *
mech_name(int mech)
{
	switch (mech) {
	case MECH_SCRAM_SHA256: return "SCRAM-SHA-256";
	case MECH_SCRAM_SHA1: return "SCRAM-SHA-1";
	case MECH_PLAIN: return "PLAIN";
	default: return "auto";
	}
}

static const EVP_MD *
mech_md(int mech)
{
	return mech == MECH_SCRAM_SHA256 ? EVP_sha256() : EVP_sha1();
}

static int
b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	if (outsz < 4 * ((n + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

/* Returns the decoded length, or -1. */
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz)
{
	if (n % 4 != 0 || outsz < 3 * (n / 4) + 1)
		return -1;
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	if (n >= 1 && in[n - 1] == '=')
		len--;
	if (n >= 2 && in[n - 2] == '=')
		len--;
	out[len] = 0;
	return len;
}

int
plain_initial(const char *user, const char *password, char *out,
    size_t outsz)
{
	char raw[512];
	int n = snprintf(raw + 1, sizeof raw - 1, "%s", user);
	if (n < 0 || (size_t)n + 2 >= sizeof raw)
		return -1;
	raw[0] = 0;
	size_t pos = (size_t)n + 1;
	raw[pos++] = 0;
	size_t pl = strlen(password);
	if (pos + pl >= sizeof raw)
		return -1;
	memcpy(raw + pos, password, pl);
	return b64_encode((unsigned char *)raw, pos + pl, out, outsz);
}

int
scram_client_first(struct scram *s, int mech, const char *user, char *out,
    size_t outsz)
{
	unsigned char rnd[18];
	char msg[256];

	s->mech = mech;
	s->hlen = EVP_MD_get_size(mech_md(mech));
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return -1;
	/* Base64 of 18 bytes is 24 printable chars without ',' or '='. */
	b64_encode(rnd, sizeof rnd, s->cnonce, sizeof s->cnonce);
	for (char *p = s->cnonce; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(s->first_bare, sizeof s->first_bare, "n=%s,r=%s", user,
	    s->cnonce);
	snprintf(msg, sizeof msg, "n,,%s", s->first_bare);
	return b64_encode((unsigned char *)msg, strlen(msg), out, outsz);
}

/* Finds "k=" in a SCRAM attribute list; returns its value and length. */
static const char *
scram_attr(const char *msg, char k, size_t *len)
{
	const char *p = msg;
	while (p && *p) {
		if (p[0] == k && p[1] == '=') {
			const char *e = strchr(p, ',');
			*len = e ? (size_t)(e - p - 2) : strlen(p + 2);
			return p + 2;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return NULL;
}

int
scram_client_final(struct scram *s, struct scram_cache *cache,
    const char *password, const char *server_first_b64, char *out,
    size_t outsz)
{
	unsigned char sf[512], salt[128];
	unsigned char salted[64], ckey[64], skey[64], stored[64], csig[64];
	unsigned char proof[64];
	char proof64[128], nonce[160], final_wo[256], auth[1024], msg[512];
	unsigned int hl = 0;
	const EVP_MD *md = mech_md(s->mech);
	size_t rlen, slen, ilen;

	if (b64_decode(server_first_b64, strlen(server_first_b64), sf,
	    sizeof sf) < 0)
		return -1;
	const char *r = scram_attr((char *)sf, 'r', &rlen);
	const char *sa = scram_attr((char *)sf, 's', &slen);
	const char *it = scram_attr((char *)sf, 'i', &ilen);
	if (!r || !sa || !it || rlen >= sizeof nonce ||
	    rlen < strlen(s->cnonce) ||
	    strncmp(r, s->cnonce, strlen(s->cnonce)) != 0)
		return -1;
	memcpy(nonce, r, rlen);
	nonce[rlen] = 0;
	char sbuf[200];
	if (slen >= sizeof sbuf)
		return -1;
	memcpy(sbuf, sa, slen);
	sbuf[slen] = 0;
	int saltlen = b64_decode(sbuf, slen, salt, sizeof salt);
	int iter = atoi(it);
	if (saltlen <= 0 || saltlen > 64 || iter <= 0 || iter > 1000000)
		return -1;

	if (cache && cache->mech == s->mech && cache->iter == iter &&
	    cache->salt_len == saltlen &&
	    memcmp(cache->salt, salt, (size_t)saltlen) == 0) {
		memcpy(salted, cache->salted, (size_t)s->hlen);
	} else {
		if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
		    saltlen, iter, md, s->hlen, salted) != 1)
			return -1;
		if (cache) {
			cache->mech = s->mech;
			cache->iter = iter;
			cache->salt_len = saltlen;
			memcpy(cache->salt, salt, (size_t)saltlen);
			memcpy(cache->salted, salted, (size_t)s->hlen);
		}
	}
	HMAC(md, salted, s->hlen, (const unsigned char *)"Client Key", 10,
	    ckey, &hl);
	EVP_Digest(ckey, (size_t)s->hlen, stored, NULL, md, NULL);
	snprintf(final_wo, sizeof final_wo, "c=biws,r=%s", nonce);
	int al = snprintf(auth, sizeof auth, "%s,%s,%s", s->first_bare,
	    (char *)sf, final_wo);
	if (al < 0 || (size_t)al >= sizeof auth)
		return -1;
	HMAC(md, stored, s->hlen, (unsigned char *)auth, (size_t)al, csig,
	    &hl);
	for (int i = 0; i < s->hlen; i++)
		proof[i] = ckey[i] ^ csig[i];
	HMAC(md, salted, s->hlen, (const unsigned char *)"Server Key", 10,
	    skey, &hl);
	HMAC(md, skey, s->hlen, (unsigned char *)auth, (size_t)al,
	    s->server_sig, &hl);
	b64_encode(proof, (size_t)s->hlen, proof64, sizeof proof64);
	snprintf(msg, sizeof msg, "%s,p=%s", final_wo, proof64);
	return b64_encode((unsigned char *)msg, strlen(msg), out, outsz);
}

int
scram_verify_server_final(struct scram *s, const char *b64)
{
	unsigned char sf[256], v[128];
	size_t vl;

	if (b64_decode(b64, strlen(b64), sf, sizeof sf) < 0)
		return -1;
	const char *vp = scram_attr((char *)sf, 'v', &vl);
	if (!vp)
		return -1;
	char vb[128];
	if (vl >= sizeof vb)
		return -1;
	memcpy(vb, vp, vl);
	vb[vl] = 0;
	if (b64_decode(vb, vl, v, sizeof v) != s->hlen)
		return -1;
	return CRYPTO_memcmp(v, s->server_sig, (size_t)s->hlen) == 0 ? 0 : -1;
}
