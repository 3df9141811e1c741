/*
 * Display markings (see marking.h).  The marking is: the policy phrase
 * (or a replacePolicy phrase of the SPIF, the classification or a
 * category), the classification phrase unless a category suppresses it,
 * then the category phrases tag by tag in SPIF order, each tag with its
 * prefix, separator and suffix qualifiers; all inside the SPIF's own
 * prefix and suffix.
 */
#include "label/marking.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "label/label_int.h"
#include "label/spif.h"

static const struct spif_phrase *
pick_phrase(const struct spif_marking *m, const char *lang)
{
	const struct spif_phrase *best = NULL;
	int bs = 0;

	for (size_t i = 0; i < m->nphrases; i++) {
		int s = lang_score(m->phrases[i].lang, lang);

		if (s > bs) {
			bs = s;
			best = &m->phrases[i];
		}
	}
	return best;
}

static const char *
pick_qual(const struct spif_marking *m, int code, const char *lang)
{
	const char *best = NULL;
	int bs = 0;

	for (size_t i = 0; i < m->nquals; i++) {
		int s;

		if (m->quals[i].code != code)
			continue;
		s = lang_score(m->quals[i].lang, lang);
		if (s > bs) {
			bs = s;
			best = m->quals[i].text;
		}
	}
	return best;
}

/* What an item shows in its own place: "" for none. */
static const char *
item_text(const struct spif_phrase *ph, const char *name)
{
	if (ph == NULL)
		return name;
	if (ph->codes & (SPIF_MC_NONAME | SPIF_MC_NOMARKING))
		return "";
	if ((ph->codes & SPIF_MC_REPLACEPOLICY) || ph->phrase == NULL)
		return name;
	return ph->phrase;
}

/* A category's phrase: its own, else its tag's. */
static const struct spif_phrase *
cat_phrase(const struct spif *p, uint32_t v, const char *lang)
{
	const struct spif_phrase *ph = pick_phrase(&p->cats[v].mk, lang);

	return ph ? ph : pick_phrase(&p->tags[p->cats[v].tag].mk, lang);
}

static int
append_cats(const struct spif *p, const uint32_t *vals, size_t n,
    const char *lang, const char *sep, struct buf *out)
{
	const char *tagsep = "/", *suffix = "", *q;
	long cur = -1;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct spif_category *c = &p->cats[vals[i]];
		const char *t = item_text(cat_phrase(p, vals[i], lang), c->name);

		if (t[0] == '\0')
			continue;
		if ((long)c->tag != cur) {
			const struct spif_marking *tm = &p->tags[c->tag].mk;

			cur = (long)c->tag;
			if ((rc = buf_append_str(out, suffix)) != 0)
				break;
			if (out->len > 0 && (rc = buf_append_str(out, sep)) != 0)
				break;
			if ((q = pick_qual(tm, SPIF_QUAL_PREFIX, lang)) != NULL &&
			    (rc = buf_append_str(out, q)) != 0)
				break;
			q = pick_qual(tm, SPIF_QUAL_SEP, lang);
			tagsep = q ? q : "/";
			q = pick_qual(tm, SPIF_QUAL_SUFFIX, lang);
			suffix = q ? q : "";
		} else if ((rc = buf_append_str(out, tagsep)) != 0)
			break;
		rc = buf_append_str(out, t);
	}
	return rc != 0 ? rc : buf_append_str(out, suffix);
}

int
marking_label(const struct label_res *r, const char *lang, struct buf *out)
{
	const struct spif *p = r->spif;
	const struct spif_class *cls = &p->classes[r->cls];
	const struct spif_phrase *top = pick_phrase(&p->mk, lang);
	const struct spif_phrase *cp = pick_phrase(&cls->mk, lang), *ph;
	const char *policy = p->name, *sep, *q;
	bool suppress = false;
	struct buf m;
	int rc;

	buf_init(&m, 0);
	sep = pick_qual(&p->mk, SPIF_QUAL_SEP, lang);
	if (sep == NULL)
		sep = " ";
	if (top != NULL && (top->codes & SPIF_MC_REPLACEPOLICY))
		policy = top->phrase ? top->phrase : p->name;
	else if (cp != NULL && (cp->codes & SPIF_MC_REPLACEPOLICY))
		policy = cp->phrase ? cp->phrase : p->name;
	else {
		for (size_t i = 0; i < r->nvals; i++) {
			ph = cat_phrase(p, r->vals[i], lang);
			if (ph != NULL && (ph->codes & SPIF_MC_REPLACEPOLICY)) {
				policy = ph->phrase ? ph->phrase : p->name;
				break;
			}
		}
	}
	for (size_t i = 0; i < r->nvals; i++) {
		ph = pick_phrase(&p->cats[r->vals[i]].mk, lang);
		if (ph != NULL && (ph->codes & SPIF_MC_SUPPRESSCLASS))
			suppress = true;
	}
	if ((rc = buf_append_str(&m, policy)) != 0)
		goto done;
	if (!suppress) {
		const char *ct = item_text(cp, cls->name);

		if (m.len > 0 && ct[0] != '\0' &&
		    (rc = buf_append_str(&m, sep)) != 0)
			goto done;
		if ((rc = buf_append_str(&m, ct)) != 0)
			goto done;
	}
	if ((rc = append_cats(p, r->vals, r->nvals, lang, sep, &m)) != 0)
		goto done;
	if ((q = pick_qual(&p->mk, SPIF_QUAL_PREFIX, lang)) != NULL &&
	    (rc = buf_append_str(out, q)) != 0)
		goto done;
	if ((rc = buf_append(out, m.data ? m.data : "", m.len)) != 0)
		goto done;
	if ((q = pick_qual(&p->mk, SPIF_QUAL_SUFFIX, lang)) != NULL)
		rc = buf_append_str(out, q);
done:
	buf_cleanup(&m);
	return rc;
}

int
marking_clearance(const struct clearance_res *r, const char *lang,
    struct buf *out)
{
	const struct spif *p = r->spif;
	const char *sep, *q;
	uint32_t *vals = NULL;
	unsigned *order = NULL;
	size_t n = 0, nc = 0;
	struct buf m;
	int rc = L_ERR_NOMEM;

	buf_init(&m, 0);
	sep = pick_qual(&p->mk, SPIF_QUAL_SEP, lang);
	if (sep == NULL)
		sep = " ";
	if ((order = malloc((p->nclasses + 1) * sizeof(*order))) == NULL ||
	    (vals = malloc((p->ncats + 1) * sizeof(*vals))) == NULL)
		goto done;
	/* Classes by hierarchy (insertion sort: a handful of entries). */
	for (size_t i = 0; i < p->nclasses; i++) {
		size_t j;

		if (!((r->cls_bits[i / 64] >> (i % 64)) & 1))
			continue;
		for (j = nc; j > 0 &&
		    p->classes[order[j - 1]].hierarchy > p->classes[i].hierarchy; j--)
			order[j] = order[j - 1];
		order[j] = (unsigned)i;
		nc++;
	}
	if ((rc = buf_append(&m, "{", 1)) != 0)
		goto done;
	for (size_t i = 0; i < nc && rc == 0; i++) {
		if (i > 0)
			rc = buf_append(&m, "|", 1);
		if (rc == 0)
			rc = buf_append_str(&m, p->classes[order[i]].name);
	}
	if (rc != 0 || (rc = buf_append(&m, "}", 1)) != 0)
		goto done;
	for (size_t i = 0; i < p->ncats; i++) {
		if ((r->cat_bits[i / 64] >> (i % 64)) & 1)
			vals[n++] = (uint32_t)i;
	}
	if ((rc = append_cats(p, vals, n, lang, sep, &m)) != 0)
		goto done;
	if ((q = pick_qual(&p->mk, SPIF_QUAL_PREFIX, lang)) != NULL &&
	    (rc = buf_append_str(out, q)) != 0)
		goto done;
	if ((rc = buf_append(out, m.data, m.len)) != 0)
		goto done;
	if ((q = pick_qual(&p->mk, SPIF_QUAL_SUFFIX, lang)) != NULL)
		rc = buf_append_str(out, q);
done:
	free(order);
	free(vals);
	buf_cleanup(&m);
	return rc;
}

/* Approximate luminance of a CSS colour name or #RRGGBB (0-255). */
static int
luminance(const char *c)
{
	static const struct {
		const char *name;
		int lum;
	} names[] = {
		{ "black", 0 }, { "navy", 15 }, { "blue", 29 },
		{ "maroon", 38 }, { "purple", 53 }, { "green", 75 },
		{ "red", 76 }, { "teal", 90 }, { "olive", 113 },
		{ "fuchsia", 105 }, { "fuschia", 105 }, { "gray", 128 },
		{ "grey", 128 }, { "orange", 173 }, { "lime", 150 },
		{ "aqua", 179 }, { "silver", 192 }, { "yellow", 226 },
		{ "white", 255 },
	};
	unsigned rgb;

	if (c[0] == '#' && strlen(c) == 7) {
		rgb = (unsigned)strtoul(c + 1, NULL, 16);
		return (int)((299 * ((rgb >> 16) & 255) + 587 * ((rgb >> 8) & 255) +
		    114 * (rgb & 255)) / 1000);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(names[i].name, c) == 0)
			return names[i].lum;
	}
	return 255;
}

void
marking_colors(const struct label_res *r, const char **fg, const char **bg)
{
	const char *c = r->spif->classes[r->cls].color;

	*bg = c ? c : "white";
	*fg = luminance(*bg) < 110 ? "white" : "black";
}
