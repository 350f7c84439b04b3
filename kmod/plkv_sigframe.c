// SPDX-License-Identifier: GPL-2.0
/*
 * Signal frames that would hand a sealed key back.
 *
 * rt_sigreturn() restores PKRU from the XSAVE area of the frame on the
 * user's stack, which the process can write.  A handler can therefore
 * return with any PKRU it likes: it edits the saved PKRU, or clears PKRU's
 * bit in XSTATE_BV or spoils the software-reserved bytes so the kernel
 * restores PKRU's init value, 0, which grants every key.  And a signal
 * that lands inside a library call has a frame whose PKRU grants the key
 * legitimately; a handler that changes its RIP (or any register) resumes
 * its own code with the grant.
 *
 * So, for processes with a sealed mapping: when the kernel writes a frame
 * whose PKRU grants a sealed key (the signal interrupted a call), keep a
 * copy of the frame's ucontext and XSAVE area.  At rt_sigreturn a frame
 * that would not leave every sealed key access-disabled must be one of
 * those, byte for byte; anything else kills the caller before the
 * restore.  A frame that denies the keys is restored as usual, except that
 * its uc_stack may not place the alternate stack in the segment.
 *
 * The test for "denies" reads the frame as the kernel will: a valid
 * extended frame (both magic words, sane sizes) that restores PKRU from a
 * present component whose access-disable bit is set for every sealed key.
 * Everything else (no FPU state, a legacy frame, PKRU left to its init
 * value) counts as granting.
 */
#include "plkv_internal.h"

#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <asm/fpu/types.h>
#include <asm/processor.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>

#define PLKV_FRAME_MAX		(16 << 10)	/* more than any XSAVE area */
#define PLKV_FRAME_RECS_MAX	256		/* oldest dropped beyond */
#define PLKV_XSAVE_HDR		512		/* legacy area, then header */

struct plkv_frame_rec {
	struct list_head node;
	struct mm_struct *mm;		/* identity only */
	pid_t tid;
	unsigned long uc;		/* the frame's ucontext, user address */
	size_t len;
	u8 bytes[];			/* ucontext, then the XSAVE area */
};

static LIST_HEAD(plkv_frame_recs);
static DEFINE_SPINLOCK(plkv_frame_lock);
static unsigned int plkv_nframe_recs;
static u32 plkv_pkru_offset;		/* in the XSAVE area, 0: none */

/* A frame as rt_sigreturn will read it. */
struct plkv_frame {
	struct ucontext uc;
	unsigned long fp;		/* the XSAVE area, user address */
	size_t fp_len;			/* its bytes worth keeping */
	bool denies;			/* restores PKRU with the keys denied */
};

static int plkv_frame_read(unsigned long ucp, u32 keys, struct plkv_frame *f)
{
	struct _fpx_sw_bytes sw;
	u32 magic2, pkru;
	u64 xstate_bv;
	unsigned int k;

	memset(f, 0, sizeof(*f));
	if (copy_from_user_nofault(&f->uc, (void __user *)ucp, sizeof(f->uc)))
		return -EFAULT;
	f->fp = f->uc.uc_mcontext.fpstate;
	if (!f->fp)
		return 0;
	f->fp_len = PLKV_XSAVE_HDR;
	if (copy_from_user_nofault(&sw, (void __user *)(f->fp +
			offsetof(struct fxregs_state, sw_reserved)), sizeof(sw)))
		return -EFAULT;
	if (sw.magic1 != FP_XSTATE_MAGIC1 ||
	    sw.xstate_size < PLKV_XSAVE_HDR + 64 ||
	    sw.xstate_size > sw.extended_size ||
	    sw.xstate_size > current->thread.fpu.fpstate->user_size ||
	    sw.xstate_size + sizeof(magic2) > PLKV_FRAME_MAX)
		return 0;	/* a legacy frame: PKRU from its init value */
	if (copy_from_user_nofault(&magic2, (void __user *)(f->fp +
				   sw.xstate_size), sizeof(magic2)) ||
	    magic2 != FP_XSTATE_MAGIC2)
		return 0;
	f->fp_len = sw.xstate_size + sizeof(magic2);
	if (!(sw.xfeatures & XFEATURE_MASK_PKRU) || !plkv_pkru_offset ||
	    plkv_pkru_offset + sizeof(pkru) > sw.xstate_size)
		return 0;
	if (copy_from_user_nofault(&xstate_bv, (void __user *)(f->fp +
				   PLKV_XSAVE_HDR), sizeof(xstate_bv)) ||
	    copy_from_user_nofault(&pkru, (void __user *)(f->fp +
				   plkv_pkru_offset), sizeof(pkru)))
		return -EFAULT;
	if (!(xstate_bv & XFEATURE_MASK_PKRU))
		return 0;	/* init value: every key granted */
	for (k = 0; k < 32; k++)
		if ((keys & BIT(k)) && !(pkru & BIT(2 * k)))
			return 0;
	f->denies = true;
	return 0;
}

/* The frame's ucontext and XSAVE area as one allocation's bytes. */
static struct plkv_frame_rec *plkv_frame_copy(unsigned long ucp,
					      const struct plkv_frame *f)
{
	size_t len = sizeof(f->uc) + (f->fp ? f->fp_len : 0);
	struct plkv_frame_rec *r = kmalloc(struct_size(r, bytes, len),
					   GFP_ATOMIC | __GFP_NOWARN);

	if (!r)
		return NULL;
	r->mm = current->mm;
	r->tid = task_pid_nr(current);
	r->uc = ucp;
	r->len = len;
	memcpy(r->bytes, &f->uc, sizeof(f->uc));
	if (f->fp && copy_from_user_nofault(r->bytes + sizeof(f->uc),
					    (void __user *)f->fp, f->fp_len)) {
		kfree(r);
		return NULL;
	}
	return r;
}

static void plkv_frame_rec_del(struct plkv_frame_rec *r)
{
	list_del(&r->node);
	plkv_nframe_recs--;
	kfree(r);
}

/*
 * After the kernel wrote a signal frame (x86-64: %rdx points at its
 * ucontext, %rsp at the frame): remember it if it grants a sealed key.
 * A frame that cannot be copied is not remembered, so its return kills:
 * the safe way to fail.
 */
void plkv_sigframe_delivered(struct pt_regs *uregs)
{
	u32 keys = plkv_guard_keys(current->mm);
	struct plkv_frame_rec *r, *oldest;
	struct plkv_frame f;

	if (!keys || uregs->dx != uregs->sp + sizeof(long))
		return;
	if (plkv_frame_read(uregs->dx, keys, &f) || f.denies)
		return;
	r = plkv_frame_copy(uregs->dx, &f);
	if (!r)
		return;
	spin_lock(&plkv_frame_lock);
	if (plkv_nframe_recs >= PLKV_FRAME_RECS_MAX) {
		oldest = list_first_entry(&plkv_frame_recs,
					  struct plkv_frame_rec, node);
		plkv_frame_rec_del(oldest);
	}
	list_add_tail(&r->node, &plkv_frame_recs);
	plkv_nframe_recs++;
	spin_unlock(&plkv_frame_lock);
}

/*
 * Whether the frame at ucp is the one remembered for this thread; the
 * record is used up either way.
 */
static bool plkv_frame_delivered_as(unsigned long ucp,
				    const struct plkv_frame *f)
{
	struct plkv_frame_rec *r, *now;
	bool same = false;

	now = plkv_frame_copy(ucp, f);
	if (!now)
		return false;
	spin_lock(&plkv_frame_lock);
	list_for_each_entry(r, &plkv_frame_recs, node) {
		if (r->mm == now->mm && r->tid == now->tid && r->uc == ucp) {
			same = r->len == now->len &&
			       !memcmp(r->bytes, now->bytes, r->len);
			plkv_frame_rec_del(r);
			break;
		}
	}
	spin_unlock(&plkv_frame_lock);
	kfree(now);
	return same;
}

/*
 * Before rt_sigreturn restores the frame below uregs->sp: the reason to
 * kill the caller, or NULL to let it return.
 */
const char *plkv_sigframe_return(struct pt_regs *uregs)
{
	u32 keys = plkv_guard_keys(current->mm);
	unsigned long ucp = uregs->sp;	/* the handler's ret popped pretcode */
	struct plkv_frame f;
	const stack_t *ss = &f.uc.uc_stack;

	if (!keys)
		return NULL;
	if (plkv_frame_read(ucp, keys, &f))
		return "rt_sigreturn from an unreadable frame in a plkv client";
	if (!(ss->ss_flags & SS_DISABLE) &&
	    plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   (unsigned long)ss->ss_sp, max_t(size_t, ss->ss_size, 1)))
		return "rt_sigreturn setting a sigaltstack in a plkv segment";
	if (f.denies || plkv_frame_delivered_as(ucp, &f))
		return NULL;
	return "rt_sigreturn granting a plkv key from a frame the kernel did not write";
}

/*
 * A thread whose stack pointer is on one of its trust region's call
 * stacks is inside a library call, with the key granted: a handler run
 * now would start on that stack with the key denied (and die there), or
 * run the client's code in the middle of the call.  So its signals wait:
 * all but SIGKILL and SIGSTOP are blocked, which leaves get_signal()
 * nothing to deliver, and the mask they replaced is saved in the stack's
 * header, where the library finds it at the call's end and restores it
 * (rt_sigprocmask(), which delivers them).  The header is written with
 * the thread's own PKRU, which grants the key on such a stack; if it
 * cannot be written, nothing is deferred.  A fault of the call itself
 * (the library's code, or a buffer the client passed, unmapped) cannot
 * wait: blocked, it would fault again at once, for ever; nor can its
 * handler run.  It kills the process, whose survivors recover its locks.
 */
#define PLKV_FAULT_SIGNALS (sigmask(SIGSEGV) | sigmask(SIGBUS) | \
			    sigmask(SIGILL) | sigmask(SIGFPE) | \
			    sigmask(SIGTRAP) | sigmask(SIGSYS))

void plkv_sigframe_defer(struct pt_regs *uregs)
{
	unsigned long base, off, flags;
	struct plkv_call_stack_hdr __user *h;
	u32 deferred, one = 1;
	sigset_t all;
	u64 mask;

	base = plkv_guard_trust_start(current->mm);
	if (!base)
		return;
	base += PLKV_CALL_STACKS_OFF;
	off = uregs->sp - base;
	if (off >= PLKV_CALL_STACKS * PLKV_CALL_STACK_SIZE)
		return;
	h = (void __user *)(base + (off & ~(PLKV_CALL_STACK_SIZE - 1UL)));
	if (copy_from_user_nofault(&deferred, &h->deferred, sizeof(deferred)))
		return;
	spin_lock_irqsave(&current->sighand->siglock, flags);
	if (current->pending.signal.sig[0] & PLKV_FAULT_SIGNALS) {
		spin_unlock_irqrestore(&current->sighand->siglock, flags);
		pr_warn_ratelimited("plkv: pid %d faulted inside a call on a call stack: killed\n",
				    task_tgid_nr(current));
		send_sig(SIGKILL, current, 1);
		return;
	}
	if (!deferred) {
		mask = current->blocked.sig[0];
		if (copy_to_user_nofault(&h->saved_mask, &mask, sizeof(mask)) ||
		    copy_to_user_nofault(&h->deferred, &one, sizeof(one)))
			goto out;
	}
	siginitsetinv(&all, sigmask(SIGKILL) | sigmask(SIGSTOP));
	current->blocked = all;
out:
	spin_unlock_irqrestore(&current->sighand->siglock, flags);
}

void plkv_sigframe_forget(struct mm_struct *mm)
{
	struct plkv_frame_rec *r, *next;

	spin_lock(&plkv_frame_lock);
	list_for_each_entry_safe(r, next, &plkv_frame_recs, node)
		if (r->mm == mm)
			plkv_frame_rec_del(r);
	spin_unlock(&plkv_frame_lock);
}

void plkv_sigframe_init(void)
{
	u32 size, offset, ecx, edx;

	if (!boot_cpu_has(X86_FEATURE_PKU) || boot_cpu_data.cpuid_level < 0xd)
		return;
	/* The standard (non-compacted) format that signal frames use. */
	cpuid_count(0xd, XFEATURE_PKRU, &size, &offset, &ecx, &edx);
	if (size >= sizeof(u32))
		plkv_pkru_offset = offset;
}

void plkv_sigframe_exit(void)
{
	struct plkv_frame_rec *r, *next;

	spin_lock(&plkv_frame_lock);
	list_for_each_entry_safe(r, next, &plkv_frame_recs, node)
		plkv_frame_rec_del(r);
	spin_unlock(&plkv_frame_lock);
}
