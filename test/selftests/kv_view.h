/*
 * kv_view.h - a test's look at a handle's fields.  A protected store's
 * handle lives in the trust region, which only code holding the key can
 * read: take a copy through the gate.
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

#endif /* PLKV_KV_VIEW_H */
