/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c - `hammerlock': one program, one subcommand per job.
 *
 *   hammerlock --help | --version
 *   hammerlock help [COMMAND]
 *   hammerlock COMMAND [ARGS...]      (COMMAND --help for its options)
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hammerlock.h>

#include "cli.h"

static const struct hl_cli_cmd cmds[] = {
    {"newfs", hl_cli_newfs, "create the volume files of a new mount",
	hl_cli_newfs_usage},
    {"check", hl_cli_check,
	"verify the volume headers and every node's CRC of a mount",
	hl_cli_check_usage},
    {"stress", hl_cli_stress,
	"stress the object cache with many threads and check every read",
	hl_cli_stress_usage},
    {"run", hl_cli_run,
	"load a B-tree and run YCSB workloads on it, checking every answer",
	hl_cli_run_usage},
    {"put", hl_cli_put, "insert or replace a key of a mount's B-tree",
	hl_cli_put_usage},
    {"get", hl_cli_get, "print the value of a key of a mount's B-tree",
	hl_cli_get_usage},
    {"del", hl_cli_del, "remove a key from a mount's B-tree", hl_cli_del_usage},
    {"scan", hl_cli_scan, "print the keys of a mount's B-tree in order",
	hl_cli_scan_usage},
    {"stat", hl_cli_stat,
	"print the shape of a mount's B-tree and check its structure",
	hl_cli_stat_usage},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hammerlock COMMAND [ARGS...]\n"
	    "       hammerlock COMMAND --help\n"
	    "       hammerlock --help | --version\n"
	    "\n"
	    "Tools for libhammerlock's volume files (format version %u).\n"
	    "\n"
	    "commands:\n",
	    HL_FORMAT_VERSION);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(fp, "\n"
		    "exit status: 0 success, 1 damaged nodes found (check) or "
		    "a failed\n"
		    "check (stress), 2 unusable input, usage error or "
		    "failure.\n");
}

static const struct hl_cli_cmd *
find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

void
hl_cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (cmd != NULL)
		fprintf(stderr, "hammerlock %s: ", cmd);
	else
		fprintf(stderr, "hammerlock: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The number at the start of s: decimal, or hex after 0x; never octal
 * ("010" is ten).  *endp points after it.  0, EINVAL or ERANGE.
 */
static int
parse_digits(const char *s, unsigned long long *vp, char **endp)
{
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return EINVAL;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return EINVAL;
		*vp = strtoull(s + 2, endp, 16);
	} else {
		*vp = strtoull(s, endp, 10);
	}
	return errno == ERANGE ? ERANGE : 0;
}

int
hl_cli_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int error = parse_digits(s, &v, &end);

	if (error)
		return error;
	if (*end != '\0')
		return EINVAL;
	*out = v;
	return 0;
}

int
hl_cli_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {
	    {"", 0},
	    {"b", 0},
	    {"k", 10},
	    {"kb", 10},
	    {"kib", 10},
	    {"m", 20},
	    {"mb", 20},
	    {"mib", 20},
	    {"g", 30},
	    {"gb", 30},
	    {"gib", 30},
	    {"t", 40},
	    {"tb", 40},
	    {"tib", 40},
	};
	unsigned long long v;
	char suffix[8];
	char *end;
	size_t n;

	int error = parse_digits(s, &v, &end);

	if (error)
		return error;
	n = strlen(end);
	if (n >= sizeof(suffix))
		return EINVAL;
	memset(suffix, 0, sizeof(suffix));
	for (size_t i = 0; i < n; i++)
		suffix[i] = (char)tolower((unsigned char)end[i]);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(suffix, units[i].suffix) != 0)
			continue;
		if (units[i].shift > 0 && v > (UINT64_MAX >> units[i].shift))
			return ERANGE;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return EINVAL;
}

int
main(int argc, char **argv)
{
	const struct hl_cli_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return HL_EXIT_UNUSABLE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return HL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("hammerlock %s (format version %u, crc32c %s)\n",
		    HL_VERSION_STRING, HL_FORMAT_VERSION, hl_crc32c_impl());
		return HL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return HL_EXIT_OK;
		}
		c = find_cmd(argv[2]);
		if (c == NULL) {
			hl_cli_err(NULL, "unknown command '%s'", argv[2]);
			return HL_EXIT_UNUSABLE;
		}
		c->usage(stdout);
		return HL_EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (c == NULL) {
		hl_cli_err(NULL,
		    "unknown command '%s' (try 'hammerlock --help')", argv[1]);
		return HL_EXIT_UNUSABLE;
	}
	return c->fn(argc - 1, argv + 1);
}
