/*
 * STANAG 4774 labels and clearances: parse from the element tree (any of
 * the four label roots, a 4778 BindingInformation, an XEP-0258
 * securitylabel), write back, and the canonical form for interning.
 * The parser checks structure (what a label cannot do without); the
 * prose rules of ADatP-4774 are checked by the validity rules (acdf.c),
 * so they can be named in the reason.
 */
#include "label/label.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "label/label_int.h"
#include "label/spif.h"
#include "xml/xml.h"

#define SECLABEL_NS "urn:xmpp:sec-label:0"

static const char *const kind_names[] = {
	NULL, "originatorConfidentialityLabel",
	"alternativeConfidentialityLabel", "metadataConfidentialityLabel",
	"ConfidentialityLabel",
};

const char *
label_kind_name(int kind)
{
	if (kind < LABEL_ORIGINATOR || kind > LABEL_LEGACY)
		return "?";
	return kind_names[kind];
}

static int
kind_of(const struct xml_node *el)
{
	if (el->type != XML_NODE_ELEM || strcmp(el->ns, SLAB_NS) != 0)
		return 0;
	for (int k = LABEL_ORIGINATOR; k <= LABEL_LEGACY; k++) {
		if (strcmp(el->name, kind_names[k]) == 0)
			return k;
	}
	/* The label printed in the NATO SPIF's extensions capitalises the
	 * first letter; the meaning is not in doubt. */
	if (strcmp(el->name, "OriginatorConfidentialityLabel") == 0)
		return LABEL_ORIGINATOR;
	return 0;
}

static void
category_cleanup(struct label_category *c)
{
	free(c->tag_name);
	free(c->uri);
	for (size_t i = 0; i < c->nvalues; i++)
		free(c->values[i]);
	free(c->values);
}

void
label_free(struct label *l)
{
	if (l == NULL)
		return;
	free(l->policy);
	free(l->policy_uri);
	free(l->classification);
	free(l->privacy_mark);
	for (size_t i = 0; i < l->ncats; i++)
		category_cleanup(&l->cats[i]);
	free(l->cats);
	free(l->id);
	free(l->review);
	free(l->creation);
	free(l->originator);
	free(l->originator_type);
	free(l->succession_time);
	label_free(l->successor);
	free(l);
}

void
clearance_free(struct clearance *c)
{
	if (c == NULL)
		return;
	free(c->policy);
	for (size_t i = 0; i < c->nclasses; i++)
		free(c->classes[i]);
	free(c->classes);
	for (size_t i = 0; i < c->ncats; i++)
		category_cleanup(&c->cats[i]);
	free(c->cats);
	free(c);
}

struct label *
label_new(int kind)
{
	struct label *l = calloc(1, sizeof(*l));

	if (l != NULL)
		l->kind = kind;
	return l;
}

/* Finds or creates the category (tag_name, type) in cats. */
static struct label_category *
cat_get(struct label_category **cats, size_t *n, const char *tag_name,
    const char *uri, int type)
{
	struct label_category *c;

	for (size_t i = 0; i < *n; i++) {
		if ((*cats)[i].type == type &&
		    strcmp((*cats)[i].tag_name, tag_name) == 0)
			return &(*cats)[i];
	}
	if ((c = lv_push(cats, n, sizeof(*c))) == NULL)
		return NULL;
	c->type = type;
	c->tag_name = l_strdup(tag_name);
	if (uri != NULL)
		c->uri = l_strdup(uri);
	if (c->tag_name == NULL || (uri != NULL && c->uri == NULL)) {
		category_cleanup(c);
		(*n)--;
		return NULL;
	}
	return c;
}

/* Appends a value.  A repeated value is kept, not merged: a label that
 * names a value twice is invalid (rule 3.2.3, acdf.c), and merging here
 * would let it pass as the label without the repetition. */
static int
cat_add(struct label_category *c, const char *value)
{
	char *v, **slot;

	if ((v = l_strdup(value)) == NULL)
		return L_ERR_NOMEM;
	if ((slot = lv_push(&c->values, &c->nvalues, sizeof(*slot))) == NULL) {
		free(v);
		return L_ERR_NOMEM;
	}
	*slot = v;
	return 0;
}

int
label_add_value(struct label *l, const char *tag_name, const char *uri,
    int type, const char *value)
{
	struct label_category *c;

	if ((c = cat_get(&l->cats, &l->ncats, tag_name, uri, type)) == NULL)
		return L_ERR_NOMEM;
	return value ? cat_add(c, value) : 0;
}

int
clearance_add_value(struct clearance *cl, const char *tag_name, int type,
    const char *value)
{
	struct label_category *c;

	if ((c = cat_get(&cl->cats, &cl->ncats, tag_name, NULL, type)) == NULL)
		return L_ERR_NOMEM;
	return value ? cat_add(c, value) : 0;
}

/* Trimmed, non-empty text of el into *out (malloc'd). */
static int
text_of(const struct xml_node *el, char **out, bool need, char *err,
    size_t errlen)
{
	char *t = xml_text(el);

	if (t == NULL)
		return L_ERR_NOMEM;
	ltrim(t);
	if (need && t[0] == '\0') {
		lerr(err, errlen, "%s: empty", el->name);
		free(t);
		return L_ERR_INVAL;
	}
	*out = t;
	return 0;
}

static bool
is_slab(const struct xml_node *el, const char *name)
{
	return xml_is(el, SLAB_NS, name);
}

/* One slab:Category into cats (merged by TagName and Type). */
static int
parse_category(const struct xml_node *el, struct label_category **cats,
    size_t *n, bool *nongeneric, char *err, size_t errlen)
{
	const char *tn = xml_attr(el, "TagName"), *ty = xml_attr(el, "Type");
	struct label_category *c;
	char *v;
	int type, rc;

	if (tn == NULL || tn[0] == '\0') {
		lerr(err, errlen, "Category: missing attribute TagName");
		return L_ERR_INVAL;
	}
	if (ty == NULL) {
		lerr(err, errlen, "Category '%s': missing attribute Type", tn);
		return L_ERR_INVAL;
	}
	if ((type = spif_type_from_keyword(ty)) < 0) {
		lerr(err, errlen, "Category '%s': Type '%s' is not RESTRICTIVE, "
		    "PERMISSIVE or INFORMATIVE", tn, ty);
		return L_ERR_INVAL;
	}
	if ((c = cat_get(cats, n, tn, xml_attr(el, "URI"), type)) == NULL)
		return L_ERR_NOMEM;
	XML_FOREACH_CHILD(el, ve) {
		if (is_slab(ve, "GenericValue")) {
			if ((rc = text_of(ve, &v, true, err, errlen)) != 0)
				return rc;
			rc = cat_add(c, v);
			free(v);
			if (rc != 0)
				return rc;
		} else if (is_slab(ve, "IntegerValue") ||
		    is_slab(ve, "BitStringValue")) {
			if (nongeneric == NULL) {
				lerr(err, errlen, "Category '%s': only "
				    "GenericValue is allowed", tn);
				return L_ERR_INVAL;
			}
			*nongeneric = true;
		} else {
			lerr(err, errlen, "Category '%s': unexpected element "
			    "%s", tn, ve->name);
			return L_ERR_INVAL;
		}
	}
	return 0;
}

/*
 * The content of ConfidentialityLabelBaseType into l: the
 * ConfidentialityInformation, OriginatorID, CreationDateTime and (when
 * succession is true) SuccessionHandling.  Returns 0, L_ERR_INVAL with
 * err, or L_ERR_NOMEM.
 */
static int
parse_base(const struct xml_node *el, struct label *l, bool succession,
    char *err, size_t errlen)
{
	const struct xml_node *ci, *pe, *ce, *e;
	const char *v;
	int rc;

	if ((ci = xml_child(el, SLAB_NS, "ConfidentialityInformation")) == NULL) {
		lerr(err, errlen, "%s: missing ConfidentialityInformation",
		    el->name);
		return L_ERR_INVAL;
	}
	if ((pe = xml_child(ci, SLAB_NS, "PolicyIdentifier")) == NULL) {
		lerr(err, errlen, "ConfidentialityInformation: missing "
		    "PolicyIdentifier");
		return L_ERR_INVAL;
	}
	if ((rc = text_of(pe, &l->policy, true, err, errlen)) != 0)
		return rc;
	if ((v = xml_attr(pe, "URI")) != NULL &&
	    (l->policy_uri = l_strdup(v)) == NULL)
		return L_ERR_NOMEM;
	if ((ce = xml_child(ci, SLAB_NS, "Classification")) == NULL) {
		lerr(err, errlen, "ConfidentialityInformation: missing "
		    "Classification");
		return L_ERR_INVAL;
	}
	if ((rc = text_of(ce, &l->classification, true, err, errlen)) != 0)
		return rc;
	l->class_uri = xml_attr(ce, "URI") != NULL;
	if ((e = xml_child(ci, SLAB_NS, "PrivacyMark")) != NULL &&
	    (rc = text_of(e, &l->privacy_mark, false, err, errlen)) != 0)
		return rc;
	XML_FOREACH_CHILD(ci, c) {
		if (!is_slab(c, "Category"))
			continue;
		if ((rc = parse_category(c, &l->cats, &l->ncats,
		    &l->nongeneric, err, errlen)) != 0)
			return rc;
	}
	if ((e = xml_child(el, SLAB_NS, "OriginatorID")) != NULL) {
		if ((v = xml_attr(e, "IDType")) == NULL) {
			lerr(err, errlen, "OriginatorID: missing attribute "
			    "IDType");
			return L_ERR_INVAL;
		}
		if ((l->originator_type = l_strdup(v)) == NULL)
			return L_ERR_NOMEM;
		if ((rc = text_of(e, &l->originator, false, err, errlen)) != 0)
			return rc;
	}
	if ((e = xml_child(el, SLAB_NS, "CreationDateTime")) != NULL &&
	    (rc = text_of(e, &l->creation, false, err, errlen)) != 0)
		return rc;
	if ((e = xml_child(el, SLAB_NS, "SuccessionHandling")) == NULL)
		return 0;
	if (!succession) {
		/* A successor's own successor: nothing uses it, and what the
		 * server passes on it must have checked. */
		lerr(err, errlen, "SuccessorConfidentialityLabel: nested "
		    "SuccessionHandling is not supported");
		return L_ERR_INVAL;
	}
	l->has_succession = true;
	if ((ce = xml_child(e, SLAB_NS, "SuccessionDateTime")) == NULL ||
	    (pe = xml_child(e, SLAB_NS, "SuccessorConfidentialityLabel")) ==
	    NULL) {
		lerr(err, errlen, "SuccessionHandling: missing %s", ce == NULL ?
		    "SuccessionDateTime" : "SuccessorConfidentialityLabel");
		return L_ERR_INVAL;
	}
	if ((rc = text_of(ce, &l->succession_time, true, err, errlen)) != 0)
		return rc;
	if ((l->successor = label_new(0)) == NULL)
		return L_ERR_NOMEM;
	return parse_base(pe, l->successor, false, err, errlen);
}

int
label_parse(const struct xml_node *el, struct label **out, char *err,
    size_t errlen)
{
	struct label *l;
	const char *v;
	int kind, rc;

	*out = NULL;
	if ((kind = kind_of(el)) == 0) {
		lerr(err, errlen, "element {%s}%s is not a STANAG 4774 label",
		    el->ns ? el->ns : "", el->name ? el->name : "");
		return L_ERR_INVAL;
	}
	if ((l = label_new(kind)) == NULL)
		return L_ERR_NOMEM;
	if ((v = xml_attr(el, "Id")) != NULL && (l->id = l_strdup(v)) == NULL)
		goto nomem;
	if ((v = xml_attr(el, "ReviewDateTime")) != NULL &&
	    (l->review = l_strdup(v)) == NULL)
		goto nomem;
	if ((rc = parse_base(el, l, true, err, errlen)) == 0) {
		*out = l;
		return 0;
	}
	if (rc == L_ERR_NOMEM)
		goto nomem;
	label_free(l);
	return rc;
nomem:
	lerr(err, errlen, "out of memory");
	label_free(l);
	return L_ERR_NOMEM;
}

/* Clearance children may be written in either 4774 namespace. */
static bool
is_4774(const struct xml_node *el, const char *name)
{
	return xml_is(el, SLAB_NS, name) || xml_is(el, SCLR_NS, name);
}

int
clearance_parse(const struct xml_node *el, struct clearance **out, char *err,
    size_t errlen)
{
	struct clearance *c;
	char *t, **slot;
	int rc = L_ERR_INVAL;
	bool have_list = false;

	*out = NULL;
	if (!xml_is(el, SCLR_NS, "ConfidentialityClearance")) {
		lerr(err, errlen, "element {%s}%s is not a STANAG 4774 "
		    "clearance", el->ns ? el->ns : "", el->name ? el->name : "");
		return L_ERR_INVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return L_ERR_NOMEM;
	XML_FOREACH_CHILD(el, ch) {
		if (is_4774(ch, "PolicyIdentifier")) {
			if (c->policy != NULL) {
				lerr(err, errlen, "ConfidentialityClearance: "
				    "two PolicyIdentifier");
				rc = L_ERR_INVAL;
				goto fail;
			}
			if ((rc = text_of(ch, &c->policy, true, err,
			    errlen)) != 0)
				goto fail;
		} else if (is_4774(ch, "ClassificationList")) {
			have_list = true;
			XML_FOREACH_CHILD(ch, ce) {
				if (!is_4774(ce, "Classification"))
					continue;
				if ((rc = text_of(ce, &t, true, err,
				    errlen)) != 0)
					goto fail;
				if ((slot = lv_push(&c->classes, &c->nclasses,
				    sizeof(*slot))) == NULL) {
					free(t);
					goto nomem;
				}
				*slot = t;
			}
		} else if (is_4774(ch, "Category")) {
			if ((rc = parse_category(ch, &c->cats, &c->ncats, NULL,
			    err, errlen)) != 0)
				goto fail;
		}
	}
	if (c->policy == NULL) {
		lerr(err, errlen, "ConfidentialityClearance: missing "
		    "PolicyIdentifier");
		rc = L_ERR_INVAL;
		goto fail;
	}
	if (!have_list || c->nclasses == 0) {
		lerr(err, errlen, "ConfidentialityClearance: missing "
		    "ClassificationList with at least one Classification");
		rc = L_ERR_INVAL;
		goto fail;
	}
	*out = c;
	return 0;
nomem:
	rc = L_ERR_NOMEM;
	lerr(err, errlen, "out of memory");
fail:
	clearance_free(c);
	return rc;
}

void
label_group_init(struct label_group *g)
{
	g->v = NULL;
	g->n = 0;
}

void
label_group_cleanup(struct label_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		label_free(g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

int
label_group_add(struct label_group *g, struct label *l)
{
	struct label **slot;

	if ((slot = lv_push(&g->v, &g->n, sizeof(*slot))) == NULL)
		return L_ERR_NOMEM;
	*slot = l;
	/* Keep the originator label first. */
	if (l->kind == LABEL_ORIGINATOR && g->n > 1) {
		struct label *t = g->v[0];

		g->v[0] = l;
		g->v[g->n - 1] = t;
	}
	return 0;
}

static int
group_add_el(const struct xml_node *el, struct label_group *g, char *err,
    size_t errlen)
{
	struct label *l;
	int rc;

	if ((rc = label_parse(el, &l, err, errlen)) != 0)
		return rc;
	if ((rc = label_group_add(g, l)) != 0)
		label_free(l);
	return rc;
}

/* The labels of a BindingInformation's Metadata into g.  Each Metadata
 * holds one element (NOTES §2); in a securitylabel (strict) it must be a
 * 4774 label, elsewhere other metadata is skipped. */
static int
group_add_bdo(const struct xml_node *el, struct label_group *g, bool strict,
    char *err, size_t errlen)
{
	size_t before = g->n;
	int rc;

	XML_FOREACH_CHILD(el, mbc) {
		if (!xml_is(mbc, MB_NS, "MetadataBindingContainer"))
			continue;
		XML_FOREACH_CHILD(mbc, mb) {
			if (!xml_is(mb, MB_NS, "MetadataBinding"))
				continue;
			XML_FOREACH_CHILD(mb, md) {
				if (!xml_is(md, MB_NS, "Metadata"))
					continue;
				XML_FOREACH_CHILD(md, le) {
					if (kind_of(le) == 0) {
						if (!strict)
							continue;
						lerr(err, errlen, "BindingInformation: "
						    "Metadata holds {%s}%s, not a "
						    "STANAG 4774 label", le->ns,
						    le->name);
						return L_ERR_INVAL;
					}
					if ((rc = group_add_el(le, g, err,
					    errlen)) != 0)
						return rc;
				}
			}
		}
	}
	if (g->n == before) {
		lerr(err, errlen, "BindingInformation: no STANAG 4774 label in "
		    "any Metadata");
		return L_ERR_INVAL;
	}
	return 0;
}

/* Exactly one originator label (first) and alternatives besides. */
static int
group_check_roles(const struct label_group *g, size_t from, char *err,
    size_t errlen)
{
	size_t norig = 0;

	for (size_t i = from; i < g->n; i++) {
		int k = g->v[i]->kind;

		if (k == LABEL_ORIGINATOR || k == LABEL_LEGACY)
			norig++;
		else if (k != LABEL_ALTERNATIVE) {
			lerr(err, errlen, "%s labels metadata, not the content",
			    label_kind_name(k));
			return L_ERR_INVAL;
		}
	}
	if (norig != 1) {
		lerr(err, errlen, norig == 0 ? "no originator label, only "
		    "alternative labels" : "more than one originator label");
		return L_ERR_INVAL;
	}
	return 0;
}

/* True when n holds text other than XML whitespace. */
static bool
has_text(const struct xml_node *n)
{
	for (const struct xml_node *c = n->first; c != NULL; c = c->next) {
		if (c->type != XML_NODE_TEXT)
			continue;
		for (size_t i = 0; i < c->text_len; i++) {
			char ch = c->text[i];

			if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
				return true;
		}
	}
	return false;
}

/* The one element child of a <label> or <equivalentlabel>, NULL when it
 * has none; L_ERR_INVAL for text or two elements. */
static int
only_child(const struct xml_node *el, const struct xml_node **out, char *err,
    size_t errlen)
{
	*out = NULL;
	if (has_text(el)) {
		lerr(err, errlen, "securitylabel: <%s> holds text", el->name);
		return L_ERR_INVAL;
	}
	XML_FOREACH_CHILD(el, c) {
		if (*out != NULL) {
			lerr(err, errlen, "securitylabel: <%s> holds more than "
			    "one element", el->name);
			return L_ERR_INVAL;
		}
		*out = c;
	}
	return 0;
}

int
seclabel_check_markings(const struct xml_node *sl, char *err, size_t errlen)
{
	size_t ndm = 0;

	XML_FOREACH_CHILD(sl, c) {
		if (!xml_is(c, SECLABEL_NS, "displaymarking"))
			continue;
		/* Replaced by the SPIF's marking; only its shape is checked
		 * (simple content, at most once). */
		if (++ndm > 1 || xml_child(c, NULL, NULL) != NULL) {
			lerr(err, errlen, "securitylabel: %s", ndm > 1 ?
			    "more than one displaymarking" :
			    "displaymarking holds an element");
			return L_ERR_INVAL;
		}
	}
	return 0;
}

int
seclabel_parse(const struct xml_node *sl, struct label_group *g, bool *empty,
    char *err, size_t errlen)
{
	const struct xml_node *lab = NULL, *le;
	size_t before = g->n;
	int rc;

	*empty = false;
	if (!xml_is(sl, SECLABEL_NS, "securitylabel")) {
		lerr(err, errlen, "not a securitylabel");
		return L_ERR_INVAL;
	}
	if (has_text(sl)) {
		lerr(err, errlen, "securitylabel: holds text");
		return L_ERR_INVAL;
	}
	if ((rc = seclabel_check_markings(sl, err, errlen)) != 0)
		return rc;
	XML_FOREACH_CHILD(sl, c) {
		if (xml_is(c, SECLABEL_NS, "displaymarking")) {
			continue;
		} else if (xml_is(c, SECLABEL_NS, "label")) {
			if (lab != NULL) {
				lerr(err, errlen, "securitylabel: more than one "
				    "<label>");
				return L_ERR_INVAL;
			}
			lab = c;
		} else if (!xml_is(c, SECLABEL_NS, "equivalentlabel")) {
			lerr(err, errlen, "securitylabel: unexpected element "
			    "{%s}%s", c->ns, c->name);
			return L_ERR_INVAL;
		}
	}
	if (lab == NULL) {
		lerr(err, errlen, "securitylabel: no <label>");
		return L_ERR_INVAL;
	}
	if ((rc = only_child(lab, &le, err, errlen)) != 0)
		return rc;
	if (le == NULL) {
		if (xml_child(sl, SECLABEL_NS, "equivalentlabel") != NULL) {
			lerr(err, errlen, "securitylabel: <equivalentlabel> "
			    "with an empty <label>");
			return L_ERR_INVAL;
		}
		*empty = true;
		return 0;
	}
	if (xml_is(le, MB_NS, "BindingInformation")) {
		/* A 4778 BindingInformation in <label> is accepted as well
		 * as a bare label (NOTES §4: accept both forms on input). */
		if ((rc = group_add_bdo(le, g, true, err, errlen)) != 0)
			return rc;
	} else if (kind_of(le) == LABEL_ORIGINATOR ||
	    kind_of(le) == LABEL_LEGACY) {
		if ((rc = group_add_el(le, g, err, errlen)) != 0)
			return rc;
	} else {
		lerr(err, errlen, "securitylabel: <label> holds {%s}%s, not a "
		    "STANAG 4774 originator label", le->ns, le->name);
		return L_ERR_INVAL;
	}
	XML_FOREACH_CHILD(sl, c) {
		if (!xml_is(c, SECLABEL_NS, "equivalentlabel"))
			continue;
		if ((rc = only_child(c, &le, err, errlen)) != 0)
			return rc;
		if (le == NULL || kind_of(le) != LABEL_ALTERNATIVE) {
			lerr(err, errlen, "securitylabel: <equivalentlabel> "
			    "holds %s, not one alternativeConfidentialityLabel",
			    le == NULL ? "nothing" : le->name);
			return L_ERR_INVAL;
		}
		if ((rc = group_add_el(le, g, err, errlen)) != 0)
			return rc;
	}
	return group_check_roles(g, before, err, errlen);
}

int
label_group_parse(const struct xml_node *el, struct label_group *g,
    char *err, size_t errlen)
{
	size_t before = g->n;
	bool empty;
	int rc;

	if (kind_of(el) != 0)
		return group_add_el(el, g, err, errlen);
	if (xml_is(el, MB_NS, "BindingInformation")) {
		if ((rc = group_add_bdo(el, g, false, err, errlen)) != 0)
			return rc;
		return group_check_roles(g, before, err, errlen);
	}
	if (xml_is(el, SECLABEL_NS, "securitylabel")) {
		if ((rc = seclabel_parse(el, g, &empty, err, errlen)) != 0)
			return rc;
		if (empty) {
			lerr(err, errlen, "securitylabel: empty <label> (the "
			    "default label of a server)");
			return L_ERR_INVAL;
		}
		return 0;
	}
	lerr(err, errlen, "element {%s}%s is not a STANAG 4774 label, a "
	    "BindingInformation or a securitylabel", el->ns ? el->ns : "",
	    el->name ? el->name : "");
	return L_ERR_INVAL;
}

const struct label *
label_group_find(const struct label_group *g, const struct spif *p)
{
	for (size_t i = 0; i < g->n; i++) {
		const char *pol = g->v[i]->policy;

		if (strcasecmp(pol, p->name) == 0 ||
		    (strncmp(pol, "urn:oid:", 8) == 0 &&
		    strcmp(pol + 8, p->id) == 0))
			return g->v[i];
	}
	return NULL;
}

struct label *
label_copy(const struct label *l)
{
	struct label *c = label_new(l->kind);

#define DUP(f) do { \
	if (l->f != NULL && (c->f = l_strdup(l->f)) == NULL) goto fail; \
} while (0)
	if (c == NULL)
		return NULL;
	DUP(policy);
	DUP(policy_uri);
	DUP(classification);
	DUP(privacy_mark);
	DUP(id);
	DUP(review);
	DUP(creation);
	DUP(originator);
	DUP(originator_type);
	DUP(succession_time);
#undef DUP
	c->has_succession = l->has_succession;
	if (l->successor != NULL &&
	    (c->successor = label_copy(l->successor)) == NULL)
		goto fail;
	c->class_uri = l->class_uri;
	c->nongeneric = l->nongeneric;
	for (size_t i = 0; i < l->ncats; i++) {
		const struct label_category *s = &l->cats[i];

		if (label_add_value(c, s->tag_name, s->uri, s->type, NULL) != 0)
			goto fail;
		for (size_t j = 0; j < s->nvalues; j++) {
			if (label_add_value(c, s->tag_name, s->uri, s->type,
			    s->values[j]) != 0)
				goto fail;
		}
	}
	return c;
fail:
	label_free(c);
	return NULL;
}

static int
add_text_child(struct xml_node *parent, const char *ns, const char *name,
    const char *text, struct xml_node **out)
{
	struct xml_node *e = xml_add_child(parent, ns, name);

	if (e == NULL)
		return L_ERR_NOMEM;
	if (text != NULL && text[0] != '\0' &&
	    xml_add_text(e, text, strlen(text)) != 0)
		return L_ERR_NOMEM;
	if (out != NULL)
		*out = e;
	return 0;
}

static int
write_cats(struct xml_node *parent, const struct label_category *cats,
    size_t n)
{
	struct xml_node *ce;

	for (size_t i = 0; i < n; i++) {
		const struct label_category *c = &cats[i];

		if (c->nvalues == 0)
			continue;
		if ((ce = xml_add_child(parent, SLAB_NS, "Category")) == NULL)
			return L_ERR_NOMEM;
		if (xml_set_attr(ce, "Type", spif_type_keyword(c->type)) != 0 ||
		    xml_set_attr(ce, "TagName", c->tag_name) != 0 ||
		    (c->uri != NULL && xml_set_attr(ce, "URI", c->uri) != 0))
			return L_ERR_NOMEM;
		for (size_t j = 0; j < c->nvalues; j++) {
			if (add_text_child(ce, SLAB_NS, "GenericValue",
			    c->values[j], NULL) != 0)
				return L_ERR_NOMEM;
		}
	}
	return 0;
}

/* The ConfidentialityLabelBaseType content of l into root. */
static int
write_base(const struct label *l, struct xml_node *root)
{
	struct xml_node *ci, *e, *sh;

	if ((ci = xml_add_child(root, SLAB_NS,
	    "ConfidentialityInformation")) == NULL)
		goto nomem;
	if (add_text_child(ci, SLAB_NS, "PolicyIdentifier", l->policy, &e) != 0)
		goto nomem;
	if (l->policy_uri != NULL && xml_set_attr(e, "URI", l->policy_uri) != 0)
		goto nomem;
	if (add_text_child(ci, SLAB_NS, "Classification", l->classification,
	    NULL) != 0)
		goto nomem;
	if (l->privacy_mark != NULL && add_text_child(ci, SLAB_NS,
	    "PrivacyMark", l->privacy_mark, NULL) != 0)
		goto nomem;
	if (write_cats(ci, l->cats, l->ncats) != 0)
		goto nomem;
	if (l->originator != NULL) {
		if (add_text_child(root, SLAB_NS, "OriginatorID", l->originator,
		    &e) != 0 || xml_set_attr(e, "IDType",
		    l->originator_type ? l->originator_type : "jID") != 0)
			goto nomem;
	}
	if (l->creation != NULL && add_text_child(root, SLAB_NS,
	    "CreationDateTime", l->creation, NULL) != 0)
		goto nomem;
	if (l->successor != NULL) {
		if ((sh = xml_add_child(root, SLAB_NS, "SuccessionHandling")) ==
		    NULL || add_text_child(sh, SLAB_NS, "SuccessionDateTime",
		    l->succession_time, NULL) != 0 ||
		    (e = xml_add_child(sh, SLAB_NS,
		    "SuccessorConfidentialityLabel")) == NULL ||
		    write_base(l->successor, e) != 0)
			goto nomem;
	}
	return 0;
nomem:
	return L_ERR_NOMEM;
}

int
label_write(const struct label *l, struct xml_node **out)
{
	struct xml_node *root;

	*out = NULL;
	if ((root = xml_elem_new(SLAB_NS, label_kind_name(l->kind))) == NULL)
		return L_ERR_NOMEM;
	if ((l->id != NULL && xml_set_attr(root, "Id", l->id) != 0) ||
	    (l->review != NULL &&
	    xml_set_attr(root, "ReviewDateTime", l->review) != 0) ||
	    write_base(l, root) != 0) {
		xml_node_free(root);
		return L_ERR_NOMEM;
	}
	*out = root;
	return 0;
}

int
clearance_write(const struct clearance *c, struct xml_node **out)
{
	struct xml_node *root, *list;

	*out = NULL;
	if ((root = xml_elem_new(SCLR_NS, "ConfidentialityClearance")) == NULL)
		return L_ERR_NOMEM;
	if (add_text_child(root, SLAB_NS, "PolicyIdentifier", c->policy,
	    NULL) != 0)
		goto nomem;
	if ((list = xml_add_child(root, SCLR_NS, "ClassificationList")) == NULL)
		goto nomem;
	for (size_t i = 0; i < c->nclasses; i++) {
		if (add_text_child(list, SLAB_NS, "Classification",
		    c->classes[i], NULL) != 0)
			goto nomem;
	}
	if (write_cats(root, c->cats, c->ncats) != 0)
		goto nomem;
	*out = root;
	return 0;
nomem:
	xml_node_free(root);
	return L_ERR_NOMEM;
}

/* Sorting helpers for the canonical form; ctx points to the fold flag. */
static int
cmp_str(const void *a, const void *b, void *ctx)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	return *(bool *)ctx ? strcasecmp(x, y) : strcmp(x, y);
}

static int
cmp_cat(const void *a, const void *b, void *ctx)
{
	bool cmp_fold = *(bool *)ctx;
	const struct label_category *x = *(const struct label_category *const *)a;
	const struct label_category *y = *(const struct label_category *const *)b;
	int r = cmp_fold ? strcasecmp(x->tag_name, y->tag_name) :
	    strcmp(x->tag_name, y->tag_name);

	return r != 0 ? r : x->type - y->type;
}

/* Writes "tag\x1etype\x1fv1\x1fv2..." per category, sorted. */
static int
canon_cats(const struct label_category *cats, size_t n, bool fold,
    struct buf *out)
{
	const struct label_category *stack[32], **sorted = stack;
	const char *vstack[64], **vals;
	int rc = 0;

	if (n > 32 && (sorted = malloc(n * sizeof(*sorted))) == NULL)
		return L_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &cats[i];
	qsort_r(sorted, n, sizeof(*sorted), cmp_cat, &fold);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct label_category *c = sorted[i];

		if (c->nvalues == 0)
			continue;
		vals = vstack;
		if (c->nvalues > 64 &&
		    (vals = malloc(c->nvalues * sizeof(*vals))) == NULL) {
			rc = L_ERR_NOMEM;
			break;
		}
		for (size_t j = 0; j < c->nvalues; j++)
			vals[j] = c->values[j];
		qsort_r(vals, c->nvalues, sizeof(*vals), cmp_str, &fold);
		if ((rc = buf_append(out, "\x1d", 1)) == 0 &&
		    (rc = lbuf_fold(out, c->tag_name, fold)) == 0)
			rc = buf_appendf(out, "\x1e%d", c->type);
		/* A repeated value stays: it makes the label invalid, so
		 * the canonical form must differ from the label without. */
		for (size_t j = 0; j < c->nvalues && rc == 0; j++) {
			if ((rc = buf_append(out, "\x1f", 1)) == 0)
				rc = lbuf_fold(out, vals[j], fold);
		}
		if (vals != vstack)
			free(vals);
	}
	if (sorted != stack)
		free(sorted);
	return rc;
}

int
label_canonical(const struct label *l, struct buf *out)
{
	bool fold = spif_name_is_ci(l->policy);
	int rc;

	if ((rc = buf_append(out, "L\x1d", 2)) != 0 ||
	    (rc = lbuf_fold(out, l->policy, true)) != 0 ||
	    (rc = buf_append(out, "\x1d", 1)) != 0 ||
	    (rc = lbuf_fold(out, l->classification, fold)) != 0)
		return rc;
	if (l->privacy_mark != NULL &&
	    ((rc = buf_append(out, "\x1dM", 2)) != 0 ||
	    (rc = buf_append_str(out, l->privacy_mark)) != 0))
		return rc;
	/* The prose-rule flags change validity, so they are part of it. */
	if ((rc = buf_appendf(out, "\x1d%d%d%d%d%d%d",
	    l->creation != NULL, l->review != NULL, l->has_succession,
	    l->class_uri, l->nongeneric, l->policy_uri != NULL)) != 0)
		return rc;
	if (l->policy_uri != NULL && (rc = buf_append_str(out,
	    l->policy_uri)) != 0)
		return rc;
	if ((rc = canon_cats(l->cats, l->ncats, fold, out)) != 0)
		return rc;
	/* The successor is validated with the label, so it is part of it. */
	if (l->successor != NULL &&
	    ((rc = buf_append(out, "\x1dS", 2)) != 0 ||
	    (rc = buf_append_str(out, l->succession_time)) != 0 ||
	    (rc = buf_append(out, "\x1d", 1)) != 0 ||
	    (rc = label_canonical(l->successor, out)) != 0))
		return rc;
	return 0;
}

int
clearance_canonical(const struct clearance *c, struct buf *out)
{
	bool fold = spif_name_is_ci(c->policy);
	const char *stack[32], **cls = stack;
	int rc = 0;

	if ((rc = buf_append(out, "C\x1d", 2)) != 0 ||
	    (rc = lbuf_fold(out, c->policy, true)) != 0)
		return rc;
	if (c->nclasses > 32 &&
	    (cls = malloc(c->nclasses * sizeof(*cls))) == NULL)
		return L_ERR_NOMEM;
	for (size_t i = 0; i < c->nclasses; i++)
		cls[i] = c->classes[i];
	qsort_r(cls, c->nclasses, sizeof(*cls), cmp_str, &fold);
	for (size_t i = 0; i < c->nclasses && rc == 0; i++) {
		if ((rc = buf_append(out, "\x1f", 1)) == 0)
			rc = lbuf_fold(out, cls[i], fold);
	}
	if (cls != stack)
		free(cls);
	return rc != 0 ? rc : canon_cats(c->cats, c->ncats, fold, out);
}

void
label_res_cleanup(struct label_res *r)
{
	free(r->vals);
	r->vals = NULL;
	r->nvals = 0;
}

void
clearance_res_cleanup(struct clearance_res *r)
{
	free(r->cls_bits);
	free(r->cat_bits);
	r->cls_bits = r->cat_bits = NULL;
}

int
clearance_resolve(const struct spif_set *set, const struct clearance *c,
    struct clearance_res *out, char *err, size_t errlen)
{
	const struct spif *p;
	int k, ts;

	memset(out, 0, sizeof(*out));
	if ((p = spif_set_find(set, c->policy)) == NULL) {
		lerr(err, errlen, "clearance policy '%s' is not loaded",
		    c->policy);
		return L_ERR_INVAL;
	}
	out->spif = p;
	out->cls_bits = calloc(p->class_words ? p->class_words : 1,
	    sizeof(uint64_t));
	out->cat_bits = calloc(p->cat_words, sizeof(uint64_t));
	if (out->cls_bits == NULL || out->cat_bits == NULL) {
		clearance_res_cleanup(out);
		return L_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->nclasses; i++) {
		if ((k = spif_class_find(p, c->classes[i])) < 0) {
			lerr(err, errlen, "clearance: classification '%s' is "
			    "not in policy %s", c->classes[i], p->name);
			goto inval;
		}
		out->cls_bits[k / 64] |= 1ULL << (k % 64);
	}
	for (size_t i = 0; i < c->ncats; i++) {
		const struct label_category *lc = &c->cats[i];

		if ((ts = spif_tagset_find(p, lc->tag_name)) < 0) {
			lerr(err, errlen, "clearance: tag set '%s' is not in "
			    "policy %s", lc->tag_name, p->name);
			goto inval;
		}
		for (size_t j = 0; j < lc->nvalues; j++) {
			k = spif_cat_find(p, (unsigned)ts, lc->type,
			    lc->values[j]);
			if (k < 0) {
				lerr(err, errlen, "clearance: %s value '%s' is "
				    "not in tag set '%s'",
				    spif_type_keyword(lc->type), lc->values[j],
				    lc->tag_name);
				goto inval;
			}
			out->cat_bits[k / 64] |= 1ULL << (k % 64);
		}
	}
	return 0;
inval:
	clearance_res_cleanup(out);
	return L_ERR_INVAL;
}
