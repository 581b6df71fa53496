/* SPDX-License-Identifier: MIT */
#include "tokenmeter/aggregate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/map.h"
#include "tokenmeter/vec.h"

const char *const aggregate_sum_fields[AGGREGATE_NSUMS] = {
    "input_tokens",  "cached_input_tokens", "cache_write_tokens",
    "output_tokens", "reasoning_tokens",    "total_tokens",
};

/* The row count each summed field lands in, in aggregate_sum_fields order. */
static const enum summary_count agg_sum_counts[AGGREGATE_NSUMS] = {
    SUMMARY_INPUT_TOKENS,  SUMMARY_CACHED_INPUT_TOKENS, SUMMARY_CACHE_WRITE_TOKENS,
    SUMMARY_OUTPUT_TOKENS, SUMMARY_REASONING_TOKENS,    SUMMARY_TOTAL_TOKENS,
};

#define AGG_BIT_COST (1u << AGGREGATE_NSUMS)

/* What InfluxDB keeps of one point identity (measurement + tags + time):
 * later writes replace the fields they carry and keep the others. */
struct agg_point {
    uint64_t key;        /* the identity's hash */
    size_t group;        /* position in the engine's groups */
    uint8_t present;     /* bit k: aggregate_sum_fields[k]; AGG_BIT_COST: cost_usd */
    uint8_t cost_source; /* 0 absent, 1 "unpriced", 2 anything else */
    bool success;
    int64_t v[AGGREGATE_NSUMS];
    double cost;
};

struct aggregate {
    struct aggregate_params p;
    int64_t *starts; /* owned: ndays + 1 day boundaries */
    struct summary_rows rows;
    /* Raw points: the rows they would fall in (created as points arrive,
     * turned into rows only for points that count), and the points by
     * identity. */
    struct summary_rows groups;
    struct agg_point *points; /* owned */
    size_t npoints, points_cap;
    struct map point_index; /* identity hash -> position in points */
};

int aggregate_new(const struct aggregate_params *p, struct aggregate **out, char err[ERR_MAX])
{
    struct aggregate *a = NULL;
    int rc;
    *out = NULL;
    if (tzday_zone_valid(p->tz) < 0)
        return err_set(err, -EINVAL, "\"%s\" is not a zone of the TZ database", p->tz);
    if (p->range.ndays < 1 || p->range.ndays > TZDAY_MAX_DAYS)
        return err_set(err, -EINVAL, "a run covers 1 to %d days, not %d", TZDAY_MAX_DAYS,
                       p->range.ndays);
    rc = tzday_use(p->tz);
    if (rc < 0)
        goto out;
    rc = -ENOMEM;
    a = calloc(1, sizeof(*a));
    if (!a)
        goto out;
    a->p = *p;
    summary_store_rows_init(&a->rows);
    summary_store_rows_init(&a->groups);
    map_init(&a->point_index);
    a->starts = calloc((size_t)p->range.ndays + 1, sizeof(*a->starts));
    if (!a->starts)
        goto out;
    for (int i = 0; i <= p->range.ndays; i++)
        a->starts[i] = tzday_start_ns(tzday_add(p->range.first, i));
    *out = a;
    a = NULL;
    rc = 0;
out:
    aggregate_free(a);
    return rc == -ENOMEM ? err_set(err, rc, "out of memory") : rc;
}

void aggregate_free(struct aggregate *a)
{
    if (!a)
        return;
    free(a->starts);
    summary_store_rows_free(&a->rows);
    summary_store_rows_free(&a->groups);
    free(a->points);
    map_free(&a->point_index);
    free(a);
}

void aggregate_span(const struct aggregate *a, int64_t *from_ns, int64_t *to_ns)
{
    *from_ns = a->starts[0];
    *to_ns = a->starts[a->p.range.ndays];
}

void aggregate_day_span(const struct aggregate *a, int day, int64_t *from_ns, int64_t *to_ns)
{
    *from_ns = a->starts[day];
    *to_ns = a->starts[day + 1];
}

const struct summary_rows *aggregate_rows(const struct aggregate *a)
{
    return &a->rows;
}

/* The day whose first instant is exactly t, or -1. */
static int agg_day_starting(const struct aggregate *a, int64_t t)
{
    int lo = 0, hi = a->p.range.ndays;
    while (lo < hi) {
        int m = lo + (hi - lo) / 2;
        if (a->starts[m] < t)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < a->p.range.ndays && a->starts[lo] == t ? lo : -1;
}

/* The day containing t, or -1 outside the run. */
static int agg_day_of(const struct aggregate *a, int64_t t)
{
    if (t < a->starts[0] || t >= a->starts[a->p.range.ndays])
        return -1;
    int lo = 0, hi = a->p.range.ndays - 1;
    while (lo < hi) {
        int m = lo + (hi - lo + 1) / 2;
        if (a->starts[m] <= t)
            lo = m;
        else
            hi = m - 1;
    }
    return lo;
}

/* The row (in rs) of day `day` of the run for these tags. */
static int agg_row(const struct aggregate *a, struct summary_rows *rs, int day, const char *org,
                   const char *model, const char *provider, const char *team,
                   struct summary_row **row)
{
    char dname[TZDAY_DATE_LEN];
    tzday_format(tzday_add(a->p.range.first, day), dname);
    return summary_store_rows_get(rs, dname, org, model, provider, a->p.by_team ? team : "", row);
}

/* Token sums come from webhooks: a hostile count must not wrap a day's row,
 * so sums stop at the int64 limits. */
static void agg_add(int64_t *acc, int64_t v)
{
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = v < 0 ? INT64_MIN : INT64_MAX;
}

/* ---- InfluxDB's grouped answer --------------------------------------- */

int aggregate_add_bucket(struct aggregate *a, const struct aggregate_bucket *b, char err[ERR_MAX])
{
    int day = agg_day_starting(a, b->start_ns);
    if (day < 0)
        /* A bucket that does not start one of our days would mean InfluxDB
         * split days differently (its tz data): refuse rather than store
         * shifted days. */
        return err_set(err, -EBADMSG,
                       "InfluxDB grouped a day starting at %" PRId64
                       " ns, which is not a local midnight in %s",
                       b->start_ns, a->p.tz);
    struct summary_row *r = NULL;
    int rc = agg_row(a, &a->rows, day, b->org, b->model, b->provider, b->team, &r);
    if (rc < 0)
        return err_set(err, rc, "out of memory");
    agg_add(&r->counts[SUMMARY_REQUESTS], b->requests);
    agg_add(&r->counts[strcmp(b->status, "success") == 0 ? SUMMARY_SUCCESSFUL : SUMMARY_FAILED],
            b->requests);
    agg_add(&r->counts[SUMMARY_UNPRICED_REQUESTS], b->unpriced);
    for (size_t k = 0; k < AGGREGATE_NSUMS; k++)
        agg_add(&r->counts[agg_sum_counts[k]], b->sums[k]);
    r->cost_usd += b->cost_usd;
    return 0;
}

/* ---- raw points ----------------------------------------------------- */

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
    uint64_t h = map_hash_str(MAP_HASH_INIT, pt->measurement);
    for (size_t i = 0; i < pt->ntags; i++) {
        h = map_hash_str(h, pt->tags[order[i]].key);
        h = map_hash_str(h, pt->tags[order[i]].value);
    }
    return map_hash(h, &pt->time_ns, sizeof(pt->time_ns));
}

/* The point with this identity, added (zeroed) when new. */
static int agg_point_slot(struct aggregate *a, uint64_t key, struct agg_point **p)
{
    /* The hash is the identity: any entry under it is the point. */
    size_t it = map_first(&a->point_index, key);
    size_t i = map_next(&a->point_index, key, &it);
    if (i != MAP_NONE) {
        *p = &a->points[i];
        return 0;
    }
    if (vec_reserve(&a->points, &a->points_cap, a->npoints + 1, sizeof(*a->points)) < 0 ||
        map_insert(&a->point_index, key, a->npoints) < 0)
        return -ENOMEM;
    *p = &a->points[a->npoints++];
    memset(*p, 0, sizeof(**p));
    (*p)->key = key;
    return 0;
}

static const char *agg_tag(const struct lineproto_point *pt, const char *key)
{
    const char *v = lineproto_point_tag(pt, key);
    return v ? v : "";
}

int aggregate_add_point(struct aggregate *a, const struct lineproto_point *pt, char err[ERR_MAX])
{
    if (strcmp(pt->measurement, a->p.measurement) != 0)
        return 1;
    if (!pt->has_time)
        return err_set(err, -EINVAL, "no timestamp (InfluxDB would use its own clock)");
    int day = agg_day_of(a, pt->time_ns);
    if (day < 0)
        return 1;
    const struct lineproto_field *f[AGGREGATE_NSUMS];
    for (size_t k = 0; k < AGGREGATE_NSUMS; k++) {
        f[k] = lineproto_point_field(pt, aggregate_sum_fields[k]);
        if (f[k] && f[k]->type != LINEPROTO_INT)
            return err_set(err, -EINVAL, "a token count that is not an integer");
    }
    const struct lineproto_field *cost = lineproto_point_field(pt, "cost_usd");
    if (cost && cost->type != LINEPROTO_FLOAT)
        return err_set(err, -EINVAL, "cost_usd is not a float");
    const struct lineproto_field *cs = lineproto_point_field(pt, "cost_source");
    struct summary_row *g = NULL;
    struct agg_point *p = NULL;
    int rc = agg_row(a, &a->groups, day, agg_tag(pt, "org"), agg_tag(pt, "model"),
                     agg_tag(pt, "provider"), agg_tag(pt, "team"), &g);
    if (rc == 0)
        rc = agg_point_slot(a, agg_identity(pt), &p);
    if (rc < 0)
        return err_set(err, rc, "out of memory");
    p->group = (size_t)(g - a->groups.items);
    p->success = strcmp(agg_tag(pt, "status"), "success") == 0;
    for (size_t k = 0; k < AGGREGATE_NSUMS; k++) {
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

int aggregate_finish(struct aggregate *a)
{
    for (size_t i = 0; i < a->npoints; i++) {
        const struct agg_point *p = &a->points[i];
        if (!p->present && !p->cost_source)
            continue; /* fill(none): a point with none of the queried fields */
        const struct summary_row *g = &a->groups.items[p->group];
        struct summary_row *r = NULL;
        int rc =
            summary_store_rows_get(&a->rows, g->day, g->org, g->model, g->provider, g->team, &r);
        if (rc < 0)
            return rc;
        if (p->cost_source) { /* a request: as count("cost_source") in InfluxDB */
            agg_add(&r->counts[SUMMARY_REQUESTS], 1);
            agg_add(&r->counts[p->success ? SUMMARY_SUCCESSFUL : SUMMARY_FAILED], 1);
            if (p->cost_source == 1)
                agg_add(&r->counts[SUMMARY_UNPRICED_REQUESTS], 1);
        }
        for (size_t k = 0; k < AGGREGATE_NSUMS; k++)
            if (p->present & (1u << k))
                agg_add(&r->counts[agg_sum_counts[k]], p->v[k]);
        if (p->present & AGG_BIT_COST)
            r->cost_usd += p->cost;
    }
    /* The points are folded: release them now rather than with the engine. */
    free(a->points);
    a->points = NULL;
    a->npoints = a->points_cap = 0;
    map_free(&a->point_index);
    summary_store_rows_free(&a->groups);
    summary_store_rows_sort(&a->rows);
    return 0;
}

/* ---- back to line protocol ------------------------------------------- */

int aggregate_format_points(const struct aggregate *a, const char *measurement, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < a->rows.len; i++) {
        const struct summary_row *r = &a->rows.items[i];
        struct tzday_date d;
        bool first = true;
        tzday_parse(r->day, &d);
        lineproto_measurement(out, measurement);
        lineproto_tag(out, "model", r->model);
        lineproto_tag(out, "org", r->org);
        lineproto_tag(out, "provider", r->provider);
        if (a->p.by_team)
            lineproto_tag(out, "team", r->team);
        lineproto_tag(out, "timezone", a->p.tz);
        for (int k = 0; k < SUMMARY_NCOUNTS; k++)
            lineproto_field_int(out, &first, summary_count_names[k], r->counts[k]);
        /* -EDOM (a non-finite sum) is not a buf error: keep it apart. */
        rc = lineproto_field_float(out, &first, "cost_usd", summary_store_round_cost(r->cost_usd));
        lineproto_end(out, a->starts[tzday_diff(a->p.range.first, d)]);
        if (rc >= 0)
            rc = buf_error(out);
    }
    return rc < 0 ? rc : 0;
}
