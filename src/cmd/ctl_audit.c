/*
 * liaisonctl audit: verify and show the audit log in DATA/audit (or
 * --dir).  verify prints "OK: N records, M checkpoints" and exits 0, or
 * "TAMPERED: what (line L, sequence S)" and exits 1; 2 is usage or an
 * unreadable log or key.  Scripts and the integration tests rely on this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "cmd/ctl.h"
#include "policy/audit.h"

static void
audit_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: liaisonctl audit verify [--dir DIR] [--fingerprint HEX]\n"
	    "       liaisonctl audit show [--dir DIR] [--decision GRANT|DENY]"
	    " [--point NAME]\n"
	    "                             [--jid TEXT] [--limit N]\n"
	    "DIR defaults to DATA/audit.  --fingerprint pins the public key"
	    " (hex SHA-256\nof the raw key, as verify prints it).\n");
}

/* Parses a positive decimal count; -1 if it is not one. */
static long long
parse_count(const char *s)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < 0)
		return -1;
	return v;
}

static int
audit_cmd_verify(const char *dir, const char *fp)
{
	struct audit_verify_result	r;
	int				rc;

	rc = audit_verify_pinned(dir, fp, NULL, &r);
	if (rc < 0) {
		fprintf(stderr, "liaisonctl audit verify: %s\n",
		    l_strerror(rc));
		return 2;
	}
	if (rc == 0) {
		printf("OK: %llu records, %llu checkpoints\n",
		    (unsigned long long)r.records,
		    (unsigned long long)r.checkpoints);
		if (r.unsigned_tail > 0)
			printf("note: %llu records after the last checkpoint "
			    "are not signed yet\n",
			    (unsigned long long)r.unsigned_tail);
		printf("key: sha256 %s\n", r.key_fp);
		return 0;
	}
	if (r.problem == AUDIT_P_UNREADABLE) {
		fprintf(stderr, "liaisonctl audit verify: %s\n", r.what);
		return 2;
	}
	printf("TAMPERED: %s (line %llu, sequence %llu)\n", r.what,
	    (unsigned long long)r.line, (unsigned long long)r.seq);
	return 1;
}

int
ctl_audit_main(const struct ctl_opts *o, int argc, char **argv)
{
	struct audit_show_filter	 flt;
	const char			*dir_opt = NULL, *fp = NULL;
	char				*dir = NULL;
	bool				 show;
	int				 i, rc = 2, n;

	if (argc < 1) {
		audit_usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
		audit_usage(stdout);
		return 0;
	}
	if (strcmp(argv[0], "verify") == 0)
		show = false;
	else if (strcmp(argv[0], "show") == 0)
		show = true;
	else {
		audit_usage(stderr);
		return 2;
	}
	audit_show_filter_init(&flt);
	for (i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] :
		    NULL;

		if (val == NULL)
			goto usage;
		if (strcmp(opt, "--dir") == 0)
			dir_opt = val;
		else if (!show && strcmp(opt, "--fingerprint") == 0)
			fp = val;
		else if (show && strcmp(opt, "--decision") == 0) {
			if (strcasecmp(val, "DENY") == 0)
				flt.decision = AUDIT_DENY;
			else if (strcasecmp(val, "GRANT") == 0)
				flt.decision = AUDIT_GRANT;
			else
				goto usage;
		} else if (show && strcmp(opt, "--point") == 0) {
			if ((flt.point = audit_point_parse(val)) < 0)
				goto usage;
		} else if (show && strcmp(opt, "--jid") == 0)
			flt.jid = val;
		else if (show && strcmp(opt, "--limit") == 0) {
			long long v = parse_count(val);
			if (v < 0)
				goto usage;
			flt.limit = (uint64_t)v;
		} else
			goto usage;
	}
	if (dir_opt == NULL) {
		const char *data = o->data_dir ? o->data_dir : "./liaison-data";
		size_t len = strlen(data) + sizeof("/audit");

		if ((dir = malloc(len)) == NULL) {
			fprintf(stderr, "liaisonctl audit: out of memory\n");
			return 2;
		}
		snprintf(dir, len, "%s/audit", data);
		dir_opt = dir;
	}
	if (!show) {
		rc = audit_cmd_verify(dir_opt, fp);
		goto out;
	}
	n = audit_show(dir_opt, stdout, &flt);
	if (n < 0) {
		fprintf(stderr, "liaisonctl audit show: %s/audit.log: %s\n",
		    dir_opt, l_strerror(n));
		rc = 2;
		goto out;
	}
	rc = 0;
	goto out;
usage:
	audit_usage(stderr);
	rc = 2;
out:
	free(dir);
	return rc;
}
