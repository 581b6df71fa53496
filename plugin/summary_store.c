/* SPDX-License-Identifier: MIT */
#include "tokenmeter/summary_store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tokenmeter/map.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

const char *const summary_count_names[SUMMARY_NCOUNTS] = {
    "requests",          "successful",          "failed",
    "input_tokens",      "cached_input_tokens", "cache_write_tokens",
    "output_tokens",     "reasoning_tokens",    "total_tokens",
    "unpriced_requests",
};

struct summary_store {
    sqlite3 *db;
};

/* ---- row sets ------------------------------------------------------- */

void summary_rows_init(struct summary_rows *rs)
{
    rs->items = NULL;
    rs->len = 0;
    rs->cap = 0;
    map_init(&rs->index);
}

static void summary_row_free_strings(struct summary_row *r)
{
    free(r->org);
    free(r->model);
    free(r->provider);
    free(r->team);
}

void summary_rows_free(struct summary_rows *rs)
{
    for (size_t i = 0; i < rs->len; i++)
        summary_row_free_strings(&rs->items[i]);
    free(rs->items);
    map_free(&rs->index);
    summary_rows_init(rs);
}

static uint64_t summary_key_hash(const char *day, const char *org, const char *model,
                                 const char *provider, const char *team)
{
    uint64_t h = map_hash_str(MAP_HASH_INIT, day);
    h = map_hash_str(h, org);
    h = map_hash_str(h, model);
    h = map_hash_str(h, provider);
    return map_hash_str(h, team);
}

static bool summary_row_is(const struct summary_row *r, const char *day, const char *org,
                           const char *model, const char *provider, const char *team)
{
    return strcmp(r->day, day) == 0 && strcmp(r->org, org) == 0 && strcmp(r->model, model) == 0 &&
           strcmp(r->provider, provider) == 0 && strcmp(r->team, team) == 0;
}

int summary_rows_get(struct summary_rows *rs, const char *day, const char *org, const char *model,
                     const char *provider, const char *team, struct summary_row **row)
{
    uint64_t h = summary_key_hash(day, org, model, provider, team);
    *row = NULL;
    for (size_t it = map_first(&rs->index, h), i; (i = map_next(&rs->index, h, &it)) != MAP_NONE;) {
        if (summary_row_is(&rs->items[i], day, org, model, provider, team)) {
            *row = &rs->items[i];
            return 0;
        }
    }
    if (vec_reserve(&rs->items, &rs->cap, rs->len + 1, sizeof(*rs->items)) < 0)
        return -ENOMEM;
    struct summary_row *r = &rs->items[rs->len];
    memset(r, 0, sizeof(*r));
    snprintf(r->day, sizeof(r->day), "%s", day);
    r->org = strdup(org);
    r->model = strdup(model);
    r->provider = strdup(provider);
    r->team = strdup(team);
    if (!r->org || !r->model || !r->provider || !r->team ||
        map_insert(&rs->index, h, rs->len) < 0) {
        summary_row_free_strings(r);
        return -ENOMEM;
    }
    rs->len++;
    *row = r;
    return 0;
}

static int summary_row_cmp(const void *a, const void *b)
{
    const struct summary_row *x = a, *y = b;
    int c = strcmp(x->day, y->day);
    if (!c)
        c = strcmp(x->org, y->org);
    if (!c)
        c = strcmp(x->team, y->team);
    if (!c)
        c = strcmp(x->model, y->model);
    if (!c)
        c = strcmp(x->provider, y->provider);
    return c;
}

void summary_rows_sort(struct summary_rows *rs)
{
    if (rs->len < 2)
        return;
    qsort(rs->items, rs->len, sizeof(rs->items[0]), summary_row_cmp);
    /* The rows moved: index them again. The map already has room for
     * rs->len entries, so these inserts cannot fail. */
    map_clear(&rs->index);
    for (size_t i = 0; i < rs->len; i++) {
        const struct summary_row *r = &rs->items[i];
        (void)map_insert(&rs->index,
                         summary_key_hash(r->day, r->org, r->model, r->provider, r->team), i);
    }
}

double summary_round_cost(double usd)
{
    return round(usd * 1e9) / 1e9;
}

/* ---- lock ----------------------------------------------------------- */

int summary_store_lock(const char *path, int wait_s, int *fd_out, char err[ERR_MAX])
{
    char lock[4096];
    *fd_out = -1;
    if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock))
        return err_set(err, -ENAMETOOLONG, "sqlite path too long");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        return err_set(err, -e, "%.300s: %s", lock, strerror(e));
    }
    for (int waited_ms = 0;; waited_ms += 100) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fd_out = fd;
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return err_set(err, -e, "%.300s: %s", lock, strerror(e));
        }
        if (waited_ms >= wait_s * 1000)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    close(fd);
    return err_set(err, -EAGAIN,
                   "another aggregate run holds %.300s (waited %d s); try again later", lock,
                   wait_s);
}

void summary_store_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}

/* ---- store ---------------------------------------------------------- */

static const char summary_schema[] =
    "CREATE TABLE daily_usage ("
    " day TEXT NOT NULL, timezone TEXT NOT NULL, org TEXT NOT NULL, model TEXT NOT NULL,"
    " provider TEXT NOT NULL, team TEXT NOT NULL DEFAULT '',"
    " requests INTEGER NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
    " input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,"
    " cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " reasoning_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,"
    " unpriced_requests INTEGER NOT NULL, cost_usd REAL NOT NULL, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (timezone, day, org, model, provider, team));"
    "CREATE TABLE aggregate_runs ("
    " id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,"
    " first_day TEXT NOT NULL, last_day TEXT NOT NULL, days INTEGER NOT NULL,"
    " timezone TEXT NOT NULL, rows INTEGER NOT NULL, source TEXT NOT NULL,"
    " outcome TEXT NOT NULL);"
    "PRAGMA user_version = 1;";

static int summary_fail(struct summary_store *s, const char *what, char err[ERR_MAX])
{
    return err_set(err, -EIO, "sqlite: %s: %s", what,
                   s && s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

static int summary_exec(struct summary_store *s, const char *sql, char err[ERR_MAX])
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return summary_fail(s, sql, err);
    return 0;
}

static int summary_user_version(struct summary_store *s, int *v, char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return summary_fail(s, "reading the schema version", err);
    }
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int summary_store_open(const char *path, bool readonly, struct summary_store **out,
                       char err[ERR_MAX])
{
    struct summary_store *s = calloc(1, sizeof(*s));
    int rc = -ENOMEM;
    int version = 0;
    *out = NULL;
    if (!s) {
        err_set(err, rc, "out of memory");
        goto out;
    }
    if (readonly && access(path, F_OK) < 0) {
        rc = err_set(err, -ENOENT, "%s: no summaries yet (run 'tokenmeter aggregate')", path);
        goto out;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = err_set(err, -EIO, "sqlite: %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 10000);
    rc = summary_user_version(s, &version, err);
    if (rc < 0)
        goto out;
    if (version > SUMMARY_STORE_SCHEMA) {
        rc = err_set(err, -EPROTO,
                     "%s: schema version %d is newer than this tokenmeter's (%d); upgrade "
                     "tokenmeter",
                     path, version, SUMMARY_STORE_SCHEMA);
        goto out;
    }
    if (version == 0 && readonly) {
        rc = err_set(err, -EPROTO, "%s: not a tokenmeter summary store", path);
        goto out;
    }
    if (version == 0) {
        rc = summary_exec(s, "BEGIN IMMEDIATE", err);
        if (rc == 0)
            rc = summary_exec(s, summary_schema, err);
        if (rc == 0)
            rc = summary_exec(s, "COMMIT", err);
        if (rc < 0) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    summary_store_close(s);
    return rc;
}

void summary_store_close(struct summary_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

static void summary_now(char out[32])
{
    timeutil_format_rfc3339(timeutil_now_ns(), out, 32);
}

int summary_store_replace(struct summary_store *s, const char *tz, const char *first_day,
                          const char *last_day, const struct summary_rows *rows, char err[ERR_MAX])
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    char now[32];
    int rc = summary_exec(s, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    summary_now(now);
    rc = -EIO;
    if (sqlite3_prepare_v2(
            s->db, "DELETE FROM daily_usage WHERE timezone = ?1 AND day >= ?2 AND day <= ?3", -1,
            &del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO daily_usage (day, timezone, org, model, provider, team,"
                           " requests, successful, failed, input_tokens, cached_input_tokens,"
                           " cache_write_tokens, output_tokens, reasoning_tokens, total_tokens,"
                           " unpriced_requests, cost_usd, updated_at) VALUES (?1, ?2, ?3, ?4, ?5,"
                           " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                           -1, &ins, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare", err);
        goto out;
    }
    sqlite3_bind_text(del, 1, tz, -1, SQLITE_STATIC);
    sqlite3_bind_text(del, 2, first_day, -1, SQLITE_STATIC);
    sqlite3_bind_text(del, 3, last_day, -1, SQLITE_STATIC);
    if (sqlite3_step(del) != SQLITE_DONE) {
        rc = summary_fail(s, "delete", err);
        goto out;
    }
    for (size_t i = 0; i < rows->len; i++) {
        const struct summary_row *r = &rows->items[i];
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, r->day, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, tz, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, r->org, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, r->provider, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, r->team, -1, SQLITE_STATIC);
        for (int k = 0; k < SUMMARY_NCOUNTS; k++)
            sqlite3_bind_int64(ins, 7 + k, r->counts[k]);
        sqlite3_bind_double(ins, 17, summary_round_cost(r->cost_usd));
        sqlite3_bind_text(ins, 18, now, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = summary_fail(s, "insert", err);
            goto out;
        }
    }
    rc = summary_exec(s, "COMMIT", err);
out:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    if (rc < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int summary_store_audit(struct summary_store *s, const struct summary_audit *a, char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    char started[32], finished[32];
    int rc = -EIO;
    timeutil_format_rfc3339(a->started_ns, started, sizeof(started));
    timeutil_format_rfc3339(a->finished_ns, finished, sizeof(finished));
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO aggregate_runs (started_at, finished_at, first_day,"
                           " last_day, days, timezone, rows, source, outcome)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare audit", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, started, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, finished, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->first_day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->last_day, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, a->days);
    sqlite3_bind_text(st, 6, a->tz, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, a->rows);
    sqlite3_bind_text(st, 8, a->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, a->outcome, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = summary_fail(s, "insert audit", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static const char *summary_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int summary_store_query(struct summary_store *s, const char *tz, const char *first_day,
                        const char *last_day, const char *org, struct summary_rows *out,
                        char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT day, org, model, provider, team, requests, successful, failed, input_tokens,"
            " cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,"
            " total_tokens, unpriced_requests, cost_usd, updated_at FROM daily_usage"
            " WHERE timezone = ?1 AND (?2 IS NULL OR day >= ?2) AND (?3 IS NULL OR day <= ?3)"
            " AND (?4 IS NULL OR org = ?4) ORDER BY day, org, team, model, provider",
            -1, &st, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare query", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, tz, -1, SQLITE_STATIC);
    if (first_day)
        sqlite3_bind_text(st, 2, first_day, -1, SQLITE_STATIC);
    if (last_day)
        sqlite3_bind_text(st, 3, last_day, -1, SQLITE_STATIC);
    if (org)
        sqlite3_bind_text(st, 4, org, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct summary_row *r = NULL;
        rc = summary_rows_get(out, summary_col_text(st, 0), summary_col_text(st, 1),
                              summary_col_text(st, 2), summary_col_text(st, 3),
                              summary_col_text(st, 4), &r);
        if (rc < 0) {
            err_set(err, rc, "out of memory");
            goto out;
        }
        for (int k = 0; k < SUMMARY_NCOUNTS; k++)
            r->counts[k] = sqlite3_column_int64(st, 5 + k);
        r->cost_usd = sqlite3_column_double(st, 15);
        snprintf(r->updated_at, sizeof(r->updated_at), "%s", summary_col_text(st, 16));
    }
    if (step != SQLITE_DONE) {
        rc = summary_fail(s, "query", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}
