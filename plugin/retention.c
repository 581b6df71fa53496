/* SPDX-License-Identifier: MIT */
#include "tokenmeter/retention.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/body.h"
#include "tokenmeter/influxql.h"

static bool retention_set(const char *s)
{
    return s && *s;
}

/* The outcome of building a statement: 0, -ENOMEM, or -EINVAL with `what`
 * when it outgrew its buffer. */
static int retention_buf_error(const struct buf *b, const char *what, char err[ERR_MAX])
{
    int e = buf_error(b);
    if (e == -ENOMEM)
        return err_set(err, e, "out of memory");
    return e ? err_set(err, -EINVAL, "%s", what) : 0;
}

/* ---- plan --------------------------------------------------------------- */

int retention_from_policies(const struct influx_query_result *resp, const char *want,
                            struct retention *r, char err[ERR_MAX])
{
    struct influx_query_series s;
    memset(r, 0, sizeof(*r));
    if (influx_query_series_at(resp, 0, 0, &s) < 0)
        return 0;
    int cn = influx_query_column(&s, "name"), cd = influx_query_column(&s, "duration");
    int cdef = influx_query_column(&s, "default");
    if (cn < 0 || cd < 0 || cdef < 0)
        return err_set(err, -EBADMSG, "InfluxDB: SHOW RETENTION POLICIES: unexpected columns");
    for (size_t i = 0; i < influx_query_rows(&s); i++) {
        const char *name = body_str(influx_query_value(&s, i, cn), "");
        const char *dur = body_str(influx_query_value(&s, i, cd), "");
        bool is_default = false;
        body_bool(influx_query_value(&s, i, cdef), "", &is_default);
        if (!name || !dur)
            continue;
        if (retention_set(want) ? strcmp(name, want) != 0 : !is_default)
            continue;
        if (influxql_parse_duration(dur, &r->seconds) < 0)
            return err_set(err, -EBADMSG, "InfluxDB: retention policy \"%s\": duration \"%s\"",
                           name, dur);
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->exists = true;
        r->is_default = is_default;
        break;
    }
    return 0;
}

int retention_from_buckets(const char *data, size_t len, const char *bucket, struct retention *r,
                           char err[ERR_MAX])
{
    struct body *doc = NULL;
    char perr[ERR_MAX];
    int rc = 0;
    memset(r, 0, sizeof(*r));
    if (body_parse_max(data, len, 0, &doc, perr) < 0) {
        rc = err_set(err, -EBADMSG, "InfluxDB GET /api/v2/buckets: not JSON: %.900s", perr);
        goto out;
    }
    const struct body_node *buckets = body_get(body_root(doc), "/buckets");
    if (body_type(buckets) != BODY_ARRAY) {
        rc = err_set(err, -EBADMSG, "InfluxDB GET /api/v2/buckets: no \"buckets\" array");
        goto out;
    }
    for (size_t i = 0; i < body_array_len(buckets); i++) {
        const struct body_node *b = body_array_at(buckets, i);
        const char *name = body_str(b, "/name");
        const char *id = body_str(b, "/id");
        if (!name || strcmp(name, bucket) != 0 || !id)
            continue;
        /* The ID goes into a path: accept only what InfluxDB issues. */
        if (strlen(id) >= sizeof(r->id) || strspn(id, "0123456789abcdef") != strlen(id)) {
            rc = err_set(err, -EBADMSG, "InfluxDB GET /api/v2/buckets: unexpected bucket id");
            goto out;
        }
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->exists = true;
        const struct body_node *rules = body_get(b, "/retentionRules");
        for (size_t j = 0; j < body_array_len(rules); j++) {
            const char *type = body_str(body_array_at(rules, j), "/type");
            int64_t every = 0;
            if (type && strcmp(type, "expire") == 0 &&
                body_count(body_array_at(rules, j), "/everySeconds", &every) == 0)
                r->seconds = every;
        }
        break;
    }
out:
    body_free(doc);
    return rc;
}

int retention_policy_statement(struct buf *q, const char *db, const char *want,
                               const struct retention *cur, int64_t days, char err[ERR_MAX])
{
    if (!cur->exists && !cur->db_missing && !retention_set(want))
        return err_set(err, -EREMOTEIO,
                       "InfluxDB: database \"%s\" has no default retention policy; set "
                       "[influxdb] retention_policy",
                       db);
    if (cur->db_missing) {
        /* A new database gets the policy as its default at once, so no
         * "autogen" that keeps everything forever ever exists. */
        buf_puts(q, "CREATE DATABASE ");
        influxql_quote(q, db, '"');
        buf_puts(q, " WITH DURATION ");
    } else {
        buf_puts(q, cur->exists ? "ALTER RETENTION POLICY " : "CREATE RETENTION POLICY ");
        influxql_quote(q, cur->exists ? cur->name : want, '"');
        buf_puts(q, " ON ");
        influxql_quote(q, db, '"');
        buf_puts(q, " DURATION ");
    }
    influxql_duration(q, days);
    buf_puts(q, " REPLICATION 1");
    /* A duration shorter than the shard group duration is refused; give
     * short ones InfluxDB's own choice for new policies. */
    if (days > 0 && days < 2)
        buf_puts(q, " SHARD DURATION 1h");
    else if (days > 0 && days < 7)
        buf_puts(q, " SHARD DURATION 1d");
    if (cur->db_missing) {
        buf_puts(q, " NAME ");
        influxql_quote(q, retention_set(want) ? want : "autogen", '"');
    }
    return retention_buf_error(q, "retention statement too long", err);
}

int retention_bucket_patch(struct buf *path, struct buf *json, const struct retention *cur,
                           int64_t days)
{
    buf_printf(path, "/api/v2/buckets/%s", cur->id);
    buf_printf(json, "{\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":%" PRId64 "}]}",
               days * 86400);
    return buf_error(path) ? buf_error(path) : buf_error(json);
}

/* "30 days" or "36h0m": whole days when it is a whole number of days. */
static void retention_format(int64_t seconds, char *out, size_t cap)
{
    if (seconds == 0)
        snprintf(out, cap, "forever");
    else if (seconds % 86400 == 0)
        snprintf(out, cap, "%" PRId64 " days", seconds / 86400);
    else
        snprintf(out, cap, "%" PRId64 "h%" PRId64 "m", seconds / 3600, seconds % 3600 / 60);
}

/* Names what is being managed, for messages. */
static void retention_subject(const struct config_influxdb *cfg, const struct retention *r,
                              char *out, size_t cap)
{
    if (retention_set(cfg->bucket))
        snprintf(out, cap, "bucket \"%s\"", cfg->bucket);
    else if (r->exists)
        snprintf(out, cap, "retention policy \"%s\" on \"%s\"", r->name, cfg->database);
    else if (retention_set(cfg->retention_policy))
        snprintf(out, cap, "retention policy \"%s\" on \"%s\"", cfg->retention_policy,
                 cfg->database);
    else
        snprintf(out, cap, "database \"%s\"", cfg->database);
}

int retention_describe(const struct config_influxdb *cfg, const struct retention *r, char *line,
                       size_t cap)
{
    char subject[400], have[48], want[48];
    retention_subject(cfg, r, subject, sizeof(subject));
    retention_format(cfg->retention_days * 86400, want, sizeof(want));
    if (!r->exists) {
        snprintf(line, cap, "%s does not exist; retention_days = %" PRId64 " (%s)", subject,
                 cfg->retention_days, want);
        return 1;
    }
    retention_format(r->seconds, have, sizeof(have));
    if (r->seconds == cfg->retention_days * 86400) {
        snprintf(line, cap, "%s keeps %s, as configured", subject, have);
        return 0;
    }
    snprintf(line, cap, "%s keeps %s, configured %s (run 'tokenmeter retention apply')", subject,
             have, want);
    return 1;
}

/* Would `days` keep less than the current policy? (0 is forever.) */
static bool retention_shortens(int64_t cur_seconds, int64_t days)
{
    return days > 0 && (cur_seconds == 0 || days * 86400 < cur_seconds);
}

int retention_plan(const struct config_influxdb *cfg, bool v2, const struct retention *cur,
                   int64_t days, struct retention_plan *p, char err[ERR_MAX])
{
    char subject[400], have[48], want[48];
    struct buf q, path;
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->cur = *cur;
    p->days = days;
    buf_init(&q, sizeof(p->change) - 1);
    buf_init(&path, 256);
    retention_subject(cfg, cur, subject, sizeof(subject));
    retention_format(days * 86400, want, sizeof(want));
    retention_format(cur->seconds, have, sizeof(have));
    if (cur->db_missing)
        snprintf(p->current, sizeof(p->current), "database \"%s\" does not exist", cfg->database);
    else if (!cur->exists)
        snprintf(p->current, sizeof(p->current), "%s does not exist", subject);
    else
        snprintf(p->current, sizeof(p->current), "%s%s keeps %s", subject,
                 cur->is_default ? " (the database's default policy)" : "", have);
    snprintf(p->intended, sizeof(p->intended), "%s", want);
    if (cur->exists && cur->seconds == days * 86400) {
        p->action = RETENTION_NONE;
        goto out;
    }
    if (v2) {
        if (!cur->exists) {
            rc = err_set(err, -ENOENT,
                         "InfluxDB: bucket \"%s\" not found in org \"%s\" (create it with "
                         "'influx bucket create')",
                         cfg->bucket, cfg->org ? cfg->org : "");
            goto out;
        }
        p->action = RETENTION_PATCH_BUCKET;
        struct buf json;
        buf_init(&json, 256);
        if (retention_bucket_patch(&path, &json, cur, days) == 0)
            buf_printf(&q, "PATCH %s %s", path.data, json.data);
        buf_free(&json);
        rc = retention_buf_error(&q, "bucket patch too long", err);
    } else {
        p->action = cur->db_missing ? RETENTION_CREATE_DATABASE
                    : cur->exists   ? RETENTION_ALTER
                                    : RETENTION_CREATE_POLICY;
        rc = retention_policy_statement(&q, cfg->database, cfg->retention_policy, cur, days, err);
    }
    if (rc < 0)
        goto out;
    snprintf(p->change, sizeof(p->change), "%s", q.data);
    /* What cannot be undone: points deleted by a shorter policy, and the
     * retention of everything else written to the database without a
     * policy (Telegraf's own metrics, other applications). */
    if (cur->exists && retention_shortens(cur->seconds, days))
        snprintf(p->why_force, sizeof(p->why_force),
                 "it shortens %s from %s to %s: InfluxDB deletes the older points at once", subject,
                 have, want);
    else if (p->action == RETENTION_ALTER && cur->is_default)
        snprintf(p->why_force, sizeof(p->why_force),
                 "it changes the default policy of database \"%s\", which every writer that "
                 "names no policy uses; set [influxdb] retention_policy to give tokenmeter a "
                 "policy of its own",
                 cfg->database);
    p->needs_force = p->why_force[0] != '\0';
out:
    buf_free(&q);
    buf_free(&path);
    return rc;
}

/* ---- apply -------------------------------------------------------------- */

static int retention_get_v1(struct influx *c, struct retention *r, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    struct influx_query_result *resp = NULL;
    struct buf q;
    int rc;
    buf_init(&q, 4096);
    memset(r, 0, sizeof(*r));
    buf_puts(&q, "SHOW RETENTION POLICIES ON ");
    influxql_quote(&q, cfg->database, '"');
    rc = retention_buf_error(&q, "[influxdb] database name too long", err);
    if (rc < 0)
        goto out;
    rc = influx_query(c, NULL, NULL, q.data, false, &resp, err);
    if (rc == -EREMOTEIO && strstr(err, "database not found")) {
        r->db_missing = true; /* r->exists stays false */
        rc = 0;
    } else if (rc == 0)
        rc = retention_from_policies(resp, cfg->retention_policy, r, err);
out:
    influx_query_free(resp);
    buf_free(&q);
    return rc;
}

static int retention_get_v2(struct influx *c, struct retention *r, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    const char *const params[] = {"name", cfg->bucket, "org", cfg->org, NULL};
    struct buf body;
    buf_init(&body, influx_response_max(c));
    memset(r, 0, sizeof(*r));
    int rc = influx_request(c, "GET", "/api/v2/buckets", params, NULL, NULL, 0, &body, err);
    if (rc == 0)
        rc = retention_from_buckets(body.data ? body.data : "", body.len, cfg->bucket, r, err);
    buf_free(&body);
    return rc;
}

int retention_get(struct influx *c, struct retention *r, char err[ERR_MAX])
{
    return influx_is_v2(c) ? retention_get_v2(c, r, err) : retention_get_v1(c, r, err);
}

int retention_read_plan(struct influx *c, int64_t days, struct retention_plan *p, char err[ERR_MAX])
{
    struct retention cur;
    int rc = retention_get(c, &cur, err);
    if (rc == 0)
        rc = retention_plan(influx_config(c), influx_is_v2(c), &cur, days, p, err);
    return rc;
}

int retention_apply(struct influx *c, const struct retention_plan *p, bool force, char err[ERR_MAX])
{
    if (p->action == RETENTION_NONE)
        return 0;
    if (p->needs_force && !force)
        return err_set(err, -ECANCELED, "refused: %s; --force applies it anyway", p->why_force);
    if (p->action != RETENTION_PATCH_BUCKET) {
        struct influx_query_result *resp = NULL;
        int rc = influx_query(c, NULL, NULL, p->change, true, &resp, err);
        influx_query_free(resp);
        return rc;
    }
    struct buf path, json, body;
    buf_init(&path, 256);
    buf_init(&json, 256);
    buf_init(&body, influx_response_max(c));
    int rc = retention_bucket_patch(&path, &json, &p->cur, p->days);
    if (rc < 0)
        rc = err_set(err, -ENOMEM, "out of memory");
    else
        rc = influx_request(c, "PATCH", path.data, NULL, "application/json", json.data, json.len,
                            &body, err);
    buf_free(&path);
    buf_free(&json);
    buf_free(&body);
    return rc;
}

int retention_check(struct influx *c, char *line, size_t cap)
{
    struct retention r;
    char err[ERR_MAX];
    int rc = retention_get(c, &r, err);
    if (rc < 0) {
        snprintf(line, cap, "%s", err);
        return rc;
    }
    return retention_describe(influx_config(c), &r, line, cap);
}
