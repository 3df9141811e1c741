/*
 * The printer of `liaisonctl audit show`: reads audit.log (without
 * verifying it: that is audit_verify's job) and prints the records that
 * match a filter as a table, optionally only the last N.  Fields are
 * printed in their escaped form, so the output is safe on a terminal.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "policy/audit_int.h"

void
audit_show_filter_init(struct audit_show_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->decision = -1;
	f->point = -1;
}

static bool
show_match(const struct str *f, const struct audit_show_filter *flt)
{
	if (flt == NULL)
		return true;
	if (flt->decision == AUDIT_GRANT && !str_eq_cstr(f[9], "GRANT"))
		return false;
	if (flt->decision == AUDIT_DENY && !str_eq_cstr(f[9], "DENY"))
		return false;
	if (flt->point >= 0 && flt->point < AUDIT_POINT_COUNT &&
	    !str_eq_cstr(f[10], audit_point_name(flt->point)))
		return false;
	if (flt->jid != NULL && *flt->jid != '\0') {
		size_t jl = strlen(flt->jid);
		if (!(f[4].len >= jl && memmem(f[4].p, f[4].len, flt->jid,
		    jl) != NULL) && !(f[5].len >= jl && memmem(f[5].p,
		    f[5].len, flt->jid, jl) != NULL))
			return false;
	}
	return true;
}

/*
 * The table's columns: the record field each shows (audit.h) and its
 * width; the label digest is cut to its prefix.
 */
static const struct {
	const char	*title;
	int		 field;
	int		 width;
} columns[] = {
	{ "SEQ", 1, 6 }, { "TIME", 2, 24 }, { "DEC", 9, 5 },
	{ "POINT", 10, 15 }, { "SESS", 3, 6 }, { "FROM", 4, 24 },
	{ "TO", 5, 24 }, { "ID", 6, 12 }, { "MARKING", 8, 20 },
	{ "LABEL", 7, 12 }, { "RULE", 11, 0 },
};
#define NCOLUMNS	(sizeof(columns) / sizeof(columns[0]))
#define LABEL_FIELD	7

/*
 * Prints one row: the titles if f is NULL, else the fields (already
 * escaped in the log, so terminal-safe).
 */
static void
show_row(FILE *out, const struct str *f)
{
	struct str	s;
	size_t		i;

	for (i = 0; i < NCOLUMNS; i++) {
		if (f == NULL)
			s = str_from(columns[i].title);
		else
			s = f[columns[i].field];
		if (f != NULL && columns[i].field == LABEL_FIELD &&
		    s.len > (size_t)columns[i].width)
			s.len = (size_t)columns[i].width;
		fprintf(out, "%-*.*s%c", columns[i].width, (int)s.len,
		    s.len ? s.p : "", i + 1 < NCOLUMNS ? ' ' : '\n');
	}
}

int
audit_show(const char *dir, FILE *out, const struct audit_show_filter *flt)
{
	char		*path, *line = NULL;
	FILE		*f;
	size_t		 cap = 0;
	ssize_t		 n;
	uint64_t	 matches = 0, skip = 0, printed = 0;
	int		 pass;

	if ((path = audit_path(dir, "audit.log")) == NULL)
		return L_ERR_NOMEM;
	f = fopen(path, "re");
	free(path);
	if (f == NULL)
		return errno == ENOENT ? L_ERR_NOTFOUND : L_ERR_IO;
	/* Pass 0 counts the matches when only the last N are wanted. */
	for (pass = (flt != NULL && flt->limit > 0) ? 0 : 1; pass < 2;
	    pass++) {
		if (pass == 1) {
			if (flt != NULL && flt->limit > 0 &&
			    matches > flt->limit)
				skip = matches - flt->limit;
			rewind(f);
			show_row(out, NULL);
		}
		while ((n = getline(&line, &cap, f)) > 0) {
			struct str	fl[R_FIELDS + 1];
			size_t		len = (size_t)n;

			if (line[len - 1] != '\n')
				continue;
			len--;
			if (audit_split_fields(line, len, fl, R_FIELDS) !=
			    R_FIELDS || !str_eq_cstr(fl[0], "R") ||
			    !show_match(fl, flt))
				continue;
			if (pass == 0) {
				matches++;
				continue;
			}
			if (skip > 0) {
				skip--;
				continue;
			}
			show_row(out, fl);
			printed++;
		}
	}
	free(line);
	if (ferror(f)) {
		fclose(f);
		return L_ERR_IO;
	}
	fclose(f);
	return printed > INT_MAX ? INT_MAX : (int)printed;
}
