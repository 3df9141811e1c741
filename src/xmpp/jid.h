/*
 * XMPP addresses (RFC 7622): parsing, preparation and formatting.  Parts
 * are prepared with libidn's stringprep profiles (Nodeprep, Nameprep,
 * Resourceprep), which RFC 7622's PRECIS rules replace but which remain
 * what the issue accepts.  Input already in canonical pure-ASCII form takes
 * a fast path that never calls libidn: this runs on every stanza's to/from.
 */
#ifndef LIAISON_XMPP_JID_H
#define LIAISON_XMPP_JID_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define JID_PART_MAX	1023	/* bytes, after preparation (RFC 7622 3.1) */
/* node@domain/resource, the longest formatted JID, without the NUL. */
#define JID_FORMAT_MAX	(3 * JID_PART_MAX + 2)

/*
 * A prepared JID.  All parts are owned, NUL-terminated UTF-8 strings, in
 * canonical form (so two JIDs are equal iff their parts compare equal with
 * strcmp).  node and resource may be NULL; domain never is after a
 * successful jid_parse.  IPv6 literal domains are kept with their brackets.
 */
struct jid {
	char *node;
	char *domain;
	char *resource;
};

/*
 * Parses and prepares `s` into `out` (which it initialises; on failure
 * `out` holds no memory).  Returns 0, L_ERR_INVAL for a malformed address
 * (empty or over-long part, forbidden character, prohibited code point,
 * bad IP literal, missing domain) or L_ERR_NOMEM.  A trailing dot of the
 * domain is removed.
 */
int jid_parse(const char *s, struct jid *out);
/* Same, for a counted string that need not be NUL-terminated. */
int jid_parse_n(const char *s, size_t len, struct jid *out);

/*
 * Builds a JID from separate parts (node and resource may be NULL), each
 * prepared as by jid_parse.  Same return codes.
 */
int jid_make(const char *node, const char *domain, const char *resource,
    struct jid *out);

/* Frees the parts and sets them to NULL; safe on a zeroed or cleaned jid. */
void jid_cleanup(struct jid *j);

/* Deep copy; dst is initialised.  0 or L_ERR_NOMEM. */
int jid_copy(struct jid *dst, const struct jid *src);

/*
 * Append "node@domain" / "node@domain/resource" to `out` (no NUL counted).
 * Return 0, L_ERR_NOMEM or L_ERR_LIMIT (buf limit).
 */
int jid_bare(const struct jid *j, struct buf *out);
int jid_full(const struct jid *j, struct buf *out);

/*
 * Writes the full (full == true) or bare JID into dst[dstlen] with a NUL.
 * Returns the length written (without NUL), or L_ERR_LIMIT if it does not
 * fit (dst then holds an empty string).  JID_FORMAT_MAX + 1 always fits.
 */
int jid_format(const struct jid *j, bool full, char *dst, size_t dstlen);

/* Equality of prepared JIDs: all three parts, or node and domain only. */
bool jid_equal(const struct jid *a, const struct jid *b);
bool jid_bare_equal(const struct jid *a, const struct jid *b);

/*
 * Prepare one part alone.  *out receives a new string the caller frees.
 * jid_prep_node is what SASL uses for usernames (the authcid is the
 * localpart).  Same return codes as jid_parse.
 */
int jid_prep_node(const char *in, char **out);
int jid_prep_domain(const char *in, char **out);
int jid_prep_resource(const char *in, char **out);

#endif
