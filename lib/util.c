/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

/*
 * From /proc/PID/stat: the state (field 3) and the start time (field 22;
 * with the pid it names a process uniquely, since pids are reused but not
 * within the same clock tick).  0 when it can't be read.
 */
static uint64_t proc_stat(pid_t pid, char *state)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	char *p;
	int fd, field;

	*state = '?';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold spaces and parentheses */
	if (!p || !p[1] || !p[2])
		return 0;
	*state = p[2];
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

uint64_t plkv_proc_start_time(pid_t pid)
{
	char state;

	return proc_stat(pid, &state);
}

/*
 * A zombie counts as dead: its memory, and so its part of the store, went
 * when it exited; only its parent's wait() is missing, and a parent that
 * is itself stuck (perhaps on a lock the zombie held) would wait forever.
 */
bool plkv_pid_alive(uint32_t pid, uint64_t start_time)
{
	uint64_t now_start;
	char state;

	if (pid == 0)
		return false;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return false;
	now_start = proc_stat((pid_t)pid, &state);
	if (state == 'Z' || state == 'X')
		return false;
	if (start_time == 0)
		return true;
	/* Unreadable /proc (hidepid): trust kill(). */
	return now_start == 0 || now_start == start_time;
}

int plkv_name_valid(const char *name)
{
	size_t i, n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n >= PLKV_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	/* "." and ".." would be path components for the user backend. */
	return strcmp(name, ".") && strcmp(name, "..");
}

int plkv_pku_supported(void)
{
	static int cached = -1;
	int key;

	if (cached >= 0)
		return cached;
	key = pkey_alloc(0, 0);
	if (key >= 0) {
		pkey_free(key);
		cached = 1;
	} else {
		cached = 0;
	}
	return cached;
}

/* Whether the process on @slot lives: a lock owner, a slot in use. */
bool plkv_slot_alive(struct plkv *kv, uint32_t slot)
{
	struct plkv_slot *s;

	if (slot == 0 || slot >= PLKV_MAX_THREADS)
		return false;
	s = plkv_slot_rec(kv, slot);
	return plkv_pid_alive(atomic_load((_Atomic uint32_t *)&s->pid),
			      s->start_time);
}
