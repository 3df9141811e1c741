/*
 * IQs answered by the server itself: service discovery (XEP-0030), ping
 * (XEP-0199), software version (XEP-0092), entity time (XEP-0202),
 * carbons (XEP-0280), legacy session establishment, the roster, and
 * in-band password change and cancellation (XEP-0077) when enabled.
 */
#include "xmpp/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "store/store.h"

static void
reply(struct session *s, struct xml_node *res)
{
	if (res != NULL) {
		session_send(s, res);
		xml_node_free(res);
	}
}

static struct xml_node *
add_text_child(struct xml_node *parent, const char *name, const char *text)
{
	struct xml_node *c = xml_add_child(parent, parent->ns, name);

	if (c != NULL)
		xml_add_text(c, text, strlen(text));
	return c;
}

static void
add_feature(struct xml_node *q, const char *var)
{
	struct xml_node *f = xml_add_child(q, XMLNS_DISCO_INFO, "feature");

	if (f != NULL)
		xml_set_attr(f, "var", var);
}

static void
disco_info_server(struct session *s, struct xml_node *iq,
    struct xml_node *query)
{
	struct server *srv = s->srv;
	struct xml_node *res = stanza_iq_result(iq), *q, *id;
	const char *node = xml_attr(query, "node");

	if (node != NULL) {
		router_bounce(srv, iq, "cancel", "item-not-found", NULL);
		return;
	}
	if (res == NULL || (q = xml_add_child(res, XMLNS_DISCO_INFO,
	    "query")) == NULL)
		goto out;
	id = xml_add_child(q, XMLNS_DISCO_INFO, "identity");
	if (id != NULL) {
		xml_set_attr(id, "category", "server");
		xml_set_attr(id, "type", "im");
		xml_set_attr(id, "name", srv->cfg->server_name);
	}
	add_feature(q, XMLNS_DISCO_INFO);
	add_feature(q, XMLNS_DISCO_ITEMS);
	add_feature(q, XMLNS_PING);
	add_feature(q, XMLNS_VERSION);
	add_feature(q, XMLNS_TIME);
	add_feature(q, XMLNS_CARBONS);
	add_feature(q, "msgoffline");
	add_feature(q, "urn:xmpp:delay");
	if (srv->cfg->registration)
		add_feature(q, XMLNS_REGISTER);
	if (srv->labels_enabled) {
		add_feature(q, XMLNS_SECLABEL);
		add_feature(q, XMLNS_SECLABEL_CATALOG);
	}
	reply(s, res);
	return;
out:
	xml_node_free(res);
}

static void
simple_query_result(struct session *s, struct xml_node *iq, const char *ns)
{
	struct xml_node *res = stanza_iq_result(iq);

	if (res != NULL && xml_add_child(res, ns, "query") == NULL) {
		xml_node_free(res);
		return;
	}
	reply(s, res);
}

static void
version_result(struct session *s, struct xml_node *iq)
{
	struct xml_node *res = stanza_iq_result(iq), *q;
	struct utsname un;

	if (res == NULL)
		return;
	q = xml_add_child(res, XMLNS_VERSION, "query");
	if (q != NULL) {
		add_text_child(q, "name", s->srv->cfg->server_name);
		add_text_child(q, "version", LIAISON_VERSION);
		if (uname(&un) == 0)
			add_text_child(q, "os", un.sysname);
	}
	reply(s, res);
}

static void
time_result(struct session *s, struct xml_node *iq)
{
	struct xml_node *res = stanza_iq_result(iq), *t;
	char ts[32];

	if (res == NULL)
		return;
	time_format_xep82(time_real_us(), ts);
	t = xml_add_child(res, XMLNS_TIME, "time");
	if (t != NULL) {
		add_text_child(t, "tzo", "+00:00");
		add_text_child(t, "utc", ts);
	}
	reply(s, res);
}

struct pw_req {
	struct server *srv;
	uint64_t sid;
	struct xml_node *iq;
	bool cancel;
};

static void
pw_done(void *arg, int rc)
{
	struct pw_req *p = arg;
	struct session *s = session_by_id(p->srv, p->sid);

	if (s != NULL) {
		if (rc == L_OK) {
			reply(s, stanza_iq_result(p->iq));
			if (p->cancel)
				session_stream_error(s, "not-authorized",
				    "account removed");
		} else {
			router_bounce(p->srv, p->iq, "wait",
			    "internal-server-error", NULL);
		}
	}
	xml_node_free(p->iq);
	free(p);
}

/* XEP-0077 for an authenticated user: change password or cancel. */
static void
register_authed(struct session *s, struct xml_node *iq,
    struct xml_node *q)
{
	struct server *srv = s->srv;
	const char *type = xml_attr(iq, "type");
	struct store_cred creds[2];
	struct pw_req *p;
	char *pass;
	int rc;

	if (type == NULL || strcmp(type, "set") != 0) {
		struct xml_node *res = stanza_iq_result(iq), *rq;

		if (res != NULL && (rq = xml_add_child(res, XMLNS_REGISTER,
		    "query")) != NULL) {
			xml_add_child(rq, XMLNS_REGISTER, "registered");
			add_text_child(rq, "username", s->username);
		}
		reply(s, res);
		xml_node_free(iq);
		return;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL) {
		xml_node_free(iq);
		return;
	}
	p->srv = srv;
	p->sid = s->id;
	p->iq = iq;
	if (xml_child(q, XMLNS_REGISTER, "remove") != NULL) {
		p->cancel = true;
		rc = store_user_delete(srv->store, s->user->bare, pw_done, p);
	} else {
		pass = xml_child_text(q, XMLNS_REGISTER, "password");
		if (pass == NULL || pass[0] == '\0' ||
		    server_make_creds(pass, creds) != L_OK) {
			free(pass);
			router_bounce(srv, iq, "modify", "not-acceptable",
			    NULL);
			xml_node_free(iq);
			free(p);
			return;
		}
		l_wipe(pass, strlen(pass));
		free(pass);
		rc = store_user_set_creds(srv->store, s->user->bare, creds, 2,
		    pw_done, p);
		l_wipe(creds, sizeof creds);
	}
	if (rc != L_OK) {
		router_bounce(srv, iq, "wait", "internal-server-error", NULL);
		xml_node_free(iq);
		free(p);
	}
}

int
iq_check(const struct xml_node *iq, const char **why)
{
	const char *type = xml_attr(iq, "type");
	const char *id = xml_attr(iq, "id");
	bool request;
	size_t n = 0;

	*why = NULL;
	if (type == NULL || (strcmp(type, "get") != 0 &&
	    strcmp(type, "set") != 0 && strcmp(type, "result") != 0 &&
	    strcmp(type, "error") != 0)) {
		*why = "invalid or missing IQ type";
		return IQ_BAD;
	}
	request = type[0] == 'g' || type[0] == 's';
	if (id == NULL) {
		/* A response without an id answers nothing; an error is never
		 * answered with another error. */
		if (!request)
			return IQ_DROP;
		*why = "missing required 'id' attribute";
		return IQ_BAD;
	}
	if (!request)
		return IQ_OK;
	/* An XEP-0258 label rides along the payload; it is not one. */
	for (const struct xml_node *c = iq->first; c != NULL; c = c->next)
		if (c->type == XML_NODE_ELEM &&
		    !xml_is(c, XMLNS_SECLABEL, "securitylabel"))
			n++;
	if (n != 1) {
		*why = "an IQ request has exactly one payload element";
		return IQ_BAD;
	}
	return IQ_OK;
}

/* Returns true if handled (the iq is then consumed or freed). */
static bool
common_iq(struct session *s, struct xml_node *iq, const char *type)
{
	struct xml_node *q;

	if ((q = xml_child(iq, XMLNS_ROSTER, "query")) != NULL) {
		roster_handle_iq(s, iq);
		xml_node_free(iq);
		return true;
	}
	if (strcmp(type, "set") == 0 &&
	    ((q = xml_child(iq, XMLNS_CARBONS, "enable")) != NULL ||
	    (q = xml_child(iq, XMLNS_CARBONS, "disable")) != NULL)) {
		s->carbons = strcmp(q->name, "enable") == 0;
		reply(s, stanza_iq_result(iq));
		xml_node_free(iq);
		return true;
	}
	if (strcmp(type, "get") == 0 &&
	    xml_child(iq, XMLNS_PING, "ping") != NULL) {
		reply(s, stanza_iq_result(iq));
		xml_node_free(iq);
		return true;
	}
	if (s->srv->cfg->registration &&
	    (q = xml_child(iq, XMLNS_REGISTER, "query")) != NULL) {
		register_authed(s, iq, q);
		return true;
	}
	return false;
}

void
iq_handle_server(struct session *s, struct xml_node *iq)
{
	const char *type = xml_attr(iq, "type");
	struct xml_node *q;

	if (type == NULL || (strcmp(type, "get") != 0 &&
	    strcmp(type, "set") != 0)) {
		/* Results and errors addressed to the server end here. */
		xml_node_free(iq);
		return;
	}
	if (common_iq(s, iq, type))
		return;
	if (strcmp(type, "get") == 0) {
		if (s->srv->labels_enabled &&
		    xml_child(iq, XMLNS_SECLABEL_CATALOG, "catalog") != NULL) {
			struct xml_node *r = s->srv->policy.catalog(
			    s->srv->policy.ctx, s, iq);

			if (r != NULL)
				reply(s, r);
			else
				router_bounce(s->srv, iq, "wait",
				    "internal-server-error", NULL);
			goto done;
		}
		if ((q = xml_child(iq, XMLNS_DISCO_INFO, "query")) != NULL) {
			disco_info_server(s, iq, q);
			goto done;
		}
		if (xml_child(iq, XMLNS_DISCO_ITEMS, "query") != NULL) {
			simple_query_result(s, iq, XMLNS_DISCO_ITEMS);
			goto done;
		}
		if (xml_child(iq, XMLNS_VERSION, "query") != NULL) {
			version_result(s, iq);
			goto done;
		}
		if (xml_child(iq, XMLNS_TIME, "time") != NULL) {
			time_result(s, iq);
			goto done;
		}
	} else if (xml_child(iq, XMLNS_SESSION, "session") != NULL) {
		reply(s, stanza_iq_result(iq));
		goto done;
	}
	router_bounce(s->srv, iq, "cancel", "service-unavailable", NULL);
done:
	xml_node_free(iq);
}

void
iq_handle_account(struct session *s, struct xml_node *iq)
{
	const char *type = xml_attr(iq, "type");
	struct xml_node *res, *q, *id;

	if (type == NULL || (strcmp(type, "get") != 0 &&
	    strcmp(type, "set") != 0)) {
		xml_node_free(iq);
		return;
	}
	if (common_iq(s, iq, type))
		return;
	if (strcmp(type, "get") == 0 &&
	    xml_child(iq, XMLNS_DISCO_INFO, "query") != NULL) {
		res = stanza_iq_result(iq);
		if (res != NULL && (q = xml_add_child(res, XMLNS_DISCO_INFO,
		    "query")) != NULL) {
			id = xml_add_child(q, XMLNS_DISCO_INFO, "identity");
			if (id != NULL) {
				xml_set_attr(id, "category", "account");
				xml_set_attr(id, "type", "registered");
			}
			add_feature(q, XMLNS_DISCO_INFO);
		}
		reply(s, res);
		xml_node_free(iq);
		return;
	}
	router_bounce(s->srv, iq, "cancel", "service-unavailable", NULL);
	xml_node_free(iq);
}
