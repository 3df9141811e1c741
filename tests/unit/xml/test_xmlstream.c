/*
 * Unit tests for the XMPP stream parser (xmlstream.h): the same trees
 * whatever the chunking, RFC 6120 restricted XML, each limit, invalid
 * UTF-8, stop with consumed bytes for STARTTLS and SASL, and reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml/xmlstream.h"
#include "xmltest.h"

#define HDR "<stream:stream xmlns='jabber:client' " \
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' " \
	"version='1.0' xml:lang='en'>"
#define HDR_SMALL "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"

/* What the callbacks saw. */
struct seen {
	struct xml_stream *xs;
	int starts;
	int ends;
	int elems;
	size_t text_nodes;
	char default_ns[64];
	char to[64];
	struct buf out;		/* each stanza serialized, one per line */
	const char *stop_at;	/* element name that triggers a stop */
	bool reset_in_cb;	/* reset instead of stop */
};

static void
count_text_nodes(const struct xml_node *n, size_t *count)
{
	for (const struct xml_node *c = n->first; c != NULL; c = c->next) {
		if (c->type == XML_NODE_TEXT)
			(*count)++;
		else
			count_text_nodes(c, count);
	}
}

static void
on_start(void *ctx, const struct xml_node *el, const char *default_ns)
{
	struct seen *s = ctx;
	const char *to = xml_attr(el, "to");

	assert_true(xml_is(el, XMLNS_STREAM, "stream"));
	assert_null(el->first);
	s->starts++;
	snprintf(s->default_ns, sizeof(s->default_ns), "%s", default_ns);
	snprintf(s->to, sizeof(s->to), "%s", to != NULL ? to : "");
}

static void
on_element(void *ctx, struct xml_node *el)
{
	struct seen *s = ctx;

	assert_null(el->parent);
	s->elems++;
	count_text_nodes(el, &s->text_nodes);
	assert_int_equal(xml_serialize(el, s->default_ns, &s->out), L_OK);
	assert_int_equal(buf_append(&s->out, "\n", 1), L_OK);
	if (s->stop_at != NULL && strcmp(el->name, s->stop_at) == 0) {
		if (s->reset_in_cb)
			assert_int_equal(xml_stream_reset(s->xs), L_OK);
		else
			xml_stream_stop(s->xs);
	}
	xml_node_free(el);
}

static void
on_end(void *ctx)
{
	((struct seen *)ctx)->ends++;
}

static const struct xml_stream_cb cbs = { on_start, on_element, on_end };

static struct xml_stream *
stream_new(struct seen *s, const struct xml_stream_limits *lim)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->out, 0);
	s->xs = xml_stream_new(lim, &cbs, s);
	assert_non_null(s->xs);
	return s->xs;
}

static void
stream_done(struct seen *s)
{
	xml_stream_free(s->xs);
	buf_cleanup(&s->out);
}

/* A small deterministic generator so failures replay. */
static uint32_t
rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return (uint32_t)(*st >> 11);
}

/*
 * Feeds s in chunks of 1..maxchunk bytes (maxchunk 0 = all at once),
 * re-feeding what a stop left unconsumed.  Returns the first status other
 * than L_OK; *at gets the offset where the feeding ended.
 */
static int
feed_chunks(struct xml_stream *xs, const char *s, size_t len,
    size_t maxchunk, uint64_t *st, size_t *at)
{
	size_t off = 0, n, used;
	int rc;

	while (off < len) {
		n = len - off;
		if (maxchunk != 0) {
			size_t c = 1 + (st != NULL ? rnd(st) % maxchunk :
			    maxchunk - 1);
			if (c < n)
				n = c;
		}
		rc = xml_stream_feed(xs, s + off, n, &used);
		if (rc != L_OK) {
			if (rc == L_AGAIN)
				assert_true(used <= n);
			*at = off + used;
			return rc;
		}
		assert_int_equal(used, n);
		off += n;
	}
	*at = off;
	return L_OK;
}

static const char stream_doc[] =
    "<?xml version='1.0'?>\n" HDR "\n"
    "  <message to='juliet@example.com' id='m1' type='chat'>"
    "<body>Wherefore art thou, Romeo? &lt;&amp;&gt; &quot;&apos; "
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 &#x263A;&#233;\r\n"
    "second line</body>"
    "<slab:securitylabel xmlns:slab='urn:xmpp:sec-label:0'>"
    "<slab:displaymarking fgcolor='black' bgcolor='orange'>NATO SECRET"
    "</slab:displaymarking><slab:label><ConfidentialityLabel "
    "xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0'>"
    "<PolicyIdentifier URI='urn:nato:policy:NATO'>NATO</PolicyIdentifier>"
    "<Classification>SECRET</Classification></ConfidentialityLabel>"
    "</slab:label></slab:securitylabel></message>\n"
    " <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>\n\n"
    "<presence xml:lang='de'><show>away</show>"
    "<status><![CDATA[brb <3 & such]]> and more</status></presence>"
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "</stream:features>\n"
    "</stream:stream>";

static void
test_stream_whole(void **state)
{
	struct seen s;
	struct xml_stream *xs = stream_new(&s, NULL);
	size_t used;

	assert_int_equal(xml_stream_feed(xs, stream_doc, sizeof(stream_doc) - 1,
	    &used), L_OK);
	assert_int_equal(used, sizeof(stream_doc) - 1);
	assert_int_equal(s.starts, 1);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.elems, 4);
	assert_string_equal(s.default_ns, "jabber:client");
	assert_string_equal(s.to, "example.com");
	assert_int_equal(xml_stream_error(xs), XSE_NONE);
	/* Stanzas in the stream's namespace are written without xmlns; the
	 * label keeps its own namespaces as defaults; text is one node. */
	assert_non_null(strstr(s.out.data, "<message to='juliet@example.com' "
	    "id='m1' type='chat'><body>Wherefore art thou, Romeo? "
	    "&lt;&amp;&gt; &quot;&apos; caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 \xe2\x98\xba\xc3\xa9\nsecond line</body>"
	    "<securitylabel xmlns='urn:xmpp:sec-label:0'>"));
	assert_non_null(strstr(s.out.data, "<iq type='get' id='r1'>"
	    "<query xmlns='jabber:iq:roster'/></iq>\n"));
	assert_non_null(strstr(s.out.data, "<presence xml:lang='de'><show>"
	    "away</show><status>brb &lt;3 &amp; such and more</status>"
	    "</presence>\n"));
	assert_non_null(strstr(s.out.data, "<features xmlns='"
	    XMLNS_STREAM "'><bind "));
	stream_done(&s);
}

/* The trees must not depend on how the bytes were cut. */
static void
test_stream_random_chunks(void **state)
{
	struct seen ref, s;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t used, len = sizeof(stream_doc) - 1;
	static const size_t maxes[] = { 1, 2, 3, 7, 16, 64, 300, 5000 };

	stream_new(&ref, NULL);
	assert_int_equal(xml_stream_feed(ref.xs, stream_doc, len, &used), L_OK);

	for (int iter = 0; iter < 400; iter++) {
		size_t maxc = maxes[iter % (sizeof(maxes) / sizeof(maxes[0]))];
		size_t at;

		stream_new(&s, NULL);
		if (feed_chunks(s.xs, stream_doc, len, maxc, &seed, &at) !=
		    L_OK)
			fail_msg("iteration %d: %s", iter,
			    xml_stream_error_text(s.xs));
		assert_int_equal(s.starts, 1);
		assert_int_equal(s.ends, 1);
		assert_int_equal(s.elems, ref.elems);
		assert_int_equal(s.text_nodes, ref.text_nodes);
		assert_string_equal(s.default_ns, ref.default_ns);
		assert_string_equal(s.out.data, ref.out.data);
		stream_done(&s);
	}
	/* One byte at a time, exactly. */
	stream_new(&s, NULL);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(xml_stream_feed(s.xs, stream_doc + i, 1, &used),
		    L_OK);
		assert_int_equal(used, 1);
	}
	assert_string_equal(s.out.data, ref.out.data);
	assert_int_equal(s.text_nodes, ref.text_nodes);
	stream_done(&s);
	stream_done(&ref);
}

/* Feeds doc whole and one byte at a time; both must fail with `want`. */
static void
expect_stream_error(const char *doc, const struct xml_stream_limits *lim,
    enum xml_stream_err want)
{
	size_t len = strlen(doc), at, used;
	struct seen s;

	for (int mode = 0; mode < 2; mode++) {
		stream_new(&s, lim);
		if (feed_chunks(s.xs, doc, len, mode ? 1 : 0, NULL, &at) !=
		    L_ERR_PROTO)
			fail_msg("accepted (mode %d): %s", mode, doc);
		if (xml_stream_error(s.xs) != want)
			fail_msg("got %s (%s), want %s for: %.80s",
			    xml_stream_err_name(xml_stream_error(s.xs)),
			    xml_stream_error_text(s.xs),
			    xml_stream_err_name(want), doc);
		/* The error text names no input. */
		assert_null(strstr(xml_stream_error_text(s.xs), "SECRETVALUE"));
		/* And the parser refuses more input until reset. */
		assert_int_equal(xml_stream_feed(s.xs, " ", 1, &used),
		    L_ERR_PROTO);
		assert_int_equal(used, 0);
		assert_int_equal(xml_stream_error(s.xs), want);
		/* A reset makes it usable again. */
		int starts = s.starts, elems = s.elems;
		assert_int_equal(xml_stream_reset(s.xs), L_OK);
		assert_int_equal(xml_stream_error(s.xs), XSE_NONE);
		assert_int_equal(xml_stream_feed(s.xs, HDR_SMALL "<a/>",
		    strlen(HDR_SMALL "<a/>"), &used), L_OK);
		assert_int_equal(s.starts, starts + 1);
		assert_int_equal(s.elems, elems + 1);
		stream_done(&s);
	}
}

static void
test_restricted_xml(void **state)
{
	static const char *bad[] = {
		"<!DOCTYPE stream:stream>" HDR_SMALL,
		"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
		"<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
		"<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>]>"
		HDR "<message><body>&lol2;</body></message>",
		"<!DOCTYPE s [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>" HDR,
		"<!-- before -->" HDR,
		HDR "<!-- SECRETVALUE -->",
		HDR "<message><body>a<!-- c -->b</body></message>",
		"<?pi before?>" HDR,
		HDR "<?foo bar?>",
		HDR "<message><?foo bar?></message>",
		HDR "<message><body>&xxe;</body></message>",
		HDR "<message to='&ent;'/>",
		HDR "<message><body>&nbsp;</body></message>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_stream_error(bad[i], NULL, XSE_RESTRICTED_XML);
}

static void
test_not_well_formed(void **state)
{
	static const char *bad[] = {
		HDR "<message><body>\xff</body></message>",
		HDR "<message><body>\xc0\xaf</body></message>",
		HDR "<message><body>\xed\xa0\x80</body></message>",
		HDR "<message><body>\xf4\x90\x80\x80</body></message>",
		HDR "<message><body>\xe2\x82</body></message>",
		HDR "<message to='\x80'/>",
		HDR "<message><body>\x01</body></message>",
		HDR "<message><body>&#0;</body></message>",
		HDR "<message><body></message>",
		HDR "<message a='1' a='2'/>",
		HDR "<foo:bar/>",
		HDR "<message>< body/></message>",
		"<stream:stream xmlns:stream='" XMLNS_STREAM "' a=b>",
		HDR "</stream:stream><message/>",
		"\xfe\xff" HDR,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_stream_error(bad[i], NULL, XSE_NOT_WELL_FORMED);
}

static void
test_header_namespace(void **state)
{
	expect_stream_error("<stream xmlns='jabber:client'>", NULL,
	    XSE_INVALID_NAMESPACE);
	expect_stream_error("<stream:stream xmlns:stream='urn:wrong'>", NULL,
	    XSE_INVALID_NAMESPACE);
	expect_stream_error("<stream:features xmlns:stream='" XMLNS_STREAM
	    "'>", NULL, XSE_INVALID_NAMESPACE);
	expect_stream_error(HDR "  SECRETVALUE <message/>", NULL,
	    XSE_BAD_FORMAT);
}

static void
test_limit_stanza_bytes(void **state)
{
	struct xml_stream_limits lim = { .max_stanza_bytes = 1024 };
	struct seen s;
	struct buf doc;
	size_t at, used;
	char body[2048];

	/* A stanza of exactly 1024 bytes passes, 1025 does not. */
	buf_init(&doc, 0);
	memset(body, 'x', sizeof(body));
	buf_append_str(&doc, HDR_SMALL "<m>");
	buf_append(&doc, body, 1024 - 7);
	buf_append_str(&doc, "</m>");
	stream_new(&s, &lim);
	assert_int_equal(feed_chunks(s.xs, doc.data, doc.len, 0, NULL, &at),
	    L_OK);
	assert_int_equal(s.elems, 1);
	stream_done(&s);

	buf_reset(&doc);
	buf_append_str(&doc, HDR_SMALL "<m>");
	buf_append(&doc, body, 1024 - 6);
	buf_append_str(&doc, "</m>");
	expect_stream_error(doc.data, &lim, XSE_POLICY_VIOLATION);

	/* One start tag of a megabyte, fed in one go and a byte at a time:
	 * refused (no handler runs until the tag ends, so this is the
	 * slicing in xml_stream_feed at work). */
	buf_reset(&doc);
	buf_append_str(&doc, HDR_SMALL "<m a='");
	for (int i = 0; i < 512; i++)
		buf_append(&doc, body, sizeof(body));
	buf_append_str(&doc, "'/>");
	expect_stream_error(doc.data, &lim, XSE_POLICY_VIOLATION);
	/* And memory did not grow with it: expat keeps what it buffered
	 * until a reset, so the heap in use shows what it took.  (Under
	 * ASan mallinfo2 reports nothing and this check is moot.) */
	{
		struct mallinfo2 before, after;

		stream_new(&s, &lim);
		before = mallinfo2();
		assert_int_equal(xml_stream_feed(s.xs, doc.data, doc.len,
		    &used), L_ERR_PROTO);
		after = mallinfo2();
		assert_int_equal(xml_stream_error(s.xs), XSE_POLICY_VIOLATION);
		if (after.uordblks > before.uordblks)
			assert_true(after.uordblks - before.uordblks <
			    64 * 1024);
		stream_done(&s);
	}

	/* A header that never ends is bounded too. */
	buf_reset(&doc);
	buf_append_str(&doc, "<stream:stream xmlns:stream='" XMLNS_STREAM "' ");
	for (int i = 0; i < 100; i++)
		buf_append_str(&doc, "                  ");
	expect_stream_error(doc.data, &lim, XSE_POLICY_VIOLATION);

	/* Many small stanzas in one big read are fine, as are long runs of
	 * whitespace keepalives fed a byte at a time. */
	buf_reset(&doc);
	buf_append_str(&doc, HDR_SMALL);
	for (int i = 0; i < 2000; i++)
		buf_append_str(&doc, "<message to='a@b'><body>hi</body></message>");
	stream_new(&s, &lim);
	assert_int_equal(xml_stream_feed(s.xs, doc.data, doc.len, &used), L_OK);
	assert_int_equal(used, doc.len);
	assert_int_equal(s.elems, 2000);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(xml_stream_feed(s.xs, " ", 1, &used), L_OK);
	assert_int_equal(xml_stream_feed(s.xs, "<a/>", 4, &used), L_OK);
	assert_int_equal(s.elems, 2001);
	stream_done(&s);
	buf_cleanup(&doc);
}

static void
test_limit_depth_attrs(void **state)
{
	struct xml_stream_limits lim = { .max_depth = 3, .max_attrs = 3 };
	struct seen s;
	size_t at;
	static const char ok[] = HDR_SMALL "<a x='1' y='2' z='3'><b><c/></b></a>"
	    "<a xmlns='urn:a' xmlns:p='urn:p' p:x='1'/>";

	stream_new(&s, &lim);
	assert_int_equal(feed_chunks(s.xs, ok, sizeof(ok) - 1, 0, NULL, &at),
	    L_OK);
	assert_int_equal(s.elems, 2);
	stream_done(&s);
	expect_stream_error(HDR_SMALL "<a><b><c><d/></c></b></a>", &lim,
	    XSE_POLICY_VIOLATION);
	expect_stream_error(HDR_SMALL "<a w='0' x='1' y='2' z='3'/>", &lim,
	    XSE_POLICY_VIOLATION);
	expect_stream_error(HDR_SMALL "<a x='1' xmlns:p='u' xmlns:q='v' y='2'/>",
	    &lim, XSE_POLICY_VIOLATION);
	/* The header is held to the attribute limit as well. */
	expect_stream_error(HDR, &lim, XSE_POLICY_VIOLATION);
}

/* <starttls/> then TLS bytes: stop right after the element, report how
 * far, reset, and a fresh stream parses on the same object. */
static void
run_stop_reset(bool reset_in_cb, size_t maxchunk)
{
	static const char before[] = HDR
	    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char after[] = "<stream:stream xmlns='jabber:server' "
	    "xmlns:stream='" XMLNS_STREAM "' to='second'><db:result "
	    "xmlns:db='jabber:server:dialback' from='a' to='b'>k</db:result>";
	struct seen s;
	struct buf doc;
	size_t at;
	int rc;

	buf_init(&doc, 0);
	buf_append_str(&doc, before);
	buf_append(&doc, tls, sizeof(tls) - 1);
	stream_new(&s, NULL);
	s.stop_at = "starttls";
	s.reset_in_cb = reset_in_cb;
	rc = feed_chunks(s.xs, doc.data, doc.len, maxchunk, NULL, &at);
	assert_int_equal(rc, L_AGAIN);
	assert_int_equal(at, sizeof(before) - 1);
	assert_int_equal(s.elems, 1);
	if (!reset_in_cb) {
		size_t used;
		/* Stopped: nothing more is taken until the reset. */
		assert_int_equal(xml_stream_feed(s.xs, "<", 1, &used), L_AGAIN);
		assert_int_equal(used, 0);
		assert_int_equal(xml_stream_reset(s.xs), L_OK);
	}
	rc = feed_chunks(s.xs, after, sizeof(after) - 1, maxchunk, NULL, &at);
	assert_int_equal(rc, L_OK);
	assert_int_equal(s.starts, 2);
	assert_string_equal(s.default_ns, "jabber:server");
	assert_string_equal(s.to, "second");
	assert_int_equal(s.elems, 2);
	assert_non_null(strstr(s.out.data, "<result xmlns='jabber:server:"
	    "dialback' from='a' to='b'>k</result>"));
	buf_cleanup(&doc);
	stream_done(&s);
}

static void
test_stop_and_reset(void **state)
{
	run_stop_reset(false, 0);
	run_stop_reset(true, 0);
	run_stop_reset(false, 1);
	run_stop_reset(true, 1);
	run_stop_reset(false, 5);
}

/* SASL success and the new header in one read. */
static void
test_reset_after_sasl(void **state)
{
	static const char doc[] = HDR "<success xmlns='urn:ietf:params:xml:"
	    "ns:xmpp-sasl'/>" HDR "<iq type='set' id='b'/>";
	struct seen s;
	size_t used;

	stream_new(&s, NULL);
	s.stop_at = "success";
	s.reset_in_cb = true;
	assert_int_equal(xml_stream_feed(s.xs, doc, sizeof(doc) - 1, &used),
	    L_AGAIN);
	assert_int_equal(used, strlen(HDR "<success xmlns='urn:ietf:params:"
	    "xml:ns:xmpp-sasl'/>"));
	assert_int_equal(xml_stream_feed(s.xs, doc + used,
	    sizeof(doc) - 1 - used, &used), L_OK);
	assert_int_equal(s.starts, 2);
	assert_int_equal(s.elems, 2);
	stream_done(&s);
}

/* Reset in the middle of a stanza frees the partial tree (ASan checks)
 * and forgets the old stream entirely. */
static void
test_reset_mid_stanza(void **state)
{
	static const char part[] = HDR "<message><body>half a mess";
	static const char fresh[] = HDR_SMALL "<a/></stream:stream>";
	struct seen s;
	size_t used;

	stream_new(&s, NULL);
	assert_int_equal(xml_stream_feed(s.xs, part, sizeof(part) - 1, &used),
	    L_OK);
	assert_int_equal(s.elems, 0);
	assert_int_equal(xml_stream_reset(s.xs), L_OK);
	assert_int_equal(xml_stream_feed(s.xs, fresh, sizeof(fresh) - 1,
	    &used), L_OK);
	assert_int_equal(s.starts, 2);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.elems, 1);
	assert_string_equal(s.default_ns, "");
	assert_string_equal(s.out.data, "<a/>\n");
	/* Reset twice in a row, and right after creation, is harmless. */
	assert_int_equal(xml_stream_reset(s.xs), L_OK);
	assert_int_equal(xml_stream_reset(s.xs), L_OK);
	stream_done(&s);
}

static void
test_err_names(void **state)
{
	assert_string_equal(xml_stream_err_name(XSE_NOT_WELL_FORMED),
	    "not-well-formed");
	assert_string_equal(xml_stream_err_name(XSE_RESTRICTED_XML),
	    "restricted-xml");
	assert_string_equal(xml_stream_err_name(XSE_POLICY_VIOLATION),
	    "policy-violation");
	assert_string_equal(xml_stream_err_name(XSE_INVALID_NAMESPACE),
	    "invalid-namespace");
	assert_string_equal(xml_stream_err_name(XSE_BAD_FORMAT), "bad-format");
	assert_string_equal(xml_stream_err_name(XSE_INTERNAL),
	    "internal-server-error");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_whole),
		cmocka_unit_test(test_stream_random_chunks),
		cmocka_unit_test(test_restricted_xml),
		cmocka_unit_test(test_not_well_formed),
		cmocka_unit_test(test_header_namespace),
		cmocka_unit_test(test_limit_stanza_bytes),
		cmocka_unit_test(test_limit_depth_attrs),
		cmocka_unit_test(test_stop_and_reset),
		cmocka_unit_test(test_reset_after_sasl),
		cmocka_unit_test(test_reset_mid_stanza),
		cmocka_unit_test(test_err_names),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("xmlstream", tests, NULL, NULL);
}
