/*
 * Validity (NOTES §3.2), the access control decision function (§3.3),
 * the intern table and the decision cache.  Validity resolves a label's
 * names into ordinals once; the decision then works on ordinals and bit
 * sets, allocates nothing and formats a reason only on DENY.
 */
#include "label/acdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "base/timeutil.h"
#include "label/equiv.h"
#include "label/label_int.h"

static int
deny(struct acdf_reason *why, int rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
deny(struct acdf_reason *why, int rule, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		why->rule = rule;
		va_start(ap, fmt);
		vsnprintf(why->text, sizeof(why->text), fmt, ap);
		va_end(ap);
	}
	return rule >= ACDF_R_NIL ? L_ERR_DENIED : L_ERR_INVAL;
}

void
reason_prefix(struct acdf_reason *why, int rule, const char *prefix)
{
	size_t pl = strlen(prefix), tl = strlen(why->text), cap = sizeof(why->text) - 1;

	if (pl > cap)
		pl = cap;
	if (pl + tl > cap)
		tl = cap - pl;
	memmove(why->text + pl, why->text, tl);
	memcpy(why->text, prefix, pl);
	why->text[pl + tl] = '\0';
	why->rule = rule;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool
has_val(const struct label_res *r, uint32_t v)
{
	size_t lo = 0, hi = r->nvals;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->vals[mid] == v)
			return true;
		if (r->vals[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* How many label values match the category group g. */
static size_t
group_count(const struct spif *p, const struct label_res *r,
    const struct spif_catgroup *g)
{
	int ts = spif_tagset_find(p, g->tagset), k;
	size_t n = 0;

	if (ts < 0)
		return 0;
	if (g->lacv != NULL) {
		k = spif_cat_find_lacv(p, (unsigned)ts, g->type, g->lacv);
		return k >= 0 && has_val(r, (uint32_t)k);
	}
	for (size_t i = 0; i < r->nvals; i++) {
		const struct spif_category *c = &p->cats[r->vals[i]];

		if (c->tagset == (unsigned)ts && c->type == g->type)
			n++;
	}
	return n;
}

static void
group_name(const struct spif_catgroup *g, char *out, size_t len)
{
	snprintf(out, len, "%s %s%s%s", g->tagset, spif_type_keyword(g->type),
	    g->lacv ? " lacv " : " (any)", g->lacv ? g->lacv : "");
}

static int
check_required(const struct spif *p, const struct label_res *r,
    const struct spif_required *req, size_t nreq, const char *who,
    struct acdf_reason *why)
{
	char gn[160];

	for (size_t i = 0; i < nreq; i++) {
		const struct spif_required *q = &req[i];
		size_t total = 0;

		for (size_t j = 0; j < q->ngroups; j++) {
			size_t n = group_count(p, r, &q->groups[j]);

			if (q->op == SPIF_OP_ALL && n == 0) {
				group_name(&q->groups[j], gn, sizeof(gn));
				return deny(why, 0, "%s requires %s", who, gn);
			}
			total += n;
		}
		group_name(&q->groups[0], gn, sizeof(gn));
		if (q->op == SPIF_OP_ONLYONE && total != 1)
			return deny(why, 0, "%s requires exactly one of %s%s "
			    "(has %zu)", who, gn, q->ngroups > 1 ? "..." : "",
			    total);
		if (q->op == SPIF_OP_ONEORMORE && total == 0)
			return deny(why, 0, "%s requires one or more of %s%s",
			    who, gn, q->ngroups > 1 ? "..." : "");
	}
	return 0;
}

static int
check_structure(const struct label *l, struct acdf_reason *why)
{
	int64_t t;

	if (l->creation == NULL)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "CreationDateTime is missing (ADatP-4774 §5)");
	if (time_parse_xep82(l->creation, &t) != 0)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "CreationDateTime is not an xs:dateTime");
	if (l->review == NULL && !l->has_succession)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "ReviewDateTime is required without SuccessionHandling");
	if (l->review != NULL && time_parse_xep82(l->review, &t) != 0)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "ReviewDateTime is not an xs:dateTime");
	if (l->class_uri)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "Classification/@URI shall not be used");
	if (l->nongeneric)
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "IntegerValue and BitStringValue shall not be used");
	if (l->has_succession && (l->succession_time == NULL ||
	    time_parse_xep82(l->succession_time, &t) != 0))
		return deny(why, ACDF_R_V_STRUCTURE, "rule 3.2.7: "
		    "SuccessionDateTime is not an xs:dateTime");
	return 0;
}

int
label_validate(const struct spif_set *set, const struct label *l,
    unsigned flags, int64_t now_us, struct label_res *out,
    struct acdf_reason *why)
{
	const struct spif *p;
	const struct spif_class *cls;
	struct label_res r = { 0 };
	char who[200];
	size_t nvals = 0;
	int k, ts, rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (now_us == 0)
		now_us = time_real_us();
	/* Rule 1: the policy, and its URI. */
	if ((p = spif_set_find(set, l->policy)) == NULL)
		return deny(why, ACDF_R_V_POLICY, "rule 3.2.1: policy '%s' is "
		    "not known", l->policy);
	if (l->policy_uri != NULL && (strncmp(l->policy_uri, "urn:oid:", 8) != 0 ||
	    strcmp(l->policy_uri + 8, p->id) != 0))
		return deny(why, ACDF_R_V_POLICY, "rule 3.2.1: PolicyIdentifier "
		    "URI '%s' is not urn:oid:%s", l->policy_uri, p->id);
	if ((p->not_before != 0 && now_us < p->not_before) ||
	    (p->not_after != 0 && now_us > p->not_after))
		return deny(why, ACDF_R_V_SELECTION, "rule 3.2.6: policy %s is "
		    "outside its validity window", p->name);
	/* Rule 2: the classification. */
	if ((k = spif_class_find(p, l->classification)) < 0)
		return deny(why, ACDF_R_V_CLASS, "rule 3.2.2: classification "
		    "'%s' is not in policy %s", l->classification, p->name);
	cls = &p->classes[k];
	if (cls->obsolete)
		return deny(why, ACDF_R_V_CLASS, "rule 3.2.2: classification "
		    "'%s' is obsolete", cls->name);
	r.spif = p;
	r.cls = (unsigned)k;
	/* Rule 3: tag sets, types and values. */
	for (size_t i = 0; i < l->ncats; i++)
		nvals += l->cats[i].nvalues;
	if (nvals > 0 && (r.vals = malloc(nvals * sizeof(*r.vals))) == NULL)
		return L_ERR_NOMEM;
	for (size_t i = 0; i < l->ncats; i++) {
		const struct label_category *c = &l->cats[i];
		bool type_ok = false;

		if ((ts = spif_tagset_find(p, c->tag_name)) < 0) {
			rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: tag set "
			    "'%s' is not in policy %s", c->tag_name, p->name);
			goto fail;
		}
		if (c->uri != NULL && (strncmp(c->uri, "urn:oid:", 8) != 0 ||
		    strcmp(c->uri + 8, p->tagsets[ts].id) != 0)) {
			rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: Category "
			    "'%s' URI is not urn:oid:%s", c->tag_name,
			    p->tagsets[ts].id);
			goto fail;
		}
		for (unsigned t = 0; t < p->tagsets[ts].ntags; t++) {
			if (p->tags[p->tagsets[ts].first_tag + t].type ==
			    c->type)
				type_ok = true;
		}
		if (!type_ok) {
			rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: tag set "
			    "'%s' has no %s tag", c->tag_name,
			    spif_type_keyword(c->type));
			goto fail;
		}
		for (size_t j = 0; j < c->nvalues; j++) {
			if ((k = spif_cat_find(p, (unsigned)ts, c->type,
			    c->values[j])) < 0) {
				rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: "
				    "'%s' is not a %s value of tag set '%s'",
				    c->values[j], spif_type_keyword(c->type),
				    c->tag_name);
				goto fail;
			}
			if (p->cats[k].obsolete) {
				rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: "
				    "'%s' in tag set '%s' is obsolete",
				    c->values[j], c->tag_name);
				goto fail;
			}
			r.vals[r.nvals++] = (uint32_t)k;
		}
	}
	if (r.nvals > 1)
		qsort(r.vals, r.nvals, sizeof(*r.vals), cmp_u32);
	/* A value named twice (repeated, or in another case in a
	 * case-insensitive policy, or as another spelling of its lacv) is
	 * invalid: a label names each value once (ADatP-4774: all values of
	 * a tag in one Category), and a label padded with repetitions is
	 * only a way to make it large. */
	for (size_t i = 1; i < r.nvals; i++) {
		if (r.vals[i] == r.vals[i - 1]) {
			const struct spif_category *c = &p->cats[r.vals[i]];

			rc = deny(why, ACDF_R_V_CATEGORY, "rule 3.2.3: '%s' is "
			    "given more than once in tag set '%s'", c->name,
			    p->tagsets[c->tagset].name);
			goto fail;
		}
	}
	/* Rule 4: per value. */
	for (size_t i = 0; i < r.nvals; i++) {
		const struct spif_category *c = &p->cats[r.vals[i]];

		snprintf(who, sizeof(who), "'%s' (%s)", c->name,
		    p->tagsets[c->tagset].name);
		for (size_t j = 0; j < c->nexcl_class; j++) {
			if (c->excl_class[j] == r.cls) {
				rc = deny(why, ACDF_R_V_CATRULE, "rule 3.2.4: "
				    "%s is not allowed with %s", who,
				    cls->name);
				goto fail;
			}
		}
		if (c->required_class >= 0 &&
		    (unsigned)c->required_class != r.cls) {
			rc = deny(why, ACDF_R_V_CATRULE, "rule 3.2.4: %s "
			    "requires classification %s", who,
			    p->classes[c->required_class].name);
			goto fail;
		}
		for (size_t j = 0; j < c->nexcl; j++) {
			if (group_count(p, &r, &c->excl[j]) > 0) {
				char gn[160];

				group_name(&c->excl[j], gn, sizeof(gn));
				rc = deny(why, ACDF_R_V_CATRULE, "rule 3.2.4: "
				    "%s excludes %s", who, gn);
				goto fail;
			}
		}
		if ((rc = check_required(p, &r, c->req, c->nreq, who,
		    why)) != 0) {
			if (why != NULL)
				reason_prefix(why, ACDF_R_V_CATRULE,
				    "rule 3.2.4: ");
			goto fail;
		}
		if ((c->not_before != 0 && now_us < c->not_before) ||
		    (c->not_after != 0 && now_us > c->not_after)) {
			rc = deny(why, ACDF_R_V_SELECTION, "rule 3.2.6: %s is "
			    "outside its validity window", who);
			goto fail;
		}
	}
	/* Rule 5: the classification's required categories. */
	snprintf(who, sizeof(who), "classification %s", cls->name);
	if ((rc = check_required(p, &r, cls->req, cls->nreq, who, why)) != 0) {
		if (why != NULL)
			reason_prefix(why, ACDF_R_V_CLASSREQ, "rule 3.2.5: ");
		goto fail;
	}
	/* Rule 6: selections per tag. */
	for (size_t i = 0; i < r.nvals;) {
		unsigned tag = p->cats[r.vals[i]].tag, n = 0;
		const struct spif_tag *t = &p->tags[tag];

		while (i < r.nvals && p->cats[r.vals[i]].tag == tag)
			i++, n++;
		if (t->single && n > 1) {
			rc = deny(why, ACDF_R_V_SELECTION, "rule 3.2.6: tag '%s' "
			    "allows a single selection (has %u)", t->name, n);
			goto fail;
		}
		if ((t->min_sel && n < t->min_sel) ||
		    (t->max_sel && n > t->max_sel)) {
			rc = deny(why, ACDF_R_V_SELECTION, "rule 3.2.6: tag '%s' "
			    "needs between %u and %u values (has %u)", t->name,
			    t->min_sel, t->max_sel, n);
			goto fail;
		}
	}
	/* minSelection of tags absent from the label. */
	for (size_t t = 0; t < p->ntags; t++) {
		bool present = false;

		if (p->tags[t].min_sel == 0)
			continue;
		for (size_t i = 0; i < r.nvals && !present; i++)
			present = p->cats[r.vals[i]].tag == t;
		if (!present) {
			rc = deny(why, ACDF_R_V_SELECTION, "rule 3.2.6: tag '%s' "
			    "needs at least %u values", p->tags[t].name,
			    p->tags[t].min_sel);
			goto fail;
		}
	}
	/* Rule 7: the ADatP-4774 prose rules. */
	if ((flags & LABEL_VALID_4774) &&
	    (rc = check_structure(l, why)) != 0)
		goto fail;
	/* The successor label travels with the label: it must be valid in
	 * its own (loaded) policy too. */
	if (l->successor != NULL) {
		rc = label_validate(set, l->successor, 0, now_us, NULL, why);
		if (rc != 0) {
			if (rc == L_ERR_INVAL && why != NULL)
				reason_prefix(why, ACDF_R_V_STRUCTURE,
				    "SuccessorConfidentialityLabel: ");
			goto fail;
		}
	}
	if (out != NULL)
		*out = r;
	else
		label_res_cleanup(&r);
	return 0;
fail:
	label_res_cleanup(&r);
	return rc;
}

int
acdf_decide(const struct label_res *l, const struct clearance_res *c,
    struct acdf_reason *why)
{
	const struct spif *p = l->spif;
	size_t i = 0;

	if (p != c->spif)
		return deny(why, ACDF_R_POLICY, "rule 3.3.1: label policy %s is "
		    "not the clearance policy %s", p->name, c->spif->name);
	if (!(c->cls_bits[l->cls / 64] & (1ULL << (l->cls % 64))))
		return deny(why, ACDF_R_CLASS, "rule 3.3.2: classification %s "
		    "is not in the clearance", p->classes[l->cls].name);
	while (i < l->nvals) {
		uint32_t v = l->vals[i];
		const struct spif_category *cat = &p->cats[v];
		unsigned ts = cat->tagset;
		bool perm_seen = false, perm_held = false;

		/* One tag set at a time: its values are consecutive. */
		for (; i < l->nvals && p->cats[l->vals[i]].tagset == ts; i++) {
			v = l->vals[i];
			cat = &p->cats[v];
			bool held = (c->cat_bits[v / 64] >> (v % 64)) & 1;

			if (cat->type == SPIF_RESTRICTIVE && !held)
				return deny(why, ACDF_R_RESTRICTIVE, "rule 3.3.3: "
				    "restrictive value '%s' of '%s' is not held",
				    cat->name, p->tagsets[ts].name);
			if (cat->type == SPIF_PERMISSIVE) {
				perm_seen = true;
				perm_held |= held;
			}
		}
		if (perm_seen && !perm_held)
			return deny(why, ACDF_R_PERMISSIVE, "rule 3.3.4: no "
			    "permissive value of '%s' is held",
			    p->tagsets[ts].name);
	}
	return 0;
}

int
acdf_check(const struct spif_set *set, const struct label_group *g,
    const struct clearance_res *c, unsigned flags, struct acdf_reason *why)
{
	const struct label *l;
	struct label *mapped = NULL;
	struct label_res r;
	int rc;

	if (g == NULL || g->n == 0)
		return deny(why, ACDF_R_NIL, "rule 3.3.0: no label");
	if (c == NULL || c->spif == NULL)
		return deny(why, ACDF_R_NIL, "rule 3.3.0: no clearance");
	/* An alternative label decides only if it is the originator's
	 * equivalent; a group with one that is not is an invalid label. */
	if (g->n > 1) {
		if (spif_set_find(set, g->v[0]->policy) == NULL)
			return deny(why, ACDF_R_POLICY, "rule 3.3.1: label "
			    "policy '%s' is not known", g->v[0]->policy);
		rc = label_group_verify(set, g, flags, why);
		if (rc == L_ERR_NOMEM)
			return rc;
		if (rc != 0) {
			if (why != NULL)
				why->rule = ACDF_R_INVALID;
			return L_ERR_DENIED;
		}
	}
	if ((l = label_group_find(g, c->spif)) == NULL) {
		if (spif_set_find(set, g->v[0]->policy) == NULL)
			return deny(why, ACDF_R_POLICY, "rule 3.3.1: label "
			    "policy '%s' is not known", g->v[0]->policy);
		rc = equiv_map(set, g->v[0], c->spif, &mapped, why);
		if (rc == L_ERR_NOMEM)
			return rc;
		if (rc != 0) {
			if (why != NULL) {
				char pre[128];

				snprintf(pre, sizeof(pre), "rule 3.3.1: no label "
				    "in policy %s: ", c->spif->name);
				reason_prefix(why, ACDF_R_POLICY, pre);
			}
			return L_ERR_DENIED;
		}
		l = mapped;
	}
	rc = label_validate(set, l, flags, 0, &r, why);
	if (rc == L_ERR_INVAL) {
		if (why != NULL)
			why->rule = ACDF_R_INVALID;
		rc = L_ERR_DENIED;
	} else if (rc == 0) {
		rc = acdf_decide(&r, c, why);
		label_res_cleanup(&r);
	}
	label_free(mapped);
	return rc;
}

void
label_table_init(struct label_table *t, const struct spif_set *set,
    unsigned flags)
{
	memset(t, 0, sizeof(*t));
	t->set = set;
	t->flags = flags;
	hmap_init(&t->labels);
	hmap_init(&t->clearances);
	buf_init(&t->scratch, 0);
}

void
label_table_cleanup(struct label_table *t)
{
	for (size_t i = 0; i < t->nl; i++) {
		label_res_cleanup(&t->lv[i]->res);
		free(t->lv[i]);
	}
	free(t->lv);
	for (size_t i = 0; i < t->nc; i++) {
		clearance_res_cleanup(&t->cv[i]->res);
		free(t->cv[i]);
	}
	free(t->cv);
	hmap_cleanup(&t->labels);
	hmap_cleanup(&t->clearances);
	buf_cleanup(&t->scratch);
}

int
label_intern(struct label_table *t, const struct label *l,
    const struct label_entry **out)
{
	struct label_entry *e, **slot;
	int rc;

	buf_reset(&t->scratch);
	if ((rc = label_canonical(l, &t->scratch)) != 0)
		return rc;
	if ((e = hmap_get(&t->labels, t->scratch.data, t->scratch.len)) != NULL) {
		*out = e;
		return 0;
	}
	if (t->nl >= UINT32_MAX - 1 || (e = calloc(1, sizeof(*e))) == NULL)
		return L_ERR_NOMEM;
	e->id = (uint32_t)t->nl;
	e->status = label_validate(t->set, l, t->flags, 0, &e->res, &e->why);
	if (e->status == L_ERR_NOMEM ||
	    (slot = lv_push(&t->lv, &t->nl, sizeof(*slot))) == NULL) {
		label_res_cleanup(&e->res);
		free(e);
		return L_ERR_NOMEM;
	}
	*slot = e;
	if (hmap_put(&t->labels, t->scratch.data, t->scratch.len, e,
	    NULL) != 0) {
		t->nl--;
		label_res_cleanup(&e->res);
		free(e);
		return L_ERR_NOMEM;
	}
	*out = e;
	return 0;
}

int
clearance_intern(struct label_table *t, const struct clearance *c,
    const struct clearance_entry **out, char *err, size_t errlen)
{
	struct clearance_entry *e, **slot;
	int rc;

	buf_reset(&t->scratch);
	if ((rc = clearance_canonical(c, &t->scratch)) != 0)
		return rc;
	if ((e = hmap_get(&t->clearances, t->scratch.data,
	    t->scratch.len)) != NULL) {
		*out = e;
		return 0;
	}
	if (t->nc >= UINT32_MAX - 1 || (e = calloc(1, sizeof(*e))) == NULL)
		return L_ERR_NOMEM;
	if ((rc = clearance_resolve(t->set, c, &e->res, err, errlen)) != 0) {
		free(e);
		return rc;
	}
	e->id = (uint32_t)t->nc;
	if ((slot = lv_push(&t->cv, &t->nc, sizeof(*slot))) == NULL)
		goto nomem;
	*slot = e;
	if (hmap_put(&t->clearances, t->scratch.data, t->scratch.len, e,
	    NULL) != 0) {
		t->nc--;
		goto nomem;
	}
	*out = e;
	return 0;
nomem:
	clearance_res_cleanup(&e->res);
	free(e);
	return L_ERR_NOMEM;
}

int
acdf_cache_init(struct acdf_cache *c, size_t slots)
{
	size_t n = 64;

	memset(c, 0, sizeof(*c));
	while (n < slots && n < ((size_t)1 << 30))
		n <<= 1;
	c->keys = calloc(n, sizeof(*c->keys));
	c->deny = calloc(n, 1);
	if (c->keys == NULL || c->deny == NULL) {
		acdf_cache_cleanup(c);
		return L_ERR_NOMEM;
	}
	c->mask = n - 1;
	return 0;
}

void
acdf_cache_cleanup(struct acdf_cache *c)
{
	free(c->keys);
	free(c->deny);
	c->keys = NULL;
	c->deny = NULL;
}

static inline size_t
cache_slot(uint64_t key, size_t mask)
{
	key *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(key >> 32) & mask;
}

int
acdf_decide_cached(struct acdf_cache *c, const struct label_entry *l,
    const struct clearance_entry *cl, struct acdf_reason *why)
{
	/* +1 so that no valid key is 0, the empty mark. */
	uint64_t key = ((uint64_t)(l->id + 1) << 32) | (uint64_t)(cl->id + 1);
	size_t s = cache_slot(key, c->mask);
	int rc;

	if (c->keys[s] == key) {
		c->hits++;
		if (!c->deny[s])
			return 0;
		if (why == NULL)
			return L_ERR_DENIED;
	} else
		c->misses++;
	if (l->status != 0) {
		if (why != NULL) {
			*why = l->why;
			why->rule = ACDF_R_INVALID;
		}
		rc = L_ERR_DENIED;
	} else
		rc = acdf_decide(&l->res, &cl->res, why);
	c->keys[s] = key;
	c->deny[s] = rc != 0;
	return rc;
}
