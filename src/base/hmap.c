/* Open-addressing hash map; see hmap.h. FNV-1a mixed with a final avalanche. */
#include "base/hmap.h"
#include "base/errors.h"

#include <stdlib.h>
#include <string.h>

uint64_t
hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void
hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void
hmap_cleanup(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	hmap_init(m);
}

static struct hmap_slot *
find(const struct hmap *m, const void *key, size_t klen, uint64_t h)
{
	size_t mask, i;

	if (m->cap == 0)
		return NULL;
	mask = m->cap - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &m->slots[i];

		if (s->key == NULL)
			return NULL;
		if (s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0)
			return s;
	}
}

void *
hmap_get(const struct hmap *m, const void *key, size_t klen)
{
	struct hmap_slot *s = find(m, key, klen, hash_bytes(key, klen));

	return s ? s->value : NULL;
}

static void
place(struct hmap_slot *slots, size_t cap, struct hmap_slot *src)
{
	size_t mask = cap - 1, i;

	for (i = src->hash & mask; slots[i].key != NULL; i = (i + 1) & mask)
		;
	slots[i] = *src;
}

static int
grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct hmap_slot *n = calloc(ncap, sizeof *n);

	if (n == NULL)
		return L_ERR_NOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
			place(n, ncap, &m->slots[i]);
	free(m->slots);
	m->slots = n;
	m->cap = ncap;
	return L_OK;
}

int
hmap_put(struct hmap *m, const void *key, size_t klen, void *value,
    void **old)
{
	uint64_t h = hash_bytes(key, klen);
	struct hmap_slot *s = find(m, key, klen, h), ns;

	if (s != NULL) {
		if (old)
			*old = s->value;
		s->value = value;
		return L_OK;
	}
	if (old)
		*old = NULL;
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != L_OK)
		return L_ERR_NOMEM;
	ns.key = malloc(klen + 1);
	if (ns.key == NULL)
		return L_ERR_NOMEM;
	memcpy(ns.key, key, klen);
	ns.key[klen] = '\0';
	ns.klen = klen;
	ns.hash = h;
	ns.value = value;
	place(m->slots, m->cap, &ns);
	m->count++;
	return L_OK;
}

void *
hmap_del(struct hmap *m, const void *key, size_t klen)
{
	struct hmap_slot *s = find(m, key, klen, hash_bytes(key, klen));
	size_t mask, i, j;
	void *v;

	if (s == NULL)
		return NULL;
	v = s->value;
	free(s->key);
	mask = m->cap - 1;
	i = (size_t)(s - m->slots);
	/* Backward-shift: move later members of the cluster into the gap. */
	for (j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = NULL;
	m->count--;
	return v;
}

int
hmap_next(const struct hmap *m, size_t *iter, const char **key,
    size_t *klen, void **value)
{
	while (*iter < m->cap) {
		struct hmap_slot *s = &m->slots[(*iter)++];

		if (s->key != NULL) {
			if (key)
				*key = s->key;
			if (klen)
				*klen = s->klen;
			if (value)
				*value = s->value;
			return 1;
		}
	}
	return 0;
}
