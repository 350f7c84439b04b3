// SPDX-License-Identifier: GPL-2.0
/*
 * Segments: create, attach, destroy, info, list, and the permission model.
 *
 * Segments are named, like SysV shared memory with a string key, and their
 * permissions work the same way: an owner uid/gid and a creator uid/gid,
 * all taken from the creator's filesystem credentials, and nine mode bits.
 * ATTACH needs read and write permission, LIST_PROCS and a named REAP need
 * read and write too (they expose or change other processes' records), and
 * DESTROY needs to be the owner or the creator.  CAP_IPC_OWNER bypasses all
 * of them.  SEG_INFO and LIST_SEGS show metadata only and are open to all,
 * as ipcs(1) is.
 */
#include "plkv_internal.h"

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

static DEFINE_MUTEX(plkv_mutex);	/* protects plkv_segs and plkv_nsegs */
static LIST_HEAD(plkv_segs);
static unsigned int plkv_nsegs;
/*
 * Segments in memory: listed, or destroyed but still held by an fd or a
 * mapping.  max_segments bounds these, so destroying a segment one still
 * holds does not make room for another (its memory is still taken).
 */
static atomic_t plkv_nsegs_alive = ATOMIC_INIT(0);

/*
 * Segment memory per user (the creator's uid), counted from create until
 * the memory is freed, so destroyed segments one still holds count too.
 * A spinlock of its own: the release that uncharges may run under locks
 * that plkv_mutex does not nest with.
 */
struct plkv_user {
	struct list_head node;
	kuid_t uid;
	u64 bytes;
	unsigned int nsegs;
};

static LIST_HEAD(plkv_users);
static DEFINE_SPINLOCK(plkv_users_lock);

static struct plkv_user *plkv_user_find(kuid_t uid)
{
	struct plkv_user *u;

	lockdep_assert_held(&plkv_users_lock);
	list_for_each_entry(u, &plkv_users, node)
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Count bytes against uid; CAP_SYS_RESOURCE is not limited, as quotas. */
static int plkv_user_charge(kuid_t uid, u64 bytes)
{
	struct plkv_user *fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	struct plkv_user *u;
	int ret = 0;

	if (!fresh)
		return -ENOMEM;
	spin_lock(&plkv_users_lock);
	u = plkv_user_find(uid);
	if (!u) {
		u = fresh;
		fresh = NULL;
		u->uid = uid;
		list_add(&u->node, &plkv_users);
	}
	if ((u->bytes + bytes > plkv_user_bytes_limit ||
	     u->nsegs >= plkv_user_segments_limit) &&
	    !capable(CAP_SYS_RESOURCE)) {
		ret = -EDQUOT;
	} else {
		u->bytes += bytes;
		u->nsegs++;
	}
	if (!u->nsegs) {
		list_del(&u->node);
		fresh = u;
	}
	spin_unlock(&plkv_users_lock);
	kfree(fresh);
	return ret;
}

static void plkv_user_uncharge(kuid_t uid, u64 bytes)
{
	struct plkv_user *u, *gone = NULL;

	spin_lock(&plkv_users_lock);
	u = plkv_user_find(uid);
	if (u) {
		u->bytes -= min(u->bytes, bytes);
		u->nsegs--;
		if (!u->nsegs) {
			list_del(&u->node);
			gone = u;
		}
	}
	spin_unlock(&plkv_users_lock);
	kfree(gone);
}

struct plkv_seg *plkv_file_seg(struct plkv_file *pf)
{
	/* Pairs with the release in plkv_ioc_attach(); never reset. */
	return smp_load_acquire(&pf->seg);
}

static void plkv_seg_release(struct kref *ref)
{
	struct plkv_seg *seg = container_of(ref, struct plkv_seg, ref);
	struct plkv_proc *proc, *tmp;

	/* No fd points here any more: only dead or reaped records remain. */
	list_for_each_entry_safe(proc, tmp, &seg->procs, node)
		plkv_proc_free(proc);
	vfree(seg->mem);
	plkv_user_uncharge(seg->cuid, seg->charged);
	kfree(seg);
	atomic_dec(&plkv_nsegs_alive);
}

void plkv_seg_put(struct plkv_seg *seg)
{
	kref_put(&seg->ref, plkv_seg_release);
}

/* Module exit: no fd is open (each holds a module reference). */
void plkv_seg_destroy_all(void)
{
	struct plkv_seg *seg, *tmp;

	mutex_lock(&plkv_mutex);
	list_for_each_entry_safe(seg, tmp, &plkv_segs, node) {
		list_del(&seg->node);
		plkv_seg_put(seg);
	}
	plkv_nsegs = 0;
	mutex_unlock(&plkv_mutex);
}

/*
 * Names are 1-63 characters of [A-Za-z0-9._-] and NUL-terminated within
 * PLKV_NAME_MAX bytes; bytes after the NUL are ignored.  The empty name is
 * valid only where allow_empty says so (it means "the attached segment").
 */
static int plkv_name_check(const char *name, bool allow_empty)
{
	size_t i, len = strnlen(name, PLKV_NAME_MAX);

	if (len == PLKV_NAME_MAX || (!len && !allow_empty))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	return 0;
}

/*
 * The checks ATTACH and DESTROY share: no flags, zero padding and reserved
 * fields, a valid non-empty name.
 */
static int plkv_named_args_check(const char *name, u32 flags, u32 pad,
				 bool reserved_zeroed)
{
	if (flags || pad || !reserved_zeroed)
		return -EINVAL;
	return plkv_name_check(name, false);
}

/*
 * The end of LIST_SEGS and LIST_PROCS: copy out the filled entries (each
 * esize bytes) and the header with the total count, free the buffer.
 */
int plkv_list_copy_out(void __user *uarg, struct plkv_list *l, void *buf,
		       u32 filled, size_t esize)
{
	int ret = 0;

	if (filled && copy_to_user(u64_to_user_ptr(l->buf), buf,
				   filled * esize))
		ret = -EFAULT;
	else if (copy_to_user(uarg, l, sizeof(*l)))
		ret = -EFAULT;
	kvfree(buf);
	return ret;
}

static struct plkv_seg *plkv_seg_find(const char *name)
{
	struct plkv_seg *seg;

	lockdep_assert_held(&plkv_mutex);
	list_for_each_entry(seg, &plkv_segs, node)
		if (!strcmp(seg->name, name))
			return seg;
	return NULL;
}

/* SysV ipcperms(): want is a mask of 4 (read) and 2 (write). */
static bool plkv_perm(struct plkv_seg *seg, umode_t want)
{
	kuid_t uid = current_fsuid();
	umode_t granted = seg->mode;

	if (uid_eq(uid, seg->uid) || uid_eq(uid, seg->cuid))
		granted >>= 6;
	else if (in_group_p(seg->gid) || in_group_p(seg->cgid))
		granted >>= 3;
	if (!(want & ~granted & 0007))
		return true;
	return capable(CAP_IPC_OWNER);
}

static bool plkv_is_owner(struct plkv_seg *seg)
{
	kuid_t uid = current_fsuid();

	return uid_eq(uid, seg->uid) || uid_eq(uid, seg->cuid) ||
	       capable(CAP_IPC_OWNER);
}

/*
 * The segment a command names: name "" means the one this fd is attached
 * to (-ENOTCONN if none), otherwise a lookup with a permission check.
 * Returns a reference in *segp.
 */
int plkv_seg_get_by_name(struct plkv_file *pf, const char *name, int want,
			 struct plkv_seg **segp)
{
	struct plkv_seg *seg;
	int ret;

	ret = plkv_name_check(name, true);
	if (ret)
		return ret;
	if (!name[0]) {
		seg = plkv_file_seg(pf);
		if (!seg)
			return -ENOTCONN;
		kref_get(&seg->ref);
		*segp = seg;
		return 0;
	}
	mutex_lock(&plkv_mutex);
	seg = plkv_seg_find(name);
	if (!seg) {
		ret = -ENOENT;
	} else if (want && !plkv_perm(seg, want)) {
		ret = -EACCES;
	} else {
		kref_get(&seg->ref);
		*segp = seg;
	}
	mutex_unlock(&plkv_mutex);
	return ret;
}

static struct plkv_seg *plkv_seg_alloc(const char *name, u64 size, u32 mode)
{
	struct plkv_seg_khdr *khdr;
	struct plkv_seg *seg;
	unsigned int i;

	seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	if (!seg)
		return NULL;
	/*
	 * Not vmalloc_user(): that one warns on failure, and a user asking
	 * for more than the machine has is not a kernel problem.  The memory
	 * is mapped with vmf_insert_pfn(), so VM_USERMAP is not needed.
	 */
	seg->mem = __vmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_ZERO |
			     __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
	if (!seg->mem) {
		kfree(seg);
		return NULL;
	}
	kref_init(&seg->ref);
	strscpy(seg->name, name, sizeof(seg->name));
	seg->size = size;
	seg->uid = current_fsuid();
	seg->cuid = seg->uid;
	seg->gid = current_fsgid();
	seg->cgid = seg->gid;
	seg->mode = mode;
	seg->ctime_ns = ktime_get_real_ns();
	mutex_init(&seg->lock);
	INIT_LIST_HEAD(&seg->procs);
	init_waitqueue_head(&seg->poll_wq);
	for (i = 0; i < ARRAY_SIZE(seg->hb); i++) {
		spin_lock_init(&seg->hb[i].lock);
		INIT_LIST_HEAD(&seg->hb[i].waiters);
	}

	khdr = seg->mem + PLKV_SEG_KHDR_OFF;
	khdr->magic = PLKV_SEG_KHDR_MAGIC;
	khdr->abi_version = PLKV_ABI_VERSION;
	khdr->size = size;
	khdr->flags = PLKV_SEG_F_KMOD;
	atomic_inc(&plkv_nsegs_alive);	/* until plkv_seg_release() */
	return seg;
}

/* Room for one more named @name; @mine: 1 if it is in memory already. */
static int plkv_seg_room(const char *name, int mine)
{
	lockdep_assert_held(&plkv_mutex);
	if (plkv_seg_find(name))
		return -EEXIST;
	if (atomic_read(&plkv_nsegs_alive) - mine >= plkv_max_segments)
		return -ENOSPC;
	return 0;
}

int plkv_ioc_create(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_create c;
	struct plkv_seg *seg;
	u64 size;
	int ret;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~PLKV_CREATE_F_STRICT) || !plkv_zeroed(c.reserved) ||
	    c.mode & ~0777)
		return -EINVAL;
	ret = plkv_name_check(c.name, false);
	if (ret)
		return ret;
	size = c.size ? c.size : plkv_default_seg_size;
	if (size < PLKV_SEG_MIN_SIZE)
		return -EINVAL;
	if (size > plkv_max_seg_size)
		return -ENOMEM;
	size = PAGE_ALIGN(size);

	/* Fail fast before a large allocation, then check again. */
	mutex_lock(&plkv_mutex);
	ret = plkv_seg_room(c.name, 0);
	mutex_unlock(&plkv_mutex);
	if (ret)
		return ret;

	ret = plkv_user_charge(current_fsuid(), size);
	if (ret)
		return ret;
	seg = plkv_seg_alloc(c.name, size, c.mode);
	if (!seg) {
		plkv_user_uncharge(current_fsuid(), size);
		return -ENOMEM;
	}
	seg->charged = size;	/* uncharged with its memory */
	if (c.flags & PLKV_CREATE_F_STRICT) {
		seg->strict = true;
		((struct plkv_seg_khdr *)(seg->mem + PLKV_SEG_KHDR_OFF))->flags |=
			PLKV_SEG_F_STRICT;
	}

	mutex_lock(&plkv_mutex);
	ret = plkv_seg_room(c.name, 1);
	if (!ret) {
		list_add_tail(&seg->node, &plkv_segs);
		plkv_nsegs++;
	}
	mutex_unlock(&plkv_mutex);
	if (ret)
		plkv_seg_put(seg);
	return ret;
}

int plkv_ioc_attach(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_attach a;
	struct plkv_proc *proc;
	struct plkv_seg *seg;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	ret = plkv_named_args_check(a.name, a.flags, a.pad,
				    plkv_zeroed(a.reserved));
	if (ret)
		return ret;
	/* Probe the copy-out now rather than undo an attach for it later. */
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;

	proc = plkv_proc_alloc();
	if (!proc)
		return -ENOMEM;

	mutex_lock(&plkv_mutex);
	if (pf->seg) {
		ret = -EBUSY;		/* one attach per fd, ever */
		goto out_unlock;
	}
	seg = plkv_seg_find(a.name);
	if (!seg) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!plkv_perm(seg, 0006)) {
		ret = -EACCES;
		goto out_unlock;
	}
	mutex_lock(&seg->lock);
	if (plkv_find_own_proc(seg)) {
		ret = -EBUSY;		/* this process already has a record */
	} else if (seg->nprocs >= PLKV_MAX_PROCS) {
		ret = -ENOSPC;
	} else {
		list_add_tail(&proc->node, &seg->procs);
		seg->nprocs++;
		proc->file = pf;
		pf->proc = proc;
		proc = NULL;
	}
	mutex_unlock(&seg->lock);
	if (!ret) {
		kref_get(&seg->ref);
		/* Publish pf->seg last: pairs with plkv_file_seg(). */
		smp_store_release(&pf->seg, seg);
	}
out_unlock:
	mutex_unlock(&plkv_mutex);
	if (proc)
		plkv_proc_free(proc);
	if (ret)
		return ret;

	a.size = seg->size;
	if (copy_to_user(uarg, &a, sizeof(a))) {
		/* Undo: nobody has seen the record yet but this process. */
		mutex_lock(&seg->lock);
		plkv_detach_locked(pf);
		mutex_unlock(&seg->lock);
		return -EFAULT;
	}
	return 0;
}

int plkv_ioc_destroy(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_destroy d;
	struct plkv_seg *seg;
	u32 nattached, ndead;
	int ret;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	ret = plkv_named_args_check(d.name, d.flags, d.pad,
				    plkv_zeroed(d.reserved));
	if (ret)
		return ret;

	mutex_lock(&plkv_mutex);
	seg = plkv_seg_find(d.name);
	if (!seg) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!plkv_is_owner(seg)) {
		ret = -EACCES;
		goto out_unlock;
	}
	/*
	 * Refused while mapped or while a live process is attached (an
	 * attached process may map at any moment).  Dead records do not
	 * count: there is nobody left to recover for.
	 */
	mutex_lock(&seg->lock);
	plkv_seg_count_procs(seg, &nattached, &ndead);
	if (seg->nmapped || nattached)
		ret = -EBUSY;
	mutex_unlock(&seg->lock);
	if (!ret) {
		list_del(&seg->node);
		plkv_nsegs--;
	}
out_unlock:
	mutex_unlock(&plkv_mutex);
	if (!ret)
		plkv_seg_put(seg);	/* the list's reference */
	return ret;
}

/* Caller holds seg->lock. */
static void plkv_seg_fill_info(struct plkv_seg *seg, struct plkv_seg_info *si)
{
	struct user_namespace *ns = current_user_ns();

	lockdep_assert_held(&seg->lock);
	memset(si, 0, sizeof(*si));
	strscpy(si->name, seg->name, sizeof(si->name));
	si->size = seg->size;
	si->mode = seg->mode;
	si->uid = from_kuid_munged(ns, seg->uid);
	si->gid = from_kgid_munged(ns, seg->gid);
	plkv_seg_count_procs(seg, &si->nattached, &si->ndead);
	si->nmapped = seg->nmapped;
	si->death_gen = seg->death_gen;
	si->flags = seg->strict ? PLKV_SEG_F_STRICT : 0;
	si->ctime_ns = seg->ctime_ns;
}

int plkv_ioc_seg_info(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_seg_info si;
	struct plkv_seg *seg;
	int ret;

	if (copy_from_user(&si, uarg, sizeof(si)))
		return -EFAULT;
	if (si.flags || !plkv_zeroed(si.reserved))
		return -EINVAL;
	ret = plkv_seg_get_by_name(pf, si.name, 0, &seg);
	if (ret)
		return ret;
	mutex_lock(&seg->lock);
	plkv_seg_fill_info(seg, &si);
	mutex_unlock(&seg->lock);
	plkv_seg_put(seg);
	if (copy_to_user(uarg, &si, sizeof(si)))
		return -EFAULT;
	return 0;
}

int plkv_ioc_list_segs(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_seg_info *buf = NULL;
	struct plkv_seg *seg;
	struct plkv_list l;
	u32 n = 0, filled = 0;

	if (copy_from_user(&l, uarg, sizeof(l)))
		return -EFAULT;
	if (l.name[0] || !plkv_zeroed(l.reserved))
		return -EINVAL;

	mutex_lock(&plkv_mutex);
	if (l.capacity && plkv_nsegs) {
		buf = kvcalloc(min(l.capacity, plkv_nsegs), sizeof(*buf),
			       GFP_KERNEL);
		if (!buf) {
			mutex_unlock(&plkv_mutex);
			return -ENOMEM;
		}
	}
	list_for_each_entry(seg, &plkv_segs, node) {
		if (buf && n < l.capacity) {
			mutex_lock(&seg->lock);
			plkv_seg_fill_info(seg, &buf[n]);
			mutex_unlock(&seg->lock);
			filled++;
		}
		n++;
	}
	mutex_unlock(&plkv_mutex);

	l.count = n;
	return plkv_list_copy_out(uarg, &l, buf, filled, sizeof(*buf));
}
