/*
 * libFuzzer target for the whole-document parser (SPIFs, labels,
 * clearances come through it).  Whatever parses must serialize to XML
 * that parses back to the same tree, and a deep copy must be equal; the
 * limits are small when the first byte is odd so they are exercised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmltest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_doc_limits lim = { 0 };
	struct xml_node *n = NULL, *back = NULL, *cp;
	char err[160];
	char *s;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		lim.max_bytes = 4096;
		lim.max_depth = 1 + (data[0] >> 4);
		lim.max_attrs = 1 + (data[0] >> 5);
	}
	err[0] = '\0';
	rc = xml_parse_doc((const char *)data + 1, size - 1, &lim, &n, err,
	    sizeof(err));
	if (rc != L_OK) {
		/* Every failure explains itself in the agreed format. */
		if (n != NULL || strncmp(err, "line ", 5) != 0 ||
		    strstr(err, ", column ") == NULL)
			abort();
		return 0;
	}
	s = xt_serialize(n, NULL);
	if (xml_parse_doc(s, strlen(s), NULL, &back, err, sizeof(err)) != L_OK) {
		fprintf(stderr, "re-parse failed: %s\n%s\n", err, s);
		abort();
	}
	if (!xt_equal(n, back)) {
		fprintf(stderr, "re-parse differs:\n%s\n", s);
		abort();
	}
	if ((cp = xml_node_copy(n)) == NULL || !xt_equal(n, cp))
		abort();
	free(s);
	xml_node_free(cp);
	xml_node_free(back);
	xml_node_free(n);
	return 0;
}
