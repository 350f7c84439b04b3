/*
 * timer_util.h - a one-shot SIGALRM a few microseconds ahead, and a
 * monotonic clock in seconds, for the tests that interrupt calls at
 * random instructions (signal_jump.c, signal_nested.c).
 */
#ifndef PLKV_TIMER_UTIL_H
#define PLKV_TIMER_UTIL_H

#include <sys/time.h>
#include <time.h>

/* One SIGALRM after @usec microseconds; 0 disarms. */
static inline void arm_timer(long usec)
{
	struct itimerval it = { .it_value = { 0, usec } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* PLKV_TIMER_UTIL_H */
