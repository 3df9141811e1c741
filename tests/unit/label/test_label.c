/*
 * Unit tests of the label engine API the server uses: interning (same
 * canonical form, same id; NATO case folding), the decision cache, and
 * the XEP-0258 catalog filtered by clearance.  Uses the demonstration
 * policies; argv[1] is the source root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/errors.h"
#include "label/acdf.h"
#include "label/catalog.h"
#include "label/label.h"
#include <stdlib.h>
#include "label/spif.h"
#include "xml/xml.h"

static const char *srcdir = ".";
static struct spif_set set;

#define LBL(cls, extra) \
	"<originatorConfidentialityLabel xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0' " \
	"ReviewDateTime='2031-01-01T00:00:00Z'><ConfidentialityInformation><PolicyIdentifier>DEMO-NATO" \
	"</PolicyIdentifier><Classification>" cls "</Classification>" extra \
	"</ConfidentialityInformation><CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime>" \
	"</originatorConfidentialityLabel>"
#define CTX "<Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO</GenericValue></Category>"

static struct xml_node *
parse(const char *s)
{
	struct xml_node *n = NULL;

	assert_int_equal(xml_parse_doc(s, strlen(s), NULL, &n, NULL, 0), 0);
	return n;
}

static struct label *
mklabel(const char *s)
{
	struct xml_node *n = parse(s);
	struct label *l = NULL;
	char err[256];

	assert_int_equal(label_parse(n, &l, err, sizeof(err)), 0);
	xml_node_free(n);
	return l;
}

static int
setup(void **state)
{
	const char *f[] = { "policies/demo-nato.xml", "policies/demo-zoria.xml" };
	char path[1024], err[256];
	struct spif *p;

	(void)state;
	spif_set_init(&set);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", srcdir, f[i]);
		if (spif_load_file(path, &p, err, sizeof(err)) != 0 ||
		    spif_set_add(&set, p) != 0)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	spif_set_cleanup(&set);
	return 0;
}

static void
test_intern_same_id(void **state)
{
	struct label_table t;
	const struct label_entry *a, *b, *c;
	struct label *l1 = mklabel(LBL("SECRET", CTX
	    "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>SWE</GenericValue>"
	    "<GenericValue>FIN</GenericValue></Category>"));
	/* Same information, other order, other creation time: same id. */
	struct label *l2 = mklabel(LBL("SECRET",
	    "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>FIN</GenericValue></Category>"
	    CTX "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>SWE</GenericValue></Category>"));
	struct label *l3 = mklabel(LBL("CONFIDENTIAL", CTX));

	(void)state;
	free(l2->creation);
	l2->creation = strdup("2027-02-02T00:00:00Z");
	label_table_init(&t, &set, LABEL_VALID_4774);
	assert_int_equal(label_intern(&t, l1, &a), 0);
	assert_int_equal(label_intern(&t, l2, &b), 0);
	assert_int_equal(label_intern(&t, l3, &c), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->id, b->id);
	assert_int_not_equal(a->id, c->id);
	assert_int_equal(a->status, 0);
	assert_int_equal(t.nl, 2);
	label_table_cleanup(&t);
	label_free(l1);
	label_free(l2);
	label_free(l3);
}

static void
test_nato_case_folding(void **state)
{
	struct buf a, b;
	struct label *l1 = mklabel(LBL("SECRET", CTX));
	struct label *l2 = mklabel(LBL("secret", CTX));

	(void)state;
	buf_init(&a, 0);
	buf_init(&b, 0);
	/* DEMO-NATO is not NATO: case matters in its values. */
	label_canonical(l1, &a);
	label_canonical(l2, &b);
	assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	free(l1->policy);
	free(l2->policy);
	l1->policy = strdup("NATO");
	l2->policy = strdup("nato");
	buf_reset(&a);
	buf_reset(&b);
	label_canonical(l1, &a);
	label_canonical(l2, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	buf_cleanup(&a);
	buf_cleanup(&b);
	label_free(l1);
	label_free(l2);
}

static const char clr_xml[] =
    "<sclr:ConfidentialityClearance xmlns:sclr='urn:nato:stanag:4774:confidentialityclearance:1:0' "
    "xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0'><PolicyIdentifier>DEMO-NATO</PolicyIdentifier>"
    "<sclr:ClassificationList><Classification>UNCLASSIFIED</Classification><Classification>RESTRICTED</Classification>"
    "<Classification>CONFIDENTIAL</Classification></sclr:ClassificationList>"
    "<Category TagName='Context' Type='PERMISSIVE'><GenericValue>NATO</GenericValue></Category>"
    "</sclr:ConfidentialityClearance>";

static void
test_cache(void **state)
{
	struct label_table t;
	struct acdf_cache cache;
	struct acdf_reason why;
	const struct label_entry *ls, *lc;
	const struct clearance_entry *ce;
	struct xml_node *n = parse(clr_xml);
	struct clearance *c;
	struct label *s = mklabel(LBL("SECRET", CTX)), *k = mklabel(LBL("CONFIDENTIAL", CTX));

	(void)state;
	assert_int_equal(clearance_parse(n, &c, NULL, 0), 0);
	xml_node_free(n);
	label_table_init(&t, &set, LABEL_VALID_4774);
	assert_int_equal(acdf_cache_init(&cache, 100), 0);
	assert_int_equal(label_intern(&t, s, &ls), 0);
	assert_int_equal(label_intern(&t, k, &lc), 0);
	assert_int_equal(clearance_intern(&t, c, &ce, NULL, 0), 0);
	assert_int_equal(acdf_decide_cached(&cache, ls, ce, NULL), L_ERR_DENIED);
	assert_int_equal(acdf_decide_cached(&cache, lc, ce, NULL), 0);
	assert_int_equal(cache.misses, 2);
	assert_int_equal(acdf_decide_cached(&cache, ls, ce, NULL), L_ERR_DENIED);
	assert_int_equal(acdf_decide_cached(&cache, lc, ce, NULL), 0);
	assert_int_equal(cache.hits, 2);
	/* A cached DENY still gives its reason. */
	assert_int_equal(acdf_decide_cached(&cache, ls, ce, &why), L_ERR_DENIED);
	assert_int_equal(why.rule, ACDF_R_CLASS);
	assert_non_null(strstr(why.text, "SECRET"));
	acdf_cache_cleanup(&cache);
	label_table_cleanup(&t);
	clearance_free(c);
	label_free(s);
	label_free(k);
}

static void
test_catalog(void **state)
{
	static const char list[] =
	    "<catalog xmlns='urn:liaison:label-catalog:0' policy='DEMO-NATO' name='Demo'>"
	    "<item selector='SECRET'>" LBL("SECRET", CTX) "</item>"
	    "<item selector='CONFIDENTIAL' default='true'>" LBL("CONFIDENTIAL", CTX) "</item>"
	    "<item selector='None'/></catalog>";
	struct xml_node *n = parse(list), *cn = parse(clr_xml), *out;
	struct catalog *cat;
	struct clearance *c;
	struct clearance_res cr;
	struct buf b;
	char err[256];

	(void)state;
	assert_int_equal(catalog_load_xml(n, &cat, err, sizeof(err)), 0);
	assert_int_equal(cat->nitems, 3);
	assert_int_equal(clearance_parse(cn, &c, NULL, 0), 0);
	assert_int_equal(clearance_resolve(&set, c, &cr, NULL, 0), 0);
	assert_int_equal(catalog_build(&set, cat, &cr, NULL, "bob@example.org", &out), 0);
	buf_init(&b, 0);
	assert_int_equal(xml_serialize(out, NULL, &b), 0);
	assert_non_null(strstr(b.data, "size=\"2\"") ? b.data : strstr(b.data, "size='2'"));
	assert_null(strstr(b.data, "selector=\"SECRET\""));
	assert_null(strstr(b.data, "selector='SECRET'"));
	assert_non_null(strstr(b.data, "DEMO-NATO CONFIDENTIAL"));
	buf_cleanup(&b);
	xml_node_free(out);
	clearance_res_cleanup(&cr);
	clearance_free(c);
	catalog_free(cat);
	xml_node_free(n);
	xml_node_free(cn);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_same_id),
		cmocka_unit_test(test_nato_case_folding),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_catalog),
	};

	if (argc > 1)
		srcdir = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
