/*
 * The format of the audit folder and its record lines (audit.h describes
 * both): file names, the point names, hex and strict decimal fields, the
 * canonical escaping, and the SHA-256 chain that links each record to the
 * one before.  The writer formats records with it; the verifier and the
 * printer parse them with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/timeutil.h"
#include "policy/audit_int.h"

const char audit_zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static const char *const point_names[AUDIT_POINT_COUNT] = {
	[AUDIT_POINT_INGRESS] = "ingress",
	[AUDIT_POINT_DELIVER] = "deliver",
	[AUDIT_POINT_OFFLINE_STORE] = "offline-store",
	[AUDIT_POINT_OFFLINE_DELIVER] = "offline-deliver",
	[AUDIT_POINT_CARBON] = "carbon",
	[AUDIT_POINT_FORWARD] = "forward",
	[AUDIT_POINT_IQ] = "iq",
	[AUDIT_POINT_CATALOG] = "catalog",
	[AUDIT_POINT_MUC] = "muc",
	[AUDIT_POINT_ARCHIVE] = "archive",
	[AUDIT_POINT_GUARD] = "guard",
	[AUDIT_POINT_CLEARANCE] = "clearance",
	[AUDIT_POINT_AUDIT] = "audit",
};

const char *
audit_point_name(enum audit_point p)
{
	if ((int)p < 0 || p >= AUDIT_POINT_COUNT)
		return NULL;
	return point_names[p];
}

int
audit_point_parse(const char *name)
{
	int	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < AUDIT_POINT_COUNT; i++)
		if (strcmp(point_names[i], name) == 0)
			return i;
	return -1;
}

void
audit_hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
audit_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* True if p[0..n) is exactly `want` lower-case hex digits. */
bool
audit_is_lowhex(const char *p, size_t n, size_t want)
{
	size_t	i;

	if (n != want)
		return false;
	for (i = 0; i < n; i++)
		if (audit_hex_value((unsigned char)p[i]) < 0)
			return false;
	return true;
}

/* SHA-256 of p[0..n) in hex into out[65].  0 or L_ERR_CRYPTO. */
int
audit_sha256_hex(const void *p, size_t n, char *out)
{
	unsigned char	md[32];
	unsigned int	mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return L_ERR_CRYPTO;
	audit_hex_encode(md, sizeof(md), out);
	return 0;
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow. */
int
audit_parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return L_ERR_INVAL;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return L_ERR_INVAL;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return L_ERR_INVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Appends s escaped as audit.h describes. */
static int
esc_append(struct buf *b, const char *s)
{
	char		 tmp[5];
	const char	*run;
	int		 rc;

	if (s == NULL)
		return 0;
	run = s;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != 0x7f && c != '\\')
			continue;
		if ((rc = buf_append(b, run, (size_t)(s - run))) != 0)
			return rc;
		switch (c) {
		case '\\': memcpy(tmp, "\\\\", 3); break;
		case '\t': memcpy(tmp, "\\t", 3); break;
		case '\n': memcpy(tmp, "\\n", 3); break;
		case '\r': memcpy(tmp, "\\r", 3); break;
		default:
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			break;
		}
		if ((rc = buf_append_str(b, tmp)) != 0)
			return rc;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

/*
 * True if p[0..n) is in the canonical escaped form: the form esc_append
 * produces, so that one text has exactly one encoding in the log.
 */
static bool
is_canonical(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c != '\\')
			continue;
		if (i + 1 >= n)
			return false;
		switch (p[i + 1]) {
		case '\\': case 't': case 'n': case 'r':
			i++;
			break;
		case 'x': {
			int hi, lo, v;
			if (i + 3 >= n)
				return false;
			hi = audit_hex_value((unsigned char)p[i + 2]);
			lo = audit_hex_value((unsigned char)p[i + 3]);
			if (hi < 0 || lo < 0)
				return false;
			v = hi << 4 | lo;
			if ((v >= 0x20 && v != 0x7f) || v == '\t' ||
			    v == '\n' || v == '\r')
				return false;
			i += 3;
			break;
		}
		default:
			return false;
		}
	}
	return true;
}

char *
audit_path(const char *dir, const char *name)
{
	size_t	 n = strlen(dir) + 1 + strlen(name) + 1;
	char	*p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Splits line[0..n) at TABs into at most max fields; returns the count,
 * or max + 1 if there are more. */
size_t
audit_split_fields(const char *line, size_t n, struct str *f, size_t max)
{
	size_t	nf = 0, start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && line[i] != '\t')
			continue;
		if (nf == max)
			return max + 1;
		f[nf].p = line + start;
		f[nf].len = i - start;
		nf++;
		start = i + 1;
	}
	return nf;
}

/*
 * Appends the record line for entry `e` with sequence `seq` to b, chained
 * to `hash` (the previous record's hash), which it then replaces with this
 * record's hash.  0 or L_ERR_NOMEM / L_ERR_CRYPTO.
 */
int
audit_format_record(struct buf *b, uint64_t seq, char hash[HASH_HEX + 1],
    const struct audit_ent *e)
{
	char	tbuf[32];
	size_t	start = b->len;
	int	rc;

	time_format_xep82(e->time_us, tbuf);
	if ((rc = buf_appendf(b, "R\t%llu\t%s\t%llu\t",
	    (unsigned long long)seq, tbuf,
	    (unsigned long long)e->session)) != 0 ||
	    (rc = esc_append(b, e->from)) != 0 ||
	    (rc = buf_append_str(b, "\t")) != 0 ||
	    (rc = esc_append(b, e->to)) != 0 ||
	    (rc = buf_append_str(b, "\t")) != 0 ||
	    (rc = esc_append(b, e->id)) != 0 ||
	    (rc = buf_appendf(b, "\t%s\t", e->digest)) != 0 ||
	    (rc = esc_append(b, e->marking)) != 0 ||
	    (rc = buf_appendf(b, "\t%s\t%s\t",
	    e->decision == AUDIT_DENY ? "DENY" : "GRANT",
	    audit_point_name(e->point))) != 0 ||
	    (rc = esc_append(b, e->rule)) != 0 ||
	    (rc = buf_appendf(b, "\t%s", hash)) != 0)
		return rc;
	if ((rc = audit_sha256_hex(b->data + start, b->len - start, hash)) != 0)
		return rc;
	return buf_appendf(b, "\t%s\n", hash);
}

/*
 * Checks the syntax of a record line split into f (its hash already
 * checked).  Returns true if every field is well formed and canonical.
 */
bool
audit_record_is_wellformed(const struct str *f)
{
	uint64_t	v;
	int64_t		t;
	char		tbuf[64];
	size_t		i;

	if (audit_parse_u64(f[1].p, f[1].len, &v) != 0 || v == 0)
		return false;
	if (f[2].len == 0 || f[2].len >= sizeof(tbuf))
		return false;
	memcpy(tbuf, f[2].p, f[2].len);
	tbuf[f[2].len] = '\0';
	if (time_parse_xep82(tbuf, &t) != 0)
		return false;
	if (audit_parse_u64(f[3].p, f[3].len, &v) != 0)
		return false;
	for (i = 4; i <= 11; i++)
		if (!is_canonical(f[i].p, f[i].len))
			return false;
	if (f[7].len != 0 && !audit_is_lowhex(f[7].p, f[7].len, HASH_HEX))
		return false;
	if (!str_eq_cstr(f[9], "GRANT") && !str_eq_cstr(f[9], "DENY"))
		return false;
	for (i = 0; i < AUDIT_POINT_COUNT; i++)
		if (str_eq_cstr(f[10], audit_point_name(i)))
			break;
	if (i == AUDIT_POINT_COUNT)
		return false;
	return audit_is_lowhex(f[12].p, f[12].len, HASH_HEX);
}
