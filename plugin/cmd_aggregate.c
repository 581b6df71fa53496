/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter aggregate — the command around the aggregate engine: InfluxDB
 * groups the raw points by calendar day in the configured zone and by org,
 * model, provider, status (and team), or `--input FILE` reads line-protocol
 * files for the engine to group; the rows replace those days in the SQLite
 * store in one transaction, and optionally go back to InfluxDB as
 * llm_usage_daily points. This file holds the options, the I/O and the exit
 * codes; the grouping rules are in aggregate.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/aggregate.h"
#include "tokenmeter/cmd.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/influxql.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/retention.h"
#include "tokenmeter/summary_store.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/tzday.h"

static const char aggregate_usage[] =
    "usage: tokenmeter aggregate [options] [--day D | --from D [--to D] | --last N]\n"
    "\n"
    "Builds daily summaries per (day, org, model, provider[, team]) from the raw\n"
    "points in InfluxDB, grouped by InfluxDB itself, and replaces those days in the\n"
    "SQLite store in one transaction (re-runs are idempotent). Days are calendar\n"
    "days in [aggregate] timezone. Without a day option: the last lookback_days\n"
    "days, today included.\n"
    "\n"
    "options:\n"
    "      --day D               one day (YYYY-MM-DD)\n"
    "      --from D [--to D]     a range of days, both included (--to: today)\n"
    "      --last N              the N days ending today\n"
    "      --tz ZONE             IANA time zone of the days ([aggregate] timezone)\n"
    "      --input FILE          aggregate line-protocol FILE instead of InfluxDB\n"
    "                            (repeatable; same results as the InfluxDB path)\n"
    "      --write-influx        also write the rows as [aggregate] measurement points\n"
    "      --no-write-influx     do not (overrides [aggregate] write_influx)\n"
    "      --sqlite PATH         the store ([aggregate] sqlite)\n"
    "      --lock-wait SECONDS   how long to wait for a concurrent run (default 10)\n"
    "      --force               replace stored days even with fewer requests, and\n"
    "                            aggregate days beyond InfluxDB's retention window\n"
    "      --restore DAY         put back the rows of DAY that the last replacement\n"
    "                            (or restore) of DAY replaced, from the history\n"
    "%s"
    "\n"
    "The stored rows of a day are never replaced by rows with fewer requests\n"
    "(expired raw points, another database) unless --force; every replaced row\n"
    "is kept in the store's history for [aggregate] history_days.\n"
    "\n"
    "exit status: 0 ok; 64 usage; 65 bad data (malformed --input line, unexpected\n"
    "InfluxDB answer) or refused (a day would lose requests, a day beyond the\n"
    "retention window, nothing to restore); 66 an --input file cannot be read; 69\n"
    "InfluxDB refused the query (statement error, no such database); 73/74 the\n"
    "store cannot be created/written (or is not a tokenmeter store); 75 try again\n"
    "later (InfluxDB unreachable or timed out, 5xx, another run holds the lock, the\n"
    "store is busy); 77 credentials rejected; 78 configuration error.\n";

enum {
    AGG_OPT_DAY = CMD_OPT_FIRST_LOCAL,
    AGG_OPT_FROM,
    AGG_OPT_TO,
    AGG_OPT_LAST,
    AGG_OPT_TZ,
    AGG_OPT_INPUT,
    AGG_OPT_WRITE,
    AGG_OPT_NO_WRITE,
    AGG_OPT_SQLITE,
    AGG_OPT_LOCK_WAIT,
    AGG_OPT_FORCE,
    AGG_OPT_RESTORE,
};

#define AGG_MAX_INPUTS 256

struct agg_run {
    const struct config *cfg;
    const char *tz;
    struct tzday_range range;
    struct aggregate *engine; /* owned */
    char err[ERR_MAX];
};

/* ---- from InfluxDB -------------------------------------------------- */

/* Statement 0 counts and sums everything, statement 1 counts the unpriced
 * requests (a field condition). They go in separate requests because
 * InfluxDB 1.6 answers a multi-statement query on a missing database with
 * only "not executed", hiding the reason. One day per request keeps each
 * response well under [influxdb] max_response_bytes. */
static int agg_build_query(const struct agg_run *run, int stmt, int day, struct buf *q)
{
    int64_t from_ns, to_ns;
    aggregate_day_span(run->engine, day, &from_ns, &to_ns);
    if (stmt == 0) {
        /* cost_source is the one field every point carries in every
         * dedup mode (event_id is a tag under dedup = tag) */
        buf_puts(q, "SELECT count(\"cost_source\") AS \"requests\"");
        for (size_t i = 0; i < AGGREGATE_NSUMS; i++)
            buf_printf(q, ", sum(\"%s\") AS \"%s\"", aggregate_sum_fields[i],
                       aggregate_sum_fields[i]);
        buf_puts(q, ", sum(\"cost_usd\") AS \"cost_usd\" FROM ");
    } else {
        buf_puts(q, "SELECT count(\"cost_source\") AS \"unpriced\" FROM ");
    }
    influxql_quote(q, run->cfg->ingest.measurement, '"');
    buf_printf(q, " WHERE time >= %" PRId64 " AND time < %" PRId64, from_ns, to_ns);
    if (stmt == 1)
        buf_puts(q, " AND \"cost_source\" = 'unpriced'");
    buf_puts(q, " GROUP BY time(1d), \"org\", \"model\", \"provider\", \"status\"");
    if (run->cfg->ingest.tag_team)
        buf_puts(q, ", \"team\"");
    buf_puts(q, " fill(none) tz(");
    influxql_quote(q, run->tz, '\'');
    buf_puts(q, ")");
    return buf_error(q);
}

static int64_t agg_int(const struct body_node *v)
{
    int64_t x = 0;
    if (body_int(v, "", &x) == 0)
        return x;
    double d = 0;
    if (body_num(v, "", &d) < 0)
        return 0;
    /* a sum InfluxDB returned as a float: clamp rather than overflow */
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    return d <= 0 ? 0 : (int64_t)d;
}

/* Hands each row of InfluxDB's answer to the engine as a bucket. */
static int agg_read_series(struct agg_run *run, const struct influx_query_result *resp, int stmt)
{
    struct influx_query_series s;
    for (size_t i = 0; influx_query_series_at(resp, 0, i, &s) == 0; i++) {
        struct aggregate_bucket b;
        memset(&b, 0, sizeof(b));
        b.org = influx_query_tag(&s, "org");
        b.model = influx_query_tag(&s, "model");
        b.provider = influx_query_tag(&s, "provider");
        b.team = influx_query_tag(&s, "team");
        b.status = influx_query_tag(&s, "status");
        int ctime = influx_query_column(&s, "time");
        int creq = influx_query_column(&s, stmt == 0 ? "requests" : "unpriced");
        int ccost = influx_query_column(&s, "cost_usd");
        int csum[AGGREGATE_NSUMS];
        for (size_t k = 0; k < AGGREGATE_NSUMS; k++)
            csum[k] = influx_query_column(&s, aggregate_sum_fields[k]);
        if (ctime < 0 || creq < 0)
            return err_set(run->err, -EBADMSG, "InfluxDB: unexpected columns in the result");
        for (size_t row = 0; row < influx_query_rows(&s); row++) {
            if (body_int(influx_query_value(&s, row, ctime), "", &b.start_ns) < 0)
                return err_set(run->err, -EBADMSG, "InfluxDB: a row without a time");
            int64_t n = agg_int(influx_query_value(&s, row, creq));
            b.requests = stmt == 0 ? n : 0;
            b.unpriced = stmt == 1 ? n : 0;
            for (size_t k = 0; k < AGGREGATE_NSUMS; k++)
                b.sums[k] = stmt == 0 ? agg_int(influx_query_value(&s, row, csum[k])) : 0;
            double cost = 0;
            b.cost_usd = stmt == 0 && body_num(influx_query_value(&s, row, ccost), "", &cost) == 0
                             ? cost
                             : 0;
            int rc = aggregate_add_bucket(run->engine, &b, run->err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int agg_from_influx(struct agg_run *run, struct influx *client)
{
    struct buf q;
    char ierr[ERR_MAX];
    int rc = 0;
    buf_init(&q, 1u << 16);
    for (int day = 0; rc == 0 && day < run->range.ndays; day++) {
        for (int stmt = 0; rc == 0 && stmt < 2; stmt++) {
            struct influx_query_result *resp = NULL;
            buf_reset(&q);
            if (agg_build_query(run, stmt, day, &q) < 0) {
                rc = err_set(run->err, -EINVAL, "query too long");
                break;
            }
            log_debug("aggregate: %s", q.data);
            rc = influx_query(client, influx_query_db(client), run->cfg->influxdb.retention_policy,
                              q.data, false, &resp, ierr);
            if (rc < 0)
                err_set(run->err, rc, "%s", ierr);
            else
                rc = agg_read_series(run, resp, stmt);
            influx_query_free(resp);
        }
    }
    buf_free(&q);
    return rc;
}

/* A day that starts before InfluxDB's retention window has lost (or is
 * losing) its raw points: its summary would replace the stored one with
 * less. The window is the policy's (or bucket's) own, read from the
 * server; when it cannot be read, the stored-rows guard still holds. */
static int agg_check_window(struct agg_run *run, struct influx *client)
{
    struct retention r;
    char rerr[ERR_MAX], day[TZDAY_DATE_LEN];
    int64_t from_ns, to_ns;
    int rc = retention_get(client, &r, rerr);
    if (rc == -EREMOTEIO || rc == -ENOENT || rc == -EBADMSG) {
        /* refused or not understood (a proxy, a user without the
         * privilege): the query may still work */
        log_warn("aggregate: the retention window is not checked: %s", rerr);
        return 0;
    }
    if (rc < 0) /* unreachable, timed out, credentials: the query would fail alike */
        return err_set(run->err, rc, "%s", rerr);
    if (!r.exists || r.seconds <= 0)
        return 0;
    int64_t cutoff = timeutil_now_ns() - r.seconds * 1000000000;
    aggregate_span(run->engine, &from_ns, &to_ns);
    if (from_ns >= cutoff)
        return 0;
    tzday_format(run->range.first, day);
    return err_set(run->err, -ERANGE,
                   "%s is beyond the retention window: \"%s\" keeps %" PRId64
                   " h of raw points, so its points are expired or expiring and its summary would "
                   "replace the stored rows with less; aggregate later days (--force does it "
                   "anyway)",
                   day, r.name, r.seconds / 3600);
}

/* ---- from line-protocol files --------------------------------------- */

/* Reads one file line by line (quote-aware) into the engine. Returns 0, or
 * -EIO (file), -EINVAL (a line longer than the buffer), -ENOMEM; malformed
 * lines are reported one by one and counted in *bad. */
static int agg_read_file(struct agg_run *run, const char *path, long *bad)
{
    struct lineproto_point pt;
    struct buf in;
    char perr[ERR_MAX];
    int rc = 0;
    long lineno = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(run->err, -EIO, "--input %s: %s", path, strerror(errno));
    lineproto_point_init(&pt);
    buf_init(&in, 64u << 20);
    bool eof = false;
    bool scan = true; /* false: the bytes since the last scan hold no '\n' */
    size_t pos = 0;
    while (!eof || pos < in.len) {
        /* The scan restarts at the line's first byte (it is quote-aware):
         * skipping it while no newline came keeps a long line linear. */
        long e = scan ? lineproto_line_end(in.data ? in.data + pos : "", in.len - pos) : -1;
        if (e < 0 && !eof) {
            buf_consume(&in, pos);
            pos = 0;
            char chunk[1 << 16];
            ssize_t n = read(fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = err_set(run->err, -EIO, "--input %s: %s", path, strerror(errno));
                goto out;
            }
            scan = n == 0 || memchr(chunk, '\n', (size_t)n) != NULL;
            if (n == 0)
                eof = true;
            else if (buf_append(&in, chunk, (size_t)n) < 0) {
                rc = err_set(run->err, -EINVAL, "--input %s:%ld: line longer than 64 MiB", path,
                             lineno + 1);
                goto out;
            }
            continue;
        }
        size_t len = e < 0 ? in.len - pos : (size_t)e;
        lineno++;
        int prc = lineproto_parse(in.data + pos, len, &pt, perr);
        if (prc == 0)
            prc = aggregate_add_point(run->engine, &pt, perr);
        if (prc == -ENOMEM) {
            rc = err_set(run->err, prc, "out of memory");
            goto out;
        }
        if (prc < 0) {
            log_error("aggregate: %s:%ld: %s", path, lineno, perr);
            (*bad)++;
        }
        pos += len + (e < 0 ? 0 : 1);
    }
out:
    close(fd);
    buf_free(&in);
    lineproto_point_free(&pt);
    return rc;
}

static int agg_from_input(struct agg_run *run, const char *const *inputs, size_t ninputs)
{
    long bad = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ninputs; i++)
        rc = agg_read_file(run, inputs[i], &bad);
    if (rc == 0 && bad)
        rc = err_set(run->err, -EINVAL,
                     "%ld malformed line(s) in the input (reported above); nothing stored", bad);
    return rc;
}

/* ---- back to InfluxDB ----------------------------------------------- */

static int agg_write_influx(struct agg_run *run, struct influx *client)
{
    struct buf lp;
    char ierr[ERR_MAX] = "";
    const struct config_aggregate *a = &run->cfg->aggregate;
    struct influx_target t = {a->write_database, a->write_retention_policy, a->write_bucket};
    buf_init(&lp, 1u << 30);
    int rc = aggregate_format_points(run->engine, a->measurement, &lp);
    if (rc < 0)
        err_set(run->err, rc, "formatting %s points: %s", a->measurement, strerror(-rc));
    else
        rc = influx_write(client, &t, lp.data ? lp.data : "", lp.len, ierr);
    if (rc < 0 && ierr[0])
        err_set(run->err, rc, "writing %.100s: %.800s", a->measurement, ierr);
    buf_free(&lp);
    return rc;
}

/* ---- the command ---------------------------------------------------- */

static int agg_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return EX_OK;
    case -EINVAL:
        return EX_DATAERR; /* malformed input lines */
    case -EIO:
        return EX_NOINPUT;
    case -EEXIST: /* a day would lose requests */
    case -ERANGE: /* a day beyond the retention window */
    case -ENOENT: /* nothing to restore */
        return EX_DATAERR;
    default:
        return influx_exit_code(rc);
    }
}

static void agg_audit(struct agg_run *run, struct summary_store *store, int64_t started,
                      const char *source, const char *outcome)
{
    char f[TZDAY_DATE_LEN], l[TZDAY_DATE_LEN], err[ERR_MAX];
    tzday_format(run->range.first, f);
    tzday_format(run->range.last, l);
    size_t nrows = run->engine ? aggregate_rows(run->engine)->len : 0;
    struct summary_audit a = {started, timeutil_now_ns(), f,      l,      run->range.ndays,
                              run->tz, (int64_t)nrows,    source, outcome};
    /* The run is recorded in the log when the store cannot take it. */
    if (summary_store_audit(store, &a, err) < 0)
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: not recorded in the store (%s): %s..%s %s, %s",
                       err, f, l, source, outcome);
}

/* aggregate --restore DAY: the history's rows of DAY back in place. */
static int agg_restore(struct agg_run *run, const char *day, int lock_wait, int64_t started)
{
    struct summary_store *store = NULL;
    char serr[ERR_MAX], outcome[ERR_MAX];
    int lock_fd = -1, status = EX_OK;
    int64_t gen = 0, nrows = 0;
    if (tzday_parse(day, &run->range.first) < 0) {
        status = cmd_usage_error("aggregate", "--restore %s: expected YYYY-MM-DD", day);
        goto out;
    }
    run->range.last = run->range.first;
    run->range.ndays = 1;
    int rc = summary_store_lock(run->cfg->aggregate.sqlite, lock_wait, &lock_fd, serr);
    if (rc == 0)
        rc = summary_store_open(run->cfg->aggregate.sqlite, false, &store, serr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", serr);
        status = rc == -EAGAIN ? EX_TEMPFAIL : EX_CANTCREAT;
        goto out;
    }
    rc = summary_store_restore(store, run->tz, day, &gen, &nrows, serr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate --restore: %s", serr);
        status = rc == -EAGAIN ? EX_TEMPFAIL : rc == -ENOENT ? EX_DATAERR : EX_IOERR;
        agg_audit(run, store, started, "restore", serr);
        goto out;
    }
    snprintf(outcome, sizeof(outcome), "ok: %" PRId64 " rows of generation %" PRId64, nrows, gen);
    agg_audit(run, store, started, "restore", outcome);
    log_info("aggregate: %s (%s): restored %" PRId64 " rows of history generation %" PRId64
             "; the rows they replaced are in the history (--restore again undoes this)",
             day, run->tz, nrows, gen);
out:
    summary_store_close(store);
    summary_store_unlock(lock_fd);
    return status;
}

struct agg_opts {
    const char *day, *from, *to, *last, *inputs[AGG_MAX_INPUTS], *restore;
    size_t ninputs;
    int lock_wait;
    bool force;
};

static int agg_parse_args(int argc, char **argv, struct cmd_common *common, struct agg_opts *o)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"day", required_argument, NULL, AGG_OPT_DAY},
        {"from", required_argument, NULL, AGG_OPT_FROM},
        {"to", required_argument, NULL, AGG_OPT_TO},
        {"last", required_argument, NULL, AGG_OPT_LAST},
        {"tz", required_argument, NULL, AGG_OPT_TZ},
        {"input", required_argument, NULL, AGG_OPT_INPUT},
        {"write-influx", no_argument, NULL, AGG_OPT_WRITE},
        {"no-write-influx", no_argument, NULL, AGG_OPT_NO_WRITE},
        {"sqlite", required_argument, NULL, AGG_OPT_SQLITE},
        {"lock-wait", required_argument, NULL, AGG_OPT_LOCK_WAIT},
        {"force", no_argument, NULL, AGG_OPT_FORCE},
        {"restore", required_argument, NULL, AGG_OPT_RESTORE},
        {NULL, 0, NULL, 0},
    };
    static const struct cmd_flag flags[] = {
        {AGG_OPT_TZ, "aggregate.timezone", NULL},
        {AGG_OPT_SQLITE, "aggregate.sqlite", NULL},
        {AGG_OPT_WRITE, "aggregate.write_influx", "true"},
        {AGG_OPT_NO_WRITE, "aggregate.write_influx", "false"},
    };
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "aggregate",
                           .longopts = longopts,
                           .flags = flags,
                           .nflags = sizeof(flags) / sizeof(flags[0]),
                           .common = common};
    const char *arg = NULL;
    int opt;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return -1;
        if (opt == AGG_OPT_DAY) {
            o->day = arg;
        } else if (opt == AGG_OPT_FROM) {
            o->from = arg;
        } else if (opt == AGG_OPT_TO) {
            o->to = arg;
        } else if (opt == AGG_OPT_LAST) {
            o->last = arg;
        } else if (opt == AGG_OPT_FORCE) {
            o->force = true;
        } else if (opt == AGG_OPT_RESTORE) {
            o->restore = arg;
        } else if (opt == AGG_OPT_INPUT) {
            if (o->ninputs == AGG_MAX_INPUTS) {
                cmd_usage_error("aggregate", "at most %d --input files", AGG_MAX_INPUTS);
                return -1;
            }
            o->inputs[o->ninputs++] = arg;
        } else if (opt == AGG_OPT_LOCK_WAIT) {
            char *end = NULL;
            long v = strtol(arg, &end, 10);
            if (end == arg || *end || v < 0 || v > 86400) {
                cmd_usage_error("aggregate", "--lock-wait %s: expected seconds (0-86400)", arg);
                return -1;
            }
            o->lock_wait = (int)v;
        }
    }
    if (optind < argc) {
        cmd_usage_error("aggregate", "unexpected argument \"%s\" (files go after --input)",
                        argv[optind]);
        return -1;
    }
    if (o->restore && (o->day || o->from || o->to || o->last || o->ninputs)) {
        cmd_usage_error("aggregate", "--restore DAY takes no other day option and no --input");
        return -1;
    }
    return 0;
}

static const char *agg_nonempty(const char *s, const char *otherwise)
{
    return s && *s ? s : otherwise;
}

/* Would --write-influx put the daily points into the measurement (and
 * database or bucket) the raw points are read from? */
static bool agg_writes_where_it_reads(const struct config *cfg)
{
    const struct config_aggregate *a = &cfg->aggregate;
    const char *read = agg_nonempty(cfg->influxdb.bucket, cfg->influxdb.database);
    const char *write = agg_nonempty(a->write_bucket, agg_nonempty(a->write_database, read));
    return strcmp(a->measurement, cfg->ingest.measurement) == 0 && read && write &&
           strcmp(read, write) == 0;
}

int cmd_aggregate_main(int argc, char **argv, struct cmd_common *common)
{
    struct agg_opts o;
    struct agg_run run;
    struct config *cfg = NULL;
    struct influx *client = NULL;
    struct summary_store *store = NULL;
    char err[ERR_MAX], terr[ERR_MAX];
    int lock_fd = -1, status = EX_OK, rc;
    int64_t started = timeutil_now_ns();
    memset(&o, 0, sizeof(o));
    memset(&run, 0, sizeof(run));
    o.lock_wait = 10;
    if (agg_parse_args(argc, argv, common, &o) < 0)
        return EX_USAGE;
    if (common->help) {
        printf(aggregate_usage, cmd_common_help);
        return EX_OK;
    }
    status = cmd_load_config(common, &cfg);
    if (status != EX_OK)
        return status;
    run.cfg = cfg;
    run.tz = cfg->aggregate.timezone;
    if (tzday_zone_valid(run.tz) < 0) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "[aggregate] timezone \"%s\": not a zone of the TZ "
                       "database (e.g. UTC, Europe/Berlin)",
                       run.tz);
        status = EX_CONFIG;
        goto out;
    }
    tzday_use(run.tz);
    if (cfg->aggregate.write_influx && agg_writes_where_it_reads(cfg)) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "aggregate: [aggregate] measurement \"%s\" is [ingest] measurement, in "
                       "the database it reads: the daily points would land among the raw ones "
                       "and be summed again by the next run; give it another name",
                       cfg->aggregate.measurement);
        status = EX_CONFIG;
        goto out;
    }
    if (o.restore) {
        status = agg_restore(&run, o.restore, o.lock_wait, started);
        goto out;
    }
    char last_default[24];
    snprintf(last_default, sizeof(last_default), "%" PRId64, cfg->aggregate.lookback_days);
    rc = tzday_range_resolve(o.day, o.from, o.to, o.last, &run.range, terr);
    if (rc == 1)
        rc = tzday_range_resolve(NULL, NULL, NULL, last_default, &run.range, terr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", terr);
        status = EX_USAGE;
        goto out;
    }
    struct aggregate_params ap = {.measurement = cfg->ingest.measurement,
                                  .tz = run.tz,
                                  .range = run.range,
                                  .by_team = cfg->ingest.tag_team};
    rc = aggregate_new(&ap, &run.engine, run.err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", run.err);
        status = rc == -ENOMEM ? EX_OSERR : EX_USAGE;
        goto out;
    }
    if (!o.ninputs || cfg->aggregate.write_influx) {
        char ierr[ERR_MAX];
        rc = influx_new(&cfg->influxdb, &client, ierr);
        if (rc < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "config: %s", ierr);
            status = rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
            goto out;
        }
    }
    char serr[ERR_MAX];
    rc = summary_store_lock(cfg->aggregate.sqlite, o.lock_wait, &lock_fd, serr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", serr);
        status = rc == -EAGAIN ? EX_TEMPFAIL : EX_CANTCREAT;
        goto out;
    }
    /* Opened before any work, so that every run that gets this far is
     * recorded, and a file that is not a store is refused at once. */
    rc = summary_store_open(cfg->aggregate.sqlite, false, &store, serr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", serr);
        status = rc == -EAGAIN ? EX_TEMPFAIL : EX_CANTCREAT;
        goto out;
    }
    const char *source = o.ninputs ? "input" : "influx";
    rc = o.ninputs || o.force ? 0 : agg_check_window(&run, client);
    if (rc == 0)
        rc = o.ninputs ? agg_from_input(&run, o.inputs, o.ninputs) : agg_from_influx(&run, client);
    if (rc == 0 && (rc = aggregate_finish(run.engine)) < 0)
        err_set(run.err, rc, "out of memory");
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s; the stored summaries are unchanged",
                       run.err);
        agg_audit(&run, store, started, source, run.err);
        status = agg_exit_code(rc);
        goto out;
    }
    char f[TZDAY_DATE_LEN], l[TZDAY_DATE_LEN];
    tzday_format(run.range.first, f);
    tzday_format(run.range.last, l);
    const struct summary_rows *rows = aggregate_rows(run.engine);
    struct summary_replace rep = {.tz = run.tz,
                                  .first_day = f,
                                  .last_day = l,
                                  .force = o.force,
                                  .history_keep_s = cfg->aggregate.history_days * 86400};
    int64_t gen = 0;
    rc = summary_store_replace(store, &rep, rows, &gen, serr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s; the stored summaries are unchanged", serr);
        agg_audit(&run, store, started, source, serr);
        status = rc == -EEXIST ? EX_DATAERR : rc == -EAGAIN ? EX_TEMPFAIL : EX_IOERR;
        goto out;
    }
    if (gen > 0)
        log_info("aggregate: the rows replaced are kept in the history as generation %" PRId64
                 " ('aggregate --restore DAY' puts a day back)",
                 gen);
    if (cfg->aggregate.write_influx && (rc = agg_write_influx(&run, client)) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s (the SQLite rows were stored)", run.err);
        snprintf(err, sizeof(err), "stored; %.900s", run.err);
        agg_audit(&run, store, started, source, err);
        status = influx_exit_code(rc);
        goto out;
    }
    agg_audit(&run, store, started, source, "ok");
    if (client)
        log_info("aggregate: %s..%s (%s): %zu rows from %s; %" PRIu64
                 " response bytes from InfluxDB in %u requests",
                 f, l, run.tz, rows->len, source, influx_bytes_received(client),
                 influx_requests(client));
    else
        log_info("aggregate: %s..%s (%s): %zu rows from %s", f, l, run.tz, rows->len, source);
out:
    summary_store_close(store);
    summary_store_unlock(lock_fd);
    influx_free(client);
    aggregate_free(run.engine);
    config_free(cfg);
    return status;
}
