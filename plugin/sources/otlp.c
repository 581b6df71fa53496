/* SPDX-License-Identifier: MIT */
/*
 * OTLP/JSON trace exports (`{"resourceSpans":[...]}`), as OpenRouter
 * Broadcast's webhook destination sends them (llm-usage-formats.md §1.3) and
 * as any OpenTelemetry GenAI instrumentation exports them (§5).
 *
 * One event per span that carries gen_ai.usage.* attributes and whose parent
 * span (in the same export) does not: OpenRouter may repeat the usage on its
 * per-provider attempt spans, and counting those too would bill fallbacks
 * twice. A resource whose service.name is "openrouter" gives source
 * "openrouter"; any other resource gives "otel".
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/identity.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

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
        if (k && strncmp(k, "gen_ai.usage.", 13) == 0)
            return true;
    }
    return false;
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
    if (rc < 0) {
        snprintf(err, ERR_MAX, "attribute %s: not a non-negative integer", key);
        return -EINVAL;
    }
    return 0;
}

/* Where the spans of one export are, and which of them carry usage. */
struct otlp_usage_span {
    const struct body_node *span;
    const struct body_node *resource; /* its resourceSpans element */
    const char *trace;
    const char *id;
    uint64_t hash;
};

struct otlp_index {
    struct otlp_usage_span *spans;
    size_t n;
    size_t cap;
    size_t *slots; /* index + 1; 0 = empty */
    size_t nslots;
};

static uint64_t otlp_hash(const char *trace, const char *span)
{
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, trace, strlen(trace));
    h = identity_fnv1a(h, ":", 1);
    return identity_fnv1a(h, span, strlen(span));
}

static int otlp_index_add(struct otlp_index *ix, const struct otlp_usage_span *s)
{
    if (ix->n == ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 8;
        struct otlp_usage_span *p = realloc(ix->spans, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        ix->spans = p;
        ix->cap = ncap;
    }
    ix->spans[ix->n++] = *s;
    return 0;
}

static int otlp_index_build(struct otlp_index *ix)
{
    size_t want = 16;
    while (want < ix->n * 2)
        want *= 2;
    ix->slots = calloc(want, sizeof(*ix->slots));
    if (!ix->slots)
        return -ENOMEM;
    ix->nslots = want;
    for (size_t k = 0; k < ix->n; k++) {
        size_t i = (size_t)ix->spans[k].hash & (want - 1);
        while (ix->slots[i])
            i = (i + 1) & (want - 1);
        ix->slots[i] = k + 1;
    }
    return 0;
}

/* True when the span trace:id is one of the spans that carry usage. */
static bool otlp_index_has(const struct otlp_index *ix, const char *trace, const char *id)
{
    uint64_t h = otlp_hash(trace, id);
    for (size_t i = (size_t)h & (ix->nslots - 1); ix->slots[i]; i = (i + 1) & (ix->nslots - 1)) {
        const struct otlp_usage_span *s = &ix->spans[ix->slots[i] - 1];
        if (s->hash == h && strcmp(s->trace, trace) == 0 && strcmp(s->id, id) == 0)
            return true;
    }
    return false;
}

/* Collects every span with usage. Spans must name their trace and span id:
 * without them there is no event id and no parent relation. */
static int otlp_collect(const struct body_node *doc, struct otlp_index *ix, char err[ERR_MAX])
{
    const struct body_node *rss = body_get(doc, "/resourceSpans");
    for (size_t r = 0; r < body_array_len(rss); r++) {
        const struct body_node *rs = body_array_at(rss, r);
        const struct body_node *sss = body_get(rs, "/scopeSpans");
        for (size_t s = 0; s < body_array_len(sss); s++) {
            const struct body_node *spans = body_get(body_array_at(sss, s), "/spans");
            for (size_t k = 0; k < body_array_len(spans); k++) {
                const struct body_node *span = body_array_at(spans, k);
                if (!otlp_has_usage(span))
                    continue;
                struct otlp_usage_span u = {
                    .span = span,
                    .resource = rs,
                    .trace = body_str_nonempty(span, "/traceId"),
                    .id = body_str_nonempty(span, "/spanId"),
                };
                if (!u.trace || !u.id) {
                    snprintf(err, ERR_MAX,
                             "/resourceSpans/%zu/scopeSpans/%zu/spans/%zu: span with "
                             "gen_ai.usage.* but without traceId or spanId",
                             r, s, k);
                    return -EINVAL;
                }
                u.hash = otlp_hash(u.trace, u.id);
                if (otlp_index_add(ix, &u) < 0)
                    return -ENOMEM;
            }
        }
    }
    return otlp_index_build(ix);
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
    event_init(&ev, otlp_resource_is_openrouter(u->resource) ? "openrouter" : "otel");
    ev.event_id = source_join_id(&ev, u->trace, u->id);
    ev.trace_id = event_keep(ev.trace_buf, sizeof(ev.trace_buf), u->trace);

    static const char *const model_keys[] = {"gen_ai.response.model", "gen_ai.request.model"};
    static const char *const provider_keys[] = {"trace.metadata.openrouter.provider_name",
                                                "trace.metadata.openrouter.provider_slug",
                                                "gen_ai.provider.name", "gen_ai.system"};
    ev.model = otlp_first_str(attrs, model_keys, 2);
    ev.provider = otlp_first_str(attrs, provider_keys, 4);
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

    if (otlp_count(attrs, "gen_ai.usage.input_tokens", &ev.input_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.prompt_tokens", &ev.input_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.output_tokens", &ev.output_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.completion_tokens", &ev.output_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.cache_read.input_tokens", &ev.cached_input_tokens, err) <
            0 ||
        otlp_count(attrs, "gen_ai.usage.input_tokens.cached", &ev.cached_input_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.cache_creation.input_tokens", &ev.cache_write_tokens, err) <
            0 ||
        otlp_count(attrs, "gen_ai.usage.reasoning.output_tokens", &ev.reasoning_tokens, err) < 0 ||
        otlp_count(attrs, "gen_ai.usage.output_tokens.reasoning", &ev.reasoning_tokens, err) < 0)
        return -EINVAL;
    const struct body_node *cost = otlp_attr(attrs, "gen_ai.usage.total_cost");
    if (cost && source_number(cost, body_has(cost, "/doubleValue") ? "/doubleValue" : "/intValue",
                              1.0, &ev.cost_usd, err) < 0)
        return -EINVAL;

    /* 0 is OTLP's "unset" time. */
    int64_t start = 0, end = 0;
    int trc = body_int(u->span, "/startTimeUnixNano", &start);
    if (trc == -EINVAL || trc == -ERANGE || start < 0) {
        snprintf(err, ERR_MAX, "span %.64s: startTimeUnixNano is not a valid time", u->id);
        return -EINVAL;
    }
    if (trc == 0 && start > 0) {
        if (source_time(u->span, "/startTimeUnixNano", 1, &ev, err) < 0)
            return -EINVAL;
        if (body_int(u->span, "/endTimeUnixNano", &end) == 0 && end >= start)
            ev.latency_ms = (double)(end - start) / 1e6;
    }
    return source_emit(ctx, &ev);
}

static int otlp_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    struct otlp_index ix = {0};
    int rc = otlp_collect(doc, &ix, err);
    for (size_t i = 0; rc == 0 && i < ix.n; i++) {
        const struct otlp_usage_span *u = &ix.spans[i];
        const char *parent = body_str_nonempty(u->span, "/parentSpanId");
        if (parent && otlp_index_has(&ix, u->trace, parent))
            continue; /* an attempt repeating its generation's usage */
        rc = otlp_span_event(u, ctx, err);
    }
    free(ix.spans);
    free(ix.slots);
    return rc;
}

const struct source source_openrouter_otlp = {
    .name = "openrouter",
    .match = openrouter_otlp_match,
    .extract = otlp_extract,
    .signature = "OTLP/JSON resourceSpans with service.name \"openrouter\" (Broadcast)",
};

const struct source source_otel_otlp = {
    .name = "otel",
    .match = otel_otlp_match,
    .extract = otlp_extract,
    .signature = "OTLP/JSON resourceSpans (OpenTelemetry GenAI spans)",
};
