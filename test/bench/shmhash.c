// SPDX-License-Identifier: MIT
/*
 * The baseline plkv is measured against at scale: a plain hash table in
 * shared memory, 256 process-shared mutexes over its buckets, fixed-size
 * entries, the same XXH3 hash.  What "a locked shared hash table" costs,
 * with none of a cache's work (no LRU, no expiry, no CAS, no recovery).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench.h"

#define SH_STRIPES	256

struct sh_entry {
	uint32_t next;			/* index + 1 in its chain, 0: end */
	uint8_t klen;
	uint8_t pad[3];
	uint32_t vlen;
	char key[SH_KEY_MAX];
	char val[SH_VAL_MAX];
};

struct shmhash {
	pthread_mutex_t lock[SH_STRIPES];
	uint64_t nbuckets;		/* a power of two */
	uint64_t nentries;
	uint64_t used;			/* under every stripe: atomic */
	size_t bytes;
	uint32_t *bucket;		/* index + 1 */
	struct sh_entry *entry;
};

struct shmhash *shmhash_create(uint64_t nkeys)
{
	uint64_t nb = 1;
	size_t bytes;
	pthread_mutexattr_t a;
	struct shmhash *h;
	unsigned i;

	while (nb < nkeys)
		nb <<= 1;
	bytes = sizeof(*h) + nb * sizeof(uint32_t) +
		nkeys * sizeof(struct sh_entry) + 64;
	h = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	h->nbuckets = nb;
	h->nentries = nkeys;
	h->bytes = bytes;
	h->bucket = (uint32_t *)(h + 1);
	h->entry = (struct sh_entry *)(((uintptr_t)(h->bucket + nb) + 63) &
				       ~(uintptr_t)63);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	for (i = 0; i < SH_STRIPES; i++)
		pthread_mutex_init(&h->lock[i], &a);
	pthread_mutexattr_destroy(&a);
	return h;
}

void shmhash_destroy(struct shmhash *h)
{
	if (h)
		munmap(h, h->bytes);
}

static uint32_t *find(struct shmhash *h, uint64_t hv, const char *key,
		      size_t klen)
{
	uint32_t *link = &h->bucket[hv & (h->nbuckets - 1)];

	while (*link) {
		struct sh_entry *e = &h->entry[*link - 1];

		if (e->klen == klen && !memcmp(e->key, key, klen))
			return link;
		link = &e->next;
	}
	return link;
}

int shmhash_get(struct shmhash *h, const char *key, size_t klen, void *buf,
		size_t cap, size_t *vlen)
{
	uint64_t hv = XXH3_64bits(key, klen);
	pthread_mutex_t *m = &h->lock[hv % SH_STRIPES];
	uint32_t *link;
	int rc = PLKV_ENOTFOUND;

	pthread_mutex_lock(m);
	link = find(h, hv, key, klen);
	if (*link) {
		struct sh_entry *e = &h->entry[*link - 1];

		*vlen = e->vlen;
		if (e->vlen <= cap) {
			memcpy(buf, e->val, e->vlen);
			rc = 0;
		} else {
			rc = PLKV_ETOOSMALL;
		}
	}
	pthread_mutex_unlock(m);
	return rc;
}

int shmhash_set(struct shmhash *h, const char *key, size_t klen,
		const void *val, size_t vlen)
{
	uint64_t hv = XXH3_64bits(key, klen);
	pthread_mutex_t *m = &h->lock[hv % SH_STRIPES];
	struct sh_entry *e;
	uint32_t *link;

	if (klen > SH_KEY_MAX || vlen > SH_VAL_MAX)
		return -EINVAL;
	pthread_mutex_lock(m);
	link = find(h, hv, key, klen);
	if (!*link) {
		uint64_t i = __atomic_fetch_add(&h->used, 1, __ATOMIC_RELAXED);

		if (i >= h->nentries) {
			pthread_mutex_unlock(m);
			return PLKV_ENOMEM;
		}
		e = &h->entry[i];
		memcpy(e->key, key, klen);
		e->klen = (uint8_t)klen;
		e->next = 0;
		*link = (uint32_t)i + 1;
	}
	e = &h->entry[*link - 1];
	memcpy(e->val, val, vlen);
	e->vlen = (uint32_t)vlen;
	pthread_mutex_unlock(m);
	return 0;
}
