/* SPDX-License-Identifier: MIT */
/* Streams, agent traces, vendors and the status rule through the pipeline:
 * the edges the golden cases (tests/data/anthropic-stream,
 * otlp-agent-trace, openai-compatible, status-rule ...) do not isolate. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_fixture.h"
#include "tokenmeter/config.h"
#include "tokenmeter/source.h"

static char dir[64];

/* A pipeline with one "section.key=value" setting (or none). */
static void fx_open_set(struct fixture *fx, const char *set)
{
    char err[ERR_MAX];
    struct config *cfg = config_new();
    if (set)
        ck_assert_msg(config_set_assignment(cfg, set, err) == 0, "%s", err);
    fx_open_tmp(fx, cfg, dir);
}

static void fx_close_dir(struct fixture *fx)
{
    fx_close_tmp(fx, dir);
}

/* Feeds sse as the string body of an envelope (JSON-escaped here). */
static void feed_sse(struct fixture *fx, const char *sse)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    buf_puts(&b, "{\"tokenmeter\":1,\"body\":\"");
    for (const char *c = sse; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_printf(&b, "\\%c", *c);
        else if (*c == '\n')
            buf_puts(&b, "\\n");
        else if (*c == '\r')
            buf_puts(&b, "\\r");
        else
            buf_putc(&b, *c);
    }
    buf_puts(&b, "\"}");
    ck_assert_int_eq(buf_error(&b), 0);
    feed(fx, b.data);
    buf_free(&b);
}

#define START                                                                                      \
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"model\":\"claude-x\",\"usage\":{" \
    "\"input_tokens\":10,\"output_tokens\":1}}}"
#define DELTA                                                                                      \
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_"    \
    "tokens\":7}}"

/* CRLF line ends, comments and blank lines between events: one event, with
 * message_start's input and message_delta's output. */
START_TEST(sse_text_with_crlf_and_comments)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed_sse(&fx, ": keep-alive\r\nevent: message_start\r\ndata: " START
                  "\r\n\r\nevent: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n"
                  "event: message_delta\r\ndata:" DELTA "\r\n\r\n");
    ck_assert_uint_eq(fx.st.written, 1);
    want(&fx, "input_tokens=10i,output_tokens=7i,total_tokens=17i");
    want(&fx, "event_id=\"msg_s\",finish_reason=\"end_turn\"");
    fx_close_dir(&fx);
}
END_TEST

/* A data line that is not JSON rejects the stream, naming the line; an
 * envelope string that is no stream is no object either. */
START_TEST(sse_text_bad_data_is_rejected)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed_sse(&fx, "event: message_start\ndata: " START "\n\nevent: message_delta\ndata: {oops\n");
    feed_sse(&fx, "hello");
    ck_assert_uint_eq(fx.st.rejected, 2);
    ck_assert_uint_eq(fx.st.written, 0);
    fx_close_dir(&fx);
}
END_TEST

/* A stream whose message_delta never came, and one without message_start,
 * are rejected: their usage is not whole. */
START_TEST(incomplete_streams_are_rejected)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "[" START ",{\"type\":\"message_stop\"}]");
    feed_sse(&fx, "event: message_delta\ndata: " DELTA "\n");
    ck_assert_uint_eq(fx.st.rejected, 2);
    fx_close_dir(&fx);
}
END_TEST

/* An array of whole messages is still a batch: only an array that starts
 * with message_start is one stream. */
START_TEST(arrays_of_messages_stay_batches)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "[{\"type\":\"message\",\"id\":\"m1\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,"
              "\"output_tokens\":1}},{\"type\":\"message\",\"id\":\"m2\",\"model\":\"c\","
              "\"usage\":{\"input_tokens\":2,\"output_tokens\":1}}]");
    ck_assert_uint_eq(fx.st.written, 2);
    fx_close_dir(&fx);
}
END_TEST

/* Responses stream events: the terminal ones give an event, a delta is
 * ignored, and a usage-bearing event of another API (Realtime's
 * response.done) is rejected rather than dropped. */
START_TEST(responses_stream_events)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "{\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"delta\":\"Hi\"}");
    feed(&fx, "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"object\":"
              "\"response\",\"status\":\"completed\",\"model\":\"gpt-5\",\"usage\":{"
              "\"input_tokens\":3,\"output_tokens\":4}}}");
    feed(&fx, "{\"type\":\"response.done\",\"response\":{\"object\":\"realtime.response\","
              "\"id\":\"resp_rt\",\"status\":\"completed\",\"usage\":{\"total_tokens\":9,"
              "\"input_tokens\":5,\"output_tokens\":4}}}");
    feed(&fx, "{\"type\":\"response.completed\",\"sequence_number\":9}");
    ck_assert_uint_eq(fx.st.ignored, 1);
    ck_assert_uint_eq(fx.st.written, 1);
    ck_assert_uint_eq(fx.st.rejected, 2);
    want(&fx, "operation=\"responses\",event_id=\"resp_1\"");
    fx_close_dir(&fx);
}
END_TEST

/* The envelope's provider outranks the body's, and its id and model fill
 * only what the body lacks. */
START_TEST(envelope_provider_id_model)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "{\"tokenmeter\":1,\"provider\":\"Azure\",\"id\":\"env-id\",\"model\":\"env-m\","
              "\"body\":{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
              "\"created\":1787666591,\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}}");
    want(&fx, "model=gpt-4o,org=unknown,provider=azure,");
    want(&fx, "event_id=\"chatcmpl-1\"");
    want_not(&fx, "env-");
    /* One id for a batch would make its calls re-sends of each other. */
    feed(&fx, "{\"tokenmeter\":1,\"id\":\"one\",\"body\":[{\"type\":\"message\",\"id\":\"m\","
              "\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}]}");
    ck_assert_uint_eq(fx.st.rejected, 1);
    fx_close_dir(&fx);
}
END_TEST

#define AGENT_SPAN(id, op)                                                                         \
    "{\"traceId\":\"t\",\"spanId\":\"" id "\",\"attributes\":[{\"key\":\"gen_ai.operation.name\"," \
    "\"value\":{\"stringValue\":\"" op "\"}},{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{"   \
    "\"intValue\":\"5\"}}]}"

/* Ignored agent spans count as ignored only when their export is
 * accepted: a rejected export forgets them. */
START_TEST(ignored_spans_count_only_with_their_export)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" AGENT_SPAN(
                  "a", "invoke_agent") "," AGENT_SPAN("b", "execute_tool") "]}]}]}");
    ck_assert_uint_eq(fx.st.ignored, 2);
    ck_assert_uint_eq(fx.st.written, 0);
    feed(&fx, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" AGENT_SPAN(
                  "c", "invoke_agent") ",{\"traceId\":\"t\",\"spanId\":\"d\",\"attributes\":[{"
                                       "\"key\":\"gen_ai.usage.input_tokens\",\"value\":{"
                                       "\"intValue\":\"-1\"}}]}]}]}]}");
    ck_assert_uint_eq(fx.st.rejected, 1);
    ck_assert_uint_eq(fx.st.ignored, 2);
    fx_close_dir(&fx);
}
END_TEST

/* With otel_agent_spans the roles swap: the agent counts, the chat does not. */
START_TEST(agent_mode_counts_agents_instead)
{
    struct fixture fx;
    fx_open_set(&fx, "ingest.otel_agent_spans=true");
    feed(&fx, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" AGENT_SPAN(
                  "a", "invoke_agent") "," AGENT_SPAN("b", "chat") "]}]}]}");
    ck_assert_uint_eq(fx.st.written, 1);
    ck_assert_uint_eq(fx.st.ignored, 1);
    want(&fx, "operation=\"invoke_agent\",event_id=\"t:a\"");
    fx_close_dir(&fx);
}
END_TEST

START_TEST(model_families)
{
    static const struct {
        const char *model;
        const char *provider;
    } cases[] = {
        {"o3", "openai"},
        {"o3-mini", "openai"},
        {"o4-mini-2025-04-16", "openai"},
        {"o1", "openai"},
        {"omni-x", NULL},
        {"o3x", NULL},
        {"gpt-4o", "openai"},
        {"ft:gpt-4o:acme", "openai"},
        {"deepseek-chat", "deepseek"},
        {"grok-4", "xai"},
        {"mistral-small", "mistral"},
        {"accounts/fireworks/models/llama-v3", "fireworks_ai"},
        {"gemini-2.5-flash", "gemini"},
        {"llama-3.3-70b", NULL},
        {"meta-llama/Llama-3", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = source_openai_compatible_provider(NULL, cases[i].model);
        ck_assert_msg(got == cases[i].provider ||
                          (got && cases[i].provider && strcmp(got, cases[i].provider) == 0),
                      "%s: got %s", cases[i].model ? cases[i].model : "(null)",
                      got ? got : "(null)");
    }
}
END_TEST

START_TEST(failed_finish_reasons)
{
    ck_assert(source_finish_reason_failed("refusal"));
    ck_assert(source_finish_reason_failed("SAFETY"));
    ck_assert(source_finish_reason_failed("safety")); /* case does not matter */
    ck_assert(source_finish_reason_failed("IMAGE_PROHIBITED_CONTENT"));
    ck_assert(source_finish_reason_failed("content_filter"));
    ck_assert(!source_finish_reason_failed("stop"));
    ck_assert(!source_finish_reason_failed("end_turn"));
    ck_assert(!source_finish_reason_failed("MAX_TOKENS"));
    ck_assert(!source_finish_reason_failed(NULL));
    /* An error already explained keeps its own error_type. */
    struct event ev;
    event_init(&ev, "x");
    ev.status = EVENT_STATUS_ERROR;
    ev.error_type = "http_500";
    ev.finish_reason = "SAFETY";
    source_settle_status(&ev);
    ck_assert_str_eq(ev.error_type, "http_500");
}
END_TEST

/* LiteLLM v1: counts are read by whole key, never out of a longer name. */
START_TEST(litellm_v1_reads_whole_keys)
{
    struct fixture fx;
    fx_open_set(&fx, NULL);
    feed(&fx, "{\"id\":\"v1-a\",\"call_type\":\"completion\",\"startTime\":\"2026-08-25 14:03:11\","
              "\"cost\":\"0.5\",\"model\":\"gpt-4o\",\"metadata\":\"{}\",\"usage\":\"Usage("
              "x_prompt_tokens=99, completion_tokens=2, prompt_tokens=7, cached_tokens=None)\"}");
    ck_assert_uint_eq(fx.st.written, 1);
    want(&fx, "input_tokens=7i,output_tokens=2i,total_tokens=9i,cost_usd=0.5");
    fx_close_dir(&fx);
}
END_TEST

Suite *check_sources_streams_suite(void);
Suite *check_sources_streams_suite(void)
{
    Suite *s = suite_create("sources_streams");
    TCase *tc = tcase_create("sources_streams");
    tcase_add_test(tc, sse_text_with_crlf_and_comments);
    tcase_add_test(tc, sse_text_bad_data_is_rejected);
    tcase_add_test(tc, incomplete_streams_are_rejected);
    tcase_add_test(tc, arrays_of_messages_stay_batches);
    tcase_add_test(tc, responses_stream_events);
    tcase_add_test(tc, envelope_provider_id_model);
    tcase_add_test(tc, ignored_spans_count_only_with_their_export);
    tcase_add_test(tc, agent_mode_counts_agents_instead);
    tcase_add_test(tc, model_families);
    tcase_add_test(tc, failed_finish_reasons);
    tcase_add_test(tc, litellm_v1_reads_whole_keys);
    suite_add_tcase(s, tc);
    return s;
}
