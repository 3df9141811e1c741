/*
 * The verifier of an audit folder: reads the public key, the head and the
 * log line by line, checks every record's hash, syntax, sequence and chain
 * and every checkpoint's signature, and reports the first problem.  Used by
 * audit_verify() (liaisonctl audit verify) and by audit_open(), which
 * continues a log only from the state a clean run leaves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/errors.h"
#include "base/timeutil.h"
#include "policy/audit_int.h"

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

	if (audit_split_fields(line, n, f, C_FIELDS) != C_FIELDS ||
	    !str_eq_cstr(f[0], "C") ||
	    audit_parse_u64(f[1].p, f[1].len, k) != 0 || *k == 0 ||
	    audit_parse_u64(f[2].p, f[2].len, seq) != 0 ||
	    f[3].len == 0 || f[3].len >= sizeof(tbuf) ||
	    !audit_is_lowhex(f[4].p, f[4].len, HASH_HEX))
		return AUDIT_P_MALFORMED;
	memcpy(tbuf, f[3].p, f[3].len);
	tbuf[f[3].len] = '\0';
	if (time_parse_xep82(tbuf, &t) != 0)
		return AUDIT_P_MALFORMED;
	memcpy(hash, f[4].p, HASH_HEX);
	hash[HASH_HEX] = '\0';
	if (!audit_sig_is_valid(pub, line, (size_t)(f[5].p - 1 - line), f[5]))
		return AUDIT_P_SIGNATURE;
	return AUDIT_OK;
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
int
audit_verify_run(const char *dir, const char *pin_fp,
    struct audit_verify_result *r, struct audit_vstate *vs_out)
{
	struct audit_vstate	 vs;
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
	memcpy(vs.last_hash, audit_zero_hash, sizeof(audit_zero_hash));
	vs.partial_at = -1;
	if ((pub_path = audit_path(dir, "audit.pub")) == NULL ||
	    (log_path = audit_path(dir, "audit.log")) == NULL ||
	    (head_path = audit_path(dir, "audit.head")) == NULL) {
		rc = L_ERR_NOMEM;
		goto out;
	}

	if ((pub = audit_key_read(pub_path, false)) == NULL) {
		rc = vfail(r, AUDIT_P_UNREADABLE, 0, 0,
		    "public key %s missing or not an Ed25519 key", pub_path);
		goto out;
	}
	if (audit_key_fingerprint(pub, r->key_fp) != 0) {
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

		nf = audit_split_fields(line, len, f, R_FIELDS);
		if (nf != R_FIELDS || !str_eq_cstr(f[0], "R") ||
		    !audit_is_lowhex(f[13].p, f[13].len, HASH_HEX)) {
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
			(void)audit_parse_u64(f[1].p, f[1].len, &seq);
			if (audit_sha256_hex(line, plen, h) != 0) {
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
			if (!audit_record_is_wellformed(f)) {
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

	rc = audit_verify_run(dir, key_fp, r, NULL);
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
