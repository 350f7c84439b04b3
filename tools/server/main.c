// SPDX-License-Identifier: MIT
/*
 * plkvd: options, the store, the daemon, signals and upkeep.
 *
 * Order of start-up, chosen so that every error reaches the terminal:
 * parse options, open the listening sockets, daemonize (the parent waits
 * on a pipe until the child reports it is serving, and exits with its
 * status), open the store (after fork: a handle belongs to its process),
 * start the workers.  The main thread then waits for SIGINT/SIGTERM in
 * 100 ms steps and runs plkv_maintain() at each step.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "args.h"
#include "plkvd.h"

#define MAINTAIN_BUDGET	64

/* Which create-time options were given, to compare with an old store. */
static struct {
	bool mem, item, factor, evict, chunk, port;
} given;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: plkvd [options]\n"
"A memcached-protocol server on a libplkv store.\n"
"\n"
"  -p, --port=NUM              TCP port (default 11211; 0: no TCP)\n"
"  -l, --listen=ADDR[,ADDR]    addresses to listen on (default 127.0.0.1)\n"
"  -s, --unix-socket=PATH      UNIX socket (then no TCP unless -p is given)\n"
"  -a, --unix-mask=MASK        octal access mask of the socket (default 0700)\n"
"  -m, --memory-limit=MB       store memory at creation (default 64)\n"
"  -I, --max-item-size=SIZE    largest item at creation, e.g. 1m, 2048k\n"
"                              (default 1m)\n"
"  -M, --disable-evictions     out of memory errors instead of evictions\n"
"  -f, --slab-growth-factor=F  slab class growth factor (default 1.25)\n"
"  -n, --slab-min-size=BYTES   smallest chunk (default 48)\n"
"  -t, --threads=NUM           worker threads (default 4)\n"
"  -c, --conn-limit=NUM        most simultaneous connections (default 1024)\n"
"  -b, --listen-backlog=NUM    listen backlog (default 1024)\n"
"      --conn-buffer-limit=MB  memory for all clients' buffers past 8 KiB\n"
"                              each (default 64): values being read,\n"
"                              replies not yet sent; past it a set gets\n"
"                              SERVER_ERROR out of memory storing object\n"
"  -A, --enable-shutdown       let the \"shutdown\" command stop the server\n"
"  -F, --disable-flush-all     refuse the \"flush_all\" command\n"
"  -C, --disable-cas           accepted for compatibility: CAS stays on\n"
"  -D CHAR                     key prefix delimiter for \"stats detail\",\n"
"                              which it turns on (default ':', off)\n"
"  -U, --udp-port=0            accepted for compatibility: no UDP\n"
"  -B, --protocol=ascii        ascii or auto (no binary protocol)\n"
"  -v, --verbose               errors and warnings; -vv: every command\n"
"  -d, --daemon                run in the background\n"
"  -P, --pidfile=FILE          write the pid here (with -d)\n"
"      --segment=NAME          the store (default $PLKV_SEGMENT or \"plkv\")\n"
"      --any-owner             attach to a store another user owns (by\n"
"                              default only yours or root's)\n"
"  -h, --help                  this text\n"
"  -V, --version               the version\n"
"\n"
"-m, -I, -M, -f and -n apply when plkvd creates the store; an existing\n"
"store keeps its own (-v says so).  PLKV_BACKEND=user|kmod picks the\n"
"backend.\n");
}

static void __attribute__((noreturn)) bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "plkvd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n");
	usage(stderr);
	exit(2);
}

/* optarg as a decimal from @min to @max, else a usage error: @what. */
static uint64_t arg_range(const char *what, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (plkv_arg_u64(optarg, &v) || v < min || v > max)
		bad_usage(what, optarg);
	return v;
}

enum { OPT_SEGMENT = 256, OPT_ANY_OWNER, OPT_CONN_BUFFER_LIMIT };

/* The store's options from the command line (used when creating it). */
static void store_options(struct plkv_options *o)
{
	plkv_options_init(o);
	o->flags = PLKV_O_CREATE | PLKV_O_EXCL;
	if (given.mem)
		o->mem_limit = settings.mem_limit;
	if (given.item)
		o->item_size_max = settings.item_size_max;
	if (given.factor)
		o->growth_factor = settings.factor;
	if (given.chunk)
		o->chunk_min = settings.chunk_size;
	if (settings.no_evict)
		o->flags |= PLKV_O_NO_EVICT;
	if (settings.any_owner)
		o->flags |= PLKV_O_ANY_OWNER;
}

static void parse_args(int argc, char **argv)
{
	struct plkv_options o;
	char msg[160];
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "unix-socket", required_argument, NULL, 's' },
		{ "unix-mask", required_argument, NULL, 'a' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "max-item-size", required_argument, NULL, 'I' },
		{ "disable-evictions", no_argument, NULL, 'M' },
		{ "slab-growth-factor", required_argument, NULL, 'f' },
		{ "slab-min-size", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "conn-limit", required_argument, NULL, 'c' },
		{ "listen-backlog", required_argument, NULL, 'b' },
		{ "udp-port", required_argument, NULL, 'U' },
		{ "protocol", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "segment", required_argument, NULL, OPT_SEGMENT },
		{ "any-owner", no_argument, NULL, OPT_ANY_OWNER },
		{ "conn-buffer-limit", required_argument, NULL,
		  OPT_CONN_BUFFER_LIMIT },
		{ "enable-shutdown", no_argument, NULL, 'A' },
		{ "disable-flush-all", no_argument, NULL, 'F' },
		{ "disable-cas", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":p:l:s:a:m:I:Mf:n:t:c:b:D:U:B:ACFvdP:hV",
				 opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			settings.port = (int)arg_range("bad port: %s", 0, 65535);
			given.port = true;
			break;
		case 'l':
			settings.listen = optarg;
			break;
		case 's':
			settings.unix_path = optarg;
			break;
		case 'a':
			if (plkv_arg_mode(optarg, &settings.unix_mask))
				bad_usage("bad unix socket mask (octal): %s", optarg);
			break;
		case 'm':
			if (plkv_arg_size(optarg, 1u << 20, &v))
				bad_usage("bad memory limit: %s", optarg);
			settings.mem_limit = v;
			given.mem = true;
			break;
		case 'I':
			if (plkv_arg_size(optarg, 1, &v) || v > UINT32_MAX)
				bad_usage("bad item size: %s", optarg);
			settings.item_size_max = (uint32_t)v;
			given.item = true;
			break;
		case 'M':
			settings.no_evict = true;
			given.evict = true;
			break;
		case 'A':
			settings.shutdown_enabled = true;
			break;
		case 'F':
			settings.flush_disabled = true;
			break;
		case 'C':	/* a shared store always keeps CAS values */
			break;
		case 'f':
			if (plkv_arg_double(optarg, &settings.factor))
				bad_usage("bad growth factor: %s", optarg);
			given.factor = true;
			break;
		case 'n':
			settings.chunk_size = (uint32_t)arg_range(
				"bad minimum chunk size: %s", 8, 1u << 20);
			given.chunk = true;
			break;
		case 't':
			settings.threads = (unsigned)arg_range(
				"bad thread count (1-256): %s", 1, 256);
			break;
		case 'c':
			settings.maxconns = (unsigned)arg_range(
				"bad connection limit: %s", 1, 1u << 24);
			break;
		case 'b':
			settings.backlog = (int)arg_range("bad listen backlog: %s",
							  1, INT_MAX);
			break;
		case 'D':
			if (strlen(optarg) != 1)
				bad_usage("-D takes one character: '%s'", optarg);
			settings.prefix_delimiter = optarg[0];
			settings.detail_enabled = true;
			break;
		case 'U':
			if (arg_range("bad UDP port: %s", 0, 65535))
				bad_usage("UDP is not supported (use -U 0): %s",
					  optarg);
			break;
		case 'B':
			if (strcmp(optarg, "ascii") && strcmp(optarg, "auto"))
				bad_usage("only the ascii protocol is served: %s",
					  optarg);
			break;
		case 'v':
			if (settings.verbose < MAX_VERBOSITY)
				settings.verbose++;
			break;
		case 'd':
			settings.daemon = true;
			break;
		case 'P':
			settings.pidfile = optarg;
			break;
		case OPT_SEGMENT:
			settings.segment = optarg;
			break;
		case OPT_ANY_OWNER:
			settings.any_owner = true;
			break;
		case OPT_CONN_BUFFER_LIMIT:
			settings.conn_buffer_limit = arg_range(
				"bad connection buffer limit (1-1048576 MB): %s",
				1, 1u << 20) << 20;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("plkvd %s (libplkv %s, memcached %s protocol)\n",
			       PLKV_VERSION_STRING, plkv_version(),
			       PLKVD_COMPAT_VERSION);
			exit(0);
		case ':':
			if (optopt && optopt < 256) {
				char o[2] = { (char)optopt, 0 };

				bad_usage("option -%s needs an argument", o);
			}
			bad_usage("option %s needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256) {
				char o[2] = { (char)optopt, 0 };

				bad_usage("unknown option -%s", o);
			}
			bad_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument: %s", argv[optind]);
	if (settings.unix_path && !given.port)
		settings.port = 0;	/* as memcached: -s means no network */
	settings.segment = plkv_arg_segment(settings.segment);
	store_options(&o);
	if (plkv_options_check(&o, msg, sizeof(msg)))
		bad_usage("%s", msg);
}

/* Open the store, creating it with our settings when it does not exist. */
static int open_store(void)
{
	struct plkv_options o;
	struct plkv_info info;
	bool created = true;
	int rc;

	store_options(&o);
	rc = plkv_open(settings.segment, &o, &plkvd_kv);
	if (rc == -EEXIST) {
		created = false;
		o.flags &= ~(unsigned)PLKV_O_EXCL;
		rc = plkv_open(settings.segment, &o, &plkvd_kv);
	}
	if (rc) {
		const char *why = plkv_open_error();

		fprintf(stderr, "plkvd: cannot open store '%s': %s%s%s%s\n",
			settings.segment, plkv_strerror(rc), why ? " (" : "",
			why ? why : "", why ? ")" : "");
		return -1;
	}
	if (plkv_info(plkvd_kv, &info) == 0) {
		settings.item_size_eff = info.item_size_max;
		settings.mem_limit = info.mem_limit;
		settings.factor = info.growth_factor;
		settings.no_evict = info.no_evict;
	}
	if (!settings.verbose)
		return 0;
	fprintf(stderr, "plkvd: %s store '%s' (%s backend, protection %s): "
		"%llu MB, items up to %u bytes, factor %.2f, %s\n",
		created ? "created" : "attached to", settings.segment,
		info.backend == PLKV_BACKEND_KMOD ? "kmod" : "user",
		info.protected ? "on" : "off",
		(unsigned long long)(info.mem_limit >> 20), info.item_size_max,
		info.growth_factor, info.no_evict ? "no evictions" : "evicting");
	if (!created &&
	    ((given.mem && o.mem_limit != info.mem_limit) ||
	     (given.item && o.item_size_max != info.item_size_max) ||
	     (given.factor && o.growth_factor != info.growth_factor) ||
	     (given.evict && !info.no_evict)))
		fprintf(stderr, "plkvd: the store existed with other settings; "
			"-m/-I/-M/-f apply only when plkvd creates it\n");
	return 0;
}

/* Room for -c connections plus our own descriptors, as memcached does. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)settings.maxconns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		rl.rlim_max = want;	/* works as root */
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		getrlimit(RLIMIT_NOFILE, &rl);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && want < (rlim_t)settings.maxconns + 64 &&
	    settings.verbose)
		fprintf(stderr, "plkvd: only %llu file descriptors for -c %u\n",
			(unsigned long long)want, settings.maxconns);
}

static int write_pidfile(void)
{
	FILE *f;

	if (!settings.pidfile)
		return 0;
	f = fopen(settings.pidfile, "w");
	if (!f) {
		fprintf(stderr, "plkvd: cannot write %s: %s\n", settings.pidfile,
			strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -1 : 0;
}

/*
 * Detach from the terminal.  Returns in the daemon with @ready_fd open;
 * the foreground parent stays to report the daemon's start and exits.
 */
static int daemonize(int *ready_fd)
{
	int pfd[2];
	char status = 1;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("plkvd: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("plkvd: fork");
		return -1;
	}
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &status, 1) != 1)
			status = 1;
		_exit(status ? 1 : 0);
	}
	close(pfd[0]);
	setsid();
	pid = fork();		/* never reacquire a terminal */
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	*ready_fd = pfd[1];
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (!settings.verbose)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	int ready_fd = -1, sig, status = 1;
	sigset_t set;
	char ok = 0;

	parse_args(argc, argv);
	plkvd_started = time(NULL);

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	raise_fd_limit();
	if (net_listen())
		return 1;
	if (settings.daemon && daemonize(&ready_fd))
		return 1;
	if (write_pidfile())
		goto out;
	if (settings.daemon && chdir("/"))
		goto out;
	if (open_store())
		goto out;
	if (net_start())
		goto out_store;
	if (settings.verbose)
		fprintf(stderr, "plkvd: serving %s (port %d%s%s), %u threads\n",
			settings.segment, settings.port,
			settings.unix_path ? ", socket " : "",
			settings.unix_path ? settings.unix_path : "",
			settings.threads);
	if (ready_fd >= 0) {
		if (write(ready_fd, &ok, 1) != 1)
			perror("plkvd: report start");
		close(ready_fd);
		ready_fd = -1;
		detach_stdio();
	}

	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			break;
		plkv_maintain(plkvd_kv, MAINTAIN_BUDGET);
	}
	if (settings.verbose)
		fprintf(stderr, "plkvd: shutting down\n");
	status = 0;
	net_stop();
out_store:
	plkv_close(plkvd_kv);
out:
	if (settings.pidfile && status == 0)
		unlink(settings.pidfile);
	if (ready_fd >= 0)
		close(ready_fd);	/* the parent reads EOF: failure */
	if (status)
		net_stop();
	return status;
}
