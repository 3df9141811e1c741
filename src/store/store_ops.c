/*
 * The store's operations: for each, the enqueue function (checks and
 * copies the arguments into one block with the op), the code that runs it
 * on the storage thread against SQLite, and the completion that hands the
 * result to the callback.  SQL text lives in one table, prepared once per
 * connection (see store_stmt()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/log.h"
#include "store/store_int.h"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_USER_INSERT] = "INSERT INTO users (jid) VALUES (?1)",
	[ST_USER_DELETE] = "DELETE FROM users WHERE jid = ?1",
	[ST_USER_EXISTS] = "SELECT 1 FROM users WHERE jid = ?1",
	[ST_USER_LIST] = "SELECT jid FROM users ORDER BY jid",
	[ST_CRED_INSERT] = "INSERT INTO creds (jid, mech, salt, iterations,"
	    " stored_key, server_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_CRED_DELETE_ALL] = "DELETE FROM creds WHERE jid = ?1",
	[ST_CRED_GET] = "SELECT salt, iterations, stored_key, server_key"
	    " FROM creds WHERE jid = ?1 AND mech = ?2",
	[ST_ROSTER_ITEMS] = "SELECT contact, name, subscription, ask,"
	    " pending_in FROM roster WHERE owner = ?1 ORDER BY contact",
	[ST_ROSTER_GROUPS] = "SELECT contact, grp FROM roster_groups"
	    " WHERE owner = ?1 ORDER BY contact, grp",
	[ST_ROSTER_UPSERT] = "INSERT INTO roster (owner, contact, name,"
	    " subscription, ask, pending_in) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name,"
	    " subscription = excluded.subscription, ask = excluded.ask,"
	    " pending_in = excluded.pending_in",
	[ST_ROSTER_DELETE] = "DELETE FROM roster WHERE owner = ?1"
	    " AND contact = ?2",
	[ST_ROSTER_DELETE_ALL] = "DELETE FROM roster WHERE owner = ?1",
	[ST_GROUP_INSERT] = "INSERT OR IGNORE INTO roster_groups (owner,"
	    " contact, grp) VALUES (?1, ?2, ?3)",
	[ST_GROUP_DELETE] = "DELETE FROM roster_groups WHERE owner = ?1"
	    " AND contact = ?2",
	[ST_GROUP_DELETE_ALL] = "DELETE FROM roster_groups WHERE owner = ?1",
	[ST_RVER_GET] = "SELECT version FROM roster_version WHERE owner = ?1",
	[ST_RVER_BUMP] = "INSERT INTO roster_version (owner, version)"
	    " VALUES (?1, 1) ON CONFLICT (owner) DO UPDATE"
	    " SET version = version + 1 RETURNING version",
	[ST_RVER_DELETE] = "DELETE FROM roster_version WHERE owner = ?1",
	[ST_OFFLINE_COUNT] = "SELECT count(*) FROM offline WHERE jid = ?1",
	[ST_OFFLINE_INSERT] = "INSERT INTO offline (jid, stamp_us, sender,"
	    " xml) VALUES (?1, ?2, ?3, ?4)",
	[ST_OFFLINE_LOAD] = "SELECT id, stamp_us, sender, xml FROM offline"
	    " WHERE jid = ?1 ORDER BY id",
	[ST_OFFLINE_DELETE] = "DELETE FROM offline WHERE jid = ?1"
	    " AND id <= ?2",
	[ST_OFFLINE_DELETE_ALL] = "DELETE FROM offline WHERE jid = ?1",
	[ST_CLEAR_SET] = "INSERT INTO clearances (jid, xml) VALUES (?1, ?2)"
	    " ON CONFLICT (jid) DO UPDATE SET xml = excluded.xml",
	[ST_CLEAR_GET] = "SELECT xml FROM clearances WHERE jid = ?1",
	[ST_CLEAR_DELETE] = "DELETE FROM clearances WHERE jid = ?1",
	[ST_KV_PUT] = "INSERT INTO kv (key, value) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
	[ST_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
};

static const char *const sub_names[] = { "none", "to", "from", "both" };

const char *
store_stmt_sql(enum store_stmt id)
{
	return stmt_sql[id];
}

int
store_op_is_write(enum store_op_kind kind)
{
	switch (kind) {
	case OP_USER_EXISTS:
	case OP_USER_LIST:
	case OP_USER_GET_CREDS:
	case OP_ROSTER_LOAD:
	case OP_OFFLINE_LOAD:
	case OP_CLEARANCE_GET:
	case OP_KV_GET:
		return 0;
	default:
		return 1;
	}
}

const char *
store_op_name(enum store_op_kind kind)
{
	static const char *const names[OP__COUNT] = {
		"user_create", "user_set_creds", "user_delete", "user_exists",
		"user_list", "user_get_creds", "roster_load", "roster_put",
		"roster_delete", "offline_push", "offline_load",
		"offline_delete", "clearance_set", "clearance_get",
		"clearance_delete", "kv_put", "kv_get", "kv_delete",
	};

	return (unsigned)kind < OP__COUNT ? names[kind] : "?";
}

/* ---- Result structures --------------------------------------------- */

void
store_cred_free(struct store_cred *cred)
{
	if (cred == NULL)
		return;
	explicit_bzero(cred, sizeof(*cred));
	free(cred);
}

void
store_strlist_free(struct store_strlist *list)
{
	size_t	i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		free(list->v[i]);
	free(list->v);
	free(list);
}

static void
roster_item_cleanup(struct store_roster_item *it)
{
	size_t	i;

	free(it->contact);
	free(it->name);
	for (i = 0; i < it->ngroups; i++)
		free(it->groups[i]);
	free(it->groups);
}

void
store_roster_free(struct store_roster *roster)
{
	size_t	i;

	if (roster == NULL)
		return;
	for (i = 0; i < roster->n; i++)
		roster_item_cleanup(&roster->items[i]);
	free(roster->items);
	free(roster);
}

void
store_offline_free(struct store_offline *list)
{
	size_t	i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++) {
		free(list->msgs[i].from);
		free(list->msgs[i].xml);
	}
	free(list->msgs);
	free(list);
}

/* ---- Building an operation ----------------------------------------- */

/* 1 if `s` is a usable JID or key: 1..STORE_JID_MAX bytes. */
static int
key_ok(const char *s)
{
	size_t	n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_JID_MAX + 1);
	return n > 0 && n <= STORE_JID_MAX;
}

static int
creds_ok(const struct store_cred *creds, size_t ncreds)
{
	size_t	i, j;

	if (ncreds > 0 && creds == NULL)
		return 0;
	if (ncreds > 16)
		return 0;
	for (i = 0; i < ncreds; i++) {
		const struct store_cred *c = &creds[i];

		if (strnlen(c->mech, STORE_MECH_MAX) == 0 ||
		    strnlen(c->mech, STORE_MECH_MAX) == STORE_MECH_MAX ||
		    c->salt_len == 0 || c->salt_len > STORE_SALT_MAX ||
		    c->key_len == 0 || c->key_len > STORE_KEY_MAX ||
		    c->iterations == 0)
			return 0;
		for (j = 0; j < i; j++)
			if (strcmp(creds[j].mech, c->mech) == 0)
				return 0;
	}
	return 1;
}

/*
 * Allocates an op with `extra` bytes of data after the credentials array
 * (ncreds entries, placed first so they are aligned).  Returns NULL on
 * allocation failure.
 */
static struct store_op *
op_new(enum store_op_kind kind, size_t ncreds, size_t extra, void *arg)
{
	struct store_op	*op;
	size_t		 size;

	size = sizeof(*op) + ncreds * sizeof(struct store_cred) + extra;
	if ((op = calloc(1, size)) == NULL)
		return NULL;
	op->kind = kind;
	op->arg = arg;
	op->size = size;
	op->creds = ncreds ? (struct store_cred *)(void *)op->data : NULL;
	op->ncreds = ncreds;
	return op;
}

/* Copies `n` bytes plus a NUL at *cur, advances *cur, returns the copy. */
static const char *
op_put(unsigned char **cur, const void *p, size_t n)
{
	char	*dst = (char *)*cur;

	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	*cur += n + 1;
	return dst;
}

static size_t
slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Data cursor of an op, after its credentials. */
static unsigned char *
op_cursor(struct store_op *op)
{
	return op->data + op->ncreds * sizeof(struct store_cred);
}

/* Common path for ops taking one key, one optional string, one blob. */
static int
op_submit_simple(struct store *st, enum store_op_kind kind, const char *key,
    const char *s2, const void *blob, size_t bloblen, int64_t i1,
    union store_cbu cb, void *arg)
{
	struct store_op	*op;
	unsigned char	*cur;

	if (st == NULL || !key_ok(key))
		return L_ERR_INVAL;
	if (bloblen > 0 && blob == NULL)
		return L_ERR_INVAL;
	op = op_new(kind, 0, slen(key) + slen(s2) + (blob ? bloblen + 1 : 0),
	    arg);
	if (op == NULL)
		return L_ERR_NOMEM;
	cur = op_cursor(op);
	op->cb = cb;
	op->jid = op_put(&cur, key, strlen(key));
	if (s2 != NULL)
		op->s2 = op_put(&cur, s2, strlen(s2));
	if (blob != NULL) {
		op->blob = op_put(&cur, blob, bloblen);
		op->bloblen = bloblen;
	}
	op->i1 = i1;
	return store_op_submit(st, op);
}

/* ---- Enqueue functions --------------------------------------------- */

static int
user_creds_submit(struct store *st, enum store_op_kind kind, const char *jid,
    const struct store_cred *creds, size_t ncreds, store_done_cb cb,
    void *arg)
{
	struct store_op	*op;
	unsigned char	*cur;

	if (st == NULL || !key_ok(jid) || !creds_ok(creds, ncreds))
		return L_ERR_INVAL;
	if ((op = op_new(kind, ncreds, slen(jid), arg)) == NULL)
		return L_ERR_NOMEM;
	if (ncreds > 0)
		memcpy(op->creds, creds, ncreds * sizeof(*creds));
	cur = op_cursor(op);
	op->jid = op_put(&cur, jid, strlen(jid));
	op->cb.done = cb;
	return store_op_submit(st, op);
}

int
store_user_create(struct store *st, const char *jid,
    const struct store_cred *creds, size_t ncreds, store_done_cb cb,
    void *arg)
{
	return user_creds_submit(st, OP_USER_CREATE, jid, creds, ncreds, cb,
	    arg);
}

int
store_user_set_creds(struct store *st, const char *jid,
    const struct store_cred *creds, size_t ncreds, store_done_cb cb,
    void *arg)
{
	return user_creds_submit(st, OP_USER_SET_CREDS, jid, creds, ncreds,
	    cb, arg);
}

int
store_user_delete(struct store *st, const char *jid, store_done_cb cb,
    void *arg)
{
	return op_submit_simple(st, OP_USER_DELETE, jid, NULL, NULL, 0, 0,
	    (union store_cbu){ .done = cb }, arg);
}

int
store_user_exists(struct store *st, const char *jid, store_done_cb cb,
    void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_USER_EXISTS, jid, NULL, NULL, 0, 0,
	    (union store_cbu){ .done = cb }, arg);
}

int
store_user_list(struct store *st,
    void (*cb)(void *, int, struct store_strlist *), void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	/* The key is unused; "*" keeps the common path. */
	return op_submit_simple(st, OP_USER_LIST, "*", NULL, NULL, 0, 0,
	    (union store_cbu){ .strlist = cb }, arg);
}

int
store_user_get_creds(struct store *st, const char *jid, const char *mech,
    void (*cb)(void *, int, struct store_cred *), void *arg)
{
	if (cb == NULL || mech == NULL || mech[0] == '\0' ||
	    strnlen(mech, STORE_MECH_MAX) == STORE_MECH_MAX)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_USER_GET_CREDS, jid, mech, NULL, 0, 0,
	    (union store_cbu){ .cred = cb }, arg);
}

int
store_roster_load(struct store *st, const char *owner,
    void (*cb)(void *, int, struct store_roster *), void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_ROSTER_LOAD, owner, NULL, NULL, 0, 0,
	    (union store_cbu){ .roster = cb }, arg);
}

/*
 * The groups travel packed in op->blob as ngroups NUL-terminated strings
 * one after the other.
 */
int
store_roster_put(struct store *st, const char *owner,
    const struct store_roster_item *item, store_ver_cb cb, void *arg)
{
	struct store_op	*op;
	unsigned char	*cur;
	size_t		 i, glen = 0;

	if (st == NULL || !key_ok(owner) || item == NULL ||
	    !key_ok(item->contact) || (unsigned)item->sub > STORE_SUB_BOTH ||
	    (item->ngroups > 0 && item->groups == NULL))
		return L_ERR_INVAL;
	for (i = 0; i < item->ngroups; i++) {
		if (item->groups[i] == NULL)
			return L_ERR_INVAL;
		glen += strlen(item->groups[i]) + 1;
	}
	op = op_new(OP_ROSTER_PUT, 0, slen(owner) + slen(item->contact) +
	    slen(item->name) + glen, arg);
	if (op == NULL)
		return L_ERR_NOMEM;
	cur = op_cursor(op);
	op->cb.ver = cb;
	op->jid = op_put(&cur, owner, strlen(owner));
	op->s2 = op_put(&cur, item->contact, strlen(item->contact));
	if (item->name != NULL)
		op->s3 = op_put(&cur, item->name, strlen(item->name));
	op->blob = cur;
	op->bloblen = glen;
	for (i = 0; i < item->ngroups; i++)
		(void)op_put(&cur, item->groups[i], strlen(item->groups[i]));
	op->ngroups = item->ngroups;
	op->sub = (int)item->sub;
	op->ask = item->ask;
	op->pending_in = item->pending_in;
	return store_op_submit(st, op);
}

int
store_roster_delete(struct store *st, const char *owner, const char *contact,
    store_ver_cb cb, void *arg)
{
	if (!key_ok(contact))
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_ROSTER_DELETE, owner, contact, NULL, 0,
	    0, (union store_cbu){ .ver = cb }, arg);
}

int
store_offline_push(struct store *st, const char *to, const char *xml,
    size_t len, int64_t stamp_us, const char *from, store_done_cb cb,
    void *arg)
{
	if (xml == NULL || len == 0 || from == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_OFFLINE_PUSH, to, from, xml, len,
	    stamp_us, (union store_cbu){ .done = cb }, arg);
}

int
store_offline_load(struct store *st, const char *jid,
    void (*cb)(void *, int, struct store_offline *), void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_OFFLINE_LOAD, jid, NULL, NULL, 0, 0,
	    (union store_cbu){ .offline = cb }, arg);
}

int
store_offline_delete(struct store *st, const char *jid, int64_t up_to_id,
    store_done_cb cb, void *arg)
{
	return op_submit_simple(st, OP_OFFLINE_DELETE, jid, NULL, NULL, 0,
	    up_to_id, (union store_cbu){ .done = cb }, arg);
}

int
store_clearance_set(struct store *st, const char *jid, const char *xml,
    store_done_cb cb, void *arg)
{
	if (xml == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_CLEARANCE_SET, jid, NULL, xml,
	    strlen(xml), 0, (union store_cbu){ .done = cb }, arg);
}

int
store_clearance_get(struct store *st, const char *jid,
    void (*cb)(void *, int, char *), void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_CLEARANCE_GET, jid, NULL, NULL, 0, 0,
	    (union store_cbu){ .text = cb }, arg);
}

int
store_clearance_delete(struct store *st, const char *jid, store_done_cb cb,
    void *arg)
{
	return op_submit_simple(st, OP_CLEARANCE_DELETE, jid, NULL, NULL, 0,
	    0, (union store_cbu){ .done = cb }, arg);
}

int
store_kv_put(struct store *st, const char *key, const void *value,
    size_t len, store_done_cb cb, void *arg)
{
	/* An empty value still needs a non-NULL blob to be stored. */
	if (value == NULL && len > 0)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_KV_PUT, key, NULL, value ? value : "",
	    len, 0, (union store_cbu){ .done = cb }, arg);
}

int
store_kv_get(struct store *st, const char *key,
    void (*cb)(void *, int, char *, size_t), void *arg)
{
	if (cb == NULL)
		return L_ERR_INVAL;
	return op_submit_simple(st, OP_KV_GET, key, NULL, NULL, 0, 0,
	    (union store_cbu){ .blob = cb }, arg);
}

int
store_kv_delete(struct store *st, const char *key, store_done_cb cb,
    void *arg)
{
	return op_submit_simple(st, OP_KV_DELETE, key, NULL, NULL, 0, 0,
	    (union store_cbu){ .done = cb }, arg);
}

/* ---- Running operations (storage thread) --------------------------- */

/* Steps a statement expected to finish without rows; 0 or mapped error. */
static int
step_done(struct store *st, sqlite3_stmt *s)
{
	int	src = sqlite3_step(s);

	if (src == SQLITE_DONE)
		return L_OK;
	if ((src & 0xff) != SQLITE_CONSTRAINT)
		log_warnx("store: step: %s", sqlite3_errmsg(st->db));
	return store_rc_from_sqlite(src) == L_OK ? L_ERR_INTERNAL :
	    store_rc_from_sqlite(src);
}

/* Runs a statement whose only parameter ?1 is `key`, without rows. */
static int
exec_key(struct store *st, enum store_stmt id, const char *key)
{
	sqlite3_stmt	*s;

	if ((s = store_stmt(st, id)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return step_done(st, s);
}

/* Copies a column into a fresh NUL-terminated heap string (or NULL). */
static char *
col_dup(sqlite3_stmt *s, int col, size_t *lenp)
{
	const void	*p;
	size_t		 n;
	char		*d;

	if (sqlite3_column_type(s, col) == SQLITE_BLOB)
		p = sqlite3_column_blob(s, col);
	else
		p = sqlite3_column_text(s, col);
	n = (size_t)sqlite3_column_bytes(s, col);
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0 && p != NULL)
		memcpy(d, p, n);
	d[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return d;
}

/* 0 if the user exists, L_ERR_NOTFOUND, or an error. */
static int
user_check(struct store *st, const char *jid)
{
	sqlite3_stmt	*s;
	int		 src;

	if ((s = store_stmt(st, ST_USER_EXISTS)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	sqlite3_reset(s);
	if (src == SQLITE_ROW)
		return L_OK;
	if (src == SQLITE_DONE)
		return L_ERR_NOTFOUND;
	return store_rc_from_sqlite(src);
}

static int
creds_insert(struct store *st, struct store_op *op)
{
	sqlite3_stmt	*s;
	size_t		 i;
	int		 rc;

	for (i = 0; i < op->ncreds; i++) {
		const struct store_cred *c = &op->creds[i];

		if ((s = store_stmt(st, ST_CRED_INSERT)) == NULL)
			return L_ERR_IO;
		sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->mech, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, c->salt, (int)c->salt_len,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, c->iterations);
		sqlite3_bind_blob(s, 5, c->stored_key, (int)c->key_len,
		    SQLITE_STATIC);
		sqlite3_bind_blob(s, 6, c->server_key, (int)c->key_len,
		    SQLITE_STATIC);
		rc = step_done(st, s);
		/* Do not leave key material bound in a cached statement. */
		sqlite3_clear_bindings(s);
		if (rc != L_OK)
			return rc;
	}
	return L_OK;
}

static int
exec_user_create(struct store *st, struct store_op *op)
{
	int	rc;

	if ((rc = exec_key(st, ST_USER_INSERT, op->jid)) != L_OK)
		return rc;	/* L_ERR_EXISTS from the primary key */
	return creds_insert(st, op);
}

static int
exec_user_set_creds(struct store *st, struct store_op *op)
{
	int	rc;

	if ((rc = user_check(st, op->jid)) != L_OK)
		return rc;
	if ((rc = exec_key(st, ST_CRED_DELETE_ALL, op->jid)) != L_OK)
		return rc;
	return creds_insert(st, op);
}

static int
exec_user_delete(struct store *st, struct store_op *op)
{
	static const enum store_stmt cascade[] = {
		ST_CRED_DELETE_ALL, ST_GROUP_DELETE_ALL, ST_ROSTER_DELETE_ALL,
		ST_RVER_DELETE, ST_OFFLINE_DELETE_ALL, ST_CLEAR_DELETE,
	};
	size_t	i;
	int	rc;

	if ((rc = user_check(st, op->jid)) != L_OK)
		return rc;
	for (i = 0; i < sizeof(cascade) / sizeof(cascade[0]); i++)
		if ((rc = exec_key(st, cascade[i], op->jid)) != L_OK)
			return rc;
	return exec_key(st, ST_USER_DELETE, op->jid);
}

static int
exec_user_list(struct store *st, struct store_op *op)
{
	struct store_strlist	*list;
	sqlite3_stmt		*s;
	char			**nv;
	size_t			 cap = 0;
	int			 src, rc = L_ERR_NOMEM;

	if ((s = store_stmt(st, ST_USER_LIST)) == NULL)
		return L_ERR_IO;
	if ((list = calloc(1, sizeof(*list))) == NULL)
		return L_ERR_NOMEM;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (list->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(list->v, cap,
			    sizeof(*nv))) == NULL)
				goto err;
			list->v = nv;
		}
		if ((list->v[list->n] = col_dup(s, 0, NULL)) == NULL)
			goto err;
		list->n++;
	}
	if (src != SQLITE_DONE) {
		rc = store_rc_from_sqlite(src);
		goto err;
	}
	op->result = list;
	return L_OK;
err:
	sqlite3_reset(s);
	store_strlist_free(list);
	return rc;
}

static int
exec_user_get_creds(struct store *st, struct store_op *op)
{
	struct store_cred	*c;
	sqlite3_stmt		*s;
	size_t			 saltn, k1, k2;
	int			 src, rc;

	if ((s = store_stmt(st, ST_CRED_GET)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		return L_ERR_NOTFOUND;
	if (src != SQLITE_ROW)
		return store_rc_from_sqlite(src);
	saltn = (size_t)sqlite3_column_bytes(s, 0);
	k1 = (size_t)sqlite3_column_bytes(s, 2);
	k2 = (size_t)sqlite3_column_bytes(s, 3);
	if (saltn == 0 || saltn > STORE_SALT_MAX || k1 == 0 ||
	    k1 > STORE_KEY_MAX || k1 != k2) {
		log_warnx("store: malformed credential row");
		rc = L_ERR_INTERNAL;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = L_ERR_NOMEM;
		goto out;
	}
	snprintf(c->mech, sizeof(c->mech), "%s", op->s2);
	memcpy(c->salt, sqlite3_column_blob(s, 0), saltn);
	c->salt_len = saltn;
	c->iterations = (uint32_t)sqlite3_column_int64(s, 1);
	memcpy(c->stored_key, sqlite3_column_blob(s, 2), k1);
	memcpy(c->server_key, sqlite3_column_blob(s, 3), k1);
	c->key_len = k1;
	op->result = c;
	rc = L_OK;
out:
	sqlite3_reset(s);
	return rc;
}

/* The owner's roster version, 0 if never written. */
static int
rver_get(struct store *st, const char *owner, uint64_t *out)
{
	sqlite3_stmt	*s;
	int		 src;

	if ((s = store_stmt(st, ST_RVER_GET)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, owner, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	*out = src == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return src == SQLITE_ROW || src == SQLITE_DONE ? L_OK :
	    store_rc_from_sqlite(src);
}

static int
rver_bump(struct store *st, const char *owner, uint64_t *out)
{
	sqlite3_stmt	*s;
	int		 src;

	if ((s = store_stmt(st, ST_RVER_BUMP)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, owner, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(s, 0);
		src = sqlite3_step(s);
	}
	sqlite3_reset(s);
	return src == SQLITE_DONE ? L_OK : store_rc_from_sqlite(src);
}

static int
sub_parse(const char *s)
{
	int	i;

	for (i = 0; s != NULL && i <= STORE_SUB_BOTH; i++)
		if (strcmp(s, sub_names[i]) == 0)
			return i;
	return STORE_SUB_NONE;
}

/* Appends group `g` to item `it`; 0 or L_ERR_NOMEM. */
static int
item_add_group(struct store_roster_item *it, sqlite3_stmt *s, int col)
{
	char	**ng;

	if ((ng = reallocarray(it->groups, it->ngroups + 1,
	    sizeof(*ng))) == NULL)
		return L_ERR_NOMEM;
	it->groups = ng;
	if ((ng[it->ngroups] = col_dup(s, col, NULL)) == NULL)
		return L_ERR_NOMEM;
	it->ngroups++;
	return L_OK;
}

/*
 * Loads the items (sorted by contact), then the groups (sorted the same
 * way), and merges the two sorted lists in one pass.
 */
static int
exec_roster_load(struct store *st, struct store_op *op)
{
	struct store_roster		*r;
	struct store_roster_item	*it, *ni;
	sqlite3_stmt			*s;
	const char			*contact;
	size_t				 cap = 0, i = 0;
	int				 src, rc = L_ERR_NOMEM;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return L_ERR_NOMEM;
	if ((rc = rver_get(st, op->jid, &r->version)) != L_OK)
		goto err;
	rc = L_ERR_IO;
	if ((s = store_stmt(st, ST_ROSTER_ITEMS)) == NULL)
		goto err;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	rc = L_ERR_NOMEM;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (r->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((ni = reallocarray(r->items, cap,
			    sizeof(*ni))) == NULL)
				goto err_reset;
			r->items = ni;
		}
		it = &r->items[r->n];
		memset(it, 0, sizeof(*it));
		r->n++;
		if ((it->contact = col_dup(s, 0, NULL)) == NULL)
			goto err_reset;
		if (sqlite3_column_type(s, 1) != SQLITE_NULL &&
		    (it->name = col_dup(s, 1, NULL)) == NULL)
			goto err_reset;
		it->sub = sub_parse((const char *)sqlite3_column_text(s, 2));
		it->ask = sqlite3_column_int(s, 3) != 0;
		it->pending_in = sqlite3_column_int(s, 4) != 0;
	}
	if (src != SQLITE_DONE) {
		rc = store_rc_from_sqlite(src);
		goto err_reset;
	}
	sqlite3_reset(s);

	rc = L_ERR_IO;
	if ((s = store_stmt(st, ST_ROSTER_GROUPS)) == NULL)
		goto err;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	rc = L_ERR_NOMEM;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		contact = (const char *)sqlite3_column_text(s, 0);
		if (contact == NULL)
			continue;
		while (i < r->n && strcmp(r->items[i].contact, contact) < 0)
			i++;
		if (i == r->n)
			break;
		if (strcmp(r->items[i].contact, contact) != 0)
			continue;	/* orphan group row: ignore */
		if (item_add_group(&r->items[i], s, 1) != L_OK)
			goto err_reset;
	}
	if (src != SQLITE_DONE && src != SQLITE_ROW) {
		rc = store_rc_from_sqlite(src);
		goto err_reset;
	}
	sqlite3_reset(s);
	op->result = r;
	return L_OK;

err_reset:
	sqlite3_reset(s);
err:
	store_roster_free(r);
	return rc;
}

static int
exec_roster_put(struct store *st, struct store_op *op)
{
	sqlite3_stmt	*s;
	const char	*g;
	size_t		 i;
	int		 rc;

	if ((s = store_stmt(st, ST_ROSTER_UPSERT)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
	if (op->s3 != NULL)
		sqlite3_bind_text(s, 3, op->s3, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sub_names[op->sub], -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, op->ask != 0);
	sqlite3_bind_int(s, 6, op->pending_in != 0);
	if ((rc = step_done(st, s)) != L_OK)
		return rc;

	if ((s = store_stmt(st, ST_GROUP_DELETE)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != L_OK)
		return rc;
	g = op->blob;
	for (i = 0; i < op->ngroups; i++, g += strlen(g) + 1) {
		if ((s = store_stmt(st, ST_GROUP_INSERT)) == NULL)
			return L_ERR_IO;
		sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, g, -1, SQLITE_STATIC);
		if ((rc = step_done(st, s)) != L_OK)
			return rc;
	}
	return rver_bump(st, op->jid, &op->version);
}

static int
exec_roster_delete(struct store *st, struct store_op *op)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_stmt(st, ST_GROUP_DELETE)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != L_OK)
		return rc;
	if ((s = store_stmt(st, ST_ROSTER_DELETE)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->s2, -1, SQLITE_STATIC);
	if ((rc = step_done(st, s)) != L_OK)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return L_ERR_NOTFOUND;
	return rver_bump(st, op->jid, &op->version);
}

static int
exec_offline_push(struct store *st, struct store_op *op)
{
	sqlite3_stmt	*s;
	int64_t		 n;
	int		 src;

	if ((s = store_stmt(st, ST_OFFLINE_COUNT)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	if ((src = sqlite3_step(s)) != SQLITE_ROW) {
		sqlite3_reset(s);
		return store_rc_from_sqlite(src);
	}
	n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (n >= (int64_t)atomic_load(&st->offline_max))
		return L_ERR_LIMIT;

	if ((s = store_stmt(st, ST_OFFLINE_INSERT)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, op->i1);
	sqlite3_bind_text(s, 3, op->s2, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s, 4, op->blob, op->bloblen, SQLITE_STATIC);
	return step_done(st, s);
}

static int
exec_offline_load(struct store *st, struct store_op *op)
{
	struct store_offline		*l;
	struct store_offline_msg	*m, *nm;
	sqlite3_stmt			*s;
	size_t				 cap = 0;
	int				 src, rc = L_ERR_NOMEM;

	if ((s = store_stmt(st, ST_OFFLINE_LOAD)) == NULL)
		return L_ERR_IO;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return L_ERR_NOMEM;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (l->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nm = reallocarray(l->msgs, cap,
			    sizeof(*nm))) == NULL)
				goto err;
			l->msgs = nm;
		}
		m = &l->msgs[l->n];
		memset(m, 0, sizeof(*m));
		l->n++;
		m->id = sqlite3_column_int64(s, 0);
		m->stamp_us = sqlite3_column_int64(s, 1);
		if ((m->from = col_dup(s, 2, NULL)) == NULL ||
		    (m->xml = col_dup(s, 3, &m->len)) == NULL)
			goto err;
	}
	if (src != SQLITE_DONE) {
		rc = store_rc_from_sqlite(src);
		goto err;
	}
	op->result = l;
	return L_OK;
err:
	sqlite3_reset(s);
	store_offline_free(l);
	return rc;
}

static int
exec_offline_delete(struct store *st, struct store_op *op)
{
	sqlite3_stmt	*s;

	if ((s = store_stmt(st, ST_OFFLINE_DELETE)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, op->i1);
	return step_done(st, s);
}

/* Binds ?1 key and ?2 blob (as text if `text`), runs, no rows. */
static int
exec_key_value(struct store *st, enum store_stmt id, struct store_op *op,
    int text)
{
	sqlite3_stmt	*s;

	if ((s = store_stmt(st, id)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text64(s, 2, op->blob, op->bloblen,
		    SQLITE_STATIC, SQLITE_UTF8);
	else
		sqlite3_bind_blob64(s, 2, op->blob, op->bloblen,
		    SQLITE_STATIC);
	return step_done(st, s);
}

/* Reads column 0 of statement `id` for key ?1 into op->result/outlen. */
static int
exec_get_value(struct store *st, enum store_stmt id, struct store_op *op)
{
	sqlite3_stmt	*s;
	int		 src, rc;

	if ((s = store_stmt(st, id)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_text(s, 1, op->jid, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		rc = L_ERR_NOTFOUND;
	else if (src != SQLITE_ROW)
		rc = store_rc_from_sqlite(src);
	else if ((op->result = col_dup(s, 0, &op->outlen)) == NULL)
		rc = L_ERR_NOMEM;
	else
		rc = L_OK;
	sqlite3_reset(s);
	return rc;
}

/* Deletes by key; L_ERR_NOTFOUND if no row went. */
static int
exec_delete_key(struct store *st, enum store_stmt id, struct store_op *op)
{
	int	rc;

	if ((rc = exec_key(st, id, op->jid)) != L_OK)
		return rc;
	return sqlite3_changes(st->db) > 0 ? L_OK : L_ERR_NOTFOUND;
}

/*
 * Runs `op` on the connection (inside the caller's transaction); returns
 * its status, and on success may leave a result in op->result.  Cached
 * statements are left reset or resettable; results of failed reads are
 * freed here.
 */
int
store_op_exec(struct store *st, struct store_op *op)
{
	switch (op->kind) {
	case OP_USER_CREATE:
		return exec_user_create(st, op);
	case OP_USER_SET_CREDS:
		return exec_user_set_creds(st, op);
	case OP_USER_DELETE:
		return exec_user_delete(st, op);
	case OP_USER_EXISTS:
		return user_check(st, op->jid);
	case OP_USER_LIST:
		return exec_user_list(st, op);
	case OP_USER_GET_CREDS:
		return exec_user_get_creds(st, op);
	case OP_ROSTER_LOAD:
		return exec_roster_load(st, op);
	case OP_ROSTER_PUT:
		return exec_roster_put(st, op);
	case OP_ROSTER_DELETE:
		return exec_roster_delete(st, op);
	case OP_OFFLINE_PUSH:
		return exec_offline_push(st, op);
	case OP_OFFLINE_LOAD:
		return exec_offline_load(st, op);
	case OP_OFFLINE_DELETE:
		return exec_offline_delete(st, op);
	case OP_CLEARANCE_SET:
		return exec_key_value(st, ST_CLEAR_SET, op, 1);
	case OP_CLEARANCE_GET:
		return exec_get_value(st, ST_CLEAR_GET, op);
	case OP_CLEARANCE_DELETE:
		return exec_delete_key(st, ST_CLEAR_DELETE, op);
	case OP_KV_PUT:
		return exec_key_value(st, ST_KV_PUT, op, 0);
	case OP_KV_GET:
		return exec_get_value(st, ST_KV_GET, op);
	case OP_KV_DELETE:
		return exec_delete_key(st, ST_KV_DELETE, op);
	case OP__COUNT:
		break;
	}
	return L_ERR_INTERNAL;
}

/* Frees a result that will not be handed to a callback. */
static void
op_result_free(struct store_op *op)
{
	switch (op->kind) {
	case OP_USER_LIST:
		store_strlist_free(op->result);
		break;
	case OP_USER_GET_CREDS:
		store_cred_free(op->result);
		break;
	case OP_ROSTER_LOAD:
		store_roster_free(op->result);
		break;
	case OP_OFFLINE_LOAD:
		store_offline_free(op->result);
		break;
	default:
		free(op->result);
		break;
	}
	op->result = NULL;
}

/*
 * Calls the op's callback (loop thread), handing over the result, which is
 * NULL whenever rc != 0.  Logs failed writes, without content.
 */
void
store_op_complete(struct store_op *op)
{
	void	*res;

	if (op->rc != L_OK && op->result != NULL)
		op_result_free(op);
	if (op->rc != L_OK && store_op_is_write(op->kind) &&
	    op->rc != L_ERR_EXISTS && op->rc != L_ERR_NOTFOUND &&
	    op->rc != L_ERR_LIMIT)
		log_warnx("store: %s failed: %s", store_op_name(op->kind),
		    l_strerror(op->rc));
	res = op->result;
	op->result = NULL;
	switch (op->kind) {
	case OP_USER_LIST:
		op->cb.strlist(op->arg, op->rc, res);
		break;
	case OP_USER_GET_CREDS:
		op->cb.cred(op->arg, op->rc, res);
		break;
	case OP_ROSTER_LOAD:
		op->cb.roster(op->arg, op->rc, res);
		break;
	case OP_OFFLINE_LOAD:
		op->cb.offline(op->arg, op->rc, res);
		break;
	case OP_CLEARANCE_GET:
		op->cb.text(op->arg, op->rc, res);
		break;
	case OP_KV_GET:
		op->cb.blob(op->arg, op->rc, res, res ? op->outlen : 0);
		break;
	case OP_ROSTER_PUT:
	case OP_ROSTER_DELETE:
		if (op->cb.ver != NULL)
			op->cb.ver(op->arg, op->rc,
			    op->rc == L_OK ? op->version : 0);
		break;
	default:
		if (op->cb.done != NULL)
			op->cb.done(op->arg, op->rc);
		break;
	}
}

/* Frees an op; credential ops are wiped first (they hold key material). */
void
store_op_free(struct store_op *op)
{
	if (op == NULL)
		return;
	if (op->result != NULL)
		op_result_free(op);
	if (op->ncreds > 0)
		explicit_bzero(op, op->size);
	free(op);
}
