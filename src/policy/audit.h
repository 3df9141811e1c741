/*
 * Tamper-evident audit log of the policy layer: one line per access
 * decision, hash-chained, with Ed25519-signed checkpoints and a signed head
 * file that makes truncation visible.  The loop thread only enqueues; one
 * writer thread appends and fsyncs in batches (group commit).  Records never
 * hold a message body or a label payload: the API has no way to pass one.
 */
#ifndef LIAISON_POLICY_AUDIT_H
#define LIAISON_POLICY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Files in the audit folder (created mode 0700 by audit_open):
 *
 *   audit.log   the log, one record or checkpoint per line, append-only
 *   audit.head  the last checkpoint line, rewritten atomically (rename)
 *   audit.key   Ed25519 private key, PKCS#8 PEM, mode 0600, made at first
 *               start; never leaves this module
 *   audit.pub   the matching public key, SubjectPublicKeyInfo PEM
 *
 * Log lines: fields separated by one TAB, ended by LF, UTF-8.  In a field
 * '\\' is written "\\\\", TAB "\\t", LF "\\n", CR "\\r" and any other byte
 * below 0x20 or 0x7f as "\\xHH" (lower-case hex); an absent value is empty.
 * This escaping is the canonical encoding: verify rejects any other one.
 *
 *   R seq time session from to id digest marking decision point rule prev hash
 *
 *     seq      record sequence number, 1, 2, 3 ... (decimal)
 *     time     XEP-0082 UTC, milliseconds, when audit_record() was called
 *     session  session id (decimal, 0 = none)
 *     from,to  JIDs as the caller gave them
 *     id       the stanza id attribute
 *     digest   64 lower-case hex: SHA-256 of the canonical label, or empty
 *     marking  display marking (text)
 *     decision GRANT or DENY
 *     point    enforcement point name (audit_point_name)
 *     rule     the rule or reason (text)
 *     prev     hash of the previous record (64 zeros before record 1)
 *     hash     hex SHA-256 of the bytes of this line before "\thash"
 *
 *   C k seq time hash sig
 *
 *     k        checkpoint number, 1, 2, 3 ... (1 is written at creation,
 *              over seq 0 and the zero hash)
 *     seq,hash the last record and its hash when the checkpoint was made
 *     sig      hex Ed25519 signature of "liaison-audit-v1\n" followed by
 *              the bytes of this line before "\tsig"
 *
 * A checkpoint is written right after every checkpoint_records-th record
 * (it splits a batch there), checkpoint_ms milliseconds after the last one
 * if records arrived since, on audit_checkpoint() and at audit_close().  audit.head holds a copy of the last checkpoint line.
 */

/* Grant recording modes; refusals are always recorded. */
#define AUDIT_GRANTS_OFF	0
#define AUDIT_GRANTS_SAMPLED	1	/* 1 grant in sample_every */
#define AUDIT_GRANTS_ALL	2

/* Defaults used when an audit_opts field is 0 (or opts is NULL). */
#define AUDIT_SAMPLE_EVERY_DEFAULT	100
#define AUDIT_CHECKPOINT_RECORDS_DEFAULT 1000
#define AUDIT_CHECKPOINT_MS_DEFAULT	60000

/* Bounds: longer strings are cut (at a UTF-8 boundary) before queueing. */
#define AUDIT_JID_MAX		3071
#define AUDIT_ID_MAX		256
#define AUDIT_MARKING_MAX	256
#define AUDIT_RULE_MAX		256
/* Records waiting for the writer; beyond it audit_record() drops. */
#define AUDIT_QUEUE_MAX		65536

struct audit_opts {
	int		grants;		/* AUDIT_GRANTS_OFF / SAMPLED / ALL */
	unsigned	sample_every;	/* SAMPLED: record grant 1, N+1, ... */
	unsigned	checkpoint_records; /* checkpoint after this many */
	unsigned	checkpoint_ms;	/* and after this long, if any new */
};

enum audit_decision {
	AUDIT_GRANT = 0,
	AUDIT_DENY = 1,
};

/* Enforcement points.  Append new ones before AUDIT_POINT_COUNT. */
enum audit_point {
	AUDIT_POINT_INGRESS = 0,	/* "ingress" */
	AUDIT_POINT_DELIVER,		/* "deliver" */
	AUDIT_POINT_OFFLINE_STORE,	/* "offline-store" */
	AUDIT_POINT_OFFLINE_DELIVER,	/* "offline-deliver" */
	AUDIT_POINT_CARBON,		/* "carbon" */
	AUDIT_POINT_FORWARD,		/* "forward" */
	AUDIT_POINT_IQ,			/* "iq" */
	AUDIT_POINT_CATALOG,		/* "catalog" */
	AUDIT_POINT_MUC,		/* "muc" */
	AUDIT_POINT_ARCHIVE,		/* "archive" */
	AUDIT_POINT_GUARD,		/* "guard" */
	AUDIT_POINT_CLEARANCE,		/* "clearance" (admin change) */
	AUDIT_POINT_AUDIT,		/* "audit" (the log itself: drops) */
	AUDIT_POINT_COUNT
};

/*
 * One decision, as the caller describes it.  These are ALL the fields a
 * record has; there is deliberately no field for a body or a label: the
 * label is identified only by its digest.  Every string may be NULL (stored
 * empty) and is copied by audit_record(); the caller keeps ownership.
 */
struct audit_event {
	uint64_t		 session;	/* session id, 0 = none */
	const char		*from;		/* JID, cut at AUDIT_JID_MAX */
	const char		*to;		/* JID, cut at AUDIT_JID_MAX */
	const char		*stanza_id;	/* cut at AUDIT_ID_MAX */
	const char		*label_digest;	/* NULL/"" or 64 hex chars */
	const char		*marking;	/* cut at AUDIT_MARKING_MAX */
	const char		*rule;		/* cut at AUDIT_RULE_MAX */
	enum audit_decision	 decision;
	enum audit_point	 point;
};

struct audit;

/*
 * Opens the audit log in `dir`, creating the folder (0700), the key pair
 * and the first checkpoint at first start, and starts the writer thread.
 * An existing log is verified first (as audit_verify does): a log that
 * fails verification is not written to (NULL, reason in err), except that
 * an incomplete last line after the last checkpoint (a crash during a
 * write) is cut off with a warning, and a head file one checkpoint behind
 * the log (a crash between the two writes) is rewritten.  A log without
 * its key is refused rather than given a new key, and so is a head file
 * without its log (the log was removed).  opts may be NULL
 * (grants off, defaults).  Returns NULL with a reason in err (no secrets).
 */
struct audit	*audit_open(const char *dir, const struct audit_opts *opts,
		    char *err, size_t errlen);

/*
 * Queues one record; never blocks on disk (one mutex, held briefly).
 * Call it from any thread.  Grants are kept or skipped according to the
 * mode; refusals are always queued.  Returns 0 (queued, or a grant skipped
 * by the mode), L_ERR_INVAL (ev NULL, bad decision or point, or a digest
 * that is not 64 hex chars: nothing queued), L_ERR_NOMEM, L_ERR_LIMIT
 * (queue full: dropped and counted; the writer then logs an "audit" record
 * saying how many were lost), L_ERR_IO (the writer failed: the log is no
 * longer being written; the caller may fail closed), L_ERR_CLOSED (after
 * audit_close began).
 */
int		 audit_record(struct audit *a, const struct audit_event *ev);

/*
 * Waits until every record queued before the call is written and fsynced.
 * Does not write a checkpoint.  Returns 0, or L_ERR_IO if the writer
 * failed.  Blocks: for tests, shutdown and liaisonctl, not the loop.
 */
int		 audit_flush(struct audit *a);

/*
 * Writes an extra checkpoint now (after writing everything queued) and
 * waits for it.  Returns 0 or L_ERR_IO.  Blocks, like audit_flush.
 */
int		 audit_checkpoint(struct audit *a);

/*
 * Stops accepting records, writes everything queued, writes a final
 * checkpoint if records came after the last one, joins the writer and
 * frees `a`.  Returns 0 or L_ERR_IO if anything could not be written.
 * NULL is accepted.
 */
int		 audit_close(struct audit *a);

/* Counters, read at any time. */
struct audit_stats {
	uint64_t	queued;		/* records accepted by audit_record */
	uint64_t	written;	/* records on disk (fsynced) */
	uint64_t	skipped;	/* grants not recorded (mode) */
	uint64_t	dropped;	/* lost: queue full */
	uint64_t	checkpoints;	/* number of the last checkpoint */
	uint64_t	batches;	/* fsyncs of the log */
	uint64_t	last_seq;	/* last sequence written */
	bool		failed;		/* writer hit an I/O error */
};
void		 audit_get_stats(struct audit *a, struct audit_stats *out);

/* "ingress", "deliver", ... ; NULL for an unknown value. */
const char	*audit_point_name(enum audit_point p);
/* Inverse of audit_point_name; -1 if unknown. */
int		 audit_point_parse(const char *name);

/* What verification found; the first problem stops it. */
enum audit_problem {
	AUDIT_OK = 0,
	AUDIT_P_UNREADABLE,	/* a file is missing or unreadable */
	AUDIT_P_MALFORMED,	/* a line does not parse, or not canonical */
	AUDIT_P_CHANGED,	/* a record's hash does not match its fields */
	AUDIT_P_CHAIN,		/* prev does not match the previous record */
	AUDIT_P_REMOVED,	/* a sequence number is missing */
	AUDIT_P_REORDERED,	/* a sequence number goes backwards */
	AUDIT_P_CHECKPOINT,	/* a checkpoint disagrees with the chain */
	AUDIT_P_SIGNATURE,	/* a signature does not verify */
	AUDIT_P_KEY,		/* public key differs from the pinned one */
	AUDIT_P_TRUNCATED,	/* log ends before the head, or mid-line */
	AUDIT_P_HEAD,		/* head file missing, malformed, or unlike
				   the log's checkpoint of the same number */
};

struct audit_verify_result {
	enum audit_problem problem;
	uint64_t	records;	/* records checked (up to the problem) */
	uint64_t	checkpoints;	/* checkpoints with a valid signature */
	uint64_t	unsigned_tail;	/* records after the last checkpoint */
	uint64_t	line;		/* 1-based line of the problem, or 0 */
	uint64_t	seq;		/* sequence at the problem, or 0 */
	uint64_t	head_seq;	/* sequence named by the head */
	char		key_fp[65];	/* hex SHA-256 of the raw public key */
	char		what[256];	/* one sentence: what is wrong */
};

/*
 * Verifies the log of `dir` with its audit.pub: the chain of every record,
 * every checkpoint's signature and its agreement with the chain, and that
 * the log reaches the checkpoint named by the signed head.  Writes a short
 * human report to `report` if not NULL; fills `res` if not NULL.  Reads
 * only.  Returns 0 if intact, 1 if a problem was found (res->problem says
 * which, res->line and res->seq where), or L_ERR_NOMEM.
 *
 * Detected: any change to a record or checkpoint line, a removed, inserted,
 * duplicated or reordered record, a removed checkpoint, a log cut short
 * before the head's checkpoint or in the middle of a line, a head that does
 * not match the log, a forged or re-signed checkpoint (with a different
 * key: only if the key is pinned, see audit_verify_pinned).
 * Not detected: records after the last checkpoint removed together with
 * nothing else (the window a crash may lose, reported as unsigned_tail),
 * and a roll-back of log and head together to an earlier consistent state
 * (both need an outside copy of the head or the key fingerprint).
 */
int		 audit_verify(const char *dir, FILE *report,
		    struct audit_verify_result *res);

/*
 * As audit_verify, and also requires the public key's fingerprint to be
 * `key_fp` (64 hex chars, as in res->key_fp), so that a replaced key pair
 * with a re-signed log is caught.  key_fp NULL: same as audit_verify.
 */
int		 audit_verify_pinned(const char *dir, const char *key_fp,
		    FILE *report, struct audit_verify_result *res);

/* audit_show() filters; set them up with audit_show_filter_init(). */
struct audit_show_filter {
	int		 decision;	/* -1 any, AUDIT_GRANT or AUDIT_DENY */
	int		 point;		/* -1 any, or an enum audit_point */
	const char	*jid;		/* substring of from or to, or NULL */
	uint64_t	 limit;		/* only the last N matches; 0 = all */
};
/* Sets every filter to "any" and no limit. */
void		 audit_show_filter_init(struct audit_show_filter *f);

/*
 * Prints the records of `dir` that pass `f` (NULL = all) as a table to
 * `out`, oldest first.  Does not verify (use audit_verify); skips lines
 * that do not parse.  Returns the number of records printed (>= 0), or
 * L_ERR_NOTFOUND / L_ERR_IO / L_ERR_NOMEM.
 */
int		 audit_show(const char *dir, FILE *out,
		    const struct audit_show_filter *f);

#endif
