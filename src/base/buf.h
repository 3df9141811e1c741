/*
 * Growable byte buffers, and counted strings (pointer + length, not
 * necessarily NUL-terminated).  A buf keeps a NUL after its last byte so
 * its data can be used as a C string when it holds text.  Growth beyond
 * `limit` (0 = no limit) fails with L_ERR_LIMIT: this is how per-session
 * byte budgets are enforced before memory grows.
 */
#ifndef LIAISON_BASE_BUF_H
#define LIAISON_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;	/* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t limit;	/* 0 = unlimited */
};

struct str {
	const char *p;	/* borrowed */
	size_t len;
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })

static inline struct str
str_from(const char *s)
{
	return (struct str){ s, s ? strlen(s) : 0 };
}

static inline bool
str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool
str_eq_cstr(struct str a, const char *b)
{
	return str_eq(a, str_from(b));
}

void buf_init(struct buf *b, size_t limit);
void buf_cleanup(struct buf *b);
/* Makes room for `extra` more bytes (plus the NUL). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *buf_steal(struct buf *b);

/* strdup/strndup that return NULL on failure (callers check). */
char *l_strdup(const char *s);
char *l_strndup(const char *s, size_t n);
/* Overwrites memory that held a secret; never optimised away. */
void l_wipe(void *p, size_t n);

#endif
