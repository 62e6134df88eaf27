/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_badinput.c - damaged and hostile volume files: each must give a
 * clear error (errno and a message naming the file and the field), never
 * a crash, both through the library (hl_format_probe, hl_off_check,
 * and the object cache: hl_mount_open, hl_get_node, hl_get_buffer) and
 * through the `hammerlock' program, whose exit status must be 0 (clean),
 * 1 (damaged nodes) or 2 (unusable input).
 *
 *   fault_badinput PATH-TO-hammerlock [--seed N]
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

static const char *cli;
static char dir[64];
static int npassed;

#define PASS() npassed++

#define VS (1 << 20) /* volume size used here */

static void
path(char *buf, const char *name)
{
	snprintf(buf, 128, "%s/%s", dir, name);
}

/*
 * Run `hammerlock ARGS...' (a NULL-terminated list, at most 15) with stdout
 * and stderr in one file; return its exit status and the output
 * (NUL-terminated) in out.
 */
static int
run_cliv(char *out, size_t outlen, va_list ap)
{
	char *argv[16] = {(char *)cli};
	posix_spawn_file_actions_t fa;
	char outpath[128];
	int status, fd, n = 1;
	pid_t pid;
	ssize_t r;

	while (n < 15 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	argv[n] = NULL;
	path(outpath, "cli.out");
	HT_CHECK(posix_spawn_file_actions_init(&fa) == 0, "fa init");
	posix_spawn_file_actions_addopen(
	    &fa, 1, outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	HT_CHECK(posix_spawn(&pid, cli, &fa, NULL, argv, environ) == 0,
	    "spawn %s", cli);
	posix_spawn_file_actions_destroy(&fa);
	HT_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	fd = open(outpath, O_RDONLY);
	HT_CHECK(fd >= 0, "open output");
	r = read(fd, out, outlen - 1);
	close(fd);
	out[r > 0 ? r : 0] = '\0';
	HT_CHECK(WIFEXITED(status), "hammerlock %s %s died (status %#x):\n%s",
	    n > 1 ? argv[1] : "", n > 2 ? argv[2] : "", status, out);
	return WEXITSTATUS(status);
}

static int
run_cli(char *out, size_t outlen, ...)
{
	va_list ap;
	int rc;

	va_start(ap, outlen);
	rc = run_cliv(out, outlen, ap);
	va_end(ap);
	return rc;
}

/* Run the program; expect exit status `want' and output containing sub. */
static void
expect_cli(int line, int want, const char *sub, ...)
{
	char out[8192];
	va_list ap;
	int rc;

	va_start(ap, sub);
	rc = run_cliv(out, sizeof(out), ap);
	va_end(ap);
	HT_CHECK(rc == want, "line %d: exit %d, want %d; output:\n%s", line, rc,
	    want, out);
	if (sub != NULL)
		HT_CHECK(strstr(out, sub) != NULL,
		    "line %d: output lacks '%s':\n%s", line, sub, out);
}

#define EXPECT_CLI(want, sub, ...)                                             \
	expect_cli(__LINE__, (want), (sub), __VA_ARGS__, (char *)NULL)

/* Probe the files; expect err and a message containing substr. */
static void
expect_probe(const char *const *paths, int n, int err, const char *substr)
{
	struct hl_volume_header vh[4];
	char why[512] = "";
	int e = hl_format_probe(paths, n, vh, why, sizeof(why));

	HT_CHECK(e == err, "probe: %d (%s), want %d", e, why, err);
	if (substr != NULL)
		HT_CHECK(strstr(why, substr) != NULL, "'%s' lacks '%s'", why,
		    substr);
	if (e != 0)
		printf("  ok: %s\n", why);
}

static void
newfs(const char *const *paths, int n)
{
	struct hl_newfs_opts o = {VS, 0, 0};
	char why[512];

	HT_CHECK(
	    hl_newfs(paths, n, &o, why, sizeof(why)) == 0, "newfs: %s", why);
}

/* Rewrite bytes of a file; optionally recompute the header CRC. */
static void
poke(const char *p, off_t off, const void *bytes, size_t len, bool reseal)
{
	uint8_t hdr[HL_VOLHDR_SIZE];
	int fd = open(p, O_RDWR);

	HT_CHECK(fd >= 0, "open %s", p);
	HT_CHECK(pwrite(fd, bytes, len, off) == (ssize_t)len, "pwrite");
	if (reseal) {
		HT_CHECK(
		    pread(fd, hdr, sizeof(hdr), 0) == sizeof(hdr), "pread");
		hl_le32_put(hdr + HL_VOLHDR_OFF_CRC, hl_volhdr_crc(hdr));
		HT_CHECK(
		    pwrite(fd, hdr, sizeof(hdr), 0) == sizeof(hdr), "pwrite");
	}
	close(fd);
}

static void
poke32(const char *p, off_t off, uint32_t v, bool reseal)
{
	uint8_t b[4];

	hl_le32_put(b, v);
	poke(p, off, b, 4, reseal);
}

static void
poke64(const char *p, off_t off, uint64_t v, bool reseal)
{
	uint8_t b[8];

	hl_le64_put(b, v);
	poke(p, off, b, 8, reseal);
}

static void
test_clean(void)
{
	char a[128], b[128];
	const char *ab[2] = {a, b};

	path(a, "clean0");
	path(b, "clean1");
	EXPECT_CLI(0, "mount ", "newfs", a, b, "--size", "1M");
	expect_probe(ab, 2, 0, NULL);
	EXPECT_CLI(0, "0 damaged", "check", a, b);
	EXPECT_CLI(0, "0 damaged", "check", b, a);
	EXPECT_CLI(0, "usage: hammerlock COMMAND", "--help");
	EXPECT_CLI(0, "usage: hammerlock newfs", "newfs", "--help");
	EXPECT_CLI(0, "usage: hammerlock check", "check", "--help");
	EXPECT_CLI(0, "usage: hammerlock check", "help", "check");
	EXPECT_CLI(0, "format version 3", "--version");
	PASS();
}

static void
test_usage_errors(void)
{
	char a[128], txt[128];
	int fd;

	path(a, "usage0");
	EXPECT_CLI(2, "usage:", NULL);
	EXPECT_CLI(2, "unknown command 'frobnicate'", "frobnicate");
	EXPECT_CLI(2, "no volume files given", "newfs");
	EXPECT_CLI(2, "no volume files given", "check");
	EXPECT_CLI(2, "bad --size '12Q'", "newfs", a, "--size", "12Q");
	EXPECT_CLI(2, "bad --size '-1'", "newfs", a, "--size", "-1");
	EXPECT_CLI(2, "bad --size '0'", "newfs", a, "--size", "0");
	EXPECT_CLI(
	    2, "out of range", "newfs", a, "--size", "99999999999999999999999");
	EXPECT_CLI(2, "needs a value", "newfs", a, "--size");
	EXPECT_CLI(2, "unknown option '--bogus'", "check", a, "--bogus");
	EXPECT_CLI(2, "not a multiple of the buffer size", "newfs", a, "--size",
	    "100000");
	EXPECT_CLI(2, "buffer size 3000", "newfs", a, "--buffer-size", "3000");
	EXPECT_CLI(0, NULL, "newfs", a, "--size=64k", "--buffer-size=8k", "-q");
	EXPECT_CLI(0, "(0 read errors)", "check", a);
	/* newfs will not clobber a file that is not a volume... */
	path(txt, "precious.txt");
	fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	HT_CHECK(fd >= 0 && write(fd, "keep me\n", 8) == 8, "write");
	close(fd);
	EXPECT_CLI(2, "is not a hammerlock volume (use --force", "newfs", txt);
	/* ...unless forced; and it may rewrite an existing volume. */
	EXPECT_CLI(0, NULL, "newfs", txt, "--force", "--size", "1M");
	EXPECT_CLI(0, NULL, "newfs", txt, "--size", "1M");
	EXPECT_CLI(2, "not a regular file or block device", "check", dir);
	PASS();
}

static void
test_truncated(void)
{
	char a[128];
	const char *pa[1] = {a};

	path(a, "trunc0");
	newfs(pa, 1);
	HT_CHECK(truncate(a, VS - 16384) == 0, "truncate");
	expect_probe(pa, 1, EINVAL,
	    "trunc0: truncated: 1032192 bytes, header "
	    "says 1048576");
	EXPECT_CLI(
	    2, "truncated: 1032192 bytes, header says 1048576", "check", a);
	HT_CHECK(truncate(a, 100) == 0, "truncate");
	expect_probe(pa, 1, EINVAL,
	    "truncated: 100 bytes, too short for a volume header (512 bytes)");
	EXPECT_CLI(2, "too short for a volume header", "check", a);
	HT_CHECK(truncate(a, 0) == 0, "truncate");
	expect_probe(pa, 1, EINVAL, "truncated: 0 bytes");
	EXPECT_CLI(2, "truncated: 0 bytes", "check", a);
	path(a, "does-not-exist");
	expect_probe(pa, 1, ENOENT, "does-not-exist: open: No such file");
	EXPECT_CLI(2, "No such file", "check", a);
	PASS();
}

static void
test_bad_header(void)
{
	char a[128];
	const char *pa[1] = {a};
	uint8_t junk[HL_VOLHDR_SIZE];

	path(a, "hdr0");
	/* Wrong magic. */
	newfs(pa, 1);
	poke(a, 0, "NOTAVOL!", 8, true);
	expect_probe(pa, 1, EINVAL, "hdr0: bad magic 0x214c4f5641544f4e");
	EXPECT_CLI(2, "not a hammerlock volume", "check", a);
	/* Wrong version, with or without a matching CRC. */
	newfs(pa, 1);
	poke32(a, HL_VOLHDR_OFF_VERSION, 2, true);
	expect_probe(pa, 1, ENOTSUP,
	    "hdr0: format version 2 is not supported (this build reads "
	    "version 3)");
	EXPECT_CLI(2, "format version 2 is not supported", "check", a);
	poke32(a, HL_VOLHDR_OFF_VERSION, 9, false);
	expect_probe(pa, 1, ENOTSUP, "format version 9");
	/* Bad header CRC. */
	newfs(pa, 1);
	poke(a, 200, "x", 1, false);
	expect_probe(pa, 1, EBADMSG, "hdr0: header CRC mismatch: stored 0x");
	EXPECT_CLI(2, "header CRC mismatch", "check", a);
	/* Inconsistent sizes behind a good CRC. */
	newfs(pa, 1);
	poke32(a, HL_VOLHDR_OFF_NODESIZE, 5000, true);
	expect_probe(pa, 1, EINVAL, "node size 5000 is not a power of two");
	EXPECT_CLI(2, "node size 5000", "check", a);
	/* A file of random bytes. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	poke(a, 0, junk, sizeof(junk), false);
	expect_probe(pa, 1, EINVAL, "bad magic");
	EXPECT_CLI(2, "bad magic", "check", a);
	PASS();
}

static void
test_volume_set(void)
{
	char a0[128], a1[128], b0[128], b1[128], c[128];
	const char *pa[2] = {a0, a1}, *pb[2] = {b0, b1};
	uint8_t hdr[HL_VOLHDR_SIZE];
	int fd;

	path(a0, "setA0");
	path(a1, "setA1");
	path(b0, "setB0");
	path(b1, "setB1");
	newfs(pa, 2);
	newfs(pb, 2);
	/* Volumes of two mounts. */
	{
		const char *mix[2] = {a0, b1};

		expect_probe(mix, 2, EINVAL, "mismatched mount id: volume 1 (");
		expect_probe(mix, 2, EINVAL, "setB1) belongs to mount ");
		expect_probe(mix, 2, EINVAL, ", volume 0 (");
		EXPECT_CLI(2, "mismatched mount id", "check", a0, b1);
	}
	/* A missing volume, and a surplus one. */
	expect_probe(pa, 1, EINVAL,
	    "setA0: volume 0 of a 2-volume mount, but 1 volume file was given");
	EXPECT_CLI(2, "2-volume mount, but 1 volume file", "check", a0);
	/* The same volume twice (a copy). */
	path(c, "setA0copy");
	fd = open(c, O_RDWR | O_CREAT | O_TRUNC, 0644);
	HT_CHECK(fd >= 0, "open");
	HT_CHECK(ftruncate(fd, VS) == 0, "ftruncate");
	{
		int in = open(a0, O_RDONLY);

		HT_CHECK(
		    in >= 0 && pread(in, hdr, sizeof(hdr), 0) == 512, "read");
		close(in);
	}
	HT_CHECK(pwrite(fd, hdr, sizeof(hdr), 0) == 512, "write");
	close(fd);
	{
		const char *dup[2] = {a0, c};

		expect_probe(dup, 2, EINVAL, "volume 0 is claimed by both ");
		EXPECT_CLI(2, "claimed by both", "check", a0, c);
		EXPECT_CLI(2, "claimed by both", "check", a0, a0);
	}
	/* Volume number out of range (CRC fixed up, so the field is seen). */
	poke32(c, HL_VOLHDR_OFF_VOL_NO, 7, true);
	{
		const char *one[1] = {c};

		expect_probe(one, 1, EINVAL,
		    "volume number 7 out of range (volume count 2)");
		EXPECT_CLI(2, "volume number 7 out of range", "check", a0, c);
	}
	poke32(c, HL_VOLHDR_OFF_VOL_COUNT, 300, true);
	{
		const char *one[1] = {c};

		expect_probe(one, 1, EINVAL, "volume count 300 out of range");
	}
	/* Different buffer sizes in one mount. */
	poke32(a1, HL_VOLHDR_OFF_BUFSIZE, 32768, false);
	poke64(a1, HL_VOLHDR_OFF_FM_OFF, HL_OFF_MAKE(1, 32768), true);
	expect_probe(pa, 2, EINVAL, "buffer/node size 32768/4096 differs");
	poke32(a1, HL_VOLHDR_OFF_BUFSIZE, 16384, false);
	poke64(a1, HL_VOLHDR_OFF_FM_OFF, HL_OFF_MAKE(1, 16384), true);
	expect_probe(pa, 2, 0, NULL);
	/* A root node past the end of the volume it names. */
	{
		uint8_t b8[8];

		hl_le64_put(b8, HL_OFF_MAKE(1, VS + 4096 * 4));
		poke(a0, HL_VOLHDR_OFF_ROOT, b8, 8, true);
		expect_probe(pa, 2, ERANGE, "root node: offset ");
		expect_probe(pa, 2, ERANGE, "past the end of volume 1");
		EXPECT_CLI(2, "past the end of volume 1", "check", a0, a1);
	}
	PASS();
}

static void
test_off_past_end(void)
{
	char a[128], why[256];
	const char *pa[1] = {a};
	struct hl_volume_header vh;

	path(a, "off0");
	newfs(pa, 1);
	HT_CHECK(hl_format_probe(pa, 1, &vh, why, sizeof(why)) == 0, "%s", why);
	HT_CHECK(hl_off_check(&vh, HL_OFF_MAKE(0, VS - 4096), 4096, why,
		     sizeof(why)) == 0,
	    "%s", why);
	HT_CHECK(hl_off_check(&vh, HL_OFF_MAKE(0, VS), 4096, why,
		     sizeof(why)) == ERANGE &&
		     strstr(why, "past the end of volume 0 (1048576 bytes)"),
	    "%s", why);
	printf("  ok: %s\n", why);
	HT_CHECK(hl_off_check(&vh, HL_OFF_MAKE(0, HL_OFF_SHORT_MASK & ~4095),
		     4096, why, sizeof(why)) == ERANGE,
	    "%s", why);
	HT_CHECK(hl_off_check(&vh, HL_OFF_MAKE(1, 16384), 4096, why,
		     sizeof(why)) == EINVAL &&
		     strstr(why, "names volume 1, not volume 0"),
	    "%s", why);
	PASS();
}

/* Write a sealed node at byte `sh' of a volume file. */
static void
write_node(
    const char *p, uint64_t sh, uint16_t type, uint16_t count, uint64_t parent)
{
	static uint8_t n[4096];
	struct hl_node_header h = {0, type, count, parent, 1};

	for (size_t i = 0; i < sizeof(n); i++)
		n[i] = (uint8_t)(i ^ sh);
	hl_node_hdr_encode(n, &h);
	hl_node_seal(n, sizeof(n));
	poke(p, (off_t)sh, n, sizeof(n), false);
}

static void
test_bad_nodes(void)
{
	char a0[128], a1[128], want[160];
	const char *pa[2] = {a0, a1};
	struct hl_volume_header vh[2];
	char why[256];
	uint8_t n[4096];
	int fd;

	path(a0, "node0");
	path(a1, "node1");
	newfs(pa, 2);
	/* Not at 16384: the first data node is the free map's. */
	write_node(a0, 20480, HL_NODE_INTERNAL, 2, 0);
	write_node(a1, 40960, HL_NODE_LEAF, 5, HL_OFF_MAKE(0, 20480));
	write_node(a1, VS - 4096, HL_NODE_RAW, 100, 0);
	EXPECT_CLI(0, "0 damaged", "check", a0, a1);
	/* Flip one payload bit of volume 1's node at 40960. */
	fd = open(a1, O_RDWR);
	HT_CHECK(fd >= 0 && pread(fd, n, sizeof(n), 40960) == 4096, "read");
	n[1000] ^= 2;
	HT_CHECK(pwrite(fd, n, sizeof(n), 40960) == 4096, "write");
	close(fd);
	snprintf(want, sizeof(want),
	    "volume 1 node at offset 0x%016llx: bad CRC (stored 0x%08x, "
	    "computed 0x%08x)",
	    (unsigned long long)HL_OFF_MAKE(1, 40960), hl_le32_get(n),
	    hl_node_crc(n, 4096));
	EXPECT_CLI(1, want, "check", a0, a1);
	EXPECT_CLI(1, "1 damaged", "check", a1, a0, "--quiet");
	/* A good CRC on a bad type, and a bad parent. */
	write_node(a0, 20480, 9, 0, 0);
	write_node(a0, 24576, HL_NODE_LEAF, 1, HL_OFF_MAKE(1, VS));
	EXPECT_CLI(1, "0x2000000000005000: bad node type 9", "check", a0, a1);
	EXPECT_CLI(1, "3 damaged", "check", a0, a1);
	EXPECT_CLI(
	    1, "0x2000000000006000: bad parent: offset", "check", a0, a1);
	/* The headers are fine, so the library probe still passes. */
	HT_CHECK(hl_format_probe(pa, 2, vh, why, sizeof(why)) == 0, "%s", why);
	PASS();
}

/*
 * Through the object cache
 * ------------------------
 *
 * The same damage seen by hl_get_node() and hl_get_buffer() on a mount:
 * a damaged node is refused with EIO (EDOM when the transaction asks for
 * HL_TRANSF_CRCDOM) and holds nothing; a bad offset is refused before any
 * I/O; a file that shrinks under the mount gives EIO.  After each error
 * nothing may be referenced.
 */

static struct hl_mount *
cache_mount(const char *const *pa, int n, uint64_t pool)
{
	struct hl_mount_opts mo = {.pool_bytes = pool};
	struct hl_mount *m;
	char why[512];

	HT_CHECK(hl_mount_open(pa, n, &mo, &m, why, sizeof(why)) == 0,
	    "mount: %s", why);
	return m;
}

static void
cache_unmount(struct hl_mount *m)
{
	char why[1024];

	HT_CHECK(hl_mount_close(m, why, sizeof(why)) == 0, "unmount: %s", why);
}

/* Nothing referenced: every error path gave its references back. */
static void
expect_idle(struct hl_mount *m, int line)
{
	struct hl_mount_stats st;

	hl_mount_stats(m, &st);
	HT_CHECK(st.nodes_referenced == 0 && st.buffers_referenced == 0,
	    "line %d: %llu nodes and %llu buffers still referenced", line,
	    (unsigned long long)st.nodes_referenced,
	    (unsigned long long)st.buffers_referenced);
	HT_CHECK(st.pool_bytes == st.buffers_resident * hl_mount_buffer_size(m),
	    "line %d: pool holds %llu bytes for %llu buffers", line,
	    (unsigned long long)st.pool_bytes,
	    (unsigned long long)st.buffers_resident);
}

/* hl_get_node(off) with transaction flags `flags' must give `want'. */
static void
expect_node(
    int line, struct hl_mount *m, uint64_t off, uint32_t flags, int want)
{
	struct hl_trans t;
	struct hl_node *n;
	int e = -1;

	hl_trans_init(&t, m);
	t.flags = flags;
	n = hl_get_node(&t, off, false, &e);
	if (want == 0)
		HT_CHECK(n != NULL && e == 0 && hl_node_offset(n) == off,
		    "line %d: node %#llx: error %d", line,
		    (unsigned long long)off, e);
	else
		HT_CHECK(n == NULL && e == want,
		    "line %d: node %#llx: error %d (%s), want %d (%s)", line,
		    (unsigned long long)off, e, strerror(e), want,
		    strerror(want));
	if (n != NULL)
		hl_rel_node(n);
	expect_idle(m, line);
}

/* hl_get_buffer(off, bytes) must give `want'. */
static void
expect_buffer(
    int line, struct hl_mount *m, uint64_t off, uint32_t bytes, int want)
{
	struct hl_buffer *b;
	int e = -1;

	b = hl_get_buffer(m, off, bytes, false, &e);
	if (want == 0)
		HT_CHECK(
		    b != NULL && e == 0 &&
			hl_buffer_offset(b) ==
			    (off & ~(uint64_t)(hl_mount_buffer_size(m) - 1)),
		    "line %d: buffer %#llx: error %d", line,
		    (unsigned long long)off, e);
	else
		HT_CHECK(b == NULL && e == want,
		    "line %d: buffer %#llx: error %d (%s), want %d (%s)", line,
		    (unsigned long long)off, e, strerror(e), want,
		    strerror(want));
	if (b != NULL)
		hl_rel_buffer(b);
	expect_idle(m, line);
}

#define EXPECT_NODE(m, off, flags, want)                                       \
	expect_node(__LINE__, (m), (off), (flags), (want))
#define EXPECT_BUFFER(m, off, bytes, want)                                     \
	expect_buffer(__LINE__, (m), (off), (bytes), (want))

static void
test_cache_bad_nodes(void)
{
	char a0[128], a1[128];
	const char *pa[2] = {a0, a1};
	struct hl_mount_stats st;
	struct hl_mount *m;
	struct hl_trans t;
	struct hl_node *n;
	struct hl_buffer *b;
	uint8_t node[4096];
	uint64_t crc0;
	int fd, e;

	path(a0, "cnode0");
	path(a1, "cnode1");
	newfs(pa, 2);
	/* Buffer 2 of volume 0 (clear of anything newfs writes): a good
	 * node, then three damaged ones. */
	write_node(a0, 32768, HL_NODE_INTERNAL, 2, 0);
	write_node(a0, 36864, HL_NODE_LEAF, 5, HL_OFF_MAKE(0, 32768));
	fd = open(a0, O_RDWR);
	HT_CHECK(
	    fd >= 0 && pread(fd, node, sizeof(node), 36864) == 4096, "read");
	node[3000] ^= 0x10; /* bad CRC */
	HT_CHECK(pwrite(fd, node, sizeof(node), 36864) == 4096, "write");
	close(fd);
	/* A bad type; 300 elements in a leaf (254 fit). */
	write_node(a0, 40960, 9, 0, 0);
	write_node(a0, 45056, HL_NODE_LEAF, 300, 0);
	/* Volume 1, behind good CRCs: elements in a FREE node, a parent
	 * not aligned to a node, a parent in zone 3; then a good node. */
	write_node(a1, 49152, HL_NODE_FREE, 3, 0);
	write_node(a1, 53248, HL_NODE_LEAF, 1, HL_OFF_MAKE(0, 32768 + 100));
	write_node(
	    a1, 57344, HL_NODE_RAW, 10, (3ULL << HL_OFF_ZONE_SHIFT) | 32768);
	write_node(a1, VS - 4096, HL_NODE_RAW, 100, 0);
	/* A CRC over an otherwise all-zero node: not "never written". */
	memset(node, 0, sizeof(node));
	hl_le32_put(node, 0xdeadbeef);
	poke(a1, 61440, node, sizeof(node), false);

	m = cache_mount(pa, 2, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 32768), 0, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 32768 + 4096 * 4), 0, 0); /* zero */
	EXPECT_NODE(m, HL_OFF_MAKE(1, VS - 4096), HL_TRANSF_CRCDOM, 0);
	hl_mount_stats(m, &st);
	crc0 = st.crc_errors;
	for (int pass = 0; pass < 2; pass++) {
		/* Twice: a refused node is checked again, not remembered
		 * as good (its buffer stays in the pool meanwhile). */
		EXPECT_NODE(m, HL_OFF_MAKE(0, 36864), 0, EIO);
		EXPECT_NODE(m, HL_OFF_MAKE(0, 36864), HL_TRANSF_CRCDOM, EDOM);
		EXPECT_NODE(m, HL_OFF_MAKE(0, 40960), 0, EIO);
		EXPECT_NODE(m, HL_OFF_MAKE(0, 40960), HL_TRANSF_CRCDOM, EDOM);
		EXPECT_NODE(m, HL_OFF_MAKE(0, 45056), 0, EIO);
		EXPECT_NODE(m, HL_OFF_MAKE(0, 45056), HL_TRANSF_CRCDOM, EDOM);
		EXPECT_NODE(m, HL_OFF_MAKE(1, 49152), 0, EIO);
		EXPECT_NODE(m, HL_OFF_MAKE(1, 53248), HL_TRANSF_CRCDOM, EDOM);
		EXPECT_NODE(m, HL_OFF_MAKE(1, 57344), 0, EIO);
		EXPECT_NODE(m, HL_OFF_MAKE(1, 61440), HL_TRANSF_CRCDOM, EDOM);
	}
	hl_mount_stats(m, &st);
	HT_CHECK(st.crc_errors - crc0 == 20, "%llu CRC errors counted, want 20",
	    (unsigned long long)(st.crc_errors - crc0));
	/* The good node next to them still loads; the buffer itself is
	 * fine and shows the damaged bytes. */
	EXPECT_NODE(m, HL_OFF_MAKE(0, 32768), HL_TRANSF_CRCDOM, 0);
	b = hl_get_buffer(m, HL_OFF_MAKE(0, 36864), 0, false, &e);
	HT_CHECK(b != NULL, "buffer of a damaged node: %d", e);
	HT_CHECK(hl_node_check((uint8_t *)hl_buffer_data(b) + 4096, 4096, NULL,
		     0) == EBADMSG,
	    "the damaged bytes are in memory");
	hl_rel_buffer(b);
	/* Creating a node over a damaged one needs no check; once synced,
	 * it loads. */
	hl_trans_init(&t, m);
	n = hl_get_node(&t, HL_OFF_MAKE(0, 36864), true, &e);
	HT_CHECK(n != NULL, "new node over a damaged one: %d", e);
	HT_CHECK(hl_modify_node(n) == 0, "modify");
	hl_le16_put(
	    (uint8_t *)hl_node_data(n) + HL_NODE_OFF_TYPE, HL_NODE_LEAF);
	hl_modify_node_done(n);
	hl_rel_node(n);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 36864), HL_TRANSF_CRCDOM, 0);
	{
		char why[256];

		HT_CHECK(
		    hl_mount_sync(m, why, sizeof(why)) == 0, "sync: %s", why);
	}
	expect_idle(m, __LINE__);
	cache_unmount(m);
	m = cache_mount(pa, 2, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 36864), HL_TRANSF_CRCDOM, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 40960), HL_TRANSF_CRCDOM, EDOM);
	cache_unmount(m);
	/* The program lists what is left. */
	EXPECT_CLI(1,
	    "0x200000000000b000: bad element count 300 for a leaf "
	    "node (at most 254)",
	    "check", a0, a1);
	EXPECT_CLI(1, "0x201000000000c000: bad element count 3 for a free",
	    "check", a0, a1);
	EXPECT_CLI(1,
	    "0x201000000000e000: bad parent offset "
	    "0x3000000000008000",
	    "check", a0, a1);
	EXPECT_CLI(1, "0x201000000000f000: bad CRC (stored 0xdeadbeef", "check",
	    a0, a1);
	EXPECT_CLI(1, "6 damaged (0 read errors)", "check", a1, a0, "-q");
	PASS();
}

static void
test_cache_bad_offsets(void)
{
	static const unsigned zones[] = {0, 1, 3, 4, 7, 8, 15};
	char a0[128], a1[128];
	const char *pa[2] = {a0, a1};
	const uint64_t good = HL_OFF_MAKE(1, 32768);
	struct hl_mount_stats st;
	struct hl_mount *m;
	int e;

	path(a0, "coff0");
	path(a1, "coff1");
	newfs(pa, 2);
	m = cache_mount(pa, 2, 0);
	EXPECT_NODE(m, good, 0, 0);
	EXPECT_BUFFER(m, good, 0, 0);
	EXPECT_BUFFER(m, good, 16384, 0);
	/* Past the end of the volume. */
	EXPECT_NODE(m, HL_OFF_MAKE(1, VS - 4096), 0, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, VS), 0, ERANGE);
	EXPECT_NODE(m, HL_OFF_MAKE(1, VS + 16384), 0, ERANGE);
	EXPECT_NODE(m, HL_OFF_MAKE(0, HL_OFF_SHORT_MASK & ~4095ULL), 0, ERANGE);
	EXPECT_BUFFER(m, HL_OFF_MAKE(0, VS), 0, ERANGE);
	EXPECT_BUFFER(m, HL_OFF_MAKE(1, VS + 100), 0, ERANGE);
	EXPECT_BUFFER(m, HL_OFF_MAKE(0, HL_OFF_SHORT_MASK), 0, ERANGE);
	/* No such volume. */
	EXPECT_NODE(m, HL_OFF_MAKE(2, 16384), 0, ENOENT);
	EXPECT_NODE(m, HL_OFF_MAKE(255, 16384), 0, ENOENT);
	EXPECT_BUFFER(m, HL_OFF_MAKE(2, 16384), 0, ENOENT);
	EXPECT_BUFFER(m, HL_OFF_MAKE(255, VS * 4), 0, ENOENT);
	HT_CHECK(
	    hl_get_volume(m, 2, &e) == NULL && e == ENOENT, "vol 2: %d", e);
	HT_CHECK(
	    hl_get_volume(m, 255, &e) == NULL && e == ENOENT, "vol 255: %d", e);
	HT_CHECK(hl_get_volume(m, HL_MAX_VOLUMES, &e) == NULL && e == ENOENT,
	    "vol 256: %d", e);
	HT_CHECK(
	    hl_get_volume(m, -1, &e) == NULL && e == ENOENT, "vol -1: %d", e);
	/* Reserved zones, and the offset 0 ("none"). */
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		uint64_t off = (good & ~HL_OFF_ZONE_MASK) |
			       (uint64_t)zones[i] << HL_OFF_ZONE_SHIFT;

		EXPECT_NODE(m, off, 0, EINVAL);
		EXPECT_BUFFER(m, off, 0, EINVAL);
	}
	EXPECT_NODE(m, 0, 0, EINVAL);
	EXPECT_BUFFER(m, 0, 0, EINVAL);
	/* The header buffer holds no nodes. */
	EXPECT_NODE(m, HL_OFF_MAKE(0, 0), 0, EINVAL);
	EXPECT_NODE(m, HL_OFF_MAKE(1, 4096), 0, EINVAL);
	EXPECT_NODE(m, HL_OFF_MAKE(1, 12288), HL_TRANSF_CRCDOM, EINVAL);
	EXPECT_BUFFER(m, HL_OFF_MAKE(0, 0), 0, EINVAL);
	EXPECT_BUFFER(m, HL_OFF_MAKE(1, 8192), 0, EINVAL);
	/* Misaligned: a node must be aligned; a buffer offset is rounded
	 * down; the size must be the buffer size. */
	EXPECT_NODE(m, good + 512, 0, EINVAL);
	EXPECT_NODE(m, good + 8, 0, EINVAL);
	EXPECT_NODE(m, good + 1, 0, EINVAL);
	EXPECT_NODE(m, good + 4095, 0, EINVAL);
	EXPECT_NODE(m, HL_OFF_MAKE(1, VS - 1), 0, EINVAL);
	EXPECT_BUFFER(m, good + 100, 0, 0);
	EXPECT_BUFFER(m, good + 16383, 0, 0);
	EXPECT_BUFFER(m, good, 4096, EINVAL);
	EXPECT_BUFFER(m, good, 32768, EINVAL);
	EXPECT_BUFFER(m, good, 1, EINVAL);
	/* Only the two nodes that loaded have a structure: a refused
	 * offset leaves none behind (nor a buffer). */
	hl_mount_stats(m, &st);
	HT_CHECK(st.nodes <= 2 && st.buffers <= 2,
	    "%llu node structures and %llu buffers after bad offsets",
	    (unsigned long long)st.nodes, (unsigned long long)st.buffers);
	cache_unmount(m);
	PASS();
}

static void
test_cache_truncated(void)
{
	char a[128], why[256];
	const char *pa[1] = {a};
	struct hl_mount_stats st;
	struct hl_mount *m;
	uint8_t buf[4096];
	uint64_t rerr0;
	int fd;

	path(a, "ctrunc0");
	newfs(pa, 1);
	write_node(a, 32768, HL_NODE_RAW, 10, 0);
	write_node(a, VS / 2, HL_NODE_RAW, 10, 0);
	write_node(a, VS - 4096, HL_NODE_RAW, 10, 0);
	/* A pool of two buffers, so that reads really happen again. */
	m = cache_mount(pa, 1, 2 * 16384);
	EXPECT_NODE(m, HL_OFF_MAKE(0, 32768), 0, 0);
	hl_mount_stats(m, &st);
	rerr0 = st.read_errors;
	/* Shrink the file under the mount, into the middle of a buffer. */
	HT_CHECK(truncate(a, VS / 2 + 4096) == 0, "truncate");
	EXPECT_NODE(m, HL_OFF_MAKE(0, VS - 4096), 0, EIO);
	EXPECT_NODE(m, HL_OFF_MAKE(0, VS - 4096), HL_TRANSF_CRCDOM, EIO);
	EXPECT_BUFFER(m, HL_OFF_MAKE(0, VS - 16384), 0, EIO);
	/* The buffer the new end cuts: a short read, then EOF. */
	EXPECT_NODE(m, HL_OFF_MAKE(0, VS / 2), HL_TRANSF_CRCDOM, EIO);
	EXPECT_BUFFER(m, HL_OFF_MAKE(0, VS / 2), 0, EIO);
	/* What is still there still loads (from the pool or the file). */
	EXPECT_NODE(m, HL_OFF_MAKE(0, 32768), HL_TRANSF_CRCDOM, 0);
	EXPECT_NODE(m, HL_OFF_MAKE(0, VS / 2 - 4096), 0, 0);
	hl_mount_stats(m, &st);
	HT_CHECK(st.read_errors - rerr0 == 5, "%llu read errors, want 5",
	    (unsigned long long)(st.read_errors - rerr0));
	/* hl_io_read_full() at and across the end of the file: EIO. */
	fd = open(a, O_RDONLY);
	HT_CHECK(fd >= 0, "open");
	HT_CHECK(hl_io_read_full(hl_io_posix(), fd, buf, 4096, VS / 2) == 0,
	    "read before the end");
	HT_CHECK(
	    hl_io_read_full(hl_io_posix(), fd, buf, 4096, VS / 2 + 4096) == EIO,
	    "read at the end");
	HT_CHECK(
	    hl_io_read_full(hl_io_posix(), fd, buf, 4096, VS / 2 + 100) == EIO,
	    "read across the end");
	close(fd);
	/* Down to nothing: the header cannot be loaded either. */
	HT_CHECK(truncate(a, 0) == 0, "truncate");
	EXPECT_NODE(m, HL_OFF_MAKE(0, 65536), 0, EIO);
	{
		struct hl_volume *v;
		int e;

		v = hl_get_volume(m, 0, &e);
		HT_CHECK(
		    v == NULL && e == EIO, "volume of an empty file: %d", e);
		HT_CHECK(
		    hl_mount_sync(m, why, sizeof(why)) == 0, "sync: %s", why);
	}
	expect_idle(m, __LINE__);
	cache_unmount(m);
	EXPECT_CLI(2, "truncated: 0 bytes", "check", a);
	PASS();
}

/* Random damage to every part of a header: errors, never crashes. */
static void
test_random_headers(uint64_t *rs)
{
	char a[128];
	const char *pa[1] = {a};
	struct hl_volume_header vh;
	char why[512];
	int fails = 0;

	path(a, "rand0");
	for (int it = 0; it < 300; it++) {
		uint8_t b[16];
		/* Half the time hit the fields, else anywhere. */
		off_t off =
		    (off_t)(ht_rand(rs) %
			    (it & 1 ? HL_VOLHDR_OFF_RESERVED : HL_VOLHDR_SIZE));
		size_t len = 1 + ht_rand(rs) % sizeof(b);
		int e;

		if (it % 50 == 0)
			newfs(pa, 1);
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)ht_rand(rs);
		poke(a, off, b, len, ht_rand(rs) & 1);
		why[0] = '\0';
		e = hl_format_probe(pa, 1, &vh, why, sizeof(why));
		HT_CHECK(
		    e == 0 || why[0] != '\0', "error %d without a message", e);
		fails += e != 0;
	}
	printf("  random header damage: %d of 300 probes refused\n", fails);
	{
		char out[8192];
		int rc = run_cli(out, sizeof(out), "check", a, (char *)NULL);

		HT_CHECK(
		    rc == (hl_format_probe(pa, 1, &vh, why, sizeof(why)) == 0
				  ? 0
				  : 2),
		    "check exit %d:\n%s", rc, out);
	}
	PASS();
}

int
main(int argc, char **argv)
{
	uint64_t rs;

	if (argc < 2 || access(argv[1], X_OK) != 0) {
		fprintf(stderr, "usage: fault_badinput PATH-TO-hammerlock\n");
		return 2;
	}
	cli = argv[1];
	rs = ht_seed(argc, argv);
	snprintf(dir, sizeof(dir), "/tmp/hl_badinput.XXXXXX");
	HT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	test_clean();
	test_usage_errors();
	test_truncated();
	test_bad_header();
	test_volume_set();
	test_off_past_end();
	test_bad_nodes();
	test_cache_bad_nodes();
	test_cache_bad_offsets();
	test_cache_truncated();
	test_random_headers(&rs);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	ht_pass("fault_badinput", npassed);
	return 0;
}
