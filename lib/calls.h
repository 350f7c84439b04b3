/* SPDX-License-Identifier: MIT */
/*
 * The functions calls.S runs on a call stack in a process that opened a
 * strict store.  Each is reached by its name, which is calls.S's stub;
 * its body is NAME__impl.  A public call's body keeps its C name, with
 * the symbol renamed here (include after plkv.h, before the
 * definitions); calls between such functions go to the bodies, since the
 * caller already runs where they must.  The other functions are called
 * from code on the caller's stack, so their bodies are defined under the
 * __impl name itself and callers use the stub's.
 */
#ifndef PLKV_CALLS_H
#define PLKV_CALLS_H

#include <stdint.h>

#include "plkv.h"
#include "compiler.h"

struct plkv;
struct plkv_tls;
struct plkv_proc_view;
struct plkv_proc;
struct plkv_dump_item;
struct plkv_trust_check;
struct open_found;

#define PLKV_CALL_BODY(name) \
	extern __typeof__(name) name __asm__(#name "__impl")

PLKV_CALL_BODY(plkv_read);
PLKV_CALL_BODY(plkv_get);
PLKV_CALL_BODY(plkv_peek);
PLKV_CALL_BODY(plkv_mget);
PLKV_CALL_BODY(plkv_store);
PLKV_CALL_BODY(plkv_set);
PLKV_CALL_BODY(plkv_add);
PLKV_CALL_BODY(plkv_replace);
PLKV_CALL_BODY(plkv_append);
PLKV_CALL_BODY(plkv_prepend);
PLKV_CALL_BODY(plkv_cas);
PLKV_CALL_BODY(plkv_arith);
PLKV_CALL_BODY(plkv_delete);
PLKV_CALL_BODY(plkv_delete_cas);
PLKV_CALL_BODY(plkv_delete_ex);
PLKV_CALL_BODY(plkv_touch);
PLKV_CALL_BODY(plkv_flush_all);
PLKV_CALL_BODY(plkv_stats_reset);
PLKV_CALL_BODY(plkv_maintain);
PLKV_CALL_BODY(plkv_check);
PLKV_CALL_BODY(plkv_recover);
PLKV_CALL_BODY(plkv_info);

/* The stub of a public call, for a wrapper that passes it pointers to its
 * own locals: the wrapper runs on the caller's stack (a body's locals are
 * on a call stack, in the window, which every buffer check refuses). */
#define PLKV_CALL_STUB(name) \
	extern __typeof__(name) name##_call __asm__(#name)

PLKV_CALL_STUB(plkv_read);
PLKV_CALL_STUB(plkv_arith);

/* Stub and body of each granted part (open.c, api.c, trust.c, gate.c) */
#define PLKV_CALL_PART(ret, name, args) \
	PLKV_HIDDEN ret name args; PLKV_HIDDEN ret name##__impl args

PLKV_CALL_PART(int, plkv_open_attach,
	       (struct plkv *kv, const struct plkv_options *opts,
		int created, int64_t now, struct open_found *f));
PLKV_CALL_PART(int, plkv_open_register, (struct plkv *kv));
PLKV_CALL_PART(int, plkv_close_release, (struct plkv *kv));
PLKV_CALL_PART(int, plkv_stats_collect,
	       (struct plkv *kv, int group, char (*names)[48],
		char (*values)[48], size_t cap, size_t *n, size_t *need));
PLKV_CALL_PART(int, plkv_dump_stripe,
	       (struct plkv *kv, unsigned stripe,
		struct plkv_dump_item **items, size_t *n, size_t *cap));
PLKV_CALL_PART(int, plkv_procs_fill,
	       (struct plkv *kv, struct plkv_proc_view *v,
		struct plkv_proc *out));
PLKV_CALL_PART(void, plkv_kv_snapshot,
	       (const struct plkv *kv, struct plkv *out));
PLKV_CALL_PART(struct plkv *, plkv_trust_take,
	       (const struct plkv *staged, struct plkv_trust_check *tc));
PLKV_CALL_PART(void, plkv_trust_give_back,
	       (struct plkv *kv, struct plkv *out));
PLKV_CALL_PART(void, plkv_tls_release, (struct plkv_tls *t));
PLKV_CALL_PART(void, plkv_tls_destroy_granted, (struct plkv_tls *t));

#endif /* PLKV_CALLS_H */
