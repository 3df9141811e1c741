/* liaisonctl audit: replaced by the audit log's command line. */
#include <stdio.h>

#include "cmd/ctl.h"

int
ctl_audit_main(const struct ctl_opts *o, int argc, char **argv)
{
	(void)o; (void)argc; (void)argv;
	fprintf(stderr, "liaisonctl audit: not built yet\n");
	return 2;
}
