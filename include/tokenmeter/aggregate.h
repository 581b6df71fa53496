/* SPDX-License-Identifier: MIT */
/*
 * aggregate — the daily-summary engine behind `tokenmeter aggregate`.
 *
 * It turns usage into one summary row per (day, org, model, provider[,
 * team]) for the calendar days of a run in one IANA time zone, and does no
 * I/O: the command reads InfluxDB or line-protocol files and stores the
 * rows; the engine only groups.
 *
 * Two inputs give the same rows:
 *  - buckets: InfluxDB's own answer to `GROUP BY time(1d), "org", "model",
 *    "provider", "status"[, "team"] fill(none) tz(...)`, one call per
 *    answered row; the engine maps each bucket to its day and adds it;
 *  - points: raw llm_usage points (from `--input` files). Here the engine
 *    imitates what InfluxDB would have stored: a point is identified by
 *    measurement, tag set and timestamp, and a re-sent point overwrites the
 *    fields it carries and keeps the others (last write wins), so a re-sent
 *    webhook counts once. Under `dedup = tag` event_id is a tag, so two
 *    events with the same timestamp stay two points.
 *
 * Counting follows the query the InfluxDB path runs: a request is a point
 * with a cost_source field (every point tokenmeter writes has one, token
 * counts or not); successful/failed split requests by the status tag;
 * unpriced_requests counts cost_source = "unpriced"; token fields and
 * cost_usd are summed where present. Sums saturate at INT64_MAX (counts come
 * from webhooks: a hostile count must not wrap a row), and a point carrying
 * none of the summed fields and no cost_source adds nothing (fill(none)).
 *
 * Days are cut in the zone's TZ-database rules (23- and 25-hour days
 * included); aggregate_new() makes that zone the process's zone.
 */
#ifndef TOKENMETER_AGGREGATE_H
#define TOKENMETER_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/summary_store.h"
#include "tokenmeter/tzday.h"

/* The summed integer fields of a raw point, in this order everywhere
 * (aggregate_sum_fields, struct aggregate_bucket's sums). */
#define AGGREGATE_NSUMS 6
extern const char *const aggregate_sum_fields[AGGREGATE_NSUMS];

struct aggregate_params {
    const char *measurement;  /* borrowed: the raw points' measurement */
    const char *tz;           /* borrowed: IANA zone of the days */
    struct tzday_range range; /* the days of the run */
    bool by_team;             /* rows split by the team tag (else team is "") */
};

struct aggregate;

/* A new engine for one run (free with aggregate_free()); the strings of
 * `p` are borrowed and must outlive it. Validates the zone and makes it the
 * process's zone (tzday_use). Returns 0, -EINVAL (bad zone or range; err
 * set) or -ENOMEM. */
int aggregate_new(const struct aggregate_params *p, struct aggregate **out, char err[ERR_MAX]);
void aggregate_free(struct aggregate *a);

/* The run's span: from the first instant of its first day (included) to
 * the first instant after its last day (excluded), in ns since the epoch. */
void aggregate_span(const struct aggregate *a, int64_t *from_ns, int64_t *to_ns);

/* Day `day` of the run (0-based, < range.ndays) the same way: its first
 * instant and the first instant of the next day. */
void aggregate_day_span(const struct aggregate *a, int day, int64_t *from_ns, int64_t *to_ns);

/* One row of InfluxDB's grouped answer. Tags are borrowed, "" when absent;
 * team is ignored unless the run is split by team. */
struct aggregate_bucket {
    int64_t start_ns; /* the bucket's time: the first instant of a day */
    const char *org, *model, *provider, *team, *status;
    int64_t requests; /* count("cost_source") */
    int64_t unpriced; /* count("cost_source") where it is 'unpriced' */
    int64_t sums[AGGREGATE_NSUMS];
    double cost_usd;
};

/* Adds a bucket to its row. Returns 0, -EBADMSG when start_ns is not the
 * first instant of one of the run's days (InfluxDB split days differently:
 * refuse rather than store shifted days; err set), or -ENOMEM. */
int aggregate_add_bucket(struct aggregate *a, const struct aggregate_bucket *b, char err[ERR_MAX]);

/* Records a raw point (borrowed; nothing of it is kept). Returns 0, 1 when
 * the point is outside the run (another measurement, or a time outside the
 * days), -EINVAL when InfluxDB would not have stored it as the query reads
 * it (no timestamp, a token count that is not an integer, cost_usd not a
 * float; err says which), or -ENOMEM. Nothing is counted until
 * aggregate_finish(). */
int aggregate_add_point(struct aggregate *a, const struct lineproto_point *pt, char err[ERR_MAX]);

/* Folds the recorded points into rows and sorts the rows by day, org,
 * team, model, provider. Call once, after the last add. Returns 0 or
 * -ENOMEM. */
int aggregate_finish(struct aggregate *a);

/* Borrowed: the rows (sorted once aggregate_finish() has run). */
const struct summary_rows *aggregate_rows(const struct aggregate *a);

/* Appends the rows to out as line protocol, one point per row in
 * `measurement`, tagged with the zone and timestamped with the first
 * instant of its day. Returns 0 or a negative buf/lineproto error. */
int aggregate_format_points(const struct aggregate *a, const char *measurement, struct buf *out);

#endif
