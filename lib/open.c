/* SPDX-License-Identifier: MIT */
/*
 * Opening a store: pick the backend, create or attach the segment, and
 * either format it (the creator, exactly one process: the backend's
 * exclusive create decides) or wait for its creator to finish and check
 * the format.  The library header's state word goes EMPTY -> INITIALIZING
 * -> READY; an opener that finds INITIALIZING with the creator dead
 * reports a broken segment instead of waiting forever.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "calls.h"
#include "fmt.h"

#define MIB (1024ULL * 1024)
#define OPEN_WAIT_MS 5000

_Static_assert(sizeof(struct plkv_hdr) <= 4096, "library header too large");
_Static_assert(sizeof(struct plkv_seg_khdr) == 64, "khdr ABI size");

PLKV_API void plkv_options_init(struct plkv_options *o)
{
	memset(o, 0, sizeof(*o));
	o->flags = PLKV_O_CREATE;
	o->backend = PLKV_BACKEND_AUTO;
	o->mem_limit = 64 * MIB;
	o->item_size_max = 1 * MIB;
	o->hash_power = 16;
	o->growth_factor = 1.25;
	o->chunk_min = 48;
	o->mode = 0600;
}

static int resolve_backend(int want)
{
	const char *env = getenv("PLKV_BACKEND");

	if (want == PLKV_BACKEND_USER || want == PLKV_BACKEND_KMOD)
		return want;
	if (want != PLKV_BACKEND_AUTO)
		return -EINVAL;
	if (env && *env) {
		if (!strcmp(env, "user"))
			return PLKV_BACKEND_USER;
		if (!strcmp(env, "kmod"))
			return PLKV_BACKEND_KMOD;
		return -EINVAL;
	}
	return access(PLKV_DEVICE, F_OK) == 0 ? PLKV_BACKEND_KMOD :
						 PLKV_BACKEND_USER;
}

static const struct plkv_backend_ops *backend_ops(int backend)
{
	return backend == PLKV_BACKEND_KMOD ? &plkv_backend_kmod :
					      &plkv_backend_user;
}

PLKV_API const char *plkv_segment_name(const char *name)
{
	const char *env = getenv("PLKV_SEGMENT");

	if (name)
		return name;
	return env && *env ? env : "plkv";
}

/* Library regions after the lock table, page aligned; then the engine. */
static uint64_t core_size(void)
{
	uint64_t sz = 4096 +
		      (uint64_t)PLKV_MAX_THREADS * sizeof(struct plkv_slot) +
		      (uint64_t)PLKV_MAX_PROCS * sizeof(struct plkv_proc_rec);

	return PLKV_SEG_LIB_OFF + ((sz + 4095) & ~4095ULL);
}

/* Sizes in the unit that shows them best, for messages. */
static const char *size_str(char *buf, size_t cap, uint64_t v)
{
	static const char unit[] = "KMGTPE";
	int u = -1;

	while (v >= 1024 && !(v % 1024) && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, cap, "%llu bytes", (unsigned long long)v);
	else
		snprintf(buf, cap, "%llu %ciB", (unsigned long long)v, unit[u]);
	return buf;
}

int plkv_options_check(const struct plkv_options *o, char *msg, size_t cap)
{
	char a[32], b[32], c[32];
	char scratch[1];

	if (!msg) {
		msg = scratch;
		cap = sizeof(scratch);
	}
	if (!o) {
		snprintf(msg, cap, "no options");
		return -EINVAL;
	}
	if (o->mem_limit < PLKV_MEM_LIMIT_MIN ||
	    o->mem_limit > PLKV_MEM_LIMIT_MAX)
		snprintf(msg, cap, "memory limit %s: must be %s to %s",
			 size_str(a, sizeof(a), o->mem_limit),
			 size_str(b, sizeof(b), PLKV_MEM_LIMIT_MIN),
			 size_str(c, sizeof(c), PLKV_MEM_LIMIT_MAX));
	else if (o->item_size_max < PLKV_ITEM_SIZE_MIN ||
		 o->item_size_max > PLKV_ITEM_SIZE_MAX ||
		 o->item_size_max > o->mem_limit / 2)
		snprintf(msg, cap, "item size limit %s: must be %s to %s, "
			 "and at most half the memory limit",
			 size_str(a, sizeof(a), o->item_size_max),
			 size_str(b, sizeof(b), PLKV_ITEM_SIZE_MIN),
			 size_str(c, sizeof(c), PLKV_ITEM_SIZE_MAX));
	else if (!(o->growth_factor >= PLKV_GROWTH_MIN &&
		   o->growth_factor <= PLKV_GROWTH_MAX))
		snprintf(msg, cap, "growth factor %g: must be %g to %g",
			 o->growth_factor, PLKV_GROWTH_MIN, PLKV_GROWTH_MAX);
	else if (o->hash_power < PLKV_HASH_POWER_MIN ||
		 o->hash_power > PLKV_HASH_POWER_MAX)
		snprintf(msg, cap, "hash power %u: must be %u to %u",
			 o->hash_power, PLKV_HASH_POWER_MIN,
			 PLKV_HASH_POWER_MAX);
	else if (o->chunk_min < PLKV_CHUNK_MIN_MIN ||
		 o->chunk_min > PLKV_CHUNK_MIN_MAX)
		snprintf(msg, cap, "smallest chunk %u bytes: must be %u to %u",
			 o->chunk_min, PLKV_CHUNK_MIN_MIN, PLKV_CHUNK_MIN_MAX);
	else if (o->mode & ~0777u)
		snprintf(msg, cap, "mode %o: only permission bits (0777)",
			 o->mode);
	else
		return 0;
	return -EINVAL;
}

static uint64_t procs_offset(uint64_t slots_off)
{
	return slots_off + (uint64_t)PLKV_MAX_THREADS *
			   sizeof(struct plkv_slot);
}

static void format_header(struct plkv *kv, const struct plkv_options *o,
			  int64_t now)
{
	struct plkv_hdr *h = kv->hdr;
	struct plkv_seg_khdr *k = kv->khdr;

	if (kv->ops->formats_khdr) {	/* else the module does its own */
		k->magic = PLKV_SEG_KHDR_MAGIC;
		k->abi_version = PLKV_ABI_VERSION;
		k->size = kv->size;
	}
	h->magic = PLKV_HDR_MAGIC;
	h->format_version = PLKV_FORMAT_VERSION;
	h->init_pid = kv->pid;
	h->size = kv->size;
	h->created = (uint64_t)now;
	h->mem_limit = o->mem_limit;
	h->item_size_max = o->item_size_max;
	h->chunk_min = o->chunk_min;
	h->growth_factor = o->growth_factor;
	h->hash_power_init = o->hash_power;
	h->no_evict = !!(o->flags & PLKV_O_NO_EVICT);
	h->slots_off = PLKV_SLOTS_OFF;
	h->procs_off = procs_offset(h->slots_off);
	h->engine_off = core_size();
	h->engine_size = kv->size - h->engine_off;
}

/*
 * What the open's gate found that the code outside it acts on: the C
 * library's functions (a sleep, a message's formatting, a process's
 * liveness) may be the client's own, so none of them runs with the key
 * granted (mem.h); the gate reports, and the open acts after it.
 */
struct open_found {
	uint32_t state;		/* a header still being made: its state */
	uint32_t init_pid;	/* ... and its maker */
	const char *field;	/* a header field holding what it must not */
	uint64_t got, want;
};

/* open_attach()'s answer for a header that is not ready yet */
#define OPEN_NOT_READY	1

/* Handles opened in this process: each gets the next as its id. */
static uint64_t open_count;

/* PLKV_EBADSEG, with which header field holds what instead of what. */
static int bad_field(struct open_found *f, const char *field, uint64_t got,
		     uint64_t want)
{
	f->field = field;
	f->got = got;
	f->want = want;
	return PLKV_EBADSEG;
}

/*
 * The segment's headers, before anything in them is used: whoever could
 * write the segment may have put any value there, so each offset and size
 * must be exactly what this library's format puts there.
 */
static int validate(struct plkv *kv, struct open_found *f)
{
	struct plkv_hdr *h = kv->hdr;
	uint64_t slots_off = PLKV_SLOTS_OFF;

	if (kv->khdr->magic != PLKV_SEG_KHDR_MAGIC)
		return bad_field(f, "khdr.magic", kv->khdr->magic,
				 PLKV_SEG_KHDR_MAGIC);
	if (h->magic != PLKV_HDR_MAGIC)
		return bad_field(f, "magic", h->magic, PLKV_HDR_MAGIC);
	if (h->format_version != PLKV_FORMAT_VERSION)
		return PLKV_EVERSION;
	if (h->size != kv->size)
		return bad_field(f, "size", h->size, kv->size);
	if (h->slots_off != slots_off)
		return bad_field(f, "slots_off", h->slots_off, slots_off);
	if (h->procs_off != procs_offset(slots_off))
		return bad_field(f, "procs_off", h->procs_off,
				 procs_offset(slots_off));
	if (h->engine_off != core_size())
		return bad_field(f, "engine_off", h->engine_off,
				 core_size());
	if (h->engine_size != h->size - h->engine_off)
		return bad_field(f, "engine_size", h->engine_size,
				 h->size - h->engine_off);
	return 0;
}

/*
 * The open's gate: the handle's backend table, then the headers made
 * (created, at second now) or checked, and the engine attached.  A
 * header another process is still making is reported (OPEN_NOT_READY),
 * for the open to wait outside.
 */
int plkv_open_attach__impl(struct plkv *kv, const struct plkv_options *opts,
			   int created, int64_t now, struct open_found *f)
{
	uint32_t st;
	int rc = 0;

	kv = plkv_gate_open(kv);
	/* what a jump to the grant would bring for them: checked after */
	PLKV_AFTER_GRANT2(opts, f);
	if (!plkv_outside_window(f, sizeof(*f)) ||
	    !plkv_outside_window(opts, sizeof(*opts))) {
		plkv_gate_close(kv);
		return -EFAULT;
	}
	if (plkv_kv_protected(kv)) {	/* publish() takes no table */
		kv->backend = PLKV_BACKEND_KMOD;
		kv->ops = &plkv_backend_kmod;
		kv->polls_liveness = kv->ops->polls_liveness;
	}
	kv->strict = kv->khdr->flags & PLKV_SEG_F_STRICT;
	if (created) {
		atomic_store((_Atomic uint32_t *)&kv->hdr->state,
			     PLKV_HDR_INITIALIZING);
		format_header(kv, opts, now);
		kv->engine = kv->base + kv->hdr->engine_off;
		rc = plkv_engine_format(kv, opts);
		if (!rc)
			atomic_store((_Atomic uint32_t *)&kv->hdr->state,
				     PLKV_HDR_READY);
	} else {
		st = atomic_load((_Atomic uint32_t *)&kv->hdr->state);
		if (st != PLKV_HDR_READY) {
			f->state = st;
			f->init_pid = kv->hdr->init_pid;
			rc = OPEN_NOT_READY;
		}
		if (!rc)
			rc = validate(kv, f);
		if (!rc) {
			kv->engine = kv->base + kv->hdr->engine_off;
			rc = plkv_engine_attach(kv);
		}
	}
	/* The module stops new code; old code's sites it watches, or if it
	 * cannot, the stray ones this process found are refused here. */
	if (!rc && kv->strict && kv->wrpkru_found && !kv->sites_watched)
		rc = PLKV_EWRPKRU;
	/* A strict store's calls, and so all of the process's that grant,
	 * run on call stacks from here on (calls.S) */
	if (!rc && kv->strict && plkv_kv_protected(kv))
		plkv_trust_own_calls();
	plkv_gate_close(kv);
	return rc;
}

/* open_attach(), waiting (outside the gate) for a header another
 * process is still making, as long as that process lives. */
static int open_attach_ready(struct plkv *kv, const struct plkv_options *opts,
			     bool created)
{
	int64_t now = (int64_t)time(NULL);
	struct open_found f;
	int rc, ms;

	for (ms = 0;; ms++) {
		memset(&f, 0, sizeof(f));
		rc = plkv_open_attach(kv, opts, created, now, &f);
		if (rc != OPEN_NOT_READY)
			break;
		if (ms >= OPEN_WAIT_MS ||
		    (f.state == PLKV_HDR_INITIALIZING &&
		     !plkv_pid_alive(f.init_pid, 0)))
			return PLKV_EBADSEG;
		usleep(1000);
	}
	if (rc == PLKV_EBADSEG && f.field)
		plkv_set_open_error("header field %s is %#" PRIx64
				    ", expected %#" PRIx64, f.field, f.got,
				    f.want);
	return rc;
}

/*
 * Another user's store is refused unless the caller trusts it: whoever
 * created the name controls every byte the caller will read (name
 * squatting).  Root's stores are trusted: root can do anything anyway.
 */
static int check_owner(const struct plkv *kv, unsigned flags)
{
	uid_t me = geteuid();

	if ((flags & PLKV_O_ANY_OWNER) || kv->owner_uid == me ||
	    kv->owner_uid == 0)
		return 0;
	plkv_set_open_error("store '%s' is owned by uid %u, you are uid %u",
			    kv->name, kv->owner_uid, (unsigned)me);
	return PLKV_EOWNER;
}

/*
 * A protected store's handle moves into the trust region (trust.c) once
 * the segment is mapped and sealed, before anything of the segment is
 * read: from then on only code holding the key can change it.
 */
static int publish(struct plkv **kvp)
{
	struct plkv *kv = *kvp, *pub;
	int rc;

	if (kv->pkey <= 0)
		return 0;
	rc = plkv_trust_publish(kv, &pub);
	if (rc)
		return rc;
	free(kv);
	*kvp = pub;
	return 0;
}

/* Back to the heap, for closing: a protected handle's entry is freed. */
static struct plkv *unpublish(struct plkv *kv)
{
	struct plkv *copy;

	if (!plkv_kv_protected(kv))
		return kv;
	copy = malloc(sizeof(*copy));
	if (copy)
		plkv_trust_unpublish(kv, copy);
	return copy;
}

static void kv_free(struct plkv *kv)
{
	if (!kv)
		return;
	if (kv->base)
		kv->ops->close(kv);
	free(kv);
}

/* The process's record in the store (its gate). */
int plkv_open_register__impl(struct plkv *kv)
{
	struct plkv_ctx ctx;
	int rc;

	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	rc = plkv_proc_rec_add(kv, &ctx);
	plkv_leave(&ctx);
	return rc;
}

PLKV_API int plkv_open(const char *name, const struct plkv_options *opts,
		       plkv_t **out)
{
	struct plkv_options defaults;
	struct plkv *kv;
	bool created;
	int rc, backend;

	if (!out)
		return -EINVAL;
	*out = NULL;
	plkv_clear_open_error();
	if (!opts) {
		plkv_options_init(&defaults);
		opts = &defaults;
	}
	name = plkv_segment_name(name);
	if (!plkv_name_valid(name))
		return PLKV_EBADSEG;
	rc = plkv_options_check(opts, NULL, 0);
	if (rc)
		return rc;
	backend = resolve_backend(opts->backend);
	if (backend < 0)
		return backend;
	if ((opts->flags & PLKV_O_STRICT) &&
	    !backend_ops(backend)->enforces_strict)
		return -EOPNOTSUPP;	/* only the module can enforce it */

	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	snprintf(kv->name, sizeof(kv->name), "%s", name);
	kv->backend = backend;
	kv->ops = backend_ops(backend);
	kv->polls_liveness = kv->ops->polls_liveness;
	kv->fd = -1;
	kv->pkey = -1;
	kv->proc_index = -1;
	kv->no_recover = !!(opts->flags & PLKV_O_NO_RECOVER);
	kv->pid = (uint32_t)getpid();
	kv->id = __atomic_add_fetch(&open_count, 1, __ATOMIC_RELAXED);
	kv->start_time = plkv_proc_start_time((pid_t)kv->pid);
	kv->wrpkru_found = plkv_scan_wrpkru();
	if (kv->wrpkru_found && (opts->flags & PLKV_O_REFUSE_WRPKRU)) {
		free(kv);
		return PLKV_EWRPKRU;
	}

	if (!plkv_engine_size(opts)) {	/* no layout fits these options */
		free(kv);
		return -EINVAL;
	}
	rc = kv->ops->open(kv, opts, core_size() + plkv_engine_size(opts),
			   &created);
	if (rc) {
		free(kv);
		return rc;
	}
	rc = created ? 0 : check_owner(kv, opts->flags);
	if (rc) {
		kv->ops->close(kv);
		free(kv);
		return rc;
	}
	kv->khdr = (struct plkv_seg_khdr *)kv->base;
	kv->hdr = (struct plkv_hdr *)(kv->base + PLKV_SEG_LIB_OFF);
	kv->death_gen_seen = ~0u;	/* first call recovers what's pending */
	rc = plkv_tls_init(kv);
	if (rc)
		goto fail;
	rc = publish(&kv);
	if (rc)
		goto fail_tls;

	rc = open_attach_ready(kv, opts, created);
	if (rc)
		goto fail_tls;

	rc = plkv_open_register(kv);
	if (rc)
		goto fail_tls;
	/* What the store gives this process ends up in its memory: out of
	 * reach of its user's other processes (PLKV_O_DUMPABLE). */
	if (plkv_kv_protected(kv) && !(opts->flags & PLKV_O_DUMPABLE))
		prctl(PR_SET_DUMPABLE, 0);
	*out = kv;
	return 0;

fail_tls:
	plkv_tls_fini(kv);
	kv = unpublish(kv);
fail:
	if (created) {
		kv->ops->close(kv);
		kv->ops->destroy(kv->name);
	}
	kv_free(kv);
	return rc;
}

/*
 * Other threads of this process that used the handle keep slots until
 * they exit; at close nobody may be inside a call, so give them back now
 * (their thread-exit destructors won't run once the key is deleted).
 */
static void release_other_slots(struct plkv_ctx *ctx)
{
	struct plkv *kv = ctx->kv;
	uint32_t s, me = kv->pid;

	for (s = 1; s < PLKV_MAX_THREADS; s++) {
		struct plkv_slot *rec = plkv_slot_rec(kv, s);

		if (s == ctx->slot || rec->pid != me ||
		    rec->state != PLKV_SLOT_ACTIVE)
			continue;
		kv->hooks->retire_slot(ctx, s);
		atomic_store((_Atomic uint32_t *)&rec->state, PLKV_SLOT_FREE);
		kv->ops->thread_unregister(kv, s);
	}
}

/* The other threads' slots and the process's record (its gate). */
int plkv_close_release__impl(struct plkv *kv)
{
	struct plkv_ctx ctx;
	int rc = plkv_enter(kv, &ctx);

	if (rc)
		return rc;
	release_other_slots(&ctx);
	plkv_proc_rec_del(kv, &ctx, kv->pid);
	plkv_leave(&ctx);
	return 0;
}

PLKV_API int plkv_close(plkv_t *kv)
{
	if (!kv)
		return -EINVAL;
	/* A forked child holds a copy of the handle but not the mapping
	 * (MADV_DONTFORK; the module maps for the opener only): free the
	 * child's copies and touch nothing of the segment or the parent's
	 * records, so the child can plkv_open() for itself. */
	if (plkv_kv_protected(kv) ? !plkv_trust_mine() :
	    (uint32_t)getpid() != kv->pid) {
		/* (A protected handle's entry is the parent's: the child
		 * has no trust region, so nothing of it to free.) */
		if (!plkv_kv_protected(kv)) {
			plkv_tls_abandon(kv);
			if (kv->fd >= 0)
				close(kv->fd);
			free(kv);
		}
		return 0;
	}
	plkv_close_release(kv);
	plkv_tls_fini(kv);
	kv_free(unpublish(kv));
	return 0;
}

PLKV_API int plkv_destroy(const char *name, int backend)
{
	name = plkv_segment_name(name);
	if (!plkv_name_valid(name))
		return PLKV_EBADSEG;
	backend = resolve_backend(backend);
	if (backend < 0)
		return backend;
	return backend_ops(backend)->destroy(name);
}

PLKV_API int plkv_list(int backend, plkv_seg_fn fn, void *ctx)
{
	int rc = 0;

	if (!fn)
		return -EINVAL;
	if (backend == PLKV_BACKEND_AUTO || backend == PLKV_BACKEND_KMOD) {
		if (access(PLKV_DEVICE, F_OK) == 0)
			rc = plkv_backend_kmod.list(fn, ctx);
		else if (backend == PLKV_BACKEND_KMOD)
			return PLKV_ENOMODULE;
	}
	if (!rc && (backend == PLKV_BACKEND_AUTO ||
		    backend == PLKV_BACKEND_USER))
		rc = plkv_backend_user.list(fn, ctx);
	return rc;
}

PLKV_API int plkv_info(plkv_t *kv, struct plkv_info *info)
{
	struct plkv_ctx ctx;
	struct plkv_hdr *h;
	int rc;

	if (!kv || !info)
		return -EINVAL;
	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	PLKV_AFTER_GRANT1(info);
	if (!plkv_outside_window(info, sizeof(*info))) {
		plkv_leave(&ctx);
		return -EFAULT;
	}
	h = kv->hdr;
	memset(info, 0, sizeof(*info));
	plkv_fmt(info->name, sizeof(info->name), "%s", kv->name);
	info->backend = kv->backend;
	info->protected = kv->pkey > 0;
	info->pkey = kv->pkey > 0 ? kv->pkey : -1;
	info->format_version = h->format_version;
	info->size = kv->size;
	info->mem_limit = h->mem_limit;
	info->item_size_max = h->item_size_max;
	info->growth_factor = h->growth_factor;
	info->hash_power = plkv_engine_hash_power(kv);
	info->no_evict = (int)h->no_evict;
	info->created = h->created;
	info->death_gen = kv->khdr->death_gen;
	info->strict = kv->strict;
	plkv_leave(&ctx);
	return 0;
}

/* The user backend keeps /proc's clock ticks; the API says ns. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	return hz > 0 ? ticks * (1000000000ULL / (uint64_t)hz) : 0;
}

/* The longest call a thread of the process is in (plkv_proc). */
static uint32_t longest_call(struct plkv *kv, const struct plkv_proc_view *v,
			     int64_t now)
{
	uint32_t s, longest = 0;

	for (s = 1; s < PLKV_MAX_THREADS; s++) {
		const struct plkv_slot *sl;
		uint32_t since, d;

		if (!(v->slots[s / 64] & (1ULL << (s % 64))))
			continue;
		sl = plkv_slot_rec(kv, s);
		since = __atomic_load_n(&sl->call_since, __ATOMIC_RELAXED);
		d = (uint32_t)now - since;
		if (since && d < (1u << 31) && d > longest)
			longest = d;
	}
	return longest;
}

/* Recovery on request (plkvctl recover); calls do it as they notice. */
PLKV_API int plkv_recover(plkv_t *kv, unsigned *recovered)
{
	struct plkv_ctx ctx;
	int rc = plkv_enter_kv(kv, &ctx);

	if (rc)
		return rc;
	/* (written after the leave, which on a call stack keeps the key) */
	PLKV_AFTER_GRANT1(recovered);
	if (!plkv_outside_window(recovered, sizeof(*recovered))) {
		plkv_leave(&ctx);
		return -EFAULT;
	}
	rc = plkv_recover_dead(&ctx);
	plkv_leave(&ctx);
	if (rc < 0)
		return rc;
	if (recovered)
		*recovered = (unsigned)rc;
	return 0;
}

/* The attached processes into out[] (their start in the backend's
 * unit), from v[] (both PLKV_MAX_PROCS): how many, or an error. */
int plkv_procs_fill__impl(struct plkv *kv, struct plkv_proc_view *v,
			  struct plkv_proc *out)
{
	struct plkv_proc_rec *tab;
	struct plkv_ctx ctx;
	int n, i, j, rc;

	rc = plkv_enter(kv, &ctx);
	if (rc)
		return rc;
	/* both filled with the key granted */
	PLKV_AFTER_GRANT2(v, out);
	if (!plkv_outside_window(v, PLKV_MAX_PROCS * sizeof(*v)) ||
	    !plkv_outside_window(out, PLKV_MAX_PROCS * sizeof(*out))) {
		plkv_leave(&ctx);
		return -EFAULT;
	}
	n = kv->ops->procs(kv, v, PLKV_MAX_PROCS);
	tab = plkv_proc_table(kv);
	for (i = 0; i < n && i < PLKV_MAX_PROCS; i++) {
		out[i].pid = v[i].pid;
		out[i].start_time = v[i].start_time;
		out[i].state = (int)v[i].state;
		out[i].pkey = v[i].pkey > 0 ? v[i].pkey : -1;
		for (j = 0; j < PLKV_SLOT_WORDS; j++)
			out[i].threads += (uint32_t)
					  __builtin_popcountll(v[i].slots[j]);
		for (j = 0; j < PLKV_MAX_PROCS; j++)
			if (tab[j].state && tab[j].pid == v[i].pid)
				out[i].wrpkru_found = tab[j].wrpkru_found;
		out[i].call_seconds = longest_call(kv, &v[i], ctx.now);
	}
	plkv_leave(&ctx);
	return n;
}

PLKV_API int plkv_procs(plkv_t *kv, plkv_proc_fn fn, void *cb_ctx)
{
	struct plkv_proc_view *v;
	struct plkv_proc *out;
	bool ticks;
	int n, i, rc;

	if (!kv || !fn)
		return -EINVAL;
	ticks = plkv_kv_protected(kv) ? false : kv->ops->start_in_ticks;
	v = calloc(PLKV_MAX_PROCS, sizeof(*v));
	out = calloc(PLKV_MAX_PROCS, sizeof(*out));
	if (!v || !out) {
		free(v);
		free(out);
		return -ENOMEM;
	}
	n = plkv_procs_fill(kv, v, out);
	rc = n < 0 ? n : 0;
	/* Callbacks run outside the gate: they are the caller's code. */
	for (i = 0; !rc && i < n && i < PLKV_MAX_PROCS; i++) {
		if (ticks)	/* (sysconf(), outside the gate too) */
			out[i].start_time = ticks_to_ns(out[i].start_time);
		rc = fn(cb_ctx, &out[i]);
	}
	free(v);
	free(out);
	return rc;
}
