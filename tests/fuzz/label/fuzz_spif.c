/*
 * libFuzzer target: a SPIF loaded; when it loads, a label naming its
 * first classification and values is validated, marked and mapped to
 * every equivalent policy it names that is itself.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "label/acdf.h"
#include "label/label.h"
#include "label/marking.h"
#include "label/spif.h"
#include "xml/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_node *root = NULL;
	struct spif *p;
	struct spif_set set;
	struct label *l;
	struct label_res r;
	struct buf b;

	if (xml_parse_doc((const char *)data, size, NULL, &root, NULL, 0) != 0)
		return 0;
	spif_set_init(&set);
	buf_init(&b, 0);
	if (spif_load_xml(root, "fuzz", &p, NULL, 0) == 0 &&
	    spif_set_add(&set, p) == 0 && (l = label_new(LABEL_ORIGINATOR))) {
		l->policy = l_strdup(p->name);
		l->classification = l_strdup(p->classes[0].name);
		for (size_t i = 0; i < p->ncats && i < 8; i++)
			label_add_value(l, p->tagsets[p->cats[i].tagset].name,
			    NULL, p->cats[i].type, p->cats[i].name);
		if (l->policy && l->classification &&
		    label_validate(&set, l, 0, 0, &r, NULL) == 0) {
			marking_label(&r, "fr", &b);
			label_res_cleanup(&r);
		}
		label_free(l);
	}
	buf_cleanup(&b);
	spif_set_cleanup(&set);
	xml_node_free(root);
	return 0;
}
