/* SPDX-License-Identifier: MIT */
/*
 * The main of a unit test program with one test case on the engine
 * fixture (eng_test.h): the tests listed once, in a NULL-terminated
 * table, instead of a suite built by hand in every file.
 *
 *	int main(void)
 *	{
 *		const TTest *const tests[] = { first, second, NULL };
 *
 *		return ut_main("name", 30, ut_setup, tests);
 *	}
 *
 * The table is main()'s own: START_TEST's names are pointer variables,
 * not constants a static table could hold.
 */
#ifndef PLKV_UT_SUITE_H
#define PLKV_UT_SUITE_H

#include "eng_test.h"

static inline int ut_main(const char *name, int timeout, void (*setup)(void),
			  const TTest *const *tests)
{
	Suite *s = suite_create(name);
	TCase *tc = ut_tcase_setup(name, timeout, setup);

	ut_tcase_add(tc, tests);
	suite_add_tcase(s, tc);
	return ut_run(s);
}

#endif /* PLKV_UT_SUITE_H */
