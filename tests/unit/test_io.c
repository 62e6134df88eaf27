/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_io.c - the I/O backends: the POSIX backend on a temporary file,
 * whole transfers over short transfers and EINTR, end of file, every
 * fail-the-Nth-call knob (exact and sticky), random failures at a rate,
 * slow I/O, argument checks, and the counters under 8 threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static int npassed;
static char path[64];

#define PASS() npassed++

#define NTHREADS 8

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
fill(uint8_t *b, size_t len, uint64_t tag)
{
	uint64_t s = tag * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(ht_rand(&s) >> 56);
}

/* A fresh file of `size' zero bytes at `path', open read-write. */
static int
open_fresh(struct hl_io *io, uint64_t size)
{
	int fd;

	HT_CHECK(truncate(path, 0) == 0, "truncate");
	HT_CHECK(truncate(path, (off_t)size) == 0, "truncate");
	HT_CHECK(io->ops->open(io, path, HL_IO_RDWR, &fd) == 0, "open");
	return fd;
}

static struct hl_io *
fault_new(const struct hl_io_fault_cfg *cfg)
{
	struct hl_io *io = NULL;

	HT_CHECK(hl_io_fault_create(NULL, cfg, &io) == 0, "fault create");
	HT_CHECK(io != NULL, "fault io");
	return io;
}

static struct hl_io_fault_stats
stats_of(struct hl_io *io)
{
	struct hl_io_fault_stats st;

	HT_CHECK(hl_io_fault_stats(io, &st) == 0, "stats");
	return st;
}

static void
test_posix_roundtrip(void)
{
	struct hl_io *io = hl_io_posix();
	size_t len = 3 * 16384;
	uint8_t *w, *r;
	uint64_t size;
	int fd;

	HT_CHECK(io == hl_io_posix(), "one shared instance");
	w = io->ops->alloc(io, len);
	r = io->ops->alloc(io, len);
	HT_CHECK(w != NULL && r != NULL, "alloc");
	HT_CHECK(
	    (uintptr_t)w % HL_IO_ALIGN == 0 && (uintptr_t)r % HL_IO_ALIGN == 0,
	    "alignment %p %p", (void *)w, (void *)r);
	fill(w, len, 1);

	fd = open_fresh(io, 0);
	HT_CHECK(hl_io_write_full(io, fd, w, len, 8192) == 0, "write_full");
	HT_CHECK(io->ops->sync(io, fd) == 0, "sync");
	HT_CHECK(io->ops->size(io, fd, &size) == 0 && size == 8192 + len,
	    "size %llu", (unsigned long long)size);
	memset(r, 0xAA, len);
	HT_CHECK(hl_io_read_full(io, fd, r, len, 8192) == 0, "read_full");
	HT_CHECK(memcmp(r, w, len) == 0, "data round trip");
	/* The hole before it reads as zeros. */
	HT_CHECK(hl_io_read_full(io, fd, r, 8192, 0) == 0, "read hole");
	for (int i = 0; i < 8192; i++)
		HT_CHECK(r[i] == 0, "hole byte %d", i);

	/* Single attempts: pread semantics. */
	HT_CHECK(io->ops->read(io, fd, r, 100, 8192 + len - 10) == 10,
	    "short read at the end");
	HT_CHECK(io->ops->read(io, fd, r, 100, 8192 + len) == 0, "EOF read");
	HT_CHECK(io->ops->write(io, fd, w, 10, 0) == 10, "single write");
	HT_CHECK(
	    io->ops->read(io, fd, r, 10, (uint64_t)INT64_MAX + 1) == -EINVAL,
	    "offset past off_t");
	HT_CHECK(
	    io->ops->write(io, fd, w, 10, (uint64_t)INT64_MAX - 5) == -EINVAL,
	    "end past off_t");
	HT_CHECK(hl_io_read_full(io, fd, r, 10, UINT64_MAX) == EINVAL,
	    "read_full offset past off_t");
	HT_CHECK(hl_io_read_full(io, -1, r, 10, 0) == EBADF, "bad fd");
	HT_CHECK(hl_io_read_full(io, fd, NULL, 0, 0) == 0, "empty read");
	HT_CHECK(hl_io_write_full(io, fd, NULL, 0, 0) == 0, "empty write");
	HT_CHECK(hl_io_read_full(NULL, fd, r, 1, 0) == EINVAL, "NULL io");
	HT_CHECK(io->ops->close(io, fd) == 0, "close");

	/* Read-only descriptors refuse writes. */
	HT_CHECK(io->ops->open(io, path, HL_IO_RDONLY, &fd) == 0, "open ro");
	HT_CHECK(io->ops->write(io, fd, w, 10, 0) == -EBADF, "write on ro");
	HT_CHECK(hl_io_write_full(io, fd, w, 10, 0) == EBADF, "write_full ro");
	HT_CHECK(hl_io_read_full(io, fd, r, len, 8192) == 0, "read ro");
	HT_CHECK(memcmp(r, w, len) == 0, "data through ro");
	HT_CHECK(io->ops->close(io, fd) == 0, "close ro");

	/* Open errors. */
	HT_CHECK(io->ops->open(io, path, 0, &fd) == EINVAL, "no mode");
	HT_CHECK(
	    io->ops->open(io, path, HL_IO_RDONLY | HL_IO_RDWR, &fd) == EINVAL,
	    "both modes");
	HT_CHECK(io->ops->open(io, "/nonexistent/hl/vol", HL_IO_RDONLY, &fd) ==
		     ENOENT,
	    "missing file");
	HT_CHECK(io->ops->size(io, -1, &size) == EBADF, "size of bad fd");

	/* Memory: any length works, 0 included; absurd ones are ENOMEM. */
	void *p = io->ops->alloc(io, 0);

	HT_CHECK(p != NULL && (uintptr_t)p % HL_IO_ALIGN == 0, "alloc 0");
	io->ops->free(io, p, 0);
	p = io->ops->alloc(io, 1);
	HT_CHECK(p != NULL && (uintptr_t)p % HL_IO_ALIGN == 0, "alloc 1");
	io->ops->free(io, p, 1);
	HT_CHECK(io->ops->alloc(io, SIZE_MAX) == NULL, "alloc SIZE_MAX");
	HT_CHECK(io->ops->alloc(io, SIZE_MAX - 100) == NULL, "alloc huge");
	io->ops->free(io, NULL, 0);
	io->ops->free(io, w, len);
	io->ops->free(io, r, len);

	/* Destroying the shared instance does nothing. */
	hl_io_destroy(io);
	hl_io_destroy(NULL);
	HT_CHECK(hl_io_posix()->ops->read == io->ops->read, "still usable");
	PASS();
}

static void
test_eof(void)
{
	struct hl_io *io = hl_io_posix();
	uint8_t buf[4096];
	int fd = open_fresh(io, 1000);

	HT_CHECK(hl_io_read_full(io, fd, buf, 1000, 0) == 0, "whole file");
	HT_CHECK(hl_io_read_full(io, fd, buf, 1001, 0) == EIO, "one past");
	HT_CHECK(hl_io_read_full(io, fd, buf, 100, 950) == EIO, "straddles");
	HT_CHECK(hl_io_read_full(io, fd, buf, 1, 1000) == EIO, "at EOF");
	HT_CHECK(hl_io_read_full(io, fd, buf, 1, 5000) == EIO, "past EOF");
	io->ops->close(io, fd);

	/* The same through short transfers: EOF is still EIO, not a loop. */
	struct hl_io_fault_cfg c = {.short_every = 1, .eintr_every = 3};
	struct hl_io *fio = fault_new(&c);

	fd = open_fresh(fio, 1000);
	HT_CHECK(hl_io_read_full(fio, fd, buf, 1000, 0) == 0, "whole, short");
	HT_CHECK(hl_io_read_full(fio, fd, buf, 2000, 0) == EIO, "past, short");
	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	PASS();
}

static void
test_short_and_eintr(void)
{
	struct hl_io_fault_cfg c = {
	    .short_every = 1, .eintr_every = 2, .seed = 42};
	struct hl_io *fio = fault_new(&c);
	struct hl_io *io = hl_io_posix();
	struct hl_io_fault_stats st;
	size_t len = 64 * 1024;
	uint8_t *w = malloc(len), *r = malloc(len);
	ssize_t n;
	int fd;

	HT_CHECK(w != NULL && r != NULL, "malloc");
	fill(w, len, 2);
	fd = open_fresh(fio, 0);
	HT_CHECK(hl_io_write_full(fio, fd, w, len, 4096) == 0, "write_full");
	st = stats_of(fio);
	HT_CHECK(st.writes >= 3 && st.short_transfers > 0 && st.eintrs > 0,
	    "writes %llu shorts %llu eintrs %llu",
	    (unsigned long long)st.writes,
	    (unsigned long long)st.short_transfers,
	    (unsigned long long)st.eintrs);
	HT_CHECK(st.eintrs == st.writes / 2, "every 2nd write is EINTR");
	HT_CHECK(hl_io_read_full(io, fd, r, len, 4096) == 0, "read back");
	HT_CHECK(memcmp(r, w, len) == 0, "written intact");

	memset(r, 0, len);
	HT_CHECK(hl_io_read_full(fio, fd, r, len, 4096) == 0, "read_full");
	HT_CHECK(memcmp(r, w, len) == 0, "read intact");
	st = stats_of(fio);
	HT_CHECK(st.reads >= 3 && st.eintrs == st.writes / 2 + st.reads / 2,
	    "read eintrs");
	/* Odd calls are cut short, except the last of each transfer, which
	 * moves the one byte left. */
	HT_CHECK(st.short_transfers == (st.writes - st.writes / 2) +
					   (st.reads - st.reads / 2) - 2,
	    "every other call is short");
	HT_CHECK(st.injected_errors == 0, "no errors injected");

	/* Single calls on a new backend: 1 is short, 2 EINTR, 3 would be
	 * short but one byte is never cut, 4 EINTR.  A set does not restart
	 * this rhythm: 5 is short. */
	struct hl_io *fio2 = fault_new(&c);

	n = fio2->ops->read(fio2, fd, r, 100, 4096);
	HT_CHECK(n >= 1 && n < 100, "call 1 short: %zd", n);
	HT_CHECK(memcmp(r, w, (size_t)n) == 0, "short data");
	HT_CHECK(fio2->ops->read(fio2, fd, r, 100, 4096) == -EINTR, "call 2");
	HT_CHECK(fio2->ops->read(fio2, fd, r, 1, 4096) == 1, "call 3, 1 byte");
	HT_CHECK(hl_io_fault_set(fio2, &c) == 0, "set");
	HT_CHECK(fio2->ops->read(fio2, fd, r, 100, 4096) == -EINTR, "call 4");
	n = fio2->ops->read(fio2, fd, r, 100, 4096);
	HT_CHECK(n >= 1 && n < 100, "call 5 short: %zd", n);
	HT_CHECK(
	    stats_of(fio2).short_transfers == 2 && stats_of(fio2).eintrs == 2,
	    "fio2 stats");
	hl_io_destroy(fio2);

	/* EINTR on every call: the full read gives up after the bound. */
	c = (struct hl_io_fault_cfg){.eintr_every = 1};
	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
	st = stats_of(fio);
	HT_CHECK(hl_io_read_full(fio, fd, r, 10, 0) == EINTR, "eintr bound");
	HT_CHECK(stats_of(fio).reads - st.reads == HL_IO_RETRIES + 1,
	    "retried %d times", HL_IO_RETRIES);
	HT_CHECK(hl_io_write_full(fio, fd, w, 10, 0) == EINTR, "eintr bound w");

	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	free(w);
	free(r);
	PASS();
}

/*
 * A custom backend over memory, to drive the full-transfer loop into
 * corners the fault backend does not reach: one byte per call with -EINTR
 * between (many retries in total, never more than one in a row), a write
 * that makes no progress, a backend that claims more than it was asked.
 */
enum trickle_mode { TR_TRICKLE, TR_STALL, TR_OVERRUN };

struct trickle {
	struct hl_io io;
	enum trickle_mode mode;
	uint8_t mem[1000];
	unsigned calls;
};

static ssize_t
trickle_xfer(
    struct hl_io *io, void *rbuf, const void *wbuf, size_t len, uint64_t off)
{
	struct trickle *t = (struct trickle *)io;

	t->calls++;
	if (t->mode == TR_STALL)
		return 0;
	if (t->mode == TR_OVERRUN)
		return (ssize_t)len + 1;
	if (t->calls % 2 == 0)
		return -EINTR;
	if (off >= sizeof(t->mem))
		return 0;
	if (len == 0)
		return 0;
	if (rbuf != NULL)
		memcpy(rbuf, &t->mem[off], 1);
	else
		memcpy(&t->mem[off], wbuf, 1);
	return 1;
}

static ssize_t
trickle_read(struct hl_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	(void)fd;
	return trickle_xfer(io, buf, NULL, len, off);
}

static ssize_t
trickle_write(
    struct hl_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	(void)fd;
	return trickle_xfer(io, NULL, buf, len, off);
}

static const struct hl_io_ops trickle_ops = {
    .read = trickle_read, .write = trickle_write};

static void
test_full_loop(void)
{
	struct trickle t = {.io = {&trickle_ops}, .mode = TR_TRICKLE};
	uint8_t w[1000], r[1000];

	fill(w, sizeof(w), 3);
	HT_CHECK(hl_io_write_full(&t.io, 0, w, sizeof(w), 0) == 0, "trickle w");
	HT_CHECK(t.calls == 2 * sizeof(w) - 1, "calls %u", t.calls);
	HT_CHECK(memcmp(t.mem, w, sizeof(w)) == 0, "trickled data");
	t.calls = 0;
	HT_CHECK(hl_io_read_full(&t.io, 0, r, sizeof(r), 0) == 0, "trickle r");
	HT_CHECK(memcmp(r, w, sizeof(w)) == 0, "trickled back");
	t.calls = 0;
	HT_CHECK(hl_io_read_full(&t.io, 0, r, 10, 995) == EIO, "trickle EOF");

	t.mode = TR_STALL;
	t.calls = 0;
	HT_CHECK(hl_io_write_full(&t.io, 0, w, 10, 0) == EIO, "stalled write");
	HT_CHECK(t.calls == HL_IO_RETRIES + 1, "stall calls %u", t.calls);
	t.calls = 0;
	HT_CHECK(hl_io_read_full(&t.io, 0, r, 10, 0) == EIO, "0-byte read");
	HT_CHECK(t.calls == 1, "EOF is not retried");

	t.mode = TR_OVERRUN;
	HT_CHECK(hl_io_read_full(&t.io, 0, r, 10, 0) == EIO, "overrun r");
	HT_CHECK(hl_io_write_full(&t.io, 0, w, 10, 0) == EIO, "overrun w");
	PASS();
}

/*
 * The four kinds of call, one at a time, each returning 0 on success or
 * the errno it failed with.
 */
enum kind { K_READ, K_WRITE, K_SYNC, K_ALLOC };

static int
call_one(struct hl_io *io, enum kind k, int fd)
{
	uint8_t b[64] = {0};
	ssize_t n;
	void *p;

	switch (k) {
	case K_READ:
		n = io->ops->read(io, fd, b, sizeof(b), 0);
		return n < 0 ? (int)-n : n == (ssize_t)sizeof(b) ? 0 : -1;
	case K_WRITE:
		n = io->ops->write(io, fd, b, sizeof(b), 0);
		return n < 0 ? (int)-n : n == (ssize_t)sizeof(b) ? 0 : -1;
	case K_SYNC:
		return io->ops->sync(io, fd);
	case K_ALLOC:
		p = io->ops->alloc(io, 8192);
		if (p == NULL)
			return ENOMEM;
		io->ops->free(io, p, 8192);
		return 0;
	}
	return -1;
}

static void
set_nth(struct hl_io_fault_cfg *c, enum kind k, uint64_t nth, int err)
{
	switch (k) {
	case K_READ:
		c->fail_read_nth = nth;
		c->read_errno = err;
		break;
	case K_WRITE:
		c->fail_write_nth = nth;
		c->write_errno = err;
		break;
	case K_SYNC:
		c->fail_sync_nth = nth;
		c->sync_errno = err;
		break;
	case K_ALLOC:
		c->fail_alloc_nth = nth;
		break;
	}
}

static void
test_fail_nth(void)
{
	static const char *names[] = {"read", "write", "sync", "alloc"};
	static const uint64_t nths[] = {1, 2, 5, 17};
	struct hl_io *fio = fault_new(NULL);
	int fd = open_fresh(fio, 4096);

	for (int k = K_READ; k <= K_ALLOC; k++) {
		for (size_t i = 0; i < sizeof(nths) / sizeof(nths[0]); i++) {
			for (int sticky = 0; sticky < 2; sticky++) {
				struct hl_io_fault_cfg c = {
				    .fail_sticky = sticky};
				uint64_t nth = nths[i];
				/* errno 0 means EIO; try another too */
				int err = i % 2 ? ENOSPC : 0;
				int want = k == K_ALLOC ? ENOMEM
					   : err == 0	? EIO
							: err;
				struct hl_io_fault_stats st0, st1;

				set_nth(&c, k, nth, err);
				st0 = stats_of(fio);
				HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
				for (uint64_t n = 1; n <= 2 * nth + 3; n++) {
					int e = call_one(fio, k, fd);
					bool fails =
					    n == nth || (sticky && n > nth);

					HT_CHECK(e == (fails ? want : 0),
					    "%s nth=%llu sticky=%d: call %llu "
					    "gave %d",
					    names[k], (unsigned long long)nth,
					    sticky, (unsigned long long)n, e);
					/* Other kinds are unaffected. */
					for (int o = K_READ; o <= K_ALLOC; o++)
						if (o != k)
							HT_CHECK(
							    call_one(fio, o,
								fd) == 0,
							    "%s during %s",
							    names[o], names[k]);
				}
				st1 = stats_of(fio);
				HT_CHECK(
				    st1.injected_errors - st0.injected_errors ==
					(sticky ? nth + 4 : 1),
				    "injected count");
			}
		}
	}

	/* A new configuration restarts the numbering; stats keep going. */
	struct hl_io_fault_cfg c = {.fail_read_nth = 2};
	struct hl_io_fault_stats st = stats_of(fio);

	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
	HT_CHECK(call_one(fio, K_READ, fd) == 0, "read 1");
	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set again");
	HT_CHECK(call_one(fio, K_READ, fd) == 0, "read 1 again");
	HT_CHECK(call_one(fio, K_READ, fd) == EIO, "read 2 fails");
	HT_CHECK(call_one(fio, K_READ, fd) == 0, "read 3");
	HT_CHECK(stats_of(fio).reads == st.reads + 4, "reads keep counting");

	/* A failed read inside a full transfer stops it with that errno. */
	uint8_t buf[256];

	c = (struct hl_io_fault_cfg){
	    .fail_read_nth = 3, .read_errno = EROFS, .short_every = 1};
	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
	HT_CHECK(hl_io_read_full(fio, fd, buf, sizeof(buf), 0) == EROFS,
	    "full read meets the failure");
	c = (struct hl_io_fault_cfg){.fail_write_nth = 1};
	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
	HT_CHECK(hl_io_write_full(fio, fd, buf, sizeof(buf), 0) == EIO,
	    "full write fails");
	HT_CHECK(hl_io_write_full(fio, fd, buf, sizeof(buf), 0) == 0,
	    "next full write");

	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	PASS();
}

/* Which of `ncalls' 1-byte reads fail at rate ppm with seed; returns the
 * count and sets bits in map (ncalls bits). */
static unsigned
rate_run(uint32_t ppm, uint64_t seed, unsigned ncalls, uint8_t *map)
{
	struct hl_io_fault_cfg c = {.fail_rate_ppm = ppm, .seed = seed};
	struct hl_io *fio = fault_new(&c);
	int fd = open_fresh(fio, 16);
	unsigned nfail = 0;
	uint8_t b;

	if (map != NULL)
		memset(map, 0, (ncalls + 7) / 8);
	for (unsigned i = 0; i < ncalls; i++) {
		ssize_t n = fio->ops->read(fio, fd, &b, 1, 0);

		HT_CHECK(n == 1 || n == -EIO, "read gave %zd", n);
		if (n == -EIO) {
			nfail++;
			if (map != NULL)
				map[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	HT_CHECK(stats_of(fio).injected_errors == nfail, "stats count");
	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	return nfail;
}

static void
test_fail_rate(void)
{
	enum { N = 20000 };
	static uint8_t m1[N / 8], m2[N / 8], m3[N / 8];
	unsigned a, b, c;

	/* 10%: 2000 expected, sd ~42; allow 7 sd either way. */
	a = rate_run(100000, 12345, N, m1);
	HT_CHECK(a > 1700 && a < 2300, "10%% of %d: %u", N, a);
	/* The same seed repeats exactly; another seed does not. */
	b = rate_run(100000, 12345, N, m2);
	HT_CHECK(a == b && memcmp(m1, m2, sizeof(m1)) == 0, "repeatable");
	c = rate_run(100000, 54321, N, m3);
	HT_CHECK(c > 1700 && c < 2300, "other seed: %u", c);
	HT_CHECK(memcmp(m1, m3, sizeof(m1)) != 0, "seed matters");
	/* 0.1%: 20 expected. */
	a = rate_run(1000, 7, N, NULL);
	HT_CHECK(a >= 3 && a <= 50, "0.1%% of %d: %u", N, a);
	HT_CHECK(rate_run(0, 7, 1000, NULL) == 0, "rate 0");
	HT_CHECK(rate_run(1000000, 7, 1000, NULL) == 1000, "rate 100%%");

	/* Writes too; syncs and allocs never fail at random. */
	struct hl_io_fault_cfg cf = {.fail_rate_ppm = 1000000};
	struct hl_io *fio = fault_new(&cf);
	int fd = open_fresh(fio, 64);

	HT_CHECK(call_one(fio, K_WRITE, fd) == EIO, "random write failure");
	HT_CHECK(call_one(fio, K_SYNC, fd) == 0, "sync unaffected");
	HT_CHECK(call_one(fio, K_ALLOC, fd) == 0, "alloc unaffected");
	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	PASS();
}

static void
test_delay(void)
{
	struct hl_io_fault_cfg c = {.delay_us = 2000};
	struct hl_io *fio = fault_new(&c);
	int fd = open_fresh(fio, 64);
	uint8_t b[64];
	double t0, ms;

	t0 = now_ms();
	for (int i = 0; i < 5; i++) {
		HT_CHECK(call_one(fio, K_READ, fd) == 0, "read");
		HT_CHECK(call_one(fio, K_WRITE, fd) == 0, "write");
	}
	ms = now_ms() - t0;
	HT_CHECK(ms >= 15.0, "10 calls of 2 ms took %.2f ms", ms);
	/* A failed call is slow as well (the device took its time). */
	c.fail_read_nth = 1;
	HT_CHECK(hl_io_fault_set(fio, &c) == 0, "set");
	t0 = now_ms();
	HT_CHECK(fio->ops->read(fio, fd, b, sizeof(b), 0) == -EIO, "fails");
	HT_CHECK(now_ms() - t0 >= 1.5, "failure delayed");
	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	PASS();
}

static void
test_args(void)
{
	struct hl_io_fault_cfg c = {0};
	struct hl_io_fault_stats st;
	struct hl_io *fio = NULL;

	HT_CHECK(hl_io_fault_create(NULL, NULL, NULL) == EINVAL, "NULL iop");
	c.read_errno = -5;
	HT_CHECK(hl_io_fault_create(NULL, &c, &fio) == EINVAL && fio == NULL,
	    "negative errno");
	c = (struct hl_io_fault_cfg){.fail_rate_ppm = 1000001};
	HT_CHECK(hl_io_fault_create(NULL, &c, &fio) == EINVAL, "ppm > 10^6");
	HT_CHECK(hl_io_fault_set(hl_io_posix(), NULL) == EINVAL, "set posix");
	HT_CHECK(hl_io_fault_set(NULL, NULL) == EINVAL, "set NULL");
	memset(&st, 0xFF, sizeof(st));
	HT_CHECK(hl_io_fault_stats(hl_io_posix(), &st) == EINVAL &&
		     st.reads == 0 && st.eintrs == 0,
	    "stats posix");

	/* A fault backend over a fault backend works; set rejects bad
	 * cfgs without changing the good one. */
	struct hl_io *inner = fault_new(NULL), *outer = NULL;
	int fd;

	c = (struct hl_io_fault_cfg){.fail_sync_nth = 2};
	HT_CHECK(hl_io_fault_create(inner, &c, &outer) == 0, "stack");
	c.sync_errno = -1;
	HT_CHECK(hl_io_fault_set(outer, &c) == EINVAL, "bad set");
	fd = open_fresh(outer, 64);
	HT_CHECK(call_one(outer, K_SYNC, fd) == 0, "sync 1");
	HT_CHECK(call_one(outer, K_SYNC, fd) == EIO, "sync 2");
	HT_CHECK(call_one(outer, K_READ, fd) == 0, "read");
	HT_CHECK(stats_of(inner).syncs == 1 && stats_of(inner).reads == 1,
	    "inner saw what passed");
	HT_CHECK(outer->ops->close(outer, fd) == 0, "close");
	hl_io_destroy(outer);
	hl_io_destroy(inner);
	PASS();
}

/*
 * Many threads at once.  Phase A: exact faults (one read, one sync, one
 * alloc) under short transfers and EINTR, each thread writing and reading
 * back its own region.  Phase B: random faults while another thread keeps
 * changing the configuration; every return is classified and the sums
 * must equal the backend's counters.
 */
struct worker {
	pthread_t tid;
	int idx;
	int fd;
	struct hl_io *io;
	uint64_t rng;
	/* phase A */
	unsigned alloc_fail, read_fail, write_fail, sync_fail, frees;
	/* phase B */
	uint64_t reads, writes, syncs, errors, shorts, eintrs;
};

enum { A_ITERS = 300, B_ITERS = 3000, REGION = 8192 };

static void *
phase_a(void *arg)
{
	struct worker *w = arg;
	uint8_t *chk = malloc(4096);

	HT_CHECK(chk != NULL, "malloc");
	for (int it = 0; it < A_ITERS; it++) {
		uint64_t off = (uint64_t)w->idx * REGION + (it % 2) * 4096;
		uint8_t *b;
		int e;

		if (it % 10 == 0 && w->io->ops->sync(w->io, w->fd) != 0)
			w->sync_fail++;
		b = w->io->ops->alloc(w->io, 4096);
		if (b == NULL) {
			w->alloc_fail++;
			continue;
		}
		fill(b, 4096, (uint64_t)w->idx << 32 | (uint64_t)it);
		e = hl_io_write_full(w->io, w->fd, b, 4096, off);
		if (e != 0) {
			w->write_fail++;
		} else {
			e = hl_io_read_full(w->io, w->fd, chk, 4096, off);
			if (e == EIO)
				w->read_fail++;
			else
				HT_CHECK(e == 0 && memcmp(chk, b, 4096) == 0,
				    "thread %d iter %d: %d", w->idx, it, e);
		}
		w->io->ops->free(w->io, b, 4096);
		w->frees++;
	}
	free(chk);
	return NULL;
}

static _Atomic int b_stop;

static void *
phase_b(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[512];
	struct hl_io_fault_stats st;

	fill(buf, sizeof(buf), (uint64_t)w->idx);
	for (int it = 0; it < B_ITERS; it++) {
		unsigned op = ht_rand_below(&w->rng, 16);
		uint64_t off = (uint64_t)w->idx * REGION +
			       ht_rand_below(&w->rng, REGION - sizeof(buf));
		ssize_t n;

		if (op == 0) {
			w->syncs++;
			HT_CHECK(w->io->ops->sync(w->io, w->fd) == 0, "sync");
			continue;
		}
		if (op == 1) {
			hl_io_fault_stats(w->io, &st);
			continue;
		}
		if (op < 9) {
			w->reads++;
			n = w->io->ops->read(
			    w->io, w->fd, buf, sizeof(buf), off);
		} else {
			w->writes++;
			n = w->io->ops->write(
			    w->io, w->fd, buf, sizeof(buf), off);
		}
		if (n == -EIO)
			w->errors++;
		else if (n == -EINTR)
			w->eintrs++;
		else if (n >= 1 && n < (ssize_t)sizeof(buf))
			w->shorts++;
		else
			HT_CHECK(n == (ssize_t)sizeof(buf), "thread %d: %zd",
			    w->idx, n);
	}
	return NULL;
}

/* Keeps switching between two random-fault configurations. */
static void *
changer(void *arg)
{
	struct hl_io *io = arg;
	struct hl_io_fault_cfg c[2] = {
	    {.fail_rate_ppm = 50000,
		.short_every = 3,
		.eintr_every = 5,
		.seed = 1},
	    {.fail_rate_ppm = 200000,
		.short_every = 2,
		.eintr_every = 7,
		.delay_us = 1,
		.seed = 2},
	};

	for (unsigned i = 0; !atomic_load(&b_stop); i++) {
		HT_CHECK(hl_io_fault_set(io, &c[i % 2]) == 0, "set");
		sched_yield();
	}
	return NULL;
}

static void
test_threads(uint64_t seed)
{
	struct worker w[NTHREADS];
	struct hl_io_fault_cfg c = {
	    .fail_read_nth = 500,
	    .fail_sync_nth = 50,
	    .fail_alloc_nth = 100,
	    .short_every = 2,
	    .eintr_every = 3,
	    .seed = seed,
	};
	struct hl_io *fio = fault_new(&c);
	struct hl_io_fault_stats st;
	int fd = open_fresh(fio, (uint64_t)NTHREADS * REGION);
	unsigned alloc_fail = 0, read_fail = 0, write_fail = 0, sync_fail = 0;
	uint64_t frees = 0;
	pthread_t ch;

	memset(w, 0, sizeof(w));
	for (int i = 0; i < NTHREADS; i++) {
		w[i].idx = i;
		w[i].fd = fd;
		w[i].io = fio;
		w[i].rng = ht_rng_stream(seed, (uint64_t)i);
		HT_CHECK(pthread_create(&w[i].tid, NULL, phase_a, &w[i]) == 0,
		    "pthread_create");
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		alloc_fail += w[i].alloc_fail;
		read_fail += w[i].read_fail;
		write_fail += w[i].write_fail;
		sync_fail += w[i].sync_fail;
		frees += w[i].frees;
	}
	st = stats_of(fio);
	HT_CHECK(alloc_fail == 1 && read_fail == 1 && sync_fail == 1 &&
		     write_fail == 0,
	    "phase A: alloc %u read %u sync %u write %u failures", alloc_fail,
	    read_fail, sync_fail, write_fail);
	HT_CHECK(st.injected_errors == 3, "injected %llu",
	    (unsigned long long)st.injected_errors);
	HT_CHECK(st.allocs == NTHREADS * A_ITERS && st.frees == frees &&
		     frees == NTHREADS * A_ITERS - 1,
	    "allocs %llu frees %llu", (unsigned long long)st.allocs,
	    (unsigned long long)st.frees);
	HT_CHECK(st.syncs == NTHREADS * (A_ITERS / 10), "syncs %llu",
	    (unsigned long long)st.syncs);
	HT_CHECK(st.reads >= 500 && st.short_transfers > 0 && st.eintrs > 0,
	    "reads %llu", (unsigned long long)st.reads);
	HT_CHECK(st.eintrs + st.short_transfers <= st.reads + st.writes,
	    "at most one fault per call");
	hl_io_destroy(fio);

	/* Phase B on a fresh backend. */
	c = (struct hl_io_fault_cfg){
	    .fail_rate_ppm = 50000, .short_every = 3, .eintr_every = 5};
	fio = fault_new(&c);
	atomic_store(&b_stop, 0);
	HT_CHECK(pthread_create(&ch, NULL, changer, fio) == 0, "changer");
	for (int i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].idx = i;
		w[i].fd = fd;
		w[i].io = fio;
		w[i].rng = ht_rng_stream(seed, (uint64_t)(100 + i));
		HT_CHECK(pthread_create(&w[i].tid, NULL, phase_b, &w[i]) == 0,
		    "pthread_create");
	}
	struct worker sum = {0};

	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		sum.reads += w[i].reads;
		sum.writes += w[i].writes;
		sum.syncs += w[i].syncs;
		sum.errors += w[i].errors;
		sum.shorts += w[i].shorts;
		sum.eintrs += w[i].eintrs;
	}
	atomic_store(&b_stop, 1);
	pthread_join(ch, NULL);
	st = stats_of(fio);
	HT_CHECK(st.reads == sum.reads && st.writes == sum.writes &&
		     st.syncs == sum.syncs,
	    "calls: stats %llu/%llu/%llu, threads %llu/%llu/%llu",
	    (unsigned long long)st.reads, (unsigned long long)st.writes,
	    (unsigned long long)st.syncs, (unsigned long long)sum.reads,
	    (unsigned long long)sum.writes, (unsigned long long)sum.syncs);
	HT_CHECK(st.injected_errors == sum.errors &&
		     st.short_transfers == sum.shorts &&
		     st.eintrs == sum.eintrs,
	    "faults: stats %llu/%llu/%llu, threads %llu/%llu/%llu",
	    (unsigned long long)st.injected_errors,
	    (unsigned long long)st.short_transfers,
	    (unsigned long long)st.eintrs, (unsigned long long)sum.errors,
	    (unsigned long long)sum.shorts, (unsigned long long)sum.eintrs);
	HT_CHECK(sum.errors > 0 && sum.shorts > 0 && sum.eintrs > 0,
	    "every fault happened");
	fio->ops->close(fio, fd);
	hl_io_destroy(fio);
	PASS();
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/hl_io.XXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	fd = mkstemp(path);
	HT_CHECK(fd >= 0, "mkstemp %s", path);
	close(fd);
	test_posix_roundtrip();
	test_eof();
	test_short_and_eintr();
	test_full_loop();
	test_fail_nth();
	test_fail_rate();
	test_delay();
	test_args();
	test_threads(seed);
	unlink(path);
	ht_pass("unit_io", npassed);
	return 0;
}
