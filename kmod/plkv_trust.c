// SPDX-License-Identifier: GPL-2.0
/*
 * Trust regions: process-private memory where libplkv keeps what it
 * trusts (its handles: the segment's address and size, the thread slots'
 * bounds, the backend), tagged with the segment's protection key so that
 * only code holding the key can change it.
 *
 * Anonymous memory tagged with a key would not do: writes through
 * process_vm_writev() or /proc/PID/mem are "foreign" accesses, which
 * protection keys do not check, and the process could unmap the page and
 * map one of its own making at the same address.  A trust region is
 * VM_IO | VM_PFNMAP (no get_user_pages path reaches it), sealed like a
 * segment (one mprotect to read/write with a non-zero key, then none),
 * cannot be split, moved or grown, and its close hook kills a process
 * that unmaps it while it lives: the library finds it at a fixed address
 * and never unmaps it, so an unmap is an attack.  It is not inherited
 * across fork (VM_DONTCOPY); exec and exit end it quietly.
 */
#include "plkv_internal.h"

#include <linux/pkeys.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

struct plkv_trust {
	refcount_t ref;		/* vmas (an mremap copy is one more) */
	void *mem;		/* vmalloc_user(): zeroed, page aligned */
	unsigned long size;
};

static void plkv_trust_put(struct plkv_trust *tr)
{
	if (refcount_dec_and_test(&tr->ref)) {
		vfree(tr->mem);
		kfree(tr);
	}
}

static void plkv_trust_vm_open(struct vm_area_struct *vma)
{
	struct plkv_trust *tr = vma->vm_private_data;

	refcount_inc(&tr->ref);
}

static void plkv_trust_vm_close(struct vm_area_struct *vma)
{
	struct plkv_trust *tr = vma->vm_private_data;

	/*
	 * Exit and exec tear the mm down from an exiting task or after
	 * the switch to the new mm; anything else is the process itself.
	 */
	if (current->mm == vma->vm_mm && !(current->flags & PF_EXITING))
		plkv_guard_kill("unmapped its plkv trust region");
	plkv_guard_unmap(vma->vm_mm, vma->vm_start);
	plkv_trust_put(tr);
}

static vm_fault_t plkv_trust_vm_fault(struct vm_fault *vmf)
{
	struct plkv_trust *tr = vmf->vma->vm_private_data;

	return plkv_vmalloc_fault(vmf, tr->mem, tr->size,
				  vmf->pgoff - PLKV_TRUST_PGOFF);
}

static int plkv_trust_vm_may_split(struct vm_area_struct *vma,
				   unsigned long addr)
{
	return -EINVAL;
}

static int plkv_trust_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

/*
 * The one change a trust region takes: PROT_NONE to read/write with a
 * non-zero key, whole.
 */
static int plkv_trust_vm_mprotect(struct vm_area_struct *vma,
				  unsigned long start, unsigned long end,
				  unsigned long newflags)
{
	if (!plkv_is_the_seal(vma, start, end, newflags) ||
	    !arch_pkeys_enabled() || !plkv_flags_pkey(newflags))
		return -EPERM;
	plkv_guard_seal_trust(vma->vm_mm, plkv_flags_pkey(newflags), start,
			      end);
	return 0;
}

static const struct vm_operations_struct plkv_trust_vm_ops = {
	.open		= plkv_trust_vm_open,
	.close		= plkv_trust_vm_close,
	.fault		= plkv_trust_vm_fault,
	.may_split	= plkv_trust_vm_may_split,
	.mremap		= plkv_trust_vm_mremap,
	.mprotect	= plkv_trust_vm_mprotect,
};

/* The caller holds mmap_lock; the new vma is not in the tree yet. */
static bool plkv_mm_has_trust(struct mm_struct *mm)
{
	struct vm_area_struct *v;

	mmap_assert_locked(mm);
	for (v = find_vma(mm, 0); v; v = find_vma(mm, v->vm_end))
		if (v->vm_ops == &plkv_trust_vm_ops)
			return true;
	return false;
}

int plkv_trust_mmap(struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	struct plkv_trust *tr;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC))
		return -EPERM;		/* PROT_NONE first, then the seal */
	if (!size || size > (plkv_guard_defers() ? PLKV_TRUST_MAX_SIZE :
			     PLKV_TRUST_MAX_SIZE_V1))
		return -EINVAL;
	if (plkv_mm_has_trust(vma->vm_mm))
		return -EBUSY;
	tr = kzalloc(sizeof(*tr), GFP_KERNEL);
	if (!tr)
		return -ENOMEM;
	tr->mem = vmalloc_user(size);
	if (!tr->mem) {
		kfree(tr);
		return -ENOMEM;
	}
	tr->size = size;
	refcount_set(&tr->ref, 1);
	plkv_vma_make_sealable(vma);
	vma->vm_ops = &plkv_trust_vm_ops;
	vma->vm_private_data = tr;
	return 0;
}

/*
 * The process id of a handle is the one thing code holding the key could
 * write into it falsely and still have the handle work (another process's
 * id makes that process's thread slots look like its own), so the
 * library leaves it unset and the module writes it, into its own memory
 * behind the region: only ever the caller's.
 */
static int plkv_trust_stamp_pid(struct mm_struct *mm, u64 stamp)
{
	struct vm_area_struct *vma = find_vma(mm, stamp);
	struct plkv_trust *tr;
	unsigned long off;

	if (!vma || vma->vm_ops != &plkv_trust_vm_ops ||
	    stamp < vma->vm_start || stamp > vma->vm_end - sizeof(u32))
		return -EINVAL;
	tr = vma->vm_private_data;
	off = ((vma->vm_pgoff - PLKV_TRUST_PGOFF) << PAGE_SHIFT) +
	      (stamp - vma->vm_start);
	if (off > tr->size - sizeof(u32))
		return -EINVAL;
	WRITE_ONCE(*(u32 *)((char *)tr->mem + off),
		   (u32)task_tgid_vnr(current));
	return 0;
}

int plkv_ioc_trust_check(struct plkv_file *pf, void __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct plkv_trust_check tc;
	struct vm_area_struct *vma;
	struct plkv_seg *seg = NULL;
	bool is;
	int ret = -ENOENT;

	if (copy_from_user(&tc, uarg, sizeof(tc)))
		return -EFAULT;
	if ((tc.flags & ~(PLKV_TRUST_CHECK_F_SEGMENT |
			  PLKV_TRUST_CHECK_F_STAMP_PID)) ||
	    !plkv_zeroed(tc.reserved) ||
	    (!(tc.flags & PLKV_TRUST_CHECK_F_STAMP_PID) && tc.stamp) ||
	    (tc.stamp & (sizeof(u32) - 1)))
		return -EINVAL;
	if (tc.flags & PLKV_TRUST_CHECK_F_SEGMENT) {
		seg = plkv_file_seg(pf);
		if (!seg)
			return -ENOTCONN;
	}
	mmap_read_lock(mm);
	vma = find_vma(mm, tc.addr);
	if (vma) {
		is = seg ? plkv_vma_maps_seg(vma, seg) :
			   vma->vm_ops == &plkv_trust_vm_ops;
		if (is && vma->vm_start == tc.addr &&
		    vma->vm_end - vma->vm_start == tc.size &&
		    (vma->vm_flags & (VM_READ | VM_WRITE)) ==
		    (VM_READ | VM_WRITE) &&
		    vma_pkey(vma) == tc.pkey && tc.pkey > 0)
			ret = 0;
	}
	if (!ret && (tc.flags & PLKV_TRUST_CHECK_F_STAMP_PID))
		ret = plkv_trust_stamp_pid(mm, tc.stamp);
	mmap_read_unlock(mm);
	return ret;
}
