/*
 * bench-label: labels parsed per second (XML text to struct label), label
 * interning (canonical form + look-up), uncached and cached access
 * decisions per second, for a typical label of ten category values under
 * the NATO SPIF.  Usage: bench-label NATO-SPIF [ITERATIONS].  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "label/acdf.h"
#include "label/label.h"
#include "label/spif.h"
#include "xml/xml.h"

static const char label_xml[] =
    "<originatorConfidentialityLabel xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0' "
    "ReviewDateTime='2031-01-01T00:00:00Z'><ConfidentialityInformation>"
    "<PolicyIdentifier URI='urn:oid:1.3.26.1.3.1'>NATO</PolicyIdentifier>"
    "<Classification>SECRET</Classification>"
    "<Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO</GenericValue>"
    "<GenericValue>Releasable</GenericValue></Category>"
    "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>NATO</GenericValue>"
    "<GenericValue>SWE</GenericValue><GenericValue>FIN</GenericValue><GenericValue>NOR</GenericValue>"
    "<GenericValue>DNK</GenericValue><GenericValue>UKR</GenericValue></Category>"
    "<Category Type='RESTRICTIVE' TagName='Additional Sensitivity'><GenericValue>CRYPTO</GenericValue></Category>"
    "<Category Type='INFORMATIVE' TagName='Administrative'><GenericValue>STAFF</GenericValue></Category>"
    "</ConfidentialityInformation><OriginatorID IDType='jID'>alice@chat.nation.example</OriginatorID>"
    "<CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></originatorConfidentialityLabel>";

static const char clearance_xml[] =
    "<sclr:ConfidentialityClearance xmlns:sclr='urn:nato:stanag:4774:confidentialityclearance:1:0' "
    "xmlns='urn:nato:stanag:4774:confidentialitymetadatalabel:1:0'><PolicyIdentifier>NATO</PolicyIdentifier>"
    "<sclr:ClassificationList><Classification>UNCLASSIFIED</Classification><Classification>RESTRICTED</Classification>"
    "<Classification>CONFIDENTIAL</Classification><Classification>SECRET</Classification></sclr:ClassificationList>"
    "<Category TagName='Context' Type='PERMISSIVE'><GenericValue>NATO</GenericValue><GenericValue>Releasable</GenericValue></Category>"
    "<Category TagName='Releasable To' Type='PERMISSIVE'><GenericValue>NATO</GenericValue><GenericValue>SWE</GenericValue></Category>"
    "<Category TagName='Additional Sensitivity' Type='RESTRICTIVE'><GenericValue>CRYPTO</GenericValue></Category>"
    "</sclr:ConfidentialityClearance>";

static volatile int sink;

static void
report(const char *what, long n, uint64_t ns)
{
	printf("%-28s %12.0f /s  %10.1f ns each\n", what,
	    (double)n * 1e9 / (double)ns, (double)ns / (double)n);
}

int
main(int argc, char **argv)
{
	struct spif_set set;
	struct spif *p;
	struct xml_node *root;
	struct label *l;
	struct clearance *c;
	struct label_table t;
	struct acdf_cache cache;
	const struct label_entry *le;
	const struct clearance_entry *ce;
	char err[256];
	long n = argc > 2 ? atol(argv[2]) : 100000;
	uint64_t t0;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-label NATO-SPIF [ITERATIONS]\n");
		return 2;
	}
	spif_set_init(&set);
	if (spif_load_file(argv[1], &p, err, sizeof(err)) != 0 ||
	    spif_set_add(&set, p) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 2;
	}
	label_table_init(&t, &set, LABEL_VALID_4774);
	if (acdf_cache_init(&cache, 4096) != 0)
		return 1;

	t0 = time_mono_ns();
	for (long i = 0; i < n; i++) {
		if (xml_parse_doc(label_xml, sizeof(label_xml) - 1, NULL, &root,
		    err, sizeof(err)) != 0 || label_parse(root, &l, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "parse: %s\n", err);
			return 1;
		}
		xml_node_free(root);
		if (i + 1 < n)
			label_free(l);
	}
	report("parse (XML + label)", n, time_mono_ns() - t0);

	/* The two halves of a parse, apart. */
	if (xml_parse_doc(label_xml, sizeof(label_xml) - 1, NULL, &root, err,
	    sizeof(err)) != 0)
		return 1;
	t0 = time_mono_ns();
	for (long i = 0; i < n; i++) {
		struct label *x;

		if (label_parse(root, &x, err, sizeof(err)) != 0)
			return 1;
		label_free(x);
	}
	report("  label_parse (tree only)", n, time_mono_ns() - t0);
	xml_node_free(root);
	t0 = time_mono_ns();
	for (long i = 0; i < n / 10; i++) {
		if (xml_parse_doc(label_xml, sizeof(label_xml) - 1, NULL, &root,
		    err, sizeof(err)) != 0)
			return 1;
		xml_node_free(root);
	}
	report("  xml_parse_doc (XML layer)", n / 10, time_mono_ns() - t0);

	t0 = time_mono_ns();
	for (long i = 0; i < n; i++) {
		if (label_intern(&t, l, &le) != 0)
			return 1;
	}
	report("intern (canonical + lookup)", n, time_mono_ns() - t0);
	if (le->status != 0) {
		fprintf(stderr, "label invalid: %s\n", le->why.text);
		return 1;
	}

	if (xml_parse_doc(clearance_xml, sizeof(clearance_xml) - 1, NULL,
	    &root, err, sizeof(err)) != 0 ||
	    clearance_parse(root, &c, err, sizeof(err)) != 0 ||
	    clearance_intern(&t, c, &ce, err, sizeof(err)) != 0) {
		fprintf(stderr, "clearance: %s\n", err);
		return 1;
	}
	xml_node_free(root);

	t0 = time_mono_ns();
	for (long i = 0; i < n * 10; i++)
		sink += acdf_decide(&le->res, &ce->res, NULL);
	report("decision, uncached", n * 10, time_mono_ns() - t0);

	t0 = time_mono_ns();
	for (long i = 0; i < n * 10; i++)
		sink += acdf_decide_cached(&cache, le, ce, NULL);
	report("decision, cached", n * 10, time_mono_ns() - t0);
	printf("decision: %s\n", acdf_decide(&le->res, &ce->res, NULL) == 0 ?
	    "GRANT" : "DENY");

	label_free(l);
	clearance_free(c);
	acdf_cache_cleanup(&cache);
	label_table_cleanup(&t);
	spif_set_cleanup(&set);
	return 0;
}
