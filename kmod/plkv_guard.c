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
 *  - set_tid_address(), rseq(), or clone()'s child/parent TID and pidfd
 *    pointers into the segment: the kernel writes there for the thread
 *    (clear_child_tid at exit, the rseq area on preemption), with whatever
 *    PKRU the thread has at that moment, granted inside a library call;
 *  - sigaltstack() overlapping the segment: the kernel writes signal
 *    frames there, again with the thread's PKRU;
 *  - ptrace(PTRACE_SETREGSET, NT_X86_XSTATE) or PTRACE_SETFPREGS on such a
 *    process: the tracer can set the tracee's PKRU;
 *  - rt_sigreturn() restoring a PKRU that grants the key from a frame the
 *    kernel did not write that way (plkv_sigframe.c);
 *  - a tracer writing the registers of a client thread stopped inside a
 *    call (its saved PKRU grants the key): it could resume it anywhere;
 *  - any of these through the 32-bit entry (int $0x80) or the x32 one,
 *    which have their own syscall functions: a 64-bit client has no
 *    business there, so the entry alone is fatal.
 *
 * A segment created strict (PLKV_CREATE_F_STRICT) adds, for the processes
 * that seal it: no new executable memory (mmap or mprotect with
 * PROT_EXEC: code that appears after the seal is code the watch never
 * read, plkv_watch.c), and no writes into their memory through ptrace,
 * /proc/PID/mem (which write through read-only text) or userfaultfd's
 * copy (which fills a missing page of an executable mapping).
 *
 * Where the kernel would still carry the call out for someone else after
 * the kill (a tracer's write lands in the tracee), the handler also spoils
 * the call's arguments so it fails.
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
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/perf_event.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <asm/pkru.h>

struct plkv_sealed {
	struct list_head node;
	struct mm_struct *mm;		/* identity only, never dereferenced */
	int pkey;
	bool strict;
	bool trust;			/* the process's trust region */
	unsigned long start, end;
};

static LIST_HEAD(plkv_sealed_list);
static DEFINE_SPINLOCK(plkv_sealed_lock);
static bool plkv_guard_on;
static bool plkv_defer_on;

static void plkv_guard_add(struct mm_struct *mm, int pkey, unsigned long start,
			   unsigned long end, bool strict, bool trust)
{
	struct plkv_sealed *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return;	/* unguarded, as on a kernel without kprobes */
	s->mm = mm;
	s->pkey = pkey;
	s->strict = strict;
	s->trust = trust;
	s->start = start;
	s->end = end;
	spin_lock(&plkv_sealed_lock);
	list_add(&s->node, &plkv_sealed_list);
	spin_unlock(&plkv_sealed_lock);
}

void plkv_guard_seal(struct mm_struct *mm, int pkey, unsigned long start,
		     unsigned long end, bool strict)
{
	plkv_guard_add(mm, pkey, start, end, strict, false);
}

/*
 * A trust region is guarded as a segment is (the kernel must not write
 * there for the thread either), and its place is where its call stacks
 * are.
 */
void plkv_guard_seal_trust(struct mm_struct *mm, int pkey,
			   unsigned long start, unsigned long end)
{
	plkv_guard_add(mm, pkey, start, end, false, true);
}

/* Where mm's trust region starts, 0 if it has none. */
unsigned long plkv_guard_trust_start(struct mm_struct *mm)
{
	struct plkv_sealed *s;
	unsigned long start = 0;

	if (!mm || list_empty(&plkv_sealed_list))
		return 0;
	spin_lock(&plkv_sealed_lock);
	list_for_each_entry(s, &plkv_sealed_list, node) {
		if (s->mm == mm && s->trust) {
			start = s->start;
			break;
		}
	}
	spin_unlock(&plkv_sealed_lock);
	return start;
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
	if (!plkv_guard_keys(mm))
		plkv_sigframe_forget(mm);
	if (!plkv_guard_strict(mm))
		plkv_watch_forget(mm);
}

/*
 * The keys of mm's sealed mappings that match (a key, a range, or any),
 * one bit per key number, and whether any of mm's seals is strict.  Most
 * processes have none: the list's emptiness is checked without the lock
 * (an mm's own seal is in place before any of its later system calls).
 */
static u32 plkv_guard_scan(struct mm_struct *mm, enum plkv_match how,
			   unsigned long a, unsigned long len, bool *strict)
{
	struct plkv_sealed *s;
	u32 keys = 0;

	if (strict)
		*strict = false;
	if (!mm || list_empty(&plkv_sealed_list))
		return 0;
	spin_lock(&plkv_sealed_lock);
	list_for_each_entry(s, &plkv_sealed_list, node) {
		if (s->mm != mm)
			continue;
		if (strict)
			*strict |= s->strict;
		if (how == PLKV_MATCH_ANY ||
		    (how == PLKV_MATCH_KEY && a == s->pkey) ||
		    (how == PLKV_MATCH_RANGE && a < s->end &&
		     a + len > s->start))
			keys |= BIT(s->pkey);
	}
	spin_unlock(&plkv_sealed_lock);
	return keys;
}

bool plkv_guard_hit(struct mm_struct *mm, enum plkv_match how,
		    unsigned long a, unsigned long len)
{
	return plkv_guard_scan(mm, how, a, len, NULL);
}

bool plkv_guard_strict(struct mm_struct *mm)
{
	bool strict;

	plkv_guard_scan(mm, PLKV_MATCH_ANY, 0, 0, &strict);
	return strict;
}

/* The keys mm has sealed, one bit per key number; 0 for most processes. */
u32 plkv_guard_keys(struct mm_struct *mm)
{
	return plkv_guard_scan(mm, PLKV_MATCH_ANY, 0, 0, NULL);
}

void plkv_guard_kill(const char *why)
{
	pr_notice("killed %s[%d]: %s\n", current->comm,
		  task_tgid_nr(current), why);
	force_sig(SIGKILL);
}

struct plkv_probe {
	struct kprobe kp;
	bool ia32;		/* the int $0x80 entry: arguments in bx, cx, dx */
	bool optional;		/* absent from some kernels (x32) */
};

/* Argument i (0-2) of the system call whose entry p probes. */
static unsigned long plkv_sys_arg(struct kprobe *p, struct pt_regs *regs,
				  int i)
{
	/* The syscall wrappers take the user's registers in %rdi. */
	const struct pt_regs *r = (const struct pt_regs *)regs->di;

	if (container_of(p, struct plkv_probe, kp)->ia32)
		return i == 0 ? (u32)r->bx : i == 1 ? (u32)r->cx : (u32)r->dx;
	return i == 0 ? r->di : i == 1 ? r->si : r->dx;
}

static int plkv_pre_pkey_free(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_hit(current->mm, PLKV_MATCH_KEY,
			   plkv_sys_arg(p, regs, 0), 0))
		plkv_guard_kill("pkey_free of a sealed plkv key");
	return 0;
}

static int plkv_pre_set_tid_address(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   plkv_sys_arg(p, regs, 0), sizeof(u32)))
		plkv_guard_kill("set_tid_address into a plkv segment");
	return 0;
}

static int plkv_pre_rseq(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   plkv_sys_arg(p, regs, 0),
			   max_t(unsigned long, plkv_sys_arg(p, regs, 1), 1)))
		plkv_guard_kill("rseq area in a plkv segment");
	return 0;
}

static int plkv_pre_sigaltstack(struct kprobe *p, struct pt_regs *regs)
{
	const stack_t __user *uss = (const stack_t __user *)
				    plkv_sys_arg(p, regs, 0);
	stack_t ss;

	if (!uss || !plkv_guard_keys(current->mm))
		return 0;
	if (copy_from_user_nofault(&ss, uss, sizeof(ss)))
		return 0;	/* the call itself will fail with EFAULT */
	if (!(ss.ss_flags & SS_DISABLE) &&
	    plkv_guard_hit(current->mm, PLKV_MATCH_RANGE,
			   (unsigned long)ss.ss_sp, max_t(size_t, ss.ss_size, 1)))
		plkv_guard_kill("sigaltstack in a plkv segment");
	return 0;
}

/* Whether a PKRU value grants one of keys (read or write). */
bool plkv_pkru_grants(u32 pkru, u32 keys)
{
	unsigned int k;

	for (k = 0; k < 32; k++)
		if ((keys & BIT(k)) && !(pkru & BIT(2 * k)))
			return true;
	return false;
}

/*
 * A tracer (or the client itself) changing a client's PKRU (the FPU
 * state), the registers of a client thread stopped inside a call, or, on
 * a strict segment, any memory of a client.  The call would still go
 * through after SIGKILL, and the tracee outlives its tracer: the request
 * is turned into an invalid one (EIO) as well.
 */
static int plkv_pre_ptrace(struct kprobe *p, struct pt_regs *regs)
{
	struct pt_regs *r = (struct pt_regs *)regs->di;
	bool ia32 = container_of(p, struct plkv_probe, kp)->ia32;
	long request = (long)plkv_sys_arg(p, regs, 0);
	unsigned long note = plkv_sys_arg(p, regs, 2);
	const char *why = NULL;
	struct task_struct *t;
	struct mm_struct *mm;
	u32 keys;

	switch (request) {
	case PTRACE_TRACEME:
		/*
		 * A strict client inviting a tracer (plkv_watch.c: one
		 * traced already cannot seal).
		 */
		if (plkv_guard_strict(current->mm))
			plkv_guard_kill("PTRACE_TRACEME in a strict plkv client");
		return 0;
	case PTRACE_ATTACH:
	case PTRACE_SEIZE:
	case PTRACE_SETREGSET:
	case PTRACE_SETFPREGS:
	case PTRACE_SETFPXREGS:
	case PTRACE_SETREGS:
	case PTRACE_POKEUSR:
	case PTRACE_ARCH_PRCTL:
	case PTRACE_SET_THREAD_AREA:
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
		break;
	default:
		return 0;
	}
	rcu_read_lock();
	t = pid_task(find_vpid((pid_t)plkv_sys_arg(p, regs, 1)), PIDTYPE_PID);
	mm = t ? READ_ONCE(t->mm) : NULL;
	keys = plkv_guard_keys(mm);
	if (!keys)
		why = NULL;
	else if (request == PTRACE_ATTACH || request == PTRACE_SEIZE)
		/*
		 * A strict client's registers inside a call hold its call
		 * stack's token (r15) and what the call reads.
		 */
		why = plkv_guard_strict(mm) ?
		      "ptrace attaching to a strict plkv client" : NULL;
	else if (request == PTRACE_POKETEXT || request == PTRACE_POKEDATA)
		why = plkv_guard_strict(mm) ?
		      "ptrace writing the memory of a strict plkv client" : NULL;
	else if (request == PTRACE_SETFPREGS || request == PTRACE_SETFPXREGS ||
		 (request == PTRACE_SETREGSET && note == NT_X86_XSTATE))
		why = "ptrace setting the FPU state (PKRU) of a plkv client";
	else if (plkv_pkru_grants(READ_ONCE(t->thread.pkru), keys))
		why = "ptrace setting the registers of a plkv client inside a call";
	rcu_read_unlock();
	if (!why)
		return 0;
	if (ia32)
		r->bx = -1;
	else
		r->di = -1;
	plkv_guard_kill(why);
	return 0;
}

/* Strict: code that appears after open was never scanned for WRPKRU. */
static int plkv_pre_do_mmap(struct kprobe *p, struct pt_regs *regs)
{
	if ((regs->cx & PROT_EXEC) && plkv_guard_strict(current->mm))
		plkv_guard_kill("executable mapping in a strict plkv client");
	return 0;
}

static int plkv_pre_do_mprotect_pkey(struct kprobe *p, struct pt_regs *regs)
{
	if ((regs->dx & PROT_EXEC) && plkv_guard_strict(current->mm))
		plkv_guard_kill("mprotect to executable in a strict plkv client");
	return 0;
}

/*
 * Strict: a perf event sampling user registers or the user stack, taken
 * inside a call, would read the call stack's token out of r15 and the
 * call's frames (the kernel copies the stack with the thread's PKRU,
 * which grants the key there).  perf_event_alloc() sees the kernel's
 * copy of the attributes, which no other thread can change meanwhile.
 */
static int plkv_pre_perf_event_alloc(struct kprobe *p, struct pt_regs *regs)
{
	const struct perf_event_attr *attr = (const void *)regs->di;

	if ((attr->sample_type & PLKV_PERF_SAMPLES_CALLS) &&
	    plkv_guard_strict(current->mm))
		plkv_guard_kill("perf sampling the registers or stack of a strict plkv client");
	return 0;
}

/*
 * Strict: ptrace and /proc/PID/mem write through read-only mappings
 * (text among them) with FOLL_FORCE; both come here.  The length is
 * zeroed so nothing is written for the caller on its way out.
 */
static int plkv_pre_access_remote_vm(struct kprobe *p, struct pt_regs *regs)
{
	struct mm_struct *mm = (struct mm_struct *)regs->di;

	if (!(regs->r8 & FOLL_WRITE) || !plkv_guard_strict(mm))
		return 0;
	regs->cx = 0;
	plkv_guard_kill("writing the memory of a strict plkv client");
	return 0;
}

/*
 * Strict: userfaultfd's UFFDIO_COPY fills a missing page with any bytes,
 * in an executable mapping too, without a write the guard would see.  The
 * destination is moved to page 0, where nothing is mapped, so nothing is
 * copied for the caller (which may be another process holding the
 * client's userfaultfd); a zero length would trip the callee's BUG_ON.
 */
static int plkv_pre_mcopy_atomic(struct kprobe *p, struct pt_regs *regs)
{
	if (!plkv_guard_strict((struct mm_struct *)regs->di))
		return 0;
	regs->si = 0;
	plkv_guard_kill("userfaultfd copy into a strict plkv client");
	return 0;
}

/*
 * clone() and clone3() (and the 32-bit entries, which all meet here) with
 * a TID or pidfd pointer into the segment: the child writes its TID there
 * at start and, like set_tid_address(), clears it at exit.
 */
static int plkv_pre_kernel_clone(struct kprobe *p, struct pt_regs *regs)
{
	const struct kernel_clone_args *args = (const void *)regs->di;
	struct mm_struct *mm = current->mm;
	u64 flags = args->flags;

	if (!plkv_guard_keys(mm))
		return 0;
	if (((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) &&
	     plkv_guard_hit(mm, PLKV_MATCH_RANGE,
			    (unsigned long)args->child_tid, sizeof(int))) ||
	    ((flags & CLONE_PARENT_SETTID) &&
	     plkv_guard_hit(mm, PLKV_MATCH_RANGE,
			    (unsigned long)args->parent_tid, sizeof(int))) ||
	    ((flags & CLONE_PIDFD) &&
	     plkv_guard_hit(mm, PLKV_MATCH_RANGE,
			    (unsigned long)args->pidfd, sizeof(int))))
		plkv_guard_kill("clone with a TID or pidfd pointer into a plkv segment");
	return 0;
}

/* Strict: a new thread (or CLONE_VM child), not yet run, gets the watch. */
static int plkv_pre_wake_up_new_task(struct kprobe *p, struct pt_regs *regs)
{
	plkv_watch_new_task((struct task_struct *)regs->di);
	return 0;
}

static int plkv_pre_setup_new_exec(struct kprobe *p, struct pt_regs *regs)
{
	plkv_watch_exec();
	return 0;
}

static int plkv_pre_compat_entry(struct kprobe *p, struct pt_regs *regs)
{
	if (plkv_guard_keys(current->mm))
		plkv_guard_kill(p->symbol_name);
	return 0;
}

static int plkv_pre_rt_sigreturn(struct kprobe *p, struct pt_regs *regs)
{
	const char *why = plkv_sigframe_return((struct pt_regs *)regs->di);

	if (why)
		plkv_guard_kill(why);
	return 0;
}

/* About to deliver the thread's signals (x86-64: %rdi is its user regs). */
static int plkv_pre_do_signal(struct kprobe *p, struct pt_regs *regs)
{
	plkv_sigframe_defer((struct pt_regs *)regs->di);
	return 0;
}

static int plkv_pre_signal_setup_done(struct kprobe *p, struct pt_regs *regs)
{
	if (!regs->di)		/* int failed */
		plkv_sigframe_delivered(current_pt_regs());
	return 0;
}

/*
 * A thread that dies inside a call: the kernel then walks its robust
 * futex list with the thread's PKRU, key granted, and the list is the
 * client's memory, so its entries can name words in a segment, which the
 * kernel reads and, where one holds the thread's id, rewrites.  The
 * thread's PKRU loses its sealed keys first (the walk then faults on a
 * segment and stops); it is never used again.
 */
static int plkv_pre_futex_exit_release(struct kprobe *p, struct pt_regs *regs)
{
	u32 keys, pkru, deny = 0;
	unsigned int k;

	if ((struct task_struct *)regs->di != current || !current->mm)
		return 0;
	keys = plkv_guard_keys(current->mm);
	pkru = read_pkru();
	if (!keys || !plkv_pkru_grants(pkru, keys))
		return 0;
	for (k = 0; k < 32; k++)
		if (keys & BIT(k))
			deny |= BIT(2 * k);
	write_pkru(pkru | deny);
	return 0;
}

/*
 * The kernel moving a thread inside a call: rseq's abort.  A thread's
 * rseq area and the critical section it names are the client's memory,
 * so a client can declare the library's code a critical section with an
 * abort handler of its own; a thread preempted or signalled there, key
 * granted, would resume in that handler.  The library never uses rseq
 * critical sections: the rseq_ip_fixup tracepoint, which fires exactly
 * when the kernel moves a thread to its abort handler, kills a thread
 * whose PKRU grants a sealed key (inside a call) before it returns to
 * user mode.  (A kprobe around the fixup could miss: its instances run
 * out while threads wait on faults in it.)
 */
static void plkv_rseq_fixup(void *data, unsigned long ip,
			    unsigned long start_ip, unsigned long len,
			    unsigned long abort_ip)
{
	u32 keys = current->mm ? plkv_guard_keys(current->mm) : 0;

	if (keys && plkv_pkru_grants(read_pkru(), keys))
		plkv_guard_kill("rseq abort moving a plkv client inside a call");
}

static struct tracepoint *plkv_rseq_tp;

static void plkv_find_rseq_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "rseq_ip_fixup"))
		plkv_rseq_tp = tp;
}

#define PLKV_PROBE(sym, fn) \
	{ .kp = { .symbol_name = #sym, .pre_handler = (fn) } }
#define PLKV_PROBE_IA32(sym, fn) \
	{ .kp = { .symbol_name = #sym, .pre_handler = (fn) }, .ia32 = true }
/* Absent where the kernel lacks the feature (userfaultfd): no hole then. */
#define PLKV_PROBE_OPTIONAL(sym, fn) \
	{ .kp = { .symbol_name = #sym, .pre_handler = (fn) }, .optional = true }
#define PLKV_PROBE_X32(sym) \
	{ .kp = { .symbol_name = #sym, .pre_handler = plkv_pre_compat_entry }, \
	  .optional = true }

static struct plkv_probe plkv_probes[] = {
	PLKV_PROBE(__x64_sys_pkey_free, plkv_pre_pkey_free),
	PLKV_PROBE(__x64_sys_set_tid_address, plkv_pre_set_tid_address),
	PLKV_PROBE(__x64_sys_rseq, plkv_pre_rseq),
	PLKV_PROBE(__x64_sys_sigaltstack, plkv_pre_sigaltstack),
	PLKV_PROBE(__x64_sys_ptrace, plkv_pre_ptrace),
	PLKV_PROBE(kernel_clone, plkv_pre_kernel_clone),
	PLKV_PROBE(wake_up_new_task, plkv_pre_wake_up_new_task),
	PLKV_PROBE(setup_new_exec, plkv_pre_setup_new_exec),
	PLKV_PROBE(__x64_sys_rt_sigreturn, plkv_pre_rt_sigreturn),
	PLKV_PROBE(signal_setup_done, plkv_pre_signal_setup_done),
	PLKV_PROBE(do_mmap, plkv_pre_do_mmap),
	PLKV_PROBE(do_mprotect_pkey, plkv_pre_do_mprotect_pkey),
	PLKV_PROBE(__access_remote_vm, plkv_pre_access_remote_vm),
	PLKV_PROBE(futex_exit_release, plkv_pre_futex_exit_release),
	PLKV_PROBE_OPTIONAL(mcopy_atomic, plkv_pre_mcopy_atomic),
	PLKV_PROBE_OPTIONAL(perf_event_alloc, plkv_pre_perf_event_alloc),
	/* A 32-bit tracer of a 64-bit client: judged by its arguments. */
	PLKV_PROBE_IA32(__ia32_compat_sys_ptrace, plkv_pre_ptrace),
	/* A 64-bit client entering these through int $0x80 or x32. */
	PLKV_PROBE_IA32(__ia32_sys_pkey_free, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_sys_set_tid_address, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_sys_rseq, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_sys_sigaltstack, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_compat_sys_sigaltstack, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_compat_sys_sigreturn, plkv_pre_compat_entry),
	PLKV_PROBE_IA32(__ia32_compat_sys_rt_sigreturn, plkv_pre_compat_entry),
	PLKV_PROBE_X32(__x32_compat_sys_rt_sigreturn),
	PLKV_PROBE_X32(__x32_compat_sys_sigaltstack),
	/* Without it, no call stacks (PLKV_VERSION_F_DEFER): last. */
	PLKV_PROBE_OPTIONAL(arch_do_signal_or_restart, plkv_pre_do_signal),
};

bool plkv_guard_active(void)
{
	return plkv_guard_on;
}

bool plkv_guard_defers(void)
{
	return plkv_defer_on;
}

static void plkv_guard_unregister(unsigned int n)
{
	while (n--)
		if (plkv_probes[n].kp.addr)
			unregister_kprobe(&plkv_probes[n].kp);
}

void plkv_guard_init(void)
{
	unsigned int i;
	int ret;

	plkv_sigframe_init();
	for (i = 0; i < ARRAY_SIZE(plkv_probes); i++) {
		ret = register_kprobe(&plkv_probes[i].kp);
		if (!ret)
			continue;
		plkv_probes[i].kp.addr = NULL;
		if (plkv_probes[i].optional)
			continue;
		pr_notice("guard off: no kprobe on %s (%d)\n",
			  plkv_probes[i].kp.symbol_name, ret);
		plkv_guard_unregister(i);
		return;
	}
	/* A kernel without rseq has no abort to guard */
	for_each_kernel_tracepoint(plkv_find_rseq_tp, NULL);
	ret = plkv_rseq_tp ? tracepoint_probe_register(plkv_rseq_tp,
						       plkv_rseq_fixup, NULL) :
	      IS_ENABLED(CONFIG_RSEQ) ? -ENOENT : 0;
	if (ret) {
		pr_notice("guard off: no probe on the rseq_ip_fixup tracepoint (%d)\n",
			  ret);
		plkv_rseq_tp = NULL;
		plkv_guard_unregister(ARRAY_SIZE(plkv_probes));
		return;
	}
	plkv_guard_on = true;
	plkv_defer_on = !!plkv_probes[ARRAY_SIZE(plkv_probes) - 1].kp.addr;
}

void plkv_guard_exit(void)
{
	struct plkv_sealed *s, *next;

	if (plkv_guard_on) {
		plkv_guard_unregister(ARRAY_SIZE(plkv_probes));
		if (plkv_rseq_tp) {
			tracepoint_probe_unregister(plkv_rseq_tp,
						    plkv_rseq_fixup, NULL);
			tracepoint_synchronize_unregister();
		}
	}
	plkv_guard_on = false;
	plkv_defer_on = false;
	plkv_watch_exit();
	list_for_each_entry_safe(s, next, &plkv_sealed_list, node) {
		list_del(&s->node);
		kfree(s);
	}
	plkv_sigframe_exit();
}
