/*
 * The store's operations, generated from store_ops.def: for each, the
 * enqueue function (checks and copies the arguments into one block with
 * the op), its executor exec_<name>() that runs it on the storage thread
 * against SQLite, and the completion that hands the result to the
 * callback.  SQL text lives in one table, prepared once per connection
 * (see store_stmt()).
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

#define OP_ALIGN	_Alignof(max_align_t)

/* 1..max bytes; adds its copy to *need. */
static bool
str_ok(const char *s, size_t max, size_t *need)
{
	size_t	n;

	if (s == NULL || (n = strnlen(s, max + 1)) == 0 || n > max)
		return false;
	*need += n + 1;
	return true;
}

static bool
text_ok(const char *s, size_t *need)
{
	if (s == NULL)
		return false;
	*need += strlen(s) + 1;
	return true;
}

static bool
bytes_ok(const void *p, size_t len, size_t min, size_t *need)
{
	if (len < min || (p == NULL && len > 0))
		return false;
	*need += len + 1;
	return true;
}

static bool
creds_ok(const struct store_cred *creds, size_t ncreds, size_t *need)
{
	size_t	i, j;

	if ((ncreds > 0 && creds == NULL) || ncreds > 16)
		return false;
	for (i = 0; i < ncreds; i++) {
		const struct store_cred *c = &creds[i];

		if (strnlen(c->mech, STORE_MECH_MAX) == 0 ||
		    strnlen(c->mech, STORE_MECH_MAX) == STORE_MECH_MAX ||
		    c->salt_len == 0 || c->salt_len > STORE_SALT_MAX ||
		    c->key_len == 0 || c->key_len > STORE_KEY_MAX ||
		    c->iterations == 0)
			return false;
		for (j = 0; j < i; j++)
			if (strcmp(creds[j].mech, c->mech) == 0)
				return false;
	}
	*need += ncreds * sizeof(*creds) + OP_ALIGN;
	return true;
}

static bool
item_ok(const struct store_roster_item *it, size_t *need)
{
	size_t	i;

	if (it == NULL || !str_ok(it->contact, STORE_JID_MAX, need) ||
	    (unsigned)it->sub > STORE_SUB_BOTH ||
	    (it->ngroups > 0 && it->groups == NULL))
		return false;
	if (it->name != NULL && !text_ok(it->name, need))
		return false;
	for (i = 0; i < it->ngroups; i++)
		if (!text_ok(it->groups[i], need))
			return false;
	*need += it->ngroups * sizeof(char *) + OP_ALIGN;
	return true;
}

/* Takes `n` bytes at *cur, aligned for any type (the size has the slack). */
static void *
put_aligned(unsigned char **cur, size_t n)
{
	uintptr_t	a = ((uintptr_t)*cur + OP_ALIGN - 1) & ~(uintptr_t)
			    (OP_ALIGN - 1);

	*cur = (unsigned char *)a + n;
	return (void *)a;
}

/* Copies `n` bytes plus a NUL at *cur, advances *cur, returns the copy. */
static char *
put_bytes(unsigned char **cur, const void *p, size_t n)
{
	char	*dst = (char *)*cur;

	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	*cur += n + 1;
	return dst;
}

static char *
put_str(unsigned char **cur, const char *s)
{
	return put_bytes(cur, s, strlen(s));
}

static const struct store_cred *
put_creds(unsigned char **cur, const struct store_cred *c, size_t n)
{
	return n > 0 ? memcpy(put_aligned(cur, n * sizeof(*c)), c,
	    n * sizeof(*c)) : NULL;
}

static void
put_item(unsigned char **cur, struct store_roster_item *dst,
    const struct store_roster_item *src)
{
	size_t	i;

	*dst = *src;
	dst->groups = src->ngroups > 0 ?
	    put_aligned(cur, src->ngroups * sizeof(char *)) : NULL;
	dst->contact = put_str(cur, src->contact);
	dst->name = src->name != NULL ? put_str(cur, src->name) : NULL;
	for (i = 0; i < src->ngroups; i++)
		dst->groups[i] = put_str(cur, src->groups[i]);
}

/* Each argument kind: checked and sized, then copied into the op. */
#define CHECK(kind, ...)		&& CHECK_##kind(__VA_ARGS__)
#define CHECK_KEY(n)			str_ok(n, STORE_JID_MAX, &need)
#define CHECK_NAME(n, max)		str_ok(n, max, &need)
#define CHECK_TEXT(n)			text_ok(n, &need)
#define CHECK_BYTES(T, n, len, min)	bytes_ok(n, len, min, &need)
#define CHECK_I64(n)			true
#define CHECK_CREDS(n, cnt)		creds_ok(n, cnt, &need)
#define CHECK_ITEM(n)			item_ok(n, &need)

#define COPY(kind, ...)			COPY_##kind(__VA_ARGS__)
#define COPY_KEY(n)			q->n = put_str(&cur, n);
#define COPY_NAME(n, max)		q->n = put_str(&cur, n);
#define COPY_TEXT(n)			q->n = put_str(&cur, n);
#define COPY_BYTES(T, n, len, min)	q->n = put_bytes(&cur, n, len); \
					q->len = len;
#define COPY_I64(n)			q->n = n;
#define COPY_CREDS(n, cnt)		q->n = put_creds(&cur, n, cnt);	\
					q->cnt = cnt;			\
					op->wipe = true;
#define COPY_ITEM(n)			put_item(&cur, &q->n, n);

/*
 * store_<name>(): refuses bad arguments (and a missing callback of a
 * read), copies the arguments after the op in one allocation, and queues
 * it.
 */
#define STORE_ENTRY(name, result, access)				\
int									\
store_##name(struct store *st STORE_ARGS_##name(STORE_P),		\
    store_##result##_cb cb, void *arg)					\
{									\
	struct store_req_##name	*q;					\
	struct store_op		*op;					\
	unsigned char		*cur;					\
	size_t			 need = 0;				\
									\
	if (!(st != NULL && (cb != NULL || STORE_IS_##access)		\
	    STORE_ARGS_##name(CHECK)))					\
		return L_ERR_INVAL;					\
	if ((op = calloc(1, sizeof(*op) + need)) == NULL)		\
		return L_ERR_NOMEM;					\
	op->kind = OP_##name;						\
	op->size = sizeof(*op) + need;					\
	op->cb.result = cb;						\
	op->arg = arg;							\
	q = &op->req.name;						\
	cur = op->data;							\
	STORE_ARGS_##name(COPY)						\
	(void)q;							\
	(void)cur;							\
	return store_op_submit(st, op);					\
}
STORE_OPS(STORE_ENTRY)

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

/*
 * The statement `id` with ?1 bound to k1 and, unless NULL, ?2 to k2; NULL
 * if it cannot be prepared.
 */
static sqlite3_stmt *
stmt_keys(struct store *st, enum store_stmt id, const char *k1,
    const char *k2)
{
	sqlite3_stmt	*s;

	if ((s = store_stmt(st, id)) == NULL)
		return NULL;
	sqlite3_bind_text(s, 1, k1, -1, SQLITE_STATIC);
	if (k2 != NULL)
		sqlite3_bind_text(s, 2, k2, -1, SQLITE_STATIC);
	return s;
}

/* Runs statement `id` on ?1 = k1 (and ?2 = k2), without rows. */
static int
exec_keys(struct store *st, enum store_stmt id, const char *k1,
    const char *k2)
{
	sqlite3_stmt	*s = stmt_keys(st, id, k1, k2);

	return s != NULL ? step_done(st, s) : L_ERR_IO;
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

	if ((s = stmt_keys(st, ST_USER_EXISTS, jid, NULL)) == NULL)
		return L_ERR_IO;
	src = sqlite3_step(s);
	sqlite3_reset(s);
	if (src == SQLITE_ROW)
		return L_OK;
	if (src == SQLITE_DONE)
		return L_ERR_NOTFOUND;
	return store_rc_from_sqlite(src);
}

static int
creds_insert(struct store *st, const char *jid, const struct store_cred *creds,
    size_t ncreds)
{
	sqlite3_stmt	*s;
	size_t		 i;
	int		 rc;

	for (i = 0; i < ncreds; i++) {
		const struct store_cred *c = &creds[i];

		if ((s = stmt_keys(st, ST_CRED_INSERT, jid, c->mech)) == NULL)
			return L_ERR_IO;
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
exec_user_create(struct store *st, const struct store_req_user_create *q,
    struct store_out *out)
{
	int	rc;

	if ((rc = exec_keys(st, ST_USER_INSERT, q->jid, NULL)) != L_OK)
		return rc;	/* L_ERR_EXISTS from the primary key */
	return creds_insert(st, q->jid, q->creds, q->ncreds);
}

static int
exec_user_set_creds(struct store *st, const struct store_req_user_set_creds *q,
    struct store_out *out)
{
	int	rc;

	if ((rc = user_check(st, q->jid)) != L_OK)
		return rc;
	if ((rc = exec_keys(st, ST_CRED_DELETE_ALL, q->jid, NULL)) != L_OK)
		return rc;
	return creds_insert(st, q->jid, q->creds, q->ncreds);
}

static int
exec_user_delete(struct store *st, const struct store_req_user_delete *q,
    struct store_out *out)
{
	static const enum store_stmt cascade[] = {
		ST_CRED_DELETE_ALL, ST_GROUP_DELETE_ALL, ST_ROSTER_DELETE_ALL,
		ST_RVER_DELETE, ST_OFFLINE_DELETE_ALL, ST_CLEAR_DELETE,
	};
	size_t	i;
	int	rc;

	if ((rc = user_check(st, q->jid)) != L_OK)
		return rc;
	for (i = 0; i < sizeof(cascade) / sizeof(cascade[0]); i++)
		if ((rc = exec_keys(st, cascade[i], q->jid, NULL)) != L_OK)
			return rc;
	return exec_keys(st, ST_USER_DELETE, q->jid, NULL);
}

static int
exec_user_list(struct store *st, const struct store_req_user_list *q,
    struct store_out *out)
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
	out->p = list;
	return L_OK;
err:
	sqlite3_reset(s);
	store_strlist_free(list);
	return rc;
}

static int
exec_user_get_creds(struct store *st, const struct store_req_user_get_creds *q,
    struct store_out *out)
{
	struct store_cred	*c;
	sqlite3_stmt		*s;
	size_t			 saltn, k1, k2;
	int			 src, rc;

	if ((s = stmt_keys(st, ST_CRED_GET, q->jid, q->mech)) == NULL)
		return L_ERR_IO;
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
	snprintf(c->mech, sizeof(c->mech), "%s", q->mech);
	memcpy(c->salt, sqlite3_column_blob(s, 0), saltn);
	c->salt_len = saltn;
	c->iterations = (uint32_t)sqlite3_column_int64(s, 1);
	memcpy(c->stored_key, sqlite3_column_blob(s, 2), k1);
	memcpy(c->server_key, sqlite3_column_blob(s, 3), k1);
	c->key_len = k1;
	out->p = c;
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

	if ((s = stmt_keys(st, ST_RVER_GET, owner, NULL)) == NULL)
		return L_ERR_IO;
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

	if ((s = stmt_keys(st, ST_RVER_BUMP, owner, NULL)) == NULL)
		return L_ERR_IO;
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
exec_roster_load(struct store *st, const struct store_req_roster_load *q,
    struct store_out *out)
{
	struct store_roster		*r;
	struct store_roster_item	*it, *ni;
	sqlite3_stmt			*s;
	const char			*contact;
	size_t				 cap = 0, i = 0;
	int				 src, rc = L_ERR_NOMEM;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return L_ERR_NOMEM;
	if ((rc = rver_get(st, q->owner, &r->version)) != L_OK)
		goto err;
	rc = L_ERR_IO;
	if ((s = stmt_keys(st, ST_ROSTER_ITEMS, q->owner, NULL)) == NULL)
		goto err;
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
	if ((s = stmt_keys(st, ST_ROSTER_GROUPS, q->owner, NULL)) == NULL)
		goto err;
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
	out->p = r;
	return L_OK;

err_reset:
	sqlite3_reset(s);
err:
	store_roster_free(r);
	return rc;
}

static int
exec_roster_put(struct store *st, const struct store_req_roster_put *q,
    struct store_out *out)
{
	const struct store_roster_item	*it = &q->item;
	sqlite3_stmt			*s;
	size_t				 i;
	int				 rc;

	if ((s = stmt_keys(st, ST_ROSTER_UPSERT, q->owner,
	    it->contact)) == NULL)
		return L_ERR_IO;
	if (it->name != NULL)
		sqlite3_bind_text(s, 3, it->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sub_names[it->sub], -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, it->ask);
	sqlite3_bind_int(s, 6, it->pending_in);
	if ((rc = step_done(st, s)) != L_OK ||
	    (rc = exec_keys(st, ST_GROUP_DELETE, q->owner, it->contact)) !=
	    L_OK)
		return rc;
	for (i = 0; i < it->ngroups; i++) {
		if ((s = stmt_keys(st, ST_GROUP_INSERT, q->owner,
		    it->contact)) == NULL)
			return L_ERR_IO;
		sqlite3_bind_text(s, 3, it->groups[i], -1, SQLITE_STATIC);
		if ((rc = step_done(st, s)) != L_OK)
			return rc;
	}
	return rver_bump(st, q->owner, &out->ver);
}

static int
exec_roster_delete(struct store *st, const struct store_req_roster_delete *q,
    struct store_out *out)
{
	int	rc;

	if ((rc = exec_keys(st, ST_GROUP_DELETE, q->owner, q->contact)) !=
	    L_OK ||
	    (rc = exec_keys(st, ST_ROSTER_DELETE, q->owner, q->contact)) !=
	    L_OK)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return L_ERR_NOTFOUND;
	return rver_bump(st, q->owner, &out->ver);
}

/* The number of messages stored for `jid`. */
static int
offline_count(struct store *st, const char *jid, int64_t *out)
{
	sqlite3_stmt	*s;
	int		 src;

	if ((s = stmt_keys(st, ST_OFFLINE_COUNT, jid, NULL)) == NULL)
		return L_ERR_IO;
	src = sqlite3_step(s);
	*out = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return src == SQLITE_ROW ? L_OK : store_rc_from_sqlite(src);
}

static int
exec_offline_push(struct store *st, const struct store_req_offline_push *q,
    struct store_out *out)
{
	sqlite3_stmt	*s;
	int64_t		 n;
	int		 rc;

	if ((rc = offline_count(st, q->to, &n)) != L_OK)
		return rc;
	if (n >= (int64_t)atomic_load(&st->offline_max))
		return L_ERR_LIMIT;
	if ((s = stmt_keys(st, ST_OFFLINE_INSERT, q->to, NULL)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_int64(s, 2, q->stamp_us);
	sqlite3_bind_text(s, 3, q->from, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s, 4, q->xml, q->len, SQLITE_STATIC);
	return step_done(st, s);
}

static int
exec_offline_count(struct store *st, const struct store_req_offline_count *q,
    struct store_out *out)
{
	int64_t	n;
	int	rc;

	if ((rc = offline_count(st, q->jid, &n)) == L_OK)
		out->n = (size_t)n;
	return rc;
}

static int
exec_offline_load(struct store *st, const struct store_req_offline_load *q,
    struct store_out *out)
{
	struct store_offline		*l;
	struct store_offline_msg	*m, *nm;
	sqlite3_stmt			*s;
	size_t				 cap = 0;
	int				 src, rc = L_ERR_NOMEM;

	if ((s = stmt_keys(st, ST_OFFLINE_LOAD, q->jid, NULL)) == NULL)
		return L_ERR_IO;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return L_ERR_NOMEM;
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
	out->p = l;
	return L_OK;
err:
	sqlite3_reset(s);
	store_offline_free(l);
	return rc;
}

static int
exec_offline_delete(struct store *st, const struct store_req_offline_delete *q,
    struct store_out *out)
{
	sqlite3_stmt	*s;

	if ((s = stmt_keys(st, ST_OFFLINE_DELETE, q->jid, NULL)) == NULL)
		return L_ERR_IO;
	sqlite3_bind_int64(s, 2, q->up_to_id);
	return step_done(st, s);
}

/* Binds ?1 key and ?2 value (as text if `text`), runs, no rows. */
static int
put_value(struct store *st, enum store_stmt id, const char *key,
    const void *value, size_t len, bool text)
{
	sqlite3_stmt	*s;

	if ((s = stmt_keys(st, id, key, NULL)) == NULL)
		return L_ERR_IO;
	if (text)
		sqlite3_bind_text64(s, 2, value, len, SQLITE_STATIC,
		    SQLITE_UTF8);
	else
		sqlite3_bind_blob64(s, 2, value, len, SQLITE_STATIC);
	return step_done(st, s);
}

/* Reads column 0 of statement `id` for key ?1 into out->p and out->n. */
static int
get_value(struct store *st, enum store_stmt id, const char *key,
    struct store_out *out)
{
	sqlite3_stmt	*s;
	int		 src, rc;

	if ((s = stmt_keys(st, id, key, NULL)) == NULL)
		return L_ERR_IO;
	src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		rc = L_ERR_NOTFOUND;
	else if (src != SQLITE_ROW)
		rc = store_rc_from_sqlite(src);
	else if ((out->p = col_dup(s, 0, &out->n)) == NULL)
		rc = L_ERR_NOMEM;
	else
		rc = L_OK;
	sqlite3_reset(s);
	return rc;
}

/* Deletes by key; L_ERR_NOTFOUND if no row went. */
static int
delete_key(struct store *st, enum store_stmt id, const char *key)
{
	int	rc;

	if ((rc = exec_keys(st, id, key, NULL)) != L_OK)
		return rc;
	return sqlite3_changes(st->db) > 0 ? L_OK : L_ERR_NOTFOUND;
}

static int
exec_clearance_set(struct store *st, const struct store_req_clearance_set *q,
    struct store_out *out)
{
	return put_value(st, ST_CLEAR_SET, q->jid, q->xml, strlen(q->xml),
	    true);
}

static int
exec_clearance_get(struct store *st, const struct store_req_clearance_get *q,
    struct store_out *out)
{
	return get_value(st, ST_CLEAR_GET, q->jid, out);
}

static int
exec_clearance_delete(struct store *st,
    const struct store_req_clearance_delete *q, struct store_out *out)
{
	return delete_key(st, ST_CLEAR_DELETE, q->jid);
}

static int
exec_kv_put(struct store *st, const struct store_req_kv_put *q,
    struct store_out *out)
{
	return put_value(st, ST_KV_PUT, q->key, q->value, q->len, false);
}

static int
exec_kv_get(struct store *st, const struct store_req_kv_get *q,
    struct store_out *out)
{
	return get_value(st, ST_KV_GET, q->key, out);
}

static int
exec_kv_delete(struct store *st, const struct store_req_kv_delete *q,
    struct store_out *out)
{
	return delete_key(st, ST_KV_DELETE, q->key);
}

static int
exec_user_exists(struct store *st, const struct store_req_user_exists *q,
    struct store_out *out)
{
	return user_check(st, q->jid);
}

/*
 * Runs `op` on the connection (inside the caller's transaction); returns
 * its status, and on success may leave a result in op->out.  Cached
 * statements are left reset or resettable; results of failed reads are
 * freed by the executor.
 */
int
store_op_exec(struct store *st, struct store_op *op)
{
	switch (op->kind) {
#define STORE_EXEC(name, result, access)				\
	case OP_##name:							\
		return exec_##name(st, &op->req.name, &op->out);
	STORE_OPS(STORE_EXEC)
#undef STORE_EXEC
	case OP__COUNT:
		break;
	}
	return L_ERR_INTERNAL;
}

/* ---- Completion (loop thread) -------------------------------------- */

/*
 * One function per result kind: calls the callback with the result, which
 * it hands over, and which is NULL (freed here) whenever rc != 0.
 */
static void
complete_done(struct store_op *op)
{
	if (op->cb.done != NULL)
		op->cb.done(op->arg, op->rc);
}

static void
complete_ver(struct store_op *op)
{
	if (op->cb.ver != NULL)
		op->cb.ver(op->arg, op->rc, op->rc == L_OK ? op->out.ver : 0);
}

static void
complete_count(struct store_op *op)
{
	op->cb.count(op->arg, op->rc, op->rc == L_OK ? op->out.n : 0);
}

static void
complete_blob(struct store_op *op)
{
	char	*p = op->rc == L_OK ? op->out.p : NULL;

	if (p == NULL)
		free(op->out.p);
	op->out.p = NULL;
	op->cb.blob(op->arg, op->rc, p, p != NULL ? op->out.n : 0);
}

#define COMPLETE_PTR(result, type, free_fn)				\
static void								\
complete_##result(struct store_op *op)					\
{									\
	type	*p = op->rc == L_OK ? op->out.p : NULL;			\
									\
	if (p == NULL)							\
		free_fn(op->out.p);					\
	op->out.p = NULL;						\
	op->cb.result(op->arg, op->rc, p);				\
}
COMPLETE_PTR(strlist, struct store_strlist, store_strlist_free)
COMPLETE_PTR(cred, struct store_cred, store_cred_free)
COMPLETE_PTR(roster, struct store_roster, store_roster_free)
COMPLETE_PTR(offline, struct store_offline, store_offline_free)
COMPLETE_PTR(text, char, free)

static const struct {
	const char	*name;
	bool		 write;
	void		(*complete)(struct store_op *);
} op_desc[OP__COUNT] = {
#define STORE_DESC(name, result, access)				\
	[OP_##name] = { #name, STORE_IS_##access, complete_##result },
	STORE_OPS(STORE_DESC)
#undef STORE_DESC
};

int
store_op_is_write(enum store_op_kind kind)
{
	return op_desc[kind].write;
}

const char *
store_op_name(enum store_op_kind kind)
{
	return (unsigned)kind < OP__COUNT ? op_desc[kind].name : "?";
}

/* Calls the op's callback (loop thread).  Logs failed writes, without
 * content. */
void
store_op_complete(struct store_op *op)
{
	if (op->rc != L_OK && store_op_is_write(op->kind) &&
	    op->rc != L_ERR_EXISTS && op->rc != L_ERR_NOTFOUND &&
	    op->rc != L_ERR_LIMIT)
		log_warnx("store: %s failed: %s", store_op_name(op->kind),
		    l_strerror(op->rc));
	op_desc[op->kind].complete(op);
}

/*
 * Frees an op, after its completion (which took any result); ops holding
 * credentials are wiped first (key material).
 */
void
store_op_free(struct store_op *op)
{
	if (op == NULL)
		return;
	if (op->wipe)
		explicit_bzero(op, op->size);
	free(op);
}
