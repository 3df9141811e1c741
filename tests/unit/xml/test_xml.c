/*
 * Unit tests for the stanza tree, the serializer and the whole-document
 * parser (xml.h): builders and lookup, escaping, namespace declarations,
 * round trips of prefixed input, DTD refusal, limits and error messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmltest.h"

static struct xml_node *
parse_ok(const char *s)
{
	struct xml_node *n = NULL;
	char err[160] = "";
	int rc = xml_parse_doc(s, strlen(s), NULL, &n, err, sizeof(err));

	if (rc != L_OK)
		fail_msg("parse failed: %s", err);
	assert_non_null(n);
	return n;
}

static void
test_tree_build(void **state)
{
	struct xml_node *m, *b, *x, *c;
	char *t;

	m = xml_elem_new("jabber:client", "message");
	assert_non_null(m);
	assert_int_equal(xml_set_attr(m, "to", "a@b"), L_OK);
	assert_int_equal(xml_set_attr(m, "type", "chat"), L_OK);
	assert_int_equal(xml_set_attr(m, "to", "c@d"), L_OK);
	assert_string_equal(xml_attr(m, "to"), "c@d");
	assert_int_equal(m->nattrs, 2);
	assert_int_equal(xml_set_attr(m, "to", NULL), L_OK);
	assert_null(xml_attr(m, "to"));
	assert_string_equal(xml_attr(m, "type"), "chat");
	assert_int_equal(xml_set_attr(m, "absent", NULL), L_OK);

	b = xml_add_child(m, "jabber:client", "body");
	assert_non_null(b);
	assert_int_equal(xml_add_text(b, "hello ", 6), L_OK);
	assert_int_equal(xml_add_text(b, "world", 5), L_OK);
	/* Merged into one text node. */
	assert_ptr_equal(b->first, b->last);
	assert_int_equal(b->first->text_len, 11);
	x = xml_add_child(m, "urn:x", "x");
	c = xml_add_child(m, "urn:y", "x");
	assert_non_null(x);
	assert_non_null(c);

	assert_true(xml_is(m, "jabber:client", "message"));
	assert_true(xml_is(m, NULL, "message"));
	assert_false(xml_is(m, "jabber:server", "message"));
	assert_ptr_equal(xml_child(m, NULL, "x"), x);
	assert_ptr_equal(xml_child(m, "urn:y", NULL), c);
	assert_ptr_equal(xml_next(x, NULL, "x"), c);
	assert_null(xml_next(c, NULL, NULL));
	assert_null(xml_child(m, "urn:z", NULL));

	t = xml_child_text(m, "jabber:client", "body");
	assert_string_equal(t, "hello world");
	free(t);
	assert_null(xml_child_text(m, "jabber:client", "subject"));
	t = xml_text(x);
	assert_string_equal(t, "");
	free(t);

	/* Detach the middle, then the last, then the first child. */
	xml_detach(x);
	assert_null(x->parent);
	assert_ptr_equal(b->next, c);
	xml_node_free(x);
	xml_detach(c);
	assert_ptr_equal(m->last, b);
	assert_null(b->next);
	xml_append(m, c);
	xml_detach(b);
	assert_ptr_equal(m->first, c);
	assert_ptr_equal(m->last, c);
	xml_node_free(b);

	int count = 0;
	XML_FOREACH_CHILD(m, e) {
		assert_string_equal(e->name, "x");
		count++;
	}
	assert_int_equal(count, 1);
	xml_node_free(m);
}

static void
test_tree_copy(void **state)
{
	struct xml_node *a, *cp;
	char *s1, *s2;

	a = parse_ok("<iq xmlns='jabber:client' type='get' id='1'>"
	    "<query xmlns='jabber:iq:roster' ver='x'>a<item jid='j'/>b"
	    "</query></iq>");
	cp = xml_node_copy(a);
	assert_non_null(cp);
	assert_true(xt_equal(a, cp));
	s1 = xt_serialize(a, NULL);
	s2 = xt_serialize(cp, NULL);
	assert_string_equal(s1, s2);
	/* Independent: changing the copy leaves the original. */
	assert_int_equal(xml_set_attr(cp, "id", "2"), L_OK);
	assert_string_equal(xml_attr(a, "id"), "1");
	assert_false(xt_equal(a, cp));
	free(s1);
	free(s2);
	xml_node_free(a);
	xml_node_free(cp);
}

static void
test_serialize_namespaces(void **state)
{
	struct xml_node *m, *c;
	char *s;

	m = xml_elem_new("jabber:client", "message");
	c = xml_add_child(m, "urn:xmpp:sec-label:0", "securitylabel");
	xml_add_child(c, "urn:xmpp:sec-label:0", "displaymarking");
	xml_add_child(c, "", "bare");
	xml_add_child(m, "jabber:client", "body");
	assert_int_equal(xml_set_attr(m, "xml:lang", "en"), L_OK);

	s = xt_serialize(m, "jabber:client");
	assert_string_equal(s, "<message xml:lang='en'>"
	    "<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking/>"
	    "<bare xmlns=''/></securitylabel><body/></message>");
	free(s);
	s = xt_serialize(m, NULL);
	assert_string_equal(s, "<message xmlns='jabber:client' xml:lang='en'>"
	    "<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking/>"
	    "<bare xmlns=''/></securitylabel><body/></message>");
	free(s);
	xml_node_free(m);

	/* Namespaced attributes get a generated prefix, one per URI. */
	m = xml_elem_new("", "a");
	xml_set_attr(m, "urn:p x", "1");
	xml_set_attr(m, "y", "2");
	xml_set_attr(m, "urn:q x", "3");
	xml_set_attr(m, "urn:p z", "4");
	xml_set_attr(m, "xmlns:bogus", "urn:ignored");
	s = xt_serialize(m, NULL);
	assert_string_equal(s, "<a xmlns:ns1='urn:p' ns1:x='1' y='2' "
	    "xmlns:ns3='urn:q' ns3:x='3' ns1:z='4'/>");
	free(s);
	xml_node_free(m);
}

static void
test_serialize_escaping(void **state)
{
	struct xml_node *m, *back = NULL;
	struct buf b;
	char *s;
	static const char nasty[] = "<a href=\"x\">&amp; 'q' ]]> \t\r\n";

	m = xml_elem_new("jabber:client", "body");
	assert_int_equal(xml_set_attr(m, "v", nasty), L_OK);
	assert_int_equal(xml_add_text(m, nasty, sizeof(nasty) - 1), L_OK);
	s = xt_serialize(m, NULL);
	assert_string_equal(s, "<body xmlns='jabber:client' "
	    "v='&lt;a href=&quot;x&quot;&gt;&amp;amp; &apos;q&apos; ]]&gt; "
	    "&#9;&#13;&#10;'>"
	    "&lt;a href=&quot;x&quot;&gt;&amp;amp; &apos;q&apos; ]]&gt; "
	    "\t&#13;\n</body>");
	/* And a parser reads back exactly what we had. */
	assert_int_equal(xml_parse_doc(s, strlen(s), NULL, &back, NULL, 0),
	    L_OK);
	assert_true(xt_equal(m, back));
	free(s);
	xml_node_free(back);
	xml_node_free(m);

	/* Controls XML cannot carry never reach the wire. */
	buf_init(&b, 0);
	assert_int_equal(xml_escape(&b, "a\x01" "b\x1f", 4), L_OK);
	assert_string_equal(b.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	buf_cleanup(&b);
}

/* Prefixed input (as clients write labels) comes out with default
 * namespaces and re-parses to the same tree. */
static void
test_roundtrip_prefixed(void **state)
{
	static const char *docs[] = {
		"<message xmlns='jabber:client' to='a@b' "
		"xmlns:slab='urn:xmpp:sec-label:0' "
		"xmlns:nato='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0'>"
		"<body>x &amp; y</body>"
		"<slab:securitylabel><slab:displaymarking fgcolor='black' "
		"bgcolor='red'>SECRET</slab:displaymarking><slab:label>"
		"<nato:ConfidentialityLabel><nato:PolicyIdentifier "
		"URI='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0:policy:NATO'>"
		"NATO</nato:PolicyIdentifier><nato:Classification>SECRET"
		"</nato:Classification></nato:ConfidentialityLabel>"
		"</slab:label></slab:securitylabel></message>",
		"<p:a xmlns:p='urn:p' xmlns:q='urn:q' q:at='1' p:at='2' at='3' "
		"xml:lang='fr'><b xmlns='urn:p'><q:c/></b><d xmlns=''/>"
		"<![CDATA[<raw> & ]]></p:a>",
		"<r>caf\xc3\xa9 \xf0\x9f\x98\x80 &#x1F600; &#233;</r>",
		/* The xml: prefix cannot become a default namespace. */
		"<a xmlns='urn:a'><xml:x xml:lang='en'><b/></xml:x></a>",
		"<a xmlns='urn:sp' xmlns:sp='urn:sp' sp:x='1' sp:y='2' x='3'/>",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct xml_node *a = parse_ok(docs[i]), *b;
		char *s = xt_serialize(a, NULL), *s2;

		/* No prefix from the input survives. */
		assert_null(strstr(s, "<slab:"));
		assert_null(strstr(s, "<nato:"));
		assert_null(strstr(s, "<p:"));
		b = parse_ok(s);
		assert_true(xt_equal(a, b));
		/* And serializing is stable. */
		s2 = xt_serialize(b, NULL);
		assert_string_equal(s, s2);
		free(s);
		free(s2);
		xml_node_free(a);
		xml_node_free(b);
	}
}

static void
test_doc_attrs_and_text(void **state)
{
	struct xml_node *a = parse_ok("<?xml version='1.0' encoding='UTF-8'?>\n"
	    "<!-- a comment --><?pi skipped?>"
	    "<a xmlns='urn:a' xmlns:o='urn:o' o:k='v' k='w' xml:lang='de'>"
	    "one<!-- gone -->two<?x y?><b/>three</a>");
	char *t;

	assert_string_equal(a->ns, "urn:a");
	assert_string_equal(xml_attr(a, "urn:o k"), "v");
	assert_string_equal(xml_attr(a, "k"), "w");
	assert_string_equal(xml_attr(a, "xml:lang"), "de");
	assert_null(xml_attr(a, "xmlns"));
	t = xml_text(a);
	assert_string_equal(t, "onetwothree");
	free(t);
	assert_string_equal(xml_child(a, "urn:a", "b")->ns, "urn:a");
	xml_node_free(a);
}

static void
expect_doc_error(const char *doc, const struct xml_doc_limits *lim,
    int want_rc, const char *want_err)
{
	struct xml_node *n = (struct xml_node *)1;
	char err[160] = "";
	int rc = xml_parse_doc(doc, strlen(doc), lim, &n, err, sizeof(err));

	assert_int_equal(rc, want_rc);
	assert_null(n);
	if (strstr(err, want_err) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want_err);
	assert_true(strncmp(err, "line ", 5) == 0);
	assert_non_null(strstr(err, ", column "));
}

static void
test_doc_refuses_dtd(void **state)
{
	expect_doc_error("<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    "]>\n<lolz>&lol3;</lolz>", NULL, L_ERR_INVAL, "DOCTYPE");
	expect_doc_error("<!DOCTYPE a SYSTEM 'file:///etc/passwd'><a/>", NULL,
	    L_ERR_INVAL, "DOCTYPE");
	expect_doc_error("<a>&undefined;</a>", NULL, L_ERR_INVAL,
	    "undefined entity");
	/* Single-byte encodings are refused; UTF-8 and US-ASCII are not. */
	expect_doc_error("<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
	    NULL, L_ERR_INVAL, "UTF-8");
	xml_node_free(parse_ok("<?xml version='1.0' encoding='us-ascii'?><a/>"));
}

static void
test_doc_errors_and_limits(void **state)
{
	struct xml_doc_limits lim = { .max_bytes = 64, .max_depth = 3,
	    .max_attrs = 2 };
	struct xml_node *n;

	expect_doc_error("<a>\n  <b></c></a>", NULL, L_ERR_INVAL,
	    "line 2, column ");
	expect_doc_error("<a>\xff</a>", NULL, L_ERR_INVAL, "line 1");
	expect_doc_error("", NULL, L_ERR_INVAL, "no element");
	expect_doc_error("<a/><b/>", NULL, L_ERR_INVAL, "junk");
	expect_doc_error("<a><b><c><d/></c></b></a>", &lim, L_ERR_LIMIT,
	    "nested too deeply");
	expect_doc_error("<a x='1' y='2' z='3'/>", &lim, L_ERR_LIMIT,
	    "too many attributes");
	expect_doc_error("<a>0123456789012345678901234567890123456789"
	    "012345678901234567890</a>", &lim, L_ERR_LIMIT, "too large");
	/* Exactly at the limits is fine. */
	assert_int_equal(xml_parse_doc("<a x='1' y='2'><b><c/></b></a>", 30,
	    &lim, &n, NULL, 0), L_OK);
	xml_node_free(n);
}

static void
test_parse_file(void **state)
{
	char path[] = "/tmp/liaison-xmltest-XXXXXX";
	static const char doc[] = "<spif xmlns='urn:spif'>x</spif>";
	struct xml_doc_limits lim = { .max_bytes = 10 };
	struct xml_node *n;
	char err[160];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, sizeof(doc) - 1), sizeof(doc) - 1);
	close(fd);
	assert_int_equal(xml_parse_file(path, NULL, &n, err, sizeof(err)), L_OK);
	assert_true(xml_is(n, "urn:spif", "spif"));
	xml_node_free(n);
	assert_int_equal(xml_parse_file(path, &lim, &n, err, sizeof(err)),
	    L_ERR_LIMIT);
	assert_null(n);
	unlink(path);
	assert_int_equal(xml_parse_file(path, NULL, &n, err, sizeof(err)),
	    L_ERR_NOTFOUND);
	assert_non_null(strstr(err, path));
}

/* Content hash and equality: equal trees hash alike; any change to a
 * name, namespace, attribute, text or child order makes them unequal
 * (and, for these, hash differently). */
static void
test_tree_hash_equal(void **state)
{
	const char *base = "<l xmlns='urn:a'><c T='P' N='x'><v>NATO</v><v>UKR</v></c></l>";
	const char *variants[] = {
		"<l xmlns='urn:b'><c T='P' N='x'><v>NATO</v><v>UKR</v></c></l>",
		"<l xmlns='urn:a'><c T='R' N='x'><v>NATO</v><v>UKR</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='y'><v>NATO</v><v>UKR</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='x'><v>NATO</v><v>UKS</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='x'><v>UKR</v><v>NATO</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='x'><v>NATO</v></c></l>",
		"<l xmlns='urn:a'><c T='P'><v>NATO</v><v>UKR</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='x'><w>NATO</w><v>UKR</v></c></l>",
		"<l xmlns='urn:a'><c T='P' N='x'><v>NATO</v><v>UKR</v></c> </l>",
	};
	struct xml_node *a = parse_ok(base), *b = parse_ok(base);

	(void)state;
	assert_true(xml_equal(a, b));
	assert_true(xml_hash(a, 1) == xml_hash(b, 1));
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		struct xml_node *v = parse_ok(variants[i]);

		assert_false(xml_equal(a, v));
		assert_false(xml_hash(a, 1) == xml_hash(v, 1));
		xml_node_free(v);
	}
	xml_node_free(a);
	xml_node_free(b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_build),
		cmocka_unit_test(test_tree_copy),
		cmocka_unit_test(test_tree_hash_equal),
		cmocka_unit_test(test_serialize_namespaces),
		cmocka_unit_test(test_serialize_escaping),
		cmocka_unit_test(test_roundtrip_prefixed),
		cmocka_unit_test(test_doc_attrs_and_text),
		cmocka_unit_test(test_doc_refuses_dtd),
		cmocka_unit_test(test_doc_errors_and_limits),
		cmocka_unit_test(test_parse_file),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("xml", tests, NULL, NULL);
}
