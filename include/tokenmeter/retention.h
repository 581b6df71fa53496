/* SPDX-License-Identifier: MIT */
/*
 * retention — how long InfluxDB keeps the raw points, made to match
 * [influxdb] retention_days: a 1.x retention policy (REPLICATION 1) on
 * [influxdb] database, or the expire rule of a 2.x bucket ([influxdb]
 * bucket set; see influx.h for which API the client speaks).
 *
 * Split in two halves. The plan half is pure and unit-tested from canned
 * responses (tests/check_retention.c): it reads SHOW RETENTION POLICIES
 * and GET /api/v2/buckets answers, builds the CREATE/ALTER statement or
 * the bucket PATCH, and describes the state against the configuration. The
 * apply half sends those through influx.h and knows no HTTP beyond the
 * endpoint names.
 *
 * Functions return 0 or a negative errno code with a message in err, the
 * codes of influx.h (influx_exit_code() maps them).
 */
#ifndef TOKENMETER_RETENTION_H
#define TOKENMETER_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/config.h"
#include "tokenmeter/err.h"
#include "tokenmeter/influx.h"

/* The retention of the configured database/RP (1.x) or bucket (2.x). */
struct retention {
    bool exists;     /* the RP (1.x) or bucket (2.x) exists */
    char name[128];  /* RP name (1.x: the default one when none is configured) */
    char id[64];     /* bucket ID (2.x): lowercase hex, as InfluxDB issues it */
    int64_t seconds; /* how long data is kept; 0 = forever */
};

/* ---- plan: pure --------------------------------------------------------- */

/* Reads a SHOW RETENTION POLICIES response (borrowed) into *r: the policy
 * named `want` (borrowed), or the default one when want is NULL or "".
 * None found is not an error: r->exists is false. Returns 0, or -EBADMSG
 * for unexpected columns or a duration that is not Go's. */
int retention_from_policies(const struct influx_response *resp, const char *want,
                            struct retention *r, char err[ERR_MAX]);

/* Reads a GET /api/v2/buckets document (len bytes at data, borrowed) into
 * *r: the bucket named `bucket` and its expire rule (none: forever). None
 * found is not an error: r->exists is false. Returns 0, or -EBADMSG for a
 * document that is not InfluxDB's or a bucket ID that is not hex. */
int retention_from_buckets(const char *data, size_t len, const char *bucket, struct retention *r,
                           char err[ERR_MAX]);

/* Appends to q the statement that makes the policy keep `days` days
 * (0 = forever): ALTER RETENTION POLICY on the existing one (cur, as read
 * back), else CREATE RETENTION POLICY `want` on database db. Durations
 * shorter than InfluxDB's shard group duration for new policies get a
 * shorter SHARD DURATION. Returns 0, -EREMOTEIO when no policy exists and
 * none is configured (the database has no default), -EINVAL when the
 * statement outgrows q, or -ENOMEM. */
int retention_policy_statement(struct buf *q, const char *db, const char *want,
                               const struct retention *cur, int64_t days, char err[ERR_MAX]);

/* Appends to path and json the PATCH that gives bucket cur->id one expire
 * rule of `days` days (0 = forever). Returns 0 or the buffers' error. */
int retention_bucket_patch(struct buf *path, struct buf *json, const struct retention *cur,
                           int64_t days);

/* Compares r with cfg->retention_days and describes it in line (the
 * caller's, cap bytes): 0 as configured, 1 differs (or does not exist). */
int retention_describe(const struct config_influxdb *cfg, const struct retention *r, char *line,
                       size_t cap);

/* ---- apply: through influx.h ------------------------------------------- */

/* Reads the current retention into *r (the caller's). A missing
 * database/RP/bucket is not an error: r->exists is false. */
int retention_get(struct influx *c, struct retention *r, char err[ERR_MAX]);

/* Makes the retention `days` (0 = forever): 1.x CREATE (database and RP
 * when missing) or ALTER RETENTION POLICY ... DURATION Nd REPLICATION 1;
 * 2.x PATCH /api/v2/buckets/{id} with one expire rule (-ENOENT when the
 * bucket does not exist: tokenmeter does not create buckets). */
int retention_apply(struct influx *c, int64_t days, char err[ERR_MAX]);

/* Reads the retention and describes it against the client's
 * [influxdb] retention_days in line: 0 as configured, 1 differs, or a
 * negative error (line then holds its message). Shared by the retention
 * and check commands. */
int retention_check(struct influx *c, char *line, size_t cap);

#endif
