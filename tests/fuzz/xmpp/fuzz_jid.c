/*
 * Fuzz target for JID preparation: any bytes go to jid_parse_n; an address
 * that parses must format and parse again to the same JID (preparation is
 * idempotent), and fit JID_FORMAT_MAX.  Each part's prep helper runs too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "xmpp/jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[JID_FORMAT_MAX + 1], *s, *p = NULL;
	struct jid j, k;
	int n;

	if (jid_parse_n((const char *)data, size, &j) == 0) {
		n = jid_format(&j, true, out, sizeof out);
		if (n < 0 || (size_t)n > JID_FORMAT_MAX)
			abort();
		if (jid_parse(out, &k) != 0 || !jid_equal(&j, &k))
			abort();
		jid_cleanup(&k);
		jid_cleanup(&j);
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (jid_prep_node(s, &p) == 0 && strlen(p) > JID_PART_MAX)
		abort();
	free(p);
	if (jid_prep_resource(s, &p) == 0 && strlen(p) > JID_PART_MAX)
		abort();
	free(p);
	free(s);
	return 0;
}
