/* SPDX-License-Identifier: MIT */
/*
 * OTLP/JSON trace exports (`{"resourceSpans":[...]}`), as OpenRouter
 * Broadcast's webhook destination sends them (OpenRouter docs, "Broadcast")
 * and as any OpenTelemetry GenAI instrumentation exports them (the
 * OpenTelemetry semantic conventions for generative AI spans; OTLP/JSON
 * encoding per the OTLP specification). docs/sources.md "Multi-event bodies"
 * and "Assumptions" say the same for operators.
 *
 * Agent traces: the semantic conventions put gen_ai.usage.* on
 * invoke_agent spans too, as the total of their child model calls
 * (OpenTelemetry semconv, "Semantic Conventions for GenAI agent and
 * framework spans"). Counting both double-counts; counting the agent alone
 * loses the per-model split. So the rule, which looks at each span alone
 * and so holds whatever the export order and batching: a span whose
 * gen_ai.operation.name is a model call (chat, text_completion,
 * generate_content, embeddings) — or whose OpenInference
 * openinference.span.kind is LLM or EMBEDDING — counts; an agent span
 * (invoke_agent, create_agent, kind AGENT) and a tool or chain span
 * (execute_tool, kind TOOL or CHAIN) is ignored and counted as ignored. With
 * [ingest] otel_agent_spans = true the agent spans count and the model calls
 * are ignored instead, for instrumentations that emit nothing else.
 *
 * A span that names no operation counts. Among the counted spans, one whose
 * parent span (in the same export) is counted too is skipped: OpenRouter
 * Broadcast may repeat a generation's usage on its per-provider attempt
 * spans, and counting those too would bill fallbacks twice. (An ignored
 * agent parent never hides its model calls.) A resource whose service.name is
 * "openrouter" gives source "openrouter"; any other resource gives "otel".
 *
 * Attribute names read besides the current conventions':
 * gen_ai.usage.cache_read_input_tokens / cache_creation_input_tokens
 * (OpenLLMetry, Laminar), gen_ai.usage.prompt_tokens / completion_tokens
 * (older conventions), and OpenInference's llm.token_count.prompt,
 * .completion, .prompt_details.cache_read / .cache_write,
 * .completion_details.reasoning, llm.model_name and llm.provider (OpenInference
 * semantic conventions, as Arize Phoenix reads them). All of them count
 * cache reads and writes inside the prompt total (OpenLLMetry's Anthropic
 * instrumentation adds them, as OpenInference's does since its "include
 * cache tokens in prompt tokens" change).
 *
 * Assumptions, stated because the public sources leave them open:
 *  - OpenRouter's cost and cache/reasoning attribute names
 *    (gen_ai.usage.total_cost, gen_ai.usage.input_tokens.cached,
 *    gen_ai.usage.output_tokens.reasoning) are seen only in third-party
 *    receivers (UNCONFIRMED in OpenRouter's docs); the OTel names
 *    (gen_ai.usage.cache_read.input_tokens, ...) are read first.
 *  - input_tokens includes cached tokens and output_tokens includes
 *    reasoning, as the OTel conventions say they SHOULD.
 *  - total_cost is USD (OpenRouter credits are USD).
 *  - The deprecated gen_ai.usage.prompt_tokens / completion_tokens (shown in
 *    OpenRouter's webhook example, with intValue as a string) are accepted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/config.h"
#include "tokenmeter/map.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

/* The `value` object of the attribute named key in an OTLP attribute list,
 * or NULL. */
static const struct body_node *otlp_attr(const struct body_node *attrs, const char *key)
{
    size_t n = body_array_len(attrs);
    for (size_t i = 0; i < n; i++) {
        const struct body_node *a = body_array_at(attrs, i);
        const char *k = body_str(a, "/key");
        if (k && strcmp(k, key) == 0)
            return body_get(a, "/value");
    }
    return NULL;
}

/* A non-empty string attribute (borrowed), or NULL. */
static const char *otlp_str(const struct body_node *attrs, const char *key)
{
    return body_str_nonempty(otlp_attr(attrs, key), "/stringValue");
}

static bool otlp_has_usage(const struct body_node *span)
{
    const struct body_node *attrs = body_get(span, "/attributes");
    size_t n = body_array_len(attrs);
    for (size_t i = 0; i < n; i++) {
        const char *k = body_str(body_array_at(attrs, i), "/key");
        if (k && (strncmp(k, "gen_ai.usage.", 13) == 0 || strncmp(k, "llm.token_count.", 16) == 0))
            return true;
    }
    return false;
}

/* Whether a usage span counts under the agent-trace rule (see the top of
 * this file). */
static bool otlp_span_counts(const struct body_node *attrs, bool agent_mode)
{
    static const char *const model_ops[] = {
        "chat", "text_completion", "generate_content", "embeddings", "LLM", "EMBEDDING"};
    static const char *const agent_ops[] = {"invoke_agent", "create_agent", "AGENT"};
    const char *op = otlp_str(attrs, "gen_ai.operation.name");
    if (!op)
        op = otlp_str(attrs, "openinference.span.kind");
    if (!op)
        return true;
    for (size_t i = 0; i < sizeof(model_ops) / sizeof(model_ops[0]); i++)
        if (strcmp(op, model_ops[i]) == 0)
            return !agent_mode;
    for (size_t i = 0; i < sizeof(agent_ops) / sizeof(agent_ops[0]); i++)
        if (strcmp(op, agent_ops[i]) == 0)
            return agent_mode;
    /* execute_tool, TOOL, CHAIN ...: usage there totals model calls made
     * on the tool's or chain's behalf. An operation this list does not know
     * is a model call of a newer convention only if it is not one of
     * those: count it. */
    static const char *const never[] = {"execute_tool", "TOOL", "CHAIN", "RETRIEVER"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strcmp(op, never[i]) == 0)
            return false;
    return !agent_mode;
}

static bool otlp_resource_is_openrouter(const struct body_node *rs)
{
    const char *svc = otlp_str(body_get(rs, "/resource/attributes"), "service.name");
    return svc && strcmp(svc, "openrouter") == 0;
}

static bool otlp_any_openrouter(const struct body_node *doc)
{
    const struct body_node *rss = body_get(doc, "/resourceSpans");
    size_t n = body_array_len(rss);
    for (size_t i = 0; i < n; i++)
        if (otlp_resource_is_openrouter(body_array_at(rss, i)))
            return true;
    return false;
}

static bool otlp_is_export(const struct body_node *doc)
{
    return body_type(body_get(doc, "/resourceSpans")) == BODY_ARRAY;
}

static bool openrouter_otlp_match(const struct body_node *doc)
{
    return otlp_is_export(doc) && otlp_any_openrouter(doc);
}

static bool otel_otlp_match(const struct body_node *doc)
{
    return otlp_is_export(doc) && !otlp_any_openrouter(doc);
}

/* A token count attribute: intValue (number or decimal string, as OTLP/JSON
 * encodes int64), an integral doubleValue, or a decimal stringValue (some
 * exporters stringify). Left untouched when the attribute is absent. */
static int otlp_count(const struct body_node *attrs, const char *key, int64_t *dst,
                      char err[ERR_MAX])
{
    static const char *const kinds[] = {"/intValue", "/doubleValue", "/stringValue"};
    const struct body_node *v = otlp_attr(attrs, key);
    if (*dst != EVENT_ABSENT || !v)
        return 0;
    const char *ptr = NULL;
    for (size_t i = 0; i < 3 && !ptr; i++)
        if (body_has(v, kinds[i]))
            ptr = kinds[i];
    int rc = ptr ? body_count(v, ptr, dst) : -EINVAL;
    if (rc < 0)
        return err_set(err, -EINVAL, "attribute %s: not a non-negative integer", key);
    return 0;
}

/* Where the spans of one export are, and which of them carry usage. */
struct otlp_usage_span {
    const struct body_node *span;
    bool openrouter; /* its resource is OpenRouter's (read once per resource) */
    const char *trace;
    const char *id;
    uint64_t hash;
};

struct otlp_index {
    struct otlp_usage_span *spans; /* owned */
    size_t n;
    size_t cap;
    struct map by_id; /* trace:span id -> position in spans */
};

static uint64_t otlp_hash(const char *trace, const char *span)
{
    return map_hash_str(map_hash_str(MAP_HASH_INIT, trace), span);
}

static int otlp_index_add(struct otlp_index *ix, const struct otlp_usage_span *s)
{
    int rc = vec_reserve(&ix->spans, &ix->cap, ix->n + 1, sizeof(*ix->spans));
    if (rc == 0)
        rc = map_insert(&ix->by_id, s->hash, ix->n);
    if (rc < 0)
        return rc;
    ix->spans[ix->n++] = *s;
    return 0;
}

/* True when the span trace:id is one of the spans that carry usage. */
static bool otlp_index_has(const struct otlp_index *ix, const char *trace, const char *id)
{
    uint64_t h = otlp_hash(trace, id);
    for (size_t it = map_first(&ix->by_id, h), i; (i = map_next(&ix->by_id, h, &it)) != MAP_NONE;) {
        const struct otlp_usage_span *s = &ix->spans[i];
        if (strcmp(s->trace, trace) == 0 && strcmp(s->id, id) == 0)
            return true;
    }
    return false;
}

/* Collects every span with usage that the agent-trace rule counts, and
 * tells the pipeline about each one it ignores. Spans must name their trace
 * and span id: without them there is no event id and no parent relation. */
static int otlp_collect(const struct body_node *doc, struct otlp_index *ix, struct source_ctx *ctx,
                        char err[ERR_MAX])
{
    bool agent_mode = source_ctx_config(ctx)->ingest.otel_agent_spans;
    const struct body_node *rss = body_get(doc, "/resourceSpans");
    for (size_t r = 0; r < body_array_len(rss); r++) {
        const struct body_node *rs = body_array_at(rss, r);
        const struct body_node *sss = body_get(rs, "/scopeSpans");
        bool openrouter = otlp_resource_is_openrouter(rs);
        for (size_t s = 0; s < body_array_len(sss); s++) {
            const struct body_node *spans = body_get(body_array_at(sss, s), "/spans");
            for (size_t k = 0; k < body_array_len(spans); k++) {
                const struct body_node *span = body_array_at(spans, k);
                if (!otlp_has_usage(span))
                    continue;
                if (!otlp_span_counts(body_get(span, "/attributes"), agent_mode)) {
                    source_ignore(ctx);
                    continue;
                }
                struct otlp_usage_span u = {
                    .span = span,
                    .openrouter = openrouter,
                    .trace = body_str_nonempty(span, "/traceId"),
                    .id = body_str_nonempty(span, "/spanId"),
                };
                if (!u.trace || !u.id)
                    return err_set(err, -EINVAL,
                                   "/resourceSpans/%zu/scopeSpans/%zu/spans/%zu: span with "
                                   "gen_ai.usage.* but without traceId or spanId",
                                   r, s, k);
                u.hash = otlp_hash(u.trace, u.id);
                int rc = otlp_index_add(ix, &u);
                if (rc < 0)
                    return err_set(err, rc, "out of memory indexing spans");
            }
        }
    }
    return 0;
}

/* The first of several string attributes that is present. */
static const char *otlp_first_str(const struct body_node *attrs, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = otlp_str(attrs, keys[i]);
        if (v)
            return v;
    }
    return NULL;
}

static int otlp_span_event(const struct otlp_usage_span *u, struct source_ctx *ctx,
                           char err[ERR_MAX])
{
    const struct body_node *attrs = body_get(u->span, "/attributes");
    struct event ev;
    event_init(&ev, u->openrouter ? "openrouter" : "otel");
    int rc = source_join_id(&ev, u->trace, u->id, err);
    if (rc < 0)
        return rc;
    ev.trace_id = event_keep(ev.trace_buf, sizeof(ev.trace_buf), u->trace);

    static const char *const model_keys[] = {"gen_ai.response.model", "gen_ai.request.model",
                                             "llm.model_name"};
    static const char *const provider_keys[] = {"trace.metadata.openrouter.provider_name",
                                                "trace.metadata.openrouter.provider_slug",
                                                "gen_ai.provider.name",
                                                "gen_ai.system",
                                                "llm.provider",
                                                "llm.system"};
    ev.model = otlp_first_str(attrs, model_keys, 3);
    ev.provider = otlp_first_str(attrs, provider_keys, 6);
    ev.operation = otlp_str(attrs, "gen_ai.operation.name");
    const char *kind = otlp_str(attrs, "openinference.span.kind");
    if (!ev.operation && kind && strcmp(kind, "EMBEDDING") == 0)
        ev.operation = "embeddings";
    ev.org = otlp_str(attrs, "trace.metadata.org_id");
    ev.team = otlp_str(attrs, "trace.metadata.team_id");
    ev.user = otlp_str(attrs, "user.id");
    ev.finish_reason = otlp_str(attrs, "gen_ai.response.finish_reason");
    if (!ev.finish_reason)
        ev.finish_reason = body_str_nonempty(otlp_attr(attrs, "gen_ai.response.finish_reasons"),
                                             "/arrayValue/values/0/stringValue");

    /* Span status code 2 is STATUS_CODE_ERROR; OTLP/JSON mandates the
     * integer, but some exporters send the enum's name. */
    int64_t code = 0;
    const char *code_name = body_str(u->span, "/status/code");
    const char *etype = otlp_str(attrs, "error.type");
    if ((body_int(u->span, "/status/code", &code) == 0 && code == 2) || etype ||
        (code_name && strcmp(code_name, "STATUS_CODE_ERROR") == 0)) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = etype ? etype : "error";
    }

    /* The first name present wins: current conventions, then the others. */
    static const struct {
        const char *key;
        size_t off;
    } counts[] = {
        {"gen_ai.usage.input_tokens", offsetof(struct event, input_tokens)},
        {"gen_ai.usage.prompt_tokens", offsetof(struct event, input_tokens)},
        {"llm.token_count.prompt", offsetof(struct event, input_tokens)},
        {"gen_ai.usage.output_tokens", offsetof(struct event, output_tokens)},
        {"gen_ai.usage.completion_tokens", offsetof(struct event, output_tokens)},
        {"llm.token_count.completion", offsetof(struct event, output_tokens)},
        {"gen_ai.usage.cache_read.input_tokens", offsetof(struct event, cached_input_tokens)},
        {"gen_ai.usage.cache_read_input_tokens", offsetof(struct event, cached_input_tokens)},
        {"gen_ai.usage.input_tokens.cached", offsetof(struct event, cached_input_tokens)},
        {"llm.token_count.prompt_details.cache_read", offsetof(struct event, cached_input_tokens)},
        {"gen_ai.usage.cache_creation.input_tokens", offsetof(struct event, cache_write_tokens)},
        {"gen_ai.usage.cache_creation_input_tokens", offsetof(struct event, cache_write_tokens)},
        {"llm.token_count.prompt_details.cache_write", offsetof(struct event, cache_write_tokens)},
        {"gen_ai.usage.reasoning.output_tokens", offsetof(struct event, reasoning_tokens)},
        {"gen_ai.usage.output_tokens.reasoning", offsetof(struct event, reasoning_tokens)},
        {"llm.token_count.completion_details.reasoning", offsetof(struct event, reasoning_tokens)},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if ((rc = otlp_count(attrs, counts[i].key, (int64_t *)((char *)&ev + counts[i].off), err)) <
            0)
            return rc;
    const struct body_node *cost = otlp_attr(attrs, "gen_ai.usage.total_cost");
    if (cost &&
        (rc = source_number(cost, body_has(cost, "/doubleValue") ? "/doubleValue" : "/intValue",
                            1.0, &ev.cost_usd, err)) < 0)
        return rc;

    /* 0 is OTLP's "unset" time. */
    int64_t start = 0, end = 0;
    int trc = body_int(u->span, "/startTimeUnixNano", &start);
    if (trc == -EINVAL || trc == -ERANGE || start < 0)
        return err_set(err, -EINVAL, "span %.64s: startTimeUnixNano is not a valid time", u->id);
    if (trc == 0 && start > 0) {
        if ((rc = source_time(u->span, "/startTimeUnixNano", 1, &ev, err)) < 0)
            return rc;
        if (body_int(u->span, "/endTimeUnixNano", &end) == 0 && end >= start)
            ev.latency_ms = (double)(end - start) / 1e6;
    }
    return source_emit(ctx, &ev);
}

static int otlp_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    struct otlp_index ix = {0};
    map_init(&ix.by_id);
    int rc = otlp_collect(doc, &ix, ctx, err);
    for (size_t i = 0; rc == 0 && i < ix.n; i++) {
        const struct otlp_usage_span *u = &ix.spans[i];
        const char *parent = body_str_nonempty(u->span, "/parentSpanId");
        if (parent && otlp_index_has(&ix, u->trace, parent))
            continue; /* an attempt repeating its generation's usage */
        rc = otlp_span_event(u, ctx, err);
    }
    free(ix.spans);
    map_free(&ix.by_id);
    return rc;
}

const struct source source_openrouter_otlp = {
    .name = "openrouter",
    .match = openrouter_otlp_match,
    .extract = otlp_extract,
    .signature = "OTLP/JSON resourceSpans with service.name \"openrouter\" (Broadcast)",
    .keys = SOURCE_KEY(RESOURCE_SPANS),
};

const struct source source_otel_otlp = {
    .name = "otel",
    .match = otel_otlp_match,
    .extract = otlp_extract,
    .signature = "OTLP/JSON resourceSpans (OpenTelemetry GenAI spans)",
    .keys = SOURCE_KEY(RESOURCE_SPANS),
};
