/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the engine's unit tests (test/unit/test_*.c): a
 * private store on the user backend per test, named "ut-<pid>-<n>" (or
 * after PLKV_TEST_PREFIX), destroyed at teardown; Check's TAP main
 * (ut_run.h).
 *
 * Tests may call the engine's hidden functions (they link the archive or
 * the objects), e.g. plkv_test_time_offset to move the clock.
 */
#ifndef PLKV_ENG_TEST_H
#define PLKV_ENG_TEST_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plkv.h"
#include "engine.h"
#include "ut_run.h"

static plkv_t *kv;
static char seg_name[64];
static unsigned seg_counter;

static inline struct plkv_options ut_opts(uint64_t mem_mib)
{
	struct plkv_options o;

	plkv_options_init(&o);
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	o.backend = PLKV_BACKEND_USER;
	o.mem_limit = mem_mib << 20;
	return o;
}

static inline void ut_name(char *buf, size_t len)
{
	const char *prefix = getenv("PLKV_TEST_PREFIX");

	snprintf(buf, len, "%sut-%d-%u", prefix ? prefix : "", (int)getpid(),
		 seg_counter++);
}

static inline plkv_t *ut_open(const struct plkv_options *o)
{
	plkv_t *h = NULL;
	int rc;

	ut_name(seg_name, sizeof(seg_name));
	plkv_destroy(seg_name, PLKV_BACKEND_USER);
	rc = plkv_open(seg_name, o, &h);
	ck_assert_msg(rc == 0, "plkv_open(%s): %d %s", seg_name, rc,
		      plkv_strerror(rc));
	return h;
}

static inline void ut_setup_mem(uint64_t mem_mib)
{
	struct plkv_options o = ut_opts(mem_mib);

	plkv_test_time_offset = 0;
	kv = ut_open(&o);
}

static inline void ut_setup(void)
{
	ut_setup_mem(64);
}

static inline void ut_teardown(void)
{
	if (kv) {
		plkv_close(kv);
		kv = NULL;
	}
	plkv_destroy(seg_name, PLKV_BACKEND_USER);
}

/* The store must pass plkv_check(). */
#define ck_store_ok(h) do { \
		char _m[256]; \
		int _rc = plkv_check((h), _m, sizeof(_m)); \
		ck_assert_msg(_rc == 0, "plkv_check: %d %s", _rc, _m); \
	} while (0)

static inline uint64_t ut_stat(plkv_t *h, const char *name)
{
	uint64_t v = ~0ULL;
	int rc = plkv_stat_u64(h, name, &v);

	ck_assert_msg(rc == 0, "stat %s: %d", name, rc);
	return v;
}

/* A stat and the value it must have, for ck_stats(). */
struct ut_stat_want {
	const char *name;
	uint64_t value;
};

/* The first of @w whose stat is not its value (*got: the stat's), or
 * the terminator. */
static inline const struct ut_stat_want *
ut_stat_mismatch(plkv_t *h, const struct ut_stat_want *w, uint64_t *got)
{
	for (; w->name; w++) {
		*got = ut_stat(h, w->name);
		if (*got != w->value)
			break;
	}
	return w;
}

/* Each stat has its value: ck_stats(h, { "cmd_set", 3 }, { "bytes", 0 }) */
#define ck_stats(h, ...) do { \
		uint64_t _v = 0; \
		const struct ut_stat_want *_w = ut_stat_mismatch((h), \
			(const struct ut_stat_want[]){ __VA_ARGS__, \
						       { NULL, 0 } }, &_v); \
		ck_assert_msg(!_w->name, "stat %s: %llu, expected %llu", \
			      _w->name, (unsigned long long)_v, \
			      (unsigned long long)_w->value); \
	} while (0)

static inline int ut_set(plkv_t *h, const char *k, const char *v)
{
	return plkv_set(h, k, strlen(k), v, strlen(v), 0, 0);
}

/* Get as a string (NUL-terminated in buf); returns the rc. */
static inline int ut_get(plkv_t *h, const char *k, char *buf, size_t cap,
			 struct plkv_meta *meta)
{
	struct plkv_meta m;
	int rc = plkv_get(h, k, strlen(k), buf, cap - 1, &m);

	if (rc == 0)
		buf[m.len] = 0;
	if (meta)
		*meta = m;
	return rc;
}

#define ck_get_eq(h, k, want) do { \
		char _b[4096]; \
		int _rc = ut_get((h), (k), _b, sizeof(_b), NULL); \
		ck_assert_msg(_rc == 0, "get %s: %d", (k), _rc); \
		ck_assert_str_eq(_b, (want)); \
	} while (0)

#define ck_get_missing(h, k) do { \
		char _b[64]; \
		int _rc = ut_get((h), (k), _b, sizeof(_b), NULL); \
		ck_assert_msg(_rc == PLKV_ENOTFOUND, "get %s: %d, expected " \
			      "NOTFOUND", (k), _rc); \
	} while (0)

/* A test case whose every test gets a store from @setup (ut_setup():
 * the default 64 MiB one), torn down after it. */
static inline TCase *ut_tcase_setup(const char *name, int timeout,
				    void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, ut_teardown);
	tcase_set_timeout(tc, timeout);
	return tc;
}

#endif /* PLKV_ENG_TEST_H */
