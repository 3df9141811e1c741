/*
 * XEP-0258 catalogs (see catalog.h): load a configured label list, and
 * build the catalog a clearance may use.  A label the clearance may not
 * use is left out, never shown greyed: a catalog lists only usable labels.
 */
#include "label/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "label/label_int.h"
#include "label/marking.h"
#include "xml/xml.h"

void
catalog_free(struct catalog *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nitems; i++) {
		free(c->items[i].selector);
		label_group_cleanup(&c->items[i].labels);
	}
	free(c->items);
	free(c->policy);
	free(c->name);
	free(c->desc);
	free(c);
}

int
catalog_load_xml(const struct xml_node *root, struct catalog **out, char *err,
    size_t errlen)
{
	struct catalog *c;
	struct catalog_item *it;
	const char *v;
	int rc = L_ERR_INVAL, ndefault = 0;

	*out = NULL;
	if (!xml_is(root, CATALOG_LIST_NS, "catalog")) {
		lerr(err, errlen, "root element is not {%s}catalog",
		    CATALOG_LIST_NS);
		return L_ERR_INVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return L_ERR_NOMEM;
	if ((v = xml_attr(root, "policy")) == NULL) {
		lerr(err, errlen, "catalog: missing attribute policy");
		goto fail;
	}
	if ((c->policy = l_strdup(v)) == NULL ||
	    (c->name = l_strdup(xml_attr(root, "name") ? xml_attr(root, "name") :
	    "Default")) == NULL ||
	    (c->desc = l_strdup(xml_attr(root, "desc") ? xml_attr(root, "desc") :
	    "")) == NULL)
		goto nomem;
	XML_FOREACH_CHILD(root, ie) {
		if (!xml_is(ie, CATALOG_LIST_NS, "item"))
			continue;
		if ((it = lv_push(&c->items, &c->nitems, sizeof(*it))) == NULL)
			goto nomem;
		label_group_init(&it->labels);
		if ((v = xml_attr(ie, "selector")) == NULL) {
			lerr(err, errlen, "catalog item: missing attribute "
			    "selector");
			goto fail;
		}
		if ((it->selector = l_strdup(v)) == NULL)
			goto nomem;
		v = xml_attr(ie, "default");
		it->is_default = v != NULL && strcmp(v, "true") == 0;
		ndefault += it->is_default;
		XML_FOREACH_CHILD(ie, le) {
			if ((rc = label_group_parse(le, &it->labels, err,
			    errlen)) != 0)
				goto fail;
		}
	}
	if (ndefault > 1) {
		lerr(err, errlen, "catalog: more than one default item");
		rc = L_ERR_INVAL;
		goto fail;
	}
	*out = c;
	return 0;
nomem:
	rc = L_ERR_NOMEM;
fail:
	catalog_free(c);
	return rc;
}

static int
add_item(struct xml_node *cat, const struct catalog_item *it,
    const struct label_res *r, const char *lang)
{
	struct xml_node *ie, *sl, *dm, *lab, *le;
	const char *fg, *bg;
	struct buf b;
	int rc = L_ERR_NOMEM;

	buf_init(&b, 0);
	if ((ie = xml_add_child(cat, SECLABEL_CATALOG_NS, "item")) == NULL ||
	    xml_set_attr(ie, "selector", it->selector) != 0 ||
	    (it->is_default && xml_set_attr(ie, "default", "true") != 0))
		goto done;
	if (r == NULL) {
		rc = 0;
		goto done;
	}
	if ((sl = xml_add_child(ie, SECLABEL_NS0, "securitylabel")) == NULL ||
	    (dm = xml_add_child(sl, SECLABEL_NS0, "displaymarking")) == NULL)
		goto done;
	marking_colors(r, &fg, &bg);
	if ((rc = marking_label(r, lang, &b)) != 0 ||
	    xml_set_attr(dm, "fgcolor", fg) != 0 ||
	    xml_set_attr(dm, "bgcolor", bg) != 0 ||
	    xml_add_text(dm, b.data ? b.data : "", b.len) != 0) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	if ((lab = xml_add_child(sl, SECLABEL_NS0, "label")) == NULL) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < it->labels.n; i++) {
		if ((rc = label_write(it->labels.v[i], &le)) != 0)
			goto done;
		if (i == 0)
			xml_append(lab, le);
		else {
			struct xml_node *eq = xml_add_child(sl, SECLABEL_NS0,
			    "equivalentlabel");

			if (eq == NULL) {
				xml_node_free(le);
				rc = L_ERR_NOMEM;
				goto done;
			}
			xml_append(eq, le);
		}
	}
	rc = 0;
done:
	buf_cleanup(&b);
	return rc;
}

int
catalog_build(const struct spif_set *set, const struct catalog *cat,
    const struct clearance_res *c, const char *lang, const char *to,
    struct xml_node **out)
{
	struct xml_node *root;
	struct label_res r;
	char size[32];
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((root = xml_elem_new(SECLABEL_CATALOG_NS, "catalog")) == NULL)
		return L_ERR_NOMEM;
	if ((to != NULL && xml_set_attr(root, "to", to) != 0) ||
	    xml_set_attr(root, "name", cat->name) != 0 ||
	    xml_set_attr(root, "desc", cat->desc) != 0 ||
	    xml_set_attr(root, "restrict", "true") != 0) {
		rc = L_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cat->nitems; i++) {
		const struct catalog_item *it = &cat->items[i];
		const struct label *l;

		if (it->labels.n == 0) {
			if ((rc = add_item(root, it, NULL, lang)) != 0)
				goto fail;
			n++;
			continue;
		}
		if (acdf_check(set, &it->labels, c, LABEL_VALID_4774, NULL) != 0)
			continue;
		/* Marked in the clearance's policy when the item has it. */
		l = label_group_find(&it->labels, c->spif);
		if (l == NULL)
			l = it->labels.v[0];
		if (label_validate(set, l, 0, 0, &r, NULL) != 0)
			continue;
		rc = add_item(root, it, &r, lang);
		label_res_cleanup(&r);
		if (rc != 0)
			goto fail;
		n++;
	}
	snprintf(size, sizeof(size), "%zu", n);
	if (xml_set_attr(root, "size", size) != 0) {
		rc = L_ERR_NOMEM;
		goto fail;
	}
	*out = root;
	return 0;
fail:
	xml_node_free(root);
	return rc;
}
