/*
 * Unit tests of JID preparation (RFC 7622 with stringprep profiles): the
 * split into parts, case folding, Unicode mapping, prohibited characters,
 * length limits, IP literals, formatting, and the ASCII fast path checked
 * against libidn itself for every ASCII character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stringprep.h>

#include "base/errors.h"
#include "xmpp/jid.h"

/* Parses s and checks the three prepared parts (NULL = absent). */
static void
expect_jid(const char *s, const char *node, const char *domain,
    const char *resource)
{
	struct jid j;

	assert_int_equal(jid_parse(s, &j), 0);
	if (node == NULL)
		assert_null(j.node);
	else
		assert_string_equal(j.node, node);
	assert_string_equal(j.domain, domain);
	if (resource == NULL)
		assert_null(j.resource);
	else
		assert_string_equal(j.resource, resource);
	jid_cleanup(&j);
}

static void
expect_bad(const char *s)
{
	struct jid j;

	assert_int_equal(jid_parse(s, &j), L_ERR_INVAL);
	assert_null(j.node);
	assert_null(j.domain);
	assert_null(j.resource);
}

static void
test_valid(void **state)
{
	expect_jid("example.com", NULL, "example.com", NULL);
	expect_jid("user@example.com", "user", "example.com", NULL);
	expect_jid("user@example.com/res", "user", "example.com", "res");
	expect_jid("example.com/res", NULL, "example.com", "res");
	expect_jid("a@b", "a", "b", NULL);
	/* The resource is everything after the first '/', '@' and '/'
	 * included (RFC 7622 3.2). */
	expect_jid("u@d/r/x@y", "u", "d", "r/x@y");
	expect_jid("d/u@x", NULL, "d", "u@x");
	/* Spaces are allowed in resources. */
	expect_jid("u@d/with space", "u", "d", "with space");
	expect_jid("user@xn--bcher-kva.example", "user",
	    "xn--bcher-kva.example", NULL);
}

static void
test_case_folding(void **state)
{
	expect_jid("User@Example.COM/Res", "user", "example.com", "Res");
	/* Nodeprep case-folds beyond ASCII; resourceprep does not fold. */
	expect_jid("\xc3\x84" "BC@Example.com/\xc3\x84", "\xc3\xa4" "bc",
	    "example.com", "\xc3\x84");
	/* U+00DF folds to "ss" under B.2. */
	expect_jid("stra\xc3\x9f" "e@d", "strasse", "d", NULL);
	/* Unicode domain lower-cased by Nameprep. */
	expect_jid("u@B\xc3\x9c" "CHER.example", "u", "b\xc3\xbc" "cher.example",
	    NULL);
}

static void
test_fullwidth(void **state)
{
	/* Fullwidth "USER@example．com/ＲＥＳ": NFKC maps to ASCII; the
	 * fullwidth full stop separates labels like '.'. */
	expect_jid("\xef\xbc\xb5\xef\xbc\xb3\xef\xbc\xa5\xef\xbc\xb2@"
	    "example\xef\xbc\x8e" "com/\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xb3",
	    "user", "example.com", "RES");
	/* Ideographic full stop U+3002 too. */
	expect_jid("u@example\xe3\x80\x82" "org", "u", "example.org", NULL);
	/* Soft hyphen is mapped to nothing. */
	expect_jid("a\xc2\xad" "b@d", "ab", "d", NULL);
}

static void
test_invalid(void **state)
{
	static const char *bad[] = {
		"", "@example.com", "user@", "user@example.com/", "/res",
		"user@/res", "@", "us er@example.com", "a\"b@d", "a&b@d",
		"a'b@d", "a:b@d", "a<b@d", "a>b@d", "a@b@c", "a@b..c",
		"a@.b", "a@-b.c", "a@b-.c", "a@b_c.d", "a@.", "a@..",
		"a@b\x01", "a\x01@b", "u@d/r\x7f", "\xff@d", "\xc3@d",
		"\xc0\x80@d",			/* overlong NUL */
		"\xed\xa0\x80@d",		/* surrogate */
		"a\xc2\xa0" "b@d",		/* non-ASCII space, C.1.2 */
		"\xd7\x90" "a@d",		/* mixed RTL and LTR */
		"u@999.1.1.1", "u@1.2.3", "u@[::1", "u@[zz]", "u@[]",
		"u@[1.2.3.4]", "u@d/\xe2\x80\xae",	/* RLO, C.8 */
		"\xef\xbf\xbf@d",		/* non-character */
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct jid j;
		int rc = jid_parse(bad[i], &j);

		if (rc != L_ERR_INVAL)
			fail_msg("accepted \"%s\" (case %zu)", bad[i], i);
	}
	expect_bad("a@b.c/\xc3");
}

static void
test_ip_literal(void **state)
{
	expect_jid("user@192.168.0.1/r", "user", "192.168.0.1", "r");
	expect_jid("user@[::1]", "user", "[::1]", NULL);
	expect_jid("[2001:DB8:0:0:0:0:0:1]/x", NULL, "[2001:db8::1]", "x");
}

static void
test_trailing_dot(void **state)
{
	expect_jid("user@example.com./r", "user", "example.com", "r");
	expect_jid("example.com.", NULL, "example.com", NULL);
	expect_bad("example.com..");
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_lengths(void **state)
{
	char *node = repeat('n', JID_PART_MAX), *res = repeat('R',
	    JID_PART_MAX), *dom = repeat('a', JID_PART_MAX);
	char *s = malloc(4 * JID_PART_MAX + 16);
	char out[JID_FORMAT_MAX + 1];
	struct jid j;

	assert_non_null(s);
	/* A 1023-byte domain of 63-byte labels. */
	for (size_t i = 63; i < JID_PART_MAX; i += 64)
		dom[i] = '.';
	sprintf(s, "%s@%s/%s", node, dom, res);
	assert_int_equal(jid_parse(s, &j), 0);
	assert_int_equal(strlen(j.node), JID_PART_MAX);
	assert_int_equal(strlen(j.domain), JID_PART_MAX);
	assert_int_equal(strlen(j.resource), JID_PART_MAX);
	assert_int_equal(jid_format(&j, true, out, sizeof out),
	    JID_FORMAT_MAX);
	assert_string_equal(out, s);
	jid_cleanup(&j);

	sprintf(s, "%sn@%s/%s", node, dom, res);
	expect_bad(s);
	sprintf(s, "%s@%sa/%s", node, dom, res);
	expect_bad(s);
	sprintf(s, "%s@%s/%sR", node, dom, res);
	expect_bad(s);
	/* A 64-byte label. */
	free(dom);
	dom = repeat('a', 64);
	sprintf(s, "u@%s.com", dom);
	expect_bad(s);
	/* Length counts after preparation: 1023 'ß' become 2046 bytes. */
	s[0] = '\0';
	for (int i = 0; i < 600; i++)
		strcat(s, "\xc3\x9f");
	strcat(s, "@d");
	expect_bad(s);
	free(node);
	free(res);
	free(dom);
	free(s);
}

static void
test_format(void **state)
{
	struct jid j, k;
	struct buf b;
	char small[8], out[64];

	assert_int_equal(jid_parse("User@Example.com/Home", &j), 0);
	assert_int_equal(jid_format(&j, true, out, sizeof out), 21);
	assert_string_equal(out, "user@example.com/Home");
	assert_int_equal(jid_format(&j, false, out, sizeof out), 16);
	assert_string_equal(out, "user@example.com");
	assert_int_equal(jid_format(&j, true, small, sizeof small),
	    L_ERR_LIMIT);
	assert_string_equal(small, "");
	/* Exactly fitting: 16 bytes + NUL. */
	assert_int_equal(jid_format(&j, false, out, 17), 16);
	assert_int_equal(jid_format(&j, false, out, 16), L_ERR_LIMIT);

	buf_init(&b, 0);
	assert_int_equal(jid_bare(&j, &b), 0);
	assert_string_equal(b.data, "user@example.com");
	buf_reset(&b);
	assert_int_equal(jid_full(&j, &b), 0);
	assert_string_equal(b.data, "user@example.com/Home");
	buf_cleanup(&b);
	buf_init(&b, 10);
	assert_int_equal(jid_full(&j, &b), L_ERR_LIMIT);
	buf_cleanup(&b);

	assert_int_equal(jid_copy(&k, &j), 0);
	assert_true(jid_equal(&j, &k));
	free(k.resource);
	k.resource = NULL;
	assert_false(jid_equal(&j, &k));
	assert_true(jid_bare_equal(&j, &k));
	jid_cleanup(&k);
	assert_int_equal(jid_parse("USER@EXAMPLE.COM/Home", &k), 0);
	assert_true(jid_equal(&j, &k));
	jid_cleanup(&k);
	assert_int_equal(jid_parse("user@example.com/home", &k), 0);
	assert_false(jid_equal(&j, &k));
	jid_cleanup(&k);
	jid_cleanup(&j);
	/* Cleaning twice is safe. */
	jid_cleanup(&j);
}

static void
test_make_and_prep(void **state)
{
	struct jid j;
	char *s;

	assert_int_equal(jid_make("Alice", "Example.COM", NULL, &j), 0);
	assert_string_equal(j.node, "alice");
	assert_string_equal(j.domain, "example.com");
	assert_null(j.resource);
	jid_cleanup(&j);
	assert_int_equal(jid_make("a@b", "d", NULL, &j), L_ERR_INVAL);
	assert_int_equal(jid_make(NULL, NULL, NULL, &j), L_ERR_INVAL);

	assert_int_equal(jid_prep_node("J\xc3\x96RG", &s), 0);
	assert_string_equal(s, "j\xc3\xb6rg");
	free(s);
	assert_int_equal(jid_prep_node("", &s), L_ERR_INVAL);
	assert_null(s);
	assert_int_equal(jid_prep_node("a/b", &s), L_ERR_INVAL);
	assert_int_equal(jid_prep_domain("EXAMPLE.org.", &s), 0);
	assert_string_equal(s, "example.org");
	free(s);
	assert_int_equal(jid_prep_resource("Ｒ", &s), 0);
	assert_string_equal(s, "R");
	free(s);
}

/*
 * The fast path must agree with libidn: for every ASCII byte, preparing
 * "a<c>B" as a node and as a resource gives the same answer either way.
 */
static void
test_fast_path_matches_libidn(void **state)
{
	static const char *profiles[] = { "Nodeprep", "Resourceprep" };

	for (int p = 0; p < 2; p++) {
		for (int c = 1; c < 128; c++) {
			char in[4] = { 'a', (char)c, 'B', '\0' };
			char *ours = NULL, *theirs = NULL;
			int rc_ours, rc_theirs;

			rc_ours = p == 0 ? jid_prep_node(in, &ours) :
			    jid_prep_resource(in, &ours);
			rc_theirs = stringprep_profile(in, &theirs,
			    profiles[p], STRINGPREP_NO_UNASSIGNED);
			if ((rc_ours == 0) != (rc_theirs == STRINGPREP_OK))
				fail_msg("%s differs on byte 0x%02x",
				    profiles[p], c);
			if (rc_ours == 0)
				assert_string_equal(ours, theirs);
			free(ours);
			free(theirs);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_fullwidth),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_ip_literal),
		cmocka_unit_test(test_trailing_dot),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_make_and_prep),
		cmocka_unit_test(test_fast_path_matches_libidn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
