/*
 * Unit tests of authentication throttling, driven by a fake clock: the
 * growing delay, the address block and its end, the account block that
 * spares addresses that never failed, a success clearing its address,
 * the window that forgets old failures, tables that stay bounded under a
 * spray of addresses and accounts, and the address keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp/authlimit.h"

static const struct authlimit_config CFG = {
	.delay_after = 3,
	.delay_ms = 100,
	.delay_max_ms = 1000,
	.block_after = 10,
	.account_block_after = 20,
	.block_s = 60,
	.window_s = 300,
	.max_entries = 100,
};

static struct authlimit *
make(const struct authlimit_config *cfg)
{
	struct authlimit *al = authlimit_new(cfg);

	assert_non_null(al);
	return al;
}

static void
test_delay_grows_then_caps(void **state)
{
	struct authlimit *al = make(&CFG);
	struct authlimit_outcome o;
	static const uint64_t want[] = { 0, 0, 0, 100, 200, 400, 800, 1000,
	    1000 };
	uint64_t now = 1000;

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(authlimit_check(al, "10.0.0.1", "alice", now,
		    NULL), AL_ALLOW);
		authlimit_failure(al, "10.0.0.1", "alice", now, &o);
		assert_int_equal(o.addr_failures, i + 1);
		assert_int_equal(o.account_failures, i + 1);
		assert_int_equal(o.delay_ms, want[i]);
		assert_false(o.addr_blocked);
		now += 10;
	}
	/* A success is answered after the same delay, then clears it. */
	assert_int_equal(authlimit_success_delay(al, "10.0.0.1", "alice", now),
	    1000);
	authlimit_success(al, "10.0.0.1", "alice");
	assert_int_equal(authlimit_success_delay(al, "10.0.0.1", "alice", now),
	    0);
	/* The account's own count stays (someone may attack it from
	 * elsewhere), so an address failing for it again is slowed by it. */
	authlimit_failure(al, "10.0.0.1", "alice", now, &o);
	assert_int_equal(o.addr_failures, 1);
	assert_int_equal(o.account_failures, 10);
	assert_int_equal(o.delay_ms, 1000);
	/* Another account from that address: the address count alone. */
	authlimit_failure(al, "10.0.0.1", "bob", now, &o);
	assert_int_equal(o.addr_failures, 2);
	assert_int_equal(o.delay_ms, 0);
	authlimit_free(al);
}

static void
test_address_block_and_expiry(void **state)
{
	struct authlimit *al = make(&CFG);
	struct authlimit_outcome o;
	uint64_t now = 5000, until = 0;

	(void)state;
	for (unsigned i = 1; i <= 10; i++) {
		authlimit_failure(al, "10.0.0.2", i % 2 ? "a" : "b", now, &o);
		assert_int_equal(o.addr_blocked, i == 10);
	}
	assert_int_equal(authlimit_check(al, "10.0.0.2", NULL, now, &until),
	    AL_BLOCKED_ADDR);
	assert_int_equal(until, now + 60000);
	/* Blocked for every account, even one never tried. */
	assert_int_equal(authlimit_check(al, "10.0.0.2", "zed", now + 59999,
	    NULL), AL_BLOCKED_ADDR);
	/* Another address is not affected. */
	assert_int_equal(authlimit_check(al, "10.0.0.3", "a", now, NULL),
	    AL_ALLOW);
	/* After the block the address starts with a fresh budget. */
	now += 60000;
	assert_int_equal(authlimit_check(al, "10.0.0.2", "a", now, NULL),
	    AL_ALLOW);
	authlimit_failure(al, "10.0.0.2", "a", now, &o);
	assert_int_equal(o.addr_failures, 1);
	assert_false(o.addr_blocked);
	authlimit_free(al);
}

static void
test_account_block_spares_other_addresses(void **state)
{
	struct authlimit_config cfg = CFG;
	struct authlimit *al;
	struct authlimit_outcome o;
	char addr[32];
	uint64_t now = 100;

	(void)state;
	cfg.block_after = 0;		/* only the account budget here */
	cfg.account_block_after = 6;
	al = make(&cfg);
	/* A spray from six addresses, one try each, at one account. */
	for (int i = 0; i < 6; i++) {
		snprintf(addr, sizeof addr, "192.0.2.%d", i + 1);
		authlimit_failure(al, addr, "victim", now, &o);
		assert_int_equal(o.account_blocked, i == 5);
	}
	for (int i = 0; i < 6; i++) {
		snprintf(addr, sizeof addr, "192.0.2.%d", i + 1);
		assert_int_equal(authlimit_check(al, addr, "victim", now, NULL),
		    AL_BLOCKED_ACCOUNT);
		/* ...for that account only. */
		assert_int_equal(authlimit_check(al, addr, "other", now, NULL),
		    AL_ALLOW);
	}
	/* The real user's address never failed: it still logs in. */
	assert_int_equal(authlimit_check(al, "198.51.100.7", "victim", now,
	    NULL), AL_ALLOW);
	assert_int_equal(authlimit_success_delay(al, "198.51.100.7", "victim",
	    now), 0);
	/* An attacking address that then fails once more is delayed by the
	 * account's count (6 + 1 > 3). */
	authlimit_failure(al, "192.0.2.1", "victim", now, &o);
	assert_int_equal(o.delay_ms, 800);
	/* An address that fails for the blocked account joins the block. */
	authlimit_failure(al, "198.51.100.8", "victim", now, &o);
	assert_int_equal(o.addr_failures, 1);
	assert_int_equal(o.delay_ms, 1000);
	assert_int_equal(authlimit_check(al, "198.51.100.8", "victim", now,
	    NULL), AL_BLOCKED_ACCOUNT);
	/* The block ends. */
	now += 60000;
	assert_int_equal(authlimit_check(al, "192.0.2.1", "victim", now, NULL),
	    AL_ALLOW);
	authlimit_free(al);
}

static void
test_window_forgets(void **state)
{
	struct authlimit *al = make(&CFG);
	struct authlimit_outcome o;
	uint64_t now = 0;

	(void)state;
	for (int i = 0; i < 9; i++)
		authlimit_failure(al, "10.1.1.1", "u", now, &o);
	assert_int_equal(o.addr_failures, 9);
	now += 299999;
	authlimit_failure(al, "10.1.1.1", "u", now, &o);
	assert_int_equal(o.addr_failures, 10);		/* still counted */
	assert_true(o.addr_blocked);
	/* 300 s after the last failure and after the block: gone. */
	now += 300000;
	assert_int_equal(authlimit_check(al, "10.1.1.1", "u", now, NULL),
	    AL_ALLOW);
	authlimit_failure(al, "10.1.1.1", "u", now, &o);
	assert_int_equal(o.addr_failures, 1);
	authlimit_free(al);
}

static void
test_tables_bounded(void **state)
{
	struct authlimit *al = make(&CFG);
	struct authlimit_outcome o;
	char addr[32], acct[32];
	uint64_t now = 1;

	(void)state;
	/* One blocked address first: a spray must not evict it. */
	for (int i = 0; i < 10; i++)
		authlimit_failure(al, "203.0.113.9", "x", now, &o);
	assert_true(o.addr_blocked);
	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		snprintf(acct, sizeof acct, "user%d", i);
		authlimit_failure(al, addr, acct, now + (uint64_t)i, &o);
		assert_true(authlimit_size(al, 0) <= CFG.max_entries);
		assert_true(authlimit_size(al, 1) <= CFG.max_entries);
		assert_true(authlimit_size(al, 2) <= CFG.max_entries);
	}
	assert_int_equal(authlimit_check(al, "203.0.113.9", NULL, now + 5000,
	    NULL), AL_BLOCKED_ADDR);
	authlimit_free(al);
}

static void
test_no_block_when_off(void **state)
{
	struct authlimit_config cfg = CFG;
	struct authlimit *al;
	struct authlimit_outcome o;

	(void)state;
	cfg.delay_after = 0;
	cfg.block_after = 0;
	cfg.account_block_after = 0;
	al = make(&cfg);
	for (int i = 0; i < 100; i++) {
		authlimit_failure(al, "10.9.9.9", "u", 7, &o);
		assert_int_equal(o.delay_ms, 0);
		assert_false(o.addr_blocked || o.account_blocked);
	}
	assert_int_equal(authlimit_check(al, "10.9.9.9", "u", 7, NULL),
	    AL_ALLOW);
	authlimit_free(al);
}

static void
test_addr_key(void **state)
{
	char k[64];

	(void)state;
	assert_string_equal(authlimit_addr_key("127.0.0.1:4567", k, sizeof k),
	    "127.0.0.1");
	assert_string_equal(authlimit_addr_key("[2001:db8:1:2:3:4:5:6]:99", k,
	    sizeof k), "2001:db8:1:2::/64");
	assert_string_equal(authlimit_addr_key("[2001:db8:1:2::77]:1", k,
	    sizeof k), "2001:db8:1:2::/64");
	assert_string_equal(authlimit_addr_key("[::ffff:192.0.2.1]:5", k,
	    sizeof k), "192.0.2.1");
	assert_string_equal(authlimit_addr_key("[::1]:5", k, sizeof k),
	    "::/64");
	assert_string_equal(authlimit_addr_key("unix", k, sizeof k), "unix");
	assert_string_equal(authlimit_addr_key(NULL, k, sizeof k), "");
	assert_string_equal(authlimit_addr_key("10.0.0.1:1", k, 4), "10.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_grows_then_caps),
		cmocka_unit_test(test_address_block_and_expiry),
		cmocka_unit_test(test_account_block_spares_other_addresses),
		cmocka_unit_test(test_window_forgets),
		cmocka_unit_test(test_tables_bounded),
		cmocka_unit_test(test_no_block_when_off),
		cmocka_unit_test(test_addr_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
