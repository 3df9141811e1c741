/*
 * liaisond: the server.  With no arguments it runs on its embedded
 * default: ./liaison-data with a SQLite store and a development
 * certificate for "localhost", listening on 127.0.0.1:5222 (STARTTLS)
 * and 127.0.0.1:5223 (direct TLS).  -c FILE reads a libconfig file; the
 * command-line options override it.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "cmd/config.h"
#include "cmd/glue.h"
#include "policy/policy.h"
#include "net/net.h"
#include "xmpp/server.h"

static struct server *the_server;
static struct ev_async *stop_async;

static void
on_stop(struct ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	log_info("stopping");
	server_stop(the_server);
}

static void
on_signal(int sig)
{
	(void)sig;
	if (stop_async != NULL)
		ev_async_signal(stop_async);
}

/* Gives the data folder to `user` and becomes it, for good: the ports
 * are bound and the files open, so nothing else needs root. */
static int
drop_privileges(const char *user, const char *data_dir)
{
	struct passwd *pw;
	char cmd_err[256];
	const char *sub[] = { "", "/certs", "/audit" };

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "liaisond: no such user '%s'\n", user);
		return -1;
	}
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		char path[4096];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof path, "%s%s", data_dir, sub[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		(void)!chown(path, pw->pw_uid, pw->pw_gid);
		while ((de = readdir(d)) != NULL) {
			char f[4400];

			if (de->d_name[0] == '.')
				continue;
			snprintf(f, sizeof f, "%s/%s", path, de->d_name);
			(void)!chown(f, pw->pw_uid, pw->pw_gid);
		}
		closedir(d);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(cmd_err, sizeof cmd_err, "%s", strerror(errno));
		fprintf(stderr, "liaisond: cannot become %s: %s\n", user,
		    cmd_err);
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "liaisond: still able to regain root\n");
		return -1;
	}
	log_info("running as %s", user);
	return 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: liaisond [-c FILE] [--data DIR] [--domain NAME]\n"
	    "                [--listen ADDR:PORT] [--listen-tls ADDR:PORT]\n"
	    "                [--spif FILE]... [--default-label FILE] [--require-labels]\n"
	    "                [--log-level LEVEL] [--check-config] [--help-config]\n"
	    "\n"
	    "  -c FILE              read settings from a libconfig file\n"
	    "  --data DIR           data folder (default ./liaison-data)\n"
	    "  --domain NAME        XMPP domain (default localhost)\n"
	    "  --listen ADDR:PORT   STARTTLS client listener (default 127.0.0.1:5222)\n"
	    "  --listen-tls ADDR:PORT  direct TLS listener (default 127.0.0.1:5223)\n"
	    "  --spif FILE          load a security policy (repeatable; the first governs);\n"
	    "                       with none, security labels are off\n"
	    "  --default-label FILE STANAG 4774 label given to unlabelled messages\n"
	    "  --require-labels     refuse unlabelled messages instead\n"
	    "  --log-level LEVEL    error, warn, info, debug\n"
	    "  --check-config       validate the configuration and exit 0 or 1\n"
	    "  --help-config        print every setting with its default\n");
}

int
main(int argc, char **argv)
{
	enum { O_DATA = 256, O_DOMAIN, O_LISTEN, O_LISTEN_TLS, O_CHECK,
	    O_HELPCFG, O_LOGLEVEL, O_SPIF, O_DEFLABEL, O_REQLABELS };
	static const struct option opts[] = {
		{ "data", required_argument, NULL, O_DATA },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "listen-tls", required_argument, NULL, O_LISTEN_TLS },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "help-config", no_argument, NULL, O_HELPCFG },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "spif", required_argument, NULL, O_SPIF },
		{ "default-label", required_argument, NULL, O_DEFLABEL },
		{ "require-labels", no_argument, NULL, O_REQLABELS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_file = NULL, *o_data = NULL, *o_domain = NULL;
	const char *o_listen = NULL, *o_listen_tls = NULL, *o_level = NULL;
	struct config_holder *holder = NULL;
	struct server_config cfg;
	struct label_config lcfg;
	const char *o_spif[LABEL_SPIF_MAX];
	size_t o_nspif = 0;
	const char *o_deflabel = NULL;
	bool o_reqlabels = false;
	struct xmpp_policy no_policy = { 0 };
	struct policy *pol = NULL;
	struct glue *glue = NULL;
	bool check = false;
	char err[512];
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfg_file = optarg; break;
		case O_DATA: o_data = optarg; break;
		case O_DOMAIN: o_domain = optarg; break;
		case O_LISTEN: o_listen = optarg; break;
		case O_LISTEN_TLS: o_listen_tls = optarg; break;
		case O_CHECK: check = true; break;
		case O_LOGLEVEL: o_level = optarg; break;
		case O_SPIF:
			if (o_nspif == LABEL_SPIF_MAX) {
				fprintf(stderr, "liaisond: at most %d --spif\n",
				    LABEL_SPIF_MAX);
				return 1;
			}
			o_spif[o_nspif++] = optarg;
			break;
		case O_DEFLABEL: o_deflabel = optarg; break;
		case O_REQLABELS: o_reqlabels = true; break;
		case O_HELPCFG:
			config_write_sample(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	config_defaults(&cfg, &lcfg);
	if (cfg_file != NULL && config_load(cfg_file, &cfg, &lcfg, &holder,
	    err, sizeof err) != 0) {
		fprintf(stderr, "liaisond: %s\n", err);
		return 1;
	}
	if (o_data) cfg.data_dir = o_data;
	if (o_domain) cfg.domain = o_domain;
	if (o_listen) cfg.listen = o_listen;
	if (o_listen_tls) cfg.listen_tls = o_listen_tls;
	if (o_nspif > 0) {
		memcpy(lcfg.spif, o_spif, o_nspif * sizeof o_spif[0]);
		lcfg.nspif = o_nspif;
	}
	if (o_deflabel) lcfg.default_label = o_deflabel;
	if (o_reqlabels) lcfg.require_labels = true;
	if (o_level == NULL)
		o_level = config_log_level(holder);
	if (o_level != NULL) {
		int lvl = log_level_parse(o_level);

		if (lvl < 0) {
			fprintf(stderr, "liaisond: unknown log level '%s'\n",
			    o_level);
			config_holder_free(holder);
			return 1;
		}
		log_set_level(lvl);
	}
	if (config_validate(&cfg, &lcfg, err, sizeof err) != 0) {
		fprintf(stderr, "liaisond: %s\n", err);
		config_holder_free(holder);
		return 1;
	}
	if (lcfg.nspif > 0) {
		/* Labels on: every policy file must load, or nothing starts
		 * (fail closed).  --check-config loads them too. */
		char audit_dir[4096];
		struct policy_config pc = {
			.spif_files = lcfg.spif,
			.nspif = lcfg.nspif,
			.default_label_file = lcfg.default_label[0] ?
			    lcfg.default_label : NULL,
			.require_labels = lcfg.require_labels,
			.default_clearance_file = lcfg.default_clearance[0] ?
			    lcfg.default_clearance : NULL,
			.catalog_file = lcfg.catalog[0] ? lcfg.catalog : NULL,
			.audit_dir = check ? NULL : audit_dir,
			.label_max_bytes = lcfg.label_max_bytes,
			.audit = {
				.grants = strcmp(lcfg.audit_grants, "all") == 0 ?
				    AUDIT_GRANTS_ALL :
				    strcmp(lcfg.audit_grants, "sampled") == 0 ?
				    AUDIT_GRANTS_SAMPLED : AUDIT_GRANTS_OFF,
				.sample_every = lcfg.audit_sample_every,
				.checkpoint_records =
				    lcfg.audit_checkpoint_records,
				.checkpoint_ms = lcfg.audit_checkpoint_s * 1000,
			},
		};

		snprintf(audit_dir, sizeof audit_dir, "%s/audit", cfg.data_dir);
		if (!check && mkdir(cfg.data_dir, 0750) != 0 &&
		    errno != EEXIST) {
			fprintf(stderr, "liaisond: cannot create %s: %s\n",
			    cfg.data_dir, strerror(errno));
			config_holder_free(holder);
			return 1;
		}
		pol = policy_new(&pc, err, sizeof err);
		if (pol == NULL) {
			fprintf(stderr, "liaisond: security labels: %s\n", err);
			config_holder_free(holder);
			return 1;
		}
	}
	if (check) {
		printf("configuration OK\n");
		policy_free(pol);
		config_holder_free(holder);
		return 0;
	}
	if (config_log_file(holder) && config_log_file(holder)[0] &&
	    log_open_file(config_log_file(holder)) != 0) {
		fprintf(stderr, "liaisond: cannot open log file %s\n",
		    config_log_file(holder));
		config_holder_free(holder);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	the_server = server_new(&cfg, err, sizeof err);
	if (the_server == NULL) {
		fprintf(stderr, "liaisond: %s\n", err);
		config_holder_free(holder);
		return 1;
	}
	if (pol != NULL) {
		glue = glue_new(the_server, pol, lcfg.listen_cap,
		    lcfg.listen_tls_cap, err, sizeof err);
		if (glue == NULL) {
			fprintf(stderr, "liaisond: security labels: %s\n", err);
			server_free(the_server);
			policy_free(pol);
			config_holder_free(holder);
			return 1;
		}
	} else {
		server_set_policy(the_server, &no_policy, false);
	}
	if (drop_privileges(cfg.run_as, cfg.data_dir) != 0) {
		server_free(the_server);
		glue_free(glue);
		policy_free(pol);
		config_holder_free(holder);
		return 1;
	}
	stop_async = ev_async_new(the_server->loop, on_stop, NULL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("Liaison %s serving %s\n", LIAISON_VERSION, cfg.domain);
	if (cfg.listen[0])
		printf("  STARTTLS   %s\n", cfg.listen);
	if (cfg.listen_tls[0])
		printf("  direct TLS %s\n", cfg.listen_tls);
	printf("  data       %s\n", cfg.data_dir);
	if (pol != NULL)
		printf("  labels     on: %zu polic%s, governing %s; %s\n",
		    lcfg.nspif, lcfg.nspif == 1 ? "y" : "ies", lcfg.spif[0],
		    lcfg.require_labels ? "labels required" :
		    lcfg.default_label[0] ? "default label for unlabelled" :
		    "unlabelled messages refused (no default label)");
	else
		printf("  labels     off (start with --spif to enforce them)\n");
	if (cfg.tls_cert[0] == '\0')
		printf("  CA         %s/certs/ca.pem (development certificate;"
		    " trust it in your client)\n", cfg.data_dir);
	printf("Add a user:  liaisonctl --data %s user add alice@%s PASSWORD\n"
	    "Then connect any XMPP client as alice@%s.\n", cfg.data_dir,
	    cfg.domain, cfg.domain);
	fflush(stdout);
	rc = server_run(the_server);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	ev_async_free(stop_async);
	stop_async = NULL;
	server_free(the_server);
	glue_free(glue);
	policy_free(pol);
	config_holder_free(holder);
	return rc == 0 ? 0 : 1;
}
