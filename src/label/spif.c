/*
 * SPIF 2.1 loader and the policy registry.  Walks the parsed tree once,
 * copies what the decisions need into flat arrays (see spif.h), builds
 * the name and lacv indexes, and checks every reference inside the
 * policy (excludedClass, categoryGroup, requiredClass) so that a loaded
 * policy never dangles.  Child elements are found by name, not by
 * position, which accepts the orderings of the public example SPIFs.
 */
#include "label/spif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/timeutil.h"
#include "label/label_int.h"
#include "xml/xml.h"

#define SPIF_NS_TYPO "http://www.xmslpif.org/spif"

/* Elements of the policy; the unqualified form is an erratum of the
 * published ACME example (equivalentSecCategoryTag) and is accepted. */
static bool
is_spif(const struct xml_node *el, const char *name)
{
	if (el->type != XML_NODE_ELEM || strcmp(el->name, name) != 0)
		return false;
	return strcmp(el->ns, SPIF_NS) == 0 ||
	    strcmp(el->ns, SPIF_NS_TYPO) == 0 || el->ns[0] == '\0';
}

static const struct xml_node *
spif_child(const struct xml_node *el, const char *name)
{
	XML_FOREACH_CHILD(el, c) {
		if (is_spif(c, name))
			return c;
	}
	return NULL;
}

#define FOREACH_SPIF(parent, c, nm) \
	XML_FOREACH_CHILD(parent, c) if (is_spif(c, nm))

static const char *
req_attr(const struct xml_node *el, const char *name, char *err,
    size_t errlen)
{
	const char *v = xml_attr(el, name);

	if (v == NULL)
		lerr(err, errlen, "%s: missing attribute %s", el->name, name);
	return v;
}

static bool
attr_true(const struct xml_node *el, const char *name)
{
	const char *v = xml_attr(el, name);

	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

const char *
spif_type_keyword(int type)
{
	switch (type) {
	case SPIF_RESTRICTIVE: return "RESTRICTIVE";
	case SPIF_PERMISSIVE: return "PERMISSIVE";
	case SPIF_INFORMATIVE: return "INFORMATIVE";
	}
	return "?";
}

int
spif_type_from_keyword(const char *kw)
{
	if (strcmp(kw, "RESTRICTIVE") == 0)
		return SPIF_RESTRICTIVE;
	if (strcmp(kw, "PERMISSIVE") == 0)
		return SPIF_PERMISSIVE;
	if (strcmp(kw, "INFORMATIVE") == 0)
		return SPIF_INFORMATIVE;
	return -1;
}

/* tagType (+ enumType) -> effective type, or -1. */
static int
parse_tag_type(const struct xml_node *el, char *err, size_t errlen)
{
	const char *t = xml_attr(el, "tagType"), *e;

	if (t == NULL) {
		lerr(err, errlen, "%s: missing attribute tagType", el->name);
		return -1;
	}
	if (strcmp(t, "restrictive") == 0)
		return SPIF_RESTRICTIVE;
	if (strcmp(t, "permissive") == 0)
		return SPIF_PERMISSIVE;
	if (strcmp(t, "tagType7") == 0)
		return SPIF_INFORMATIVE;
	if (strcmp(t, "enumerated") == 0) {
		e = xml_attr(el, "enumType");
		if (e != NULL && strcmp(e, "restrictive") == 0)
			return SPIF_RESTRICTIVE;
		if (e != NULL && strcmp(e, "permissive") == 0)
			return SPIF_PERMISSIVE;
		lerr(err, errlen, "%s: enumerated tag needs enumType "
		    "restrictive or permissive", el->name);
		return -1;
	}
	lerr(err, errlen, "%s: unknown tagType '%s'", el->name, t);
	return -1;
}

static void
marking_cleanup(struct spif_marking *m)
{
	for (size_t i = 0; i < m->nphrases; i++) {
		free(m->phrases[i].lang);
		free(m->phrases[i].phrase);
	}
	free(m->phrases);
	for (size_t i = 0; i < m->nquals; i++) {
		free(m->quals[i].lang);
		free(m->quals[i].text);
	}
	free(m->quals);
}

static int
parse_codes(const struct xml_node *md, unsigned *codes, char *err,
    size_t errlen)
{
	static const char *const locs[] = { "pageTop", "pageBottom",
	    "pageTopBottom", "documentStart", "documentEnd",
	    "firstLineOfText", "lastLineOfText", "subject", "xHeader",
	    "portionMarking", "inputTitle", "waterMark", NULL };
	char *t;

	FOREACH_SPIF(md, c, "code") {
		bool ok = false;

		if ((t = xml_text(c)) == NULL)
			return L_ERR_NOMEM;
		ltrim(t);
		if (strcmp(t, "noNameDisplay") == 0)
			*codes |= SPIF_MC_NONAME, ok = true;
		else if (strcmp(t, "noMarkingDisplay") == 0)
			*codes |= SPIF_MC_NOMARKING, ok = true;
		else if (strcmp(t, "suppressClassName") == 0)
			*codes |= SPIF_MC_SUPPRESSCLASS, ok = true;
		else if (strcmp(t, "replacePolicy") == 0)
			*codes |= SPIF_MC_REPLACEPOLICY, ok = true;
		for (size_t i = 0; !ok && locs[i] != NULL; i++) {
			if (strcmp(t, locs[i]) == 0)
				*codes |= SPIF_MC_LOCATION, ok = true;
		}
		if (!ok) {
			lerr(err, errlen, "markingData: unknown code '%s'", t);
			free(t);
			return L_ERR_INVAL;
		}
		free(t);
	}
	return 0;
}

/* markingData and markingQualifier children of el. */
static int
parse_marking(const struct xml_node *el, struct spif_marking *m, char *err,
    size_t errlen)
{
	const char *lang, *ph, *txt, *code;
	struct spif_phrase *p;
	struct spif_qualifier *q;
	int rc;

	FOREACH_SPIF(el, md, "markingData") {
		if ((p = lv_push(&m->phrases, &m->nphrases, sizeof(*p))) == NULL)
			return L_ERR_NOMEM;
		lang = xml_attr(md, "xml:lang");
		ph = xml_attr(md, "phrase");
		p->lang = l_strdup(lang ? lang : "");
		p->phrase = ph ? l_strdup(ph) : NULL;
		if (p->lang == NULL || (ph != NULL && p->phrase == NULL))
			return L_ERR_NOMEM;
		if ((rc = parse_codes(md, &p->codes, err, errlen)) != 0)
			return rc;
	}
	FOREACH_SPIF(el, mq, "markingQualifier") {
		FOREACH_SPIF(mq, qe, "qualifier") {
			if ((txt = req_attr(qe, "markingQualifier", err,
			    errlen)) == NULL ||
			    (code = req_attr(qe, "qualifierCode", err,
			    errlen)) == NULL)
				return L_ERR_INVAL;
			if ((q = lv_push(&m->quals, &m->nquals,
			    sizeof(*q))) == NULL)
				return L_ERR_NOMEM;
			if (strcmp(code, "prefix") == 0)
				q->code = SPIF_QUAL_PREFIX;
			else if (strcmp(code, "suffix") == 0)
				q->code = SPIF_QUAL_SUFFIX;
			else if (strcmp(code, "separator") == 0)
				q->code = SPIF_QUAL_SEP;
			else {
				lerr(err, errlen, "qualifier: unknown "
				    "qualifierCode '%s'", code);
				return L_ERR_INVAL;
			}
			lang = xml_attr(qe, "xml:lang");
			q->lang = l_strdup(lang ? lang : "");
			q->text = l_strdup(txt);
			if (q->lang == NULL || q->text == NULL)
				return L_ERR_NOMEM;
		}
	}
	return 0;
}

static void
catgroup_cleanup(struct spif_catgroup *g)
{
	free(g->tagset);
	free(g->lacv);
}

static void
required_free(struct spif_required *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < r[i].ngroups; j++)
			catgroup_cleanup(&r[i].groups[j]);
		free(r[i].groups);
	}
	free(r);
}

static int
parse_catgroup(const struct xml_node *el, struct spif_catgroup *g, char *err,
    size_t errlen)
{
	const char *ts, *lacv;

	if ((ts = req_attr(el, "tagSetRef", err, errlen)) == NULL)
		return L_ERR_INVAL;
	if ((g->type = parse_tag_type(el, err, errlen)) < 0)
		return L_ERR_INVAL;
	if ((g->tagset = l_strdup(ts)) == NULL)
		return L_ERR_NOMEM;
	lacv = xml_attr(el, "lacv");
	if (lacv != NULL && (g->lacv = lacv_norm(lacv)) == NULL)
		return L_ERR_NOMEM;
	/* Without lacv (all="true", or neither, as in the public TLP
	 * example) the group stands for the whole tag set. */
	return 0;
}

static int
parse_required(const struct xml_node *el, struct spif_required **rp,
    size_t *np, char *err, size_t errlen)
{
	struct spif_required *r;
	struct spif_catgroup *g;
	const char *op;
	int rc;

	FOREACH_SPIF(el, rq, "requiredCategory") {
		if ((r = lv_push(rp, np, sizeof(*r))) == NULL)
			return L_ERR_NOMEM;
		if ((op = req_attr(rq, "operation", err, errlen)) == NULL)
			return L_ERR_INVAL;
		if (strcmp(op, "onlyOne") == 0)
			r->op = SPIF_OP_ONLYONE;
		else if (strcmp(op, "oneOrMore") == 0)
			r->op = SPIF_OP_ONEORMORE;
		else if (strcmp(op, "all") == 0)
			r->op = SPIF_OP_ALL;
		else {
			lerr(err, errlen, "requiredCategory: unknown "
			    "operation '%s'", op);
			return L_ERR_INVAL;
		}
		FOREACH_SPIF(rq, cg, "categoryGroup") {
			if ((g = lv_push(&r->groups, &r->ngroups,
			    sizeof(*g))) == NULL)
				return L_ERR_NOMEM;
			if ((rc = parse_catgroup(cg, g, err, errlen)) != 0)
				return rc;
		}
		if (r->ngroups == 0) {
			lerr(err, errlen, "requiredCategory: no categoryGroup");
			return L_ERR_INVAL;
		}
	}
	return 0;
}

static int
index_put(struct hmap *m, struct buf *key, size_t idx, char *err,
    size_t errlen, const char *what)
{
	if (hmap_get(m, key->data, key->len) != NULL) {
		lerr(err, errlen, "duplicate %s", what);
		return L_ERR_INVAL;
	}
	return hmap_put(m, key->data, key->len, (void *)(idx + 1), NULL);
}

static int
policy_id_of(const struct xml_node *root, const char *ref, const char **id)
{
	const struct xml_node *eqs = spif_child(root, "equivalentPolicies");

	if (eqs != NULL) {
		FOREACH_SPIF(eqs, e, "equivalentPolicy") {
			const char *n = xml_attr(e, "name");

			if (n != NULL && strcmp(n, ref) == 0) {
				*id = xml_attr(e, "id");
				return *id ? 0 : L_ERR_INVAL;
			}
		}
	}
	return L_ERR_NOTFOUND;
}

static unsigned
parse_applied(const char *a)
{
	if (a == NULL)
		return 0;
	if (strcmp(a, "encrypt") == 0)
		return SPIF_APPLIED_ENCRYPT;
	if (strcmp(a, "decrypt") == 0)
		return SPIF_APPLIED_DECRYPT;
	if (strcmp(a, "both") == 0)
		return SPIF_APPLIED_ENCRYPT | SPIF_APPLIED_DECRYPT;
	return 0;
}

static int
parse_class(const struct xml_node *root, const struct xml_node *el,
    struct spif *p, char *err, size_t errlen)
{
	struct spif_class *c;
	struct spif_equiv_class *e;
	const char *name, *lacv, *h, *col, *ref, *pid, *el_lacv;
	char *end;
	int rc;

	if ((name = req_attr(el, "name", err, errlen)) == NULL ||
	    (lacv = req_attr(el, "lacv", err, errlen)) == NULL ||
	    (h = req_attr(el, "hierarchy", err, errlen)) == NULL)
		return L_ERR_INVAL;
	if ((c = lv_push(&p->classes, &p->nclasses, sizeof(*c))) == NULL)
		return L_ERR_NOMEM;
	c->hierarchy = strtol(h, &end, 10);
	if (*h == '\0' || *end != '\0') {
		lerr(err, errlen, "securityClassification '%s': hierarchy "
		    "'%s' is not an integer", name, h);
		return L_ERR_INVAL;
	}
	col = xml_attr(el, "color");
	c->obsolete = attr_true(el, "obsolete");
	if ((c->name = l_strdup(name)) == NULL ||
	    (c->lacv = lacv_norm(lacv)) == NULL ||
	    (col != NULL && (c->color = l_strdup(col)) == NULL))
		return L_ERR_NOMEM;
	if ((rc = parse_marking(el, &c->mk, err, errlen)) != 0)
		return rc;
	if ((rc = parse_required(el, &c->req, &c->nreq, err, errlen)) != 0)
		return rc;
	FOREACH_SPIF(el, eq, "equivalentClassification") {
		if ((ref = req_attr(eq, "policyRef", err, errlen)) == NULL ||
		    (el_lacv = req_attr(eq, "lacv", err, errlen)) == NULL)
			return L_ERR_INVAL;
		if (policy_id_of(root, ref, &pid) != 0) {
			lerr(err, errlen, "equivalentClassification: policyRef "
			    "'%s' is not in equivalentPolicies", ref);
			return L_ERR_INVAL;
		}
		if ((e = lv_push(&c->eq, &c->neq, sizeof(*e))) == NULL)
			return L_ERR_NOMEM;
		if ((e->applied = parse_applied(xml_attr(eq, "applied"))) == 0) {
			lerr(err, errlen, "equivalentClassification: bad or "
			    "missing applied");
			return L_ERR_INVAL;
		}
		if ((e->policy_id = l_strdup(pid)) == NULL ||
		    (e->lacv = lacv_norm(el_lacv)) == NULL)
			return L_ERR_NOMEM;
		if ((rc = parse_required(eq, &e->req, &e->nreq, err,
		    errlen)) != 0)
			return rc;
	}
	return 0;
}

static int
parse_category(const struct xml_node *root, const struct xml_node *el,
    struct spif *p, unsigned tagi, struct buf *key, char *err, size_t errlen)
{
	struct spif_tag *t = &p->tags[tagi];
	struct spif_category *c;
	struct spif_catgroup *g;
	struct spif_equiv_cat *e;
	const char *name, *lacv, *rc_name, *nb, *na, *ref, *pid, *v;
	unsigned ci;
	char *cls;
	int rc, k;

	if ((name = req_attr(el, "name", err, errlen)) == NULL ||
	    (lacv = req_attr(el, "lacv", err, errlen)) == NULL)
		return L_ERR_INVAL;
	ci = (unsigned)p->ncats;
	if ((c = lv_push(&p->cats, &p->ncats, sizeof(*c))) == NULL)
		return L_ERR_NOMEM;
	c->tag = tagi;
	c->tagset = t->tagset;
	c->type = t->type;
	c->required_class = -1;
	c->obsolete = attr_true(el, "obsolete");
	if ((c->name = l_strdup(name)) == NULL ||
	    (c->lacv = lacv_norm(lacv)) == NULL)
		return L_ERR_NOMEM;
	if ((rc_name = xml_attr(el, "requiredClass")) != NULL &&
	    (c->required_class = spif_class_find(p, rc_name)) < 0) {
		lerr(err, errlen, "tagCategory '%s': unknown requiredClass "
		    "'%s'", name, rc_name);
		return L_ERR_INVAL;
	}
	nb = xml_attr(el, "notBefore");
	na = xml_attr(el, "notAfter");
	if ((nb != NULL && time_parse_xep82(nb, &c->not_before) != 0) ||
	    (na != NULL && time_parse_xep82(na, &c->not_after) != 0)) {
		lerr(err, errlen, "tagCategory '%s': bad notBefore/notAfter",
		    name);
		return L_ERR_INVAL;
	}
	FOREACH_SPIF(el, ex, "excludedClass") {
		if ((cls = xml_text(ex)) == NULL)
			return L_ERR_NOMEM;
		k = spif_class_find(p, ltrim(cls));
		if (k < 0) {
			lerr(err, errlen, "tagCategory '%s': excludedClass "
			    "'%s' is not a classification", name, cls);
			free(cls);
			return L_ERR_INVAL;
		}
		free(cls);
		for (size_t i = 0; i < c->nexcl_class; i++) {
			if (c->excl_class[i] == (unsigned)k) {
				lerr(err, errlen, "tagCategory '%s': duplicate "
				    "excludedClass", name);
				return L_ERR_INVAL;
			}
		}
		if (lv_push(&c->excl_class, &c->nexcl_class,
		    sizeof(unsigned)) == NULL)
			return L_ERR_NOMEM;
		c->excl_class[c->nexcl_class - 1] = (unsigned)k;
	}
	if ((rc = parse_required(el, &c->req, &c->nreq, err, errlen)) != 0)
		return rc;
	FOREACH_SPIF(el, ex, "excludedCategory") {
		if ((g = lv_push(&c->excl, &c->nexcl, sizeof(*g))) == NULL)
			return L_ERR_NOMEM;
		if ((rc = parse_catgroup(ex, g, err, errlen)) != 0)
			return rc;
	}
	FOREACH_SPIF(el, eq, "equivalentSecCategoryTag") {
		if ((ref = req_attr(eq, "policyRef", err, errlen)) == NULL)
			return L_ERR_INVAL;
		if (policy_id_of(root, ref, &pid) != 0) {
			lerr(err, errlen, "equivalentSecCategoryTag: policyRef "
			    "'%s' is not in equivalentPolicies", ref);
			return L_ERR_INVAL;
		}
		if ((e = lv_push(&c->eq, &c->neq, sizeof(*e))) == NULL)
			return L_ERR_NOMEM;
		e->discard = xml_attr(eq, "action") != NULL &&
		    strcmp(xml_attr(eq, "action"), "discard") == 0;
		e->applied = parse_applied(xml_attr(eq, "applied"));
		if (e->applied == 0)
			e->applied = SPIF_APPLIED_ENCRYPT;
		if ((e->policy_id = l_strdup(pid)) == NULL)
			return L_ERR_NOMEM;
		if (!e->discard) {
			if ((v = req_attr(eq, "tagSetId", err, errlen)) == NULL)
				return L_ERR_INVAL;
			if ((e->tagset_id = l_strdup(v)) == NULL)
				return L_ERR_NOMEM;
			if ((e->type = parse_tag_type(eq, err, errlen)) < 0)
				return L_ERR_INVAL;
			if ((v = req_attr(eq, "lacv", err, errlen)) == NULL)
				return L_ERR_INVAL;
			if ((e->lacv = lacv_norm(v)) == NULL)
				return L_ERR_NOMEM;
		}
	}
	if ((rc = parse_marking(el, &c->mk, err, errlen)) != 0)
		return rc;
	t->ncat++;

	/* Index by name and by lacv within (tag set, type). */
	buf_reset(key);
	if ((rc = buf_appendf(key, "%u\x1f%d\x1f", c->tagset, c->type)) != 0 ||
	    (rc = lbuf_fold(key, name, p->ci)) != 0)
		return rc;
	if ((rc = index_put(&p->cat_idx, key, ci, err, errlen,
	    "tagCategory name in tag set")) != 0) {
		if (rc == L_ERR_INVAL)
			lerr(err, errlen, "tagCategory '%s': duplicate name in "
			    "tag set '%s'", name, p->tagsets[c->tagset].name);
		return rc;
	}
	buf_reset(key);
	if ((rc = buf_appendf(key, "%u\x1f%d#%s", c->tagset, c->type,
	    c->lacv)) != 0)
		return rc;
	if ((rc = index_put(&p->cat_idx, key, ci, err, errlen, "lacv")) != 0) {
		if (rc == L_ERR_INVAL)
			lerr(err, errlen, "tagCategory '%s': duplicate lacv %s "
			    "in tag set '%s'", name, c->lacv,
			    p->tagsets[c->tagset].name);
		return rc;
	}
	return 0;
}

static int
parse_tagset(const struct xml_node *root, const struct xml_node *el,
    struct spif *p, struct buf *key, char *err, size_t errlen)
{
	struct spif_tagset *ts;
	struct spif_tag *t;
	const char *name, *id, *tname, *v;
	unsigned tsi = (unsigned)p->ntagsets, ti;
	int rc;

	if ((name = req_attr(el, "name", err, errlen)) == NULL ||
	    (id = req_attr(el, "id", err, errlen)) == NULL)
		return L_ERR_INVAL;
	if ((ts = lv_push(&p->tagsets, &p->ntagsets, sizeof(*ts))) == NULL)
		return L_ERR_NOMEM;
	if ((ts->name = l_strdup(name)) == NULL || (ts->id = l_strdup(id)) == NULL)
		return L_ERR_NOMEM;
	ts->first_tag = (unsigned)p->ntags;
	if ((rc = parse_marking(el, &ts->mk, err, errlen)) != 0)
		return rc;
	buf_reset(key);
	if ((rc = lbuf_fold(key, name, p->ci)) != 0)
		return rc;
	if ((rc = index_put(&p->tagset_idx, key, tsi, err, errlen,
	    "tag set")) != 0) {
		if (rc == L_ERR_INVAL)
			lerr(err, errlen, "securityCategoryTagSet: duplicate "
			    "name '%s'", name);
		return rc;
	}
	for (size_t i = 0; i + 1 < p->ntagsets; i++) {
		if (strcmp(p->tagsets[i].id, id) == 0) {
			lerr(err, errlen, "securityCategoryTagSet: duplicate "
			    "id '%s'", id);
			return L_ERR_INVAL;
		}
	}
	FOREACH_SPIF(el, te, "securityCategoryTag") {
		if ((tname = req_attr(te, "name", err, errlen)) == NULL)
			return L_ERR_INVAL;
		ti = (unsigned)p->ntags;
		if ((t = lv_push(&p->tags, &p->ntags, sizeof(*t))) == NULL)
			return L_ERR_NOMEM;
		p->tagsets[tsi].ntags++;
		t->tagset = tsi;
		t->first_cat = (unsigned)p->ncats;
		if ((t->name = l_strdup(tname)) == NULL)
			return L_ERR_NOMEM;
		if ((t->type = parse_tag_type(te, err, errlen)) < 0)
			return L_ERR_INVAL;
		t->single = attr_true(te, "singleSelection");
		if ((v = xml_attr(te, "minSelection")) != NULL)
			t->min_sel = (unsigned)strtoul(v, NULL, 10);
		if ((v = xml_attr(te, "maxSelection")) != NULL)
			t->max_sel = (unsigned)strtoul(v, NULL, 10);
		if ((rc = parse_marking(te, &t->mk, err, errlen)) != 0)
			return rc;
		FOREACH_SPIF(te, ce, "tagCategory") {
			if ((rc = parse_category(root, ce, p, ti, key, err,
			    errlen)) != 0)
				return rc;
		}
	}
	return 0;
}

/* Every categoryGroup / excludedCategory names a tag set of this policy
 * (requiredCategory inside equivalences names the other policy's). */
static int
check_groups(const struct spif *p, const struct spif_catgroup *g, size_t n,
    const char *where, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (spif_tagset_find(p, g[i].tagset) < 0) {
			lerr(err, errlen, "%s: tagSetRef '%s' is not a tag set",
			    where, g[i].tagset);
			return L_ERR_INVAL;
		}
	}
	return 0;
}

static int
check_refs(const struct spif *p, char *err, size_t errlen)
{
	char where[160];
	int rc;

	for (size_t i = 0; i < p->nclasses; i++) {
		snprintf(where, sizeof(where), "securityClassification '%s'",
		    p->classes[i].name);
		for (size_t j = 0; j < p->classes[i].nreq; j++) {
			if ((rc = check_groups(p, p->classes[i].req[j].groups,
			    p->classes[i].req[j].ngroups, where, err,
			    errlen)) != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < p->ncats; i++) {
		const struct spif_category *c = &p->cats[i];

		snprintf(where, sizeof(where), "tagCategory '%s'", c->name);
		if ((rc = check_groups(p, c->excl, c->nexcl, where, err,
		    errlen)) != 0)
			return rc;
		for (size_t j = 0; j < c->nreq; j++) {
			if ((rc = check_groups(p, c->req[j].groups,
			    c->req[j].ngroups, where, err, errlen)) != 0)
				return rc;
		}
	}
	return 0;
}

int
spif_load_xml(const struct xml_node *root, const char *source,
    struct spif **out, char *err, size_t errlen)
{
	const struct xml_node *pid, *classes, *sets, *eqs;
	struct spif *p;
	struct spif_equiv_policy *ep;
	struct buf key;
	const char *name, *id, *v;
	int rc = L_ERR_INVAL;

	*out = NULL;
	buf_init(&key, 0);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return L_ERR_NOMEM;
	hmap_init(&p->class_idx);
	hmap_init(&p->tagset_idx);
	hmap_init(&p->cat_idx);
	if (root->type != XML_NODE_ELEM || !is_spif(root, "SPIF") ||
	    root->ns[0] == '\0') {
		lerr(err, errlen, "root element is not {%s}SPIF", SPIF_NS);
		goto fail;
	}
	if ((p->source = l_strdup(source ? source : "<memory>")) == NULL)
		goto nomem;
	if ((pid = spif_child(root, "securityPolicyId")) == NULL) {
		lerr(err, errlen, "SPIF: missing securityPolicyId");
		goto fail;
	}
	if ((name = req_attr(pid, "name", err, errlen)) == NULL ||
	    (id = req_attr(pid, "id", err, errlen)) == NULL)
		goto fail;
	if ((p->name = l_strdup(name)) == NULL || (p->id = l_strdup(id)) == NULL)
		goto nomem;
	p->ci = spif_name_is_ci(name);
	if ((v = xml_attr(root, "version")) != NULL &&
	    (p->version = l_strdup(v)) == NULL)
		goto nomem;
	if ((v = xml_attr(root, "notBefore")) != NULL &&
	    time_parse_xep82(v, &p->not_before) != 0) {
		lerr(err, errlen, "SPIF: bad notBefore");
		goto fail;
	}
	if ((v = xml_attr(root, "notAfter")) != NULL &&
	    time_parse_xep82(v, &p->not_after) != 0) {
		lerr(err, errlen, "SPIF: bad notAfter");
		goto fail;
	}

	if ((eqs = spif_child(root, "equivalentPolicies")) != NULL) {
		FOREACH_SPIF(eqs, e, "equivalentPolicy") {
			if ((name = req_attr(e, "name", err, errlen)) == NULL ||
			    (id = req_attr(e, "id", err, errlen)) == NULL)
				goto fail;
			if ((ep = lv_push(&p->equivs, &p->nequivs,
			    sizeof(*ep))) == NULL)
				goto nomem;
			if ((ep->name = l_strdup(name)) == NULL ||
			    (ep->id = l_strdup(id)) == NULL)
				goto nomem;
			if ((rc = parse_required(e, &ep->req, &ep->nreq, err,
			    errlen)) != 0)
				goto fail;
		}
	}

	if ((classes = spif_child(root, "securityClassifications")) == NULL) {
		lerr(err, errlen, "SPIF: missing securityClassifications");
		rc = L_ERR_INVAL;
		goto fail;
	}
	FOREACH_SPIF(classes, ce, "securityClassification") {
		if ((rc = parse_class(root, ce, p, err, errlen)) != 0)
			goto fail;
		buf_reset(&key);
		if ((rc = lbuf_fold(&key, p->classes[p->nclasses - 1].name,
		    p->ci)) != 0)
			goto fail;
		if ((rc = index_put(&p->class_idx, &key, p->nclasses - 1, err,
		    errlen, "classification")) != 0) {
			if (rc == L_ERR_INVAL)
				lerr(err, errlen, "securityClassification: "
				    "duplicate name '%s'",
				    p->classes[p->nclasses - 1].name);
			goto fail;
		}
		for (size_t i = 0; i + 1 < p->nclasses; i++) {
			if (strcmp(p->classes[i].lacv,
			    p->classes[p->nclasses - 1].lacv) == 0) {
				lerr(err, errlen, "securityClassification '%s': "
				    "duplicate lacv %s",
				    p->classes[p->nclasses - 1].name,
				    p->classes[i].lacv);
				rc = L_ERR_INVAL;
				goto fail;
			}
		}
	}
	if (p->nclasses == 0) {
		lerr(err, errlen, "securityClassifications: no "
		    "securityClassification");
		rc = L_ERR_INVAL;
		goto fail;
	}
	if ((sets = spif_child(root, "securityCategoryTagSets")) != NULL) {
		FOREACH_SPIF(sets, se, "securityCategoryTagSet") {
			if ((rc = parse_tagset(root, se, p, &key, err,
			    errlen)) != 0)
				goto fail;
		}
	}
	if ((rc = parse_marking(root, &p->mk, err, errlen)) != 0)
		goto fail;
	if ((rc = check_refs(p, err, errlen)) != 0)
		goto fail;
	p->cat_words = (p->ncats + 63) / 64;
	if (p->cat_words == 0)
		p->cat_words = 1;
	p->class_words = (p->nclasses + 63) / 64;
	buf_cleanup(&key);
	*out = p;
	return 0;
nomem:
	rc = L_ERR_NOMEM;
	lerr(err, errlen, "out of memory");
fail:
	if (rc == L_ERR_NOMEM)
		lerr(err, errlen, "out of memory");
	buf_cleanup(&key);
	spif_free(p);
	return rc;
}

int
spif_load_file(const char *path, struct spif **out, char *err, size_t errlen)
{
	struct xml_node *root = NULL;
	int rc;

	*out = NULL;
	if ((rc = xml_parse_file(path, NULL, &root, err, errlen)) != 0)
		return rc;
	rc = spif_load_xml(root, path, out, err, errlen);
	xml_node_free(root);
	return rc;
}

void
spif_free(struct spif *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nclasses; i++) {
		struct spif_class *c = &p->classes[i];

		free(c->name);
		free(c->lacv);
		free(c->color);
		marking_cleanup(&c->mk);
		required_free(c->req, c->nreq);
		for (size_t j = 0; j < c->neq; j++) {
			free(c->eq[j].policy_id);
			free(c->eq[j].lacv);
			required_free(c->eq[j].req, c->eq[j].nreq);
		}
		free(c->eq);
	}
	free(p->classes);
	for (size_t i = 0; i < p->ncats; i++) {
		struct spif_category *c = &p->cats[i];

		free(c->name);
		free(c->lacv);
		free(c->excl_class);
		required_free(c->req, c->nreq);
		for (size_t j = 0; j < c->nexcl; j++)
			catgroup_cleanup(&c->excl[j]);
		free(c->excl);
		for (size_t j = 0; j < c->neq; j++) {
			free(c->eq[j].policy_id);
			free(c->eq[j].tagset_id);
			free(c->eq[j].lacv);
		}
		free(c->eq);
		marking_cleanup(&c->mk);
	}
	free(p->cats);
	for (size_t i = 0; i < p->ntags; i++) {
		free(p->tags[i].name);
		marking_cleanup(&p->tags[i].mk);
	}
	free(p->tags);
	for (size_t i = 0; i < p->ntagsets; i++) {
		free(p->tagsets[i].name);
		free(p->tagsets[i].id);
		marking_cleanup(&p->tagsets[i].mk);
	}
	free(p->tagsets);
	for (size_t i = 0; i < p->nequivs; i++) {
		free(p->equivs[i].name);
		free(p->equivs[i].id);
		required_free(p->equivs[i].req, p->equivs[i].nreq);
	}
	free(p->equivs);
	marking_cleanup(&p->mk);
	hmap_cleanup(&p->class_idx);
	hmap_cleanup(&p->tagset_idx);
	hmap_cleanup(&p->cat_idx);
	free(p->source);
	free(p->name);
	free(p->id);
	free(p->version);
	free(p);
}

/* Looks key up after folding; returns index or -1. */
static int
idx_get(const struct hmap *m, const char *prefix, const char *name,
    bool fold)
{
	char stack[256];
	struct buf b;
	void *v;
	size_t pl = strlen(prefix), nl = strlen(name);

	if (pl + nl < sizeof(stack)) {
		memcpy(stack, prefix, pl);
		for (size_t i = 0; i < nl; i++) {
			unsigned char ch = (unsigned char)name[i];

			stack[pl + i] = (char)(fold && ch >= 'A' && ch <= 'Z' ?
			    ch + 32 : ch);
		}
		v = hmap_get(m, stack, pl + nl);
		return v ? (int)((size_t)v - 1) : -1;
	}
	buf_init(&b, 0);
	if (buf_append_str(&b, prefix) != 0 || lbuf_fold(&b, name, fold) != 0) {
		buf_cleanup(&b);
		return -1;
	}
	v = hmap_get(m, b.data, b.len);
	buf_cleanup(&b);
	return v ? (int)((size_t)v - 1) : -1;
}

int
spif_class_find(const struct spif *p, const char *name)
{
	return idx_get(&p->class_idx, "", name, p->ci);
}

int
spif_class_find_lacv(const struct spif *p, const char *lacv)
{
	char *n = lacv_norm(lacv);
	int r = -1;

	if (n == NULL)
		return -1;
	for (size_t i = 0; i < p->nclasses; i++) {
		if (strcmp(p->classes[i].lacv, n) == 0) {
			r = (int)i;
			break;
		}
	}
	free(n);
	return r;
}

int
spif_tagset_find(const struct spif *p, const char *name)
{
	return idx_get(&p->tagset_idx, "", name, p->ci);
}

int
spif_tagset_find_id(const struct spif *p, const char *oid)
{
	if (strncmp(oid, "urn:oid:", 8) == 0)
		oid += 8;
	for (size_t i = 0; i < p->ntagsets; i++) {
		if (strcmp(p->tagsets[i].id, oid) == 0)
			return (int)i;
	}
	return -1;
}

int
spif_cat_find(const struct spif *p, unsigned tagset, int type,
    const char *name)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%u\x1f%d\x1f", tagset, type);
	return idx_get(&p->cat_idx, prefix, name, p->ci);
}

int
spif_cat_find_lacv(const struct spif *p, unsigned tagset, int type,
    const char *lacv)
{
	char prefix[32], *n;
	int r;

	if ((n = lacv_norm(lacv)) == NULL)
		return -1;
	snprintf(prefix, sizeof(prefix), "%u\x1f%d#", tagset, type);
	r = idx_get(&p->cat_idx, prefix, n, false);
	free(n);
	return r;
}

bool
spif_name_is_ci(const char *name)
{
	return strcasecmp(name, "NATO") == 0 || strcasecmp(name, "PUBLIC") == 0;
}

void
spif_set_init(struct spif_set *s)
{
	s->v = NULL;
	s->n = 0;
}

void
spif_set_cleanup(struct spif_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		spif_free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int
spif_set_add(struct spif_set *s, struct spif *p)
{
	struct spif **slot;

	if (spif_set_find(s, p->name) != NULL ||
	    spif_set_find_id(s, p->id) != NULL)
		return L_ERR_EXISTS;
	if ((slot = lv_push(&s->v, &s->n, sizeof(*slot))) == NULL)
		return L_ERR_NOMEM;
	*slot = p;
	return 0;
}

const struct spif *
spif_set_find(const struct spif_set *s, const char *name)
{
	if (strncmp(name, "urn:oid:", 8) == 0)
		return spif_set_find_id(s, name);
	for (size_t i = 0; i < s->n; i++) {
		if (strcasecmp(s->v[i]->name, name) == 0)
			return s->v[i];
	}
	return NULL;
}

const struct spif *
spif_set_find_id(const struct spif_set *s, const char *oid)
{
	if (strncmp(oid, "urn:oid:", 8) == 0)
		oid += 8;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i]->id, oid) == 0)
			return s->v[i];
	}
	return NULL;
}
