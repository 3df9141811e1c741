/*
 * The reference monitor: XEP-0258 ingress and delivery checks with
 * STANAG 4774 labels, effective clearances, catalogs and the audit
 * trail.  Labels are parsed once per stanza (the per-stanza cache) and
 * interned; a decision is a look-up in the (label id, clearance id)
 * cache.  Every refusal is audited; no body or label payload is ever
 * logged, only the label's digest and marking.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/log.h"
#include "label/acdf.h"
#include "label/catalog.h"
#include "label/equiv.h"
#include "label/label.h"
#include "label/marking.h"
#include "label/spif.h"
#include "xml/xml.h"

#define NS_SECLABEL	"urn:xmpp:sec-label:0"
#define NS_CATALOG	"urn:xmpp:sec-label:catalog:2"
#define NS_CLIENT	"jabber:client"
#define NS_CARBONS	"urn:xmpp:carbons:2"
#define NS_FORWARD	"urn:xmpp:forward:0"

/*
 * What one distinct securitylabel resolved to.  Labels repeat: most
 * messages of an exercise carry one of a handful.  So the parsed group,
 * its interned entries per policy, digest and marking are kept in a
 * bounded cache keyed by the label's content (the securitylabel without
 * the client's displaymarking, compared exactly, not only by hash), and
 * a message whose label was seen before costs a hash and a compare.
 */
struct lcache_ent {
	struct lcache_ent *next;	/* same hash */
	uint64_t h;
	struct xml_node *key;		/* the securitylabel, no marking */
	int parse_rc;
	char why[256];
	bool empty;			/* <label/>: asks for the default */
	int alt_rc;			/* label_group_verify */
	char alt_why[256];
	struct xml_node *out;		/* what leaves the server (built once) */
	struct label_group g;
	const struct label_entry *by_spif[POLICY_MAX_SPIF];
	bool tried[POLICY_MAX_SPIF];
	char digest[65];
	bool marked;
	const struct label_entry *mark_entry;
	const char *fg, *bg;
	char marking[AUDIT_MARKING_MAX];
};

#define LCACHE_MAX	1024

struct policy {
	struct spif_set set;
	const struct spif *gov;
	struct label_table table;
	struct acdf_cache cache;
	struct xml_node *default_sl;	/* securitylabel with the default */
	bool require_labels;
	bool audit_grants;
	struct clearance *default_clr;
	struct clearance *caps[POLICY_MAX_CAPS];
	int ncaps;
	struct catalog *catalog;
	struct audit *audit;
	struct hmap lcache;		/* hash -> struct lcache_ent chain */
	size_t nlcache;
	const struct xml_node *cur_sl;	/* this stanza's label element */
	struct lcache_ent *cur;		/* and what it resolved to */
	size_t label_max_bytes;
	char why_nc[256];		/* a refusal sc_load does not cache */
	struct buf scratch;
};

static void
lcache_ent_free(struct lcache_ent *e)
{
	while (e != NULL) {
		struct lcache_ent *next = e->next;

		label_group_cleanup(&e->g);
		xml_node_free(e->key);
		xml_node_free(e->out);
		free(e);
		e = next;
	}
}

static void
lcache_clear(struct policy *p)
{
	size_t it = 0;
	void *v;

	while (hmap_next(&p->lcache, &it, NULL, NULL, &v))
		lcache_ent_free(v);
	hmap_cleanup(&p->lcache);
	hmap_init(&p->lcache);
	p->nlcache = 0;
	p->cur = NULL;
	p->cur_sl = NULL;
}

void
policy_stanza_done(struct policy *p)
{
	p->cur_sl = NULL;
	p->cur = NULL;
}

bool
policy_labels_on(const struct policy *p)
{
	return p != NULL && p->set.n > 0;
}

static int
spif_index(const struct policy *p, const struct spif *s)
{
	for (size_t i = 0; i < p->set.n; i++)
		if (p->set.v[i] == s)
			return (int)i;
	return -1;
}

/*
 * Is the serialized size of n more than max bytes?  Counts names,
 * namespace declarations, attributes and text as the serializer writes
 * them (escapes aside) and stops as soon as the budget is spent, so a
 * huge label costs no more than a small one.
 */
static bool
xml_size_over(const struct xml_node *n, const char *parent_ns, size_t *left)
{
	size_t need;

	if (n->type == XML_NODE_TEXT) {
		if (n->text_len > *left)
			return true;
		*left -= n->text_len;
		return false;
	}
	need = 2 * strlen(n->name) + 5;
	if (parent_ns == NULL || strcmp(parent_ns, n->ns) != 0)
		need += strlen(n->ns) + 10;
	for (size_t i = 0; i < n->nattrs && need <= *left; i++)
		need += strlen(n->attrs[i].name) + strlen(n->attrs[i].value) +
		    4;
	if (need > *left)
		return true;
	*left -= need;
	for (const struct xml_node *c = n->first; c != NULL; c = c->next)
		if (xml_size_over(c, n->ns, left))
			return true;
	return false;
}

static bool
xml_larger_than(const struct xml_node *n, size_t max)
{
	size_t left = max;

	return xml_size_over(n, NULL, &left);
}

/* ---- loading ---- */

static int
load_root(const char *file, struct xml_node **root, char *err,
    size_t errlen)
{
	char e[256];

	if (xml_parse_file(file, NULL, root, e, sizeof e) != L_OK) {
		snprintf(err, errlen, "%s: %s", file, e);
		return L_ERR_INVAL;
	}
	return L_OK;
}

static int
load_clearance_file(const char *file, struct clearance **out, char *err,
    size_t errlen)
{
	struct xml_node *root = NULL;
	char e[256];
	int rc;

	if ((rc = load_root(file, &root, err, errlen)) != L_OK)
		return rc;
	rc = clearance_parse(root, out, e, sizeof e);
	xml_node_free(root);
	if (rc != L_OK)
		snprintf(err, errlen, "%s: %s", file, e);
	return rc;
}

/* Builds <securitylabel><label>L</label></securitylabel> around the
 * label root element of a file; its marking is filled at ingress. */
static int
load_default_label(struct policy *p, const char *file, char *err,
    size_t errlen)
{
	struct xml_node *root = NULL, *sl, *lab;
	struct label *l = NULL;
	const struct label_entry *e;
	char why[256];
	int rc;

	if ((rc = load_root(file, &root, err, errlen)) != L_OK)
		return rc;
	if (label_parse(root, &l, why, sizeof why) != L_OK) {
		snprintf(err, errlen, "%s: %s", file, why);
		xml_node_free(root);
		return L_ERR_INVAL;
	}
	rc = label_intern(&p->table, l, &e);
	label_free(l);
	if (rc != L_OK || e->status != L_OK) {
		snprintf(err, errlen, "%s: the default label is not valid: %s",
		    file, rc == L_OK ? e->why.text : l_strerror(rc));
		xml_node_free(root);
		return L_ERR_INVAL;
	}
	sl = xml_elem_new(NS_SECLABEL, "securitylabel");
	lab = sl ? xml_add_child(sl, NS_SECLABEL, "label") : NULL;
	if (lab == NULL) {
		xml_node_free(sl);
		xml_node_free(root);
		return L_ERR_NOMEM;
	}
	xml_append(lab, root);
	if (xml_larger_than(sl, p->label_max_bytes)) {
		snprintf(err, errlen, "%s: the default label is larger than "
		    "label_max_bytes (%zu)", file, p->label_max_bytes);
		xml_node_free(sl);
		return L_ERR_INVAL;
	}
	p->default_sl = sl;
	return L_OK;
}

struct policy *
policy_new(const struct policy_config *cfg, char *err, size_t errlen)
{
	struct policy *p = calloc(1, sizeof *p);
	char e[256];

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	spif_set_init(&p->set);
	hmap_init(&p->lcache);
	buf_init(&p->scratch, 0);
	if (cfg->nspif == 0 || cfg->nspif > POLICY_MAX_SPIF) {
		snprintf(err, errlen, "labels need 1 to %d SPIF files",
		    POLICY_MAX_SPIF);
		goto fail;
	}
	for (size_t i = 0; i < cfg->nspif; i++) {
		struct spif *s = NULL;

		if (spif_load_file(cfg->spif_files[i], &s, e, sizeof e) !=
		    L_OK) {
			snprintf(err, errlen, "SPIF %s: %s", cfg->spif_files[i],
			    e);
			goto fail;
		}
		if (spif_set_add(&p->set, s) != L_OK) {
			snprintf(err, errlen, "SPIF %s: policy %s loaded twice",
			    cfg->spif_files[i], s->name);
			spif_free(s);
			goto fail;
		}
	}
	p->gov = p->set.v[0];
	label_table_init(&p->table, &p->set, LABEL_VALID_4774);
	if (acdf_cache_init(&p->cache, 1 << 14) != L_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	p->require_labels = cfg->require_labels;
	p->label_max_bytes = cfg->label_max_bytes ? cfg->label_max_bytes :
	    POLICY_LABEL_MAX_BYTES;
	if (cfg->default_label_file != NULL && !cfg->require_labels &&
	    load_default_label(p, cfg->default_label_file, err, errlen) !=
	    L_OK)
		goto fail;
	if (cfg->default_clearance_file != NULL) {
		const struct clearance_entry *ce;

		if (load_clearance_file(cfg->default_clearance_file,
		    &p->default_clr, err, errlen) != L_OK)
			goto fail;
		if (clearance_intern(&p->table, p->default_clr, &ce, e,
		    sizeof e) != L_OK) {
			snprintf(err, errlen, "%s: %s",
			    cfg->default_clearance_file, e);
			goto fail;
		}
	}
	if (cfg->catalog_file != NULL) {
		struct xml_node *root = NULL;

		if (load_root(cfg->catalog_file, &root, err, errlen) != L_OK)
			goto fail;
		if (catalog_load_xml(root, &p->catalog, e, sizeof e) !=
		    L_OK) {
			snprintf(err, errlen, "%s: %s", cfg->catalog_file, e);
			xml_node_free(root);
			goto fail;
		}
		xml_node_free(root);
	}
	p->audit_grants = cfg->audit.grants != AUDIT_GRANTS_OFF;
	if (cfg->audit_dir != NULL) {
		p->audit = audit_open(cfg->audit_dir, &cfg->audit, e,
		    sizeof e);
		if (p->audit == NULL) {
			snprintf(err, errlen, "audit log: %s", e);
			goto fail;
		}
	}
	return p;
fail:
	policy_free(p);
	return NULL;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	lcache_clear(p);
	if (p->audit != NULL)
		audit_close(p->audit);
	catalog_free(p->catalog);
	for (int i = 0; i < p->ncaps; i++)
		clearance_free(p->caps[i]);
	clearance_free(p->default_clr);
	xml_node_free(p->default_sl);
	acdf_cache_cleanup(&p->cache);
	if (p->set.n > 0)
		label_table_cleanup(&p->table);
	spif_set_cleanup(&p->set);
	buf_cleanup(&p->scratch);
	free(p);
}

void
policy_flush(struct policy *p)
{
	if (p != NULL && p->audit != NULL)
		audit_flush(p->audit);
}

int
policy_add_cap(struct policy *p, const char *file, char *err, size_t errlen)
{
	struct clearance *c = NULL;
	const struct clearance_entry *ce;
	char e[256];

	if (p->ncaps >= POLICY_MAX_CAPS) {
		snprintf(err, errlen, "too many clearance caps");
		return -1;
	}
	if (load_clearance_file(file, &c, err, errlen) != L_OK)
		return -1;
	if (clearance_intern(&p->table, c, &ce, e, sizeof e) != L_OK) {
		snprintf(err, errlen, "%s: %s", file, e);
		clearance_free(c);
		return -1;
	}
	p->caps[p->ncaps] = c;
	return p->ncaps++;
}

/* ---- clearances ---- */

static bool
name_eq(bool ci, const char *a, const char *b)
{
	return ci ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* user ∩ cap: the classifications and category values in both. */
static struct clearance *
clearance_intersect(const struct clearance *u, const struct clearance *cap)
{
	struct clearance *r;
	bool ci = spif_name_is_ci(u->policy);

	if (!name_eq(true, u->policy, cap->policy))
		return NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL || (r->policy = l_strdup(u->policy)) == NULL)
		goto fail;
	r->classes = calloc(u->nclasses + 1, sizeof *r->classes);
	if (r->classes == NULL)
		goto fail;
	for (size_t i = 0; i < u->nclasses; i++)
		for (size_t k = 0; k < cap->nclasses; k++)
			if (name_eq(ci, u->classes[i], cap->classes[k])) {
				r->classes[r->nclasses] =
				    l_strdup(u->classes[i]);
				if (r->classes[r->nclasses++] == NULL)
					goto fail;
				break;
			}
	for (size_t i = 0; i < u->ncats; i++) {
		const struct label_category *uc = &u->cats[i];

		for (size_t k = 0; k < cap->ncats; k++) {
			const struct label_category *cc = &cap->cats[k];

			if (!name_eq(ci, uc->tag_name, cc->tag_name) ||
			    uc->type != cc->type)
				continue;
			for (size_t a = 0; a < uc->nvalues; a++)
				for (size_t b = 0; b < cc->nvalues; b++)
					if (name_eq(ci, uc->values[a],
					    cc->values[b]) &&
					    clearance_add_value(r,
					    uc->tag_name, uc->type,
					    uc->values[a]) != L_OK)
						goto fail;
		}
	}
	return r;
fail:
	clearance_free(r);
	return NULL;
}

int
policy_clearance(struct policy *p, const char *xml, int cap,
    const struct clearance_entry **out, char *err, size_t errlen)
{
	struct clearance *c = NULL, *eff;
	struct xml_node *root = NULL;
	char e[256];
	int rc;

	*out = NULL;
	if (xml != NULL) {
		if (xml_parse_doc(xml, strlen(xml), NULL, &root, e,
		    sizeof e) != L_OK) {
			snprintf(err, errlen, "stored clearance: %s", e);
			return L_ERR_INVAL;
		}
		rc = clearance_parse(root, &c, e, sizeof e);
		xml_node_free(root);
		if (rc != L_OK) {
			snprintf(err, errlen, "stored clearance: %s", e);
			return L_ERR_INVAL;
		}
	} else if (p->default_clr == NULL) {
		return L_OK;	/* the nil clearance */
	}
	eff = c != NULL ? c : p->default_clr;
	if (cap >= 0 && cap < p->ncaps) {
		struct clearance *x = clearance_intersect(eff, p->caps[cap]);

		clearance_free(c);
		c = NULL;
		if (x == NULL) {
			/* Another policy than the listener's cap: nothing
			 * can be allowed through this listener. */
			return L_OK;
		}
		c = x;
		eff = x;
	}
	rc = clearance_intern(&p->table, eff, out, e, sizeof e);
	clearance_free(c);
	if (rc != L_OK) {
		*out = NULL;
		snprintf(err, errlen, "clearance: %s", e);
	}
	return rc;
}

/* ---- the stanza's label ---- */

static struct xml_node *
find_seclabel(const struct xml_node *st, unsigned *count)
{
	struct xml_node *found = NULL;

	*count = 0;
	XML_FOREACH_CHILD(st, c)
		if (xml_is(c, NS_SECLABEL, "securitylabel")) {
			if (found == NULL)
				found = c;
			(*count)++;
		}
	return found;
}

/* The message whose label decides: the inner one of a carbon copy or a
 * forwarded message (XEP-0280, XEP-0297), else st itself. */
static const struct xml_node *
deciding_stanza(const struct xml_node *st, bool *wrapped)
{
	const struct xml_node *cur = st;

	*wrapped = false;
	for (int depth = 0; depth < 4; depth++) {
		struct xml_node *w = xml_child(cur, NS_CARBONS, "received");
		struct xml_node *f, *m;

		if (w == NULL)
			w = xml_child(cur, NS_CARBONS, "sent");
		f = w ? xml_child(w, NS_FORWARD, "forwarded") :
		    xml_child(cur, NS_FORWARD, "forwarded");
		if (f == NULL)
			break;
		m = xml_child(f, NS_CLIENT, "message");
		if (m == NULL)
			break;
		cur = m;
		*wrapped = true;
	}
	return cur;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
is_marking(const struct xml_node *c)
{
	return c->type == XML_NODE_ELEM &&
	    xml_is(c, NS_SECLABEL, "displaymarking");
}

/* The content hash of a securitylabel, its displaymarking left out. */
static uint64_t
seclabel_hash(const struct xml_node *sl)
{
	uint64_t h = 1469598103934665603ULL;

	for (const struct xml_node *c = sl->first; c != NULL; c = c->next)
		if (!is_marking(c))
			h = xml_hash(c, h);
	return h;
}

/* Same content as a cache key (which has no displaymarking)? */
static bool
seclabel_equal(const struct xml_node *key, const struct xml_node *sl)
{
	const struct xml_node *x = key->first, *y = sl->first;

	for (;;) {
		while (y != NULL && is_marking(y))
			y = y->next;
		if (x == NULL || y == NULL)
			return x == NULL && y == NULL;
		if (!xml_equal(x, y))
			return false;
		x = x->next;
		y = y->next;
	}
}

/* Resolves sl through the label cache; p->cur is then its entry. */
static int
sc_load(struct policy *p, const struct xml_node *sl)
{
	struct lcache_ent *e, *head;
	unsigned char md[32];
	unsigned int mdlen = 0;
	uint64_t h;

	if (p->cur_sl == sl && p->cur != NULL)
		return p->cur->parse_rc;
	p->cur = NULL;
	p->cur_sl = NULL;
	snprintf(p->why_nc, sizeof p->why_nc, "out of memory");
	/* Before anything is parsed, hashed or copied: a label of hundreds
	 * of kilobytes is no label (a real one has a few hundred bytes). */
	if (xml_larger_than(sl, p->label_max_bytes)) {
		snprintf(p->why_nc, sizeof p->why_nc, "securitylabel larger "
		    "than label_max_bytes (%zu)", p->label_max_bytes);
		return L_ERR_INVAL;
	}
	/* The cache key leaves the marking out, so whatever of the marking
	 * the parse judges is judged here, before the key is used. */
	if (seclabel_check_markings(sl, p->why_nc, sizeof p->why_nc) !=
	    L_OK)
		return L_ERR_INVAL;
	h = seclabel_hash(sl);
	head = hmap_get(&p->lcache, &h, sizeof h);
	for (e = head; e != NULL; e = e->next)
		if (e->h == h && seclabel_equal(e->key, sl))
			goto found;
	if (p->nlcache >= LCACHE_MAX) {
		lcache_clear(p);
		head = NULL;
	}
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return L_ERR_NOMEM;
	e->h = h;
	label_group_init(&e->g);
	e->key = xml_node_copy(sl);
	if (e->key == NULL) {
		free(e);
		return L_ERR_NOMEM;
	}
	for (struct xml_node *c = e->key->first, *next; c != NULL; c = next) {
		next = c->next;
		if (is_marking(c)) {
			xml_detach(c);
			xml_node_free(c);
		}
	}
	e->parse_rc = seclabel_parse(sl, &e->g, &e->empty, e->why,
	    sizeof e->why);
	if (e->parse_rc == L_OK && !e->empty && e->g.n == 0) {
		snprintf(e->why, sizeof e->why, "no label in securitylabel");
		e->parse_rc = L_ERR_INVAL;
	}
	if (e->parse_rc == L_OK && !e->empty) {
		struct acdf_reason aw;

		e->alt_rc = label_group_verify(&p->set, &e->g,
		    LABEL_VALID_4774, &aw);
		if (e->alt_rc != L_OK)
			snprintf(e->alt_why, sizeof e->alt_why, "%s",
			    e->alt_rc == L_ERR_INVAL ? aw.text :
			    l_strerror(e->alt_rc));
	}
	if (e->parse_rc == L_OK && !e->empty) {
		buf_reset(&p->scratch);
		if (label_canonical(e->g.v[0], &p->scratch) == L_OK &&
		    EVP_Digest(p->scratch.data ? p->scratch.data : "",
		    p->scratch.len, md, &mdlen, EVP_sha256(), NULL) == 1)
			hex(md, mdlen, e->digest);
	}
	e->next = head;
	if (hmap_put(&p->lcache, &h, sizeof h, e, NULL) != L_OK) {
		e->next = NULL;
		lcache_ent_free(e);
		return L_ERR_NOMEM;
	}
	p->nlcache++;
found:
	p->cur = e;
	p->cur_sl = sl;
	return e->parse_rc;
}

/* The interned label in policy i: the originator or an alternative
 * already in that policy, else a mapping of the originator.  NULL when
 * no label in that policy exists or can be made.  Kept in the entry. */
static const struct label_entry *
sc_entry(struct policy *p, int i)
{
	struct lcache_ent *e = p->cur;
	const struct spif *s;
	const struct label *l;
	struct label *mapped = NULL;
	struct acdf_reason why;

	if (e == NULL || i < 0 || i >= (int)p->set.n || i >= POLICY_MAX_SPIF)
		return NULL;
	if (e->tried[i])
		return e->by_spif[i];
	e->tried[i] = true;
	if (e->parse_rc != L_OK || e->g.n == 0)
		return NULL;
	s = p->set.v[i];
	/* The client's alternative labels are never used: a label in
	 * another policy is always the server's own mapping of the
	 * originator label (which a verified alternative equals). */
	l = e->g.v[0];
	if (spif_set_find(&p->set, l->policy) != s) {
		if (e->alt_rc != L_OK || spif_set_find(&p->set, l->policy) ==
		    NULL || equiv_map(&p->set, l, s, &mapped, &why) != L_OK)
			return NULL;
		l = mapped;
	}
	if (label_intern(&p->table, l, &e->by_spif[i]) != L_OK)
		e->by_spif[i] = NULL;
	label_free(mapped);
	return e->by_spif[i];
}

/* The marking of the label in the governing policy (or its own), with
 * its colours; computed once per distinct label. */
static const struct label_entry *
sc_marking(struct policy *p, const char **fg, const char **bg)
{
	struct lcache_ent *c = p->cur;
	const struct label_entry *e;

	*fg = *bg = NULL;
	if (c == NULL)
		return NULL;
	if (c->parse_rc != L_OK || c->g.n == 0)
		return NULL;
	if (c->marked) {
		*fg = c->fg;
		*bg = c->bg;
		return c->mark_entry;
	}
	c->marked = true;
	e = sc_entry(p, 0);
	if (e == NULL || e->status != L_OK)
		e = sc_entry(p, spif_index(p, spif_set_find(&p->set,
		    c->g.v[0]->policy)));
	c->marking[0] = '\0';
	if (e == NULL || e->status != L_OK)
		return NULL;
	buf_reset(&p->scratch);
	if (marking_label(&e->res, NULL, &p->scratch) == L_OK &&
	    p->scratch.data != NULL)
		snprintf(c->marking, sizeof c->marking, "%s",
		    p->scratch.data);
	marking_colors(&e->res, &c->fg, &c->bg);
	c->mark_entry = e;
	*fg = c->fg;
	*bg = c->bg;
	return e;
}

/* ACDF for the cached stanza label and a clearance. */
static int
sc_decide(struct policy *p, const struct clearance_entry *clr,
    struct acdf_reason *why)
{
	const struct label_entry *e;

	if (clr == NULL) {
		why->rule = ACDF_R_NIL;
		snprintf(why->text, sizeof why->text, "nil clearance");
		return L_ERR_DENIED;
	}
	e = sc_entry(p, spif_index(p, clr->res.spif));
	if (e == NULL) {
		why->rule = ACDF_R_POLICY;
		snprintf(why->text, sizeof why->text, "no label in policy %s "
		    "and no equivalence to it", clr->res.spif->name);
		return L_ERR_DENIED;
	}
	return acdf_decide_cached(&p->cache, e, clr, why);
}

/* ---- audit ---- */

static void
audit_event(struct policy *p, enum audit_point point, bool deny,
    uint64_t sid, const char *from, const char *to,
    const struct xml_node *st, const char *rule)
{
	struct audit_event ev = {
		.session = sid,
		.from = from,
		.to = to,
		.stanza_id = st ? xml_attr(st, "id") : NULL,
		.label_digest = p->cur && p->cur->digest[0] ? p->cur->digest :
		    NULL,
		.marking = p->cur && p->cur->marking[0] ? p->cur->marking :
		    NULL,
		.rule = rule,
		.decision = deny ? AUDIT_DENY : AUDIT_GRANT,
		.point = point,
	};

	if (!deny && !p->audit_grants)
		return;
	if (p->audit != NULL && audit_record(p->audit, &ev) == L_ERR_IO)
		log_errorx("audit log write failed");
}

static void
refuse(struct policy_result *res, int verdict, const char *type,
    const char *cond, const char *text)
{
	res->verdict = verdict;
	res->err_type = type;
	res->err_cond = cond;
	res->err_text = text;
}

/*
 * The securitylabel that leaves the server for the cached label: the
 * SPIF's displaymarking, the originator label written from its parsed
 * form and, for each alternative the client sent (verified to be the
 * originator's equivalent), the server's own mapping into that policy.
 * Built once per distinct label; NULL on allocation failure.
 */
static const struct xml_node *
sc_output(struct policy *p)
{
	struct lcache_ent *c = p->cur;
	struct xml_node *sl = NULL, *dm, *lab, *le;
	struct acdf_reason why;
	const char *fg, *bg;

	if (c == NULL || c->parse_rc != L_OK || c->g.n == 0 ||
	    c->alt_rc != L_OK)
		return NULL;
	if (c->out != NULL)
		return c->out;
	/* A blank marking (the PUBLIC policy's) is an empty element. */
	if (sc_marking(p, &fg, &bg) == NULL)
		return NULL;
	if ((sl = xml_elem_new(NS_SECLABEL, "securitylabel")) == NULL ||
	    (dm = xml_add_child(sl, NS_SECLABEL, "displaymarking")) == NULL ||
	    (fg != NULL && xml_set_attr(dm, "fgcolor", fg) != L_OK) ||
	    (bg != NULL && xml_set_attr(dm, "bgcolor", bg) != L_OK) ||
	    (c->marking[0] != '\0' && xml_add_text(dm, c->marking,
	    strlen(c->marking)) != L_OK) ||
	    (lab = xml_add_child(sl, NS_SECLABEL, "label")) == NULL ||
	    label_write(c->g.v[0], &le) != L_OK)
		goto fail;
	xml_append(lab, le);
	for (size_t i = 1; i < c->g.n; i++) {
		const struct spif *s = spif_set_find(&p->set,
		    c->g.v[i]->policy);
		struct label *mapped = NULL;
		int rc;

		if (s == NULL || equiv_map(&p->set, c->g.v[0], s, &mapped,
		    &why) != L_OK)
			goto fail;	/* verified, so not reached */
		lab = xml_add_child(sl, NS_SECLABEL, "equivalentlabel");
		rc = lab != NULL ? label_write(mapped, &le) : L_ERR_NOMEM;
		label_free(mapped);
		if (rc != L_OK)
			goto fail;
		xml_append(lab, le);
	}
	c->out = sl;
	return sl;
fail:
	xml_node_free(sl);
	return NULL;
}

/* Replaces *slp (a child of st) by a copy of out; the cached entry stays
 * current for the new element. */
static int
replace_seclabel(struct policy *p, struct xml_node *st, struct xml_node **slp,
    const struct xml_node *out)
{
	struct xml_node *copy = xml_node_copy(out);

	if (copy == NULL)
		return L_ERR_NOMEM;
	xml_detach(*slp);
	xml_node_free(*slp);
	xml_append(st, copy);
	*slp = copy;
	p->cur_sl = copy;
	return L_OK;
}

/* Why the last sc_load failed. */
static const char *
sc_why(const struct policy *p)
{
	return p->cur != NULL ? p->cur->why : p->why_nc;
}

/* ---- enforcement points ---- */

void
policy_ingress(struct policy *p, const struct policy_subject *from,
    struct xml_node *st, struct policy_result *res)
{
	const char *type = xml_attr(st, "type");
	const char *to = xml_attr(st, "to");
	struct xml_node *sl;
	struct acdf_reason why;
	unsigned n;
	char rule[AUDIT_RULE_MAX];

	refuse(res, POLICY_ALLOW, NULL, NULL, NULL);
	sl = find_seclabel(st, &n);
	if (strcmp(st->name, "presence") == 0) {
		if (sl != NULL) {
			/* XEP-0258 §6: a violation; discarded. */
			refuse(res, POLICY_DROP, NULL, NULL, NULL);
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, "label in presence");
		}
		return;
	}
	if (type != NULL && strcmp(type, "error") == 0) {
		if (sl != NULL) {
			refuse(res, POLICY_DROP, NULL, NULL, NULL);
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, "label in an error stanza");
		}
		return;
	}
	if (n > 1) {
		/* XEP-0258: a stanza has one label; two are not a choice
		 * for the server to make. */
		refuse(res, POLICY_REFUSE, "modify", "bad-request",
		    "malformed security label");
		audit_event(p, AUDIT_POINT_INGRESS, true, from->sid, from->jid,
		    to, st, "malformed label: more than one securitylabel");
		return;
	}
	if (sl != NULL) {
		if (sc_load(p, sl) == L_OK && p->cur->empty) {
			/* An empty <label/> asks for the default label
			 * (XEP-0258); the client's element is dropped. */
			if (p->default_sl == NULL) {
				refuse(res, POLICY_REFUSE, "modify",
				    "policy-violation", "no default label here");
				audit_event(p, AUDIT_POINT_INGRESS, true,
				    from->sid, from->jid, to, st,
				    "empty label, no default");
				return;
			}
			p->cur = NULL;
			if (replace_seclabel(p, st, &sl, p->default_sl) !=
			    L_OK) {
				p->cur_sl = NULL;
				refuse(res, POLICY_REFUSE, "wait",
				    "internal-server-error", NULL);
				return;
			}
			p->cur_sl = NULL;
		}
	} else {
		if (strcmp(st->name, "message") != 0)
			return;	/* unlabelled iq: not checked */
		if (p->require_labels || p->default_sl == NULL) {
			refuse(res, POLICY_REFUSE, "modify", "policy-violation",
			    "a security label is required");
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, "unlabelled message");
			return;
		}
		sl = xml_node_copy(p->default_sl);
		if (sl == NULL) {
			refuse(res, POLICY_REFUSE, "wait",
			    "internal-server-error", NULL);
			return;
		}
		xml_append(st, sl);
	}
	if (sc_load(p, sl) != L_OK || p->cur->empty) {
		snprintf(rule, sizeof rule, "malformed label: %.200s",
		    p->cur != NULL && p->cur->empty ? "empty label" :
		    sc_why(p));
		refuse(res, POLICY_REFUSE, "modify", "bad-request",
		    "malformed security label");
		audit_event(p, AUDIT_POINT_INGRESS, true, from->sid, from->jid,
		    to, st, rule);
		return;
	}
	{
		const struct spif *os = spif_set_find(&p->set,
		    p->cur->g.v[0]->policy);
		const struct label_entry *oe;
		const struct xml_node *out;

		if (os == NULL) {
			refuse(res, POLICY_REFUSE, "cancel", "forbidden",
			    "unknown security policy");
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, "label of an unknown policy");
			return;
		}
		oe = sc_entry(p, spif_index(p, os));
		if (oe == NULL || oe->status != L_OK) {
			snprintf(rule, sizeof rule, "invalid label: %.200s",
			    oe ? oe->why.text : "not interned");
			refuse(res, POLICY_REFUSE, "modify", "bad-request",
			    "invalid security label");
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, rule);
			return;
		}
		if (p->cur->alt_rc != L_OK) {
			/* An alternative that is not the originator's
			 * equivalent: a write-down attempt or a broken
			 * labeller; the label as a whole is invalid. */
			snprintf(rule, sizeof rule, "forged alternative label: "
			    "%.190s", p->cur->alt_why);
			refuse(res, POLICY_REFUSE, "modify", "bad-request",
			    "invalid security label");
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, rule);
			return;
		}
		/* What is passed on is the server's, not the client's. */
		if ((out = sc_output(p)) == NULL ||
		    replace_seclabel(p, st, &sl, out) != L_OK) {
			refuse(res, POLICY_REFUSE, "wait",
			    "internal-server-error", NULL);
			audit_event(p, AUDIT_POINT_INGRESS, true, from->sid,
			    from->jid, to, st, "label could not be rebuilt");
			return;
		}
	}
	if (sc_decide(p, from->clr, &why) != L_OK) {
		snprintf(rule, sizeof rule, "sender not cleared: %.200s",
		    why.text);
		refuse(res, POLICY_REFUSE, "cancel", "forbidden",
		    "the label is above your clearance");
		audit_event(p, AUDIT_POINT_INGRESS, true, from->sid, from->jid,
		    to, st, rule);
		return;
	}
	audit_event(p, AUDIT_POINT_INGRESS, false, from->sid, from->jid, to,
	    st, "sender cleared");
}

void
policy_deliver(struct policy *p, const struct policy_subject *to,
    const char *from, const struct xml_node *st, enum policy_point point,
    struct policy_result *res)
{
	const char *type = xml_attr(st, "type");
	const struct xml_node *m, *sl;
	struct acdf_reason why;
	bool wrapped;
	unsigned n;
	char rule[AUDIT_RULE_MAX];

	refuse(res, POLICY_ALLOW, NULL, NULL, NULL);
	/* Error stanzas carry no label and are not checked (XEP-0258). */
	if (type != NULL && strcmp(type, "error") == 0)
		return;
	m = deciding_stanza(st, &wrapped);
	if (wrapped && point == PP_DELIVER)
		point = PP_CARBON;
	sl = find_seclabel(m, &n);
	if (sl == NULL) {
		const char *mt = xml_attr(m, "type");

		if (strcmp(m->name, "message") != 0 ||
		    (mt != NULL && strcmp(mt, "error") == 0))
			return;
		/* A message without a label (stored before labels were on,
		 * or made by the server): the default label decides. */
		if (p->default_sl == NULL) {
			refuse(res, POLICY_REFUSE, "cancel", "forbidden",
			    NULL);
			audit_event(p, (enum audit_point)point, true, to->sid,
			    from, to->jid, st, "unlabelled message, no "
			    "default label");
			return;
		}
		sl = p->default_sl;
	}
	if (sc_load(p, sl) != L_OK || p->cur->empty) {
		refuse(res, POLICY_REFUSE, "cancel", "forbidden", NULL);
		snprintf(rule, sizeof rule, "malformed label: %.200s",
		    p->cur != NULL && p->cur->empty ? "empty label" :
		    sc_why(p));
		audit_event(p, (enum audit_point)point, true, to->sid, from,
		    to->jid, st, rule);
		return;
	}
	if (p->cur->alt_rc != L_OK) {
		refuse(res, POLICY_REFUSE, "cancel", "forbidden", NULL);
		snprintf(rule, sizeof rule, "forged alternative label: %.190s",
		    p->cur->alt_why);
		audit_event(p, (enum audit_point)point, true, to->sid, from,
		    to->jid, st, rule);
		return;
	}
	{
		const char *fg, *bg;

		sc_marking(p, &fg, &bg);
	}
	if (sc_decide(p, to->clr, &why) != L_OK) {
		refuse(res, POLICY_REFUSE, "cancel", "forbidden", NULL);
		snprintf(rule, sizeof rule, "recipient not cleared: %.200s",
		    why.text);
		audit_event(p, (enum audit_point)point, true, to->sid, from,
		    to->jid, st, rule);
		return;
	}
	audit_event(p, (enum audit_point)point, false, to->sid, from, to->jid,
	    st, "recipient cleared");
}

struct xml_node *
policy_catalog(struct policy *p, const struct policy_subject *req,
    const struct clearance_entry *target, const struct xml_node *iq)
{
	struct xml_node *res, *cat = NULL, *q;
	struct clearance_res both, *use = NULL;
	const char *target_jid;
	uint64_t *cls = NULL, *cats = NULL;

	q = xml_child(iq, NS_CATALOG, "catalog");
	target_jid = q ? xml_attr(q, "to") : NULL;
	res = xml_elem_new(NS_CLIENT, "iq");
	if (res == NULL)
		return NULL;
	if (xml_set_attr(res, "type", "result") != L_OK ||
	    (xml_attr(iq, "id") && xml_set_attr(res, "id",
	    xml_attr(iq, "id")) != L_OK) ||
	    (xml_attr(iq, "from") && xml_set_attr(res, "to",
	    xml_attr(iq, "from")) != L_OK) ||
	    (xml_attr(iq, "to") && xml_set_attr(res, "from",
	    xml_attr(iq, "to")) != L_OK))
		goto fail;
	if (req->clr != NULL) {
		use = (struct clearance_res *)&req->clr->res;
		/* Towards a target with a known clearance in the same
		 * policy, only what both may use. */
		if (target != NULL && target->res.spif == req->clr->res.spif) {
			const struct spif *s = req->clr->res.spif;

			cls = calloc(s->class_words ? s->class_words : 1,
			    sizeof *cls);
			cats = calloc(s->cat_words ? s->cat_words : 1,
			    sizeof *cats);
			if (cls == NULL || cats == NULL)
				goto fail;
			for (size_t i = 0; i < s->class_words; i++)
				cls[i] = req->clr->res.cls_bits[i] &
				    target->res.cls_bits[i];
			for (size_t i = 0; i < s->cat_words; i++)
				cats[i] = req->clr->res.cat_bits[i] &
				    target->res.cat_bits[i];
			both.spif = s;
			both.cls_bits = cls;
			both.cat_bits = cats;
			use = &both;
		}
	}
	if (p->catalog != NULL && use != NULL) {
		if (catalog_build(&p->set, p->catalog, use, NULL, target_jid,
		    &cat) != L_OK)
			goto fail;
		xml_append(res, cat);
	} else {
		/* No catalog, or the nil clearance: an empty catalog. */
		cat = xml_add_child(res, NS_CATALOG, "catalog");
		if (cat == NULL || (target_jid && xml_set_attr(cat, "to",
		    target_jid) != L_OK) || xml_set_attr(cat, "size", "0") !=
		    L_OK)
			goto fail;
	}
	audit_event(p, AUDIT_POINT_CATALOG, false, req->sid, req->jid,
	    target_jid, iq, "catalog served");
	free(cls);
	free(cats);
	return res;
fail:
	free(cls);
	free(cats);
	xml_node_free(res);
	return NULL;
}
