/*
 * A hash map from byte-string keys to pointers, open addressing with
 * linear probing and backward-shift deletion.  The map copies keys it
 * stores; values are borrowed (the caller owns them).  Not thread-safe.
 */
#ifndef LIAISON_BASE_HMAP_H
#define LIAISON_BASE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	char *key;	/* owned copy, NULL = empty */
	size_t klen;
	uint64_t hash;
	void *value;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;	/* power of two, or 0 */
	size_t count;
};

uint64_t hash_bytes(const void *data, size_t len);

void hmap_init(struct hmap *m);
/* Frees the map's key copies, not the values. */
void hmap_cleanup(struct hmap *m);
void *hmap_get(const struct hmap *m, const void *key, size_t klen);
/* Inserts or replaces; returns L_OK or L_ERR_NOMEM. If old is not NULL it
 * receives the replaced value (or NULL). */
int hmap_put(struct hmap *m, const void *key, size_t klen, void *value,
    void **old);
/* Removes the key; returns its value or NULL. */
void *hmap_del(struct hmap *m, const void *key, size_t klen);

/* Iteration: for (size_t i = 0; hmap_next(m, &i, &k, &kl, &v); ) */
int hmap_next(const struct hmap *m, size_t *iter, const char **key,
    size_t *klen, void **value);

#define HMAP_GETS(m, s) hmap_get((m), (s), strlen(s))

#endif
