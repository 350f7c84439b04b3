/* SPDX-License-Identifier: MIT */
/*
 * The trust region: the module's process-private memory at a fixed
 * address, tagged with the stores' key (kmod/plkv_trust.c).  Handles of
 * protected stores live here, so that what the library trusts (segment
 * address and size, backend, the process's identity) can be changed only
 * with the key, that is by the library inside a call, and so do the
 * frames of threads that left the key for a system call mid-call.
 *
 * The region is mapped once per process and never unmapped (the module
 * kills a process that unmaps it); at every protected open the module
 * confirms that what lies at the address is the process's sealed region,
 * not a mapping of the client's making.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "backend.h"
#include "calls.h"
#include "calls_abi.h"

struct plkv_trust_region {
	union {
		struct plkv kv;
		char pad[PLKV_TRUST_HANDLE_SIZE];
	} handles[PLKV_TRUST_HANDLES];
	_Atomic uintptr_t parked[PLKV_TRUST_PARKED];
	bool in_use[PLKV_TRUST_HANDLES];
	uint32_t owned;		/* calls run on call stacks (pkru.h) */
	uint32_t stacks_ready;	/* the call stacks have their tokens */
};

_Static_assert(sizeof(struct plkv) <= PLKV_TRUST_HANDLE_SIZE,
	       "handle too large for its trust region entry");
_Static_assert(sizeof(struct plkv_trust_region) <= PLKV_TRUST_SIZE_V1,
	       "trust region too small");
_Static_assert(offsetof(struct plkv_trust_region, owned) ==
	       PLKV_TRUST_OWNED_OFF, "PLKV_TRUST_OWNED_OFF");
_Static_assert(sizeof(struct plkv_trust_region) <= PLKV_CALL_STACKS_OFF,
	       "trust region overlaps its call stacks");
_Static_assert(PLKV_TRUST_SIZE <= PLKV_TRUST_MAX_SIZE &&
	       PLKV_TRUST_SIZE_V1 <= PLKV_TRUST_MAX_SIZE_V1,
	       "trust region larger than the module maps");
_Static_assert(!(PLKV_TRUST_HANDLE_SIZE & (PLKV_TRUST_HANDLE_SIZE - 1)),
	       "handle entries must be a power of two");
/* calls.S's numbers */
_Static_assert(PLKV_ASM_WINDOW_LO == PLKV_WINDOW_LO &&
	       PLKV_ASM_WINDOW_HI == PLKV_WINDOW_HI &&
	       PLKV_ASM_HANDLE_BITS == (long)~(uintptr_t)
	       (PLKV_TRUST_HANDLES_SIZE - PLKV_TRUST_HANDLE_SIZE) &&
	       PLKV_ASM_GRANT_STACK == PLKV_GRANT_STACK &&
	       PLKV_ASM_TRUST_OWNED == PLKV_TRUST_OWNED &&
	       PLKV_ASM_CALL_STACKS_LO == PLKV_CALL_STACKS_LO &&
	       PLKV_ASM_CALL_STACKS_SIZE == PLKV_CALL_STACKS_SIZE &&
	       PLKV_ASM_CALL_STACK_SIZE == PLKV_CALL_STACK_SIZE &&
	       PLKV_ASM_CALL_STACKS == PLKV_CALL_STACKS &&
	       PLKV_ASM_PKRU_KEY == PLKV_PKRU_KEY &&
	       PLKV_ASM_PKRU_KEY_CLEAR == (uint32_t)~PLKV_PKRU_KEY &&
	       PLKV_ASM_PKRU_AD == PLKV_PKRU_AD, "calls_abi.h");
#define HDR_AT(f, asm_off) \
	_Static_assert(offsetof(struct plkv_call_stack_hdr, f) == asm_off, #f)
HDR_AT(claim, PLKV_ASM_HDR_CLAIM);
HDR_AT(deferred, PLKV_ASM_HDR_DEFERRED);
HDR_AT(token, PLKV_ASM_HDR_TOKEN);
HDR_AT(saved_sp, PLKV_ASM_HDR_SAVED_SP);
HDR_AT(saved_r15, PLKV_ASM_HDR_SAVED_R15);
HDR_AT(saved_mask, PLKV_ASM_HDR_SAVED_MASK);
HDR_AT(again, PLKV_ASM_HDR_AGAIN);

#define TRUST ((struct plkv_trust_region *)PLKV_WINDOW_LO)
#define PAGE_UP(n) (((n) + 4095UL) & ~4095UL)

static pthread_mutex_t trust_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t trust_pid;		/* who mapped it: a child has none */
/* With call stacks where the module defers signals on them, else the
 * first version's size (the module checks the region whole) */
static size_t trust_map_size = PAGE_UP(PLKV_TRUST_SIZE_V1);
unsigned char plkv_owned_hint;
static bool atfork_set;

bool plkv_trust_mine(void)
{
	return trust_pid && trust_pid == getpid();
}

static int trust_check(int fd)
{
	struct plkv_trust_check tc;

	memset(&tc, 0, sizeof(tc));
	tc.addr = PLKV_WINDOW_LO;
	tc.size = trust_map_size;
	tc.pkey = PLKV_PKEY;
	return ioctl(fd, PLKV_IOC_TRUST_CHECK, &tc) ? -errno : 0;
}

/* Processes place their segments at different addresses, as they would
 * without the window: nothing may come to depend on one address. */
static uintptr_t seg_offset(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)getpid() * 2654435761u;
	return (uintptr_t)(r & ((1u << 18) - 1)) << 21;	/* < 512 GiB */
}

/*
 * The first protected open maps the region; later ones (and a forked
 * child, which has none) find out which case they are in from the
 * address itself, never from a flag the client could set.
 */
/*
 * A random token into *dst (odd: never 0), with the key granted: made by
 * RDRAND in a register and stored from there, so that it never lies in
 * memory another thread could read (the caller's stack, getrandom()'s
 * buffer), nor comes from a system call made with the key granted.
 * False when RDRAND gave nothing in 32 tries.
 */
static bool token_make(__u64 *dst)
{
	unsigned int made;

	__asm__ volatile("1: rdrand %%rax\n\t"
			 "jc 2f\n\t"
			 "loop 1b\n\t"
			 "xor %%edx, %%edx\n\t"
			 "jmp 3f\n"
			 "2: or $1, %%rax\n\t"
			 "mov %%rax, %[dst]\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov $1, %%edx\n"
			 "3:"
			 : [dst] "=m"(*dst), "=d"(made), "+c"((unsigned long){ 32 })
			 : : "rax", "cc");
	return made;
}

/*
 * Each call stack's token, the secret a grant made on it must find in
 * r15: random, so that no thread can bring another's (pkru.h).  Without
 * RDRAND (every CPU with PKU has it) there are no call stacks, as with
 * an old module.
 */
static void call_stacks_init(void)
{
	unsigned int eax, ebx, ecx, edx;
	bool made = true;
	int i;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_RDRND))
		return;
	plkv_pkru_grant();
	for (i = 0; i < PLKV_CALL_STACKS && made; i++)
		made = token_make(&((struct plkv_call_stack_hdr *)
			(PLKV_CALL_STACKS_LO +
			 (uintptr_t)i * PLKV_CALL_STACK_SIZE))->token);
	TRUST->stacks_ready = made;
	plkv_pkru_deny();
}

/* A child after fork has no region (the module does not copy it): none
 * of its calls can run on call stacks until it opens a strict store (a
 * stub that believed the hint would be killed: calls.S). */
static void owned_hint_clear(void)
{
	plkv_owned_hint = 0;
}

void plkv_trust_own_calls(void)
{
	if (TRUST->stacks_ready && !TRUST->owned) {
		TRUST->owned = 1;
		plkv_owned_hint = 1;
	}
}

int plkv_trust_attach(void)
{
	struct plkv_version ver;
	bool fresh = false;
	int fd, rc;
	void *p;

	fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ver, 0, sizeof(ver));
	pthread_mutex_lock(&trust_lock);
	if (!ioctl(fd, PLKV_IOC_VERSION, &ver) &&
	    (ver.flags & PLKV_VERSION_F_DEFER))
		trust_map_size = PAGE_UP(PLKV_TRUST_SIZE);
	p = mmap((void *)PLKV_WINDOW_LO, trust_map_size, PROT_NONE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
		 (off_t)(PLKV_TRUST_PGOFF * 4096));
	if (p == MAP_FAILED) {
		rc = errno == EEXIST ? trust_check(fd) : -errno;
		if (rc == -ENOENT)
			plkv_set_open_error("the protected address window at "
					    "%#lx is taken by another mapping",
					    PLKV_WINDOW_LO);
		else if (rc)
			plkv_set_open_error("cannot map the trust region: %s",
					    strerror(-rc));
	} else if (p != (void *)PLKV_WINDOW_LO) {
		munmap(p, trust_map_size);	/* a kernel without NOREPLACE */
		rc = -EEXIST;
	} else if (pkey_mprotect(p, trust_map_size, PROT_READ | PROT_WRITE,
				 PLKV_PKEY)) {
		rc = -errno;	/* unmapping it now would be fatal: leave it */
	} else {
		plkv_pkey_pin();
		rc = trust_check(fd);
		fresh = !rc;
	}
	if (fresh) {
		/* a child forked without the C library's fork() kept it */
		owned_hint_clear();
		if (!atfork_set)
			atfork_set = !pthread_atfork(NULL, NULL,
						     owned_hint_clear);
	}
	if (fresh && trust_map_size >= PLKV_TRUST_SIZE)
		call_stacks_init();
	if (!rc)
		trust_pid = getpid();
	pthread_mutex_unlock(&trust_lock);
	close(fd);
	return rc;
}

/*
 * The staged handle was built in the heap, where another thread could
 * change it while the open ran (or a jump to the grant below bring one
 * of the client's making): what the region keeps must not come from
 * there unchecked.  The backend's table is left for open.c to set in its
 * gate (a table of the client's would run its code with the key), the
 * headers' places are derived from the base; the segment's address, size
 * and key are confirmed by the module after the copy, from the copy.
 */
/* A free entry made a copy of staged (its mutex held); what the module
 * is to confirm of it into *tc. */
struct plkv *plkv_trust_take__impl(const struct plkv *staged,
				   struct plkv_trust_check *tc)
{
	struct plkv *kv = NULL;
	int i;

	plkv_pkru_grant();
	PLKV_AFTER_GRANT2(staged, tc);
	if (!plkv_outside_window(staged, sizeof(*staged)) ||
	    !plkv_outside_window(tc, sizeof(*tc)))
		plkv_pkru_violation();
	for (i = 0; i < PLKV_TRUST_HANDLES; i++) {
		if (TRUST->in_use[i])
			continue;
		TRUST->in_use[i] = true;
		kv = &TRUST->handles[i].kv;
		*kv = *staged;
		kv->ops = NULL;		/* open.c's, in its gate */
		kv->khdr = (struct plkv_seg_khdr *)kv->base;
		kv->hdr = (struct plkv_hdr *)(kv->base + PLKV_SEG_LIB_OFF);
		kv->engine = NULL;	/* from the header, once checked */
		kv->pid = PLKV_PID_UNSTAMPED;	/* the module's to write */
		kv->proc_index = -1;	/* plkv_proc_rec_add()'s */
		kv->hooks = NULL;	/* the engine's, set at attach */
		tc->addr = (uintptr_t)kv->base;
		tc->size = kv->size;
		tc->pkey = kv->pkey;
		tc->reserved = (uint64_t)kv->fd;	/* (for the caller) */
		break;
	}
	plkv_pkru_deny();
	return kv;
}

int plkv_trust_publish(const struct plkv *staged, struct plkv **out)
{
	struct plkv_trust_check tc;
	struct plkv *kv;
	int rc, fd;

	memset(&tc, 0, sizeof(tc));
	pthread_mutex_lock(&trust_lock);
	kv = plkv_trust_take(staged, &tc);
	pthread_mutex_unlock(&trust_lock);
	fd = (int)tc.reserved;
	tc.reserved = 0;
	if (!kv) {
		plkv_set_open_error("more than %d protected stores open in "
				    "this process", PLKV_TRUST_HANDLES);
		return -EMFILE;
	}
	tc.flags = PLKV_TRUST_CHECK_F_SEGMENT | PLKV_TRUST_CHECK_F_STAMP_PID;
	tc.stamp = (uintptr_t)&kv->pid;
	if (tc.pkey != PLKV_PKEY ||
	    !plkv_inside_window((void *)(uintptr_t)tc.addr, tc.size))
		rc = -ENOENT;
	else
		rc = ioctl(fd, PLKV_IOC_TRUST_CHECK, &tc) ? -errno : 0;
	if (rc) {
		struct plkv gone;

		plkv_trust_unpublish(kv, &gone);
		if (rc == -EINVAL) {	/* a module without STAMP_PID */
			plkv_set_open_error("plkv.ko is older than libplkv "
					    "(it cannot stamp a handle's "
					    "pid): load the module built "
					    "with this library");
			return PLKV_EVERSION;
		}
		plkv_set_open_error("the handle changed while the store was "
				    "being opened");
		return -EIO;
	}
	*out = kv;
	return 0;
}

void plkv_trust_give_back__impl(struct plkv *kv, struct plkv *out)
{
	size_t i;

	plkv_pkru_grant();
	/* what a jump to the grant would bring: a handle that is not one,
	 * a copy made over a store */
	PLKV_AFTER_GRANT2(kv, out);
	if (!plkv_kv_protected(kv) || !plkv_outside_window(out, sizeof(*out)))
		plkv_pkru_violation();
	i = (size_t)((uintptr_t)kv - PLKV_WINDOW_LO) / PLKV_TRUST_HANDLE_SIZE;
	plkv_copy(out, kv, sizeof(*out));
	plkv_zero(kv, sizeof(*kv));
	TRUST->in_use[i] = false;
	plkv_pkru_deny();
}

void plkv_trust_unpublish(struct plkv *kv, struct plkv *out)
{
	pthread_mutex_lock(&trust_lock);
	plkv_trust_give_back(kv, out);
	pthread_mutex_unlock(&trust_lock);
}

void plkv_kv_snapshot__impl(const struct plkv *kv, struct plkv *out)
{
	bool grant = plkv_kv_protected(kv) &&
		     (plkv_rdpkru() & PLKV_PKRU_AD);

	if (grant)
		kv = plkv_gate_open((struct plkv *)kv);
	/* (with the key, as after the grant or on a call stack: what a jump
	 * to it would bring, a destination in a segment, is refused) */
	__asm__ volatile("" : "+r"(out));
	if (!plkv_outside_window(out, sizeof(*out)))
		plkv_pkru_violation();
	plkv_copy(out, kv, sizeof(*out));
	if (grant)
		plkv_pkru_deny();
}

/*
 * Segments, of either backend, are mapped in the window one after
 * another (never reused: the window is far larger than any process's
 * opens), from a random start so that processes place them differently
 * and nothing comes to depend on one address.  The cursor is the
 * client's to change: what counts is where the mapping landed, which is
 * checked.
 */
static uintptr_t seg_cursor;

void *plkv_window_map(uint64_t size, int prot, int fd)
{
	uint64_t span = (size + (1UL << 21) - 1) & ~((1UL << 21) - 1);
	void *p = MAP_FAILED;
	uintptr_t a;
	int tries;

	pthread_mutex_lock(&trust_lock);
	if (!seg_cursor)
		seg_cursor = PLKV_SEGS_LO + seg_offset();
	for (tries = 0; tries < 64 && p == MAP_FAILED; tries++) {
		a = seg_cursor;
		if (a < PLKV_SEGS_LO || span > PLKV_WINDOW_HI - a) {
			errno = ENOSPC;
			break;
		}
		seg_cursor = a + span;
		p = mmap((void *)a, size, prot,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		if (p != MAP_FAILED && p != (void *)a) {
			munmap(p, size);	/* a kernel without NOREPLACE */
			p = MAP_FAILED;
			errno = EEXIST;
		}
		if (p == MAP_FAILED && errno != EEXIST)
			break;
	}
	pthread_mutex_unlock(&trust_lock);
	if (p != MAP_FAILED && !plkv_inside_window(p, size)) {
		munmap(p, size);
		p = MAP_FAILED;
		errno = EFAULT;
	}
	return p;
}

static size_t park_hash(uintptr_t frame)
{
	return (size_t)(frame >> 4) & (PLKV_TRUST_PARKED - 1);
}

void plkv_trust_park(uintptr_t frame)
{
	size_t h = park_hash(frame), i;

	for (i = 0; i < PLKV_TRUST_PARKED; i++) {
		uintptr_t free_slot = 0;

		if (atomic_compare_exchange_strong(
			    &TRUST->parked[(h + i) & (PLKV_TRUST_PARKED - 1)],
			    &free_slot, frame))
			return;
	}
	plkv_pkru_violation();	/* more parked threads than slots */
}

void plkv_trust_unpark(uintptr_t frame)
{
	size_t h = park_hash(frame), i;

	for (i = 0; i < PLKV_TRUST_PARKED; i++) {
		uintptr_t want = frame;

		if (atomic_compare_exchange_strong(
			    &TRUST->parked[(h + i) & (PLKV_TRUST_PARKED - 1)],
			    &want, 0))
			return;
	}
	plkv_pkru_violation();	/* a grant nobody parked for */
}

/*
 * Memory a call needs for itself (plkv_check()'s map, a dump's array, the
 * process list) is mapped by system calls of the library's own, with the
 * key dropped: malloc() may be the client's (mem.h), and would run in the
 * middle of the call, over the library's frames.  These paths are rare,
 * so a mapping per block costs nothing that counts.  Each block starts
 * with its mapping's length; that word is the client's to change, so it
 * is checked, never believed, and memory not wholly outside the window is
 * never used.
 */
#define SCRATCH_HDR	16
#define SCRATCH_PAGE	4096UL

static void scratch_unmap(struct plkv *kv, void *base, size_t len)
{
	bool granted = plkv_gate_suspend(kv);

	plkv_sys3(SYS_munmap, (long)base, (long)len, 0);
	plkv_gate_resume(granted);
}

/* The mapping a block lies in, checked: its length, or 0. */
static size_t scratch_len(void *p)
{
	char *base = (char *)p - SCRATCH_HDR;
	size_t len;

	if (!plkv_outside_window(base, SCRATCH_HDR))
		return 0;
	len = *(volatile size_t *)base;
	return len > SCRATCH_HDR && !(len & (SCRATCH_PAGE - 1)) &&
	       !((uintptr_t)base & (SCRATCH_PAGE - 1)) &&
	       plkv_outside_window(base, len) ? len : 0;
}

void *plkv_gate_calloc(struct plkv *kv, size_t n, size_t size)
{
	size_t len;
	bool granted;
	long p;

	if (size && n > (SIZE_MAX / 2) / size)
		return NULL;
	len = (n * size + SCRATCH_HDR + SCRATCH_PAGE - 1) &
	      ~(SCRATCH_PAGE - 1);
	granted = plkv_gate_suspend(kv);
	p = plkv_sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	plkv_gate_resume(granted);
	if ((unsigned long)p >= -SCRATCH_PAGE)
		return NULL;
	if (!plkv_outside_window((void *)p, len)) {
		scratch_unmap(kv, (void *)p, len);
		return NULL;
	}
	*(size_t *)p = len;
	return (char *)p + SCRATCH_HDR;
}

void *plkv_gate_realloc(struct plkv *kv, void *p, size_t size)
{
	size_t len = p ? scratch_len(p) : 0;
	void *q;

	if (p && !len)
		return NULL;
	if (len && size <= len - SCRATCH_HDR)
		return p;
	q = plkv_gate_calloc(kv, 1, size);
	if (q && len) {
		plkv_copy(q, p, len - SCRATCH_HDR);
		plkv_gate_free(kv, p);
	}
	return q;
}

void plkv_gate_free(struct plkv *kv, void *p)
{
	size_t len = p ? scratch_len(p) : 0;

	if (len)
		scratch_unmap(kv, (char *)p - SCRATCH_HDR, len);
}

/* The backend's populate call is a system call: with the key dropped. */
void plkv_prefault(struct plkv_ctx *ctx, plkv_off_t off, uint64_t len)
{
	struct plkv *kv = ctx->kv;
	/* read while the handle is in reach */
	void (*prefault)(void *, size_t) = kv->ops->prefault;
	char *base = kv->base;
	bool granted;

	if (!prefault || off > kv->size || len > kv->size - off)
		return;
	granted = plkv_gate_suspend(kv);
	prefault(base + off, len);
	plkv_gate_resume(granted);
}
