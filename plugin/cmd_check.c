/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter check — validates the configuration and probes InfluxDB, one
 * line per probe on stdout ("ok", "FAIL", "skip" or "info" first), so an
 * operator or a package's postinst sees at once what is wrong.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/influxql.h"
#include "tokenmeter/log.h"
#include "tokenmeter/retention.h"
#include "tokenmeter/tzday.h"

static const char check_usage[] =
    "usage: tokenmeter check [options]\n"
    "\n"
    "Validates the configuration, then probes InfluxDB: reachable (/ping),\n"
    "version and API, credentials, database (1.x) or bucket (2.x), retention as\n"
    "configured, write permitted (an empty write, so no point is added), query\n"
    "permitted; and whether the summary store's directory is writable. Lists the\n"
    "models seen in the last lookback_days with cost_source = \"unpriced\", whose\n"
    "prices the price table lacks.\n"
    "%s"
    "\n"
    "exit status: 0 every probe passed; otherwise the first failure's: 69 InfluxDB\n"
    "refused (no such database/bucket, wrong API), 73 store\n"
    "not writable, 75 unreachable or timed out, 77 credentials rejected, 78\n"
    "configuration error or retention not as configured (EX_CONFIG: found in a\n"
    "misconfigured state).\n";

struct check_state {
    int status; /* the first failure's exit code */
};

static void check_line(struct check_state *st, int code, const char *probe, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* code: 0 ok, -1 skip, -2 info, > 0 a failure with that exit code. */
static void check_line(struct check_state *st, int code, const char *probe, const char *fmt, ...)
{
    va_list ap;
    const char *word = code == 0 ? "ok  " : code == -1 ? "skip" : code == -2 ? "info" : "FAIL";
    printf("%s %s: ", word, probe);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (code > 0 && st->status == EX_OK)
        st->status = code;
}

static bool check_set(const char *s)
{
    return s && *s;
}

/* The database list of SHOW DATABASES holds name? */
static bool check_has_database(const struct influx_response *r, const char *name)
{
    struct influx_series s;
    for (size_t i = 0; influx_response_series(r, 0, i, &s) == 0; i++)
        for (size_t row = 0; row < influx_series_rows(&s); row++) {
            const char *n = body_str(influx_series_value(&s, row, 0), "");
            if (n && strcmp(n, name) == 0)
                return true;
        }
    return false;
}

static void check_database(struct check_state *st, struct influx *c, const struct config *cfg)
{
    struct influx_response *r = NULL;
    char err[ERR_MAX];
    const char *db = influx_query_db(c);
    int rc = influx_query(c, NULL, NULL, "SHOW DATABASES", false, &r, err);
    if (rc < 0) {
        check_line(st, influx_exit_code(rc), "auth", "%s", err);
        check_line(st, -1, "database", "not checked");
        return;
    }
    if (check_set(cfg->influxdb.token) || check_set(cfg->influxdb.token_file))
        check_line(st, 0, "auth", "token accepted");
    else if (check_set(cfg->influxdb.username))
        check_line(st, 0, "auth", "user \"%s\" accepted", cfg->influxdb.username);
    else
        check_line(st, 0, "auth", "no credentials configured, none required");
    if (check_has_database(r, db))
        check_line(st, 0, "database", "\"%s\" exists", db);
    else
        check_line(st, EX_UNAVAILABLE, "database",
                   "\"%s\" not found (Telegraf's outputs.influxdb creates it, or run "
                   "'tokenmeter retention apply')",
                   db);
    influx_response_free(r);
}

static void check_unpriced(struct check_state *st, struct influx *c, const struct config *cfg)
{
    struct buf q, list, item;
    struct influx_response *r = NULL;
    char err[ERR_MAX];
    buf_init(&q, 4096);
    buf_init(&list, 2048);
    buf_init(&item, 512);
    buf_puts(&q, "SELECT count(\"cost_source\") AS \"n\" FROM ");
    influxql_quote(&q, cfg->ingest.measurement, '"');
    buf_printf(&q,
               " WHERE time >= now() - %" PRId64 "d AND \"cost_source\" = 'unpriced'"
               " GROUP BY \"model\"",
               cfg->aggregate.lookback_days);
    int rc = buf_error(&q);
    if (rc < 0)
        err_set(err, rc, "the unpriced-models query is too long");
    else
        rc = influx_query(c, influx_query_db(c), cfg->influxdb.retention_policy, q.data, false, &r,
                          err);
    if (rc < 0) {
        check_line(st, influx_exit_code(rc), "query", "%s", err);
        goto out;
    }
    check_line(st, 0, "query", "query permitted on \"%s\"", influx_query_db(c));
    struct influx_series s;
    for (size_t i = 0; influx_response_series(r, 0, i, &s) == 0; i++) {
        int64_t count = 0;
        body_int(influx_series_value(&s, 0, influx_series_column(&s, "n")), "", &count);
        buf_reset(&item);
        buf_printf(&item, "%s%s (%" PRId64 ")", list.len ? ", " : "",
                   influx_series_tag(&s, "model"), count);
        /* Room is kept for the ", ..." that says the list goes on. */
        if (buf_error(&item) || list.len + item.len + 5 > list.max) {
            buf_puts(&list, list.len ? ", ..." : "...");
            break;
        }
        buf_append(&list, item.data, item.len);
    }
    if (buf_error(&item) == -ENOMEM || buf_error(&list) == -ENOMEM) {
        check_line(st, EX_OSERR, "unpriced models", "out of memory");
        goto out;
    }
    check_line(st, -2, "unpriced models",
               list.len ? "%s in the last %" PRId64 " days; add their prices ([ingest] prices or "
                          "[prices])"
                        : "none in the last %.0s%" PRId64 " days",
               list.len ? list.data : "", cfg->aggregate.lookback_days);
out:
    influx_response_free(r);
    buf_free(&q);
    buf_free(&list);
    buf_free(&item);
}

static void check_version(struct check_state *st, struct influx *c, const char *version)
{
    bool v1 = version[0] == '1' || strncmp(version, "v1", 2) == 0;
    bool v2 = version[0] == '2' || strncmp(version, "v2", 2) == 0;
    if (influx_is_v2(c) && v1)
        check_line(st, EX_UNAVAILABLE, "version",
                   "InfluxDB %s is 1.x, but [influxdb] bucket is set (2.x API): unset bucket",
                   version);
    else if (!influx_is_v2(c) && v2)
        check_line(st, EX_UNAVAILABLE, "version",
                   "InfluxDB %s is 2.x: set [influxdb] bucket and org to use its API", version);
    else
        check_line(st, 0, "version", "InfluxDB %s, using the %s API", version,
                   influx_is_v2(c) ? "2.x" : "1.x");
}

static void check_store(struct check_state *st, const char *path)
{
    char *copy = strdup(path);
    if (!copy) {
        check_line(st, EX_OSERR, "store", "out of memory");
        return;
    }
    const char *dir = dirname(copy);
    if (access(path, F_OK) == 0 ? access(path, W_OK) == 0 : access(dir, W_OK) == 0)
        check_line(st, 0, "store", "%s writable", path);
    else
        check_line(st, EX_CANTCREAT, "store", "%s not writable: %s", path, strerror(errno));
    free(copy);
}

int cmd_check_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct check_state st = {EX_OK};
    struct config *cfg = NULL;
    struct influx *c = NULL;
    char err[ERR_MAX], version[INFLUX_VERSION_MAX], line[1024];
    struct cmd_getopt g = {
        .argc = argc, .argv = argv, .command = "check", .longopts = longopts, .common = common};
    const char *arg = NULL;
    int opt;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END)
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
    if (optind < argc)
        return cmd_usage_error("check", "unexpected argument \"%s\"", argv[optind]);
    if (common->help) {
        printf(check_usage, cmd_common_help);
        return EX_OK;
    }
    int status = cmd_load_config(common, &cfg);
    if (status != EX_OK) {
        check_line(&st, status, "config", "invalid (the error is above)");
        return status;
    }
    int rc = influx_new(&cfg->influxdb, &c, err);
    if (rc < 0) {
        check_line(&st, EX_CONFIG, "config", "%s", err);
        goto out;
    }
    if (tzday_zone_valid(cfg->aggregate.timezone) < 0) {
        check_line(&st, EX_CONFIG, "config",
                   "[aggregate] timezone \"%s\" is not a zone of the TZ "
                   "database",
                   cfg->aggregate.timezone);
        goto out;
    }
    check_line(&st, 0, "config", "%s", cfg->path ? cfg->path : "built-in defaults (no file)");
    rc = influx_ping(c, version, err);
    if (rc < 0) {
        check_line(&st, influx_exit_code(rc), "reachable", "%s", err);
        check_line(&st, -1, "influxdb", "the other probes need a reachable server");
        goto store;
    }
    check_line(&st, 0, "reachable", "%s answered /ping", cfg->influxdb.url);
    check_version(&st, c, version);
    if (!influx_is_v2(c))
        check_database(&st, c, cfg);
    rc = retention_check(c, line, sizeof(line));
    if (influx_is_v2(c) && rc != -EACCES)
        check_line(&st, 0, "auth", "token accepted");
    check_line(&st,
               rc == 0   ? 0
               : rc == 1 ? EX_CONFIG
                         : influx_exit_code(rc),
               "retention", "%s", line);
    struct influx_target t = {NULL, NULL, NULL};
    rc = influx_write_probe(c, &t, err);
    if (rc < 0)
        check_line(&st, influx_exit_code(rc), "write", "%s", err);
    else
        check_line(&st, 0, "write", "write permitted to \"%s\"", influx_query_db(c));
    if (cfg->aggregate.write_influx) {
        const struct config_aggregate *a = &cfg->aggregate;
        struct influx_target w = {a->write_database, a->write_retention_policy, a->write_bucket};
        rc = influx_write_probe(c, &w, err);
        check_line(&st, rc < 0 ? influx_exit_code(rc) : 0, "write summaries", "%s",
                   rc < 0 ? err : "write permitted to the llm_usage_daily target");
    }
    check_unpriced(&st, c, cfg);
store:
    check_store(&st, cfg->aggregate.sqlite);
out:
    influx_free(c);
    config_free(cfg);
    return st.status;
}
