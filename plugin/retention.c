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

int retention_from_policies(const struct influx_response *resp, const char *want,
                            struct retention *r, char err[ERR_MAX])
{
    struct influx_series s;
    memset(r, 0, sizeof(*r));
    if (influx_response_series(resp, 0, 0, &s) < 0)
        return 0;
    int cn = influx_series_column(&s, "name"), cd = influx_series_column(&s, "duration");
    int cdef = influx_series_column(&s, "default");
    if (cn < 0 || cd < 0 || cdef < 0)
        return err_set(err, -EBADMSG, "InfluxDB: SHOW RETENTION POLICIES: unexpected columns");
    for (size_t i = 0; i < influx_series_rows(&s); i++) {
        const char *name = body_str(influx_series_value(&s, i, cn), "");
        const char *dur = body_str(influx_series_value(&s, i, cd), "");
        bool is_default = false;
        body_bool(influx_series_value(&s, i, cdef), "", &is_default);
        if (!name || !dur)
            continue;
        if (retention_set(want) ? strcmp(name, want) != 0 : !is_default)
            continue;
        if (influxql_parse_duration(dur, &r->seconds) < 0)
            return err_set(err, -EBADMSG, "InfluxDB: retention policy \"%s\": duration \"%s\"",
                           name, dur);
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->exists = true;
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
    if (body_parse(data, len, &doc, perr) < 0) {
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
    if (!cur->exists && !retention_set(want))
        return err_set(err, -EREMOTEIO,
                       "InfluxDB: database \"%s\" has no default retention policy; set "
                       "[influxdb] retention_policy",
                       db);
    buf_puts(q, cur->exists ? "ALTER RETENTION POLICY " : "CREATE RETENTION POLICY ");
    influxql_quote(q, cur->exists ? cur->name : want, '"');
    buf_puts(q, " ON ");
    influxql_quote(q, db, '"');
    buf_puts(q, " DURATION ");
    influxql_duration(q, days);
    buf_puts(q, " REPLICATION 1");
    /* A duration shorter than the shard group duration is refused; give
     * short ones InfluxDB's own choice for new policies. */
    if (days > 0 && days < 2)
        buf_puts(q, " SHARD DURATION 1h");
    else if (days > 0 && days < 7)
        buf_puts(q, " SHARD DURATION 1d");
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

/* ---- apply -------------------------------------------------------------- */

static int retention_get_v1(struct influx *c, struct retention *r, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    struct influx_response *resp = NULL;
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
    if (rc == -EREMOTEIO && strstr(err, "database not found"))
        rc = 0; /* r->exists stays false */
    else if (rc == 0)
        rc = retention_from_policies(resp, cfg->retention_policy, r, err);
out:
    influx_response_free(resp);
    buf_free(&q);
    return rc;
}

static int retention_get_v2(struct influx *c, struct retention *r, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    const char *const params[] = {"name", cfg->bucket, "org", cfg->org, NULL};
    struct buf body;
    buf_init(&body, INFLUX_RESPONSE_MAX);
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

/* Runs one statement that answers nothing but success. */
static int retention_exec(struct influx *c, const struct buf *q, char err[ERR_MAX])
{
    struct influx_response *resp = NULL;
    int rc = influx_query(c, NULL, NULL, q->data, true, &resp, err);
    influx_response_free(resp);
    return rc;
}

static int retention_apply_v1(struct influx *c, int64_t days, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    struct retention cur;
    struct buf q;
    buf_init(&q, 4096);
    int rc = retention_get_v1(c, &cur, err);
    if (rc == 0 && !cur.exists) {
        /* A missing RP may mean a missing database: CREATE DATABASE is
         * idempotent and gives a new one "autogen" as its default. */
        buf_puts(&q, "CREATE DATABASE ");
        influxql_quote(&q, cfg->database, '"');
        rc = retention_buf_error(&q, "[influxdb] database name too long", err);
        if (rc == 0)
            rc = retention_exec(c, &q, err);
        if (rc == 0)
            rc = retention_get_v1(c, &cur, err);
    }
    if (rc < 0)
        goto out;
    buf_reset(&q);
    rc = retention_policy_statement(&q, cfg->database, cfg->retention_policy, &cur, days, err);
    if (rc == 0)
        rc = retention_exec(c, &q, err);
out:
    buf_free(&q);
    return rc;
}

static int retention_apply_v2(struct influx *c, int64_t days, char err[ERR_MAX])
{
    const struct config_influxdb *cfg = influx_config(c);
    struct retention cur;
    struct buf path, json, body;
    buf_init(&path, 256);
    buf_init(&json, 256);
    buf_init(&body, INFLUX_RESPONSE_MAX);
    int rc = retention_get_v2(c, &cur, err);
    if (rc < 0)
        goto out;
    if (!cur.exists) {
        rc = err_set(err, -ENOENT,
                     "InfluxDB: bucket \"%s\" not found in org \"%s\" (create it with "
                     "'influx bucket create')",
                     cfg->bucket, cfg->org ? cfg->org : "");
        goto out;
    }
    if (retention_bucket_patch(&path, &json, &cur, days) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = influx_request(c, "PATCH", path.data, NULL, "application/json", json.data, json.len, &body,
                        err);
out:
    buf_free(&path);
    buf_free(&json);
    buf_free(&body);
    return rc;
}

int retention_apply(struct influx *c, int64_t days, char err[ERR_MAX])
{
    return influx_is_v2(c) ? retention_apply_v2(c, days, err) : retention_apply_v1(c, days, err);
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
