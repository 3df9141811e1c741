/*
 * liaisonctl label: validate, check, mark, map and dominant, over SPIF,
 * label and clearance files.  Exit 0 for VALID/GRANT/success, 1 for
 * INVALID/DENY/no mapping, 2 with one line naming the file and the
 * position or rule for malformed input.  Scripts rely on this output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/errors.h"
#include "cmd/ctl.h"
#include "label/acdf.h"
#include "label/equiv.h"
#include "label/label.h"
#include "label/marking.h"
#include "label/spif.h"
#include "xml/xml.h"

#define MAXFILES 64

struct label_args {
	const char *spifs[MAXFILES];
	size_t nspifs;
	const char *labels[MAXFILES];
	size_t nlabels;
	const char *clearance;
	const char *lang;
	const char *to;
	int json;
	int lenient;
};

static void
label_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: liaisonctl label validate --spif FILE... --label FILE [--lenient]\n"
	    "       liaisonctl label check --spif FILE... --label FILE --clearance FILE\n"
	    "       liaisonctl label mark --spif FILE... --label FILE [--lang TAG] [--json]\n"
	    "       liaisonctl label map --spif FILE... --label FILE --to POLICY\n"
	    "       liaisonctl label dominant --spif FILE... --label FILE...\n"
	    "--lenient skips the ADatP-4774 prose rules (NOTES 3.2 rule 7).\n");
}

static int
parse_args(int argc, char **argv, struct label_args *a)
{
	const char **list = NULL;
	size_t *n = NULL;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--spif") == 0) {
			list = a->spifs, n = &a->nspifs;
		} else if (strcmp(s, "--label") == 0) {
			list = a->labels, n = &a->nlabels;
		} else if (strcmp(s, "--clearance") == 0 ||
		    strcmp(s, "--lang") == 0 || strcmp(s, "--to") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "liaisonctl label: %s needs a "
				    "value\n", s);
				return -1;
			}
			if (strcmp(s, "--clearance") == 0)
				a->clearance = argv[++i];
			else if (strcmp(s, "--lang") == 0)
				a->lang = argv[++i];
			else
				a->to = argv[++i];
			list = NULL;
		} else if (strcmp(s, "--json") == 0) {
			a->json = 1, list = NULL;
		} else if (strcmp(s, "--lenient") == 0) {
			a->lenient = 1, list = NULL;
		} else if (s[0] == '-' && s[1] == '-') {
			fprintf(stderr, "liaisonctl label: unknown option %s\n",
			    s);
			return -1;
		} else if (list != NULL) {
			if (*n >= MAXFILES) {
				fprintf(stderr, "liaisonctl label: too many "
				    "files\n");
				return -1;
			}
			list[(*n)++] = s;
		} else {
			fprintf(stderr, "liaisonctl label: unexpected "
			    "argument %s\n", s);
			return -1;
		}
	}
	return 0;
}

static int
load_spifs(const struct label_args *a, struct spif_set *set)
{
	char err[512];
	struct spif *p;
	int rc;

	if (a->nspifs == 0) {
		fprintf(stderr, "liaisonctl label: --spif FILE is required\n");
		return 2;
	}
	for (size_t i = 0; i < a->nspifs; i++) {
		err[0] = '\0';
		if ((rc = spif_load_file(a->spifs[i], &p, err, sizeof(err))) != 0) {
			printf("%s: %s\n", a->spifs[i], err[0] ? err :
			    l_strerror(rc));
			return 2;
		}
		if ((rc = spif_set_add(set, p)) != 0) {
			printf("%s: policy %s (%s) is loaded twice\n",
			    a->spifs[i], p->name, p->id);
			spif_free(p);
			return 2;
		}
	}
	return 0;
}

static int
load_group(const char *path, struct label_group *g)
{
	struct xml_node *root = NULL;
	char err[512] = "";
	int rc;

	if ((rc = xml_parse_file(path, NULL, &root, err, sizeof(err))) == 0) {
		rc = label_group_parse(root, g, err, sizeof(err));
		xml_node_free(root);
	}
	if (rc != 0) {
		printf("%s: %s\n", path, err[0] ? err : l_strerror(rc));
		return 2;
	}
	return 0;
}

static int
load_clearance(const char *path, struct clearance **c)
{
	struct xml_node *root = NULL;
	char err[512] = "";
	int rc;

	if ((rc = xml_parse_file(path, NULL, &root, err, sizeof(err))) == 0) {
		rc = clearance_parse(root, c, err, sizeof(err));
		xml_node_free(root);
	}
	if (rc != 0) {
		printf("%s: %s\n", path, err[0] ? err : l_strerror(rc));
		return 2;
	}
	return 0;
}

static int
print_tree(struct xml_node *el)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	if ((rc = xml_serialize(el, NULL, &b)) == 0)
		printf("%s\n", b.data ? b.data : "");
	buf_cleanup(&b);
	return rc;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int
cmd_validate(const struct spif_set *set, const struct label_args *a,
    const struct label_group *g)
{
	struct acdf_reason why;
	unsigned flags = a->lenient ? 0 : LABEL_VALID_4774;
	int rc;

	/* The originator label, then each alternative: valid, and the
	 * originator's equivalent under the SPIFs (an alternative in a
	 * policy not loaded here cannot be checked, so it is invalid). */
	rc = label_validate(set, g->v[0], flags, 0, NULL, &why);
	if (rc == 0)
		rc = label_group_verify(set, g, flags, &why);
	if (rc == L_ERR_INVAL) {
		printf("INVALID: %s\n", why.text);
		return 1;
	}
	if (rc != 0) {
		printf("%s: %s\n", a->labels[0], l_strerror(rc));
		return 2;
	}
	printf("VALID\n");
	return 0;
}

static int
cmd_check(const struct spif_set *set, const struct label_args *a,
    const struct label_group *g)
{
	struct clearance *c = NULL;
	struct clearance_res cr;
	struct acdf_reason why;
	char err[512] = "";
	int rc;

	if (a->clearance == NULL) {
		fprintf(stderr, "liaisonctl label check: --clearance FILE is "
		    "required\n");
		return 2;
	}
	if ((rc = load_clearance(a->clearance, &c)) != 0)
		return rc;
	if (clearance_resolve(set, c, &cr, err, sizeof(err)) != 0) {
		printf("%s: %s\n", a->clearance, err);
		clearance_free(c);
		return 2;
	}
	rc = acdf_check(set, g, &cr, a->lenient ? 0 : LABEL_VALID_4774, &why);
	clearance_res_cleanup(&cr);
	clearance_free(c);
	if (rc == 0) {
		printf("GRANT\n");
		return 0;
	}
	if (rc == L_ERR_DENIED) {
		printf("DENY: %s\n", why.text);
		return 1;
	}
	printf("%s: %s\n", a->labels[0], l_strerror(rc));
	return 2;
}

static int
cmd_mark(const struct spif_set *set, const struct label_args *a,
    const struct label_group *g)
{
	const struct label *l = NULL;
	struct label_res r;
	struct acdf_reason why;
	struct buf b;
	const char *fg, *bg;
	int rc;

	/* The label in the first policy given (as the server marks in
	 * its governing policy), else the originator label; an alternative
	 * only once it is known to be the originator's equivalent. */
	if (spif_set_find(set, g->v[0]->policy) == NULL) {
		printf("INVALID: rule 3.2.1: policy '%s' is not known\n",
		    g->v[0]->policy);
		return 1;
	}
	if ((rc = label_group_verify(set, g, 0, &why)) != 0) {
		if (rc != L_ERR_INVAL) {
			printf("%s: %s\n", a->labels[0], l_strerror(rc));
			return 2;
		}
		printf("INVALID: %s\n", why.text);
		return 1;
	}
	if ((l = label_group_find(g, set->v[0])) == NULL)
		l = g->v[0];
	if ((rc = label_validate(set, l, 0, 0, &r, &why)) != 0) {
		if (rc != L_ERR_INVAL) {
			printf("%s: %s\n", a->labels[0], l_strerror(rc));
			return 2;
		}
		printf("INVALID: %s\n", why.text);
		return 1;
	}
	buf_init(&b, 0);
	if ((rc = marking_label(&r, a->lang, &b)) == 0) {
		if (a->json) {
			marking_colors(&r, &fg, &bg);
			printf("{\"marking\":");
			json_str(b.data ? b.data : "");
			printf(",\"fgcolor\":");
			json_str(fg);
			printf(",\"bgcolor\":");
			json_str(bg);
			printf(",\"policy\":");
			json_str(r.spif->name);
			printf("}\n");
		} else
			printf("%s\n", b.data ? b.data : "");
	}
	buf_cleanup(&b);
	label_res_cleanup(&r);
	return rc == 0 ? 0 : 2;
}

/* Writes the group as a 4778 BindingInformation. */
static int
print_bdo(const struct label_group *g)
{
	struct xml_node *bi, *mbc, *mb, *md, *le, *dr;
	int rc = L_ERR_NOMEM;

	if ((bi = xml_elem_new(MB_NS, "BindingInformation")) == NULL)
		return rc;
	if ((mbc = xml_add_child(bi, MB_NS, "MetadataBindingContainer")) == NULL ||
	    (mb = xml_add_child(mbc, MB_NS, "MetadataBinding")) == NULL)
		goto done;
	for (size_t i = 0; i < g->n; i++) {
		if ((md = xml_add_child(mb, MB_NS, "Metadata")) == NULL)
			goto done;
		if ((rc = label_write(g->v[i], &le)) != 0)
			goto done;
		xml_append(md, le);
	}
	if ((dr = xml_add_child(mb, MB_NS, "DataReference")) == NULL ||
	    xml_set_attr(dr, "URI", "") != 0) {
		rc = L_ERR_NOMEM;
		goto done;
	}
	rc = print_tree(bi);
done:
	xml_node_free(bi);
	return rc;
}

static int
cmd_map(const struct spif_set *set, const struct label_args *a,
    struct label_group *g)
{
	const struct spif *to;
	struct acdf_reason why;
	int rc;

	if (a->to == NULL) {
		fprintf(stderr, "liaisonctl label map: --to POLICY is "
		    "required\n");
		return 2;
	}
	if ((to = spif_set_find(set, a->to)) == NULL) {
		printf("UNMAPPED: policy '%s' is not loaded\n", a->to);
		return 1;
	}
	rc = equiv_add_alternative(set, g, to, &why);
	if (rc == L_ERR_NOMEM) {
		printf("%s: %s\n", a->labels[0], l_strerror(rc));
		return 2;
	}
	if (rc != 0) {
		printf("UNMAPPED: %s\n", why.text);
		return 1;
	}
	return print_bdo(g) == 0 ? 0 : 2;
}

static int
cmd_dominant(const struct spif_set *set, const struct label_args *a,
    struct label_group *gs)
{
	const struct label *ls[MAXFILES];
	const struct spif *gov;
	struct label *d = NULL;
	struct xml_node *el;
	struct acdf_reason why;
	int rc;

	for (size_t i = 0; i < a->nlabels; i++)
		ls[i] = gs[i].v[0];
	gov = spif_set_find(set, a->to ? a->to : ls[0]->policy);
	if (gov == NULL) {
		printf("INVALID: rule 3.2.1: policy '%s' is not known\n",
		    a->to ? a->to : ls[0]->policy);
		return 1;
	}
	rc = label_dominant(set, ls, a->nlabels, gov, &d, &why);
	if (rc == L_ERR_NOMEM) {
		printf("%s: %s\n", a->labels[0], l_strerror(rc));
		return 2;
	}
	if (rc != 0) {
		printf("INVALID: %s\n", why.text);
		return 1;
	}
	if ((rc = label_write(d, &el)) == 0) {
		rc = print_tree(el);
		xml_node_free(el);
	}
	label_free(d);
	return rc == 0 ? 0 : 2;
}

int
ctl_label_main(const struct ctl_opts *o, int argc, char **argv)
{
	struct label_args a;
	struct spif_set set;
	struct label_group gs[MAXFILES];
	const char *verb;
	int rc;

	(void)o;
	if (argc < 1 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "--help") == 0) {
		label_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	verb = argv[0];
	if (strcmp(verb, "validate") != 0 && strcmp(verb, "check") != 0 &&
	    strcmp(verb, "mark") != 0 && strcmp(verb, "map") != 0 &&
	    strcmp(verb, "dominant") != 0) {
		label_usage(stderr);
		return 2;
	}
	if (parse_args(argc, argv, &a) != 0)
		return 2;
	if (a.nlabels == 0 || (a.nlabels > 1 && strcmp(verb, "dominant") != 0)) {
		fprintf(stderr, "liaisonctl label %s: %s\n", verb,
		    a.nlabels == 0 ? "--label FILE is required" :
		    "one --label FILE only");
		return 2;
	}
	spif_set_init(&set);
	for (size_t i = 0; i < a.nlabels; i++)
		label_group_init(&gs[i]);
	if ((rc = load_spifs(&a, &set)) != 0)
		goto done;
	for (size_t i = 0; i < a.nlabels; i++) {
		if ((rc = load_group(a.labels[i], &gs[i])) != 0)
			goto done;
	}
	if (strcmp(verb, "validate") == 0)
		rc = cmd_validate(&set, &a, &gs[0]);
	else if (strcmp(verb, "check") == 0)
		rc = cmd_check(&set, &a, &gs[0]);
	else if (strcmp(verb, "mark") == 0)
		rc = cmd_mark(&set, &a, &gs[0]);
	else if (strcmp(verb, "map") == 0)
		rc = cmd_map(&set, &a, &gs[0]);
	else
		rc = cmd_dominant(&set, &a, gs);
done:
	for (size_t i = 0; i < a.nlabels; i++)
		label_group_cleanup(&gs[i]);
	spif_set_cleanup(&set);
	fflush(stdout);
	return rc;
}
