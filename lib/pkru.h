/* SPDX-License-Identifier: MIT */
/* The thread's rights to the segment's key (pkru.c). */
#ifndef PLKV_PKRU_H
#define PLKV_PKRU_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

struct plkv;

/* Grant / revoke the key, without the rest of the gate (open, close). */
PLKV_HIDDEN void plkv_gate_open(struct plkv *kv);
PLKV_HIDDEN void plkv_gate_close(struct plkv *kv);
/* Around a system call inside a call: the key is dropped for its length. */
PLKV_HIDDEN bool plkv_gate_suspend(struct plkv *kv);
PLKV_HIDDEN void plkv_gate_resume(struct plkv *kv, bool granted);
/* malloc and free may make a system call (brk, mmap, munmap). */
PLKV_HIDDEN void *plkv_gate_calloc(struct plkv *kv, size_t n, size_t size);
PLKV_HIDDEN void *plkv_gate_realloc(struct plkv *kv, void *p, size_t size);
PLKV_HIDDEN void plkv_gate_free(struct plkv *kv, void *p);

#endif /* PLKV_PKRU_H */
