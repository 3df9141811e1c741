/* The server's policy hooks implemented on the policy layer; see glue.c. */
#ifndef LIAISON_CMD_GLUE_H
#define LIAISON_CMD_GLUE_H

#include <stddef.h>

#include "xmpp/server.h"

struct policy;
struct glue;

/* Installs the hooks on srv (labels on) and opens the control socket.
 * cap_* are clearance cap files of the two listeners ("" or NULL: none).
 * Returns NULL with a reason in err. */
struct glue *glue_new(struct server *srv, struct policy *pol,
    const char *cap_starttls, const char *cap_tls, char *err,
    size_t errlen);
void glue_free(struct glue *g);

#endif
