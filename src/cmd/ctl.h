/* Shared by the liaisonctl subcommand files. */
#ifndef LIAISON_CMD_CTL_H
#define LIAISON_CMD_CTL_H

#include <stddef.h>

struct store;

struct ctl_opts {
	const char *data_dir;		/* --data, default ./liaison-data */
	const char *config_file;	/* -c, or NULL */
};

/* Each takes the arguments after its area word; returns the exit code. */
int ctl_label_main(const struct ctl_opts *o, int argc, char **argv);
int ctl_user_main(const struct ctl_opts *o, int argc, char **argv);
int ctl_audit_main(const struct ctl_opts *o, int argc, char **argv);
int ctl_clearance_main(const struct ctl_opts *o, int argc, char **argv);

/* Opens the store of o->data_dir synchronously, or prints why not. */
struct store *ctl_open_store(const struct ctl_opts *o);
/* Turns a store status into an exit code: 0 for L_OK; otherwise prints
 * the `notfound` message for L_ERR_NOTFOUND, or the error, and returns 1. */
int ctl_store_status(int rc, const char *notfound, ...)
    __attribute__((format(printf, 2, 3)));
/* Prepares a bare JID into out; prints the reason and returns -1. */
int ctl_bare_jid(const char *in, char *out, size_t outlen);

#endif
