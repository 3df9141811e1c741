/* Names of the status codes of errors.h, for logs and error messages. */
#include "base/errors.h"

const char *
l_strerror(int code)
{
	switch (code) {
	case L_OK: return "ok";
	case L_ERR_NOMEM: return "out of memory";
	case L_ERR_INVAL: return "invalid argument or input";
	case L_ERR_IO: return "I/O error";
	case L_ERR_LIMIT: return "limit exceeded";
	case L_ERR_NOTFOUND: return "not found";
	case L_ERR_EXISTS: return "already exists";
	case L_ERR_PROTO: return "protocol violation";
	case L_ERR_AUTH: return "authentication failed";
	case L_ERR_DENIED: return "denied by policy";
	case L_ERR_CRYPTO: return "TLS or crypto failure";
	case L_ERR_CLOSED: return "connection closed";
	case L_ERR_INTERNAL: return "internal error";
	case L_AGAIN: return "try again";
	case L_DECLINED: return "declined";
	}
	return "unknown error";
}
