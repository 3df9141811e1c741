/*
 * Authentication throttling: failed SASL attempts are counted per client
 * address and per account.  After some failures each further answer is
 * delayed (growing), after more the address, or the account for the
 * addresses that have failed for it, is blocked for a while.  The real
 * user's other addresses are never locked out by an account block, and a
 * success clears the address's count.  Tables are bounded: stale entries
 * expire and, when a table is full, the oldest unblocked one goes first.
 * Time is passed in by the caller (milliseconds, monotonic), so tests
 * drive it with a fake clock; nothing here blocks or sleeps.
 */
#ifndef LIAISON_XMPP_AUTHLIMIT_H
#define LIAISON_XMPP_AUTHLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct authlimit_config {
	unsigned delay_after;	/* failures before answers are delayed; 0 = never */
	unsigned delay_ms;	/* first delay; doubles with each failure */
	unsigned delay_max_ms;	/* cap of the delay */
	unsigned block_after;	/* failures of an address: block it; 0 = never */
	unsigned account_block_after; /* failures for an account: block it
				 * for the addresses that failed; 0 = never */
	unsigned block_s;	/* how long a block lasts */
	unsigned window_s;	/* a count is forgotten this long after its
				 * last failure */
	unsigned max_entries;	/* per table (addresses, accounts, pairs) */
};

struct authlimit;

/* Returns NULL when out of memory.  cfg is copied. */
struct authlimit *authlimit_new(const struct authlimit_config *cfg);
void authlimit_free(struct authlimit *al);

/* authlimit_check verdicts. */
enum {
	AL_ALLOW = 0,
	AL_BLOCKED_ADDR = 1,	/* the address is blocked */
	AL_BLOCKED_ACCOUNT = 2,	/* the account, for this address */
};

/*
 * May an attempt from `addr` for `account` (NULL: not known yet) go on?
 * Returns AL_ALLOW or a block, with *until_ms (may be NULL) set to when
 * the block ends.
 */
int authlimit_check(struct authlimit *al, const char *addr,
    const char *account, uint64_t now_ms, uint64_t *until_ms);

/* What a recorded failure led to. */
struct authlimit_outcome {
	unsigned addr_failures;		/* count of the address, now */
	unsigned account_failures;	/* of the account (0 if none given) */
	uint64_t delay_ms;		/* hold the answer this long */
	bool addr_blocked;		/* this failure blocked the address */
	bool account_blocked;		/* ...or the account */
};

/*
 * Records a failed attempt (a wrong password or an unknown user) from
 * `addr` for `account` (NULL or "": not known, only the address counts).
 * Out of memory the failure is still counted where an entry exists.
 */
void authlimit_failure(struct authlimit *al, const char *addr,
    const char *account, uint64_t now_ms, struct authlimit_outcome *out);

/*
 * The delay for answering a successful attempt from `addr` for `account`:
 * the same as the last failure had, so an attacker cannot tell success
 * from failure by the time of the answer.
 */
uint64_t authlimit_success_delay(struct authlimit *al, const char *addr,
    const char *account, uint64_t now_ms);

/*
 * A successful login: forgets the address's count and its failures for
 * that account (the account's own count stays: someone else may be
 * attacking it from elsewhere).
 */
void authlimit_success(struct authlimit *al, const char *addr,
    const char *account);

/* Entries held, for tests: 0 addresses, 1 accounts, 2 pairs. */
size_t authlimit_size(const struct authlimit *al, int table);

/*
 * The key an address is counted under: the IP without the port, and for
 * IPv6 its /64 (one host holds a whole /64).  "1.2.3.4:5" -> "1.2.3.4",
 * "[2001:db8:1:2::5]:7" -> "2001:db8:1:2::/64".  Returns out.
 */
char *authlimit_addr_key(const char *peer, char *out, size_t outlen);

#endif
