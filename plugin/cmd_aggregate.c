/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter aggregate — daily summaries (SPEC §7): InfluxDB groups the raw
 * points by calendar day in the configured zone and by org, model, provider,
 * status (and team); the rows replace those days in the SQLite store in one
 * transaction, and optionally go back to InfluxDB as llm_usage_daily points.
 * `--input FILE` computes the same rows from line-protocol files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/influxql.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
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
    "%s"
    "\n"
    "exit status: 0 ok; 64 usage; 65 bad data (malformed --input line, unexpected\n"
    "InfluxDB answer); 66 an --input file cannot be read; 69 InfluxDB refused the\n"
    "query (statement error, no such database); 73/74 the store cannot be\n"
    "created/written; 75 try again later (InfluxDB unreachable or timed out, 5xx,\n"
    "another run holds the lock); 77 credentials rejected; 78 configuration error.\n";

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
};

#define AGG_MAX_INPUTS 256

/* The summed fields and the count each one lands in. */
static const struct {
    const char *field;
    enum summary_count count;
} agg_sums[] = {
    {"input_tokens", SUMMARY_INPUT_TOKENS},
    {"cached_input_tokens", SUMMARY_CACHED_INPUT_TOKENS},
    {"cache_write_tokens", SUMMARY_CACHE_WRITE_TOKENS},
    {"output_tokens", SUMMARY_OUTPUT_TOKENS},
    {"reasoning_tokens", SUMMARY_REASONING_TOKENS},
    {"total_tokens", SUMMARY_TOTAL_TOKENS},
};
#define AGG_NSUMS (sizeof(agg_sums) / sizeof(agg_sums[0]))

struct agg_run {
    const struct config *cfg;
    const char *tz;
    struct tzday_range range;
    int64_t *starts; /* ndays + 1 boundaries */
    bool by_team;
    struct summary_rows rows;
    char err[ERR_MAX];
};

/* The day whose first instant is exactly t, or -1. */
static int agg_day_starting(const struct agg_run *run, int64_t t)
{
    int lo = 0, hi = run->range.ndays;
    while (lo < hi) {
        int m = lo + (hi - lo) / 2;
        if (run->starts[m] < t)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < run->range.ndays && run->starts[lo] == t ? lo : -1;
}

/* The day containing t, or -1 outside the range. */
static int agg_day_of(const struct agg_run *run, int64_t t)
{
    if (t < run->starts[0] || t >= run->starts[run->range.ndays])
        return -1;
    int lo = 0, hi = run->range.ndays - 1;
    while (lo < hi) {
        int m = lo + (hi - lo + 1) / 2;
        if (run->starts[m] <= t)
            lo = m;
        else
            hi = m - 1;
    }
    return lo;
}

static void agg_day_name(const struct agg_run *run, int idx, char out[TZDAY_DATE_LEN])
{
    tzday_format(tzday_add(run->range.first, idx), out);
}

/* ---- from InfluxDB -------------------------------------------------- */

/* Statement 0 counts and sums everything, statement 1 counts the unpriced
 * requests (a field condition). They go in separate requests because
 * InfluxDB 1.6 answers a multi-statement query on a missing database with
 * only "not executed", hiding the reason. */
static int agg_build_query(const struct agg_run *run, int stmt, struct buf *q)
{
    int rc;
    if (stmt == 0) {
        /* cost_source is the one field every point carries in every
         * dedup mode (event_id is a tag under dedup = tag) */
        rc = buf_puts(q, "SELECT count(\"cost_source\") AS \"requests\"");
        for (size_t i = 0; rc == 0 && i < AGG_NSUMS; i++)
            rc = buf_printf(q, ", sum(\"%s\") AS \"%s\"", agg_sums[i].field, agg_sums[i].field);
        if (rc == 0)
            rc = buf_puts(q, ", sum(\"cost_usd\") AS \"cost_usd\" FROM ");
    } else {
        rc = buf_puts(q, "SELECT count(\"cost_source\") AS \"unpriced\" FROM ");
    }
    if (rc == 0)
        rc = influxql_quote(q, run->cfg->ingest.measurement, '"');
    if (rc == 0)
        rc = buf_printf(q, " WHERE time >= %" PRId64 " AND time < %" PRId64, run->starts[0],
                        run->starts[run->range.ndays]);
    if (rc == 0 && stmt == 1)
        rc = buf_puts(q, " AND \"cost_source\" = 'unpriced'");
    if (rc == 0)
        rc = buf_puts(q, " GROUP BY time(1d), \"org\", \"model\", \"provider\", \"status\"");
    if (rc == 0 && run->by_team)
        rc = buf_puts(q, ", \"team\"");
    if (rc == 0)
        rc = buf_puts(q, " fill(none) tz(");
    if (rc == 0)
        rc = influxql_quote(q, run->tz, '\'');
    if (rc == 0)
        rc = buf_puts(q, ")");
    return rc;
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

/* Token sums come from webhooks: a hostile count must not wrap a day's row,
 * so sums stop at INT64_MAX. */
static void agg_add(int64_t *acc, int64_t v)
{
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = v < 0 ? INT64_MIN : INT64_MAX;
}

static int agg_read_series(struct agg_run *run, const struct influx_response *resp, int stmt)
{
    struct influx_series s;
    for (size_t i = 0; influx_response_series(resp, 0, i, &s) == 0; i++) {
        const char *status = influx_series_tag(&s, "status");
        bool success = strcmp(status, "success") == 0;
        int ctime = influx_series_column(&s, "time");
        int creq = influx_series_column(&s, stmt == 0 ? "requests" : "unpriced");
        int ccost = influx_series_column(&s, "cost_usd");
        int csum[AGG_NSUMS];
        for (size_t k = 0; k < AGG_NSUMS; k++)
            csum[k] = influx_series_column(&s, agg_sums[k].field);
        if (ctime < 0 || creq < 0) {
            snprintf(run->err, ERR_MAX, "InfluxDB: unexpected columns in the result");
            return -EBADMSG;
        }
        for (size_t row = 0; row < influx_series_rows(&s); row++) {
            int64_t t = 0;
            if (body_int(influx_series_value(&s, row, ctime), "", &t) < 0) {
                snprintf(run->err, ERR_MAX, "InfluxDB: a row without a time");
                return -EBADMSG;
            }
            int day = agg_day_starting(run, t);
            if (day < 0) {
                /* A bucket that does not start one of our days would mean
                 * InfluxDB split days differently (its tz data): refuse
                 * rather than store shifted days. */
                snprintf(run->err, ERR_MAX,
                         "InfluxDB grouped a day starting at %" PRId64
                         " ns, which is not a local midnight in %s",
                         t, run->tz);
                return -EBADMSG;
            }
            char dname[TZDAY_DATE_LEN];
            agg_day_name(run, day, dname);
            struct summary_row *r =
                summary_rows_get(&run->rows, dname, influx_series_tag(&s, "org"),
                                 influx_series_tag(&s, "model"), influx_series_tag(&s, "provider"),
                                 run->by_team ? influx_series_tag(&s, "team") : "");
            if (!r) {
                snprintf(run->err, ERR_MAX, "out of memory");
                return -ENOMEM;
            }
            int64_t n = agg_int(influx_series_value(&s, row, creq));
            if (stmt == 1) {
                agg_add(&r->counts[SUMMARY_UNPRICED_REQUESTS], n);
                continue;
            }
            agg_add(&r->counts[SUMMARY_REQUESTS], n);
            agg_add(&r->counts[success ? SUMMARY_SUCCESSFUL : SUMMARY_FAILED], n);
            for (size_t k = 0; k < AGG_NSUMS; k++)
                agg_add(&r->counts[agg_sums[k].count],
                        agg_int(influx_series_value(&s, row, csum[k])));
            double cost = 0;
            if (body_num(influx_series_value(&s, row, ccost), "", &cost) == 0)
                r->cost_usd += cost;
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
    for (int stmt = 0; rc == 0 && stmt < 2; stmt++) {
        struct influx_response *resp = NULL;
        buf_reset(&q);
        if (agg_build_query(run, stmt, &q) < 0) {
            snprintf(run->err, ERR_MAX, "query too long");
            rc = -EINVAL;
            break;
        }
        log_debug("aggregate: %s", q.data);
        rc = influx_query(client, influx_query_db(client), run->cfg->influxdb.retention_policy,
                          q.data, false, &resp, ierr);
        if (rc < 0)
            snprintf(run->err, ERR_MAX, "%s", ierr);
        else
            rc = agg_read_series(run, resp, stmt);
        influx_response_free(resp);
    }
    buf_free(&q);
    return rc;
}

/* ---- from line-protocol files --------------------------------------- */

/* What InfluxDB keeps of one point identity (measurement + tags + time):
 * later writes replace the fields they carry and keep the others. */
struct agg_point {
    uint64_t key; /* 0: empty slot */
    uint32_t group;
    uint8_t present;     /* bit k: agg_sums[k]; bit 6: cost_usd */
    uint8_t cost_source; /* 0 absent, 1 "unpriced", 2 anything else */
    bool success;
    int64_t v[AGG_NSUMS];
    double cost;
};

#define AGG_BIT_COST (1u << 6)

struct agg_points {
    struct agg_point *slots;
    size_t cap;
    size_t len;
};

static struct agg_point *agg_points_slot(struct agg_points *p, uint64_t key)
{
    if ((p->len + 1) * 10 > p->cap * 7) {
        size_t ncap = p->cap ? p->cap * 2 : 1u << 12;
        struct agg_point *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return NULL;
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->slots[i].key)
                continue;
            size_t j = p->slots[i].key & (ncap - 1);
            while (ns[j].key)
                j = (j + 1) & (ncap - 1);
            ns[j] = p->slots[i];
        }
        free(p->slots);
        p->slots = ns;
        p->cap = ncap;
    }
    size_t j = key & (p->cap - 1);
    while (p->slots[j].key && p->slots[j].key != key)
        j = (j + 1) & (p->cap - 1);
    if (!p->slots[j].key) {
        p->slots[j].key = key;
        p->len++;
    }
    return &p->slots[j];
}

/* InfluxDB's identity: measurement, tags in key order, timestamp. The
 * 64-bit hash stands for it (two identities in 1e6 points share one with a
 * chance of about 3e-8). */
static uint64_t agg_identity(const struct lineproto_point *pt)
{
    size_t order[LINEPROTO_MAX_TAGS];
    for (size_t i = 0; i < pt->ntags; i++) {
        size_t j = i;
        while (j > 0 && strcmp(pt->tags[order[j - 1]].key, pt->tags[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, pt->measurement, strlen(pt->measurement) + 1);
    for (size_t i = 0; i < pt->ntags; i++) {
        const struct lineproto_tag *t = &pt->tags[order[i]];
        h = identity_fnv1a(h, t->key, strlen(t->key) + 1);
        h = identity_fnv1a(h, t->value, strlen(t->value) + 1);
    }
    h = identity_fnv1a(h, &pt->time_ns, sizeof(pt->time_ns));
    return h ? h : 1;
}

static const char *agg_tag(const struct lineproto_point *pt, const char *key)
{
    const char *v = lineproto_point_tag(pt, key);
    return v ? v : "";
}

/* Folds one parsed point in. Returns 0, 1 when it is outside the run (other
 * measurement or day), -EINVAL with reason for a point InfluxDB would not
 * have stored as our query reads it, -ENOMEM. */
static int agg_point_add(struct agg_run *run, struct summary_rows *groups, struct agg_points *pts,
                         const struct lineproto_point *pt, const char **reason)
{
    if (strcmp(pt->measurement, run->cfg->ingest.measurement) != 0)
        return 1;
    if (!pt->has_time) {
        *reason = "no timestamp (InfluxDB would use its own clock)";
        return -EINVAL;
    }
    int day = agg_day_of(run, pt->time_ns);
    if (day < 0)
        return 1;
    const struct lineproto_field *f[AGG_NSUMS];
    for (size_t k = 0; k < AGG_NSUMS; k++) {
        f[k] = lineproto_point_field(pt, agg_sums[k].field);
        if (f[k] && f[k]->type != LINEPROTO_INT) {
            *reason = "a token count that is not an integer";
            return -EINVAL;
        }
    }
    const struct lineproto_field *cost = lineproto_point_field(pt, "cost_usd");
    if (cost && cost->type != LINEPROTO_FLOAT) {
        *reason = "cost_usd is not a float";
        return -EINVAL;
    }
    const struct lineproto_field *cs = lineproto_point_field(pt, "cost_source");
    char dname[TZDAY_DATE_LEN];
    agg_day_name(run, day, dname);
    struct summary_row *g =
        summary_rows_get(groups, dname, agg_tag(pt, "org"), agg_tag(pt, "model"),
                         agg_tag(pt, "provider"), run->by_team ? agg_tag(pt, "team") : "");
    struct agg_point *p = g ? agg_points_slot(pts, agg_identity(pt)) : NULL;
    if (!p)
        return -ENOMEM;
    p->group = (uint32_t)(g - groups->items);
    p->success = strcmp(agg_tag(pt, "status"), "success") == 0;
    for (size_t k = 0; k < AGG_NSUMS; k++) {
        if (f[k]) {
            p->v[k] = f[k]->i;
            p->present |= (uint8_t)(1u << k);
        }
    }
    if (cost) {
        p->cost = cost->f;
        p->present |= AGG_BIT_COST;
    }
    if (cs)
        p->cost_source = cs->type == LINEPROTO_STRING && strcmp(cs->s, "unpriced") == 0 ? 1 : 2;
    return 0;
}

/* Reads one file line by line (quote-aware). Returns 0, or -EIO (file),
 * -EINVAL (some lines malformed; each reported), -ENOMEM. */
static int agg_read_file(struct agg_run *run, const char *path, struct summary_rows *groups,
                         struct agg_points *pts, long *bad)
{
    struct lineproto_point pt;
    struct buf in;
    char perr[ERR_MAX];
    int rc = 0;
    long lineno = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(run->err, ERR_MAX, "--input %s: %s", path, strerror(errno));
        return -EIO;
    }
    lineproto_point_init(&pt);
    buf_init(&in, 64u << 20);
    bool eof = false;
    size_t pos = 0;
    while (!eof || pos < in.len) {
        long e = lineproto_line_end(in.data ? in.data + pos : "", in.len - pos);
        if (e < 0 && !eof) {
            buf_consume(&in, pos);
            pos = 0;
            char chunk[1 << 16];
            ssize_t n = read(fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(run->err, ERR_MAX, "--input %s: %s", path, strerror(errno));
                rc = -EIO;
                goto out;
            }
            if (n == 0)
                eof = true;
            else if (buf_append(&in, chunk, (size_t)n) < 0) {
                snprintf(run->err, ERR_MAX, "--input %s:%ld: line longer than 64 MiB", path,
                         lineno + 1);
                rc = -EINVAL;
                goto out;
            }
            continue;
        }
        size_t len = e < 0 ? in.len - pos : (size_t)e;
        lineno++;
        int prc = lineproto_parse(in.data + pos, len, &pt, perr);
        const char *reason = perr;
        if (prc == 0)
            prc = agg_point_add(run, groups, pts, &pt, &reason);
        if (prc == -ENOMEM) {
            snprintf(run->err, ERR_MAX, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
        if (prc < 0) {
            log_error("aggregate: %s:%ld: %s", path, lineno, reason);
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
    struct summary_rows groups;
    struct agg_points pts = {NULL, 0, 0};
    long bad = 0;
    int rc = 0;
    summary_rows_init(&groups);
    for (size_t i = 0; rc == 0 && i < ninputs; i++)
        rc = agg_read_file(run, inputs[i], &groups, &pts, &bad);
    if (rc == 0 && bad) {
        snprintf(run->err, ERR_MAX,
                 "%ld malformed line(s) in the input (reported above); nothing stored", bad);
        rc = -EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < pts.cap; i++) {
        const struct agg_point *p = &pts.slots[i];
        if (!p->key || (!p->present && !p->cost_source))
            continue; /* fill(none): a point with none of the queried fields */
        const struct summary_row *g = &groups.items[p->group];
        struct summary_row *r =
            summary_rows_get(&run->rows, g->day, g->org, g->model, g->provider, g->team);
        if (!r) {
            snprintf(run->err, ERR_MAX, "out of memory");
            rc = -ENOMEM;
            break;
        }
        if (p->cost_source) { /* a request: as count("cost_source") in InfluxDB */
            r->counts[SUMMARY_REQUESTS]++;
            r->counts[p->success ? SUMMARY_SUCCESSFUL : SUMMARY_FAILED]++;
            if (p->cost_source == 1)
                r->counts[SUMMARY_UNPRICED_REQUESTS]++;
        }
        for (size_t k = 0; k < AGG_NSUMS; k++)
            if (p->present & (1u << k))
                agg_add(&r->counts[agg_sums[k].count], p->v[k]);
        if (p->present & AGG_BIT_COST)
            r->cost_usd += p->cost;
    }
    free(pts.slots);
    summary_rows_free(&groups);
    return rc;
}

/* ---- back to InfluxDB ----------------------------------------------- */

static int agg_format_points(const struct agg_run *run, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < run->rows.len; i++) {
        const struct summary_row *r = &run->rows.items[i];
        struct tzday_date d;
        tzday_parse(r->day, &d);
        int64_t ts = run->starts[tzday_diff(run->range.first, d)];
        bool first = true;
        rc = lineproto_measurement(out, run->cfg->aggregate.measurement);
        if (rc >= 0)
            rc = lineproto_tag(out, "model", r->model);
        if (rc >= 0)
            rc = lineproto_tag(out, "org", r->org);
        if (rc >= 0)
            rc = lineproto_tag(out, "provider", r->provider);
        if (rc >= 0 && run->by_team)
            rc = lineproto_tag(out, "team", r->team);
        if (rc >= 0)
            rc = lineproto_tag(out, "timezone", run->tz);
        for (int k = 0; rc >= 0 && k < SUMMARY_NCOUNTS; k++)
            rc = lineproto_field_int(out, &first, summary_count_names[k], r->counts[k]);
        if (rc >= 0)
            rc = lineproto_field_float(out, &first, "cost_usd", summary_round_cost(r->cost_usd));
        if (rc >= 0)
            rc = lineproto_end(out, ts);
    }
    return rc < 0 ? rc : 0;
}

static int agg_write_influx(struct agg_run *run, struct influx *client)
{
    struct buf lp;
    char ierr[ERR_MAX] = "";
    const struct config_aggregate *a = &run->cfg->aggregate;
    struct influx_target t = {a->write_database, a->write_retention_policy, a->write_bucket};
    buf_init(&lp, 1u << 30);
    int rc = agg_format_points(run, &lp);
    if (rc < 0)
        snprintf(run->err, ERR_MAX, "formatting %s points: %s", a->measurement, strerror(-rc));
    else
        rc = influx_write(client, &t, lp.data ? lp.data : "", lp.len, ierr);
    if (rc < 0 && ierr[0])
        snprintf(run->err, ERR_MAX, "writing %.100s: %.800s", a->measurement, ierr);
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
    struct summary_audit a = {started, timeutil_now_ns(),      f,      l,      run->range.ndays,
                              run->tz, (int64_t)run->rows.len, source, outcome};
    if (summary_store_audit(store, &a, err) < 0)
        log_error("aggregate: %s", err);
}

struct agg_opts {
    const char *day, *from, *to, *last, *inputs[AGG_MAX_INPUTS];
    size_t ninputs;
    int lock_wait;
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
    return 0;
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
    summary_rows_init(&run.rows);
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
    run.by_team = cfg->ingest.tag_team;
    if (tzday_zone_valid(run.tz) < 0) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "[aggregate] timezone \"%s\": not a zone of the TZ "
                       "database (e.g. UTC, Europe/Berlin)",
                       run.tz);
        status = EX_CONFIG;
        goto out;
    }
    tzday_use(run.tz);
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
    run.starts = calloc((size_t)run.range.ndays + 1, sizeof(*run.starts));
    if (!run.starts) {
        status = EX_OSERR;
        goto out;
    }
    for (int i = 0; i <= run.range.ndays; i++)
        run.starts[i] = tzday_start_ns(tzday_add(run.range.first, i));
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
    const char *source = o.ninputs ? "input" : "influx";
    rc = o.ninputs ? agg_from_input(&run, o.inputs, o.ninputs) : agg_from_influx(&run, client);
    if (summary_store_open(cfg->aggregate.sqlite, false, &store, serr) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s", serr);
        status = EX_CANTCREAT;
        goto out;
    }
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s; the stored summaries are unchanged",
                       run.err);
        agg_audit(&run, store, started, source, run.err);
        status = agg_exit_code(rc);
        goto out;
    }
    summary_rows_sort(&run.rows);
    char f[TZDAY_DATE_LEN], l[TZDAY_DATE_LEN];
    tzday_format(run.range.first, f);
    tzday_format(run.range.last, l);
    if (summary_store_replace(store, run.tz, f, l, &run.rows, serr) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "aggregate: %s; the stored summaries are unchanged", serr);
        agg_audit(&run, store, started, source, serr);
        status = EX_IOERR;
        goto out;
    }
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
                 f, l, run.tz, run.rows.len, source, influx_bytes_received(client),
                 influx_requests(client));
    else
        log_info("aggregate: %s..%s (%s): %zu rows from %s", f, l, run.tz, run.rows.len, source);
out:
    summary_store_close(store);
    summary_store_unlock(lock_fd);
    influx_free(client);
    summary_rows_free(&run.rows);
    free(run.starts);
    config_free(cfg);
    return status;
}
