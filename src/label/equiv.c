/*
 * Equivalence mapping and the dominant label.  Both work on resolved
 * forms (ordinals), build the result as ordinals in the target policy,
 * write it out as a label in ordinal order and validate it, so a mapped
 * or combined label is never handed on unless its policy accepts it.
 */
#include "label/equiv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/timeutil.h"
#include "label/label_int.h"

static int
fail(struct acdf_reason *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct acdf_reason *why, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		why->rule = ACDF_R_POLICY;
		va_start(ap, fmt);
		vsnprintf(why->text, sizeof(why->text), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void
bit_set(uint64_t *b, size_t i)
{
	b[i / 64] |= 1ULL << (i % 64);
}

static bool
bit_get(const uint64_t *b, size_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

/* Builds a label in p from a class index and a bit set of ordinals. */
static int
build_label(const struct spif *p, int kind, unsigned cls, const uint64_t *bits,
    const struct label *meta, struct label **out)
{
	struct label *l = label_new(kind);
	char uri[160];
	int rc = L_ERR_NOMEM;

	*out = NULL;
	if (l == NULL)
		return L_ERR_NOMEM;
	snprintf(uri, sizeof(uri), "urn:oid:%s", p->id);
	if ((l->policy = l_strdup(p->name)) == NULL ||
	    (l->policy_uri = l_strdup(uri)) == NULL ||
	    (l->classification = l_strdup(p->classes[cls].name)) == NULL)
		goto fail;
	for (size_t i = 0; i < p->ncats; i++) {
		const struct spif_category *c = &p->cats[i];

		if (!bit_get(bits, i))
			continue;
		snprintf(uri, sizeof(uri), "urn:oid:%s", p->tagsets[c->tagset].id);
		if ((rc = label_add_value(l, p->tagsets[c->tagset].name, uri,
		    c->type, c->name)) != 0)
			goto fail;
	}
	if (meta != NULL) {
		if ((meta->creation != NULL &&
		    (l->creation = l_strdup(meta->creation)) == NULL) ||
		    (meta->review != NULL &&
		    (l->review = l_strdup(meta->review)) == NULL) ||
		    (meta->originator != NULL &&
		    (l->originator = l_strdup(meta->originator)) == NULL) ||
		    (meta->originator_type != NULL &&
		    (l->originator_type = l_strdup(meta->originator_type)) == NULL))
			goto fail;
		l->has_succession = meta->has_succession;
		/* The successor stays in its own policy, as in the label. */
		if (meta->successor != NULL &&
		    ((l->succession_time = l_strdup(meta->succession_time)) ==
		    NULL || (l->successor = label_copy(meta->successor)) ==
		    NULL))
			goto fail;
	}
	*out = l;
	return 0;
fail:
	label_free(l);
	return L_ERR_NOMEM;
}

/* Adds categories required by an equivalence (named in `to`). */
static int
add_required(const struct spif *to, const struct spif_required *req,
    size_t nreq, uint64_t *bits, struct acdf_reason *why)
{
	for (size_t i = 0; i < nreq; i++) {
		for (size_t j = 0; j < req[i].ngroups; j++) {
			const struct spif_catgroup *g = &req[i].groups[j];
			int ts = spif_tagset_find(to, g->tagset), k;

			if (g->lacv == NULL)
				continue;	/* "all" names no single value */
			if (ts < 0 || (k = spif_cat_find_lacv(to, (unsigned)ts,
			    g->type, g->lacv)) < 0)
				return fail(why, L_ERR_INVAL, "equivalence "
				    "requires %s lacv %s, not in policy %s",
				    g->tagset, g->lacv, to->name);
			bit_set(bits, (size_t)k);
			if (req[i].op != SPIF_OP_ALL)
				break;
		}
	}
	return 0;
}

/* Target class index for class `ci` of `from`, or -1. */
static int
map_class(const struct spif *from, unsigned ci, const struct spif *to,
    const struct spif_equiv_class **used)
{
	const struct spif_class *c = &from->classes[ci];

	*used = NULL;
	for (size_t i = 0; i < c->neq; i++) {
		if ((c->eq[i].applied & SPIF_APPLIED_ENCRYPT) &&
		    strcmp(c->eq[i].policy_id, to->id) == 0) {
			*used = &c->eq[i];
			return spif_class_find_lacv(to, c->eq[i].lacv);
		}
	}
	for (size_t k = 0; k < to->nclasses; k++) {
		const struct spif_class *t = &to->classes[k];

		for (size_t i = 0; i < t->neq; i++) {
			if ((t->eq[i].applied & SPIF_APPLIED_DECRYPT) &&
			    strcmp(t->eq[i].policy_id, from->id) == 0 &&
			    strcmp(t->eq[i].lacv, c->lacv) == 0) {
				*used = &t->eq[i];
				return (int)k;
			}
		}
	}
	return -1;
}

/*
 * Maps one value; sets bits in `bits`.  Returns the number of target
 * values set, 0 when there is no equivalent, -1 when it is discarded,
 * or L_ERR_INVAL (a SPIF naming a value its partner lacks).
 */
static int
map_value(const struct spif *from, uint32_t v, const struct spif *to,
    uint64_t *bits, struct acdf_reason *why)
{
	const struct spif_category *c = &from->cats[v];
	const char *tsid = from->tagsets[c->tagset].id;
	int n = 0, ts, k;

	for (size_t i = 0; i < c->neq; i++) {
		const struct spif_equiv_cat *e = &c->eq[i];

		if (!(e->applied & SPIF_APPLIED_ENCRYPT) ||
		    strcmp(e->policy_id, to->id) != 0)
			continue;
		if (e->discard)
			return -1;
		if ((ts = spif_tagset_find_id(to, e->tagset_id)) < 0 ||
		    (k = spif_cat_find_lacv(to, (unsigned)ts, e->type,
		    e->lacv)) < 0)
			return fail(why, L_ERR_INVAL, "equivalent of '%s' "
			    "(tag set %s lacv %s) is not in policy %s",
			    c->name, e->tagset_id, e->lacv, to->name);
		bit_set(bits, (size_t)k);
		n++;
	}
	if (n > 0)
		return n;
	for (size_t j = 0; j < to->ncats; j++) {
		const struct spif_category *t = &to->cats[j];

		for (size_t i = 0; i < t->neq; i++) {
			const struct spif_equiv_cat *e = &t->eq[i];

			if ((e->applied & SPIF_APPLIED_DECRYPT) && !e->discard &&
			    strcmp(e->policy_id, from->id) == 0 &&
			    strcmp(e->tagset_id, tsid) == 0 &&
			    e->type == c->type && strcmp(e->lacv, c->lacv) == 0) {
				bit_set(bits, j);
				n++;
			}
		}
	}
	return n;
}

int
equiv_map(const struct spif_set *set, const struct label *l,
    const struct spif *to, struct label **out, struct acdf_reason *why)
{
	const struct spif *from;
	const struct spif_equiv_class *ec;
	struct label_res r = { 0 };
	struct acdf_reason inner;
	uint64_t *bits = NULL, *perm_src = NULL, *perm_ok = NULL;
	int cls, rc, n;

	*out = NULL;
	if ((rc = label_validate(set, l, 0, 0, &r, why)) != 0)
		return rc;
	from = r.spif;
	if (from == to) {
		rc = fail(why, L_ERR_INVAL, "label is already in policy %s",
		    to->name);
		goto done;
	}
	if ((cls = map_class(from, r.cls, to, &ec)) < 0) {
		rc = fail(why, L_ERR_NOTFOUND, "classification %s of %s has no "
		    "equivalent in policy %s", from->classes[r.cls].name,
		    from->name, to->name);
		goto done;
	}
	bits = calloc(to->cat_words, sizeof(*bits));
	perm_src = calloc(from->ntagsets + 1, sizeof(*perm_src));
	perm_ok = calloc(from->ntagsets + 1, sizeof(*perm_ok));
	if (bits == NULL || perm_src == NULL || perm_ok == NULL) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < r.nvals; i++) {
		const struct spif_category *c = &from->cats[r.vals[i]];

		n = map_value(from, r.vals[i], to, bits, why);
		if (n == L_ERR_INVAL) {
			rc = n;
			goto done;
		}
		if (c->type == SPIF_PERMISSIVE) {
			perm_src[c->tagset] = 1;
			if (n > 0)
				perm_ok[c->tagset] = 1;
		}
		if (n == 0 && c->type == SPIF_RESTRICTIVE) {
			rc = fail(why, L_ERR_NOTFOUND, "restrictive value '%s' "
			    "of '%s' has no equivalent in policy %s", c->name,
			    from->tagsets[c->tagset].name, to->name);
			goto done;
		}
	}
	for (size_t t = 0; t < from->ntagsets; t++) {
		if (perm_src[t] && !perm_ok[t]) {
			rc = fail(why, L_ERR_NOTFOUND, "no permissive value of "
			    "'%s' has an equivalent in policy %s",
			    from->tagsets[t].name, to->name);
			goto done;
		}
	}
	if (ec != NULL && (rc = add_required(to, ec->req, ec->nreq, bits,
	    why)) != 0)
		goto done;
	for (size_t i = 0; i < from->nequivs; i++) {
		if (strcmp(from->equivs[i].id, to->id) == 0 &&
		    (rc = add_required(to, from->equivs[i].req,
		    from->equivs[i].nreq, bits, why)) != 0)
			goto done;
	}
	if ((rc = build_label(to, LABEL_ALTERNATIVE, (unsigned)cls, bits, l,
	    out)) != 0)
		goto done;
	if ((rc = label_validate(set, *out, 0, 0, NULL, &inner)) != 0) {
		label_free(*out);
		*out = NULL;
		if (rc == L_ERR_INVAL && why != NULL) {
			char pre[128];

			*why = inner;
			snprintf(pre, sizeof(pre), "mapped label is not valid "
			    "in %s: ", to->name);
			reason_prefix(why, ACDF_R_POLICY, pre);
		}
	}
done:
	free(bits);
	free(perm_src);
	free(perm_ok);
	label_res_cleanup(&r);
	return rc;
}

static int
alt_fail(struct acdf_reason *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
alt_fail(struct acdf_reason *why, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		why->rule = ACDF_R_V_ALTERNATIVE;
		va_start(ap, fmt);
		vsnprintf(why->text, sizeof(why->text), fmt, ap);
		va_end(ap);
	}
	return rc;
}

int
equiv_check_alternative(const struct spif_set *set, const struct label *orig,
    const struct label *alt, unsigned flags, struct acdf_reason *why)
{
	const struct spif *from, *to;
	struct label *mapped = NULL;
	struct label_res ar = { 0 }, mr = { 0 };
	struct acdf_reason inner;
	bool same;
	int rc;

	if ((from = spif_set_find(set, orig->policy)) == NULL)
		return alt_fail(why, L_ERR_INVAL, "alternative label: the "
		    "originator label's policy '%s' is not known, so the "
		    "alternative cannot be checked", orig->policy);
	if ((to = spif_set_find(set, alt->policy)) == NULL)
		return alt_fail(why, L_ERR_INVAL, "alternative label: policy "
		    "'%s' is not known, so it cannot be checked", alt->policy);
	if (to == from)
		return alt_fail(why, L_ERR_INVAL, "alternative label in the "
		    "originator label's policy %s", from->name);
	rc = label_validate(set, alt, flags, 0, &ar, &inner);
	if (rc == L_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return alt_fail(why, L_ERR_INVAL, "alternative label in %s is "
		    "not valid: %.180s", to->name, inner.text);
	rc = equiv_map(set, orig, to, &mapped, &inner);
	if (rc == L_ERR_NOMEM)
		goto done;
	if (rc != 0) {
		rc = alt_fail(why, L_ERR_INVAL, "alternative label in %s, but "
		    "the label has no equivalent there: %.160s", to->name,
		    inner.text);
		goto done;
	}
	if ((rc = label_validate(set, mapped, 0, 0, &mr, &inner)) != 0) {
		if (rc != L_ERR_NOMEM)
			rc = alt_fail(why, L_ERR_INVAL, "alternative label in "
			    "%s: the equivalent is not valid: %.160s", to->name,
			    inner.text);
		goto done;
	}
	if (ar.cls != mr.cls) {
		rc = alt_fail(why, L_ERR_INVAL, "alternative label is not the "
		    "equivalent of the label: classification %s in %s, the "
		    "equivalent is %s", to->classes[ar.cls].name, to->name,
		    to->classes[mr.cls].name);
		goto done;
	}
	same = ar.nvals == mr.nvals && (ar.nvals == 0 ||
	    memcmp(ar.vals, mr.vals, ar.nvals * sizeof(*ar.vals)) == 0);
	if (!same) {
		rc = alt_fail(why, L_ERR_INVAL, "alternative label is not the "
		    "equivalent of the label: its categories in %s differ "
		    "from the equivalent's", to->name);
		goto done;
	}
	rc = 0;
done:
	label_res_cleanup(&ar);
	label_res_cleanup(&mr);
	label_free(mapped);
	return rc;
}

int
label_group_verify(const struct spif_set *set, const struct label_group *g,
    unsigned flags, struct acdf_reason *why)
{
	int rc;

	/* An invalid originator label is reported as such, not as an
	 * alternative without an equivalent. */
	if (g->n > 1 && spif_set_find(set, g->v[0]->policy) != NULL &&
	    (rc = label_validate(set, g->v[0], flags, 0, NULL, why)) != 0)
		return rc;
	for (size_t i = 1; i < g->n; i++) {
		const struct spif *s = spif_set_find(set, g->v[i]->policy);

		for (size_t j = 1; j < i && s != NULL; j++) {
			if (spif_set_find(set, g->v[j]->policy) == s)
				return alt_fail(why, L_ERR_INVAL, "two "
				    "alternative labels in policy %s", s->name);
		}
		if ((rc = equiv_check_alternative(set, g->v[0], g->v[i], flags,
		    why)) != 0)
			return rc;
	}
	return 0;
}

int
equiv_add_alternative(const struct spif_set *set, struct label_group *g,
    const struct spif *to, struct acdf_reason *why)
{
	struct label *alt;
	int rc;

	if (g->n == 0)
		return fail(why, L_ERR_INVAL, "no label");
	/* An alternative already there counts only if it is the true one. */
	if (g->n > 1 && (rc = label_group_verify(set, g, 0, why)) != 0)
		return rc;
	if (label_group_find(g, to) != NULL)
		return 0;
	if ((rc = equiv_map(set, g->v[0], to, &alt, why)) != 0)
		return rc;
	if ((rc = label_group_add(g, alt)) != 0)
		label_free(alt);
	return rc;
}

int
label_dominant(const struct spif_set *set, const struct label *const *ls,
    size_t n, const struct spif *gov, struct label **out,
    struct acdf_reason *why)
{
	struct label_res r;
	struct label *mapped, *res = NULL;
	struct acdf_reason inner;
	uint64_t *uni = NULL, *inter = NULL, *seen = NULL, *present = NULL;
	unsigned top = 0;
	long toph = 0;
	char now[32];
	int rc = 0;

	*out = NULL;
	if (n == 0)
		return fail(why, L_ERR_INVAL, "no labels");
	uni = calloc(gov->cat_words, sizeof(*uni));
	inter = calloc(gov->cat_words, sizeof(*inter));
	seen = calloc(gov->ntagsets + 1, sizeof(*seen));
	present = calloc(gov->ntagsets + 1, sizeof(*present));
	if (uni == NULL || inter == NULL || seen == NULL || present == NULL) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const struct label *l = ls[i];

		mapped = NULL;
		if (spif_set_find(set, l->policy) != gov) {
			if ((rc = equiv_map(set, l, gov, &mapped, why)) != 0)
				goto done;
			l = mapped;
		}
		rc = label_validate(set, l, 0, 0, &r, why);
		label_free(mapped);
		if (rc != 0)
			goto done;
		if (i == 0 || gov->classes[r.cls].hierarchy > toph) {
			top = r.cls;
			toph = gov->classes[r.cls].hierarchy;
		}
		/* Permissive: intersect per tag set; a tag set absent from
		 * any label drops out (present[t] counts the labels). */
		memset(seen, 0, (gov->ntagsets + 1) * sizeof(*seen));
		for (size_t j = 0; j < r.nvals; j++) {
			const struct spif_category *c = &gov->cats[r.vals[j]];

			if (c->type != SPIF_PERMISSIVE) {
				bit_set(uni, r.vals[j]);
				continue;
			}
			if (!seen[c->tagset]) {
				seen[c->tagset] = 1;
				present[c->tagset]++;
			}
		}
		for (size_t t = 0; t < gov->ntagsets; t++) {
			if (!seen[t])
				continue;
			/* The first label holding the tag set seeds it. */
			for (size_t k = 0; k < gov->ncats; k++) {
				bool in = false;

				if (gov->cats[k].tagset != t ||
				    gov->cats[k].type != SPIF_PERMISSIVE)
					continue;
				for (size_t j = 0; j < r.nvals && !in; j++)
					in = r.vals[j] == k;
				if (present[t] == 1 && in)
					bit_set(inter, k);
				else if (!in)
					inter[k / 64] &= ~(1ULL << (k % 64));
			}
		}
		label_res_cleanup(&r);
	}
	for (size_t k = 0; k < gov->ncats; k++) {
		unsigned t = gov->cats[k].tagset;

		if (gov->cats[k].type == SPIF_PERMISSIVE && present[t] == n &&
		    bit_get(inter, k))
			bit_set(uni, k);
	}
	if ((rc = build_label(gov, LABEL_ORIGINATOR, top, uni, NULL,
	    &res)) != 0)
		goto done;
	time_format_xep82(time_real_us(), now);
	if ((res->creation = l_strdup(now)) == NULL) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		/* The latest review date of the inputs is kept. */
		if (ls[i]->review != NULL && (res->review == NULL ||
		    strcmp(ls[i]->review, res->review) > 0)) {
			free(res->review);
			if ((res->review = l_strdup(ls[i]->review)) == NULL) {
				rc = L_ERR_NOMEM;
				goto done;
			}
		}
	}
	if ((rc = label_validate(set, res, 0, 0, NULL, &inner)) != 0) {
		if (rc == L_ERR_INVAL && why != NULL) {
			*why = inner;
			reason_prefix(why, inner.rule, "dominant label is not "
			    "valid (a policy decision is needed): ");
		}
		goto done;
	}
	*out = res;
	res = NULL;
done:
	label_free(res);
	free(uni);
	free(inter);
	free(seen);
	free(present);
	return rc;
}
