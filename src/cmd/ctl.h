/* Shared by the liaisonctl subcommand files. */
#ifndef LIAISON_CMD_CTL_H
#define LIAISON_CMD_CTL_H

struct ctl_opts {
	const char *data_dir;		/* --data, default ./liaison-data */
	const char *config_file;	/* -c, or NULL */
};

/* Each takes the arguments after its area word; returns the exit code. */
int ctl_label_main(const struct ctl_opts *o, int argc, char **argv);

#endif
