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

enum setting_type { T_STR, T_INT, T_BOOL, T_STRLIST };

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;		/* into struct server_config (or label_config
				 * when lbl); (size_t)-1 = holder */
	bool lbl;
	const char *def_str;
	long long def_int;
	long long min, max;
	const char *doc;
};

#define OFF(f) offsetof(struct server_config, f)
#define LOFF(f) offsetof(struct label_config, f)
#define NONE ((size_t)-1)

static const struct setting settings[] = {
	{ "domain", T_STR, OFF(domain), false, "localhost", 0, 0, 0,
	  "The XMPP domain this server hosts (the part after @)." },
	{ "data_dir", T_STR, OFF(data_dir), false, "liaison-data", 0, 0, 0,
	  "Folder for the SQLite store, development certificates and audit log." },
	{ "listen", T_STR, OFF(listen), false, "127.0.0.1:5222", 0, 0, 0,
	  "Client connections with STARTTLS (ADDR:PORT, [V6]:PORT; \"\" = off)." },
	{ "listen_tls", T_STR, OFF(listen_tls), false, "127.0.0.1:5223", 0, 0, 0,
	  "Client connections with direct TLS, XEP-0368 (\"\" = off)." },
	{ "tls_cert", T_STR, OFF(tls_cert), false, "", 0, 0, 0,
	  "PEM certificate chain; \"\" = a development CA and certificate in data_dir/certs." },
	{ "tls_key", T_STR, OFF(tls_key), false, "", 0, 0, 0,
	  "PEM private key of tls_cert." },
	{ "max_stanza_size", T_INT, OFF(max_stanza_bytes), false, NULL, 262144, 1024,
	  16777216, "Largest stanza in bytes; a larger one ends the stream (policy-violation)." },
	{ "max_depth", T_INT, OFF(max_depth), false, NULL, 32, 4, 256,
	  "Deepest element nesting within a stanza." },
	{ "max_attributes", T_INT, OFF(max_attrs), false, NULL, 64, 4, 1024,
	  "Most attributes on one element." },
	{ "max_pending_output", T_INT, OFF(max_pending_out), false, NULL, 4194304,
	  65536, 1073741824,
	  "Bytes queued to one slow client before it is disconnected." },
	{ "max_connections", T_INT, OFF(max_connections), false, NULL, 10000, 1,
	  1000000, "Concurrent connections per listener." },
	{ "connection_rate", T_INT, OFF(conn_rate), false, NULL, 50, 1, 1000000,
	  "New connections per second from one address (token bucket)." },
	{ "connection_burst", T_INT, OFF(conn_burst), false, NULL, 200, 1, 1000000,
	  "Burst of new connections allowed from one address." },
	{ "auth_timeout", T_INT, OFF(auth_timeout_s), false, NULL, 60, 1, 3600,
	  "Seconds a connection has to finish TLS, SASL and resource binding." },
	{ "idle_timeout", T_INT, OFF(idle_timeout_s), false, NULL, 900, 0, 86400,
	  "Seconds without any input before a connection is closed (0 = never)." },
	{ "offline_max", T_INT, OFF(offline_max), false, NULL, 1000, 1, 1000000,
	  "Offline messages stored per user; more are refused (resource-constraint)." },
	{ "resources_max", T_INT, OFF(resources_max), false, NULL, 10, 1, 1000,
	  "Simultaneous sessions (resources) per account." },
	{ "registration", T_BOOL, OFF(registration), false, NULL, 0, 0, 1,
	  "Allow in-band registration (XEP-0077) over TLS." },
	{ "sasl_channel_binding", T_BOOL, OFF(sasl_channel_binding), false, NULL,
	  1, 0, 1, "Offer SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS over TLS (tls-exporter on TLS 1.3, tls-unique on TLS 1.2, XEP-0440)." },
	{ "auth_fail_delay_after", T_INT, OFF(auth_fail_delay_after), false, NULL,
	  3, 0, 1000, "Failed logins from one address before each answer is delayed (0 = never)." },
	{ "auth_fail_delay", T_INT, OFF(auth_fail_delay_ms), false, NULL, 500, 1,
	  60000, "First such delay in milliseconds; it doubles with each further failure." },
	{ "auth_fail_delay_max", T_INT, OFF(auth_fail_delay_max_ms), false, NULL,
	  8000, 1, 60000, "Longest delay of a login answer in milliseconds." },
	{ "auth_fail_block_after", T_INT, OFF(auth_fail_block_after), false, NULL,
	  10, 0, 100000, "Failed logins from one address before it is blocked (0 = never)." },
	{ "auth_fail_account_block_after", T_INT, OFF(auth_fail_account_block_after),
	  false, NULL, 20, 0, 100000,
	  "Failed logins for one account before it is blocked, for the addresses that failed only (0 = never)." },
	{ "auth_fail_block_time", T_INT, OFF(auth_fail_block_s), false, NULL, 300,
	  1, 86400, "Seconds a block lasts (logins answered temporary-auth-failure)." },
	{ "auth_fail_window", T_INT, OFF(auth_fail_window_s), false, NULL, 900, 1,
	  86400, "Seconds after its last failure that a count is forgotten." },
	{ "auth_fail_per_stream", T_INT, OFF(auth_fail_per_stream), false, NULL, 5,
	  1, 1000, "Failed SASL attempts on one stream before it is closed (policy-violation)." },
	{ "auth_fail_table_max", T_INT, OFF(auth_fail_table_max), false, NULL,
	  10000, 16, 10000000, "Addresses (and accounts) remembered by the failure counters; the oldest go first." },
	{ "user", T_STR, OFF(run_as), false, "", 0, 0, 0,
	  "When started as root: the unprivileged user to become once the ports are bound (\"\" = stay)." },
	{ "server_name", T_STR, OFF(server_name), false, "Liaison", 0, 0, 0,
	  "Name given in disco identity and software version replies." },
	{ "spif", T_STRLIST, LOFF(spif), true, "", 0, 0, 0,
	  "Security policies (SPIF 2.1 files) as a list; the first governs. [] = labels off." },
	{ "default_label", T_STR, LOFF(default_label), true, "", 0, 0, 0,
	  "STANAG 4774 label file given to unlabelled messages (\"\" = none)." },
	{ "require_labels", T_BOOL, LOFF(require_labels), true, NULL, 0, 0, 1,
	  "Refuse unlabelled messages instead of giving them the default label." },
	{ "default_clearance", T_STR, LOFF(default_clearance), true, "", 0, 0, 0,
	  "Clearance file for users without one (\"\" = the nil clearance: deny)." },
	{ "catalog", T_STR, LOFF(catalog), true, "", 0, 0, 0,
	  "XEP-0258 catalog list file (urn:liaison:label-catalog:0)." },
	{ "label_max_bytes", T_INT, LOFF(label_max_bytes), true, NULL, 8192, 1024,
	  1048576, "Largest securitylabel in bytes; a larger one is refused as malformed." },
	{ "listen_clearance_cap", T_STR, LOFF(listen_cap), true, "", 0, 0, 0,
	  "Clearance file capping sessions of the STARTTLS listener (\"\" = none)." },
	{ "listen_tls_clearance_cap", T_STR, LOFF(listen_tls_cap), true, "", 0, 0, 0,
	  "Clearance file capping sessions of the direct TLS listener." },
	{ "audit_grants", T_STR, LOFF(audit_grants), true, "off", 0, 0, 0,
	  "Which grants the audit log records: off, sampled or all (refusals always)." },
	{ "audit_sample_every", T_INT, LOFF(audit_sample_every), true, NULL, 100, 1,
	  1000000, "With sampled grants: one grant in this many is recorded." },
	{ "audit_checkpoint_records", T_INT, LOFF(audit_checkpoint_records), true,
	  NULL, 1000, 1, 10000000, "A signed audit checkpoint after this many records." },
	{ "audit_checkpoint_interval", T_INT, LOFF(audit_checkpoint_s), true, NULL,
	  60, 1, 86400, "And after this many seconds when records arrived." },
	{ "log_level", T_STR, NONE, false, "info", 0, 0, 0,
	  "error, warn, info or debug." },
	{ "log_file", T_STR, NONE, false, "", 0, 0, 0,
	  "Append log lines to this file (\"\" = standard error)." },
};

struct config_holder {
	config_t cf;
	const char *log_level;
	const char *log_file;
};

static bool
is_size_t(const struct setting *s)
{
	return !s->lbl && (s->offset == OFF(max_stanza_bytes) ||
	    s->offset == OFF(max_pending_out));
}

void
config_defaults(struct server_config *cfg, struct label_config *lcfg)
{
	memset(cfg, 0, sizeof *cfg);
	memset(lcfg, 0, sizeof *lcfg);
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		const struct setting *s = &settings[i];
		char *p = (char *)(s->lbl ? (void *)lcfg : (void *)cfg) +
		    s->offset;

		if (s->offset == NONE)
			continue;
		switch (s->type) {
		case T_STRLIST:
			break;
		case T_STR:
			*(const char **)p = s->def_str;
			break;
		case T_BOOL:
			*(bool *)p = s->def_int != 0;
			break;
		case T_INT:
			if (is_size_t(s))
				*(size_t *)p = (size_t)s->def_int;
			else
				*(unsigned *)p = (unsigned)s->def_int;
			break;
		}
	}
}

int
config_load(const char *path, struct server_config *cfg,
    struct label_config *lcfg, struct config_holder **holder, char *err,
    size_t errlen)
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
		p = s->offset == NONE ? NULL :
		    (char *)(s->lbl ? (void *)lcfg : (void *)cfg) + s->offset;
		switch (s->type) {
		case T_STRLIST: {
			int n = config_setting_length(e);

			if (!config_setting_is_aggregate(e) ||
			    n > LABEL_SPIF_MAX) {
				snprintf(err, errlen, "%s:%d: '%s' must be a "
				    "list of at most %d strings", path,
				    config_setting_source_line(e), name,
				    LABEL_SPIF_MAX);
				goto fail;
			}
			lcfg->nspif = 0;
			for (int k = 0; k < n; k++) {
				const char *v = config_setting_get_string_elem(
				    e, k);

				if (v == NULL) {
					snprintf(err, errlen, "%s:%d: '%s' "
					    "must hold strings", path,
					    config_setting_source_line(e),
					    name);
					goto fail;
				}
				lcfg->spif[lcfg->nspif++] = v;
			}
			break;
		}
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
			if (is_size_t(s))
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
config_validate(const struct server_config *cfg,
    const struct label_config *lcfg, char *err, size_t errlen)
{
	if (strcmp(lcfg->audit_grants, "off") != 0 &&
	    strcmp(lcfg->audit_grants, "sampled") != 0 &&
	    strcmp(lcfg->audit_grants, "all") != 0) {
		snprintf(err, errlen, "audit_grants must be off, sampled or "
		    "all");
		return -1;
	}
	if (lcfg->nspif == 0 && (lcfg->default_label[0] ||
	    lcfg->require_labels || lcfg->default_clearance[0] ||
	    lcfg->catalog[0] || lcfg->listen_cap[0] ||
	    lcfg->listen_tls_cap[0])) {
		snprintf(err, errlen, "label settings given but no SPIF: "
		    "set spif (or --spif)");
		return -1;
	}
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
		if (s->type == T_STRLIST)
			fprintf(fp, "#%s = [ ];\n", s->name);
		else if (s->type == T_INT)
			fprintf(fp, "# (%lld .. %lld)\n#%s = %lld;\n", s->min,
			    s->max, s->name, s->def_int);
		else if (s->type == T_BOOL)
			fprintf(fp, "#%s = %s;\n", s->name,
			    s->def_int ? "true" : "false");
		else
			fprintf(fp, "#%s = \"%s\";\n", s->name, s->def_str);
	}
}
