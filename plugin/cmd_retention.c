/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter retention check|plan|apply — makes InfluxDB keep the raw points
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
    "usage: tokenmeter retention check|plan|apply [options]\n"
    "\n"
    "check: compares InfluxDB's retention with [influxdb] retention_days.\n"
    "plan:  prints the current and the intended retention and the change apply\n"
    "       would make (the statement), and whether it needs --force.\n"
    "apply: makes it so, after printing the same. InfluxDB 1.x: CREATE DATABASE\n"
    "       ... WITH DURATION (a missing database gets the policy as its default),\n"
    "       CREATE or ALTER RETENTION POLICY ... DURATION Nd REPLICATION 1 on\n"
    "       [influxdb] retention_policy, or on the database's default policy when\n"
    "       that is unset. InfluxDB 2.x ([influxdb] bucket set): the bucket's\n"
    "       expire rule, through PATCH /api/v2/buckets/{id}. retention_days = 0\n"
    "       means keep forever.\n"
    "\n"
    "apply refuses, unless --force, to shorten an existing policy or bucket\n"
    "(InfluxDB deletes the older points at once) and to alter a database's\n"
    "default policy (every writer that names no policy shares it).\n"
    "\n"
    "options:\n"
    "      --days N              the retention to check or apply (retention_days)\n"
    "      --dry-run             apply: print the plan, change nothing (= plan)\n"
    "      --force               apply: make a change that needs it\n"
    "%s"
    "\n"
    "exit status: 0 retention as configured (check), planned (plan) or applied\n"
    "(apply); 65 apply refused (needs --force); 78 it differs (check; EX_CONFIG,\n"
    "\"found in a misconfigured state\") or the configuration is invalid; 69\n"
    "InfluxDB refused (no such database/bucket, statement error); 75 InfluxDB\n"
    "unreachable or timed out; 77 credentials rejected; 64 usage.\n";

enum {
    RETENTION_OPT_DAYS = CMD_OPT_FIRST_LOCAL,
    RETENTION_OPT_DRY_RUN,
    RETENTION_OPT_FORCE,
};

static void retention_print_plan(const struct retention_plan *p, bool force)
{
    printf("current:  %s\n", p->current);
    printf("intended: %s ([influxdb] retention_days)\n", p->intended);
    if (p->action == RETENTION_NONE) {
        printf("change:   none\n");
        return;
    }
    printf("change:   %s\n", p->change);
    if (p->needs_force)
        printf("%s %s\n", force ? "forced:  " : "needs --force:", p->why_force);
}

int cmd_retention_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"days", required_argument, NULL, RETENTION_OPT_DAYS},
        {"dry-run", no_argument, NULL, RETENTION_OPT_DRY_RUN},
        {"force", no_argument, NULL, RETENTION_OPT_FORCE},
        {NULL, 0, NULL, 0},
    };
    struct config *cfg = NULL;
    struct influx *c = NULL;
    struct retention_plan plan;
    char ierr[ERR_MAX], line[1024];
    int opt, status;
    bool dry_run = false, force = false;
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
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == RETENTION_OPT_DRY_RUN)
            dry_run = true;
        else if (opt == RETENTION_OPT_FORCE)
            force = true;
    }
    if (common->help) {
        printf(retention_usage, cmd_common_help);
        return EX_OK;
    }
    const char *verb = argc - optind == 1 ? argv[optind] : "";
    bool apply = strcmp(verb, "apply") == 0, plan_only = strcmp(verb, "plan") == 0;
    if (!apply && !plan_only && strcmp(verb, "check") != 0)
        return cmd_usage_error("retention", "expected 'check', 'plan' or 'apply'");
    if ((dry_run || force) && !apply)
        return cmd_usage_error("retention", "--dry-run and --force go with 'apply'");
    status = cmd_load_config(common, &cfg);
    if (status != EX_OK)
        return status;
    int rc = influx_new(&cfg->influxdb, &c, ierr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "config: %s", ierr);
        status = rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
        goto out;
    }
    influx_set_deadline(c, influx_command_seconds(&cfg->influxdb) * 2);
    if (apply || plan_only) {
        rc = retention_read_plan(c, cfg->influxdb.retention_days, &plan, ierr);
        if (rc < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "retention %s: %s", verb, ierr);
            status = influx_exit_code(rc);
            goto out;
        }
        retention_print_plan(&plan, force);
        if (plan_only || dry_run) {
            status = EX_OK;
            goto out;
        }
        rc = retention_apply(c, &plan, force, ierr);
        if (rc < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "retention apply: %s", ierr);
            status = rc == -ECANCELED ? EX_DATAERR : influx_exit_code(rc);
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
