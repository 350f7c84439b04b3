// SPDX-License-Identifier: MIT
/*
 * pku_probe - the memory protection key facts plkv's gate is built on.
 *
 * A page tagged with a key the thread has access-disabled faults on read
 * and write with SIGSEGV, si_code SEGV_PKUERR and si_pkey set; enabling the
 * key again (pkey_set, a WRPKRU) makes it accessible without a syscall;
 * write-disable still allows reads; pkey_alloc's initial rights apply at
 * once; bad arguments are refused.
 *
 * Every test SKIPs with "no PKU on this CPU" where the CPU or the kernel
 * has not enabled protection keys (CPUID OSPKE clear); the VM harness runs
 * it with "-cpu max", where it must pass.
 */
#include <cpuid.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

static bool cpu_has_ospke(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return c & (1u << 4);	/* CPUID.(EAX=7,ECX=0):ECX.OSPKE */
}

#define REQUIRE_PKU()							\
	do {								\
		if (!cpu_has_ospke())					\
			SKIP(return, "no PKU on this CPU");		\
	} while (0)

/* The last fault caught by touch(). */
static sigjmp_buf fault_jmp;
static volatile int fault_code;
static volatile int fault_pkey;
static void *volatile fault_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	fault_pkey = si->si_code == SEGV_PKUERR ? (int)si->si_pkey : -1;
	siglongjmp(fault_jmp, 1);
}

/* Reads or writes *p; returns true when that faulted. */
static bool touch(volatile char *p, bool write, char val)
{
	fault_code = 0;
	fault_addr = NULL;
	fault_pkey = -1;
	if (sigsetjmp(fault_jmp, 1))
		return true;
	if (write)
		*p = val;
	else
		(void)*p;
	return false;
}

FIXTURE(keyed_page) {
	char *page;
	long size;
	int pkey;
};

FIXTURE_SETUP(keyed_page)
{
	struct sigaction sa = { .sa_sigaction = on_segv,
				.sa_flags = SA_SIGINFO };

	self->pkey = -1;
	self->page = MAP_FAILED;
	REQUIRE_PKU();
	self->size = sysconf(_SC_PAGESIZE);
	self->page = mmap(NULL, (size_t)self->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
	self->pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, self->pkey) TH_LOG("pkey_alloc: %s", strerror(errno));
	ASSERT_EQ(0, pkey_mprotect(self->page, (size_t)self->size,
				   PROT_READ | PROT_WRITE, self->pkey));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	self->page[0] = 'a';	/* key allowed: plain access works */
}

FIXTURE_TEARDOWN(keyed_page)
{
	if (self->pkey > 0)
		pkey_set(self->pkey, 0);
	if (self->page != MAP_FAILED)
		munmap(self->page, (size_t)self->size);
	if (self->pkey > 0)
		EXPECT_EQ(0, pkey_free(self->pkey));
}

TEST(pkey_alloc_and_free)
{
	int pkey;

	REQUIRE_PKU();
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey) TH_LOG("pkey_alloc: %s", strerror(errno));
	ASSERT_GT(16, pkey);
	ASSERT_EQ(0, pkey_get(pkey));
	ASSERT_EQ(0, pkey_free(pkey));
	errno = 0;
	ASSERT_EQ(-1, pkey_free(pkey));		/* no longer allocated */
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(keyed_page, write_access_disabled_faults)
{
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_ACCESS));
	ASSERT_TRUE(touch(self->page, true, 'b'));
	EXPECT_EQ(SEGV_PKUERR, fault_code);
	EXPECT_EQ(self->page, fault_addr);
	EXPECT_EQ(self->pkey, fault_pkey);
	ASSERT_EQ(0, pkey_set(self->pkey, 0));
	ASSERT_EQ('a', self->page[0]);		/* the write did not land */
}

TEST_F(keyed_page, read_access_disabled_faults)
{
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_ACCESS));
	ASSERT_TRUE(touch(self->page, false, 0));
	EXPECT_EQ(SEGV_PKUERR, fault_code);
	EXPECT_EQ(self->pkey, fault_pkey);
}

TEST_F(keyed_page, reenable_makes_writable)
{
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_ACCESS));
	ASSERT_TRUE(touch(self->page, true, 'b'));
	ASSERT_EQ(SEGV_PKUERR, fault_code);
	/* The handler ran with the kernel's PKRU; enable the key again. */
	ASSERT_EQ(0, pkey_set(self->pkey, 0));
	ASSERT_FALSE(touch(self->page, true, 'c'));
	ASSERT_EQ('c', self->page[0]);
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_ACCESS));
	ASSERT_TRUE(touch(self->page, false, 0));
	ASSERT_EQ(0, pkey_set(self->pkey, 0));
	ASSERT_FALSE(touch(self->page, false, 0));
}

TEST_F(keyed_page, write_disable_allows_read)
{
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_WRITE));
	ASSERT_EQ(PKEY_DISABLE_WRITE, pkey_get(self->pkey));
	ASSERT_FALSE(touch(self->page, false, 0));
	ASSERT_TRUE(touch(self->page, true, 'b'));
	EXPECT_EQ(SEGV_PKUERR, fault_code);
	EXPECT_EQ(self->pkey, fault_pkey);
	ASSERT_EQ(0, pkey_set(self->pkey, 0));
	ASSERT_EQ('a', self->page[0]);
}

TEST_F(keyed_page, other_keys_unaffected)
{
	char *plain = mmap(NULL, (size_t)self->size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, plain);
	ASSERT_EQ(0, pkey_set(self->pkey, PKEY_DISABLE_ACCESS));
	ASSERT_FALSE(touch(plain, true, 'x'));	/* key 0 page */
	ASSERT_EQ('x', plain[0]);
	munmap(plain, (size_t)self->size);
}

TEST(pkey_alloc_initial_rights_apply)
{
	struct sigaction sa = { .sa_sigaction = on_segv,
				.sa_flags = SA_SIGINFO };
	long size = sysconf(_SC_PAGESIZE);
	char *page;
	int pkey;

	REQUIRE_PKU();
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	page = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	pkey = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	ASSERT_LT(0, pkey);
	ASSERT_EQ(PKEY_DISABLE_ACCESS, pkey_get(pkey));
	ASSERT_EQ(0, pkey_mprotect(page, (size_t)size,
				   PROT_READ | PROT_WRITE, pkey));
	ASSERT_TRUE(touch(page, true, 'b'));
	EXPECT_EQ(SEGV_PKUERR, fault_code);
	ASSERT_EQ(0, pkey_set(pkey, 0));
	ASSERT_FALSE(touch(page, true, 'b'));
	munmap(page, (size_t)size);
	ASSERT_EQ(0, pkey_free(pkey));
}

TEST(pkey_bad_arguments)
{
	long size = sysconf(_SC_PAGESIZE);
	char *page;
	int pkey;

	REQUIRE_PKU();
	errno = 0;
	EXPECT_EQ(-1, pkey_alloc(1, 0));		/* no flags defined */
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, pkey_alloc(0, 0x100));	/* unknown right */
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, pkey_free(-1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, pkey_free(99));
	EXPECT_EQ(EINVAL, errno);

	page = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	pkey = pkey_alloc(0, 0);
	ASSERT_LT(0, pkey);
	ASSERT_EQ(0, pkey_free(pkey));
	errno = 0;
	EXPECT_EQ(-1, pkey_mprotect(page, (size_t)size,
				    PROT_READ | PROT_WRITE, pkey));
	EXPECT_EQ(EINVAL, errno);		/* freed key */
	munmap(page, (size_t)size);
}

TEST_HARNESS_MAIN
