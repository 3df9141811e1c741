/*
 * The subscription state machine of RFC 6121 (§3 and Appendix A) as pure
 * functions on one roster item, so that the rules are in one place and
 * unit-testable.  roster.c applies the returned actions: store and push
 * the item, route the presence on, deliver it to the user, answer for
 * the user, send current or unavailable presence.
 */
#ifndef LIAISON_XMPP_SUBSCRIPTION_H
#define LIAISON_XMPP_SUBSCRIPTION_H

#include <stdbool.h>

#include "store/store.h"

enum sub_type {
	SUB_SUBSCRIBE = 1,
	SUB_SUBSCRIBED,
	SUB_UNSUBSCRIBE,
	SUB_UNSUBSCRIBED,
};

/* The part of a roster item the state machine reads and writes. */
struct sub_item {
	bool exists;		/* there is an item for the contact */
	enum store_sub sub;
	bool ask;		/* our subscribe request is pending */
	bool pending_in;	/* the contact's request is pending */
};

/* Actions, a bit set. */
#define SUBA_CHANGED	0x01	/* store the item and push it to the user */
#define SUBA_STORE	0x02	/* store only (pending_in: not a roster push) */
#define SUBA_ROUTE	0x04	/* route the presence to the contact */
#define SUBA_DELIVER	0x08	/* deliver the presence to the user */
#define SUBA_AUTOREPLY	0x10	/* answer 'subscribed' for the user */
#define SUBA_PRESENCE	0x20	/* send the user's current presence to the contact */
#define SUBA_UNAVAIL	0x40	/* send unavailable from the user to the contact */
#define SUBA_REMOVE	0x80	/* the item is now empty: delete it */

/* Parses "subscribe" ... "unsubscribed"; 0 if it is none of them. */
int sub_type_parse(const char *type);
/* The user sends a subscription presence of `type` to the contact. */
unsigned sub_outbound(struct sub_item *it, int type);
/* A subscription presence of `type` from the contact reaches the user. */
unsigned sub_inbound(struct sub_item *it, int type);

#endif
