/*
 * The XMPP stream parser: expat in namespace mode, fed bytes as they
 * arrive, in any chunk sizes.  It reports the stream header, each
 * complete top-level element (a stanza or stream-level element, as a
 * tree the callback then owns), and the end of the stream.
 *
 * RFC 6120 restricted XML: a DOCTYPE, entity declaration, entity
 * reference other than the five predefined ones, comment or processing
 * instruction ends the stream with <restricted-xml/>.  Limits end it with
 * <policy-violation/> before memory grows: the bytes of one stanza, the
 * element depth, attributes per element.  Malformed XML or invalid UTF-8
 * gives <not-well-formed/>; a stream header not in
 * http://etherx.jabber.org/streams gives <invalid-namespace/>.
 * After an error, the parser refuses further input until reset.
 */
#ifndef LIAISON_XML_XMLSTREAM_H
#define LIAISON_XML_XMLSTREAM_H

#include <stddef.h>

#include "xml/xml.h"

#define XMLNS_STREAM "http://etherx.jabber.org/streams"

/* The stream error condition to send, as named in RFC 6120 §4.9.3. */
enum xml_stream_err {
	XSE_NONE = 0,
	XSE_NOT_WELL_FORMED,	/* "not-well-formed" */
	XSE_RESTRICTED_XML,	/* "restricted-xml" */
	XSE_POLICY_VIOLATION,	/* "policy-violation" (a limit) */
	XSE_INVALID_NAMESPACE,	/* "invalid-namespace" */
	XSE_BAD_FORMAT,		/* "bad-format" */
	XSE_INTERNAL,		/* "internal-server-error" (no memory) */
};

/* The RFC 6120 element name of a condition, e.g. "restricted-xml". */
const char *xml_stream_err_name(enum xml_stream_err e);

/* A zero field takes the default: 256 KiB, depth 32, 64 attributes.
 * max_depth counts the stanza itself as 1 (<message><body/></message> is
 * 2).  Namespace declarations count as attributes.  The stream header
 * must fit in max_stanza_bytes too. */
struct xml_stream_limits {
	size_t max_stanza_bytes;	/* bytes of one top-level element */
	unsigned max_depth;		/* element nesting below the stream */
	unsigned max_attrs;		/* attributes on one element */
};

struct xml_stream_cb {
	/* The <stream:stream> header: el holds its attributes (no children);
	 * el->ns is its namespace; the callback does not keep el.
	 * `default_ns` is the default namespace declared on it ("" if none;
	 * "jabber:client", "jabber:server"...). */
	void (*stream_start)(void *ctx, const struct xml_node *el,
	    const char *default_ns);
	/* A complete level-1 element; the callback owns el. */
	void (*element)(void *ctx, struct xml_node *el);
	/* </stream:stream> was received. */
	void (*stream_end)(void *ctx);
};

struct xml_stream;

/* Returns NULL on allocation failure. */
struct xml_stream *xml_stream_new(const struct xml_stream_limits *lim,
    const struct xml_stream_cb *cb, void *ctx);
void xml_stream_free(struct xml_stream *xs);
/* Starts a new stream (after STARTTLS and after SASL success): discards
 * all parser state. Returns L_OK or L_ERR_NOMEM. */
int xml_stream_reset(struct xml_stream *xs);
/*
 * Feeds bytes.  Callbacks run from inside this call.  A callback may call
 * xml_stream_stop() (e.g. before a reset) so that the rest of the buffer
 * is not parsed; xml_stream_feed then returns L_AGAIN and *consumed says
 * how many bytes were used (the rest must be fed after the reset).
 * Returns L_OK (all consumed), L_AGAIN (stopped), or L_ERR_PROTO with
 * xml_stream_error() telling which stream error to send.
 *
 * A stopped parser takes no more input (feed returns L_AGAIN, consumed 0)
 * until xml_stream_reset().  xml_stream_reset() may also be called from
 * inside a callback: it then stops there and the reset happens as
 * xml_stream_feed returns (L_AGAIN, *consumed up to the cut), so the
 * caller feeds the rest (after its TLS handshake, say) to the new stream.
 * Non-whitespace text between stanzas gives <bad-format/>.  Neither
 * xml_stream_free() nor a nested xml_stream_feed() may be called from a
 * callback.
 */
int xml_stream_feed(struct xml_stream *xs, const char *data, size_t len,
    size_t *consumed);
void xml_stream_stop(struct xml_stream *xs);
enum xml_stream_err xml_stream_error(const struct xml_stream *xs);
/* A short description of the last error for logs (no input content). */
const char *xml_stream_error_text(const struct xml_stream *xs);

#endif
