/*
 * Small helpers for the label engine (see label_int.h): growable arrays,
 * case folding for the NATO and PUBLIC policies, lacv normalisation and
 * language-tag matching for markings.
 */
#include "label/label_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"

void *
lv_push(void *arrp, size_t *n, size_t el)
{
	char **arr = arrp;
	char *p;

	/* Capacity is implicit: grow at powers of two. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;

		if (cap > ((size_t)-1) / el)
			return NULL;
		p = realloc(*arr, cap * el);
		if (p == NULL)
			return NULL;
		*arr = p;
	}
	p = *arr + *n * el;
	memset(p, 0, el);
	(*n)++;
	return p;
}

void
lerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
lbuf_fold(struct buf *b, const char *s, bool fold)
{
	size_t len = strlen(s);
	int rc;

	if (!fold)
		return buf_append(b, s, len);
	if ((rc = buf_reserve(b, len)) != 0)
		return rc;
	for (size_t i = 0; i < len; i++)
		b->data[b->len + i] = (char)tolower((unsigned char)s[i]);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

bool
lstr_eq(const char *a, const char *b, bool fold)
{
	return fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

char *
lacv_norm(const char *s)
{
	const char *p = s;

	if (*p != '\0' && strspn(p, "0123456789") == strlen(p)) {
		while (p[0] == '0' && p[1] != '\0')
			p++;
	}
	return l_strdup(p);
}

char *
ltrim(char *s)
{
	size_t len = strlen(s), i = 0;

	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		s[--len] = '\0';
	while (s[i] != '\0' && strchr(" \t\r\n", s[i]) != NULL)
		i++;
	if (i > 0)
		memmove(s, s + i, len - i + 1);
	return s;
}

int
lang_score(const char *have, const char *want)
{
	size_t ph, pw;

	if (have[0] == '\0')
		return 1;
	if (want == NULL || want[0] == '\0')
		return 0;
	if (strcasecmp(have, want) == 0)
		return 3;
	ph = strcspn(have, "-_");
	pw = strcspn(want, "-_");
	if (ph == pw && strncasecmp(have, want, ph) == 0)
		return 2;
	return 0;
}
