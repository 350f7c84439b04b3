/* SPDX-License-Identifier: MIT */
/*
 * The main of every unit test program: run a Check suite with its TAP
 * output on stdout; exit status 1 when a test failed.
 */
#ifndef PLKV_UT_RUN_H
#define PLKV_UT_RUN_H

#include <check.h>

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
