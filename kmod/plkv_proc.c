// SPDX-License-Identifier: GPL-2.0
/*
 * Process records, death events, recovery claims, thread slots and poll.
 *
 * Why the module keeps these: the library's recovery protocol needs to know
 * which process died, and that answer must not come from the processes
 * themselves (a client could lie, and a dead one cannot speak).  The module
 * sees every attach, every mapping and its end, so it keeps one record per
 * attached process: ATTACHED -> DEAD when the process's mapping goes away
 * (munmap, exit, kill -9) or its fd is released without a DETACH;
 * DEAD -> RECOVERING when a survivor claims it; gone when reaped.
 *
 * A death does three things, once per process, under seg->lock: every lock
 * word owned by one of the process's thread slots gets OWNER_DIED and its
 * waiters are woken; claims the dead process held revert to DEAD; and the
 * segment's death generation is bumped (in the segment header too, where
 * the library reads it with a plain load) and pollers are woken.
 *
 * At exit the mapping goes first (exit_mm() before exit_files()), and in
 * any case a mapping pins its file, so the fd's release always comes after
 * the last munmap.  Whichever comes first marks the record; the state
 * machine makes the second a no-op.
 */
#include "plkv_internal.h"

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

struct plkv_proc *plkv_proc_alloc(void)
{
	struct plkv_proc *proc;

	proc = kzalloc(sizeof(*proc), GFP_KERNEL_ACCOUNT);
	if (!proc)
		return NULL;
	proc->pid = get_pid(task_tgid(current));
	proc->start_time = current->group_leader->start_boottime;
	proc->pkey = -1;
	proc->state = PLKV_PROC_ATTACHED;
	return proc;
}

void plkv_proc_free(struct plkv_proc *proc)
{
	put_pid(proc->pid);
	kfree(proc);
}

static bool plkv_proc_is_current(struct plkv_proc *proc)
{
	return proc->pid == task_tgid(current) &&
	       proc->start_time == current->group_leader->start_boottime;
}

/*
 * The caller's own live record through this fd, or NULL: not attached,
 * detached, reaped, dead, or the fd was inherited by another process.
 */
struct plkv_proc *plkv_my_proc(struct plkv_file *pf)
{
	struct plkv_proc *proc = pf->proc;

	lockdep_assert_held(&pf->seg->lock);
	if (!proc || proc->state != PLKV_PROC_ATTACHED ||
	    !plkv_proc_is_current(proc))
		return NULL;
	return proc;
}

/* Any record of the calling process in this segment, whatever its state. */
struct plkv_proc *plkv_find_own_proc(struct plkv_seg *seg)
{
	struct plkv_proc *proc;

	lockdep_assert_held(&seg->lock);
	list_for_each_entry(proc, &seg->procs, node)
		if (plkv_proc_is_current(proc))
			return proc;
	return NULL;
}

void plkv_seg_count_procs(struct plkv_seg *seg, u32 *nattached, u32 *ndead)
{
	struct plkv_proc *proc;

	lockdep_assert_held(&seg->lock);
	*nattached = 0;
	*ndead = 0;
	list_for_each_entry(proc, &seg->procs, node) {
		if (proc->state == PLKV_PROC_ATTACHED)
			(*nattached)++;
		else
			(*ndead)++;
	}
}

static void plkv_death_event(struct plkv_seg *seg)
{
	struct plkv_seg_khdr *khdr = seg->mem + PLKV_SEG_KHDR_OFF;

	lockdep_assert_held(&seg->lock);
	WRITE_ONCE(seg->death_gen, seg->death_gen + 1);
	WRITE_ONCE(khdr->death_gen, seg->death_gen);
	wake_up_interruptible_poll(&seg->poll_wq, EPOLLPRI);
}

/* Claims held by proc go back to DEAD; true if there were any. */
static bool plkv_revert_claims(struct plkv_seg *seg, struct plkv_proc *proc)
{
	struct plkv_proc *p;
	bool any = false;

	list_for_each_entry(p, &seg->procs, node) {
		if (p->state == PLKV_PROC_RECOVERING && p->claimer == proc) {
			p->state = PLKV_PROC_DEAD;
			p->claimer = NULL;
			any = true;
		}
	}
	return any;
}

void plkv_proc_died(struct plkv_seg *seg, struct plkv_proc *proc)
{
	lockdep_assert_held(&seg->lock);
	if (proc->state != PLKV_PROC_ATTACHED)
		return;
	proc->state = PLKV_PROC_DEAD;
	plkv_futex_owner_died(seg, proc->slots);
	plkv_revert_claims(seg, proc);
	plkv_death_event(seg);
}

/* The fd is going away: a record still attached through it has died. */
void plkv_proc_release(struct plkv_file *pf)
{
	struct plkv_seg *seg = pf->seg;
	struct plkv_proc *proc;

	mutex_lock(&seg->lock);
	proc = pf->proc;
	if (proc) {
		plkv_proc_died(seg, proc);
		proc->file = NULL;
		pf->proc = NULL;
	}
	mutex_unlock(&seg->lock);
}

/* Drop a record from its segment: the caller has checked it may go. */
static void plkv_proc_drop(struct plkv_seg *seg, struct plkv_proc *proc)
{
	lockdep_assert_held(&seg->lock);
	bitmap_andnot(seg->slots, seg->slots, proc->slots, PLKV_MAX_THREADS);
	list_del(&proc->node);
	seg->nprocs--;
	if (proc->file)
		proc->file->proc = NULL;
	plkv_proc_free(proc);
}

int plkv_detach_locked(struct plkv_file *pf)
{
	struct plkv_seg *seg = pf->seg;
	struct plkv_proc *proc = plkv_my_proc(pf);

	if (!proc)
		return -ENOTCONN;
	/* A clean detach holds no locks: else the slots could be reused. */
	if (plkv_futex_owned(seg, proc->slots))
		return -EBUSY;
	if (plkv_revert_claims(seg, proc))
		plkv_death_event(seg);
	plkv_proc_drop(seg, proc);
	return 0;
}

int plkv_ioc_detach(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_detach d;
	struct plkv_seg *seg;
	int ret;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (d.flags || d.pad || !plkv_zeroed(d.reserved))
		return -EINVAL;
	seg = plkv_file_seg(pf);
	if (!seg)
		return -ENOTCONN;
	mutex_lock(&seg->lock);
	ret = plkv_detach_locked(pf);
	mutex_unlock(&seg->lock);
	return ret;
}

static void plkv_proc_fill_info(struct plkv_proc *proc,
				struct plkv_proc_info *pi,
				struct pid_namespace *ns)
{
	memset(pi, 0, sizeof(*pi));
	pi->tgid = pid_nr_ns(proc->pid, ns);
	pi->state = proc->state;
	pi->start_time = proc->start_time;
	pi->pkey = proc->pkey;
	if (proc->claimer)
		pi->recoverer = pid_nr_ns(proc->claimer->pid, ns);
	bitmap_to_arr64(pi->slots, proc->slots, PLKV_MAX_THREADS);
}

int plkv_ioc_list_procs(struct plkv_file *pf, void __user *uarg)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct plkv_proc_info *buf = NULL;
	struct plkv_proc *proc;
	struct plkv_seg *seg;
	struct plkv_list l;
	u32 n = 0, filled = 0;
	int ret;

	if (copy_from_user(&l, uarg, sizeof(l)))
		return -EFAULT;
	if (!plkv_zeroed(l.reserved))
		return -EINVAL;
	ret = plkv_seg_get_by_name(pf, l.name, 0004, &seg);
	if (ret)
		return ret;

	mutex_lock(&seg->lock);
	if (l.capacity && seg->nprocs) {
		buf = kvcalloc(min(l.capacity, seg->nprocs), sizeof(*buf),
			       GFP_KERNEL);
		if (!buf) {
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	list_for_each_entry(proc, &seg->procs, node) {
		if (buf && n < l.capacity)
			plkv_proc_fill_info(proc, &buf[filled++], ns);
		n++;
	}
out_unlock:
	mutex_unlock(&seg->lock);
	plkv_seg_put(seg);
	if (ret)
		return ret;

	l.count = n;
	return plkv_list_copy_out(uarg, &l, buf, filled, sizeof(*buf));
}

/*
 * The oldest record of tgid (as the caller's pid namespace sees it), or
 * exactly the one with that start time when start_time is not 0.
 */
static struct plkv_proc *plkv_proc_lookup(struct plkv_seg *seg, u32 tgid,
					  u64 start_time)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct plkv_proc *proc;

	list_for_each_entry(proc, &seg->procs, node)
		if (pid_nr_ns(proc->pid, ns) == tgid &&
		    (!start_time || proc->start_time == start_time))
			return proc;
	return NULL;
}

static int plkv_reap_locked(struct plkv_seg *seg, struct plkv_proc *me,
			    struct plkv_reap *r)
{
	struct plkv_proc *proc;

	proc = plkv_proc_lookup(seg, r->tgid, r->start_time);
	if (!proc)
		return -ENOENT;

	if (r->flags & PLKV_REAP_CLAIM) {
		if (proc->state == PLKV_PROC_ATTACHED)
			return -EBUSY;
		if (proc->state == PLKV_PROC_RECOVERING)
			return -EALREADY;
		proc->state = PLKV_PROC_RECOVERING;
		proc->claimer = me;
		return 0;
	}
	if (r->flags & PLKV_REAP_UNCLAIM) {
		if (proc->state != PLKV_PROC_RECOVERING || proc->claimer != me)
			return -EPERM;
		proc->state = PLKV_PROC_DEAD;
		proc->claimer = NULL;
		plkv_death_event(seg);	/* let another survivor claim it */
		return 0;
	}
	/*
	 * A record goes only once the recovery it exists for is done: the
	 * process that claimed it (and so recovered it) drops it.  A dead,
	 * unclaimed record dropped by anyone else would lose the dead
	 * process's half-done operation and leak what it held.
	 */
	if (proc->state != PLKV_PROC_RECOVERING || !me || proc->claimer != me)
		return -EBUSY;
	plkv_proc_drop(seg, proc);
	return 0;
}

int plkv_ioc_reap(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_proc *me = NULL;
	struct plkv_seg *seg;
	struct plkv_reap r;
	int ret;

	if (copy_from_user(&r, uarg, sizeof(r)))
		return -EFAULT;
	if (!r.tgid || r.flags & ~(PLKV_REAP_CLAIM | PLKV_REAP_UNCLAIM) ||
	    r.flags == (PLKV_REAP_CLAIM | PLKV_REAP_UNCLAIM) ||
	    !plkv_zeroed(r.reserved))
		return -EINVAL;
	ret = plkv_seg_get_by_name(pf, r.name, 0006, &seg);
	if (ret)
		return ret;

	mutex_lock(&seg->lock);
	/* A claim belongs to a live record of the same segment. */
	if (plkv_file_seg(pf) == seg)
		me = plkv_my_proc(pf);
	if (!me && r.flags)
		ret = -ENOTCONN;
	else
		ret = plkv_reap_locked(seg, me, &r);
	mutex_unlock(&seg->lock);
	plkv_seg_put(seg);
	return ret;
}

int plkv_ioc_thread_reg(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_thread t;
	struct plkv_proc *proc;
	struct plkv_seg *seg;
	unsigned int slot, end;
	bool recovery;
	int ret = 0;

	if (copy_from_user(&t, uarg, sizeof(t)))
		return -EFAULT;
	if ((t.flags & ~PLKV_THREAD_F_RECOVERY) || !plkv_zeroed(t.reserved))
		return -EINVAL;
	recovery = t.flags & PLKV_THREAD_F_RECOVERY;
	seg = plkv_file_seg(pf);
	if (!seg)
		return -ENOTCONN;
	/* Probe the copy-out first: a lost slot number is a leaked slot. */
	if (copy_to_user(uarg, &t, sizeof(t)))
		return -EFAULT;

	mutex_lock(&seg->lock);
	proc = plkv_my_proc(pf);
	if (!proc) {
		ret = -ENOTCONN;
		goto out_unlock;
	}
	/*
	 * No process may take every slot, and the recovery slots only for a
	 * while (the library gives one back when its recovery is done).
	 */
	if (recovery) {
		slot = find_next_zero_bit(seg->slots, PLKV_MAX_THREADS,
					  PLKV_FIRST_RECOVERY_SLOT);
		end = PLKV_MAX_THREADS;
	} else if (bitmap_weight(proc->slots, PLKV_MAX_THREADS) >=
		   PLKV_MAX_THREADS_PER_PROC) {
		ret = -EUSERS;
		goto out_unlock;
	} else {
		slot = find_next_zero_bit(seg->slots, PLKV_FIRST_RECOVERY_SLOT,
					  1);
		end = PLKV_FIRST_RECOVERY_SLOT;
	}
	if (slot >= end) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	__set_bit(slot, seg->slots);
	__set_bit(slot, proc->slots);
out_unlock:
	mutex_unlock(&seg->lock);
	if (ret)
		return ret;

	t.slot = slot;
	if (copy_to_user(uarg, &t, sizeof(t))) {
		mutex_lock(&seg->lock);
		if (pf->proc == proc) {
			__clear_bit(slot, seg->slots);
			__clear_bit(slot, proc->slots);
		}
		mutex_unlock(&seg->lock);
		return -EFAULT;
	}
	return 0;
}

int plkv_ioc_thread_unreg(struct plkv_file *pf, void __user *uarg)
{
	DECLARE_BITMAP(one, PLKV_MAX_THREADS);
	struct plkv_thread t;
	struct plkv_proc *proc;
	struct plkv_seg *seg;
	int ret = 0;

	if (copy_from_user(&t, uarg, sizeof(t)))
		return -EFAULT;
	if (t.flags || !plkv_zeroed(t.reserved) ||
	    !t.slot || t.slot >= PLKV_MAX_THREADS)
		return -EINVAL;
	seg = plkv_file_seg(pf);
	if (!seg)
		return -ENOTCONN;

	bitmap_zero(one, PLKV_MAX_THREADS);
	__set_bit(t.slot, one);
	mutex_lock(&seg->lock);
	proc = plkv_my_proc(pf);
	if (!proc) {
		ret = -ENOTCONN;
	} else if (!test_bit(t.slot, proc->slots)) {
		ret = -EINVAL;
	} else if (plkv_futex_owned(seg, one)) {
		ret = -EBUSY;
	} else {
		__clear_bit(t.slot, seg->slots);
		__clear_bit(t.slot, proc->slots);
	}
	mutex_unlock(&seg->lock);
	return ret;
}

int plkv_ioc_ack(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_ack a;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.pad || !plkv_zeroed(a.reserved))
		return -EINVAL;
	if (!plkv_file_seg(pf))
		return -ENOTCONN;
	WRITE_ONCE(pf->acked_gen, a.death_gen);
	return 0;
}

/*
 * EPOLLPRI while the segment's death generation differs from the one this
 * fd acknowledged (0 at attach, so deaths before the attach show up too).
 * An fd that is not attached reports EPOLLERR.
 */
__poll_t plkv_proc_poll(struct file *file, struct poll_table_struct *wait)
{
	struct plkv_file *pf = file->private_data;
	struct plkv_seg *seg = plkv_file_seg(pf);

	if (!seg)
		return EPOLLERR;
	poll_wait(file, &seg->poll_wq, wait);
	if (READ_ONCE(seg->death_gen) != READ_ONCE(pf->acked_gen))
		return EPOLLPRI;
	return 0;
}
