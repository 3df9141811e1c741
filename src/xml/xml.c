/*
 * The stanza tree, its serializer and the whole-document parser (see
 * xml.h).  The serializer writes only default-namespace declarations for
 * elements and a generated prefix per namespaced attribute, so what it
 * writes is namespace-equivalent to what was parsed, whatever prefixes the
 * input used.  The document parser is expat with DTDs refused outright.
 */
#include "xml/xml.h"
#include "xml/xml_int.h"

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errors.h"

/* ------------------------------------------------------------------ */
/* Builders */

struct xml_node *
xml_elem_new(const char *ns, const char *name)
{
	struct xml_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = XML_NODE_ELEM;
	n->ns = l_strdup(ns != NULL ? ns : "");
	n->name = l_strdup(name != NULL ? name : "");
	if (n->ns == NULL || n->name == NULL) {
		xml_node_free(n);
		return NULL;
	}
	return n;
}

struct xml_node *
xml_text_new(const char *text, size_t len)
{
	struct xml_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = XML_NODE_TEXT;
	if ((n->text = malloc(len + 1)) == NULL) {
		free(n);
		return NULL;
	}
	if (len)
		memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->text_len = len;
	return n;
}

static void
xml_attrs_free(struct xml_node *n)
{
	for (size_t i = 0; i < n->nattrs; i++) {
		free(n->attrs[i].name);
		free(n->attrs[i].value);
	}
	free(n->attrs);
	n->attrs = NULL;
	n->nattrs = 0;
}

void
xml_node_free(struct xml_node *n)
{
	struct xml_node *c, *next;

	if (n == NULL)
		return;
	/* Recursion depth is the tree depth, which the parsers bound. */
	for (c = n->first; c != NULL; c = next) {
		next = c->next;
		xml_node_free(c);
	}
	xml_attrs_free(n);
	free(n->ns);
	free(n->name);
	free(n->text);
	free(n);
}

struct xml_node *
xml_node_copy(const struct xml_node *n)
{
	struct xml_node *cp, *cc;
	const struct xml_node *c;

	if (n->type == XML_NODE_TEXT)
		return xml_text_new(n->text, n->text_len);
	if ((cp = xml_elem_new(n->ns, n->name)) == NULL)
		return NULL;
	if (n->nattrs > 0) {
		cp->attrs = calloc(n->nattrs, sizeof(*cp->attrs));
		if (cp->attrs == NULL)
			goto fail;
		for (size_t i = 0; i < n->nattrs; i++) {
			/* Count each slot as soon as it may hold memory. */
			cp->nattrs = i + 1;
			cp->attrs[i].name = l_strdup(n->attrs[i].name);
			cp->attrs[i].value = l_strdup(n->attrs[i].value);
			if (cp->attrs[i].name == NULL ||
			    cp->attrs[i].value == NULL)
				goto fail;
		}
	}
	for (c = n->first; c != NULL; c = c->next) {
		if ((cc = xml_node_copy(c)) == NULL)
			goto fail;
		xml_append(cp, cc);
	}
	return cp;
fail:
	xml_node_free(cp);
	return NULL;
}

void
xml_append(struct xml_node *parent, struct xml_node *child)
{
	child->parent = parent;
	child->next = NULL;
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
}

void
xml_detach(struct xml_node *n)
{
	struct xml_node *p = n->parent, *prev;

	if (p == NULL)
		return;
	if (p->first == n) {
		p->first = n->next;
		prev = NULL;
	} else {
		for (prev = p->first; prev != NULL && prev->next != n;
		    prev = prev->next)
			;
		if (prev == NULL)	/* not actually a child: leave as is */
			return;
		prev->next = n->next;
	}
	if (p->last == n)
		p->last = prev;
	n->parent = NULL;
	n->next = NULL;
}

struct xml_node *
xml_add_child(struct xml_node *parent, const char *ns, const char *name)
{
	struct xml_node *c;

	if ((c = xml_elem_new(ns, name)) == NULL)
		return NULL;
	xml_append(parent, c);
	return c;
}

int
xml_add_text(struct xml_node *parent, const char *text, size_t len)
{
	struct xml_node *last = parent->last, *t;
	char *p;

	if (len == 0)
		return L_OK;
	if (last != NULL && last->type == XML_NODE_TEXT) {
		if (len > SIZE_MAX - last->text_len - 1)
			return L_ERR_LIMIT;
		if ((p = realloc(last->text, last->text_len + len + 1)) == NULL)
			return L_ERR_NOMEM;
		memcpy(p + last->text_len, text, len);
		last->text = p;
		last->text_len += len;
		p[last->text_len] = '\0';
		return L_OK;
	}
	if ((t = xml_text_new(text, len)) == NULL)
		return L_ERR_NOMEM;
	xml_append(parent, t);
	return L_OK;
}

/* ------------------------------------------------------------------ */
/* Attributes and lookup */

const char *
xml_attr(const struct xml_node *el, const char *name)
{
	for (size_t i = 0; i < el->nattrs; i++)
		if (strcmp(el->attrs[i].name, name) == 0)
			return el->attrs[i].value;
	return NULL;
}

int
xml_set_attr(struct xml_node *el, const char *name, const char *value)
{
	struct xml_attr *a;
	char *v, *nm;
	size_t i;

	for (i = 0; i < el->nattrs; i++)
		if (strcmp(el->attrs[i].name, name) == 0)
			break;
	if (value == NULL) {
		if (i == el->nattrs)
			return L_OK;
		free(el->attrs[i].name);
		free(el->attrs[i].value);
		memmove(&el->attrs[i], &el->attrs[i + 1],
		    (el->nattrs - i - 1) * sizeof(*el->attrs));
		el->nattrs--;
		return L_OK;
	}
	if ((v = l_strdup(value)) == NULL)
		return L_ERR_NOMEM;
	if (i < el->nattrs) {
		free(el->attrs[i].value);
		el->attrs[i].value = v;
		return L_OK;
	}
	if ((nm = l_strdup(name)) == NULL) {
		free(v);
		return L_ERR_NOMEM;
	}
	a = realloc(el->attrs, (el->nattrs + 1) * sizeof(*a));
	if (a == NULL) {
		free(nm);
		free(v);
		return L_ERR_NOMEM;
	}
	el->attrs = a;
	a[el->nattrs].name = nm;
	a[el->nattrs].value = v;
	el->nattrs++;
	return L_OK;
}

bool
xml_is(const struct xml_node *el, const char *ns, const char *name)
{
	return el != NULL && el->type == XML_NODE_ELEM &&
	    (ns == NULL || strcmp(el->ns, ns) == 0) &&
	    (name == NULL || strcmp(el->name, name) == 0);
}

struct xml_node *
xml_child(const struct xml_node *el, const char *ns, const char *name)
{
	struct xml_node *c;

	for (c = el->first; c != NULL; c = c->next)
		if (xml_is(c, ns, name))
			return c;
	return NULL;
}

struct xml_node *
xml_next(const struct xml_node *after, const char *ns, const char *name)
{
	struct xml_node *c;

	for (c = after->next; c != NULL; c = c->next)
		if (xml_is(c, ns, name))
			return c;
	return NULL;
}

char *
xml_text(const struct xml_node *el)
{
	const struct xml_node *c;
	size_t len = 0;
	char *s, *p;

	for (c = el->first; c != NULL; c = c->next)
		if (c->type == XML_NODE_TEXT)
			len += c->text_len;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	p = s;
	for (c = el->first; c != NULL; c = c->next) {
		if (c->type == XML_NODE_TEXT && c->text_len > 0) {
			memcpy(p, c->text, c->text_len);
			p += c->text_len;
		}
	}
	*p = '\0';
	return s;
}

char *
xml_child_text(const struct xml_node *el, const char *ns, const char *name)
{
	struct xml_node *c = xml_child(el, ns, name);

	return c != NULL ? xml_text(c) : NULL;
}

/* ------------------------------------------------------------------ */
/* Serializer */

/*
 * Escapes s.  Besides the five markup characters, CR is written as a
 * character reference (a parser would turn a literal CR LF into LF), and
 * in attribute values TAB and LF too (a parser normalises them to spaces).
 * Other C0 controls cannot be written in XML 1.0 at all; they become
 * U+FFFD so that what we send is always well-formed.
 */
static int
xml_escape_mode(struct buf *out, const char *s, size_t len, bool attr)
{
	size_t i, run = 0;
	const char *rep;
	int rc;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch != '&' && ch != '<' && ch != '>' &&
		    ch != '"' && ch != '\'')
			continue;
		switch (ch) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		case '\r': rep = "&#13;"; break;
		case '\n': rep = attr ? "&#10;" : NULL; break;
		case '\t': rep = attr ? "&#9;" : NULL; break;
		default: rep = "\xef\xbf\xbd"; break;
		}
		if (rep == NULL)
			continue;
		if ((rc = buf_append(out, s + run, i - run)) != L_OK)
			return rc;
		if ((rc = buf_append_str(out, rep)) != L_OK)
			return rc;
		run = i + 1;
	}
	return buf_append(out, s + run, len - run);
}

int
xml_escape(struct buf *out, const char *s, size_t len)
{
	return xml_escape_mode(out, s, len, false);
}

int
xml_escape_attr(struct buf *out, const char *s, size_t len)
{
	return xml_escape_mode(out, s, len, true);
}

static bool
xml_attr_is_nsdecl(const char *name)
{
	return strcmp(name, "xmlns") == 0 || strncmp(name, "xmlns:", 6) == 0;
}

/* Writes el's attributes, declaring a generated prefix (ns1, ns2, ...) on
 * el for each distinct attribute namespace.  Prefixes are local to el, so
 * they never clash with the ones a child declares. */
static int
xml_serialize_attrs(const struct xml_node *el, struct buf *out)
{
	size_t i, j, urilen, prefix;
	const char *nm, *sp;
	int rc;

	for (i = 0; i < el->nattrs; i++) {
		nm = el->attrs[i].name;
		if (xml_attr_is_nsdecl(nm))
			continue;
		if ((rc = buf_append(out, " ", 1)) != L_OK)
			return rc;
		if ((sp = strrchr(nm, XML_NS_SEP)) == NULL) {
			rc = buf_append_str(out, nm);
		} else if ((size_t)(sp - nm) == sizeof(XMLNS_XML) - 1 &&
		    strncmp(nm, XMLNS_XML, sp - nm) == 0) {
			rc = buf_appendf(out, "xml:%s", sp + 1);
		} else {
			/* Prefix number = index of the first attribute with
			 * this namespace, plus one; declared there. */
			urilen = (size_t)(sp - nm);
			prefix = i;
			for (j = 0; j < i; j++) {
				const char *o = el->attrs[j].name;
				if (strncmp(o, nm, urilen + 1) == 0 &&
				    strchr(o + urilen + 1, XML_NS_SEP) == NULL) {
					prefix = j;
					break;
				}
			}
			if (prefix == i) {
				if ((rc = buf_appendf(out, "xmlns:ns%zu='",
				    prefix + 1)) != L_OK ||
				    (rc = xml_escape_attr(out, nm,
				    urilen)) != L_OK ||
				    (rc = buf_append(out, "' ", 2)) != L_OK)
					return rc;
			}
			rc = buf_appendf(out, "ns%zu:%s", prefix + 1, sp + 1);
		}
		if (rc != L_OK)
			return rc;
		if ((rc = buf_append(out, "='", 2)) != L_OK ||
		    (rc = xml_escape_attr(out, el->attrs[i].value,
		    strlen(el->attrs[i].value))) != L_OK ||
		    (rc = buf_append(out, "'", 1)) != L_OK)
			return rc;
	}
	return L_OK;
}

int
xml_serialize(const struct xml_node *el, const char *parent_ns,
    struct buf *out)
{
	const struct xml_node *c;
	const char *scope;
	bool xmlprefix;
	int rc;

	if (parent_ns == NULL)
		parent_ns = "";
	if (el->type == XML_NODE_TEXT)
		return xml_escape(out, el->text, el->text_len);

	/* The XML namespace cannot be declared as a default, only used
	 * through its predeclared prefix; the default stays parent_ns. */
	xmlprefix = strcmp(el->ns, XMLNS_XML) == 0;
	scope = xmlprefix ? parent_ns : el->ns;
	if ((rc = buf_append(out, xmlprefix ? "<xml:" : "<",
	    xmlprefix ? 5 : 1)) != L_OK ||
	    (rc = buf_append_str(out, el->name)) != L_OK)
		return rc;
	if (!xmlprefix && strcmp(el->ns, parent_ns) != 0) {
		if ((rc = buf_append(out, " xmlns='", 8)) != L_OK ||
		    (rc = xml_escape_attr(out, el->ns, strlen(el->ns))) != L_OK ||
		    (rc = buf_append(out, "'", 1)) != L_OK)
			return rc;
	}
	if ((rc = xml_serialize_attrs(el, out)) != L_OK)
		return rc;
	if (el->first == NULL)
		return buf_append(out, "/>", 2);
	if ((rc = buf_append(out, ">", 1)) != L_OK)
		return rc;
	for (c = el->first; c != NULL; c = c->next)
		if ((rc = xml_serialize(c, scope, out)) != L_OK)
			return rc;
	if ((rc = buf_append(out, xmlprefix ? "</xml:" : "</",
	    xmlprefix ? 6 : 2)) != L_OK ||
	    (rc = buf_append_str(out, el->name)) != L_OK ||
	    (rc = buf_append(out, ">", 1)) != L_OK)
		return rc;
	return L_OK;
}

/* ------------------------------------------------------------------ */
/* Shared with the stream parser (xml_int.h) */

static char *
xml_attr_name_from_expat(const char *name)
{
	const char *sp = strrchr(name, XML_NS_SEP);
	char *s;

	if (sp != NULL && (size_t)(sp - name) == sizeof(XMLNS_XML) - 1 &&
	    memcmp(name, XMLNS_XML, sizeof(XMLNS_XML) - 1) == 0) {
		if ((s = malloc(4 + strlen(sp + 1) + 1)) == NULL)
			return NULL;
		memcpy(s, "xml:", 4);
		strcpy(s + 4, sp + 1);
		return s;
	}
	return l_strdup(name);
}

struct xml_node *
xml_elem_from_expat(const char *name, const char **atts)
{
	struct xml_node *n;
	const char *sp;
	size_t i, count = 0;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = XML_NODE_ELEM;
	/* Local names cannot hold the separator; a URI might. */
	if ((sp = strrchr(name, XML_NS_SEP)) != NULL) {
		n->ns = l_strndup(name, (size_t)(sp - name));
		n->name = l_strdup(sp + 1);
	} else {
		n->ns = l_strdup("");
		n->name = l_strdup(name);
	}
	if (n->ns == NULL || n->name == NULL)
		goto fail;
	while (atts[count * 2] != NULL)
		count++;
	if (count > 0) {
		if ((n->attrs = calloc(count, sizeof(*n->attrs))) == NULL)
			goto fail;
		for (i = 0; i < count; i++) {
			n->nattrs = i + 1;
			n->attrs[i].name = xml_attr_name_from_expat(atts[2 * i]);
			n->attrs[i].value = l_strdup(atts[2 * i + 1]);
			if (n->attrs[i].name == NULL ||
			    n->attrs[i].value == NULL)
				goto fail;
		}
	}
	return n;
fail:
	xml_node_free(n);
	return NULL;
}

int
xml_flush_text(struct xml_node *parent, struct buf *text)
{
	int rc;

	if (text->len == 0)
		return L_OK;
	rc = xml_add_text(parent, text->data, text->len);
	buf_reset(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Whole-document parser */

struct xml_doc_parser {
	XML_Parser p;
	struct xml_node *root;
	struct xml_node *cur;	/* innermost open element, NULL outside */
	struct buf text;
	unsigned depth;
	unsigned max_depth;
	unsigned max_attrs;
	int rc;			/* our own reason to stop, or L_OK */
	char reason[96];
};

static void
doc_fail(struct xml_doc_parser *dp, int rc, const char *reason)
{
	if (dp->rc != L_OK)
		return;
	dp->rc = rc;
	snprintf(dp->reason, sizeof(dp->reason), "%s", reason);
	XML_StopParser(dp->p, XML_FALSE);
}

static void XMLCALL
doc_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_doc_parser *dp = ud;
	struct xml_node *n;
	unsigned nattrs = 0;

	if (dp->rc != L_OK)
		return;
	if (++dp->depth > dp->max_depth) {
		doc_fail(dp, L_ERR_LIMIT, "elements nested too deeply");
		return;
	}
	while (atts[nattrs * 2] != NULL)
		nattrs++;
	if (nattrs > dp->max_attrs) {
		doc_fail(dp, L_ERR_LIMIT, "too many attributes");
		return;
	}
	if (dp->cur != NULL && xml_flush_text(dp->cur, &dp->text) != L_OK) {
		doc_fail(dp, L_ERR_NOMEM, "out of memory");
		return;
	}
	if ((n = xml_elem_from_expat(name, atts)) == NULL) {
		doc_fail(dp, L_ERR_NOMEM, "out of memory");
		return;
	}
	if (dp->cur != NULL)
		xml_append(dp->cur, n);
	else
		dp->root = n;
	dp->cur = n;
}

static void XMLCALL
doc_end(void *ud, const XML_Char *name)
{
	struct xml_doc_parser *dp = ud;

	if (dp->rc != L_OK || dp->cur == NULL)
		return;
	if (xml_flush_text(dp->cur, &dp->text) != L_OK) {
		doc_fail(dp, L_ERR_NOMEM, "out of memory");
		return;
	}
	dp->cur = dp->cur->parent;
	dp->depth--;
}

static void XMLCALL
doc_chars(void *ud, const XML_Char *s, int len)
{
	struct xml_doc_parser *dp = ud;

	if (dp->rc != L_OK || dp->cur == NULL)
		return;
	if (buf_append(&dp->text, s, (size_t)len) != L_OK)
		doc_fail(dp, L_ERR_NOMEM, "out of memory");
}

static void XMLCALL
doc_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	doc_fail(ud, L_ERR_INVAL, "DOCTYPE not allowed");
}

static void XMLCALL
doc_entity(void *ud, const XML_Char *name, int is_pe, const XML_Char *value,
    int value_len, const XML_Char *base, const XML_Char *sysid,
    const XML_Char *pubid, const XML_Char *notation)
{
	doc_fail(ud, L_ERR_INVAL, "entity declarations not allowed");
}

/*
 * Documents are Unicode: UTF-8 (US-ASCII is part of it) or UTF-16.  A
 * single-byte encoding is refused, because expat classifies name
 * characters differently in its Latin-1 tables than in Unicode, so such a
 * document could parse and then not parse again once written as UTF-8
 * (found by fuzz-xmldoc).
 */
static void XMLCALL
doc_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	if (encoding == NULL || strcasecmp(encoding, "UTF-8") == 0 ||
	    strcasecmp(encoding, "UTF-16") == 0 ||
	    strcasecmp(encoding, "US-ASCII") == 0)
		return;
	doc_fail(ud, L_ERR_INVAL, "only UTF-8 and UTF-16 documents are "
	    "accepted");
}

static void
doc_errf(char *err, size_t errlen, unsigned long line, unsigned long col,
    const char *reason)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "line %lu, column %lu: %s", line, col,
		    reason);
}

/* This thread's spare document parser (see xml_parse_doc). */
static __thread XML_Parser doc_parser;

unsigned long
xml_hash_salt(void)
{
	static unsigned long salt;
	unsigned long v;

	if ((v = __atomic_load_n(&salt, __ATOMIC_RELAXED)) != 0)
		return v;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (unsigned long)time(NULL) ^ (unsigned long)(uintptr_t)&v;
	v |= 1;	/* never 0, which expat reads as "choose one yourself" */
	__atomic_store_n(&salt, v, __ATOMIC_RELAXED);
	return v;
}

int
xml_parse_doc(const char *data, size_t len,
    const struct xml_doc_limits *lim, struct xml_node **out,
    char *err, size_t errlen)
{
	struct xml_doc_parser dp;
	size_t max_bytes = 16u << 20;
	enum XML_Error xe;
	int rc;

	*out = NULL;
	memset(&dp, 0, sizeof(dp));
	dp.max_depth = 64;
	dp.max_attrs = 64;
	if (lim != NULL) {
		if (lim->max_bytes)
			max_bytes = lim->max_bytes;
		if (lim->max_depth)
			dp.max_depth = lim->max_depth;
		if (lim->max_attrs)
			dp.max_attrs = lim->max_attrs;
	}
	if (len > max_bytes || len > INT_MAX) {
		doc_errf(err, errlen, 1, 1, "document too large");
		return L_ERR_LIMIT;
	}
	buf_init(&dp.text, 0);
	/* One parser per thread, reset between documents: creating an expat
	 * parser costs more than parsing a label. */
	if (doc_parser != NULL && XML_ParserReset(doc_parser, NULL) == XML_TRUE) {
		dp.p = doc_parser;
		doc_parser = NULL;
	} else if ((dp.p = XML_ParserCreateNS(NULL, XML_NS_SEP)) == NULL) {
		doc_errf(err, errlen, 1, 1, "out of memory");
		return L_ERR_NOMEM;
	}
	XML_SetHashSalt(dp.p, xml_hash_salt());
	XML_SetUserData(dp.p, &dp);
	XML_SetElementHandler(dp.p, doc_start, doc_end);
	XML_SetCharacterDataHandler(dp.p, doc_chars);
	XML_SetStartDoctypeDeclHandler(dp.p, doc_doctype);
	XML_SetXmlDeclHandler(dp.p, doc_xmldecl);
	XML_SetEntityDeclHandler(dp.p, doc_entity);
	/* Never fetch anything named by the document. */
	XML_SetParamEntityParsing(dp.p, XML_PARAM_ENTITY_PARSING_NEVER);

	if (XML_Parse(dp.p, data, (int)len, XML_TRUE) == XML_STATUS_OK &&
	    dp.rc == L_OK) {
		*out = dp.root;
		dp.root = NULL;
		rc = L_OK;
		goto done;
	}
	if (dp.rc != L_OK) {
		rc = dp.rc;
		doc_errf(err, errlen, XML_GetCurrentLineNumber(dp.p),
		    XML_GetCurrentColumnNumber(dp.p) + 1, dp.reason);
	} else {
		xe = XML_GetErrorCode(dp.p);
		rc = xe == XML_ERROR_NO_MEMORY ? L_ERR_NOMEM : L_ERR_INVAL;
		doc_errf(err, errlen, XML_GetCurrentLineNumber(dp.p),
		    XML_GetCurrentColumnNumber(dp.p) + 1,
		    XML_ErrorString(xe));
	}
done:
	xml_node_free(dp.root);
	buf_cleanup(&dp.text);
	if (doc_parser == NULL)
		doc_parser = dp.p;	/* kept for the next document */
	else
		XML_ParserFree(dp.p);
	return rc;
}

int
xml_parse_file(const char *path, const struct xml_doc_limits *lim,
    struct xml_node **out, char *err, size_t errlen)
{
	size_t max_bytes = (lim != NULL && lim->max_bytes) ?
	    lim->max_bytes : 16u << 20;
	struct buf b;
	char chunk[8192];
	ssize_t n;
	int fd, rc, saved;

	*out = NULL;
	/* One byte over the limit lets xml_parse_doc report it. */
	buf_init(&b, max_bytes + 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		saved = errno;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(saved));
		errno = saved;
		return saved == ENOENT ? L_ERR_NOTFOUND : L_ERR_IO;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s: %s", path,
				    strerror(saved));
			rc = L_ERR_IO;
			goto done;
		}
		if (n == 0)
			break;
		if ((rc = buf_append(&b, chunk, (size_t)n)) != L_OK) {
			if (rc == L_ERR_LIMIT)
				doc_errf(err, errlen, 1, 1,
				    "document too large");
			else
				doc_errf(err, errlen, 1, 1, "out of memory");
			goto done;
		}
	}
	rc = xml_parse_doc(b.data != NULL ? b.data : "", b.len, lim, out,
	    err, errlen);
done:
	close(fd);
	buf_cleanup(&b);
	return rc;
}

/* Mixes n bytes into h eight at a time (multiply-rotate); the length
 * goes in too, so "ab","c" and "a","bc" differ.  Collisions only cost a
 * compare: callers check equality with xml_equal. */
static uint64_t
hash_mem(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t w;

	h ^= n * 0x9e3779b97f4a7c15ULL;
	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 32);
}

static uint64_t
hash_str(uint64_t h, const char *s)
{
	return hash_mem(h, s ? s : "", s ? strlen(s) : 0);
}

uint64_t
xml_hash(const struct xml_node *n, uint64_t h)
{
	if (n->type == XML_NODE_TEXT)
		return hash_mem(h ^ 0x5bd1e995, n->text, n->text_len);
	/* Namespace URIs are long and few: their length and last eight
	 * bytes tell them apart well enough for a hash. */
	if (n->ns != NULL) {
		size_t len = strlen(n->ns);

		h = hash_mem(h, n->ns + (len > 8 ? len - 8 : 0),
		    len > 8 ? 8 : len) + len;
	}
	h = hash_str(h, n->name);
	for (size_t i = 0; i < n->nattrs; i++) {
		h = hash_str(h, n->attrs[i].name);
		h = hash_str(h, n->attrs[i].value);
	}
	for (const struct xml_node *c = n->first; c != NULL; c = c->next)
		h = xml_hash(c, h);
	return hash_str(h, "/");
}

static bool
str_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool
xml_equal(const struct xml_node *a, const struct xml_node *b)
{
	const struct xml_node *x, *y;

	if (a->type != b->type)
		return false;
	if (a->type == XML_NODE_TEXT)
		return a->text_len == b->text_len &&
		    memcmp(a->text, b->text, a->text_len) == 0;
	if (!str_same(a->name, b->name) || !str_same(a->ns, b->ns) ||
	    a->nattrs != b->nattrs)
		return false;
	for (size_t i = 0; i < a->nattrs; i++)
		if (!str_same(a->attrs[i].name, b->attrs[i].name) ||
		    !str_same(a->attrs[i].value, b->attrs[i].value))
			return false;
	for (x = a->first, y = b->first; x != NULL && y != NULL;
	    x = x->next, y = y->next)
		if (!xml_equal(x, y))
			return false;
	return x == NULL && y == NULL;
}
