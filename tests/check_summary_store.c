/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runbin.h"
#include "testutil.h"
#include "tokenmeter/summary_store.h"

static char tmp[64], db[128], lock[140];

static void setup(void)
{
    tu_tmpdir(tmp, sizeof(tmp));
    snprintf(db, sizeof(db), "%s/s.sqlite", tmp);
    snprintf(lock, sizeof(lock), "%s.lock", db);
}

static void teardown(void)
{
    char side[160];
    unlink(db);
    unlink(lock);
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
    rmdir(tmp);
}

static char last_err[ERR_MAX];

static int replace_days(struct summary_store *s, const char *tz, const char *first,
                        const char *last, const struct summary_rows *rows, bool force)
{
    struct summary_replace r = {tz, first, last, force, 0};
    int64_t gen = 0;
    return summary_store_replace(s, &r, rows, &gen, last_err);
}

static struct summary_row *row(struct summary_rows *rs, const char *day, const char *org,
                               const char *model, int64_t requests, double cost)
{
    struct summary_row *r = NULL;
    ck_assert_int_eq(summary_store_rows_get(rs, day, org, model, "openai", "", &r), 0);
    ck_assert_ptr_nonnull(r);
    r->counts[SUMMARY_REQUESTS] += requests;
    r->counts[SUMMARY_SUCCESSFUL] += requests;
    r->counts[SUMMARY_INPUT_TOKENS] += 100 * requests;
    r->cost_usd += cost;
    return r;
}

START_TEST(row_sets)
{
    struct summary_rows rs;
    summary_store_rows_init(&rs);
    char org[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(org, sizeof(org), "org%03d", 999 - i);
        row(&rs, "2026-08-25", org, "m", 1, 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(org, sizeof(org), "org%03d", i);
        row(&rs, "2026-08-25", org, "m", 2, 0); /* the same keys: no new rows */
    }
    ck_assert_uint_eq(rs.len, 1000);
    summary_store_rows_sort(&rs);
    ck_assert_str_eq(rs.items[0].org, "org000");
    ck_assert_int_eq(rs.items[0].counts[SUMMARY_REQUESTS], 3);
    /* lookups still work after sorting */
    struct summary_row *r = NULL;
    ck_assert_int_eq(summary_store_rows_get(&rs, "2026-08-25", "org500", "m", "openai", "", &r), 0);
    ck_assert_ptr_eq(r, &rs.items[500]);
    ck_assert_uint_eq(rs.len, 1000);
    /* keys that only concatenate alike are different rows */
    ck_assert_int_eq(summary_store_rows_get(&rs, "2026-08-25", "ab", "c", "p", "", &r), 0);
    ck_assert_int_eq(summary_store_rows_get(&rs, "2026-08-25", "a", "bc", "p", "", &r), 0);
    ck_assert_uint_eq(rs.len, 1002);
    /* the team is part of the key */
    ck_assert_int_eq(summary_store_rows_get(&rs, "2026-08-25", "a", "bc", "p", "t", &r), 0);
    ck_assert_uint_eq(rs.len, 1003);
    ck_assert_str_eq(r->team, "t");
    summary_store_rows_free(&rs);
    ck_assert(summary_store_round_cost(0.1 + 0.2) == 0.3);
    ck_assert(summary_store_round_cost(1.0000000004) == 1.0);
}
END_TEST

START_TEST(schema_replace_query)
{
    char err[ERR_MAX];
    struct summary_store *s = NULL;
    struct summary_rows in, out;
    summary_store_rows_init(&in);
    summary_store_rows_init(&out);
    ck_assert_int_eq(summary_store_open(db, true, &s, err), -ENOENT); /* read-only never creates */
    ck_assert_int_ne(access(db, F_OK), 0);
    ck_assert_int_eq(summary_store_open(db, false, &s, err), 0);
    row(&in, "2026-08-24", "acme", "m1", 1, 0.5);
    row(&in, "2026-08-25", "acme", "m1", 2, 0.25);
    /* values from webhooks reach SQL only as bound parameters */
    row(&in, "2026-08-25", "x'); DROP TABLE daily_usage; --", "m2", 4, 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &in, false), 0);
    ck_assert_int_eq(summary_store_query(s, "UTC", NULL, NULL, NULL, &out, err), 0);
    ck_assert_uint_eq(out.len, 3);
    ck_assert_str_eq(out.items[2].org, "x'); DROP TABLE daily_usage; --");
    ck_assert_int_eq(out.items[1].counts[SUMMARY_INPUT_TOKENS], 200);
    ck_assert(out.items[0].cost_usd == 0.5);
    ck_assert_int_ne(out.items[0].updated_at[0], '\0');
    summary_store_rows_free(&out);

    /* Replacing one day leaves the other day and other zones alone. */
    summary_store_rows_free(&in);
    row(&in, "2026-08-25", "globex", "m3", 9, 1.0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-25", "2026-08-25", &in, false), 0);
    ck_assert_int_eq(replace_days(s, "Europe/Berlin", "2026-08-25", "2026-08-25", &in, false), 0);
    ck_assert_int_eq(summary_store_query(s, "UTC", NULL, NULL, NULL, &out, err), 0);
    ck_assert_uint_eq(out.len, 2);
    ck_assert_str_eq(out.items[0].day, "2026-08-24");
    ck_assert_str_eq(out.items[1].org, "globex");
    summary_store_rows_free(&out);
    ck_assert_int_eq(summary_store_query(s, "UTC", "2026-08-25", "2026-08-25", "globex", &out, err),
                     0);
    ck_assert_uint_eq(out.len, 1);
    summary_store_rows_free(&out);
    ck_assert_int_eq(summary_store_query(s, "UTC", NULL, NULL, "nobody", &out, err), 0);
    ck_assert_uint_eq(out.len, 0);

    struct summary_audit a = {1, 2, "2026-08-25", "2026-08-25", 1, "UTC", 1, "influx", "ok"};
    ck_assert_int_eq(summary_store_audit(s, &a, err), 0);
    ck_assert_int_eq(summary_store_audit(s, &a, err), 0);
    summary_store_close(s);
    summary_store_rows_free(&in);
    summary_store_rows_free(&out);

    /* The audit table holds both runs; the schema is versioned. */
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(raw,
                                        "SELECT (SELECT count(*) FROM aggregate_runs),"
                                        " (SELECT user_version FROM pragma_user_version)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
    ck_assert_int_eq(sqlite3_column_int(st, 1), SUMMARY_STORE_SCHEMA);
    sqlite3_finalize(st);
    /* A store from a newer tokenmeter is refused, not misread. */
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(summary_store_open(db, false, &s, err), -EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
}
END_TEST

START_TEST(not_a_store)
{
    char err[ERR_MAX];
    struct summary_store *s = NULL;
    tu_write_file(db, "this is not sqlite, just text that is long enough to be a header......");
    ck_assert_int_eq(summary_store_open(db, false, &s, err), -EPROTO);
    ck_assert_ptr_null(s);
    /* the message names the file the operator gave */
    ck_assert_ptr_nonnull(strstr(err, db));
    ck_assert_ptr_nonnull(strstr(err, "not an SQLite database"));
    ck_assert_int_eq(summary_store_open(db, true, &s, err), -EPROTO);
}
END_TEST

START_TEST(run_lock)
{
    char err[ERR_MAX];
    int a = -1, b = -1;
    ck_assert_int_eq(summary_store_lock(db, 0, &a, err), 0);
    /* flock conflicts between two open file descriptions, even in one
     * process: the second run waits (here 0 s), then gives up. */
    ck_assert_int_eq(summary_store_lock(db, 0, &b, err), -EAGAIN);
    ck_assert_ptr_nonnull(strstr(err, "another aggregate run"));
    ck_assert_int_eq(b, -1);
    summary_store_unlock(a);
    ck_assert_int_eq(summary_store_lock(db, 0, &b, err), 0);
    summary_store_unlock(b);
    summary_store_unlock(-1);
    ck_assert_int_lt(summary_store_lock("/nonexistent-dir/x.sqlite", 0, &a, err), 0);
}
END_TEST

/* report --format json reads the store back: every key, and each cost
 * exactly as stored, however many digits it needs. */
START_TEST(report_json)
{
    char err[ERR_MAX], out[200];
    struct summary_store *s = NULL;
    struct summary_rows in;
    struct summary_row *r = NULL;
    snprintf(out, sizeof(out), "%s/out.json", tmp);
    summary_store_rows_init(&in);
    ck_assert_int_eq(summary_store_open(db, false, &s, err), 0);
    row(&in, "2026-08-24", "acme", "m1", 1, 0.1 + 0.2);
    row(&in, "2026-08-24", "a\"c\\m\ne", "m1", 2, 1e-7);
    row(&in, "2026-08-25", "acme", "m2", 3, 2.0);
    row(&in, "2026-08-25", "bad\xff utf-8 \xc3\xa9", "m2", 4, 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &in, false), 0);

    const char *args[] = {"report", "--sqlite", db, "--format", "json", NULL};
    ck_assert_int_eq(rb_run(args, NULL, out, NULL), 0);
    char *text = tu_read_file(out);
    ck_assert_ptr_nonnull(text);
    /* the usual costs print short, not as 0.29999999999999999 */
    ck_assert_msg(strstr(text, "\"cost_usd\":0.3}"), "%s", text);
    ck_assert_msg(strstr(text, "{\"timezone\":\"UTC\",\"rows\":[{\"day\":\"2026-08-24\",\"org\":"),
                  "%s", text);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", jerr.text, text);
    json_t *rows = json_object_get(doc, "rows");
    ck_assert_uint_eq(json_array_size(rows), 4);
    ck_assert_ptr_null(json_object_get(json_array_get(rows, 0), "team")); /* no teams */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "org")),
                     "a\"c\\m\ne");
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 0), "cost_usd")) == 1e-7);
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 1), "cost_usd")) == 0.3);
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 2), "cost_usd")) == 2.0);
    /* not UTF-8: JSON cannot carry it, so its non-ASCII bytes become '?' */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 3), "org")),
                     "bad? utf-8 ??");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rows, 3), "input_tokens")),
                     400);
    json_t *totals = json_object_get(doc, "totals");
    ck_assert_int_eq(json_integer_value(json_object_get(totals, "requests")), 10);
    ck_assert_ptr_null(json_object_get(totals, "day"));
    ck_assert(json_real_value(json_object_get(totals, "cost_usd")) ==
              summary_store_round_cost(0.3 + 1e-7 + 2.0));
    ck_assert_ptr_null(json_object_get(doc, "org"));
    json_decref(doc);
    free(text);

    /* A cost that needs 17 digits, teams, and --org. */
    summary_store_rows_free(&in);
    ck_assert_int_eq(summary_store_rows_get(&in, "2026-08-25", "acme", "m", "p", "red", &r), 0);
    r->cost_usd = 32956212.316547953;
    /* fewer requests than stored: only with force */
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-25", "2026-08-25", &in, false), -EEXIST);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-25", "2026-08-25", &in, true), 0);
    summary_store_close(s);
    summary_store_rows_free(&in);
    const char *args2[] = {"report", "--sqlite", db, "--format", "json", "--org", "acme", NULL};
    ck_assert_int_eq(rb_run(args2, NULL, out, NULL), 0);
    doc = json_load_file(out, 0, &jerr);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "org")), "acme");
    rows = json_object_get(doc, "rows");
    ck_assert_uint_eq(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_ptr_nonnull(json_object_get(json_array_get(rows, i), "team"));
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 0), "cost_usd")) == 0.3);
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 1), "cost_usd")) ==
              32956212.316547953);
    json_decref(doc);
    unlink(out);
}
END_TEST

static int64_t day_requests(struct summary_store *s, const char *day)
{
    struct summary_rows out;
    int64_t n = 0;
    summary_store_rows_init(&out);
    ck_assert_int_eq(summary_store_query(s, "UTC", day, day, NULL, &out, last_err), 0);
    for (size_t i = 0; i < out.len; i++)
        n += out.items[i].counts[SUMMARY_REQUESTS];
    summary_store_rows_free(&out);
    return n;
}

static int64_t sql_int(const char *sql)
{
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return v;
}

/* The pure guard: per-day request totals, a missing day counts as none. */
START_TEST(shrink_guard)
{
    struct summary_rows old, repl;
    char day[SUMMARY_DAY_LEN];
    int64_t had = 0, got = 0;
    summary_store_rows_init(&old);
    summary_store_rows_init(&repl);
    row(&old, "2026-08-24", "acme", "m1", 5, 0);
    row(&old, "2026-08-25", "acme", "m1", 3, 0);
    row(&old, "2026-08-25", "globex", "m1", 2, 0);
    /* more, the same, or spread over other rows: no shrink */
    row(&repl, "2026-08-24", "acme", "m1", 6, 0);
    row(&repl, "2026-08-25", "initech", "m9", 5, 0);
    ck_assert_int_eq(summary_store_rows_shrinks(&old, &repl, day, &had, &got), 0);
    summary_store_rows_free(&repl);
    /* a day with nothing (expired raw points) */
    row(&repl, "2026-08-24", "acme", "m1", 5, 0);
    ck_assert_int_eq(summary_store_rows_shrinks(&old, &repl, day, &had, &got), 1);
    ck_assert_str_eq(day, "2026-08-25");
    ck_assert_int_eq(had, 5);
    ck_assert_int_eq(got, 0);
    /* a day with fewer */
    row(&repl, "2026-08-25", "acme", "m1", 4, 0);
    ck_assert_int_eq(summary_store_rows_shrinks(&old, &repl, day, &had, &got), 1);
    ck_assert_int_eq(got, 4);
    summary_store_rows_free(&old);
    summary_store_rows_free(&repl);
}
END_TEST

/* Expired raw points give an empty summary: the stored day survives, and
 * a forced replacement can be undone from the history. */
START_TEST(history_restore)
{
    struct summary_store *s = NULL;
    struct summary_rows in, none;
    int64_t gen = 0, n = 0;
    summary_store_rows_init(&in);
    summary_store_rows_init(&none);
    ck_assert_int_eq(summary_store_open(db, false, &s, last_err), 0);
    row(&in, "2026-08-24", "acme", "m1", 7, 0.5);
    row(&in, "2026-08-25", "acme", "m1", 3, 0.25);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &in, false), 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &none, false), -EEXIST);
    ck_assert_ptr_nonnull(strstr(last_err, "2026-08-24 (UTC): the store holds 7 requests"));
    ck_assert_int_eq(day_requests(s, "2026-08-24"), 7);
    /* the same rows again change nothing and keep no history */
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &in, false), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM daily_usage_history"), 0);
    /* nothing to restore yet */
    ck_assert_int_eq(summary_store_restore(s, "UTC", "2026-08-24", &gen, &n, last_err), -ENOENT);
    /* forced: erased, but kept */
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-25", &none, true), 0);
    ck_assert_int_eq(day_requests(s, "2026-08-24"), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM daily_usage_history"), 2);
    ck_assert_int_eq(summary_store_restore(s, "UTC", "2026-08-24", &gen, &n, last_err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(day_requests(s, "2026-08-24"), 7);
    ck_assert_int_eq(day_requests(s, "2026-08-25"), 0); /* one day at a time */
    ck_assert_int_eq(summary_store_restore(s, "UTC", "2026-08-25", &gen, &n, last_err), 0);
    ck_assert_int_eq(day_requests(s, "2026-08-25"), 3);
    /* a second restore of a day undoes the first (the rows it displaced
     * went to the history) */
    summary_store_rows_free(&in);
    row(&in, "2026-08-25", "acme", "m1", 1, 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-25", "2026-08-25", &in, true), 0);
    ck_assert_int_eq(summary_store_restore(s, "UTC", "2026-08-25", &gen, &n, last_err), 0);
    ck_assert_int_eq(day_requests(s, "2026-08-25"), 3);
    ck_assert_int_eq(summary_store_restore(s, "UTC", "2026-08-25", &gen, &n, last_err), 0);
    ck_assert_int_eq(day_requests(s, "2026-08-25"), 1);
    /* another zone has no history */
    ck_assert_int_eq(summary_store_restore(s, "Europe/Berlin", "2026-08-25", &gen, &n, last_err),
                     -ENOENT);

    char day[SUMMARY_DAY_LEN], outcome[ERR_MAX], finished[32];
    ck_assert_int_eq(summary_store_last(s, "UTC", day, outcome, finished, last_err), 0);
    ck_assert_str_eq(day, "2026-08-25");
    ck_assert_str_eq(outcome, "");
    summary_store_close(s);
    summary_store_rows_free(&in);
}
END_TEST

/* Another application's SQLite file gets no tables of ours; a version 1
 * store (no history, no application_id) is migrated. */
START_TEST(foreign_and_v1)
{
    struct summary_store *s = NULL;
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE invoices (id INTEGER)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(summary_store_open(db, false, &s, last_err), -EPROTO);
    ck_assert_ptr_nonnull(strstr(last_err, "not a tokenmeter summary store"));
    ck_assert_int_eq(sql_int("SELECT count(*) FROM sqlite_master"), 1);
    unlink(db);

    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA application_id = 42", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(summary_store_open(db, false, &s, last_err), -EPROTO);
    unlink(db);

    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(raw,
                     "CREATE TABLE daily_usage (day TEXT, timezone TEXT, org TEXT, model TEXT,"
                     " provider TEXT, team TEXT, requests INTEGER, successful INTEGER,"
                     " failed INTEGER, input_tokens INTEGER, cached_input_tokens INTEGER,"
                     " cache_write_tokens INTEGER, output_tokens INTEGER, reasoning_tokens"
                     " INTEGER, total_tokens INTEGER, unpriced_requests INTEGER, cost_usd REAL,"
                     " updated_at TEXT);"
                     "CREATE TABLE aggregate_runs (id INTEGER PRIMARY KEY, started_at TEXT,"
                     " finished_at TEXT, first_day TEXT, last_day TEXT, days INTEGER,"
                     " timezone TEXT, rows INTEGER, source TEXT, outcome TEXT);"
                     "INSERT INTO daily_usage VALUES ('2026-08-24', 'UTC', 'acme', 'm', 'p', '',"
                     " 4, 4, 0, 1, 0, 0, 1, 0, 2, 0, 0.5, 'x');"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(summary_store_open(db, false, &s, last_err), 0);
    ck_assert_int_eq(day_requests(s, "2026-08-24"), 4);
    summary_store_close(s);
    ck_assert_int_eq(sql_int("PRAGMA user_version"), SUMMARY_STORE_SCHEMA);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM daily_usage_history"), 0);
}
END_TEST

/* A reader holding a transaction does not block a replacement (WAL); a
 * writer that holds the store past the busy timeout is -EAGAIN. */
START_TEST(busy_store)
{
    struct summary_store *s = NULL;
    struct summary_rows in;
    sqlite3 *reader = NULL;
    summary_store_rows_init(&in);
    ck_assert_int_eq(summary_store_open(db, false, &s, last_err), 0);
    row(&in, "2026-08-24", "acme", "m1", 1, 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-24", &in, false), 0);
    ck_assert_int_eq(sqlite3_open(db, &reader), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM daily_usage;", NULL, NULL, NULL),
        SQLITE_OK);
    row(&in, "2026-08-24", "acme", "m1", 1, 0);
    ck_assert_int_eq(replace_days(s, "UTC", "2026-08-24", "2026-08-24", &in, false), 0);
    struct summary_audit a = {1, 2, "2026-08-24", "2026-08-24", 1, "UTC", 1, "influx", "ok"};
    ck_assert_int_eq(summary_store_audit(s, &a, last_err), 0);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    summary_store_close(s);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM aggregate_runs"), 1);
    summary_store_rows_free(&in);
}
END_TEST

Suite *check_summary_store_suite(void);
Suite *check_summary_store_suite(void)
{
    Suite *s = suite_create("summary_store");
    TCase *t = tcase_create("summary_store");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, row_sets);
    tcase_add_test(t, schema_replace_query);
    tcase_add_test(t, not_a_store);
    tcase_add_test(t, run_lock);
    tcase_add_test(t, report_json);
    tcase_add_test(t, shrink_guard);
    tcase_add_test(t, history_restore);
    tcase_add_test(t, foreign_and_v1);
    tcase_add_test(t, busy_store);
    suite_add_tcase(s, t);
    return s;
}
