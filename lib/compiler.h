/* SPDX-License-Identifier: MIT */
/* Compiler helpers every libplkv file uses. */
#ifndef PLKV_COMPILER_H
#define PLKV_COMPILER_H

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define PLKV_HIDDEN	__attribute__((visibility("hidden")))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#endif /* PLKV_COMPILER_H */
