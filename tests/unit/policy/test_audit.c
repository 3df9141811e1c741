/*
 * Unit tests of the audit log (policy/audit.h): an intact log verifies;
 * every kind of tampering (edit, edit and re-hash, delete, swap, cut
 * mid-line or at a line boundary, tail removal, forged signature, replaced
 * key, missing head) is found and named; grant modes keep the right
 * counts; records hold exactly the listed fields; reopen continues the
 * chain; the writer survives several producer threads.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/errors.h"
#include "base/log.h"
#include "policy/audit.h"

/*
 * The event has exactly these members: session, from, to, stanza_id,
 * label_digest, marking, rule, decision, point.  Adding one (a body, a
 * label) changes the size and breaks this build on purpose: the audit
 * record must not grow a field without a review of what goes to disk.
 */
_Static_assert(sizeof(struct audit_event) ==
    sizeof(uint64_t) + 6 * sizeof(char *) + 2 * sizeof(int),
    "struct audit_event gained or lost a field");

#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

struct lines {
	size_t	 n;
	char	*v[4096];	/* each with its LF, except a cut last line */
};

static char tmp_root[128];
static int dir_counter;

/* A fresh folder path (not created) for one test. */
static void
new_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/d%d/audit", tmp_root, ++dir_counter);
}

static void
rm_rf(const char *path)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", path);
}

static void
copy_dir(const char *from, const char *to)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp -p '%s'/audit.log "
	    "'%s'/audit.head '%s'/audit.pub '%s'/", to, from, from, from, to);
	assert_int_equal(system(cmd), 0);
}

static char *
join(const char *dir, const char *name)
{
	static char	buf[4][1024];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
lines_read(const char *dir, struct lines *l)
{
	FILE	*f = fopen(join(dir, "audit.log"), "r");
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	assert_non_null(f);
	l->n = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		assert_true(l->n < 4096);
		l->v[l->n++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static void
lines_write(const char *dir, struct lines *l)
{
	FILE	*f = fopen(join(dir, "audit.log"), "w");
	size_t	 i;

	assert_non_null(f);
	for (i = 0; i < l->n; i++)
		fputs(l->v[i], f);
	assert_int_equal(fclose(f), 0);
}

static void
lines_free(struct lines *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static void
lines_delete(struct lines *l, size_t i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(char *));
	l->n--;
}

/* Replaces the first occurrence of `from` in line i by `to`. */
static void
line_replace(struct lines *l, size_t i, const char *from, const char *to)
{
	char	*p = strstr(l->v[i], from), *s;
	size_t	 n;

	assert_non_null(p);
	n = strlen(l->v[i]) - strlen(from) + strlen(to) + 1;
	s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(p - l->v[i]), l->v[i], to,
	    p + strlen(from));
	free(l->v[i]);
	l->v[i] = s;
}

static size_t
count_prefix(struct lines *l, const char *prefix)
{
	size_t	i, c = 0;

	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], prefix, strlen(prefix)) == 0)
			c++;
	return c;
}

/* Index of the line of record `seq`. */
static size_t
line_of_seq(struct lines *l, unsigned seq)
{
	char	prefix[32];
	size_t	i;

	snprintf(prefix, sizeof(prefix), "R\t%u\t", seq);
	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], prefix, strlen(prefix)) == 0)
			return i;
	fail_msg("no record %u", seq);
	return 0;
}

static struct audit *
open_ok(const char *dir, int grants, unsigned sample, unsigned ckpt_n,
    unsigned ckpt_ms)
{
	struct audit_opts	 o = { grants, sample, ckpt_n, ckpt_ms };
	char			 err[512];
	struct audit		*a = audit_open(dir, &o, err, sizeof(err));

	if (a == NULL)
		fail_msg("audit_open: %s", err);
	return a;
}

static void
record_n(struct audit *a, unsigned n, enum audit_decision d, unsigned base)
{
	unsigned	i;
	char		id[32];

	for (i = 0; i < n; i++) {
		struct audit_event ev = {
			.session = 40 + i,
			.from = "alice@nato.example/phone",
			.to = "bob@nato.example",
			.stanza_id = id,
			.label_digest = DIGEST,
			.marking = "NATO SECRET",
			.rule = "clearance-classification",
			.decision = d,
			.point = (enum audit_point)(i % 5),
		};
		snprintf(id, sizeof(id), "m%u", base + i);
		assert_int_equal(audit_record(a, &ev), 0);
	}
}

/* A closed log of n DENY records, checkpoint every ckpt_n. */
static void
make_log(const char *dir, unsigned n, unsigned ckpt_n)
{
	struct audit *a = open_ok(dir, AUDIT_GRANTS_ALL, 0, ckpt_n, 0);

	record_n(a, n, AUDIT_DENY, 1);
	assert_int_equal(audit_close(a), 0);
}

static int
verify(const char *dir, struct audit_verify_result *r)
{
	return audit_verify(dir, NULL, r);
}

/* Expects verification to fail with problem p at sequence seq. */
static void
expect_problem(const char *dir, enum audit_problem p, uint64_t seq)
{
	struct audit_verify_result	r;
	int				rc = verify(dir, &r);

	if (rc != 1 || r.problem != p || (seq != UINT64_MAX && r.seq != seq))
		fail_msg("want problem %d seq %llu, got rc %d problem %d seq "
		    "%llu: %s", (int)p, (unsigned long long)seq, rc,
		    (int)r.problem, (unsigned long long)r.seq, r.what);
	assert_true(strlen(r.what) > 0);
}

/* Hex SHA-256, for the attacker who re-hashes what they edit. */
static void
sha256_hex(const char *p, size_t n, char out[65])
{
	unsigned char	md[32];
	unsigned int	len;
	int		i;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/*
 * Rewrites every record's prev and hash from line `from` on, as an
 * attacker without the key would after editing a record.
 */
static void
rechain(struct lines *l, EVP_PKEY *resign_key)
{
	char	 prev[65], h[65];
	size_t	 i;

	memset(prev, '0', 64);
	prev[64] = '\0';
	for (i = 0; i < l->n; i++) {
		char	*s = l->v[i];
		size_t	 len = strlen(s);

		if (s[0] == 'R') {
			/* ... \t prev(64) \t hash(64) \n */
			char *hp = s + len - 1 - 64;
			char *pp = hp - 1 - 64;

			memcpy(pp, prev, 64);
			sha256_hex(s, (size_t)(hp - 1 - s), h);
			memcpy(hp, h, 64);
			memcpy(prev, h, 65);
		} else if (s[0] == 'C') {
			/* C k seq time hash(64) sig(128) \n */
			char *sp = s + len - 1 - 128;
			char *hp = sp - 1 - 64;

			memcpy(hp, prev, 64);
			if (resign_key != NULL) {
				EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
				unsigned char	 sig[64];
				size_t		 sl = sizeof(sig);
				char		 msg[1024];
				int		 ml, k;

				ml = snprintf(msg, sizeof(msg),
				    "liaison-audit-v1\n%.*s", (int)(sp - 1 - s), s);
				assert_int_equal(EVP_DigestSignInit(ctx, NULL,
				    NULL, NULL, resign_key), 1);
				assert_int_equal(EVP_DigestSign(ctx, sig, &sl,
				    (unsigned char *)msg, (size_t)ml), 1);
				EVP_MD_CTX_free(ctx);
				for (k = 0; k < 64; k++) {
					char two[3];
					snprintf(two, sizeof(two), "%02x",
					    sig[k]);
					memcpy(sp + 2 * k, two, 2);
				}
			}
		}
	}
}

static void
write_head_from_last_ckpt(const char *dir, struct lines *l)
{
	FILE	*f;
	size_t	 i = l->n;

	while (i > 0 && l->v[i - 1][0] != 'C')
		i--;
	assert_true(i > 0);
	f = fopen(join(dir, "audit.head"), "w");
	assert_non_null(f);
	fputs(l->v[i - 1], f);
	assert_int_equal(fclose(f), 0);
}

/* ---- Tests ---------------------------------------------------------- */

static void
test_intact_and_reopen(void **state)
{
	char				dir[512];
	struct audit_verify_result	r;
	struct audit			*a;
	struct audit_stats		st;
	struct stat			sb;
	struct lines			l;

	(void)state;
	new_dir(dir, sizeof(dir));
	make_log(dir, 25, 10);
	assert_int_equal(verify(dir, &r), 0);
	assert_int_equal(r.records, 25);
	/* Creation, after 10 and 20, and at close. */
	assert_int_equal(r.checkpoints, 4);
	assert_int_equal(r.unsigned_tail, 0);
	assert_int_equal(r.head_seq, 25);
	assert_int_equal(strlen(r.key_fp), 64);

	/* Key files and modes. */
	assert_int_equal(stat(join(dir, "audit.key"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(join(dir, "audit.pub"), &sb), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);

	/* Reopen continues the chain with the same key. */
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 10, 0);
	record_n(a, 7, AUDIT_DENY, 100);
	assert_int_equal(audit_flush(a), 0);
	audit_get_stats(a, &st);
	assert_int_equal(st.written, 7);
	assert_int_equal(st.last_seq, 32);
	assert_int_equal(audit_close(a), 0);
	{
		struct audit_verify_result r2;

		assert_int_equal(verify(dir, &r2), 0);
		assert_int_equal(r2.records, 32);
		/* N counts from the last checkpoint (25): only close signs. */
		assert_int_equal(r2.checkpoints, 5);
		assert_string_equal(r2.key_fp, r.key_fp);
	}
	lines_read(dir, &l);
	assert_int_equal(count_prefix(&l, "R\t"), 32);
	assert_int_equal(l.v[l.n - 1][0], 'C');	/* close signed the end */
	lines_free(&l);

	/* A reopen with nothing recorded adds no checkpoint. */
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 10, 0);
	assert_int_equal(audit_close(a), 0);
	assert_int_equal(verify(dir, &r), 0);
	assert_int_equal(r.checkpoints, 5);
}

static void
test_edit_one_field(void **state)
{
	char		dir[512];
	struct lines	l;

	(void)state;
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	line_replace(&l, line_of_seq(&l, 7), "NATO SECRET", "NATO UNCLASSIFIED");
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_CHANGED, 7);
	lines_free(&l);

	/* The decision, too. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	line_replace(&l, line_of_seq(&l, 3), "\tDENY\t", "\tGRANT\t");
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_CHANGED, 3);
	lines_free(&l);
}

static void
test_edit_and_rehash(void **state)
{
	char				dir[512];
	struct lines			l;
	struct audit_verify_result	r;
	size_t				i;

	(void)state;
	/* Only that record's own hash re-computed: the next one breaks. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 4);
	line_replace(&l, i, "bob@nato.example", "eve@nato.example");
	{
		char	*s = l.v[i], h[65];
		size_t	 len = strlen(s);

		sha256_hex(s, len - 1 - 65, h);
		memcpy(s + len - 1 - 64, h, 64);
	}
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_CHAIN, 5);
	lines_free(&l);

	/* The whole chain re-computed: the signed checkpoint disagrees. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	line_replace(&l, line_of_seq(&l, 4), "bob@nato.example",
	    "eve@nato.example");
	rechain(&l, NULL);
	lines_write(dir, &l);
	assert_int_equal(verify(dir, &r), 1);
	assert_true(r.problem == AUDIT_P_CHECKPOINT ||
	    r.problem == AUDIT_P_SIGNATURE);
	assert_int_equal(r.seq, 5);	/* the first checkpoint after it */
	lines_free(&l);
}

static void
test_delete_record(void **state)
{
	char		dir[512];
	struct lines	l;

	(void)state;
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	lines_delete(&l, line_of_seq(&l, 8));
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REMOVED, 8);
	lines_free(&l);

	/* The record just before a checkpoint. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	lines_delete(&l, line_of_seq(&l, 5));
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REMOVED, 5);
	lines_free(&l);

	/* A checkpoint line. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	lines_delete(&l, line_of_seq(&l, 5) + 1);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REMOVED, 10);
	lines_free(&l);
}

static void
test_swap_records(void **state)
{
	char		 dir[512];
	struct lines	 l;
	size_t		 i, j;
	char		*t;

	(void)state;
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 7);
	j = line_of_seq(&l, 9);
	t = l.v[i];
	l.v[i] = l.v[j];
	l.v[j] = t;
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REORDERED, 7);
	lines_free(&l);

	/* Two neighbours. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 2);
	t = l.v[i];
	l.v[i] = l.v[i + 1];
	l.v[i + 1] = t;
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REORDERED, 2);
	lines_free(&l);

	/* A record written twice (replayed). */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 12);
	memmove(&l.v[i + 2], &l.v[i + 1], (l.n - i - 1) * sizeof(char *));
	l.v[i + 1] = strdup(l.v[i]);
	l.n++;
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_REORDERED, 12);
	lines_free(&l);
}

static void
test_cut_short(void **state)
{
	char				dir[512];
	struct lines			l;
	struct audit_verify_result	r;
	size_t				i;

	(void)state;
	/* In the middle of a line. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 9);
	l.v[i][strlen(l.v[i]) / 2] = '\0';
	while (l.n > i + 1)
		lines_delete(&l, l.n - 1);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_TRUNCATED, 9);
	assert_int_equal(verify(dir, &r), 1);
	assert_int_equal(r.line, i + 1);
	lines_free(&l);

	/* At a line boundary, after a record. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 9);
	while (l.n > i + 1)
		lines_delete(&l, l.n - 1);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_TRUNCATED, UINT64_MAX);
	lines_free(&l);

	/* Right after a checkpoint line: the head still names a later one. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 10) + 1;
	assert_int_equal(l.v[i][0], 'C');
	while (l.n > i + 1)
		lines_delete(&l, l.n - 1);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_TRUNCATED, 11);
	lines_free(&l);

	/* Emptied. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 3, 5);
	lines_read(dir, &l);
	lines_free(&l);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_TRUNCATED, UINT64_MAX);
}

/* Records after the last checkpoint of a running (or crashed) server. */
static void
test_tail_after_checkpoint(void **state)
{
	char				dir[512], copy[512];
	struct audit			*a;
	struct audit_verify_result	r;
	struct lines			l;

	(void)state;
	new_dir(dir, sizeof(dir));
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 10, 600000);
	record_n(a, 15, AUDIT_DENY, 1);
	assert_int_equal(audit_flush(a), 0);
	new_dir(copy, sizeof(copy));
	copy_dir(dir, copy);
	assert_int_equal(audit_close(a), 0);

	/* The crash copy verifies, and says 5 records are not signed. */
	assert_int_equal(verify(copy, &r), 0);
	assert_int_equal(r.records, 15);
	assert_int_equal(r.unsigned_tail, 5);
	assert_int_equal(r.head_seq, 10);

	/* Documented limit: removing that unsigned tail goes unseen... */
	lines_read(copy, &l);
	lines_delete(&l, l.n - 1);
	lines_delete(&l, l.n - 1);
	lines_write(copy, &l);
	assert_int_equal(verify(copy, &r), 0);
	assert_int_equal(r.unsigned_tail, 3);
	lines_free(&l);

	/* ...but once the close checkpoint signed it, it is seen. */
	lines_read(dir, &l);
	assert_int_equal(l.v[l.n - 1][0], 'C');
	while (l.v[l.n - 1][0] != 'R' ||
	    strncmp(l.v[l.n - 1], "R\t11\t", 5) != 0)
		lines_delete(&l, l.n - 1);
	lines_delete(&l, l.n - 1);	/* records 11..15 and C */
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_TRUNCATED, 11);
	lines_free(&l);
}

static void
test_crash_recovery(void **state)
{
	char				dir[512], copy[512];
	struct audit			*a;
	struct audit_verify_result	r;
	FILE				*f;
	char				err[256];

	(void)state;
	new_dir(dir, sizeof(dir));
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 10, 600000);
	record_n(a, 13, AUDIT_DENY, 1);
	assert_int_equal(audit_flush(a), 0);
	new_dir(copy, sizeof(copy));
	copy_dir(dir, copy);
	assert_int_equal(audit_close(a), 0);
	/* The crash copy needs its private key to go on. */
	{
		char cmd[2048];
		snprintf(cmd, sizeof(cmd), "cp -p '%s/audit.key' '%s/'", dir,
		    copy);
		assert_int_equal(system(cmd), 0);
	}
	/* A half-written record at the end. */
	f = fopen(join(copy, "audit.log"), "a");
	assert_non_null(f);
	fputs("R\t14\t2026-01-15T10:30:00.000Z\t3\talice@na", f);
	assert_int_equal(fclose(f), 0);
	expect_problem(copy, AUDIT_P_TRUNCATED, 14);

	a = open_ok(copy, AUDIT_GRANTS_ALL, 0, 10, 600000);
	record_n(a, 2, AUDIT_DENY, 50);
	assert_int_equal(audit_close(a), 0);
	assert_int_equal(verify(copy, &r), 0);
	assert_int_equal(r.records, 15);

	/* A tampered log is not written to. */
	{
		struct lines l;

		lines_read(copy, &l);
		line_replace(&l, line_of_seq(&l, 2), "alice", "mallory");
		lines_write(copy, &l);
		lines_free(&l);
	}
	assert_null(audit_open(copy, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "fails verification"));

	/* A removed log is not silently started afresh. */
	assert_int_equal(unlink(join(copy, "audit.log")), 0);
	assert_null(audit_open(copy, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "was removed"));

	/* A log whose key vanished is not given a new key. */
	assert_int_equal(unlink(join(dir, "audit.key")), 0);
	assert_null(audit_open(dir, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "missing"));
}

static void
test_forged_signature_and_key(void **state)
{
	char				 dir[512];
	struct lines			 l;
	struct audit_verify_result	 r;
	char				 fp[65];
	size_t				 i;
	EVP_PKEY			*evil;
	FILE				*f;

	(void)state;
	/* One flipped signature digit on a checkpoint in the log. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	lines_read(dir, &l);
	i = line_of_seq(&l, 5) + 1;
	{
		char *s = l.v[i];
		size_t len = strlen(s);
		s[len - 2] = s[len - 2] == 'a' ? 'b' : 'a';
	}
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_SIGNATURE, 5);
	lines_free(&l);

	/* The head's signature. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	f = fopen(join(dir, "audit.head"), "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, -3, SEEK_END), 0);
	{
		int c = fgetc(f);
		assert_int_equal(fseek(f, -3, SEEK_END), 0);
		fputc(c == '0' ? '1' : '0', f);
	}
	assert_int_equal(fclose(f), 0);
	expect_problem(dir, AUDIT_P_SIGNATURE, UINT64_MAX);

	/* Head removed. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	assert_int_equal(unlink(join(dir, "audit.head")), 0);
	expect_problem(dir, AUDIT_P_HEAD, UINT64_MAX);

	/* An attacker's key replaces audit.pub, old signatures remain. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 12, 5);
	assert_int_equal(verify(dir, &r), 0);
	memcpy(fp, r.key_fp, sizeof(fp));
	evil = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(evil);
	f = fopen(join(dir, "audit.pub"), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, evil), 1);
	assert_int_equal(fclose(f), 0);
	expect_problem(dir, AUDIT_P_SIGNATURE, UINT64_MAX);

	/* ...and re-signs an edited log with it: only a pinned key sees. */
	lines_read(dir, &l);
	line_replace(&l, line_of_seq(&l, 6), "DENY", "GRANT");
	rechain(&l, evil);
	lines_write(dir, &l);
	write_head_from_last_ckpt(dir, &l);
	assert_int_equal(verify(dir, &r), 0);
	assert_int_equal(audit_verify_pinned(dir, fp, NULL, &r), 1);
	assert_int_equal(r.problem, AUDIT_P_KEY);
	lines_free(&l);
	EVP_PKEY_free(evil);

	/* An unedited log passes with its pinned key. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 3, 5);
	assert_int_equal(verify(dir, &r), 0);
	memcpy(fp, r.key_fp, sizeof(fp));
	assert_int_equal(audit_verify_pinned(dir, fp, NULL, &r), 0);
}

static unsigned
count_decision(const char *dir, const char *dec)
{
	struct lines	l;
	char		pat[16];
	unsigned	c = 0;
	size_t		i;

	snprintf(pat, sizeof(pat), "\t%s\t", dec);
	lines_read(dir, &l);
	for (i = 0; i < l.n; i++)
		if (l.v[i][0] == 'R' && strstr(l.v[i], pat) != NULL)
			c++;
	lines_free(&l);
	return c;
}

static void
test_grant_modes(void **state)
{
	static const struct {
		int		mode;
		unsigned	every;
		unsigned	grants;	/* of 10 */
	} cases[] = {
		{ AUDIT_GRANTS_OFF, 0, 0 },
		{ AUDIT_GRANTS_SAMPLED, 4, 3 },	/* grants 1, 5, 9 */
		{ AUDIT_GRANTS_SAMPLED, 1, 10 },
		{ AUDIT_GRANTS_ALL, 0, 10 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char			 dir[512];
		struct audit		*a;
		struct audit_stats	 st;

		new_dir(dir, sizeof(dir));
		a = open_ok(dir, cases[i].mode, cases[i].every, 1000, 0);
		record_n(a, 10, AUDIT_GRANT, 1);
		record_n(a, 3, AUDIT_DENY, 100);
		assert_int_equal(audit_flush(a), 0);
		audit_get_stats(a, &st);
		assert_int_equal(st.queued, 3 + cases[i].grants);
		assert_int_equal(st.skipped, 10 - cases[i].grants);
		assert_int_equal(st.written, 3 + cases[i].grants);
		assert_int_equal(audit_close(a), 0);
		assert_int_equal(count_decision(dir, "GRANT"), cases[i].grants);
		assert_int_equal(count_decision(dir, "DENY"), 3);
	}
	/* Default sampling: 1 in AUDIT_SAMPLE_EVERY_DEFAULT. */
	{
		char		 dir[512];
		struct audit	*a;

		new_dir(dir, sizeof(dir));
		a = open_ok(dir, AUDIT_GRANTS_SAMPLED, 0, 0, 0);
		record_n(a, 2 * AUDIT_SAMPLE_EVERY_DEFAULT, AUDIT_GRANT, 1);
		assert_int_equal(audit_close(a), 0);
		assert_int_equal(count_decision(dir, "GRANT"), 2);
	}
}

/* Splits a record line into its fields (in place). */
static size_t
fields_of(char *line, char **f, size_t max)
{
	size_t	n = 0;
	char	*p = line, *t;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		f[n++] = p;
		if ((t = strchr(p, '\t')) == NULL)
			break;
		*t = '\0';
		p = t + 1;
	}
	return n;
}

static void
test_record_fields(void **state)
{
	char			 dir[512], big[1000], *f[32];
	struct audit		*a;
	struct lines		 l;
	size_t			 nf;
	struct audit_event	 ev = {
		.session = 12345,
		.from = "alice@nato.example/tab\there",
		.to = "bob@nato.example",
		.stanza_id = "id\n\\x\x01",
		.label_digest = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
		.marking = "NATO SECRET//REL UKR",
		.rule = "releasability",
		.decision = AUDIT_DENY,
		.point = AUDIT_POINT_OFFLINE_DELIVER,
	};

	(void)state;
	new_dir(dir, sizeof(dir));
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 0, 0);
	assert_int_equal(audit_record(a, &ev), 0);

	/* Anything that is not a digest is refused: no label payload. */
	ev.label_digest = "<slab:originatorConfidentialityLabel/>";
	assert_int_equal(audit_record(a, &ev), L_ERR_INVAL);
	ev.label_digest = DIGEST "00";
	assert_int_equal(audit_record(a, &ev), L_ERR_INVAL);
	ev.label_digest = "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	assert_int_equal(audit_record(a, &ev), L_ERR_INVAL);
	ev.label_digest = NULL;
	ev.point = AUDIT_POINT_COUNT;
	assert_int_equal(audit_record(a, &ev), L_ERR_INVAL);
	ev.point = AUDIT_POINT_CARBON;
	ev.decision = 7;
	assert_int_equal(audit_record(a, &ev), L_ERR_INVAL);
	assert_int_equal(audit_record(a, NULL), L_ERR_INVAL);

	/* Over-long text is cut to its bound; NULLs are empty. */
	memset(big, 'M', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		struct audit_event e2 = {
			.marking = big, .rule = big, .stanza_id = big,
			.decision = AUDIT_GRANT, .point = AUDIT_POINT_CATALOG,
		};
		assert_int_equal(audit_record(a, &e2), 0);
	}
	assert_int_equal(audit_close(a), 0);

	lines_read(dir, &l);
	assert_int_equal(count_prefix(&l, "R\t"), 2);
	nf = fields_of(l.v[1], f, 32);
	assert_int_equal(nf, 14);	/* type + the 13 listed fields */
	assert_string_equal(f[0], "R");
	assert_string_equal(f[1], "1");
	assert_int_equal(strlen(f[2]), 24);	/* 2026-01-15T10:30:00.123Z */
	assert_int_equal(f[2][23], 'Z');
	assert_string_equal(f[3], "12345");
	assert_string_equal(f[4], "alice@nato.example/tab\\there");
	assert_string_equal(f[5], "bob@nato.example");
	assert_string_equal(f[6], "id\\n\\\\x\\x01");
	assert_string_equal(f[7], DIGEST);
	assert_string_equal(f[8], "NATO SECRET//REL UKR");
	assert_string_equal(f[9], "DENY");
	assert_string_equal(f[10], "offline-deliver");
	assert_string_equal(f[11], "releasability");
	assert_int_equal(strlen(f[12]), 64);
	assert_int_equal(strlen(f[13]), 64);

	nf = fields_of(l.v[2], f, 32);
	assert_int_equal(nf, 14);
	assert_string_equal(f[3], "0");
	assert_string_equal(f[4], "");
	assert_string_equal(f[7], "");
	assert_int_equal(strlen(f[6]), AUDIT_ID_MAX);
	assert_int_equal(strlen(f[8]), AUDIT_MARKING_MAX);
	assert_int_equal(strlen(f[11]), AUDIT_RULE_MAX);
	assert_string_equal(f[9], "GRANT");
	assert_string_equal(f[10], "catalog");
	lines_free(&l);

	/* Still verifies with the escaped fields. */
	assert_int_equal(verify(dir, NULL), 0);
}

static void
test_non_canonical_rejected(void **state)
{
	char		dir[512];
	struct lines	l;
	size_t		i;

	(void)state;
	/* "\x41" for "A" re-hashed and re-chained: still caught by the
	 * checkpoint, and by the canonical check before it. */
	new_dir(dir, sizeof(dir));
	make_log(dir, 3, 100);
	lines_read(dir, &l);
	i = line_of_seq(&l, 2);
	line_replace(&l, i, "alice", "\\x61lice");
	rechain(&l, NULL);
	lines_write(dir, &l);
	expect_problem(dir, AUDIT_P_MALFORMED, 2);
	lines_free(&l);
}

static void
test_timed_checkpoint(void **state)
{
	char			 dir[512];
	struct audit		*a;
	struct audit_stats	 st;
	struct timespec		 ts = { 0, 50 * 1000000L };
	int			 tries;

	(void)state;
	new_dir(dir, sizeof(dir));
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 1000, 100);
	record_n(a, 3, AUDIT_DENY, 1);
	assert_int_equal(audit_flush(a), 0);
	for (tries = 0; tries < 100; tries++) {
		audit_get_stats(a, &st);
		if (st.checkpoints >= 2)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(st.checkpoints, 2);	/* creation + timer */
	{
		struct audit_verify_result r;
		assert_int_equal(verify(dir, &r), 0);
		assert_int_equal(r.unsigned_tail, 0);
	}
	/* An explicit checkpoint. */
	record_n(a, 1, AUDIT_DENY, 10);
	assert_int_equal(audit_checkpoint(a), 0);
	audit_get_stats(a, &st);
	assert_int_equal(st.checkpoints, 3);
	assert_int_equal(audit_close(a), 0);
}

struct prod {
	struct audit	*a;
	unsigned	 base;
};

static void *
producer(void *arg)
{
	struct prod	*p = arg;
	unsigned	 i;

	for (i = 0; i < 2000; i++) {
		struct audit_event ev = {
			.session = p->base + i, .from = "a@x", .to = "b@x",
			.decision = AUDIT_DENY, .point = AUDIT_POINT_DELIVER,
			.rule = "r",
		};
		if (audit_record(p->a, &ev) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	char				dir[512];
	struct prod			p[4];
	pthread_t			t[4];
	struct audit_verify_result	r;
	struct audit_stats		st;
	void				*ret;
	int				i;

	(void)state;
	new_dir(dir, sizeof(dir));
	p[0].a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 500, 0);
	for (i = 0; i < 4; i++) {
		p[i].a = p[0].a;
		p[i].base = (unsigned)i * 10000;
		assert_int_equal(pthread_create(&t[i], NULL, producer, &p[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(audit_flush(p[0].a), 0);
	audit_get_stats(p[0].a, &st);
	assert_int_equal(st.written, 8000);
	/* Group commit: fewer fsyncs than records. */
	assert_true(st.batches < 8000);
	assert_int_equal(audit_close(p[0].a), 0);
	assert_int_equal(verify(dir, &r), 0);
	assert_int_equal(r.records, 8000);
	assert_int_equal(r.checkpoints, 1 + 16);
}

static void
test_show(void **state)
{
	char				 dir[512], *buf = NULL;
	size_t				 len = 0;
	struct audit			*a;
	struct audit_show_filter	 flt;
	FILE				*out;
	int				 n;

	(void)state;
	new_dir(dir, sizeof(dir));
	a = open_ok(dir, AUDIT_GRANTS_ALL, 0, 0, 0);
	record_n(a, 4, AUDIT_GRANT, 1);
	record_n(a, 6, AUDIT_DENY, 100);
	assert_int_equal(audit_close(a), 0);

	audit_show_filter_init(&flt);
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_show(dir, out, &flt), 10);
	fclose(out);
	assert_non_null(strstr(buf, "m100"));
	assert_non_null(strstr(buf, "NATO SECRET"));
	free(buf);

	flt.decision = AUDIT_DENY;
	flt.limit = 2;
	out = open_memstream(&buf, &len);
	n = audit_show(dir, out, &flt);
	fclose(out);
	assert_int_equal(n, 2);
	assert_null(strstr(buf, "m103 "));	/* not the first denials */
	assert_non_null(strstr(buf, "m104"));
	assert_non_null(strstr(buf, "m105"));
	assert_null(strstr(buf, "GRANT "));
	free(buf);

	audit_show_filter_init(&flt);
	flt.point = AUDIT_POINT_INGRESS;
	out = open_memstream(&buf, &len);
	n = audit_show(dir, out, &flt);
	fclose(out);
	free(buf);
	assert_int_equal(n, 1 + 2);	/* grant m1; deny m100, m105 */

	new_dir(dir, sizeof(dir));
	out = open_memstream(&buf, &len);
	assert_int_equal(audit_show(dir, out, NULL), L_ERR_NOTFOUND);
	fclose(out);
	free(buf);
}

static int
setup_all(void **state)
{
	const char	*base = getenv("TMPDIR");

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(tmp_root, sizeof(tmp_root), "%s/liaison-audit-XXXXXX",
	    base ? base : "/tmp");
	return mkdtemp(tmp_root) == NULL ? -1 : 0;
}

static int
teardown_all(void **state)
{
	(void)state;
	if (getenv("AUDIT_TEST_KEEP") == NULL)
		rm_rf(tmp_root);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact_and_reopen),
		cmocka_unit_test(test_edit_one_field),
		cmocka_unit_test(test_edit_and_rehash),
		cmocka_unit_test(test_delete_record),
		cmocka_unit_test(test_swap_records),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_tail_after_checkpoint),
		cmocka_unit_test(test_crash_recovery),
		cmocka_unit_test(test_forged_signature_and_key),
		cmocka_unit_test(test_grant_modes),
		cmocka_unit_test(test_record_fields),
		cmocka_unit_test(test_non_canonical_rejected),
		cmocka_unit_test(test_timed_checkpoint),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_show),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
