/*
 * The wiring between the XMPP server and the policy layer, which may not
 * include each other (DESIGN.md layers): the server's xmpp_policy hooks
 * are implemented here on top of policy.h.  Also the control socket
 * (DATA/control.sock) through which liaisonctl tells a running server
 * that a user's clearance changed, so it applies to live sessions at once.
 */
#include "cmd/glue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/log.h"
#include "label/acdf.h"
#include "net/net.h"
#include "policy/policy.h"
#include "store/store.h"

struct glue {
	struct server *srv;
	struct policy *pol;
	int caps[2];		/* policy cap index per listener, -1 none */
	int ctl_fd;
	char ctl_path[108];
};

static void
subject_of(struct session *s, struct policy_subject *sub)
{
	sub->jid = s->full;
	sub->sid = s->id;
	sub->clr = s->policy_state;
}

static int
fill_err(const struct policy_result *r, struct stanza_err *err)
{
	if (r->verdict == POLICY_ALLOW)
		return 0;
	if (r->verdict == POLICY_DROP) {
		err->cond = NULL;
		err->type = NULL;
		err->text = NULL;
	} else {
		err->type = r->err_type;
		err->cond = r->err_cond;
		err->text = r->err_text;
	}
	return L_ERR_DENIED;
}

static int
g_ingress(void *ctx, struct session *from, struct xml_node *st,
    struct stanza_err *err)
{
	struct glue *g = ctx;
	struct policy_subject sub;
	struct policy_result r;

	/* A new stanza: nothing cached from the previous one may match. */
	policy_stanza_done(g->pol);
	subject_of(from, &sub);
	policy_ingress(g->pol, &sub, st, &r);
	return fill_err(&r, err);
}

static int
g_deliver(void *ctx, struct session *to, const char *owner,
    const struct xml_node *st, enum xmpp_point point,
    struct stanza_err *err)
{
	struct glue *g = ctx;
	struct policy_subject sub = { owner, 0, NULL };
	struct policy_result r;
	enum policy_point pp = point == XP_OFFLINE_STORE ? PP_OFFLINE_STORE :
	    point == XP_OFFLINE_DELIVER ? PP_OFFLINE_DELIVER : PP_DELIVER;

	if (to == NULL && point == XP_OFFLINE_STORE) {
		/* The offline store keeps every message that passed
		 * ingress; the decision is made at delivery, with the
		 * clearance the recipient has then. */
		return 0;
	}
	if (to != NULL)
		subject_of(to, &sub);
	policy_deliver(g->pol, &sub, xml_attr(st, "from"), st, pp, &r);
	return fill_err(&r, err);
}

/* Sets the session's effective clearance from the stored document. */
static void
apply_clearance(struct glue *g, struct session *s, const char *xml)
{
	const struct clearance_entry *ce = NULL;
	char err[256];

	if (policy_clearance(g->pol, xml, g->caps[s->listener_idx & 1], &ce,
	    err, sizeof err) != L_OK)
		slog_warnx(s->id, "clearance of %s unusable (%s): nil "
		    "clearance", s->full, err);
	s->policy_state = (void *)ce;
}

struct bind_wait {
	struct glue *g;
	uint64_t sid;
	xmpp_resume_fn resume;
	void *arg;
};

static void
bind_clearance_loaded(void *arg, int rc, char *xml)
{
	struct bind_wait *w = arg;
	struct session *s = session_by_id(w->g->srv, w->sid);

	if (s != NULL) {
		if (rc != L_OK && rc != L_ERR_NOTFOUND)
			slog_warnx(s->id, "clearance could not be read: nil "
			    "clearance");
		apply_clearance(w->g, s, rc == L_OK ? xml : NULL);
		if (rc != L_OK && rc != L_ERR_NOTFOUND)
			s->policy_state = NULL;
	}
	free(xml);
	w->resume(w->g->srv, w->sid, w->arg);
	free(w);
}

static void
g_bind(void *ctx, struct session *s, xmpp_resume_fn resume, void *arg)
{
	struct glue *g = ctx;
	struct bind_wait *w = malloc(sizeof *w);
	char bare[JID_FORMAT_MAX + 1];

	s->policy_state = NULL;
	if (w == NULL) {
		resume(g->srv, s->id, arg);
		return;
	}
	w->g = g;
	w->sid = s->id;
	w->resume = resume;
	w->arg = arg;
	jid_format(&s->jid, false, bare, sizeof bare);
	if (store_clearance_get(g->srv->store, bare, bind_clearance_loaded,
	    w) != L_OK) {
		free(w);
		resume(g->srv, s->id, arg);
	}
}

static struct xml_node *
g_catalog(void *ctx, struct session *s, const struct xml_node *iq)
{
	struct glue *g = ctx;
	const struct xml_node *q = xml_child(iq, XMLNS_SECLABEL_CATALOG,
	    "catalog");
	const char *to = q ? xml_attr(q, "to") : NULL;
	const struct clearance_entry *target = NULL;
	struct policy_subject sub;
	struct jid j = { 0 };

	subject_of(s, &sub);
	/* The target's clearance, when it is a local user online now. */
	if (to != NULL && jid_parse(to, &j) == L_OK && j.node != NULL &&
	    server_is_local_domain(g->srv, j.domain)) {
		char bare[JID_FORMAT_MAX + 1];
		struct user *u;

		jid_format(&j, false, bare, sizeof bare);
		u = hmap_get(&g->srv->users, bare, strlen(bare));
		if (u != NULL && u->sessions != NULL)
			target = u->sessions->policy_state;
	}
	jid_cleanup(&j);
	return policy_catalog(g->pol, &sub, target, iq);
}

static void
g_stanza_done(void *ctx)
{
	struct glue *g = ctx;

	policy_stanza_done(g->pol);
}

/* ---- control socket ---- */

struct reload {
	struct glue *g;
	char *bare;
};

static void
reload_loaded(void *arg, int rc, char *xml)
{
	struct reload *r = arg;
	struct user *u = hmap_get(&r->g->srv->users, r->bare,
	    strlen(r->bare));

	if (u != NULL)
		for (struct session *s = u->sessions; s; s = s->next_res) {
			apply_clearance(r->g, s, rc == L_OK ? xml : NULL);
			slog_info(s->id, "clearance of %s reloaded", s->full);
		}
	free(xml);
	free(r->bare);
	free(r);
}

static void
ctl_command(struct glue *g, int fd, char *line)
{
	static const char ok[] = "ok\n", bad[] = "error unknown command\n";
	struct reload *r;

	if (strncmp(line, "clearance ", 10) == 0) {
		r = calloc(1, sizeof *r);
		if (r != NULL && (r->bare = l_strdup(line + 10)) != NULL) {
			r->g = g;
			if (store_clearance_get(g->srv->store, r->bare,
			    reload_loaded, r) == L_OK) {
				(void)!write(fd, ok, sizeof ok - 1);
				return;
			}
			free(r->bare);
		}
		free(r);
	}
	(void)!write(fd, bad, sizeof bad - 1);
}

static void
ctl_client(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct glue *g = arg;
	char buf[512];
	ssize_t n;

	(void)events;
	/* One short line per connection; liaisonctl writes it at once. */
	n = read(fd, buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		ctl_command(g, fd, buf);
	}
	ev_io_del(loop, fd);
	close(fd);
}

static void
ctl_accept(struct ev_loop *loop, int fd, int events, void *arg)
{
	int c;

	(void)events;
	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	    0)
		if (ev_io_add(loop, c, EV_READ, ctl_client, arg) != 0)
			close(c);
}

static int
ctl_open(struct glue *g, const char *data_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(g->ctl_path, sizeof g->ctl_path, "%s/control.sock",
	    data_dir) >= (int)sizeof g->ctl_path) {
		log_warnx("data folder path too long for the control socket");
		return -1;
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g->ctl_path);
	unlink(g->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    chmod(g->ctl_path, 0600) != 0 || listen(fd, 16) != 0 ||
	    ev_io_add(g->srv->loop, fd, EV_READ, ctl_accept, g) != 0) {
		log_warn("control socket %s", g->ctl_path);
		close(fd);
		return -1;
	}
	g->ctl_fd = fd;
	return 0;
}

struct glue *
glue_new(struct server *srv, struct policy *pol, const char *cap_starttls,
    const char *cap_tls, char *err, size_t errlen)
{
	struct glue *g = calloc(1, sizeof *g);
	struct xmpp_policy hooks = {
		.ctx = g,
		.ingress = g_ingress,
		.deliver = g_deliver,
		.bind = g_bind,
		.catalog = g_catalog,
		.stanza_done = g_stanza_done,
	};

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->srv = srv;
	g->pol = pol;
	g->ctl_fd = -1;
	g->caps[0] = g->caps[1] = -1;
	if (cap_starttls != NULL && cap_starttls[0] != '\0' &&
	    (g->caps[0] = policy_add_cap(pol, cap_starttls, err, errlen)) < 0)
		goto fail;
	if (cap_tls != NULL && cap_tls[0] != '\0' &&
	    (g->caps[1] = policy_add_cap(pol, cap_tls, err, errlen)) < 0)
		goto fail;
	if (server_set_policy(srv, &hooks, true) != L_OK) {
		snprintf(err, errlen, "the policy layer is incomplete");
		goto fail;
	}
	if (ctl_open(g, srv->cfg->data_dir) != 0)
		log_warnx("no control socket: clearance changes apply at "
		    "the next login");
	return g;
fail:
	free(g);
	return NULL;
}

void
glue_free(struct glue *g)
{
	if (g == NULL)
		return;
	if (g->ctl_fd >= 0) {
		close(g->ctl_fd);
		unlink(g->ctl_path);
	}
	free(g);
}
