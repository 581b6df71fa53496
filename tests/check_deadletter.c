/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/deadletter.h"

static char dir[64];
static char path[128];

static struct deadletter *open_dl(void)
{
    char err[ERR_MAX];
    struct deadletter *dl = NULL;
    ck_assert_msg(deadletter_open(path, &dl, err) == 0, "%s", err);
    ck_assert_ptr_nonnull(dl);
    return dl;
}

static struct deadletter_reader *open_reader(void)
{
    char err[ERR_MAX];
    struct deadletter_reader *r = NULL;
    ck_assert_msg(deadletter_reader_open(path, &r, err) == 0, "%s", err);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void setup(void)
{
    tu_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/dl.ndjson", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

START_TEST(text_and_binary_roundtrip_byte_exact)
{
    char err[ERR_MAX];
    struct deadletter *dl = open_dl();
    const char text[] = "{\"a\":\"quote\\\" tab\t ctl\x01 é\"}";
    const char bin[] = {'{', '\xff', '\0', '\n', '}'};
    ck_assert_int_eq(deadletter_write(dl, "bad \"json\"", "stdin:1", text, strlen(text)), 0);
    ck_assert_int_eq(deadletter_write(dl, "not utf-8", NULL, bin, sizeof(bin)), 0);
    deadletter_close(dl);
    char *all = tu_read_file(path);
    ck_assert_int_eq(tu_count(all, "\n"), 2); /* one line per record */
    ck_assert_ptr_nonnull(strstr(all, "\"raw\":"));
    ck_assert_ptr_nonnull(strstr(all, "\"raw_base64\":\"e/8ACn0=\""));
    ck_assert_ptr_nonnull(strstr(all, "\"origin\":\"stdin:1\""));
    free(all);

    struct deadletter_reader *r = open_reader();
    struct buf raw, reason;
    buf_init(&raw, 1 << 20);
    buf_init(&reason, 4096);
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
    ck_assert_uint_eq(raw.len, strlen(text));
    ck_assert_mem_eq(raw.data, text, raw.len);
    ck_assert_str_eq(reason.data, "bad \"json\"");
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
    ck_assert_uint_eq(raw.len, sizeof(bin));
    ck_assert_mem_eq(raw.data, bin, sizeof(bin));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 0);
    deadletter_reader_close(r);
    buf_free(&raw);
    buf_free(&reason);
}
END_TEST

START_TEST(streamed_record)
{
    char err[ERR_MAX];
    struct deadletter *dl = open_dl();
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    struct deadletter_stream *st = NULL;
    ck_assert_int_eq(deadletter_stream_begin(dl, "too big", "stdin:9", &st), 0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(deadletter_stream_append(st, chunk, (size_t)(100 + i)), 0);
    ck_assert_int_eq(deadletter_stream_end(dl, st), 0);
    deadletter_close(dl);
    struct deadletter_reader *r = open_reader();
    struct buf raw, reason;
    buf_init(&raw, 1 << 20);
    buf_init(&reason, 4096);
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
    ck_assert_uint_eq(raw.len, 7 * 100 + 21);
    ck_assert_int_eq(raw.data[0], 'x');
    ck_assert_str_eq(reason.data, "too big");
    deadletter_reader_close(r);
    buf_free(&raw);
    buf_free(&reason);
}
END_TEST

/* Records written while streamed ones are still open (a spool file
 * rejected while a huge stdin line arrives; two huge bodies at once) must
 * not land inside them. */
START_TEST(streamed_records_are_not_interleaved)
{
    char err[ERR_MAX];
    struct deadletter *dl = open_dl();
    struct deadletter_stream *a = NULL, *b = NULL, *cut = NULL;
    ck_assert_int_eq(deadletter_stream_begin(dl, "big", "stdin:1", &a), 0);
    ck_assert_int_eq(deadletter_stream_append(a, "abc", 3), 0);
    ck_assert_int_eq(deadletter_write(dl, "small", "spool:x", "{}", 2), 0);
    ck_assert_int_eq(deadletter_stream_begin(dl, "other", "spool:y", &b), 0);
    ck_assert_int_eq(deadletter_stream_append(b, "123", 3), 0);
    ck_assert_int_eq(deadletter_stream_append(a, "def", 3), 0);
    ck_assert_int_eq(deadletter_stream_end(dl, b), 0);
    ck_assert_int_eq(deadletter_stream_end(dl, a), 0);
    /* an abandoned stream leaves nothing behind */
    ck_assert_int_eq(deadletter_stream_begin(dl, "cut", "stdin:2", &cut), 0);
    ck_assert_int_eq(deadletter_stream_append(cut, "xyz", 3), 0);
    deadletter_stream_free(cut);
    deadletter_stream_free(NULL);
    deadletter_close(dl);
    struct deadletter_reader *r = open_reader();
    struct buf raw, reason;
    buf_init(&raw, 1024);
    buf_init(&reason, 1024);
    static const char *const want[][2] = {{"small", "{}"}, {"other", "123"}, {"big", "abcdef"}};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
        ck_assert_str_eq(reason.data, want[i][0]);
        ck_assert_str_eq(raw.data, want[i][1]);
    }
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 0);
    deadletter_reader_close(r);
    buf_free(&raw);
    buf_free(&reason);
    /* no partial files were left next to the dead-letter file */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -q partial", dir);
    ck_assert_int_ne(system(cmd), 0);
}
END_TEST

START_TEST(malformed_records_and_open_errors)
{
    char err[ERR_MAX];
    tu_write_file(path,
                  "not json\n{\"reason\":\"x\"}\n{\"raw_base64\":\"!!\"}\n\n{\"raw\":\"ok\"}\n");
    struct deadletter_reader *r = open_reader();
    struct buf raw, reason;
    buf_init(&raw, 1024);
    buf_init(&reason, 1024);
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "neither raw nor raw_base64"));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not valid base64"));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
    ck_assert_str_eq(raw.data, "ok");
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 0);
    deadletter_reader_close(r);
    buf_free(&raw);
    buf_free(&reason);
    struct deadletter *dl = NULL;
    ck_assert_int_eq(deadletter_open("/nonexistent-dir/dl.ndjson", &dl, err), -ENOENT);
    ck_assert_ptr_null(dl);
    ck_assert_ptr_nonnull(strstr(err, "cannot open dead-letter file /nonexistent-dir/dl.ndjson"));
    ck_assert_int_eq(deadletter_open(dir, &dl, err), -EISDIR);
    ck_assert_int_eq(deadletter_reader_open("/nonexistent-dir/dl.ndjson", &r, err), -ENOENT);
    ck_assert_ptr_null(r);
    deadletter_close(NULL);
    deadletter_reader_close(NULL);
}
END_TEST

START_TEST(too_large_record_is_skipped_not_fatal)
{
    char err[ERR_MAX];
    struct deadletter *dl = open_dl();
    char big[300];
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(deadletter_write(dl, "text", NULL, big, sizeof(big)), 0);
    big[0] = '\xff'; /* not UTF-8: stored as raw_base64 */
    ck_assert_int_eq(deadletter_write(dl, "binary", NULL, big, sizeof(big)), 0);
    ck_assert_int_eq(deadletter_write(dl, "small", NULL, "ok", 2), 0);
    deadletter_close(dl);
    struct deadletter_reader *r = open_reader();
    struct buf raw, reason;
    buf_init(&raw, 100);
    buf_init(&reason, 100);
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 1: record larger than 100 bytes, skipped"));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2: record larger than 100 bytes"));
    ck_assert_int_eq(deadletter_reader_next(r, &raw, &reason, err), 1);
    ck_assert_str_eq(raw.data, "ok");
    deadletter_reader_close(r);
    buf_free(&raw);
    buf_free(&reason);
}
END_TEST

/* The n-th line of the dead-letter file, without its '\n' (caller frees). */
static char *dl_line(int n)
{
    char *all = tu_read_file(path);
    char *p = all;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    ck_assert_ptr_nonnull(p);
    char *end = strchr(p, '\n');
    ck_assert_ptr_nonnull(end);
    char *line = strndup(p, (size_t)(end - p));
    free(all);
    return line;
}

/* Every record is jansson's own compact encoding, members in the
 * documented order: loading a line and dumping it again gives the same
 * bytes. The escapes are jansson's: \b and \f by name, other controls as
 * upper-case \u00XX, DEL, '/' and non-ASCII as they are. */
START_TEST(records_are_janssons_encoding)
{
    struct deadletter *dl = open_dl();
    const char body[] = "{\"a\":\"x/y \x08\x0c\x1f\x7f é 😀 \\\"\"}";
    struct deadletter_meta meta = {"acme", NULL, "u/1", 1787666591000000000LL, NULL};
    ck_assert_int_eq(
        deadletter_write_meta(dl, "bad\tjson", "spool/new/a", &meta, body, strlen(body)), 0);
    deadletter_close(dl);
    char *line = dl_line(0);
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    ck_assert_msg(j != NULL, "%s", jerr.text);
    char *again = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_eq(again, line);
    const char *keys[] = {"time", "reason", "origin", "raw", "org", "user", "received_ns"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) ck_assert_str_eq(k, keys[i++]);
    ck_assert_uint_eq(i, 7);
    ck_assert_str_eq(json_string_value(json_object_get(j, "raw")), body);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "received_ns")), 1787666591000000000LL);
    ck_assert_ptr_nonnull(strstr(line, "\"reason\":\"bad\\tjson\""));
    ck_assert_ptr_nonnull(strstr(line, "x/y \\b\\f\\u001F\x7f é 😀 \\\\\\\""));
    free(again);
    json_decref(j);
    free(line);
}
END_TEST

/* A streamed record is the held record of the same body, byte for byte
 * after "time" (the two are written at different instants). */
START_TEST(streamed_record_equals_held_record)
{
    struct deadletter *dl = open_dl();
    char body[3000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i * 7 + 1); /* holds NUL and non-UTF-8 bytes */
    const char *reason = "body \"too\" big\x01/\xc3\xa9";
    const char *origin = "spool/new/\xff-name"; /* a file name that is not UTF-8 */
    ck_assert_int_eq(deadletter_write(dl, reason, origin, body, sizeof(body)), 0);
    struct deadletter_stream *st = NULL;
    ck_assert_int_eq(deadletter_stream_begin(dl, reason, origin, &st), 0);
    ck_assert_int_eq(deadletter_stream_append(st, body, 1000), 0);
    ck_assert_int_eq(deadletter_stream_append(st, body + 1000, 1), 0);
    ck_assert_int_eq(deadletter_stream_append(st, body + 1001, sizeof(body) - 1001), 0);
    ck_assert_int_eq(deadletter_stream_end(dl, st), 0);
    deadletter_close(dl);
    char *held = dl_line(0), *streamed = dl_line(1);
    const char *h = strstr(held, ",\"reason\":"), *s = strstr(streamed, ",\"reason\":");
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, h);
    json_t *jh = json_loads(held, 0, NULL), *js = json_loads(streamed, 0, NULL);
    ck_assert_ptr_nonnull(jh);
    ck_assert_ptr_nonnull(js);
    json_object_del(jh, "time");
    json_object_del(js, "time");
    ck_assert(json_equal(jh, js));
    /* the name's stray byte became U+FFFD, the rest is kept */
    ck_assert_str_eq(json_string_value(json_object_get(js, "origin")),
                     "spool/new/\xef\xbf\xbd-name");
    json_decref(jh);
    json_decref(js);
    free(held);
    free(streamed);
}
END_TEST

/* deadletter_json_string (the envelope members pipeline.c writes) is
 * jansson's string encoding. */
START_TEST(json_string_is_janssons)
{
    const char *cases[] = {"", "plain", "q\"b\\s/", "\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", "é 😀"};
    struct buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&b);
        ck_assert_int_eq(deadletter_json_string(&b, cases[i], strlen(cases[i])), 0);
        json_t *j = json_string(cases[i]);
        char *want = json_dumps(j, JSON_ENCODE_ANY);
        ck_assert_str_eq(b.data, want);
        free(want);
        json_decref(j);
    }
    buf_reset(&b);
    ck_assert_int_eq(deadletter_json_string(&b, "\xff", 1), -EINVAL);
    buf_free(&b);
}
END_TEST

START_TEST(utf8_validation)
{
    ck_assert(deadletter_is_text("plain é 😀", strlen("plain é 😀")));
    ck_assert(!deadletter_is_text("\xc3", 1));             /* truncated */
    ck_assert(!deadletter_is_text("\xc0\xaf", 2));         /* overlong */
    ck_assert(!deadletter_is_text("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!deadletter_is_text("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!deadletter_is_text("a\0b", 3));             /* NUL */
    ck_assert(!deadletter_is_text("\xff", 1));
    /* the same judgement as jansson's (which also takes NUL) */
    const char *bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80",    "\xf4\x90\x80\x80",
                         "\xff", "\xe2\x82", "\xf0\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert(!deadletter_is_text(bad[i], strlen(bad[i])));
        ck_assert_ptr_null(json_string(bad[i]));
    }
}
END_TEST

Suite *check_deadletter_suite(void);
Suite *check_deadletter_suite(void)
{
    Suite *s = suite_create("deadletter");
    TCase *t = tcase_create("deadletter");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, text_and_binary_roundtrip_byte_exact);
    tcase_add_test(t, streamed_record);
    tcase_add_test(t, streamed_records_are_not_interleaved);
    tcase_add_test(t, malformed_records_and_open_errors);
    tcase_add_test(t, too_large_record_is_skipped_not_fatal);
    tcase_add_test(t, records_are_janssons_encoding);
    tcase_add_test(t, streamed_record_equals_held_record);
    tcase_add_test(t, json_string_is_janssons);
    tcase_add_test(t, utf8_validation);
    suite_add_tcase(s, t);
    return s;
}
