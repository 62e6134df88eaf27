/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_cache_fault.c - the object cache over the fault-injecting backend:
 * every read, write, fdatasync and alloc error path, with the errors at
 * each place a fixed workload reaches, and transfers cut short or
 * interrupted (which must be transparent).
 *
 * A run makes two fresh volume files, mounts them through a fault
 * backend and plays a fixed workload of volume gets, node creations,
 * modifications, reads and syncs.  Every operation must succeed or fail
 * with the injected errno (never another one, never EDOM: nothing on disk
 * is ever damaged), and afterwards nothing may be referenced but the
 * buffers whose write failed (the error holds those).  hl_mount_close()
 * must return 0.  Then the files are mounted again through the POSIX
 * backend and compared with a model of what a sync may have put on disk:
 * each node of the workload must hold one of the versions that a sync
 * attempt (or the pool's write-back) saw since the last sync that
 * returned 0 (only that version if there was no failed attempt since),
 * every other node must be as newfs left it, and every node of both
 * volumes must pass hl_node_check().
 *
 * The fail-the-Nth loops run the workload once without faults to count
 * the calls of each kind, then for N = 1..count+1 on a fresh mount, with
 * the fault once (then the failed sync is retried with faults off and
 * must succeed) and sticky (every later call fails too).  The pool holds
 * 4, 16 or 2 buffers of the 9 in play: with 2, it must write modified
 * buffers back between syncs to make room.
 *
 * The files go to $TMPDIR, else /dev/shm (the runs fdatasync a lot),
 * else /tmp.  $HL_TEST_KNOWN_BUGS also checks a known bug (see op_sync).
 *
 *   fault_cache [--seed N]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NVOL 2
#define VSZ  (256u << 10) /* bytes per volume: 16 buffers */
#define BSZ  16384u	  /* buffer size */
#define NSZ  4096u	  /* node size */
#define NW   10		  /* nodes the workload touches */
#define NOK  32		  /* versions a node may hold on disk */

/* Errnos the backend injects: distinct, so that none passes for another. */
#define READ_ERR  EREMOTEIO
#define WRITE_ERR ENOSPC
#define SYNC_ERR  EIO

static char dir[64];
static char p0[96], p1[96];
static const char *paths[NVOL] = {p0, p1};
static uint8_t golden[NVOL][VSZ]; /* the volumes as newfs made them */
static bool known_bugs;		  /* $HL_TEST_KNOWN_BUGS: check them too */
static uint64_t nth_stride = 1;	  /* $HL_FAULT_STRIDE: N steps by this */
static int npassed;

/*
 * The model.  Node content is a function of its offset and a version
 * (0: never written, all zero).  mem is the version in memory; ok[] the
 * versions the disk may hold; clean the version the last sync that
 * returned 0 made durable.
 */
struct wnode {
	unsigned vol, buf, slot;
	uint32_t mem, clean;
	uint32_t ok[NOK];
	int nok;
};

static struct wnode W[NW] = {
    {0, 1, 1},
    {0, 1, 2},
    {0, 2, 1},
    {1, 1, 3},
    {0, 3, 0},
    {1, 4, 1},
    {1, 7, 2},
    {0, 5, 3},
    {1, 9, 0},
    {0, 15, 3},
};

static uint64_t root_mem;
static uint64_t root_ok[NOK];
static int nroot_ok;

static uint64_t
woff(int i)
{
	return HL_OFF_MAKE(
	    W[i].vol, (uint64_t)W[i].buf * BSZ + (uint64_t)W[i].slot * NSZ);
}

static uint8_t
pat(uint64_t off, uint32_t ver, size_t i)
{
	return (uint8_t)((off >> 12) * 31 + ver * 131 + i * 7 + (i >> 8));
}

/* Every third version names a parent (zone 2, aligned: hl_node_check
 * accepts it). */
static uint64_t
parent_of(uint32_t ver)
{
	return ver % 3 == 0 ? HL_OFF_MAKE(1, BSZ) : 0;
}

/* Write version ver into a node (its CRC and generation are the cache's
 * business: sealed at write-back). */
static void
fill_node(uint8_t *p, uint64_t off, uint32_t ver)
{
	hl_le16_put(p + HL_NODE_OFF_TYPE, HL_NODE_RAW);
	hl_le16_put(p + HL_NODE_OFF_COUNT, NSZ - HL_NODE_HDR_SIZE);
	hl_le64_put(p + HL_NODE_OFF_PARENT, parent_of(ver));
	for (size_t i = HL_NODE_HDR_SIZE; i < NSZ; i++)
		p[i] = pat(off, ver, i);
}

/* Does the node hold version ver? */
static bool
node_is(const uint8_t *p, uint64_t off, uint32_t ver)
{
	if (ver == 0) {
		for (size_t i = 0; i < NSZ; i++)
			if (p[i] != 0)
				return false;
		return true;
	}
	if (hl_le16_get(p + HL_NODE_OFF_TYPE) != HL_NODE_RAW ||
	    hl_le16_get(p + HL_NODE_OFF_COUNT) != NSZ - HL_NODE_HDR_SIZE ||
	    hl_le64_get(p + HL_NODE_OFF_PARENT) != parent_of(ver))
		return false;
	for (size_t i = HL_NODE_HDR_SIZE; i < NSZ; i++)
		if (p[i] != pat(off, ver, i))
			return false;
	return true;
}

static void
ok_add(uint32_t *set, int *n, uint32_t v)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == v)
			return;
	HT_CHECK(*n < NOK, "model: too many versions");
	set[(*n)++] = v;
}

static void
model_reset(void)
{
	for (int i = 0; i < NW; i++) {
		W[i].mem = W[i].clean = 0;
		W[i].ok[0] = 0;
		W[i].nok = 1;
	}
	root_mem = 0;
	root_ok[0] = 0;
	nroot_ok = 1;
}

/* A sync returned 0: memory is on disk. */
static void
model_synced(void)
{
	for (int i = 0; i < NW; i++) {
		W[i].clean = W[i].ok[0] = W[i].mem;
		W[i].nok = 1;
	}
	root_ok[0] = root_mem;
	nroot_ok = 1;
}

/* A sync failed: it may have written anything it saw, or nothing. */
static void
model_sync_failed(void)
{
	for (int i = 0; i < NW; i++)
		ok_add(W[i].ok, &W[i].nok, W[i].mem);
	for (int i = 0; i < nroot_ok; i++)
		if (root_ok[i] == root_mem)
			return;
	HT_CHECK(nroot_ok < NOK, "model: too many roots");
	root_ok[nroot_ok++] = root_mem;
}

/* Fresh volume files: copies of the newfs'ed ones (no fsync). */
static void
fresh_volumes(void)
{
	for (int v = 0; v < NVOL; v++) {
		int fd = open(paths[v], O_RDWR | O_CREAT | O_TRUNC, 0644);

		HT_CHECK(fd >= 0, "open %s", paths[v]);
		HT_CHECK(pwrite(fd, golden[v], VSZ, 0) == VSZ, "pwrite");
		close(fd);
	}
}

/*
 * One case: what to inject, when, and which errnos may come out.
 */
struct fcase {
	const char *name;
	struct hl_io_fault_cfg cfg;
	uint64_t pool_buffers; /* pool budget, in buffers */
	int errs[3];	       /* the errnos an operation may fail with */
	bool after_mount;      /* arm the faults once mounted */
	bool retry;	       /* a failed sync: faults off, sync again */
};

struct run {
	const struct fcase *fc;
	struct hl_mount *m;
	struct hl_io *io;
	struct hl_trans t;
	uint64_t writebacks;	      /* the pool's, as last seen */
	uint64_t writes;	      /* all buffer writes, as last seen */
	bool wb_dirty;		      /* written back since the last sync */
	int nfail;		      /* operations that failed */
	struct hl_io_fault_stats fst; /* the backend's, at the end */
};

static void
expect_err(struct run *r, const char *op, int e)
{
	for (int i = 0; i < 3 && r->fc->errs[i] != 0; i++)
		if (e == r->fc->errs[i]) {
			r->nfail++;
			return;
		}
	HT_CHECK(false,
	    "%s N=%llu%s: %s failed with %d (%s), not an injected "
	    "errno",
	    r->fc->name,
	    (unsigned long long)(r->fc->cfg.fail_read_nth |
				 r->fc->cfg.fail_write_nth |
				 r->fc->cfg.fail_sync_nth |
				 r->fc->cfg.fail_alloc_nth),
	    r->fc->cfg.fail_sticky ? " sticky" : "", op, e, strerror(e));
}

/*
 * The pool wrote modified buffers back to make room (even if its
 * fdatasync then failed, the write may have reached the disk): the disk
 * may hold whatever memory held then.
 */
static void
note_writebacks(struct run *r)
{
	struct hl_mount_stats st;

	hl_mount_stats(r->m, &st);
	if (st.writebacks == r->writebacks && st.writes == r->writes)
		return;
	r->writebacks = st.writebacks;
	r->writes = st.writes;
	r->wb_dirty = true;
	for (int i = 0; i < NW; i++)
		ok_add(W[i].ok, &W[i].nok, W[i].mem);
}

/*
 * Between operations the workload holds nothing: no node may be
 * referenced, no buffer but by its failed write, and the pool's count
 * must match the memory held.
 */
static void
check_rest(struct run *r, const char *op)
{
	struct hl_mount_stats st;

	note_writebacks(r);
	hl_mount_stats(r->m, &st);
	HT_CHECK(st.nodes_referenced == 0, "%s after %s: %llu nodes referenced",
	    r->fc->name, op, (unsigned long long)st.nodes_referenced);
	HT_CHECK(st.buffers_referenced == st.buffers_ioerror,
	    "%s after %s: %llu buffers referenced, %llu by failed writes",
	    r->fc->name, op, (unsigned long long)st.buffers_referenced,
	    (unsigned long long)st.buffers_ioerror);
	HT_CHECK(st.buffers_modified >= st.buffers_ioerror,
	    "%s after %s: %llu failed writes but %llu modified", r->fc->name,
	    op, (unsigned long long)st.buffers_ioerror,
	    (unsigned long long)st.buffers_modified);
	HT_CHECK(st.buffer_loads - st.buffer_unloads == st.buffers_resident &&
		     st.pool_bytes == st.buffers_resident * BSZ &&
		     st.pool_bytes <= st.pool_limit,
	    "%s after %s: loads %llu unloads %llu resident %llu pool %llu",
	    r->fc->name, op, (unsigned long long)st.buffer_loads,
	    (unsigned long long)st.buffer_unloads,
	    (unsigned long long)st.buffers_resident,
	    (unsigned long long)st.pool_bytes);
}

static void
op_volume(struct run *r, int vol)
{
	struct hl_volume *v;
	int e;

	v = hl_get_volume(r->m, vol, &e);
	if (v == NULL) {
		expect_err(r, "hl_get_volume", e);
	} else {
		HT_CHECK(hl_volume_header(v)->vol_no == (uint32_t)vol,
		    "volume %d", vol);
		hl_rel_volume(v);
	}
	check_rest(r, "hl_get_volume");
}

/* Create (isnew) or modify node i: its next version. */
static void
op_modify(struct run *r, int i, bool isnew)
{
	uint64_t off = woff(i);
	struct hl_node *n;
	int e;

	n = hl_get_node(&r->t, off, isnew, &e);
	if (n == NULL) {
		expect_err(r, isnew ? "hl_get_node(new)" : "hl_get_node", e);
		check_rest(r, "a failed hl_get_node");
		return;
	}
	note_writebacks(r); /* before this modification */
	HT_CHECK(isnew || node_is(hl_node_data(n), off, W[i].mem),
	    "%s: node %d does not hold version %u before modifying",
	    r->fc->name, i, W[i].mem);
	HT_CHECK((e = hl_modify_node(n)) == 0, "hl_modify_node: %d", e);
	fill_node(hl_node_data(n), off, W[i].mem + 1);
	hl_modify_node_done(n);
	W[i].mem++;
	hl_rel_node(n);
	check_rest(r, "a modification");
}

/* Read node i back: it must hold the version in memory. */
static void
op_verify(struct run *r, int i)
{
	uint64_t off = woff(i);
	struct hl_node *n;
	int e;

	n = hl_get_node(&r->t, off, false, &e);
	if (n == NULL) {
		expect_err(r, "hl_get_node (read back)", e);
	} else {
		HT_CHECK(node_is(hl_node_data(n), off, W[i].mem),
		    "%s: node %d (%#llx) does not hold version %u in memory",
		    r->fc->name, i, (unsigned long long)off, W[i].mem);
		hl_rel_node(n);
	}
	check_rest(r, "a read back");
}

static void
op_verify_all(struct run *r)
{
	for (int i = 0; i < NW; i++)
		op_verify(r, i);
}

/* Distinct buffers of volume vol holding a node changed since the last
 * sync that returned 0. */
static uint64_t
dirty_buffers(unsigned vol)
{
	uint64_t n = 0;

	for (int i = 0; i < NW; i++) {
		bool seen = false;

		if (W[i].vol != vol || W[i].mem == W[i].clean)
			continue;
		for (int j = 0; j < i; j++)
			seen |= W[j].vol == vol && W[j].buf == W[i].buf &&
				W[j].mem != W[j].clean;
		n += !seen;
	}
	return n;
}

static void
op_sync(struct run *r)
{
	struct hl_mount_stats st;
	char why[512] = "";
	int e;

	e = hl_mount_sync(r->m, why, sizeof(why));
	if (e == 0) {
		/* Nothing runs beside the sync: all of it is clean now. */
		model_synced();
		r->wb_dirty = false;
		hl_mount_stats(r->m, &st);
		HT_CHECK(st.buffers_modified == 0 && st.buffers_ioerror == 0,
		    "%s: sync returned 0, leaving %llu modified, %llu failed",
		    r->fc->name, (unsigned long long)st.buffers_modified,
		    (unsigned long long)st.buffers_ioerror);
		check_rest(r, "a sync");
		return;
	}
	expect_err(r, "hl_mount_sync", e);
	HT_CHECK(why[0] != '\0', "a failed sync must say why");
	model_sync_failed();
	check_rest(r, "a failed sync");
	hl_mount_stats(r->m, &st);
	if (!r->fc->cfg.fail_sticky && strstr(why, "write failed") != NULL)
		HT_CHECK(st.buffers_ioerror >= 1 && st.buffers_modified >= 1,
		    "%s: a failed buffer write must leave it modified and "
		    "pinned (%llu/%llu): %s",
		    r->fc->name, (unsigned long long)st.buffers_ioerror,
		    (unsigned long long)st.buffers_modified, why);
	/*
	 * Buffers the pool wrote back before this sync are not made
	 * modified again when its fdatasync fails (a known bug): that part
	 * of the check runs only with $HL_TEST_KNOWN_BUGS.
	 */
	if (!r->fc->cfg.fail_sticky && strstr(why, "fdatasync failed") &&
	    (!r->wb_dirty || known_bugs)) {
		unsigned vol = strstr(why, paths[1]) != NULL;

		HT_CHECK(st.buffers_modified >= dirty_buffers(vol),
		    "%s: fdatasync failed on volume %u: %llu buffers modified, "
		    "want %llu: %s",
		    r->fc->name, vol, (unsigned long long)st.buffers_modified,
		    (unsigned long long)dirty_buffers(vol), why);
	}
	/* What failed to reach the disk is still in memory, readable. */
	op_verify_all(r);
	if (!r->fc->retry)
		return;
	HT_CHECK(hl_io_fault_set(r->io, NULL) == 0, "faults off");
	e = hl_mount_sync(r->m, why, sizeof(why));
	HT_CHECK(e == 0, "%s: the sync after a failed one: %d (%s)",
	    r->fc->name, e, why);
	model_synced();
	r->wb_dirty = false;
	hl_mount_stats(r->m, &st);
	HT_CHECK(st.buffers_modified == 0 && st.buffers_ioerror == 0,
	    "%s: a successful sync leaves %llu modified, %llu failed",
	    r->fc->name, (unsigned long long)st.buffers_modified,
	    (unsigned long long)st.buffers_ioerror);
	check_rest(r, "a retried sync");
}

static void
op_root(struct run *r, int i)
{
	hl_mount_set_root(r->m, woff(i));
	root_mem = woff(i);
}

/* The workload.  Its last modifications are never synced. */
static void
workload(struct run *r)
{
	op_volume(r, 0);
	op_volume(r, 1);
	for (int i = 0; i < 4; i++)
		op_modify(r, i, true);
	op_sync(r);
	op_verify_all(r);
	op_modify(r, 4, false);
	op_modify(r, 5, false);
	op_modify(r, 6, false);
	op_modify(r, 0, false);
	op_root(r, 0);
	op_sync(r);
	op_verify_all(r);
	op_modify(r, 7, false);
	op_modify(r, 8, false);
	op_modify(r, 9, false);
	op_modify(r, 2, false);
	op_sync(r);
	op_verify_all(r);
	op_modify(r, 1, false);
	op_modify(r, 3, false);
	op_root(r, 5);
	op_verify_all(r);
}

/*
 * Mount the files again through the POSIX backend: every node must pass
 * the cache's checks and hl_node_check(), hold a version the model
 * allows, and the root must be one the model allows.
 */
static void
verify_disk(const char *name)
{
	struct hl_mount_opts mo = {.readonly = true};
	struct hl_mount *m;
	struct hl_trans t;
	char why[512];
	uint64_t root;
	int e, k;

	e = hl_mount_open(paths, NVOL, &mo, &m, why, sizeof(why));
	HT_CHECK(e == 0, "%s: remount: %s", name, why);
	hl_trans_init(&t, m);
	t.flags |= HL_TRANSF_CRCDOM;
	for (unsigned v = 0; v < NVOL; v++) {
		for (uint64_t sh = BSZ; sh < VSZ; sh += NSZ) {
			uint64_t off = HL_OFF_MAKE(v, sh);
			struct hl_node *n = hl_get_node(&t, off, false, &e);
			const uint8_t *p;
			int w = -1;

			HT_CHECK(n != NULL, "%s: node %#llx on disk: %d", name,
			    (unsigned long long)off, e);
			p = hl_node_data(n);
			HT_CHECK(hl_node_check(p, NSZ, why, sizeof(why)) == 0,
			    "%s: node %#llx: %s", name, (unsigned long long)off,
			    why);
			for (int i = 0; i < NW; i++)
				if (woff(i) == off)
					w = i;
			if (w < 0) {
				HT_CHECK(memcmp(p, &golden[v][sh], NSZ) == 0,
				    "%s: node %#llx was not written by the "
				    "workload, yet changed",
				    name, (unsigned long long)off);
			} else {
				for (k = 0; k < W[w].nok; k++)
					if (node_is(p, off, W[w].ok[k]))
						break;
				HT_CHECK(k < W[w].nok,
				    "%s: node %d (%#llx) holds none of its "
				    "%d allowed versions (first %u, memory "
				    "%u)",
				    name, w, (unsigned long long)off, W[w].nok,
				    W[w].ok[0], W[w].mem);
			}
			hl_rel_node(n);
		}
	}
	root = hl_mount_root(m);
	for (k = 0; k < nroot_ok; k++)
		if (root_ok[k] == root)
			break;
	HT_CHECK(k < nroot_ok, "%s: root %#llx on disk is not allowed", name,
	    (unsigned long long)root);
	HT_CHECK(hl_mount_close(m, why, sizeof(why)) == 0, "%s: leak: %s", name,
	    why);
}

/* Play one case on fresh volumes; r->fst and r->nfail say what happened. */
static void
run_case(const struct fcase *fc, struct run *r)
{
	struct hl_mount_opts mo = {.pool_bytes = fc->pool_buffers * BSZ};
	char why[1024];
	int e;

	memset(r, 0, sizeof(*r));
	r->fc = fc;
	fresh_volumes();
	model_reset();
	HT_CHECK(hl_io_fault_create(
		     NULL, fc->after_mount ? NULL : &fc->cfg, &r->io) == 0,
	    "fault io");
	mo.io = r->io;
	e = hl_mount_open(paths, NVOL, &mo, &r->m, why, sizeof(why));
	if (e != 0) {
		HT_CHECK(r->m == NULL, "a failed mount returns no mount");
		expect_err(r, "hl_mount_open", e);
	} else {
		if (fc->after_mount)
			HT_CHECK(hl_io_fault_set(r->io, &fc->cfg) == 0, "arm");
		hl_trans_init(&r->t, r->m);
		r->t.flags |= HL_TRANSF_CRCDOM;
		workload(r);
		e = hl_mount_close(r->m, why, sizeof(why));
		HT_CHECK(e == 0, "%s: unmount: %d: %s", fc->name, e, why);
	}
	HT_CHECK(hl_io_fault_stats(r->io, &r->fst) == 0, "fault stats");
	hl_io_destroy(r->io);
	verify_disk(fc->name);
}

/* Calls of each kind in a run without faults. */
static struct hl_io_fault_stats
count_calls(uint64_t pool_buffers)
{
	struct fcase fc = {.name = "no faults", .pool_buffers = pool_buffers};
	struct run r;

	run_case(&fc, &r);
	HT_CHECK(r.nfail == 0 && r.fst.injected_errors == 0,
	    "the workload fails without faults");
	return r.fst;
}

enum kind { K_READ, K_WRITE, K_SYNC, K_ALLOC };

/* The N after n: by the stride, but never skipping the last call and
 * the one past it. */
static uint64_t
nth_next(uint64_t n, uint64_t calls)
{
	if (n >= calls)
		return n + 1;
	return n + nth_stride < calls ? n + nth_stride : calls;
}

/*
 * Fail the Nth call of a kind, for every N the workload reaches and one
 * more, once and sticky.
 */
static void
test_nth(enum kind kind, const char *name, uint64_t pool_buffers)
{
	struct hl_io_fault_stats clean = count_calls(pool_buffers);
	uint64_t calls = kind == K_READ	   ? clean.reads
			 : kind == K_WRITE ? clean.writes
			 : kind == K_SYNC  ? clean.syncs
					   : clean.allocs;
	bool tiny = pool_buffers < 4;
	int runs = 0, stickyfails = 0;

	HT_CHECK(calls > 0, "%s: the workload makes no such call", name);
	for (int sticky = 0; sticky < 2; sticky++) {
		for (uint64_t nth = 1; nth <= calls + 1;
		     nth = nth_next(nth, calls)) {
			struct fcase fc = {
			    .name = name,
			    .pool_buffers = pool_buffers,
			    .retry = !sticky,
			};
			struct run r;

			fc.cfg.fail_sticky = sticky;
			fc.cfg.read_errno = READ_ERR;
			fc.cfg.write_errno = WRITE_ERR;
			fc.cfg.sync_errno = SYNC_ERR;
			switch (kind) {
			case K_READ:
				fc.cfg.fail_read_nth = nth;
				fc.errs[0] = READ_ERR;
				break;
			case K_WRITE:
				fc.cfg.fail_write_nth = nth;
				fc.errs[0] = WRITE_ERR;
				break;
			case K_SYNC:
				fc.cfg.fail_sync_nth = nth;
				fc.errs[0] = SYNC_ERR;
				break;
			case K_ALLOC:
				fc.cfg.fail_alloc_nth = nth;
				fc.errs[0] = ENOMEM;
				break;
			}
			/* A pool smaller than the modified buffers writes
			 * some back; when that fails, everything may be
			 * pinned and a get says ENOMEM. */
			if (pool_buffers < 4 && kind != K_ALLOC)
				fc.errs[1] = ENOMEM;
			run_case(&fc, &r);
			runs++;
			if (nth > calls) {
				HT_CHECK(
				    r.fst.injected_errors == 0 && r.nfail == 0,
				    "%s N=%llu: past the last call, yet %llu "
				    "injected, %d failed",
				    name, (unsigned long long)nth,
				    (unsigned long long)r.fst.injected_errors,
				    r.nfail);
			} else if (!sticky) {
				/*
				 * Deterministic up to the Nth call: it
				 * happens, and one operation sees it.  In
				 * a tiny pool, a failed write-back is
				 * retried by the next sync (none sees it)
				 * and buffers pinned by errors make gets
				 * fail with ENOMEM until then.
				 */
				HT_CHECK(r.fst.injected_errors == 1 &&
					     (r.nfail == 1 || tiny),
				    "%s N=%llu: %llu injected, %d operations "
				    "failed (want 1 and 1)",
				    name, (unsigned long long)nth,
				    (unsigned long long)r.fst.injected_errors,
				    r.nfail);
			} else {
				HT_CHECK(r.fst.injected_errors >= 1 &&
					     (r.nfail >= 1 || tiny),
				    "%s N=%llu sticky: %llu injected, %d "
				    "failed",
				    name, (unsigned long long)nth,
				    (unsigned long long)r.fst.injected_errors,
				    r.nfail);
				stickyfails += r.nfail;
			}
		}
	}
	printf("  ok: %s: N = 1..%llu by %llu, once and sticky (%d runs, %d "
	       "operations failed when sticky)\n",
	    name, (unsigned long long)calls + 1, (unsigned long long)nth_stride,
	    runs, stickyfails);
	npassed++;
}

/* Short transfers and EINTR: invisible to the cache's users. */
static void
test_short_eintr(void)
{
	static const struct {
		uint32_t short_every, eintr_every, pool;
	} mix[] = {{2, 3, 4}, {1, 0, 4}, {0, 2, 16}, {1, 2, 2}, {3, 2, 2}};
	uint64_t shorts = 0, eintrs = 0;

	for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
		struct fcase fc = {
		    .name = "short/EINTR", .pool_buffers = mix[i].pool};
		struct run r;

		fc.cfg.short_every = mix[i].short_every;
		fc.cfg.eintr_every = mix[i].eintr_every;
		fc.cfg.seed = 1000 + i;
		run_case(&fc, &r);
		HT_CHECK(r.nfail == 0,
		    "short %u / EINTR %u: %d operations "
		    "failed",
		    mix[i].short_every, mix[i].eintr_every, r.nfail);
		HT_CHECK(mix[i].short_every == 0 || r.fst.short_transfers > 0,
		    "no short transfer happened");
		HT_CHECK(mix[i].eintr_every == 0 || r.fst.eintrs > 0,
		    "no EINTR happened");
		shorts += r.fst.short_transfers;
		eintrs += r.fst.eintrs;
	}
	printf(
	    "  ok: short transfers (%llu) and EINTR (%llu) are transparent\n",
	    (unsigned long long)shorts, (unsigned long long)eintrs);
	npassed++;
}

/*
 * Every call interrupted: the full-transfer helpers give up after
 * HL_IO_RETRIES and the error reaches the caller (gets and the sync),
 * with nothing leaked; the sync retried with faults off succeeds.
 */
static void
test_eintr_forever(void)
{
	struct fcase fc = {
	    .name = "EINTR forever",
	    .pool_buffers = 4,
	    .errs = {EINTR},
	    .after_mount = true,
	    .retry = true,
	};
	struct run r;

	fc.cfg.eintr_every = 1;
	run_case(&fc, &r);
	HT_CHECK(r.nfail >= 1 && r.fst.eintrs > HL_IO_RETRIES,
	    "EINTR forever: %d failed, %llu EINTR", r.nfail,
	    (unsigned long long)r.fst.eintrs);
	printf("  ok: EINTR on every call: %d operations failed with EINTR\n",
	    r.nfail);
	npassed++;
}

/* Random read and write failures (each a whole call: nothing torn). */
static void
test_random(uint64_t seed)
{
	int fails = 0, runs = 0;

	for (uint64_t s = 0; s < 24; s++) {
		struct fcase fc = {
		    .name = "random",
		    .pool_buffers = s & 1 ? 2 : 16,
		    .errs = {READ_ERR, WRITE_ERR, ENOMEM},
		};
		struct run r;

		fc.cfg.read_errno = READ_ERR;
		fc.cfg.write_errno = WRITE_ERR;
		fc.cfg.fail_rate_ppm = 60000;
		fc.cfg.seed = ht_rng_stream(seed, s);
		run_case(&fc, &r);
		/* Each failure is an injected one, but in the tiny pool,
		 * where buffers pinned by failed writes make gets fail
		 * with ENOMEM until a sync works. */
		HT_CHECK(fc.pool_buffers < 4 ||
			     (uint64_t)r.nfail <= r.fst.injected_errors,
		    "random: %d failed, %llu injected", r.nfail,
		    (unsigned long long)r.fst.injected_errors);
		fails += r.nfail;
		runs++;
	}
	printf("  ok: random failures: %d runs, %d operations failed\n", runs,
	    fails);
	npassed++;
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);
	const char *tmp = getenv("TMPDIR");
	struct hl_newfs_opts o = {
	    .vol_size = VSZ, .buffer_size = BSZ, .node_size = NSZ};
	char why[256];

	/* Hundreds of runs fdatasync: on tmpfs that costs nothing. */
	if (tmp == NULL || strlen(tmp) >= 32)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/hl-cachefault-XXXXXX", tmp);
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	snprintf(p1, sizeof(p1), "%s/v1", dir);
	HT_CHECK(
	    hl_newfs(paths, NVOL, &o, why, sizeof(why)) == 0, "newfs: %s", why);
	for (int v = 0; v < NVOL; v++) {
		int fd = open(paths[v], O_RDONLY);

		HT_CHECK(fd >= 0 && pread(fd, golden[v], VSZ, 0) == VSZ,
		    "read %s", paths[v]);
		close(fd);
	}
	/* The workload's nodes are unused in a new volume (the free map
	 * and anything else newfs writes are elsewhere). */
	for (int i = 0; i < NW; i++)
		HT_CHECK(node_is(&golden[W[i].vol][HL_OFF_SHORT(woff(i))],
			     woff(i), 0),
		    "node %d (%#llx) is not free in a new volume", i,
		    (unsigned long long)woff(i));
	known_bugs = getenv("HL_TEST_KNOWN_BUGS") != NULL;
	/*
	 * Under TSan a mount costs a hundred times more (its mutexes), and
	 * this single-threaded test gives TSan little to look at: take
	 * every third N there.
	 */
#if defined(__SANITIZE_THREAD__)
	nth_stride = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
	nth_stride = 3;
#endif
#endif
	if (getenv("HL_FAULT_STRIDE") != NULL)
		nth_stride = strtoull(getenv("HL_FAULT_STRIDE"), NULL, 0);
	if (nth_stride == 0)
		nth_stride = 1;
	ht_watchdog_start(120, NULL);

	/*
	 * A pool of 4 buffers (9 in play, at most 4 modified at a time)
	 * makes reads come back; one of 16 pins nothing; one of 2 makes
	 * the pool write modified buffers back between syncs.
	 */
	test_nth(K_READ, "read fails", 4);
	test_nth(K_ALLOC, "alloc fails (ENOMEM)", 4);
	test_nth(K_WRITE, "write fails", 16);
	test_nth(K_WRITE, "write fails, pool writing back", 2);
	test_nth(K_SYNC, "fdatasync fails", 16);
	test_nth(K_SYNC, "fdatasync fails, pool writing back", 2);
	test_short_eintr();
	test_eintr_forever();
	test_random(seed);

	ht_watchdog_stop();
	unlink(p0);
	unlink(p1);
	rmdir(dir);
	ht_pass("fault_cache", npassed);
	return 0;
}
