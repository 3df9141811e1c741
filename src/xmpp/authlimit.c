/*
 * Failure budgets for SASL (see authlimit.h): three bounded tables of
 * counters, by address, by account and by (account, address) pair.  The
 * pair table is what keeps an account block away from the real user's
 * addresses: it applies only where a pair entry says that address has
 * failed for the account.
 */
#include "xmpp/authlimit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/hmap.h"

enum { T_ADDR = 0, T_ACCOUNT = 1, T_PAIR = 2, T_COUNT = 3 };

struct al_entry {
	unsigned failures;
	uint64_t last_ms;		/* last failure */
	uint64_t blocked_until;		/* 0 = not blocked */
	size_t klen;
	char key[];			/* copy of the map key */
};

struct authlimit {
	struct authlimit_config cfg;
	struct hmap t[T_COUNT];
};

struct authlimit *
authlimit_new(const struct authlimit_config *cfg)
{
	struct authlimit *al = calloc(1, sizeof *al);

	if (al == NULL)
		return NULL;
	al->cfg = *cfg;
	if (al->cfg.max_entries == 0)
		al->cfg.max_entries = 1;
	for (int i = 0; i < T_COUNT; i++)
		hmap_init(&al->t[i]);
	return al;
}

void
authlimit_free(struct authlimit *al)
{
	const char *k;
	size_t kl;
	void *v;

	if (al == NULL)
		return;
	for (int i = 0; i < T_COUNT; i++) {
		for (size_t it = 0; hmap_next(&al->t[i], &it, &k, &kl, &v); )
			free(v);
		hmap_cleanup(&al->t[i]);
	}
	free(al);
}

static bool
is_blocked(const struct al_entry *e, uint64_t now)
{
	return e->blocked_until > now;
}

/* A count older than the window is forgotten; a block runs its time,
 * and then the budget starts afresh (as when fail2ban lifts a ban). */
static bool
is_stale(const struct authlimit *al, const struct al_entry *e, uint64_t now)
{
	if (e->blocked_until != 0)
		return !is_blocked(e, now);
	/* At least as long as a block: the pairs that an account block
	 * applies to must outlive it. */
	return now - e->last_ms >= (uint64_t)(al->cfg.window_s >
	    al->cfg.block_s ? al->cfg.window_s : al->cfg.block_s) * 1000;
}

/* The live entry for key, or NULL (a stale one is dropped here). */
static struct al_entry *
lookup(struct authlimit *al, int t, const char *key, size_t klen,
    uint64_t now)
{
	struct al_entry *e = hmap_get(&al->t[t], key, klen);

	if (e != NULL && is_stale(al, e, now)) {
		hmap_del(&al->t[t], key, klen);
		free(e);
		e = NULL;
	}
	return e;
}

/*
 * Makes room in a full table: drops every stale entry, and if none was,
 * the entry whose last failure is oldest among the unblocked ones (or,
 * when all are blocked, the block that ends first).  O(n), only when full.
 */
static void
make_room(struct authlimit *al, int t, uint64_t now)
{
	struct hmap *m = &al->t[t];
	struct al_entry *victim = NULL, **stale;
	size_t nstale = 0, it = 0, kl;
	const char *k;
	void *v;

	stale = malloc(m->count * sizeof *stale);
	while (hmap_next(m, &it, &k, &kl, &v)) {
		struct al_entry *e = v;

		if (is_stale(al, e, now)) {
			if (stale != NULL)
				stale[nstale++] = e;
			continue;
		}
		if (victim == NULL ||
		    (is_blocked(victim, now) && !is_blocked(e, now)) ||
		    (is_blocked(victim, now) == is_blocked(e, now) &&
		    (is_blocked(e, now) ? e->blocked_until <
		    victim->blocked_until : e->last_ms < victim->last_ms)))
			victim = e;
	}
	if (nstale == 0 && victim != NULL && stale != NULL)
		stale[nstale++] = victim;
	else if (nstale == 0 && victim != NULL) {
		/* No memory for the list: drop just the victim. */
		hmap_del(m, victim->key, victim->klen);
		free(victim);
	}
	for (size_t i = 0; i < nstale; i++) {
		hmap_del(m, stale[i]->key, stale[i]->klen);
		free(stale[i]);
	}
	free(stale);
}

/* The live entry for key, created if missing; NULL out of memory. */
static struct al_entry *
get_or_add(struct authlimit *al, int t, const char *key, size_t klen,
    uint64_t now)
{
	struct al_entry *e = lookup(al, t, key, klen, now);

	if (e != NULL)
		return e;
	if (al->t[t].count >= al->cfg.max_entries)
		make_room(al, t, now);
	e = calloc(1, sizeof *e + klen);
	if (e == NULL)
		return NULL;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->last_ms = now;
	if (hmap_put(&al->t[t], e->key, klen, e, NULL) != L_OK) {
		free(e);
		return NULL;
	}
	return e;
}

/* "account\0addr" into buf; returns its length, 0 if it does not fit. */
static size_t
pair_key(const char *account, const char *addr, char *buf, size_t n)
{
	size_t la = strlen(account), lb = strlen(addr);

	if (la + 1 + lb > n)
		return 0;
	memcpy(buf, account, la);
	buf[la] = '\0';
	memcpy(buf + la + 1, addr, lb);
	return la + 1 + lb;
}

#define PAIR_MAX 1200	/* a localpart (1023) and an address (INET6 + /64) */

int
authlimit_check(struct authlimit *al, const char *addr, const char *account,
    uint64_t now_ms, uint64_t *until_ms)
{
	struct al_entry *e;
	char pk[PAIR_MAX];
	size_t pl;

	e = lookup(al, T_ADDR, addr, strlen(addr), now_ms);
	if (e != NULL && is_blocked(e, now_ms)) {
		if (until_ms != NULL)
			*until_ms = e->blocked_until;
		return AL_BLOCKED_ADDR;
	}
	if (account == NULL || account[0] == '\0')
		return AL_ALLOW;
	e = lookup(al, T_ACCOUNT, account, strlen(account), now_ms);
	if (e == NULL || !is_blocked(e, now_ms))
		return AL_ALLOW;
	/* The account is blocked, but only for addresses that failed for
	 * it: the real user elsewhere still logs in. */
	pl = pair_key(account, addr, pk, sizeof pk);
	if (pl == 0 || lookup(al, T_PAIR, pk, pl, now_ms) == NULL)
		return AL_ALLOW;
	if (until_ms != NULL)
		*until_ms = e->blocked_until;
	return AL_BLOCKED_ACCOUNT;
}

static uint64_t
delay_for(const struct authlimit *al, unsigned failures)
{
	uint64_t d;
	unsigned steps;

	if (al->cfg.delay_after == 0 || failures <= al->cfg.delay_after)
		return 0;
	steps = failures - al->cfg.delay_after - 1;
	d = al->cfg.delay_ms;
	while (steps-- > 0 && d < al->cfg.delay_max_ms)
		d *= 2;
	return d < al->cfg.delay_max_ms ? d : al->cfg.delay_max_ms;
}

void
authlimit_failure(struct authlimit *al, const char *addr, const char *account,
    uint64_t now_ms, struct authlimit_outcome *out)
{
	struct al_entry *ea, *eu = NULL, *ep = NULL;
	unsigned eff;
	char pk[PAIR_MAX];
	size_t pl = 0;

	memset(out, 0, sizeof *out);
	if (account != NULL && account[0] == '\0')
		account = NULL;
	ea = get_or_add(al, T_ADDR, addr, strlen(addr), now_ms);
	if (ea != NULL) {
		if (ea->failures < UINT32_MAX)
			ea->failures++;
		ea->last_ms = now_ms;
		out->addr_failures = ea->failures;
		if (al->cfg.block_after != 0 &&
		    ea->failures >= al->cfg.block_after &&
		    !is_blocked(ea, now_ms)) {
			ea->blocked_until = now_ms +
			    (uint64_t)al->cfg.block_s * 1000;
			out->addr_blocked = true;
		}
	}
	if (account != NULL) {
		eu = get_or_add(al, T_ACCOUNT, account, strlen(account),
		    now_ms);
		pl = pair_key(account, addr, pk, sizeof pk);
		if (pl != 0)
			ep = get_or_add(al, T_PAIR, pk, pl, now_ms);
	}
	if (ep != NULL) {
		if (ep->failures < UINT32_MAX)
			ep->failures++;
		ep->last_ms = now_ms;
	}
	if (eu != NULL) {
		if (eu->failures < UINT32_MAX)
			eu->failures++;
		eu->last_ms = now_ms;
		out->account_failures = eu->failures;
		if (al->cfg.account_block_after != 0 &&
		    eu->failures >= al->cfg.account_block_after &&
		    !is_blocked(eu, now_ms)) {
			eu->blocked_until = now_ms +
			    (uint64_t)al->cfg.block_s * 1000;
			out->account_blocked = true;
		}
	}
	/* The delay follows the address's count, or the account's where
	 * this address has failed for it (a spray from many addresses at
	 * one account is slowed too, the real user's address is not). */
	eff = out->addr_failures;
	if (ep != NULL && out->account_failures > eff)
		eff = out->account_failures;
	out->delay_ms = delay_for(al, eff);
}

uint64_t
authlimit_success_delay(struct authlimit *al, const char *addr,
    const char *account, uint64_t now_ms)
{
	struct al_entry *ea, *eu, *ep = NULL;
	unsigned eff = 0;
	char pk[PAIR_MAX];
	size_t pl;

	ea = lookup(al, T_ADDR, addr, strlen(addr), now_ms);
	if (ea != NULL)
		eff = ea->failures;
	if (account != NULL && account[0] != '\0') {
		pl = pair_key(account, addr, pk, sizeof pk);
		if (pl != 0)
			ep = lookup(al, T_PAIR, pk, pl, now_ms);
		eu = lookup(al, T_ACCOUNT, account, strlen(account), now_ms);
		if (ep != NULL && eu != NULL && eu->failures > eff)
			eff = eu->failures;
	}
	return delay_for(al, eff);
}

void
authlimit_success(struct authlimit *al, const char *addr, const char *account)
{
	struct al_entry *e;
	char pk[PAIR_MAX];
	size_t pl;

	e = hmap_del(&al->t[T_ADDR], addr, strlen(addr));
	free(e);
	if (account == NULL || account[0] == '\0')
		return;
	pl = pair_key(account, addr, pk, sizeof pk);
	if (pl != 0) {
		e = hmap_del(&al->t[T_PAIR], pk, pl);
		free(e);
	}
}

size_t
authlimit_size(const struct authlimit *al, int table)
{
	return table >= 0 && table < T_COUNT ? al->t[table].count : 0;
}

char *
authlimit_addr_key(const char *peer, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end;
	size_t n;
	struct in6_addr a6;

	if (outlen == 0)
		return out;
	if (peer == NULL)
		peer = "";
	if (peer[0] == '[') {
		end = strchr(peer, ']');
		n = end != NULL ? (size_t)(end - peer - 1) : strlen(peer + 1);
		if (n >= sizeof host)
			n = sizeof host - 1;
		memcpy(host, peer + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) == 1) {
			char pfx[INET6_ADDRSTRLEN];

			/* A v4-mapped address is an IPv4 host. */
			if (IN6_IS_ADDR_V4MAPPED(&a6)) {
				inet_ntop(AF_INET, &a6.s6_addr[12], pfx,
				    sizeof pfx);
				snprintf(out, outlen, "%s", pfx);
				return out;
			}
			memset(&a6.s6_addr[8], 0, 8);
			inet_ntop(AF_INET6, &a6, pfx, sizeof pfx);
			snprintf(out, outlen, "%s/64", pfx);
			return out;
		}
		snprintf(out, outlen, "%s", host);
		return out;
	}
	end = strrchr(peer, ':');
	n = end != NULL ? (size_t)(end - peer) : strlen(peer);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
	return out;
}
