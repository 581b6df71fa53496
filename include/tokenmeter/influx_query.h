/* SPDX-License-Identifier: MIT */
/*
 * influx_query — the response model of InfluxDB's /query endpoint: the
 * JSON document 1.x answers (and 2.x/3.x through their v1-compatible
 * /query), read with body.h. No HTTP: influx_query() in influx.h fetches
 * the document and hands it to influx_query_parse(); the tests feed
 * canned documents (tests/check_influx_query.c).
 *
 * A document is {"results":[{"statement_id":0,"series":[...]}, ...]}: one
 * result per statement, each with zero or more series of
 * {"name","tags","columns","values"}. InfluxDB reports a failed statement
 * inside an HTTP 200 (results[i].error) and a result cut at its
 * [http] max-row-limit with "partial": true; the parser turns both into
 * errors, so that a response a caller holds is always complete.
 */
#ifndef TOKENMETER_INFLUX_QUERY_H
#define TOKENMETER_INFLUX_QUERY_H

#include <stddef.h>

#include "tokenmeter/body.h"
#include "tokenmeter/err.h"

/* A parsed /query response; owns its document. */
struct influx_query_result;

/* Parses a /query JSON document (len bytes at data, borrowed). Returns 0
 * and a new response in *out (free with influx_query_free()), or with
 * *out NULL and the message in err:
 *   -EREMOTEIO  a top-level "error", a statement error (the first one with
 *               a reason: after a failed statement the rest say only "not
 *               executed"), or a partial result
 *   -EBADMSG    not JSON, or no "results" array
 *   -ENOMEM     out of memory */
int influx_query_parse(const char *data, size_t len, struct influx_query_result **out,
                       char err[ERR_MAX]);

/* Releases the response and every node borrowed from it. Accepts NULL. */
void influx_query_free(struct influx_query_result *r);

/* The number of statement results in the response. */
size_t influx_query_statements(const struct influx_query_result *r);

/* One series of a statement's result; every pointer is borrowed from the
 * response and valid until influx_query_free(). */
struct influx_query_series {
    const char *name;                /* "" when absent */
    const struct body_node *tags;    /* object, or NULL */
    const struct body_node *columns; /* array of column names */
    const struct body_node *values;  /* array of rows (arrays) */
};

/* Fills s with series i of statement stmt. Returns 0, or -ENOENT past the
 * end (also for a statement without "series" or past the last
 * statement). */
int influx_query_series_at(const struct influx_query_result *r, size_t stmt, size_t i,
                           struct influx_query_series *s);

/* The number of rows of the series. */
size_t influx_query_rows(const struct influx_query_series *s);

/* Index of the column named name, or -1. */
int influx_query_column(const struct influx_query_series *s, const char *name);

/* The tag value of the series (borrowed; "" when the series has no such
 * tag). */
const char *influx_query_tag(const struct influx_query_series *s, const char *key);

/* The value at row, column (borrowed; read with body_int/body_num/body_str
 * and the path ""), or NULL past the end or for col < 0. */
const struct body_node *influx_query_value(const struct influx_query_series *s, size_t row,
                                           int col);

#endif
