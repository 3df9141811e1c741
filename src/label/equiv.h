/*
 * Equivalence mapping between policies (SPIF equivalentPolicies,
 * equivalentClassification, equivalentSecCategoryTag) and the dominant
 * label of a set (ADatP-4774.1 §4.4).  Mapping never changes the
 * originator label: it builds an alternativeConfidentialityLabel
 * (NOTES §1.7).
 */
#ifndef LIAISON_LABEL_EQUIV_H
#define LIAISON_LABEL_EQUIV_H

#include "label/acdf.h"
#include "label/label.h"
#include "label/spif.h"

/*
 * Maps l (valid in its policy) to the policy `to`: classification and
 * each value through the "encrypt" equivalences of l's SPIF or the
 * "decrypt" ones of `to`; categories the equivalence requires are added.
 * A restrictive value without an equivalent, or a permissive tag set
 * none of whose values maps, makes the mapping fail (dropping either
 * would widen access); informative values without one are dropped.  The
 * result must be valid in `to`.  Returns 0 and a new alternative label
 * in *out, or L_ERR_NOTFOUND / L_ERR_INVAL with why filled.
 */
int equiv_map(const struct spif_set *set, const struct label *l,
    const struct spif *to, struct label **out, struct acdf_reason *why);

/*
 * Is alt what the SPIF equivalences make of the originator label orig
 * (NOTES §1.7)?  alt must be valid (flags as label_validate) in a loaded
 * policy other than orig's, and have the classification and category
 * values of equiv_map(orig) in that policy.  A client's alternative label
 * is never taken at its word: one that does not match (lower, higher or
 * made up) would change decisions and markings.  Returns 0, L_ERR_INVAL
 * with why (rule ACDF_R_V_ALTERNATIVE) or L_ERR_NOMEM.
 */
int equiv_check_alternative(const struct spif_set *set,
    const struct label *orig, const struct label *alt, unsigned flags,
    struct acdf_reason *why);

/*
 * Checks every alternative label of g (v[1..]) with
 * equiv_check_alternative against v[0], and that no two are in one
 * policy.  When there are alternatives, the originator label (in a
 * loaded policy) is validated first and its own reason returned.
 */
int label_group_verify(const struct spif_set *set,
    const struct label_group *g, unsigned flags, struct acdf_reason *why);

/* Adds an alternative label in `to` to g unless g already has one.  The
 * alternatives already in g are checked first (label_group_verify). */
int equiv_add_alternative(const struct spif_set *set, struct label_group *g,
    const struct spif *to, struct acdf_reason *why);

/*
 * The dominant label of ls[0..n-1] in policy gov (labels in other
 * policies are mapped first): highest classification, union of
 * restrictive and informative values, intersection of each permissive
 * tag set (omitted when empty or absent from a label).  The result must
 * be valid; otherwise L_ERR_INVAL with why (a policy decision is needed).
 */
int label_dominant(const struct spif_set *set, const struct label *const *ls,
    size_t n, const struct spif *gov, struct label **out,
    struct acdf_reason *why);

#endif
