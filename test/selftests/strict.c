// SPDX-License-Identifier: MIT
/*
 * A strict store (PLKV_O_STRICT, kmod/plkv_guard.c): code that appears
 * after open was never scanned for WRPKRU, so a client of a strict store
 * that maps executable memory, or makes memory executable, is killed; so
 * is anyone writing into a client's memory through /proc/PID/mem (which
 * writes through read-only text), and the write does not happen; a
 * client cannot be traced at all (its registers inside a call hold its
 * call stack's token).  The WRPKRU/XRSTOR instructions a client has when it opens a
 * strict store, outside libplkv's gates, are watched by the module
 * (plkv_watch.c): running one that would grant the key kills, whether it
 * is glibc's pkey_set(), the loader's XRSTOR, the client's own code
 * (readable or execute-only) or any of them in a thread made later; a
 * client with more of them than debug registers cannot open the store,
 * nor one whose libplkv could have been written by someone other than
 * root, nor one running code from a file open for writing; such a file
 * cannot be opened for writing after, and userfaultfd cannot fill a page
 * of code; two threads cannot share one slot.  The same things on an ordinary store keep working (JITs,
 * debuggers, and these very attacks: each is shown to get the key there).
 * The store is intact after every attack.  Needs the kmod backend, PKU
 * and the module's guard.
 */
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "guard_util.h"

FIXTURE(strict) {
	char name[64], loose[64];
	plkv_t *kv, *loose_kv;
};

static int open_store(const char *name, unsigned flags, plkv_t **kv)
{
	struct plkv_options o;

	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_KMOD;
	o.mem_limit = 4 << 20;
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL | flags;
	return plkv_open(name, &o, kv);
}

FIXTURE_SETUP(strict)
{
	struct plkv_info info;

	if (access(PLKV_DEVICE, F_OK))
		SKIP(return, "no /dev/plkv (module not loaded)");
	if (!guard_on())
		SKIP(return, "the module's guard is off (no kprobes)");
	th_unique_name(self->name, sizeof(self->name), "strict");
	th_unique_name(self->loose, sizeof(self->loose), "loose");
	ASSERT_EQ(0, open_store(self->name, PLKV_O_STRICT, &self->kv));
	ASSERT_EQ(0, plkv_info(self->kv, &info));
	if (!info.protected)
		SKIP(return, "no PKU on this CPU");
	ASSERT_EQ(1, info.strict);
	ASSERT_EQ(0, open_store(self->loose, 0, &self->loose_kv));
	ASSERT_EQ(0, plkv_info(self->loose_kv, &info));
	ASSERT_EQ(0, info.strict);
	ASSERT_EQ(0, plkv_set(self->kv, "victim", 6, "intact", 6, 0, 0));
	ASSERT_EQ(0, plkv_set(self->loose_kv, "victim", 6, "intact", 6, 0, 0));
}

FIXTURE_TEARDOWN(strict)
{
	if (self->kv) {
		plkv_close(self->kv);
		plkv_destroy(self->name, PLKV_BACKEND_KMOD);
	}
	if (self->loose_kv) {
		plkv_close(self->loose_kv);
		plkv_destroy(self->loose, PLKV_BACKEND_KMOD);
	}
}

/*
 * wrpkru; ret, written at run time: as an immediate operand (what a
 * memcpy of a string literal compiles to) the bytes would be a stray
 * WRPKRU in this program's own text.
 */
static const volatile unsigned char wrpkru_ret[] = { 0x0f, 0x01, 0xef, 0xc3 };

static void put_wrpkru(unsigned char *p)
{
	size_t i;

	for (i = 0; i < sizeof(wrpkru_ret); i++)
		p[i] = wrpkru_ret[i];
}

/* ---- code after open ---- */

static int map_exec(plkv_t *kv)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)kv;
	return p == MAP_FAILED ? 2 : 0;
}

static int mprotect_exec(plkv_t *kv)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)kv;
	if (p == MAP_FAILED)
		return 2;
	put_wrpkru(p);
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) ? 3 : 0;
}

TEST_F(strict, executable_mapping_kills)
{
	EXPECT_ATTACK_KILLED(map_exec, "");
	EXPECT_TRUE(lived(client_status(self->loose, map_exec)));
}

TEST_F(strict, mprotect_to_executable_kills)
{
	EXPECT_ATTACK_KILLED(mprotect_exec, "");
	EXPECT_TRUE(lived(client_status(self->loose, mprotect_exec)));
}

/* ---- writes through read-only text ---- */

static void __attribute__((noinline)) patched(void)
{
	__asm__ volatile("");
}

static int proc_mem_write_text(plkv_t *kv)
{
	unsigned char before = *(volatile unsigned char *)patched;
	unsigned char b = 0xcc;
	int fd = open("/proc/self/mem", O_RDWR);

	(void)kv;
	if (fd < 0)
		return 2;
	if (pwrite(fd, &b, 1, (off_t)(uintptr_t)patched) != 1)
		return 3;
	close(fd);
	/* Only an ordinary store gets here: undo, for the next call. */
	return *(volatile unsigned char *)patched == b && before != b ? 0 : 4;
}

TEST_F(strict, proc_mem_write_kills)
{
	EXPECT_ATTACK_KILLED(proc_mem_write_text, "");
	EXPECT_TRUE(lived(client_status(self->loose, proc_mem_write_text)));
}

/*
 * A parent traces its own child, a client, and pokes its text: the child,
 * resumed, reports what it finds (exit 0: unchanged, 1: patched).  On a
 * strict store the child's PTRACE_TRACEME kills it first (below).
 */
static int poke_child_text(const char *name, bool *poke_failed)
{
	int pfd[2], st = -1;
	pid_t tracer, victim = 0;

	*poke_failed = false;
	if (pipe(pfd))
		return -1;
	tracer = fork();
	if (tracer == 0) {
		pid_t v = fork();

		if (v == 0) {
			long before = *(volatile long *)patched;

			if (!open_client(name, NULL))
				_exit(90);
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			raise(SIGSTOP);
			_exit(*(volatile long *)patched == before ? 0 : 1);
		}
		if (write(pfd[1], &v, sizeof(v)) != sizeof(v) ||
		    waitpid(v, &st, WUNTRACED) != v || !WIFSTOPPED(st))
			_exit(91);
		if (ptrace(PTRACE_POKETEXT, v, (void *)patched,
			   (void *)~*(long *)patched))
			_exit(92);
		ptrace(PTRACE_DETACH, v, NULL, NULL);
		_exit(0);
	}
	close(pfd[1]);
	if (tracer < 0 || read(pfd[0], &victim, sizeof(victim)) != sizeof(victim))
		return -1;
	close(pfd[0]);
	if (waitpid(tracer, &st, 0) != tracer)
		return -1;
	*poke_failed = exited_with(st, 92);
	kill(victim, SIGCONT);
	return killed(st) ? 1 : 0;
}

/* A client that asks to be traced (PTRACE_TRACEME) after its open: the
 * wait status of the client. */
static int traceme_after_open(const char *name)
{
	return CHILD_STATUS(({
		int rc_ = open_client(name, NULL) ? 0 : 90;

		if (!rc_)
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		rc_;
	}));
}

/* A tracer attaching to a client after its open: the tracer's wait status
 * (the client is left alive, then killed). */
static int attach_after_open(const char *name)
{
	int ready[2], st = -1;
	pid_t client;
	char b;

	if (pipe(ready))
		return -1;
	client = fork();
	if (client == 0) {
		if (!open_client(name, NULL) || write(ready[1], "r", 1) != 1)
			_exit(90);
		for (;;)
			pause();
	}
	if (client < 0 || read(ready[0], &b, 1) != 1)
		return -1;
	st = CHILD_STATUS(ptrace(PTRACE_ATTACH, client, NULL, NULL) ? 3 : 0);
	kill(client, SIGKILL);
	waitpid(client, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	return st;
}

/* A client traced before its open (by its parent): what the open
 * returned (10: refused with EBUSY). */
static int open_while_traced(const char *name)
{
	int st = -1;
	pid_t client = fork();

	if (client == 0) {
		int rc;
		plkv_t *kv;

		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		kv = open_client(name, &rc);
		if (kv)
			plkv_close(kv);
		_exit(rc == -EBUSY ? 10 : rc ? 4 : 0);
	}
	/* (no signal stops it: it runs its open through) */
	if (client < 0 || waitpid(client, &st, 0) != client)
		return -1;
	return st;
}

/*
 * Registers inside a call hold the call stack's token and what the call
 * read: a strict client cannot be traced.  Asking for it kills the
 * client, attaching kills the tracer, and a process traced already
 * cannot open the store.
 */
TEST_F(strict, ptrace_of_a_strict_client_kills)
{
	bool poke_failed;
	int st;

	st = traceme_after_open(self->name);
	EXPECT_TRUE(killed(st)) TH_LOG("PTRACE_TRACEME: status %#x", st);
	st = attach_after_open(self->name);
	EXPECT_TRUE(killed(st)) TH_LOG("PTRACE_ATTACH: tracer status %#x", st);
	st = open_while_traced(self->name);
	EXPECT_TRUE(exited_with(st, 10)) TH_LOG("open while traced: %#x", st);
	expect_intact(_metadata, self->kv);

	/* A debugger on an ordinary store's client works. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	EXPECT_EQ(0, poke_child_text(self->loose, &poke_failed));
	EXPECT_FALSE(poke_failed);
	EXPECT_TRUE(waitpid(-1, &st, 0) > 0 && exited_with(st, 1))
		TH_LOG("client status %#x", st);
}

/* ---- WRPKRU and XRSTOR the client has at open: the watch ---- */

/* What an attack reads once it has the key: the store's first byte. */
static volatile const char *attack_seg;

static int read_segment(void)
{
	return attack_seg[0] == attack_seg[0] ? 0 : 0;
}

static int pkey_set_grant(plkv_t *kv)
{
	attack_seg = th_kv(kv).base;
	pkey_set(PLKV_PKEY, 0);
	return read_segment();		/* got the key: exit 0 */
}

/* Read only, write disabled: still a grant. */
static int pkey_set_read(plkv_t *kv)
{
	attack_seg = th_kv(kv).base;
	pkey_set(PLKV_PKEY, PKEY_DISABLE_WRITE);
	return read_segment();
}

TEST_F(strict, glibc_pkey_set_kills)
{
	EXPECT_ATTACK_KILLED(pkey_set_grant, "");
	EXPECT_ATTACK_KILLED(pkey_set_read, "");
	/* The attack is real: on an ordinary store it gets the key. */
	EXPECT_TRUE(lived(client_status(self->loose, pkey_set_grant)));
}

/* pkey_set() of another key, and of the store's key to deny: allowed. */
static int pkey_set_harmless(plkv_t *kv)
{
	char buf[16];
	int k = pkey_alloc(0, PKEY_DISABLE_ACCESS);

	if (k < 0)
		return 2;
	if (pkey_set(k, 0) || pkey_set(k, PKEY_DISABLE_ACCESS) ||
	    pkey_set(PLKV_PKEY, PKEY_DISABLE_ACCESS))
		return 3;
	return plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL) ? 4 : 0;
}

TEST_F(strict, harmless_pkey_set_lives)
{
	int st = client_status(self->name, pkey_set_harmless);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/*
 * The loader's lazy-binding XRSTOR ("xrstor 0x40(%rsp)", then its
 * registers back from the stack, then jmp *%r11), entered with PKRU in
 * the feature mask and an XSAVE area whose PKRU is 0, which grants
 * every key.  Unwatched, it lands in got_key() on a stack of its own.
 */
static unsigned char xsave_area[3 * 4096] __attribute__((aligned(64)));
static uint64_t jump_stack[2048] __attribute__((aligned(16)));

static void __attribute__((noreturn)) got_key(void)
{
	_exit(read_segment());
}

static const volatile unsigned char loader_xrstor[] = {
	0x0f, 0xae, 0x6c, 0x24, 0x40
};

/* The first readable executable copy of bytes[0..n) in this process. */
static const void *find_code(const volatile unsigned char *bytes, size_t n)
{
	unsigned char needle[16];
	unsigned long lo, hi;
	const void *hit = NULL;
	char line[512], perms[8];
	FILE *f = fopen("/proc/self/maps", "re");
	size_t i;

	for (i = 0; i < n; i++)
		needle[i] = bytes[i];
	while (f && !hit && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    perms[0] == 'r' && perms[2] == 'x')
			hit = memmem((void *)lo, hi - lo, needle, n);
	if (f)
		fclose(f);
	return hit;
}

static int loader_xrstor_grant(plkv_t *kv)
{
	const void *site = find_code(loader_xrstor, sizeof(loader_xrstor));
	unsigned int eax, ebx, ecx, edx;
	unsigned char *area = xsave_area + 4096;	/* = rsp + 0x40 */
	uint64_t *frame = &jump_stack[1024];

	attack_seg = th_kv(kv).base;
	if (!site || !__get_cpuid_count(0xd, 9, &eax, &ebx, &ecx, &edx) ||
	    !ebx || ebx + 4 > 2 * 4096)
		return 3;		/* no such XRSTOR, or no PKRU state */
	*(uint32_t *)(area + 24) = 0x1f80;		/* MXCSR, valid */
	*(uint64_t *)(area + 512) = 1u << 9;		/* XSTATE_BV: PKRU */
	*(uint32_t *)(area + ebx) = 0;			/* PKRU: all granted */
	frame[0] = 0;			/* its rbx; then rsp = frame + 24 */
	__asm__ volatile("mov %%rax, %%rsp\n\t"
			 "mov %%rdi, %%rbx\n\t"
			 "mov %%rsi, %%r11\n\t"
			 "mov $0x200, %%eax\n\t"
			 "xor %%edx, %%edx\n\t"
			 "jmp *%%rcx"
			 : : "a"(area - 0x40), "D"(frame), "S"(got_key),
			     "c"(site) : "memory");
	__builtin_unreachable();
}

TEST_F(strict, loader_xrstor_kills)
{
	EXPECT_ATTACK_KILLED(loader_xrstor_grant,
			     "no lazy-binding XRSTOR or no PKRU in XSAVE");
	EXPECT_TRUE(lived(client_status(self->loose, loader_xrstor_grant)));
}

/* wrpkru; ret, called with the value to write. */
static void call_wrpkru(const void *code, uint32_t pkru)
{
	__asm__ volatile("call *%[code]"
			 : : [code] "r"(code), "a"(pkru), "c"(0), "d"(0)
			 : "memory");
}

/*
 * A page of this process's own code with WRPKRU at each of offsets[]
 * (zeros around), executable with prot: before the open, so even a strict
 * store's client has it.
 */
static unsigned char *stray_code(int prot, const unsigned int *offsets,
				 unsigned int n)
{
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (p == MAP_FAILED)
		return NULL;
	for (i = 0; i < n; i++)
		put_wrpkru(p + offsets[i]);
	return mprotect(p, 4096, prot) ? NULL : p;
}

enum stray_use { STRAY_GRANT, STRAY_DENY };

/*
 * In a child that has not opened the store: stray code (prot), then the
 * open (10: refused with PLKV_EWRPKRU), then a WRPKRU at offsets[0] with a
 * granting value (lived, 0: it got the key) or with the value the thread
 * has (0 if a plkv_get works after it).
 */
static int open_with_stray(const char *name, int prot,
			   const unsigned int *offsets, unsigned int n,
			   enum stray_use use)
{
	unsigned char *code = stray_code(prot, offsets, n);
	char buf[16];
	plkv_t *kv;
	int rc;

	if (!code)
		return 2;
	kv = open_client(name, &rc);
	if (rc == PLKV_EWRPKRU)
		return 10;
	if (rc)
		return 4;
	attack_seg = th_kv(kv).base;
	if (use == STRAY_GRANT) {
		call_wrpkru(code + offsets[0], 0);
		return read_segment();
	}
	call_wrpkru(code + offsets[0], plkv_rdpkru());
	return plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL) ? 5 : 0;
}

static int stray_status(const char *name, int prot, const unsigned int *offsets,
			unsigned int n, enum stray_use use)
{
	return CHILD_STATUS(open_with_stray(name, prot, offsets, n, use));
}

static const unsigned int one_site[] = { 64 };

TEST_F(strict, stray_wrpkru_watched)
{
	int st = stray_status(self->name, PROT_READ | PROT_EXEC, one_site, 1,
			      STRAY_GRANT);

	EXPECT_TRUE(killed(st)) TH_LOG("status %#x", st);
	st = stray_status(self->loose, PROT_READ | PROT_EXEC, one_site, 1,
			  STRAY_GRANT);
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* Execute-only: the library's own scan cannot read it; the module can. */
TEST_F(strict, execute_only_wrpkru_watched)
{
	int st = stray_status(self->name, PROT_EXEC, one_site, 1, STRAY_GRANT);

	EXPECT_TRUE(killed(st)) TH_LOG("status %#x", st);
	st = stray_status(self->loose, PROT_EXEC, one_site, 1, STRAY_GRANT);
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* A watched WRPKRU that leaves the key denied goes on. */
TEST_F(strict, stray_wrpkru_denying_lives)
{
	int st = stray_status(self->name, PROT_EXEC, one_site, 1, STRAY_DENY);

	EXPECT_TRUE(lived(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* More sites than the 4 debug registers: the strict open is refused. */
TEST_F(strict, too_many_sites_refuse_open)
{
	static const unsigned int five[] = { 64, 128, 192, 256, 320 };
	int st = stray_status(self->name, PROT_EXEC, five, 5, STRAY_DENY);

	EXPECT_TRUE(exited_with(st, 10)) TH_LOG("status %#x", st);
	st = stray_status(self->loose, PROT_EXEC, five, 5, STRAY_DENY);
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- code that could change under the watch ---- */

enum code_writer { WRITER_KEPT, WRITER_CLOSED };

/*
 * In a child: code mapped from a file in /tmp, with its fd open for
 * writing kept or closed, then the open (11: refused with ETXTBSY), then
 * WRPKRU written into the file (12: it cannot be opened for writing) and
 * run through the mapping with a granting value (lived: it got the key).
 */
static int open_with_code_file(const char *name, enum code_writer writer)
{
	char path[] = "/tmp/plkv-code-XXXXXX";
	unsigned char insn[sizeof(wrpkru_ret)], *code;
	int fd = mkstemp(path), rc;
	plkv_t *kv;

	if (fd < 0 || ftruncate(fd, 4096))
		return 2;
	close(fd);
	/* Mapped read-only: a mapping of the writable fd would keep the
	 * file open for writing after a close. */
	fd = open(path, O_RDONLY);
	code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (code == MAP_FAILED)
		return 2;
	close(fd);
	fd = writer == WRITER_KEPT ? open(path, O_RDWR) : -1;
	kv = open_client(name, &rc);
	if (rc) {
		unlink(path);
		return rc == -ETXTBSY ? 11 : 4;
	}
	if (writer == WRITER_CLOSED)
		fd = open(path, O_WRONLY);
	rc = errno;
	unlink(path);
	if (fd < 0)
		return rc == ETXTBSY ? 12 : 5;
	put_wrpkru(insn);
	if (pwrite(fd, insn, sizeof(insn), 64) != (ssize_t)sizeof(insn))
		return 6;
	attack_seg = th_kv(kv).base;
	call_wrpkru(code + 64, 0);
	return read_segment();
}

static int code_file_status(const char *name, enum code_writer writer)
{
	return CHILD_STATUS(open_with_code_file(name, writer));
}

TEST_F(strict, code_file_kept_from_writers)
{
	int st = code_file_status(self->name, WRITER_KEPT);

	EXPECT_TRUE(exited_with(st, 11)) TH_LOG("writer kept: status %#x", st);
	st = code_file_status(self->name, WRITER_CLOSED);
	EXPECT_TRUE(exited_with(st, 12)) TH_LOG("writer after: status %#x", st);
	st = code_file_status(self->loose, WRITER_KEPT);
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/*
 * In a child: an executable page never touched, the open, then
 * userfaultfd fills the page with WRPKRU (UFFDIO_COPY) and it runs with a
 * granting value (lived: it got the key; 3: no userfaultfd here).
 */
static int open_then_uffd_copy(const char *name)
{
	static unsigned char page[4096] __attribute__((aligned(4096)));
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_copy copy;
	unsigned char *code;
	plkv_t *kv;
	int uffd, rc;

	code = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return 2;
	kv = open_client(name, &rc);
	if (!kv)
		return 4;
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return 3;
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)code;
	reg.range.len = 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    madvise(code, 4096, MADV_DONTNEED))
		return 3;
	put_wrpkru(page + 64);
	memset(&copy, 0, sizeof(copy));
	copy.dst = (uintptr_t)code;
	copy.src = (uintptr_t)page;
	copy.len = 4096;
	if (ioctl(uffd, UFFDIO_COPY, &copy))
		return 5;
	attack_seg = th_kv(kv).base;
	call_wrpkru(code + 64, 0);
	return read_segment();
}

TEST_F(strict, userfaultfd_copy_kills)
{
	int st = CHILD_STATUS(open_then_uffd_copy(self->loose));

	ASSERT_NE(-1, st);
	if (exited_with(st, 3))
		SKIP(return, "no userfaultfd here");
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	st = CHILD_STATUS(open_then_uffd_copy(self->name));
	EXPECT_TRUE(killed(st)) TH_LOG("status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- threads and CLONE_VM children made after the open ---- */

static void *pkey_set_thread(void *arg)
{
	pkey_set(PLKV_PKEY, 0);
	_exit(read_segment() + (int)(intptr_t)arg);
}

static int thread_pkey_set(plkv_t *kv)
{
	pthread_t t;

	attack_seg = th_kv(kv).base;
	if (pthread_create(&t, NULL, pkey_set_thread, NULL))
		return 2;
	pthread_join(t, NULL);
	return 4;
}

/* vfork: a CLONE_VM child, a process of its own in the client's memory. */
static int vfork_pkey_set(plkv_t *kv)
{
	int st = -1;
	pid_t pid;

	attack_seg = th_kv(kv).base;
	pid = vfork();
	if (pid == 0) {
		pkey_set(PLKV_PKEY, 0);
		_exit(read_segment());
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 2;
	return killed(st) ? 9 : lived(st) ? 0 : 3;
}

TEST_F(strict, new_thread_watched)
{
	int st;

	EXPECT_ATTACK_KILLED(thread_pkey_set, "");
	st = client_status(self->name, vfork_pkey_set);
	EXPECT_TRUE(exited_with(st, 9)) TH_LOG("vfork child: status %#x", st);
	st = client_status(self->loose, vfork_pkey_set);
	EXPECT_TRUE(lived(st)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

/* ---- one slot, two threads ---- */

/*
 * The thread state that names a thread's slot is in the client's heap, so
 * two threads of a hostile process can name the same slot; then the
 * second to enter took the first's running call for an abandoned one and
 * recovered it under its feet, or both wrote one op record.  On a strict
 * store the second thread's entry finds the slot in a call and kills the
 * process.  Thread A sets in a loop on its slot; thread B, on its own
 * slot first, then names A's (its own state rewritten, or A's state
 * taken whole: then it finds A's call "abandoned") and gets in a loop.
 */
static uint32_t shared_slot;
static struct plkv_tls *shared_state;	/* NULL: rewrite the slot number */
static volatile int thief_ready;

static void *slot_thief(void *arg)
{
	plkv_t *kv = arg;
	char buf[16];

	if (plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL) ||
	    !plkv_this_thread.last)
		_exit(3);
	if (shared_state)
		plkv_this_thread.last = shared_state;
	else
		plkv_this_thread.last->slot = shared_slot;
	thief_ready = 1;
	for (;;)
		plkv_get(kv, "victim", 6, buf, sizeof(buf), NULL);
	return NULL;
}

static int share_slot(plkv_t *kv)
{
	time_t end = time(NULL) + 20;
	pthread_t t;

	if (plkv_set(kv, "scratch", 7, "x", 1, 0, 0) || !plkv_this_thread.last)
		return 3;
	shared_slot = plkv_this_thread.last->slot;
	if (pthread_create(&t, NULL, slot_thief, kv))
		return 3;
	while (time(NULL) < end)
		if (plkv_set(kv, "scratch", 7, thief_ready ? "y" : "x", 1, 0,
			     0))
			return 5;
	return 4;	/* both lived 20 s on one slot */
}

static int share_state(plkv_t *kv)
{
	if (plkv_set(kv, "scratch", 7, "x", 1, 0, 0) || !plkv_this_thread.last)
		return 3;
	shared_state = plkv_this_thread.last;
	return share_slot(kv);
}

TEST_F(strict, shared_slot_kills)
{
	EXPECT_ATTACK_KILLED(share_slot, "no thread state to rewrite");
	EXPECT_ATTACK_KILLED(share_state, "no thread state to take");
}

/* ---- whose libplkv: the gates are trusted only in root's files ---- */

#define CHILD_ENV "PLKV_STRICT_TEST_OPEN"

/* The copy of this program run by copy_opens(): open the store, report. */
__attribute__((constructor)) static void open_as_copy(void)
{
	const char *name = getenv(CHILD_ENV);
	int rc;
	plkv_t *kv;

	if (!name)
		return;
	kv = open_client(name, &rc);
	if (kv)
		plkv_close(kv);
	_exit(rc == PLKV_EWRPKRU ? 10 : rc ? 4 : 0);
}

static bool maps_mention(const char *what)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what);
	if (f)
		fclose(f);
	return found;
}

/* This program (libplkv linked in) copied with mode, run to
 * open name: its exit status. */
static int copy_opens(const char *name, mode_t mode)
{
	char path[] = "/tmp/plkv-strict-copy-XXXXXX", cmd[512];
	int fd = mkstemp(path), st;

	if (fd < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s", getpid(), path);
	if (system(cmd) || chmod(path, mode)) {
		unlink(path);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), CHILD_ENV "=%s %s", name, path);
	st = system(cmd);
	unlink(path);
	return st;
}

TEST_F(strict, gates_in_writable_file_refused)
{
	int st;

	if (getuid() != 0)
		SKIP(return, "needs root, to make a root-owned copy");
	if (maps_mention("libplkv.so"))
		SKIP(return, "libplkv is a shared library here: copying the program leaves it");
	st = copy_opens(self->name, 0777);
	EXPECT_TRUE(exited_with(st, 10)) TH_LOG("status %#x", st);
	st = copy_opens(self->name, 0755);
	EXPECT_TRUE(exited_with(st, 0)) TH_LOG("status %#x", st);
	st = copy_opens(self->loose, 0777);
	EXPECT_TRUE(exited_with(st, 0)) TH_LOG("ordinary store: status %#x", st);
	expect_intact(_metadata, self->kv);
}

TEST_HARNESS_MAIN
