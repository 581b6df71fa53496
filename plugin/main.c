/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter — LLM usage webhooks to InfluxDB line protocol, and daily
 * summaries from InfluxDB. main() only parses the global options and
 * dispatches to one command (plugin/cmd_<name>.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/log.h"

#ifndef TOKENMETER_VERSION
#define TOKENMETER_VERSION "0.0.0"
#endif

struct main_command {
    const char *name;
    int (*run)(int argc, char **argv, struct cmd_common *common);
    const char *summary;
};

static const struct main_command main_commands[] = {
    {"execd", cmd_execd_main, "webhook JSON (stdin, files) -> line protocol (inputs.execd)"},
    {"process", cmd_process_main, "Telegraf metrics holding webhook bodies -> line protocol"},
    {"replay", cmd_replay_main, "feed a dead-letter file back through the normalizer"},
    {"aggregate", cmd_aggregate_main, "daily summaries from InfluxDB (or .lp files) into SQLite"},
    {"report", cmd_report_main, "print the daily summaries (table, csv, json)"},
    {"retention", cmd_retention_main, "check or apply InfluxDB retention (retention_days)"},
    {"check", cmd_check_main, "validate the config and probe InfluxDB, one line per probe"},
    {"prices", cmd_prices_main, "show, update or apply the price table"},
};

#define N_COMMANDS (sizeof(main_commands) / sizeof(main_commands[0]))

static void main_usage(FILE *fp)
{
    fprintf(fp, "usage: tokenmeter [-c FILE] [--log-level L] COMMAND [options]\n"
                "       tokenmeter --version | --help\n"
                "\n"
                "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", main_commands[i].name, main_commands[i].summary);
    fprintf(fp, "\n'tokenmeter COMMAND --help' describes each command. Logs go to stderr with\n"
                "Telegraf's E!/W!/I!/D! prefixes; stdout carries only line protocol.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cmd_common common;
    memset(&common, 0, sizeof(common));
    int opt;
    /* '+': stop at the command name; its options belong to the command. */
    while ((opt = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        if (opt == 'V') {
            printf("tokenmeter %s\n", TOKENMETER_VERSION);
            return EX_OK;
        }
        int handled = cmd_common_option(&common, opt, optarg);
        if (handled < 0)
            return EX_USAGE;
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
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(main_commands[i].name, name) == 0) {
            int status = main_commands[i].run(argc - optind, argv + optind, &common);
            cmd_common_free(&common);
            return status;
        }
    }
    log_msg_always(LOG_LEVEL_ERROR, "unknown command \"%s\"; try 'tokenmeter --help'", name);
    return EX_USAGE;
}
