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
 * the bucket PATCH, decides whether the change needs --force, and
 * describes the state against the configuration. The apply half sends
 * those through influx.h and knows no HTTP beyond the endpoint names.
 *
 * What needs --force (docs/operations.md, "Retention"): shortening an
 * existing policy or bucket (InfluxDB deletes the older points at once),
 * and altering a database's default policy (every writer that names no
 * policy shares it). Creating a missing database (with the policy as its
 * default), or a missing policy, or lengthening a policy of tokenmeter's
 * own does not.
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
    bool is_default; /* 1.x: the RP is its database's default */
    bool db_missing; /* 1.x: the database itself does not exist */
    char name[128];  /* RP name (1.x: the default one when none is configured) */
    char id[64];     /* bucket ID (2.x): lowercase hex, as InfluxDB issues it */
    int64_t seconds; /* how long data is kept; 0 = forever */
};

/* ---- plan: pure --------------------------------------------------------- */

/* Reads a SHOW RETENTION POLICIES response (borrowed) into *r: the policy
 * named `want` (borrowed), or the default one when want is NULL or "".
 * None found is not an error: r->exists is false. Returns 0, or -EBADMSG
 * for unexpected columns or a duration that is not Go's. */
int retention_from_policies(const struct influx_query_result *resp, const char *want,
                            struct retention *r, char err[ERR_MAX]);

/* Reads a GET /api/v2/buckets document (len bytes at data, borrowed) into
 * *r: the bucket named `bucket` and its expire rule (none: forever). None
 * found is not an error: r->exists is false. Returns 0, or -EBADMSG for a
 * document that is not InfluxDB's or a bucket ID that is not hex. */
int retention_from_buckets(const char *data, size_t len, const char *bucket, struct retention *r,
                           char err[ERR_MAX]);

/* Appends to q the statement that makes the policy keep `days` days
 * (0 = forever): ALTER RETENTION POLICY on the existing one (cur, as read
 * back), CREATE DATABASE db WITH ... NAME `want` (or "autogen") when the
 * database is missing, else CREATE RETENTION POLICY `want` on database db. Durations
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

enum retention_action {
    RETENTION_NONE,            /* already as intended */
    RETENTION_CREATE_DATABASE, /* 1.x: CREATE DATABASE ... WITH DURATION ... NAME */
    RETENTION_CREATE_POLICY,   /* 1.x: CREATE RETENTION POLICY (not the default) */
    RETENTION_ALTER,           /* 1.x: ALTER RETENTION POLICY */
    RETENTION_PATCH_BUCKET,    /* 2.x: PATCH /api/v2/buckets/{id} */
};

/* What `retention apply` would do, for `retention plan` to print and
 * apply to carry out. Every string is the struct's own. */
struct retention_plan {
    enum retention_action action;
    struct retention cur; /* as read back */
    int64_t days;         /* intended; 0 = forever */
    bool needs_force;
    char current[600];   /* "retention policy "autogen" on "telegraf" ... keeps 90 days" */
    char intended[48];   /* "30 days" */
    char change[2048];   /* the statement, or "PATCH <path> <json>"; "" for none */
    char why_force[700]; /* why the change needs --force; "" when it does not */
};

/* Plans the change from cur (borrowed) to `days` for the [influxdb]
 * section cfg (borrowed) and the API (v2: bucket). Returns 0, -ENOENT (2.x
 * bucket missing: tokenmeter does not create buckets), -EREMOTEIO (no
 * policy to change and none configured) or -EINVAL (err set). */
int retention_plan(const struct config_influxdb *cfg, bool v2, const struct retention *cur,
                   int64_t days, struct retention_plan *p, char err[ERR_MAX]);

/* ---- apply: through influx.h ------------------------------------------- */

/* Reads the current retention into *r (the caller's). A missing
 * database/RP/bucket is not an error: r->exists is false (and 1.x sets
 * r->db_missing for a missing database). */
int retention_get(struct influx *c, struct retention *r, char err[ERR_MAX]);

/* retention_get() and retention_plan() in one: the plan for `days`. */
int retention_read_plan(struct influx *c, int64_t days, struct retention_plan *p,
                        char err[ERR_MAX]);

/* Carries out plan p (borrowed). A change that needs --force is refused
 * with -ECANCELED unless `force`; RETENTION_NONE does nothing. Returns 0
 * or an influx.h error. */
int retention_apply(struct influx *c, const struct retention_plan *p, bool force,
                    char err[ERR_MAX]);

/* Reads the retention and describes it against the client's
 * [influxdb] retention_days in line: 0 as configured, 1 differs, or a
 * negative error (line then holds its message). Shared by the retention
 * and check commands. */
int retention_check(struct influx *c, char *line, size_t cap);

#endif
