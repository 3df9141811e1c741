/*
 * Decisions on labels: validity against the SPIF (NOTES §3.2), the access
 * control decision function (NOTES §3.3) with a reason for every DENY,
 * the intern table that gives identical labels and clearances one id,
 * and the decision cache keyed by (label id, clearance id).
 *
 * Thread safety: a spif_set is read-only and may be shared.  A
 * label_table and an acdf_cache are not locked: give each event loop its
 * own (ids are then per loop), or hold a lock around intern and cache
 * calls.  Rebuild both when the policies are reloaded.
 */
#ifndef LIAISON_LABEL_ACDF_H
#define LIAISON_LABEL_ACDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "label/label.h"
#include "label/spif.h"

/* Rule numbers: validity rules are 1-7 of NOTES §3.2, decision rules
 * 10 + the step of §3.3 (10 nil, 11 policy, 12 classification,
 * 13 restrictive, 14 permissive). */
enum acdf_rule {
	ACDF_R_NONE = 0,
	ACDF_R_V_POLICY = 1,
	ACDF_R_V_CLASS = 2,
	ACDF_R_V_CATEGORY = 3,
	ACDF_R_V_CATRULE = 4,
	ACDF_R_V_CLASSREQ = 5,
	ACDF_R_V_SELECTION = 6,
	ACDF_R_V_STRUCTURE = 7,
	ACDF_R_V_ALTERNATIVE = 8,	/* an alternative label that is not
					 * the originator's equivalent */
	ACDF_R_NIL = 10,
	ACDF_R_POLICY = 11,
	ACDF_R_CLASS = 12,
	ACDF_R_RESTRICTIVE = 13,
	ACDF_R_PERMISSIVE = 14,
	ACDF_R_INVALID = 15,	/* the label failed a validity rule */
};

struct acdf_reason {
	int rule;		/* enum acdf_rule */
	char text[256];		/* names the rule, values and tag sets;
				 * never the whole label */
};

/* Flags for label_validate. */
enum {
	LABEL_VALID_4774 = 1,	/* also the ADatP-4774 prose rules (§3.2.7) */
};

/*
 * Checks l against its policy in set, rules 1-6 of NOTES §3.2 (and 7 with
 * LABEL_VALID_4774).  now_us is the time for validity windows (0 = now).
 * Returns 0 when valid and, if out is not NULL, fills it (the caller
 * cleans it up); L_ERR_INVAL with why filled when invalid; L_ERR_NOMEM.
 */
int label_validate(const struct spif_set *set, const struct label *l,
    unsigned flags, int64_t now_us, struct label_res *out,
    struct acdf_reason *why);

/*
 * The access decision on resolved forms (NOTES §3.3, rules 1-5):
 * classification membership, all restrictive values held, at least one
 * value held per permissive tag set, informative ignored.  Returns 0 for
 * GRANT, L_ERR_DENIED for DENY (why filled when not NULL).  Allocates
 * nothing; this is the uncached hot path.
 */
int acdf_decide(const struct label_res *l, const struct clearance_res *c,
    struct acdf_reason *why);

/*
 * The whole check for a label group against a resolved clearance: picks
 * the label in the clearance's policy (the originator first, then the
 * alternatives, NOTES §1.7), or maps the originator through the
 * equivalent policies; validates it (flags as label_validate) and
 * decides.  A group with alternatives is first checked with
 * label_group_verify: an alternative that is not the originator's SPIF
 * equivalent makes the whole label invalid (DENY, rule ACDF_R_INVALID,
 * for every clearance).  A NULL group or clearance is the nil
 * label/clearance: DENY.
 */
int acdf_check(const struct spif_set *set, const struct label_group *g,
    const struct clearance_res *c, unsigned flags,
    struct acdf_reason *why);

/* Intern table. */
struct label_entry {
	uint32_t id;
	int status;			/* 0 valid, L_ERR_INVAL invalid */
	struct acdf_reason why;		/* when invalid */
	struct label_res res;		/* when valid */
};

struct clearance_entry {
	uint32_t id;
	struct clearance_res res;
};

struct label_table {
	const struct spif_set *set;	/* borrowed; must outlive the table */
	unsigned flags;			/* label_validate flags */
	struct hmap labels;		/* canonical form -> label_entry */
	struct hmap clearances;		/* canonical form -> clearance_entry */
	struct label_entry **lv;	/* by id */
	size_t nl;
	struct clearance_entry **cv;	/* by id */
	size_t nc;
	struct buf scratch;
};

void label_table_init(struct label_table *t, const struct spif_set *set,
    unsigned flags);
void label_table_cleanup(struct label_table *t);
/*
 * Interns l: labels with the same canonical form get the same entry,
 * validated once.  *out is owned by the table.  Returns 0 (an invalid
 * label is interned too: entry->status says so) or L_ERR_NOMEM.
 */
int label_intern(struct label_table *t, const struct label *l,
    const struct label_entry **out);
/* Interns a clearance; L_ERR_INVAL (reason in err) when it names
 * something its policy lacks. */
int clearance_intern(struct label_table *t, const struct clearance *c,
    const struct clearance_entry **out, char *err, size_t errlen);

/*
 * Decision cache: a direct-mapped table of (label id, clearance id) ->
 * decision.  A cached look-up is one hash and one compare.
 */
struct acdf_cache {
	uint64_t *keys;		/* 0 = empty */
	uint8_t *deny;
	size_t mask;
	uint64_t hits, misses;
};

/* slots is rounded up to a power of two. */
int acdf_cache_init(struct acdf_cache *c, size_t slots);
void acdf_cache_cleanup(struct acdf_cache *c);
/*
 * Decides through the cache.  An invalid label is DENY.  Returns 0 for
 * GRANT or L_ERR_DENIED; when why is not NULL a DENY's reason is filled
 * (a cached DENY is recomputed for its reason, which is the slow path).
 */
int acdf_decide_cached(struct acdf_cache *c, const struct label_entry *l,
    const struct clearance_entry *cl, struct acdf_reason *why);

#endif
