/*
 * Helpers shared by the files of the label engine and by nothing else:
 * growable arrays, ASCII case folding, lacv normalisation and error
 * strings.  Not part of the public API.
 */
#ifndef LIAISON_LABEL_INT_H
#define LIAISON_LABEL_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Appends one zeroed element of size `el` to *arr (count *n); returns it
 * or NULL on allocation failure (the array is left as it was). */
void *lv_push(void *arrp, size_t *n, size_t el);

/* Writes a formatted message into err (if not NULL). */
void lerr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends s to b, ASCII-lowercased when fold is true. */
int lbuf_fold(struct buf *b, const char *s, bool fold);

/* Compares under the policy's case rule. */
bool lstr_eq(const char *a, const char *b, bool fold);

/* "004" -> "4"; other strings are copied as they are.  malloc'd. */
char *lacv_norm(const char *s);

/* Trims XML whitespace from both ends of s in place; returns s. */
char *ltrim(char *s);

/* Language match quality of an entry tagged `have` for a request
 * `want`: 3 exact, 2 same primary subtag, 1 untagged entry, 0 none. */
int lang_score(const char *have, const char *want);

struct acdf_reason;
/* Puts prefix in front of why->text (truncating) and sets the rule. */
void reason_prefix(struct acdf_reason *why, int rule, const char *prefix);

#endif
