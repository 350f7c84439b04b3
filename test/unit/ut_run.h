/* SPDX-License-Identifier: MIT */
/*
 * The main of every unit test program: run a Check suite with its TAP
 * output on stdout; exit status 1 when a test failed.  Its test cases
 * take their tests from NULL-terminated tables (ut_tcase_add()).
 */
#ifndef PLKV_UT_RUN_H
#define PLKV_UT_RUN_H

#include <check.h>

/* Add a NULL-terminated table of tests to tc, in order. */
static inline void ut_tcase_add(TCase *tc, const TTest *const *tests)
{
	size_t i;

	for (i = 0; tests[i]; i++)
		tcase_add_test(tc, tests[i]);
}

static inline int ut_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif /* PLKV_UT_RUN_H */
