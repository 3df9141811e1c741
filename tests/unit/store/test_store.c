/*
 * Unit tests of the storage layer.  Every operation is run twice: on a
 * STORE_SYNC handle (callbacks inline) and on a threaded handle driven by a
 * small poll() loop on store_notify_fd().  Durability is checked from a
 * second, independent SQLite connection inside the completion callback, so
 * a completion that ran before its COMMIT would fail the test.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "base/errors.h"
#include "store/store.h"

struct fx {
	char		 dir[64];
	char		 path[128];
	unsigned	 flags;
	struct store	*st;
};

/* What a callback saw. */
struct rec {
	int		 called;
	int		 rc;
	void		*p;
	size_t		 len;
	uint64_t	 ver;
};

static void
rec_done(void *arg, int rc)
{
	struct rec	*r = arg;

	r->called++;
	r->rc = rc;
}

static void
rec_ver(void *arg, int rc, uint64_t ver)
{
	struct rec	*r = arg;

	r->called++;
	r->rc = rc;
	r->ver = ver;
}

static void
rec_ptr(struct rec *r, int rc, void *p)
{
	r->called++;
	r->rc = rc;
	r->p = p;
}

static void
rec_strlist(void *arg, int rc, struct store_strlist *l)
{
	rec_ptr(arg, rc, l);
}

static void
rec_cred(void *arg, int rc, struct store_cred *c)
{
	rec_ptr(arg, rc, c);
}

static void
rec_roster(void *arg, int rc, struct store_roster *r)
{
	rec_ptr(arg, rc, r);
}

static void
rec_offline(void *arg, int rc, struct store_offline *l)
{
	rec_ptr(arg, rc, l);
}

static void
rec_text(void *arg, int rc, char *s)
{
	rec_ptr(arg, rc, s);
}

static void
rec_blob(void *arg, int rc, char *v, size_t len)
{
	struct rec	*r = arg;

	rec_ptr(r, rc, v);
	r->len = len;
}

/*
 * Waits until *count reaches `want`: in async mode polls the notify fd and
 * dispatches, failing after 10 s; in sync mode it must already be there.
 */
static void
wait_count(struct store *st, const int *count, int want)
{
	struct pollfd	pfd;
	int		waited = 0;

	if (store_notify_fd(st) < 0) {
		assert_int_equal(*count, want);
		return;
	}
	while (*count < want) {
		pfd.fd = store_notify_fd(st);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		store_dispatch(st);
		if (++waited > 100)
			fail_msg("timed out: %d of %d completions", *count,
			    want);
	}
	assert_int_equal(*count, want);
}

static void
wait_rec(struct fx *fx, struct rec *r)
{
	wait_count(fx->st, &r->called, 1);
}

static int
fx_setup(void **state, unsigned flags)
{
	struct fx	*fx;
	char		 err[256];

	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/liaison-store-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/store.db", fx->dir);
	fx->flags = flags;
	fx->st = store_open(fx->path, flags, err, sizeof(err));
	if (fx->st == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
setup_sync(void **state)
{
	return fx_setup(state, STORE_SYNC);
}

static int
setup_async(void **state)
{
	return fx_setup(state, 0);
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	char		 cmd[256];

	store_close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct store_cred
mkcred(const char *mech, unsigned char seed, size_t keylen)
{
	struct store_cred	c;

	memset(&c, 0, sizeof(c));
	snprintf(c.mech, sizeof(c.mech), "%s", mech);
	memset(c.salt, seed, 16);
	c.salt_len = 16;
	c.iterations = 4096 + seed;
	memset(c.stored_key, seed + 1, keylen);
	memset(c.server_key, seed + 2, keylen);
	c.key_len = keylen;
	return c;
}

/* Shorthands: run one op and wait for it. */
static int
do_done(struct fx *fx, int qrc, struct rec *r)
{
	assert_int_equal(qrc, L_OK);
	wait_rec(fx, r);
	return r->rc;
}

static int
user_create(struct fx *fx, const char *jid)
{
	struct store_cred	c = mkcred("SCRAM-SHA-256", 7, 32);
	struct rec		r = { 0 };

	return do_done(fx, store_user_create(fx->st, jid, &c, 1, rec_done, &r),
	    &r);
}

static int
offline_push(struct fx *fx, const char *to, const char *xml, int64_t stamp)
{
	struct rec	r = { 0 };

	return do_done(fx, store_offline_push(fx->st, to, xml, strlen(xml),
	    stamp, "sender@example.org/res", rec_done, &r), &r);
}

static struct store_offline *
offline_load(struct fx *fx, const char *jid)
{
	struct rec	r = { 0 };

	assert_int_equal(do_done(fx, store_offline_load(fx->st, jid,
	    rec_offline, &r), &r), L_OK);
	assert_non_null(r.p);
	return r.p;
}

static struct store_roster *
roster_load(struct fx *fx, const char *owner)
{
	struct rec	r = { 0 };

	assert_int_equal(do_done(fx, store_roster_load(fx->st, owner,
	    rec_roster, &r), &r), L_OK);
	assert_non_null(r.p);
	return r.p;
}

/* ---- Users ----------------------------------------------------------- */

static void
test_users(void **state)
{
	struct fx		*fx = *state;
	struct store_cred	 creds[2], *c;
	struct store_strlist	*l;
	struct rec		 r;

	creds[0] = mkcred("SCRAM-SHA-1", 1, 20);
	creds[1] = mkcred("SCRAM-SHA-256", 2, 32);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_create(fx->st,
	    "juliet@example.org", creds, 2, rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_create(fx->st,
	    "juliet@example.org", creds, 1, rec_done, &r), &r), L_ERR_EXISTS);
	assert_int_equal(user_create(fx, "alice@example.org"), L_OK);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_exists(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_exists(fx->st,
	    "romeo@example.org", rec_done, &r), &r), L_ERR_NOTFOUND);

	/* Each mechanism gives back exactly what was stored. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-256", rec_cred, &r), &r), L_OK);
	c = r.p;
	assert_non_null(c);
	assert_string_equal(c->mech, "SCRAM-SHA-256");
	assert_int_equal(c->salt_len, 16);
	assert_memory_equal(c->salt, creds[1].salt, 16);
	assert_int_equal(c->iterations, creds[1].iterations);
	assert_int_equal(c->key_len, 32);
	assert_memory_equal(c->stored_key, creds[1].stored_key, 32);
	assert_memory_equal(c->server_key, creds[1].server_key, 32);
	store_cred_free(c);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-1", rec_cred, &r), &r), L_OK);
	c = r.p;
	assert_int_equal(c->key_len, 20);
	assert_memory_equal(c->stored_key, creds[0].stored_key, 20);
	store_cred_free(c);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-512", rec_cred, &r), &r),
	    L_ERR_NOTFOUND);
	assert_null(r.p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "nobody@example.org", "SCRAM-SHA-1", rec_cred, &r), &r),
	    L_ERR_NOTFOUND);

	/* A password change replaces every credential. */
	creds[0] = mkcred("SCRAM-SHA-256", 9, 32);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_set_creds(fx->st,
	    "juliet@example.org", creds, 1, rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-1", rec_cred, &r), &r),
	    L_ERR_NOTFOUND);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-256", rec_cred, &r), &r), L_OK);
	c = r.p;
	assert_memory_equal(c->stored_key, creds[0].stored_key, 32);
	assert_int_equal(c->iterations, 4096 + 9);
	store_cred_free(c);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_set_creds(fx->st,
	    "romeo@example.org", creds, 1, rec_done, &r), &r),
	    L_ERR_NOTFOUND);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_list(fx->st, rec_strlist, &r),
	    &r), L_OK);
	l = r.p;
	assert_int_equal(l->n, 2);
	assert_string_equal(l->v[0], "alice@example.org");
	assert_string_equal(l->v[1], "juliet@example.org");
	store_strlist_free(l);
}

static void
test_invalid_args(void **state)
{
	struct fx		*fx = *state;
	struct store_cred	 creds[2];
	struct rec		 r = { 0 };

	creds[0] = mkcred("SCRAM-SHA-1", 1, 20);
	creds[1] = mkcred("SCRAM-SHA-1", 2, 20);
	/* Refused calls never call back. */
	assert_int_equal(store_user_create(fx->st, "", creds, 1, rec_done,
	    &r), L_ERR_INVAL);
	assert_int_equal(store_user_create(fx->st, NULL, creds, 1, rec_done,
	    &r), L_ERR_INVAL);
	assert_int_equal(store_user_create(fx->st, "a@b", creds, 2, rec_done,
	    &r), L_ERR_INVAL);	/* same mechanism twice */
	creds[1].key_len = STORE_KEY_MAX + 1;
	assert_int_equal(store_user_set_creds(fx->st, "a@b", &creds[1], 1,
	    rec_done, &r), L_ERR_INVAL);
	assert_int_equal(store_offline_push(fx->st, "a@b", NULL, 3, 0, "c@d",
	    rec_done, &r), L_ERR_INVAL);
	assert_int_equal(store_roster_load(fx->st, "a@b", NULL, NULL),
	    L_ERR_INVAL);
	assert_int_equal(r.called, 0);
	/* The sync helpers refuse a threaded handle instead of blocking. */
	if (!(fx->flags & STORE_SYNC))
		assert_int_equal(store_sync_user_exists(fx->st, "a@b"),
		    L_ERR_INVAL);
}

/* ---- Roster ---------------------------------------------------------- */

static void
test_roster(void **state)
{
	struct fx			*fx = *state;
	struct store_roster		*ro;
	struct store_roster_item	 it;
	char				*g2[] = { "Friends", "Work" };
	char				*g1[] = { "Family" };
	struct rec			 r;

	ro = roster_load(fx, "juliet@example.org");
	assert_int_equal(ro->n, 0);
	assert_int_equal(ro->version, 0);
	store_roster_free(ro);

	memset(&it, 0, sizeof(it));
	it.contact = "romeo@example.net";
	it.name = "Romeo";
	it.sub = STORE_SUB_BOTH;
	it.ngroups = 2;
	it.groups = g2;
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_put(fx->st,
	    "juliet@example.org", &it, rec_ver, &r), &r), L_OK);
	assert_int_equal(r.ver, 1);

	memset(&it, 0, sizeof(it));
	it.contact = "nurse@example.org";
	it.sub = STORE_SUB_NONE;
	it.ask = true;
	it.pending_in = true;
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_put(fx->st,
	    "juliet@example.org", &it, rec_ver, &r), &r), L_OK);
	assert_int_equal(r.ver, 2);

	ro = roster_load(fx, "juliet@example.org");
	assert_int_equal(ro->version, 2);
	assert_int_equal(ro->n, 2);
	assert_string_equal(ro->items[0].contact, "nurse@example.org");
	assert_null(ro->items[0].name);
	assert_int_equal(ro->items[0].sub, STORE_SUB_NONE);
	assert_true(ro->items[0].ask);
	assert_true(ro->items[0].pending_in);
	assert_int_equal(ro->items[0].ngroups, 0);
	assert_string_equal(ro->items[1].contact, "romeo@example.net");
	assert_string_equal(ro->items[1].name, "Romeo");
	assert_int_equal(ro->items[1].sub, STORE_SUB_BOTH);
	assert_false(ro->items[1].ask);
	assert_false(ro->items[1].pending_in);
	assert_int_equal(ro->items[1].ngroups, 2);
	assert_string_equal(ro->items[1].groups[0], "Friends");
	assert_string_equal(ro->items[1].groups[1], "Work");
	store_roster_free(ro);

	/* Upsert replaces name, subscription and the whole group set. */
	memset(&it, 0, sizeof(it));
	it.contact = "romeo@example.net";
	it.sub = STORE_SUB_FROM;
	it.ngroups = 1;
	it.groups = g1;
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_put(fx->st,
	    "juliet@example.org", &it, rec_ver, &r), &r), L_OK);
	assert_int_equal(r.ver, 3);
	ro = roster_load(fx, "juliet@example.org");
	assert_int_equal(ro->n, 2);
	assert_null(ro->items[1].name);
	assert_int_equal(ro->items[1].sub, STORE_SUB_FROM);
	assert_int_equal(ro->items[1].ngroups, 1);
	assert_string_equal(ro->items[1].groups[0], "Family");
	store_roster_free(ro);

	/* Another owner's roster is separate. */
	ro = roster_load(fx, "romeo@example.net");
	assert_int_equal(ro->n, 0);
	store_roster_free(ro);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_delete(fx->st,
	    "juliet@example.org", "nurse@example.org", rec_ver, &r), &r),
	    L_OK);
	assert_int_equal(r.ver, 4);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_delete(fx->st,
	    "juliet@example.org", "nurse@example.org", rec_ver, &r), &r),
	    L_ERR_NOTFOUND);
	ro = roster_load(fx, "juliet@example.org");
	assert_int_equal(ro->version, 4);
	assert_int_equal(ro->n, 1);
	assert_string_equal(ro->items[0].contact, "romeo@example.net");
	assert_int_equal(ro->items[0].ngroups, 1);
	store_roster_free(ro);
}

/* ---- Offline messages ------------------------------------------------ */

static void
test_offline(void **state)
{
	struct fx		*fx = *state;
	struct store_offline	*l;
	struct rec		 r;
	const char		 raw[] = "<message>a\0b</message>";

	assert_int_equal(offline_push(fx, "juliet@example.org",
	    "<message id='1'/>", 1000), L_OK);
	assert_int_equal(offline_push(fx, "juliet@example.org",
	    "<message id='2'/>", 2000), L_OK);
	memset(&r, 0, sizeof(r));
	/* Length-counted: an embedded NUL survives. */
	assert_int_equal(do_done(fx, store_offline_push(fx->st,
	    "juliet@example.org", raw, sizeof(raw) - 1, 3000, "x@y/z",
	    rec_done, &r), &r), L_OK);
	assert_int_equal(offline_push(fx, "romeo@example.net",
	    "<message id='r'/>", 4000), L_OK);

	l = offline_load(fx, "juliet@example.org");
	assert_int_equal(l->n, 3);
	assert_string_equal(l->msgs[0].xml, "<message id='1'/>");
	assert_int_equal(l->msgs[0].len, strlen("<message id='1'/>"));
	assert_int_equal(l->msgs[0].stamp_us, 1000);
	assert_string_equal(l->msgs[0].from, "sender@example.org/res");
	assert_true(l->msgs[0].id < l->msgs[1].id);
	assert_true(l->msgs[1].id < l->msgs[2].id);
	assert_int_equal(l->msgs[2].len, sizeof(raw) - 1);
	assert_memory_equal(l->msgs[2].xml, raw, sizeof(raw) - 1);
	assert_string_equal(l->msgs[2].from, "x@y/z");

	/* Delete what was delivered: up to the second message. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_offline_delete(fx->st,
	    "juliet@example.org", l->msgs[1].id, rec_done, &r), &r), L_OK);
	store_offline_free(l);
	l = offline_load(fx, "juliet@example.org");
	assert_int_equal(l->n, 1);
	assert_int_equal(l->msgs[0].stamp_us, 3000);
	store_offline_free(l);
	l = offline_load(fx, "romeo@example.net");
	assert_int_equal(l->n, 1);
	store_offline_free(l);
	l = offline_load(fx, "nobody@example.net");
	assert_int_equal(l->n, 0);
	store_offline_free(l);
}

static void
test_offline_cap(void **state)
{
	struct fx		*fx = *state;
	struct store_offline	*l;
	struct rec		 r = { 0 };
	int			 i;

	store_set_offline_max(fx->st, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(offline_push(fx, "juliet@example.org",
		    "<message/>", i), L_OK);
	assert_int_equal(offline_push(fx, "juliet@example.org",
	    "<message/>", 9), L_ERR_LIMIT);
	/* The cap is per user. */
	assert_int_equal(offline_push(fx, "romeo@example.net", "<message/>",
	    9), L_OK);
	l = offline_load(fx, "juliet@example.org");
	assert_int_equal(l->n, 3);
	assert_int_equal(do_done(fx, store_offline_delete(fx->st,
	    "juliet@example.org", l->msgs[2].id, rec_done, &r), &r), L_OK);
	store_offline_free(l);
	assert_int_equal(offline_push(fx, "juliet@example.org",
	    "<message/>", 10), L_OK);
}

/* ---- Clearances and key/value ---------------------------------------- */

static void
test_clearance(void **state)
{
	struct fx	*fx = *state;
	struct rec	 r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_get(fx->st,
	    "juliet@example.org", rec_text, &r), &r), L_ERR_NOTFOUND);
	assert_null(r.p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_set(fx->st,
	    "juliet@example.org", "<clearance a='1'/>", rec_done, &r), &r),
	    L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_set(fx->st,
	    "juliet@example.org", "<clearance a='2'/>", rec_done, &r), &r),
	    L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_get(fx->st,
	    "juliet@example.org", rec_text, &r), &r), L_OK);
	assert_string_equal(r.p, "<clearance a='2'/>");
	free(r.p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_delete(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_delete(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_ERR_NOTFOUND);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_get(fx->st,
	    "juliet@example.org", rec_text, &r), &r), L_ERR_NOTFOUND);
}

static void
test_kv(void **state)
{
	struct fx	*fx = *state;
	struct rec	 r;
	const char	 val[] = { 'a', 0, 'b', (char)0xff };

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_get(fx->st, "audit.head",
	    rec_blob, &r), &r), L_ERR_NOTFOUND);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_put(fx->st, "audit.head", "x",
	    1, rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_put(fx->st, "audit.head", val,
	    sizeof(val), rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_get(fx->st, "audit.head",
	    rec_blob, &r), &r), L_OK);
	assert_int_equal(r.len, sizeof(val));
	assert_memory_equal(r.p, val, sizeof(val));
	free(r.p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_delete(fx->st, "audit.head",
	    rec_done, &r), &r), L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_get(fx->st, "audit.head",
	    rec_blob, &r), &r), L_ERR_NOTFOUND);
}

/* ---- user_delete cascades ------------------------------------------- */

static void
test_user_delete_cascade(void **state)
{
	struct fx			*fx = *state;
	struct store_roster_item	 it;
	struct store_roster		*ro;
	struct store_offline		*l;
	struct rec			 r;
	char				*g[] = { "G" };

	assert_int_equal(user_create(fx, "juliet@example.org"), L_OK);
	assert_int_equal(user_create(fx, "romeo@example.net"), L_OK);
	memset(&it, 0, sizeof(it));
	it.contact = "romeo@example.net";
	it.sub = STORE_SUB_BOTH;
	it.ngroups = 1;
	it.groups = g;
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_put(fx->st,
	    "juliet@example.org", &it, rec_ver, &r), &r), L_OK);
	it.contact = "juliet@example.org";
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_roster_put(fx->st,
	    "romeo@example.net", &it, rec_ver, &r), &r), L_OK);
	assert_int_equal(offline_push(fx, "juliet@example.org", "<m/>", 1),
	    L_OK);
	assert_int_equal(offline_push(fx, "romeo@example.net", "<m/>", 1),
	    L_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_set(fx->st,
	    "juliet@example.org", "<c/>", rec_done, &r), &r), L_OK);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_delete(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_OK);

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_exists(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_ERR_NOTFOUND);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_get_creds(fx->st,
	    "juliet@example.org", "SCRAM-SHA-256", rec_cred, &r), &r),
	    L_ERR_NOTFOUND);
	ro = roster_load(fx, "juliet@example.org");
	assert_int_equal(ro->n, 0);
	assert_int_equal(ro->version, 0);
	store_roster_free(ro);
	l = offline_load(fx, "juliet@example.org");
	assert_int_equal(l->n, 0);
	store_offline_free(l);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_clearance_get(fx->st,
	    "juliet@example.org", rec_text, &r), &r), L_ERR_NOTFOUND);

	/* The other user keeps everything, including the item naming her. */
	ro = roster_load(fx, "romeo@example.net");
	assert_int_equal(ro->n, 1);
	assert_int_equal(ro->items[0].ngroups, 1);
	store_roster_free(ro);
	l = offline_load(fx, "romeo@example.net");
	assert_int_equal(l->n, 1);
	store_offline_free(l);

	/* No group rows left behind for the deleted owner. */
	{
		sqlite3		*db;
		sqlite3_stmt	*s;

		assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM"
		    " roster_groups WHERE owner = 'juliet@example.org'", -1,
		    &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), 0);
		sqlite3_finalize(s);
		sqlite3_close(db);
	}

	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_user_delete(fx->st,
	    "juliet@example.org", rec_done, &r), &r), L_ERR_NOTFOUND);
}

/* ---- Durability, batching, ordering ---------------------------------- */

struct durable_ctx {
	sqlite3	*db;		/* an independent connection */
	int	 done;
	int	 bad;		/* completions that ran before their commit */
	int	 failed;
	int	 next_seq;	/* completions must come in queue order */
	int	 out_of_order;
};

struct durable_op {
	struct durable_ctx	*ctx;
	int			 seq;
};

static int
count_rows(sqlite3 *db, const char *jid)
{
	sqlite3_stmt	*s;
	int		 n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM offline WHERE"
	    " jid = ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/*
 * Completion of a push: the row must already be visible to another
 * connection, which only committed data is (WAL readers see no
 * uncommitted writes).
 */
static void
durable_done(void *arg, int rc)
{
	struct durable_op	*op = arg;
	struct durable_ctx	*ctx = op->ctx;

	if (rc != L_OK)
		ctx->failed++;
	if (op->seq != ctx->next_seq)
		ctx->out_of_order++;
	ctx->next_seq = op->seq + 1;
	if (count_rows(ctx->db, "juliet@example.org") < op->seq + 1)
		ctx->bad++;
	ctx->done++;
}

static void
test_offline_durable_batched(void **state)
{
	struct fx		*fx = *state;
	struct durable_ctx	 ctx = { 0 };
	struct durable_op	*ops;
	struct store_stats	 stats;
	struct store_offline	*l;
	char			 xml[64], err[256];
	int			 i, n = 1000;

	store_set_offline_max(fx->st, 5000);
	assert_int_equal(sqlite3_open(fx->path, &ctx.db), SQLITE_OK);
	ops = calloc((size_t)n, sizeof(*ops));
	assert_non_null(ops);
	for (i = 0; i < n; i++) {
		ops[i].ctx = &ctx;
		ops[i].seq = i;
		snprintf(xml, sizeof(xml), "<message id='%d'/>", i);
		assert_int_equal(store_offline_push(fx->st,
		    "juliet@example.org", xml, strlen(xml), i, "a@b/c",
		    durable_done, &ops[i]), L_OK);
	}
	wait_count(fx->st, &ctx.done, n);
	assert_int_equal(ctx.failed, 0);
	assert_int_equal(ctx.bad, 0);
	assert_int_equal(ctx.out_of_order, 0);

	store_get_stats(fx->st, &stats);
	assert_true(stats.ops >= (uint64_t)n);
	assert_int_equal(stats.failed_commits, 0);
	if (!(fx->flags & STORE_SYNC)) {
		/* Group commit: far fewer transactions than operations. */
		print_message("async: %llu transactions for %d pushes,"
		    " largest batch %llu\n",
		    (unsigned long long)stats.transactions, n,
		    (unsigned long long)stats.max_batch);
		assert_true(stats.transactions <= 50);
		assert_true(stats.max_batch >= 20);
	} else {
		assert_int_equal(stats.transactions, stats.ops);
	}

	/* Close and reopen: everything acknowledged is there, in order. */
	store_close(fx->st);
	fx->st = store_open(fx->path, fx->flags, err, sizeof(err));
	assert_non_null(fx->st);
	l = offline_load(fx, "juliet@example.org");
	assert_int_equal(l->n, n);
	for (i = 0; i < n; i++) {
		snprintf(xml, sizeof(xml), "<message id='%d'/>", i);
		assert_string_equal(l->msgs[i].xml, xml);
	}
	store_offline_free(l);
	sqlite3_close(ctx.db);
	free(ops);
}

/* store_close() commits every queued write and runs every callback. */
static void
test_close_drains(void **state)
{
	struct fx	*fx = *state;
	struct store	*st;
	char		 err[256];
	size_t		 n;
	int		 i, done = 0, rcs = 0;
	struct rec	 recs[50];

	memset(recs, 0, sizeof(recs));
	for (i = 0; i < 50; i++)
		assert_int_equal(store_offline_push(fx->st, "juliet@example.org",
		    "<m/>", 4, i, "a@b", rec_done, &recs[i]), L_OK);
	store_close(fx->st);
	fx->st = NULL;
	for (i = 0; i < 50; i++) {
		done += recs[i].called;
		rcs += recs[i].rc != L_OK;
	}
	assert_int_equal(done, 50);
	assert_int_equal(rcs, 0);

	st = store_open(fx->path, STORE_SYNC, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_sync_offline_count(st, "juliet@example.org",
	    &n), L_OK);
	assert_int_equal(n, 50);
	fx->st = st;
	fx->flags = STORE_SYNC;
}

/*
 * A large backlog is split into bounded transactions and every operation
 * completes.  Writes may pass a NULL callback; the last one has one, and
 * completions come in order, so when it runs all the others have run.
 */
static void
test_batch_bound(void **state)
{
	struct fx		*fx = *state;
	struct store_stats	 stats;
	struct rec		 r = { 0 };
	int			 i, n = 2500;
	char			 key[32];

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_kv_put(fx->st, key, "v", 1, NULL, NULL),
		    L_OK);
	}
	assert_int_equal(store_kv_put(fx->st, "last", "v", 1, rec_done, &r),
	    L_OK);
	wait_count(fx->st, &r.called, 1);
	assert_int_equal(r.rc, L_OK);
	store_get_stats(fx->st, &stats);
	assert_int_equal(stats.ops, (uint64_t)n + 1);
	assert_true(stats.max_batch <= 1024);
	assert_true(stats.transactions >= 3);
	memset(&r, 0, sizeof(r));
	assert_int_equal(do_done(fx, store_kv_get(fx->st, "k2499", rec_blob,
	    &r), &r), L_OK);
	assert_int_equal(r.len, 1);
	free(r.p);
}

/* A callback may queue the next operation (login: roster, then offline). */
struct chain {
	struct store	*st;
	int		 step;
	int		 rc;
};

static void
chain_offline(void *arg, int rc, struct store_offline *l)
{
	struct chain	*c = arg;

	c->rc = rc;
	if (rc == L_OK && l->n == 1)
		c->step++;
	store_offline_free(l);
	c->step++;
}

static void
chain_roster(void *arg, int rc, struct store_roster *ro)
{
	struct chain	*c = arg;

	store_roster_free(ro);
	c->rc = rc;
	c->step++;
	if (store_offline_load(c->st, "juliet@example.org", chain_offline,
	    c) != L_OK)
		c->rc = L_ERR_INTERNAL;
}

static void
test_callback_chain(void **state)
{
	struct fx	*fx = *state;
	struct chain	 c = { fx->st, 0, 0 };

	assert_int_equal(offline_push(fx, "juliet@example.org", "<m/>", 1),
	    L_OK);
	assert_int_equal(store_roster_load(fx->st, "juliet@example.org",
	    chain_roster, &c), L_OK);
	wait_count(fx->st, &c.step, 3);
	assert_int_equal(c.rc, L_OK);
}

/*
 * Fault injection: a trigger added behind the store's back makes the
 * COMMIT of any batch holding the message "<boom/>" fail (a deferred
 * foreign key violation is only checked at COMMIT).  Every write of that
 * batch must report L_ERR_IO, and a message is on disk exactly when its
 * push was acknowledged with 0.
 */
static void
test_commit_failure(void **state)
{
	struct fx		*fx = *state;
	struct store_offline	*l;
	struct store_stats	 stats;
	sqlite3			*db;
	struct rec		 recs[6];
	const char		*xml[6] = { "<a/>", "<b/>", "<boom/>", "<c/>",
				    "<d/>", "<e/>" };
	int			 i, j, found, ok = 0;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE TABLE inject (x INTEGER REFERENCES nowhere_parent(id)"
	    "  DEFERRABLE INITIALLY DEFERRED);"
	    "CREATE TABLE nowhere_parent (id INTEGER PRIMARY KEY);"
	    "CREATE TRIGGER inject_boom AFTER INSERT ON offline"
	    "  WHEN NEW.xml = CAST('<boom/>' AS BLOB)"
	    "  BEGIN INSERT INTO inject VALUES (42); END;",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	memset(recs, 0, sizeof(recs));
	for (i = 0; i < 6; i++)
		assert_int_equal(store_offline_push(fx->st, "juliet@example.org",
		    xml[i], strlen(xml[i]), i, "a@b", rec_done, &recs[i]),
		    L_OK);
	for (i = 0; i < 6; i++)
		wait_count(fx->st, &recs[i].called, 1);
	assert_int_equal(recs[2].rc, L_ERR_IO);
	store_get_stats(fx->st, &stats);
	assert_true(stats.failed_commits >= 1);

	l = offline_load(fx, "juliet@example.org");
	for (i = 0; i < 6; i++) {
		assert_true(recs[i].rc == L_OK || recs[i].rc == L_ERR_IO);
		found = 0;
		for (j = 0; j < (int)l->n; j++)
			if (strcmp(l->msgs[j].xml, xml[i]) == 0)
				found = 1;
		assert_int_equal(found, recs[i].rc == L_OK);
		ok += recs[i].rc == L_OK;
	}
	assert_int_equal((int)l->n, ok);
	store_offline_free(l);
	if (fx->flags & STORE_SYNC)
		assert_int_equal(ok, 5);	/* one op per transaction */

	/* The store keeps working after a failed commit. */
	assert_int_equal(offline_push(fx, "juliet@example.org", "<f/>", 9),
	    L_OK);
}

/* ---- Two handles on one file ---------------------------------------- */

struct holder {
	sqlite3	*db;
	int	 ms;
};

static void *
holder_main(void *arg)
{
	struct holder	*h = arg;

	usleep((useconds_t)h->ms * 1000);
	sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
	return NULL;
}

/*
 * The server (threaded) and liaisonctl (sync) write the same file; a write
 * that finds the file locked waits (busy_timeout) instead of failing.
 */
static void
test_two_handles(void **state)
{
	struct fx		*fx = *state;
	struct store		*ctl;
	struct store_cred	 c = mkcred("SCRAM-SHA-256", 3, 32);
	struct holder		 h;
	pthread_t		 thr;
	char			 err[256], *xml;
	int			 i, done = 0;
	struct rec		 recs[100];

	ctl = store_open(fx->path, STORE_SYNC, err, sizeof(err));
	assert_non_null(ctl);

	/* Interleave: server pushes queued while ctl writes. */
	memset(recs, 0, sizeof(recs));
	for (i = 0; i < 100; i++) {
		char jid[64];

		assert_int_equal(store_offline_push(fx->st,
		    "juliet@example.org", "<m/>", 4, i, "a@b", rec_done,
		    &recs[i]), L_OK);
		snprintf(jid, sizeof(jid), "user%d@example.org", i);
		if (i % 10 == 0)
			assert_int_equal(store_sync_user_create(ctl, jid, &c,
			    1), L_OK);
	}
	for (i = 0; i < 100; i++) {
		wait_count(fx->st, &recs[i].called, 1);
		assert_int_equal(recs[i].rc, L_OK);
		done++;
	}
	assert_int_equal(done, 100);

	/* Each handle sees the other's writes. */
	{
		struct rec r = { 0 };

		assert_int_equal(do_done(fx, store_user_exists(fx->st,
		    "user90@example.org", rec_done, &r), &r), L_OK);
	}
	{
		size_t n;

		assert_int_equal(store_sync_offline_count(ctl,
		    "juliet@example.org", &n), L_OK);
		assert_int_equal(n, 100);
	}

	/* A third connection holds the write lock for 300 ms. */
	assert_int_equal(sqlite3_open(fx->path, &h.db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	h.ms = 300;
	assert_int_equal(pthread_create(&thr, NULL, holder_main, &h), 0);
	assert_int_equal(store_sync_clearance_set(ctl, "juliet@example.org",
	    "<c/>"), L_OK);
	pthread_join(thr, NULL);
	sqlite3_close(h.db);
	assert_int_equal(store_sync_clearance_get(ctl, "juliet@example.org",
	    &xml), L_OK);
	assert_string_equal(xml, "<c/>");
	free(xml);
	store_close(ctl);
}

/* ---- Schema --------------------------------------------------------- */

static void
test_schema(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db;
	sqlite3_stmt	*s;
	struct store	*st;
	char		 err[256];

	assert_int_equal(user_create(fx, "juliet@example.org"), L_OK);
	store_close(fx->st);
	fx->st = NULL;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);

	/* Reopening an existing file keeps its data. */
	st = store_open(fx->path, STORE_SYNC, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_sync_user_exists(st, "juliet@example.org"),
	    L_OK);
	store_close(st);

	/* A file from a newer version is refused, not touched. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(fx->path, fx->flags, err, sizeof(err));
	assert_null(st);
	assert_non_null(strstr(err, "newer"));

	/* A path that cannot be created fails with a reason. */
	st = store_open("/nonexistent-dir/x/store.db", fx->flags, err,
	    sizeof(err));
	assert_null(st);
	assert_true(err[0] != '\0');

	fx->st = store_open(":memory:", STORE_SYNC, err, sizeof(err));
	/* In-memory databases cannot be WAL: refused with a reason. */
	assert_null(fx->st);
	assert_non_null(strstr(err, "WAL"));
}

/* ---- Every operation: the async and the sync path agree ------------- */

/*
 * For each operation of store_ops.def (the list itself, so a new operation
 * is covered without a new test): from the same seeded file, its
 * asynchronous function on a threaded handle and its store_sync_ wrapper
 * on a STORE_SYNC handle give the same rc, the same result and the same
 * file afterwards; that file differs from the seed exactly when a write
 * succeeded; every read finds the seeded rows; and the wrapper refuses a
 * threaded handle.  The arguments come from the argument kinds.
 */
static struct store_cred	 agree_creds[2];
static char			*agree_groups[] = { "sample" };
static const struct store_roster_item agree_item = {
	.contact = "c@x", .name = "n", .sub = STORE_SUB_TO, .ask = true,
	.ngroups = 1, .groups = agree_groups,
};

#define SAMPLE(kind, ...)		SAMPLE_##kind(__VA_ARGS__)
#define SAMPLE_KEY(n)			, "a@x"
#define SAMPLE_NAME(n, max)		, "SCRAM-SHA-256"
#define SAMPLE_TEXT(n)			, "sample " #n
#define SAMPLE_BYTES(T, n, len, min)	, "<message id='s'/>", 17
#define SAMPLE_I64(n)			, 1
#define SAMPLE_CREDS(n, cnt)		, agree_creds, 2
#define SAMPLE_ITEM(n)			, &agree_item

/* What the sync wrapper hands back, by result kind. */
struct outs {
	uint64_t		 ver;
	size_t			 count, len;
	struct store_strlist	*strlist;
	struct store_cred	*cred;
	struct store_roster	*roster;
	struct store_offline	*offline;
	char			*text, *blob;
};
#define OUTS_done
#define OUTS_ver	, &o.ver
#define OUTS_count	, &o.count
#define OUTS_strlist	, &o.strlist
#define OUTS_cred	, &o.cred
#define OUTS_roster	, &o.roster
#define OUTS_offline	, &o.offline
#define OUTS_text	, &o.text
#define OUTS_blob	, &o.blob, &o.len

static void
rec_count(void *arg, int rc, size_t n)
{
	struct rec	*r = arg;

	r->called++;
	r->rc = rc;
	r->len = n;
}

/* Compares the callback's result `r` with the wrapper's `o`; frees both. */
static void
same_done(struct rec *r, struct outs *o)
{
}

static void
same_ver(struct rec *r, struct outs *o)
{
	assert_int_equal(r->ver, o->ver);
}

static void
same_count(struct rec *r, struct outs *o)
{
	assert_int_equal(r->len, o->count);
}

static void
same_strlist(struct rec *r, struct outs *o)
{
	struct store_strlist	*a = r->p, *b = o->strlist;
	size_t			 i;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
	store_strlist_free(a);
	store_strlist_free(b);
}

static void
same_cred(struct rec *r, struct outs *o)
{
	struct store_cred	*a = r->p, *b = o->cred;

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->mech, b->mech);
	assert_int_equal(a->salt_len, b->salt_len);
	assert_memory_equal(a->salt, b->salt, a->salt_len);
	assert_int_equal(a->iterations, b->iterations);
	assert_int_equal(a->key_len, b->key_len);
	assert_memory_equal(a->stored_key, b->stored_key, a->key_len);
	assert_memory_equal(a->server_key, b->server_key, a->key_len);
	store_cred_free(a);
	store_cred_free(b);
}

static void
same_roster(struct rec *r, struct outs *o)
{
	struct store_roster	*a = r->p, *b = o->roster;
	size_t			 i, j;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		struct store_roster_item *x = &a->items[i], *y = &b->items[i];

		assert_string_equal(x->contact, y->contact);
		assert_true((x->name == NULL) == (y->name == NULL));
		if (x->name != NULL)
			assert_string_equal(x->name, y->name);
		assert_int_equal(x->sub, y->sub);
		assert_int_equal(x->ask, y->ask);
		assert_int_equal(x->pending_in, y->pending_in);
		assert_int_equal(x->ngroups, y->ngroups);
		for (j = 0; j < x->ngroups; j++)
			assert_string_equal(x->groups[j], y->groups[j]);
	}
	store_roster_free(a);
	store_roster_free(b);
}

static void
same_offline(struct rec *r, struct outs *o)
{
	struct store_offline	*a = r->p, *b = o->offline;
	size_t			 i;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->msgs[i].id, b->msgs[i].id);
		assert_int_equal(a->msgs[i].stamp_us, b->msgs[i].stamp_us);
		assert_string_equal(a->msgs[i].from, b->msgs[i].from);
		assert_int_equal(a->msgs[i].len, b->msgs[i].len);
		assert_memory_equal(a->msgs[i].xml, b->msgs[i].xml,
		    a->msgs[i].len + 1);
	}
	store_offline_free(a);
	store_offline_free(b);
}

static void
same_text(struct rec *r, struct outs *o)
{
	assert_non_null(r->p);
	assert_non_null(o->text);
	assert_string_equal(r->p, o->text);
	free(r->p);
	free(o->text);
}

static void
same_blob(struct rec *r, struct outs *o)
{
	assert_non_null(r->p);
	assert_non_null(o->blob);
	assert_int_equal(r->len, o->len);
	assert_memory_equal(r->p, o->blob, r->len + 1);
	free(r->p);
	free(o->blob);
}

/* Every row of every table of the file at `path`, as text. */
static char *
db_dump(const char *path)
{
	sqlite3		*db;
	sqlite3_stmt	*t, *s;
	char		*out = NULL, *sql;
	size_t		 len = 0;
	FILE		*f = open_memstream(&out, &len);
	int		 i;

	assert_non_null(f);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM"
	    " sqlite_master WHERE type = 'table' ORDER BY name", -1, &t,
	    NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid",
		    (const char *)sqlite3_column_text(t, 0));
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
		    SQLITE_OK);
		sqlite3_free(sql);
		fprintf(f, "%s:\n", sqlite3_column_text(t, 0));
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (i = 0; i < sqlite3_column_count(s); i++) {
				const unsigned char *p = sqlite3_column_blob(s,
				    i);
				int n = sqlite3_column_bytes(s, i), k;

				fprintf(f, " %d:", sqlite3_column_type(s, i));
				for (k = 0; k < n; k++)
					fprintf(f, "%02x", p[k]);
			}
			fputc('\n', f);
		}
		sqlite3_finalize(s);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	fclose(f);
	return out;
}

/* Copies the seeded file to `to` (no WAL: the seed handle was closed). */
static void
db_copy(const char *from, const char *to)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s-wal' '%s-shm' &&"
	    " cp '%s' '%s'", to, to, to, from, to);
	assert_int_equal(system(cmd), 0);
}

struct agree {
	char		 seed[128], spath[128], apath[128];
	struct store	*sync, *async;
};

static void
agree_open(struct agree *ag)
{
	char	err[256];

	db_copy(ag->seed, ag->spath);
	db_copy(ag->seed, ag->apath);
	ag->sync = store_open(ag->spath, STORE_SYNC, err, sizeof(err));
	ag->async = store_open(ag->apath, 0, err, sizeof(err));
	assert_non_null(ag->sync);
	assert_non_null(ag->async);
}

/* Closes both handles; the two files must be equal, and equal to the seed
 * unless a write succeeded. */
static void
agree_close(struct agree *ag, const char *name, bool wrote)
{
	char	*seed, *s, *a;

	store_close(ag->sync);
	store_close(ag->async);
	seed = db_dump(ag->seed);
	s = db_dump(ag->spath);
	a = db_dump(ag->apath);
	if (strcmp(s, a) != 0)
		fail_msg("%s: the two paths left different files", name);
	if ((strcmp(s, seed) != 0) != wrote)
		fail_msg("%s: the file %s", name, wrote ? "did not change" :
		    "changed without a successful write");
	free(seed);
	free(s);
	free(a);
}

#define IS_WRITE	true
#define IS_READ		false

#define AGREE(name, result, access)					\
static void								\
agree_##name(struct agree *ag)						\
{									\
	struct rec	r = { 0 };					\
	struct outs	o;						\
									\
	agree_open(ag);							\
	memset(&o, 0, sizeof(o));					\
	assert_int_equal(store_sync_##name(ag->async			\
	    STORE_ARGS_##name(SAMPLE) OUTS_##result), L_ERR_INVAL);	\
	assert_int_equal(store_##name(ag->async				\
	    STORE_ARGS_##name(SAMPLE), rec_##result, &r), L_OK);	\
	wait_count(ag->async, &r.called, 1);				\
	assert_int_equal(store_sync_##name(ag->sync			\
	    STORE_ARGS_##name(SAMPLE) OUTS_##result), r.rc);		\
	if (!IS_##access || r.rc == L_OK) {				\
		assert_int_equal(r.rc, L_OK);				\
		same_##result(&r, &o);					\
	}								\
	agree_close(ag, #name, IS_##access && r.rc == L_OK);		\
}
STORE_OPS(AGREE)

static void
test_sync_async_agree(void **state)
{
	static const struct {
		const char	*name;
		void		(*run)(struct agree *);
	} ops[] = {
#define AGREE_ENTRY(name, result, access)	{ #name, agree_##name },
		STORE_OPS(AGREE_ENTRY)
	};
	struct fx		*fx = *state;
	struct agree		 ag;
	struct store_cred	 c[2];
	struct store_roster_item it = { .contact = "a@x", .name = "me",
				    .sub = STORE_SUB_BOTH, .ngroups = 2,
				    .groups = (char *[]){ "g1", "g2" } };
	uint64_t		 ver;
	size_t			 i;

	agree_creds[0] = mkcred("SCRAM-SHA-1", 9, 20);
	agree_creds[1] = mkcred("SCRAM-SHA-256", 11, 32);
	c[0] = mkcred("SCRAM-SHA-1", 5, 20);
	c[1] = mkcred("SCRAM-SHA-256", 7, 32);
	/* The seed: rows for the sample key in every table. */
	assert_int_equal(store_sync_user_create(fx->st, "a@x", c, 2), L_OK);
	assert_int_equal(store_sync_user_create(fx->st, "b@x", c, 1), L_OK);
	assert_int_equal(store_sync_roster_put(fx->st, "a@x", &it, &ver),
	    L_OK);
	it.contact = "b@x";
	it.ngroups = 0;
	assert_int_equal(store_sync_roster_put(fx->st, "a@x", &it, &ver),
	    L_OK);
	for (i = 0; i < 2; i++)
		assert_int_equal(store_sync_offline_push(fx->st, "a@x",
		    "<message/>", 10, 100 + (int64_t)i, "b@x/r"), L_OK);
	assert_int_equal(store_sync_clearance_set(fx->st, "a@x", "<seed/>"),
	    L_OK);
	assert_int_equal(store_sync_kv_put(fx->st, "a@x", "se\0ed", 5), L_OK);
	store_close(fx->st);
	fx->st = NULL;

	snprintf(ag.seed, sizeof(ag.seed), "%s", fx->path);
	snprintf(ag.spath, sizeof(ag.spath), "%s/sync.db", fx->dir);
	snprintf(ag.apath, sizeof(ag.apath), "%s/async.db", fx->dir);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		ops[i].run(&ag);
}

/* ---- Sync helpers --------------------------------------------------- */

static void
test_sync_helpers(void **state)
{
	struct fx		*fx = *state;
	struct store_cred	 c = mkcred("SCRAM-SHA-1", 5, 20), *got;
	struct store_strlist	*l;
	char			*v;
	size_t			 n;

	assert_int_equal(store_sync_user_create(fx->st, "a@x", &c, 1), L_OK);
	assert_int_equal(store_sync_user_create(fx->st, "a@x", &c, 1),
	    L_ERR_EXISTS);
	assert_int_equal(store_sync_user_get_creds(fx->st, "a@x",
	    "SCRAM-SHA-1", &got), L_OK);
	assert_memory_equal(got->server_key, c.server_key, 20);
	store_cred_free(got);
	assert_int_equal(store_sync_user_list(fx->st, &l), L_OK);
	assert_int_equal(l->n, 1);
	store_strlist_free(l);
	assert_int_equal(store_sync_kv_put(fx->st, "k", "vv", 2), L_OK);
	assert_int_equal(store_sync_kv_get(fx->st, "k", &v, &n), L_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(v, "vv", 2);
	free(v);
	assert_int_equal(store_sync_clearance_delete(fx->st, "a@x"),
	    L_ERR_NOTFOUND);
	assert_int_equal(store_sync_user_delete(fx->st, "a@x"), L_OK);
	assert_int_equal(store_sync_user_exists(fx->st, "a@x"),
	    L_ERR_NOTFOUND);
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_sync, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_async, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_users),
		BOTH(test_invalid_args),
		BOTH(test_roster),
		BOTH(test_offline),
		BOTH(test_offline_cap),
		BOTH(test_clearance),
		BOTH(test_kv),
		BOTH(test_user_delete_cascade),
		BOTH(test_offline_durable_batched),
		BOTH(test_callback_chain),
		BOTH(test_schema),
		BOTH(test_commit_failure),
		cmocka_unit_test_setup_teardown(test_close_drains,
		    setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_batch_bound,
		    setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_two_handles,
		    setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_sync_helpers,
		    setup_sync, teardown),
		cmocka_unit_test_setup_teardown(test_sync_async_agree,
		    setup_sync, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
