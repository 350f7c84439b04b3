/* SPDX-License-Identifier: MIT */
/*
 * harness.h - plkv's test harness for selftests, in the manner of the
 * kernel's kselftest harness (same macro names, our own implementation).
 *
 * A test program is one .c file:
 *
 *	#include "harness.h"
 *
 *	TEST(addition)
 *	{
 *		ASSERT_EQ(4, 2 + 2);
 *	}
 *
 *	FIXTURE(file) {
 *		int fd;
 *	};
 *	FIXTURE_SETUP(file)
 *	{
 *		self->fd = open("/dev/null", O_RDWR);
 *		ASSERT_LE(0, self->fd);
 *	}
 *	FIXTURE_TEARDOWN(file)
 *	{
 *		close(self->fd);
 *	}
 *	TEST_F(file, write_works)
 *	{
 *		EXPECT_EQ(3, write(self->fd, "abc", 3));
 *	}
 *
 *	TEST_HARNESS_MAIN
 *
 * Semantics:
 * - Every test runs in its own fork()ed child, in its own process group,
 *   with a timeout (TH_DEFAULT_TIMEOUT seconds, or the one given with
 *   TEST_TIMEOUT / TEST_F_TIMEOUT, multiplied by $TH_TIMEOUT_SCALE).  A
 *   crash, a signal, a timeout or a non-zero exit of the child fails that
 *   test only.  TEST_SIGNAL / TEST_F_SIGNAL declare a test that passes only
 *   if the child is killed by the given signal.
 * - ASSERT_* stops the test (the fixture's teardown still runs when setup
 *   had completed); EXPECT_* records the failure and continues.  Either can
 *   be followed by a statement or block that runs only on failure:
 *	ASSERT_EQ(0, ret) TH_LOG("errno %d", errno);
 * - Comparisons are mathematical: -1 < 1u holds, and (size_t)-1 != -1.
 *   Integers, enums and pointers may be compared (not floats or structs).
 * - SKIP(statement, fmt, ...) marks the test skipped with a reason and then
 *   runs statement (usually "return").  A skip is reported as
 *   "ok N name # SKIP reason"; a failure recorded before it wins.
 * - The fixture's FIXTURE_SETUP and FIXTURE_TEARDOWN are both required
 *   (either may be empty).  Test names are "name" or "fixture.name".
 * - ASSERT_*, EXPECT_*, SKIP and TH_LOG may be used in helper functions
 *   called by a test, and in processes a test forks (an ASSERT in such a
 *   process marks the test failed and _exit()s that process).
 * - Output is TAP 13 on stdout: "TAP version 13", "1..N", then per test
 *   "ok N name", "not ok N name" or "ok N name # SKIP reason", diagnostics
 *   as "# ..." lines before the result they belong to, and a final
 *   "# totals: pass:N fail:N skip:N".  Exit status 0 iff nothing failed.
 * - Options: -l lists the tests, -t PATTERN (repeatable, fnmatch(3)
 *   pattern on the test name) runs only the matching tests, -h helps.
 *
 * Environment:
 *	TH_TIMEOUT_SCALE	integer multiplier for every timeout (the VM
 *				harness sets it, TCG being slow)
 *	TH_CORE			keep core dumps of crashing tests (default: off)
 *	PLKV_TEST_PREFIX	prefix for names that must be unique per run
 *				(see th_unique_name())
 */
#ifndef PLKV_TEST_HARNESS_H
#define PLKV_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TH_DEFAULT_TIMEOUT	30

#define __th_unused	__attribute__((unused))

struct th_test;
typedef void (*__th_fn)(struct th_test *, void *);

/* What a test's child reports; lives in memory shared with the runner. */
struct __th_result {
	int failed;
	int skipped;
	char reason[256];
};

struct th_test {
	const char *name;
	__th_fn setup;
	__th_fn body;
	__th_fn teardown;
	size_t self_size;
	int timeout;
	int signal;		/* expected terminating signal, 0 = none */
	struct th_test *next;
};

/* One set of these per program: the header is included by one file. */
static struct th_test *__th_first __th_unused;
static struct th_test *__th_last __th_unused;
static struct th_test *__th_current __th_unused;	/* in the child */
static struct __th_result *__th_res __th_unused;
static pid_t __th_child_pid __th_unused;	/* the test's own process */
static jmp_buf __th_jmp __th_unused;
static volatile pid_t __th_running_pgrp __th_unused;
static unsigned int __th_index __th_unused;
static pid_t __th_main_pid __th_unused;

static __th_unused void __th_register(struct th_test *t)
{
	if (__th_last)
		__th_last->next = t;
	else
		__th_first = t;
	__th_last = t;
}

/* ---- registration macros ------------------------------------------ */

#define __TH_TEST(fn, str, secs, sig)					\
	static void fn(struct th_test *_metadata);			\
	static void __th_body_##fn(struct th_test *m, void *self)	\
	{								\
		(void)self;						\
		fn(m);							\
	}								\
	static struct th_test __th_t_##fn = {				\
		.name = str,						\
		.body = __th_body_##fn,					\
		.timeout = (secs),					\
		.signal = (sig),					\
	};								\
	static void __attribute__((constructor)) __th_reg_##fn(void)	\
	{								\
		__th_register(&__th_t_##fn);				\
	}								\
	static void fn(struct th_test __th_unused *_metadata)

#define TEST(name)		__TH_TEST(name, #name, TH_DEFAULT_TIMEOUT, 0)
#define TEST_TIMEOUT(name, secs) __TH_TEST(name, #name, secs, 0)
#define TEST_SIGNAL(name, sig)	__TH_TEST(name, #name, TH_DEFAULT_TIMEOUT, sig)

#define FIXTURE_DATA(f)		struct __th_fixture_##f

#define FIXTURE(f)							\
	FIXTURE_DATA(f);						\
	static void __th_setup_##f(struct th_test *, FIXTURE_DATA(f) *);	\
	static void __th_teardown_##f(struct th_test *, FIXTURE_DATA(f) *); \
	static __th_unused void __th_setup_wrap_##f(struct th_test *m, void *s) \
	{								\
		__th_setup_##f(m, s);					\
	}								\
	static __th_unused void __th_teardown_wrap_##f(struct th_test *m, \
						       void *s)		\
	{								\
		__th_teardown_##f(m, s);				\
	}								\
	FIXTURE_DATA(f)

#define FIXTURE_SETUP(f)						\
	static void __th_setup_##f(struct th_test __th_unused *_metadata, \
				   FIXTURE_DATA(f) __th_unused *self)

#define FIXTURE_TEARDOWN(f)						\
	static void __th_teardown_##f(struct th_test __th_unused *_metadata, \
				      FIXTURE_DATA(f) __th_unused *self)

#define __TH_TEST_F(f, n, secs, sig)					\
	static void __th_f_##f##_##n(struct th_test *, FIXTURE_DATA(f) *); \
	static void __th_fbody_##f##_##n(struct th_test *m, void *s)	\
	{								\
		__th_f_##f##_##n(m, s);					\
	}								\
	static struct th_test __th_t_##f##_##n = {			\
		.name = #f "." #n,					\
		.setup = __th_setup_wrap_##f,				\
		.body = __th_fbody_##f##_##n,				\
		.teardown = __th_teardown_wrap_##f,			\
		.self_size = sizeof(FIXTURE_DATA(f)),			\
		.timeout = (secs),					\
		.signal = (sig),					\
	};								\
	static void __attribute__((constructor)) __th_reg_##f##_##n(void) \
	{								\
		__th_register(&__th_t_##f##_##n);			\
	}								\
	static void __th_f_##f##_##n(struct th_test __th_unused *_metadata, \
				     FIXTURE_DATA(f) __th_unused *self)

#define TEST_F(f, n)		__TH_TEST_F(f, n, TH_DEFAULT_TIMEOUT, 0)
#define TEST_F_TIMEOUT(f, n, secs) __TH_TEST_F(f, n, secs, 0)
#define TEST_F_SIGNAL(f, n, sig) __TH_TEST_F(f, n, TH_DEFAULT_TIMEOUT, sig)

#define TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		return __th_main(argc, argv);				\
	}

/* ---- diagnostics, skips, failures ---------------------------------- */

static __th_unused __attribute__((format(printf, 3, 4)))
void __th_log(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	const char *base = strrchr(file, '/');

	printf("# %s:%d:%s: ", base ? base + 1 : file, line,
	       __th_current ? __th_current->name : "-");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#define TH_LOG(fmt, ...)	__th_log(__FILE__, __LINE__, fmt, ##__VA_ARGS__)

static __th_unused __attribute__((format(printf, 1, 2)))
void __th_skip(const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (!__th_res)
		return;
	va_start(ap, fmt);
	vsnprintf(__th_res->reason, sizeof(__th_res->reason), fmt, ap);
	va_end(ap);
	for (p = __th_res->reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	__th_res->skipped = 1;
}

#define SKIP(statement, fmt, ...)					\
	do {								\
		__th_skip(fmt, ##__VA_ARGS__);				\
		statement;						\
	} while (0)

static __th_unused void __th_mark_failed(void)
{
	if (__th_res)
		__th_res->failed = 1;
}

/* After a failed check: ASSERT leaves the test, EXPECT goes on. */
static __th_unused void __th_bail(int is_assert)
{
	if (!is_assert)
		return;
	fflush(stdout);
	if (getpid() != __th_child_pid)
		_exit(1);	/* a process the test forked */
	longjmp(__th_jmp, 1);
}

enum { __TH_EQ, __TH_NE, __TH_LT, __TH_LE, __TH_GT, __TH_GE };
enum { __TH_UNSIGNED, __TH_SIGNED_INT, __TH_POINTER };

/* Kind of a value for printing and comparing: signed, unsigned, pointer. */
#define __TH_KIND(x)							\
	(__builtin_classify_type(x) == 5 ? __TH_POINTER :		\
	 ((__typeof__(x))(intptr_t)-1 < (__typeof__(x))(intptr_t)1) ?	\
	 __TH_SIGNED_INT : __TH_UNSIGNED)

static __th_unused int __th_cmp3(uintmax_t a, int ak, uintmax_t b, int bk)
{
	bool aneg = ak == __TH_SIGNED_INT && (intmax_t)a < 0;
	bool bneg = bk == __TH_SIGNED_INT && (intmax_t)b < 0;

	if (aneg != bneg)
		return aneg ? -1 : 1;
	return a < b ? -1 : a > b;
}

static __th_unused void __th_fmt(char *buf, size_t len, uintmax_t v, int kind)
{
	if (kind == __TH_POINTER)
		snprintf(buf, len, "0x%" PRIxMAX, v);
	else if (kind == __TH_SIGNED_INT)
		snprintf(buf, len, "%" PRIdMAX, (intmax_t)v);
	else if (v > 0xffff)
		snprintf(buf, len, "%" PRIuMAX " = 0x%" PRIxMAX, v, v);
	else
		snprintf(buf, len, "%" PRIuMAX, v);
}

/* Returns true when the comparison fails (and reports it). */
static __th_unused bool __th_check(const char *file, int line, int op,
				   const char *aexpr, uintmax_t a, int ak,
				   const char *bexpr, uintmax_t b, int bk)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	int c = __th_cmp3(a, ak, b, bk);
	bool ok = false;
	char as[64], bs[64];

	switch (op) {
	case __TH_EQ: ok = c == 0; break;
	case __TH_NE: ok = c != 0; break;
	case __TH_LT: ok = c < 0; break;
	case __TH_LE: ok = c <= 0; break;
	case __TH_GT: ok = c > 0; break;
	case __TH_GE: ok = c >= 0; break;
	}
	if (ok)
		return false;
	__th_fmt(as, sizeof(as), a, ak);
	__th_fmt(bs, sizeof(bs), b, bk);
	__th_log(file, line, "Expected %s (%s) %s %s (%s)",
		 aexpr, as, ops[op], bexpr, bs);
	__th_mark_failed();
	return true;
}

static __th_unused bool __th_check_bool(const char *file, int line,
					const char *expr, bool val, bool want)
{
	if (val == want)
		return false;
	__th_log(file, line, "Expected %s to be %s", expr,
		 want ? "true" : "false");
	__th_mark_failed();
	return true;
}

static __th_unused bool __th_check_str(const char *file, int line, bool eq,
				       const char *aexpr, const char *a,
				       const char *bexpr, const char *b)
{
	bool same = a && b ? strcmp(a, b) == 0 : a == b;

	if (same == eq)
		return false;
	__th_log(file, line, "Expected %s (\"%s\") %s %s (\"%s\")",
		 aexpr, a ? a : "(null)", eq ? "==" : "!=",
		 bexpr, b ? b : "(null)");
	__th_mark_failed();
	return true;
}

/*
 * Each check is a for statement whose body (the statement written after
 * the macro, often just ";") runs once when the check fails; then
 * __th_bail() leaves the test for an ASSERT.
 */
#define __TH_CMP(a, op, b, is_assert)					\
	for (bool __th_f = ({						\
		__typeof__(a) __th_a = (a);				\
		__typeof__(b) __th_b = (b);				\
		__th_check(__FILE__, __LINE__, op,			\
			   #a, (uintmax_t)(uintptr_t)__th_a,		\
			   __TH_KIND(__th_a),				\
			   #b, (uintmax_t)(uintptr_t)__th_b,		\
			   __TH_KIND(__th_b));				\
	     }); __th_f; __th_f = false, __th_bail(is_assert))

#define __TH_BOOL(x, want, is_assert)					\
	for (bool __th_f = __th_check_bool(__FILE__, __LINE__, #x,	\
					   !!(x), want);		\
	     __th_f; __th_f = false, __th_bail(is_assert))

#define __TH_STR(a, eq, b, is_assert)					\
	for (bool __th_f = __th_check_str(__FILE__, __LINE__, eq,	\
					  #a, (a), #b, (b));		\
	     __th_f; __th_f = false, __th_bail(is_assert))

#define ASSERT_EQ(expected, seen)	__TH_CMP(expected, __TH_EQ, seen, 1)
#define ASSERT_NE(expected, seen)	__TH_CMP(expected, __TH_NE, seen, 1)
#define ASSERT_LT(expected, seen)	__TH_CMP(expected, __TH_LT, seen, 1)
#define ASSERT_LE(expected, seen)	__TH_CMP(expected, __TH_LE, seen, 1)
#define ASSERT_GT(expected, seen)	__TH_CMP(expected, __TH_GT, seen, 1)
#define ASSERT_GE(expected, seen)	__TH_CMP(expected, __TH_GE, seen, 1)
#define ASSERT_NULL(seen)		__TH_CMP(NULL, __TH_EQ, seen, 1)
#define ASSERT_NE_NULL(seen)		__TH_CMP(NULL, __TH_NE, seen, 1)
#define ASSERT_TRUE(seen)		__TH_BOOL(seen, true, 1)
#define ASSERT_FALSE(seen)		__TH_BOOL(seen, false, 1)
#define ASSERT_STREQ(expected, seen)	__TH_STR(expected, true, seen, 1)
#define ASSERT_STRNE(expected, seen)	__TH_STR(expected, false, seen, 1)

#define EXPECT_EQ(expected, seen)	__TH_CMP(expected, __TH_EQ, seen, 0)
#define EXPECT_NE(expected, seen)	__TH_CMP(expected, __TH_NE, seen, 0)
#define EXPECT_LT(expected, seen)	__TH_CMP(expected, __TH_LT, seen, 0)
#define EXPECT_LE(expected, seen)	__TH_CMP(expected, __TH_LE, seen, 0)
#define EXPECT_GT(expected, seen)	__TH_CMP(expected, __TH_GT, seen, 0)
#define EXPECT_GE(expected, seen)	__TH_CMP(expected, __TH_GE, seen, 0)
#define EXPECT_NULL(seen)		__TH_CMP(NULL, __TH_EQ, seen, 0)
#define EXPECT_NE_NULL(seen)		__TH_CMP(NULL, __TH_NE, seen, 0)
#define EXPECT_TRUE(seen)		__TH_BOOL(seen, true, 0)
#define EXPECT_FALSE(seen)		__TH_BOOL(seen, false, 0)
#define EXPECT_STREQ(expected, seen)	__TH_STR(expected, true, seen, 0)
#define EXPECT_STRNE(expected, seen)	__TH_STR(expected, false, seen, 0)

/*
 * A name unique to this run and test, for segments, files, sockets:
 * "$PLKV_TEST_PREFIX" (the test runner sets a unique one; default
 * "th<pid of the test program>-") + "<test number>-" + suffix.
 */
static __th_unused const char *th_unique_name(char *buf, size_t len,
					      const char *suffix)
{
	const char *prefix = getenv("PLKV_TEST_PREFIX");

	if (prefix && *prefix)
		snprintf(buf, len, "%s%u-%s", prefix, __th_index, suffix);
	else
		snprintf(buf, len, "th%d-%u-%s", (int)__th_main_pid,
			 __th_index, suffix);
	return buf;
}

/* ---- the runner ----------------------------------------------------- */

static __th_unused __attribute__((noreturn))
void __th_child(struct th_test *t)
{
	void *volatile self = NULL;
	volatile bool setup_done = false;

	__th_current = t;
	__th_child_pid = getpid();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (!getenv("TH_CORE")) {
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
	}
	if (t->self_size) {
		self = calloc(1, t->self_size);
		if (!self) {
			printf("# %s: out of memory for the fixture\n", t->name);
			__th_mark_failed();
			fflush(stdout);
			_exit(1);
		}
	}
	if (setjmp(__th_jmp) == 0) {
		if (t->setup)
			t->setup(t, self);
		setup_done = true;
		if (!__th_res->skipped)
			t->body(t, self);
	}
	if (setup_done && t->teardown) {
		setup_done = false;	/* an ASSERT in teardown ends it */
		if (setjmp(__th_jmp) == 0)
			t->teardown(t, self);
	}
	fflush(stdout);
	_exit(0);
}

/* Wait for pid up to secs seconds; false on timeout. */
static __th_unused bool __th_wait(pid_t pid, int secs, int *status)
{
	struct timespec start, now;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	long left_ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = (long)secs * 1000 -
			  ((now.tv_sec - start.tv_sec) * 1000 +
			   (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			if (pfd >= 0)
				close(pfd);
			return false;
		}
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, left_ms > 1000 ? 1000 : (int)left_ms);
		} else {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return true;
}

static __th_unused void __th_on_signal(int sig)
{
	if (__th_running_pgrp > 0)
		kill(-__th_running_pgrp, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Runs one test; returns 0 pass, 1 fail, 2 skip. */
static __th_unused int __th_run(struct th_test *t, unsigned int num, int scale)
{
	int secs = t->timeout * scale;
	int status = 0, verdict;
	char why[160] = "";
	pid_t pid;

	memset(__th_res, 0, sizeof(*__th_res));
	__th_index = num;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("# %s: fork: %s\nnot ok %u %s\n", t->name,
		       strerror(errno), num, t->name);
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		__th_child(t);
	}
	setpgid(pid, pid);
	__th_running_pgrp = pid;
	if (!__th_wait(pid, secs, &status)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(why, sizeof(why), "timed out after %d s", secs);
		verdict = 1;
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		if (sig == t->signal && !__th_res->failed) {
			verdict = 0;
		} else {
			snprintf(why, sizeof(why), "killed by signal %d (%s)",
				 sig, strsignal(sig));
			verdict = 1;
		}
	} else if (__th_res->failed) {
		verdict = 1;
	} else if (WEXITSTATUS(status) != 0) {
		snprintf(why, sizeof(why), "exited with status %d",
			 WEXITSTATUS(status));
		verdict = 1;
	} else if (__th_res->skipped) {
		verdict = 2;
	} else if (t->signal) {
		snprintf(why, sizeof(why),
			 "exited normally, expected signal %d (%s)",
			 t->signal, strsignal(t->signal));
		verdict = 1;
	} else {
		verdict = 0;
	}
	kill(-pid, SIGKILL);	/* whatever the test left running */
	__th_running_pgrp = 0;

	if (why[0])
		printf("# %s: %s\n", t->name, why);
	if (verdict == 1)
		printf("not ok %u %s\n", num, t->name);
	else if (verdict == 2)
		printf("ok %u %s # SKIP %s\n", num, t->name,
		       __th_res->reason[0] ? __th_res->reason : "(no reason)");
	else
		printf("ok %u %s\n", num, t->name);
	fflush(stdout);
	return verdict;
}

static __th_unused bool __th_selected(const struct th_test *t,
				      char **pats, int npats)
{
	int i;

	if (!npats)
		return true;
	for (i = 0; i < npats; i++)
		if (fnmatch(pats[i], t->name, 0) == 0)
			return true;
	return false;
}

static __th_unused int __th_main(int argc, char **argv)
{
	char **pats = calloc((size_t)argc + 1, sizeof(*pats));
	int npats = 0, opt, scale = 1, counts[3] = { 0, 0, 0 };
	unsigned int n = 0, num = 0;
	const char *env;
	struct th_test *t;
	bool list = false;

	if (!pats)
		return 1;
	while ((opt = getopt(argc, argv, "hlt:")) != -1) {
		switch (opt) {
		case 'l':
			list = true;
			break;
		case 't':
			pats[npats++] = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-l] [-t PATTERN]...\n"
				"  -l          list the tests\n"
				"  -t PATTERN  run the tests whose name matches "
				"(fnmatch pattern; repeatable)\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	for (t = __th_first; t; t = t->next)
		if (__th_selected(t, pats, npats)) {
			n++;
			if (list)
				printf("%s\n", t->name);
		}
	if (list)
		return 0;
	if (npats && !n) {
		fprintf(stderr, "%s: no test matches\n", argv[0]);
		return 2;
	}
	env = getenv("TH_TIMEOUT_SCALE");
	if (env && atoi(env) > 0)
		scale = atoi(env);
	__th_main_pid = getpid();
	__th_res = mmap(NULL, sizeof(*__th_res), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (__th_res == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	signal(SIGINT, __th_on_signal);
	signal(SIGTERM, __th_on_signal);
	signal(SIGHUP, __th_on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%u\n", n);
	for (t = __th_first; t; t = t->next)
		if (__th_selected(t, pats, npats))
			counts[__th_run(t, ++num, scale)]++;
	printf("# totals: pass:%d fail:%d skip:%d\n",
	       counts[0], counts[1], counts[2]);
	free(pats);
	return counts[1] ? 1 : 0;
}

#endif /* PLKV_TEST_HARNESS_H */
