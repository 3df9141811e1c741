/*
 * The XMPP stream parser (see xmlstream.h): expat in namespace mode fed
 * in slices, so that no stanza can make expat or us buffer much more than
 * the stanza byte limit before the limit is seen.  Level-1 elements are
 * built into trees as they arrive and handed over whole; text is gathered
 * in one reused buffer per parser, so parsing costs a few allocations per
 * element and none per character.
 */
#include "xml/xmlstream.h"
#include "xml/xml_int.h"

#include <expat.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"

#define XS_DEFAULT_STANZA_BYTES	(256u * 1024)
#define XS_DEFAULT_DEPTH	32
#define XS_DEFAULT_ATTRS	64

struct xml_stream {
	XML_Parser p;
	struct xml_stream_cb cb;
	void *ctx;
	size_t max_bytes;
	unsigned max_depth;
	unsigned max_attrs;

	/* Per stream; cleared by a reset. */
	struct xml_node *stanza;	/* level-1 element being built */
	struct xml_node *cur;		/* innermost open element in it */
	struct buf text;		/* text not yet attached to cur */
	unsigned depth;			/* 0 before the header, 1 in stream */
	unsigned ndecls;		/* xmlns declarations on next element */
	char *default_ns;		/* declared on the stream header */
	long long fed;			/* bytes given to expat since reset */
	long long mark;			/* end of the last complete item */
	long long stanza_start;		/* offset of the stanza's '<' */
	long long stop_pos;		/* where xml_stream_stop cut */
	bool in_feed;
	bool stopped;
	bool reset_pending;
	enum xml_stream_err err;
	char errtext[96];
};

static void xs_install(struct xml_stream *);

const char *
xml_stream_err_name(enum xml_stream_err e)
{
	switch (e) {
	case XSE_NONE: return "none";
	case XSE_NOT_WELL_FORMED: return "not-well-formed";
	case XSE_RESTRICTED_XML: return "restricted-xml";
	case XSE_POLICY_VIOLATION: return "policy-violation";
	case XSE_INVALID_NAMESPACE: return "invalid-namespace";
	case XSE_BAD_FORMAT: return "bad-format";
	case XSE_INTERNAL: return "internal-server-error";
	}
	return "undefined-condition";
}

/* Records the first error and stops expat; later events are ignored. */
static void
xs_fail(struct xml_stream *xs, enum xml_stream_err e, const char *why)
{
	if (xs->err != XSE_NONE)
		return;
	xs->err = e;
	snprintf(xs->errtext, sizeof(xs->errtext), "line %lu: %s",
	    (unsigned long)XML_GetCurrentLineNumber(xs->p), why);
	if (xs->in_feed)
		XML_StopParser(xs->p, XML_FALSE);
}

static bool
xs_dead(const struct xml_stream *xs)
{
	return xs->err != XSE_NONE || xs->stopped;
}

/* Offset just past the token expat is reporting. */
static long long
xs_token_end(const struct xml_stream *xs)
{
	return (long long)XML_GetCurrentByteIndex(xs->p) +
	    XML_GetCurrentByteCount(xs->p);
}

static void XMLCALL
xs_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct xml_stream *xs = ud;

	if (xs_dead(xs))
		return;
	/* Declarations cost expat memory like attributes do. */
	xs->ndecls++;
	if (xs->depth == 0 && prefix == NULL && xs->default_ns == NULL) {
		if ((xs->default_ns = l_strdup(uri != NULL ? uri : "")) == NULL)
			xs_fail(xs, XSE_INTERNAL, "out of memory");
	}
}

static void XMLCALL
xs_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_stream *xs = ud;
	struct xml_node *n;
	unsigned nattrs = 0, ndecls = xs->ndecls;

	xs->ndecls = 0;
	if (xs_dead(xs))
		return;
	while (atts[nattrs * 2] != NULL)
		nattrs++;
	if (nattrs + ndecls > xs->max_attrs) {
		xs_fail(xs, XSE_POLICY_VIOLATION, "too many attributes");
		return;
	}
	if (xs->depth == 0) {
		if (strcmp(name, XMLNS_STREAM " stream") != 0) {
			xs_fail(xs, XSE_INVALID_NAMESPACE,
			    "stream header is not <stream> in " XMLNS_STREAM);
			return;
		}
		if ((n = xml_elem_from_expat(name, atts)) == NULL) {
			xs_fail(xs, XSE_INTERNAL, "out of memory");
			return;
		}
		xs->depth = 1;
		xs->mark = xs_token_end(xs);
		if (xs->cb.stream_start != NULL)
			xs->cb.stream_start(xs->ctx, n,
			    xs->default_ns != NULL ? xs->default_ns : "");
		xml_node_free(n);
		return;
	}
	/* depth 1 opens a stanza (level 1); deeper is nesting within it. */
	if (xs->depth > xs->max_depth) {
		xs_fail(xs, XSE_POLICY_VIOLATION, "elements nested too deeply");
		return;
	}
	if (xs->depth == 1)
		xs->stanza_start = (long long)XML_GetCurrentByteIndex(xs->p);
	if (xs_token_end(xs) - xs->stanza_start > (long long)xs->max_bytes) {
		xs_fail(xs, XSE_POLICY_VIOLATION, "stanza too large");
		return;
	}
	if (xs->cur != NULL && xml_flush_text(xs->cur, &xs->text) != L_OK) {
		xs_fail(xs, XSE_INTERNAL, "out of memory");
		return;
	}
	if ((n = xml_elem_from_expat(name, atts)) == NULL) {
		xs_fail(xs, XSE_INTERNAL, "out of memory");
		return;
	}
	if (xs->cur != NULL)
		xml_append(xs->cur, n);
	else
		xs->stanza = n;
	xs->cur = n;
	xs->depth++;
}

static void XMLCALL
xs_end(void *ud, const XML_Char *name)
{
	struct xml_stream *xs = ud;
	struct xml_node *n;

	if (xs_dead(xs))
		return;
	if (xs->depth == 1) {
		xs->depth = 0;
		xs->mark = xs_token_end(xs);
		if (xs->cb.stream_end != NULL)
			xs->cb.stream_end(xs->ctx);
		return;
	}
	if (xs->cur == NULL)	/* cannot happen: expat matches tags */
		return;
	if (xs_token_end(xs) - xs->stanza_start > (long long)xs->max_bytes) {
		xs_fail(xs, XSE_POLICY_VIOLATION, "stanza too large");
		return;
	}
	if (xml_flush_text(xs->cur, &xs->text) != L_OK) {
		xs_fail(xs, XSE_INTERNAL, "out of memory");
		return;
	}
	n = xs->cur;
	xs->cur = n->parent;
	xs->depth--;
	if (xs->depth == 1) {
		xs->stanza = NULL;
		xs->mark = xs_token_end(xs);
		if (xs->cb.element != NULL)
			xs->cb.element(xs->ctx, n);
		else
			xml_node_free(n);
	}
}

static void XMLCALL
xs_chars(void *ud, const XML_Char *s, int len)
{
	struct xml_stream *xs = ud;
	int rc;

	if (xs_dead(xs))
		return;
	if (xs->depth >= 2) {
		if ((rc = buf_append(&xs->text, s, (size_t)len)) != L_OK)
			xs_fail(xs, rc == L_ERR_LIMIT ? XSE_POLICY_VIOLATION :
			    XSE_INTERNAL, rc == L_ERR_LIMIT ?
			    "stanza too large" : "out of memory");
		return;
	}
	/* Between stanzas only whitespace (keepalives) may appear. */
	for (int i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r') {
			xs_fail(xs, XSE_BAD_FORMAT, "text at stream level");
			return;
		}
	}
	xs->mark = xs_token_end(xs);
}

static void XMLCALL
xs_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	xs_fail(ud, XSE_RESTRICTED_XML, "DOCTYPE");
}

static void XMLCALL
xs_entity(void *ud, const XML_Char *name, int is_pe, const XML_Char *value,
    int value_len, const XML_Char *base, const XML_Char *sysid,
    const XML_Char *pubid, const XML_Char *notation)
{
	xs_fail(ud, XSE_RESTRICTED_XML, "entity declaration");
}

static void XMLCALL
xs_comment(void *ud, const XML_Char *data)
{
	xs_fail(ud, XSE_RESTRICTED_XML, "comment");
}

static void XMLCALL
xs_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	xs_fail(ud, XSE_RESTRICTED_XML, "processing instruction");
}

static void
xs_install(struct xml_stream *xs)
{
	XML_SetHashSalt(xs->p, xml_hash_salt());
	XML_SetUserData(xs->p, xs);
	XML_SetElementHandler(xs->p, xs_start, xs_end);
	XML_SetCharacterDataHandler(xs->p, xs_chars);
	XML_SetStartNamespaceDeclHandler(xs->p, xs_ns_start);
	XML_SetStartDoctypeDeclHandler(xs->p, xs_doctype);
	XML_SetEntityDeclHandler(xs->p, xs_entity);
	XML_SetCommentHandler(xs->p, xs_comment);
	XML_SetProcessingInstructionHandler(xs->p, xs_pi);
	XML_SetParamEntityParsing(xs->p, XML_PARAM_ENTITY_PARSING_NEVER);
}

/* Clears the per-stream state (not the expat parser). */
static void
xs_clear(struct xml_stream *xs)
{
	xml_node_free(xs->stanza);
	xs->stanza = NULL;
	xs->cur = NULL;
	buf_reset(&xs->text);
	free(xs->default_ns);
	xs->default_ns = NULL;
	xs->depth = 0;
	xs->ndecls = 0;
	xs->fed = xs->mark = xs->stanza_start = xs->stop_pos = 0;
	xs->stopped = false;
	xs->reset_pending = false;
	xs->err = XSE_NONE;
	xs->errtext[0] = '\0';
}

struct xml_stream *
xml_stream_new(const struct xml_stream_limits *lim,
    const struct xml_stream_cb *cb, void *ctx)
{
	struct xml_stream *xs;

	if ((xs = calloc(1, sizeof(*xs))) == NULL)
		return NULL;
	xs->max_bytes = XS_DEFAULT_STANZA_BYTES;
	xs->max_depth = XS_DEFAULT_DEPTH;
	xs->max_attrs = XS_DEFAULT_ATTRS;
	if (lim != NULL) {
		if (lim->max_stanza_bytes)
			xs->max_bytes = lim->max_stanza_bytes;
		if (lim->max_depth)
			xs->max_depth = lim->max_depth;
		if (lim->max_attrs)
			xs->max_attrs = lim->max_attrs;
	}
	if (xs->max_bytes > INT_MAX / 2)
		xs->max_bytes = INT_MAX / 2;
	if (cb != NULL)
		xs->cb = *cb;
	xs->ctx = ctx;
	/* Text never outgrows the stanza that holds it. */
	buf_init(&xs->text, xs->max_bytes);
	/* RFC 6120 streams are UTF-8 whatever an XML declaration says. */
	if ((xs->p = XML_ParserCreateNS("UTF-8", XML_NS_SEP)) == NULL) {
		free(xs);
		return NULL;
	}
	xs_install(xs);
	return xs;
}

void
xml_stream_free(struct xml_stream *xs)
{
	if (xs == NULL)
		return;
	xs_clear(xs);
	buf_cleanup(&xs->text);
	XML_ParserFree(xs->p);
	free(xs);
}

static int
xs_reset_now(struct xml_stream *xs)
{
	xs_clear(xs);
	if (XML_ParserReset(xs->p, "UTF-8") != XML_TRUE) {
		/* Only fails for child parsers; recreate to be safe. */
		XML_ParserFree(xs->p);
		xs->p = XML_ParserCreateNS("UTF-8", XML_NS_SEP);
		if (xs->p == NULL) {
			/* Leave a parser that refuses input until reset. */
			xs->err = XSE_INTERNAL;
			snprintf(xs->errtext, sizeof(xs->errtext),
			    "out of memory");
			return L_ERR_NOMEM;
		}
	}
	xs_install(xs);
	return L_OK;
}

int
xml_stream_reset(struct xml_stream *xs)
{
	if (xs->in_feed) {
		/* Called from a callback: expat is on the stack, so cut the
		 * input here and reset once xml_stream_feed unwinds. */
		xml_stream_stop(xs);
		xs->reset_pending = true;
		return L_OK;
	}
	if (xs->p == NULL) {
		if ((xs->p = XML_ParserCreateNS("UTF-8", XML_NS_SEP)) == NULL)
			return L_ERR_NOMEM;
		xs_clear(xs);
		xs_install(xs);
		return L_OK;
	}
	return xs_reset_now(xs);
}

void
xml_stream_stop(struct xml_stream *xs)
{
	if (xs->stopped || xs->err != XSE_NONE)
		return;
	xs->stopped = true;
	if (xs->in_feed) {
		xs->stop_pos = xs_token_end(xs);
		XML_StopParser(xs->p, XML_FALSE);
	} else {
		xs->stop_pos = xs->fed;
	}
}

static enum xml_stream_err
xs_map_expat(enum XML_Error e)
{
	switch (e) {
	case XML_ERROR_NO_MEMORY:
		return XSE_INTERNAL;
	case XML_ERROR_UNDEFINED_ENTITY:
	case XML_ERROR_PARAM_ENTITY_REF:
	case XML_ERROR_BINARY_ENTITY_REF:
	case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
	case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
		return XSE_RESTRICTED_XML;
	default:
		return XSE_NOT_WELL_FORMED;
	}
}

int
xml_stream_feed(struct xml_stream *xs, const char *data, size_t len,
    size_t *consumed)
{
	long long base = xs->fed, pending, room;
	size_t off = 0, slice;
	enum XML_Error xe;
	int rc = L_OK;

	*consumed = 0;
	if (xs->p == NULL || xs->err != XSE_NONE)
		return L_ERR_PROTO;
	if (xs->stopped)
		return L_AGAIN;
	xs->in_feed = true;
	while (off < len) {
		/*
		 * Give expat at most one byte more than the stanza limit
		 * allows past the last complete item: a stanza that does not
		 * end within it is over the limit, and expat never holds more
		 * than about twice the limit.
		 */
		pending = xs->fed - xs->mark;
		room = (long long)xs->max_bytes - pending + 1;
		if (room < 1)
			room = 1;
		slice = len - off;
		if ((long long)slice > room)
			slice = (size_t)room;
		if (XML_Parse(xs->p, data + off, (int)slice, XML_FALSE) !=
		    XML_STATUS_OK) {
			if (xs->err != XSE_NONE) {
				rc = L_ERR_PROTO;
				goto out;
			}
			if (xs->stopped) {
				*consumed = (size_t)(xs->stop_pos - base);
				rc = L_AGAIN;
				goto out;
			}
			xe = XML_GetErrorCode(xs->p);
			xs_fail(xs, xs_map_expat(xe), XML_ErrorString(xe));
			rc = L_ERR_PROTO;
			goto out;
		}
		xs->fed += (long long)slice;
		off += slice;
		if (xs->fed - xs->mark > (long long)xs->max_bytes) {
			xs_fail(xs, XSE_POLICY_VIOLATION, "stanza too large");
			rc = L_ERR_PROTO;
			goto out;
		}
	}
	*consumed = len;
out:
	xs->in_feed = false;
	if (xs->reset_pending && rc == L_AGAIN) {
		if (xs_reset_now(xs) != L_OK)
			rc = L_ERR_NOMEM;
	}
	return rc;
}

enum xml_stream_err
xml_stream_error(const struct xml_stream *xs)
{
	return xs->err;
}

const char *
xml_stream_error_text(const struct xml_stream *xs)
{
	if (xs->err == XSE_NONE)
		return "no error";
	return xs->errtext;
}
