/*
 * Conformance run of the label engine against spiffing's test matrix
 * (standards/data/labels/spiffing-tests.xml), driven from the file
 * itself: every <test> is run, or reported SKIP with the reason (its
 * policy or label file is not in the data folder).  Labels and
 * clearances in spiffing's own XML (http://surevine.com/xmlns/spiffy,
 * policy OID + lacv) are converted through the SPIF, as spiffing does.
 * Usage: label-conformance DATA_DIR.  Exit 0 all ran cases pass, 1 a
 * failure, 77 (skip) when the data folder is absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/errors.h"
#include "label/acdf.h"
#include "label/equiv.h"
#include "label/label.h"
#include "label/marking.h"
#include "label/spif.h"
#include "xml/xml.h"

#define SPIFFY_NS "http://surevine.com/xmlns/spiffy"

static const char *data_dir;
static int n_pass, n_fail, n_skip, n_checks;

/* spiffing's test-data names -> files of our data folder, or NULL. */
static char *
data_path(const char *kind, const char *name)
{
	static const struct {
		const char *from, *to;
	} map[] = {
		{ "nato-4774-policy.xml", "spif/spiffing-NATO-policy-v79-schema2.1.xml" },
		{ "tlp.xml", "spif/spiffing-tlp.xml" },
		{ "tlp-plus.xml", "spif/spiffing-tlp-plus.xml" },
		{ "uk-demo.xml", "spif/spiffing-uk-demo.xml" },
	};
	char buf[1024];
	int n;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(kind, "spif") == 0 && strcmp(name, map[i].from) == 0) {
			snprintf(buf, sizeof(buf), "%s/%s", data_dir, map[i].to);
			return access(buf, R_OK) == 0 ? strdup(buf) : NULL;
		}
	}
	/* The Table 17 labels: test-data has each as spiffing XML (.xml) and
	 * as 4774 XML (.nato); the data folder keeps the 4774 form, which
	 * carries the same Table 17 label. */
	if (sscanf(name, "nato-4774-17-%d.", &n) == 1) {
		snprintf(buf, sizeof(buf), "%s/labels/spiffing-nato-4774-table17-%d.xml",
		    data_dir, n);
		return access(buf, R_OK) == 0 ? strdup(buf) : NULL;
	}
	snprintf(buf, sizeof(buf), "%s/%s/spiffing-%s", data_dir,
	    strcmp(kind, "spif") == 0 ? "spif" : "labels", name);
	return access(buf, R_OK) == 0 ? strdup(buf) : NULL;
}

static int
spiffy_type(const char *t)
{
	if (strcmp(t, "permissive") == 0 || strcmp(t, "enumeratedPermissive") == 0)
		return SPIF_PERMISSIVE;
	if (strcmp(t, "restrictive") == 0 || strcmp(t, "enumeratedRestrictive") == 0)
		return SPIF_RESTRICTIVE;
	return SPIF_INFORMATIVE;
}

/* Converts a spiffy label or clearance; returns 0 or -1 with why. */
static int
spiffy_convert(const struct spif_set *set, const struct xml_node *root,
    struct label **lout, struct clearance **cout, char *why, size_t wl)
{
	const struct xml_node *pe = xml_child(root, SPIFFY_NS, "policy");
	const struct spif *p;
	struct label *l = NULL;
	struct clearance *c = NULL;
	int k, ts;

	if (pe == NULL || xml_attr(pe, "id") == NULL ||
	    (p = spif_set_find_id(set, xml_attr(pe, "id"))) == NULL) {
		snprintf(why, wl, "Unknown policy id");
		return -1;
	}
	if (lout != NULL) {
		if ((l = label_new(LABEL_ORIGINATOR)) == NULL ||
		    (l->policy = strdup(p->name)) == NULL)
			goto fail;
	} else if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->policy = strdup(p->name)) == NULL)
		goto fail;
	XML_FOREACH_CHILD(root, e) {
		const char *lacv = xml_attr(e, "lacv");

		if (lacv == NULL)
			continue;
		if (strcmp(e->name, "classification") == 0) {
			if ((k = spif_class_find_lacv(p, lacv)) < 0) {
				snprintf(why, wl, "unknown classification lacv %s",
				    lacv);
				goto fail;
			}
			if (l != NULL) {
				free(l->classification);
				l->classification = strdup(p->classes[k].name);
			} else {
				char **v = realloc(c->classes,
				    (c->nclasses + 1) * sizeof(*v));

				if (v == NULL)
					goto fail;
				c->classes = v;
				c->classes[c->nclasses++] = strdup(p->classes[k].name);
			}
		} else if (strcmp(e->name, "tag") == 0) {
			int type = spiffy_type(xml_attr(e, "type") ?
			    xml_attr(e, "type") : "");

			if ((ts = spif_tagset_find_id(p, xml_attr(e, "id") ?
			    xml_attr(e, "id") : "")) < 0 ||
			    (k = spif_cat_find_lacv(p, (unsigned)ts, type,
			    lacv)) < 0) {
				snprintf(why, wl, "unknown tag lacv %s", lacv);
				goto fail;
			}
			if (l != NULL)
				label_add_value(l, p->tagsets[ts].name, NULL, type,
				    p->cats[k].name);
			else
				clearance_add_value(c, p->tagsets[ts].name, type,
				    p->cats[k].name);
		}
	}
	if (l != NULL && l->classification == NULL) {
		snprintf(why, wl, "no classification");
		goto fail;
	}
	if (lout != NULL)
		*lout = l;
	else
		*cout = c;
	return 0;
fail:
	label_free(l);
	clearance_free(c);
	return -1;
}

static int
load_label(const struct spif_set *set, const char *path, struct label **l,
    char *why, size_t wl)
{
	struct xml_node *root;
	int rc;

	if (xml_parse_file(path, NULL, &root, why, wl) != 0)
		return -1;
	if (strcmp(root->ns, SPIFFY_NS) == 0)
		rc = spiffy_convert(set, root, l, NULL, why, wl);
	else
		rc = label_parse(root, l, why, wl) == 0 ? 0 : -1;
	xml_node_free(root);
	return rc;
}

static int
load_clearance(const struct spif_set *set, const char *path,
    struct clearance **c, char *why, size_t wl)
{
	struct xml_node *root;
	int rc;

	if (xml_parse_file(path, NULL, &root, why, wl) != 0)
		return -1;
	if (strcmp(root->ns, SPIFFY_NS) == 0)
		rc = spiffy_convert(set, root, NULL, c, why, wl);
	else
		rc = clearance_parse(root, c, why, wl) == 0 ? 0 : -1;
	xml_node_free(root);
	return rc;
}

static int
check_str(const char *what, const char *got, const char *want)
{
	n_checks++;
	if (strcmp(got, want) == 0)
		return 0;
	printf("    %s: got '%s', want '%s'\n", what, got, want);
	return -1;
}

static void
run_test(struct spif_set *set, const struct xml_node *t, int num)
{
	const char *lname = xml_attr(t, "label"), *v;
	const char *lang = xml_attr(t, "xml:lang");
	char *lpath = NULL, *cpath = NULL, why[512] = "";
	struct label *l = NULL;
	struct clearance *c = NULL;
	struct label_res r = { 0 };
	struct acdf_reason ar;
	struct buf b;
	int bad = 0, rc;

	buf_init(&b, 0);
	if (lname == NULL || (lpath = data_path("label", lname)) == NULL) {
		printf("SKIP %d %s: label file not in the data folder%s\n", num,
		    lname ? lname : "?", xml_attr(t, "exception") ?
		    " (spiffing expects an exception for it)" : "");
		n_skip++;
		goto done;
	}
	if (load_label(set, lpath, &l, why, sizeof(why)) != 0) {
		if ((v = xml_attr(t, "exception")) != NULL) {
			n_checks++;
			printf("PASS %d %s: rejected (%s)\n", num, lname, why);
			n_pass++;
		} else {
			printf("FAIL %d %s: %s\n", num, lname, why);
			n_fail++;
		}
		goto done;
	}
	rc = label_validate(set, l, 0, 0, &r, &ar);
	if ((v = xml_attr(t, "valid")) != NULL) {
		n_checks++;
		if ((strcmp(v, "true") == 0) != (rc == 0)) {
			printf("    valid: got %s (%s), want %s\n",
			    rc == 0 ? "true" : "false", rc ? ar.text : "", v);
			bad = 1;
		}
	}
	if ((v = xml_attr(t, "label-marking")) != NULL) {
		if (rc != 0) {
			printf("    label-marking: label invalid: %s\n", ar.text);
			bad = 1;
		} else {
			buf_reset(&b);
			marking_label(&r, lang, &b);
			bad |= check_str("label-marking", b.data ? b.data : "", v) != 0;
		}
	}
	if ((v = xml_attr(t, "clearance")) != NULL) {
		struct clearance_res cr;
		struct label_group g = { 0 };
		struct label *gl[1];

		if ((cpath = data_path("label", v)) == NULL) {
			printf("SKIP %d %s: clearance %s not in the data folder\n",
			    num, lname, v);
			n_skip++;
			goto done;
		}
		if (load_clearance(set, cpath, &c, why, sizeof(why)) != 0 ||
		    clearance_resolve(set, c, &cr, why, sizeof(why)) != 0) {
			printf("FAIL %d %s: clearance: %s\n", num, lname, why);
			n_fail++;
			goto done;
		}
		if ((v = xml_attr(t, "clearance-marking")) != NULL) {
			buf_reset(&b);
			marking_clearance(&cr, lang, &b);
			bad |= check_str("clearance-marking", b.data ? b.data : "",
			    v) != 0;
		}
		if ((v = xml_attr(t, "acdf-result")) != NULL) {
			gl[0] = l;
			g.v = gl;
			g.n = 1;
			rc = acdf_check(set, &g, &cr, 0, &ar);
			n_checks++;
			if ((strcmp(v, "1") == 0) != (rc == 0)) {
				printf("    acdf-result: got %s (%s), want %s\n",
				    rc == 0 ? "GRANT" : "DENY", rc ? ar.text : "", v);
				bad = 1;
			}
		}
		clearance_res_cleanup(&cr);
	}
	if ((v = xml_attr(t, "encrypt")) != NULL) {
		const struct spif *to = spif_set_find_id(set, v);
		struct label *m = NULL;
		struct label_res mr;

		n_checks++;
		if (to == NULL || equiv_map(set, l, to, &m, &ar) != 0) {
			printf("    encrypt to %s: %s\n", v, to ? ar.text :
			    "policy not loaded");
			bad = 1;
		} else if ((v = xml_attr(t, "encrypt-marking")) != NULL) {
			if (m->kind != LABEL_ALTERNATIVE ||
			    label_validate(set, m, 0, 0, &mr, &ar) != 0) {
				printf("    encrypt: mapped label unusable\n");
				bad = 1;
			} else {
				buf_reset(&b);
				marking_label(&mr, lang, &b);
				bad |= check_str("encrypt-marking", b.data ?
				    b.data : "", v) != 0;
				label_res_cleanup(&mr);
			}
		}
		label_free(m);
	}
	printf("%s %d %s%s%s\n", bad ? "FAIL" : "PASS", num, lname,
	    lang ? " lang=" : "", lang ? lang : "");
	if (bad)
		n_fail++;
	else
		n_pass++;
done:
	label_res_cleanup(&r);
	label_free(l);
	clearance_free(c);
	free(lpath);
	free(cpath);
	buf_cleanup(&b);
}

int
main(int argc, char **argv)
{
	struct xml_node *root;
	char path[1024], err[512];
	int num = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: label-conformance DATA_DIR\n");
		return 2;
	}
	data_dir = argv[1];
	snprintf(path, sizeof(path), "%s/labels/spiffing-tests.xml", data_dir);
	if (access(path, R_OK) != 0) {
		printf("SKIP: %s not found\n", path);
		return 77;
	}
	if (xml_parse_file(path, NULL, &root, err, sizeof(err)) != 0) {
		printf("FAIL: %s: %s\n", path, err);
		return 1;
	}
	XML_FOREACH_CHILD(root, seq) {
		struct spif_set set;
		const char *missing = NULL;
		int seq_ok = 1;

		if (strcmp(seq->name, "sequence") != 0)
			continue;
		spif_set_init(&set);
		XML_FOREACH_CHILD(seq, pe) {
			const char *name = xml_attr(pe, "spif"), *exc;
			char *sp;
			struct spif *p;

			if (strcmp(pe->name, "policy") != 0 || name == NULL)
				continue;
			exc = xml_attr(pe, "exception");
			if ((sp = data_path("spif", name)) == NULL) {
				missing = name;
				break;
			}
			if (spif_load_file(sp, &p, err, sizeof(err)) != 0) {
				if (exc == NULL) {
					printf("FAIL policy %s: %s\n", name, err);
					n_fail++;
					seq_ok = 0;
				} else {
					printf("PASS policy %s: rejected (%s)\n",
					    name, err);
					n_pass++;
				}
			} else if (exc != NULL) {
				printf("FAIL policy %s: loaded, want '%s'\n",
				    name, exc);
				n_fail++;
				spif_free(p);
			} else if (spif_set_add(&set, p) != 0) {
				spif_free(p);
				seq_ok = 0;
			}
			free(sp);
		}
		XML_FOREACH_CHILD(seq, t) {
			if (strcmp(t->name, "test") != 0)
				continue;
			num++;
			if (missing != NULL || !seq_ok) {
				printf("SKIP %d %s: policy %s not in the data "
				    "folder\n", num, xml_attr(t, "label") ?
				    xml_attr(t, "label") : "?",
				    missing ? missing : "(failed)");
				n_skip++;
				continue;
			}
			run_test(&set, t, num);
		}
		spif_set_cleanup(&set);
	}
	xml_node_free(root);
	printf("spiffing-tests.xml: %d tests: %d pass, %d fail, %d skip "
	    "(%d checks)\n", num, n_pass, n_fail, n_skip, n_checks);
	return n_fail ? 1 : 0;
}
