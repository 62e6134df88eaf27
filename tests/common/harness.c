/* SPDX-License-Identifier: BSD-3-Clause */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void
ht_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	exit(1);
}

uint64_t
ht_seed(int argc, char **argv)
{
	uint64_t seed = 0;
	const char *env = getenv("HL_SEED");

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 0);
	if (seed == 0 && env != NULL)
		seed = strtoull(env, NULL, 0);
	if (seed == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007u ^
		       (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 20;
		if (seed == 0)
			seed = 1;
	}
	printf("seed=%llu (replay with --seed %llu or HL_SEED=%llu)\n",
	    (unsigned long long)seed, (unsigned long long)seed,
	    (unsigned long long)seed);
	fflush(stdout);
	return seed;
}

double
ht_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void
ht_nap_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

uint64_t
ht_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t
ht_rng_stream(uint64_t seed, uint64_t idx)
{
	/* splitmix64 of the seed and the stream number */
	uint64_t z = seed + (idx + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

unsigned
ht_rand_below(uint64_t *state, unsigned n)
{
	return (unsigned)(ht_rand(state) % n);
}

void
ht_spin_pause(uint64_t *state, unsigned maxspin, unsigned yield)
{
	unsigned n = maxspin ? ht_rand_below(state, maxspin) : 0;

	for (volatile unsigned i = 0; i < n; i = i + 1)
		;
	if (yield && ht_rand_below(state, yield) == 0)
		sched_yield();
}

int
ht_threads_from_env(int def)
{
	const char *e = getenv("HL_THREADS");

	return e ? atoi(e) : def;
}

double
ht_seconds_from_env(double def)
{
	const char *e = getenv("HL_SECONDS");

	return e ? atof(e) : def;
}

/* Watchdog */

static struct {
	const char *name;
	const struct hl_lock *l;
} watched[64];
static int nwatched;
static pthread_mutex_t wd_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv = PTHREAD_COND_INITIALIZER;
static bool wd_stop;
static bool wd_running;
static pthread_t wd_thread;
static double wd_seconds;
static void (*wd_extra)(void);

void
ht_watch_lock(const char *name, const struct hl_lock *l)
{
	pthread_mutex_lock(&wd_mtx);
	if (nwatched < 64) {
		watched[nwatched].name = name;
		watched[nwatched].l = l;
		nwatched++;
	}
	pthread_mutex_unlock(&wd_mtx);
}

static void *
wd_main(void *arg)
{
	struct timespec dl;
	int rc = 0;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)wd_seconds;
	dl.tv_nsec += (long)((wd_seconds - (double)(time_t)wd_seconds) * 1e9);
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&wd_mtx);
	while (!wd_stop && rc == 0)
		rc = pthread_cond_timedwait(&wd_cv, &wd_mtx, &dl);
	if (wd_stop) {
		pthread_mutex_unlock(&wd_mtx);
		return NULL;
	}
	fprintf(stderr, "WATCHDOG: no progress after %.1f s; lock words:\n",
	    wd_seconds);
	for (int i = 0; i < nwatched; i++)
		hl_lock_dump(stderr, watched[i].name, watched[i].l);
	pthread_mutex_unlock(&wd_mtx);
	fprintf(stderr, "WATCHDOG: sleepers:\n");
	hl_dump_waiters(stderr);
	if (wd_extra)
		wd_extra();
	fprintf(stderr, "FAIL: watchdog fired (hang)\n");
	fflush(stderr);
	_exit(2);
}

void
ht_watchdog_start(double seconds, void (*extra_dump)(void))
{
	wd_seconds = seconds;
	wd_extra = extra_dump;
	wd_stop = false;
	wd_running = true;
	if (pthread_create(&wd_thread, NULL, wd_main, NULL) != 0)
		ht_fail(__FILE__, __LINE__, "pthread_create", "watchdog");
}

void
ht_watchdog_stop(void)
{
	if (!wd_running)
		return;
	pthread_mutex_lock(&wd_mtx);
	wd_stop = true;
	pthread_cond_broadcast(&wd_cv);
	pthread_mutex_unlock(&wd_mtx);
	pthread_join(wd_thread, NULL);
	wd_running = false;
}

/* Fatal-path checks */

static _Thread_local sigjmp_buf *fatal_jb;
static _Thread_local char fatal_msg[512];

static void
record_fatal(const char *func, const struct hl_lock *l, uint32_t refs,
    uint32_t lockval, const char *msg)
{
	hl_fatal_format(
	    fatal_msg, sizeof(fatal_msg), func, l, refs, lockval, msg);
	if (fatal_jb)
		siglongjmp(*fatal_jb, 1);
}

bool
ht_expect_fatal(void (*fn)(void *), void *arg, const char *substr)
{
	sigjmp_buf jb;
	hl_fatal_fn old;
	volatile bool hit = false;

	fatal_msg[0] = '\0';
	old = hl_set_fatal_handler(record_fatal);
	if (sigsetjmp(jb, 1) == 0) {
		fatal_jb = &jb;
		fn(arg);
	} else {
		hit = true;
	}
	fatal_jb = NULL;
	hl_set_fatal_handler(old);
	if (!hit) {
		fprintf(
		    stderr, "expected a fatal error (%s), got none\n", substr);
		return false;
	}
	printf("  fatal as expected: %s\n", fatal_msg);
	if (strstr(fatal_msg, substr) == NULL) {
		fprintf(stderr, "fatal message lacks \"%s\": %s\n", substr,
		    fatal_msg);
		return false;
	}
	return true;
}

bool
ht_expect_abort(void (*fn)(void *), void *arg, const char *substr)
{
	int pfd[2], status;
	char buf[1024];
	ssize_t n, got = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(pfd) != 0)
		return false;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fprintf(stderr, "child did not abort (status %#x): %s\n",
		    status, buf);
		return false;
	}
	if (strstr(buf, substr) == NULL) {
		fprintf(
		    stderr, "abort message lacks \"%s\": %s\n", substr, buf);
		return false;
	}
	printf("  aborted as expected: %s", buf);
	return true;
}

void
ht_pass(const char *name, int npassed)
{
	printf("%s: %d passed, 0 failed\n", name, npassed);
	fflush(stdout);
}
