/*
 * Small stanza builders shared by the xmpp modules: error replies
 * (RFC 6120 §8.3), iq results, XEP-0203 delay stamps.
 */
#include "xmpp/server.h"

#include <string.h>

#include "base/errors.h"
#include "base/timeutil.h"

const char *
stanza_type(const struct xml_node *st)
{
	const char *t = xml_attr(st, "type");

	if (t != NULL)
		return t;
	return strcmp(st->name, "message") == 0 ? "normal" :
	    strcmp(st->name, "presence") == 0 ? "available" : "";
}

/* A reply skeleton: same element, id, from/to swapped. */
static struct xml_node *
reply_of(const struct xml_node *st, const char *type)
{
	struct xml_node *r = xml_elem_new(XMLNS_CLIENT, st->name);
	const char *id = xml_attr(st, "id");
	const char *from = xml_attr(st, "from");
	const char *to = xml_attr(st, "to");

	if (r == NULL)
		return NULL;
	if ((id && xml_set_attr(r, "id", id) != L_OK) ||
	    (from && xml_set_attr(r, "to", from) != L_OK) ||
	    (to && xml_set_attr(r, "from", to) != L_OK) ||
	    xml_set_attr(r, "type", type) != L_OK) {
		xml_node_free(r);
		return NULL;
	}
	return r;
}

struct xml_node *
stanza_iq_result(const struct xml_node *iq)
{
	return reply_of(iq, "result");
}

struct xml_node *
stanza_error_reply(const struct xml_node *st, const char *type,
    const char *cond, const char *text)
{
	struct xml_node *r = reply_of(st, "error"), *e;

	if (r == NULL)
		return NULL;
	/* Keep the original payload of a message or presence (RFC 6120
	 * §8.3.1 allows it) but never a security label: error stanzas carry
	 * no label (XEP-0258). */
	e = xml_add_child(r, XMLNS_CLIENT, "error");
	if (e == NULL || xml_set_attr(e, "type", type) != L_OK ||
	    xml_add_child(e, XMLNS_STANZAS, cond) == NULL)
		goto fail;
	if (text != NULL) {
		struct xml_node *t = xml_add_child(e, XMLNS_STANZAS, "text");

		if (t == NULL || xml_add_text(t, text, strlen(text)) != L_OK)
			goto fail;
	}
	return r;
fail:
	xml_node_free(r);
	return NULL;
}

int
stanza_add_delay(struct xml_node *st, const char *from, int64_t stamp_us)
{
	struct xml_node *d = xml_add_child(st, XMLNS_DELAY, "delay");
	char ts[32];

	if (d == NULL)
		return L_ERR_NOMEM;
	time_format_xep82(stamp_us, ts);
	if (xml_set_attr(d, "from", from) != L_OK ||
	    xml_set_attr(d, "stamp", ts) != L_OK)
		return L_ERR_NOMEM;
	return L_OK;
}
