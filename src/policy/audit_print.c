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

/* Prints a field (already escaped in the log, so terminal-safe). */
static void
show_field(FILE *out, struct str s, int width)
{
	fprintf(out, "%-*.*s", width, (int)s.len, s.len ? s.p : "");
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
			fprintf(out, "%-6s %-24s %-5s %-15s %-6s %-24s %-24s "
			    "%-12s %-20s %-12s %s\n", "SEQ", "TIME",
			    "DEC", "POINT", "SESS", "FROM", "TO", "ID",
			    "MARKING", "LABEL", "RULE");
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
			show_field(out, fl[1], 6);
			fputc(' ', out);
			show_field(out, fl[2], 24);
			fputc(' ', out);
			show_field(out, fl[9], 5);
			fputc(' ', out);
			show_field(out, fl[10], 15);
			fputc(' ', out);
			show_field(out, fl[3], 6);
			fputc(' ', out);
			show_field(out, fl[4], 24);
			fputc(' ', out);
			show_field(out, fl[5], 24);
			fputc(' ', out);
			show_field(out, fl[6], 12);
			fputc(' ', out);
			show_field(out, fl[8], 20);
			fputc(' ', out);
			if (fl[7].len >= 12)
				fl[7].len = 12;	/* digest prefix */
			show_field(out, fl[7], 12);
			fputc(' ', out);
			show_field(out, fl[11], 0);
			fputc('\n', out);
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
