/* SPDX-License-Identifier: MIT */
/*
 * Anthropic Messages bodies (Anthropic API reference, "Messages": the usage
 * object; docs/sources.md "Token rules"). Anthropic's
 * input_tokens EXCLUDES cache reads and cache writes: total input is the sum
 * of the three (the SDK's own docstring). The body carries no time.
 *
 * Streams (Anthropic API reference, "Streaming Messages"; anthropic-sdk-python
 * types RawMessageStartEvent, RawMessageDeltaEvent, MessageDeltaUsage):
 * message_start carries the id, the model and the input usage;
 * message_delta carries the stop reason and the CUMULATIVE usage — output,
 * and input/cache counts that may be updated since message_start — but
 * neither id nor model. A stream is read whole, as one event: a JSON array of
 * its events, or its raw server-sent-event text (`event: ...` / `data: {...}`
 * lines) as an envelope's string body. A lone message_delta needs an envelope
 * that supplies "id" and "model"; without them it is rejected with a reason
 * saying what to send. Every other lone stream event (message_start,
 * content_block_*, ping, message_stop) holds no final usage and is ignored.
 * An `error` event in a stream makes the call an error with its error type.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/envelope.h"
#include "tokenmeter/source.h"
#include "tokenmeter/vec.h"

static bool anthropic_match(const struct body_node *doc)
{
    const char *type = body_str(doc, "/type");
    return type && strcmp(type, "message") == 0 && body_has(doc, "/usage/input_tokens");
}

/* *acc += the count at ptr below n (absent: 0), checked against overflow. */
static int anthropic_sum(const struct body_node *n, const char *ptr, int64_t *acc,
                         char err[ERR_MAX])
{
    int64_t v = 0;
    int rc = source_count(n, ptr, &v, err);
    if (rc < 0)
        return rc;
    if (*acc > INT64_MAX - v)
        return err_set(err, -EINVAL, "%s: token sum out of range", ptr);
    *acc += v;
    return 0;
}

/* usage.iterations: "Per-iteration token usage breakdown", one entry per
 * sampling iteration of the request — compaction, advisor_message,
 * fallback_message, message (anthropic-sdk-python types/beta/beta_usage.py,
 * BetaIterationsUsage; BetaMessageDeltaUsage carries it in a stream's
 * message_delta). The top-level counts are those of the final message
 * iteration only: Anthropic's "Compaction" docs describe the summary as an
 * additional sampling step, billed, that the top-level usage leaves out. So
 * when iterations are present the request's counts are their sums, as
 * LiteLLM computes them
 * (AnthropicConfig.calculate_usage in litellm/llms/anthropic/chat/
 * transformation.py); the 1-hour cache writes are summed from the
 * iterations' cache_creation breakdowns when any has one, else the
 * top-level breakdown stands. Every iteration is priced at the message's
 * model, as LiteLLM does (docs/sources.md "Token rules"). */
static int anthropic_iterations(const struct body_node *usage, struct event *ev, char err[ERR_MAX])
{
    const struct body_node *its = body_get(usage, "/iterations");
    size_t n = body_type(its) == BODY_ARRAY ? body_array_len(its) : 0;
    int64_t in = 0, out = 0, writes = 0, reads = 0, writes_1h = 0;
    bool breakdown = false, any = false;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct body_node *it = body_array_at(its, i);
        if (body_type(it) != BODY_OBJECT)
            continue; /* not an iteration: nothing to add */
        any = true;
        if ((rc = anthropic_sum(it, "/input_tokens", &in, err)) < 0 ||
            (rc = anthropic_sum(it, "/output_tokens", &out, err)) < 0 ||
            (rc = anthropic_sum(it, "/cache_creation_input_tokens", &writes, err)) < 0 ||
            (rc = anthropic_sum(it, "/cache_read_input_tokens", &reads, err)) < 0)
            break;
        if (body_type(body_get(it, "/cache_creation")) == BODY_OBJECT) {
            breakdown = true;
            rc = anthropic_sum(it, "/cache_creation/ephemeral_1h_input_tokens", &writes_1h, err);
        }
    }
    if (rc < 0) {
        char inner[ERR_MAX];
        snprintf(inner, sizeof(inner), "%s", err);
        return err_set(err, rc, "usage.iterations: %.200s", inner);
    }
    if (!any)
        return 0;
    ev->input_tokens = in; /* the uncached part, as the top-level input_tokens */
    ev->output_tokens = out;
    ev->cache_write_tokens = writes;
    ev->cached_input_tokens = reads;
    if (breakdown)
        ev->cache_write_1h_tokens = writes_1h;
    return 0;
}

/* What else the usage object of doc (a Message, or a message_delta event)
 * says that the cost depends on: usage.service_tier ("standard",
 * "priority" or "batch"), the server-side web searches billed per search
 * (Anthropic API reference, Messages: the Usage object's service_tier and
 * server_tool_use.web_search_requests), usage.inference_geo and
 * usage.speed (anthropic-sdk-python types/usage.py and
 * types/beta/beta_usage.py: "fast provides significantly faster output
 * token generation at premium pricing"), and usage.iterations (above). */
static int anthropic_usage_extras(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    const struct body_node *usage = body_get(doc, "/usage");
    const char *tier = body_str_nonempty(usage, "/service_tier");
    const char *geo = body_str_nonempty(usage, "/inference_geo");
    const char *speed = body_str_nonempty(usage, "/speed");
    if (tier)
        ev->service_tier = tier;
    if (geo)
        ev->inference_geo = geo;
    if (speed)
        ev->speed = speed;
    int rc = anthropic_iterations(usage, ev, err);
    return rc < 0 ? rc
                  : source_count(doc, "/usage/server_tool_use/web_search_requests",
                                 &ev->web_search_requests, err);
}

/* Reads the Message object at base ("" or "/message") into ev. */
static int anthropic_message(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    ev->event_id = body_str_nonempty(doc, "/id");
    ev->model = body_str_nonempty(doc, "/model");
    /* Vertex AI names Claude models with an '@' before the version
     * ("claude-sonnet-4-5@20250929": the model IDs of Google Cloud's Vertex
     * AI docs for Anthropic's Claude models); Anthropic's own never have
     * one. Such a message was served by Vertex, which prices it (an
     * envelope's "provider" still outranks this). */
    if (ev->model && strchr(ev->model, '@'))
        ev->provider = "vertex_ai";
    ev->finish_reason = body_str_nonempty(doc, "/stop_reason");
    if ((rc = source_anthropic_counts(doc, "/usage", ev, err)) < 0)
        return rc;
    return anthropic_usage_extras(doc, ev, err);
}

static void anthropic_init(struct event *ev)
{
    event_init(ev, "anthropic");
    ev->provider = "anthropic";
    ev->operation = "chat";
}

static int anthropic_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    struct event ev;
    anthropic_init(&ev);
    if ((rc = anthropic_message(doc, &ev, err)) < 0 || (rc = source_anthropic_total(&ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_anthropic = {
    .name = "anthropic",
    .match = anthropic_match,
    .extract = anthropic_extract,
    .signature = "\"type\":\"message\" with usage.input_tokens",
    .keys = SOURCE_KEY(TYPE),
};

/* The stream event types of the Messages API. */
static bool anthropic_stream_type(const char *type)
{
    static const char *const types[] = {
        "message_start",       "message_delta",      "message_stop", "content_block_start",
        "content_block_delta", "content_block_stop", "ping",
    };
    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(type, types[i]) == 0)
            return true;
    return false;
}

/* Raw SSE text: its first field line (after blank lines and `:` comments)
 * is an `event:` or `data:` line, and it holds a message_start or
 * message_delta. */
static bool anthropic_sse_match(const char *text)
{
    const char *p = text;
    while (*p == ':' || *p == '\n' || *p == '\r') {
        if (*p == ':') {
            p = strchr(p, '\n');
            if (!p)
                return false;
        }
        p++;
    }
    return (strncmp(p, "event:", 6) == 0 || strncmp(p, "data:", 5) == 0) &&
           (strstr(p, "message_start") || strstr(p, "message_delta"));
}

static bool anthropic_stream_match(const struct body_node *doc)
{
    switch (body_type(doc)) {
    case BODY_OBJECT:
        return anthropic_stream_type(body_str(doc, "/type"));
    case BODY_ARRAY: {
        const char *first = body_str(body_array_at(doc, 0), "/type");
        return first && strcmp(first, "message_start") == 0;
    }
    case BODY_STRING:
        return anthropic_sse_match(body_str(doc, ""));
    default:
        return false;
    }
}

/* What a stream has said so far. The counts are read in stream order, so a
 * message_delta's cumulative usage overwrites message_start's. */
struct anthropic_stream {
    struct event ev;
    bool started; /* a message_start was seen */
    bool delta;   /* a message_delta was seen */
};

static int anthropic_stream_event(struct anthropic_stream *st, const struct body_node *e,
                                  char err[ERR_MAX])
{
    const char *type = body_str(e, "/type");
    if (!type)
        return err_set(err, -EINVAL, "stream event without a \"type\"");
    if (strcmp(type, "message_start") == 0) {
        st->started = true;
        return anthropic_message(body_get(e, "/message"), &st->ev, err);
    }
    if (strcmp(type, "message_delta") == 0) {
        st->delta = true;
        const char *stop = body_str_nonempty(e, "/delta/stop_reason");
        if (stop)
            st->ev.finish_reason = stop;
        int rc = source_anthropic_counts(e, "/usage", &st->ev, err);
        return rc < 0 ? rc : anthropic_usage_extras(e, &st->ev, err);
    }
    if (strcmp(type, "error") == 0) {
        st->ev.status = EVENT_STATUS_ERROR;
        st->ev.error_type = body_str_nonempty(e, "/error/type");
        if (!st->ev.error_type)
            st->ev.error_type = "error";
        return 0;
    }
    if (!anthropic_stream_type(type))
        return err_set(err, -EINVAL, "stream event of unknown type \"%.64s\"", type);
    return 0;
}

/* Bodies parsed from SSE data lines: the events' strings point into them,
 * so they live until the event is emitted. */
struct anthropic_sse {
    struct body **bodies; /* owned; vec.h array */
    size_t n;
    size_t cap;
};

static void anthropic_sse_free(struct anthropic_sse *sse)
{
    for (size_t i = 0; i < sse->n; i++)
        body_free(sse->bodies[i]);
    free(sse->bodies);
}

/* Reads every `data:` line of an SSE text as one stream event. Event names
 * (`event:` lines) repeat the data's own "type" and are not needed;
 * comments and blank lines separate events. */
static int anthropic_sse_read(const char *text, struct anthropic_sse *sse,
                              struct anthropic_stream *st, char err[ERR_MAX])
{
    int rc = 0;
    size_t line = 0;
    for (const char *p = text; *p && rc == 0;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len >= 5 && strncmp(p, "data:", 5) == 0) {
            const char *d = p + 5;
            size_t dlen = len - 5;
            if (dlen > 0 && *d == ' ') {
                d++;
                dlen--;
            }
            struct body *b = NULL;
            char perr[ERR_MAX];
            rc = vec_reserve(&sse->bodies, &sse->cap, sse->n + 1, sizeof(*sse->bodies));
            if (rc == 0)
                rc = body_parse(d, dlen, &b, perr);
            if (rc == -EINVAL)
                rc = err_set(err, rc, "SSE line %zu: data is not JSON: %s", line, perr);
            else if (rc < 0)
                rc = err_set(err, rc, "out of memory reading the stream");
            if (rc == 0) {
                sse->bodies[sse->n++] = b;
                rc = anthropic_stream_event(st, body_root(b), err);
            }
        }
        p = eol ? eol + 1 : p + len;
    }
    return rc;
}

static int anthropic_stream_extract(const struct body_node *doc, struct source_ctx *ctx,
                                    char err[ERR_MAX])
{
    struct anthropic_stream st = {.started = false, .delta = false};
    struct anthropic_sse sse = {0};
    const struct envelope *env = source_ctx_envelope(ctx);
    int rc = 0;
    anthropic_init(&st.ev);
    switch (body_type(doc)) {
    case BODY_OBJECT: {
        const char *type = body_str(doc, "/type");
        if (strcmp(type, "message_delta") != 0)
            return 0; /* no final usage: the stream's message_delta has it */
        if (!env->id || !env->model)
            return err_set(err, -EINVAL,
                           "a lone message_delta names neither the message id nor the model: "
                           "send the whole stream (a JSON array of its events, or its SSE text "
                           "as an envelope's string body), or wrap the message_delta in an "
                           "envelope with \"id\" and \"model\"");
        rc = anthropic_stream_event(&st, doc, err);
        st.started = true;
        break;
    }
    case BODY_ARRAY:
        for (size_t i = 0; rc == 0 && i < body_array_len(doc); i++)
            rc = anthropic_stream_event(&st, body_array_at(doc, i), err);
        break;
    default:
        rc = anthropic_sse_read(body_str(doc, ""), &sse, &st, err);
        break;
    }
    if (rc == 0 && !st.started)
        rc = err_set(err, -EINVAL, "stream without a message_start");
    else if (rc == 0 && !st.delta && st.ev.status == EVENT_STATUS_SUCCESS)
        rc = err_set(err, -EINVAL, "stream without a message_delta (it ended before its usage)");
    if (rc == 0)
        rc = source_anthropic_total(&st.ev, err);
    if (rc == 0)
        rc = source_emit(ctx, &st.ev);
    /* The event borrowed strings from the parsed lines: free them only now. */
    anthropic_sse_free(&sse);
    return rc;
}

const struct source source_anthropic_stream = {
    .name = "anthropic",
    .match = anthropic_stream_match,
    .extract = anthropic_stream_extract,
    .signature = "Messages stream events (message_start ... message_delta), as an array, SSE "
                 "text or a lone message_delta in an envelope with id and model",
    .whole = true,
    .keys = SOURCE_KEY(TYPE),
};

/* A line of a Message Batches results file (Anthropic API reference,
 * "Retrieve Message Batch results": {"custom_id":...,"result":{"type":
 * "succeeded","message":{...}}}). A succeeded request is billed at the batch
 * prices, so its service tier is "batch"; errored, canceled and expired
 * requests are not billed (0 tokens, cost 0, not unknown) and count as
 * failed. */
static bool anthropic_batch_match(const struct body_node *doc)
{
    return body_str(doc, "/custom_id") && body_str(doc, "/result/type");
}

static int anthropic_batch_extract(const struct body_node *doc, struct source_ctx *ctx,
                                   char err[ERR_MAX])
{
    int rc;
    struct event ev;
    anthropic_init(&ev);
    const char *type = body_str(doc, "/result/type");
    if (strcmp(type, "succeeded") != 0) {
        ev.input_tokens = ev.output_tokens = 0;
        ev.cost_usd = 0;
        ev.event_id = body_str_nonempty(doc, "/custom_id");
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(doc, "/result/error/error/type");
        if (!ev.error_type)
            ev.error_type = body_str_nonempty(doc, "/result/error/type");
        if (!ev.error_type)
            ev.error_type = type;
        return source_emit(ctx, &ev);
    }
    const struct body_node *msg = body_get(doc, "/result/message");
    if (!body_has(msg, "/usage/input_tokens"))
        return err_set(err, -EINVAL, "batch result: a succeeded message without usage");
    if ((rc = anthropic_message(msg, &ev, err)) < 0 || (rc = source_anthropic_total(&ev, err)) < 0)
        return rc;
    ev.service_tier = "batch";
    return source_emit(ctx, &ev);
}

const struct source source_anthropic_batch = {
    .name = "anthropic",
    .match = anthropic_batch_match,
    .extract = anthropic_batch_extract,
    .signature = "Message Batches result line: custom_id and result.type",
    .keys = SOURCE_KEY(CUSTOM_ID),
};

int source_anthropic_message_usage(const struct body_node *msg, struct event *ev, char err[ERR_MAX])
{
    int rc = source_anthropic_counts(msg, "/usage", ev, err);
    if (rc == 0)
        rc = anthropic_usage_extras(msg, ev, err);
    return rc < 0 ? rc : source_anthropic_total(ev, err);
}
