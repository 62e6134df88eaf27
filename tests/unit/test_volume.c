/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_volume.c - mounts and volumes: load on the first reference (exactly
 * once, also with 16 threads racing), no I/O when the header is still
 * loaded, a failed load keeps no reference and the next get retries,
 * leaks reported at unmount, bad sets refused with a clear message.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static char dir[64];
static char p0[96], p1[96];
static const char *paths[2] = {p0, p1};
static int npassed;

static void
passed(const char *what)
{
	printf("  ok: %s\n", what);
	npassed++;
}

static void
make_mount(void)
{
	struct hl_newfs_opts o = {.vol_size = 1 << 20};
	char why[256];

	HT_CHECK(
	    hl_newfs(paths, 2, &o, why, sizeof(why)) == 0, "newfs: %s", why);
}

static struct hl_mount *
mount_with(struct hl_io *io)
{
	struct hl_mount_opts mo = {.io = io};
	struct hl_mount *m;
	char why[256];
	int error;

	error = hl_mount_open(paths, 2, &mo, &m, why, sizeof(why));
	HT_CHECK(error == 0, "mount: %s", why);
	return m;
}

static void
unmount_clean(struct hl_mount *m)
{
	char why[512];

	HT_CHECK(hl_mount_close(m, why, sizeof(why)) == 0, "leak: %s", why);
}

static uint64_t
reads_of(struct hl_io *io)
{
	struct hl_io_fault_stats st;

	HT_CHECK(hl_io_fault_stats(io, &st) == 0, "fault stats");
	return st.reads;
}

static void
test_load_once_and_keep(void)
{
	struct hl_io *io;
	struct hl_mount *m;
	struct hl_mount_stats st;
	struct hl_volume *v;
	uint64_t r0;
	int error;

	HT_CHECK(hl_io_fault_create(NULL, NULL, &io) == 0, "fault io");
	m = mount_with(io);
	hl_mount_stats(m, &st);
	HT_CHECK(
	    st.volumes == 2 && st.volumes_loaded == 0 && st.volume_loads == 0,
	    "fresh mount stats %u/%u/%llu", st.volumes, st.volumes_loaded,
	    (unsigned long long)st.volume_loads);
	HT_CHECK(hl_mount_nvolumes(m) == 2, "nvolumes");

	r0 = reads_of(io);
	v = hl_get_volume(m, 1, &error);
	HT_CHECK(v != NULL && error == 0, "get volume 1: %d", error);
	HT_CHECK(reads_of(io) == r0 + 1, "one read for the load");
	HT_CHECK(hl_volume_header(v)->vol_no == 1, "vol_no %u",
	    hl_volume_header(v)->vol_no);
	HT_CHECK(atomic_load(&hl_volume_lock(v)->refs) == 1, "refs 0x%08x",
	    atomic_load(&hl_volume_lock(v)->refs));
	HT_CHECK(hl_ref_volume(v) == 0, "second ref");
	HT_CHECK(atomic_load(&hl_volume_lock(v)->refs) == 2, "refs 0x%08x",
	    atomic_load(&hl_volume_lock(v)->refs));
	hl_rel_volume(v);
	hl_rel_volume(v);
	HT_CHECK(atomic_load(&hl_volume_lock(v)->refs) == 0, "refs 0x%08x",
	    atomic_load(&hl_volume_lock(v)->refs));
	HT_CHECK(hl_volume_header(v) != NULL, "1->0 must keep the header");

	/* 0->1 with the header still loaded: interlock, but no I/O. */
	v = hl_get_volume(m, 1, &error);
	HT_CHECK(v != NULL && reads_of(io) == r0 + 1,
	    "re-get after 1->0 must not read");
	hl_rel_volume(v);
	hl_mount_stats(m, &st);
	HT_CHECK(st.volume_loads == 1 && st.volumes_loaded == 1,
	    "loads %llu loaded %u", (unsigned long long)st.volume_loads,
	    st.volumes_loaded);

	HT_CHECK(hl_get_volume(m, 2, &error) == NULL && error == ENOENT,
	    "volume 2 of 2: %d", error);
	HT_CHECK(hl_get_volume(m, -1, &error) == NULL && error == ENOENT,
	    "volume -1: %d", error);
	v = hl_get_root_volume(m, &error);
	HT_CHECK(v != NULL && hl_volume_header(v)->vol_no == 0, "root");
	hl_rel_volume(v);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("load on first reference, once; 1->0 keeps the header");
}

struct racer {
	struct hl_mount *m;
	uint64_t rng;
	int iters;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	int error;

	for (int i = 0; i < r->iters; i++) {
		int vn = (int)ht_rand_below(&r->rng, 2);
		struct hl_volume *v = hl_get_volume(r->m, vn, &error);

		HT_CHECK(v != NULL, "racer get %d: %d", vn, error);
		HT_CHECK(hl_volume_header(v) != NULL &&
			     hl_volume_header(v)->vol_no == (uint32_t)vn,
		    "racer sees an unloaded or wrong header");
		ht_spin_pause(&r->rng, 50, 32);
		hl_rel_volume(v);
	}
	return NULL;
}

static void
test_racing_first_references(uint64_t seed)
{
	enum { NT = 16 };
	struct hl_mount_stats st;
	struct racer r[NT];
	pthread_t t[NT];
	struct hl_io *io;
	struct hl_mount *m;

	uint64_t r0;

	HT_CHECK(hl_io_fault_create(NULL, NULL, &io) == 0, "fault io");
	m = mount_with(io);
	r0 = reads_of(io);
	/* Slow reads widen the window in which the racers pile up. */
	{
		struct hl_io_fault_cfg cfg = {.delay_us = 2000};

		HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "set delay");
	}
	for (int i = 0; i < NT; i++) {
		r[i].m = m;
		r[i].rng = ht_rng_stream(seed, (uint64_t)i);
		r[i].iters = 2000;
		HT_CHECK(pthread_create(&t[i], NULL, racer_main, &r[i]) == 0,
		    "pthread_create");
	}
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	hl_mount_stats(m, &st);
	HT_CHECK(st.volume_loads == 2, "exactly one load per volume, got %llu",
	    (unsigned long long)st.volume_loads);
	HT_CHECK(reads_of(io) - r0 == 2, "exactly one read per load, got %llu",
	    (unsigned long long)(reads_of(io) - r0));
	unmount_clean(m);
	hl_io_destroy(io);
	passed("16 racing first references: one load, one read per volume");
}

static void
test_failed_load(void)
{
	struct hl_io_fault_cfg cfg = {.fail_read_nth = 1};
	struct hl_mount_stats st;
	struct hl_io *io;
	struct hl_mount *m;
	struct hl_volume *v;
	int error;

	HT_CHECK(hl_io_fault_create(NULL, NULL, &io) == 0, "fault io");
	m = mount_with(io);
	HT_CHECK(hl_io_fault_set(io, &cfg) == 0, "arm the read fault");
	v = hl_get_volume(m, 0, &error);
	HT_CHECK(
	    v == NULL && error == EIO, "failed load: %p %d", (void *)v, error);
	v = hl_get_volume(m, 0, &error);
	HT_CHECK(v != NULL && error == 0, "the next get retries: %d", error);
	HT_CHECK(atomic_load(&hl_volume_lock(v)->refs) == 1,
	    "only the retry's reference: refs 0x%08x",
	    atomic_load(&hl_volume_lock(v)->refs));
	hl_rel_volume(v);
	hl_mount_stats(m, &st);
	HT_CHECK(st.volume_load_errors == 1 && st.read_errors == 1 &&
		     st.volume_loads == 1,
	    "stats %llu %llu %llu", (unsigned long long)st.volume_load_errors,
	    (unsigned long long)st.read_errors,
	    (unsigned long long)st.volume_loads);
	unmount_clean(m);
	hl_io_destroy(io);
	passed("a failed load keeps no reference; the next get retries");
}

static void
test_header_changed(void)
{
	struct hl_volume_header vh;
	struct hl_mount *m = mount_with(NULL);
	struct hl_volume *v;
	char why[256];
	int fd, error;

	/* Change volume 1's mount id on disk after the mount read it. */
	HT_CHECK((fd = open(p1, O_RDWR)) >= 0, "open");
	HT_CHECK(hl_volume_read_header(fd, p1, &vh, why, sizeof(why)) == 0,
	    "%s", why);
	vh.mount_id[0] ^= 0x5a;
	HT_CHECK(
	    hl_volume_write_header(fd, p1, &vh, true, why, sizeof(why)) == 0,
	    "%s", why);
	close(fd);
	v = hl_get_volume(m, 1, &error);
	HT_CHECK(v == NULL && error == EINVAL, "changed header: %d", error);
	unmount_clean(m);
	make_mount();
	passed("a header changed since mount is refused on load");
}

static void
test_leak_reported(void)
{
	struct hl_mount *m = mount_with(NULL);
	struct hl_volume *v;
	char why[512];
	int error;

	v = hl_get_volume(m, 1, &error);
	HT_CHECK(v != NULL, "get");
	error = hl_mount_close(m, why, sizeof(why));
	HT_CHECK(error == EBUSY, "leak must give EBUSY, got %d", error);
	HT_CHECK(strstr(why, "volume 1") && strstr(why, "refs=0x00000001") &&
		     strstr(why, "0x2010000000000000"),
	    "leak report names the volume, offset and word: %s", why);
	passed("unmount reports a leaked reference");
}

static void
test_bad_sets(void)
{
	const char *one[1] = {p0};
	const char *twice[2] = {p0, p0};
	struct hl_mount *m;
	char why[256];
	int error;

	error = hl_mount_open(one, 1, NULL, &m, why, sizeof(why));
	HT_CHECK(error != 0 && m == NULL, "a missing volume must fail");
	printf("    refused: %s\n", why);
	error = hl_mount_open(twice, 2, NULL, &m, why, sizeof(why));
	HT_CHECK(error != 0 && m == NULL, "a volume twice must fail");
	printf("    refused: %s\n", why);
	error = hl_mount_open(one, 0, NULL, &m, why, sizeof(why));
	HT_CHECK(error == EINVAL, "no volumes: %d", error);
	{
		const char *none[1] = {"/nonexistent/hammerlock-volume"};

		error = hl_mount_open(none, 1, NULL, &m, why, sizeof(why));
		HT_CHECK(error == ENOENT && strstr(why, "cannot open"),
		    "missing file: %d %s", error, why);
	}
	passed("bad volume sets are refused with a message");
}

int
main(int argc, char **argv)
{
	uint64_t seed = ht_seed(argc, argv);

	strcpy(dir, "/tmp/hl-volume-XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(p0, sizeof(p0), "%s/v0", dir);
	snprintf(p1, sizeof(p1), "%s/v1", dir);
	make_mount();
	ht_watchdog_start(60, NULL);

	test_load_once_and_keep();
	test_racing_first_references(seed);
	test_failed_load();
	test_header_changed();
	test_leak_reported();
	test_bad_sets();

	ht_watchdog_stop();
	unlink(p0);
	unlink(p1);
	rmdir(dir);
	ht_pass("unit_volume", npassed);
	return 0;
}
