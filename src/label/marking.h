/*
 * Display markings from the SPIF: the text a user sees for a label or a
 * clearance, in a requested language, with the foreground and background
 * colours XEP-0258 <displaymarking/> carries.  The text is rebuilt from
 * the policy; a marking sent by a client is never trusted.
 */
#ifndef LIAISON_LABEL_MARKING_H
#define LIAISON_LABEL_MARKING_H

#include "base/buf.h"
#include "label/label.h"

/*
 * Appends the marking of a resolved label to out.  lang is an xml:lang
 * tag or NULL; each phrase and qualifier falls back from the exact tag
 * to its primary subtag, then to the untagged entry.
 */
int marking_label(const struct label_res *r, const char *lang,
    struct buf *out);
/* "{CLASS|CLASS} values" for a resolved clearance. */
int marking_clearance(const struct clearance_res *r, const char *lang,
    struct buf *out);

/* Colours for XEP-0258: bg is the classification colour ("white" when
 * the SPIF has none), fg "black" or "white", whichever reads on bg.
 * Both are static or owned by the SPIF. */
void marking_colors(const struct label_res *r, const char **fg,
    const char **bg);

#endif
