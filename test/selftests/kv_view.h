/*
 * kv_view.h - a test's look at a handle's fields.  A protected store's
 * handle lives in the trust region, which only code holding the key can
 * read: take a copy through the gate; the same for a lock word.
 */
#ifndef PLKV_KV_VIEW_H
#define PLKV_KV_VIEW_H

#include "core.h"

static inline __attribute__((unused)) struct plkv th_kv(const plkv_t *kv)
{
	struct plkv view;

	plkv_kv_snapshot(kv, &view);
	return view;
}

/* Lock word @idx as it is now, read inside a call (~0: no call). */
static inline __attribute__((unused)) uint32_t th_lock_word(plkv_t *kv,
							   unsigned idx)
{
	struct plkv_ctx ctx;
	uint32_t v;

	if (plkv_enter(kv, &ctx))
		return ~0u;
	v = atomic_load(plkv_lockword(kv, idx));
	plkv_leave(&ctx);
	return v;
}

#endif /* PLKV_KV_VIEW_H */
