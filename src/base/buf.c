/* Byte buffers with a growth limit; see buf.h. */
#include "base/buf.h"
#include "base/errors.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void
buf_init(struct buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void
buf_cleanup(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > SIZE_MAX / 2 - b->len)
		return L_ERR_LIMIT;
	need = b->len + extra + 1;
	if (b->limit != 0 && need - 1 > b->limit)
		return L_ERR_LIMIT;
	if (need <= b->cap)
		return L_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (b->limit != 0 && ncap > b->limit + 1)
		ncap = b->limit + 1;
	p = realloc(b->data, ncap);
	if (p == NULL)
		return L_ERR_NOMEM;
	b->data = p;
	b->cap = ncap;
	return L_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);

	if (rc != L_OK)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return L_OK;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return L_ERR_INVAL;
	if ((rc = buf_reserve(b, (size_t)n)) != L_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return L_OK;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = l_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

char *
l_strdup(const char *s)
{
	return l_strndup(s, strlen(s));
}

char *
l_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
l_wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}
