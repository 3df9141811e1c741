/*
 * libFuzzer target: a clearance parsed, resolved against the demo policy
 * built in, interned, marked and written back.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "label/acdf.h"
#include "label/label.h"
#include "label/marking.h"
#include "xml/xml.h"

#include "fuzz_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spif_set set;
	static int ready;
	struct xml_node *root = NULL, *out;
	struct clearance *c;
	struct label_table t;
	const struct clearance_entry *e;
	struct buf b;

	if (!ready) {
		fuzz_policy_load(&set);
		ready = 1;
	}
	if (xml_parse_doc((const char *)data, size, NULL, &root, NULL, 0) != 0)
		return 0;
	label_table_init(&t, &set, 0);
	buf_init(&b, 0);
	if (clearance_parse(root, &c, NULL, 0) == 0) {
		if (clearance_intern(&t, c, &e, NULL, 0) == 0)
			marking_clearance(&e->res, "uk", &b);
		if (clearance_write(c, &out) == 0) {
			xml_serialize(out, NULL, &b);
			xml_node_free(out);
		}
		clearance_free(c);
	}
	buf_cleanup(&b);
	label_table_cleanup(&t);
	xml_node_free(root);
	return 0;
}
