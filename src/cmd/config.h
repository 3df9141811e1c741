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

/* Fills cfg with the defaults. */
void config_defaults(struct server_config *cfg);
/* Reads a libconfig file over cfg; on error returns -1 with "FILE:LINE:
 * reason" in err.  The holder keeps the file's strings alive. */
int config_load(const char *path, struct server_config *cfg,
    struct config_holder **holder, char *err, size_t errlen);
void config_holder_free(struct config_holder *h);
/* Checks values that depend on each other; -1 with a reason. */
int config_validate(const struct server_config *cfg, char *err,
    size_t errlen);
/* Writes the documented sample configuration (every setting, default). */
void config_write_sample(FILE *fp);
/* The log level setting of the last config_load (or NULL). */
const char *config_log_level(const struct config_holder *h);
const char *config_log_file(const struct config_holder *h);

#endif
