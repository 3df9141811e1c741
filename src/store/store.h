/*
 * Storage layer: users and SCRAM credentials, rosters, offline messages,
 * clearances and a small key/value table, in one SQLite file (WAL mode,
 * synchronous=FULL).  The server's loop never touches the disk: each call
 * queues an operation for one storage thread, which runs everything queued
 * in one transaction (group commit) and then posts the completions, which
 * the loop runs with store_dispatch() when store_notify_fd() is readable.
 * With STORE_SYNC there is no thread and callbacks run inline (liaisonctl,
 * unit tests); the API is the same.  The operations are declared once, in
 * store_ops.def, from which this header declares their functions.
 */
#ifndef LIAISON_STORE_STORE_H
#define LIAISON_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Common rules for every asynchronous call store_<area>_<verb>(st, ...,
 * cb, arg):
 *
 * - Return value: 0 means the operation was accepted and `cb` will be
 *   called exactly once (in STORE_SYNC mode: already called, before the
 *   return).  A negative code (L_ERR_INVAL for a bad argument, L_ERR_NOMEM,
 *   L_ERR_CLOSED after store_close began) means nothing was queued and
 *   `cb` will never be called.
 * - Arguments (strings, byte arrays, items) are copied before the call
 *   returns; the caller keeps ownership of everything it passed.
 * - The callback gets the status `rc` (0, or L_ERR_NOTFOUND, L_ERR_EXISTS,
 *   L_ERR_LIMIT, L_ERR_IO, L_ERR_NOMEM ...) and, for reads, a result that
 *   it OWNS and must release with the matching *_free function (or free()
 *   where stated).  On rc != 0 the result is NULL.
 * - A write's callback runs only after the COMMIT that made it durable
 *   returned; a write whose transaction failed gets L_ERR_IO.  Each
 *   operation runs in its own savepoint, so one failing operation (e.g.
 *   L_ERR_EXISTS) does not undo the others in its batch.
 * - Operations complete in the order they were queued.
 * - `cb` may be NULL for writes (store_done_cb); never for reads.
 *
 * Threads: the enqueue functions may be called from any thread (one mutex).
 * Callbacks run on the thread that calls store_dispatch() (or, in
 * STORE_SYNC mode, inside the call), never on the storage thread.  A
 * callback may queue new operations.
 *
 * JIDs are bare JIDs already prepared by the caller ("user@domain"),
 * 1..STORE_JID_MAX bytes, compared byte for byte.
 */

/* store_open() flags. */
#define STORE_SYNC	0x01	/* no thread: run each operation inline */

/* Default per-user cap on stored offline messages. */
#define STORE_OFFLINE_MAX_DEFAULT	1000

/* Longest JID or key (bytes). */
#define STORE_JID_MAX	3071

/* Largest salt and key sizes kept in a credential (SHA-512 output). */
#define STORE_SALT_MAX	64
#define STORE_KEY_MAX	64
#define STORE_MECH_MAX	32

/*
 * Opens (creating if needed) the store at `path` and brings its schema to
 * the current version.  Returns the handle, or NULL with a reason in `err`
 * (no secrets in it).  Without STORE_SYNC it starts the storage thread.
 */
struct store	*store_open(const char *path, unsigned flags, char *err,
		    size_t errlen);

/*
 * Stops accepting new operations, commits everything already queued, joins
 * the storage thread, then runs every pending callback on the caller's
 * thread, closes the database and frees `st`.  After it returns no
 * callback of `st` will ever run.  NULL is accepted.  Call it from the
 * thread that calls store_dispatch().
 */
void		 store_close(struct store *st);

/*
 * An eventfd, readable while completions wait for store_dispatch().  Owned
 * by the store (do not close it).  Returns -1 in STORE_SYNC mode.
 */
int		 store_notify_fd(struct store *st);

/*
 * Runs all pending completion callbacks on the caller's thread and clears
 * the eventfd.  Cheap when there is nothing to do.  Does nothing in
 * STORE_SYNC mode.  Must not be called from inside a store callback.
 */
void		 store_dispatch(struct store *st);

/*
 * Caps the number of offline messages one user may have stored (0 means
 * STORE_OFFLINE_MAX_DEFAULT).  Takes effect for operations run afterwards.
 */
void		 store_set_offline_max(struct store *st, unsigned max);

/* Counters, for tests and the control socket.  Read at any time. */
struct store_stats {
	uint64_t	transactions;	/* committed (or failed) batches */
	uint64_t	ops;		/* operations run */
	uint64_t	failed_commits;	/* batches whose COMMIT failed */
	uint64_t	max_batch;	/* most operations in one batch */
};
void		 store_get_stats(struct store *st, struct store_stats *out);

/* ---- Results -------------------------------------------------------- */

/*
 * One SCRAM credential.  `mech` names the family: "SCRAM-SHA-1",
 * "SCRAM-SHA-256", ...  No plaintext password is ever stored.  The struct
 * holds no pointers; a result copy is wiped by store_cred_free().
 */
struct store_cred {
	char		mech[STORE_MECH_MAX];
	unsigned char	salt[STORE_SALT_MAX];
	size_t		salt_len;
	uint32_t	iterations;
	unsigned char	stored_key[STORE_KEY_MAX];
	unsigned char	server_key[STORE_KEY_MAX];
	size_t		key_len;	/* of stored_key and server_key */
};

/* Wipes (explicit_bzero) and frees a credential from store_user_get_creds. */
void		 store_cred_free(struct store_cred *cred);

/* A list of strings (user_list).  Owned by whoever got it. */
struct store_strlist {
	size_t		 n;
	char		**v;	/* n NUL-terminated strings, each malloc'd */
};
void		 store_strlist_free(struct store_strlist *list);

/* Roster subscription states (RFC 6121). */
enum store_sub {
	STORE_SUB_NONE = 0,
	STORE_SUB_TO = 1,
	STORE_SUB_FROM = 2,
	STORE_SUB_BOTH = 3,
};

struct store_roster_item {
	char		 *contact;	/* bare JID */
	char		 *name;		/* NULL = no name */
	enum store_sub	  sub;
	bool		  ask;		/* outbound subscribe pending */
	bool		  pending_in;	/* inbound subscribe stored */
	size_t		  ngroups;
	char		**groups;	/* ngroups strings, may be NULL if 0 */
};

/* A whole roster, items sorted by contact. */
struct store_roster {
	uint64_t			 version;	/* 0 = never written */
	size_t				 n;
	struct store_roster_item	*items;
};

/* Frees the roster, every item and its strings.  NULL is accepted. */
void	store_roster_free(struct store_roster *roster);

/* Offline messages (XEP-0160). */
struct store_offline_msg {
	int64_t		 id;		/* increasing per store */
	int64_t		 stamp_us;	/* when the server received it */
	char		*from;		/* full or bare JID of the sender */
	char		*xml;		/* the stanza, NUL-terminated */
	size_t		 len;		/* bytes; xml[len] is NUL */
};

struct store_offline {
	size_t				 n;
	struct store_offline_msg	*msgs;	/* oldest first */
};

void	store_offline_free(struct store_offline *list);

/*
 * The callback of each result kind of store_ops.def.  A result it gets is
 * its own (NULL whenever rc != 0): strlist, cred, roster and offline are
 * released with the matching *_free function; text (NUL-terminated) and
 * blob (`len` bytes followed by a NUL) with free().
 */
typedef void	(*store_done_cb)(void *arg, int rc);
/* `version`: the owner's roster version after the write (+1 each). */
typedef void	(*store_ver_cb)(void *arg, int rc, uint64_t version);
typedef void	(*store_strlist_cb)(void *arg, int rc,
		    struct store_strlist *list);
typedef void	(*store_cred_cb)(void *arg, int rc, struct store_cred *cred);
typedef void	(*store_roster_cb)(void *arg, int rc,
		    struct store_roster *roster);
typedef void	(*store_offline_cb)(void *arg, int rc,
		    struct store_offline *list);
typedef void	(*store_text_cb)(void *arg, int rc, char *text);
typedef void	(*store_blob_cb)(void *arg, int rc, char *value, size_t len);
typedef void	(*store_count_cb)(void *arg, int rc, size_t n);

/* ---- Operations ------------------------------------------------------ */

/*
 * For each STORE_OP(name, result, access) of store_ops.def, with the
 * arguments STORE_ARGS_<name> lists:
 *
 *   int store_<name>(struct store *st, <args>, store_<result>_cb cb,
 *       void *arg);
 *	queues the operation (the common rules above).
 *   int store_sync_<name>(struct store *st, <args>, <outputs>);
 *	runs it inline on a STORE_SYNC handle and returns its rc (L_ERR_INVAL
 *	on any other handle: it would block the loop).  The outputs, by
 *	result kind, are set to NULL or 0 first and take what the callback
 *	would have got, owned by the caller as above.
 */
#define STORE_OUT_done
#define STORE_OUT_ver		, uint64_t *out
#define STORE_OUT_strlist	, struct store_strlist **out
#define STORE_OUT_cred		, struct store_cred **out
#define STORE_OUT_roster	, struct store_roster **out
#define STORE_OUT_offline	, struct store_offline **out
#define STORE_OUT_text		, char **out
#define STORE_OUT_blob		, char **out, size_t *outlen
#define STORE_OUT_count		, size_t *out

/* The C parameters of each argument kind (see store_ops.def). */
#define STORE_P(kind, ...)		STORE_P_##kind(__VA_ARGS__)
#define STORE_P_KEY(n)			, const char *n
#define STORE_P_NAME(n, max)		, const char *n
#define STORE_P_TEXT(n)			, const char *n
#define STORE_P_BYTES(T, n, len, min)	, const T *n, size_t len
#define STORE_P_I64(n)			, int64_t n
#define STORE_P_CREDS(n, cnt)		, const struct store_cred *n, size_t cnt
#define STORE_P_ITEM(n)			, const struct store_roster_item *n

#include "store/store_ops.def"

#define STORE_DECLARE(name, result, access)				\
	int	store_##name(struct store *st				\
		    STORE_ARGS_##name(STORE_P), store_##result##_cb cb,	\
		    void *arg);						\
	int	store_sync_##name(struct store *st			\
		    STORE_ARGS_##name(STORE_P) STORE_OUT_##result);
STORE_OPS(STORE_DECLARE)
#undef STORE_DECLARE

#endif
