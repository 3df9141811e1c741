/*
 * Client sessions (RFC 6120): the stream header and features, STARTTLS,
 * SASL, resource binding, and then handing stanzas to the router.  A
 * session is owned by its connection: it is freed in the connection's
 * on_close, and asynchronous work (store look-ups) finds it again by id,
 * so a callback for a session that has gone does nothing.
 */
#include "xmpp/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/errors.h"
#include "base/log.h"
#include "net/net.h"
#include "store/store.h"
#include "xml/xmlstream.h"
#include "xmpp/authlimit.h"

#define XMLNS_SASL_CB	"urn:xmpp:sasl-cb:0"	/* XEP-0440 */

static void sess_on_data(struct conn *c, void *arg, const char *data,
    size_t len);
static void sess_on_close(struct conn *c, void *arg, int reason);
static void sess_on_tls(struct conn *c, void *arg);
static void xs_stream_start(void *ctx, const struct xml_node *el,
    const char *default_ns);
static void xs_element(void *ctx, struct xml_node *el);
static void xs_stream_end(void *ctx);

static void session_reply_error(struct session *s, const struct xml_node *st,
    const char *type, const char *cond, const char *text);
static void sasl_wait_free(struct session *s);

static const struct conn_cbs session_cbs = {
	.on_data = sess_on_data,
	.on_close = sess_on_close,
	.on_tls = sess_on_tls,
};

static const struct xml_stream_cb session_xs_cbs = {
	.stream_start = xs_stream_start,
	.element = xs_element,
	.stream_end = xs_stream_end,
};

struct session *
session_by_id(struct server *srv, uint64_t id)
{
	return hmap_get(&srv->sessions, &id, sizeof id);
}

struct session *
session_find(struct server *srv, const struct jid *full)
{
	char bare[JID_FORMAT_MAX + 1];
	struct user *u;

	if (full->resource == NULL ||
	    jid_format(full, false, bare, sizeof bare) < 0)
		return NULL;
	u = hmap_get(&srv->users, bare, strlen(bare));
	if (u == NULL)
		return NULL;
	for (struct session *s = u->sessions; s; s = s->next_res)
		if (strcmp(s->jid.resource, full->resource) == 0)
			return s;
	return NULL;
}

static void
auth_timeout(struct ev_loop *loop, void *arg)
{
	struct server *srv = NULL;
	struct session *s = arg;

	(void)loop;
	(void)srv;
	s->auth_timer = 0;
	if (s->state != SS_BOUND) {
		slog_info(s->id, "no authentication in time, closing");
		session_stream_error(s, "connection-timeout", NULL);
	}
}

static struct session *session_new(struct conn *c, struct server *srv);

void
session_accept(struct conn *c, void *arg)
{
	session_new(c, arg);
}

void
session_accept_direct(struct conn *c, void *arg)
{
	struct session *s = session_new(c, arg);

	if (s != NULL)
		s->listener_idx = 1;
}

static struct session *
session_new(struct conn *c, struct server *srv)
{
	struct session *s;
	struct xml_stream_limits lim = {
		.max_stanza_bytes = srv->cfg->max_stanza_bytes,
		.max_depth = srv->cfg->max_depth,
		.max_attrs = srv->cfg->max_attrs,
	};

	s = calloc(1, sizeof *s);
	if (s == NULL)
		goto fail;
	s->id = conn_id(c);
	s->srv = srv;
	srv->conn_churn++;
	s->conn = c;
	s->xs = xml_stream_new(&lim, &session_xs_cbs, s);
	if (s->xs == NULL)
		goto fail_free;
	hmap_init(&s->directed);
	if (hmap_put(&srv->sessions, &s->id, sizeof s->id, s, NULL) != L_OK)
		goto fail_xs;
	conn_set_cbs(c, &session_cbs, s);
	conn_set_limits(c, srv->cfg->max_pending_out, 0);
	conn_set_timeout(c, (uint64_t)srv->cfg->idle_timeout_s * 1000);
	s->auth_timer = ev_timer_add(srv->loop,
	    (uint64_t)srv->cfg->auth_timeout_s * 1000, auth_timeout, s);
	slog_debug(s->id, "connection from %s", conn_peer_addr(c));
	return s;

fail_xs:
	xml_stream_free(s->xs);
fail_free:
	free(s);
fail:
	log_warnx("out of memory accepting a connection");
	conn_abort(c);
	return NULL;
}

static void
session_free(struct session *s)
{
	struct server *srv = s->srv;

	srv->conn_churn++;
	if (s->auth_timer)
		ev_timer_cancel(srv->loop, s->auth_timer);
	if (s->state == SS_BOUND || s->user != NULL)
		presence_session_gone(s);
	if (s->user != NULL) {
		struct session **pp = &s->user->sessions;

		while (*pp && *pp != s)
			pp = &(*pp)->next_res;
		if (*pp)
			*pp = s->next_res;
		s->user->nsessions--;
		server_user_release(srv, s->user);
		s->user = NULL;
	}
	hmap_del(&srv->sessions, &s->id, sizeof s->id);
	hmap_cleanup(&s->directed);
	xml_node_free(s->presence);
	sasl_wait_free(s);
	sasl_free(s->sasl);
	xml_stream_free(s->xs);
	free(s->username);
	free(s->full);
	jid_cleanup(&s->jid);
	free(s);
}

static void
sess_on_close(struct conn *c, void *arg, int reason)
{
	struct session *s = arg;

	slog_debug(s->id, "closed (%s)", conn_reason_str(reason));
	s->conn = NULL;
	session_free(s);
}

static void
sess_on_tls(struct conn *c, void *arg)
{
	struct session *s = arg;

	s->tls = true;
	slog_debug(s->id, "TLS established: %s %s", conn_tls_version(c),
	    conn_tls_cipher(c));
}

int
session_send_raw(struct session *s, const char *data, size_t len)
{
	int rc;

	if (s->conn == NULL)
		return L_ERR_CLOSED;
	rc = conn_write(s->conn, data, len);
	if (rc == L_ERR_LIMIT) {
		slog_warnx(s->id, "output budget exceeded, disconnecting");
		s->state = SS_CLOSING;
		conn_abort(s->conn);
	}
	return rc;
}

int
session_send(struct session *s, const struct xml_node *st)
{
	struct buf *b = &s->srv->scratch;
	int rc;

	if (s->conn == NULL || s->state == SS_CLOSING)
		return L_ERR_CLOSED;
	buf_reset(b);
	rc = xml_serialize(st, XMLNS_CLIENT, b);
	if (rc != L_OK)
		return rc;
	s->srv->stats_stanzas_out++;
	return session_send_raw(s, b->data, b->len);
}

static void
send_header(struct session *s)
{
	char buf[512], id[17];
	unsigned char rnd[8];

	if (s->header_sent)
		return;
	RAND_bytes(rnd, sizeof rnd);
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(buf, sizeof buf, "<?xml version='1.0'?>"
	    "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' id='%s' "
	    "from='%s' version='1.0' xml:lang='en'>", id,
	    s->srv->cfg->domain);
	session_send_raw(s, buf, strlen(buf));
	s->header_sent = true;
}

void
session_stream_error(struct session *s, const char *cond, const char *text)
{
	struct buf b;

	if (s->conn == NULL || s->state == SS_CLOSING)
		return;
	send_header(s);
	buf_init(&b, 0);
	buf_appendf(&b, "<stream:error><%s xmlns='%s'/>", cond,
	    XMLNS_STREAMS);
	if (text != NULL) {
		buf_appendf(&b, "<text xmlns='%s'>", XMLNS_STREAMS);
		xml_escape(&b, text, strlen(text));
		buf_append_str(&b, "</text>");
	}
	buf_append_str(&b, "</stream:error></stream:stream>");
	if (b.data)
		session_send_raw(s, b.data, b.len);
	buf_cleanup(&b);
	slog_info(s->id, "stream error: %s", cond);
	/* Unavailable at once, so nothing more is routed to this stream
	 * while it closes. */
	presence_session_gone(s);
	s->state = SS_CLOSING;
	if (s->conn)
		conn_close(s->conn);
}

void
session_close(struct session *s)
{
	if (s->conn == NULL || s->state == SS_CLOSING)
		return;
	session_send_raw(s, "</stream:stream>", 16);
	presence_session_gone(s);
	s->state = SS_CLOSING;
	if (s->conn)
		conn_close(s->conn);
}

static void
sess_on_data(struct conn *c, void *arg, const char *data, size_t len)
{
	struct session *s = arg;
	size_t off = 0, used;
	int rc;

	while (off < len && s->state != SS_CLOSING && s->conn != NULL) {
		rc = xml_stream_feed(s->xs, data + off, len - off, &used);
		off += used;
		if (rc == L_OK)
			continue;
		if (rc == L_AGAIN) {
			bool tls_restart = s->starttls;

			if (!s->restart)
				continue;
			s->restart = false;
			s->starttls = false;
			s->header_sent = false;
			if (xml_stream_reset(s->xs) != L_OK) {
				session_stream_error(s,
				    "internal-server-error", NULL);
				return;
			}
			/* After STARTTLS the rest of this plaintext chunk is
			 * discarded (RFC 6120 5.4.3.3). */
			if (tls_restart)
				return;
			continue;
		}
		slog_info(s->id, "XML error: %s",
		    xml_stream_error_text(s->xs));
		session_stream_error(s,
		    xml_stream_err_name(xml_stream_error(s->xs)), NULL);
		return;
	}
}

/*
 * The channel binding of this connection for SCRAM-PLUS, copied into the
 * session (env borrows it), or none: not TLS yet, turned off, or OpenSSL
 * could not give it (then only the plain SCRAM rows are offered, and a
 * client's 'y' flag is accepted, which is right: we cannot bind).
 */
static void
sasl_env_set_cb(struct session *s, struct sasl_env *env)
{
	const char *type = NULL;
	size_t len = 0;

	env->cb_type = NULL;
	env->cb_data = NULL;
	env->cb_len = 0;
	if (!s->srv->cfg->sasl_channel_binding || s->conn == NULL)
		return;
	if (conn_tls_channel_binding(s->conn, &type, s->sasl_cb,
	    sizeof s->sasl_cb, &len) != L_OK || len == 0) {
		slog_debug(s->id, "no channel binding on this connection");
		return;
	}
	env->cb_type = type;
	env->cb_data = s->sasl_cb;
	env->cb_len = len;
}

static void
send_features(struct session *s)
{
	struct buf b;
	const char *names[SASL_MECHS_MAX];
	size_t n;

	buf_init(&b, 0);
	buf_append_str(&b, "<stream:features>");
	if (!s->tls) {
		buf_appendf(&b, "<starttls xmlns='%s'><required/></starttls>",
		    XMLNS_TLS);
	} else if (!s->authed) {
		struct sasl_env *env = &s->sasl_env_storage;

		env->domain = s->srv->cfg->domain;
		env->is_tls = true;
		env->has_cert = false;
		sasl_env_set_cb(s, env);
		n = sasl_mechs_offer(env, names, SASL_MECHS_MAX);
		buf_appendf(&b, "<mechanisms xmlns='%s'>", XMLNS_SASL);
		for (size_t i = 0; i < n; i++)
			buf_appendf(&b, "<mechanism>%s</mechanism>", names[i]);
		buf_append_str(&b, "</mechanisms>");
		/* XEP-0440: which binding the -PLUS rows use, so a client
		 * need not guess from the TLS version. */
		if (env->cb_type != NULL)
			buf_appendf(&b, "<sasl-channel-binding xmlns='%s'>"
			    "<channel-binding type='%s'/>"
			    "</sasl-channel-binding>", XMLNS_SASL_CB,
			    env->cb_type);
		if (s->srv->cfg->registration)
			buf_appendf(&b, "<register xmlns='%s'/>",
			    XMLNS_REGISTER_FEATURE);
	} else {
		buf_appendf(&b, "<bind xmlns='%s'/>"
		    "<session xmlns='%s'><optional/></session>",
		    XMLNS_BIND, XMLNS_SESSION);
	}
	buf_append_str(&b, "</stream:features>");
	if (b.data)
		session_send_raw(s, b.data, b.len);
	buf_cleanup(&b);
}

static void
xs_stream_start(void *ctx, const struct xml_node *el, const char *default_ns)
{
	struct session *s = ctx;
	const char *to = xml_attr(el, "to");
	const char *ver = xml_attr(el, "version");

	if (strcmp(default_ns, XMLNS_CLIENT) != 0) {
		session_stream_error(s, "invalid-namespace", NULL);
		return;
	}
	if (to != NULL && !server_is_local_domain(s->srv, to)) {
		session_stream_error(s, "host-unknown", NULL);
		return;
	}
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		session_stream_error(s, "unsupported-version", NULL);
		return;
	}
	send_header(s);
	if (s->state == SS_STREAM)
		s->state = SS_OPEN;
	send_features(s);
}

static void
xs_stream_end(void *ctx)
{
	session_close(ctx);
}

static void
send_sasl(struct session *s, const char *el, const struct buf *payload)
{
	struct buf b;

	buf_init(&b, 0);
	buf_appendf(&b, "<%s xmlns='%s'>", el, XMLNS_SASL);
	if (payload != NULL && payload->len > 0)
		sasl_b64_encode((const unsigned char *)payload->data,
		    payload->len, &b);
	else if (strcmp(el, "challenge") == 0)
		buf_append_str(&b, "=");
	buf_appendf(&b, "</%s>", el);
	if (b.data)
		session_send_raw(s, b.data, b.len);
	buf_cleanup(&b);
}

static void
send_sasl_failure(struct session *s, const char *cond)
{
	char buf[256];

	snprintf(buf, sizeof buf, "<failure xmlns='%s'><%s/></failure>",
	    XMLNS_SASL, cond ? cond : "not-authorized");
	session_send_raw(s, buf, strlen(buf));
}

/* ---- throttling (authlimit.h) ---- */

/* The key this session's address is counted under. */
static const char *
sess_addr(const struct session *s, char *buf, size_t n)
{
	return authlimit_addr_key(s->conn ? conn_peer_addr(s->conn) : "",
	    buf, n);
}

/* Ends the stream after a SASL failure when the budget is spent. */
static void
sasl_close_policy(struct session *s, const char *why)
{
	slog_info(s->id, "closing the stream: %s", why);
	session_stream_error(s, "policy-violation", why);
}

/*
 * A SASL failure: sent now, and the stream ended when this stream has
 * failed auth_fail_per_stream times or the failure blocked the address
 * (`close`).  Every failure counts for the stream, a credential failure
 * also for the address and account (authlimit_failure, before this).
 */
static void
sasl_fail_send(struct session *s, const char *cond, bool close)
{
	send_sasl_failure(s, cond);
	s->auth_failures++;
	if (close)
		sasl_close_policy(s, "authentication blocked");
	else if (s->auth_failures >= s->srv->cfg->auth_fail_per_stream)
		sasl_close_policy(s, "too many failed authentication attempts");
}

/* Refuses an attempt that a block covers: temporary-auth-failure (RFC
 * 6120 6.5.11), then the stream ends. */
static void
sasl_refuse_blocked(struct session *s, const char *addr, const char *acct,
    int verdict, uint64_t until_ms)
{
	uint64_t now = ev_now_ms(s->srv->loop);

	slog_warnx(s->id, "authentication refused: %s %s is blocked for "
	    "%llu s more (account %s)", verdict == AL_BLOCKED_ADDR ?
	    "address" : "account, from address", addr,
	    (unsigned long long)((until_ms > now ? until_ms - now : 0) + 999)
	    / 1000, acct ? acct : "(not given yet)");
	send_sasl_failure(s, "temporary-auth-failure");
	s->auth_failures++;
	sasl_close_policy(s, "authentication blocked");
}

/* An answer held back by the failure delay: sent by its timer. */
struct sasl_wait {
	struct session *s;
	uint64_t timer;
	int r;				/* SASL_SUCCESS or SASL_FAILURE */
	bool close;			/* end the stream after a failure */
	char cond[64];
	struct buf out;			/* success data ("v=...") */
};

static void
sasl_wait_free(struct session *s)
{
	struct sasl_wait *w = s->sasl_wait;

	if (w == NULL)
		return;
	if (w->timer != 0)
		ev_timer_cancel(s->srv->loop, w->timer);
	l_wipe(w->out.data, w->out.cap);
	buf_cleanup(&w->out);
	free(w);
	s->sasl_wait = NULL;
}

static void sasl_finish(struct session *s, int r, struct buf *out,
    const char *cond, bool close);

static void
sasl_wait_fire(struct ev_loop *loop, void *arg)
{
	struct sasl_wait *w = arg;
	struct session *s = w->s;

	(void)loop;
	w->timer = 0;
	s->sasl_wait = NULL;
	if (s->conn != NULL && s->state != SS_CLOSING) {
		conn_resume_read(s->conn);
		sasl_finish(s, w->r, &w->out, w->cond, w->close);
	}
	l_wipe(w->out.data, w->out.cap);
	buf_cleanup(&w->out);
	free(w);
}

/*
 * Holds the answer `r` for delay_ms without blocking the loop: no input is
 * read meanwhile, and the loop's timer sends it.  Falls back to answering
 * at once when out of memory.
 */
static void
sasl_hold(struct session *s, uint64_t delay_ms, int r, struct buf *out,
    const char *cond, bool close)
{
	struct sasl_wait *w = calloc(1, sizeof *w);

	if (w == NULL)
		goto now;
	w->s = s;
	w->r = r;
	w->close = close;
	snprintf(w->cond, sizeof w->cond, "%s", cond ? cond : "");
	buf_init(&w->out, 0);
	if ((out->len > 0 && buf_append(&w->out, out->data, out->len) != 0) ||
	    (w->timer = ev_timer_add(s->srv->loop, delay_ms, sasl_wait_fire,
	    w)) == 0) {
		buf_cleanup(&w->out);
		free(w);
		goto now;
	}
	s->sasl_wait = w;
	conn_pause_read(s->conn);
	slog_debug(s->id, "SASL answer held for %llu ms",
	    (unsigned long long)delay_ms);
	return;
now:
	sasl_finish(s, r, out, cond, close);
}

/* Sends the outcome of an exchange and frees it. */
static void
sasl_finish(struct session *s, int r, struct buf *out, const char *cond,
    bool close)
{
	struct server *srv = s->srv;

	if (r == SASL_SUCCESS && s->sasl != NULL) {
		free(s->username);
		s->username = l_strdup(sasl_username(s->sasl));
		if (s->username == NULL) {
			session_stream_error(s, "internal-server-error", NULL);
			goto done;
		}
		slog_info(s->id, "authenticated %s@%s with %s", s->username,
		    srv->cfg->domain, sasl_mech_name(s->sasl));
		send_sasl(s, "success", out);
		s->authed = true;
		s->state = SS_AUTHED;
		s->restart = true;
		xml_stream_stop(s->xs);
		goto done;
	}
	sasl_fail_send(s, cond[0] ? cond : "not-authorized", close);
done:
	sasl_free(s->sasl);
	s->sasl = NULL;
}

static void sasl_handle_result(struct session *s, int r, struct buf *out);

struct creds_req {
	uint64_t sid;
	struct server *srv;
};

static void
creds_done(void *arg, int rc, struct store_cred *cred)
{
	struct creds_req *req = arg;
	struct session *s = session_by_id(req->srv, req->sid);
	struct scram_creds sc;
	struct buf out;
	int r;

	free(req);
	if (s != NULL)
		s->sasl_pending = false;
	if (s == NULL || s->sasl == NULL || s->conn == NULL) {
		store_cred_free(cred);
		return;
	}
	conn_resume_read(s->conn);
	if (rc == L_OK && cred != NULL) {
		memset(&sc, 0, sizeof sc);
		sc.hash = strcmp(cred->mech, "SCRAM-SHA-1") == 0 ?
		    SCRAM_SHA1 : SCRAM_SHA256;
		sc.salt_len = cred->salt_len > SCRAM_SALT_MAX ?
		    SCRAM_SALT_MAX : cred->salt_len;
		memcpy(sc.salt, cred->salt, sc.salt_len);
		sc.iterations = cred->iterations;
		sc.key_len = cred->key_len > SCRAM_KEY_MAX ? SCRAM_KEY_MAX :
		    cred->key_len;
		memcpy(sc.stored_key, cred->stored_key, sc.key_len);
		memcpy(sc.server_key, cred->server_key, sc.key_len);
		sasl_set_creds(s->sasl, &sc);
		scram_creds_wipe(&sc);
	} else {
		if (rc != L_ERR_NOTFOUND)
			sasl_set_store_error(s->sasl);
		sasl_set_creds(s->sasl, NULL);
	}
	store_cred_free(cred);
	buf_init(&out, 0);
	r = sasl_step(s->sasl, NULL, 0, &out);
	sasl_handle_result(s, r, &out);
	l_wipe(out.data, out.cap);
	buf_cleanup(&out);
}

static void
sasl_handle_result(struct session *s, int r, struct buf *out)
{
	struct server *srv = s->srv;
	char bare[JID_FORMAT_MAX + 1], addr[80];
	struct authlimit_outcome o;
	struct creds_req *req;
	const char *mech, *acct, *cond;
	uint64_t until = 0, delay, now = ev_now_ms(srv->loop);
	int v;

	switch (r) {
	case SASL_CONTINUE:
		send_sasl(s, "challenge", out);
		return;
	case SASL_NEED_CREDS:
		/* The account is known now: is it blocked for this
		 * address?  Checked before any credential work. */
		acct = sasl_authcid(s->sasl);
		v = authlimit_check(srv->authlimit, sess_addr(s, addr,
		    sizeof addr), acct, now, &until);
		if (v != AL_ALLOW) {
			sasl_refuse_blocked(s, addr, acct, v, until);
			goto done;
		}
		snprintf(bare, sizeof bare, "%s@%s", acct, srv->cfg->domain);
		mech = sasl_creds_hash(s->sasl) == SCRAM_SHA1 ?
		    "SCRAM-SHA-1" : "SCRAM-SHA-256";
		req = malloc(sizeof *req);
		if (req == NULL) {
			sasl_fail_send(s, "temporary-auth-failure", false);
			goto done;
		}
		req->sid = s->id;
		req->srv = srv;
		conn_pause_read(s->conn);
		s->sasl_pending = true;
		if (store_user_get_creds(srv->store, bare, mech, creds_done,
		    req) != L_OK) {
			free(req);
			s->sasl_pending = false;
			conn_resume_read(s->conn);
			sasl_fail_send(s, "temporary-auth-failure", false);
			goto done;
		}
		return;
	case SASL_SUCCESS:
		acct = sasl_username(s->sasl);
		sess_addr(s, addr, sizeof addr);
		/* A success after failures is answered as late as a failure
		 * would be: the time of the answer tells nothing. */
		delay = authlimit_success_delay(srv->authlimit, addr, acct,
		    now);
		authlimit_success(srv->authlimit, addr, acct);
		if (delay > 0) {
			sasl_hold(s, delay, r, out, "", false);
			return;
		}
		sasl_finish(s, r, out, "", false);
		return;
	default:
		cond = sasl_condition(s->sasl);
		if (cond == NULL)
			cond = "not-authorized";
		acct = sasl_authcid(s->sasl);
		sess_addr(s, addr, sizeof addr);
		if (strcmp(cond, "not-authorized") != 0 || acct == NULL) {
			/* Malformed, or refused before any credential was
			 * looked at (a channel-binding type we do not have, a
			 * 'y' flag while we offer -PLUS): no password was
			 * tried, so it counts for this stream only. */
			slog_info(s->id, "authentication failed (%s) from %s "
			    "with %s, before any credential was checked", cond,
			    addr, sasl_mech_name(s->sasl));
			sasl_finish(s, r, out, cond, false);
			return;
		}
		authlimit_failure(srv->authlimit, addr, acct, now, &o);
		slog_info(s->id, "authentication failed for %s from %s with "
		    "%s (%u failures from the address, %u for the account)",
		    acct ? acct : "(no account)", addr,
		    sasl_mech_name(s->sasl), o.addr_failures,
		    o.account_failures);
		if (o.addr_blocked)
			slog_warnx(s->id, "blocking address %s for %u s after "
			    "%u failed logins (last account %s)", addr,
			    srv->cfg->auth_fail_block_s, o.addr_failures,
			    acct ? acct : "(none)");
		if (o.account_blocked)
			slog_warnx(s->id, "blocking account %s for %u s, for "
			    "the addresses that failed for it, after %u "
			    "failed logins (last from %s)", acct,
			    srv->cfg->auth_fail_block_s, o.account_failures,
			    addr);
		v = authlimit_check(srv->authlimit, addr, acct, now, NULL);
		if (o.delay_ms > 0) {
			sasl_hold(s, o.delay_ms, r, out, cond, v != AL_ALLOW);
			return;
		}
		sasl_finish(s, r, out, cond, v != AL_ALLOW);
		return;
	}
done:
	sasl_free(s->sasl);
	s->sasl = NULL;
}

static void
handle_sasl(struct session *s, struct xml_node *el)
{
	struct buf in, out;
	char *text = NULL, addr[80];
	uint64_t until = 0;
	int rc, r, v;

	if (s->sasl_wait != NULL || s->sasl_pending) {
		/* Sent before the answer to the previous one (RFC 6120
		 * 6.4): it must not get around the delay. */
		sasl_close_policy(s, "SASL element before the previous "
		    "answer");
		return;
	}
	if (xml_is(el, XMLNS_SASL, "abort")) {
		if (s->sasl != NULL) {
			sasl_free(s->sasl);
			s->sasl = NULL;
		}
		sasl_fail_send(s, "aborted", false);
		return;
	}
	if (xml_is(el, XMLNS_SASL, "auth")) {
		const char *mech = xml_attr(el, "mechanism");

		if (s->sasl != NULL) {
			sasl_free(s->sasl);
			s->sasl = NULL;
		}
		v = authlimit_check(s->srv->authlimit, sess_addr(s, addr,
		    sizeof addr), NULL, ev_now_ms(s->srv->loop), &until);
		if (v != AL_ALLOW) {
			sasl_refuse_blocked(s, addr, NULL, v, until);
			return;
		}
		if (mech == NULL) {
			sasl_fail_send(s, "invalid-mechanism", false);
			return;
		}
		s->sasl = sasl_new(mech, &s->sasl_env_storage, &rc);
		if (s->sasl == NULL) {
			sasl_fail_send(s, sasl_rc_condition(rc), false);
			return;
		}
	} else if (!xml_is(el, XMLNS_SASL, "response") || s->sasl == NULL) {
		session_stream_error(s, "policy-violation",
		    "unexpected SASL element");
		return;
	}
	text = xml_text(el);
	if (text == NULL) {
		session_stream_error(s, "internal-server-error", NULL);
		return;
	}
	buf_init(&in, 0);
	buf_init(&out, 0);
	if (text[0] == '\0' && xml_is(el, XMLNS_SASL, "auth")) {
		r = sasl_step(s->sasl, NULL, 0, &out);
	} else if ((rc = sasl_b64_decode(text, strlen(text), &in)) != L_OK) {
		sasl_free(s->sasl);
		s->sasl = NULL;
		sasl_fail_send(s, rc == L_ERR_LIMIT ? "malformed-request" :
		    "incorrect-encoding", false);
		goto out;
	} else {
		r = sasl_step(s->sasl, in.data ? (unsigned char *)in.data :
		    (const unsigned char *)"", in.len, &out);
	}
	sasl_handle_result(s, r, &out);
out:
	l_wipe(in.data, in.cap);
	l_wipe(out.data, out.cap);
	l_wipe(text, strlen(text));
	buf_cleanup(&in);
	buf_cleanup(&out);
	free(text);
}

static void
random_resource(char *out, size_t n)
{
	unsigned char rnd[8];

	RAND_bytes(rnd, sizeof rnd);
	snprintf(out, n, "liaison-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
	    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

struct bind_req {
	uint64_t sid;
	struct xml_node *iq;
};

static void
bind_req_free(void *arg)
{
	struct bind_req *br = arg;

	xml_node_free(br->iq);
	free(br);
}

/* The user's roster is loaded: link the session and answer the bind. */
static void
bind_finish(struct server *srv, struct user *u, void *arg)
{
	struct bind_req *br = arg;
	struct session *s = session_by_id(srv, br->sid), *old;
	struct xml_node *res, *bind;

	if (s == NULL || s->conn == NULL || s->state != SS_AUTHED)
		return;
	conn_resume_read(s->conn);
	/* Resource conflict: the newer session wins (RFC 6120 7.7.2.2). */
	old = session_find(srv, &s->jid);
	if (old != NULL && old != s) {
		slog_info(old->id, "replaced by a new session (conflict)");
		session_stream_error(old, "conflict", "Replaced by new connection");
		presence_session_gone(old);
		{
			struct session **pp = &u->sessions;

			while (*pp && *pp != old)
				pp = &(*pp)->next_res;
			if (*pp)
				*pp = old->next_res;
			u->nsessions--;
			old->user = NULL;
			server_user_release(srv, u);
		}
	}
	if (u->nsessions >= srv->cfg->resources_max) {
		session_reply_error(s, br->iq, "wait", "resource-constraint",
		    "too many sessions for this account");
		return;
	}
	s->user = u;
	s->next_res = u->sessions;
	u->sessions = s;
	u->nsessions++;
	s->state = SS_BOUND;
	if (s->auth_timer) {
		ev_timer_cancel(srv->loop, s->auth_timer);
		s->auth_timer = 0;
	}
	res = stanza_iq_result(br->iq);
	if (res == NULL)
		return;
	bind = xml_add_child(res, XMLNS_BIND, "bind");
	if (bind != NULL) {
		struct xml_node *j = xml_add_child(bind, XMLNS_BIND, "jid");

		if (j != NULL)
			xml_add_text(j, s->full, strlen(s->full));
	}
	session_send(s, res);
	xml_node_free(res);
	slog_info(s->id, "bound %s", s->full);
}

/* The policy layer has set the session's clearance: load the roster. */
static void
bind_policy_done(struct server *srv, uint64_t sid, void *arg)
{
	struct bind_req *br = arg;
	struct session *s = session_by_id(srv, sid);
	char bare[JID_FORMAT_MAX + 1];

	if (s == NULL || s->conn == NULL || s->state != SS_AUTHED) {
		bind_req_free(br);
		return;
	}
	jid_format(&s->jid, false, bare, sizeof bare);
	if (roster_with(srv, bare, bind_finish, br, bind_req_free) != L_OK) {
		conn_resume_read(s->conn);
		session_stream_error(s, "internal-server-error", NULL);
	}
}

static void
handle_bind(struct session *s, struct xml_node *iq)
{
	struct server *srv = s->srv;
	struct xml_node *bind = xml_child(iq, XMLNS_BIND, "bind");
	char *res = NULL, rnd[32], bare[JID_FORMAT_MAX + 1];
	struct bind_req *br;
	struct buf b;
	int rc;

	if (s->state == SS_BOUND) {
		session_reply_error(s, iq, "cancel", "not-allowed",
		    "resource already bound");
		xml_node_free(iq);
		return;
	}
	res = xml_child_text(bind, XMLNS_BIND, "resource");
	if (res == NULL || res[0] == '\0') {
		free(res);
		random_resource(rnd, sizeof rnd);
		res = l_strdup(rnd);
	}
	jid_cleanup(&s->jid);
	rc = res ? jid_make(s->username, srv->cfg->domain, res, &s->jid) :
	    L_ERR_NOMEM;
	free(res);
	if (rc != L_OK) {
		session_reply_error(s, iq, "modify", "bad-request",
		    "invalid resource");
		xml_node_free(iq);
		return;
	}
	buf_init(&b, 0);
	if (jid_full(&s->jid, &b) != L_OK) {
		buf_cleanup(&b);
		xml_node_free(iq);
		session_stream_error(s, "internal-server-error", NULL);
		return;
	}
	free(s->full);
	s->full = buf_steal(&b);
	jid_format(&s->jid, false, bare, sizeof bare);
	br = malloc(sizeof *br);
	if (br == NULL) {
		xml_node_free(iq);
		session_stream_error(s, "internal-server-error", NULL);
		return;
	}
	br->sid = s->id;
	br->iq = iq;
	/* No stanza is read until the bind is answered: the clearance and
	 * the roster must be in memory before anything is routed. */
	conn_pause_read(s->conn);
	if (srv->policy.bind != NULL)
		srv->policy.bind(srv->policy.ctx, s, bind_policy_done, br);
	else
		bind_policy_done(srv, s->id, br);
}

/* XEP-0077 before authentication: register a new account. */
static void register_preauth(struct session *s, struct xml_node *iq);

static void
xs_element(void *ctx, struct xml_node *el)
{
	struct session *s = ctx;

	if (s->state == SS_CLOSING || s->conn == NULL)
		goto drop;
	s->srv->stats_stanzas_in++;
	if (!s->tls) {
		if (xml_is(el, XMLNS_TLS, "starttls")) {
			static const char proceed[] =
			    "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

			session_send_raw(s, proceed, sizeof proceed - 1);
			if (conn_starttls(s->conn, s->srv->tls) != L_OK) {
				s->state = SS_CLOSING;
				conn_abort(s->conn);
				goto drop;
			}
			/* The TLS handshake happens in the net layer; mark the
			 * session as TLS now so the next header gets the
			 * authentication features. */
			s->tls = true;
			s->restart = true;
			s->starttls = true;
			xml_stream_stop(s->xs);
			goto drop;
		}
		if (xml_is(el, XMLNS_SASL, "auth")) {
			send_sasl_failure(s, "encryption-required");
			goto drop;
		}
		session_stream_error(s, "not-authorized",
		    "STARTTLS is required");
		goto drop;
	}
	if (!s->authed) {
		if (el->ns != NULL && strcmp(el->ns, XMLNS_SASL) == 0) {
			handle_sasl(s, el);
			goto drop;
		}
		if (s->srv->cfg->registration && xml_is(el, XMLNS_CLIENT, "iq")
		    && xml_child(el, XMLNS_REGISTER, "query") != NULL) {
			register_preauth(s, el);
			return;
		}
		if (xml_is(el, XMLNS_TLS, "starttls")) {
			session_stream_error(s, "policy-violation",
			    "TLS is already established");
			goto drop;
		}
		session_stream_error(s, "not-authorized", NULL);
		goto drop;
	}
	if (el->ns == NULL || strcmp(el->ns, XMLNS_CLIENT) != 0 ||
	    (strcmp(el->name, "message") != 0 &&
	    strcmp(el->name, "presence") != 0 &&
	    strcmp(el->name, "iq") != 0)) {
		session_stream_error(s, "unsupported-stanza-type", NULL);
		goto drop;
	}
	if (s->state != SS_BOUND) {
		if (xml_is(el, XMLNS_CLIENT, "iq") &&
		    xml_child(el, XMLNS_BIND, "bind") != NULL &&
		    xml_attr(el, "type") != NULL &&
		    strcmp(xml_attr(el, "type"), "set") == 0) {
			handle_bind(s, el);
			return;
		}
		if (xml_is(el, XMLNS_CLIENT, "iq") &&
		    xml_child(el, XMLNS_SESSION, "session") != NULL) {
			struct xml_node *r = stanza_iq_result(el);

			if (r) {
				session_send(s, r);
				xml_node_free(r);
			}
			goto drop;
		}
		session_stream_error(s, "not-authorized",
		    "bind a resource first");
		goto drop;
	}
	router_from_session(s, el);
	router_stanza_done(s->srv);
	return;
drop:
	xml_node_free(el);
}

/* ---- XEP-0077 in-band registration (off unless configured) ---- */

struct reg_req {
	uint64_t sid;
	struct server *srv;
	struct xml_node *iq;
};

/* An error reply straight to this session: before binding there is no
 * address to route it to. */
static void
session_reply_error(struct session *s, const struct xml_node *st,
    const char *type, const char *cond, const char *text)
{
	struct xml_node *r = stanza_error_reply(st, type, cond, text);

	if (r != NULL) {
		session_send(s, r);
		xml_node_free(r);
	}
}

static void
reg_done(void *arg, int rc)
{
	struct reg_req *rr = arg;
	struct session *s = session_by_id(rr->srv, rr->sid);

	if (s != NULL && s->conn != NULL) {
		if (rc == L_OK) {
			struct xml_node *r = stanza_iq_result(rr->iq);

			if (r) {
				session_send(s, r);
				xml_node_free(r);
			}
		} else if (rc == L_ERR_EXISTS) {
			session_reply_error(s, rr->iq, "cancel", "conflict",
			    NULL);
		} else {
			session_reply_error(s, rr->iq, "wait",
			    "internal-server-error", NULL);
		}
	}
	xml_node_free(rr->iq);
	free(rr);
}

int
server_make_creds(const char *password, struct store_cred *creds)
{
	static const int hashes[2] = { SCRAM_SHA1, SCRAM_SHA256 };
	struct scram_creds sc;
	int rc;

	for (int i = 0; i < 2; i++) {
		rc = scram_creds_make(hashes[i], password, 0, &sc);
		if (rc != L_OK)
			return rc;
		memset(&creds[i], 0, sizeof creds[i]);
		snprintf(creds[i].mech, sizeof creds[i].mech, "%s",
		    scram_hash_mech(hashes[i]));
		memcpy(creds[i].salt, sc.salt, sc.salt_len);
		creds[i].salt_len = sc.salt_len;
		creds[i].iterations = sc.iterations;
		memcpy(creds[i].stored_key, sc.stored_key, sc.key_len);
		memcpy(creds[i].server_key, sc.server_key, sc.key_len);
		creds[i].key_len = sc.key_len;
		scram_creds_wipe(&sc);
	}
	return L_OK;
}

static void
register_preauth(struct session *s, struct xml_node *iq)
{
	struct server *srv = s->srv;
	const char *type = xml_attr(iq, "type");
	struct xml_node *q = xml_child(iq, XMLNS_REGISTER, "query"), *r;
	char *user = NULL, *pass = NULL, *node = NULL;
	char bare[JID_FORMAT_MAX + 1];
	struct store_cred creds[2];
	struct reg_req *rr;

	if (type != NULL && strcmp(type, "get") == 0) {
		r = stanza_iq_result(iq);
		if (r) {
			struct xml_node *rq = xml_add_child(r, XMLNS_REGISTER,
			    "query");

			if (rq) {
				struct xml_node *in = xml_add_child(rq,
				    XMLNS_REGISTER, "instructions");

				if (in)
					xml_add_text(in, "Choose a username "
					    "and password.", 31);
				xml_add_child(rq, XMLNS_REGISTER, "username");
				xml_add_child(rq, XMLNS_REGISTER, "password");
			}
			session_send(s, r);
			xml_node_free(r);
		}
		goto out;
	}
	if (type == NULL || strcmp(type, "set") != 0) {
		session_reply_error(s, iq, "modify", "bad-request", NULL);
		goto out;
	}
	user = xml_child_text(q, XMLNS_REGISTER, "username");
	pass = xml_child_text(q, XMLNS_REGISTER, "password");
	if (user == NULL || pass == NULL || pass[0] == '\0' ||
	    jid_prep_node(user, &node) != L_OK) {
		session_reply_error(s, iq, "modify", "not-acceptable", NULL);
		goto out;
	}
	snprintf(bare, sizeof bare, "%s@%s", node, srv->cfg->domain);
	if (server_make_creds(pass, creds) != L_OK) {
		session_reply_error(s, iq, "modify", "not-acceptable", NULL);
		goto out;
	}
	rr = malloc(sizeof *rr);
	if (rr == NULL) {
		l_wipe(creds, sizeof creds);
		goto out;
	}
	rr->sid = s->id;
	rr->srv = srv;
	rr->iq = iq;
	iq = NULL;
	if (store_user_create(srv->store, bare, creds, 2, reg_done, rr) !=
	    L_OK) {
		iq = rr->iq;
		free(rr);
		session_reply_error(s, iq, "wait", "internal-server-error", NULL);
	}
	l_wipe(creds, sizeof creds);
out:
	if (pass != NULL)
		l_wipe(pass, strlen(pass));
	free(pass);
	free(user);
	free(node);
	xml_node_free(iq);
}
