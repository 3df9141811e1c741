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
#include "label/equiv.h"
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

#define SL_NS "urn:xmpp:sec-label:0"
#define ZLBL(cls, extra) \
	"<alternativeConfidentialityLabel xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0' " \
	"ReviewDateTime='2031-01-01T00:00:00Z'><ConfidentialityInformation><PolicyIdentifier>ZORIA" \
	"</PolicyIdentifier><Classification>" cls "</Classification>" extra \
	"</ConfidentialityInformation><CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime>" \
	"</alternativeConfidentialityLabel>"
#define ZDIST "<Category Type='PERMISSIVE' TagName='Distribution'><GenericValue>ZORIA</GenericValue></Category>"
#define RELXZO "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>XZO</GenericValue>" \
	"<GenericValue>NATO</GenericValue></Category>"

/* Every shape of securitylabel that is not exactly one well-formed label
 * is refused with its reason; the well-formed ones parse. */
static void
test_seclabel_shapes(void **state)
{
	static const struct {
		const char *inner;
		const char *err;	/* NULL: parses */
		bool empty;
		size_t n;
	} cases[] = {
		{ "<label>" LBL("SECRET", CTX) "</label>", NULL, false, 1 },
		{ "<displaymarking fgcolor='red'>X</displaymarking>\n <label>\n"
		  LBL("SECRET", CTX) "\n</label>\n", NULL, false, 1 },
		{ "<label/>", NULL, true, 0 },
		{ "<label> \n </label>", NULL, true, 0 },
		{ "<label>" LBL("SECRET", CTX RELXZO) "</label><equivalentlabel>"
		  ZLBL("TOP SECRET", ZDIST) "</equivalentlabel>", NULL, false, 2 },
		{ "<label>!!garbage&amp;...</label>",
		  "<label> holds text", false, 0 },
		{ "<label>x" LBL("SECRET", CTX) "</label>",
		  "<label> holds text", false, 0 },
		{ "<label>" LBL("SECRET", CTX) LBL("SECRET", CTX) "</label>",
		  "more than one element", false, 0 },
		{ "<label>" LBL("SECRET", CTX) "</label><label>"
		  LBL("SECRET", CTX) "</label>", "more than one <label>", false, 0 },
		{ "<displaymarking>X</displaymarking>", "no <label>", false, 0 },
		{ "", "no <label>", false, 0 },
		{ "<label>" LBL("SECRET", CTX) "</label><extra xmlns='urn:x'/>",
		  "unexpected element {urn:x}extra", false, 0 },
		{ "<label>" LBL("SECRET", CTX) "</label><foo/>",
		  "unexpected element", false, 0 },
		{ "text<label>" LBL("SECRET", CTX) "</label>", "holds text",
		  false, 0 },
		{ "<displaymarking>A</displaymarking><displaymarking>B"
		  "</displaymarking><label>" LBL("SECRET", CTX) "</label>",
		  "more than one displaymarking", false, 0 },
		{ "<label><x xmlns='urn:x'>SECRET</x></label>",
		  "not a STANAG 4774 originator label", false, 0 },
		{ "<label>" ZLBL("SECRET", ZDIST) "</label>",
		  "not a STANAG 4774 originator label", false, 0 },
		{ "<label>" LBL("SECRET", CTX) "</label><equivalentlabel>"
		  LBL("SECRET", CTX) "</equivalentlabel>",
		  "not one alternativeConfidentialityLabel", false, 0 },
		{ "<label>" LBL("SECRET", CTX) "</label><equivalentlabel/>",
		  "holds nothing", false, 0 },
		{ "<label/><equivalentlabel>" ZLBL("SECRET", ZDIST)
		  "</equivalentlabel>", "with an empty <label>", false, 0 },
		{ "<label><BindingInformation xmlns='urn:nato:stanag:4778:bindinginformation:1:0'>"
		  "<MetadataBindingContainer><MetadataBinding><Metadata>" LBL("SECRET", CTX)
		  "</Metadata><Metadata>" LBL("SECRET", CTX) "</Metadata></MetadataBinding>"
		  "</MetadataBindingContainer></BindingInformation></label>",
		  "more than one originator label", false, 0 },
	};
	char doc[8192], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct label_group g;
		struct xml_node *n;
		bool empty = !cases[i].empty;
		int rc;

		snprintf(doc, sizeof(doc), "<securitylabel xmlns='" SL_NS "'>%s"
		    "</securitylabel>", cases[i].inner);
		n = parse(doc);
		label_group_init(&g);
		err[0] = '\0';
		rc = seclabel_parse(n, &g, &empty, err, sizeof(err));
		if (cases[i].err == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(empty, cases[i].empty);
			assert_int_equal(g.n, cases[i].n);
			if (g.n > 0)
				assert_int_equal(g.v[0]->kind, LABEL_ORIGINATOR);
		} else {
			if (rc != L_ERR_INVAL || strstr(err, cases[i].err) == NULL)
				fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc,
				    err, cases[i].err);
			/* The strict parse is also what label documents get. */
			label_group_cleanup(&g);
			assert_int_equal(label_group_parse(n, &g, NULL, 0),
			    L_ERR_INVAL);
		}
		label_group_cleanup(&g);
		xml_node_free(n);
	}
}

/* A repeated value is invalid (rule 3.2.3), also when it repeats in a
 * second Category element, and it does not share the valid label's
 * interned entry. */
static void
test_repeated_values(void **state)
{
	struct label *one = mklabel(LBL("SECRET", CTX RELXZO));
	struct label *twice = mklabel(LBL("SECRET", CTX RELXZO
	    "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>XZO</GenericValue></Category>"));
	struct label *many = mklabel(LBL("UNCLASSIFIED",
	    "<Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO</GenericValue>"
	    "<GenericValue>NATO</GenericValue><GenericValue>NATO</GenericValue></Category>"));
	struct label_table t;
	const struct label_entry *a, *b;
	struct acdf_reason why;

	(void)state;
	assert_int_equal(label_validate(&set, one, LABEL_VALID_4774, 0, NULL,
	    &why), 0);
	assert_int_equal(label_validate(&set, twice, LABEL_VALID_4774, 0, NULL,
	    &why), L_ERR_INVAL);
	assert_int_equal(why.rule, ACDF_R_V_CATEGORY);
	assert_string_equal(why.text, "rule 3.2.3: 'XZO' is given more than "
	    "once in tag set 'Releasable To'");
	assert_int_equal(label_validate(&set, many, 0, 0, NULL, &why),
	    L_ERR_INVAL);
	assert_non_null(strstr(why.text, "'NATO' is given more than once"));
	label_table_init(&t, &set, LABEL_VALID_4774);
	assert_int_equal(label_intern(&t, one, &a), 0);
	assert_int_equal(label_intern(&t, twice, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a->status, 0);
	assert_int_equal(b->status, L_ERR_INVAL);
	label_table_cleanup(&t);
	label_free(one);
	label_free(twice);
	label_free(many);
}

static struct clearance_res
zoria_clearance(const char *cls, const char *dist)
{
	char doc[1024];
	struct xml_node *n;
	struct clearance *c;
	struct clearance_res r;

	snprintf(doc, sizeof(doc),
	    "<sclr:ConfidentialityClearance xmlns:sclr='urn:nato:stanag:4774:confidentialityclearance:1:0' "
	    "xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0'><PolicyIdentifier>ZORIA</PolicyIdentifier>"
	    "<sclr:ClassificationList><Classification>%s</Classification></sclr:ClassificationList>"
	    "<Category TagName='Distribution' Type='PERMISSIVE'><GenericValue>%s</GenericValue></Category>"
	    "</sclr:ConfidentialityClearance>", cls, dist);
	n = parse(doc);
	assert_int_equal(clearance_parse(n, &c, NULL, 0), 0);
	assert_int_equal(clearance_resolve(&set, c, &r, NULL, 0), 0);
	clearance_free(c);
	xml_node_free(n);
	return r;
}

/* An alternative label counts only as the originator's equivalent: a
 * lower one does not lower the decision, the honest one changes
 * nothing. */
static void
test_alternative_verified(void **state)
{
	struct label *orig = mklabel(LBL("SECRET", CTX RELXZO));
	struct label *forged = mklabel(ZLBL("UNCLASSIFIED", ZDIST));
	struct label *higher = mklabel(ZLBL("TOP SECRET", ZDIST));
	struct label *honest = NULL;
	struct clearance_res low = zoria_clearance("UNCLASSIFIED", "ZORIA");
	struct clearance_res top = zoria_clearance("TOP SECRET", "NATO");
	struct label_group g;
	struct acdf_reason why;

	(void)state;
	assert_int_equal(equiv_map(&set, orig, set.v[1], &honest, &why), 0);
	assert_int_equal(equiv_check_alternative(&set, orig, honest,
	    LABEL_VALID_4774, &why), 0);
	assert_int_equal(equiv_check_alternative(&set, orig, forged,
	    LABEL_VALID_4774, &why), L_ERR_INVAL);
	assert_int_equal(why.rule, ACDF_R_V_ALTERNATIVE);
	assert_non_null(strstr(why.text, "classification UNCLASSIFIED in "
	    "ZORIA, the equivalent is TOP SECRET"));
	assert_int_equal(equiv_check_alternative(&set, orig, higher,
	    LABEL_VALID_4774, &why), L_ERR_INVAL);
	assert_non_null(strstr(why.text, "categories"));

	/* The originator alone: DENY by classification (rule 3.3.2). */
	label_group_init(&g);
	assert_int_equal(label_group_add(&g, label_copy(orig)), 0);
	assert_int_equal(acdf_check(&set, &g, &low, LABEL_VALID_4774, &why),
	    L_ERR_DENIED);
	assert_int_equal(why.rule, ACDF_R_CLASS);
	/* With the forged alternative: DENY as invalid, for any clearance. */
	assert_int_equal(label_group_add(&g, forged), 0);
	forged = NULL;
	assert_int_equal(acdf_check(&set, &g, &low, LABEL_VALID_4774, &why),
	    L_ERR_DENIED);
	assert_int_equal(why.rule, ACDF_R_INVALID);
	assert_non_null(strstr(why.text, "not the equivalent"));
	assert_int_equal(acdf_check(&set, &g, &top, LABEL_VALID_4774, &why),
	    L_ERR_DENIED);
	assert_int_equal(label_group_verify(&set, &g, LABEL_VALID_4774, &why),
	    L_ERR_INVAL);
	label_group_cleanup(&g);
	/* With the honest alternative: the originator's decisions. */
	label_group_init(&g);
	assert_int_equal(label_group_add(&g, label_copy(orig)), 0);
	assert_int_equal(label_group_add(&g, honest), 0);
	honest = NULL;
	assert_int_equal(label_group_verify(&set, &g, LABEL_VALID_4774, &why),
	    0);
	assert_int_equal(acdf_check(&set, &g, &low, LABEL_VALID_4774, &why),
	    L_ERR_DENIED);
	assert_int_equal(why.rule, ACDF_R_CLASS);
	assert_int_equal(acdf_check(&set, &g, &top, LABEL_VALID_4774, &why), 0);
	label_group_cleanup(&g);
	clearance_res_cleanup(&low);
	clearance_res_cleanup(&top);
	label_free(orig);
	label_free(higher);
}

/* label_write gives back what label_parse read (the server passes on
 * labels it wrote), SuccessionHandling included. */
static void
test_write_round_trip(void **state)
{
	static const char doc[] =
	    "<originatorConfidentialityLabel xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0' Id='x1'>"
	    "<ConfidentialityInformation><PolicyIdentifier URI='urn:oid:2.25.271828182845904523536028747135266249'>"
	    "DEMO-NATO</PolicyIdentifier><Classification>SECRET</Classification><PrivacyMark>STAFF</PrivacyMark>"
	    CTX RELXZO "</ConfidentialityInformation><OriginatorID IDType='jID'>alice@example.org</OriginatorID>"
	    "<CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime><SuccessionHandling>"
	    "<SuccessionDateTime>2030-01-01T00:00:00Z</SuccessionDateTime><SuccessorConfidentialityLabel>"
	    "<ConfidentialityInformation><PolicyIdentifier>DEMO-NATO</PolicyIdentifier>"
	    "<Classification>UNCLASSIFIED</Classification></ConfidentialityInformation>"
	    "<CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></SuccessorConfidentialityLabel>"
	    "</SuccessionHandling></originatorConfidentialityLabel>";
	struct label *l = mklabel(doc), *back = NULL;
	struct xml_node *w = NULL;
	struct buf a, b;
	struct acdf_reason why;
	char err[256];

	(void)state;
	assert_non_null(l->successor);
	assert_int_equal(label_validate(&set, l, LABEL_VALID_4774, 0, NULL,
	    &why), 0);
	assert_int_equal(label_write(l, &w), 0);
	assert_int_equal(label_parse(w, &back, err, sizeof(err)), 0);
	buf_init(&a, 0);
	buf_init(&b, 0);
	assert_int_equal(label_canonical(l, &a), 0);
	assert_int_equal(label_canonical(back, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_string_equal(back->originator, "alice@example.org");
	assert_string_equal(back->succession_time, "2030-01-01T00:00:00Z");
	assert_string_equal(back->successor->classification, "UNCLASSIFIED");
	assert_int_equal(label_validate(&set, back, LABEL_VALID_4774, 0, NULL,
	    &why), 0);
	/* The successor is checked: an unknown class spoils the label. */
	free(back->successor->classification);
	back->successor->classification = strdup("SUPERSECRET");
	assert_int_equal(label_validate(&set, back, 0, 0, NULL, &why),
	    L_ERR_INVAL);
	assert_non_null(strstr(why.text, "SuccessorConfidentialityLabel: "));
	buf_cleanup(&a);
	buf_cleanup(&b);
	xml_node_free(w);
	label_free(l);
	label_free(back);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_same_id),
		cmocka_unit_test(test_nato_case_folding),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_seclabel_shapes),
		cmocka_unit_test(test_repeated_values),
		cmocka_unit_test(test_alternative_verified),
		cmocka_unit_test(test_write_round_trip),
	};

	if (argc > 1)
		srcdir = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
