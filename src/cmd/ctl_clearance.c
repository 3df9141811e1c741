/*
 * liaisonctl clearance set|show|del: a user's STANAG 4774 clearance in
 * the store.  `set` checks the file (and, with --spif, resolves it
 * against those policies) before storing it, then tells a running server
 * through DATA/control.sock so live sessions get it at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/errors.h"
#include "cmd/ctl.h"
#include "label/acdf.h"
#include "label/label.h"
#include "label/spif.h"
#include "store/store.h"
#include "xml/xml.h"

/* Tells a running liaisond; silent when none runs. Returns 1 if told. */
static int
notify_server(const struct ctl_opts *o, const char *jid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[3200], reply[64];
	ssize_t n;
	int fd;

	if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/control.sock",
	    o->data_dir) >= (int)sizeof sa.sun_path)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return 0;
	}
	snprintf(line, sizeof line, "clearance %s\n", jid);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(fd);
		return 0;
	}
	n = read(fd, reply, sizeof reply - 1);
	close(fd);
	return n > 0 && strncmp(reply, "ok", 2) == 0;
}

static int
read_file(const char *path, char **out)
{
	FILE *fp = fopen(path, "rb");
	long n;
	char *p;

	if (fp == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    n > 1 << 20 || fseek(fp, 0, SEEK_SET) != 0 ||
	    (p = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return -1;
	}
	if (fread(p, 1, (size_t)n, fp) != (size_t)n) {
		free(p);
		fclose(fp);
		return -1;
	}
	p[n] = '\0';
	fclose(fp);
	*out = p;
	return 0;
}

/* Parses (and with spifs, resolves) the clearance; 0 or prints why. */
static int
check_clearance(const char *file, const char *text, char **spifs,
    size_t nspif)
{
	struct xml_node *root = NULL;
	struct clearance *c = NULL;
	struct spif_set set;
	struct clearance_res res;
	char err[256];
	int rc = -1;

	spif_set_init(&set);
	if (xml_parse_doc(text, strlen(text), NULL, &root, err, sizeof err) !=
	    L_OK) {
		fprintf(stderr, "%s: %s\n", file, err);
		goto out;
	}
	if (clearance_parse(root, &c, err, sizeof err) != L_OK) {
		fprintf(stderr, "%s: %s\n", file, err);
		goto out;
	}
	for (size_t i = 0; i < nspif; i++) {
		struct spif *s = NULL;

		if (spif_load_file(spifs[i], &s, err, sizeof err) != L_OK) {
			fprintf(stderr, "%s: %s\n", spifs[i], err);
			goto out;
		}
		if (spif_set_add(&set, s) != L_OK) {
			spif_free(s);
			fprintf(stderr, "%s: policy loaded twice\n", spifs[i]);
			goto out;
		}
	}
	if (nspif > 0) {
		if (clearance_resolve(&set, c, &res, err, sizeof err) !=
		    L_OK) {
			fprintf(stderr, "%s: %s\n", file, err);
			goto out;
		}
		clearance_res_cleanup(&res);
	}
	rc = 0;
out:
	clearance_free(c);
	xml_node_free(root);
	spif_set_cleanup(&set);
	return rc;
}

int
ctl_clearance_main(const struct ctl_opts *o, int argc, char **argv)
{
	char jid[3100], *text = NULL, *spifs[8];
	size_t nspif = 0;
	struct store *st;
	int rc;

	if (argc < 2)
		goto usage;
	if (ctl_bare_jid(argv[1], jid, sizeof jid) != 0)
		return 2;
	if (strcmp(argv[0], "set") == 0) {
		if (argc < 3)
			goto usage;
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--spif") == 0 && i + 1 < argc &&
			    nspif < 8)
				spifs[nspif++] = argv[++i];
			else
				goto usage;
		}
		if (read_file(argv[2], &text) != 0) {
			fprintf(stderr, "%s: cannot read: %s\n", argv[2],
			    strerror(errno));
			return 2;
		}
		if (check_clearance(argv[2], text, spifs, nspif) != 0) {
			free(text);
			return 2;
		}
		if ((st = ctl_open_store(o)) == NULL) {
			free(text);
			return 1;
		}
		rc = store_sync_user_exists(st, jid);
		if (rc == L_OK)
			rc = store_sync_clearance_set(st, jid, text);
		store_close(st);
		free(text);
		if (ctl_store_status(rc, "no such user %s", jid) != 0)
			return 1;
		printf("clearance of %s set%s\n", jid, notify_server(o, jid) ?
		    "; the running server applied it" : "");
		return 0;
	}
	if (strcmp(argv[0], "show") == 0 && argc == 2) {
		if ((st = ctl_open_store(o)) == NULL)
			return 1;
		rc = store_sync_clearance_get(st, jid, &text);
		store_close(st);
		if (ctl_store_status(rc, "%s has no clearance (the default "
		    "clearance applies)", jid) != 0)
			return 1;
		fputs(text, stdout);
		if (text[0] && text[strlen(text) - 1] != '\n')
			putchar('\n');
		free(text);
		return 0;
	}
	if (strcmp(argv[0], "del") == 0 && argc == 2) {
		if ((st = ctl_open_store(o)) == NULL)
			return 1;
		rc = store_sync_clearance_delete(st, jid);
		store_close(st);
		if (ctl_store_status(rc, "%s has no clearance", jid) != 0)
			return 1;
		printf("clearance of %s deleted%s\n", jid,
		    notify_server(o, jid) ? "; the running server applied it" :
		    "");
		return 0;
	}
usage:
	fprintf(stderr, "usage: liaisonctl [--data DIR] clearance set JID FILE "
	    "[--spif SPIF]...\n"
	    "       liaisonctl [--data DIR] clearance show JID\n"
	    "       liaisonctl [--data DIR] clearance del JID\n");
	return 2;
}
