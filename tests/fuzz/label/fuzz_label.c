/*
 * libFuzzer target: a label document (label root, BindingInformation or
 * securitylabel) parsed, canonicalised, validated against the demo
 * policy built in, interned and written back.  No crash, no leak.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "label/acdf.h"
#include "label/label.h"
#include "xml/xml.h"

#include "fuzz_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spif_set set;
	static int ready;
	struct xml_node *root = NULL, *out;
	struct label_group g;
	struct label_table t;
	const struct label_entry *e;
	struct buf b;

	if (!ready) {
		fuzz_policy_load(&set);
		ready = 1;
	}
	if (xml_parse_doc((const char *)data, size, NULL, &root, NULL, 0) != 0)
		return 0;
	label_group_init(&g);
	label_table_init(&t, &set, LABEL_VALID_4774);
	buf_init(&b, 0);
	if (label_group_parse(root, &g, NULL, 0) == 0) {
		for (size_t i = 0; i < g.n; i++) {
			label_intern(&t, g.v[i], &e);
			if (label_write(g.v[i], &out) == 0) {
				xml_serialize(out, NULL, &b);
				xml_node_free(out);
			}
		}
	}
	buf_cleanup(&b);
	label_table_cleanup(&t);
	label_group_cleanup(&g);
	xml_node_free(root);
	return 0;
}
