/*
 * Status codes shared by every layer.  A function returns 0 on success or
 * one negative code from this table.  L_AGAIN (try later: would block, or
 * more input needed) and L_DECLINED (not mine, pass it on) are the two
 * non-error states.  XMPP stream and stanza errors are a separate set,
 * turned into XML at the edge (see xmpp/errors.h).
 */
#ifndef LIAISON_BASE_ERRORS_H
#define LIAISON_BASE_ERRORS_H

enum {
	L_OK = 0,
	L_ERR_NOMEM = -1,	/* an allocation failed */
	L_ERR_INVAL = -2,	/* bad argument or malformed input */
	L_ERR_IO = -3,		/* system call or disk error (errno kept) */
	L_ERR_LIMIT = -4,	/* a size, count or byte budget was exceeded */
	L_ERR_NOTFOUND = -5,	/* no such user, key, row, file */
	L_ERR_EXISTS = -6,	/* already there */
	L_ERR_PROTO = -7,	/* protocol violation by the peer */
	L_ERR_AUTH = -8,	/* authentication failed */
	L_ERR_DENIED = -9,	/* refused by policy */
	L_ERR_CRYPTO = -10,	/* TLS or crypto library failure */
	L_ERR_CLOSED = -11,	/* peer closed the connection */
	L_ERR_INTERNAL = -12,	/* our own invariant broke */
	L_AGAIN = -100,		/* not an error: would block / need more */
	L_DECLINED = -101,	/* not an error: not handled here */
};

/* Returns a static, human-readable name for a status code. */
const char *l_strerror(int code);

#endif
