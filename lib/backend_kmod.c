/* SPDX-License-Identifier: MIT */
/*
 * The kmod backend: plkv.ko owns the segment's memory.  We attach, map
 * it PROT_NONE, and make the one change the module accepts: read/write
 * with our protection key, after which the key is sealed.  The module
 * keeps the authoritative process records and thread slots, marks a dead
 * process's lock words OWNER_DIED, and bumps the death generation that the
 * gate reads with one load.  futex(2) cannot work on this GUP-proof
 * mapping, so lock words sleep through the module's wait/wake ioctls.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"

static int dev_open(void)
{
	int fd = open(PLKV_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	/* No node, or a node without the driver behind it. */
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return PLKV_ENOMODULE;
	return -errno;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int rc;

	do {
		rc = (int)plkv_sys3(SYS_ioctl, fd, (long)cmd, (long)arg);
	} while (rc == -EINTR);
	return rc;
}

/* An ioctl on the handle's fd, which may come inside a call: made with
 * the grant dropped (plkv_gate_suspend()). */
static int kv_ioctl(struct plkv *kv, unsigned long cmd, void *arg)
{
	int fd = kv->fd;	/* the handle may be out of reach meanwhile */
	bool granted = plkv_gate_suspend(kv);
	int rc = xioctl(fd, cmd, arg);

	plkv_gate_resume(granted);
	return rc;
}

static int kmod_check_version(int fd, uint32_t *flags)
{
	struct plkv_version v;
	int rc;

	memset(&v, 0, sizeof(v));
	rc = xioctl(fd, PLKV_IOC_VERSION, &v);
	if (rc)
		return rc;
	*flags = v.flags;
	return v.abi_version == PLKV_ABI_VERSION ? 0 : PLKV_EVERSION;
}

static int kmod_seal(struct plkv *kv)
{
	int rc;

	/* Without PKU the module accepts read/write with key 0 only, and
	 * with PKU a non-zero key only. */
	if (!plkv_pku_supported()) {
		kv->pkey = -1;
		return mprotect(kv->base, kv->size, PROT_READ | PROT_WRITE) ?
		       -errno : 0;
	}
	/* (kmod_map() took the key) */
	if (pkey_mprotect(kv->base, kv->size, PROT_READ | PROT_WRITE,
			  PLKV_PKEY)) {
		/* ENOSPC: a strict store, and more WRPKRU/XRSTOR sites in
		 * this process than the module can watch (plkv_watch.c);
		 * EPERM: a strict store, and a perf event that samples this
		 * process's registers or stack (they would read a call's);
		 * EBUSY: a strict store, and this process is traced. */
		rc = errno == ENOSPC ? PLKV_EWRPKRU : -errno;
		if (rc == -EPERM)
			plkv_set_open_error("a perf event samples this "
					    "process's registers or stack, "
					    "which a strict store refuses");
		else if (rc == -EBUSY)
			plkv_set_open_error("this process is being traced, "
					    "which a strict store refuses");
		plkv_pkey_release();
		return rc;
	}
	kv->pkey = PLKV_PKEY;
	return 0;
}

/* Segments go in the window of trust.h; a protected one after the trust
 * region, which the first of them maps. */
static void *kmod_map(int fd, uint64_t size, bool no_protect)
{
	void *p;
	int rc;

	if (!plkv_pku_supported())
		return plkv_window_map(size, PROT_NONE, fd);
	if (no_protect) {
		errno = EOPNOTSUPP;	/* the module seals with a key */
		return MAP_FAILED;
	}
	rc = plkv_pkey_acquire();
	if (rc) {
		plkv_set_open_error("protection key %d is taken by other code "
				    "in this process", PLKV_PKEY);
		errno = -rc;
		return MAP_FAILED;
	}
	rc = plkv_trust_attach();
	p = rc ? MAP_FAILED : plkv_window_map(size, PROT_NONE, fd);
	if (p == MAP_FAILED) {
		rc = rc ? rc : -errno;
		plkv_pkey_release();
		errno = -rc;
	}
	return p;
}

static int kmod_open(struct plkv *kv, const struct plkv_options *o,
		     uint64_t size, bool *created)
{
	struct plkv_create cr;
	struct plkv_attach at;
	struct plkv_seg_info si;
	uint32_t version_flags;
	void *p;
	int fd, rc;

	*created = false;
	fd = dev_open();
	if (fd < 0)
		return fd;
	rc = kmod_check_version(fd, &version_flags);
	if (rc)
		goto fail;
	kv->sites_watched = version_flags & PLKV_VERSION_F_WATCH;
	if (o->flags & PLKV_O_CREATE) {
		memset(&cr, 0, sizeof(cr));
		memcpy(cr.name, kv->name, sizeof(cr.name));
		cr.size = size;
		cr.mode = o->mode & 0777;
		if (o->flags & PLKV_O_STRICT)
			cr.flags = PLKV_CREATE_F_STRICT;
		rc = xioctl(fd, PLKV_IOC_CREATE, &cr);
		if (rc == 0)
			*created = true;
		else if (rc != -EEXIST || (o->flags & PLKV_O_EXCL))
			goto fail;
	}
	memset(&at, 0, sizeof(at));
	memcpy(at.name, kv->name, sizeof(at.name));
	rc = xioctl(fd, PLKV_IOC_ATTACH, &at);
	if (rc)
		goto fail_created;
	/* The owner of the segment this fd is bound to, not of a name that
	 * may have been destroyed and created again meanwhile. */
	memset(&si, 0, sizeof(si));
	rc = xioctl(fd, PLKV_IOC_SEG_INFO, &si);
	if (rc)
		goto fail_created;
	kv->owner_uid = si.uid;
	p = kmod_map(fd, at.size, o->flags & PLKV_O_NO_PROTECT);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail_created;
	}
	kv->base = p;
	kv->size = at.size;
	kv->fd = fd;
	rc = kmod_seal(kv);
	if (rc) {
		munmap(p, at.size);
		kv->base = NULL;
		goto fail_created;
	}
	return 0;

fail_created:
	if (*created) {
		struct plkv_destroy d;

		memset(&d, 0, sizeof(d));
		memcpy(d.name, kv->name, sizeof(d.name));
		xioctl(fd, PLKV_IOC_DESTROY, &d);
		*created = false;
	}
fail:
	close(fd);
	return rc;
}

static void kmod_close(struct plkv *kv)
{
	struct plkv_detach d;

	if (kv->fd >= 0) {
		memset(&d, 0, sizeof(d));
		xioctl(kv->fd, PLKV_IOC_DETACH, &d);
	}
	if (kv->base)
		munmap(kv->base, kv->size);
	if (kv->fd >= 0)
		close(kv->fd);
	if (kv->pkey > 0)
		plkv_pkey_release();
	kv->base = NULL;
	kv->fd = -1;
}

static int kmod_destroy(const char *name)
{
	struct plkv_destroy d;
	int fd = dev_open(), rc;

	if (fd < 0)
		return fd;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	rc = xioctl(fd, PLKV_IOC_DESTROY, &d);
	close(fd);
	return rc;
}

static int kmod_list(plkv_seg_fn fn, void *ctx)
{
	struct plkv_seg_info *info = NULL;
	struct plkv_list l;
	int fd = dev_open(), rc;
	uint32_t i, cap = 16;

	if (fd < 0)
		return fd;
	for (;;) {
		free(info);
		info = calloc(cap, sizeof(*info));
		if (!info) {
			rc = -ENOMEM;
			goto out;
		}
		memset(&l, 0, sizeof(l));
		l.buf = (uintptr_t)info;
		l.capacity = cap;
		rc = xioctl(fd, PLKV_IOC_LIST_SEGS, &l);
		if (rc)
			goto out;
		if (l.count <= cap)
			break;
		cap = l.count;
	}
	for (i = 0; i < l.count && !rc; i++)
		rc = fn(ctx, info[i].name, PLKV_BACKEND_KMOD, info[i].size);
out:
	free(info);
	close(fd);
	return rc;
}

static int kmod_thread_register(struct plkv *kv, uint32_t *slot,
				bool recovery)
{
	struct plkv_thread t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.flags = recovery ? PLKV_THREAD_F_RECOVERY : 0;
	rc = kv_ioctl(kv, PLKV_IOC_THREAD_REG, &t);
	if (rc)
		return rc;
	*slot = t.slot;
	return 0;
}

static void kmod_thread_unregister(struct plkv *kv, uint32_t slot)
{
	struct plkv_thread t;

	memset(&t, 0, sizeof(t));
	t.slot = slot;
	kv_ioctl(kv, PLKV_IOC_THREAD_UNREG, &t);
}

static int kmod_wait(struct plkv *kv, unsigned idx, uint32_t expected,
		     int64_t timeout_ns)
{
	struct plkv_wait w;
	int rc, fd = kv->fd;
	bool granted;

	memset(&w, 0, sizeof(w));
	w.offset = plkv_lock_off(idx);
	w.expected = expected;
	w.timeout_ns = timeout_ns;
	/* One try, no EINTR loop (xioctl's): the lock code decides. */
	granted = plkv_gate_suspend(kv);
	rc = (int)plkv_sys3(SYS_ioctl, fd, PLKV_IOC_WAIT, (long)&w);
	rc = rc < 0 ? rc : 0;
	plkv_gate_resume(granted);
	return rc;
}

static void kmod_wake(struct plkv *kv, unsigned idx, int nr)
{
	struct plkv_wake w;

	memset(&w, 0, sizeof(w));
	w.offset = plkv_lock_off(idx);
	w.count = (uint32_t)nr;
	kv_ioctl(kv, PLKV_IOC_WAKE, &w);
}

static int kmod_procs(struct plkv *kv, struct plkv_proc_view *v, int cap)
{
	struct plkv_proc_info *info;
	struct plkv_list l;
	int rc, i;

	info = plkv_gate_calloc(kv, cap > 0 ? (size_t)cap : 1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	memset(&l, 0, sizeof(l));
	l.buf = (uintptr_t)info;
	l.capacity = (uint32_t)cap;
	rc = kv_ioctl(kv, PLKV_IOC_LIST_PROCS, &l);
	if (rc) {
		plkv_gate_free(kv, info);
		return rc;
	}
	for (i = 0; i < (int)l.count && i < cap; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].pid = info[i].tgid;
		v[i].state = info[i].state;
		v[i].start_time = info[i].start_time;
		v[i].pkey = info[i].pkey;
		v[i].recoverer = info[i].recoverer;
		memcpy(v[i].slots, info[i].slots, sizeof(v[i].slots));
	}
	plkv_gate_free(kv, info);
	return (int)l.count;
}

static int kmod_reap_flags(struct plkv *kv, const struct plkv_proc_view *p,
			   uint32_t flags)
{
	struct plkv_reap r;

	memset(&r, 0, sizeof(r));
	r.tgid = p->pid;
	r.start_time = p->start_time;
	r.flags = flags;
	return kv_ioctl(kv, PLKV_IOC_REAP, &r);
}

static int kmod_claim(struct plkv *kv, const struct plkv_proc_view *p)
{
	return kmod_reap_flags(kv, p, PLKV_REAP_CLAIM);
}

static int kmod_unclaim(struct plkv *kv, const struct plkv_proc_view *p)
{
	return kmod_reap_flags(kv, p, PLKV_REAP_UNCLAIM);
}

static int kmod_reap(struct plkv *kv, const struct plkv_proc_view *p)
{
	return kmod_reap_flags(kv, p, 0);
}

static void kmod_ack(struct plkv *kv, uint32_t death_gen)
{
	struct plkv_ack a;

	memset(&a, 0, sizeof(a));
	a.death_gen = death_gen;
	kv_ioctl(kv, PLKV_IOC_ACK, &a);
}

const struct plkv_backend_ops plkv_backend_kmod = {
	.name = "kmod",
	.enforces_strict = true,
	.wait_ns = 1000 * 1000 * 1000LL,	/* belt and braces: the module
						 * wakes waiters at a death */
	.open = kmod_open,
	.close = kmod_close,
	.destroy = kmod_destroy,
	.list = kmod_list,
	.thread_register = kmod_thread_register,
	.thread_unregister = kmod_thread_unregister,
	.wait = kmod_wait,
	.wake = kmod_wake,
	.procs = kmod_procs,
	.claim = kmod_claim,
	.unclaim = kmod_unclaim,
	.reap = kmod_reap,
	.ack = kmod_ack,
};
