/*
 * liaisond's settings: one table declares every setting with its type,
 * default, bounds and documentation; the libconfig file, the command line
 * and --help-config (the documented sample) all come from it.
 */
#ifndef LIAISON_CMD_CONFIG_H
#define LIAISON_CMD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "xmpp/server.h"

struct config_holder;

#define LABEL_SPIF_MAX 8

/* Security label settings (issue 4), beside the server's.  Strings are
 * borrowed from the config file or the command line. */
struct label_config {
	const char *spif[LABEL_SPIF_MAX];	/* the first one governs */
	size_t nspif;
	const char *default_label;
	bool require_labels;
	const char *default_clearance;
	const char *catalog;
	const char *listen_cap;		/* clearance cap of `listen` */
	const char *listen_tls_cap;	/* clearance cap of `listen_tls` */
	const char *audit_grants;	/* "off", "sampled", "all" */
	unsigned audit_sample_every;
	unsigned audit_checkpoint_records;
	unsigned audit_checkpoint_s;
	unsigned label_max_bytes;	/* largest securitylabel */
};

/* Fills cfg and lcfg with the defaults. */
void config_defaults(struct server_config *cfg, struct label_config *lcfg);
/* Reads a libconfig file over cfg and lcfg; on error returns -1 with
 * "FILE:LINE: reason" in err.  The holder keeps the file's strings. */
int config_load(const char *path, struct server_config *cfg,
    struct label_config *lcfg, struct config_holder **holder, char *err,
    size_t errlen);
void config_holder_free(struct config_holder *h);
/* Checks values that depend on each other; -1 with a reason. */
int config_validate(const struct server_config *cfg,
    const struct label_config *lcfg, char *err, size_t errlen);
/* Writes the documented sample configuration (every setting, default). */
void config_write_sample(FILE *fp);
/* The log level setting of the last config_load (or NULL). */
const char *config_log_level(const struct config_holder *h);
const char *config_log_file(const struct config_holder *h);

#endif
