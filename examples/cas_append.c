// SPDX-License-Identifier: MIT
/*
 * cas_append: a read-modify-write that several processes can race on,
 * done with compare-and-swap (memcached's gets + cas), and a read that
 * grows its buffer when the value outgrows it.
 *
 * Each run appends " NAME" to the list stored under "guests": it reads the
 * value and its CAS, builds the new value, and stores it only if nobody
 * changed the item in between (PLKV_EEXISTS otherwise: read again, retry).
 * Run several at once and no name is lost:
 *
 *	for n in ann bob cy dee; do ./cas_append $n & done; wait
 *	plkvctl get guests
 *
 * (plkv_append() does this particular job in one call; the loop below is
 * the general pattern for any update computed from the old value.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plkv.h>

static const char key[] = "guests";

/* Read key into a malloc'd buffer, growing it as the library asks. */
static int read_value(plkv_t *kv, char **val, struct plkv_meta *meta)
{
	size_t cap = 16;	/* small on purpose: shows the retry */
	char *buf = NULL;
	int err;

	do {
		free(buf);
		buf = malloc(cap);
		if (!buf)
			return -1;
		err = plkv_get(kv, key, strlen(key), buf, cap, meta);
		cap = meta->len;	/* the size needed, on PLKV_ETOOSMALL */
	} while (err == PLKV_ETOOSMALL);
	if (err)
		free(buf);
	else
		*val = buf;
	return err;
}

static int append_name(plkv_t *kv, const char *name, unsigned *tries)
{
	struct plkv_meta meta;
	char *old, *new;
	int err;

	for (*tries = 1;; (*tries)++) {
		err = read_value(kv, &old, &meta);
		if (err == PLKV_ENOTFOUND) {
			/* First guest: add fails if another process won. */
			err = plkv_add(kv, key, strlen(key), name, strlen(name),
				       0, 0);
			if (err == PLKV_ENOTSTORED)
				continue;
			return err;
		}
		if (err)
			return err;
		new = malloc(meta.len + 1 + strlen(name));
		if (!new) {
			free(old);
			return -1;
		}
		memcpy(new, old, meta.len);
		new[meta.len] = ' ';
		memcpy(new + meta.len + 1, name, strlen(name));
		err = plkv_cas(kv, key, strlen(key), new,
			       meta.len + 1 + strlen(name), meta.flags,
			       meta.exptime, meta.cas);
		free(old);
		free(new);
		if (err != PLKV_EEXISTS && err != PLKV_ENOTFOUND)
			return err;	/* stored, or a real error */
		/* Someone changed or deleted it since we read it: again. */
	}
}

int main(int argc, char **argv)
{
	struct plkv_meta meta;
	unsigned tries;
	char *list;
	plkv_t *kv;
	int err;

	if (argc != 2 || !*argv[1] || strchr(argv[1], ' ')) {
		fprintf(stderr, "usage: cas_append NAME\n");
		return 2;
	}
	err = plkv_open(NULL, NULL, &kv);	/* $PLKV_SEGMENT or "plkv" */
	if (err) {
		fprintf(stderr, "cas_append: open: %s\n", plkv_strerror(err));
		return 1;
	}
	err = append_name(kv, argv[1], &tries);
	if (!err)
		err = read_value(kv, &list, &meta);
	if (err) {
		fprintf(stderr, "cas_append: %s\n", plkv_strerror(err));
		plkv_close(kv);
		return 1;
	}
	printf("%s: added after %u tr%s; guests: %.*s\n", argv[1], tries,
	       tries == 1 ? "y" : "ies", (int)meta.len, list);
	free(list);
	return plkv_close(kv) ? 1 : 0;
}
