/*
 * Rosters and subscriptions (RFC 6121 §2, §3 and Appendix A) between
 * local users.  A user's roster is loaded from the store once and kept in
 * memory while the user is online or has work pending; every change is
 * written to the store and pushed to the user's interested resources.
 * Work on a roster that is still loading waits in a queue (roster_with).
 */
#include "xmpp/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/log.h"
#include "store/store.h"
#include "xmpp/subscription.h"

struct roster {
	struct store_roster *r;
};

struct pending_op {
	struct pending_op *next;
	roster_op_fn fn;
	void *arg;
	void (*arg_free)(void *);
};

void
roster_free(struct roster *r)
{
	if (r == NULL)
		return;
	store_roster_free(r->r);
	free(r);
}

struct user *
server_user(struct server *srv, const char *bare, bool create)
{
	struct user *u = hmap_get(&srv->users, bare, strlen(bare));

	if (u != NULL || !create)
		return u;
	u = calloc(1, sizeof *u);
	if (u == NULL)
		return NULL;
	u->bare = l_strdup(bare);
	u->pending_tail = &u->pending;
	if (u->bare == NULL ||
	    hmap_put(&srv->users, bare, strlen(bare), u, NULL) != L_OK) {
		free(u->bare);
		free(u);
		return NULL;
	}
	return u;
}

void
server_user_release(struct server *srv, struct user *u)
{
	if (u->nsessions > 0 || u->sessions != NULL || u->roster_loading ||
	    u->pending != NULL)
		return;
	hmap_del(&srv->users, u->bare, strlen(u->bare));
	roster_free(u->roster);
	free(u->bare);
	free(u);
}

struct load_req {
	struct server *srv;
	char *bare;
};

static void
roster_loaded(void *arg, int rc, struct store_roster *sr)
{
	struct load_req *lr = arg;
	struct server *srv = lr->srv;
	struct user *u = hmap_get(&srv->users, lr->bare, strlen(lr->bare));
	struct pending_op *op, *next;

	free(lr->bare);
	free(lr);
	if (u == NULL) {
		store_roster_free(sr);
		return;
	}
	u->roster_loading = false;
	if (rc != L_OK || sr == NULL) {
		log_warnx("roster of a user could not be loaded: %s",
		    l_strerror(rc));
		sr = calloc(1, sizeof *sr);
	}
	u->roster = calloc(1, sizeof *u->roster);
	if (u->roster != NULL)
		u->roster->r = sr;
	else
		store_roster_free(sr);
	op = u->pending;
	u->pending = NULL;
	u->pending_tail = &u->pending;
	for (; op != NULL; op = next) {
		next = op->next;
		if (u->roster != NULL && u->roster->r != NULL)
			op->fn(srv, u, op->arg);
		if (op->arg_free)
			op->arg_free(op->arg);
		free(op);
	}
	server_user_release(srv, u);
}

int
roster_with(struct server *srv, const char *bare, roster_op_fn fn,
    void *arg, void (*arg_free)(void *))
{
	struct user *u = server_user(srv, bare, true);
	struct pending_op *op;
	struct load_req *lr;

	if (u == NULL)
		goto fail;
	if (u->roster != NULL) {
		fn(srv, u, arg);
		if (arg_free)
			arg_free(arg);
		server_user_release(srv, u);
		return L_OK;
	}
	op = calloc(1, sizeof *op);
	if (op == NULL)
		goto fail;
	op->fn = fn;
	op->arg = arg;
	op->arg_free = arg_free;
	*u->pending_tail = op;
	u->pending_tail = &op->next;
	if (u->roster_loading)
		return L_OK;
	lr = malloc(sizeof *lr);
	if (lr == NULL || (lr->bare = l_strdup(bare)) == NULL) {
		free(lr);
		return L_ERR_NOMEM;
	}
	lr->srv = srv;
	u->roster_loading = true;
	if (store_roster_load(srv->store, bare, roster_loaded, lr) != L_OK) {
		u->roster_loading = false;
		free(lr->bare);
		free(lr);
		return L_ERR_IO;
	}
	return L_OK;
fail:
	if (arg_free)
		arg_free(arg);
	return L_ERR_NOMEM;
}

static struct store_roster_item *
roster_find(struct user *u, const char *contact)
{
	struct store_roster *r = u->roster ? u->roster->r : NULL;

	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].contact, contact) == 0)
			return &r->items[i];
	return NULL;
}

static struct store_roster_item *
roster_add(struct user *u, const char *contact)
{
	struct store_roster *r = u->roster->r;
	struct store_roster_item *items, *it;

	items = realloc(r->items, (r->n + 1) * sizeof *items);
	if (items == NULL)
		return NULL;
	r->items = items;
	it = &items[r->n];
	memset(it, 0, sizeof *it);
	it->contact = l_strdup(contact);
	if (it->contact == NULL)
		return NULL;
	r->n++;
	return it;
}

static void
item_clear(struct store_roster_item *it)
{
	free(it->contact);
	free(it->name);
	for (size_t g = 0; g < it->ngroups; g++)
		free(it->groups[g]);
	free(it->groups);
}

static void
roster_remove(struct user *u, const char *contact)
{
	struct store_roster *r = u->roster->r;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->items[i].contact, contact) != 0)
			continue;
		item_clear(&r->items[i]);
		memmove(&r->items[i], &r->items[i + 1],
		    (r->n - i - 1) * sizeof r->items[0]);
		r->n--;
		return;
	}
}

bool
roster_subscribed_from(struct user *u, const char *contact)
{
	struct store_roster_item *it = roster_find(u, contact);

	return it != NULL && (it->sub == STORE_SUB_FROM ||
	    it->sub == STORE_SUB_BOTH);
}

void
roster_each_contact(struct user *u, bool want_from, bool want_to,
    roster_contact_fn fn, void *arg)
{
	struct store_roster *r = u->roster ? u->roster->r : NULL;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		enum store_sub sub = r->items[i].sub;
		bool from = sub == STORE_SUB_FROM || sub == STORE_SUB_BOTH;
		bool to = sub == STORE_SUB_TO || sub == STORE_SUB_BOTH;

		if ((want_from && from) || (want_to && to))
			fn(NULL, r->items[i].contact, arg);
	}
}

static const char *
sub_name(enum store_sub sub)
{
	switch (sub) {
	case STORE_SUB_TO: return "to";
	case STORE_SUB_FROM: return "from";
	case STORE_SUB_BOTH: return "both";
	default: return "none";
	}
}

/* Appends <item/> for it (or a removal when it is NULL). */
static int
item_xml(struct xml_node *query, const struct store_roster_item *it,
    const char *removed_jid)
{
	struct xml_node *x = xml_add_child(query, XMLNS_ROSTER, "item");

	if (x == NULL)
		return L_ERR_NOMEM;
	if (it == NULL)
		return xml_set_attr(x, "jid", removed_jid) ||
		    xml_set_attr(x, "subscription", "remove") ? L_ERR_NOMEM :
		    L_OK;
	if (xml_set_attr(x, "jid", it->contact) != L_OK ||
	    xml_set_attr(x, "subscription", sub_name(it->sub)) != L_OK ||
	    (it->ask && xml_set_attr(x, "ask", "subscribe") != L_OK) ||
	    (it->name && xml_set_attr(x, "name", it->name) != L_OK))
		return L_ERR_NOMEM;
	for (size_t g = 0; g < it->ngroups; g++) {
		struct xml_node *gx = xml_add_child(x, XMLNS_ROSTER, "group");

		if (gx == NULL || xml_add_text(gx, it->groups[g],
		    strlen(it->groups[g])) != L_OK)
			return L_ERR_NOMEM;
	}
	return L_OK;
}

/* Stores the item (or its removal) and pushes it to every interested
 * resource of the user (RFC 6121 §2.1.6). */
static void
roster_commit(struct server *srv, struct user *u, const char *contact)
{
	struct store_roster_item *it = roster_find(u, contact);
	static unsigned push_seq;
	char id[32];

	if (it != NULL)
		store_roster_put(srv->store, u->bare, it, NULL, NULL);
	else
		store_roster_delete(srv->store, u->bare, contact, NULL, NULL);
	for (struct session *s = u->sessions; s; s = s->next_res) {
		struct xml_node *iq, *q;

		if (!s->roster_requested || s->state != SS_BOUND)
			continue;
		iq = xml_elem_new(XMLNS_CLIENT, "iq");
		if (iq == NULL)
			return;
		snprintf(id, sizeof id, "push%u", ++push_seq);
		if (xml_set_attr(iq, "type", "set") == L_OK &&
		    xml_set_attr(iq, "id", id) == L_OK &&
		    xml_set_attr(iq, "to", s->full) == L_OK &&
		    (q = xml_add_child(iq, XMLNS_ROSTER, "query")) != NULL &&
		    item_xml(q, it, contact) == L_OK)
			session_send(s, iq);
		xml_node_free(iq);
	}
}

/* Sends a presence of `type` from `from` to every available resource of
 * user u (or stores nothing if none: subscription requests are kept in
 * the roster as pending_in instead). */
static void
deliver_presence_to_user(struct server *srv, struct user *u,
    const char *from, const char *type)
{
	struct xml_node *p = xml_elem_new(XMLNS_CLIENT, "presence");

	if (p == NULL)
		return;
	if (xml_set_attr(p, "from", from) == L_OK &&
	    xml_set_attr(p, "to", u->bare) == L_OK &&
	    xml_set_attr(p, "type", type) == L_OK)
		for (struct session *s = u->sessions; s; s = s->next_res)
			if (s->available)
				router_deliver_session(srv, s, p);
	xml_node_free(p);
}

/* Presence of every available resource of `from_u` (or unavailable) to
 * the available resources of `to`. */
static void
send_current_presence(struct server *srv, struct user *from_u,
    const char *to_bare, bool unavailable)
{
	for (struct session *s = from_u->sessions; s; s = s->next_res) {
		struct xml_node *p;

		if (!s->available)
			continue;
		if (unavailable) {
			p = xml_elem_new(XMLNS_CLIENT, "presence");
			if (p != NULL)
				xml_set_attr(p, "type", "unavailable");
		} else {
			p = s->presence ? xml_node_copy(s->presence) : NULL;
		}
		if (p == NULL)
			continue;
		xml_set_attr(p, "from", s->full);
		xml_set_attr(p, "to", to_bare);
		router_route(srv, p);
	}
}

/* A subscription presence from `from` (local bare JID) arriving at
 * `to` (u, the contact, roster loaded). */
struct sub_req {
	char *from;
	char *type;
};

static void
sub_req_free(void *arg)
{
	struct sub_req *sr = arg;

	free(sr->from);
	free(sr->type);
	free(sr);
}

static void route_subscription(struct server *srv, const char *from_bare,
    const char *to_bare, const char *type);

/* Applies the state machine's result to the user's item for contact. */
static struct store_roster_item *
sub_apply(struct user *u, const char *contact, const struct sub_item *si,
    struct store_roster_item *it)
{
	if (it == NULL && si->exists && (it = roster_add(u, contact)) == NULL)
		return NULL;
	if (it != NULL) {
		it->sub = si->sub;
		it->ask = si->ask;
		it->pending_in = si->pending_in;
	}
	return it;
}

static void
sub_read(const struct store_roster_item *it, struct sub_item *si)
{
	si->exists = it != NULL;
	si->sub = it ? it->sub : STORE_SUB_NONE;
	si->ask = it ? it->ask : false;
	si->pending_in = it ? it->pending_in : false;
}

/* Stores (and pushes, or removes) per the actions. */
static void
sub_store(struct server *srv, struct user *u, const char *contact,
    struct store_roster_item *it, unsigned act)
{
	if (act & SUBA_REMOVE) {
		bool visible = it != NULL && (it->name != NULL ||
		    it->ngroups > 0);

		if (!visible) {
			roster_remove(u, contact);
			store_roster_delete(srv->store, u->bare, contact, NULL,
			    NULL);
			return;
		}
		act |= SUBA_CHANGED;
	}
	if (act & SUBA_CHANGED)
		roster_commit(srv, u, contact);
	else if ((act & SUBA_STORE) && it != NULL)
		store_roster_put(srv->store, u->bare, it, NULL, NULL);
}

/* A subscription presence from sr->from (a local bare JID) reaches the
 * user u, whose roster is loaded. */
static void
inbound_subscription(struct server *srv, struct user *u, void *arg)
{
	struct sub_req *sr = arg;
	struct store_roster_item *it = roster_find(u, sr->from);
	struct sub_item si;
	unsigned act;

	sub_read(it, &si);
	act = sub_inbound(&si, sub_type_parse(sr->type));
	if (act & SUBA_AUTOREPLY) {
		route_subscription(srv, u->bare, sr->from, "subscribed");
		return;
	}
	if ((act & (SUBA_CHANGED | SUBA_STORE | SUBA_REMOVE)) &&
	    (it = sub_apply(u, sr->from, &si, it)) == NULL &&
	    !(act & SUBA_REMOVE))
		return;
	sub_store(srv, u, sr->from, it, act);
	if (act & SUBA_DELIVER)
		deliver_presence_to_user(srv, u, sr->from, sr->type);
	if ((act & SUBA_UNAVAIL))
		send_current_presence(srv, u, sr->from, true);
}

static void
route_subscription(struct server *srv, const char *from_bare,
    const char *to_bare, const char *type)
{
	struct sub_req *sr = calloc(1, sizeof *sr);

	if (sr == NULL)
		return;
	sr->from = l_strdup(from_bare);
	sr->type = l_strdup(type);
	if (sr->from == NULL || sr->type == NULL) {
		sub_req_free(sr);
		return;
	}
	roster_with(srv, to_bare, inbound_subscription, sr, sub_req_free);
}

struct out_req {
	uint64_t sid;
	struct xml_node *pr;
};

static void
out_req_free(void *arg)
{
	struct out_req *o = arg;

	xml_node_free(o->pr);
	free(o);
}

/* The sender's side of a subscription presence (u = sender's user). */
static void
outbound_subscription(struct server *srv, struct user *u, void *arg)
{
	struct out_req *o = arg;
	const char *type = xml_attr(o->pr, "type");
	const char *to = xml_attr(o->pr, "to");
	struct store_roster_item *it;
	struct jid j = { 0 };
	char contact[JID_FORMAT_MAX + 1];
	struct sub_item si;
	unsigned act;

	if (to == NULL || jid_parse(to, &j) != L_OK)
		return;
	jid_format(&j, false, contact, sizeof contact);
	if (!server_is_local_domain(srv, j.domain) || j.node == NULL) {
		jid_cleanup(&j);
		router_bounce(srv, o->pr, "cancel", "remote-server-not-found",
		    NULL);
		return;
	}
	jid_cleanup(&j);
	it = roster_find(u, contact);
	sub_read(it, &si);
	act = sub_outbound(&si, sub_type_parse(type));
	if ((act & (SUBA_CHANGED | SUBA_STORE | SUBA_REMOVE)) &&
	    (it = sub_apply(u, contact, &si, it)) == NULL &&
	    !(act & SUBA_REMOVE))
		return;
	sub_store(srv, u, contact, it, act);
	if (act & SUBA_UNAVAIL)
		send_current_presence(srv, u, contact, true);
	if (act & SUBA_ROUTE)
		route_subscription(srv, u->bare, contact, type);
	if (act & SUBA_PRESENCE)
		send_current_presence(srv, u, contact, false);
}

void
roster_outbound_subscription(struct session *s, struct xml_node *pr)
{
	struct out_req *o = malloc(sizeof *o);

	if (o == NULL) {
		xml_node_free(pr);
		return;
	}
	o->sid = s->id;
	o->pr = pr;
	roster_with(s->srv, s->user->bare, outbound_subscription, o,
	    out_req_free);
}

void
roster_send_pending_in(struct session *s)
{
	struct store_roster *r = s->user && s->user->roster ?
	    s->user->roster->r : NULL;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct xml_node *p;

		if (!r->items[i].pending_in)
			continue;
		p = xml_elem_new(XMLNS_CLIENT, "presence");
		if (p == NULL)
			return;
		if (xml_set_attr(p, "from", r->items[i].contact) == L_OK &&
		    xml_set_attr(p, "to", s->user->bare) == L_OK &&
		    xml_set_attr(p, "type", "subscribe") == L_OK)
			router_deliver_session(s->srv, s, p);
		xml_node_free(p);
	}
}

/* ---- jabber:iq:roster ---- */

static void
roster_get(struct session *s, struct xml_node *iq)
{
	struct store_roster *r = s->user->roster->r;
	struct xml_node *res = stanza_iq_result(iq), *q;

	if (res == NULL)
		return;
	q = xml_add_child(res, XMLNS_ROSTER, "query");
	for (size_t i = 0; q != NULL && i < r->n; i++) {
		/* Pending inbound requests alone are not items. */
		if (r->items[i].sub == STORE_SUB_NONE && !r->items[i].ask &&
		    r->items[i].pending_in && r->items[i].name == NULL &&
		    r->items[i].ngroups == 0)
			continue;
		item_xml(q, &r->items[i], NULL);
	}
	s->roster_requested = true;
	session_send(s, res);
	xml_node_free(res);
}

static void
roster_set(struct session *s, struct xml_node *iq)
{
	struct server *srv = s->srv;
	struct user *u = s->user;
	struct xml_node *q = xml_child(iq, XMLNS_ROSTER, "query");
	struct xml_node *x = q ? xml_child(q, XMLNS_ROSTER, "item") : NULL;
	struct store_roster_item *it;
	const char *jid_s, *subs, *name;
	struct jid j = { 0 };
	char contact[JID_FORMAT_MAX + 1];
	struct xml_node *res;
	size_t ngroups = 0;

	if (x == NULL || xml_next(x, XMLNS_ROSTER, "item") != NULL ||
	    (jid_s = xml_attr(x, "jid")) == NULL ||
	    jid_parse(jid_s, &j) != L_OK) {
		router_bounce(srv, iq, "modify", "bad-request", NULL);
		return;
	}
	jid_format(&j, false, contact, sizeof contact);
	jid_cleanup(&j);
	subs = xml_attr(x, "subscription");
	name = xml_attr(x, "name");
	it = roster_find(u, contact);
	if (subs != NULL && strcmp(subs, "remove") == 0) {
		if (it == NULL) {
			router_bounce(srv, iq, "modify", "item-not-found",
			    NULL);
			return;
		}
		/* Cancel both directions (§2.5.2). */
		if (it->sub == STORE_SUB_TO || it->sub == STORE_SUB_BOTH ||
		    it->ask)
			route_subscription(srv, u->bare, contact,
			    "unsubscribe");
		if (it->sub == STORE_SUB_FROM || it->sub == STORE_SUB_BOTH ||
		    it->pending_in) {
			send_current_presence(srv, u, contact, true);
			route_subscription(srv, u->bare, contact,
			    "unsubscribed");
		}
		roster_remove(u, contact);
		roster_commit(srv, u, contact);
		goto ok;
	}
	XML_FOREACH_CHILD(x, g)
		if (xml_is(g, XMLNS_ROSTER, "group"))
			ngroups++;
	if (ngroups > 64) {
		router_bounce(srv, iq, "modify", "not-acceptable",
		    "too many groups");
		return;
	}
	if (it == NULL && (it = roster_add(u, contact)) == NULL) {
		router_bounce(srv, iq, "wait", "internal-server-error", NULL);
		return;
	}
	free(it->name);
	it->name = name && name[0] ? l_strdup(name) : NULL;
	for (size_t g = 0; g < it->ngroups; g++)
		free(it->groups[g]);
	free(it->groups);
	it->groups = NULL;
	it->ngroups = 0;
	if (ngroups > 0 && (it->groups = calloc(ngroups,
	    sizeof *it->groups)) != NULL) {
		XML_FOREACH_CHILD(x, g) {
			char *t;

			if (!xml_is(g, XMLNS_ROSTER, "group"))
				continue;
			t = xml_text(g);
			if (t != NULL && t[0] != '\0')
				it->groups[it->ngroups++] = t;
			else
				free(t);
		}
	}
	roster_commit(srv, u, contact);
ok:
	res = stanza_iq_result(iq);
	if (res != NULL) {
		session_send(s, res);
		xml_node_free(res);
	}
}

void
roster_handle_iq(struct session *s, struct xml_node *iq)
{
	const char *type = xml_attr(iq, "type");

	if (s->user == NULL || s->user->roster == NULL ||
	    s->user->roster->r == NULL) {
		router_bounce(s->srv, iq, "wait", "internal-server-error",
		    NULL);
		return;
	}
	if (type != NULL && strcmp(type, "get") == 0)
		roster_get(s, iq);
	else if (type != NULL && strcmp(type, "set") == 0)
		roster_set(s, iq);
	else
		router_bounce(s->srv, iq, "modify", "bad-request", NULL);
}
