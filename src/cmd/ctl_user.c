/*
 * liaisonctl user add|del|passwd|list: accounts in the store.  Opens the
 * store synchronously (SQLite WAL with a busy timeout), so it works while
 * liaisond runs; passwords become SCRAM credentials and are wiped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/errors.h"
#include "cmd/ctl.h"
#include "store/store.h"
#include "xmpp/jid.h"
#include "xmpp/scram.h"
#include "xmpp/server.h"

struct store *
ctl_open_store(const struct ctl_opts *o)
{
	char path[4096], err[256];
	struct store *st;

	if (mkdir(o->data_dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "liaisonctl: cannot create %s: %s\n",
		    o->data_dir, strerror(errno));
		return NULL;
	}
	snprintf(path, sizeof path, "%s/liaison.db", o->data_dir);
	st = store_open(path, STORE_SYNC, err, sizeof err);
	if (st == NULL)
		fprintf(stderr, "liaisonctl: %s\n", err);
	return st;
}

int
ctl_store_status(int rc, const char *notfound, ...)
{
	va_list ap;

	if (rc == L_OK)
		return 0;
	fputs("liaisonctl: ", stderr);
	if (rc == L_ERR_NOTFOUND) {
		va_start(ap, notfound);
		vfprintf(stderr, notfound, ap);
		va_end(ap);
	} else {
		fputs(l_strerror(rc), stderr);
	}
	fputc('\n', stderr);
	return 1;
}

/* Prepares a bare JID; returns 0 and writes it to out. */
int
ctl_bare_jid(const char *in, char *out, size_t outlen)
{
	struct jid j;

	if (jid_parse(in, &j) != L_OK || j.node == NULL ||
	    j.resource != NULL) {
		if (j.domain)
			jid_cleanup(&j);
		fprintf(stderr, "liaisonctl: '%s' is not a bare JID "
		    "(user@domain)\n", in);
		return -1;
	}
	jid_format(&j, false, out, outlen);
	jid_cleanup(&j);
	return 0;
}

static char *
read_password_stdin(void)
{
	char line[1100];
	size_t n;

	if (fgets(line, sizeof line, stdin) == NULL)
		return NULL;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	{
		char *p = l_strdup(line);

		l_wipe(line, sizeof line);
		return p;
	}
}

static int
user_set(struct store *st, const char *jid, const char *password, bool add)
{
	struct store_cred creds[2];
	int rc;

	if (password == NULL || password[0] == '\0') {
		fprintf(stderr, "liaisonctl: empty password\n");
		return 2;
	}
	if (server_make_creds(password, creds) != L_OK) {
		fprintf(stderr, "liaisonctl: password not acceptable "
		    "(SASLprep)\n");
		return 2;
	}
	rc = add ? store_sync_user_create(st, jid, creds, 2) :
	    store_sync_user_set_creds(st, jid, creds, 2);
	l_wipe(creds, sizeof creds);
	if (rc == L_ERR_EXISTS) {
		fprintf(stderr, "liaisonctl: %s already exists\n", jid);
		return 1;
	}
	if (ctl_store_status(rc, "no such user %s", jid) != 0)
		return 1;
	printf("%s %s\n", add ? "added" : "password changed for", jid);
	return 0;
}

int
ctl_user_main(const struct ctl_opts *o, int argc, char **argv)
{
	char jid[3100];
	struct store *st;
	char *pw = NULL;
	int rc = 2;

	if (argc < 1)
		goto usage;
	if (strcmp(argv[0], "list") == 0) {
		struct store_strlist *l = NULL;

		if (argc != 1)
			goto usage;
		if ((st = ctl_open_store(o)) == NULL)
			return 1;
		rc = store_sync_user_list(st, &l) == L_OK ? 0 : 1;
		for (size_t i = 0; l && i < l->n; i++)
			printf("%s\n", l->v[i]);
		store_strlist_free(l);
		store_close(st);
		return rc;
	}
	if (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "passwd") == 0) {
		bool add = argv[0][0] == 'a';

		if (argc != 3)
			goto usage;
		if (strcmp(argv[2], "--password-stdin") == 0)
			pw = read_password_stdin();
		else
			pw = l_strdup(argv[2]);
		if (ctl_bare_jid(argv[1], jid, sizeof jid) != 0) {
			rc = 2;
			goto out;
		}
		if ((st = ctl_open_store(o)) == NULL) {
			rc = 1;
			goto out;
		}
		rc = user_set(st, jid, pw, add);
		store_close(st);
		goto out;
	}
	if (strcmp(argv[0], "del") == 0) {
		if (argc != 2)
			goto usage;
		if (ctl_bare_jid(argv[1], jid, sizeof jid) != 0)
			return 2;
		if ((st = ctl_open_store(o)) == NULL)
			return 1;
		rc = store_sync_user_delete(st, jid);
		store_close(st);
		if (ctl_store_status(rc, "no such user %s", jid) != 0)
			return 1;
		printf("deleted %s\n", jid);
		return 0;
	}
usage:
	fprintf(stderr, "usage: liaisonctl [--data DIR] user add JID "
	    "(PASSWORD | --password-stdin)\n"
	    "       liaisonctl [--data DIR] user passwd JID (PASSWORD | "
	    "--password-stdin)\n"
	    "       liaisonctl [--data DIR] user del JID\n"
	    "       liaisonctl [--data DIR] user list\n");
	return 2;
out:
	if (pw != NULL) {
		l_wipe(pw, strlen(pw));
		free(pw);
	}
	return rc;
}
