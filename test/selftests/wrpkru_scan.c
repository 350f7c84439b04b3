// SPDX-License-Identifier: MIT
/*
 * Stray WRPKRU detection (threat tier 4): this program carries a WRPKRU
 * instruction of its own, outside libplkv's gate.  plkv_open() must find
 * it and report it in the process record (plkvctl procs), and refuse to
 * open when PLKV_O_REFUSE_WRPKRU asks it to.  Pure code scanning: runs on
 * any x86 host.
 */
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "plkv.h"

/* Never called: it only has to be in this program's text. */
__attribute__((used, noinline)) void stray_wrpkru(unsigned pkru)
{
	__asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(pkru), "c"(0), "d"(0));
}

static int find_me(void *ctx, const struct plkv_proc *p)
{
	if (p->pid == (uint32_t)getpid())
		*(uint32_t *)ctx = p->wrpkru_found;
	return 0;
}

TEST(stray_wrpkru_reported)
{
	char name[64];
	plkv_t *kv;
	uint32_t found = 0;

	snprintf(name, sizeof(name), "st-wrpkru-%d", (int)getpid());
	ASSERT_EQ(0, plkv_open(name, NULL, &kv));
	ASSERT_EQ(0, plkv_procs(kv, find_me, &found));
	EXPECT_LE(1, found);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST(stray_wrpkru_refused_by_policy)
{
	struct plkv_options o;
	char name[64];
	plkv_t *kv = NULL;

	snprintf(name, sizeof(name), "st-wrpkru2-%d", (int)getpid());
	plkv_options_init(&o);
	o.flags |= PLKV_O_REFUSE_WRPKRU;
	EXPECT_EQ(PLKV_EWRPKRU, plkv_open(name, &o, &kv));
	EXPECT_NULL(kv);
	plkv_destroy(name, PLKV_BACKEND_AUTO);
}

TEST_HARNESS_MAIN
