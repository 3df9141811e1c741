/*
 * STANAG 4774 confidentiality labels and clearances: parsing from the
 * element tree, writing back, the canonical form used for interning, and
 * resolution against a SPIF into the compact form the access decision
 * reads (a classification index and a sorted array of category ordinals
 * for a label; bit sets for a clearance).
 */
#ifndef LIAISON_LABEL_LABEL_H
#define LIAISON_LABEL_LABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hmap.h"

#define SLAB_NS "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
#define SCLR_NS "urn:nato:stanag:4774:confidentialityclearance:1:0"
#define MB_NS "urn:nato:stanag:4778:bindinginformation:1:0"

struct xml_node;
struct spif;
struct spif_set;

enum label_kind {
	LABEL_ORIGINATOR = 1,	/* originatorConfidentialityLabel */
	LABEL_ALTERNATIVE = 2,	/* alternativeConfidentialityLabel */
	LABEL_METADATA = 3,	/* metadataConfidentialityLabel */
	LABEL_LEGACY = 4,	/* ConfidentialityLabel */
};

/* One slab:Category: a tag set name, a type (enum spif_type) and its
 * GenericValues.  Several Category elements of one tag are merged. */
struct label_category {
	int type;
	char *tag_name;
	char *uri;		/* NULL when absent */
	char **values;
	size_t nvalues;
};

/*
 * A parsed label.  Everything is owned.  Fields the 4774 prose rules
 * (NOTES §1.3) constrain but the parser tolerates are recorded so the
 * validity check can name the rule: creation, review, has_succession,
 * class_uri, nongeneric.
 */
struct label {
	int kind;			/* enum label_kind */
	char *policy;
	char *policy_uri;		/* NULL when absent */
	char *classification;
	char *privacy_mark;		/* NULL when absent */
	struct label_category *cats;
	size_t ncats;
	char *id;			/* @Id */
	char *review;			/* @ReviewDateTime */
	char *creation;			/* CreationDateTime */
	char *originator;		/* OriginatorID */
	char *originator_type;		/* OriginatorID/@IDType */
	bool has_succession;
	char *succession_time;		/* SuccessionDateTime, when has_succession */
	struct label *successor;	/* SuccessorConfidentialityLabel (its kind
					 * is 0: the base type), when has_succession */
	bool class_uri;			/* Classification/@URI was used */
	bool nongeneric;		/* IntegerValue or BitStringValue used */
};

/* A parsed clearance (sclr:ConfidentialityClearance). */
struct clearance {
	char *policy;
	char **classes;
	size_t nclasses;
	struct label_category *cats;
	size_t ncats;
};

/* A label with the alternatives that travel with it: the contents of a
 * BindingInformation, or of an XEP-0258 <label/> plus <equivalentlabel/>s.
 * v[0] is the originator label when there is one. */
struct label_group {
	struct label **v;
	size_t n;
};

/*
 * Parses one label element (any of the four roots).  Returns 0, or
 * L_ERR_INVAL with the element and the rule in err, or L_ERR_NOMEM.
 * *out is owned by the caller (label_free).
 */
int label_parse(const struct xml_node *el, struct label **out, char *err,
    size_t errlen);
/* Parses a clearance element. */
int clearance_parse(const struct xml_node *el, struct clearance **out,
    char *err, size_t errlen);
/*
 * Parses a label, a clearance-less label document: a label root, an
 * mb:BindingInformation (every label in its Metadata), or an XEP-0258
 * securitylabel (label and equivalentlabel; see seclabel_parse, and an
 * empty <label/> is an error here).  Appends to g.  A group from a
 * BindingInformation or a securitylabel has exactly one originator label
 * (originatorConfidentialityLabel or the legacy ConfidentialityLabel),
 * which is v[0]; every other label in it is an
 * alternativeConfidentialityLabel.
 */
int label_group_parse(const struct xml_node *el, struct label_group *g,
    char *err, size_t errlen);
/*
 * Parses an XEP-0258 securitylabel strictly, as its schema (sec-label.xsd)
 * says: at most one displaymarking (text only), exactly one <label>, any
 * number of <equivalentlabel>, nothing else; no text but whitespace
 * outside the marking.  <label> holds one element (a STANAG 4774
 * originator label, or a 4778 BindingInformation of one), or nothing at
 * all: then *empty is set (the sender asks for the default label, XEP-0258
 * §5) and g is left as it was.  Each <equivalentlabel> holds one
 * alternativeConfidentialityLabel.  Anything else is L_ERR_INVAL with the
 * reason in err.  The order of the children is not checked: the server
 * rebuilds the element in schema order from what it validated.
 */
int seclabel_parse(const struct xml_node *sl, struct label_group *g,
    bool *empty, char *err, size_t errlen);
/* The displaymarking part of seclabel_parse's rules alone: at most one,
 * text only.  (A cache that keys labels without their marking checks
 * this first, so that the marking cannot change a cached result.) */
int seclabel_check_markings(const struct xml_node *sl, char *err,
    size_t errlen);
void label_group_init(struct label_group *g);
void label_group_cleanup(struct label_group *g);
/* Takes ownership of l. */
int label_group_add(struct label_group *g, struct label *l);
/* The label whose policy is p (the originator first), or NULL. */
const struct label *label_group_find(const struct label_group *g,
    const struct spif *p);

void label_free(struct label *l);
void clearance_free(struct clearance *c);
/* Deep copy, or NULL. */
struct label *label_copy(const struct label *l);
/* New empty label of a kind, for builders; NULL on allocation failure. */
struct label *label_new(int kind);
/* Adds one value to the category (tag_name, type), creating it. */
int label_add_value(struct label *l, const char *tag_name, const char *uri,
    int type, const char *value);
int clearance_add_value(struct clearance *c, const char *tag_name, int type,
    const char *value);

/* Builds the element tree of a label or clearance (caller frees). */
int label_write(const struct label *l, struct xml_node **out);
int clearance_write(const struct clearance *c, struct xml_node **out);

/*
 * The canonical form of the label's ConfidentialityInformation: policy,
 * classification, privacy mark and categories with their values, sorted,
 * case-folded for NATO and PUBLIC.  Two labels with the same canonical
 * form get the same access decisions (metadata such as CreationDateTime
 * is not part of it).  Appends to out.
 */
int label_canonical(const struct label *l, struct buf *out);
int clearance_canonical(const struct clearance *c, struct buf *out);

/* A label resolved against its SPIF: what the decisions read. */
struct label_res {
	const struct spif *spif;	/* borrowed from the spif_set */
	unsigned cls;			/* classification index */
	uint32_t *vals;			/* category ordinals, ascending */
	size_t nvals;
};

/* A clearance resolved against its SPIF: bit sets over classification
 * indexes and category ordinals. */
struct clearance_res {
	const struct spif *spif;
	uint64_t *cls_bits;		/* spif->class_words words */
	uint64_t *cat_bits;		/* spif->cat_words words */
};

void label_res_cleanup(struct label_res *r);
void clearance_res_cleanup(struct clearance_res *r);

/*
 * Resolves the names of a clearance against its policy in set.  Unknown
 * classifications or values are an error (L_ERR_INVAL, reason in err):
 * a clearance is configuration, and a typo must not pass silently.
 */
int clearance_resolve(const struct spif_set *set, const struct clearance *c,
    struct clearance_res *out, char *err, size_t errlen);

/* The root element name for a kind. */
const char *label_kind_name(int kind);

#endif
