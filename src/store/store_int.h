/*
 * Internals of the storage layer, shared by its files and by nothing else.
 * An operation is one heap block (struct store_op plus its copied inputs);
 * it travels from the caller's queue to the storage thread, which runs it
 * inside a batch transaction, and back through the completion list to
 * store_dispatch(), which calls its callback and frees it.
 */
#ifndef LIAISON_STORE_STORE_INT_H
#define LIAISON_STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* Argument kinds (store_ops.def) as request fields and as call arguments. */
#define STORE_F(kind, ...)		STORE_F_##kind(__VA_ARGS__)
#define STORE_F_KEY(n)			const char *n;
#define STORE_F_NAME(n, max)		const char *n;
#define STORE_F_TEXT(n)			const char *n;
#define STORE_F_BYTES(T, n, len, min)	const T *n; size_t len;
#define STORE_F_I64(n)			int64_t n;
#define STORE_F_CREDS(n, cnt)		const struct store_cred *n; size_t cnt;
#define STORE_F_ITEM(n)			struct store_roster_item n;

#define STORE_A(kind, ...)		STORE_A_##kind(__VA_ARGS__)
#define STORE_A_KEY(n)			, n
#define STORE_A_NAME(n, max)		, n
#define STORE_A_TEXT(n)			, n
#define STORE_A_BYTES(T, n, len, min)	, n, len
#define STORE_A_I64(n)			, n
#define STORE_A_CREDS(n, cnt)		, n, cnt
#define STORE_A_ITEM(n)			, n

#define STORE_IS_WRITE	1
#define STORE_IS_READ	0

#define STORE_OP_KIND(name, result, access)	OP_##name,
enum store_op_kind {
	STORE_OPS(STORE_OP_KIND)
	OP__COUNT
};
#undef STORE_OP_KIND

/*
 * The request of each operation: its arguments, whose pointers point into
 * the op's data[].  (An operation without arguments has an empty struct, a
 * GNU C extension of the gnu17 dialect this project builds with.)
 */
#define STORE_REQ(name, result, access)					\
	struct store_req_##name { STORE_ARGS_##name(STORE_F) };
STORE_OPS(STORE_REQ)
#undef STORE_REQ

/* Prepared statements, cached for the life of the connection. */
enum store_stmt {
	ST_USER_INSERT,
	ST_USER_DELETE,
	ST_USER_EXISTS,
	ST_USER_LIST,
	ST_CRED_INSERT,
	ST_CRED_DELETE_ALL,
	ST_CRED_GET,
	ST_ROSTER_ITEMS,
	ST_ROSTER_GROUPS,
	ST_ROSTER_UPSERT,
	ST_ROSTER_DELETE,
	ST_ROSTER_DELETE_ALL,
	ST_GROUP_INSERT,
	ST_GROUP_DELETE,
	ST_GROUP_DELETE_ALL,
	ST_RVER_GET,
	ST_RVER_BUMP,
	ST_RVER_DELETE,
	ST_OFFLINE_COUNT,
	ST_OFFLINE_INSERT,
	ST_OFFLINE_LOAD,
	ST_OFFLINE_DELETE,
	ST_OFFLINE_DELETE_ALL,
	ST_CLEAR_SET,
	ST_CLEAR_GET,
	ST_CLEAR_DELETE,
	ST_KV_PUT,
	ST_KV_GET,
	ST_KV_DELETE,
	ST__COUNT
};

/* The callback, by result kind. */
union store_cbu {
	store_done_cb		done;
	store_ver_cb		ver;
	store_strlist_cb	strlist;
	store_cred_cb		cred;
	store_roster_cb		roster;
	store_offline_cb	offline;
	store_text_cb		text;
	store_blob_cb		blob;
	store_count_cb		count;
};

/* What an executor leaves for the callback. */
struct store_out {
	void		*p;	/* strlist, cred, roster, offline, text, blob */
	size_t		 n;	/* blob length, count */
	uint64_t	 ver;	/* roster version */
};

#define STORE_REQ_MEMBER(name, result, access) struct store_req_##name name;
struct store_op {
	struct store_op		*next;
	enum store_op_kind	 kind;
	union store_cbu		 cb;
	void			*arg;
	union {
		STORE_OPS(STORE_REQ_MEMBER)
	}			 req;
	int			 rc;	/* set by the storage thread */
	struct store_out	 out;	/* set by the storage thread */
	bool			 wipe;	/* holds key material */
	size_t			 size;	/* of the whole block, for wiping */
	_Alignas(max_align_t) unsigned char data[];
};
#undef STORE_REQ_MEMBER

struct store {
	sqlite3			*db;
	sqlite3_stmt		*stmts[ST__COUNT];
	unsigned		 flags;
	atomic_uint		 offline_max;

	/* Asynchronous mode only. */
	pthread_t		 thread;
	int			 thread_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct store_op		*q_head, *q_tail;	/* queued, under mu */
	struct store_op		*d_head, *d_tail;	/* done, under mu */
	int			 closing;		/* under mu */
	int			 efd;

	atomic_uint_least64_t	 n_transactions;
	atomic_uint_least64_t	 n_ops;
	atomic_uint_least64_t	 n_failed_commits;
	atomic_uint_least64_t	 n_max_batch;
};

/* store_schema.c: creates or migrates the schema; 0 or L_ERR_IO. */
int	store_schema_migrate(sqlite3 *db, char *err, size_t errlen);

/* store.c */
int	store_op_submit(struct store *st, struct store_op *op);
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt id);
int	store_rc_from_sqlite(int src);

/* store_ops.c */
int	store_op_is_write(enum store_op_kind kind);
const char *store_op_name(enum store_op_kind kind);
int	store_op_exec(struct store *st, struct store_op *op);
void	store_op_complete(struct store_op *op);
void	store_op_free(struct store_op *op);
const char *store_stmt_sql(enum store_stmt id);

#endif
