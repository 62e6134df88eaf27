/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_kv.c - the B-tree of a mount, one operation at a time:
 *
 *   hammerlock put  FILE... KEY VALUE
 *   hammerlock get  FILE... KEY
 *   hammerlock del  FILE... KEY
 *   hammerlock scan FILE... [--from KEY] [--limit N]
 *   hammerlock stat FILE...
 *
 * Volume files come first, numbers last: each command takes a fixed
 * count of trailing operands (put 2, get and del 1, scan and stat 0), so
 * every operand before them is a volume file.  A number is decimal or
 * 0x hexadecimal, 0..2^64-1; options may go anywhere, and `--' ends
 * them.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <hammerlock.h>
#include <hammerlock/btree.h>

#include "cli.h"

#define KV_POOL_BYTES (16u << 20)
#define KV_MAXPRINT   20 /* problems stat prints */

/* What a command accepts. */
enum {
	KV_HEX = 0x01,	 /* --hex */
	KV_RANGE = 0x02, /* --from, --limit */
};

struct kv_args {
	const char *cmd;
	void (*usage)(FILE *);
	int nnum; /* trailing numbers */
	unsigned flags;
	bool hex;
	uint64_t from, limit;
	char **files;
	int nfiles;
	uint64_t num[2];
};

static const char kv_syntax[] =
    "Volume files come first, numbers last: the last operand(s) are the\n"
    "number(s), every operand before them a volume file of the mount (all\n"
    "of them, in any order).  Numbers are decimal or 0x hexadecimal, 0 to\n"
    "2^64-1.  Options may appear anywhere; '--' ends them.\n";

void
hl_cli_put_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock put FILE... KEY VALUE\n"
	    "\n"
	    "Insert KEY with VALUE in the B-tree of the mount, or replace "
	    "its\n"
	    "value, then sync.\n"
	    "\n%s\n"
	    "  -h, --help   show this help\n"
	    "\n"
	    "exit status: 0 done, 2 usage error, unusable volumes or a "
	    "failed\n"
	    "operation.\n",
	    kv_syntax);
}

void
hl_cli_get_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock get FILE... KEY [--hex]\n"
	    "\n"
	    "Print the value of KEY in the B-tree of the mount.\n"
	    "\n%s\n"
	    "  -x, --hex    print the value in hexadecimal\n"
	    "  -h, --help   show this help\n"
	    "\n"
	    "exit status: 0 found, 1 no such key, 2 usage error, unusable "
	    "volumes\n"
	    "or a failed operation.\n",
	    kv_syntax);
}

void
hl_cli_del_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock del FILE... KEY\n"
	    "\n"
	    "Remove KEY from the B-tree of the mount, then sync.\n"
	    "\n%s\n"
	    "  -h, --help   show this help\n"
	    "\n"
	    "exit status: 0 removed, 1 no such key, 2 usage error, unusable\n"
	    "volumes or a failed operation.\n",
	    kv_syntax);
}

void
hl_cli_scan_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock scan FILE... [--from KEY] [--limit N] [--hex]\n"
	    "\n"
	    "Print the keys of the B-tree of the mount in increasing order, "
	    "one\n"
	    "\"KEY VALUE\" line each.  Every operand is a volume file (all of "
	    "the\n"
	    "mount's, in any order).  Numbers are decimal or 0x "
	    "hexadecimal.\n"
	    "\n"
	    "  -f, --from KEY   start at the first key >= KEY (default 0)\n"
	    "  -n, --limit N    print at most N keys (default: all)\n"
	    "  -x, --hex        print keys and values in hexadecimal\n"
	    "  -h, --help       show this help\n"
	    "\n"
	    "exit status: 0 done, 2 usage error, unusable volumes or a "
	    "failed\n"
	    "operation.\n");
}

void
hl_cli_stat_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock stat FILE...\n"
	    "\n"
	    "Print the geometry of the mount, the shape of its B-tree "
	    "(depth,\n"
	    "internal and leaf nodes, keys), what its free map says (used "
	    "and\n"
	    "free nodes), the problems hl_btree_check() finds in the tree "
	    "and\n"
	    "the free map, and the cache statistics of the walk.  Every "
	    "operand\n"
	    "is a volume file (all of the mount's, in any order).\n"
	    "\n"
	    "  -h, --help   show this help\n"
	    "\n"
	    "exit status: 0 the tree is sound, 1 problems found, 2 usage "
	    "error,\n"
	    "unusable volumes or a failed walk.\n");
}

/* Parse argv into a; returns -1 to go on, else an exit status. */
static int
kv_parse(struct kv_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"hex", no_argument, NULL, 'x'},
	    {"from", required_argument, NULL, 'f'},
	    {"limit", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, nops, i;

	a->limit = UINT64_MAX;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":xf:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'x':
			if (!(a->flags & KV_HEX))
				goto unknown;
			a->hex = true;
			break;
		case 'f':
		case 'n':
			if (!(a->flags & KV_RANGE))
				goto unknown;
			if (hl_cli_parse_u64(
				optarg, c == 'f' ? &a->from : &a->limit) != 0) {
				hl_cli_err(a->cmd, "bad %s '%s': not a number",
				    c == 'f' ? "--from" : "--limit", optarg);
				return HL_EXIT_UNUSABLE;
			}
			break;
		case 'h':
			a->usage(stdout);
			return HL_EXIT_OK;
		case ':':
			hl_cli_err(a->cmd, "option %s needs a value",
			    argv[optind - 1]);
			return HL_EXIT_UNUSABLE;
		default:
			goto unknown;
		}
	}
	nops = argc - optind;
	if (nops < a->nnum + 1) {
		hl_cli_err(a->cmd, "%s (try 'hammerlock %s --help')",
		    a->nnum == 2   ? "needs FILE... KEY VALUE"
		    : a->nnum == 1 ? "needs FILE... KEY"
				   : "no volume files given",
		    a->cmd);
		return HL_EXIT_UNUSABLE;
	}
	a->files = argv + optind;
	a->nfiles = nops - a->nnum;
	if (a->nfiles > HL_MAX_VOLUMES) {
		hl_cli_err(a->cmd, "too many files");
		return HL_EXIT_UNUSABLE;
	}
	for (i = 0; i < a->nnum; i++) {
		const char *s = argv[optind + a->nfiles + i];
		int error = hl_cli_parse_u64(s, &a->num[i]);

		if (error != 0) {
			hl_cli_err(a->cmd,
			    "bad %s '%s': %s (the last operand%s must be %s; "
			    "try 'hammerlock %s --help')",
			    i == 0 ? "KEY" : "VALUE", s,
			    error == ERANGE ? "out of range" : "not a number",
			    a->nnum == 2 ? "s" : "",
			    a->nnum == 2 ? "KEY VALUE" : "KEY", a->cmd);
			return HL_EXIT_UNUSABLE;
		}
	}
	return -1;
unknown:
	if (optopt != 0)
		hl_cli_err(a->cmd,
		    "unknown option '-%c' (try 'hammerlock %s --help')", optopt,
		    a->cmd);
	else
		hl_cli_err(a->cmd,
		    "unknown option '%s' (try 'hammerlock %s --help')",
		    argv[optind - 1], a->cmd);
	return HL_EXIT_UNUSABLE;
}

/* Mount the files and open the tree. */
static int
kv_open(struct kv_args *a, bool readonly, struct hl_mount **mp,
    struct hl_btree **btp)
{
	struct hl_mount_opts mo = {
	    .readonly = readonly, .pool_bytes = KV_POOL_BYTES};
	char why[1024];
	int error;

	error = hl_mount_open((const char *const *)a->files, a->nfiles, &mo, mp,
	    why, sizeof(why));
	if (error != 0) {
		hl_cli_err(a->cmd, "cannot mount: %s", why);
		return error;
	}
	error = hl_btree_open(*mp, btp);
	if (error != 0) {
		hl_cli_err(a->cmd, "cannot open the tree: %s", strerror(error));
		hl_mount_close(*mp, NULL, 0);
	}
	return error;
}

/* Sync (if sync) and unmount; returns the exit status to use. */
static int
kv_close(struct kv_args *a, struct hl_mount *m, struct hl_btree *bt, bool sync,
    int rc)
{
	char why[1024];
	int error;

	if (sync && (error = hl_btree_sync(bt, why, sizeof(why))) != 0) {
		hl_cli_err(a->cmd, "sync: %s", why);
		rc = HL_EXIT_UNUSABLE;
	}
	hl_btree_close(bt);
	if (hl_mount_close(m, why, sizeof(why)) != 0) {
		hl_cli_err(a->cmd, "unmount: %s", why);
		rc = HL_EXIT_UNUSABLE;
	}
	return rc;
}

static void
kv_print(const struct kv_args *a, uint64_t v)
{
	if (a->hex)
		printf("0x%016" PRIx64, v);
	else
		printf("%" PRIu64, v);
}

int
hl_cli_put(int argc, char **argv)
{
	struct kv_args a = {.cmd = "put", .usage = hl_cli_put_usage, .nnum = 2};
	struct hl_mount *m;
	struct hl_btree *bt;
	int rc, error;

	if ((rc = kv_parse(&a, argc, argv)) >= 0)
		return rc;
	if (kv_open(&a, false, &m, &bt) != 0)
		return HL_EXIT_UNUSABLE;
	error = hl_btree_put(bt, a.num[0], a.num[1]);
	rc = HL_EXIT_OK;
	if (error != 0) {
		hl_cli_err(
		    a.cmd, "key %" PRIu64 ": %s", a.num[0], strerror(error));
		rc = HL_EXIT_UNUSABLE;
	}
	return kv_close(&a, m, bt, true, rc);
}

int
hl_cli_get(int argc, char **argv)
{
	struct kv_args a = {.cmd = "get",
	    .usage = hl_cli_get_usage,
	    .nnum = 1,
	    .flags = KV_HEX};
	struct hl_mount *m;
	struct hl_btree *bt;
	uint64_t v;
	int rc, error;

	if ((rc = kv_parse(&a, argc, argv)) >= 0)
		return rc;
	if (kv_open(&a, true, &m, &bt) != 0)
		return HL_EXIT_UNUSABLE;
	error = hl_btree_get(bt, a.num[0], &v);
	if (error == 0) {
		kv_print(&a, v);
		putchar('\n');
		rc = HL_EXIT_OK;
	} else if (error == ENOENT) {
		hl_cli_err(a.cmd, "no key %" PRIu64, a.num[0]);
		rc = HL_EXIT_DAMAGED;
	} else {
		hl_cli_err(
		    a.cmd, "key %" PRIu64 ": %s", a.num[0], strerror(error));
		rc = HL_EXIT_UNUSABLE;
	}
	fflush(stdout);
	return kv_close(&a, m, bt, false, rc);
}

int
hl_cli_del(int argc, char **argv)
{
	struct kv_args a = {.cmd = "del", .usage = hl_cli_del_usage, .nnum = 1};
	struct hl_mount *m;
	struct hl_btree *bt;
	int rc, error;

	if ((rc = kv_parse(&a, argc, argv)) >= 0)
		return rc;
	if (kv_open(&a, false, &m, &bt) != 0)
		return HL_EXIT_UNUSABLE;
	error = hl_btree_del(bt, a.num[0]);
	if (error == 0) {
		rc = HL_EXIT_OK;
	} else if (error == ENOENT) {
		hl_cli_err(a.cmd, "no key %" PRIu64, a.num[0]);
		rc = HL_EXIT_DAMAGED;
	} else {
		hl_cli_err(
		    a.cmd, "key %" PRIu64 ": %s", a.num[0], strerror(error));
		rc = HL_EXIT_UNUSABLE;
	}
	return kv_close(&a, m, bt, true, rc);
}

int
hl_cli_scan(int argc, char **argv)
{
	struct kv_args a = {.cmd = "scan",
	    .usage = hl_cli_scan_usage,
	    .flags = KV_HEX | KV_RANGE};
	struct hl_btree_cursor *c;
	struct hl_mount *m;
	struct hl_btree *bt;
	uint64_t k, v, n = 0;
	int rc, error;

	if ((rc = kv_parse(&a, argc, argv)) >= 0)
		return rc;
	if (kv_open(&a, true, &m, &bt) != 0)
		return HL_EXIT_UNUSABLE;
	if ((error = hl_btree_cursor_open(bt, &c)) != 0) {
		hl_cli_err(a.cmd, "cursor: %s", strerror(error));
		return kv_close(&a, m, bt, false, HL_EXIT_UNUSABLE);
	}
	if (a.limit > 0)
		for (error = hl_btree_seek(c, a.from, &k, &v); error == 0;
		     error = hl_btree_next(c, &k, &v)) {
			kv_print(&a, k);
			putchar(' ');
			kv_print(&a, v);
			putchar('\n');
			if (++n >= a.limit)
				break;
		}
	hl_btree_cursor_close(c);
	fflush(stdout);
	rc = HL_EXIT_OK;
	if (error != 0 && error != ENOENT) {
		hl_cli_err(
		    a.cmd, "after %" PRIu64 " keys: %s", n, strerror(error));
		rc = HL_EXIT_UNUSABLE;
	}
	return kv_close(&a, m, bt, false, rc);
}

struct kv_stat {
	uint64_t printed;
};

static void
kv_stat_report(void *arg, uint64_t off, const char *what)
{
	struct kv_stat *s = arg;

	if (s->printed++ < KV_MAXPRINT)
		printf("  problem: node %#018" PRIx64 " (volume %u): %s\n", off,
		    HL_OFF_VOL(off), what);
}

int
hl_cli_stat(int argc, char **argv)
{
	struct kv_args a = {.cmd = "stat", .usage = hl_cli_stat_usage};
	struct hl_btree_shape sh;
	struct hl_mount_stats ms;
	struct kv_stat ks = {0};
	struct hl_mount *m;
	struct hl_btree *bt;
	struct hl_volume *v0;
	uint64_t nproblems = 0, slots;
	char id[HL_MOUNT_ID_STRLEN];
	int rc, error;

	if ((rc = kv_parse(&a, argc, argv)) >= 0)
		return rc;
	if (kv_open(&a, true, &m, &bt) != 0)
		return HL_EXIT_UNUSABLE;
	if ((v0 = hl_get_root_volume(m, &error)) == NULL) {
		hl_cli_err(a.cmd, "volume 0: %s", strerror(error));
		return kv_close(&a, m, bt, false, HL_EXIT_UNUSABLE);
	}
	hl_mount_id_str(hl_volume_header(v0)->mount_id, id, sizeof(id));
	hl_rel_volume(v0);
	printf("mount %s: %d volume%s, buffer size %" PRIu32
	       ", node size %" PRIu32 ", root node %#" PRIx64 "\n",
	    id, hl_mount_nvolumes(m), hl_mount_nvolumes(m) == 1 ? "" : "s",
	    hl_mount_buffer_size(m), hl_mount_node_size(m), hl_mount_root(m));
	memset(&sh, 0, sizeof(sh));
	error = hl_btree_check(bt, &sh, kv_stat_report, &ks, &nproblems);
	if (error != 0) {
		hl_cli_err(a.cmd, "walking the tree: %s", strerror(error));
		return kv_close(&a, m, bt, false, HL_EXIT_UNUSABLE);
	}
	if (ks.printed > KV_MAXPRINT)
		printf("  (%" PRIu64 " more problems not listed)\n",
		    ks.printed - KV_MAXPRINT);
	printf("tree: depth %" PRIu32 ", %" PRIu64 " internal + %" PRIu64
	       " leaf nodes, %" PRIu64 " keys",
	    sh.depth, sh.internal, sh.leaves, sh.keys);
	if (sh.leaves > 0)
		printf(" (%.1f per leaf, %.0f%% full)",
		    (double)sh.keys / (double)sh.leaves,
		    100.0 * (double)sh.keys / (double)sh.leaves /
			HL_NODE_MAX_ELMS(hl_mount_node_size(m)));
	printf("\n");
	slots = sh.used_nodes + sh.free_nodes;
	printf("free map: %" PRIu64 " nodes used, %" PRIu64 " free of %" PRIu64
	       " (%.1f%% used)\n",
	    sh.used_nodes, sh.free_nodes, slots,
	    slots ? 100.0 * (double)sh.used_nodes / (double)slots : 0.0);
	printf("check: %" PRIu64 " problem%s\n", nproblems,
	    nproblems == 1 ? "" : "s");
	hl_mount_stats(m, &ms);
	printf("cache: %" PRIu64 " buffer loads, %" PRIu64 " reads, %" PRIu64
	       " node loads, %" PRIu64 " reclaims, pool %.1f of %.1f MiB\n",
	    ms.buffer_loads, ms.reads, ms.node_loads, ms.reclaims,
	    (double)ms.pool_bytes / 1048576.0,
	    (double)ms.pool_limit / 1048576.0);
	fflush(stdout);
	return kv_close(
	    &a, m, bt, false, nproblems != 0 ? HL_EXIT_DAMAGED : HL_EXIT_OK);
}
