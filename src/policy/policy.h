/*
 * The policy layer: the reference monitor every stanza passes (XEP-0258
 * §6 with STANAG 4774 labels).  It owns the loaded SPIFs, the intern
 * table and decision cache, the default label and clearance, the listener
 * caps, the catalog and the audit log.  It knows nothing of sessions: the
 * server describes the subject (JID, session id, effective clearance) and
 * the stanza, and gets a verdict with the error the sender may see.
 * Loop thread only (the intern table and cache are not locked).
 */
#ifndef LIAISON_POLICY_POLICY_H
#define LIAISON_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/audit.h"

struct xml_node;
struct clearance_entry;
struct policy;

#define POLICY_MAX_SPIF		8
#define POLICY_MAX_CAPS		8

struct policy_config {
	const char *const *spif_files;	/* the first one governs */
	size_t nspif;
	const char *default_label_file;	/* NULL: none */
	bool require_labels;		/* unlabelled messages refused */
	const char *default_clearance_file; /* NULL: the nil clearance */
	const char *catalog_file;	/* NULL: an empty catalog */
	const char *audit_dir;		/* NULL: no audit (tests only) */
	struct audit_opts audit;
	size_t label_max_bytes;		/* largest securitylabel; 0: the
					 * default, POLICY_LABEL_MAX_BYTES */
};

#define POLICY_LABEL_MAX_BYTES	8192

/* Who a check is about. clr NULL is the nil clearance (always DENY). */
struct policy_subject {
	const char *jid;
	uint64_t sid;
	const struct clearance_entry *clr;
};

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_REFUSE = 1,	/* refused: the sender gets err_* */
	POLICY_DROP = 2,	/* refused silently (protocol violation) */
};

/* The outcome, with the stanza error the sender gets on REFUSE.  The
 * strings are static. */
struct policy_result {
	int verdict;
	const char *err_type;
	const char *err_cond;
	const char *err_text;
};

/* Enforcement points of deliver checks (for the audit record). */
enum policy_point {
	PP_DELIVER = AUDIT_POINT_DELIVER,
	PP_OFFLINE_STORE = AUDIT_POINT_OFFLINE_STORE,
	PP_OFFLINE_DELIVER = AUDIT_POINT_OFFLINE_DELIVER,
	PP_CARBON = AUDIT_POINT_CARBON,
};

/* Loads every file; fails closed: any unreadable or invalid SPIF,
 * default label, clearance or catalog is an error (reason in err). */
struct policy *policy_new(const struct policy_config *cfg, char *err,
    size_t errlen);
void policy_free(struct policy *p);

/* Adds a listener clearance cap from a file; returns its index (>= 0)
 * or -1 with the reason in err. */
int policy_add_cap(struct policy *p, const char *file, char *err,
    size_t errlen);

/*
 * The effective clearance of a session: the user's stored clearance
 * (xml, or NULL to use the default clearance) limited by cap (-1 = no
 * cap).  *out is owned by the policy (interned) and stays valid for its
 * lifetime; NULL means the nil clearance.  Returns 0, or L_ERR_INVAL
 * with the reason in err (the session then gets the nil clearance).
 */
int policy_clearance(struct policy *p, const char *xml, int cap,
    const struct clearance_entry **out, char *err, size_t errlen);

/*
 * Ingress: a stanza from a local session, before routing.  May modify st:
 * an unlabelled message (or one with an empty <label/>) gets the default
 * label, and the securitylabel is replaced by one the server builds from
 * what it validated: the display marking from the SPIF, the originator
 * label written from its parsed form, and for each alternative label the
 * client sent (which must be the originator's equivalent) the server's
 * own mapping.  Nothing of the client's securitylabel subtree is passed
 * on.  A securitylabel that is not exactly one well-formed label
 * (seclabel_parse), larger than label_max_bytes, or several of them, is
 * refused as malformed (modify/bad-request); refusals and drops are
 * audited.
 */
void policy_ingress(struct policy *p, const struct policy_subject *from,
    struct xml_node *st, struct policy_result *res);

/*
 * Delivery of st to one recipient (a session, or the offline store of a
 * user).  The label of a carbon or forwarded copy is the inner
 * message's.  Stanzas without a label are allowed, except messages
 * (not errors) when labels are on: they get the default label's decision.
 */
void policy_deliver(struct policy *p, const struct policy_subject *to,
    const char *from, const struct xml_node *st, enum policy_point point,
    struct policy_result *res);

/*
 * Answers an XEP-0258 catalog request (iq get with <catalog/>) for the
 * requester (and the target's clearance, NULL if unknown: the requester's
 * alone).  Returns the result iq (caller frees) or NULL on failure.
 */
struct xml_node *policy_catalog(struct policy *p,
    const struct policy_subject *req, const struct clearance_entry *target,
    const struct xml_node *iq);

/* Ends the routing of one stanza: the per-stanza label cache is
 * dropped (its element pointers may be freed after this). */
void policy_stanza_done(struct policy *p);

/* Is the label layer fully configured (for disco)? */
bool policy_labels_on(const struct policy *p);
/* Flushes the audit log (shutdown, tests). */
void policy_flush(struct policy *p);

#endif
