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
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

#define STORE_JID_MAX	3071

enum store_op_kind {
	OP_USER_CREATE,
	OP_USER_SET_CREDS,
	OP_USER_DELETE,
	OP_USER_EXISTS,
	OP_USER_LIST,
	OP_USER_GET_CREDS,
	OP_ROSTER_LOAD,
	OP_ROSTER_PUT,
	OP_ROSTER_DELETE,
	OP_OFFLINE_PUSH,
	OP_OFFLINE_LOAD,
	OP_OFFLINE_DELETE,
	OP_CLEARANCE_SET,
	OP_CLEARANCE_GET,
	OP_CLEARANCE_DELETE,
	OP_KV_PUT,
	OP_KV_GET,
	OP_KV_DELETE,
	OP__COUNT
};

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

union store_cbu {
	store_done_cb	done;
	store_ver_cb	ver;
	void		(*strlist)(void *, int, struct store_strlist *);
	void		(*cred)(void *, int, struct store_cred *);
	void		(*roster)(void *, int, struct store_roster *);
	void		(*offline)(void *, int, struct store_offline *);
	void		(*text)(void *, int, char *);
	void		(*blob)(void *, int, char *, size_t);
};

struct store_op {
	struct store_op		*next;
	enum store_op_kind	 kind;
	union store_cbu		 cb;
	void			*arg;

	/* Inputs; the pointers point into data[] (or are NULL). */
	const char		*jid;	/* jid, owner or key */
	const char		*s2;	/* mech, contact */
	const char		*s3;	/* from, roster name */
	const void		*blob;	/* xml, kv value, packed groups */
	size_t			 bloblen;
	struct store_cred	*creds;	/* ncreds, wiped before free */
	size_t			 ncreds;
	int64_t			 i1;	/* stamp_us, up_to_id */
	int			 sub;
	int			 ask;
	int			 pending_in;
	size_t			 ngroups;

	/* Outputs, set by the storage thread. */
	int			 rc;
	void			*result;
	size_t			 outlen;
	uint64_t		 version;

	size_t			 size;	/* of the whole block, for wiping */
	_Alignas(max_align_t) unsigned char data[];
};

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
