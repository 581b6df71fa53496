/* SPDX-License-Identifier: MIT */
#include "tokenmeter/influx_query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct influx_query_result {
    struct body *doc;
};

/* The error of a result that did not run: InfluxDB's text for the first
 * statement with a reason, else the first "not executed". */
static int influx_query_statement_error(const struct body_node *results, char err[ERR_MAX])
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < body_array_len(results); i++) {
            const char *e = body_str(body_array_at(results, i), "/error");
            if (e && (pass == 1 || strcmp(e, "not executed") != 0))
                return err_set(err, -EREMOTEIO, "InfluxDB /query: statement %zu: %s", i + 1, e);
        }
    }
    return 0;
}

/* InfluxDB cuts a result at [http] max-row-limit and marks it partial:
 * sums from it would replace complete rows with smaller ones. */
static int influx_query_partial(const struct body_node *results, char err[ERR_MAX])
{
    for (size_t i = 0; i < body_array_len(results); i++) {
        const struct body_node *res = body_array_at(results, i);
        const struct body_node *series = body_get(res, "/series");
        bool partial = false;
        for (size_t k = 0; !partial && k < body_array_len(series); k++)
            body_bool(body_array_at(series, k), "/partial", &partial);
        if (!partial)
            body_bool(res, "/partial", &partial);
        if (partial)
            return err_set(err, -EREMOTEIO,
                           "InfluxDB /query: statement %zu: the result was cut short "
                           "(\"partial\": InfluxDB's [http] max-row-limit); raise the limit or "
                           "query fewer days",
                           i + 1);
    }
    return 0;
}

int influx_query_parse(const char *data, size_t len, struct influx_query_result **out,
                       char err[ERR_MAX])
{
    char perr[ERR_MAX];
    struct body *doc = NULL;
    struct influx_query_result *r = NULL;
    int rc;
    *out = NULL;
    if (body_parse_max(data, len, 0, &doc, perr) < 0) {
        rc = err_set(err, -EBADMSG, "InfluxDB /query: response is not JSON: %.900s", perr);
        goto out;
    }
    const struct body_node *root = body_root(doc);
    const char *top = body_str(root, "/error");
    if (top) {
        rc = err_set(err, -EREMOTEIO, "InfluxDB /query: %s", top);
        goto out;
    }
    const struct body_node *results = body_get(root, "/results");
    if (body_type(results) != BODY_ARRAY) {
        rc = err_set(err, -EBADMSG, "InfluxDB /query: response has no \"results\" array");
        goto out;
    }
    rc = influx_query_statement_error(results, err);
    if (rc == 0)
        rc = influx_query_partial(results, err);
    if (rc < 0)
        goto out;
    r = calloc(1, sizeof(*r));
    if (!r) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    r->doc = doc;
    doc = NULL;
    *out = r;
out:
    body_free(doc);
    return rc;
}

void influx_query_free(struct influx_query_result *r)
{
    if (!r)
        return;
    body_free(r->doc);
    free(r);
}

size_t influx_query_statements(const struct influx_query_result *r)
{
    return body_array_len(body_get(body_root(r->doc), "/results"));
}

int influx_query_series_at(const struct influx_query_result *r, size_t stmt, size_t i,
                           struct influx_query_series *s)
{
    const struct body_node *res = body_array_at(body_get(body_root(r->doc), "/results"), stmt);
    const struct body_node *series = body_array_at(body_get(res, "/series"), i);
    if (body_type(series) != BODY_OBJECT)
        return -ENOENT;
    s->name = body_str(series, "/name");
    s->tags = body_get(series, "/tags");
    s->columns = body_get(series, "/columns");
    s->values = body_get(series, "/values");
    if (!s->name)
        s->name = "";
    return 0;
}

size_t influx_query_rows(const struct influx_query_series *s)
{
    return body_array_len(s->values);
}

int influx_query_column(const struct influx_query_series *s, const char *name)
{
    size_t n = body_array_len(s->columns);
    for (size_t i = 0; i < n && i < INT32_MAX; i++) {
        const char *col = body_str(body_array_at(s->columns, i), "");
        if (col && strcmp(col, name) == 0)
            return (int)i;
    }
    return -1;
}

const char *influx_query_tag(const struct influx_query_series *s, const char *key)
{
    size_t n = body_object_len(s->tags);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(body_object_key(s->tags, i), key) == 0) {
            const char *v = body_str(body_object_value(s->tags, i), "");
            return v ? v : "";
        }
    }
    return "";
}

const struct body_node *influx_query_value(const struct influx_query_series *s, size_t row, int col)
{
    if (col < 0)
        return NULL;
    return body_array_at(body_array_at(s->values, row), (size_t)col);
}
