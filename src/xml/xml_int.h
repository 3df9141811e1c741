/*
 * Internal to the XML layer: the pieces that the whole-document parser
 * (xml.c) and the stream parser (xmlstream.c) share, both fed by expat in
 * namespace mode with ' ' as the separator.  Not for other layers.
 */
#ifndef LIAISON_XML_XML_INT_H
#define LIAISON_XML_XML_INT_H

#include "xml/xml.h"

#define XML_NS_SEP	' '
#define XMLNS_XML	"http://www.w3.org/XML/1998/namespace"

/*
 * Builds a detached element from expat's expanded name ("URI local" or
 * "local") and its NULL-terminated name/value attribute array.  Attribute
 * names of the XML namespace become "xml:NAME".  Returns NULL on
 * allocation failure.
 */
struct xml_node *xml_elem_from_expat(const char *name, const char **atts);

/*
 * Appends the bytes gathered in `text` (if any) as a text child of `parent`
 * and empties `text`.  Expat reports one text run in many pieces; the
 * parsers gather them in one reused buffer so a run costs one allocation.
 */
int xml_flush_text(struct xml_node *parent, struct buf *text);

/*
 * The salt for expat's hash tables: random, drawn once per process.
 * Without it expat asks the kernel for entropy for every parser and
 * every reset, which is most of the cost of parsing a small document.
 */
unsigned long xml_hash_salt(void);

#endif
