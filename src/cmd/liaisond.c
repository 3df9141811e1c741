/*
 * liaisond: the server.  With no arguments it runs on its embedded
 * default: ./liaison-data with a SQLite store and a development
 * certificate for "localhost", listening on 127.0.0.1:5222 (STARTTLS)
 * and 127.0.0.1:5223 (direct TLS).  -c FILE reads a libconfig file; the
 * command-line options override it.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cmd/config.h"
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

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: liaisond [-c FILE] [--data DIR] [--domain NAME]\n"
	    "                [--listen ADDR:PORT] [--listen-tls ADDR:PORT]\n"
	    "                [--log-level LEVEL] [--check-config] [--help-config]\n"
	    "\n"
	    "  -c FILE              read settings from a libconfig file\n"
	    "  --data DIR           data folder (default ./liaison-data)\n"
	    "  --domain NAME        XMPP domain (default localhost)\n"
	    "  --listen ADDR:PORT   STARTTLS client listener (default 127.0.0.1:5222)\n"
	    "  --listen-tls ADDR:PORT  direct TLS listener (default 127.0.0.1:5223)\n"
	    "  --log-level LEVEL    error, warn, info, debug\n"
	    "  --check-config       validate the configuration and exit 0 or 1\n"
	    "  --help-config        print every setting with its default\n");
}

int
main(int argc, char **argv)
{
	enum { O_DATA = 256, O_DOMAIN, O_LISTEN, O_LISTEN_TLS, O_CHECK,
	    O_HELPCFG, O_LOGLEVEL };
	static const struct option opts[] = {
		{ "data", required_argument, NULL, O_DATA },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "listen-tls", required_argument, NULL, O_LISTEN_TLS },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "help-config", no_argument, NULL, O_HELPCFG },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_file = NULL, *o_data = NULL, *o_domain = NULL;
	const char *o_listen = NULL, *o_listen_tls = NULL, *o_level = NULL;
	struct config_holder *holder = NULL;
	struct server_config cfg;
	struct xmpp_policy no_policy = { 0 };
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
	config_defaults(&cfg);
	if (cfg_file != NULL &&
	    config_load(cfg_file, &cfg, &holder, err, sizeof err) != 0) {
		fprintf(stderr, "liaisond: %s\n", err);
		return 1;
	}
	if (o_data) cfg.data_dir = o_data;
	if (o_domain) cfg.domain = o_domain;
	if (o_listen) cfg.listen = o_listen;
	if (o_listen_tls) cfg.listen_tls = o_listen_tls;
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
	if (config_validate(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "liaisond: %s\n", err);
		config_holder_free(holder);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
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
	server_set_policy(the_server, &no_policy, false);
	stop_async = ev_async_new(the_server->loop, on_stop, NULL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("Liaison %s serving %s\n", LIAISON_VERSION, cfg.domain);
	if (cfg.listen[0])
		printf("  STARTTLS   %s\n", cfg.listen);
	if (cfg.listen_tls[0])
		printf("  direct TLS %s\n", cfg.listen_tls);
	printf("  data       %s\n", cfg.data_dir);
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
	config_holder_free(holder);
	return rc == 0 ? 0 : 1;
}
