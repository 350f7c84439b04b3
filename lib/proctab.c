/* SPDX-License-Identifier: MIT */
/*
 * The segment's process table: one record per attached process, kept by
 * the library on both backends (the user backend's only record of who is
 * attached; beside the module's own on the kmod backend, for plkvctl's
 * stray-WRPKRU count).  Below open (which adds our record) and
 * recovery (which drops a dead one's); the user backend reads it for liveness
 * through plkv_proc_table() (backend.h).  It calls only the lock words.
 */
#include <stdatomic.h>

#include "backend.h"

/* Our record in the segment's process table (both backends keep one). */
int plkv_proc_rec_add(struct plkv *kv, struct plkv_ctx *ctx)
{
	struct plkv_proc_rec *tab = plkv_proc_table(kv);
	int i, rc = -ENOSPC;

	plkv_lock(ctx, PLKV_LOCK_PROCS);
	for (i = 0; i < PLKV_MAX_PROCS; i++) {
		struct plkv_proc_rec *r = &tab[i];

		if (r->state)
			continue;
		r->pid = kv->pid;
		r->start_time = kv->start_time;
		r->pkey = kv->pkey;
		r->wrpkru_found = kv->wrpkru_found;
		r->recoverer = 0;
		atomic_store((_Atomic uint32_t *)&r->state, PLKV_PROC_ATTACHED);
		kv->proc_index = i;
		rc = 0;
		break;
	}
	plkv_unlock(ctx, PLKV_LOCK_PROCS);
	return rc;
}

void plkv_proc_rec_del(struct plkv *kv, struct plkv_ctx *ctx, uint32_t pid)
{
	struct plkv_proc_rec *tab = plkv_proc_table(kv);
	int i;

	/* A reap that frees the record itself has done it. */
	if (kv->ops->reap_frees_rec && pid != kv->pid)
		return;
	plkv_lock(ctx, PLKV_LOCK_PROCS);
	for (i = 0; i < PLKV_MAX_PROCS; i++)
		if (tab[i].state && tab[i].pid == pid)
			atomic_store((_Atomic uint32_t *)&tab[i].state, 0);
	plkv_unlock(ctx, PLKV_LOCK_PROCS);
}
