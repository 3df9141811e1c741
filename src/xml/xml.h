/*
 * The stanza tree: elements with a namespace, a local name, attributes and
 * children (elements and text).  Every element carries its namespace URI
 * as a string; prefixes from the input are not kept, and the serializer
 * writes default-namespace declarations (xmlns='...') wherever an
 * element's namespace differs from its parent's, so the output is
 * namespace-equivalent to the input.  Attributes in a namespace are kept
 * with their expanded name "URI local" except xml:lang-style attributes
 * of the XML namespace, which are kept as "xml:NAME".
 *
 * Ownership: a node owns its children, strings and attributes; freeing a
 * node frees its subtree.  All strings are NUL-terminated UTF-8.
 */
#ifndef LIAISON_XML_XML_H
#define LIAISON_XML_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum xml_node_type {
	XML_NODE_ELEM = 1,
	XML_NODE_TEXT = 2,
};

struct xml_attr {
	char *name;	/* local name, "xml:lang", or "URI local" */
	char *value;
};

struct xml_node {
	enum xml_node_type type;
	struct xml_node *parent;	/* borrowed */
	struct xml_node *next;		/* next sibling */
	struct xml_node *first;		/* first child (elements only) */
	struct xml_node *last;		/* last child */
	char *ns;			/* element namespace URI ("" = none) */
	char *name;			/* element local name */
	struct xml_attr *attrs;
	size_t nattrs;
	char *text;			/* text node content */
	size_t text_len;
};

/* Builders.  Return NULL on allocation failure. */
struct xml_node *xml_elem_new(const char *ns, const char *name);
struct xml_node *xml_text_new(const char *text, size_t len);
void xml_node_free(struct xml_node *n);
/* Deep copy; NULL on allocation failure. */
struct xml_node *xml_node_copy(const struct xml_node *n);

/* Appends child (which must be detached) to parent; takes ownership. */
void xml_append(struct xml_node *parent, struct xml_node *child);
/* Removes n from its parent (the caller then owns it). */
void xml_detach(struct xml_node *n);
/* Creates and appends a child element; returns it or NULL. */
struct xml_node *xml_add_child(struct xml_node *parent, const char *ns,
    const char *name);
/* Appends a text child (merging with a previous text child). */
int xml_add_text(struct xml_node *parent, const char *text, size_t len);

/* Attribute value or NULL. */
const char *xml_attr(const struct xml_node *el, const char *name);
/* Sets (replaces) an attribute; value NULL removes it. */
int xml_set_attr(struct xml_node *el, const char *name, const char *value);

/* Is el an element named `name` in namespace `ns` (ns NULL = any)? */
bool xml_is(const struct xml_node *el, const char *ns, const char *name);
/* First child element matching (ns NULL = any namespace, name NULL = any
 * name), or NULL. */
struct xml_node *xml_child(const struct xml_node *el, const char *ns,
    const char *name);
/* Next sibling element after `after` matching the same way, or NULL. */
struct xml_node *xml_next(const struct xml_node *after, const char *ns,
    const char *name);
/* Iterate child elements:  XML_FOREACH_CHILD(parent, c) { ... } */
#define XML_FOREACH_CHILD(parent, c) \
	for (struct xml_node *c = (parent)->first; c != NULL; c = c->next) \
		if (c->type == XML_NODE_ELEM)

/* Concatenated text of the direct text children; malloc'd (caller frees);
 * NULL on allocation failure. */
char *xml_text(const struct xml_node *el);
/* Same, for the first child element ns/name; NULL if there is none. */
char *xml_child_text(const struct xml_node *el, const char *ns,
    const char *name);

/* A hash of a subtree (names, namespaces, attributes in order, text),
 * and exact equality of two subtrees, for caches keyed by content. */
uint64_t xml_hash(const struct xml_node *n, uint64_t h);
bool xml_equal(const struct xml_node *a, const struct xml_node *b);

/* Serializes el and its subtree.  parent_ns is the default namespace in
 * scope where it is written (NULL or "" if none, e.g. "jabber:client"
 * inside a client stream so stanzas are written without xmlns).  Text
 * and attribute values are escaped. */
int xml_serialize(const struct xml_node *el, const char *parent_ns,
    struct buf *out);
/* Appends s escaped for use in text or an attribute value (', ", <, >, &).
 * CR is written as &#13; (a parser would fold CR LF), and C0 controls that
 * XML 1.0 cannot carry become U+FFFD, so the output is always
 * well-formed.  Attributes named "xmlns" or "xmlns:*" are not written by
 * xml_serialize (it declares namespaces itself). */
int xml_escape(struct buf *out, const char *s, size_t len);
/* Same, and TAB and LF as character references too: for attribute values,
 * where a parser would turn them into spaces (e.g. a stream header). */
int xml_escape_attr(struct buf *out, const char *s, size_t len);

/*
 * Whole-document parsing (files: SPIFs, labels, clearances, catalog
 * lists).  No DTD or entity declarations are accepted; comments,
 * processing instructions and the XML declaration are skipped.  Limits
 * keep hostile files bounded.  On error returns L_ERR_INVAL (or
 * L_ERR_LIMIT / L_ERR_NOMEM) and writes "line L, column C: reason" into
 * err (if not NULL).  xml_parse_file also returns L_ERR_NOTFOUND or
 * L_ERR_IO (err then holds "PATH: strerror").  Whitespace text between
 * elements is kept as text nodes.  Documents must be UTF-8 or UTF-16
 * (a declared single-byte encoding is an error); the tree is UTF-8.
 */
struct xml_doc_limits {
	size_t max_bytes;	/* 0 = 16 MiB */
	unsigned max_depth;	/* 0 = 64 */
	unsigned max_attrs;	/* per element, 0 = 64 */
};

int xml_parse_doc(const char *data, size_t len,
    const struct xml_doc_limits *lim, struct xml_node **out,
    char *err, size_t errlen);
int xml_parse_file(const char *path, const struct xml_doc_limits *lim,
    struct xml_node **out, char *err, size_t errlen);

#endif
