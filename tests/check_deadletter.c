/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/deadletter.h"

static char dir[64];
static char path[128];

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
    struct deadletter *dl = deadletter_open(path, err);
    ck_assert_ptr_nonnull(dl);
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

    struct deadletter_reader *r = deadletter_reader_open(path, err);
    ck_assert_ptr_nonnull(r);
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
    struct deadletter *dl = deadletter_open(path, err);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    struct deadletter_stream *st = NULL;
    ck_assert_int_eq(deadletter_stream_begin(dl, "too big", "stdin:9", &st), 0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(deadletter_stream_append(st, chunk, (size_t)(100 + i)), 0);
    ck_assert_int_eq(deadletter_stream_end(dl, st), 0);
    deadletter_close(dl);
    struct deadletter_reader *r = deadletter_reader_open(path, err);
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
    struct deadletter *dl = deadletter_open(path, err);
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
    struct deadletter_reader *r = deadletter_reader_open(path, err);
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
    struct deadletter_reader *r = deadletter_reader_open(path, err);
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
    ck_assert_ptr_null(deadletter_open("/nonexistent-dir/dl.ndjson", err));
    ck_assert_ptr_nonnull(strstr(err, "cannot open dead-letter file /nonexistent-dir/dl.ndjson"));
    ck_assert_ptr_null(deadletter_reader_open("/nonexistent-dir/dl.ndjson", err));
    deadletter_close(NULL);
    deadletter_reader_close(NULL);
}
END_TEST

START_TEST(too_large_record_is_skipped_not_fatal)
{
    char err[ERR_MAX];
    struct deadletter *dl = deadletter_open(path, err);
    char big[300];
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(deadletter_write(dl, "text", NULL, big, sizeof(big)), 0);
    big[0] = '\xff'; /* not UTF-8: stored as raw_base64 */
    ck_assert_int_eq(deadletter_write(dl, "binary", NULL, big, sizeof(big)), 0);
    ck_assert_int_eq(deadletter_write(dl, "small", NULL, "ok", 2), 0);
    deadletter_close(dl);
    struct deadletter_reader *r = deadletter_reader_open(path, err);
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

START_TEST(utf8_validation)
{
    ck_assert(deadletter_is_text("plain é 😀", strlen("plain é 😀")));
    ck_assert(!deadletter_is_text("\xc3", 1));             /* truncated */
    ck_assert(!deadletter_is_text("\xc0\xaf", 2));         /* overlong */
    ck_assert(!deadletter_is_text("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!deadletter_is_text("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!deadletter_is_text("a\0b", 3));             /* NUL */
    ck_assert(!deadletter_is_text("\xff", 1));
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
    tcase_add_test(t, utf8_validation);
    suite_add_tcase(s, t);
    return s;
}
