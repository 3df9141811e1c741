/*
 * Synchronous wrappers for STORE_SYNC handles (liaisonctl): each calls the
 * asynchronous function with a callback that captures the status and the
 * result, which in STORE_SYNC mode has run before the call returns.  On a
 * threaded handle they refuse with L_ERR_INVAL rather than block the loop.
 */
#include <stdlib.h>

#include "base/errors.h"
#include "store/store_int.h"

struct sync_res {
	int	 rc;
	void	*p;
	size_t	 len;
};

static void
sync_done(void *arg, int rc)
{
	((struct sync_res *)arg)->rc = rc;
}

static void
sync_strlist(void *arg, int rc, struct store_strlist *l)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->p = l;
}

static void
sync_cred(void *arg, int rc, struct store_cred *c)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->p = c;
}

static void
sync_text(void *arg, int rc, char *s)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->p = s;
}

static void
sync_blob(void *arg, int rc, char *v, size_t len)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->p = v;
	r->len = len;
}

static void
sync_offline(void *arg, int rc, struct store_offline *l)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->p = l;
}

/* The rc of a call: its own (not queued) or the callback's. */
#define SYNC_RUN(st, call, res) do {					\
	if ((st) == NULL || !((st)->flags & STORE_SYNC))		\
		return L_ERR_INVAL;					\
	(res).rc = L_ERR_INTERNAL;					\
	(res).p = NULL;							\
	(res).len = 0;							\
	{								\
		int qrc_ = (call);					\
		if (qrc_ != L_OK)					\
			return qrc_;					\
	}								\
} while (0)

int
store_sync_user_create(struct store *st, const char *jid,
    const struct store_cred *creds, size_t ncreds)
{
	struct sync_res	r;

	SYNC_RUN(st, store_user_create(st, jid, creds, ncreds, sync_done, &r),
	    r);
	return r.rc;
}

int
store_sync_user_set_creds(struct store *st, const char *jid,
    const struct store_cred *creds, size_t ncreds)
{
	struct sync_res	r;

	SYNC_RUN(st, store_user_set_creds(st, jid, creds, ncreds, sync_done,
	    &r), r);
	return r.rc;
}

int
store_sync_user_delete(struct store *st, const char *jid)
{
	struct sync_res	r;

	SYNC_RUN(st, store_user_delete(st, jid, sync_done, &r), r);
	return r.rc;
}

int
store_sync_user_exists(struct store *st, const char *jid)
{
	struct sync_res	r;

	SYNC_RUN(st, store_user_exists(st, jid, sync_done, &r), r);
	return r.rc;
}

int
store_sync_user_list(struct store *st, struct store_strlist **out)
{
	struct sync_res	r;

	*out = NULL;
	SYNC_RUN(st, store_user_list(st, sync_strlist, &r), r);
	*out = r.p;
	return r.rc;
}

int
store_sync_user_get_creds(struct store *st, const char *jid,
    const char *mech, struct store_cred **out)
{
	struct sync_res	r;

	*out = NULL;
	SYNC_RUN(st, store_user_get_creds(st, jid, mech, sync_cred, &r), r);
	*out = r.p;
	return r.rc;
}

int
store_sync_clearance_set(struct store *st, const char *jid, const char *xml)
{
	struct sync_res	r;

	SYNC_RUN(st, store_clearance_set(st, jid, xml, sync_done, &r), r);
	return r.rc;
}

int
store_sync_clearance_get(struct store *st, const char *jid, char **out)
{
	struct sync_res	r;

	*out = NULL;
	SYNC_RUN(st, store_clearance_get(st, jid, sync_text, &r), r);
	*out = r.p;
	return r.rc;
}

int
store_sync_clearance_delete(struct store *st, const char *jid)
{
	struct sync_res	r;

	SYNC_RUN(st, store_clearance_delete(st, jid, sync_done, &r), r);
	return r.rc;
}

int
store_sync_kv_put(struct store *st, const char *key, const void *value,
    size_t len)
{
	struct sync_res	r;

	SYNC_RUN(st, store_kv_put(st, key, value, len, sync_done, &r), r);
	return r.rc;
}

int
store_sync_kv_get(struct store *st, const char *key, char **out,
    size_t *outlen)
{
	struct sync_res	r;

	*out = NULL;
	*outlen = 0;
	SYNC_RUN(st, store_kv_get(st, key, sync_blob, &r), r);
	*out = r.p;
	*outlen = r.len;
	return r.rc;
}

int
store_sync_offline_count(struct store *st, const char *jid, size_t *out)
{
	struct sync_res		 r;
	struct store_offline	*l;

	*out = 0;
	SYNC_RUN(st, store_offline_load(st, jid, sync_offline, &r), r);
	l = r.p;
	if (l != NULL)
		*out = l->n;
	store_offline_free(l);
	return r.rc;
}
