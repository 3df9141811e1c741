/* liaisonctl label: replaced by the label engine's command line. */
#include <stdio.h>

#include "cmd/ctl.h"

int
ctl_label_main(const struct ctl_opts *o, int argc, char **argv)
{
	(void)o; (void)argc; (void)argv;
	fprintf(stderr, "liaisonctl label: not built yet\n");
	return 2;
}
