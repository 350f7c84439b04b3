// SPDX-License-Identifier: MIT
/*
 * gate_attack.c - a hostile client against the gate and the library's
 * own state (Documentation/protection.rst, classes 1 and 2).  VM only:
 * needs the module and PKU.
 *
 *  - every WRPKRU of libplkv, jumped to with a value that grants the key:
 *    a revoking one kills the process (its check fails), a granting one
 *    never hands control back with the key granted;
 *  - the handle is out of the client's reach: a write to it faults, a
 *    forged copy in the heap gets no grant, the trust region can be
 *    neither unmapped, replaced, re-protected nor written through
 *    process_vm_writev or /proc/self/mem;
 *  - a thread state rewritten to name another slot is not trusted, and
 *    the module confirms the segment's mapping before a handle built in
 *    the heap is trusted;
 *  - a get, set or incr entered at its granting WRPKRU with the real
 *    handle and a buffer in the segment refuses the buffer after the
 *    grant.
 * After each attack the victim's value is intact and plkv_check() clean.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard_util.h"
#include "fault_util.h"
#include "gate_jump.h"

FIXTURE(gate) {
	char name[64];
	plkv_t *kv;
};

FIXTURE_SETUP(gate)
{
	bool protected = false;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	snprintf(self->name, sizeof(self->name), "st-gate-%d", (int)getpid());
	ASSERT_EQ(0, open_victim_store(self->name, 0, &self->kv, &protected));
	if (!protected)
		SKIP(return, "no PKU on this CPU");
}

FIXTURE_TEARDOWN(gate)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

/* ---- class 1: the gate's WRPKRU as a gadget ---- */

/*
 * The granted part of an open that copies a handle staged in the heap
 * into a free entry of the trust region (trust.c): by design a jump to
 * its grant is a call of it, which returns.  What it copies is nobody's
 * yet: the module confirms the entry's mapping before the open uses it
 * (module_confirms_only_the_real_mapping) and an entry it never stamped
 * gets no thread slot (module_stamps_the_pid).  Its grant is the one
 * whose sequence the function's code jumps to.
 */
extern const unsigned char plkv_trust_take__impl[];

static bool in_trust_take(const unsigned char *site)
{
	const unsigned char *q, *to;
	int32_t rel;

	for (q = plkv_trust_take__impl; q < plkv_trust_take__impl + 512; q++) {
		if (*q != 0xe9)		/* jmp rel32 */
			continue;
		memcpy(&rel, q + 1, sizeof(rel));
		to = q + 5 + rel;
		if (to <= site && site < to + 16)
			return true;
	}
	return false;
}

static const unsigned char *attacked_site;
static bool with_forged_handle;

/*
 * As a client of its own (client_status()).  The forged handle is the
 * client's own, copied to the heap, with the segment moved by a page:
 * through it, the library's writes would land on the store's own
 * structures.
 */
static int attack_site(plkv_t *kv)
{
	struct plkv *fake = NULL;

	probe_addr = th_kv(kv).base + 4096;
	if (with_forged_handle) {
		fake = malloc(sizeof(*fake));
		if (!fake)
			return 91;
		*fake = th_kv(kv);
		fake->base += 4096;
		fake->hdr = (void *)((char *)fake->hdr + 4096);
		fake->khdr = (void *)((char *)fake->khdr + 4096);
	}
	alarm(10);
	jump_granting(attacked_site, (uint64_t)(uintptr_t)fake, NULL);
}

static void attack_every_site(struct th_test __th_unused *_metadata,
			      const char *name)
{
	const unsigned char *p;
	int sites = 0, revokes = 0;

	ASSERT_TRUE(__start_plkv_gate && __stop_plkv_gate);
	for (p = __start_plkv_gate; p + 3 <= __stop_plkv_gate; p++) {
		uint32_t check;
		int st;

		if (p[0] != 0x0f || p[1] != 0x01 || p[2] != 0xef)
			continue;
		check = site_check(p);
		/* Every WRPKRU is followed by its check: none unchecked. */
		ASSERT_TRUE(check == PLKV_PKRU_AD || check == PLKV_PKRU_KEY)
			TH_LOG("WRPKRU at %p without its check", (void *)p);
		sites++;
		attacked_site = p;
		st = client_status(name, attack_site);
		if (check == PLKV_PKRU_AD) {
			revokes++;
			EXPECT_TRUE(killed(st))
				TH_LOG("revoking WRPKRU at %p: status %#x",
				       (void *)p, st);
		} else {
			/* A grant goes on into the library's own code: it
			 * must neither come back with the key (42) nor run a
			 * call to its end on the attacker's registers (0: a
			 * forged handle used with the key granted); here it
			 * is killed, or crashes on what the registers hold. */
			EXPECT_FALSE(exited_with(st, 42))
				TH_LOG("granting WRPKRU at %p returned the key",
				       (void *)p);
			EXPECT_FALSE(lived(st) && !in_trust_take(p))
				TH_LOG("granting WRPKRU at %p ran a call on "
				       "the attacker's registers", (void *)p);
			EXPECT_NE(-1, st);
		}
	}
	TH_LOG("%d WRPKRU sites, %d revoking", sites, revokes);
	EXPECT_LT(0, revokes);
	EXPECT_LT(revokes, sites);
}

TEST_F(gate, every_wrpkru_refuses_a_granting_value)
{
	with_forged_handle = false;
	attack_every_site(_metadata, self->name);
	expect_intact(_metadata, self->kv);
}

/* The same, every register and stack word a forged handle: a granting
 * WRPKRU's continuation must not use it (plkv_gate_open() checks). */
TEST_F(gate, every_wrpkru_refuses_a_forged_handle)
{
	with_forged_handle = true;
	attack_every_site(_metadata, self->name);
	expect_intact(_metadata, self->kv);
}

/* ---- class 2: what the library trusts ---- */

/* A 64-bit store of 0 (fault_of()'s fn). */
static void zero_word(volatile char *p)
{
	*(volatile uint64_t *)p = 0;
}

/* kv->size = 0 and friends: the handle's page is the key's. */
static int write_handle(plkv_t *kv)
{
	struct plkv *h = (struct plkv *)kv;

	catch_segv();
	if (fault_of(zero_word, (volatile char *)&h->size) != SEGV_PKUERR ||
	    fault_of(zero_word, (volatile char *)&h->base) != SEGV_PKUERR)
		return 1;
	/* still a working handle */
	return plkv_set(kv, "mine", 4, "ok", 2, 0, 0) ? 2 : 0;
}

TEST_F(gate, handle_write_faults)
{
	EXPECT_TRUE(lived(client_status(self->name, write_handle)));
	expect_intact(_metadata, self->kv);
}

/*
 * A forged handle: a copy in the heap with the segment shifted so that
 * the library's writes would land on the store's own structures.  It is
 * not in the trust region, so the gate grants nothing and the first
 * touch of the segment faults: the client dies, the store is untouched.
 */
static int forged_handle(plkv_t *kv)
{
	struct plkv *fake = malloc(sizeof(*fake));

	if (!fake)
		return 4;
	*fake = th_kv(kv);
	fake->base += 4096;
	fake->hdr = (void *)((char *)fake->hdr + 4096);
	fake->size = 1ull << 40;
	plkv_set(fake, "victim", 6, "forged", 6, 0, 0);
	plkv_set(fake, "other", 5, "forged", 6, 0, 0);
	return 1;	/* still alive: the calls wrote nothing, at least */
}

TEST_F(gate, forged_handle_gets_no_grant)
{
	int st = client_status(self->name, forged_handle);

	EXPECT_TRUE(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
		TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

#define TRUST_BYTES ((PLKV_TRUST_SIZE + 4095UL) & ~4095UL)

/* Part of the region: refused (it cannot be split). */
static int unmap_part_of_trust(plkv_t *kv)
{
	void *t = (void *)PLKV_WINDOW_LO;

	if (!munmap(t, 4096) ||
	    mmap(t, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
		return 1;
	return plkv_set(kv, "mine", 4, "ok", 2, 0, 0) ? 5 : 0;
}

static int unmap_trust(plkv_t *kv)
{
	(void)kv;
	munmap((void *)PLKV_WINDOW_LO, TRUST_BYTES);
	return 1;
}

/* Replace the region with memory of the attacker's making. */
static int map_over_trust(plkv_t *kv)
{
	(void)kv;
	mmap((void *)PLKV_WINDOW_LO, TRUST_BYTES, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return 1;
}

/* Move something else onto it. */
static int mremap_onto_trust(plkv_t *kv)
{
	void *p = mmap(NULL, TRUST_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)kv;
	mremap(p, TRUST_BYTES, TRUST_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED,
	       (void *)PLKV_WINDOW_LO);
	return 1;
}

TEST_F(gate, trust_region_unmap_kills)
{
	EXPECT_TRUE(lived(client_status(self->name, unmap_part_of_trust)));
	EXPECT_ATTACK_KILLED(unmap_trust, "");
	EXPECT_ATTACK_KILLED(map_over_trust, "");
	EXPECT_ATTACK_KILLED(mremap_onto_trust, "");
}

/*
 * Any user can map regions: one per address space, and small, so that
 * what a user's processes hold is bounded by their number, as for any
 * per-process kernel memory (no segment quota counts it).
 */
TEST_F(gate, trust_regions_bounded)
{
	int fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);
	void *p;

	ASSERT_LE(0, fd);
	/* this process has its region: a second is refused */
	p = mmap(NULL, 4096, PROT_NONE, MAP_SHARED, fd,
		 (off_t)(PLKV_TRUST_PGOFF * 4096));
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBUSY, errno);
	if (fork() == 0) {
		/* a child has none: one of at most PLKV_TRUST_MAX_SIZE */
		p = mmap(NULL, PLKV_TRUST_MAX_SIZE + 4096, PROT_NONE,
			 MAP_SHARED, fd, (off_t)(PLKV_TRUST_PGOFF * 4096));
		if (p != MAP_FAILED || errno != EINVAL)
			_exit(1);
		p = mmap(NULL, PLKV_TRUST_MAX_SIZE, PROT_NONE, MAP_SHARED, fd,
			 (off_t)(PLKV_TRUST_PGOFF * 4096));
		if (p == MAP_FAILED)
			_exit(2);
		p = mmap(NULL, 4096, PROT_NONE, MAP_SHARED, fd,
			 (off_t)(PLKV_TRUST_PGOFF * 4096));
		_exit(p == MAP_FAILED && errno == EBUSY ? 0 : 3);
	}
	{
		int st = -1;

		wait(&st);
		EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	}
	close(fd);
}

/* Every other way to write the region fails, and the client lives. */
static int rewrite_trust(plkv_t *kv)
{
	void *t = (void *)PLKV_WINDOW_LO;
	uint64_t zero[8] = { 0 };
	struct iovec local = { zero, sizeof(zero) };
	struct iovec remote = { (char *)kv + 16, sizeof(zero) };
	int fd;

	if (!mprotect(t, TRUST_BYTES, PROT_READ | PROT_WRITE) ||
	    !pkey_mprotect(t, TRUST_BYTES, PROT_READ | PROT_WRITE, 0) ||
	    !mprotect(t, 4096, PROT_READ) ||
	    !madvise(t, TRUST_BYTES, MADV_DONTNEED))
		return 1;
	if (syscall(SYS_process_vm_writev, getpid(), &local, 1, &remote, 1,
		    0) >= 0)
		return 2;
	fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0 && pwrite(fd, zero, sizeof(zero),
			      (off_t)(uintptr_t)kv + 16) >= 0)
		return 3;
	if (fd >= 0)
		close(fd);
	return plkv_set(kv, "mine", 4, "ok", 2, 0, 0) ? 5 : 0;
}

TEST_F(gate, trust_region_cannot_be_rewritten)
{
	int st = client_status(self->name, rewrite_trust);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/*
 * What plkv_open() asks the module before it trusts a handle built in
 * the heap: only the real mapping, whole, with the real key, passes.
 */
static int trust_check(int fd, uintptr_t addr, uint64_t size, int pkey,
		       uint32_t flags)
{
	struct plkv_trust_check tc = { .addr = addr, .size = size,
				       .pkey = pkey, .flags = flags };

	return ioctl(fd, PLKV_IOC_TRUST_CHECK, &tc) ? -errno : 0;
}

TEST_F(gate, module_confirms_only_the_real_mapping)
{
	struct plkv h = th_kv(self->kv);
	uintptr_t base = (uintptr_t)h.base;
	const uint32_t seg = PLKV_TRUST_CHECK_F_SEGMENT;

	EXPECT_EQ(0, trust_check(h.fd, base, h.size, PLKV_PKEY, seg));
	EXPECT_EQ(-ENOENT, trust_check(h.fd, base + 4096, h.size - 4096,
				       PLKV_PKEY, seg));
	EXPECT_EQ(-ENOENT, trust_check(h.fd, base, h.size / 2, PLKV_PKEY,
				       seg));
	EXPECT_EQ(-ENOENT, trust_check(h.fd, base, h.size, 14, seg));
	EXPECT_EQ(-ENOENT, trust_check(h.fd, PLKV_WINDOW_LO, TRUST_BYTES,
				       PLKV_PKEY, seg));
	EXPECT_EQ(-ENOENT, trust_check(h.fd, base, h.size, PLKV_PKEY, 0));
	EXPECT_EQ(0, trust_check(h.fd, PLKV_WINDOW_LO, TRUST_BYTES,
				 PLKV_PKEY, 0));
	EXPECT_EQ(-EINVAL, trust_check(h.fd, base, h.size, PLKV_PKEY, 4));
}

/* A stamp request: 0 or -errno. */
static int stamp_pid(int fd, uintptr_t base, uint64_t size, int pkey,
		     const void *at)
{
	struct plkv_trust_check tc = {
		.addr = base, .size = size, .pkey = pkey,
		.flags = PLKV_TRUST_CHECK_F_SEGMENT |
			 PLKV_TRUST_CHECK_F_STAMP_PID,
		.stamp = (uintptr_t)at,
	};

	return ioctl(fd, PLKV_IOC_TRUST_CHECK, &tc) ? -errno : 0;
}

/* Write the handle's pid as code holding the key can (glibc's
 * pkey_set(): an ordinary store does not watch it). */
static void plant_pid(plkv_t *kv, uint32_t pid)
{
	pkey_set(PLKV_PKEY, 0);
	((volatile struct plkv *)kv)->pid = pid;
	pkey_set(PLKV_PKEY, PKEY_DISABLE_ACCESS);
}

/*
 * The handle's process id names the thread slots it may use, so it is
 * the module's to write: a handle published by a jump into the open (or
 * changed by a thread racing it) has another process's id, or none, and
 * the module's check overwrites it with the caller's, into the region
 * only, and only when the check passes.  Until then it claims no slot.
 */
TEST_F(gate, module_stamps_the_pid)
{
	struct plkv h = th_kv(self->kv);
	const uint32_t *pid = &((struct plkv *)self->kv)->pid;
	uintptr_t base = (uintptr_t)h.base;
	char buf[16];

	ASSERT_EQ((uint32_t)getpid(), h.pid);
	plant_pid(self->kv, 1);
	ASSERT_EQ(1u, th_kv(self->kv).pid);
	EXPECT_EQ(-ENOENT, stamp_pid(h.fd, base, h.size, 14, pid));
	EXPECT_EQ(1u, th_kv(self->kv).pid);	/* no pass, no stamp */
	EXPECT_EQ(-EINVAL, stamp_pid(h.fd, base, h.size, PLKV_PKEY,
				     h.base + 4096));
	EXPECT_EQ(-EINVAL, stamp_pid(h.fd, base, h.size, PLKV_PKEY, buf));
	EXPECT_EQ(0, stamp_pid(h.fd, base, h.size, PLKV_PKEY, pid));
	EXPECT_EQ((uint32_t)getpid(), th_kv(self->kv).pid);

	plant_pid(self->kv, PLKV_PID_UNSTAMPED);
	EXPECT_EQ(-EIO, plkv_get(self->kv, "victim", 6, buf, sizeof(buf),
				 NULL));
	EXPECT_EQ(0, stamp_pid(h.fd, base, h.size, PLKV_PKEY, pid));
	expect_intact(_metadata, self->kv);
}

/*
 * The client's thread state names the slot it uses; rewritten to name
 * the victim's slot, it is not believed: the call takes a slot of its
 * own and the victim's record is left alone.
 */
static uint32_t victim_slot;

static int steal_slot(plkv_t *kv)
{
	if (plkv_set(kv, "mine", 4, "ok", 2, 0, 0) || !plkv_this_thread.last)
		return 4;
	if (plkv_this_thread.last->slot == victim_slot)
		return 3;
	plkv_this_thread.last->slot = victim_slot;
	if (plkv_set(kv, "mine", 4, "again", 5, 0, 0))
		return 5;
	return plkv_this_thread.last &&
	       plkv_this_thread.last->slot == victim_slot ? 1 : 0;
}

TEST_F(gate, rewritten_slot_not_trusted)
{
	ASSERT_NE(NULL, plkv_this_thread.last);
	victim_slot = plkv_this_thread.last->slot;
	EXPECT_TRUE(lived(client_status(self->name, steal_slot)));
	expect_intact(_metadata, self->kv);
	/* ours still works, on the same slot */
	EXPECT_EQ(0, plkv_set(self->kv, "victim", 6, "intact", 6, 0, 0));
	EXPECT_EQ(victim_slot, plkv_this_thread.last->slot);
}

/*
 * A thread state whose open id the client rewrote is found again through
 * this open's pthread key and keeps its slot: a rewrite, even a thousand
 * of them, costs the client no slot (each took a fresh one and kept the
 * old, until the process hit its cap and every call failed, -EUSERS).
 * The child exits 0 when every get served the victim on one slot.
 */
static int rewrite_open_id(plkv_t *kv)
{
	char buf[16];
	uint32_t slot;
	int i;

	if (plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL))
		return 4;
	slot = plkv_this_thread.last->slot;
	for (i = 0; i < 1000; i++) {
		plkv_this_thread.last->kv_id = 424242 + (uint64_t)i;
		if (plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL) ||
		    memcmp(buf, "intact", 6))
			return 1;
		if (plkv_this_thread.last->slot != slot)
			return 2;
	}
	return 0;
}

TEST_F(gate, rewritten_open_id_keeps_its_slot)
{
	int st = client_status(self->name, rewrite_open_id);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/*
 * The thread state is found through the client's own memory (the
 * thread-local cache of the last one used, the pthread key's value, the
 * key's destructor argument at thread exit), so a client can point it
 * anywhere, the segment included.  A call that took a thread state in the
 * segment for its own would read the store there (a fast or slow path:
 * an oracle on its words) and write the call's frame and return address
 * over it.  The attacker plants a copy of its real state at the end of a
 * value of its own, finds where the store put it (with the key, as test
 * scaffolding: an attacker sprays instead), points each of the three at
 * it and calls.  Whether it lives (the pthread key and the exit: the
 * planted copy is passed over) or faults (the thread-local: read before
 * the grant, with the key denied), the parent then finds the planted
 * bytes untouched.
 */
enum tls_route { TLS_LAST, TLS_KEY, TLS_EXIT };

struct tls_plant {
	size_t off;			/* from the segment's base */
	struct plkv_tls bytes;		/* as planted */
	bool found;
};

static enum tls_route tls_route;
static struct plkv_tls *tls_fake;
static struct tls_plant *tls_plant;	/* shared with the parent */

static void *tls_exit_with_fake(void *arg)
{
	plkv_t *kv = arg;
	char buf[16];

	if (plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL))
		return NULL;
	pthread_setspecific(th_kv(kv).tkey, tls_fake);
	return NULL;	/* the key's destructor gets tls_fake */
}

static int tls_in_segment(plkv_t *kv)
{
	static const char marker[16] = "PLANTED-TLS-HERE";
	struct plkv_tls fake, *real;
	struct plkv_ctx ctx;
	char val[96], buf[16], *hit;
	pthread_t th;

	if (plkv_set(kv, "mine", 4, "ok", 2, 0, 0) ||
	    !(real = plkv_this_thread.last) || real == &plkv_tls_none)
		return 4;
	fake = *real;
	fake.call_cfa = 0;
	fake.call_ret = 0x5a5a5a5a;	/* nonzero: an abandoned call */
	memset(val, 'v', sizeof(val));
	memcpy(val + sizeof(val) - sizeof(fake) - sizeof(marker), marker,
	       sizeof(marker));
	memcpy(val + sizeof(val) - sizeof(fake), &fake, sizeof(fake));
	if (plkv_set(kv, "plant", 5, val, sizeof(val), 0, 0))
		return 5;
	if (plkv_enter(kv, &ctx))
		return 6;
	hit = memmem(ctx.kv->base, ctx.kv->size, val, sizeof(val));
	if (hit)
		tls_plant->off = (size_t)(hit - ctx.kv->base) + sizeof(val) -
				 sizeof(fake);
	plkv_leave(&ctx);
	if (!hit)
		return 3;
	tls_fake = (struct plkv_tls *)(hit + sizeof(val) - sizeof(fake));
	tls_plant->bytes = fake;
	tls_plant->found = true;

	switch (tls_route) {
	case TLS_LAST:
		plkv_this_thread.last = tls_fake;
		plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL);
		break;
	case TLS_KEY:
		pthread_setspecific(th_kv(kv).tkey, tls_fake);
		plkv_this_thread.last = &plkv_tls_none;
		plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL);
		break;
	case TLS_EXIT:
		if (pthread_create(&th, NULL, tls_exit_with_fake, kv) ||
		    pthread_join(th, NULL))
			return 7;
		break;
	}
	return 0;
}

static void expect_tls_in_segment_ignored(struct th_test *_metadata,
					  const char *name, plkv_t *kv,
					  enum tls_route route)
{
	struct plkv_ctx ctx;
	bool changed;
	int st;

	memset(tls_plant, 0, sizeof(*tls_plant));
	tls_route = route;
	st = client_status(name, tls_in_segment);
	if (exited_with(st, 3))
		SKIP(return, "the planted value was not found");
	ASSERT_TRUE(tls_plant->found) TH_LOG("route %d: status %#x", route,
					     st);
	if (route == TLS_LAST)
		EXPECT_TRUE(st != -1 && WIFSIGNALED(st) &&
			    WTERMSIG(st) == SIGSEGV)
			TH_LOG("status %#x", st);
	else
		EXPECT_TRUE(lived(st)) TH_LOG("route %d: status %#x", route,
					      st);
	ASSERT_EQ(0, plkv_enter(kv, &ctx));
	changed = memcmp(ctx.kv->base + tls_plant->off, &tls_plant->bytes,
			 sizeof(tls_plant->bytes)) != 0;
	plkv_leave(&ctx);
	EXPECT_FALSE(changed) TH_LOG("route %d: the store was written", route);
	expect_intact(_metadata, kv);
}

TEST_F(gate, thread_state_in_segment_ignored)
{
	tls_plant = mmap(NULL, sizeof(*tls_plant), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, tls_plant);
	expect_tls_in_segment_ignored(_metadata, self->name, self->kv,
				      TLS_LAST);
	expect_tls_in_segment_ignored(_metadata, self->name, self->kv,
				      TLS_KEY);
	expect_tls_in_segment_ignored(_metadata, self->name, self->kv,
				      TLS_EXIT);
	munmap(tls_plant, sizeof(*tls_plant));
}

/*
 * Class 1 with the real handle: a client's call stopped at its granting
 * WRPKRU and the register that holds its buffer pointed into the segment
 * (by its parent, tracing it: what a jump to that WRPKRU with registers of
 * the client's choosing does).  The call must refuse the buffer after the
 * grant (-EFAULT), not copy a value over the store, or the store's bytes
 * into an item.  The child exits 10 for -EFAULT, 11 for success.
 */
static char call_buf[1024] __attribute__((aligned(8)));

enum attacked {
	ATTACK_GET, ATTACK_SET, ATTACK_INCR, ATTACK_GAT, ATTACK_PEEK,
	ATTACK_MGET, ATTACK_DELETE, ATTACK_TOUCH, ATTACK_CHECK, ATTACK_INFO,
};

static const char *const attacked_name[] = {
	"get", "set", "incr", "gat (read with options)", "peek", "mget",
	"delete", "touch", "check", "info",
};

static int call_once(plkv_t *kv, enum attacked call)
{
	static struct plkv_mget_key keys[1] = { { .key = "victim",
						   .klen = 6 } };

	switch (call) {
	case ATTACK_GET:
		return plkv_get(kv, "victim", 6, call_buf, sizeof(call_buf),
				NULL);
	case ATTACK_SET:
		return plkv_set(kv, "copied", 6, call_buf, 16, 0, 0);
	case ATTACK_INCR:
		return plkv_incr(kv, "counter", 7, 1, (uint64_t *)call_buf);
	case ATTACK_GAT:
		return plkv_gat(kv, "victim", 6, 0, call_buf,
				sizeof(call_buf), NULL);
	case ATTACK_PEEK:
		return plkv_peek(kv, "victim", 6, (struct plkv_meta *)call_buf);
	case ATTACK_MGET:
		return plkv_mget(kv, keys, 1, call_buf, sizeof(call_buf));
	case ATTACK_DELETE:	/* the key: pointed at the store's bytes */
		memcpy(call_buf, "counter", 7);
		return plkv_delete(kv, call_buf, 7);
	case ATTACK_TOUCH:
		memcpy(call_buf, "counter", 7);
		return plkv_touch(kv, call_buf, 7, 100);
	case ATTACK_CHECK:
		return plkv_check(kv, call_buf, sizeof(call_buf));
	default:
		return plkv_info(kv, (struct plkv_info *)call_buf);
	}
}

static void traced_call(const char *name, enum attacked call, int report)
{
	plkv_t *kv = open_client(name, NULL);
	uintptr_t base;
	int rc;

	/* (the counter before the stop: the first WRPKRU stepped to must
	 * be the attacked call's) */
	if (!kv || plkv_set(kv, "counter", 7, "5", 1, 0, 0))
		_exit(90);
	base = (uintptr_t)th_kv(kv).base;
	if (write(report, &base, sizeof(base)) != sizeof(base) ||
	    ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		_exit(91);
	raise(SIGSTOP);
	rc = call_once(kv, call);
	_exit(rc == -EFAULT ? 10 : rc == 0 ? 11 : 12);
}

/* Step pid to its next WRPKRU; false if it never got there. */
static bool step_to_wrpkru(pid_t pid, struct user_regs_struct *r)
{
	unsigned long insn;
	int st, n;

	for (n = 0; n < 200000; n++) {
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) ||
		    waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) ||
		    ptrace(PTRACE_GETREGS, pid, NULL, r))
			return false;
		errno = 0;
		insn = (unsigned long)ptrace(PTRACE_PEEKTEXT, pid,
					     (void *)r->rip, NULL);
		if (!errno && (insn & 0xffffff) == 0xef010f)
			return true;
	}
	return false;
}

/*
 * What became of a call stopped at its grant and changed there: its
 * buffer swapped for the store's middle (move_stack false), or its stack
 * moved there (true).  The child's exit code, or 100 + the signal that
 * killed it.
 */
static int changed_at_grant(const char *name, enum attacked call,
			    bool move_stack)
{
	struct user_regs_struct r;
	unsigned long long *gpr[] = { &r.rax, &r.rbx, &r.rcx, &r.rdx,
		&r.rsi, &r.rdi, &r.rbp, &r.r8, &r.r9, &r.r10, &r.r11,
		&r.r12, &r.r13, &r.r14, &r.r15 };
	uintptr_t base = 0;
	int pfd[2], st, swapped = 0;
	unsigned i;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0)
		traced_call(name, call, pfd[1]);
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &base, sizeof(base)) != sizeof(base) ||
	    waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return -1;
	close(pfd[0]);
	if (!step_to_wrpkru(pid, &r))
		return -2;
	if (move_stack) {
		r.rsp = base + (2 << 20);
		swapped = 1;
	}
	/* the store's middle: items, in a 4 MiB store */
	for (i = 0; !move_stack && i < sizeof(gpr) / sizeof(gpr[0]); i++)
		if (*gpr[i] == (uintptr_t)call_buf) {
			*gpr[i] = base + (2 << 20);
			swapped++;
		}
	/* and on its stack, which a jump brings too */
	for (i = 0; !move_stack && i < 256; i++) {
		unsigned long at = r.rsp + i * sizeof(long), w;

		errno = 0;
		w = (unsigned long)ptrace(PTRACE_PEEKDATA, pid, (void *)at,
					  NULL);
		if (errno || w != (uintptr_t)call_buf)
			continue;
		if (ptrace(PTRACE_POKEDATA, pid, (void *)at,
			   (void *)(base + (2 << 20))))
			return -6;
		swapped++;
	}
	if (!swapped)
		return -3;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &r) ||
	    ptrace(PTRACE_DETACH, pid, NULL, NULL) ||
	    waitpid(pid, &st, 0) != pid)
		return -4;
	return WIFEXITED(st) ? WEXITSTATUS(st) :
	       WIFSIGNALED(st) ? 100 + WTERMSIG(st) : -5;
}

/* Every call that takes a pointer: each must check it after its grant. */
TEST_F(gate, buffer_swapped_at_the_grant_refused)
{
	enum attacked c;

	for (c = ATTACK_GET; c <= ATTACK_INFO; c++)
		EXPECT_EQ(10, changed_at_grant(self->name, c, false))
			TH_LOG("%s", attacked_name[c]);
	expect_intact(_metadata, self->kv);
}

/* A stack in the store would have the library's locals (and a return
 * address) written over it: the grant kills instead. */
TEST_F(gate, stack_moved_at_the_grant_kills)
{
	EXPECT_EQ(100 + SIGKILL, changed_at_grant(self->name, ATTACK_GET,
						  true));
	EXPECT_EQ(100 + SIGKILL, changed_at_grant(self->name, ATTACK_SET,
						  true));
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
