/*
 * The router: RFC 6121 §8 delivery rules for message, presence and iq
 * between local sessions, the offline store and the server itself, and
 * XEP-0280 carbon copies.  Every delivery to a session goes through
 * router_deliver_session and every offline write through offline_store:
 * the two places where the policy layer's deliver check runs.
 */
#include "xmpp/server.h"

#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/log.h"

bool
server_is_local_domain(const struct server *srv, const char *domain)
{
	return strcmp(domain, srv->cfg->domain) == 0;
}

void
router_bounce(struct server *srv, const struct xml_node *st,
    const char *type, const char *cond, const char *text)
{
	struct xml_node *r;
	const char *t = xml_attr(st, "type");

	if (t != NULL && (strcmp(t, "error") == 0 || strcmp(t, "result") == 0))
		return;
	if (xml_attr(st, "from") == NULL)
		return;
	r = stanza_error_reply(st, type, cond, text);
	if (r == NULL)
		return;
	/* An error from a missing address is stamped as coming from the
	 * server itself. */
	if (xml_attr(r, "from") == NULL)
		xml_set_attr(r, "from", srv->cfg->domain);
	router_route(srv, r);
}

void
router_stanza_done(struct server *srv)
{
	if (srv->policy.stanza_done != NULL)
		srv->policy.stanza_done(srv->policy.ctx);
}

int
router_deliver_session_at(struct server *srv, struct session *to,
    const struct xml_node *st, enum xmpp_point point)
{
	struct stanza_err err = { "cancel", "forbidden", NULL };

	if (to->state != SS_BOUND || to->conn == NULL)
		return L_ERR_CLOSED;
	if (srv->policy.deliver != NULL && srv->policy.deliver(
	    srv->policy.ctx, to, NULL, st, point, &err) != 0)
		return L_ERR_DENIED;
	return session_send(to, st);
}

int
router_deliver_session(struct server *srv, struct session *to,
    const struct xml_node *st)
{
	return router_deliver_session_at(srv, to, st, XP_DELIVER);
}

static bool
is_carbon_eligible(const struct xml_node *msg)
{
	const char *t = xml_attr(msg, "type");

	if (t == NULL || strcmp(t, "chat") != 0)
		return false;
	if (xml_child(msg, XMLNS_CARBONS, "private") != NULL ||
	    xml_child(msg, "urn:xmpp:hints", "no-copy") != NULL)
		return false;
	return true;
}

/* Wraps msg as <message><DIR xmlns=carbons><forwarded>msg</forwarded>. */
static struct xml_node *
carbon_wrap(struct server *srv, const char *dir, const char *bare,
    const char *to_full, const struct xml_node *msg)
{
	struct xml_node *w = xml_elem_new(XMLNS_CLIENT, "message");
	struct xml_node *d, *f, *copy;

	if (w == NULL)
		return NULL;
	if (xml_set_attr(w, "from", bare) != L_OK ||
	    xml_set_attr(w, "to", to_full) != L_OK ||
	    xml_set_attr(w, "type", "chat") != L_OK ||
	    (d = xml_add_child(w, XMLNS_CARBONS, dir)) == NULL ||
	    (f = xml_add_child(d, XMLNS_FORWARD, "forwarded")) == NULL ||
	    (copy = xml_node_copy(msg)) == NULL) {
		xml_node_free(w);
		return NULL;
	}
	xml_append(f, copy);
	(void)srv;
	return w;
}

void
carbons_copy_received(struct server *srv, struct user *u,
    struct session *except, const struct xml_node *msg)
{
	if (!is_carbon_eligible(msg))
		return;
	for (struct session *s = u->sessions; s; s = s->next_res) {
		struct xml_node *w;

		if (s == except || !s->carbons || !s->available)
			continue;
		w = carbon_wrap(srv, "received", u->bare, s->full, msg);
		if (w != NULL) {
			router_deliver_session(srv, s, w);
			xml_node_free(w);
		}
	}
}

void
carbons_copy_sent(struct session *from, const struct xml_node *msg)
{
	struct user *u = from->user;

	if (u == NULL || !is_carbon_eligible(msg))
		return;
	for (struct session *s = u->sessions; s; s = s->next_res) {
		struct xml_node *w;

		if (s == from || !s->carbons || !s->available)
			continue;
		w = carbon_wrap(from->srv, "sent", u->bare, s->full, msg);
		if (w != NULL) {
			router_deliver_session(from->srv, s, w);
			xml_node_free(w);
		}
	}
}

/* Message to a bare JID of a local user (RFC 6121 §8.5.2.1.1). */
static void
route_message_bare(struct server *srv, const char *bare, struct xml_node *st)
{
	const char *type = stanza_type(st);
	struct user *u = hmap_get(&srv->users, bare, strlen(bare));
	int best = -1;
	bool delivered = false;

	if (strcmp(type, "error") == 0)
		goto drop;
	if (strcmp(type, "groupchat") == 0) {
		router_bounce(srv, st, "cancel", "service-unavailable", NULL);
		goto drop;
	}
	/* Only sessions that can still receive count: one whose stream is
	 * closing must not take a message the others would get. */
	if (u != NULL)
		for (struct session *s = u->sessions; s; s = s->next_res)
			if (s->available && s->state == SS_BOUND &&
			    s->priority >= 0 && s->priority > best)
				best = s->priority;
	if (best < 0) {
		if (strcmp(type, "headline") == 0)
			goto drop;
		offline_store(srv, bare, st);
		return;
	}
	for (struct session *s = u->sessions; s; s = s->next_res) {
		if (!s->available || s->state != SS_BOUND || s->priority < 0)
			continue;
		/* Headlines go to every non-negative resource; chat and
		 * normal to those of the highest priority. */
		if (strcmp(type, "headline") != 0 && s->priority != best)
			continue;
		if (router_deliver_session(srv, s, st) == L_OK)
			delivered = true;
	}
	if (delivered) {
		/* Carbons for resources that did not get the original. */
		for (struct session *s = u->sessions; s; s = s->next_res) {
			struct xml_node *w;

			if (!s->carbons || !s->available ||
			    (s->priority == best && s->priority >= 0))
				continue;
			if (!is_carbon_eligible(st))
				break;
			w = carbon_wrap(srv, "received", u->bare, s->full, st);
			if (w != NULL) {
				router_deliver_session(srv, s, w);
				xml_node_free(w);
			}
		}
	} else {
		router_bounce(srv, st, "cancel", "forbidden", NULL);
	}
drop:
	xml_node_free(st);
}

/* Presence to a bare JID: subscription handling or broadcast to all
 * available resources. */
static void
route_presence_bare(struct server *srv, const char *bare,
    struct xml_node *st)
{
	struct user *u = hmap_get(&srv->users, bare, strlen(bare));
	const char *type = xml_attr(st, "type");

	if (type == NULL || strcmp(type, "unavailable") == 0 ||
	    strcmp(type, "error") == 0) {
		if (u != NULL)
			for (struct session *s = u->sessions; s;
			    s = s->next_res)
				if (s->available || (type && strcmp(type,
				    "error") == 0))
					router_deliver_session(srv, s, st);
	}
	/* Subscription and probe presence between local users is handled
	 * by roster.c and presence.c before it reaches the router. */
	xml_node_free(st);
}

void
router_route(struct server *srv, struct xml_node *st)
{
	const char *to = xml_attr(st, "to");
	char bare[JID_FORMAT_MAX + 1];
	struct jid j = { 0 };
	struct session *target;

	if (to == NULL || jid_parse(to, &j) != L_OK) {
		xml_node_free(st);
		return;
	}
	if (!server_is_local_domain(srv, j.domain)) {
		router_bounce(srv, st, "cancel", "remote-server-not-found",
		    "no federation to that domain");
		goto drop;
	}
	if (j.node == NULL) {
		/* Stanzas to the server itself that did not come from a
		 * session (errors, results) end here. */
		goto drop;
	}
	jid_format(&j, false, bare, sizeof bare);
	if (j.resource != NULL) {
		target = session_find(srv, &j);
		if (target != NULL && target->state == SS_BOUND) {
			if (router_deliver_session(srv, target, st) ==
			    L_ERR_DENIED)
				router_bounce(srv, st, "cancel", "forbidden",
				    NULL);
			else if (strcmp(st->name, "message") == 0 &&
			    target->user != NULL)
				carbons_copy_received(srv, target->user,
				    target, st);
			goto drop;
		}
		if (strcmp(st->name, "message") == 0) {
			const char *type = stanza_type(st);

			if (strcmp(type, "groupchat") == 0) {
				router_bounce(srv, st, "cancel",
				    "service-unavailable", NULL);
				goto drop;
			}
			if (strcmp(type, "error") == 0)
				goto drop;
			jid_cleanup(&j);
			route_message_bare(srv, bare, st);
			return;
		}
		if (strcmp(st->name, "iq") == 0) {
			router_bounce(srv, st, "cancel",
			    "service-unavailable", NULL);
			goto drop;
		}
		/* Presence to an unavailable resource is dropped. */
		goto drop;
	}
	jid_cleanup(&j);
	if (strcmp(st->name, "message") == 0) {
		route_message_bare(srv, bare, st);
		return;
	}
	if (strcmp(st->name, "presence") == 0) {
		route_presence_bare(srv, bare, st);
		return;
	}
	/* An iq to another user's bare JID is answered by the server on
	 * the user's behalf: nothing is offered there. */
	router_bounce(srv, st, "cancel", "service-unavailable", NULL);
	xml_node_free(st);
	return;
drop:
	jid_cleanup(&j);
	xml_node_free(st);
}

void
router_from_session(struct session *s, struct xml_node *st)
{
	struct server *srv = s->srv;
	struct stanza_err err = { "cancel", "forbidden", NULL };
	const char *from = xml_attr(st, "from");
	const char *to = xml_attr(st, "to");
	struct jid j = { 0 };

	/* The sender's address is the one the session bound (RFC 6120
	 * §8.1.2.1): a different one is refused with invalid-from. */
	if (from != NULL) {
		char bare[JID_FORMAT_MAX + 1];
		bool ok = false;

		if (jid_parse(from, &j) == L_OK) {
			jid_format(&j, j.resource != NULL, bare, sizeof bare);
			ok = j.resource ? strcmp(bare, s->full) == 0 :
			    jid_bare_equal(&j, &s->jid);
		}
		jid_cleanup(&j);
		if (!ok) {
			xml_node_free(st);
			session_stream_error(s, "invalid-from", NULL);
			return;
		}
	}
	if (xml_set_attr(st, "from", s->full) != L_OK) {
		xml_node_free(st);
		return;
	}
	if (strcmp(st->name, "iq") == 0) {
		const char *why;

		switch (iq_check(st, &why)) {
		case IQ_OK:
			break;
		case IQ_BAD:
			slog_debug(s->id, "malformed iq: %s", why);
			router_bounce(srv, st, "modify", "bad-request", why);
			/* FALLTHROUGH */
		default:
			xml_node_free(st);
			return;
		}
	}
	if (to != NULL) {
		char norm[JID_FORMAT_MAX + 1];

		if (jid_parse(to, &j) != L_OK) {
			router_bounce(srv, st, "modify", "jid-malformed", NULL);
			xml_node_free(st);
			return;
		}
		/* Canonical form from here on. */
		jid_format(&j, true, norm, sizeof norm);
		if (strcmp(norm, to) != 0)
			xml_set_attr(st, "to", norm);
	}
	if (srv->policy.ingress != NULL &&
	    srv->policy.ingress(srv->policy.ctx, s, st, &err) != 0) {
		/* err.cond NULL: a violation dropped without an answer. */
		if (err.cond != NULL && strcmp(st->name, "presence") != 0)
			router_bounce(srv, st, err.type, err.cond, err.text);
		xml_node_free(st);
		jid_cleanup(&j);
		return;
	}
	if (strcmp(st->name, "presence") == 0) {
		jid_cleanup(&j);
		presence_from_session(s, st);
		return;
	}
	if (strcmp(st->name, "iq") == 0) {
		if (to == NULL || (j.node == NULL && j.resource == NULL &&
		    server_is_local_domain(srv, j.domain))) {
			jid_cleanup(&j);
			iq_handle_server(s, st);
			return;
		}
		if (j.resource == NULL && jid_bare_equal(&j, &s->jid)) {
			jid_cleanup(&j);
			iq_handle_account(s, st);
			return;
		}
		jid_cleanup(&j);
		router_route(srv, st);
		return;
	}
	/* message */
	if (to == NULL) {
		/* A message without 'to' is for the sender's bare JID
		 * (RFC 6120 §10.3.1). */
		char bare[JID_FORMAT_MAX + 1];

		jid_format(&s->jid, false, bare, sizeof bare);
		xml_set_attr(st, "to", bare);
	}
	jid_cleanup(&j);
	carbons_copy_sent(s, st);
	router_route(srv, st);
}
