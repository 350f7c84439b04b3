// SPDX-License-Identifier: GPL-2.0
/*
 * The guard: system calls that reach around a sealed protection key.
 *
 * PKU keeps a client's stray accesses out of the segment, but a few system
 * calls let a process undo the seal without any WRPKRU of its own, and
 * they are ordinary calls that a library cannot forbid a hostile process
 * (it need not even use the library to attach).  So the module watches
 * them, with kprobes on their entry, for every process that has sealed a
 * segment mapping:
 *
 *  - pkey_free() of the sealed key: pkey_alloc() would hand the same key
 *    back with access allowed (key recycling);
 *  - set_tid_address() or rseq() pointing into the segment: the kernel
 *    writes there for the thread (clear_child_tid at exit, the rseq area
 *    on preemption), with whatever PKRU the thread has at that moment,
 *    granted inside a library call;
 *  - sigaltstack() overlapping the segment: the kernel writes signal
 *    frames there, again with the thread's PKRU;
 *  - ptrace(PTRACE_SETREGSET, NT_X86_XSTATE) or PTRACE_SETFPREGS on such a
 *    process: the tracer can set the tracee's PKRU.
 *
 * The answer is SIGKILL for the caller: it never runs another instruction,
 * and the survivors recover whatever it held, as after any death.  The
 * probes cost nothing on the library's fast path, which makes no system
 * call; the calls they watch are rare.
 *
 * What is watched is kept in a small list of sealed mappings (mm, key,
 * range) under a spinlock: kprobe handlers run with preemption off and may
 * not sleep, so they cannot take seg->lock or mmap_lock.
 */
#include "plkv_internal.h"

#include <linux/elf.h>
#include <linux/kprobes.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

struct plkv_sealed {
	struct list_head node;
	struct mm_struct *mm;		/* identity only, never dereferenced */
	int pkey;
	unsigned long start, end;
};

static LIST_HEAD(plkv_sealed_list);
static DEFINE_SPINLOCK(plkv_sealed_lock);
static bool plkv_guard_on;

void plkv_guard_seal(struct mm_struct *mm, int pkey, unsigned long start,
		     unsigned long end)
{
	struct plkv_sealed *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return;	/* unguarded, as on a kernel without kprobes */
	s->mm = mm;
	s->pkey = pkey;
	s->start = start;
	s->end = end;
	spin_lock(&plkv_sealed_lock);
	list_add(&s->node, &plkv_sealed_list);
	spin_unlock(&plkv_sealed_lock);
}

void plkv_guard_unmap(struct mm_struct *mm, unsigned long start)
{
	struct plkv_sealed *s, *next;

	spin_lock(&plkv_sealed_lock);
	list_for_each_entry_safe(s, next, &plkv_sealed_list, node) {
		if (s->mm == mm && s->start == start) {
			list_del(&s->node);
			kfree(s);
		}
	}
	spin_unlock(&plkv_sealed_lock);
}

/* Which of mm's sealed mappings a test matches: a key, or a range. */
enum plkv_match { PLKV_MATCH_ANY, PLKV_MATCH_KEY, PLKV_MATCH_RANGE };

static bool plkv_guard_hit(struct mm_struct *mm, enum plkv_match how,
			   unsigned long a, unsigned long len)
{
	struct plkv_sealed *s;
	bool hit = false;

	if (!mm)
		return false;
	spin_lock(&plkv_sealed_lock);
	list_for_each_entry(s, &plkv_sealed_list, node) {
		if (s->mm != mm)
			continue;
		if (how == PLKV_MATCH_ANY ||
		    (how == PLKV_MATCH_KEY && a == s->pkey) ||
		    (how == PLKV_MATCH_RANGE && a < s->end &&
		     a + len > s->start)) {
			hit = true;
			break;
		}
	}
	spin_unlock(&plkv_sealed_lock);
	return hit;
}

static void plkv_guard_kill(const char *why)
{
	pr_notice("killed %s[%d]: %s\n", current->comm,
		  task_tgid_nr(current), why);
	force_sig(SIGKILL);
}

/* The syscall's own registers: the x86-64 wrappers take them in %rdi. */
static const struct pt_regs *plkv_sys_regs(struct pt_regs *regs)
{
	return (const struct pt_regs *)regs->di;
}

static int plkv_pre_pkey_free(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_hit(current->mm, PLKV_MATCH_KEY,
			   plkv_sys_regs(regs)->di, 0))
		plkv_guard_kill("pkey_free of a sealed plkv key");
	return 0;
}

static int plkv_pre_set_tid_address(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   plkv_sys_regs(regs)->di, sizeof(u32)))
		plkv_guard_kill("set_tid_address into a plkv segment");
	return 0;
}

static int plkv_pre_rseq(struct kprobe *p, struct pt_regs *regs)
{
	const struct pt_regs *r = plkv_sys_regs(regs);

	if (plkv_guard_hit(current->mm, PLKV_MATCH_RANGE, r->di,
			   max_t(unsigned long, r->si, 1)))
		plkv_guard_kill("rseq area in a plkv segment");
	return 0;
}

static int plkv_pre_sigaltstack(struct kprobe *p, struct pt_regs *regs)
{
	const stack_t __user *uss = (const stack_t __user *)
				    plkv_sys_regs(regs)->di;
	stack_t ss;

	if (!uss || !plkv_guard_hit(current->mm, PLKV_MATCH_ANY, 0, 0))
		return 0;
	if (copy_from_user_nofault(&ss, uss, sizeof(ss)))
		return 0;	/* the call itself will fail with EFAULT */
	if (!(ss.ss_flags & SS_DISABLE) &&
	    plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   (unsigned long)ss.ss_sp, max_t(size_t, ss.ss_size, 1)))
		plkv_guard_kill("sigaltstack in a plkv segment");
	return 0;
}

/* A tracer setting registers that hold PKRU of a process with a seal. */
static int plkv_pre_ptrace(struct kprobe *p, struct pt_regs *regs)
{
	const struct pt_regs *r = plkv_sys_regs(regs);
	long request = r->di;
	struct task_struct *t;
	bool hit = false;

	if (!(request == PTRACE_SETREGSET && r->dx == NT_X86_XSTATE) &&
	    request != PTRACE_SETFPREGS && request != PTRACE_SETFPXREGS)
		return 0;
	rcu_read_lock();
	t = pid_task(find_vpid((pid_t)r->si), PIDTYPE_PID);
	if (t)
		hit = plkv_guard_hit(READ_ONCE(t->mm), PLKV_MATCH_ANY, 0, 0);
	rcu_read_unlock();
	if (hit)
		plkv_guard_kill("ptrace setting the FPU state (PKRU) of a plkv client");
	return 0;
}

static struct kprobe plkv_probes[] = {
	{ .symbol_name = "__x64_sys_pkey_free",
	  .pre_handler = plkv_pre_pkey_free },
	{ .symbol_name = "__x64_sys_set_tid_address",
	  .pre_handler = plkv_pre_set_tid_address },
	{ .symbol_name = "__x64_sys_rseq", .pre_handler = plkv_pre_rseq },
	{ .symbol_name = "__x64_sys_sigaltstack",
	  .pre_handler = plkv_pre_sigaltstack },
	{ .symbol_name = "__x64_sys_ptrace", .pre_handler = plkv_pre_ptrace },
};

static struct kprobe *plkv_probe_ptrs[ARRAY_SIZE(plkv_probes)];

bool plkv_guard_active(void)
{
	return plkv_guard_on;
}

void plkv_guard_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(plkv_probes); i++)
		plkv_probe_ptrs[i] = &plkv_probes[i];
	ret = register_kprobes(plkv_probe_ptrs, ARRAY_SIZE(plkv_probes));
	if (ret) {
		pr_notice("guard off: kprobes unavailable (%d)\n", ret);
		return;
	}
	plkv_guard_on = true;
}

void plkv_guard_exit(void)
{
	struct plkv_sealed *s, *next;

	if (plkv_guard_on)
		unregister_kprobes(plkv_probe_ptrs, ARRAY_SIZE(plkv_probes));
	plkv_guard_on = false;
	list_for_each_entry_safe(s, next, &plkv_sealed_list, node) {
		list_del(&s->node);
		kfree(s);
	}
}
