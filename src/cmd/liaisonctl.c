/*
 * liaisonctl: the admin tool.  Dispatches to one file per area
 * (ctl_user.c, ctl_label.c, ...).  Exit codes: 0 success, 1 a negative
 * answer (INVALID, DENY, not found), 2 usage or malformed input.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/ctl.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: liaisonctl [--data DIR] COMMAND ...\n"
	    "  user add|del|passwd|list ...                 accounts\n"
	    "  clearance set|show|del JID ...                users' clearances\n"
	    "  audit verify|show                            audit log\n"
	    "  label validate|check|mark|map|dominant ...   label engine\n");
}

int
main(int argc, char **argv)
{
	struct ctl_opts opts = { .data_dir = "liaison-data" };
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			opts.data_dir = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			opts.config_file = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "user") == 0)
		return ctl_user_main(&opts, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "clearance") == 0)
		return ctl_clearance_main(&opts, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "audit") == 0)
		return ctl_audit_main(&opts, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "label") == 0)
		return ctl_label_main(&opts, argc - i - 1, argv + i + 1);
	usage(stderr);
	return 2;
}
