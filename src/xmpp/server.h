/*
 * The XMPP server: one event loop owning every client session, the
 * router between them, rosters, presence and offline storage.  The policy
 * layer plugs in through struct xmpp_policy (below): the router calls it
 * at fixed points and nothing delivers, stores or forwards a stanza
 * without passing it.  This header is the contract between the xmpp
 * modules (session.c, router.c, roster.c, presence.c, offline.c, iq.c)
 * and the program that runs them (cmd/liaisond.c).
 */
#ifndef LIAISON_XMPP_SERVER_H
#define LIAISON_XMPP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "xml/xml.h"
#include "xmpp/jid.h"
#include "xmpp/sasl.h"

#define XMLNS_CLIENT	"jabber:client"
#define XMLNS_STREAMS	"urn:ietf:params:xml:ns:xmpp-streams"
#define XMLNS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define XMLNS_TLS	"urn:ietf:params:xml:ns:xmpp-tls"
#define XMLNS_SASL	"urn:ietf:params:xml:ns:xmpp-sasl"
#define XMLNS_BIND	"urn:ietf:params:xml:ns:xmpp-bind"
#define XMLNS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define XMLNS_ROSTER	"jabber:iq:roster"
#define XMLNS_DELAY	"urn:xmpp:delay"
#define XMLNS_CARBONS	"urn:xmpp:carbons:2"
#define XMLNS_FORWARD	"urn:xmpp:forward:0"
#define XMLNS_PING	"urn:xmpp:ping"
#define XMLNS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define XMLNS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define XMLNS_VERSION	"jabber:iq:version"
#define XMLNS_TIME	"urn:xmpp:time"
#define XMLNS_REGISTER	"jabber:iq:register"
#define XMLNS_REGISTER_FEATURE "http://jabber.org/features/iq-register"
#define XMLNS_SECLABEL	"urn:xmpp:sec-label:0"
#define XMLNS_SECLABEL_CATALOG "urn:xmpp:sec-label:catalog:2"

struct ev_loop;
struct listener;
struct store;
struct session;
struct ssl_ctx_st;
struct conn;
struct xml_stream;
struct roster;
struct pending_op;
struct server;
struct authlimit;
struct sasl_wait;

/* Settings the server reads; filled by cmd/config.c from defaults, the
 * config file and the command line.  Strings are borrowed from the
 * config and live as long as the server. */
struct server_config {
	const char *domain;
	const char *data_dir;
	const char *listen;		/* STARTTLS c2s, "" = none */
	const char *listen_tls;		/* direct TLS c2s, "" = none */
	const char *tls_cert;		/* PEM chain, "" = dev cert */
	const char *tls_key;
	size_t max_stanza_bytes;
	unsigned max_depth;
	unsigned max_attrs;
	size_t max_pending_out;
	unsigned max_connections;
	unsigned conn_rate;		/* new connections/s per address */
	unsigned conn_burst;
	unsigned auth_timeout_s;	/* to finish TLS + SASL + bind */
	unsigned idle_timeout_s;	/* authenticated, no input */
	unsigned offline_max;		/* stored messages per user */
	unsigned resources_max;		/* sessions per user */
	bool registration;		/* XEP-0077 in-band registration */
	bool sasl_channel_binding;	/* offer SCRAM-*-PLUS over TLS */
	/* Authentication throttling (authlimit.h). */
	unsigned auth_fail_delay_after;
	unsigned auth_fail_delay_ms;
	unsigned auth_fail_delay_max_ms;
	unsigned auth_fail_block_after;
	unsigned auth_fail_account_block_after;
	unsigned auth_fail_block_s;
	unsigned auth_fail_window_s;
	unsigned auth_fail_per_stream;	/* failures before a stream ends */
	unsigned auth_fail_table_max;
	const char *server_name;	/* XEP-0092 name */
	const char *run_as;		/* user to become after binding */
};

/* Stanza error conditions (RFC 6120 §8.3.3), by their element name. */
struct stanza_err {
	const char *type;	/* "cancel", "modify", "auth", "wait" */
	const char *cond;	/* "service-unavailable", ... */
	const char *text;	/* optional human text, NULL if none */
};

/* Where a delivery check happens (for the policy layer's audit). */
enum xmpp_point {
	XP_DELIVER = 0,		/* to a session */
	XP_OFFLINE_STORE,	/* into the offline store */
	XP_OFFLINE_DELIVER,	/* from the offline store to a session */
};

/* The continuation of an asynchronous policy step for session `sid`
 * (which may be gone by then: look it up). */
typedef void (*xmpp_resume_fn)(struct server *srv, uint64_t sid, void *arg);

/*
 * The policy layer's entry points (XEP-0258 enforcement).  The router
 * calls them at fixed places; nothing delivers, stores or forwards a
 * stanza without passing them.  ingress and deliver return 0 to allow or
 * a negative code to refuse; on refusal `err` says what the sender gets
 * (err->cond NULL: dropped silently).  The server refuses to start when
 * labels are enabled and a member is missing (fail closed).
 */
struct xmpp_policy {
	void *ctx;
	/* A stanza from a local session, before routing: may add a default
	 * label or regenerate the display marking (it may modify `st`). */
	int (*ingress)(void *ctx, struct session *from, struct xml_node *st,
	    struct stanza_err *err);
	/* Delivery of `st` to one session (`to`), or to the offline store
	 * (to == NULL, owner = the bare JID). */
	int (*deliver)(void *ctx, struct session *to, const char *owner,
	    const struct xml_node *st, enum xmpp_point point,
	    struct stanza_err *err);
	/* A session is binding: set its clearance (s->policy_state), then
	 * call resume exactly once, now or later. */
	void (*bind)(void *ctx, struct session *s, xmpp_resume_fn resume,
	    void *arg);
	/* An XEP-0258 catalog request; returns the reply or NULL. */
	struct xml_node *(*catalog)(void *ctx, struct session *s,
	    const struct xml_node *iq);
	/* The routing of one stanza is over (its label cache may go). */
	void (*stanza_done)(void *ctx);
};

/* A user with at least one session, or whose roster is cached. */
struct user {
	char *bare;			/* "node@domain", owned */
	struct session *sessions;	/* list via session->next_res */
	unsigned nsessions;
	struct roster *roster;		/* NULL until loaded */
	bool roster_loading;
	struct pending_op *pending;	/* ops waiting for the roster */
	struct pending_op **pending_tail;
};

struct server {
	const struct server_config *cfg;
	struct ev_loop *loop;
	struct store *store;
	struct ssl_ctx_st *tls;
	struct listener *lst_starttls;
	struct listener *lst_tls;
	struct hmap sessions;		/* session id -> session */
	struct hmap users;		/* bare JID -> struct user */
	struct xmpp_policy policy;
	bool labels_enabled;
	uint64_t started_us;
	struct buf scratch;		/* serialization, loop thread only */
	uint64_t stats_stanzas_in;
	uint64_t stats_stanzas_out;
	uint64_t conn_churn;		/* connections opened or closed */
	uint64_t churn_at_trim;
	uint64_t churn_last_tick;
	uint64_t trim_timer;
	struct authlimit *authlimit;	/* SASL failure budgets */
};

/* Creates the server: opens the store and TLS context from cfg, creates
 * the dev certificates when none are configured, binds the listeners.
 * Returns NULL with a reason in err. */
struct server *server_new(const struct server_config *cfg, char *err,
    size_t errlen);
/* Sets the policy layer (before server_run).  With labels enabled every
 * hook must be set: returns L_ERR_INVAL otherwise (fail closed). */
int server_set_policy(struct server *srv, const struct xmpp_policy *p,
    bool labels_enabled);
/* Runs until server_stop (or a signal handled by the caller). */
int server_run(struct server *srv);
void server_stop(struct server *srv);
void server_free(struct server *srv);
/* The listeners' real ports (for tests that bind port 0). */
int server_port(const struct server *srv, bool direct_tls);

/* ---- internal, shared by the xmpp modules ---- */

enum session_state {
	SS_STREAM = 0,		/* waiting for a stream header */
	SS_OPEN,		/* header exchanged, not authenticated */
	SS_AUTHED,		/* SASL done, waiting for the new stream */
	SS_BOUND,		/* resource bound: can send stanzas */
	SS_CLOSING,
};

struct session {
	uint64_t id;
	struct server *srv;
	struct conn *conn;		/* NULL once closed */
	struct xml_stream *xs;
	enum session_state state;
	bool header_sent;
	bool tls;
	bool authed;
	bool restart;			/* reset the parser after this chunk */
	bool starttls;			/* ...and drop the rest of it */
	struct sasl_ctx *sasl;
	struct sasl_env sasl_env_storage;
	unsigned char sasl_cb[64];	/* channel binding (sasl_env) */
	unsigned auth_failures;		/* SASL failures on this stream */
	struct sasl_wait *sasl_wait;	/* a held SASL answer, or NULL */
	bool sasl_pending;		/* a credential look-up is out */
	char *username;			/* prepared localpart */
	struct jid jid;			/* full JID once bound */
	char *full;			/* "node@domain/res" */
	struct user *user;		/* once bound */
	struct session *next_res;	/* in user->sessions */
	/* presence */
	bool available;
	bool initial_presence_sent;
	bool roster_requested;		/* "interested resource" */
	bool carbons;
	int priority;
	struct xml_node *presence;	/* last available presence, owned */
	struct hmap directed;		/* JIDs given directed presence */
	uint64_t auth_timer;
	int listener_idx;		/* 0 STARTTLS, 1 direct TLS */
	/* label policy state (issue 4): a session's clearance id */
	void *policy_state;
};

/* session.c */
struct store_cred;
/* The stored credentials for a password: SCRAM-SHA-1 and SCRAM-SHA-256.
 * Returns 0 or L_ERR_INVAL (SASLprep refused it) / L_ERR_CRYPTO. */
int server_make_creds(const char *password, struct store_cred *creds);
void session_accept(struct conn *c, void *arg);
void session_accept_direct(struct conn *c, void *arg);
/* Serializes and queues a stanza to the session's connection. */
int session_send(struct session *s, const struct xml_node *st);
int session_send_raw(struct session *s, const char *data, size_t len);
/* Ends the stream with an RFC 6120 stream error and closes. */
void session_stream_error(struct session *s, const char *cond,
    const char *text);
void session_close(struct session *s);
struct session *session_by_id(struct server *srv, uint64_t id);
/* The session with that full JID, or NULL. */
struct session *session_find(struct server *srv, const struct jid *full);

/* router.c: a stanza from a bound session. Takes ownership of st. */
void router_from_session(struct session *s, struct xml_node *st);
/* Routes a stanza whose from/to are set, from the server or a session;
 * takes ownership. */
void router_route(struct server *srv, struct xml_node *st);
/* Delivers to one session through the policy; returns 0 or a negative
 * code (refused or write failed). Does not take ownership. */
int router_deliver_session(struct server *srv, struct session *to,
    const struct xml_node *st);
int router_deliver_session_at(struct server *srv, struct session *to,
    const struct xml_node *st, enum xmpp_point point);
/* Tells the policy layer one stanza's routing is over. */
void router_stanza_done(struct server *srv);
/* Sends an error reply for `st` (unless st is itself an error or has no
 * from); does not take ownership of st. */
void router_bounce(struct server *srv, const struct xml_node *st,
    const char *type, const char *cond, const char *text);
/* Is this domain ours? */
bool server_is_local_domain(const struct server *srv, const char *domain);
/* The user entry (creating it if `create`), or NULL. */
struct user *server_user(struct server *srv, const char *bare, bool create);
void server_user_release(struct server *srv, struct user *u);

/* stanza helpers (stanza.c) */
struct xml_node *stanza_error_reply(const struct xml_node *st,
    const char *type, const char *cond, const char *text);
struct xml_node *stanza_iq_result(const struct xml_node *iq);
/* Adds <delay xmlns='urn:xmpp:delay' from=domain stamp=.../>. */
int stanza_add_delay(struct xml_node *st, const char *from,
    int64_t stamp_us);
const char *stanza_type(const struct xml_node *st);

/* iq.c: the RFC 6120 §8.2.3 shape of an iq from a client: IQ_OK, or
 * IQ_BAD (answer bad-request with *why) or IQ_DROP (a response that is
 * malformed: never answered, §8.3.1). */
enum { IQ_OK = 0, IQ_BAD = 1, IQ_DROP = 2 };
int iq_check(const struct xml_node *iq, const char **why);
/* iq.c: an iq addressed to the server or to the user's own bare JID. */
void iq_handle_server(struct session *s, struct xml_node *iq);
void iq_handle_account(struct session *s, struct xml_node *iq);

/* roster.c */
struct roster;
void roster_free(struct roster *r);
/* Runs fn once the user's roster is loaded (at once if it is). */
typedef void (*roster_op_fn)(struct server *srv, struct user *u,
    void *arg);
int roster_with(struct server *srv, const char *bare, roster_op_fn fn,
    void *arg, void (*arg_free)(void *));
void roster_handle_iq(struct session *s, struct xml_node *iq);
/* Subscription presence (subscribe, subscribed, unsubscribe,
 * unsubscribed) from a local session; takes ownership. */
void roster_outbound_subscription(struct session *s, struct xml_node *pr);
/* Contacts the presence of `u` goes to (subscription from/both). */
typedef void (*roster_contact_fn)(struct server *srv, const char *contact,
    void *arg);
void roster_each_contact(struct user *u, bool want_from, bool want_to,
    roster_contact_fn fn, void *arg);
/* Delivers stored inbound subscription requests to a session. */
void roster_send_pending_in(struct session *s);
bool roster_subscribed_from(struct user *u, const char *contact);

/* presence.c */
void presence_from_session(struct session *s, struct xml_node *pr);
/* The session went away: broadcast unavailable if it was available. */
void presence_session_gone(struct session *s);
/* Sends the current presence of every available resource of `from_bare`
 * to session `to` (a probe answered locally). */
void presence_probe_local(struct server *srv, const char *from_bare,
    const char *to_full);

/* offline.c */
/* Stores a message for the offline user `bare`; takes ownership. */
void offline_store(struct server *srv, const char *bare,
    struct xml_node *msg);
/* Delivers stored messages to a session that just became available. */
void offline_deliver(struct session *s);

/* carbons (XEP-0280) in router.c */
void carbons_copy_received(struct server *srv, struct user *u,
    struct session *except, const struct xml_node *msg);
void carbons_copy_sent(struct session *from, const struct xml_node *msg);

#endif
