/*
 * Helpers shared by the XML unit tests: structural tree equality
 * (namespaces, names, attributes as a set, text runs merged) and
 * serialization to a C string.
 */
#ifndef LIAISON_TESTS_XMLTEST_H
#define LIAISON_TESTS_XMLTEST_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/errors.h"
#include "xml/xml.h"

/* Adjacent text nodes are one run to a reader; compare them merged. */
static inline const struct xml_node *
xt_text_run(const struct xml_node *n, struct buf *out)
{
	buf_reset(out);
	while (n != NULL && n->type == XML_NODE_TEXT) {
		if (buf_append(out, n->text, n->text_len) != L_OK)
			abort();
		n = n->next;
	}
	return n;
}

static inline bool
xt_equal(const struct xml_node *a, const struct xml_node *b)
{
	const struct xml_node *ca, *cb;
	struct buf ta, tb;
	bool eq = true;

	if (a->type != b->type)
		return false;
	if (a->type == XML_NODE_TEXT)
		return a->text_len == b->text_len &&
		    memcmp(a->text, b->text, a->text_len) == 0;
	if (strcmp(a->ns, b->ns) != 0 || strcmp(a->name, b->name) != 0 ||
	    a->nattrs != b->nattrs)
		return false;
	for (size_t i = 0; i < a->nattrs; i++) {
		const char *v = xml_attr(b, a->attrs[i].name);
		if (v == NULL || strcmp(v, a->attrs[i].value) != 0)
			return false;
	}
	buf_init(&ta, 0);
	buf_init(&tb, 0);
	ca = a->first;
	cb = b->first;
	while (eq && (ca != NULL || cb != NULL)) {
		if (ca == NULL || cb == NULL) {
			eq = false;
		} else if (ca->type == XML_NODE_TEXT ||
		    cb->type == XML_NODE_TEXT) {
			if (ca->type != cb->type) {
				eq = false;
				break;
			}
			ca = xt_text_run(ca, &ta);
			cb = xt_text_run(cb, &tb);
			eq = ta.len == tb.len &&
			    (ta.len == 0 || memcmp(ta.data, tb.data, ta.len) == 0);
		} else {
			eq = xt_equal(ca, cb);
			ca = ca->next;
			cb = cb->next;
		}
	}
	buf_cleanup(&ta);
	buf_cleanup(&tb);
	return eq;
}

/* Serializes n (parent namespace pns) into a malloc'd string. */
static inline char *
xt_serialize(const struct xml_node *n, const char *pns)
{
	struct buf b;

	buf_init(&b, 0);
	if (xml_serialize(n, pns, &b) != L_OK)
		abort();
	return buf_steal(&b);
}

#endif
