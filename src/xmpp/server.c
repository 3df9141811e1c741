/*
 * Server set-up and teardown: the data folder, the development
 * certificates when none are configured, the store, the TLS context, the
 * two client listeners, and the wiring of the store's completions into
 * the event loop.
 */
#include "xmpp/server.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "net/net.h"
#include "store/store.h"
#include "xmpp/authlimit.h"

static void
store_ready(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct server *srv = arg;

	(void)loop;
	(void)fd;
	(void)events;
	store_dispatch(srv->store);
}

/*
 * TLS handshakes and SASL leave large transient allocations behind; glibc
 * keeps the freed pages, so an idle server would hold several times the
 * memory its sessions use.  Once a second, if connections came or went,
 * the free pages go back to the system.
 */
static void
trim_tick(struct ev_loop *loop, void *arg)
{
	struct server *srv = arg;

	/* Trim once the churn has settled: a tick with no new connection
	 * after some, so the log-in work that followed them is done too. */
	if (srv->conn_churn == srv->churn_last_tick &&
	    srv->conn_churn != srv->churn_at_trim) {
		srv->churn_at_trim = srv->conn_churn;
		malloc_trim(0);
		log_debug("trimmed the heap after %llu connection events",
		    (unsigned long long)srv->conn_churn);
	}
	srv->churn_last_tick = srv->conn_churn;
	srv->trim_timer = ev_timer_add(loop, 1000, trim_tick, srv);
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

struct server *
server_new(const struct server_config *cfg, char *err, size_t errlen)
{
	struct server *srv;
	char path[4000], cert[4096], key[4096];
	char e[256];

	srv = calloc(1, sizeof *srv);
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->cfg = cfg;
	hmap_init(&srv->sessions);
	hmap_init(&srv->users);
	buf_init(&srv->scratch, 0);
	srv->started_us = time_real_us();
	if (mkdir_p(cfg->data_dir, 0750) != 0) {
		snprintf(err, errlen, "cannot create data folder %s: %s",
		    cfg->data_dir, strerror(errno));
		goto fail;
	}
	if (cfg->tls_cert[0] == '\0') {
		snprintf(path, sizeof path, "%s/certs", cfg->data_dir);
		if (mkdir_p(path, 0700) != 0) {
			snprintf(err, errlen, "cannot create %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (tls_make_dev_certs(path, cfg->domain, e, sizeof e) != 0) {
			snprintf(err, errlen, "development certificate: %s", e);
			goto fail;
		}
		snprintf(cert, sizeof cert, "%s/server.pem", path);
		snprintf(key, sizeof key, "%s/server.key", path);
	} else {
		snprintf(cert, sizeof cert, "%s", cfg->tls_cert);
		snprintf(key, sizeof key, "%s", cfg->tls_key);
	}
	srv->tls = (struct ssl_ctx_st *)tls_server_ctx_new(cert, key, NULL, e,
	    sizeof e);
	if (srv->tls == NULL) {
		snprintf(err, errlen, "TLS: %s", e);
		goto fail;
	}
	snprintf(path, sizeof path, "%s/liaison.db", cfg->data_dir);
	srv->store = store_open(path, 0, e, sizeof e);
	if (srv->store == NULL) {
		snprintf(err, errlen, "store: %s", e);
		goto fail;
	}
	store_set_offline_max(srv->store, cfg->offline_max);
	{
		struct authlimit_config al = {
			.delay_after = cfg->auth_fail_delay_after,
			.delay_ms = cfg->auth_fail_delay_ms,
			.delay_max_ms = cfg->auth_fail_delay_max_ms,
			.block_after = cfg->auth_fail_block_after,
			.account_block_after =
			    cfg->auth_fail_account_block_after,
			.block_s = cfg->auth_fail_block_s,
			.window_s = cfg->auth_fail_window_s,
			.max_entries = cfg->auth_fail_table_max,
		};

		srv->authlimit = authlimit_new(&al);
		if (srv->authlimit == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	srv->loop = ev_loop_new();
	if (srv->loop == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	srv->trim_timer = ev_timer_add(srv->loop, 1000, trim_tick, srv);
	if (ev_io_add(srv->loop, store_notify_fd(srv->store), EV_READ,
	    store_ready, srv) != 0) {
		snprintf(err, errlen, "cannot watch the store");
		goto fail;
	}
	if (cfg->listen[0] != '\0') {
		srv->lst_starttls = listener_new(srv->loop, cfg->listen, false,
		    NULL, session_accept, srv);
		if (srv->lst_starttls == NULL) {
			snprintf(err, errlen, "cannot listen on %s",
			    cfg->listen);
			goto fail;
		}
		listener_set_limits(srv->lst_starttls, cfg->max_connections,
		    cfg->conn_rate, cfg->conn_burst);
	}
	if (cfg->listen_tls[0] != '\0') {
		srv->lst_tls = listener_new(srv->loop, cfg->listen_tls, true,
		    (SSL_CTX *)srv->tls, session_accept_direct, srv);
		if (srv->lst_tls == NULL) {
			snprintf(err, errlen, "cannot listen on %s",
			    cfg->listen_tls);
			goto fail;
		}
		listener_set_limits(srv->lst_tls, cfg->max_connections,
		    cfg->conn_rate, cfg->conn_burst);
	}
	return srv;
fail:
	server_free(srv);
	return NULL;
}

int
server_set_policy(struct server *srv, const struct xmpp_policy *p,
    bool labels_enabled)
{
	if (labels_enabled && (p->ingress == NULL || p->deliver == NULL ||
	    p->bind == NULL || p->catalog == NULL || p->stanza_done == NULL))
		return L_ERR_INVAL;
	srv->policy = *p;
	srv->labels_enabled = labels_enabled;
	return L_OK;
}

int
server_port(const struct server *srv, bool direct_tls)
{
	const struct listener *l = direct_tls ? srv->lst_tls :
	    srv->lst_starttls;

	return l ? listener_port(l) : -1;
}

int
server_run(struct server *srv)
{
	return ev_run(srv->loop);
}

void
server_stop(struct server *srv)
{
	ev_stop(srv->loop);
}

void
server_free(struct server *srv)
{
	const char *k;
	void *v;
	size_t it;

	if (srv == NULL)
		return;
	if (srv->lst_starttls)
		listener_free(srv->lst_starttls);
	if (srv->lst_tls)
		listener_free(srv->lst_tls);
	/* Aborts every connection; sessions are freed in on_close. */
	if (srv->loop)
		ev_loop_free(srv->loop);
	/* Commits what is queued; late callbacks find no session. */
	store_close(srv->store);
	it = 0;
	while (hmap_next(&srv->users, &it, &k, NULL, &v)) {
		struct user *u = v;

		roster_free(u->roster);
		free(u->bare);
		free(u);
	}
	hmap_cleanup(&srv->users);
	hmap_cleanup(&srv->sessions);
	if (srv->tls)
		SSL_CTX_free((SSL_CTX *)srv->tls);
	buf_cleanup(&srv->scratch);
	authlimit_free(srv->authlimit);
	free(srv);
}
