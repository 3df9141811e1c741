/*
 * The roster subscription state machine (RFC 6121 Appendix A): each
 * outbound and inbound subscription presence against each starting
 * state, and two whole handshakes played between two users' items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xmpp/subscription.h"

static struct sub_item
item(enum store_sub sub, bool ask, bool pending_in)
{
	return (struct sub_item){ true, sub, ask, pending_in };
}

static void
test_parse(void **state)
{
	(void)state;
	assert_int_equal(sub_type_parse("subscribe"), SUB_SUBSCRIBE);
	assert_int_equal(sub_type_parse("unsubscribed"), SUB_UNSUBSCRIBED);
	assert_int_equal(sub_type_parse("probe"), 0);
	assert_int_equal(sub_type_parse(NULL), 0);
}

static void
test_outbound_subscribe(void **state)
{
	struct sub_item none = { 0 }, it;
	unsigned a;

	(void)state;
	/* No item: one is created with ask, pushed and routed. */
	a = sub_outbound(&none, SUB_SUBSCRIBE);
	assert_true(none.exists && none.ask);
	assert_int_equal(none.sub, STORE_SUB_NONE);
	assert_int_equal(a, SUBA_CHANGED | SUBA_ROUTE);
	/* Already asked: routed again, no change. */
	a = sub_outbound(&none, SUB_SUBSCRIBE);
	assert_int_equal(a, SUBA_ROUTE);
	/* Subscribed already: no ask, routed (the contact answers). */
	it = item(STORE_SUB_TO, false, false);
	a = sub_outbound(&it, SUB_SUBSCRIBE);
	assert_false(it.ask);
	assert_int_equal(a, SUBA_ROUTE);
	/* 'from' gets ask too. */
	it = item(STORE_SUB_FROM, false, false);
	a = sub_outbound(&it, SUB_SUBSCRIBE);
	assert_true(it.ask);
	assert_int_equal(a, SUBA_CHANGED | SUBA_ROUTE);
}

static void
test_outbound_subscribed(void **state)
{
	struct sub_item it = item(STORE_SUB_NONE, false, true);
	unsigned a;

	(void)state;
	a = sub_outbound(&it, SUB_SUBSCRIBED);
	assert_int_equal(it.sub, STORE_SUB_FROM);
	assert_false(it.pending_in);
	assert_int_equal(a, SUBA_CHANGED | SUBA_ROUTE | SUBA_PRESENCE);
	it = item(STORE_SUB_TO, false, true);
	sub_outbound(&it, SUB_SUBSCRIBED);
	assert_int_equal(it.sub, STORE_SUB_BOTH);
	/* Without a pending request nothing happens (no pre-approval). */
	it = item(STORE_SUB_NONE, false, false);
	assert_int_equal(sub_outbound(&it, SUB_SUBSCRIBED), 0);
	assert_int_equal(it.sub, STORE_SUB_NONE);
	it = (struct sub_item){ 0 };
	assert_int_equal(sub_outbound(&it, SUB_SUBSCRIBED), 0);
	assert_false(it.exists);
}

static void
test_outbound_cancel(void **state)
{
	struct sub_item it = item(STORE_SUB_BOTH, false, false);
	unsigned a;

	(void)state;
	a = sub_outbound(&it, SUB_UNSUBSCRIBE);
	assert_int_equal(it.sub, STORE_SUB_FROM);
	assert_int_equal(a, SUBA_CHANGED | SUBA_ROUTE);
	a = sub_outbound(&it, SUB_UNSUBSCRIBED);
	assert_int_equal(it.sub, STORE_SUB_NONE);
	assert_int_equal(a, SUBA_CHANGED | SUBA_ROUTE | SUBA_UNAVAIL);
	/* Denying a pending request of a contact not in the roster
	 * removes the placeholder item. */
	it = item(STORE_SUB_NONE, false, true);
	a = sub_outbound(&it, SUB_UNSUBSCRIBED);
	assert_false(it.pending_in);
	assert_int_equal(a, SUBA_REMOVE | SUBA_ROUTE);
	/* Denying with our own request pending keeps the item. */
	it = item(STORE_SUB_NONE, true, true);
	a = sub_outbound(&it, SUB_UNSUBSCRIBED);
	assert_int_equal(a, SUBA_STORE | SUBA_ROUTE);
	/* Nothing to cancel: not routed. */
	it = item(STORE_SUB_TO, false, false);
	assert_int_equal(sub_outbound(&it, SUB_UNSUBSCRIBED), 0);
}

static void
test_inbound(void **state)
{
	struct sub_item it = { 0 };
	unsigned a;

	(void)state;
	a = sub_inbound(&it, SUB_SUBSCRIBE);
	assert_true(it.exists && it.pending_in);
	assert_int_equal(a, SUBA_STORE | SUBA_DELIVER);
	/* A repeated request is delivered again, nothing stored. */
	assert_int_equal(sub_inbound(&it, SUB_SUBSCRIBE), SUBA_DELIVER);
	/* Already subscribed-from: the server answers for the user. */
	it = item(STORE_SUB_FROM, false, false);
	assert_int_equal(sub_inbound(&it, SUB_SUBSCRIBE), SUBA_AUTOREPLY);
	/* subscribed only counts when we asked. */
	it = item(STORE_SUB_NONE, false, false);
	assert_int_equal(sub_inbound(&it, SUB_SUBSCRIBED), 0);
	assert_int_equal(it.sub, STORE_SUB_NONE);
	it = item(STORE_SUB_FROM, true, false);
	a = sub_inbound(&it, SUB_SUBSCRIBED);
	assert_int_equal(it.sub, STORE_SUB_BOTH);
	assert_false(it.ask);
	assert_int_equal(a, SUBA_CHANGED | SUBA_DELIVER);
	/* The contact unsubscribes from us. */
	a = sub_inbound(&it, SUB_UNSUBSCRIBE);
	assert_int_equal(it.sub, STORE_SUB_TO);
	assert_int_equal(a, SUBA_CHANGED | SUBA_DELIVER | SUBA_UNAVAIL);
	/* The contact cancels our subscription. */
	a = sub_inbound(&it, SUB_UNSUBSCRIBED);
	assert_int_equal(it.sub, STORE_SUB_NONE);
	assert_int_equal(a, SUBA_CHANGED | SUBA_DELIVER);
	assert_int_equal(sub_inbound(&it, SUB_UNSUBSCRIBED), 0);
}

/* Plays a presence from one user's item to the other's, as roster.c
 * does for two local users. */
static void
play(struct sub_item *from_item, struct sub_item *to_item, int type)
{
	unsigned a = sub_outbound(from_item, type);

	if (a & SUBA_ROUTE) {
		unsigned b = sub_inbound(to_item, type);

		if (b & SUBA_AUTOREPLY)
			play(to_item, from_item, SUB_SUBSCRIBED);
	}
}

static void
test_handshake_both(void **state)
{
	struct sub_item a_b = { 0 }, b_a = { 0 };

	(void)state;
	play(&a_b, &b_a, SUB_SUBSCRIBE);	/* alice asks bob */
	assert_true(a_b.ask && b_a.pending_in);
	play(&b_a, &a_b, SUB_SUBSCRIBED);	/* bob approves */
	assert_int_equal(a_b.sub, STORE_SUB_TO);
	assert_int_equal(b_a.sub, STORE_SUB_FROM);
	play(&b_a, &a_b, SUB_SUBSCRIBE);	/* bob asks alice */
	play(&a_b, &b_a, SUB_SUBSCRIBED);	/* alice approves */
	assert_int_equal(a_b.sub, STORE_SUB_BOTH);
	assert_int_equal(b_a.sub, STORE_SUB_BOTH);
	assert_false(a_b.ask || b_a.ask || a_b.pending_in || b_a.pending_in);
	/* Asking again while subscribed is answered by the server. */
	play(&a_b, &b_a, SUB_SUBSCRIBE);
	assert_int_equal(a_b.sub, STORE_SUB_BOTH);
	/* alice cancels bob's subscription to her. */
	play(&a_b, &b_a, SUB_UNSUBSCRIBED);
	assert_int_equal(a_b.sub, STORE_SUB_TO);
	assert_int_equal(b_a.sub, STORE_SUB_FROM);
	/* alice unsubscribes from bob. */
	play(&a_b, &b_a, SUB_UNSUBSCRIBE);
	assert_int_equal(a_b.sub, STORE_SUB_NONE);
	assert_int_equal(b_a.sub, STORE_SUB_NONE);
}

static void
test_handshake_denied(void **state)
{
	struct sub_item a_b = { 0 }, b_a = { 0 };

	(void)state;
	play(&a_b, &b_a, SUB_SUBSCRIBE);
	play(&b_a, &a_b, SUB_UNSUBSCRIBED);	/* bob denies */
	assert_false(a_b.ask);
	assert_int_equal(a_b.sub, STORE_SUB_NONE);
	assert_false(b_a.pending_in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_outbound_subscribe),
		cmocka_unit_test(test_outbound_subscribed),
		cmocka_unit_test(test_outbound_cancel),
		cmocka_unit_test(test_inbound),
		cmocka_unit_test(test_handshake_both),
		cmocka_unit_test(test_handshake_denied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
