/* SPDX-License-Identifier: MIT */
/*
 * `tokenmeter process` (processors.execd) through the real binary, and the
 * resumable line-protocol scanner it frames Telegraf's metrics with.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "runbin.h"
#include "testutil.h"
#include "tokenmeter/lineproto.h"

/* A pretty-printed OpenAI body as Telegraf's influx serializer writes it in
 * a string field: raw newlines, '"' escaped. */
#define OPENAI_FIELD                                                                               \
    "\"{\n  \\\"id\\\": \\\"chatcmpl-1\\\",\n  \\\"object\\\": \\\"chat.completion\\\", "          \
    "\\\"created\\\": 1756130591, \\\"model\\\": \\\"gpt-4o\\\",\n  \\\"usage\\\": "               \
    "{\\\"prompt_tokens\\\": 10, \\\"completion_tokens\\\": 5, \\\"total_tokens\\\": 15}\n}\""

/* {"type":"message","id":"msg_1","model":"claude-x","usage":{"input_tokens":3,"output_tokens":4}}
 * base64-encoded, as http_listener_v2 with data_type = "base64" sends it. */
#define ANTHROPIC_B64                                                                              \
    "eyJ0eXBlIjoibWVzc2FnZSIsImlkIjoibXNnXzEiLCJtb2RlbCI6ImNsYXVkZS14IiwidXNhZ2UiOnsiaW5wdXRf"     \
    "dG9rZW5zIjozLCJvdXRwdXRfdG9rZW5zIjo0fX0="

struct run {
    char dir[64];
    char in[128], out[128], err[128], dl[128], dlarg[160];
    char *stdout_text;
    char *stderr_text;
    char *dl_text;
    int status;
};

/* Runs `tokenmeter process --dead-letter DL EXTRA...` on input. */
static void run_process(struct run *r, const char *input, size_t input_len,
                        const char *const *extra)
{
    const char *args[32] = {"process", "-c", "/dev/null", "--dead-letter"};
    size_t n = 4;
    memset(r, 0, sizeof(*r));
    tu_tmpdir(r->dir, sizeof(r->dir));
    snprintf(r->in, sizeof(r->in), "%s/in", r->dir);
    snprintf(r->out, sizeof(r->out), "%s/out", r->dir);
    snprintf(r->err, sizeof(r->err), "%s/err", r->dir);
    snprintf(r->dl, sizeof(r->dl), "%s/dl.ndjson", r->dir);
    args[n++] = r->dl;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    FILE *fp = fopen(r->in, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(input, 1, input_len, fp), input_len);
    fclose(fp);
    r->status = rb_run(args, r->in, r->out, r->err);
    r->stdout_text = tu_read_file(r->out);
    r->stderr_text = tu_read_file(r->err);
    r->dl_text = tu_read_file(r->dl);
    ck_assert_ptr_nonnull(r->stdout_text);
    ck_assert_ptr_nonnull(r->stderr_text);
    if (!r->dl_text)
        r->dl_text = strdup("");
}

static void run_free(struct run *r)
{
    free(r->stdout_text);
    free(r->stderr_text);
    free(r->dl_text);
    unlink(r->in);
    unlink(r->out);
    unlink(r->err);
    unlink(r->dl);
    rmdir(r->dir);
}

START_TEST(other_metrics_pass_through_byte_for_byte)
{
    /* Escapes, a quoted newline, a non-string `value`, a comment: none is a
     * webhook body, so each must come out exactly as it went in. */
    static const char in[] = "cpu,host=a\\ b,cpu=cpu\\,0 usage_idle=99.5,n=3i 1700000000000000000\n"
                             "note,host=a text=\"two\nlines \\\"q\\\" \\\\\" 1700000000000000001\n"
                             "gauge,host=a value=1i 1700000000000000002\n"
                             "flag value=true 1700000000000000003\n"
                             "# a comment\n";
    struct run r;
    run_process(&r, in, sizeof(in) - 1, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.stdout_text, in);
    ck_assert_str_eq(r.dl_text, "");
    run_free(&r);
}
END_TEST

START_TEST(string_body_with_raw_newlines_becomes_a_point)
{
    static const char in[] = "tokenmeter_webhook,host=h,org=acme,team=blue,user=u7 "
                             "value=" OPENAI_FIELD " 1756130599000000000\n";
    static const char *const extra[] = {"--set", "ingest.extra_tags=team,user", NULL};
    struct run r;
    run_process(&r, in, sizeof(in) - 1, extra);
    ck_assert_int_eq(r.status, 0);
    /* One point, with the tags as tenancy; the body's time (created), not
     * the metric's, is the event time; `host` is not carried over. */
    ck_assert_int_eq(tu_count(r.stdout_text, "\n"), 1);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "llm_usage,model=gpt-4o,org=acme,provider=openai,"
                                                "source=openai,status=success,team=blue,user=u7 "
                                                "input_tokens=10i,output_tokens=5i,total_tokens="
                                                "15i,"));
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "event_id=\"chatcmpl-1\" 1756130591"));
    ck_assert_ptr_null(strstr(r.stdout_text, "host="));
    ck_assert_str_eq(r.dl_text, "");
    run_free(&r);
}
END_TEST

START_TEST(base64_body_takes_the_metric_time_and_custom_tags)
{
    /* Anthropic bodies carry no time: the metric's timestamp (when Telegraf
     * received the request) is the receive time, floored to the second. */
    static const char in[] =
        "hook,tenant=acme,host=h data=\"" ANTHROPIC_B64 "\" 1756130599123456789\n";
    static const char *const extra[] = {
        "--body-encoding", "base64", "--body-field", "data", "--org-tag", "tenant", NULL};
    struct run r;
    run_process(&r, in, sizeof(in) - 1, extra);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.stdout_text,
                                 "llm_usage,model=claude-x,org=acme,provider="
                                 "anthropic,source=anthropic,status=success "
                                 "input_tokens=3i,output_tokens=4i,total_tokens=7i"));
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "event_id=\"msg_1\" 1756130599"));
    ck_assert_ptr_null(strstr(r.stdout_text, "1756130599123456789"));
    run_free(&r);
}
END_TEST

START_TEST(envelope_tenancy_outranks_tags)
{
    /* {"tokenmeter":1,"org":"env-org","body":{...anthropic...}} */
    static const char in[] =
        "w,org=tag-org value=\"{\\\"tokenmeter\\\":1,\\\"org\\\":\\\"env-org\\\",\\\"body\\\":"
        "{\\\"type\\\":\\\"message\\\",\\\"id\\\":\\\"msg_2\\\",\\\"model\\\":\\\"m\\\","
        "\\\"usage\\\":{\\\"input_tokens\\\":1,\\\"output_tokens\\\":1}}}\" 1756130599000000000\n";
    struct run r;
    run_process(&r, in, sizeof(in) - 1, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, ",org=env-org,"));
    run_free(&r);
}
END_TEST

START_TEST(bad_inputs_are_dead_lettered_and_the_stream_goes_on)
{
    static const char in[] = "this is not line protocol\n"
                             "w value=\"{\\\"no\\\": \\\"known source\\\"}\" 1756130599000000000\n"
                             "w value=\"{broken json\" 1756130599000000000\n"
                             "w value=\"body\" not-a-timestamp\n"
                             "cpu usage=1 1\n";
    struct run r;
    run_process(&r, in, sizeof(in) - 1, NULL);
    ck_assert_int_eq(r.status, 0);
    /* What cannot hold a body is Telegraf's to judge: it passes through,
     * unread. Nothing of the bad bodies comes out. */
    ck_assert_str_eq(r.stdout_text, "this is not line protocol\ncpu usage=1 1\n");
    ck_assert_int_eq(tu_count(r.dl_text, "\n"), 3);
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"reason\":\"not line protocol: bad timestamp"));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"origin\":\"stdin:4\",\"raw\":\"w value="));
    /* The body itself (unescaped), not the metric, is what replay needs. */
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"origin\":\"stdin:2\",\"raw\":\"{\\\"no\\\": "
                                            "\\\"known source\\\"}\""));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"origin\":\"stdin:3\",\"raw\":\"{broken json\""));
    ck_assert_int_eq(tu_count(r.stderr_text, "E! rejected stdin:"), 3);
    ck_assert_ptr_nonnull(strstr(r.stderr_text, "I! done: 3 lines, 0 events, 0 written, 0 "
                                                "duplicates, 0 ignored, 3 rejected"));
    run_free(&r);
}
END_TEST

/* Valid metrics our reader is not built for (a 70-digit float as Telegraf
 * writes large values, 300 fields) and a stray quote inside an unquoted
 * value: all pass through, and the quote does not swallow the next lines. */
START_TEST(unusual_metrics_pass_through)
{
    struct buf in;
    buf_init(&in, 1 << 16);
    buf_puts(&in, "bad f=1x\" 1\nok x=1 1\n");
    buf_puts(&in, "sensor,host=a reading=1");
    for (int i = 0; i < 70; i++)
        buf_putc(&in, '0');
    buf_puts(&in, " 1\nmysql,host=a ");
    for (int i = 0; i < 300; i++)
        buf_printf(&in, "%sf%d=%di", i ? "," : "", i, i);
    buf_puts(&in, " 1\nok2 y=\"z\" 1\n");
    struct run r;
    run_process(&r, in.data, in.len, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.stdout_text, in.data);
    ck_assert_str_eq(r.dl_text, "");
    run_free(&r);
    buf_free(&in);
}
END_TEST

/* Metrics that yield nothing: each is dead-lettered with its reason. */
static const struct {
    const char *in;
    const char *flag, *flag_value;
    const char *reason;
} rejected_whole[] = {
    {"w value=\"not base64!\" 1756130599000000000\n", "--body-encoding", "base64",
     "field \\\"value\\\" is not valid base64"},
    {"w value=\"{\\\"id\\\": 1\n", NULL, NULL, "unterminated string"},
    {"w value=\"\" 1\n", NULL, NULL, "invalid JSON"},
};

START_TEST(rejected_metrics_yield_nothing)
{
    const char *extra[] = {rejected_whole[_i].flag, rejected_whole[_i].flag_value, NULL};
    struct run r;
    run_process(&r, rejected_whole[_i].in, strlen(rejected_whole[_i].in), extra);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.stdout_text, "");
    ck_assert_ptr_nonnull(strstr(r.dl_text, rejected_whole[_i].reason));
    run_free(&r);
}
END_TEST

START_TEST(oversize_metric_is_streamed_away)
{
    /* max_body_bytes 1024: a metric over 2 x 1024 + 64 KiB cannot hold an
     * acceptable body; it is dead-lettered whole, and the next metric is
     * still read. */
    size_t big = 80 * 1024;
    char *in = malloc(big + 64);
    ck_assert_ptr_nonnull(in);
    size_t n = (size_t)snprintf(in, 64, "w value=\"");
    memset(in + n, 'x', big);
    n += big;
    n += (size_t)snprintf(in + n, 64, "\" 1\ncpu usage=1 1\n");
    static const char *const extra[] = {"--max-body-bytes", "1024", NULL};
    struct run r;
    run_process(&r, in, n, extra);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.stdout_text, "cpu usage=1 1\n");
    ck_assert_ptr_nonnull(strstr(r.dl_text, "exceeds max_body_bytes (1024)"));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"raw_base64\":\"dyB2YWx1ZT0ieHh4"));
    /* A body over the limit but inside a holdable metric is rejected with
     * the body itself in the record. */
    run_free(&r);
    n = (size_t)snprintf(in, 64, "w value=\"");
    memset(in + n, 'y', 2000);
    n += 2000;
    n += (size_t)snprintf(in + n, 64, "\" 1\n");
    run_process(&r, in, n, extra);
    ck_assert_ptr_nonnull(strstr(r.dl_text, "body of 2000 bytes exceeds max_body_bytes"));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"raw\":\"yyyy"));
    run_free(&r);
    free(in);
}
END_TEST

START_TEST(blank_line_emits_stats_and_eof_without_newline_is_read)
{
    static const char in[] = "w value=" OPENAI_FIELD " 1\n\ncpu usage=1 1";
    struct run r;
    run_process(&r, in, sizeof(in) - 1, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, ",mode=process lines=1i,events=1i,written=1i,"));
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "\ncpu usage=1 1\n"));
    run_free(&r);
}
END_TEST

/* ---- the resumable scanner --------------------------------------------- */

START_TEST(scanner_byte_by_byte_matches_whole)
{
    static const char in[] = "m,t=a\\ b f=\"x\ny \\\" z\\\\\",g=1i 5\nn f=\"\n\" 6\nlast f=1";
    size_t len = sizeof(in) - 1;
    long ends[8];
    size_t nends = 0;
    struct lineproto_scanner sc;
    lineproto_scanner_init(&sc);
    for (size_t i = 0; i < len; i++) {
        long e = lineproto_scanner_feed(&sc, in + i, 1);
        if (e >= 0) {
            ck_assert_int_eq(e, 0);
            ends[nends++] = (long)i;
        }
    }
    ck_assert_uint_eq(nends, 2);
    ck_assert_int_eq(ends[0], lineproto_line_end(in, len));
    ck_assert_int_eq(ends[1], ends[0] + 1 + lineproto_line_end(in + ends[0] + 1, len));
    ck_assert_int_eq(lineproto_line_end(in + ends[1] + 1, len - (size_t)ends[1] - 1), -1);
}
END_TEST

START_TEST(scanner_backslash_never_joins_two_lines)
{
    /* A stray backslash before the newline, outside quotes, must not carry
     * the next metric into this one. */
    static const char in[] = "m,t=a\\\nn f=1 1\n";
    ck_assert_int_eq(lineproto_line_end(in, sizeof(in) - 1), 6);
    static const char in2[] = "m f=1i\\\nn f=1 1\n";
    ck_assert_int_eq(lineproto_line_end(in2, sizeof(in2) - 1), 7);
    /* Inside quotes an escaped newline stays in the string. */
    static const char in3[] = "m f=\"a\\\nb\" 1\n";
    ck_assert_int_eq(lineproto_line_end(in3, sizeof(in3) - 1), 12);
}
END_TEST

Suite *check_process_suite(void);
Suite *check_process_suite(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("process");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, other_metrics_pass_through_byte_for_byte);
    tcase_add_test(tc, unusual_metrics_pass_through);
    tcase_add_test(tc, string_body_with_raw_newlines_becomes_a_point);
    tcase_add_test(tc, base64_body_takes_the_metric_time_and_custom_tags);
    tcase_add_test(tc, envelope_tenancy_outranks_tags);
    tcase_add_test(tc, bad_inputs_are_dead_lettered_and_the_stream_goes_on);
    tcase_add_loop_test(tc, rejected_metrics_yield_nothing, 0,
                        (int)(sizeof(rejected_whole) / sizeof(rejected_whole[0])));
    tcase_add_test(tc, oversize_metric_is_streamed_away);
    tcase_add_test(tc, blank_line_emits_stats_and_eof_without_newline_is_read);
    tcase_add_test(tc, scanner_byte_by_byte_matches_whole);
    tcase_add_test(tc, scanner_backslash_never_joins_two_lines);
    suite_add_tcase(s, tc);
    return s;
}
