/*
 * Offline messages (XEP-0160): a message for a user with no available
 * resource is stamped (XEP-0203) and written to the store; the sender is
 * told nothing until the write is durable, and hears of a failure only
 * through an error.  At the user's next available presence the messages
 * are delivered, through the policy layer as it stands then, and deleted.
 */
#include "xmpp/server.h"

#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "store/store.h"

struct off_req {
	struct server *srv;
	char *bare;
	struct xml_node *msg;
};

static void
off_req_free(struct off_req *o)
{
	free(o->bare);
	xml_node_free(o->msg);
	free(o);
}

static void
pushed(void *arg, int rc)
{
	struct off_req *o = arg;

	if (rc == L_ERR_LIMIT)
		router_bounce(o->srv, o->msg, "wait", "resource-constraint",
		    "the recipient's offline storage is full");
	else if (rc != L_OK)
		router_bounce(o->srv, o->msg, "wait", "internal-server-error",
		    "the message could not be stored");
	off_req_free(o);
}

static void
exists_done(void *arg, int rc)
{
	struct off_req *o = arg;
	struct server *srv = o->srv;
	struct stanza_err err = { "cancel", "forbidden", NULL };
	struct buf b;

	if (rc == L_ERR_NOTFOUND) {
		router_bounce(srv, o->msg, "cancel", "service-unavailable",
		    NULL);
		goto done;
	}
	if (rc != L_OK) {
		router_bounce(srv, o->msg, "wait", "internal-server-error",
		    NULL);
		goto done;
	}
	if (srv->policy.deliver != NULL && srv->policy.deliver(srv->policy.ctx,
	    NULL, o->bare, o->msg, XP_OFFLINE_STORE, &err) != 0) {
		router_bounce(srv, o->msg, err.type, err.cond, err.text);
		router_stanza_done(srv);
		goto done;
	}
	router_stanza_done(srv);
	buf_init(&b, 0);
	if (stanza_add_delay(o->msg, srv->cfg->domain, time_real_us()) !=
	    L_OK || xml_serialize(o->msg, NULL, &b) != L_OK) {
		buf_cleanup(&b);
		router_bounce(srv, o->msg, "wait", "internal-server-error",
		    NULL);
		goto done;
	}
	rc = store_offline_push(srv->store, o->bare, b.data, b.len,
	    time_real_us(), xml_attr(o->msg, "from"), pushed, o);
	buf_cleanup(&b);
	if (rc == L_OK)
		return;
	router_bounce(srv, o->msg, "wait", "internal-server-error", NULL);
done:
	off_req_free(o);
}

void
offline_store(struct server *srv, const char *bare, struct xml_node *msg)
{
	struct off_req *o = calloc(1, sizeof *o);

	if (o == NULL || (o->bare = l_strdup(bare)) == NULL) {
		free(o);
		xml_node_free(msg);
		return;
	}
	o->srv = srv;
	o->msg = msg;
	/* Unknown users get service-unavailable (RFC 6121 §8.5.2.2.1). */
	if (store_user_exists(srv->store, bare, exists_done, o) != L_OK) {
		router_bounce(srv, msg, "wait", "internal-server-error", NULL);
		off_req_free(o);
	}
}

struct deliver_req {
	struct server *srv;
	uint64_t sid;
	char *bare;
};

static void
loaded(void *arg, int rc, struct store_offline *list)
{
	struct deliver_req *d = arg;
	struct session *s = session_by_id(d->srv, d->sid);
	int64_t last = 0;

	if (rc != L_OK || list == NULL || s == NULL || s->state != SS_BOUND)
		goto done;
	for (size_t i = 0; i < list->n; i++) {
		struct xml_node *m = NULL;
		char err[128];

		if (xml_parse_doc(list->msgs[i].xml, list->msgs[i].len, NULL,
		    &m, err, sizeof err) != L_OK) {
			log_warnx("unreadable offline message %lld skipped",
			    (long long)list->msgs[i].id);
			last = list->msgs[i].id;
			continue;
		}
		xml_set_attr(m, "to", s->full);
		rc = router_deliver_session_at(d->srv, s, m,
		    XP_OFFLINE_DELIVER);
		/* Refused now: the sender hears of it (without a label). */
		if (rc == L_ERR_DENIED)
			router_bounce(d->srv, m, "cancel", "forbidden", NULL);
		router_stanza_done(d->srv);
		xml_node_free(m);
		if (rc == L_ERR_CLOSED || rc == L_ERR_LIMIT ||
		    rc == L_ERR_NOMEM)
			break;	/* kept for the next login */
		/* Refused by policy (L_ERR_DENIED) counts as handled: the
		 * clearance at delivery time decides (issue 4). */
		last = list->msgs[i].id;
	}
	if (last > 0)
		store_offline_delete(d->srv->store, d->bare, last, NULL, NULL);
done:
	store_offline_free(list);
	free(d->bare);
	free(d);
}

void
offline_deliver(struct session *s)
{
	struct deliver_req *d = calloc(1, sizeof *d);

	if (d == NULL || (d->bare = l_strdup(s->user->bare)) == NULL) {
		free(d);
		return;
	}
	d->srv = s->srv;
	d->sid = s->id;
	if (store_offline_load(s->srv->store, d->bare, loaded, d) != L_OK) {
		free(d->bare);
		free(d);
	}
}
