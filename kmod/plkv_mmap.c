// SPDX-License-Identifier: GPL-2.0
/*
 * The segment mapping and its seal.
 *
 * A process maps its segment once, whole, shared, and with no access at
 * all; an address space holds at most one mapping of a segment, whichever
 * record or process (a CLONE_VM sibling) asks.  The one change the vma
 * will then take is an mprotect() to read/write with a non-zero
 * protection key (key 0 when the CPU has no PKU); the library does it
 * with pkey_mprotect() right after mmap().  From
 * then on the key and the protection are sealed: the mprotect hook refuses
 * every further change, may_split refuses partial munmap/mprotect/madvise,
 * the mremap hook refuses moves (growing is refused by VM_DONTEXPAND), and
 * VM_MAYEXEC is cleared so PROT_EXEC is refused before the hook is asked.
 *
 * The vma is VM_IO | VM_PFNMAP, filled page by page from the vmalloc'd
 * segment by the fault handler, so no get_user_pages() path reaches it:
 * /proc/PID/mem, process_vm_writev(), ptrace and O_DIRECT all fail, and
 * MADV_DOFORK/MADV_DODUMP are refused.  VM_DONTCOPY keeps it out of forked
 * children, VM_DONTDUMP out of core dumps.  There is no fallocate behind
 * the file, so MADV_REMOVE cannot punch holes.
 *
 * Counting: seg->nmapped counts live vmas (destroy is refused while any
 * exist); the record's nvmas counts the process's own, and when the last of
 * them closes while the record is still attached, the process has died as
 * far as the segment is concerned (munmap without detach is a death, by
 * definition: its locks and operations are abandoned).
 */
#include "plkv_internal.h"

#include <linux/mm.h>
#include <linux/pkeys.h>

static struct plkv_file *plkv_vma_file(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

/* mremap() copying the vma (a move that the mremap hook then undoes). */
static void plkv_vm_open(struct vm_area_struct *vma)
{
	struct plkv_file *pf = plkv_vma_file(vma);
	struct plkv_seg *seg = pf->seg;

	mutex_lock(&seg->lock);
	seg->nmapped++;
	if (pf->proc)
		pf->proc->nvmas++;
	mutex_unlock(&seg->lock);
}

static void plkv_vm_close(struct vm_area_struct *vma)
{
	struct plkv_file *pf = plkv_vma_file(vma);
	struct plkv_seg *seg = pf->seg;
	struct plkv_proc *proc;

	plkv_guard_unmap(vma->vm_mm, vma->vm_start);
	mutex_lock(&seg->lock);
	seg->nmapped--;
	proc = pf->proc;
	if (proc && proc->nvmas && !--proc->nvmas)
		plkv_proc_died(seg, proc);
	mutex_unlock(&seg->lock);
}

static vm_fault_t plkv_vm_fault(struct vm_fault *vmf)
{
	struct plkv_seg *seg = plkv_vma_file(vmf->vma)->seg;

	return plkv_vmalloc_fault(vmf, seg->mem, seg->size, vmf->pgoff);
}

static int plkv_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int plkv_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static int plkv_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, unsigned long newflags)
{
	struct plkv_file *pf = plkv_vma_file(vma);
	struct plkv_seg *seg = pf->seg;
	int pkey = plkv_flags_pkey(newflags);
	int ret = 0;

	if (!plkv_is_the_seal(vma, start, end, newflags))
		return -EPERM;
	if (arch_pkeys_enabled() ? !pkey : pkey)
		return -EPERM;

	mutex_lock(&seg->lock);
	if (pf->proc && pf->proc->state == PLKV_PROC_ATTACHED)
		pf->proc->pkey = pkey;
	else
		ret = -EPERM;	/* detached: no record to seal */
	mutex_unlock(&seg->lock);
	if (ret || !pkey)
		return ret;
	plkv_guard_seal(vma->vm_mm, pkey, start, end, seg->strict);
	if (seg->strict && plkv_guard_active()) {
		ret = plkv_watch_seal(vma->vm_mm);
		if (ret) {
			plkv_guard_unmap(vma->vm_mm, start);
			mutex_lock(&seg->lock);
			if (pf->proc)
				pf->proc->pkey = 0;
			mutex_unlock(&seg->lock);
		}
	}
	return ret;
}

static const struct vm_operations_struct plkv_vm_ops = {
	.open		= plkv_vm_open,
	.close		= plkv_vm_close,
	.fault		= plkv_vm_fault,
	.may_split	= plkv_vm_may_split,
	.mremap		= plkv_vm_mremap,
	.mprotect	= plkv_vm_mprotect,
};

/*
 * Whether an mprotect() is the one change a sealed mapping (segment or
 * trust region) takes: from PROT_NONE (else sealed already: the vma is
 * the truth), whole, to read/write.  The key is the caller's to check.
 */
bool plkv_is_the_seal(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, unsigned long newflags)
{
	return !(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) &&
	       start == vma->vm_start && end == vma->vm_end &&
	       (newflags & (VM_READ | VM_WRITE | VM_EXEC)) ==
	       (VM_READ | VM_WRITE);
}

/* Whether vma is a mapping of seg. */
bool plkv_vma_maps_seg(struct vm_area_struct *vma, struct plkv_seg *seg)
{
	return vma->vm_ops == &plkv_vm_ops && plkv_vma_file(vma)->seg == seg;
}

/*
 * Whether the calling process maps seg already, through any fd: one that
 * detached while still mapped has no record left to say so.  The caller
 * holds mmap_lock, and the new vma is not in the tree yet.
 */
static bool plkv_mm_maps_seg(struct mm_struct *mm, struct plkv_seg *seg)
{
	struct vm_area_struct *v;

	mmap_assert_locked(mm);
	for (v = find_vma(mm, 0); v; v = find_vma(mm, v->vm_end))
		if (plkv_vma_maps_seg(v, seg))
			return true;
	return false;
}

int plkv_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct plkv_file *pf = file->private_data;
	struct plkv_seg *seg = plkv_file_seg(pf);
	struct plkv_proc *proc;
	int ret = 0;

	if (vma->vm_pgoff == PLKV_TRUST_PGOFF)
		return plkv_trust_mmap(vma);
	if (!seg)
		return -ENOTCONN;
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;		/* MAP_PRIVATE */
	if (!(vma->vm_flags & VM_SHARED))
		return -EACCES;		/* the fd is not open for writing */
	if (vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC))
		return -EPERM;		/* PROT_NONE first, then the seal */
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != seg->size)
		return -EINVAL;
	if (plkv_mm_maps_seg(vma->vm_mm, seg))
		return -EBUSY;		/* one mapping per process at a time */

	mutex_lock(&seg->lock);
	proc = plkv_my_proc(pf);
	if (!proc) {
		ret = -ENOTCONN;
	} else if (proc->mapped) {
		ret = -EBUSY;		/* one mapping per process, ever */
	} else {
		proc->mapped = true;
		proc->nvmas = 1;
		seg->nmapped++;
	}
	mutex_unlock(&seg->lock);
	if (ret)
		return ret;

	plkv_vma_make_sealable(vma);
	vma->vm_ops = &plkv_vm_ops;
	vma->vm_private_data = pf;
	return 0;
}
