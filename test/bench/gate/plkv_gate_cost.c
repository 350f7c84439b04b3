/* SPDX-License-Identifier: MIT */
/*
 * plkv-gate-cost: what the call gate's protection costs on this CPU.
 *
 * Times, in one run and as medians of several repetitions: an empty loop,
 * RDPKRU, the gate's own grant + revoke pair (lib/pkru.h's checked WRPKRU
 * sequences, inlined here exactly as in every libplkv call), and a
 * plkv_get() hit on a store of the user backend (no protection), so that
 * the pair can be read as a share of a call.  Linked statically with
 * libplkv.a, it runs on a machine that has nothing of plkv installed: the
 * point is to run it where the CPU has real PKU (the development machine's
 * has none; QEMU's emulated PKU says nothing about time).
 *
 * Prints "name value" lines; --json prints one object.  Exit 0, or 1 when
 * a plkv call fails; no PKU is not an error (the WRPKRU lines say "n/a").
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

#define REPS 7

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

enum { M_EMPTY, M_RDPKRU, M_PAIR, M_GET, NM };
static const char *const names[NM] = {
	"empty_loop_ns", "rdpkru_ns", "grant_revoke_pair_ns", "get_hit_ns",
};

static plkv_t *kv;

static double run(int m, unsigned long n)
{
	char buf[128];
	uint64_t t0 = now_ns();
	unsigned long i;

	switch (m) {
	case M_EMPTY:
		for (i = 0; i < n; i++)
			__asm__ volatile("" : : "r"(i) : "memory");
		break;
	case M_RDPKRU:
		for (i = 0; i < n; i++) {
			uint32_t v = plkv_rdpkru();

			__asm__ volatile("" : : "r"(v) : "memory");
		}
		break;
	case M_PAIR:
		for (i = 0; i < n; i++) {
			plkv_pkru_grant();
			plkv_pkru_deny();
		}
		break;
	case M_GET:
		for (i = 0; i < n; i++)
			if (plkv_get(kv, "gate-cost-key", 13, buf, sizeof(buf),
				     NULL))
				return -1;
		break;
	}
	return (double)(now_ns() - t0) / (double)n;
}

static void cpu_model(char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, cap, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(out, cap, "%s", c + 2);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	unsigned long n = 2000000;
	double v[NM][REPS], med[NM];
	bool json = false, pku;
	struct plkv_options o;
	char name[64], cpu[256];
	int m, r, rc;

	for (m = 1; m < argc; m++) {
		if (!strcmp(argv[m], "--json")) {
			json = true;
		} else if (!strcmp(argv[m], "--quick")) {
			n = 20000;
		} else {
			fprintf(stderr, "usage: plkv-gate-cost [--json] "
				"[--quick]\n");
			return strcmp(argv[m], "--help") ? 2 : 0;
		}
	}
	cpu_model(cpu, sizeof(cpu));
	pku = plkv_pku_supported() && plkv_pkey_acquire() == 0;

	snprintf(name, sizeof(name), "plkv-gate-cost-%d", (int)getpid());
	plkv_options_init(&o);
	o.backend = PLKV_BACKEND_USER;
	o.flags = PLKV_O_CREATE | PLKV_O_EXCL;
	rc = plkv_open(name, &o, &kv);
	if (!rc)
		rc = plkv_set(kv, "gate-cost-key", 13, "a value of some bytes",
			      21, 0, 0);
	if (rc) {
		fprintf(stderr, "plkv-gate-cost: %s: %s\n", name,
			plkv_strerror(rc));
		if (kv) {
			plkv_close(kv);
			plkv_destroy(name, PLKV_BACKEND_USER);
		}
		return 1;
	}
	for (m = 0; m < NM; m++)	/* warm-up */
		if ((m != M_RDPKRU && m != M_PAIR) || pku)
			run(m, n / 10);
	for (r = 0; r < REPS; r++)
		for (m = 0; m < NM; m++)
			v[m][r] = (m == M_RDPKRU || m == M_PAIR) && !pku ? 0 :
				  run(m, n);
	plkv_close(kv);
	plkv_destroy(name, PLKV_BACKEND_USER);
	for (m = 0; m < NM; m++) {
		qsort(v[m], REPS, sizeof(double), cmp_d);
		med[m] = v[m][REPS / 2];
	}
	if (med[M_GET] < 0) {
		fprintf(stderr, "plkv-gate-cost: plkv_get failed\n");
		return 1;
	}
	if (json) {
		printf("{\"cpu\": \"%s\", \"pku\": %s", cpu,
		       pku ? "true" : "false");
		for (m = 0; m < NM; m++)
			printf(", \"%s\": %.2f", names[m], med[m]);
		printf(", \"reps\": %d, \"iterations\": %lu}\n", REPS, n);
		return 0;
	}
	printf("cpu %s\npku %s\n", cpu, pku ? "yes" : "no");
	for (m = 0; m < NM; m++) {
		if ((m == M_RDPKRU || m == M_PAIR) && !pku)
			printf("%s n/a\n", names[m]);
		else
			printf("%s %.2f\n", names[m], med[m]);
	}
	if (pku)
		printf("pair_share_of_get %.2f\n",
		       (med[M_PAIR] - med[M_EMPTY]) / med[M_GET]);
	printf("(medians of %d runs of %lu iterations; user-backend get, "
	       "unprotected)\n", REPS, n);
	return 0;
}
