// SPDX-License-Identifier: GPL-2.0
/*
 * The watch: hardware execute breakpoints on the instructions that could
 * grant a strict client the sealed key.
 *
 * PKU is a user-mode permission: any WRPKRU, or XRSTOR with PKRU in its
 * feature mask, that the process can reach grants it the key.  A strict
 * segment already refuses code that appears after open (plkv_guard.c), so
 * what can write PKRU is in the process's executable memory when it seals
 * the segment.  The module reads that memory itself at the seal (the
 * library's own scan runs in the client, which a hostile client skips, and
 * cannot read execute-only pages), and:
 *
 *  - trusts libplkv's checked gates (wrpkru; test $imm32, %eax; jcc:
 *    pkru.h), and only in a file that only root could have written (owned
 *    by root, not writable by group or others, on a mount that honours
 *    setuid): the same bytes in the client's own code would go on into its
 *    code with the key;
 *  - puts an execute breakpoint on every other one, glibc's pkey_set() and
 *    the loader's lazy-binding XRSTOR among them, and on each prefix byte
 *    before it (an instruction can start there), in every thread that
 *    shares the mm, threads made later included.  The handler runs before
 *    the instruction and kills a WRPKRU whose value (EAX) grants a sealed
 *    key and an XRSTOR whose feature mask (EDX:EAX) includes PKRU, whose
 *    init value grants every key; anything else goes on;
 *  - refuses the seal (ENOSPC) where those need more breakpoints than the
 *    CPU has debug registers, and kills a new thread that finds none free;
 *  - keeps the code it read from changing under it: every file the
 *    process executes from is held against writers (ETXTBSY, as a running
 *    program is) and against shared writable mappings, and the seal is
 *    refused (ETXTBSY) where one already has either.  Anonymous code can
 *    change only through a write to an executable page, which the guard
 *    refuses a strict client (mprotect, ptrace, /proc/PID/mem,
 *    userfaultfd's copy).
 *
 * Hodor does the same with a patched kernel; breakpoints registered from a
 * module need none.  They are kernel-owned perf events: the process holds
 * no fd to them, prctl(PR_TASK_PERF_EVENTS_DISABLE) does not reach them,
 * and a tracer's debug registers take only the slots left over.
 */
#include "plkv_internal.h"

#include <linux/hw_breakpoint.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/perf_event.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <asm/fpu/types.h>

/*
 * Bytes kept before a site (its prefixes: an instruction is at most 15
 * bytes and these two at least 3) and read after it (the checked gate).
 */
#define PLKV_BEHIND		12
#define PLKV_AHEAD		16
#define PLKV_GATE_LEN		14	/* wrpkru; test $imm32, %eax; jcc rel32 */

struct plkv_watch_site {
	unsigned long addr;
	bool xrstor;
};

/* A thread's breakpoints, one per site. */
struct plkv_watch_thread {
	struct list_head node;
	struct task_struct *task;
	struct perf_event *bp[HBP_NUM];
};

/* One per mm with a strict seal. */
struct plkv_watch {
	struct list_head node;
	struct mm_struct *mm;		/* identity only, never dereferenced */
	unsigned int nsites;
	struct plkv_watch_site site[HBP_NUM];
	struct list_head threads;
	struct file **files;		/* its code's, kept from changing */
	unsigned int nfiles, files_room;
};

/* The scan's window: a page with the bytes either side of it. */
struct plkv_scan {
	struct mm_struct *mm;
	struct plkv_watch *w;
	unsigned long addr;		/* of the page in win; 0: none yet */
	u8 *next;			/* the page read after it */
	u8 win[PLKV_BEHIND + PAGE_SIZE + PLKV_AHEAD];
};

/* A breakpoint's context: set on XRSTOR sites, NULL on WRPKRU ones. */
static char plkv_xrstor_site;

static LIST_HEAD(plkv_watches);
static DEFINE_MUTEX(plkv_watch_lock);

static bool plkv_is_prefix(u8 b)
{
	/* Not LOCK (F0): it makes both instructions #UD. */
	return (b >= 0x40 && b <= 0x4f) || b == 0x26 || b == 0x2e ||
	       b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
	       b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3;
}

static bool plkv_is_wrpkru(const u8 *p)
{
	return p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xef;
}

/* 0F AE /5 with a memory operand (mod 3 is LFENCE). */
static bool plkv_is_xrstor(const u8 *p)
{
	return p[0] == 0x0f && p[1] == 0xae && ((p[2] >> 3) & 7) == 5 &&
	       (p[2] >> 6) != 3;
}

/* libplkv's gate: the value written is tested before anything else runs. */
static bool plkv_is_checked_gate(const u8 *p)
{
	return plkv_is_wrpkru(p) && p[3] == 0xa9 && p[8] == 0x0f &&
	       (p[9] == 0x84 || p[9] == 0x85);
}

/* A file only root could have written: the trust a setuid binary needs. */
static bool plkv_root_file(struct vm_area_struct *vma)
{
	struct file *f = vma->vm_file;
	struct inode *inode;

	if (!f)
		return false;
	inode = file_inode(f);
	return S_ISREG(inode->i_mode) && uid_eq(inode->i_uid, GLOBAL_ROOT_UID) &&
	       !(inode->i_mode & 0022) &&
	       !(f->f_path.mnt->mnt_flags & MNT_NOSUID) &&
	       inode->i_sb->s_user_ns == &init_user_ns;
}

static bool plkv_trusted_gate(struct mm_struct *mm, unsigned long at,
			      const u8 *p)
{
	struct vm_area_struct *vma;

	if (!plkv_is_checked_gate(p))
		return false;
	vma = find_vma(mm, at);
	return vma && vma->vm_start <= at && at + PLKV_GATE_LEN <= vma->vm_end &&
	       plkv_root_file(vma);
}

static int plkv_watch_add(struct plkv_watch *w, unsigned long addr,
			  bool xrstor)
{
	unsigned int i;

	for (i = 0; i < w->nsites; i++)
		if (w->site[i].addr == addr)
			return 0;
	if (w->nsites == HBP_NUM)
		return -ENOSPC;
	w->site[w->nsites].addr = addr;
	w->site[w->nsites].xrstor = xrstor;
	w->nsites++;
	return 0;
}

/*
 * The sites that start in the window's page; ahead: the next page's first
 * bytes, or NULL for none.
 */
static int plkv_scan_judge(struct plkv_scan *s, const u8 *ahead)
{
	unsigned long base = s->addr - PLKV_BEHIND;	/* of win[0] */
	unsigned int i;
	int k, ret;

	if (!s->addr)
		return 0;
	if (ahead)
		memcpy(s->win + PLKV_BEHIND + PAGE_SIZE, ahead, PLKV_AHEAD);
	else
		memset(s->win + PLKV_BEHIND + PAGE_SIZE, 0, PLKV_AHEAD);
	for (i = PLKV_BEHIND; i < PLKV_BEHIND + PAGE_SIZE; i++) {
		const u8 *p = s->win + i;
		bool xrstor = plkv_is_xrstor(p);

		if (!xrstor && !plkv_is_wrpkru(p))
			continue;
		if (!xrstor && plkv_trusted_gate(s->mm, base + i, p))
			continue;
		/* An instruction can start at any prefix byte before it. */
		for (k = 0; k <= PLKV_BEHIND; k++) {
			if (k && !plkv_is_prefix(p[-k]))
				break;
					ret = plkv_watch_add(s->w, base + i - k, xrstor);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Hold f's contents still for the watch's life: no open for writing
 * (ETXTBSY), no shared writable mapping, as exec does for a program.
 */
static int plkv_watch_pin(struct plkv_watch *w, struct file *f)
{
	struct file **more;
	unsigned int i;

	for (i = 0; i < w->nfiles; i++)
		if (file_inode(w->files[i]) == file_inode(f))
			return 0;
	if (w->nfiles == w->files_room) {
		more = krealloc_array(w->files, w->files_room * 2 + 8,
				      sizeof(*more), GFP_KERNEL);
		if (!more)
			return -ENOMEM;
		w->files = more;
		w->files_room = w->files_room * 2 + 8;
	}
	if (deny_write_access(f))
		return -ETXTBSY;
	if (mapping_deny_writable(f->f_mapping)) {
		allow_write_access(f);
		return -ETXTBSY;
	}
	w->files[w->nfiles++] = get_file(f);
	return 0;
}

static int plkv_read_page(struct mm_struct *mm, unsigned long addr, u8 *to)
{
	struct page *page;
	void *from;
	long n;

	/* FOLL_FORCE: execute-only text is read as well. */
	n = get_user_pages_remote(mm, addr, 1, FOLL_FORCE, &page, NULL, NULL);
	if (n != 1)
		return n < 0 ? n : -EFAULT;
	from = kmap_local_page(page);
	memcpy(to, from, PAGE_SIZE);
	kunmap_local(from);
	put_page(page);
	return 0;
}

/*
 * All executable memory of mm, read page by page as one stream (a site
 * can straddle two adjacent mappings), each page judged once the next
 * one is read.  The caller holds mmap_lock.
 */
static int plkv_watch_scan(struct mm_struct *mm, struct plkv_watch *w)
{
	struct vm_area_struct *vma;
	struct plkv_scan *s;
	unsigned long addr;
	bool adjacent;
	int ret = 0;

	mmap_assert_locked(mm);
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->next = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!s->next) {
		kfree(s);
		return -ENOMEM;
	}
	s->mm = mm;
	s->w = w;
	for (vma = find_vma(mm, 0); vma && !ret; vma = find_vma(mm, vma->vm_end)) {
		if (!(vma->vm_flags & VM_EXEC) ||
		    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			continue;
		if (vma->vm_file) {
			ret = plkv_watch_pin(w, vma->vm_file);
			if (ret)
				break;
		}
		for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
			ret = plkv_read_page(mm, addr, s->next);
			adjacent = s->addr && addr == s->addr + PAGE_SIZE;
			if (!ret)
				ret = plkv_scan_judge(s, adjacent ? s->next : NULL);
			if (ret)
				break;
			if (adjacent)
				memcpy(s->win, s->win + PAGE_SIZE, PLKV_BEHIND);
			else
				memset(s->win, 0, PLKV_BEHIND);
			memcpy(s->win + PLKV_BEHIND, s->next, PAGE_SIZE);
			s->addr = addr;
		}
	}
	if (!ret)
		ret = plkv_scan_judge(s, NULL);
	kfree(s->next);
	kfree(s);
	return ret;
}

/* Runs in the thread, before the instruction at the breakpoint. */
static void plkv_watch_hit(struct perf_event *bp, struct perf_sample_data *data,
			   struct pt_regs *regs)
{
	u32 keys = plkv_guard_keys(current->mm);

	if (!keys || !user_mode(regs))
		return;		/* a fork's child, or after exec */
	if (bp->overflow_handler_context == &plkv_xrstor_site) {
		if (regs->ax & XFEATURE_MASK_PKRU)
			plkv_guard_kill("XRSTOR of PKRU in a strict plkv client");
	} else if (plkv_pkru_grants((u32)regs->ax, keys)) {
		plkv_guard_kill("WRPKRU granting a sealed plkv key");
	}
}

static void plkv_watch_thread_free(struct plkv_watch_thread *wt)
{
	unsigned int i;

	for (i = 0; i < HBP_NUM; i++)
		if (wt->bp[i])
			unregister_hw_breakpoint(wt->bp[i]);
	put_task_struct(wt->task);
	list_del(&wt->node);
	kfree(wt);
}

static bool plkv_watch_has(struct plkv_watch *w, struct task_struct *t)
{
	struct plkv_watch_thread *wt;

	list_for_each_entry(wt, &w->threads, node)
		if (wt->task == t)
			return true;
	return false;
}

/*
 * Threads that have exited, or left the mm by exec (a posix_spawn()
 * child), give their breakpoints and debug registers back.
 */
static void plkv_watch_prune_all(void)
{
	struct plkv_watch_thread *wt, *next;
	struct plkv_watch *w;

	lockdep_assert_held(&plkv_watch_lock);
	list_for_each_entry(w, &plkv_watches, node)
		list_for_each_entry_safe(wt, next, &w->threads, node)
			if (wt->task->exit_state ||
			    READ_ONCE(wt->task->mm) != w->mm)
				plkv_watch_thread_free(wt);
}

/* Breakpoints on every site in t. */
static int plkv_watch_arm(struct plkv_watch *w, struct task_struct *t)
{
	struct plkv_watch_thread *wt;
	struct perf_event_attr attr;
	struct perf_event *bp;
	unsigned int i;

	lockdep_assert_held(&plkv_watch_lock);
	plkv_watch_prune_all();
	if (plkv_watch_has(w, t) || !w->nsites)
		return 0;
	wt = kzalloc(sizeof(*wt), GFP_KERNEL);
	if (!wt)
		return -ENOMEM;
	wt->task = get_task_struct(t);
	list_add(&wt->node, &w->threads);
	for (i = 0; i < w->nsites; i++) {
		ptrace_breakpoint_init(&attr);
		attr.bp_addr = w->site[i].addr;
		attr.bp_len = sizeof(long);	/* what x86 takes for execute */
		attr.bp_type = HW_BREAKPOINT_X;
		attr.disabled = 0;
		attr.remove_on_exec = 1;
		bp = register_user_hw_breakpoint(&attr, plkv_watch_hit,
						 w->site[i].xrstor ?
						 &plkv_xrstor_site : NULL, t);
		if (IS_ERR(bp))
			return PTR_ERR(bp);	/* wt is freed with w */
		wt->bp[i] = bp;
	}
	return 0;
}

static struct plkv_watch *plkv_watch_find(struct mm_struct *mm)
{
	struct plkv_watch *w;

	list_for_each_entry(w, &plkv_watches, node)
		if (w->mm == mm)
			return w;
	return NULL;
}

static void plkv_watch_free(struct plkv_watch *w)
{
	struct plkv_watch_thread *wt, *next;
	unsigned int i;

	list_for_each_entry_safe(wt, next, &w->threads, node)
		plkv_watch_thread_free(wt);
	for (i = 0; i < w->nfiles; i++) {
		mapping_allow_writable(w->files[i]->f_mapping);
		allow_write_access(w->files[i]);
		fput(w->files[i]);
	}
	kfree(w->files);
	list_del(&w->node);
	kfree(w);
}

/* Every task that shares mm (threads, and CLONE_VM children). */
static int plkv_watch_arm_all(struct plkv_watch *w, struct mm_struct *mm)
{
	struct task_struct *g, *t, *found;
	int ret;

	for (;;) {
		found = NULL;
		rcu_read_lock();
		for_each_process_thread(g, t) {
			if (READ_ONCE(t->mm) == mm && !t->exit_state &&
			    !(t->flags & (PF_KTHREAD | PF_IO_WORKER)) &&
			    !plkv_watch_has(w, t)) {
				found = get_task_struct(t);
				break;
			}
		}
		rcu_read_unlock();
		if (!found)
			return 0;
		ret = plkv_watch_arm(w, found);
		put_task_struct(found);
		if (ret)
			return ret;
	}
}

/*
 * Whether a thread of current's process is traced: a tracer attached
 * before the process sealed (and so before it became non-dumpable) would
 * read its registers inside calls, later ones are refused by the guard.
 */
static bool plkv_traced(void)
{
	struct task_struct *t;
	bool traced = false;

	rcu_read_lock();
	for_each_thread(current, t)
		if (READ_ONCE(t->ptrace))
			traced = true;
	rcu_read_unlock();
	return traced;
}

/*
 * Whether a thread of current's process has a perf event that samples
 * user registers or the user stack (an event another process or the
 * process itself attached before it sealed a strict segment: later ones
 * are refused by the guard).  Such a sample, taken inside a call, reads
 * the call stack's token out of r15 and the call's frames.
 */
static bool plkv_perf_samples_calls(void)
{
	struct perf_event_context *ctx;
	struct task_struct *t;
	struct perf_event *e;
	bool found = false;
	int n;

	rcu_read_lock();
	for_each_thread(current, t) {
		for (n = 0; n < perf_nr_task_contexts && !found; n++) {
			ctx = rcu_dereference(t->perf_event_ctxp[n]);
			if (!ctx)
				continue;
			raw_spin_lock_irq(&ctx->lock);
			list_for_each_entry(e, &ctx->event_list, event_entry)
				if (e->attr.sample_type & PLKV_PERF_SAMPLES_CALLS)
					found = true;
			raw_spin_unlock_irq(&ctx->lock);
		}
		if (found)
			break;
	}
	rcu_read_unlock();
	return found;
}

/*
 * mm seals a strict segment (mmap_lock held, the seal listed already so
 * that threads made from now on are armed as they start).  Its executable
 * memory cannot change after this: one scan serves every later seal.
 */
int plkv_watch_seal(struct mm_struct *mm)
{
	struct plkv_watch *w;
	int ret;

	mutex_lock(&plkv_watch_lock);
	if (plkv_watch_find(mm)) {
		mutex_unlock(&plkv_watch_lock);
		return 0;
	}
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w) {
		mutex_unlock(&plkv_watch_lock);
		return -ENOMEM;
	}
	w->mm = mm;
	INIT_LIST_HEAD(&w->threads);
	list_add(&w->node, &plkv_watches);
	ret = plkv_traced() ? -EBUSY : plkv_perf_samples_calls() ? -EPERM :
	      plkv_watch_scan(mm, w);
	if (!ret)
		ret = plkv_watch_arm_all(w, mm);
	if (ret) {
		pr_notice("%s[%d]: strict seal refused: %s (%d)\n",
			  current->comm, task_tgid_nr(current),
			  ret == -ENOSPC ? "more WRPKRU/XRSTOR sites than debug registers" :
			  ret == -ETXTBSY ? "it runs code from a file open for writing" :
			  ret == -EPERM ? "a perf event samples its registers or stack" :
			  ret == -EBUSY ? "it is being traced" :
			  "watching its WRPKRU/XRSTOR sites failed", ret);
		plkv_watch_free(w);
	}
	mutex_unlock(&plkv_watch_lock);
	return ret;
}

/* mm's last strict seal is gone. */
void plkv_watch_forget(struct mm_struct *mm)
{
	struct plkv_watch *w;

	mutex_lock(&plkv_watch_lock);
	w = plkv_watch_find(mm);
	if (w)
		plkv_watch_free(w);
	mutex_unlock(&plkv_watch_lock);
}

/* Runs fn in p on its way out to user mode; false if it cannot. */
static bool plkv_watch_queue(struct task_struct *p, task_work_func_t fn)
{
	struct callback_head *cb = kmalloc(sizeof(*cb), GFP_ATOMIC);

	if (cb && try_module_get(THIS_MODULE)) {
		init_task_work(cb, fn);
		if (!task_work_add(p, cb, TWA_RESUME))
			return true;
		module_put(THIS_MODULE);
	}
	kfree(cb);
	return false;
}

/* In a new task of a watched mm, before its first user instruction. */
static void plkv_watch_new_task_work(struct callback_head *cb)
{
	struct plkv_watch *w;
	int ret = 0;

	kfree(cb);
	mutex_lock(&plkv_watch_lock);
	w = plkv_watch_find(current->mm);
	if (w)
		ret = plkv_watch_arm(w, current);
	mutex_unlock(&plkv_watch_lock);
	if (ret)
		plkv_guard_kill("no debug register left to watch a new thread");
	module_put(THIS_MODULE);
}

/*
 * From the guard's probe on wake_up_new_task(): p has not run yet.  The
 * breakpoints need a sleeping context, so p registers its own on its way
 * out to user mode; where that cannot be arranged it never runs.
 */
void plkv_watch_new_task(struct task_struct *p)
{
	struct mm_struct *mm = READ_ONCE(p->mm);

	/* io_uring's workers share the mm but never run user code. */
	if (p->flags & (PF_KTHREAD | PF_IO_WORKER))
		return;
	if (mm && plkv_guard_strict(mm) &&
	    !plkv_watch_queue(p, plkv_watch_new_task_work))
		send_sig(SIGKILL, p, 1);
}

static void plkv_watch_exec_work(struct callback_head *cb)
{
	kfree(cb);
	mutex_lock(&plkv_watch_lock);
	plkv_watch_prune_all();
	mutex_unlock(&plkv_watch_lock);
	module_put(THIS_MODULE);
}

/*
 * From the guard's probe on setup_new_exec(): a watched task that execs
 * leaves its mm, and the new program should have its debug registers.
 */
void plkv_watch_exec(void)
{
	if (!list_empty(&plkv_watches))
		plkv_watch_queue(current, plkv_watch_exec_work);
}

void plkv_watch_exit(void)
{
	struct plkv_watch *w, *next;

	mutex_lock(&plkv_watch_lock);
	list_for_each_entry_safe(w, next, &plkv_watches, node)
		plkv_watch_free(w);
	mutex_unlock(&plkv_watch_lock);
}
