/* SPDX-License-Identifier: MIT */
/*
 * cmd — what every command shares: the common options (-c, --set,
 * --log-level, --help), loading the configuration in its documented order,
 * and the exit codes (sysexits.h; docs/operations.md lists what each
 * command returns).
 */
#ifndef TOKENMETER_CMD_H
#define TOKENMETER_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include "tokenmeter/config.h"

#define CMD_MAX_SETS 128

struct cmd_common {
    const char *config_path; /* borrowed (argv); NULL: the default path, which may be missing */
    const char *sets[CMD_MAX_SETS]; /* borrowed: "section.key=value" flag overrides, in order */
    const char *set_flags[CMD_MAX_SETS]; /* static: the long option that made sets[i]
                                            ("dedup"), NULL for --set */
    size_t nsets;
    char *owned[CMD_MAX_SETS]; /* owned: the assignments cmd_common_set() built */
    size_t nowned;
    bool help;
    bool stdout_unusable; /* main() found fd 1 closed or read-only (see main.c) */
};

/* Releases what cmd_common_set() allocated. */
void cmd_common_free(struct cmd_common *c);

/* getopt_long codes of the common options (above any character). */
enum {
    CMD_OPT_SET = 1000,
    CMD_OPT_LOG_LEVEL,
    CMD_OPT_QUIET,
    CMD_OPT_FIRST_LOCAL = 1100, /* commands number their own long options from here */
};

/* The common long options; a command lists them at the start of its table. */
#define CMD_COMMON_LONGOPTS                                                                        \
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, CMD_OPT_SET},       \
        {"log-level", required_argument, NULL, CMD_OPT_LOG_LEVEL},                                 \
        {"quiet", no_argument, NULL, CMD_OPT_QUIET},                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* The common options' help text, for a command's --help. */
extern const char cmd_common_help[];

/* Handles a common option returned by getopt_long. `arg` is borrowed and
 * must outlive c (it is argv). Returns 1 when it was one, 0 when it was
 * not, or -EINVAL / -E2BIG after logging a usage error. */
int cmd_common_option(struct cmd_common *c, int opt, const char *arg);

/* A flag that only overrides a config key: "--dedup tag" is
 * "--set ingest.dedup=tag". `value` is NULL for a flag that takes an
 * argument, or the fixed value a flag without one sets ("--write-influx"
 * sets "true"). */
struct cmd_flag {
    int opt;
    const char *key;
    const char *value;
};

/* Option parsing shared by every command: the common options and the
 * cmd_flag rows are handled inside; what is left is the command's own. */
struct cmd_getopt {
    int argc;
    char **argv;
    const char *command; /* for "try 'tokenmeter COMMAND --help'" */
    const struct option *longopts;
    const struct cmd_flag *flags;
    size_t nflags;
    struct cmd_common *common;
    bool started;
};

#define CMD_GETOPT_END   (-1)
#define CMD_GETOPT_ERROR (-2)

/* Returns the next option the command handles itself (its argument, if
 * any, in *arg), CMD_GETOPT_END when the options are over (optind then
 * indexes the first operand; options and operands may be mixed), or
 * CMD_GETOPT_ERROR after a usage error was logged with a --help hint. */
int cmd_getopt_next(struct cmd_getopt *g, const char **arg);

/* Logs getopt_long's '?' (unknown option) or ':' (missing argument, when
 * the option string starts with ':') with the E! prefix, naming the option
 * as typed, the nearest of `longopts` (may be NULL) when a typo is likely,
 * and the --help to read (`command` NULL: the global options). Call it
 * right after getopt_long returned `opt`, with opterr 0. */
void cmd_getopt_error(const char *command, int opt, char **argv, const struct option *longopts);

/* Edit distance of a and b (each at most 31 bytes matter), for "did you
 * mean": a typo is one or two edits away from the word meant. */
size_t cmd_distance(const char *a, const char *b);

/* Logs a usage error for `command` followed by the --help hint and returns
 * EX_USAGE. */
int cmd_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds a "section.key=value" override (flags like --dedup build these so
 * flags and --set share one precedence); the assignment is copied. `flag`
 * (static, or NULL) is the long option it came from, named in errors.
 * Returns 0, -E2BIG (too many) or -ENOMEM, after logging why. */
int cmd_common_set(struct cmd_common *c, const char *flag, const char *section_key,
                   const char *value);

/* Loads defaults, the config file, the environment and the overrides, in
 * that order, then validates. Returns EX_OK with a new config in *out (owned
 * by the caller: free with config_free()), or after logging the error
 * EX_USAGE when a value given on the command line (--set, or a flag such
 * as --dedup, named as typed) is of the wrong form or names no key,
 * EX_CONFIG for any other configuration error, or EX_OSERR when out of
 * memory. */
int cmd_load_config(struct cmd_common *c, struct config **out);

/* The same without logging: the reason is in err. On EX_CONFIG or
 * EX_USAGE, *partial
 * (when partial is not NULL) receives the configuration as far as it could
 * be read, not validated (owned by the caller: free with config_free()),
 * for a command that keeps working in a degraded mode. */
int cmd_load_config_err(struct cmd_common *c, struct config **out, struct config **partial,
                        char err[ERR_MAX]);

/* Parses a time given on the command line: RFC 3339, or an integer of
 * nanoseconds since the epoch. Returns 0 or -EINVAL. */
int cmd_parse_time(const char *s, int64_t *ns);

/* Entry points, one per command: argv[0] is the command name. */
int cmd_execd_main(int argc, char **argv, struct cmd_common *common);
int cmd_replay_main(int argc, char **argv, struct cmd_common *common);
int cmd_aggregate_main(int argc, char **argv, struct cmd_common *common);
int cmd_report_main(int argc, char **argv, struct cmd_common *common);
int cmd_retention_main(int argc, char **argv, struct cmd_common *common);
int cmd_check_main(int argc, char **argv, struct cmd_common *common);
int cmd_prices_main(int argc, char **argv, struct cmd_common *common);
int cmd_process_main(int argc, char **argv, struct cmd_common *common);

#endif
