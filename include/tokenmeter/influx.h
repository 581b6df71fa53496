/* SPDX-License-Identifier: MIT */
/*
 * influx — the only user of libcurl: a small InfluxDB client over the
 * endpoints 1.x, 2.x and 3.x share (SPEC §8, reference §F4): /ping, /query
 * (InfluxQL, epoch=ns, JSON read through body.h) and /write, plus the
 * version-specific retention calls.
 *
 * API flavour: the client speaks 2.x ("v2") when [influxdb] bucket is set:
 * writes go to /api/v2/write?org=&bucket=, queries to the v1-compatible
 * /query with db = the bucket (its virtual DBRP mapping), retention to
 * /api/v2/buckets. Otherwise it speaks 1.x. `check` compares this with the
 * X-Influxdb-Version header /ping returns.
 *
 * Auth: `token` (or the first line of `token_file`) is sent as
 * "Authorization: Token ..." (2.x, 3.x, 1.8+); otherwise username/password
 * as HTTP Basic (1.x, and a v1 authorization on 2.x). Secrets never reach a
 * log line or an error message: URLs carry none, and messages name only the
 * method and path.
 *
 * Every request has the configured timeout. Network errors, timeouts, 5xx
 * and 429 are retried (INFLUX_ATTEMPTS in all) after an exponential backoff
 * with jitter, or after Retry-After when the server sends one. Other 4xx are
 * final, in particular "400 partial write" (the valid points were written).
 *
 * Functions return 0 or a negative errno code with a message in err:
 *   -EAGAIN     unreachable, 5xx or 429 after the last attempt
 *   -ETIMEDOUT  no answer within the timeout (after the last attempt)
 *   -EACCES     401/403: credentials missing, wrong or not permitted
 *   -ENOENT     404: no such database, bucket or endpoint
 *   -EREMOTEIO  the server refused the request (other 4xx, a statement error
 *               inside a 200 response, partial write)
 *   -EBADMSG    a response that is not what InfluxDB sends
 *   -EPROTO     TLS failure (certificate not verified: see tls_ca)
 *   -EINVAL     a configuration problem (token_file unreadable, ...)
 *   -ENOMEM     out of memory
 * influx_exit_code() maps them to sysexits.h codes.
 */
#ifndef TOKENMETER_INFLUX_H
#define TOKENMETER_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/body.h"
#include "tokenmeter/buf.h"
#include "tokenmeter/config.h"
#include "tokenmeter/err.h"

#define INFLUX_VERSION_MAX  64
#define INFLUX_ATTEMPTS     3
#define INFLUX_RESPONSE_MAX (64u << 20) /* largest response body read */
#define INFLUX_BATCH_LINES  5000        /* lines per /write request */
#define INFLUX_BATCH_BYTES  (4u << 20)  /* bytes per /write request */

struct influx;

/* Creates a client from the [influxdb] section (read token_file now).
 * Returns 0 with a new client in *out (free with influx_free()), -EINVAL
 * with err set for a configuration problem, or -ENOMEM. */
int influx_new(const struct config_influxdb *cfg, struct influx **out, char err[ERR_MAX]);

/* Releases the client. Accepts NULL. */
void influx_free(struct influx *c);

/* True when the client speaks the 2.x API (bucket set). */
bool influx_is_v2(const struct influx *c);

/* The database /query reads: the bucket in v2 mode, else the database. */
const char *influx_query_db(const struct influx *c);

/* Response body bytes received and requests sent so far (for reports). */
uint64_t influx_bytes_received(const struct influx *c);
unsigned influx_requests(const struct influx *c);

/* GET /ping. On success copies X-Influxdb-Version (or "unknown") into
 * version. */
int influx_ping(struct influx *c, char version[INFLUX_VERSION_MAX], char err[ERR_MAX]);

/* A parsed /query response; owns its document. */
struct influx_response;

/* Runs InfluxQL q (one or more statements separated by ';') against db
 * (NULL: none) and rp (NULL: the default). `post` sends it as a form body,
 * as CREATE/ALTER need. On success *out is a new response (free with
 * influx_response_free()); a statement error in a 200 response is
 * -EREMOTEIO with InfluxDB's text in err. */
int influx_query(struct influx *c, const char *db, const char *rp, const char *q, bool post,
                 struct influx_response **out, char err[ERR_MAX]);

/* Parses a /query JSON document (exposed for tests). Returns 0 and a new
 * response, -EREMOTEIO with the first statement error (or a top-level
 * "error") in err, or -EBADMSG when it is not a /query document. */
int influx_response_parse(const char *data, size_t len, struct influx_response **out,
                          char err[ERR_MAX]);

void influx_response_free(struct influx_response *r);

/* One series of a statement's result; every pointer is borrowed from the
 * response. */
struct influx_series {
    const char *name;
    const struct body_node *tags;    /* object, or NULL */
    const struct body_node *columns; /* array of column names */
    const struct body_node *values;  /* array of rows (arrays) */
};

size_t influx_response_statements(const struct influx_response *r);

/* Fills s with series i of statement stmt. Returns 0 or -ENOENT past the
 * end. */
int influx_response_series(const struct influx_response *r, size_t stmt, size_t i,
                           struct influx_series *s);

size_t influx_series_rows(const struct influx_series *s);

/* Index of the column named name, or -1. */
int influx_series_column(const struct influx_series *s, const char *name);

/* The tag value of the series ("" when the series has no such tag). */
const char *influx_series_tag(const struct influx_series *s, const char *key);

/* The value at row, column (borrowed; read with body_int/body_num/body_str
 * and the path ""), or NULL. */
const struct body_node *influx_series_value(const struct influx_series *s, size_t row, int col);

/* Where /write sends points: a database (and retention policy) in 1.x, a
 * bucket (and org) in 2.x. NULL members take the client's configured ones. */
struct influx_target {
    const char *database;
    const char *retention_policy;
    const char *bucket;
};

/* Writes len bytes of line protocol (whole lines) in batches of
 * INFLUX_BATCH_LINES lines / INFLUX_BATCH_BYTES bytes. Stops at the first
 * failed batch; earlier batches stay written. */
int influx_write(struct influx *c, const struct influx_target *t, const char *lines, size_t len,
                 char err[ERR_MAX]);

/* Sends an empty /write to the target: it answers whether the target
 * exists and the credentials may write there, without writing a point. */
int influx_write_probe(struct influx *c, const struct influx_target *t, char err[ERR_MAX]);

/* Retention of the configured database/RP (1.x) or bucket (2.x). */
struct influx_retention {
    bool exists;     /* the RP (1.x) or bucket (2.x) exists */
    char name[128];  /* RP name (1.x: the default one when none is configured) */
    char id[64];     /* bucket ID (2.x) */
    int64_t seconds; /* how long data is kept; 0 = forever */
};

/* Reads the current retention. A missing database/RP/bucket is not an
 * error: r->exists is false. */
int influx_retention_get(struct influx *c, struct influx_retention *r, char err[ERR_MAX]);

/* Makes the retention `days` (0 = forever): 1.x CREATE (database and RP
 * when missing) or ALTER RETENTION POLICY ... DURATION Nd REPLICATION 1;
 * 2.x PATCH /api/v2/buckets/{id} with one expire rule. */
int influx_retention_apply(struct influx *c, int64_t days, char err[ERR_MAX]);

/* Parses a Go duration as SHOW RETENTION POLICIES prints it ("720h0m0s",
 * "0s", "1h30m0s") into whole seconds. Returns 0 or -EINVAL. */
int influx_parse_duration(const char *s, int64_t *seconds);

/* Appends s to b as an InfluxQL literal between `quote` characters:
 * '"' for identifiers, '\'' for strings. Backslash and both quote
 * characters are escaped and a newline becomes \n (InfluxQL's scanner
 * rejects a raw one); other bytes are kept. This is the only way a value
 * enters InfluxQL. Returns 0 or a negative buf error. */
int influx_quote(struct buf *b, const char *s, char quote);

/* Builds base + path + "?k=v&..." with the values percent-encoded
 * (params: key, value pairs ending with NULL; a NULL value skips its key).
 * A trailing '/' of base is not doubled. Returns 0 or a buf error. */
int influx_url(struct buf *out, const char *base, const char *path, const char *const *params);

/* The sysexits.h code for a return of this module: EX_TEMPFAIL for
 * -EAGAIN/-ETIMEDOUT, EX_NOPERM for -EACCES, EX_UNAVAILABLE for -ENOENT,
 * -EREMOTEIO and -EPROTO, EX_DATAERR for -EBADMSG, EX_CONFIG for -EINVAL,
 * EX_OSERR otherwise. */
int influx_exit_code(int rc);

#endif
