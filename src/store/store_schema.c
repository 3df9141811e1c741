/*
 * The store's schema and its migrations.  PRAGMA user_version holds the
 * schema version; migrations[i] brings version i to i + 1.  They run in
 * one IMMEDIATE transaction, so two processes opening a fresh file at once
 * cannot both create it.  Never edit a shipped migration: append one.
 */
#include <stdio.h>

#include "base/errors.h"
#include "store/store_int.h"

static const char *const migrations[] = {
	/* 0 -> 1: users, credentials, rosters, offline, clearances, kv. */
	"CREATE TABLE users ("
	"  jid TEXT PRIMARY KEY NOT NULL"
	");"
	"CREATE TABLE creds ("
	"  jid TEXT NOT NULL REFERENCES users(jid) ON DELETE CASCADE,"
	"  mech TEXT NOT NULL,"
	"  salt BLOB NOT NULL,"
	"  iterations INTEGER NOT NULL,"
	"  stored_key BLOB NOT NULL,"
	"  server_key BLOB NOT NULL,"
	"  PRIMARY KEY (jid, mech)"
	");"
	"CREATE TABLE roster ("
	"  owner TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  name TEXT,"
	"  subscription TEXT NOT NULL"
	"    CHECK (subscription IN ('none', 'to', 'from', 'both')),"
	"  ask INTEGER NOT NULL DEFAULT 0,"
	"  pending_in INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (owner, contact)"
	");"
	"CREATE TABLE roster_groups ("
	"  owner TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  grp TEXT NOT NULL,"
	"  PRIMARY KEY (owner, contact, grp),"
	"  FOREIGN KEY (owner, contact) REFERENCES roster(owner, contact)"
	"    ON DELETE CASCADE"
	");"
	"CREATE TABLE roster_version ("
	"  owner TEXT PRIMARY KEY NOT NULL,"
	"  version INTEGER NOT NULL"
	");"
	"CREATE TABLE offline ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  jid TEXT NOT NULL,"
	"  stamp_us INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  xml BLOB NOT NULL"
	");"
	"CREATE INDEX offline_by_jid ON offline (jid, id);"
	"CREATE TABLE clearances ("
	"  jid TEXT PRIMARY KEY NOT NULL,"
	"  xml TEXT NOT NULL"
	");"
	"CREATE TABLE kv ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value BLOB NOT NULL"
	");",
};

#define SCHEMA_VERSION	((int)(sizeof(migrations) / sizeof(migrations[0])))

static int
schema_version(sqlite3 *db, int *out)
{
	sqlite3_stmt	*s = NULL;
	int		 rc = L_ERR_IO;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = L_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Brings the schema of `db` to SCHEMA_VERSION.  Returns 0, or L_ERR_IO with
 * the reason in `err` (a file from a newer Liaison is refused, not
 * touched).
 */
int
store_schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
	char	 sql[64];
	char	*msg = NULL;
	int	 v, rc = L_ERR_IO;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "schema: begin: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return L_ERR_IO;
	}
	if (schema_version(db, &v) != L_OK) {
		snprintf(err, errlen, "schema: version: %s",
		    sqlite3_errmsg(db));
		goto rollback;
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %d is newer than %d",
		    v, SCHEMA_VERSION);
		goto rollback;
	}
	for (; v < SCHEMA_VERSION; v++) {
		if (sqlite3_exec(db, migrations[v], NULL, NULL, &msg) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "schema: migration %d: %s", v,
			    msg ? msg : "?");
			sqlite3_free(msg);
			goto rollback;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "schema: commit: %s",
		    sqlite3_errmsg(db));
		goto rollback;
	}
	return L_OK;

rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
