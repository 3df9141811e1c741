/*
 * XMPP addresses: split per RFC 7622 section 3.1, prepare each part with a
 * stringprep profile, enforce lengths.  Pure-ASCII parts are prepared here
 * without libidn: for ASCII the three profiles reduce to case folding (not
 * for resources) and a set of prohibited characters, which the unit tests
 * check against libidn for every ASCII character.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stringprep.h>

#include "base/errors.h"
#include "xmpp/jid.h"

enum part_kind { PART_NODE, PART_DOMAIN, PART_RESOURCE };

/*
 * A raw part longer than this cannot shrink to JID_PART_MAX through
 * preparation in any realistic way; refusing it early bounds libidn's work.
 */
#define PART_RAW_MAX	(4 * JID_PART_MAX)

/* Characters Nodeprep prohibits in addition to space and controls. */
static bool
is_node_forbidden_ascii(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '"' || c == '&' || c == '\'' ||
	    c == '/' || c == ':' || c == '<' || c == '>' || c == '@';
}

/*
 * Strict UTF-8 check (no overlongs, no surrogates, nothing above
 * U+10FFFF).  libidn assumes valid input; this keeps garbage out of it.
 */
static bool
utf8_is_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
is_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * Checks a prepared domain: labels of letters, digits and hyphens (not at
 * either end of a label), 1..63 bytes for ASCII labels; non-ASCII labels
 * are left to Nameprep.  A domain of digits and dots must be an IPv4
 * address.
 */
static int
domain_check(const char *d, size_t len)
{
	size_t label = 0;
	bool all_numeric = true, wide = false;

	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)d[i] : '.';

		if (c == '.') {
			if (label == 0 || (!wide && label > 63) ||
			    d[i - 1] == '-')
				return L_ERR_INVAL;
			label = 0;
			wide = false;
			continue;
		}
		if (label == 0 && c == '-')
			return L_ERR_INVAL;
		label++;
		if (c >= 0x80) {
			/* A non-ASCII label's length limit applies to its
			 * ACE form, which Nameprep does not produce. */
			all_numeric = false;
			wide = true;
			continue;
		}
		if (c >= '0' && c <= '9')
			continue;
		all_numeric = false;
		if (!((c >= 'a' && c <= 'z') || c == '-'))
			return L_ERR_INVAL;
	}
	if (all_numeric) {
		struct in_addr a4;
		char tmp[16];

		if (len >= sizeof tmp)
			return L_ERR_INVAL;
		memcpy(tmp, d, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET, tmp, &a4) != 1)
			return L_ERR_INVAL;
	}
	return 0;
}

/* "[v6]" -> canonical RFC 5952 text in brackets, in *out. */
static int
domain_prep_ipv6(const char *in, size_t len, char **out)
{
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN + 2], txt[INET6_ADDRSTRLEN];

	if (len < 3 || len - 2 >= sizeof tmp || in[len - 1] != ']')
		return L_ERR_INVAL;
	memcpy(tmp, in + 1, len - 2);
	tmp[len - 2] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return L_ERR_INVAL;
	if (inet_ntop(AF_INET6, &a6, txt, sizeof txt) == NULL)
		return L_ERR_INVAL;
	snprintf(tmp, sizeof tmp, "[%s]", txt);
	if ((*out = l_strdup(tmp)) == NULL)
		return L_ERR_NOMEM;
	return 0;
}

/*
 * RFC 7622 3.2 / IDNA: U+3002, U+FF0E and U+FF61 separate labels like '.'.
 * Returns a copy with those replaced (never longer than the input).
 */
static char *
domain_map_dots(const char *in, size_t len)
{
	char *s = malloc(len + 1);
	size_t o = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		const unsigned char *u = (const unsigned char *)in + i;

		if (len - i >= 3 && ((u[0] == 0xe3 && u[1] == 0x80 &&
		    u[2] == 0x82) || (u[0] == 0xef && u[1] == 0xbc &&
		    u[2] == 0x8e) || (u[0] == 0xef && u[1] == 0xbd &&
		    u[2] == 0xa1))) {
			s[o++] = '.';
			i += 2;
		} else
			s[o++] = in[i];
	}
	s[o] = '\0';
	return s;
}

/* Prepares an ASCII part without libidn (see the file comment). */
static int
part_prep_ascii(enum part_kind kind, const char *in, size_t len, char **out)
{
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		return L_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		switch (kind) {
		case PART_NODE:
			if (is_node_forbidden_ascii(c))
				goto err;
			break;
		case PART_DOMAIN:
			/* Nameprep: only controls are prohibited for ASCII;
			 * domain_check applies the host name rules. */
			if (c < 0x20 || c == 0x7f)
				goto err;
			break;
		case PART_RESOURCE:
			if (c < 0x20 || c == 0x7f)
				goto err;
			break;
		}
		if (kind != PART_RESOURCE && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		s[i] = (char)c;
	}
	s[len] = '\0';
	*out = s;
	return 0;
err:
	free(s);
	return L_ERR_INVAL;
}

static int
part_prep_idn(enum part_kind kind, const char *in, size_t len, char **out)
{
	const char *profile;
	char *tmp, *res = NULL;
	int rc;

	if (!utf8_is_valid((const unsigned char *)in, len))
		return L_ERR_INVAL;
	if ((tmp = l_strndup(in, len)) == NULL)
		return L_ERR_NOMEM;
	profile = kind == PART_NODE ? "Nodeprep" :
	    kind == PART_DOMAIN ? "Nameprep" : "Resourceprep";
	rc = stringprep_profile(tmp, &res, profile, STRINGPREP_NO_UNASSIGNED);
	free(tmp);
	if (rc == STRINGPREP_MALLOC_ERROR)
		return L_ERR_NOMEM;
	if (rc != STRINGPREP_OK) {
		free(res);
		return L_ERR_INVAL;
	}
	*out = res;
	return 0;
}

/*
 * Prepares one part of `len` bytes into a new string.  The result is
 * checked for length (1..JID_PART_MAX), and for domains, for the host name
 * rules or as an IP literal.
 */
static int
part_prep(enum part_kind kind, const char *in, size_t len, char **out)
{
	char *res = NULL, *mapped = NULL;
	size_t rlen;
	int rc;

	*out = NULL;
	if (len == 0 || len > PART_RAW_MAX || memchr(in, '\0', len) != NULL)
		return L_ERR_INVAL;
	if (kind == PART_DOMAIN) {
		if (in[0] == '[') {
			rc = domain_prep_ipv6(in, len, out);
			return rc;
		}
		if (!is_ascii(in, len)) {
			if ((mapped = domain_map_dots(in, len)) == NULL)
				return L_ERR_NOMEM;
			in = mapped;
			len = strlen(mapped);
		}
		/* One trailing dot (the DNS root) is not part of the name. */
		if (len > 0 && in[len - 1] == '.')
			len--;
		if (len == 0) {
			rc = L_ERR_INVAL;
			goto out;
		}
	}
	if (is_ascii(in, len))
		rc = part_prep_ascii(kind, in, len, &res);
	else
		rc = part_prep_idn(kind, in, len, &res);
	if (rc != 0)
		goto out;
	rlen = strlen(res);
	if (rlen == 0 || rlen > JID_PART_MAX) {
		rc = L_ERR_INVAL;
		goto out;
	}
	if (kind == PART_DOMAIN && (rc = domain_check(res, rlen)) != 0)
		goto out;
	*out = res;
	res = NULL;
out:
	free(res);
	free(mapped);
	return rc;
}

int
jid_parse_n(const char *s, size_t len, struct jid *out)
{
	const char *slash, *at, *dom;
	size_t dlen;
	int rc;

	memset(out, 0, sizeof *out);
	if (s == NULL || len == 0 || len > JID_FORMAT_MAX * 4)
		return L_ERR_INVAL;
	/* RFC 7622 3.2: the resourcepart follows the first '/', the
	 * localpart precedes the first '@' before that. */
	slash = memchr(s, '/', len);
	dlen = slash != NULL ? (size_t)(slash - s) : len;
	at = memchr(s, '@', dlen);
	dom = s;
	if (at != NULL) {
		if ((rc = part_prep(PART_NODE, s, (size_t)(at - s),
		    &out->node)) != 0)
			goto err;
		dom = at + 1;
		dlen -= (size_t)(dom - s);
	}
	if ((rc = part_prep(PART_DOMAIN, dom, dlen, &out->domain)) != 0)
		goto err;
	if (slash != NULL && (rc = part_prep(PART_RESOURCE, slash + 1,
	    len - (size_t)(slash + 1 - s), &out->resource)) != 0)
		goto err;
	return 0;
err:
	jid_cleanup(out);
	return rc;
}

int
jid_parse(const char *s, struct jid *out)
{
	if (s == NULL) {
		memset(out, 0, sizeof *out);
		return L_ERR_INVAL;
	}
	return jid_parse_n(s, strlen(s), out);
}

int
jid_make(const char *node, const char *domain, const char *resource,
    struct jid *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	if (domain == NULL)
		return L_ERR_INVAL;
	if (node != NULL && (rc = part_prep(PART_NODE, node, strlen(node),
	    &out->node)) != 0)
		goto err;
	if ((rc = part_prep(PART_DOMAIN, domain, strlen(domain),
	    &out->domain)) != 0)
		goto err;
	if (resource != NULL && (rc = part_prep(PART_RESOURCE, resource,
	    strlen(resource), &out->resource)) != 0)
		goto err;
	return 0;
err:
	jid_cleanup(out);
	return rc;
}

void
jid_cleanup(struct jid *j)
{
	free(j->node);
	free(j->domain);
	free(j->resource);
	j->node = j->domain = j->resource = NULL;
}

int
jid_copy(struct jid *dst, const struct jid *src)
{
	memset(dst, 0, sizeof *dst);
	if ((src->node != NULL && (dst->node = l_strdup(src->node)) == NULL) ||
	    (src->domain != NULL &&
	    (dst->domain = l_strdup(src->domain)) == NULL) ||
	    (src->resource != NULL &&
	    (dst->resource = l_strdup(src->resource)) == NULL)) {
		jid_cleanup(dst);
		return L_ERR_NOMEM;
	}
	return 0;
}

static int
jid_append(const struct jid *j, bool full, struct buf *out)
{
	int rc;

	if (j->domain == NULL)
		return L_ERR_INVAL;
	if (j->node != NULL && ((rc = buf_append_str(out, j->node)) != 0 ||
	    (rc = buf_append(out, "@", 1)) != 0))
		return rc;
	if ((rc = buf_append_str(out, j->domain)) != 0)
		return rc;
	if (full && j->resource != NULL && ((rc = buf_append(out, "/", 1))
	    != 0 || (rc = buf_append_str(out, j->resource)) != 0))
		return rc;
	return 0;
}

int
jid_bare(const struct jid *j, struct buf *out)
{
	return jid_append(j, false, out);
}

int
jid_full(const struct jid *j, struct buf *out)
{
	return jid_append(j, true, out);
}

int
jid_format(const struct jid *j, bool full, char *dst, size_t dstlen)
{
	size_t nl, dl, rl, need;

	if (dstlen == 0)
		return L_ERR_LIMIT;
	dst[0] = '\0';
	if (j->domain == NULL)
		return L_ERR_INVAL;
	nl = j->node != NULL ? strlen(j->node) : 0;
	dl = strlen(j->domain);
	rl = full && j->resource != NULL ? strlen(j->resource) : 0;
	need = (nl ? nl + 1 : 0) + dl + (rl ? rl + 1 : 0);
	if (need >= dstlen || need > (size_t)INT32_MAX)
		return L_ERR_LIMIT;
	need = 0;
	if (nl) {
		memcpy(dst, j->node, nl);
		dst[nl] = '@';
		need = nl + 1;
	}
	memcpy(dst + need, j->domain, dl);
	need += dl;
	if (rl) {
		dst[need++] = '/';
		memcpy(dst + need, j->resource, rl);
		need += rl;
	}
	dst[need] = '\0';
	return (int)need;
}

static bool
str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
jid_bare_equal(const struct jid *a, const struct jid *b)
{
	return str_eq_null(a->node, b->node) &&
	    str_eq_null(a->domain, b->domain);
}

bool
jid_equal(const struct jid *a, const struct jid *b)
{
	return jid_bare_equal(a, b) && str_eq_null(a->resource, b->resource);
}

int
jid_prep_node(const char *in, char **out)
{
	*out = NULL;
	return in == NULL ? L_ERR_INVAL : part_prep(PART_NODE, in,
	    strlen(in), out);
}

int
jid_prep_domain(const char *in, char **out)
{
	*out = NULL;
	return in == NULL ? L_ERR_INVAL : part_prep(PART_DOMAIN, in,
	    strlen(in), out);
}

int
jid_prep_resource(const char *in, char **out)
{
	*out = NULL;
	return in == NULL ? L_ERR_INVAL : part_prep(PART_RESOURCE, in,
	    strlen(in), out);
}
