/*
 * Open XML SPIF 2.1 security policies, loaded into flat arrays that the
 * validity check, the access decision, the markings and the equivalence
 * mapping read without further parsing.  Several policies live in one
 * spif_set (the policy registry); a set is built at start-up or on
 * reload and is read-only afterwards, so many threads may share it.
 */
#ifndef LIAISON_LABEL_SPIF_H
#define LIAISON_LABEL_SPIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hmap.h"

#define SPIF_NS "http://www.xmlspif.org/spif"

/* The effective type of a category, as written in a label's Type. */
enum spif_type {
	SPIF_RESTRICTIVE = 1,	/* restrictive, enumerated restrictive */
	SPIF_PERMISSIVE = 2,	/* permissive, enumerated permissive */
	SPIF_INFORMATIVE = 3,	/* tagType7 */
};

/* Marking codes that change what is displayed (the location codes,
 * pageTop and friends, are accepted and kept in `codes` too). */
enum {
	SPIF_MC_NONAME = 1 << 0,	/* noNameDisplay */
	SPIF_MC_NOMARKING = 1 << 1,	/* noMarkingDisplay */
	SPIF_MC_SUPPRESSCLASS = 1 << 2,	/* suppressClassName */
	SPIF_MC_REPLACEPOLICY = 1 << 3,	/* replacePolicy */
	SPIF_MC_LOCATION = 1 << 4,	/* any location code */
};

enum spif_qual_code {
	SPIF_QUAL_PREFIX = 1,
	SPIF_QUAL_SUFFIX = 2,
	SPIF_QUAL_SEP = 3,
};

enum spif_op {
	SPIF_OP_ONLYONE = 1,
	SPIF_OP_ONEORMORE = 2,
	SPIF_OP_ALL = 3,
};

enum {
	SPIF_APPLIED_ENCRYPT = 1,	/* from this policy to the other */
	SPIF_APPLIED_DECRYPT = 2,	/* from the other policy into this */
};

struct spif_phrase {
	char *lang;		/* "" when no xml:lang */
	char *phrase;		/* NULL when the attribute is absent */
	unsigned codes;		/* SPIF_MC_* */
};

struct spif_qualifier {
	char *lang;		/* "" when no xml:lang */
	char *text;
	int code;		/* enum spif_qual_code */
};

/* markingData and markingQualifier of one element. */
struct spif_marking {
	struct spif_phrase *phrases;
	size_t nphrases;
	struct spif_qualifier *quals;
	size_t nquals;
};

/* A categoryGroup or excludedCategory: a tag set (by name) and a type,
 * and one value (by lacv) or the whole tag set. */
struct spif_catgroup {
	char *tagset;		/* tagSetRef as written */
	int type;		/* enum spif_type */
	char *lacv;		/* normalised; NULL = all="true" */
};

struct spif_required {
	int op;			/* enum spif_op */
	struct spif_catgroup *groups;
	size_t ngroups;
};

struct spif_equiv_class {
	char *policy_id;	/* OID of the other policy */
	char *lacv;		/* its classification lacv */
	unsigned applied;	/* SPIF_APPLIED_* */
	struct spif_required *req;	/* categories to add when applied */
	size_t nreq;
};

struct spif_equiv_cat {
	char *policy_id;	/* OID of the other policy */
	char *tagset_id;	/* OID of the tag set there */
	int type;
	char *lacv;
	unsigned applied;
	bool discard;		/* action="discard": drop the value */
};

struct spif_class {
	char *name;
	char *lacv;
	long hierarchy;
	char *color;		/* NULL when absent */
	bool obsolete;
	struct spif_marking mk;
	struct spif_required *req;
	size_t nreq;
	struct spif_equiv_class *eq;
	size_t neq;
};

struct spif_category {
	char *name;
	char *lacv;
	unsigned tag;		/* index into spif.tags */
	unsigned tagset;	/* index into spif.tagsets */
	int type;		/* the tag's enum spif_type */
	bool obsolete;
	int required_class;	/* class index, -1 = none */
	int64_t not_before;	/* microseconds; 0 = none */
	int64_t not_after;
	unsigned *excl_class;	/* class indexes */
	size_t nexcl_class;
	struct spif_required *req;
	size_t nreq;
	struct spif_catgroup *excl;
	size_t nexcl;
	struct spif_equiv_cat *eq;
	size_t neq;
	struct spif_marking mk;
};

struct spif_tag {
	char *name;
	int type;
	bool single;		/* singleSelection */
	unsigned min_sel;	/* 0 = none */
	unsigned max_sel;	/* 0 = none */
	unsigned tagset;
	unsigned first_cat;	/* categories are contiguous */
	unsigned ncat;
	struct spif_marking mk;
};

struct spif_tagset {
	char *name;
	char *id;
	unsigned first_tag;
	unsigned ntags;
	struct spif_marking mk;
};

struct spif_equiv_policy {
	char *name;
	char *id;
	struct spif_required *req;	/* categories to add when mapping */
	size_t nreq;
};

/*
 * One policy.  Categories are numbered 0..ncats-1 in document order
 * (their ordinal), and the categories of one tag, and of one tag set,
 * have consecutive numbers; markings list values in this order.
 */
struct spif {
	char *source;		/* file name or "<memory>" */
	char *name;		/* securityPolicyId/@name */
	char *id;		/* securityPolicyId/@id (OID) */
	char *version;
	bool ci;		/* NATO and PUBLIC: values compare case-insensitively */
	int64_t not_before;
	int64_t not_after;
	struct spif_class *classes;
	size_t nclasses;
	struct spif_tagset *tagsets;
	size_t ntagsets;
	struct spif_tag *tags;
	size_t ntags;
	struct spif_category *cats;
	size_t ncats;
	struct spif_equiv_policy *equivs;
	size_t nequivs;
	struct spif_marking mk;
	size_t cat_words;	/* uint64_t words for a bit per category */
	size_t class_words;	/* uint64_t words for a bit per class */
	struct hmap class_idx;	/* folded name -> index+1 */
	struct hmap tagset_idx;	/* folded name -> index+1 */
	struct hmap cat_idx;	/* "ts\x1ftype\x1fname" and "ts\x1ftype#lacv" -> index+1 */
};

struct xml_node;

/*
 * Loads a SPIF from a parsed tree.  On error returns L_ERR_INVAL (or
 * L_ERR_NOMEM) and writes the element and the rule broken into err.
 * Accepts the orderings of the public examples (equivalentPolicies
 * before securityClassifications, equivalentSecCategoryTag out of
 * namespace); rejects duplicates and dangling references.
 */
int spif_load_xml(const struct xml_node *root, const char *source,
    struct spif **out, char *err, size_t errlen);
/* Same, from a file; err starts with "line L, column C" for XML errors. */
int spif_load_file(const char *path, struct spif **out, char *err,
    size_t errlen);
void spif_free(struct spif *p);

/* Look-ups; names are folded when the policy is case-insensitive.
 * Return the index or -1. */
int spif_class_find(const struct spif *p, const char *name);
int spif_class_find_lacv(const struct spif *p, const char *lacv);
int spif_tagset_find(const struct spif *p, const char *name);
int spif_tagset_find_id(const struct spif *p, const char *oid);
int spif_cat_find(const struct spif *p, unsigned tagset, int type,
    const char *name);
int spif_cat_find_lacv(const struct spif *p, unsigned tagset, int type,
    const char *lacv);
/* Label Type keyword (RESTRICTIVE...) for a type, and back (-1). */
const char *spif_type_keyword(int type);
int spif_type_from_keyword(const char *kw);

/* The policy registry: several policies, found by name or OID. */
struct spif_set {
	struct spif **v;	/* owned */
	size_t n;
};

void spif_set_init(struct spif_set *s);
void spif_set_cleanup(struct spif_set *s);
/* Takes ownership of p; L_ERR_EXISTS when its name or OID is there. */
int spif_set_add(struct spif_set *s, struct spif *p);
/* By name (case-insensitive) or by "urn:oid:" URI or bare OID. */
const struct spif *spif_set_find(const struct spif_set *s, const char *name);
const struct spif *spif_set_find_id(const struct spif_set *s,
    const char *oid);

/* Does the policy name mean a case-insensitive policy (NATO, PUBLIC)? */
bool spif_name_is_ci(const char *name);

#endif
