/*
 * RFC 6121 subscription states, Appendix A, for one roster item at a
 * time.  Pre-approval (§3.4) is not offered: an outbound 'subscribed'
 * without a pending request does nothing.
 */
#include "xmpp/subscription.h"

#include <string.h>

int
sub_type_parse(const char *type)
{
	if (type == NULL)
		return 0;
	if (strcmp(type, "subscribe") == 0)
		return SUB_SUBSCRIBE;
	if (strcmp(type, "subscribed") == 0)
		return SUB_SUBSCRIBED;
	if (strcmp(type, "unsubscribe") == 0)
		return SUB_UNSUBSCRIBE;
	if (strcmp(type, "unsubscribed") == 0)
		return SUB_UNSUBSCRIBED;
	return 0;
}

static bool
has_to(const struct sub_item *it)
{
	return it->sub == STORE_SUB_TO || it->sub == STORE_SUB_BOTH;
}

static bool
has_from(const struct sub_item *it)
{
	return it->sub == STORE_SUB_FROM || it->sub == STORE_SUB_BOTH;
}

static void
add_to(struct sub_item *it)
{
	it->sub = it->sub == STORE_SUB_FROM ? STORE_SUB_BOTH :
	    it->sub == STORE_SUB_NONE ? STORE_SUB_TO : it->sub;
}

static void
add_from(struct sub_item *it)
{
	it->sub = it->sub == STORE_SUB_TO ? STORE_SUB_BOTH :
	    it->sub == STORE_SUB_NONE ? STORE_SUB_FROM : it->sub;
}

static void
drop_to(struct sub_item *it)
{
	it->sub = it->sub == STORE_SUB_BOTH ? STORE_SUB_FROM :
	    it->sub == STORE_SUB_TO ? STORE_SUB_NONE : it->sub;
}

static void
drop_from(struct sub_item *it)
{
	it->sub = it->sub == STORE_SUB_BOTH ? STORE_SUB_TO :
	    it->sub == STORE_SUB_FROM ? STORE_SUB_NONE : it->sub;
}

unsigned
sub_outbound(struct sub_item *it, int type)
{
	switch (type) {
	case SUB_SUBSCRIBE:
		/* §3.1.2: the item gets ask='subscribe' unless we already
		 * have a subscription; the request is routed either way
		 * (the contact's server answers for an existing one). */
		if (!it->exists) {
			it->exists = true;
			it->sub = STORE_SUB_NONE;
			it->ask = true;
			return SUBA_CHANGED | SUBA_ROUTE;
		}
		if (!has_to(it) && !it->ask) {
			it->ask = true;
			return SUBA_CHANGED | SUBA_ROUTE;
		}
		return SUBA_ROUTE;
	case SUB_SUBSCRIBED:
		/* §3.1.5: approving a pending request. */
		if (!it->exists || !it->pending_in)
			return 0;
		it->pending_in = false;
		add_from(it);
		return SUBA_CHANGED | SUBA_ROUTE | SUBA_PRESENCE;
	case SUB_UNSUBSCRIBE:
		/* §3.3.2 */
		if (!it->exists)
			return SUBA_ROUTE;
		if (it->ask || has_to(it)) {
			it->ask = false;
			drop_to(it);
			return SUBA_CHANGED | SUBA_ROUTE;
		}
		return SUBA_ROUTE;
	case SUB_UNSUBSCRIBED:
		/* §3.2.2 cancel, or §3.1.5 deny a pending request. */
		if (!it->exists || (!it->pending_in && !has_from(it)))
			return 0;
		if (has_from(it)) {
			drop_from(it);
			it->pending_in = false;
			return SUBA_CHANGED | SUBA_ROUTE | SUBA_UNAVAIL;
		}
		it->pending_in = false;
		if (it->sub == STORE_SUB_NONE && !it->ask)
			return SUBA_REMOVE | SUBA_ROUTE;
		return SUBA_STORE | SUBA_ROUTE;
	}
	return 0;
}

unsigned
sub_inbound(struct sub_item *it, int type)
{
	switch (type) {
	case SUB_SUBSCRIBE:
		/* §3.1.3: already subscribed: the server answers. */
		if (it->exists && has_from(it))
			return SUBA_AUTOREPLY;
		if (it->exists && it->pending_in)
			return SUBA_DELIVER;
		if (!it->exists) {
			it->exists = true;
			it->sub = STORE_SUB_NONE;
			it->ask = false;
		}
		it->pending_in = true;
		return SUBA_STORE | SUBA_DELIVER;
	case SUB_SUBSCRIBED:
		/* §3.1.6: only if we asked. */
		if (!it->exists || !it->ask || has_to(it)) {
			if (it->exists && it->ask) {
				it->ask = false;
				return SUBA_CHANGED;
			}
			return 0;
		}
		it->ask = false;
		add_to(it);
		return SUBA_CHANGED | SUBA_DELIVER;
	case SUB_UNSUBSCRIBE:
		/* §3.3.3: the contact stops seeing our presence. */
		if (!it->exists)
			return 0;
		if (has_from(it)) {
			drop_from(it);
			it->pending_in = false;
			return SUBA_CHANGED | SUBA_DELIVER | SUBA_UNAVAIL;
		}
		if (it->pending_in) {
			it->pending_in = false;
			if (it->sub == STORE_SUB_NONE && !it->ask)
				return SUBA_REMOVE;
			return SUBA_STORE;
		}
		return 0;
	case SUB_UNSUBSCRIBED:
		/* §3.2.3: our subscription (or request) is cancelled. */
		if (!it->exists || (!has_to(it) && !it->ask))
			return 0;
		it->ask = false;
		drop_to(it);
		return SUBA_CHANGED | SUBA_DELIVER;
	}
	return 0;
}
