// SPDX-License-Identifier: MIT
/*
 * hello: the smallest libplkv program.  Opens (creating if needed) the
 * store named by $PLKV_SEGMENT, else "plkv", stores a value, reads it
 * back and prints it.  Run it twice, or run `plkvctl get greeting`
 * afterwards: the store outlives the process.
 *
 *	cc -o hello hello.c -lplkv
 *	./hello && plkvctl get greeting && plkvctl destroy
 */
#include <stdio.h>
#include <string.h>

#include <plkv.h>

int main(void)
{
	const char *key = "greeting", *msg = "hello, shared world";
	struct plkv_meta meta;
	char buf[128];
	plkv_t *kv;
	int err;

	/* NULL name: $PLKV_SEGMENT or "plkv"; NULL options: create if missing. */
	err = plkv_open(NULL, NULL, &kv);
	if (err) {
		fprintf(stderr, "hello: open: %s\n", plkv_strerror(err));
		return 1;
	}

	err = plkv_set(kv, key, strlen(key), msg, strlen(msg), 0, 0);
	if (err) {
		fprintf(stderr, "hello: set: %s\n", plkv_strerror(err));
		plkv_close(kv);
		return 1;
	}

	/* The value is copied into buf; it is not NUL-terminated. */
	err = plkv_get(kv, key, strlen(key), buf, sizeof(buf), &meta);
	if (err) {
		fprintf(stderr, "hello: get: %s\n", plkv_strerror(err));
		plkv_close(kv);
		return 1;
	}
	printf("%s = %.*s (cas %llu)\n", key, (int)meta.len, buf,
	       (unsigned long long)meta.cas);

	return plkv_close(kv) ? 1 : 0;
}
