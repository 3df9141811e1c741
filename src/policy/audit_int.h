/*
 * Internals of the audit log, shared by its files and by nothing else:
 * audit_format.c (record lines, hashes, the chain), audit_key.c (Ed25519
 * keys and signatures), audit_verify.c (the verifier), audit_writer.c (the
 * queue, the writer thread, checkpoints) and audit_print.c (audit show).
 */
#ifndef LIAISON_POLICY_AUDIT_INT_H
#define LIAISON_POLICY_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "policy/audit.h"

#define HASH_HEX	64			/* SHA-256 in hex */
#define SIG_LEN		64			/* Ed25519 signature */
#define SIG_HEX		(2 * SIG_LEN)
#define SIGN_TAG	"liaison-audit-v1\n"	/* domain separation */
#define R_FIELDS	14
#define C_FIELDS	6

/* The chain's start: the prev hash of record 1, checkpoint 1's hash. */
extern const char audit_zero_hash[HASH_HEX + 1];

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

/* What a verification pass learnt, beyond audit_verify_result. */
struct audit_vstate {
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

/* audit_format.c */
void	 audit_hex_encode(const unsigned char *p, size_t n, char *out);
int	 audit_hex_value(int c);
bool	 audit_is_lowhex(const char *p, size_t n, size_t want);
int	 audit_sha256_hex(const void *p, size_t n, char *out);
int	 audit_parse_u64(const char *p, size_t n, uint64_t *out);
char	*audit_path(const char *dir, const char *name);
size_t	 audit_split_fields(const char *line, size_t n, struct str *f,
	    size_t max);
int	 audit_format_record(struct buf *b, uint64_t seq,
	    char hash[HASH_HEX + 1], const struct audit_ent *e);
bool	 audit_record_is_wellformed(const struct str *f);

/* audit_key.c */
int	 audit_key_fingerprint(EVP_PKEY *key, char out[HASH_HEX + 1]);
EVP_PKEY *audit_key_read(const char *path, bool private);
int	 audit_key_write(const char *path, mode_t mode, EVP_PKEY *key,
	    bool private);
int	 audit_sign_hex(EVP_PKEY *key, const char *msg, size_t n, char *out);
bool	 audit_sig_is_valid(EVP_PKEY *key, const char *msg, size_t n,
	    struct str sighex);

/* audit_verify.c */
int	 audit_verify_run(const char *dir, const char *pin_fp,
	    struct audit_verify_result *r, struct audit_vstate *vs_out);

#endif
