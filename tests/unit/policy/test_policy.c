/*
 * Unit tests of the reference monitor's ingress and delivery checks on
 * securitylabels (policy.c): every shape that is not exactly one
 * well-formed label is refused as malformed and audited, oversized and
 * repeated-value labels are refused, a forged alternative label is
 * refused with its own audit rule, and what leaves the server is the
 * securitylabel it built, never the client's.  Uses the demonstration
 * policies; argv[1] is the source root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/errors.h"
#include "policy/policy.h"
#include "xml/xml.h"

#define SL_NS "urn:xmpp:sec-label:0"
#define SLAB "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
#define LBL(root, pol, cls, extra) \
	"<" root " xmlns='" SLAB "' ReviewDateTime='2031-01-01T00:00:00Z'>" \
	"<ConfidentialityInformation><PolicyIdentifier>" pol "</PolicyIdentifier>" \
	"<Classification>" cls "</Classification>" extra "</ConfidentialityInformation>" \
	"<CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime></" root ">"
#define NLBL(cls, extra) LBL("originatorConfidentialityLabel", "DEMO-NATO", cls, extra)
#define ZALT(cls, extra) LBL("alternativeConfidentialityLabel", "ZORIA", cls, extra)
#define CTX "<Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO</GenericValue></Category>"
#define RELXZO "<Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>XZO</GenericValue>" \
	"<GenericValue>NATO</GenericValue></Category>"
#define ZDIST "<Category Type='PERMISSIVE' TagName='Distribution'><GenericValue>ZORIA</GenericValue></Category>"
#define SECRET_XZO NLBL("SECRET", CTX RELXZO)

static const char *srcdir = ".";
static char auditdir[] = "/tmp/liaison-test-policy-XXXXXX";
static struct policy *pol;
static const struct clearance_entry *natosecret, *zoria_low;

static const char natosecret_xml[] =
    "<sclr:ConfidentialityClearance xmlns:sclr='urn:nato:stanag:4774:confidentialityclearance:1:0' "
    "xmlns='" SLAB "'><PolicyIdentifier>DEMO-NATO</PolicyIdentifier><sclr:ClassificationList>"
    "<Classification>UNCLASSIFIED</Classification><Classification>SECRET</Classification>"
    "</sclr:ClassificationList><Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO"
    "</GenericValue></Category><Category Type='PERMISSIVE' TagName='Releasable To'><GenericValue>"
    "XZO</GenericValue></Category></sclr:ConfidentialityClearance>";
static const char zoria_low_xml[] =
    "<sclr:ConfidentialityClearance xmlns:sclr='urn:nato:stanag:4774:confidentialityclearance:1:0' "
    "xmlns='" SLAB "'><PolicyIdentifier>ZORIA</PolicyIdentifier><sclr:ClassificationList>"
    "<Classification>UNCLASSIFIED</Classification></sclr:ClassificationList>"
    "<Category Type='PERMISSIVE' TagName='Distribution'><GenericValue>ZORIA</GenericValue>"
    "<GenericValue>NATO</GenericValue></Category></sclr:ConfidentialityClearance>";

static int
setup(void **state)
{
	char f[3][1024], dl[1024], dc[1024], err[256];
	const char *files[2] = { f[0], f[1] };
	struct policy_config cfg = { 0 };

	(void)state;
	snprintf(f[0], sizeof f[0], "%s/policies/demo-nato.xml", srcdir);
	snprintf(f[1], sizeof f[1], "%s/policies/demo-zoria.xml", srcdir);
	snprintf(dl, sizeof dl, "%s/policies/demo-label-unclassified.xml",
	    srcdir);
	snprintf(dc, sizeof dc, "%s/policies/demo-clearance-unclassified.xml",
	    srcdir);
	if (mkdtemp(auditdir) == NULL)
		return -1;
	cfg.spif_files = files;
	cfg.nspif = 2;
	cfg.default_label_file = dl;
	cfg.default_clearance_file = dc;
	cfg.audit_dir = auditdir;
	cfg.audit.grants = AUDIT_GRANTS_OFF;
	cfg.audit.sample_every = 1;
	cfg.audit.checkpoint_records = 1000;
	cfg.audit.checkpoint_ms = 60000;
	if ((pol = policy_new(&cfg, err, sizeof err)) == NULL) {
		fprintf(stderr, "policy_new: %s\n", err);
		return -1;
	}
	if (policy_clearance(pol, natosecret_xml, -1, &natosecret, err,
	    sizeof err) != 0 || policy_clearance(pol, zoria_low_xml, -1,
	    &zoria_low, err, sizeof err) != 0) {
		fprintf(stderr, "clearance: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	policy_free(pol);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", auditdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct xml_node *
parse(const char *s)
{
	struct xml_node *n = NULL;
	char err[256] = "";

	if (xml_parse_doc(s, strlen(s), NULL, &n, err, sizeof err) != 0)
		fail_msg("parse: %s", err);
	return n;
}

/* A message from alice with the given securitylabel children (or none
 * when NULL), and extra stanza children after them. */
static struct xml_node *
message(const char *id, const char *inner, const char *extra)
{
	struct buf b;
	struct xml_node *n;

	buf_init(&b, 0);
	buf_appendf(&b, "<message xmlns='jabber:client' type='chat' id='%s' "
	    "from='alice@example.org/r' to='bob@example.org'><body>hi</body>",
	    id);
	if (inner != NULL)
		buf_appendf(&b, "<securitylabel xmlns='" SL_NS "'>%s"
		    "</securitylabel>", inner);
	buf_appendf(&b, "%s</message>", extra ? extra : "");
	n = parse(b.data);
	buf_cleanup(&b);
	return n;
}

static void
ingress(struct xml_node *st, const struct clearance_entry *clr,
    struct policy_result *res)
{
	struct policy_subject from = {
		.jid = "alice@example.org/r", .sid = 7, .clr = clr,
	};

	policy_ingress(pol, &from, st, res);
}

static char *
serialize(const struct xml_node *n)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	assert_int_equal(xml_serialize(n, NULL, &b), 0);
	s = strdup(b.data);
	buf_cleanup(&b);
	return s;
}

/* The audit records so far, as `liaisonctl audit show` prints them. */
static char *
audit_text(void)
{
	FILE *fp = tmpfile();
	char *text;
	long len;

	assert_non_null(fp);
	policy_flush(pol);
	assert_true(audit_show(auditdir, fp, NULL) >= 0);
	len = ftell(fp);
	assert_true(len >= 0);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	rewind(fp);
	assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return text;
}

static void
assert_audited(const char *id, const char *rule)
{
	char *t = audit_text(), *line;

	line = strstr(t, id);
	if (line == NULL)
		fail_msg("no audit record for %s:\n%s", id, t);
	if (strstr(line, rule) == NULL)
		fail_msg("audit record of %s lacks '%s':\n%s", id, rule, t);
	free(t);
}

/* Each malformed shape: modify/bad-request "malformed security label",
 * nothing rewritten, and an audit record naming the reason. */
static void
test_malformed_shapes(void **state)
{
	static const struct {
		const char *id, *inner, *extra, *why;
	} cases[] = {
		{ "m-text", "<label>!!garbage&amp;...</label>", NULL,
		  "<label> holds text" },
		{ "m-mixed", "<label>x" SECRET_XZO "</label>", NULL,
		  "<label> holds text" },
		{ "m-two-el", "<label>" SECRET_XZO SECRET_XZO "</label>", NULL,
		  "more than one element" },
		{ "m-two-label", "<label>" SECRET_XZO "</label><label>"
		  SECRET_XZO "</label>", NULL, "more than one <label>" },
		{ "m-no-label", "<displaymarking>X</displaymarking>", NULL,
		  "no <label>" },
		{ "m-unknown", "<label>" SECRET_XZO "</label><x xmlns='urn:x'/>",
		  NULL, "unexpected element" },
		{ "m-two-sl", "<label>" SECRET_XZO "</label>",
		  "<securitylabel xmlns='" SL_NS "'><label>" SECRET_XZO
		  "</label></securitylabel>", "more than one securitylabel" },
		{ "m-not-4774", "<label><x xmlns='urn:x'>SECRET</x></label>",
		  NULL, "not a STANAG 4774 originator label" },
		{ "m-alt-in-label", "<label>" ZALT("UNCLASSIFIED", ZDIST)
		  "</label>", NULL, "not a STANAG 4774 originator label" },
		/* The label cache keys labels without their marking: these
		 * must not poison the entry of the valid label below. */
		{ "m-two-marks", "<displaymarking>A</displaymarking>"
		  "<displaymarking>B</displaymarking><label>" SECRET_XZO
		  "</label>", NULL, "more than one displaymarking" },
		{ "m-mark-el", "<displaymarking><b xmlns='urn:x'/>"
		  "</displaymarking><label>" SECRET_XZO "</label>", NULL,
		  "displaymarking holds an element" },
	};
	struct xml_node *ok;
	struct policy_result okres;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct xml_node *st = message(cases[i].id, cases[i].inner,
		    cases[i].extra);
		struct policy_result res;

		ingress(st, natosecret, &res);
		if (res.verdict != POLICY_REFUSE)
			fail_msg("%s: verdict %d", cases[i].id, res.verdict);
		assert_string_equal(res.err_type, "modify");
		assert_string_equal(res.err_cond, "bad-request");
		assert_string_equal(res.err_text, "malformed security label");
		policy_stanza_done(pol);
		xml_node_free(st);
		assert_audited(cases[i].id, "malformed label: ");
		assert_audited(cases[i].id, cases[i].why);
	}
	ok = message("m-after", "<displaymarking>X</displaymarking><label>"
	    SECRET_XZO "</label>", NULL);
	ingress(ok, natosecret, &okres);
	assert_int_equal(okres.verdict, POLICY_ALLOW);
	policy_stanza_done(pol);
	xml_node_free(ok);
}

/* A valid label: the client's securitylabel (its marking, attributes,
 * anything) is replaced by the server's. */
static void
test_rebuilt_from_validated(void **state)
{
	struct xml_node *st = message("ok-1", "<displaymarking fgcolor='green'>"
	    "FORGED</displaymarking> <label evil='1'>\n " SECRET_XZO
	    "\n</label>", NULL);
	struct policy_result res;
	const struct xml_node *sl;
	char *out;

	(void)state;
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_ALLOW);
	sl = xml_child(st, SL_NS, "securitylabel");
	assert_non_null(sl);
	assert_null(xml_next(sl, SL_NS, "securitylabel"));
	out = serialize(sl);
	assert_null(strstr(out, "FORGED"));
	assert_null(strstr(out, "evil"));
	assert_null(strstr(out, "green"));
	assert_non_null(strstr(out, ">DEMO-NATO SECRET Releasable to Zoria"
	    "</displaymarking>"));
	assert_non_null(strstr(out, "<label><originatorConfidentialityLabel"));
	free(out);
	policy_stanza_done(pol);
	xml_node_free(st);
}

/* An empty <label/> asks for the default label: what is passed on is
 * the default, nothing of the client's element. */
static void
test_empty_label_default(void **state)
{
	struct xml_node *st = message("empty-1", "<displaymarking>TOP "
	    "SECRET</displaymarking><label junk='x'>  </label>", NULL);
	struct policy_result res;
	char *out;

	(void)state;
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_ALLOW);
	out = serialize(xml_child(st, SL_NS, "securitylabel"));
	assert_null(strstr(out, "TOP SECRET"));
	assert_null(strstr(out, "junk"));
	assert_non_null(strstr(out, "DEMO-NATO UNCLASSIFIED"));
	assert_non_null(strstr(out, "<Classification>UNCLASSIFIED"));
	free(out);
	policy_stanza_done(pol);
	xml_node_free(st);
}

/* 5,000 repeated values: refused unparsed for its size; three repeats:
 * refused as invalid (rule 3.2.3). */
static void
test_oversized_and_repeated(void **state)
{
	struct buf b;
	struct xml_node *st;
	struct policy_result res;

	(void)state;
	buf_init(&b, 0);
	buf_appendf(&b, "<label><originatorConfidentialityLabel xmlns='" SLAB
	    "' ReviewDateTime='2031-01-01T00:00:00Z'><ConfidentialityInformation>"
	    "<PolicyIdentifier>DEMO-NATO</PolicyIdentifier><Classification>"
	    "UNCLASSIFIED</Classification><Category Type='PERMISSIVE' "
	    "TagName='Context'>");
	for (int i = 0; i < 5000; i++)
		buf_appendf(&b, "<GenericValue>NATO</GenericValue>");
	buf_appendf(&b, "</Category></ConfidentialityInformation>"
	    "<CreationDateTime>2026-01-15T10:30:00Z</CreationDateTime>"
	    "</originatorConfidentialityLabel></label>");
	assert_true(b.len > 150000);
	st = message("big-1", b.data, NULL);
	buf_cleanup(&b);
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	assert_string_equal(res.err_cond, "bad-request");
	assert_string_equal(res.err_text, "malformed security label");
	policy_stanza_done(pol);
	xml_node_free(st);
	assert_audited("big-1", "malformed label: securitylabel larger than "
	    "label_max_bytes (8192)");

	st = message("dup-1", "<label>" NLBL("UNCLASSIFIED",
	    "<Category Type='PERMISSIVE' TagName='Context'><GenericValue>NATO"
	    "</GenericValue><GenericValue>NATO</GenericValue><GenericValue>NATO"
	    "</GenericValue></Category>") "</label>", NULL);
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	assert_string_equal(res.err_cond, "bad-request");
	assert_string_equal(res.err_text, "invalid security label");
	policy_stanza_done(pol);
	xml_node_free(st);
	assert_audited("dup-1", "invalid label: rule 3.2.3: 'NATO' is given "
	    "more than once");
}

/* DEMO-NATO SECRET with an alternative saying ZORIA UNCLASSIFIED: refused
 * at ingress and at delivery (a stanza that did not pass ingress), each
 * with its own audit rule; the honest alternative is replaced by the
 * server's own mapping. */
static void
test_forged_alternative(void **state)
{
	const char *forged = "<label>" SECRET_XZO "</label><equivalentlabel>"
	    ZALT("UNCLASSIFIED", ZDIST) "</equivalentlabel>";
	struct policy_subject to = {
		.jid = "zed@example.org/r", .sid = 9, .clr = zoria_low,
	};
	struct xml_node *st = message("alt-1", forged, NULL);
	struct policy_result res;
	char *out;

	(void)state;
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	assert_string_equal(res.err_type, "modify");
	assert_string_equal(res.err_cond, "bad-request");
	assert_string_equal(res.err_text, "invalid security label");
	policy_stanza_done(pol);
	xml_node_free(st);
	assert_audited("alt-1", "forged alternative label: alternative label "
	    "is not the equivalent of the label: classification UNCLASSIFIED");

	st = message("alt-2", forged, NULL);
	policy_deliver(pol, &to, "alice@example.org/r", st, PP_DELIVER, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	assert_string_equal(res.err_cond, "forbidden");
	policy_stanza_done(pol);
	xml_node_free(st);
	assert_audited("alt-2", "forged alternative label");

	/* The same label without the alternative: refused to zed by 3.3.2. */
	st = message("alt-3", "<label>" SECRET_XZO "</label>", NULL);
	policy_deliver(pol, &to, "alice@example.org/r", st, PP_DELIVER, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	policy_stanza_done(pol);
	xml_node_free(st);
	assert_audited("alt-3", "rule 3.3.2");

	/* An honest alternative (made up here to carry a wrong Id): passed
	 * on as the server's mapping, TOP SECRET. */
	st = message("alt-4", "<label>" SECRET_XZO "</label><equivalentlabel>"
	    "<alternativeConfidentialityLabel xmlns='" SLAB "' Id='client-id' "
	    "ReviewDateTime='2031-01-01T00:00:00Z'><ConfidentialityInformation>"
	    "<PolicyIdentifier>ZORIA</PolicyIdentifier><Classification>TOP SECRET"
	    "</Classification><Category Type='PERMISSIVE' TagName='Distribution'>"
	    "<GenericValue>NATO</GenericValue><GenericValue>ZORIA</GenericValue>"
	    "</Category></ConfidentialityInformation><CreationDateTime>"
	    "2026-01-15T10:30:00Z</CreationDateTime>"
	    "</alternativeConfidentialityLabel></equivalentlabel>", NULL);
	ingress(st, natosecret, &res);
	assert_int_equal(res.verdict, POLICY_ALLOW);
	out = serialize(xml_child(st, SL_NS, "securitylabel"));
	assert_non_null(strstr(out, "<equivalentlabel><alternativeConfidentialityLabel"));
	assert_non_null(strstr(out, "<Classification>TOP SECRET</Classification>"));
	assert_null(strstr(out, "client-id"));
	free(out);
	policy_deliver(pol, &to, "alice@example.org/r", st, PP_DELIVER, &res);
	assert_int_equal(res.verdict, POLICY_REFUSE);
	policy_stanza_done(pol);
	xml_node_free(st);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_shapes),
		cmocka_unit_test(test_rebuilt_from_validated),
		cmocka_unit_test(test_empty_label_default),
		cmocka_unit_test(test_oversized_and_repeated),
		cmocka_unit_test(test_forged_alternative),
	};

	if (argc > 1)
		srcdir = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
