/*
 * The settings table and the libconfig reader.  Each setting appears
 * once, with its type, default, bounds and a line of documentation; the
 * sample configuration (liaisond --help-config, liaison.conf.sample) is
 * printed from the same table, so the two cannot drift apart.
 */
#include "cmd/config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

enum setting_type { T_STR, T_INT, T_BOOL };

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;		/* into struct server_config; (size_t)-1 = holder */
	const char *def_str;
	long long def_int;
	long long min, max;
	const char *doc;
};

#define OFF(f) offsetof(struct server_config, f)
#define NONE ((size_t)-1)

static const struct setting settings[] = {
	{ "domain", T_STR, OFF(domain), "localhost", 0, 0, 0,
	  "The XMPP domain this server hosts (the part after @)." },
	{ "data_dir", T_STR, OFF(data_dir), "liaison-data", 0, 0, 0,
	  "Folder for the SQLite store, development certificates and audit log." },
	{ "listen", T_STR, OFF(listen), "127.0.0.1:5222", 0, 0, 0,
	  "Client connections with STARTTLS (ADDR:PORT, [V6]:PORT; \"\" = off)." },
	{ "listen_tls", T_STR, OFF(listen_tls), "127.0.0.1:5223", 0, 0, 0,
	  "Client connections with direct TLS, XEP-0368 (\"\" = off)." },
	{ "tls_cert", T_STR, OFF(tls_cert), "", 0, 0, 0,
	  "PEM certificate chain; \"\" = a development CA and certificate in data_dir/certs." },
	{ "tls_key", T_STR, OFF(tls_key), "", 0, 0, 0,
	  "PEM private key of tls_cert." },
	{ "max_stanza_size", T_INT, OFF(max_stanza_bytes), NULL, 262144, 1024,
	  16777216, "Largest stanza in bytes; a larger one ends the stream (policy-violation)." },
	{ "max_depth", T_INT, OFF(max_depth), NULL, 32, 4, 256,
	  "Deepest element nesting within a stanza." },
	{ "max_attributes", T_INT, OFF(max_attrs), NULL, 64, 4, 1024,
	  "Most attributes on one element." },
	{ "max_pending_output", T_INT, OFF(max_pending_out), NULL, 4194304,
	  65536, 1073741824,
	  "Bytes queued to one slow client before it is disconnected." },
	{ "max_connections", T_INT, OFF(max_connections), NULL, 10000, 1,
	  1000000, "Concurrent connections per listener." },
	{ "connection_rate", T_INT, OFF(conn_rate), NULL, 50, 1, 1000000,
	  "New connections per second from one address (token bucket)." },
	{ "connection_burst", T_INT, OFF(conn_burst), NULL, 200, 1, 1000000,
	  "Burst of new connections allowed from one address." },
	{ "auth_timeout", T_INT, OFF(auth_timeout_s), NULL, 60, 1, 3600,
	  "Seconds a connection has to finish TLS, SASL and resource binding." },
	{ "idle_timeout", T_INT, OFF(idle_timeout_s), NULL, 900, 0, 86400,
	  "Seconds without any input before a connection is closed (0 = never)." },
	{ "offline_max", T_INT, OFF(offline_max), NULL, 1000, 1, 1000000,
	  "Offline messages stored per user; more are refused (resource-constraint)." },
	{ "resources_max", T_INT, OFF(resources_max), NULL, 10, 1, 1000,
	  "Simultaneous sessions (resources) per account." },
	{ "registration", T_BOOL, OFF(registration), NULL, 0, 0, 1,
	  "Allow in-band registration (XEP-0077) over TLS." },
	{ "server_name", T_STR, OFF(server_name), "Liaison", 0, 0, 0,
	  "Name given in disco identity and software version replies." },
	{ "log_level", T_STR, NONE, "info", 0, 0, 0,
	  "error, warn, info or debug." },
	{ "log_file", T_STR, NONE, "", 0, 0, 0,
	  "Append log lines to this file (\"\" = standard error)." },
};

struct config_holder {
	config_t cf;
	const char *log_level;
	const char *log_file;
};

void
config_defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		const struct setting *s = &settings[i];
		char *p = (char *)cfg + s->offset;

		if (s->offset == NONE)
			continue;
		switch (s->type) {
		case T_STR:
			*(const char **)p = s->def_str;
			break;
		case T_BOOL:
			*(bool *)p = s->def_int != 0;
			break;
		case T_INT:
			if (s->offset == OFF(max_stanza_bytes) ||
			    s->offset == OFF(max_pending_out))
				*(size_t *)p = (size_t)s->def_int;
			else
				*(unsigned *)p = (unsigned)s->def_int;
			break;
		}
	}
}

int
config_load(const char *path, struct server_config *cfg,
    struct config_holder **holder, char *err, size_t errlen)
{
	struct config_holder *h = calloc(1, sizeof *h);
	config_setting_t *root;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	config_init(&h->cf);
	if (config_read_file(&h->cf, path) != CONFIG_TRUE) {
		if (config_error_type(&h->cf) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read the file", path);
		else
			snprintf(err, errlen, "%s:%d: %s", path,
			    config_error_line(&h->cf),
			    config_error_text(&h->cf));
		config_holder_free(h);
		return -1;
	}
	root = config_root_setting(&h->cf);
	/* Unknown settings are errors: a typo must not silently keep a
	 * default (fail closed). */
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *e = config_setting_get_elem(root, i);
		const char *name = config_setting_name(e);
		const struct setting *s = NULL;
		char *p;

		for (size_t k = 0; k < sizeof settings / sizeof settings[0];
		    k++)
			if (strcmp(settings[k].name, name) == 0)
				s = &settings[k];
		if (s == NULL) {
			snprintf(err, errlen, "%s:%d: unknown setting '%s'",
			    path, config_setting_source_line(e), name);
			goto fail;
		}
		p = s->offset == NONE ? NULL : (char *)cfg + s->offset;
		switch (s->type) {
		case T_STR: {
			const char *v = config_setting_get_string(e);

			if (v == NULL) {
				snprintf(err, errlen, "%s:%d: '%s' must be a "
				    "string", path,
				    config_setting_source_line(e), name);
				goto fail;
			}
			if (p != NULL)
				*(const char **)p = v;
			else if (strcmp(name, "log_level") == 0)
				h->log_level = v;
			else
				h->log_file = v;
			break;
		}
		case T_BOOL:
			if (config_setting_type(e) != CONFIG_TYPE_BOOL) {
				snprintf(err, errlen, "%s:%d: '%s' must be true "
				    "or false", path,
				    config_setting_source_line(e), name);
				goto fail;
			}
			*(bool *)p = config_setting_get_bool(e);
			break;
		case T_INT: {
			long long v;

			if (config_setting_type(e) != CONFIG_TYPE_INT &&
			    config_setting_type(e) != CONFIG_TYPE_INT64) {
				snprintf(err, errlen, "%s:%d: '%s' must be an "
				    "integer", path,
				    config_setting_source_line(e), name);
				goto fail;
			}
			v = config_setting_get_int64(e);
			if (v < s->min || v > s->max) {
				snprintf(err, errlen, "%s:%d: '%s' must be "
				    "between %lld and %lld", path,
				    config_setting_source_line(e), name,
				    s->min, s->max);
				goto fail;
			}
			if (s->offset == OFF(max_stanza_bytes) ||
			    s->offset == OFF(max_pending_out))
				*(size_t *)p = (size_t)v;
			else
				*(unsigned *)p = (unsigned)v;
			break;
		}
		}
	}
	*holder = h;
	return 0;
fail:
	config_holder_free(h);
	return -1;
}

void
config_holder_free(struct config_holder *h)
{
	if (h == NULL)
		return;
	config_destroy(&h->cf);
	free(h);
}

const char *
config_log_level(const struct config_holder *h)
{
	return h ? h->log_level : NULL;
}

const char *
config_log_file(const struct config_holder *h)
{
	return h ? h->log_file : NULL;
}

int
config_validate(const struct server_config *cfg, char *err, size_t errlen)
{
	if (cfg->domain == NULL || cfg->domain[0] == '\0') {
		snprintf(err, errlen, "domain must not be empty");
		return -1;
	}
	if (cfg->listen[0] == '\0' && cfg->listen_tls[0] == '\0') {
		snprintf(err, errlen, "no listener: set listen or listen_tls");
		return -1;
	}
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		snprintf(err, errlen, "tls_cert and tls_key go together");
		return -1;
	}
	return 0;
}

void
config_write_sample(FILE *fp)
{
	fprintf(fp, "# Liaison sample configuration (libconfig syntax).\n"
	    "# Every setting is listed with its default; uncomment to change.\n"
	    "# Generated by `liaisond --help-config`.\n");
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		const struct setting *s = &settings[i];

		fprintf(fp, "\n# %s\n", s->doc);
		if (s->type == T_INT)
			fprintf(fp, "# (%lld .. %lld)\n#%s = %lld;\n", s->min,
			    s->max, s->name, s->def_int);
		else if (s->type == T_BOOL)
			fprintf(fp, "#%s = %s;\n", s->name,
			    s->def_int ? "true" : "false");
		else
			fprintf(fp, "#%s = \"%s\";\n", s->name, s->def_str);
	}
}
