/*
 * The audit log (see audit.h for the file formats and the guarantees): the
 * record queue filled by audit_record() on the loop thread, the writer
 * thread that appends, fsyncs and signs checkpoints, the verifier shared by
 * audit_open() and audit_verify(), and the table printer of audit_show().
 * Keys are Ed25519 through OpenSSL's EVP interface.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "policy/audit.h"

#define HASH_HEX	64			/* SHA-256 in hex */
#define SIG_LEN		64			/* Ed25519 signature */
#define SIG_HEX		(2 * SIG_LEN)
#define SIGN_TAG	"liaison-audit-v1\n"	/* domain separation */
#define R_FIELDS	14
#define C_FIELDS	6

static const char zero_hash[HASH_HEX + 1] =
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

/*
 * One queued record.  The strings live in the same allocation, after the
 * struct; each is NUL-terminated and already cut to its bound.
 */
struct audit_ent {
	struct audit_ent	*next;
	int64_t			 time_us;
	uint64_t		 session;
	const char		*from;
	const char		*to;
	const char		*id;
	const char		*marking;
	const char		*rule;
	char			 digest[HASH_HEX + 1];
	enum audit_decision	 decision;
	enum audit_point	 point;
};

struct audit {
	char			*log_path;
	char			*head_path;
	char			*head_tmp;
	char			*dir;
	int			 log_fd;
	EVP_PKEY		*key;		/* private; owned */
	struct audit_opts	 opts;

	pthread_t		 thread;
	bool			 thread_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 wake;		/* writer waits on it */
	pthread_cond_t		 done;		/* flush/checkpoint wait */
	/* Under mu. */
	struct audit_ent	*q_head;
	struct audit_ent	*q_tail;
	size_t			 q_len;
	uint64_t		 enqueued;	/* entries ever queued */
	uint64_t		 finished;	/* entries written or discarded */
	uint64_t		 grants_seen;
	uint64_t		 drops_pending;
	uint64_t		 ckpt_asked;	/* generation asked for */
	uint64_t		 ckpt_made;	/* generation served */
	bool			 stopping;
	bool			 failed;
	struct audit_stats	 stats;

	/* Writer thread only (and audit_open before it starts). */
	uint64_t		 seq;
	char			 hash[HASH_HEX + 1];
	uint64_t		 ckpt_k;
	uint64_t		 since_ckpt;
	uint64_t		 last_ckpt_ms;
};

/* What a verification pass learnt, beyond audit_verify_result. */
struct vstate {
	uint64_t	last_seq;
	char		last_hash[HASH_HEX + 1];
	uint64_t	last_k;
	uint64_t	last_ckpt_seq;
	off_t		last_ckpt_end;	/* offset after the last C line */
	off_t		good_end;	/* offset after the last whole line */
	off_t		partial_at;	/* start of an unfinished line, or -1 */
	uint64_t	head_k;
	bool		head_missing;
};

/* ---- Small helpers ------------------------------------------------- */

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
audit_show_filter_init(struct audit_show_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->decision = -1;
	f->point = -1;
}

static void
hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* True if p[0..n) is exactly `want` lower-case hex digits. */
static bool
is_lowhex(const char *p, size_t n, size_t want)
{
	size_t	i;

	if (n != want)
		return false;
	for (i = 0; i < n; i++)
		if (hex_value((unsigned char)p[i]) < 0)
			return false;
	return true;
}

static int
hex_decode(const char *p, size_t n, unsigned char *out)
{
	size_t	i;

	if (n % 2 != 0)
		return L_ERR_INVAL;
	for (i = 0; i < n / 2; i++) {
		int hi = hex_value((unsigned char)p[2 * i]);
		int lo = hex_value((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return L_ERR_INVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* SHA-256 of p[0..n) in hex into out[65].  0 or L_ERR_CRYPTO. */
static int
sha256_hex(const void *p, size_t n, char *out)
{
	unsigned char	md[32];
	unsigned int	mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return L_ERR_CRYPTO;
	hex_encode(md, sizeof(md), out);
	return 0;
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow. */
static int
parse_u64(const char *p, size_t n, uint64_t *out)
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
			hi = hex_value((unsigned char)p[i + 2]);
			lo = hex_value((unsigned char)p[i + 3]);
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

/*
 * Copies at most max bytes of s (NULL = "") to dst, cutting at a UTF-8
 * character boundary, and returns the next free byte after the NUL.
 */
static char *
copy_cut(char *dst, const char *s, size_t max, const char **field)
{
	size_t	n;

	*field = dst;
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return dst + n + 1;
}

static size_t
cut_len(const char *s, size_t max)
{
	size_t	n = s ? strlen(s) : 0;

	return n > max ? max : n;
}

static char *
path_join(const char *dir, const char *name)
{
	size_t	 n = strlen(dir) + 1 + strlen(name) + 1;
	char	*p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* mkdir -p, the last component with `mode`. */
static int
mkdir_parents(const char *dir, mode_t mode)
{
	char	*p, *s;
	int	 rc = 0;

	if ((p = l_strdup(dir)) == NULL)
		return L_ERR_NOMEM;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			rc = L_ERR_IO;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		rc = L_ERR_IO;
out:
	free(p);
	return rc;
}

static int
fsync_dir(const char *dir)
{
	int	fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return L_ERR_IO;
	if (fsync(fd) != 0)
		rc = L_ERR_IO;
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return L_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Splits line[0..n) at TABs into at most max fields; returns the count,
 * or max + 1 if there are more. */
static size_t
split_fields(const char *line, size_t n, struct str *f, size_t max)
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

/* ---- Keys ------------------------------------------------------------ */

/* The raw public key's SHA-256 in hex.  0 or L_ERR_CRYPTO. */
static int
key_fingerprint(EVP_PKEY *key, char out[HASH_HEX + 1])
{
	unsigned char	raw[32];
	size_t		len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 ||
	    len != sizeof(raw))
		return L_ERR_CRYPTO;
	return sha256_hex(raw, len, out);
}

static EVP_PKEY *
key_read_public(const char *path)
{
	FILE		*f;
	EVP_PKEY	*key;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (key != NULL && !EVP_PKEY_is_a(key, "ED25519")) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

static EVP_PKEY *
key_read_private(const char *path)
{
	FILE		*f;
	EVP_PKEY	*key;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key != NULL && !EVP_PKEY_is_a(key, "ED25519")) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* Writes a key file through a temporary name and rename().  */
static int
key_write(const char *path, mode_t mode, EVP_PKEY *key, bool private)
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
static int
sign_hex(EVP_PKEY *key, const char *msg, size_t n, char *out)
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
	hex_encode(sig, siglen, out);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	buf_cleanup(&b);
	return rc;
}

/* True if sighex is a valid signature by key of SIGN_TAG + msg. */
static bool
sig_is_valid(EVP_PKEY *key, const char *msg, size_t n, struct str sighex)
{
	EVP_MD_CTX	*ctx = NULL;
	struct buf	 b;
	unsigned char	 sig[SIG_LEN];
	bool		 ok = false;

	buf_init(&b, 0);
	if (!is_lowhex(sighex.p, sighex.len, SIG_HEX) ||
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

/* ---- Verification ---------------------------------------------------- */

/* Records the first problem; later ones are ignored. */
static int
vfail(struct audit_verify_result *r, enum audit_problem p, uint64_t line,
    uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
vfail(struct audit_verify_result *r, enum audit_problem p, uint64_t line,
    uint64_t seq, const char *fmt, ...)
{
	va_list	ap;

	if (r->problem != AUDIT_OK)
		return 1;
	r->problem = p;
	r->line = line;
	r->seq = seq;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * Checks one checkpoint line's syntax and signature.  Fills k, seq, hash.
 * Returns 0, or the problem (MALFORMED or SIGNATURE).
 */
static enum audit_problem
check_ckpt_line(EVP_PKEY *pub, const char *line, size_t n, uint64_t *k,
    uint64_t *seq, char hash[HASH_HEX + 1])
{
	struct str	f[C_FIELDS + 1];
	int64_t		t;
	char		tbuf[64];

	if (split_fields(line, n, f, C_FIELDS) != C_FIELDS ||
	    !str_eq_cstr(f[0], "C") ||
	    parse_u64(f[1].p, f[1].len, k) != 0 || *k == 0 ||
	    parse_u64(f[2].p, f[2].len, seq) != 0 ||
	    f[3].len == 0 || f[3].len >= sizeof(tbuf) ||
	    !is_lowhex(f[4].p, f[4].len, HASH_HEX))
		return AUDIT_P_MALFORMED;
	memcpy(tbuf, f[3].p, f[3].len);
	tbuf[f[3].len] = '\0';
	if (time_parse_xep82(tbuf, &t) != 0)
		return AUDIT_P_MALFORMED;
	memcpy(hash, f[4].p, HASH_HEX);
	hash[HASH_HEX] = '\0';
	if (!sig_is_valid(pub, line, (size_t)(f[5].p - 1 - line), f[5]))
		return AUDIT_P_SIGNATURE;
	return AUDIT_OK;
}

/*
 * Checks the syntax of a record line split into f (its hash already
 * checked).  Returns true if every field is well formed and canonical.
 */
static bool
record_is_wellformed(const struct str *f)
{
	uint64_t	v;
	int64_t		t;
	char		tbuf[64];
	size_t		i;

	if (parse_u64(f[1].p, f[1].len, &v) != 0 || v == 0)
		return false;
	if (f[2].len == 0 || f[2].len >= sizeof(tbuf))
		return false;
	memcpy(tbuf, f[2].p, f[2].len);
	tbuf[f[2].len] = '\0';
	if (time_parse_xep82(tbuf, &t) != 0)
		return false;
	if (parse_u64(f[3].p, f[3].len, &v) != 0)
		return false;
	for (i = 4; i <= 11; i++)
		if (!is_canonical(f[i].p, f[i].len))
			return false;
	if (f[7].len != 0 && !is_lowhex(f[7].p, f[7].len, HASH_HEX))
		return false;
	if (!str_eq_cstr(f[9], "GRANT") && !str_eq_cstr(f[9], "DENY"))
		return false;
	for (i = 0; i < AUDIT_POINT_COUNT; i++)
		if (str_eq_cstr(f[10], point_names[i]))
			break;
	if (i == AUDIT_POINT_COUNT)
		return false;
	return is_lowhex(f[12].p, f[12].len, HASH_HEX);
}

/* True if a record line with sequence `seq` follows in f. */
static bool
seq_appears_later(FILE *f, uint64_t seq)
{
	char	 prefix[32];
	char	*line = NULL;
	size_t	 cap = 0, plen;
	ssize_t	 n;
	bool	 found = false;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "R\t%llu\t",
	    (unsigned long long)seq);
	while ((n = getline(&line, &cap, f)) >= 0)
		if ((size_t)n > plen && memcmp(line, prefix, plen) == 0) {
			found = true;
			break;
		}
	free(line);
	return found;
}

/*
 * The verifier.  Fills r and, if vs is not NULL, the state audit_open
 * needs to continue the log.  Returns 0 (intact), 1 (r->problem set) or
 * L_ERR_NOMEM.
 */
static int
verify_run(const char *dir, const char *pin_fp,
    struct audit_verify_result *r, struct vstate *vs_out)
{
	struct vstate	 vs;
	EVP_PKEY	*pub = NULL;
	FILE		*lf = NULL, *hf = NULL;
	char		*pub_path = NULL, *log_path = NULL, *head_path = NULL;
	char		*line = NULL, *head_line = NULL;
	size_t		 cap = 0, hcap = 0, head_len = 0;
	ssize_t		 n;
	uint64_t	 lineno = 0, head_seq = 0;
	char		 head_hash[HASH_HEX + 1];
	off_t		 pos = 0;
	int		 rc = 0;

	memset(r, 0, sizeof(*r));
	memset(&vs, 0, sizeof(vs));
	memcpy(vs.last_hash, zero_hash, sizeof(zero_hash));
	vs.partial_at = -1;
	if ((pub_path = path_join(dir, "audit.pub")) == NULL ||
	    (log_path = path_join(dir, "audit.log")) == NULL ||
	    (head_path = path_join(dir, "audit.head")) == NULL) {
		rc = L_ERR_NOMEM;
		goto out;
	}

	if ((pub = key_read_public(pub_path)) == NULL) {
		rc = vfail(r, AUDIT_P_UNREADABLE, 0, 0,
		    "public key %s missing or not an Ed25519 key", pub_path);
		goto out;
	}
	if (key_fingerprint(pub, r->key_fp) != 0) {
		rc = vfail(r, AUDIT_P_UNREADABLE, 0, 0,
		    "cannot read the public key");
		goto out;
	}
	if (pin_fp != NULL && strcmp(pin_fp, r->key_fp) != 0) {
		rc = vfail(r, AUDIT_P_KEY, 0, 0,
		    "public key %.16s... is not the pinned key %.16s...",
		    r->key_fp, pin_fp);
		goto out;
	}

	/* The head: a copy of the last checkpoint line, signed. */
	if ((hf = fopen(head_path, "re")) == NULL) {
		vs.head_missing = true;
	} else {
		enum audit_problem hp;
		uint64_t hk;

		n = getline(&head_line, &hcap, hf);
		if (n <= 1 || head_line[n - 1] != '\n' ||
		    getc(hf) != EOF) {
			rc = vfail(r, AUDIT_P_HEAD, 0, 0,
			    "head file is malformed");
			goto out;
		}
		head_len = (size_t)n - 1;
		head_line[head_len] = '\0';
		hp = check_ckpt_line(pub, head_line, head_len, &hk, &head_seq,
		    head_hash);
		if (hp != AUDIT_OK) {
			rc = vfail(r, hp == AUDIT_P_SIGNATURE ?
			    AUDIT_P_SIGNATURE : AUDIT_P_HEAD, 0, 0,
			    "head file %s", hp == AUDIT_P_SIGNATURE ?
			    "has an invalid signature" : "is malformed");
			goto out;
		}
		vs.head_k = hk;
		r->head_seq = head_seq;
	}

	if ((lf = fopen(log_path, "re")) == NULL) {
		rc = vfail(r, AUDIT_P_UNREADABLE, 0, 0, "cannot open %s: %s",
		    log_path, strerror(errno));
		goto out;
	}
	while ((n = getline(&line, &cap, lf)) >= 0) {
		struct str	f[R_FIELDS + 1];
		size_t		nf, len = (size_t)n;
		off_t		start = pos;

		lineno++;
		pos += n;
		if (len == 0 || line[len - 1] != '\n') {
			vs.partial_at = start;
			rc = vfail(r, AUDIT_P_TRUNCATED, lineno, vs.last_seq + 1,
			    "log cut short in the middle of line %llu",
			    (unsigned long long)lineno);
			goto out;
		}
		len--;
		if (memchr(line, '\0', len) != NULL) {
			rc = vfail(r, AUDIT_P_MALFORMED, lineno, 0,
			    "line %llu holds a NUL byte",
			    (unsigned long long)lineno);
			goto out;
		}
		if (len > 0 && line[0] == 'C') {
			uint64_t k, cseq;
			char chash[HASH_HEX + 1];
			enum audit_problem cp;

			cp = check_ckpt_line(pub, line, len, &k, &cseq, chash);
			if (cp == AUDIT_P_MALFORMED) {
				rc = vfail(r, cp, lineno, vs.last_seq,
				    "checkpoint line %llu is malformed",
				    (unsigned long long)lineno);
				goto out;
			}
			if (cp == AUDIT_P_SIGNATURE) {
				rc = vfail(r, cp, lineno, cseq,
				    "checkpoint %llu at line %llu: signature "
				    "does not verify (forged, or another key)",
				    (unsigned long long)k,
				    (unsigned long long)lineno);
				goto out;
			}
			if (k != vs.last_k + 1) {
				rc = vfail(r, k > vs.last_k ? AUDIT_P_REMOVED :
				    AUDIT_P_REORDERED, lineno, cseq,
				    "checkpoint %llu found at line %llu where "
				    "checkpoint %llu was expected",
				    (unsigned long long)k,
				    (unsigned long long)lineno,
				    (unsigned long long)(vs.last_k + 1));
				goto out;
			}
			if (cseq > vs.last_seq) {
				rc = vfail(r, AUDIT_P_REMOVED, lineno,
				    vs.last_seq + 1, "records %llu..%llu "
				    "missing before checkpoint %llu at line "
				    "%llu", (unsigned long long)
				    (vs.last_seq + 1), (unsigned long long)cseq,
				    (unsigned long long)k,
				    (unsigned long long)lineno);
				goto out;
			}
			if (cseq < vs.last_seq ||
			    strcmp(chash, vs.last_hash) != 0) {
				rc = vfail(r, AUDIT_P_CHECKPOINT, lineno, cseq,
				    "checkpoint %llu at line %llu signs "
				    "sequence %llu with another chain hash: "
				    "records before it were changed",
				    (unsigned long long)k,
				    (unsigned long long)lineno,
				    (unsigned long long)cseq);
				goto out;
			}
			if (vs.head_k == k && (head_len != len ||
			    memcmp(head_line, line, len) != 0)) {
				rc = vfail(r, AUDIT_P_HEAD, lineno, cseq,
				    "checkpoint %llu at line %llu differs "
				    "from the head file",
				    (unsigned long long)k,
				    (unsigned long long)lineno);
				goto out;
			}
			vs.last_k = k;
			vs.last_ckpt_seq = cseq;
			vs.last_ckpt_end = pos;
			vs.good_end = pos;
			r->checkpoints++;
			continue;
		}

		nf = split_fields(line, len, f, R_FIELDS);
		if (nf != R_FIELDS || !str_eq_cstr(f[0], "R") ||
		    !is_lowhex(f[13].p, f[13].len, HASH_HEX)) {
			rc = vfail(r, AUDIT_P_MALFORMED, lineno, vs.last_seq + 1,
			    "line %llu is not a record or checkpoint",
			    (unsigned long long)lineno);
			goto out;
		}
		{
			char		h[HASH_HEX + 1];
			uint64_t	seq = 0;
			size_t		plen = (size_t)(f[13].p - 1 - line);

			/* A seq that does not parse is reported as 0. */
			(void)parse_u64(f[1].p, f[1].len, &seq);
			if (sha256_hex(line, plen, h) != 0) {
				rc = L_ERR_NOMEM;
				goto out;
			}
			if (memcmp(h, f[13].p, HASH_HEX) != 0) {
				rc = vfail(r, AUDIT_P_CHANGED, lineno, seq,
				    "record at line %llu (sequence %llu) was "
				    "changed: its hash does not match",
				    (unsigned long long)lineno,
				    (unsigned long long)seq);
				goto out;
			}
			if (!record_is_wellformed(f)) {
				rc = vfail(r, AUDIT_P_MALFORMED, lineno, seq,
				    "record at line %llu is malformed",
				    (unsigned long long)lineno);
				goto out;
			}
			if (seq <= vs.last_seq) {
				rc = vfail(r, AUDIT_P_REORDERED, lineno, seq,
				    "record %llu at line %llu comes after "
				    "record %llu: reordered or duplicated",
				    (unsigned long long)seq,
				    (unsigned long long)lineno,
				    (unsigned long long)vs.last_seq);
				goto out;
			}
			if (seq != vs.last_seq + 1) {
				bool later = seq_appears_later(lf,
				    vs.last_seq + 1);
				rc = vfail(r, later ? AUDIT_P_REORDERED :
				    AUDIT_P_REMOVED, lineno, vs.last_seq + 1,
				    later ? "record %llu moved: line %llu "
				    "holds record %llu" : "record %llu "
				    "removed: line %llu holds record %llu",
				    (unsigned long long)(vs.last_seq + 1),
				    (unsigned long long)lineno,
				    (unsigned long long)seq);
				goto out;
			}
			if (memcmp(f[12].p, vs.last_hash, HASH_HEX) != 0) {
				rc = vfail(r, AUDIT_P_CHAIN, lineno, seq,
				    "record %llu at line %llu does not chain "
				    "to record %llu: one of them was changed",
				    (unsigned long long)seq,
				    (unsigned long long)lineno,
				    (unsigned long long)vs.last_seq);
				goto out;
			}
			vs.last_seq = seq;
			memcpy(vs.last_hash, h, sizeof(h));
			vs.good_end = pos;
			r->records++;
		}
	}
	if (ferror(lf)) {
		rc = vfail(r, AUDIT_P_UNREADABLE, lineno, 0,
		    "read error on %s", log_path);
		goto out;
	}
	if (vs.last_k == 0) {
		rc = vfail(r, AUDIT_P_TRUNCATED, lineno, 0,
		    "log holds no checkpoint (empty or cut)");
		goto out;
	}
	if (vs.head_missing) {
		rc = vfail(r, AUDIT_P_HEAD, 0, 0,
		    "head file %s is missing: truncation cannot be ruled out",
		    head_path);
		goto out;
	}
	if (vs.head_k > vs.last_k) {
		rc = vfail(r, AUDIT_P_TRUNCATED, lineno + 1, vs.last_seq + 1,
		    "log cut short: it ends after line %llu, sequence %llu, "
		    "checkpoint %llu, but the head names checkpoint %llu at "
		    "sequence %llu", (unsigned long long)lineno,
		    (unsigned long long)vs.last_seq,
		    (unsigned long long)vs.last_k,
		    (unsigned long long)vs.head_k,
		    (unsigned long long)head_seq);
		goto out;
	}
out:
	r->unsigned_tail = vs.last_seq - vs.last_ckpt_seq;
	if (vs_out != NULL)
		*vs_out = vs;
	free(line);
	free(head_line);
	if (lf != NULL)
		fclose(lf);
	if (hf != NULL)
		fclose(hf);
	EVP_PKEY_free(pub);
	free(pub_path);
	free(log_path);
	free(head_path);
	return rc;
}

int
audit_verify_pinned(const char *dir, const char *key_fp, FILE *report,
    struct audit_verify_result *res)
{
	struct audit_verify_result	 local;
	struct audit_verify_result	*r = res ? res : &local;
	int				 rc;

	rc = verify_run(dir, key_fp, r, NULL);
	if (rc < 0)
		return rc;
	if (report != NULL) {
		if (rc == 0) {
			fprintf(report, "OK: %llu records, %llu checkpoints\n",
			    (unsigned long long)r->records,
			    (unsigned long long)r->checkpoints);
			if (r->unsigned_tail > 0)
				fprintf(report, "note: %llu records after "
				    "the last checkpoint are not signed yet\n",
				    (unsigned long long)r->unsigned_tail);
			fprintf(report, "key: sha256 %s\n", r->key_fp);
		} else {
			fprintf(report, "TAMPERED: %s (line %llu, "
			    "sequence %llu)\n", r->what,
			    (unsigned long long)r->line,
			    (unsigned long long)r->seq);
		}
	}
	return rc;
}

int
audit_verify(const char *dir, FILE *report, struct audit_verify_result *res)
{
	return audit_verify_pinned(dir, NULL, report, res);
}

/* ---- Writer ---------------------------------------------------------- */

/* Appends record line(s) for one entry to b; updates seq and hash. */
static int
format_record(struct audit *a, struct buf *b, const struct audit_ent *e)
{
	char	tbuf[32];
	size_t	start = b->len;
	int	rc;

	time_format_xep82(e->time_us, tbuf);
	a->seq++;
	if ((rc = buf_appendf(b, "R\t%llu\t%s\t%llu\t",
	    (unsigned long long)a->seq, tbuf,
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
	    point_names[e->point])) != 0 ||
	    (rc = esc_append(b, e->rule)) != 0 ||
	    (rc = buf_appendf(b, "\t%s", a->hash)) != 0)
		return rc;
	if ((rc = sha256_hex(b->data + start, b->len - start, a->hash)) != 0)
		return rc;
	return buf_appendf(b, "\t%s\n", a->hash);
}

/* Writes the head file atomically with `line` (with its LF). */
static int
head_write(struct audit *a, const char *line, size_t n)
{
	int	fd, rc = L_ERR_IO;

	(void)unlink(a->head_tmp);
	if ((fd = open(a->head_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) < 0)
		return L_ERR_IO;
	if (write_all(fd, line, n) != 0 || fsync(fd) != 0) {
		close(fd);
		goto out;
	}
	if (close(fd) != 0)
		goto out;
	if (rename(a->head_tmp, a->head_path) != 0)
		goto out;
	rc = fsync_dir(a->dir);
out:
	if (rc != 0)
		(void)unlink(a->head_tmp);
	return rc;
}

/* Signs (seq, hash) as checkpoint k + 1: log first, then the head. */
static int
checkpoint_write(struct audit *a)
{
	struct buf	b;
	char		tbuf[32], sig[SIG_HEX + 1];
	int		rc;

	buf_init(&b, 0);
	time_format_xep82(time_real_us(), tbuf);
	if ((rc = buf_appendf(&b, "C\t%llu\t%llu\t%s\t%s",
	    (unsigned long long)(a->ckpt_k + 1), (unsigned long long)a->seq,
	    tbuf, a->hash)) != 0)
		goto out;
	if ((rc = sign_hex(a->key, b.data, b.len, sig)) != 0)
		goto out;
	if ((rc = buf_appendf(&b, "\t%s\n", sig)) != 0)
		goto out;
	if ((rc = write_all(a->log_fd, b.data, b.len)) != 0 ||
	    fdatasync(a->log_fd) != 0) {
		rc = L_ERR_IO;
		goto out;
	}
	a->ckpt_k++;
	if ((rc = head_write(a, b.data, b.len)) != 0)
		goto out;
	a->since_ckpt = 0;
	a->last_ckpt_ms = time_mono_ms();
out:
	buf_cleanup(&b);
	return rc;
}

/* Appends b to the log and fsyncs it; empties b.  Counts the batch. */
static int
batch_flush(struct audit *a, struct buf *b, uint64_t *nsync)
{
	if (b->len == 0)
		return 0;
	if (write_all(a->log_fd, b->data, b->len) != 0 ||
	    fdatasync(a->log_fd) != 0)
		return L_ERR_IO;
	buf_reset(b);
	(*nsync)++;
	return 0;
}

/*
 * Writes a batch of entries (and a drop notice first) with one write and
 * one fsync, except that a checkpoint is made exactly after every
 * checkpoint_records records, which splits the batch there.  *nwritten
 * counts the records made durable, *nsync the fsyncs.
 */
static int
batch_write(struct audit *a, struct audit_ent *list, uint64_t drops,
    uint64_t *nwritten, uint64_t *nsync)
{
	struct buf		 b;
	struct audit_ent	 d, *e;
	char			 rule[96];
	uint64_t		 n = 0;
	int			 rc = 0;

	buf_init(&b, 0);
	if (drops > 0) {
		memset(&d, 0, sizeof(d));
		snprintf(rule, sizeof(rule),
		    "audit queue full: %llu records dropped",
		    (unsigned long long)drops);
		d.time_us = time_real_us();
		d.rule = rule;
		d.decision = AUDIT_DENY;
		d.point = AUDIT_POINT_AUDIT;
		d.next = list;
		list = &d;
	}
	for (e = list; e != NULL; e = e->next) {
		if ((rc = format_record(a, &b, e)) != 0)
			goto out;
		n++;
		if (++a->since_ckpt < a->opts.checkpoint_records)
			continue;
		if ((rc = batch_flush(a, &b, nsync)) != 0)
			goto out;
		*nwritten += n;
		n = 0;
		if ((rc = checkpoint_write(a)) != 0)
			goto out;
	}
	if ((rc = batch_flush(a, &b, nsync)) != 0)
		goto out;
	*nwritten += n;
out:
	buf_cleanup(&b);
	return rc;
}

static void *
audit_thread_main(void *arg)
{
	struct audit	*a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct audit_ent	*list, *e;
		uint64_t		 taken, drops, ckpt_gen, written = 0;
		uint64_t		 nsync = 0;
		bool			 stop, want_ckpt, failed;
		int			 rc = 0;

		while (a->q_head == NULL && a->drops_pending == 0 &&
		    !a->stopping && a->ckpt_asked == a->ckpt_made) {
			if (a->since_ckpt > 0 && !a->failed) {
				uint64_t due = a->last_ckpt_ms +
				    a->opts.checkpoint_ms;
				uint64_t now = time_mono_ms();
				struct timespec ts;

				if (now >= due)
					break;
				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += (time_t)((due - now) / 1000);
				ts.tv_nsec += (long)((due - now) % 1000) *
				    1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&a->wake, &a->mu, &ts);
			} else
				pthread_cond_wait(&a->wake, &a->mu);
		}
		list = a->q_head;
		taken = a->q_len;
		a->q_head = a->q_tail = NULL;
		a->q_len = 0;
		drops = a->drops_pending;
		a->drops_pending = 0;
		ckpt_gen = a->ckpt_asked;
		want_ckpt = ckpt_gen != a->ckpt_made;
		stop = a->stopping;
		failed = a->failed;
		pthread_mutex_unlock(&a->mu);

		if (!failed) {
			rc = batch_write(a, list, drops, &written, &nsync);
			if (rc == 0 && (want_ckpt || (a->since_ckpt > 0 &&
			    (stop || time_mono_ms() >= a->last_ckpt_ms +
			    a->opts.checkpoint_ms))))
				rc = checkpoint_write(a);
			if (rc != 0)
				log_errorx("audit: writing %s failed (%s); "
				    "the audit log is no longer written",
				    a->log_path, l_strerror(rc));
		}
		while ((e = list) != NULL) {
			list = e->next;
			free(e);
		}

		pthread_mutex_lock(&a->mu);
		if (rc != 0)
			a->failed = true;
		a->finished += taken;
		a->stats.written += written;
		a->stats.last_seq = a->seq;
		a->stats.checkpoints = a->ckpt_k;
		a->stats.failed = a->failed;
		a->stats.batches += nsync;
		a->ckpt_made = ckpt_gen;
		pthread_cond_broadcast(&a->done);
		if (stop && a->q_head == NULL && a->drops_pending == 0)
			break;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- Open, record, flush, close -------------------------------------- */

static void
audit_free(struct audit *a)
{
	struct audit_ent	*e;

	if (a == NULL)
		return;
	while ((e = a->q_head) != NULL) {
		a->q_head = e->next;
		free(e);
	}
	if (a->log_fd >= 0)
		close(a->log_fd);
	EVP_PKEY_free(a->key);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	free(a->log_path);
	free(a->head_path);
	free(a->head_tmp);
	free(a->dir);
	free(a);
}

/*
 * Loads the private key, or makes the key pair when there is no log yet.
 * Checks that audit.pub is the private key's public half.
 */
static int
audit_load_key(struct audit *a, bool log_exists, char *err, size_t errlen)
{
	char		*key_path = NULL, *pub_path = NULL;
	char		 fp1[HASH_HEX + 1], fp2[HASH_HEX + 1];
	EVP_PKEY	*pub = NULL;
	struct stat	 sb;
	int		 rc = L_ERR_NOMEM;

	if ((key_path = path_join(a->dir, "audit.key")) == NULL ||
	    (pub_path = path_join(a->dir, "audit.pub")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (stat(key_path, &sb) != 0) {
		if (log_exists) {
			snprintf(err, errlen, "%s exists but its key %s is "
			    "missing; refusing to start a new key", a->log_path,
			    key_path);
			rc = L_ERR_NOTFOUND;
			goto out;
		}
		if ((a->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) ==
		    NULL) {
			snprintf(err, errlen, "cannot make an Ed25519 key");
			rc = L_ERR_CRYPTO;
			goto out;
		}
		if ((rc = key_write(key_path, 0600, a->key, true)) != 0 ||
		    (rc = key_write(pub_path, 0644, a->key, false)) != 0 ||
		    (rc = fsync_dir(a->dir)) != 0) {
			snprintf(err, errlen, "cannot write the audit key "
			    "in %s: %s", a->dir, strerror(errno));
			goto out;
		}
		if ((rc = key_fingerprint(a->key, fp1)) != 0) {
			snprintf(err, errlen, "cannot read the new key");
			goto out;
		}
		log_info("audit: new signing key, public key sha256 %s", fp1);
		rc = 0;
		goto out;
	}
	if ((sb.st_mode & 077) != 0)
		log_warnx("audit: %s is readable by others (mode %03o)",
		    key_path, (unsigned)(sb.st_mode & 0777));
	if ((a->key = key_read_private(key_path)) == NULL) {
		snprintf(err, errlen, "%s is not a readable Ed25519 key",
		    key_path);
		rc = L_ERR_CRYPTO;
		goto out;
	}
	if ((pub = key_read_public(pub_path)) == NULL) {
		/* The public half can always be remade from the key. */
		if ((rc = key_write(pub_path, 0644, a->key, false)) != 0) {
			snprintf(err, errlen, "cannot write %s", pub_path);
			goto out;
		}
	} else if (key_fingerprint(pub, fp1) != 0 ||
	    key_fingerprint(a->key, fp2) != 0 || strcmp(fp1, fp2) != 0) {
		snprintf(err, errlen, "%s does not match %s", pub_path,
		    key_path);
		rc = L_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	free(key_path);
	free(pub_path);
	return rc;
}

/*
 * Brings an existing log to a state the writer can continue: verified,
 * an unfinished last line (after the last signed checkpoint) cut off, the
 * head caught up with the log.
 */
static int
audit_resume(struct audit *a, char *err, size_t errlen)
{
	struct audit_verify_result	r;
	struct vstate			vs;
	int				rc;

	rc = verify_run(a->dir, NULL, &r, &vs);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	if (rc == 1 && r.problem == AUDIT_P_TRUNCATED &&
	    vs.partial_at >= 0 && vs.partial_at >= vs.last_ckpt_end &&
	    vs.head_k <= vs.last_k && vs.last_k > 0) {
		log_warnx("audit: %s ends in an unfinished line (a crash "
		    "during a write); cutting it off", a->log_path);
		if (truncate(a->log_path, vs.partial_at) != 0) {
			snprintf(err, errlen, "cannot truncate %s: %s",
			    a->log_path, strerror(errno));
			return L_ERR_IO;
		}
		rc = verify_run(a->dir, NULL, &r, &vs);
		if (rc < 0) {
			snprintf(err, errlen, "out of memory");
			return rc;
		}
	}
	if (rc == 1 && r.problem == AUDIT_P_HEAD && vs.head_missing &&
	    vs.last_k == 1 && vs.last_seq == 0)
		rc = 0;		/* creation stopped before the head */
	if (rc != 0) {
		snprintf(err, errlen, "audit log %s fails verification: %s "
		    "(line %llu, sequence %llu); move it aside to start a "
		    "new one", a->log_path, r.what, (unsigned long long)r.line,
		    (unsigned long long)r.seq);
		return L_ERR_DENIED;
	}
	a->seq = vs.last_seq;
	memcpy(a->hash, vs.last_hash, sizeof(a->hash));
	a->ckpt_k = vs.last_k;
	a->since_ckpt = vs.last_seq - vs.last_ckpt_seq;
	if (vs.head_missing || vs.head_k < vs.last_k) {
		/* Re-read the last checkpoint line and copy it to the head. */
		FILE	*f = fopen(a->log_path, "re");
		char	*line = NULL, *last = NULL;
		size_t	 cap = 0;
		ssize_t	 n;

		if (f == NULL) {
			snprintf(err, errlen, "cannot reopen %s", a->log_path);
			return L_ERR_IO;
		}
		while ((n = getline(&line, &cap, f)) > 0)
			if (line[0] == 'C') {
				free(last);
				if ((last = l_strdup(line)) == NULL)
					break;
			}
		fclose(f);
		free(line);
		if (last == NULL) {
			snprintf(err, errlen, "cannot find the last "
			    "checkpoint of %s", a->log_path);
			return L_ERR_IO;
		}
		rc = head_write(a, last, strlen(last));
		free(last);
		if (rc != 0) {
			snprintf(err, errlen, "cannot write %s", a->head_path);
			return rc;
		}
		log_warnx("audit: head file caught up with checkpoint %llu",
		    (unsigned long long)vs.last_k);
	}
	return 0;
}

struct audit *
audit_open(const char *dir, const struct audit_opts *opts, char *err,
    size_t errlen)
{
	struct audit		*a;
	pthread_condattr_t	 ca;
	struct stat		 sb;
	bool			 log_exists;
	int			 flags;

	if (dir == NULL || *dir == '\0') {
		snprintf(err, errlen, "no audit folder");
		return NULL;
	}
	if (opts != NULL && (opts->grants < AUDIT_GRANTS_OFF ||
	    opts->grants > AUDIT_GRANTS_ALL)) {
		snprintf(err, errlen, "bad grant recording mode %d",
		    opts->grants);
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->log_fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->done, NULL);
	if (opts != NULL)
		a->opts = *opts;
	if (a->opts.sample_every == 0)
		a->opts.sample_every = AUDIT_SAMPLE_EVERY_DEFAULT;
	if (a->opts.checkpoint_records == 0)
		a->opts.checkpoint_records = AUDIT_CHECKPOINT_RECORDS_DEFAULT;
	if (a->opts.checkpoint_ms == 0)
		a->opts.checkpoint_ms = AUDIT_CHECKPOINT_MS_DEFAULT;
	memcpy(a->hash, zero_hash, sizeof(zero_hash));

	if ((a->dir = l_strdup(dir)) == NULL ||
	    (a->log_path = path_join(dir, "audit.log")) == NULL ||
	    (a->head_path = path_join(dir, "audit.head")) == NULL ||
	    (a->head_tmp = path_join(dir, "audit.head.tmp")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir_parents(dir, 0700) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	log_exists = stat(a->log_path, &sb) == 0;
	if (!log_exists && stat(a->head_path, &sb) == 0) {
		/* A head names checkpoints of a log that is gone: starting
		 * afresh would hide the removal. */
		snprintf(err, errlen, "%s is missing but %s exists: the audit "
		    "log was removed; restore it or move the folder aside",
		    a->log_path, a->head_path);
		goto fail;
	}
	if (audit_load_key(a, log_exists, err, errlen) != 0)
		goto fail;
	if (log_exists && audit_resume(a, err, errlen) != 0)
		goto fail;

	flags = O_WRONLY | O_APPEND | O_CLOEXEC | (log_exists ? 0 : O_CREAT);
	if ((a->log_fd = open(a->log_path, flags, 0640)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", a->log_path,
		    strerror(errno));
		goto fail;
	}
	if (!log_exists) {
		/* Checkpoint 1 signs the empty chain, so that the head
		 * exists from the start and no log is ever unsigned. */
		if (fsync_dir(a->dir) != 0 || checkpoint_write(a) != 0) {
			snprintf(err, errlen, "cannot write the first "
			    "checkpoint of %s: %s", a->log_path,
			    strerror(errno));
			goto fail;
		}
	}
	a->last_ckpt_ms = time_mono_ms();
	a->stats.last_seq = a->seq;
	if (pthread_create(&a->thread, NULL, audit_thread_main, a) != 0) {
		snprintf(err, errlen, "cannot start the audit writer");
		goto fail;
	}
	a->thread_started = true;
	return a;
fail:
	audit_free(a);
	return NULL;
}

int
audit_record(struct audit *a, const struct audit_event *ev)
{
	struct audit_ent	*e;
	char			*p;
	size_t			 sz, dlen = 0, i;
	int			 rc = 0;

	if (a == NULL || ev == NULL ||
	    (ev->decision != AUDIT_GRANT && ev->decision != AUDIT_DENY) ||
	    (int)ev->point < 0 || ev->point >= AUDIT_POINT_COUNT)
		return L_ERR_INVAL;
	if (ev->label_digest != NULL) {
		/* A digest and nothing else: this is what keeps a label
		 * payload out of the log. */
		dlen = strlen(ev->label_digest);
		if (dlen != 0 && dlen != HASH_HEX)
			return L_ERR_INVAL;
		for (i = 0; i < dlen; i++) {
			int c = (unsigned char)ev->label_digest[i];
			if (hex_value(c >= 'A' && c <= 'F' ? c + 32 : c) < 0)
				return L_ERR_INVAL;
		}
	}

	if (ev->decision == AUDIT_GRANT) {
		bool keep;

		pthread_mutex_lock(&a->mu);
		switch (a->opts.grants) {
		case AUDIT_GRANTS_ALL:
			keep = true;
			break;
		case AUDIT_GRANTS_SAMPLED:
			keep = a->grants_seen % a->opts.sample_every == 0;
			a->grants_seen++;
			break;
		default:
			keep = false;
			break;
		}
		if (!keep)
			a->stats.skipped++;
		pthread_mutex_unlock(&a->mu);
		if (!keep)
			return 0;
	}

	sz = sizeof(*e) + cut_len(ev->from, AUDIT_JID_MAX) +
	    cut_len(ev->to, AUDIT_JID_MAX) +
	    cut_len(ev->stanza_id, AUDIT_ID_MAX) +
	    cut_len(ev->marking, AUDIT_MARKING_MAX) +
	    cut_len(ev->rule, AUDIT_RULE_MAX) + 5;
	if ((e = malloc(sz)) == NULL)
		return L_ERR_NOMEM;
	memset(e, 0, sizeof(*e));
	e->time_us = time_real_us();
	e->session = ev->session;
	e->decision = ev->decision;
	e->point = ev->point;
	for (i = 0; i < dlen; i++) {
		int c = (unsigned char)ev->label_digest[i];
		e->digest[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
	}
	e->digest[dlen] = '\0';
	p = (char *)(e + 1);
	p = copy_cut(p, ev->from, AUDIT_JID_MAX, &e->from);
	p = copy_cut(p, ev->to, AUDIT_JID_MAX, &e->to);
	p = copy_cut(p, ev->stanza_id, AUDIT_ID_MAX, &e->id);
	p = copy_cut(p, ev->marking, AUDIT_MARKING_MAX, &e->marking);
	(void)copy_cut(p, ev->rule, AUDIT_RULE_MAX, &e->rule);

	pthread_mutex_lock(&a->mu);
	if (a->stopping)
		rc = L_ERR_CLOSED;
	else if (a->failed)
		rc = L_ERR_IO;
	else if (a->q_len >= AUDIT_QUEUE_MAX) {
		a->drops_pending++;
		a->stats.dropped++;
		rc = L_ERR_LIMIT;
	}
	if (rc == 0) {
		if (a->q_tail != NULL)
			a->q_tail->next = e;
		else
			a->q_head = e;
		a->q_tail = e;
		a->q_len++;
		a->enqueued++;
		a->stats.queued++;
		e = NULL;
		pthread_cond_signal(&a->wake);
	} else if (rc == L_ERR_LIMIT)
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	free(e);
	return rc;
}

int
audit_flush(struct audit *a)
{
	uint64_t	target;
	int		rc;

	if (a == NULL)
		return L_ERR_INVAL;
	pthread_mutex_lock(&a->mu);
	target = a->enqueued;
	pthread_cond_signal(&a->wake);
	while (a->finished < target || a->drops_pending > 0) {
		if (a->failed && a->finished >= target)
			break;
		pthread_cond_wait(&a->done, &a->mu);
	}
	rc = a->failed ? L_ERR_IO : 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_checkpoint(struct audit *a)
{
	uint64_t	gen;
	int		rc;

	if (a == NULL)
		return L_ERR_INVAL;
	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		return L_ERR_CLOSED;
	}
	gen = ++a->ckpt_asked;
	pthread_cond_signal(&a->wake);
	while (a->ckpt_made < gen)
		pthread_cond_wait(&a->done, &a->mu);
	rc = a->failed ? L_ERR_IO : 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_close(struct audit *a)
{
	int	rc;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	rc = a->failed ? L_ERR_IO : 0;
	if (a->log_fd >= 0 && close(a->log_fd) != 0)
		rc = L_ERR_IO;
	a->log_fd = -1;
	audit_free(a);
	return rc;
}

void
audit_get_stats(struct audit *a, struct audit_stats *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->stats;
	pthread_mutex_unlock(&a->mu);
}

/* ---- Show ------------------------------------------------------------ */

static bool
show_match(const struct str *f, const struct audit_show_filter *flt)
{
	if (flt == NULL)
		return true;
	if (flt->decision == AUDIT_GRANT && !str_eq_cstr(f[9], "GRANT"))
		return false;
	if (flt->decision == AUDIT_DENY && !str_eq_cstr(f[9], "DENY"))
		return false;
	if (flt->point >= 0 && flt->point < AUDIT_POINT_COUNT &&
	    !str_eq_cstr(f[10], point_names[flt->point]))
		return false;
	if (flt->jid != NULL && *flt->jid != '\0') {
		size_t jl = strlen(flt->jid);
		if (!(f[4].len >= jl && memmem(f[4].p, f[4].len, flt->jid,
		    jl) != NULL) && !(f[5].len >= jl && memmem(f[5].p,
		    f[5].len, flt->jid, jl) != NULL))
			return false;
	}
	return true;
}

/* Prints a field (already escaped in the log, so terminal-safe). */
static void
show_field(FILE *out, struct str s, int width)
{
	fprintf(out, "%-*.*s", width, (int)s.len, s.len ? s.p : "");
}

int
audit_show(const char *dir, FILE *out, const struct audit_show_filter *flt)
{
	char		*path, *line = NULL;
	FILE		*f;
	size_t		 cap = 0;
	ssize_t		 n;
	uint64_t	 matches = 0, skip = 0, printed = 0;
	int		 pass;

	if ((path = path_join(dir, "audit.log")) == NULL)
		return L_ERR_NOMEM;
	f = fopen(path, "re");
	free(path);
	if (f == NULL)
		return errno == ENOENT ? L_ERR_NOTFOUND : L_ERR_IO;
	/* Pass 0 counts the matches when only the last N are wanted. */
	for (pass = (flt != NULL && flt->limit > 0) ? 0 : 1; pass < 2;
	    pass++) {
		if (pass == 1) {
			if (flt != NULL && flt->limit > 0 &&
			    matches > flt->limit)
				skip = matches - flt->limit;
			rewind(f);
			fprintf(out, "%-6s %-24s %-5s %-15s %-6s %-24s %-24s "
			    "%-12s %-20s %-12s %s\n", "SEQ", "TIME",
			    "DEC", "POINT", "SESS", "FROM", "TO", "ID",
			    "MARKING", "LABEL", "RULE");
		}
		while ((n = getline(&line, &cap, f)) > 0) {
			struct str	fl[R_FIELDS + 1];
			size_t		len = (size_t)n;

			if (line[len - 1] != '\n')
				continue;
			len--;
			if (split_fields(line, len, fl, R_FIELDS) !=
			    R_FIELDS || !str_eq_cstr(fl[0], "R") ||
			    !show_match(fl, flt))
				continue;
			if (pass == 0) {
				matches++;
				continue;
			}
			if (skip > 0) {
				skip--;
				continue;
			}
			show_field(out, fl[1], 6);
			fputc(' ', out);
			show_field(out, fl[2], 24);
			fputc(' ', out);
			show_field(out, fl[9], 5);
			fputc(' ', out);
			show_field(out, fl[10], 15);
			fputc(' ', out);
			show_field(out, fl[3], 6);
			fputc(' ', out);
			show_field(out, fl[4], 24);
			fputc(' ', out);
			show_field(out, fl[5], 24);
			fputc(' ', out);
			show_field(out, fl[6], 12);
			fputc(' ', out);
			show_field(out, fl[8], 20);
			fputc(' ', out);
			if (fl[7].len >= 12)
				fl[7].len = 12;	/* digest prefix */
			show_field(out, fl[7], 12);
			fputc(' ', out);
			show_field(out, fl[11], 0);
			fputc('\n', out);
			printed++;
		}
	}
	free(line);
	if (ferror(f)) {
		fclose(f);
		return L_ERR_IO;
	}
	fclose(f);
	return printed > INT_MAX ? INT_MAX : (int)printed;
}
