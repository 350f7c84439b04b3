// SPDX-License-Identifier: GPL-2.0
/*
 * Segment futexes: the slow path of the library's lock words.
 *
 * Why not futex(2): the segment is a VM_PFNMAP mapping so that no
 * get_user_pages() path reaches it, and futex(2) keys a word by its page,
 * which it finds with get_user_pages(): it fails with EFAULT there.  So the
 * module keys waiters by segment offset instead, which also makes a word's
 * key the same in every process whatever address it maps the segment at.
 *
 * The scheme is futex(2)'s: waiters hash by offset into a few buckets, each
 * a spinlock and a list.  WAIT reads the word under the bucket lock and
 * enqueues before dropping it; a waker changes the word first and then takes
 * the same lock to scan.  Either the waiter's read comes after the waker's
 * unlock (and sees the new value: EAGAIN), or the waker's scan comes after
 * the waiter's unlock (and finds it queued), so no wakeup is lost.  A waiter
 * only leaves the queue under the bucket lock, which keeps its on-stack
 * entry and its task alive while a waker holds it.  A waiter that was
 * woken reports success even if a signal or its timeout came too: the
 * waker counted it, and reporting an error would lose that wakeup.
 *
 * When a process dies, every lock word whose owner field names one of its
 * thread slots gets OWNER_DIED (a compare-and-swap, as userspace updates
 * the words concurrently through its own mappings) and all its waiters are
 * woken, so the next acquirer recovers before trusting the data.
 */
#include "plkv_internal.h"

#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

struct plkv_waiter {
	struct list_head node;		/* in hb->waiters while queued */
	struct task_struct *task;
	u32 off;
	bool woken;
};

static struct plkv_hb *plkv_hb(struct plkv_seg *seg, u32 off)
{
	return &seg->hb[hash_32(off, PLKV_HASH_BITS)];
}

static u32 *plkv_word(struct plkv_seg *seg, u32 off)
{
	return seg->mem + off;
}

/* A 32-bit word inside the lock table. */
static bool plkv_off_valid(u64 off)
{
	return off >= PLKV_LOCK_TABLE_OFF &&
	       off <= PLKV_LOCK_TABLE_OFF + PLKV_LOCK_TABLE_SIZE - sizeof(u32) &&
	       IS_ALIGNED(off, sizeof(u32));
}

static u32 plkv_lock_off(unsigned int i)
{
	return PLKV_LOCK_TABLE_OFF + i * PLKV_LOCK_STRIDE;
}

/* The slot named by a lock word, if it is one of slots. */
static bool plkv_owned_by(u32 val, const unsigned long *slots)
{
	u32 owner = val & PLKV_LOCK_OWNER_MASK;

	return owner && owner < PLKV_MAX_THREADS && test_bit(owner, slots);
}

static unsigned int plkv_wake_off(struct plkv_seg *seg, u32 off,
				  unsigned int count)
{
	struct plkv_hb *hb = plkv_hb(seg, off);
	struct plkv_waiter *w, *tmp;
	unsigned int woken = 0;

	spin_lock(&hb->lock);
	list_for_each_entry_safe(w, tmp, &hb->waiters, node) {
		if (woken >= count)
			break;
		if (w->off != off)
			continue;
		list_del_init(&w->node);
		w->woken = true;
		wake_up_process(w->task);
		woken++;
	}
	spin_unlock(&hb->lock);
	return woken;
}

static int plkv_wait_off(struct plkv_seg *seg, u32 off, u32 expected,
			 s64 timeout_ns)
{
	struct plkv_hb *hb = plkv_hb(seg, off);
	struct plkv_waiter w = { .task = current, .off = off };
	ktime_t expires;
	int left = 1;
	int ret;

	spin_lock(&hb->lock);
	if (READ_ONCE(*plkv_word(seg, off)) != expected) {
		spin_unlock(&hb->lock);
		return -EAGAIN;
	}
	if (!timeout_ns) {
		spin_unlock(&hb->lock);
		return -ETIMEDOUT;
	}
	list_add_tail(&w.node, &hb->waiters);
	set_current_state(TASK_INTERRUPTIBLE);
	spin_unlock(&hb->lock);

	if (timeout_ns < 0) {
		schedule();
	} else {
		expires = ns_to_ktime(timeout_ns);
		left = schedule_hrtimeout_range(&expires,
						current->timer_slack_ns,
						HRTIMER_MODE_REL);
	}
	__set_current_state(TASK_RUNNING);

	spin_lock(&hb->lock);
	if (w.woken) {
		ret = 0;
	} else {
		list_del(&w.node);
		if (signal_pending(current))
			ret = -EINTR;
		else if (!left)
			ret = -ETIMEDOUT;
		else
			ret = 0;	/* spurious wakeup: allowed */
	}
	spin_unlock(&hb->lock);
	return ret;
}

/* True if any lock word is owned by one of slots. */
bool plkv_futex_owned(struct plkv_seg *seg, const unsigned long *slots)
{
	unsigned int i;

	for (i = 0; i < PLKV_LOCK_COUNT; i++)
		if (plkv_owned_by(READ_ONCE(*plkv_word(seg, plkv_lock_off(i))),
				  slots))
			return true;
	return false;
}

void plkv_futex_owner_died(struct plkv_seg *seg, const unsigned long *slots)
{
	unsigned int i, tries;

	lockdep_assert_held(&seg->lock);
	if (bitmap_empty(slots, PLKV_MAX_THREADS))
		return;
	for (i = 0; i < PLKV_LOCK_COUNT; i++) {
		u32 off = plkv_lock_off(i);
		u32 *word = plkv_word(seg, off);
		u32 old = READ_ONCE(*word);
		bool marked = false;

		/*
		 * Bounded: a process that rewrites the word in a loop only
		 * stops its own recovery, and must not stall the kernel.
		 */
		for (tries = 0; tries < 100; tries++) {
			if (!plkv_owned_by(old, slots) ||
			    (old & PLKV_LOCK_OWNER_DIED))
				break;
			if (try_cmpxchg(word, &old, old | PLKV_LOCK_OWNER_DIED)) {
				marked = true;
				break;
			}
		}
		if (marked)
			plkv_wake_off(seg, off, UINT_MAX);
	}
}

int plkv_ioc_wait(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_seg *seg = plkv_file_seg(pf);
	struct plkv_wait w;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	if (w.flags || !plkv_zeroed(w.reserved) || !plkv_off_valid(w.offset))
		return -EINVAL;
	if (!seg)
		return -ENOTCONN;
	return plkv_wait_off(seg, w.offset, w.expected, w.timeout_ns);
}

int plkv_ioc_wake(struct plkv_file *pf, void __user *uarg)
{
	struct plkv_seg *seg = plkv_file_seg(pf);
	struct plkv_wake w;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	if (!plkv_zeroed(w.reserved) || !plkv_off_valid(w.offset))
		return -EINVAL;
	if (!seg)
		return -ENOTCONN;
	w.woken = plkv_wake_off(seg, w.offset, w.count);
	if (copy_to_user(uarg, &w, sizeof(w)))
		return -EFAULT;
	return 0;
}
