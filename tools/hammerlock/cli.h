/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli.h - the `hammerlock' program: its subcommand table and helpers.
 *
 * A subcommand is a function taking the arguments after the program name
 * (argv[0] is the subcommand's name) and returning the exit status:
 *
 *   HL_EXIT_OK        0  success, nothing damaged
 *   HL_EXIT_DAMAGED   1  the input is usable but damaged (check), or
 *                        a check of the run failed (stress)
 *   HL_EXIT_UNUSABLE  2  unusable input (bad header, truncated volume,
 *                        mismatched mount id...), a usage error, or a
 *                        failure of the command itself
 *
 * Adding a subcommand: write hl_cli_NAME() and hl_cli_NAME_usage() in
 * cmd_NAME.c and add a row to the table in main.c.
 */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HL_EXIT_OK	 0
#define HL_EXIT_DAMAGED	 1
#define HL_EXIT_UNUSABLE 2

struct hl_cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;	 /* one line for `hammerlock --help' */
	void (*usage)(FILE *fp); /* full help for `hammerlock NAME --help' */
};

int hl_cli_newfs(int argc, char **argv);
void hl_cli_newfs_usage(FILE *fp);
int hl_cli_check(int argc, char **argv);
void hl_cli_check_usage(FILE *fp);
int hl_cli_stress(int argc, char **argv);
void hl_cli_stress_usage(FILE *fp);
int hl_cli_run(int argc, char **argv);
void hl_cli_run_usage(FILE *fp);
int hl_cli_put(int argc, char **argv);
void hl_cli_put_usage(FILE *fp);
int hl_cli_get(int argc, char **argv);
void hl_cli_get_usage(FILE *fp);
int hl_cli_del(int argc, char **argv);
void hl_cli_del_usage(FILE *fp);
int hl_cli_scan(int argc, char **argv);
void hl_cli_scan_usage(FILE *fp);
int hl_cli_stat(int argc, char **argv);
void hl_cli_stat_usage(FILE *fp);

/*
 * Parse a byte count: decimal or 0x hex, optionally followed by K, M, G or
 * T (powers of 1024; "KiB", "k", "MB"... are accepted too).  Returns 0 or
 * EINVAL (not a number, unknown suffix) or ERANGE (overflow).
 */
int hl_cli_parse_size(const char *s, uint64_t *out);

/*
 * Parse a number: decimal or 0x hex, 0..UINT64_MAX, nothing after it
 * (cmd_kv.c).  Returns 0, EINVAL or ERANGE.
 */
int hl_cli_parse_u64(const char *s, uint64_t *out);

/* Print "hammerlock CMD: message" to stderr (printf format). */
__attribute__((format(printf, 2, 3))) void hl_cli_err(
    const char *cmd, const char *fmt, ...);

#endif /* HL_CLI_H */
