/*
 * XEP-0258 label catalogs: a configured list of labels per policy
 * (selector, default flag, label), and the <catalog/> a given clearance
 * may use, built by running the ACDF over every item.
 *
 * List file format (namespace urn:liaison:label-catalog:0):
 *   <catalog policy="DEMO-NATO" name="Default" desc="...">
 *     <item selector="NATO|SECRET" default="true"> 4774 label </item>
 *     <item selector="Unlabelled"/>            (send without a label)
 *   </catalog>
 */
#ifndef LIAISON_LABEL_CATALOG_H
#define LIAISON_LABEL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "label/acdf.h"
#include "label/label.h"

#define CATALOG_LIST_NS "urn:liaison:label-catalog:0"
#define SECLABEL_CATALOG_NS "urn:xmpp:sec-label:catalog:2"
#define SECLABEL_NS0 "urn:xmpp:sec-label:0"

struct catalog_item {
	char *selector;
	bool is_default;
	struct label_group labels;	/* empty: the item means "no label" */
};

struct catalog {
	char *policy;
	char *name;
	char *desc;
	struct catalog_item *items;
	size_t nitems;
};

/* Loads a list; L_ERR_INVAL with the reason in err. */
int catalog_load_xml(const struct xml_node *root, struct catalog **out,
    char *err, size_t errlen);
void catalog_free(struct catalog *c);

/*
 * Builds the XEP-0258 <catalog/> (to = the target JID, may be NULL) with
 * only the items the clearance may use (acdf_check GRANT, LABEL_VALID_4774
 * rules included), each with a displaymarking in lang rebuilt from the
 * SPIF.  *out is owned by the caller.
 */
int catalog_build(const struct spif_set *set, const struct catalog *cat,
    const struct clearance_res *c, const char *lang, const char *to,
    struct xml_node **out);

#endif
