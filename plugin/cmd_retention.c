/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter retention check|apply — makes InfluxDB keep the raw points
 * for [influxdb] retention_days: a 1.x retention policy (REPLICATION 1) or
 * the expire rule of a 2.x bucket. The logic is retention.h's; this file is
 * the command line around it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/log.h"
#include "tokenmeter/retention.h"

static const char retention_usage[] =
    "usage: tokenmeter retention check|apply [options]\n"
    "\n"
    "check: compares InfluxDB's retention with [influxdb] retention_days.\n"
    "apply: makes it so. InfluxDB 1.x: ALTER (or CREATE, with the database when\n"
    "missing) RETENTION POLICY ... DURATION Nd REPLICATION 1 on [influxdb]\n"
    "retention_policy, or on the database's default policy when that is unset.\n"
    "InfluxDB 2.x ([influxdb] bucket set): the bucket's expire rule, through\n"
    "PATCH /api/v2/buckets/{id}. retention_days = 0 means keep forever.\n"
    "\n"
    "options:\n"
    "      --days N              the retention to check or apply (retention_days)\n"
    "%s"
    "\n"
    "exit status: 0 retention as configured (check) or applied (apply); 78 it\n"
    "differs (check; EX_CONFIG, \"found in a misconfigured state\") or the\n"
    "configuration is invalid; 69 InfluxDB refused (no such database/bucket,\n"
    "statement error); 75 InfluxDB unreachable or timed out; 77 credentials\n"
    "rejected; 64 usage.\n";

enum { RETENTION_OPT_DAYS = CMD_OPT_FIRST_LOCAL };

int cmd_retention_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"days", required_argument, NULL, RETENTION_OPT_DAYS},
        {NULL, 0, NULL, 0},
    };
    struct config *cfg = NULL;
    struct influx *c = NULL;
    char ierr[ERR_MAX], line[1024];
    int opt, status;
    static const struct cmd_flag flags[] = {
        {RETENTION_OPT_DAYS, "influxdb.retention_days", NULL},
    };
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "retention",
                           .longopts = longopts,
                           .flags = flags,
                           .nflags = 1,
                           .common = common};
    const char *arg = NULL;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END)
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
    if (common->help) {
        printf(retention_usage, cmd_common_help);
        return EX_OK;
    }
    bool apply = argc - optind == 1 && strcmp(argv[optind], "apply") == 0;
    if (argc - optind != 1 || (!apply && strcmp(argv[optind], "check") != 0))
        return cmd_usage_error("retention", "expected 'check' or 'apply'");
    status = cmd_load_config(common, &cfg);
    if (status != EX_OK)
        return status;
    int rc = influx_new(&cfg->influxdb, &c, ierr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "config: %s", ierr);
        status = rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
        goto out;
    }
    if (apply) {
        rc = retention_apply(c, cfg->influxdb.retention_days, ierr);
        if (rc < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "retention apply: %s", ierr);
            status = influx_exit_code(rc);
            goto out;
        }
    }
    rc = retention_check(c, line, sizeof(line));
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "retention: %s", line);
        status = influx_exit_code(rc);
    } else {
        printf("%s: %s\n", rc == 0 ? "ok" : "differs", line);
        /* sysexits' EX_CONFIG: "found in an unconfigured or misconfigured state" */
        status = rc == 0 ? EX_OK : EX_CONFIG;
    }
out:
    influx_free(c);
    config_free(cfg);
    return status;
}
