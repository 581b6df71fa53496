/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter — LLM usage webhooks to InfluxDB line protocol, and daily
 * summaries from InfluxDB. main() only parses the global options and
 * dispatches to one command (plugin/cmd_<name>.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/cmd_io.h"
#include "tokenmeter/log.h"

#ifndef TOKENMETER_VERSION
#define TOKENMETER_VERSION "0.0.0"
#endif

struct main_command {
    const char *name;
    int (*run)(int argc, char **argv, struct cmd_common *common);
    const char *summary;
    bool streaming; /* installs cmd_io's signal handlers: keep its signals blocked */
};

static const struct main_command main_commands[] = {
    {"execd", cmd_execd_main, "webhook JSON (stdin, files) -> line protocol (inputs.execd)", true},
    {"process", cmd_process_main, "Telegraf metrics holding webhook bodies -> line protocol", true},
    {"replay", cmd_replay_main, "feed a dead-letter file back through the normalizer", true},
    {"aggregate", cmd_aggregate_main, "daily summaries from InfluxDB (or .lp files) into SQLite",
     false},
    {"report", cmd_report_main, "print the daily summaries (table, csv, json, html)", false},
    {"retention", cmd_retention_main, "check or apply InfluxDB retention (retention_days)", false},
    {"check", cmd_check_main, "validate the config and probe InfluxDB, one line per probe", false},
    {"prices", cmd_prices_main, "show, update or try the price table (show, update, cost)", false},
};

#define N_COMMANDS (sizeof(main_commands) / sizeof(main_commands[0]))

static void main_usage(FILE *fp)
{
    fprintf(fp,
            "usage: tokenmeter [-c FILE] [--set SECTION.KEY=VALUE]... [--log-level L] [--quiet]\n"
            "                  COMMAND [options]\n"
            "       tokenmeter --version | --help | help [COMMAND]\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", main_commands[i].name, main_commands[i].summary);
    fprintf(fp, "\n'tokenmeter COMMAND --help' describes each command. Logs go to stderr with\n"
                "Telegraf's E!/W!/I!/D! prefixes; the commands Telegraf runs (execd, process,\n"
                "replay) write only line protocol to stdout.\n");
}

/* The command called name, or NULL after logging that there is none, with
 * the nearest command's name when one is close (or name starts it). */
static const struct main_command *main_find(const char *name)
{
    const struct main_command *near = NULL;
    size_t best = 3; /* more edits than this: no suggestion */
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *cname = main_commands[i].name;
        if (strcmp(cname, name) == 0)
            return &main_commands[i];
        size_t d = *name && strncmp(cname, name, strlen(name)) == 0 ? 1 : cmd_distance(name, cname);
        if (d < best) {
            best = d;
            near = &main_commands[i];
        }
    }
    if (near)
        log_msg_always(LOG_LEVEL_ERROR,
                       "unknown command \"%s\"; did you mean '%s'? (try 'tokenmeter --help')", name,
                       near->name);
    else
        log_msg_always(LOG_LEVEL_ERROR, "unknown command \"%s\"; try 'tokenmeter --help'", name);
    return NULL;
}

/* Started with fd 0, 1 or 2 closed (`>&-`), the first file opened would
 * take its number: the dead-letter file would receive line protocol, or
 * the log. Each closed one is opened on /dev/null before anything else is
 * opened. A stdout that is closed, or open for reading only, is unusable:
 * the streaming commands refuse to run without one (cmd_io_open). Returns 0,
 * or -errno when /dev/null cannot be opened. */
static int main_std_fds(bool *stdout_unusable)
{
    *stdout_unusable = false;
    for (int fd = 0; fd <= 2; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) {
            if (fd == STDOUT_FILENO && (fl & O_ACCMODE) == O_RDONLY)
                *stdout_unusable = true;
            continue;
        }
        if (fd == STDOUT_FILENO)
            *stdout_unusable = true;
        /* The lowest free number: fd itself, as the ones below are open. */
        int nfd = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
        if (nfd < 0)
            return -errno;
        if (nfd != fd) {
            close(nfd);
            return -EBADF;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* The streaming commands' signals are blocked from the first
     * instruction on, so one that arrives while the configuration loads
     * stays pending until cmd_io has its handlers in place, instead of
     * killing the process with input half read. Other commands keep the
     * default dispositions: their signals are unblocked before they run. */
    cmd_io_block_signals(SIG_BLOCK, NULL);
    bool stdout_unusable;
    if (main_std_fds(&stdout_unusable) < 0)
        return EX_OSERR; /* no /dev/null: nowhere safe to even log */
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cmd_common common;
    memset(&common, 0, sizeof(common));
    common.stdout_unusable = stdout_unusable;
    int opt;
    opterr = 0; /* cmd_getopt_error() says it, with the E! prefix */
    /* '+': stop at the command name; its options belong to the command. */
    while ((opt = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
        if (opt == 'V') {
            printf("tokenmeter %s\n", TOKENMETER_VERSION);
            return EX_OK;
        }
        if (opt == '?' || opt == ':') {
            cmd_getopt_error(NULL, opt, argv, longopts);
            return EX_USAGE;
        }
        int handled = cmd_common_option(&common, opt, optarg);
        if (handled < 0)
            return handled == -ENOMEM ? EX_OSERR : EX_USAGE;
        if (!handled) {
            main_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind >= argc) {
        main_usage(common.help ? stdout : stderr);
        return common.help ? EX_OK : EX_USAGE;
    }
    const char *name = argv[optind];
    /* "tokenmeter help [COMMAND]" is what many users type first. */
    if (strcmp(name, "help") == 0) {
        const char *what = optind + 1 < argc ? argv[optind + 1] : NULL;
        if (!what || strcmp(what, "help") == 0 || strcmp(what, "--help") == 0 ||
            strcmp(what, "-h") == 0) {
            main_usage(stdout);
            return EX_OK;
        }
        if (optind + 2 < argc) {
            log_msg_always(LOG_LEVEL_ERROR, "help: expected one command; try 'tokenmeter --help'");
            return EX_USAGE;
        }
        common.help = true;
        optind++;
        name = argv[optind];
        argc = optind + 1; /* "help execd --dedup x" is not a run of execd */
    }
    const struct main_command *cmd = main_find(name);
    if (!cmd)
        return EX_USAGE;
    if (!cmd->streaming)
        cmd_io_block_signals(SIG_UNBLOCK, NULL);
    int status = cmd->run(argc - optind, argv + optind, &common);
    cmd_common_free(&common);
    if (cmd->streaming)
        cmd_io_detach_pipes();
    return status;
}
