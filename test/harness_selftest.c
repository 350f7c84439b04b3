// SPDX-License-Identifier: MIT
/*
 * A sample of harness.h use with known outcomes, passing and failing on
 * purpose.  test/harness_selftest.sh runs it and checks every verdict:
 * this program failing is the expected result.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TEST(pass_plain)
{
	const char *s = "abc";
	size_t big = (size_t)-1;
	int minus_one = -1;
	unsigned int one = 1;

	ASSERT_EQ(4, 2 + 2);
	ASSERT_NE(1, 2);
	ASSERT_LT(minus_one, one);	/* mathematical, not C's conversion */
	ASSERT_NE(big, minus_one);
	ASSERT_LE(3, 3);
	ASSERT_GT(3u, 2);
	ASSERT_GE(-2, -3);
	ASSERT_TRUE(s[0] == 'a');
	ASSERT_FALSE(s[0] == 'b');
	ASSERT_NULL(NULL);
	ASSERT_NE_NULL(s);
	ASSERT_EQ(s, s);
	ASSERT_STREQ("abc", s);
	ASSERT_STRNE("abd", s);
	EXPECT_EQ(UINT64_MAX, (uint64_t)-1);
	EXPECT_LT(INT64_MIN, 0);
	TH_LOG("marker: pass_plain done");
}

TEST(fail_assert_eq)
{
	int two = 2;

	ASSERT_EQ(1, two) TH_LOG("marker: on-failure statement ran");
	TH_LOG("marker: NOT REACHED after assert");
}

TEST(fail_expect_continues)
{
	EXPECT_EQ(1, 2);
	TH_LOG("marker: reached after expect");
}

TEST(skip_with_reason)
{
	SKIP(return, "no frobnicator on this %s", "machine");
	TH_LOG("marker: NOT REACHED after skip");
}

TEST(fail_then_skip)
{
	EXPECT_TRUE(0);
	SKIP(return, "too late to skip");
}

TEST(fail_crash)
{
	raise(SIGSEGV);
}

TEST_SIGNAL(pass_expected_signal, SIGABRT)
{
	abort();
}

TEST_SIGNAL(fail_missing_signal, SIGABRT)
{
}

TEST_TIMEOUT(fail_timeout, 1)
{
	sleep(10);
}

TEST(fail_exit_status)
{
	exit(3);
}

TEST(fail_in_forked_child)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		ASSERT_EQ(0, 1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(1, WEXITSTATUS(status));
}

FIXTURE(fx) {
	int value;
};

FIXTURE_SETUP(fx)
{
	self->value = 42;
	TH_LOG("marker: setup");
}

FIXTURE_TEARDOWN(fx)
{
	TH_LOG("marker: teardown value=%d", self->value);
}

TEST_F(fx, pass_sees_setup)
{
	ASSERT_EQ(42, self->value);
	self->value = 7;
}

TEST_F(fx, fail_assert_runs_teardown)
{
	self->value = 8;
	ASSERT_EQ(0, self->value);
}

FIXTURE(skipfx) {
	int unused;
};

FIXTURE_SETUP(skipfx)
{
	SKIP(return, "setup says skip");
}

FIXTURE_TEARDOWN(skipfx)
{
}

TEST_F(skipfx, skip_from_setup)
{
	TH_LOG("marker: NOT REACHED body after setup skip");
}

TEST(pass_unique_name)
{
	char a[64];

	th_unique_name(a, sizeof(a), "seg");
	ASSERT_NE_NULL(strstr(a, "seg"));
	TH_LOG("marker: unique name %s", a);
}

TEST_HARNESS_MAIN
