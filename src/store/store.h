/*
 * Storage layer: users and SCRAM credentials, rosters, offline messages,
 * clearances and a small key/value table, in one SQLite file (WAL mode,
 * synchronous=FULL).  The server's loop never touches the disk: each call
 * queues an operation for one storage thread, which runs everything queued
 * in one transaction (group commit) and then posts the completions, which
 * the loop runs with store_dispatch() when store_notify_fd() is readable.
 * With STORE_SYNC there is no thread and callbacks run inline (liaisonctl,
 * unit tests); the API is the same.
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
 * 1..3071 bytes, compared byte for byte.
 */

/* store_open() flags. */
#define STORE_SYNC	0x01	/* no thread: run each operation inline */

/* Default per-user cap on stored offline messages. */
#define STORE_OFFLINE_MAX_DEFAULT	1000

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

/* Completion of a write, or of a yes/no question (rc 0 or NOTFOUND). */
typedef void	(*store_done_cb)(void *arg, int rc);

/* ---- Users and credentials ---------------------------------------- */

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

/*
 * Creates `jid` with `ncreds` credentials (at most one per mech, at most
 * 16; ncreds may be 0 for an account that cannot log in with a password;
 * salt_len, key_len and iterations must be non-zero).  rc: L_ERR_EXISTS if
 * the user is already there.
 */
int	store_user_create(struct store *st, const char *jid,
	    const struct store_cred *creds, size_t ncreds,
	    store_done_cb cb, void *arg);

/* Replaces all of the user's credentials (password change).  NOTFOUND. */
int	store_user_set_creds(struct store *st, const char *jid,
	    const struct store_cred *creds, size_t ncreds,
	    store_done_cb cb, void *arg);

/*
 * Deletes the user, its credentials, roster (its own items, not the items
 * naming it in other rosters), offline messages, clearance and roster
 * version.  rc: NOTFOUND if absent.
 */
int	store_user_delete(struct store *st, const char *jid,
	    store_done_cb cb, void *arg);

/* rc 0 if the user exists, L_ERR_NOTFOUND if not. */
int	store_user_exists(struct store *st, const char *jid,
	    store_done_cb cb, void *arg);

/* All users, sorted by JID.  `list` is owned by the callback. */
int	store_user_list(struct store *st,
	    void (*cb)(void *arg, int rc, struct store_strlist *list),
	    void *arg);

/*
 * The credential of `jid` for `mech`; rc L_ERR_NOTFOUND if there is no
 * such user or no credential for that mechanism.  `cred` is owned by the
 * callback: release it with store_cred_free().
 */
int	store_user_get_creds(struct store *st, const char *jid,
	    const char *mech,
	    void (*cb)(void *arg, int rc, struct store_cred *cred),
	    void *arg);

/* ---- Rosters (RFC 6121, versioned per XEP-0237) ---------------------- */

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

/*
 * Completion of a roster write: `version` is the owner's roster version
 * after this write (each put or delete increments it by one).
 */
typedef void	(*store_ver_cb)(void *arg, int rc, uint64_t version);

/*
 * The owner's roster (empty with version 0 if it has none; owner need not
 * be a registered user).  `roster` is owned by the callback.
 */
int	store_roster_load(struct store *st, const char *owner,
	    void (*cb)(void *arg, int rc, struct store_roster *roster),
	    void *arg);

/*
 * Inserts or replaces the owner's item for item->contact, groups included.
 * `item` and its strings are copied.
 */
int	store_roster_put(struct store *st, const char *owner,
	    const struct store_roster_item *item, store_ver_cb cb, void *arg);

/* Removes one item; rc L_ERR_NOTFOUND if there was none. */
int	store_roster_delete(struct store *st, const char *owner,
	    const char *contact, store_ver_cb cb, void *arg);

/* ---- Offline messages (XEP-0160) ---------------------------------- */

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
 * Stores one message stanza for `to`.  The callback runs only after the
 * COMMIT that made it durable: rc 0 means it is on disk.  rc L_ERR_LIMIT if
 * `to` already has the maximum number of messages (store_set_offline_max).
 * `to` need not be a registered user (the caller decides that).
 */
int	store_offline_push(struct store *st, const char *to, const char *xml,
	    size_t len, int64_t stamp_us, const char *from,
	    store_done_cb cb, void *arg);

/* All of the user's stored messages.  `list` is owned by the callback. */
int	store_offline_load(struct store *st, const char *jid,
	    void (*cb)(void *arg, int rc, struct store_offline *list),
	    void *arg);

/*
 * Deletes the user's messages with id <= up_to_id (after they were
 * delivered).  rc 0 even if nothing matched.
 */
int	store_offline_delete(struct store *st, const char *jid,
	    int64_t up_to_id, store_done_cb cb, void *arg);

/* ---- Clearances (STANAG 4774 XML, opaque here) ---------------------- */

/* Sets or replaces the user's clearance document. */
int	store_clearance_set(struct store *st, const char *jid,
	    const char *xml, store_done_cb cb, void *arg);

/* `xml` (NUL-terminated, malloc'd) is owned by the callback: free(). */
int	store_clearance_get(struct store *st, const char *jid,
	    void (*cb)(void *arg, int rc, char *xml), void *arg);

/* rc L_ERR_NOTFOUND if the user had no clearance. */
int	store_clearance_delete(struct store *st, const char *jid,
	    store_done_cb cb, void *arg);

/* ---- Server state key/value --------------------------------------- */

/* Sets `key` to `len` bytes of `value`. */
int	store_kv_put(struct store *st, const char *key, const void *value,
	    size_t len, store_done_cb cb, void *arg);

/*
 * `value` (malloc'd, `len` bytes followed by a NUL) is owned by the
 * callback: free().  rc L_ERR_NOTFOUND if unset.
 */
int	store_kv_get(struct store *st, const char *key,
	    void (*cb)(void *arg, int rc, char *value, size_t len),
	    void *arg);

int	store_kv_delete(struct store *st, const char *key,
	    store_done_cb cb, void *arg);

/* ---- Synchronous helpers (STORE_SYNC handles only: liaisonctl) ------- */

/*
 * Each runs the operation inline and returns its rc directly; on any
 * handle without STORE_SYNC they return L_ERR_INVAL.  Results are owned by
 * the caller as above (*out set to NULL on error).
 */
int	store_sync_user_create(struct store *st, const char *jid,
	    const struct store_cred *creds, size_t ncreds);
int	store_sync_user_set_creds(struct store *st, const char *jid,
	    const struct store_cred *creds, size_t ncreds);
int	store_sync_user_delete(struct store *st, const char *jid);
int	store_sync_user_exists(struct store *st, const char *jid);
int	store_sync_user_list(struct store *st, struct store_strlist **out);
int	store_sync_user_get_creds(struct store *st, const char *jid,
	    const char *mech, struct store_cred **out);
int	store_sync_clearance_set(struct store *st, const char *jid,
	    const char *xml);
int	store_sync_clearance_get(struct store *st, const char *jid,
	    char **out);
int	store_sync_clearance_delete(struct store *st, const char *jid);
int	store_sync_kv_put(struct store *st, const char *key,
	    const void *value, size_t len);
int	store_sync_kv_get(struct store *st, const char *key, char **out,
	    size_t *outlen);
int	store_sync_offline_count(struct store *st, const char *jid,
	    size_t *out);

#endif
