// SPDX-License-Identifier: MIT
/*
 * The module's guard (kmod/plkv_guard.c): a client process, hostile and
 * using no WRPKRU of its own, tries the system calls that reach around a
 * sealed key: it frees the key to have it handed back unprotected, points
 * set_tid_address, rseq or sigaltstack into the segment so the kernel
 * writes there with the key granted, or, as a tracer, sets a client's
 * PKRU through ptrace, or reaches the same calls through the 32-bit entry
 * (int $0x80).  It points clone()'s TID pointers into the segment.  Its
 * signal handler edits the saved PKRU (or the XSAVE header that says where
 * PKRU comes from), or, for a signal that landed inside a library call,
 * the saved RIP, and returns.  Each attacker is killed (SIGKILL) before
 * its call returns, and the store is intact afterwards: a victim's value,
 * and plkv_check().  The same calls on other memory or keys, and signals
 * inside calls whose handlers just return, work as usual.
 * Needs the kmod backend, PKU and a module with the guard: SKIPs elsewhere.
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "guard_util.h"

FIXTURE(guard) {
	char name[64];
	plkv_t *kv;
};

FIXTURE_SETUP(guard)
{
	bool protected = false;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	snprintf(self->name, sizeof(self->name), "st-guard-%d", (int)getpid());
	ASSERT_EQ(0, open_victim_store(self->name, 0, &self->kv, &protected));
	if (!protected)
		SKIP(return, "no PKU on this CPU");
}

FIXTURE_TEARDOWN(guard)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
}

/* Where PKRU lies in an XSAVE area (standard format): CPUID leaf 0xd. */
static unsigned int pkru_offset(void)
{
	unsigned int size, offset, ecx, edx;

	__cpuid_count(0xd, 9, size, offset, ecx, edx);
	return offset;
}

/* ---- the attacks ---- */

static int free_sealed_key(plkv_t *kv)
{
	syscall(SYS_pkey_free, th_kv(kv).pkey);
	/* Had that worked, this would hand the key back, access allowed. */
	return syscall(SYS_pkey_alloc, 0, 0) == th_kv(kv).pkey ? 1 : 2;
}

static int tid_address_in_segment(plkv_t *kv)
{
	syscall(SYS_set_tid_address, th_kv(kv).base + 4096);
	return 1;
}

static int rseq_in_segment(plkv_t *kv)
{
	syscall(SYS_rseq, th_kv(kv).base + 8192, 32, 0, 0x53053053);
	return 1;
}

static int altstack_in_segment(plkv_t *kv)
{
	stack_t ss = { .ss_sp = th_kv(kv).base + 65536, .ss_size = 65536 };

	sigaltstack(&ss, NULL);
	return 1;
}

/* The same system call through the 32-bit entry (i386 number 382). */
static int ia32_free_sealed_key(plkv_t *kv)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(382L), "b"((long)th_kv(kv).pkey)
			 : "memory", "rcx", "r8", "r9", "r10", "r11");
	return ret == -ENOSYS ? 3 : 1;	/* 3: no 32-bit entry to attack */
}

static int clone_cleartid_in_segment(plkv_t *kv)
{
	long pid = syscall(SYS_clone, CLONE_CHILD_CLEARTID | SIGCHLD, 0L, NULL,
			   th_kv(kv).base + 4096, 0L);

	if (pid == 0)
		_exit(0);
	return 1;
}

/* ---- the same calls elsewhere: nobody is killed ---- */

static int ordinary_calls(plkv_t *kv)
{
	static char stack[65536];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	static int tid_word;
	int k = (int)syscall(SYS_pkey_alloc, 0, 0);

	if (k < 0 || k == th_kv(kv).pkey || syscall(SYS_pkey_free, k))
		return 3;
	if (sigaltstack(&ss, NULL))
		return 4;
	syscall(SYS_set_tid_address, &tid_word);
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_CHILD_CLEARTID | SIGCHLD,
				   0L, NULL, &tid_word, 0L);
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		return 6;
	return plkv_set(kv, "other", 5, "fine", 4, 0, 0) ? 5 : 0;
}

TEST_F(guard, pkey_free_of_sealed_key_kills)
{
	EXPECT_ATTACK_KILLED(free_sealed_key, "");
}

TEST_F(guard, set_tid_address_into_segment_kills)
{
	EXPECT_ATTACK_KILLED(tid_address_in_segment, "");
}

TEST_F(guard, rseq_into_segment_kills)
{
	EXPECT_ATTACK_KILLED(rseq_in_segment, "");
}

TEST_F(guard, sigaltstack_in_segment_kills)
{
	EXPECT_ATTACK_KILLED(altstack_in_segment, "");
}

TEST_F(guard, ia32_entry_kills)
{
	EXPECT_ATTACK_KILLED(ia32_free_sealed_key,
			     "no 32-bit system calls on this kernel");
}

TEST_F(guard, clone_tid_pointer_into_segment_kills)
{
	EXPECT_ATTACK_KILLED(clone_cleartid_in_segment, "");
}

TEST_F(guard, same_calls_elsewhere_work)
{
	EXPECT_TRUE(lived(client_status(self->name, ordinary_calls)));
	expect_intact(_metadata, self->kv);
}

/* A tracer sets a traced client's XSTATE (PKRU among it): it dies. */
/*
 * A tracer sets a traced client's XSTATE with PKRU granting every key: it
 * dies, and the write does not happen (the client, continued, still
 * faults on the segment instead of reading it).
 */
TEST_F(guard, ptrace_setting_pkru_kills_tracer)
{
	int pfd[2], st = -1;
	pid_t tracer, victim = 0;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pipe(pfd));
	tracer = fork();
	if (tracer == 0) {
		static unsigned char xs[16384];
		struct iovec iov = { xs, sizeof(xs) };
		pid_t v = fork();

		if (v == 0) {
			plkv_t *kv = open_client(self->name, NULL);

			if (!kv)
				_exit(90);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			raise(SIGSTOP);
			_exit(*(volatile char *)th_kv(kv).base == 0x7f ? 0 : 0);
		}
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v) ||
		    waitpid(v, &st, WUNTRACED) != v || !WIFSTOPPED(st))
			_exit(91);
		if (ptrace(PTRACE_GETREGSET, v, (void *)NT_X86_XSTATE, &iov))
			_exit(92);	/* reading is allowed */
		*(uint32_t *)(xs + pkru_offset()) = 0;	/* every key */
		ptrace(PTRACE_SETREGSET, v, (void *)NT_X86_XSTATE, &iov);
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_LT(0, tracer);
	ASSERT_EQ(sizeof(victim), read(pfd[0], &victim, sizeof(victim)));
	close(pfd[0]);
	ASSERT_EQ(tracer, waitpid(tracer, &st, 0));
	EXPECT_TRUE(killed(st)) TH_LOG("tracer status %#x", st);
	/* Orphaned to us (subreaper), it resumes without its tracer. */
	kill(victim, SIGCONT);
	ASSERT_EQ(victim, waitpid(victim, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
		TH_LOG("client status %#x: it read the segment", st);
	expect_intact(_metadata, self->kv);
}

/*
 * A tracer interrupts a client at random moments; when the stopped
 * thread's saved PKRU grants the key (it stopped inside a call), it sets
 * its registers (to the same values: any write could resume it anywhere
 * with the key granted).  The tracer dies, the write does not happen.
 */
static uint32_t xstate_pkru(const unsigned char *xs)
{
	return *(const uint32_t *)(xs + pkru_offset());
}

static int loop_calls(plkv_t *kv)
{
	static char val[128 << 10];

	for (;;)
		if (plkv_set(kv, "loop", 4, val, sizeof(val), 0, 0))
			return 2;
}

static void trace_until_in_call(pid_t victim, int pkey)
{
	static unsigned char xs[16384];
	struct iovec iov = { xs, sizeof(xs) };
	struct user_regs_struct regs;
	int st, i;

	if (ptrace(PTRACE_SEIZE, victim, NULL, NULL))
		_exit(91);
	for (i = 0; i < 5000; i++) {
		if (ptrace(PTRACE_INTERRUPT, victim, NULL, NULL) ||
		    waitpid(victim, &st, __WALL) != victim || !WIFSTOPPED(st))
			_exit(92);
		iov.iov_len = sizeof(xs);
		if (ptrace(PTRACE_GETREGSET, victim, (void *)NT_X86_XSTATE, &iov))
			_exit(93);
		if (!(xstate_pkru(xs) & (1u << (2 * pkey)))) {
			ptrace(PTRACE_GETREGS, victim, NULL, &regs);
			ptrace(PTRACE_SETREGS, victim, NULL, &regs);
			_exit(1);	/* lived: the write went through */
		}
		if (ptrace(PTRACE_CONT, victim, NULL, NULL))
			_exit(94);
		usleep(rand() % 500);
	}
	_exit(3);	/* never caught it inside a call */
}

TEST_F(guard, ptrace_setting_regs_inside_a_call_kills_tracer)
{
	int pfd[2], kfd[2], st = -1;
	pid_t tracer, victim = 0;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(kfd));
	tracer = fork();
	if (tracer == 0) {
		int pkey = -1;
		pid_t v = fork();

		if (v == 0) {
			plkv_t *kv = open_client(self->name, NULL);
			int key = kv ? th_kv(kv).pkey : -1;

			if (!kv || write(kfd[1], &key, sizeof(key)) !=
				   sizeof(key))
				_exit(90);
			_exit(loop_calls(kv));
		}
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v) ||
		    read(kfd[0], &pkey, sizeof(pkey)) != sizeof(pkey))
			_exit(90);
		trace_until_in_call(v, pkey);	/* the client's own key */
	}
	close(pfd[1]);
	close(kfd[1]);
	ASSERT_LT(0, tracer);
	ASSERT_EQ(sizeof(victim), read(pfd[0], &victim, sizeof(victim)));
	close(pfd[0]);
	close(kfd[0]);
	ASSERT_EQ(tracer, waitpid(tracer, &st, 0));
	kill(victim, SIGKILL);	/* its client dies mid-call: recovered */
	waitpid(victim, NULL, 0);	/* ours now (subreaper): gone */
	if (exited_with(st, 3))
		SKIP(return, "never stopped the client inside a call");
	EXPECT_TRUE(killed(st)) TH_LOG("tracer status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- signal frames ---- */

static int frame_pkey;			/* the sealed key, for handlers */
static volatile sig_atomic_t in_call_frames, edited;

/* The XSAVE area of a frame, its PKRU and XSTATE_BV. */
static unsigned char *frame_xsave(void *ctx)
{
	return (unsigned char *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
}

static uint32_t *frame_pkru(void *ctx)
{
	return (uint32_t *)(frame_xsave(ctx) + pkru_offset());
}

static uint64_t *frame_xstate_bv(void *ctx)
{
	return (uint64_t *)(frame_xsave(ctx) + 512);
}

static bool frame_grants(void *ctx)
{
	return !(*frame_pkru(ctx) & (1u << (2 * frame_pkey)));
}

static void on_signal(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO };

	sigaction(sig, &sa, NULL);
}

static void grant_in_frame(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	*frame_pkru(ctx) &= ~(3u << (2 * frame_pkey));
}

static void init_pkru_in_frame(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	*frame_xstate_bv(ctx) &= ~(1ull << 9);
}

static void legacy_frame(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	frame_xsave(ctx)[464] ^= 0xff;		/* sw_reserved.magic1 */
}

static char *segment_base;

static void altstack_in_frame(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	ucontext_t *uc = ctx;

	uc->uc_stack.ss_sp = segment_base + 65536;
	uc->uc_stack.ss_size = 65536;
	uc->uc_stack.ss_flags = 0;
}

/* Raise the signal outside any call: the frame denies the key. */
static int frame_edit_then_return(plkv_t *kv,
				  void (*fn)(int, siginfo_t *, void *))
{
	frame_pkey = th_kv(kv).pkey;
	segment_base = th_kv(kv).base;
	on_signal(SIGUSR1, fn);
	raise(SIGUSR1);
	return 1;	/* lived */
}

static int frame_grant(plkv_t *kv)
{
	return frame_edit_then_return(kv, grant_in_frame);
}

static int frame_init_pkru(plkv_t *kv)
{
	return frame_edit_then_return(kv, init_pkru_in_frame);
}

static int frame_legacy(plkv_t *kv)
{
	return frame_edit_then_return(kv, legacy_frame);
}

static int frame_altstack(plkv_t *kv)
{
	return frame_edit_then_return(kv, altstack_in_frame);
}

/* A signal outside a call whose handler skips an instruction: allowed. */
static void count_in_call(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	if (frame_grants(ctx))
		in_call_frames++;
}

static void escape(void)
{
	_exit(7);	/* reached with the key granted: the attack worked */
}

static void redirect_in_call(int __th_unused sig, siginfo_t __th_unused *si, void *ctx)
{
	if (!frame_grants(ctx))
		return;
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP] = (greg_t)escape;
	edited = 1;
}

struct pelter {
	pid_t tid;
	volatile bool stop;
};

static void *pelt(void *arg)
{
	struct pelter *p = arg;

	while (!p->stop) {
		syscall(SYS_tgkill, getpid(), p->tid, SIGUSR1);
		sched_yield();
	}
	return NULL;
}

/*
 * Sets and gets of a large value while another thread sends SIGUSR1 to
 * this one as fast as it can: some signals land inside calls.  Returns 0
 * when every value read back was right and some frames granted the key,
 * 3 when no signal landed inside a call (nothing was tested).
 */
static int calls_under_signals(plkv_t *kv, void (*fn)(int, siginfo_t *, void *))
{
	static char val[256 << 10], out[256 << 10];
	struct pelter p = { .tid = (pid_t)syscall(SYS_gettid) };
	struct plkv_meta m;
	pthread_t th;
	int i, bad = 0;

	frame_pkey = th_kv(kv).pkey;
	on_signal(SIGUSR1, fn);
	if (pthread_create(&th, NULL, pelt, &p))
		return 4;
	for (i = 0; i < 400 && !in_call_frames && !edited; i++) {
		memset(val, 'a' + i % 26, sizeof(val));
		if (plkv_set(kv, "big", 3, val, sizeof(val), 0, 0) ||
		    plkv_get(kv, "big", 3, out, sizeof(out), &m) ||
		    m.len != sizeof(val) || memcmp(out, val, sizeof(val)))
			bad++;
	}
	p.stop = true;
	pthread_join(th, NULL);
	signal(SIGUSR1, SIG_IGN);
	if (bad)
		return 5;
	return in_call_frames || edited ? 0 : 3;
}

/*
 * A thread cloned (CLONE_VM) by a handler of a signal that landed inside
 * a call: the handler runs with the kernel's default PKRU, and the new
 * thread starts with its creator's, so it must fault on the segment.
 */
static volatile int segment_read;
static char clone_stack[64 << 10] __attribute__((aligned(16)));

static int cloned_reader(void *base)
{
	segment_read = *(volatile char *)base + 1;	/* faults, or reads */
	syscall(SYS_exit, 0);
	return 0;
}

static void clone_in_call(int __th_unused sig, siginfo_t __th_unused *si,
			  void *ctx)
{
	if (!frame_grants(ctx) || edited)
		return;
	edited = 1;
	clone(cloned_reader, clone_stack + sizeof(clone_stack),
	      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
	      CLONE_THREAD | CLONE_SYSVSEM, segment_base);
}

static int clone_from_handler_in_call(plkv_t *kv)
{
	int rc;

	segment_base = th_kv(kv).base;
	rc = calls_under_signals(kv, clone_in_call);
	if (rc)
		return rc;
	usleep(200000);		/* the clone faults the whole process */
	return segment_read ? 1 : 6;
}

static int frame_redirect_in_call(plkv_t *kv)
{
	return calls_under_signals(kv, redirect_in_call) == 3 ? 3 : 1;
}

static int signals_inside_calls(plkv_t *kv)
{
	return calls_under_signals(kv, count_in_call);
}

TEST_F(guard, sigreturn_granting_the_key_kills)
{
	EXPECT_ATTACK_KILLED(frame_grant, "");
}

TEST_F(guard, sigreturn_to_pkru_init_value_kills)
{
	EXPECT_ATTACK_KILLED(frame_init_pkru, "");
}

TEST_F(guard, sigreturn_from_legacy_frame_kills)
{
	EXPECT_ATTACK_KILLED(frame_legacy, "");
}

TEST_F(guard, sigreturn_setting_altstack_in_segment_kills)
{
	EXPECT_ATTACK_KILLED(frame_altstack, "");
}

TEST_F(guard, sigreturn_redirecting_a_call_kills)
{
	EXPECT_ATTACK_KILLED(frame_redirect_in_call,
			     "no signal landed inside a call");
}

TEST_F(guard, thread_cloned_in_a_call_starts_denied)
{
	int st = client_status(self->name, clone_from_handler_in_call);

	if (exited_with(st, 3))
		SKIP(return, "no signal landed inside a call");
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
		TH_LOG("status %#x (exit 1: the new thread read the segment)",
		       st);
	expect_intact(_metadata, self->kv);
}

TEST_F(guard, signals_inside_calls_resume)
{
	int st = client_status(self->name, signals_inside_calls);

	if (exited_with(st, 3))
		SKIP(return, "no signal landed inside a call");
	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
