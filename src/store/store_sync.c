/*
 * Synchronous wrappers for STORE_SYNC handles (liaisonctl), generated from
 * store_ops.def: each calls the asynchronous function with a callback that
 * captures the status and the result, which in STORE_SYNC mode has run
 * before the call returns.  On a threaded handle they refuse with
 * L_ERR_INVAL rather than block the loop.
 */
#include <stdlib.h>

#include "base/errors.h"
#include "store/store_int.h"

struct sync_res {
	int			rc;
	struct store_out	out;
};

/* The capturing callback of each result kind. */
static void
sync_done(void *arg, int rc)
{
	((struct sync_res *)arg)->rc = rc;
}

static void
sync_ver(void *arg, int rc, uint64_t ver)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->out.ver = ver;
}

static void
sync_count(void *arg, int rc, size_t n)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->out.n = n;
}

static void
sync_blob(void *arg, int rc, char *p, size_t len)
{
	struct sync_res	*r = arg;

	r->rc = rc;
	r->out.p = p;
	r->out.n = len;
}

#define SYNC_PTR(result, type)						\
static void								\
sync_##result(void *arg, int rc, type *p)				\
{									\
	struct sync_res	*r = arg;					\
									\
	r->rc = rc;							\
	r->out.p = p;							\
}
SYNC_PTR(strlist, struct store_strlist)
SYNC_PTR(cred, struct store_cred)
SYNC_PTR(roster, struct store_roster)
SYNC_PTR(offline, struct store_offline)
SYNC_PTR(text, char)

/* Hands the captured result to the outputs (STORE_OUT_<result>). */
#define SYNC_TAKE_done(r)
#define SYNC_TAKE_ver(r)	(*out = (r).out.ver)
#define SYNC_TAKE_count(r)	(*out = (r).out.n)
#define SYNC_TAKE_blob(r)	(*out = (r).out.p, *outlen = (r).out.n)
#define SYNC_TAKE_strlist(r)	(*out = (r).out.p)
#define SYNC_TAKE_cred(r)	(*out = (r).out.p)
#define SYNC_TAKE_roster(r)	(*out = (r).out.p)
#define SYNC_TAKE_offline(r)	(*out = (r).out.p)
#define SYNC_TAKE_text(r)	(*out = (r).out.p)

/* The outputs are cleared first (from an empty result), whatever happens. */
#define SYNC_DEFINE(name, result, access)				\
int									\
store_sync_##name(struct store *st STORE_ARGS_##name(STORE_P)		\
    STORE_OUT_##result)							\
{									\
	struct sync_res	r = { .rc = L_ERR_INTERNAL };			\
	int		qrc;						\
									\
	SYNC_TAKE_##result(r);						\
	if (st == NULL || !(st->flags & STORE_SYNC))			\
		return L_ERR_INVAL;					\
	qrc = store_##name(st STORE_ARGS_##name(STORE_A),		\
	    sync_##result, &r);						\
	if (qrc != L_OK)						\
		return qrc;						\
	SYNC_TAKE_##result(r);						\
	return r.rc;							\
}
STORE_OPS(SYNC_DEFINE)
