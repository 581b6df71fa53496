/* SPDX-License-Identifier: MIT */
/*
 * summary_store — the only user of SQLite: the daily summaries that
 * `tokenmeter aggregate` builds and `tokenmeter report` reads.
 *
 * Schema (PRAGMA user_version = SUMMARY_STORE_SCHEMA, application_id
 * "TkMS"; created on first use, older versions migrated when opened
 * read-write):
 *   daily_usage      one row per (day, timezone, org, model, provider, team)
 *                    with requests, successful, failed, the token sums,
 *                    cost_usd, unpriced_requests, updated_at; team is ''
 *                    when summaries are not split by team
 *   aggregate_runs   one row per aggregate run: started_at, finished_at,
 *                    first_day, last_day, days, timezone, rows, source
 *                    ("influx", "input" or "restore"), outcome ("ok" or
 *                    the error)
 *   daily_usage_history
 *                    the rows of daily_usage that a replacement (or a
 *                    restore) changed or removed, as they were, with the
 *                    replacement's generation and replaced_at
 * A store written by a newer schema is refused rather than misread, and a
 * SQLite file that belongs to another application (another application_id,
 * or tables of its own) is never added to.
 *
 * The store runs in WAL mode, so a reader holding a transaction does not
 * block a run's COMMIT; a statement waits up to 10 s for another writer,
 * then fails with -EAGAIN ("try again later").
 *
 * Runs are kept apart by an flock(2) on "<store>.lock" held for the whole
 * run (query included), so a second run waits, then gives up with -EAGAIN.
 */
#ifndef TOKENMETER_SUMMARY_STORE_H
#define TOKENMETER_SUMMARY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/err.h"
#include "tokenmeter/map.h"

#define SUMMARY_STORE_SCHEMA 2
#define SUMMARY_DAY_LEN      11 /* "YYYY-MM-DD" */

/* The counted columns of a row, in schema order. */
enum summary_count {
    SUMMARY_REQUESTS,
    SUMMARY_SUCCESSFUL,
    SUMMARY_FAILED,
    SUMMARY_INPUT_TOKENS,
    SUMMARY_CACHED_INPUT_TOKENS,
    SUMMARY_CACHE_WRITE_TOKENS,
    SUMMARY_OUTPUT_TOKENS,
    SUMMARY_REASONING_TOKENS,
    SUMMARY_TOTAL_TOKENS,
    SUMMARY_UNPRICED_REQUESTS,
    SUMMARY_NCOUNTS,
};

/* Column names of the counts, indexed by enum summary_count. */
extern const char *const summary_count_names[SUMMARY_NCOUNTS];

struct summary_row {
    char day[SUMMARY_DAY_LEN];
    char *org; /* owned by the row set, like model, provider and team */
    char *model;
    char *provider;
    char *team;
    int64_t counts[SUMMARY_NCOUNTS];
    double cost_usd;
    char updated_at[32]; /* filled by queries */
};

/* A set of rows, unique by (day, org, model, provider, team). */
struct summary_rows {
    struct summary_row *items; /* owned, with their strings */
    size_t len;
    size_t cap;
    struct map index; /* key hash -> position in items */
};

/* An empty set; allocates nothing. */
void summary_store_rows_init(struct summary_rows *rs);

/* Releases the rows and their strings; the set is empty and reusable
 * afterwards. */
void summary_store_rows_free(struct summary_rows *rs);

/* Finds the row with this key, adding it (zeroed, strings copied) when
 * missing. Returns 0 with the row in *row (borrowed: valid until the next
 * add or sort), or -ENOMEM (*row NULL, the set unchanged). */
int summary_store_rows_get(struct summary_rows *rs, const char *day, const char *org,
                           const char *model, const char *provider, const char *team,
                           struct summary_row **row);

/* Sorts by day, org, team, model, provider; lookups keep working. */
void summary_store_rows_sort(struct summary_rows *rs);

/* Whether replacing old by repl would leave a day with fewer requests
 * (both borrowed; a day missing from repl has none): returns 1 with the
 * first such day and its totals in day, *had and *got, 0 when no day
 * shrinks, or -ENOMEM. */
int summary_store_rows_shrinks(const struct summary_rows *old, const struct summary_rows *repl,
                               char day[SUMMARY_DAY_LEN], int64_t *had, int64_t *got);

/* Rounds cost to 1e-9 USD: InfluxDB and the --input path add floats in
 * different orders, and rounding makes both give the same stored value. */
double summary_store_round_cost(double usd);

/* SQLite takes "" and ":memory:" as a store that vanishes at close: a run
 * would report success and keep nothing. Returns 0, or -EINVAL with err
 * set for those (summary_store_lock() and summary_store_open() refuse
 * them too). */
int summary_store_path_check(const char *path, char err[ERR_MAX]);

/* Takes the run lock for the store at path: waits up to wait_s seconds.
 * Returns 0 with the lock's descriptor in *fd (release with
 * summary_store_unlock()), -EAGAIN when another run still holds it, or
 * another negative errno (err set). */
int summary_store_lock(const char *path, int wait_s, int *fd, char err[ERR_MAX]);
/* Releases the lock taken by summary_store_lock(); accepts -1. */
void summary_store_unlock(int fd);

struct summary_store;

/* Opens (read-write: creating file and schema when missing, migrating an
 * older schema; read-only: -ENOENT when missing) the store. Returns 0 with
 * a new store in *out (close with summary_store_close()), or a negative
 * errno with err set: -EPROTO for a newer schema or a file that is not a
 * tokenmeter store, -EAGAIN when it stays locked, -EIO. */
int summary_store_open(const char *path, bool readonly, struct summary_store **out,
                       char err[ERR_MAX]);
/* Closes the store; accepts NULL. */
void summary_store_close(struct summary_store *s);

/* What summary_store_replace() replaces, and how. Strings borrowed. */
struct summary_replace {
    const char *tz;
    const char *first_day;  /* inclusive */
    const char *last_day;   /* inclusive */
    bool force;             /* replace even when a day would lose requests */
    int64_t history_keep_s; /* history entries older than this are pruned; 0 keeps all */
};

/* Replaces every row of r->tz from r->first_day to r->last_day by rows
 * (borrowed), in one transaction: on failure the previous rows stay. The
 * days whose rows change keep their previous rows in the history under a
 * new generation (*generation; 0 when nothing changed). Unless r->force, a
 * replacement that would leave any day with fewer requests than stored is
 * refused with -EEXIST (err names the day and both totals). Returns 0,
 * -EEXIST, -EAGAIN (the store is busy), -EIO or -ENOMEM (err set). */
int summary_store_replace(struct summary_store *s, const struct summary_replace *r,
                          const struct summary_rows *rows, int64_t *generation, char err[ERR_MAX]);

/* Puts back the rows of `day` (tz) that the newest history generation
 * holding that day had, in one transaction; the rows it displaces go to
 * the history as a new generation, so a second restore undoes the first.
 * Returns 0 with that generation in *restored_gen and the rows put back
 * in *nrows, -ENOENT (no history for the day), -EAGAIN or -EIO (err set). */
int summary_store_restore(struct summary_store *s, const char *tz, const char *day,
                          int64_t *restored_gen, int64_t *nrows, char err[ERR_MAX]);

/* The newest day stored for tz, and the outcome and finish time of the
 * last recorded run (each "" when there is none), into the caller's
 * buffers. Returns 0 or -EIO / -EAGAIN (err set). */
int summary_store_last(struct summary_store *s, const char *tz, char day[SUMMARY_DAY_LEN],
                       char outcome[ERR_MAX], char finished[32], char err[ERR_MAX]);

struct summary_audit {
    int64_t started_ns;
    int64_t finished_ns;
    const char *first_day;
    const char *last_day;
    int days;
    const char *tz;
    int64_t rows;
    const char *source;  /* "influx", "input" or "restore" */
    const char *outcome; /* "ok" or the error */
};

/* Records one run in aggregate_runs (a and its strings borrowed). Returns 0,
 * -EAGAIN (busy) or -EIO (err set). */
int summary_store_audit(struct summary_store *s, const struct summary_audit *a, char err[ERR_MAX]);

/* Rows of tz between first_day and last_day (NULL: unbounded), of org when
 * org is not NULL, added to the caller's out in sorted order. Returns 0,
 * -EIO or -ENOMEM (err set). */
int summary_store_query(struct summary_store *s, const char *tz, const char *first_day,
                        const char *last_day, const char *org, struct summary_rows *out,
                        char err[ERR_MAX]);

#endif
