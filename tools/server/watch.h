/* SPDX-License-Identifier: MIT */
/* "watch": item events sent to the connections that asked (watch.c). */
#ifndef PLKVD_WATCH_H
#define PLKVD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plkvd.h"

#define WATCH_FETCHERS	(1u << 0)	/* item_get: gets, gats, mg */
#define WATCH_MUTATIONS	(1u << 1)	/* item_store: the storage commands */
#define WATCH_CONNEVENTS (1u << 2)	/* conn_new, conn_close */

/* Whether any watcher wants @kind: test before building an event. */
bool watch_wanted(unsigned kind);
/* Whether one more watcher would be taken (memcached allows 20). */
bool watch_room(void);
/* Take over the socket @fd of a connection that asked for @kinds, and
 * send it the @len bytes of @reply it is owed once it is watching;
 * -1: not taken (the caller still owns it). */
int watch_adopt(int fd, unsigned kinds, const char *reply, size_t len);

/* The events, as memcached's log lines: @key URI-encoded, @cfd the
 * client's socket. */
void watch_fetch(const char *key, bool found, uint32_t clsid, size_t size,
		 int cfd);
void watch_store(const char *key, const char *status, const char *cmd,
		 int64_t ttl, uint32_t clsid, size_t size, int cfd);
/* A client's socket @fd opened, or is about to close for @why ("normal",
 * "error", "shutdown"); NULL: it opened. */
void watch_conn(int fd, bool is_unix, const char *why);

#endif /* PLKVD_WATCH_H */
