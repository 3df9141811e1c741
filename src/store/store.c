/*
 * The store's engine: opening the SQLite file, the operation queue, the
 * storage thread with its group commit (take everything queued, BEGIN, run
 * all, COMMIT, post all completions), the eventfd that wakes the loop, and
 * store_dispatch().  In STORE_SYNC mode each operation is its own batch
 * and completes inline.  The operations themselves are in store_ops.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/log.h"
#include "store/store_int.h"

#define STORE_BUSY_TIMEOUT_MS	10000
/*
 * Most operations in one transaction: bounds how long one batch holds the
 * write lock (liaisonctl waits behind it) and the latency of the first
 * completion when a large backlog builds up.
 */
#define STORE_BATCH_MAX		1024

static void	*store_thread_main(void *);

/* Maps an SQLite result code to ours. */
int
store_rc_from_sqlite(int src)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return L_OK;
	case SQLITE_NOMEM:
		return L_ERR_NOMEM;
	case SQLITE_CONSTRAINT:
		return L_ERR_EXISTS;
	case SQLITE_TOOBIG:
		return L_ERR_LIMIT;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return L_ERR_INTERNAL;
	default:
		return L_ERR_IO;
	}
}

/*
 * Returns the cached prepared statement `id`, reset and with its bindings
 * cleared, preparing it on first use; NULL (logged) if it cannot be
 * prepared.  Only the thread that owns the connection may call it.
 */
sqlite3_stmt *
store_stmt(struct store *st, enum store_stmt id)
{
	sqlite3_stmt	*s = st->stmts[id];

	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (sqlite3_prepare_v3(st->db, store_stmt_sql(id), -1,
	    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		log_warnx("store: prepare statement %d: %s", (int)id,
		    sqlite3_errmsg(st->db));
		return NULL;
	}
	st->stmts[id] = s;
	return s;
}

/* Runs a statement without results; 0 or a mapped error (logged). */
static int
store_exec_sql(struct store *st, const char *sql)
{
	char	*msg = NULL;
	int	 src;

	src = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
	if (src != SQLITE_OK) {
		log_warnx("store: %s: %s", sql, msg ? msg : sqlite3_errstr(src));
		sqlite3_free(msg);
		return store_rc_from_sqlite(src) == L_OK ? L_ERR_IO :
		    store_rc_from_sqlite(src);
	}
	return L_OK;
}

static void
store_stat_max(struct store *st, uint64_t n)
{
	uint64_t	cur = atomic_load(&st->n_max_batch);

	while (n > cur &&
	    !atomic_compare_exchange_weak(&st->n_max_batch, &cur, n))
		;
}

/*
 * Runs the list of operations `batch` in one transaction.  Each operation
 * runs inside a savepoint, so a failing one is undone alone.  If BEGIN or
 * COMMIT fails, every write of the batch gets L_ERR_IO (reads that ran
 * keep their results: they saw a consistent snapshot).  Sets op->rc of
 * every operation; never fails itself.
 */
static void
store_run_batch(struct store *st, struct store_op *batch)
{
	struct store_op	*op;
	uint64_t	 n = 0;
	int		 rc;

	rc = store_exec_sql(st, "BEGIN IMMEDIATE");
	if (rc != L_OK) {
		for (op = batch; op != NULL; op = op->next) {
			op->rc = L_ERR_IO;
			n++;
		}
		atomic_fetch_add(&st->n_failed_commits, 1);
		goto done;
	}
	for (op = batch; op != NULL; op = op->next) {
		n++;
		if (!store_op_is_write(op->kind)) {
			op->rc = store_op_exec(st, op);
			continue;
		}
		if (store_exec_sql(st, "SAVEPOINT op") != L_OK) {
			op->rc = L_ERR_IO;
			continue;
		}
		op->rc = store_op_exec(st, op);
		if (op->rc != L_OK)
			(void)store_exec_sql(st, "ROLLBACK TO op");
		(void)store_exec_sql(st, "RELEASE op");
	}
	if (store_exec_sql(st, "COMMIT") != L_OK) {
		(void)store_exec_sql(st, "ROLLBACK");
		atomic_fetch_add(&st->n_failed_commits, 1);
		/* Each failed write is logged once, when it completes. */
		for (op = batch; op != NULL; op = op->next)
			if (store_op_is_write(op->kind) && op->rc == L_OK)
				op->rc = L_ERR_IO;
	}
done:
	atomic_fetch_add(&st->n_transactions, 1);
	atomic_fetch_add(&st->n_ops, n);
	store_stat_max(st, n);
}

/*
 * Takes ownership of `op`.  Async: appends it to the queue and wakes the
 * storage thread.  Sync: runs it as its own transaction and completes it
 * (callback, then free) before returning.  Returns 0, or L_ERR_CLOSED (op
 * freed, callback not called).
 */
int
store_op_submit(struct store *st, struct store_op *op)
{
	op->next = NULL;
	if (st->flags & STORE_SYNC) {
		store_run_batch(st, op);
		store_op_complete(op);
		store_op_free(op);
		return L_OK;
	}
	pthread_mutex_lock(&st->mu);
	if (st->closing) {
		pthread_mutex_unlock(&st->mu);
		store_op_free(op);
		return L_ERR_CLOSED;
	}
	if (st->q_tail != NULL)
		st->q_tail->next = op;
	else
		st->q_head = op;
	st->q_tail = op;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return L_OK;
}

/*
 * The storage thread: waits for operations, takes up to STORE_BATCH_MAX
 * of them, runs them as one batch, posts the batch to the done list and
 * bumps the eventfd.  Exits once closing is set
 * and the queue is empty, so store_close() drains every queued write.
 */
static void *
store_thread_main(void *vst)
{
	struct store	*st = vst;
	struct store_op	*batch, *last;
	uint64_t	 one = 1;
	size_t		 n;

	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (st->q_head == NULL && !st->closing)
			pthread_cond_wait(&st->cv, &st->mu);
		batch = last = st->q_head;
		for (n = 1; batch != NULL && n < STORE_BATCH_MAX &&
		    last->next != NULL; n++)
			last = last->next;
		if (batch != NULL) {
			st->q_head = last->next;
			if (st->q_head == NULL)
				st->q_tail = NULL;
			last->next = NULL;
		}
		pthread_mutex_unlock(&st->mu);
		if (batch == NULL)
			break;		/* closing and drained */

		store_run_batch(st, batch);

		pthread_mutex_lock(&st->mu);
		if (st->d_tail != NULL)
			st->d_tail->next = batch;
		else
			st->d_head = batch;
		st->d_tail = last;
		pthread_mutex_unlock(&st->mu);
		/*
		 * Written after the append, so a reader that sees the counter
		 * also sees the batch.  EAGAIN only if the counter is huge,
		 * which still leaves the fd readable.
		 */
		while (write(st->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int
store_notify_fd(struct store *st)
{
	return st->efd;
}

/* Takes the done list under the lock and completes each in order. */
void
store_dispatch(struct store *st)
{
	struct store_op	*op, *next;
	uint64_t	 cnt;

	if (st->flags & STORE_SYNC)
		return;
	while (read(st->efd, &cnt, sizeof(cnt)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&st->mu);
	op = st->d_head;
	st->d_head = st->d_tail = NULL;
	pthread_mutex_unlock(&st->mu);
	for (; op != NULL; op = next) {
		next = op->next;
		store_op_complete(op);
		store_op_free(op);
	}
}

void
store_set_offline_max(struct store *st, unsigned max)
{
	atomic_store(&st->offline_max,
	    max == 0 ? STORE_OFFLINE_MAX_DEFAULT : max);
}

void
store_get_stats(struct store *st, struct store_stats *out)
{
	out->transactions = atomic_load(&st->n_transactions);
	out->ops = atomic_load(&st->n_ops);
	out->failed_commits = atomic_load(&st->n_failed_commits);
	out->max_batch = atomic_load(&st->n_max_batch);
}

/*
 * Sets the connection pragmas: WAL (readers never block the writer),
 * synchronous=FULL (a COMMIT that returned is on disk, which is what lets
 * offline_push acknowledge), foreign keys for the cascades, and a busy
 * timeout so liaisonctl and the server can share the file.
 */
static int
store_configure(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	const char	*mode;
	int		 rc = L_ERR_IO;

	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "journal_mode: %s",
		    sqlite3_errmsg(st->db));
		goto out;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "cannot enable WAL (mode %s)",
		    mode ? mode : "?");
		goto out;
	}
	if (store_exec_sql(st, "PRAGMA synchronous=FULL") != L_OK ||
	    store_exec_sql(st, "PRAGMA foreign_keys=ON") != L_OK) {
		snprintf(err, errlen, "pragmas: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	rc = L_OK;
out:
	sqlite3_finalize(s);
	return rc;
}

struct store *
store_open(const char *path, unsigned flags, char *err, size_t errlen)
{
	struct store	*st;
	int		 src;

	if (errlen > 0)
		err[0] = '\0';
	if (path == NULL || (flags & ~(unsigned)STORE_SYNC) != 0) {
		snprintf(err, errlen, "invalid arguments");
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->flags = flags;
	st->efd = -1;
	atomic_init(&st->offline_max, STORE_OFFLINE_MAX_DEFAULT);

	src = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
		goto err_db;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (store_configure(st, err, errlen) != L_OK)
		goto err_db;
	if (store_schema_migrate(st->db, err, errlen) != L_OK)
		goto err_db;
	if (flags & STORE_SYNC)
		return st;

	if ((st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto err_db;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		snprintf(err, errlen, "mutex init failed");
		goto err_efd;
	}
	if (pthread_cond_init(&st->cv, NULL) != 0) {
		snprintf(err, errlen, "condition init failed");
		goto err_mu;
	}
	if ((src = pthread_create(&st->thread, NULL, store_thread_main,
	    st)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(src));
		goto err_cv;
	}
	st->thread_started = 1;
	return st;

err_cv:
	pthread_cond_destroy(&st->cv);
err_mu:
	pthread_mutex_destroy(&st->mu);
err_efd:
	close(st->efd);
err_db:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	size_t	i;

	if (st == NULL)
		return;
	if (st->thread_started) {
		pthread_mutex_lock(&st->mu);
		st->closing = 1;
		pthread_cond_signal(&st->cv);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->thread, NULL);
		/* Callbacks may try to queue more: closing rejects them. */
		store_dispatch(st);
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		close(st->efd);
	}
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
	free(st);
}
