/*
 * Presence (RFC 6121 §4): initial presence with probes of the user's
 * contacts, broadcasts to subscribers, directed presence, and the
 * unavailable presence sent when a session ends.  Subscription presence
 * is handed to roster.c.
 */
#include "xmpp/server.h"

#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/log.h"

struct bcast {
	struct server *srv;
	struct session *from;
	const struct xml_node *pr;
};

/* Sends pr (from s) to every available resource of the contact. */
static void
bcast_contact(struct server *unused, const char *contact, void *arg)
{
	struct bcast *b = arg;
	struct user *cu = hmap_get(&b->srv->users, contact, strlen(contact));
	struct xml_node *copy;

	(void)unused;
	if (cu == NULL)
		return;
	copy = xml_node_copy(b->pr);
	if (copy == NULL)
		return;
	xml_set_attr(copy, "from", b->from->full);
	for (struct session *t = cu->sessions; t; t = t->next_res) {
		if (!t->available)
			continue;
		xml_set_attr(copy, "to", t->full);
		router_deliver_session(b->srv, t, copy);
	}
	xml_node_free(copy);
}

/* Answers a probe of each contact we are subscribed to: their available
 * resources' presence comes to this session. */
static void
probe_contact(struct server *unused, const char *contact, void *arg)
{
	struct bcast *b = arg;

	(void)unused;
	presence_probe_local(b->srv, contact, b->from->full);
}

void
presence_probe_local(struct server *srv, const char *from_bare,
    const char *to_full)
{
	struct user *cu = hmap_get(&srv->users, from_bare, strlen(from_bare));
	struct jid j = { 0 };
	struct session *to;

	if (cu == NULL || jid_parse(to_full, &j) != L_OK)
		return;
	to = session_find(srv, &j);
	jid_cleanup(&j);
	if (to == NULL)
		return;
	for (struct session *s = cu->sessions; s; s = s->next_res) {
		struct xml_node *p;

		if (!s->available || s->presence == NULL)
			continue;
		p = xml_node_copy(s->presence);
		if (p == NULL)
			continue;
		xml_set_attr(p, "from", s->full);
		xml_set_attr(p, "to", to_full);
		router_deliver_session(srv, to, p);
		xml_node_free(p);
	}
}

/* Broadcast to subscribers, to the user's other resources and, for
 * unavailable presence, to every JID that got directed presence. */
static void
broadcast(struct session *s, const struct xml_node *pr, bool unavailable)
{
	struct server *srv = s->srv;
	struct bcast b = { srv, s, pr };
	struct user *u = s->user;

	roster_each_contact(u, true, false, bcast_contact, &b);
	for (struct session *t = u->sessions; t; t = t->next_res) {
		struct xml_node *copy;

		if (t == s || !t->available)
			continue;
		copy = xml_node_copy(pr);
		if (copy == NULL)
			continue;
		xml_set_attr(copy, "from", s->full);
		xml_set_attr(copy, "to", t->full);
		router_deliver_session(srv, t, copy);
		xml_node_free(copy);
	}
	if (unavailable) {
		const char *k;
		size_t it = 0;

		while (hmap_next(&s->directed, &it, &k, NULL, NULL)) {
			struct xml_node *copy = xml_node_copy(pr);

			if (copy == NULL)
				continue;
			xml_set_attr(copy, "from", s->full);
			xml_set_attr(copy, "to", k);
			router_route(srv, copy);
		}
		hmap_cleanup(&s->directed);
		hmap_init(&s->directed);
	}
}

static int
parse_priority(const struct xml_node *pr)
{
	char *t = xml_child_text(pr, XMLNS_CLIENT, "priority");
	long v = 0;

	if (t != NULL) {
		v = strtol(t, NULL, 10);
		free(t);
	}
	if (v < -128)
		v = -128;
	if (v > 127)
		v = 127;
	return (int)v;
}

void
presence_from_session(struct session *s, struct xml_node *pr)
{
	struct server *srv = s->srv;
	const char *type = xml_attr(pr, "type");
	const char *to = xml_attr(pr, "to");

	if (type != NULL && (strcmp(type, "subscribe") == 0 ||
	    strcmp(type, "subscribed") == 0 ||
	    strcmp(type, "unsubscribe") == 0 ||
	    strcmp(type, "unsubscribed") == 0)) {
		if (to == NULL) {
			xml_node_free(pr);
			return;
		}
		roster_outbound_subscription(s, pr);
		return;
	}
	if (type != NULL && strcmp(type, "probe") == 0) {
		struct jid j = { 0 };
		char bare[JID_FORMAT_MAX + 1];

		if (to != NULL && jid_parse(to, &j) == L_OK) {
			struct user *cu;

			jid_format(&j, false, bare, sizeof bare);
			cu = hmap_get(&srv->users, bare, strlen(bare));
			/* Answered only if the contact lets us see it. */
			if (cu != NULL && cu->roster != NULL &&
			    roster_subscribed_from(cu, s->user->bare))
				presence_probe_local(srv, bare, s->full);
		}
		jid_cleanup(&j);
		xml_node_free(pr);
		return;
	}
	if (to != NULL) {
		/* Directed presence (§4.6). */
		if (type == NULL) {
			struct jid j = { 0 };

			if (jid_parse(to, &j) == L_OK) {
				char full[JID_FORMAT_MAX + 1];

				jid_format(&j, true, full, sizeof full);
				hmap_put(&s->directed, full, strlen(full),
				    s, NULL);
			}
			jid_cleanup(&j);
		}
		router_route(srv, pr);
		return;
	}
	if (type == NULL) {
		bool initial = !s->available;

		s->available = true;
		s->priority = parse_priority(pr);
		xml_node_free(s->presence);
		xml_set_attr(pr, "to", NULL);
		s->presence = xml_node_copy(pr);
		broadcast(s, pr, false);
		if (initial) {
			struct bcast b = { srv, s, pr };

			/* Our own other resources' presence (§4.2.2). */
			presence_probe_local(srv, s->user->bare, s->full);
			roster_each_contact(s->user, false, true,
			    probe_contact, &b);
			roster_send_pending_in(s);
			if (s->priority >= 0)
				offline_deliver(s);
		}
		xml_node_free(pr);
		return;
	}
	if (strcmp(type, "unavailable") == 0) {
		if (s->available) {
			broadcast(s, pr, true);
			s->available = false;
			xml_node_free(s->presence);
			s->presence = NULL;
		}
		xml_node_free(pr);
		return;
	}
	/* type='error' without 'to', or an unknown type: dropped. */
	xml_node_free(pr);
}

void
presence_session_gone(struct session *s)
{
	struct xml_node *p;

	if (!s->available || s->user == NULL)
		return;
	p = xml_elem_new(XMLNS_CLIENT, "presence");
	if (p != NULL && xml_set_attr(p, "type", "unavailable") == L_OK) {
		/* This session no longer receives anything. */
		s->state = SS_CLOSING;
		broadcast(s, p, true);
	}
	xml_node_free(p);
	s->available = false;
}
