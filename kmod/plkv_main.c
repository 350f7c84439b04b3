// SPDX-License-Identifier: GPL-2.0
/*
 * plkv.ko: shared memory segments for a memcached that runs as a protected
 * library.  This file holds the misc device, the ioctl dispatch and the
 * module's parameters, init and exit.
 *
 * See Documentation/kmod.rst for the ABI and the security model.
 */
#include "plkv_internal.h"

#include <linux/mm.h>

#include <linux/build_bug.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pkeys.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* The ABI's struct sizes: the same on every architecture, 32-bit included. */
static_assert(sizeof(struct plkv_seg_khdr) == 64);
static_assert(sizeof(struct plkv_version) == 56);
static_assert(sizeof(struct plkv_create) == 112);
static_assert(sizeof(struct plkv_attach) == 112);
static_assert(sizeof(struct plkv_detach) == 24);
static_assert(sizeof(struct plkv_destroy) == 88);
static_assert(sizeof(struct plkv_seg_info) == 144);
static_assert(sizeof(struct plkv_list) == 96);
static_assert(sizeof(struct plkv_proc_info) == 168);
static_assert(sizeof(struct plkv_reap) == 96);
static_assert(sizeof(struct plkv_thread) == 24);
static_assert(sizeof(struct plkv_wait) == 40);
static_assert(sizeof(struct plkv_wake) == 32);
static_assert(sizeof(struct plkv_ack) == 24);
static_assert(PLKV_LOCK_COUNT * PLKV_LOCK_STRIDE == PLKV_LOCK_TABLE_SIZE);
static_assert(PLKV_MAX_THREADS - 1 <= PLKV_LOCK_OWNER_MASK);

unsigned long long plkv_default_seg_size = 64ULL << 20;
module_param_named(default_seg_size, plkv_default_seg_size, ullong, 0444);
MODULE_PARM_DESC(default_seg_size, "Segment size when CREATE asks for 0 (bytes, default 64 MiB)");

unsigned long long plkv_max_seg_size = 4ULL << 30;
module_param_named(max_seg_size, plkv_max_seg_size, ullong, 0444);
MODULE_PARM_DESC(max_seg_size, "Largest segment CREATE accepts (bytes, default 4 GiB)");

unsigned int plkv_max_segments = 64;
module_param_named(max_segments, plkv_max_segments, uint, 0444);
MODULE_PARM_DESC(max_segments, "Most segments that may exist at once (default 64)");

unsigned long long plkv_max_user_bytes;
module_param_named(max_user_bytes, plkv_max_user_bytes, ullong, 0444);
MODULE_PARM_DESC(max_user_bytes, "Segment memory one user may hold, destroyed segments still mapped included (bytes, default 0: half of RAM, as tmpfs)");

unsigned int plkv_max_user_segments;
module_param_named(max_user_segments, plkv_max_user_segments, uint, 0444);
MODULE_PARM_DESC(max_user_segments, "Segments one user may hold, destroyed ones still mapped included (default 0: a quarter of max_segments, at least 1)");

/* The per-user limits as they apply (0 in the parameters: see above). */
unsigned long long plkv_user_bytes_limit;
unsigned int plkv_user_segments_limit;

static int plkv_open(struct inode *inode, struct file *file)
{
	struct plkv_file *pf;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	file->private_data = pf;
	return 0;
}

static int plkv_release(struct inode *inode, struct file *file)
{
	struct plkv_file *pf = file->private_data;
	struct plkv_seg *seg = plkv_file_seg(pf);

	if (seg) {
		plkv_proc_release(pf);
		plkv_seg_put(seg);
	}
	kfree(pf);
	return 0;
}

static int plkv_ioc_version(void __user *uarg)
{
	struct plkv_version v;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	if (!plkv_zeroed(v.reserved))
		return -EINVAL;
	v.abi_version = PLKV_ABI_VERSION;
	v.flags = arch_pkeys_enabled() ? PLKV_VERSION_F_PKU : 0;
	if (plkv_guard_active())
		v.flags |= PLKV_VERSION_F_GUARD | PLKV_VERSION_F_WATCH;
	if (plkv_guard_defers())
		v.flags |= PLKV_VERSION_F_DEFER;
	v.flags |= PLKV_VERSION_F_TRUST;
	v.max_seg_size = plkv_max_seg_size;
	v.max_segments = plkv_max_segments;
	v.max_user_bytes = plkv_user_bytes_limit;
	v.max_user_segments = plkv_user_segments_limit;
	if (copy_to_user(uarg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long plkv_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct plkv_file *pf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PLKV_IOC_VERSION:
		return plkv_ioc_version(uarg);
	case PLKV_IOC_CREATE:
		return plkv_ioc_create(pf, uarg);
	case PLKV_IOC_ATTACH:
		return plkv_ioc_attach(pf, uarg);
	case PLKV_IOC_DETACH:
		return plkv_ioc_detach(pf, uarg);
	case PLKV_IOC_DESTROY:
		return plkv_ioc_destroy(pf, uarg);
	case PLKV_IOC_SEG_INFO:
		return plkv_ioc_seg_info(pf, uarg);
	case PLKV_IOC_LIST_SEGS:
		return plkv_ioc_list_segs(pf, uarg);
	case PLKV_IOC_LIST_PROCS:
		return plkv_ioc_list_procs(pf, uarg);
	case PLKV_IOC_REAP:
		return plkv_ioc_reap(pf, uarg);
	case PLKV_IOC_THREAD_REG:
		return plkv_ioc_thread_reg(pf, uarg);
	case PLKV_IOC_THREAD_UNREG:
		return plkv_ioc_thread_unreg(pf, uarg);
	case PLKV_IOC_WAIT:
		return plkv_ioc_wait(pf, uarg);
	case PLKV_IOC_WAKE:
		return plkv_ioc_wake(pf, uarg);
	case PLKV_IOC_ACK:
		return plkv_ioc_ack(pf, uarg);
	case PLKV_IOC_TRUST_CHECK:
		return plkv_ioc_trust_check(pf, uarg);
	}
	return -ENOTTY;
}

static const struct file_operations plkv_fops = {
	.owner		= THIS_MODULE,
	.open		= plkv_open,
	.release	= plkv_release,
	.unlocked_ioctl	= plkv_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= plkv_mmap,
	.poll		= plkv_proc_poll,
	.llseek		= noop_llseek,
};

static struct miscdevice plkv_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "plkv",
	.fops	= &plkv_fops,
	.mode	= 0666,
};

static int __init plkv_init(void)
{
	int ret;

	if (plkv_max_seg_size < PLKV_SEG_MIN_SIZE ||
	    plkv_max_seg_size > (1ULL << 40) ||
	    plkv_default_seg_size < PLKV_SEG_MIN_SIZE ||
	    plkv_default_seg_size > plkv_max_seg_size ||
	    !plkv_max_segments ||
	    (plkv_max_user_bytes && plkv_max_user_bytes < PLKV_SEG_MIN_SIZE)) {
		pr_err("bad parameters: need %u <= default_seg_size <= max_seg_size <= 1 TiB, max_segments >= 1, max_user_bytes 0 or >= %u\n",
		       PLKV_SEG_MIN_SIZE, PLKV_SEG_MIN_SIZE);
		return -EINVAL;
	}
	plkv_user_bytes_limit = plkv_max_user_bytes ?:
		((u64)totalram_pages() << PAGE_SHIFT) / 2;
	plkv_user_segments_limit = plkv_max_user_segments ?:
		max(plkv_max_segments / 4, 1U);
	plkv_guard_init();
	ret = misc_register(&plkv_misc);
	if (ret) {
		pr_err("misc_register: %d\n", ret);
		plkv_guard_exit();
		return ret;
	}
	return 0;
}

static void __exit plkv_exit(void)
{
	misc_deregister(&plkv_misc);
	plkv_guard_exit();
	plkv_seg_destroy_all();
}

module_init(plkv_init);
module_exit(plkv_exit);

MODULE_DESCRIPTION("plkv: shared protected memory segments for memcached as a library");
MODULE_LICENSE("GPL");
