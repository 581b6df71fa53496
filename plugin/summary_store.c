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
#include "tokenmeter/statedir.h"
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

#define SUMMARY_BUSY_MS 10000 /* how long a statement waits for another process's lock */

/* ---- row sets ------------------------------------------------------- */

void summary_store_rows_init(struct summary_rows *rs)
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

void summary_store_rows_free(struct summary_rows *rs)
{
    for (size_t i = 0; i < rs->len; i++)
        summary_row_free_strings(&rs->items[i]);
    free(rs->items);
    map_free(&rs->index);
    summary_store_rows_init(rs);
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

int summary_store_rows_get(struct summary_rows *rs, const char *day, const char *org,
                           const char *model, const char *provider, const char *team,
                           struct summary_row **row)
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

void summary_store_rows_sort(struct summary_rows *rs)
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

double summary_store_round_cost(double usd)
{
    return round(usd * 1e9) / 1e9;
}

/* ---- lock ----------------------------------------------------------- */

int summary_store_path_check(const char *path, char err[ERR_MAX])
{
    if (*path && strcmp(path, ":memory:") != 0)
        return 0;
    return err_set(err, -EINVAL,
                   "[aggregate] sqlite = \"%s\": must name a file (SQLite would keep the "
                   "summaries in memory and lose them at exit)",
                   path);
}

int summary_store_lock(const char *path, int wait_s, int *fd_out, char err[ERR_MAX])
{
    char lock[4096];
    *fd_out = -1;
    int rc = summary_store_path_check(path, err);
    if (rc < 0)
        return rc;
    if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock))
        return err_set(err, -ENAMETOOLONG, "sqlite path too long");
    int fd = statedir_open(lock, O_RDWR | O_CLOEXEC, 0640);
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

/* PRAGMA application_id of a tokenmeter store ("TkMS"): a SQLite file that
 * carries another one belongs to someone else. */
#define SUMMARY_APPLICATION_ID 0x546b4d53

static const char summary_schema_v1[] =
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
    " outcome TEXT NOT NULL);";

/* Version 2: the rows every replacement removed, by generation. */
static const char summary_schema_v2[] =
    "CREATE TABLE daily_usage_history ("
    " generation INTEGER NOT NULL, replaced_at TEXT NOT NULL,"
    " day TEXT NOT NULL, timezone TEXT NOT NULL, org TEXT NOT NULL, model TEXT NOT NULL,"
    " provider TEXT NOT NULL, team TEXT NOT NULL,"
    " requests INTEGER NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
    " input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,"
    " cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " reasoning_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,"
    " unpriced_requests INTEGER NOT NULL, cost_usd REAL NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX daily_usage_history_day ON daily_usage_history (timezone, day, generation);"
    "PRAGMA application_id = 1416318291;" /* SUMMARY_APPLICATION_ID */
    "PRAGMA user_version = 2;";

/* The counted columns, the columns daily_usage and its history share, and
 * what makes two rows of a day equal (updated_at aside). */
#define SUMMARY_COUNT_COLS                                                                         \
    "requests, successful, failed, input_tokens, cached_input_tokens, cache_write_tokens,"         \
    " output_tokens, reasoning_tokens, total_tokens, unpriced_requests, cost_usd"
#define SUMMARY_COLS     "day, timezone, org, model, provider, team, " SUMMARY_COUNT_COLS ", updated_at"
#define SUMMARY_CMP_COLS "day, org, model, provider, team, " SUMMARY_COUNT_COLS

/* SQLite's failure as an errno: a store another process holds is "try
 * again later" (-EAGAIN), anything else -EIO. */
static int summary_fail(struct summary_store *s, const char *what, char err[ERR_MAX])
{
    int code = s && s->db ? sqlite3_extended_errcode(s->db) & 0xff : SQLITE_CANTOPEN;
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return err_set(err, -EAGAIN,
                       "sqlite: %s: the store is locked by another process (still busy after "
                       "%d s); try again later",
                       what, SUMMARY_BUSY_MS / 1000);
    return err_set(err, -EIO, "sqlite: %s: %s", what,
                   s && s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

static int summary_exec(struct summary_store *s, const char *sql, char err[ERR_MAX])
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return summary_fail(s, sql, err);
    return 0;
}

/* One integer PRAGMA or single-value query. */
static int summary_int(struct summary_store *s, const char *sql, int64_t *v, char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        int rc = summary_fail(s, sql, err);
        sqlite3_finalize(st);
        return rc;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* Whose file this is: ours (any version), empty (a new store), or someone
 * else's, whose tables are never added to. */
static int summary_check_owner(struct summary_store *s, const char *path, int64_t version,
                               char err[ERR_MAX])
{
    int64_t app = 0, tables = 0, ours = 0;
    int rc = summary_int(s, "PRAGMA application_id", &app, err);
    if (rc == 0)
        rc = summary_int(s, "SELECT count(*) FROM sqlite_master", &tables, err);
    if (rc == 0)
        rc = summary_int(s,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                         " ('daily_usage', 'aggregate_runs')",
                         &ours, err);
    if (rc < 0)
        return rc;
    if (version > SUMMARY_STORE_SCHEMA)
        return err_set(err, -EPROTO,
                       "%s: schema version %lld is newer than this tokenmeter's (%d); upgrade "
                       "tokenmeter",
                       path, (long long)version, SUMMARY_STORE_SCHEMA);
    bool foreign = app != 0       ? app != SUMMARY_APPLICATION_ID
                   : version == 0 ? tables > 0
                                  : ours != 2; /* v1 had no id */
    if (foreign)
        return err_set(err, -EPROTO,
                       "%s: not a tokenmeter summary store (another application's SQLite file); "
                       "refusing to add tables to it: set [aggregate] sqlite to a file of its own",
                       path);
    return 0;
}

/* Brings a store of an older version (or a new empty file) to the current
 * schema in one transaction. */
static int summary_migrate(struct summary_store *s, int64_t version, char err[ERR_MAX])
{
    int rc = summary_exec(s, "BEGIN IMMEDIATE", err);
    if (rc == 0 && version < 1)
        rc = summary_exec(s, summary_schema_v1, err);
    if (rc == 0 && version < 2)
        rc = summary_exec(s, summary_schema_v2, err);
    if (rc == 0)
        rc = summary_exec(s, "COMMIT", err);
    if (rc < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int summary_store_open(const char *path, bool readonly, struct summary_store **out,
                       char err[ERR_MAX])
{
    struct summary_store *s = calloc(1, sizeof(*s));
    int rc = -ENOMEM;
    int64_t version = 0;
    *out = NULL;
    if (!s) {
        err_set(err, rc, "out of memory");
        goto out;
    }
    if ((rc = summary_store_path_check(path, err)) < 0)
        goto out;
    if (readonly && access(path, F_OK) < 0) {
        rc = err_set(err, -ENOENT, "%s: no summaries yet (run 'tokenmeter aggregate')", path);
        goto out;
    }
    /* SQLite would create the file 0644 less the umask, and its -wal and
     * -shm files alike: spend per organization readable by every local user
     * who can reach the directory (docs/operations.md has senders reach a
     * spool inside it). A new store is made 0640 first; SQLite gives the
     * -wal and -shm files the database file's mode. */
    if (!readonly) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd >= 0) {
            /* root's run: the service user's store (SQLite gives the -wal
             * and -shm files the database file's owner too) */
            statedir_adopt(fd, path);
            close(fd);
        }
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = err_set(err, -EIO, "sqlite: %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(s->db, SUMMARY_BUSY_MS);
    rc = summary_int(s, "PRAGMA user_version", &version, err);
    if (rc == -EIO && sqlite3_errcode(s->db) == SQLITE_NOTADB)
        rc = err_set(err, -EPROTO, "%s: not an SQLite database (is it the summary store?)", path);
    if (rc == 0)
        rc = summary_check_owner(s, path, version, err);
    if (rc < 0)
        goto out;
    if (version == 0 && readonly) {
        rc = err_set(err, -EPROTO, "%s: not a tokenmeter summary store", path);
        goto out;
    }
    if (!readonly) {
        /* WAL: a reader (report, a sqlite3 shell) holding a transaction
         * does not block the run's COMMIT. The mode stays with the file; a
         * file system without shared memory keeps the rollback journal. */
        sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        /* Keep the -wal and -shm files when the run closes the store: a
         * reader that may not write the directory (report as another
         * user) can open a WAL store only when they exist. */
        int persist = 1;
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        if (version < SUMMARY_STORE_SCHEMA && (rc = summary_migrate(s, version, err)) < 0)
            goto out;
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

static const char *summary_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void summary_now(char out[32])
{
    timeutil_format_rfc3339(timeutil_now_ns(), out, 32);
}

/* Per-day request totals of a row set, added to totals (keyed by day
 * alone) in counts[slot]. */
static int summary_day_totals(const struct summary_rows *rows, struct summary_rows *totals,
                              int slot)
{
    for (size_t i = 0; i < rows->len; i++) {
        struct summary_row *t = NULL;
        if (summary_store_rows_get(totals, rows->items[i].day, "", "", "", "", &t) < 0)
            return -ENOMEM;
        t->counts[slot] += rows->items[i].counts[SUMMARY_REQUESTS];
    }
    return 0;
}

int summary_store_rows_shrinks(const struct summary_rows *old, const struct summary_rows *repl,
                               char day[SUMMARY_DAY_LEN], int64_t *had, int64_t *got)
{
    struct summary_rows totals;
    int rc = 0;
    summary_store_rows_init(&totals);
    if (summary_day_totals(old, &totals, 0) < 0 || summary_day_totals(repl, &totals, 1) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    summary_store_rows_sort(&totals); /* the first such day, whatever the input order */
    for (size_t i = 0; i < totals.len; i++) {
        const struct summary_row *t = &totals.items[i];
        if (t->counts[1] < t->counts[0]) {
            snprintf(day, SUMMARY_DAY_LEN, "%s", t->day);
            *had = t->counts[0];
            *got = t->counts[1];
            rc = 1;
            break;
        }
    }
out:
    summary_store_rows_free(&totals);
    return rc;
}

/* Runs sql with ?1 = tz, ?2 = first day, ?3 = last day, ?4 = generation,
 * ?5 = now (those it uses). */
static int summary_run(struct summary_store *s, const char *sql, const char *tz, const char *first,
                       const char *last, int64_t gen, const char *now, char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, tz, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, first, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, last, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, gen);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = summary_fail(s, "statement", err);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Moves a copy of the rows of tz from first to last into the history as
 * generation gen. */
static int summary_keep(struct summary_store *s, const char *tz, const char *first,
                        const char *last, int64_t gen, const char *now, char err[ERR_MAX])
{
    return summary_run(s,
                       "INSERT INTO daily_usage_history (generation, replaced_at, " SUMMARY_COLS
                       ") SELECT ?4, ?5, " SUMMARY_COLS " FROM daily_usage"
                       " WHERE timezone = ?1 AND day >= ?2 AND day <= ?3",
                       tz, first, last, gen, now, err);
}

static int summary_insert_rows(struct summary_store *s, const char *tz,
                               const struct summary_rows *rows, const char *now, char err[ERR_MAX])
{
    sqlite3_stmt *ins = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO daily_usage (" SUMMARY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                           " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                           -1, &ins, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare", err);
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
        sqlite3_bind_double(ins, 17, summary_store_round_cost(r->cost_usd));
        sqlite3_bind_text(ins, 18, now, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = summary_fail(s, "insert", err);
            goto out;
        }
    }
out:
    sqlite3_finalize(ins);
    return rc;
}

static const char summary_delete_days[] =
    "DELETE FROM daily_usage WHERE timezone = ?1 AND day >= ?2 AND day <= ?3";

/* A day whose rows came back unchanged needs no history entry. */
static const char summary_drop_unchanged[] =
    "DELETE FROM daily_usage_history WHERE generation = ?4 AND day NOT IN ("
    " SELECT day FROM (SELECT " SUMMARY_CMP_COLS " FROM daily_usage_history WHERE generation = ?4"
    "  EXCEPT SELECT " SUMMARY_CMP_COLS " FROM daily_usage"
    "  WHERE timezone = ?1 AND day >= ?2 AND day <= ?3)"
    " UNION SELECT day FROM (SELECT " SUMMARY_CMP_COLS " FROM daily_usage"
    "  WHERE timezone = ?1 AND day >= ?2 AND day <= ?3"
    "  EXCEPT SELECT " SUMMARY_CMP_COLS " FROM daily_usage_history WHERE generation = ?4))";

static int summary_finish(struct summary_store *s, int rc, char err[ERR_MAX])
{
    if (rc == 0)
        rc = summary_exec(s, "COMMIT", err);
    if (rc < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int summary_store_replace(struct summary_store *s, const struct summary_replace *r,
                          const struct summary_rows *rows, int64_t *generation, char err[ERR_MAX])
{
    struct summary_rows old;
    char now[32], day[SUMMARY_DAY_LEN], cutoff[32] = "";
    int64_t gen = 0, had = 0, got = 0, kept = 0;
    *generation = 0;
    summary_store_rows_init(&old);
    int rc = summary_exec(s, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    summary_now(now);
    rc = summary_store_query(s, r->tz, r->first_day, r->last_day, NULL, &old, err);
    if (rc == 0 && !r->force &&
        (rc = summary_store_rows_shrinks(&old, rows, day, &had, &got)) != 0) {
        if (rc == -ENOMEM)
            err_set(err, rc, "out of memory");
        else
            rc = err_set(err, -EEXIST,
                         "%s (%s): the store holds %lld requests, the new summary %lld; the "
                         "stored rows are kept (the raw points expired, or this is another "
                         "database or policy?). --force replaces them; the replaced rows stay "
                         "in the history ('aggregate --restore DAY')",
                         day, r->tz, (long long)had, (long long)got);
    }
    if (rc == 0)
        rc = summary_int(s, "SELECT coalesce(max(generation), 0) + 1 FROM daily_usage_history",
                         &gen, err);
    if (rc == 0)
        rc = summary_keep(s, r->tz, r->first_day, r->last_day, gen, now, err);
    if (rc == 0)
        rc = summary_run(s, summary_delete_days, r->tz, r->first_day, r->last_day, gen, now, err);
    if (rc == 0)
        rc = summary_insert_rows(s, r->tz, rows, now, err);
    if (rc == 0)
        rc =
            summary_run(s, summary_drop_unchanged, r->tz, r->first_day, r->last_day, gen, now, err);
    if (rc == 0 && r->history_keep_s > 0) {
        timeutil_format_rfc3339(timeutil_now_ns() - r->history_keep_s * 1000000000, cutoff,
                                sizeof(cutoff));
        rc = summary_run(s, "DELETE FROM daily_usage_history WHERE replaced_at < ?5", r->tz,
                         r->first_day, r->last_day, gen, cutoff, err);
    }
    if (rc == 0) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM daily_usage_history WHERE generation = %lld",
                 (long long)gen);
        rc = summary_int(s, sql, &kept, err);
    }
    rc = summary_finish(s, rc, err);
    if (rc == 0 && kept > 0)
        *generation = gen;
out:
    summary_store_rows_free(&old);
    return rc;
}

int summary_store_restore(struct summary_store *s, const char *tz, const char *day,
                          int64_t *restored_gen, int64_t *nrows, char err[ERR_MAX])
{
    char now[32];
    int64_t gen = 0, next = 0;
    sqlite3_stmt *st = NULL;
    *restored_gen = 0;
    *nrows = 0;
    int rc = summary_exec(s, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    summary_now(now);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT coalesce(max(generation), 0), (SELECT coalesce(max(generation),"
                           " 0) + 1 FROM daily_usage_history) FROM daily_usage_history"
                           " WHERE timezone = ?1 AND day = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, tz, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = summary_fail(s, "history", err);
        goto out;
    }
    gen = sqlite3_column_int64(st, 0);
    next = sqlite3_column_int64(st, 1);
    if (gen == 0) {
        rc = err_set(err, -ENOENT, "%s (%s): no earlier rows in the history", day, tz);
        goto out;
    }
    /* The rows the restore displaces go to the history too: a second
     * restore undoes the first. */
    rc = summary_keep(s, tz, day, day, next, now, err);
    if (rc == 0)
        rc = summary_run(s, summary_delete_days, tz, day, day, next, now, err);
    if (rc == 0)
        rc = summary_run(s,
                         "INSERT INTO daily_usage (" SUMMARY_COLS ") SELECT day, timezone, org,"
                         " model, provider, team, " SUMMARY_COUNT_COLS ", ?5"
                         " FROM daily_usage_history WHERE generation = ?4 AND timezone = ?1"
                         " AND day = ?2",
                         tz, day, day, gen, now, err);
    if (rc == 0)
        *nrows = sqlite3_changes(s->db);
out:
    sqlite3_finalize(st);
    rc = summary_finish(s, rc, err);
    if (rc == 0)
        *restored_gen = gen;
    return rc;
}

int summary_store_last(struct summary_store *s, const char *tz, char day[SUMMARY_DAY_LEN],
                       char outcome[ERR_MAX], char finished[32], char err[ERR_MAX])
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    day[0] = outcome[0] = finished[0] = '\0';
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT max(day) FROM daily_usage WHERE timezone = ?1),"
                           " (SELECT outcome FROM aggregate_runs ORDER BY id DESC LIMIT 1),"
                           " (SELECT finished_at FROM aggregate_runs ORDER BY id DESC LIMIT 1)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = summary_fail(s, "prepare", err);
        goto out;
    }
    sqlite3_bind_text(st, 1, tz, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = summary_fail(s, "last run", err);
        goto out;
    }
    snprintf(day, SUMMARY_DAY_LEN, "%s", summary_col_text(st, 0));
    snprintf(outcome, ERR_MAX, "%s", summary_col_text(st, 1));
    snprintf(finished, 32, "%s", summary_col_text(st, 2));
out:
    sqlite3_finalize(st);
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
        rc = summary_store_rows_get(out, summary_col_text(st, 0), summary_col_text(st, 1),
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
