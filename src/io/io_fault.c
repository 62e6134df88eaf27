/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_fault.c - a backend that wraps another one and makes some of its
 * calls fail, stop short, report EINTR or run slowly, as configured
 * (see hammerlock/io.h for the rules).
 *
 * Everything a call consults or changes is an atomic: the configuration
 * fields, the per-kind call numbers and the statistics.  There is no lock
 * and no shared random generator; a random choice is a hash of the seed,
 * the kind of call and its number, so it needs no state at all.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <hammerlock/io.h>

enum fault_kind { FK_READ, FK_WRITE, FK_SYNC, FK_ALLOC, FK_NKINDS };

struct fault_io {
	struct hl_io io; /* first: a struct hl_io * is a struct fault_io * */
	struct hl_io *lower;

	/* The configuration, one atomic per field. */
	_Atomic uint64_t nth[FK_NKINDS];
	_Atomic int err[FK_ALLOC]; /* read, write, sync; never 0 */
	_Atomic bool sticky;
	_Atomic uint32_t short_every;
	_Atomic uint32_t eintr_every;
	_Atomic uint32_t delay_us;
	_Atomic uint32_t fail_rate_ppm;
	_Atomic uint64_t seed;

	/* Calls of each kind since the configuration was last set: what
	 * fail_*_nth counts. */
	_Atomic uint64_t since_set[FK_NKINDS];

	/* Statistics since creation.  calls[] also numbers the calls for
	 * every-Kth faults and random choices, which a new configuration
	 * must not restart (or frequent changes would starve them). */
	_Atomic uint64_t calls[FK_NKINDS];
	_Atomic uint64_t frees;
	_Atomic uint64_t injected;
	_Atomic uint64_t shorts;
	_Atomic uint64_t eintrs;
};

static const struct hl_io_ops fault_ops;

#define LOAD(p)	    atomic_load_explicit(p, memory_order_relaxed)
#define STORE(p, v) atomic_store_explicit(p, v, memory_order_relaxed)

/* Count one more; returns the new value. */
static uint64_t
bump(_Atomic uint64_t *p)
{
	return atomic_fetch_add_explicit(p, 1, memory_order_relaxed) + 1;
}

/* The backend behind one of its own operations. */
static struct fault_io *
self(struct hl_io *io)
{
	return (struct fault_io *)io;
}

/* The same, checked: NULL unless io is a fault backend. */
static struct fault_io *
to_fault(struct hl_io *io)
{
	return io != NULL && io->ops == &fault_ops ? (struct fault_io *)io
						   : NULL;
}

/* splitmix64 over (seed, kind, salt, n): a stateless random number. */
static uint64_t
fault_hash(uint64_t seed, unsigned kind, unsigned salt, uint64_t n)
{
	uint64_t z = seed ^ ((uint64_t)(kind * 4 + salt) << 56);

	z += n * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Is call n of this kind the configured nth (or later, when sticky)? */
static bool
nth_fails(struct fault_io *f, enum fault_kind kind, uint64_t n)
{
	uint64_t nth = LOAD(&f->nth[kind]);

	if (nth == 0)
		return false;
	return n == nth || (n > nth && LOAD(&f->sticky));
}

static void
sleep_us(uint32_t us)
{
	struct timespec ts = {
	    .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static ssize_t
inject(struct fault_io *f, enum fault_kind kind)
{
	bump(&f->injected);
	return -(ssize_t)LOAD(&f->err[kind]);
}

/* A read (into rbuf) or a write (from wbuf), in the order of io.h. */
static ssize_t
fault_rw(struct fault_io *f, enum fault_kind kind, int fd, void *rbuf,
    const void *wbuf, size_t len, uint64_t off)
{
	uint64_t n = bump(&f->calls[kind]);
	uint64_t nset = bump(&f->since_set[kind]);
	uint64_t seed = LOAD(&f->seed);
	uint32_t delay = LOAD(&f->delay_us);
	uint32_t every;
	uint32_t ppm;

	if (delay != 0)
		sleep_us(delay);
	if (nth_fails(f, kind, nset))
		return inject(f, kind);
	every = LOAD(&f->eintr_every);
	if (every != 0 && n % every == 0) {
		bump(&f->eintrs);
		return -EINTR;
	}
	ppm = LOAD(&f->fail_rate_ppm);
	if (ppm != 0 && fault_hash(seed, kind, 0, n) % 1000000u < ppm)
		return inject(f, kind);
	every = LOAD(&f->short_every);
	if (every != 0 && n % every == 0 && len > 1) {
		len = 1 + (size_t)(fault_hash(seed, kind, 1, n) % (len - 1));
		bump(&f->shorts);
	}
	if (kind == FK_READ)
		return f->lower->ops->read(f->lower, fd, rbuf, len, off);
	return f->lower->ops->write(f->lower, fd, wbuf, len, off);
}

static int
fault_open(struct hl_io *io, const char *path, int flags, int *fdp)
{
	struct hl_io *lower = self(io)->lower;

	return lower->ops->open(lower, path, flags, fdp);
}

static int
fault_close(struct hl_io *io, int fd)
{
	struct hl_io *lower = self(io)->lower;

	return lower->ops->close(lower, fd);
}

static int
fault_size(struct hl_io *io, int fd, uint64_t *sizep)
{
	struct hl_io *lower = self(io)->lower;

	return lower->ops->size(lower, fd, sizep);
}

static ssize_t
fault_read(struct hl_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	return fault_rw(self(io), FK_READ, fd, buf, NULL, len, off);
}

static ssize_t
fault_write(struct hl_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	return fault_rw(self(io), FK_WRITE, fd, NULL, buf, len, off);
}

static int
fault_sync(struct hl_io *io, int fd)
{
	struct fault_io *f = self(io);
	uint64_t nset = bump(&f->since_set[FK_SYNC]);

	bump(&f->calls[FK_SYNC]);
	if (nth_fails(f, FK_SYNC, nset))
		return (int)-inject(f, FK_SYNC);
	return f->lower->ops->sync(f->lower, fd);
}

static void *
fault_alloc(struct hl_io *io, size_t len)
{
	struct fault_io *f = self(io);
	uint64_t nset = bump(&f->since_set[FK_ALLOC]);

	bump(&f->calls[FK_ALLOC]);
	if (nth_fails(f, FK_ALLOC, nset)) {
		bump(&f->injected);
		return NULL;
	}
	return f->lower->ops->alloc(f->lower, len);
}

static void
fault_free(struct hl_io *io, void *p, size_t len)
{
	struct fault_io *f = self(io);

	bump(&f->frees);
	f->lower->ops->free(f->lower, p, len);
}

static void
fault_destroy(struct hl_io *io)
{
	free(self(io));
}

static const struct hl_io_ops fault_ops = {
    .open = fault_open,
    .close = fault_close,
    .size = fault_size,
    .read = fault_read,
    .write = fault_write,
    .sync = fault_sync,
    .alloc = fault_alloc,
    .free = fault_free,
    .destroy = fault_destroy,
};

static bool
cfg_valid(const struct hl_io_fault_cfg *c)
{
	return c->read_errno >= 0 && c->write_errno >= 0 &&
	       c->sync_errno >= 0 && c->fail_rate_ppm <= 1000000u;
}

/* Store every field, then restart the counts of fail_*_nth. */
static void
cfg_store(struct fault_io *f, const struct hl_io_fault_cfg *c)
{
	STORE(&f->nth[FK_READ], c->fail_read_nth);
	STORE(&f->nth[FK_WRITE], c->fail_write_nth);
	STORE(&f->nth[FK_SYNC], c->fail_sync_nth);
	STORE(&f->nth[FK_ALLOC], c->fail_alloc_nth);
	STORE(&f->err[FK_READ], c->read_errno != 0 ? c->read_errno : EIO);
	STORE(&f->err[FK_WRITE], c->write_errno != 0 ? c->write_errno : EIO);
	STORE(&f->err[FK_SYNC], c->sync_errno != 0 ? c->sync_errno : EIO);
	STORE(&f->sticky, c->fail_sticky);
	STORE(&f->short_every, c->short_every);
	STORE(&f->eintr_every, c->eintr_every);
	STORE(&f->delay_us, c->delay_us);
	STORE(&f->fail_rate_ppm, c->fail_rate_ppm);
	STORE(&f->seed, c->seed);
	for (int k = 0; k < FK_NKINDS; k++)
		STORE(&f->since_set[k], 0);
}

HL_EXPORT int
hl_io_fault_create(
    struct hl_io *lower, const struct hl_io_fault_cfg *cfg, struct hl_io **iop)
{
	static const struct hl_io_fault_cfg none;
	struct fault_io *f;

	if (iop == NULL)
		return EINVAL;
	if (cfg == NULL)
		cfg = &none;
	if (!cfg_valid(cfg))
		return EINVAL;
	if (lower == NULL)
		lower = hl_io_posix();
	if (lower->ops == NULL)
		return EINVAL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return ENOMEM;
	f->io.ops = &fault_ops;
	f->lower = lower;
	cfg_store(f, cfg);
	*iop = &f->io;
	return 0;
}

HL_EXPORT int
hl_io_fault_set(struct hl_io *io, const struct hl_io_fault_cfg *cfg)
{
	static const struct hl_io_fault_cfg none;
	struct fault_io *f = to_fault(io);

	if (cfg == NULL)
		cfg = &none;
	if (f == NULL || !cfg_valid(cfg))
		return EINVAL;
	cfg_store(f, cfg);
	return 0;
}

HL_EXPORT int
hl_io_fault_stats(struct hl_io *io, struct hl_io_fault_stats *st)
{
	struct fault_io *f = to_fault(io);

	if (st == NULL)
		return EINVAL;
	if (f == NULL) {
		*st = (struct hl_io_fault_stats){0};
		return EINVAL;
	}
	st->reads = LOAD(&f->calls[FK_READ]);
	st->writes = LOAD(&f->calls[FK_WRITE]);
	st->syncs = LOAD(&f->calls[FK_SYNC]);
	st->allocs = LOAD(&f->calls[FK_ALLOC]);
	st->frees = LOAD(&f->frees);
	st->injected_errors = LOAD(&f->injected);
	st->short_transfers = LOAD(&f->shorts);
	st->eintrs = LOAD(&f->eintrs);
	return 0;
}
