/* SPDX-License-Identifier: GPL-2.0 */
/*
 * plkv.ko internals: segments, process records, segment futexes.
 *
 * Objects and their lifetimes
 * ---------------------------
 * A segment (struct plkv_seg) is created by name and lives on the global
 * list until it is destroyed or the module is unloaded.  It is reference
 * counted: the list holds one reference and every fd attached to it holds
 * one.  A mapping holds its struct file, and so the fd's reference, so the
 * memory outlives every PTE that points into it.
 *
 * A process record (struct plkv_proc) is created by ATTACH and lives on its
 * segment's list until a clean DETACH, REAP, or the segment's end.  It is
 * owned by the segment, not by the fd: the fd (struct plkv_file) points at
 * it, and whoever frees the record clears that pointer first.  Every record
 * field and every pf->proc pointer is protected by seg->lock.
 *
 * Locking
 * -------
 * plkv_mutex (the segment list) nests outside seg->lock.  seg->lock is
 * taken under mmap_lock by the mmap handler and the vma hooks, so no code
 * holding seg->lock may touch user memory (copy_{to,from}_user, which may
 * fault and take mmap_lock): handlers copy in, lock, work, unlock, copy out.
 * The futex hash buckets' spinlocks nest inside seg->lock.
 */
#ifndef _PLKV_INTERNAL_H
#define _PLKV_INTERNAL_H

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/pkeys.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <uapi/linux/plkv.h>


/* Wait queues for segment futexes, hashed by offset. */
#define PLKV_HASH_BITS		6

struct plkv_hb {
	spinlock_t lock;		/* protects waiters */
	struct list_head waiters;	/* struct plkv_waiter */
};

struct plkv_seg {
	struct list_head node;		/* plkv_segs, under plkv_mutex */
	struct kref ref;
	char name[PLKV_NAME_MAX];
	void *mem;			/* vmalloc'd, zeroed, size bytes */
	u64 size;
	kuid_t uid, cuid;
	kgid_t gid, cgid;
	umode_t mode;
	u64 ctime_ns;
	bool strict;			/* PLKV_CREATE_F_STRICT, fixed at create */
	u64 charged;			/* bytes counted against cuid's quota */

	struct mutex lock;		/* protects everything below */
	struct list_head procs;		/* struct plkv_proc, oldest first */
	unsigned int nprocs;
	unsigned int nmapped;		/* live vmas */
	u32 death_gen;			/* authoritative copy of khdr->death_gen */
	DECLARE_BITMAP(slots, PLKV_MAX_THREADS);	/* thread slots in use */

	wait_queue_head_t poll_wq;
	struct plkv_hb hb[1 << PLKV_HASH_BITS];
};

struct plkv_file;

struct plkv_proc {
	struct list_head node;		/* seg->procs */
	struct pid *pid;		/* the thread group */
	u64 start_time;			/* group leader's start_boottime */
	int pkey;			/* -1 until sealed */
	u32 state;			/* enum plkv_proc_state */
	bool mapped;			/* has mapped the segment (once only) */
	unsigned int nvmas;		/* live vmas of this process */
	struct plkv_file *file;		/* the attached fd, NULL once released */
	struct plkv_proc *claimer;	/* RECOVERING: the claiming record */
	DECLARE_BITMAP(slots, PLKV_MAX_THREADS);
};

/* file->private_data of an open /dev/plkv */
struct plkv_file {
	struct plkv_seg *seg;		/* set once by ATTACH, put at release */
	struct plkv_proc *proc;		/* under seg->lock; NULL after detach */
	u32 acked_gen;			/* death_gen acknowledged by ACK */
};

/* plkv_main.c: module parameters */
extern unsigned long long plkv_default_seg_size;
extern unsigned long long plkv_max_seg_size;
extern unsigned int plkv_max_segments;
extern unsigned long long plkv_user_bytes_limit;
extern unsigned int plkv_user_segments_limit;

/* plkv_seg.c */
struct plkv_seg *plkv_file_seg(struct plkv_file *pf);
void plkv_seg_put(struct plkv_seg *seg);
void plkv_seg_destroy_all(void);
int plkv_seg_get_by_name(struct plkv_file *pf, const char *name, int want,
			 struct plkv_seg **segp);
int plkv_ioc_create(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_attach(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_destroy(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_seg_info(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_list_segs(struct plkv_file *pf, void __user *uarg);
int plkv_list_copy_out(void __user *uarg, struct plkv_list *l, void *buf,
		       u32 filled, size_t esize);

/* plkv_proc.c */
struct plkv_proc *plkv_proc_alloc(void);
void plkv_proc_free(struct plkv_proc *proc);
struct plkv_proc *plkv_my_proc(struct plkv_file *pf);
struct plkv_proc *plkv_find_own_proc(struct plkv_seg *seg);
void plkv_proc_died(struct plkv_seg *seg, struct plkv_proc *proc);
void plkv_proc_release(struct plkv_file *pf);
int plkv_detach_locked(struct plkv_file *pf);
void plkv_seg_count_procs(struct plkv_seg *seg, u32 *nattached, u32 *ndead);
int plkv_ioc_detach(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_list_procs(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_reap(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_thread_reg(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_thread_unreg(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_ack(struct plkv_file *pf, void __user *uarg);
__poll_t plkv_proc_poll(struct file *file, struct poll_table_struct *wait);

/* plkv_futex.c */
bool plkv_futex_owned(struct plkv_seg *seg, const unsigned long *slots);
void plkv_futex_owner_died(struct plkv_seg *seg, const unsigned long *slots);
int plkv_ioc_wait(struct plkv_file *pf, void __user *uarg);
int plkv_ioc_wake(struct plkv_file *pf, void __user *uarg);

/* plkv_mmap.c */
int plkv_mmap(struct file *file, struct vm_area_struct *vma);
bool plkv_vma_maps_seg(struct vm_area_struct *vma, struct plkv_seg *seg);
bool plkv_is_the_seal(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, unsigned long newflags);

static inline void plkv_vma_set_flags(struct vm_area_struct *vma,
				      unsigned long set, unsigned long clear)
{
#ifdef PLKV_HAVE_VM_FLAGS_MOD	/* Linux 6.3 and later: see Makefile */
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/* The protection key that mprotect() is about to give a vma. */
static inline int plkv_flags_pkey(unsigned long flags)
{
#ifdef CONFIG_ARCH_HAS_PKEYS
	return (flags & ARCH_VM_PKEY_FLAGS) >> VM_PKEY_SHIFT;
#else
	return 0;
#endif
}

/*
 * A sealable mapping of vmalloc'd memory (segment or trust region): no
 * get_user_pages path, no growth, no core dump, not inherited, never
 * executable.  Its pages go in one by one from the fault handler.
 */
static inline void plkv_vma_make_sealable(struct vm_area_struct *vma)
{
	plkv_vma_set_flags(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND |
			   VM_DONTDUMP | VM_DONTCOPY, VM_MAYEXEC);
}

/* Page pgoff of size bytes at mem, for vmf; SIGBUS past the end. */
static inline vm_fault_t plkv_vmalloc_fault(struct vm_fault *vmf, void *mem,
					    u64 size, unsigned long pgoff)
{
	if (pgoff >= size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	return vmf_insert_pfn(vmf->vma, vmf->address,
			      vmalloc_to_pfn(mem + (pgoff << PAGE_SHIFT)));
}

/* plkv_trust.c */
int plkv_trust_mmap(struct vm_area_struct *vma);
int plkv_ioc_trust_check(struct plkv_file *pf, void __user *uarg);

/* plkv_guard.c */
void plkv_guard_init(void);
void plkv_guard_exit(void);
bool plkv_guard_active(void);
void plkv_guard_seal(struct mm_struct *mm, int pkey, unsigned long start,
		     unsigned long end, bool strict);
void plkv_guard_seal_trust(struct mm_struct *mm, int pkey,
			   unsigned long start, unsigned long end);
void plkv_guard_unmap(struct mm_struct *mm, unsigned long start);
unsigned long plkv_guard_trust_start(struct mm_struct *mm);
bool plkv_guard_defers(void);

/*
 * Perf samples that would read a call's registers (r15: its call stack's
 * token) or its frames, refused to a strict client (plkv_guard.c).
 */
#define PLKV_PERF_SAMPLES_CALLS	(PERF_SAMPLE_REGS_USER | \
				 PERF_SAMPLE_STACK_USER | \
				 PERF_SAMPLE_REGS_INTR)

/* Which of mm's sealed mappings plkv_guard_hit() matches. */
enum plkv_match { PLKV_MATCH_ANY, PLKV_MATCH_KEY, PLKV_MATCH_RANGE };
bool plkv_guard_hit(struct mm_struct *mm, enum plkv_match how,
		    unsigned long a, unsigned long len);
u32 plkv_guard_keys(struct mm_struct *mm);
bool plkv_guard_strict(struct mm_struct *mm);
bool plkv_pkru_grants(u32 pkru, u32 keys);
void plkv_guard_kill(const char *why);

/* plkv_watch.c */
int plkv_watch_seal(struct mm_struct *mm);
void plkv_watch_forget(struct mm_struct *mm);
void plkv_watch_new_task(struct task_struct *p);
void plkv_watch_exec(void);
void plkv_watch_exit(void);

/* plkv_sigframe.c */
void plkv_sigframe_init(void);
void plkv_sigframe_exit(void);
void plkv_sigframe_delivered(struct pt_regs *uregs);
const char *plkv_sigframe_return(struct pt_regs *uregs);
void plkv_sigframe_forget(struct mm_struct *mm);
void plkv_sigframe_defer(struct pt_regs *uregs);

/* True when all bytes of a reserved field are zero. */
#define plkv_zeroed(field)	(!memchr_inv(&(field), 0, sizeof(field)))

#endif /* _PLKV_INTERNAL_H */
