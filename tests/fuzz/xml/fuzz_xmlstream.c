/*
 * libFuzzer target for the XMPP stream parser.  The first two input bytes
 * choose the limits and the chunking; the rest is the stream.  Besides
 * the sanitizers, three oracles: every stanza re-serializes to XML that
 * the document parser reads back as the same tree; the outcome does not
 * depend on the chunking; and a reset inside a callback (on <proceed/> or
 * <success/>) leaves the rest of the input to a fresh stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml/xmlstream.h"
#include "xmltest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct xml_stream *xs;
	struct buf out;
	char default_ns[256];
	int starts, ends;
};

static void
on_start(void *ctx, const struct xml_node *el, const char *dns)
{
	struct run *r = ctx;

	r->starts++;
	snprintf(r->default_ns, sizeof(r->default_ns), "%s", dns);
	if (xml_serialize(el, NULL, &r->out) != L_OK)
		abort();
}

static void
on_element(void *ctx, struct xml_node *el)
{
	struct run *r = ctx;
	struct xml_node *back = NULL;
	char *s = xt_serialize(el, NULL), err[160];

	/* What we write must be well-formed and mean the same tree. */
	if (xml_parse_doc(s, strlen(s), NULL, &back, err, sizeof(err)) != L_OK) {
		fprintf(stderr, "re-parse failed: %s\n%s\n", err, s);
		abort();
	}
	if (!xt_equal(el, back)) {
		fprintf(stderr, "re-parse differs:\n%s\n", s);
		abort();
	}
	free(s);
	xml_node_free(back);
	if (buf_append_str(&r->out, "|") != L_OK ||
	    xml_serialize(el, r->default_ns, &r->out) != L_OK)
		abort();
	if (strcmp(el->name, "proceed") == 0 || strcmp(el->name, "success") == 0)
		if (xml_stream_reset(r->xs) != L_OK)
			abort();
	xml_node_free(el);
}

static void
on_end(void *ctx)
{
	((struct run *)ctx)->ends++;
}

static uint32_t
rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* Feeds everything, chunk sizes from 1..maxchunk (0 = whole), resuming
 * after a stop/reset.  Returns the stream error at the end. */
static enum xml_stream_err
run_stream(struct run *r, const struct xml_stream_limits *lim,
    const char *p, size_t len, size_t maxchunk, uint32_t seed)
{
	static const struct xml_stream_cb cb = { on_start, on_element, on_end };
	size_t off = 0, n, used;
	enum xml_stream_err e;
	int rc;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 0);
	if ((r->xs = xml_stream_new(lim, &cb, r)) == NULL)
		abort();
	seed |= 1;
	while (off < len) {
		n = len - off;
		if (maxchunk != 0) {
			size_t c = 1 + rnd(&seed) % maxchunk;
			if (c < n)
				n = c;
		}
		rc = xml_stream_feed(r->xs, p + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (rc == L_ERR_PROTO)
			break;
		if (rc == L_AGAIN)
			continue;	/* reset done in the callback */
		if (rc != L_OK || used != n)
			abort();
	}
	e = xml_stream_error(r->xs);
	if (e != XSE_NONE && (rc = xml_stream_feed(r->xs, "<", 1, &used)) !=
	    L_ERR_PROTO)
		abort();
	/* Reset and reuse must always work. */
	if (xml_stream_reset(r->xs) != L_OK ||
	    xml_stream_feed(r->xs, "<s:stream xmlns:s='" XMLNS_STREAM "'>",
	    sizeof("<s:stream xmlns:s='" XMLNS_STREAM "'>") - 1, &used) != L_OK)
		abort();
	xml_stream_free(r->xs);
	return e;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 16, 64, 512, 4096 };
	struct xml_stream_limits lim = { 0 };
	struct run a, b;
	enum xml_stream_err ea, eb;

	if (size < 2)
		return 0;
	if (data[0] & 1) {
		lim.max_stanza_bytes = 64 + data[1] * 8;
		lim.max_depth = 1 + (data[0] >> 4);
		lim.max_attrs = 1 + (data[0] >> 5);
	}
	ea = run_stream(&a, &lim, (const char *)data + 2, size - 2, 0, 0);
	eb = run_stream(&b, &lim, (const char *)data + 2, size - 2,
	    chunks[(data[0] >> 1) & 7], data[1] * 2654435761u);
	/*
	 * The limit check may fire a little earlier or later with the
	 * slicing, and expat may hold back its verdict on the last few
	 * bytes until more arrive (so one run may see an error the other
	 * does not yet); anything else must not depend on the chunking.
	 */
	if (ea != XSE_POLICY_VIOLATION && eb != XSE_POLICY_VIOLATION) {
		if ((ea != eb && ea != XSE_NONE && eb != XSE_NONE) ||
		    a.starts != b.starts || a.ends != b.ends ||
		    a.out.len != b.out.len ||
		    (a.out.len && memcmp(a.out.data, b.out.data, a.out.len))) {
			fprintf(stderr, "chunking changed the outcome: %s/%s\n",
			    xml_stream_err_name(ea), xml_stream_err_name(eb));
			abort();
		}
	}
	buf_cleanup(&a.out);
	buf_cleanup(&b.out);
	return 0;
}
