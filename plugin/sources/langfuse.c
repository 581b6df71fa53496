/* SPDX-License-Identifier: MIT */
/*
 * Langfuse ingestion batches (llm-usage-formats.md §4.2):
 * {"batch":[{id, timestamp, type, body}], "metadata":{...}}.
 *
 * One event per generation item (generation-create / generation-update, or
 * observation-create / -update whose body.type is GENERATION) that carries
 * usageDetails, usage or costDetails; every other item (traces, spans,
 * scores) is not usage. A batch without such an item emits nothing and is
 * counted as ignored.
 *
 * Token rules: Langfuse's own usageDetails keys are EXCLUSIVE — "input"
 * excludes the input_* details (input_cached_tokens, input_cache_read,
 * input_cache_creation[_5m|_1h], input_audio_tokens ...) and "output"
 * excludes output_* (output_reasoning_tokens ...) — so the totals are the
 * sums. A raw OpenAI usage object passed as usageDetails (prompt_tokens +
 * completion_tokens, or input_tokens + output_tokens) is inclusive and read
 * as OpenAI's. The legacy `usage` object (input/output or
 * promptTokens/completionTokens, unit TOKENS) has no split and is taken as
 * totals. Costs are USD: costDetails.total, else the sum of costDetails,
 * else usage.totalCost.
 *
 * The event id is body.id, the observation that a create and its updates
 * share, so a generation reported twice is the same event; the envelope id
 * is the fallback. Level ERROR is an error; WARNING is a success.
 * Org, team and user come from body.metadata org_id / team_id / user_id.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool langfuse_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/batch")) == BODY_ARRAY;
}

static bool langfuse_is_generation(const struct body_node *item)
{
    const char *type = body_str(item, "/type");
    if (!type)
        return false;
    if (strcmp(type, "generation-create") == 0 || strcmp(type, "generation-update") == 0)
        return true;
    const char *otype = body_str(item, "/body/type");
    return (strcmp(type, "observation-create") == 0 || strcmp(type, "observation-update") == 0) &&
           otype && strcmp(otype, "GENERATION") == 0;
}

/* *acc += v, where an absent accumulator starts at zero. */
static int langfuse_add(int64_t *acc, int64_t v, const char *key, char err[SOURCE_ERR_MAX])
{
    int64_t cur = *acc == EVENT_ABSENT ? 0 : *acc;
    if (cur > INT64_MAX - v) {
        snprintf(err, SOURCE_ERR_MAX, "usageDetails: %.64s: token sum out of range", key);
        return -EINVAL;
    }
    *acc = cur + v;
    return 0;
}

static bool langfuse_key_is(const char *key, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(key, *names) == 0)
            return true;
    return false;
}

/* Langfuse's exclusive usageDetails map. */
static int langfuse_details(const struct body_node *u, struct event *ev, char err[SOURCE_ERR_MAX])
{
    static const char *const cached_keys[] = {"input_cached_tokens", "input_cache_read", NULL};
    static const char *const write_keys[] = {"input_cache_creation", "input_cache_write", NULL};
    static const char *const split_keys[] = {"input_cache_creation_5m", "input_cache_creation_1h",
                                             NULL};
    static const char *const reasoning_keys[] = {"output_reasoning_tokens", "output_reasoning",
                                                 NULL};
    /* When the writes come as one total, the 5m/1h split is inside it; two
     * write totals are two names for one count. */
    const char *write_total = body_has(u, "/input_cache_creation") ? "input_cache_creation"
                              : body_has(u, "/input_cache_write")  ? "input_cache_write"
                                                                   : NULL;
    size_t n = body_object_len(u);
    for (size_t i = 0; i < n; i++) {
        const char *key = body_object_key(u, i);
        const struct body_node *v = body_object_value(u, i);
        int64_t c = 0;
        if (body_type(v) == BODY_NULL || strcmp(key, "total") == 0)
            continue;
        if (strcmp(key, "input") != 0 && strcmp(key, "output") != 0 &&
            strncmp(key, "input_", 6) != 0 && strncmp(key, "output_", 7) != 0)
            continue; /* a custom usage type: neither input nor output */
        int rc = body_count(v, "", &c);
        if (rc < 0) {
            snprintf(err, SOURCE_ERR_MAX, "usageDetails: %.64s: not a non-negative integer", key);
            return -EINVAL;
        }
        bool is_split = langfuse_key_is(key, split_keys);
        if (strcmp(key, "input_cache_creation_1h") == 0 &&
            langfuse_add(&ev->cache_write_1h_tokens, c, key, err) < 0)
            return -EINVAL;
        if (langfuse_key_is(key, write_keys) && write_total && strcmp(key, write_total) != 0)
            continue;
        if (is_split && write_total)
            continue;
        if (key[0] == 'i' && langfuse_add(&ev->input_tokens, c, key, err) < 0)
            return -EINVAL;
        if (key[0] == 'o' && langfuse_add(&ev->output_tokens, c, key, err) < 0)
            return -EINVAL;
        if (langfuse_key_is(key, cached_keys) &&
            langfuse_add(&ev->cached_input_tokens, c, key, err) < 0)
            return -EINVAL;
        if ((langfuse_key_is(key, write_keys) || is_split) &&
            langfuse_add(&ev->cache_write_tokens, c, key, err) < 0)
            return -EINVAL;
        if (langfuse_key_is(key, reasoning_keys) &&
            langfuse_add(&ev->reasoning_tokens, c, key, err) < 0)
            return -EINVAL;
    }
    return 0;
}

static int langfuse_tokens(const struct body_node *b, struct event *ev, char err[SOURCE_ERR_MAX])
{
    const struct body_node *u = body_get(b, "/usageDetails");
    if (body_type(u) == BODY_OBJECT) {
        if ((body_has(u, "/prompt_tokens") && body_has(u, "/completion_tokens")) ||
            (body_has(u, "/input_tokens") && body_has(u, "/output_tokens")))
            return source_openai_usage(b, "/usageDetails", ev, err);
        return langfuse_details(u, ev, err);
    }
    const struct body_node *legacy = body_get(b, "/usage");
    const char *unit = body_str(legacy, "/unit");
    if (body_type(legacy) != BODY_OBJECT || (unit && strcmp(unit, "TOKENS") != 0))
        return 0; /* characters, images, seconds: not tokens */
    const char *in = body_has(legacy, "/input") ? "/usage/input" : "/usage/promptTokens";
    const char *out = body_has(legacy, "/output") ? "/usage/output" : "/usage/completionTokens";
    if (source_count(b, in, &ev->input_tokens, err) < 0 ||
        source_count(b, out, &ev->output_tokens, err) < 0)
        return -EINVAL;
    return 0;
}

static int langfuse_cost(const struct body_node *b, struct event *ev, char err[SOURCE_ERR_MAX])
{
    const struct body_node *cd = body_get(b, "/costDetails");
    if (body_type(cd) == BODY_OBJECT && body_has(cd, "/total"))
        return source_number(b, "/costDetails/total", 1.0, &ev->cost_usd, err);
    size_t n = body_object_len(cd);
    if (n > 0) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            double v = 0;
            if (body_num(body_object_value(cd, i), "", &v) < 0) {
                snprintf(err, SOURCE_ERR_MAX, "costDetails: %.64s: not a finite number",
                         body_object_key(cd, i));
                return -EINVAL;
            }
            sum += v;
        }
        ev->cost_usd = sum;
        return 0;
    }
    return source_number(b, "/usage/totalCost", 1.0, &ev->cost_usd, err);
}

/* Milliseconds from the time at `from` to the time at `to`, when both exist. */
static int langfuse_span_ms(const struct body_node *b, const char *from, const char *to,
                            double *out, char err[SOURCE_ERR_MAX])
{
    struct event t0, t1;
    event_init(&t0, "langfuse");
    event_init(&t1, "langfuse");
    if (source_time(b, from, TIMEUTIL_NS_PER_S, &t0, err) < 0 ||
        source_time(b, to, TIMEUTIL_NS_PER_S, &t1, err) < 0)
        return -EINVAL;
    if (t0.time_known && t1.time_known && t1.time_ns >= t0.time_ns)
        *out = (double)(t1.time_ns - t0.time_ns) / 1e6;
    return 0;
}

static int langfuse_item(const struct body_node *item, size_t idx, struct source_ctx *ctx,
                         char err[SOURCE_ERR_MAX])
{
    const struct body_node *b = body_get(item, "/body");
    struct event ev;
    event_init(&ev, "langfuse");
    ev.event_id = body_str_nonempty(b, "/id");
    if (!ev.event_id)
        ev.event_id = body_str_nonempty(item, "/id");
    ev.trace_id = body_str_nonempty(b, "/traceId");
    ev.model = body_str_nonempty(b, "/model");
    ev.org = body_str_nonempty(b, "/metadata/org_id");
    ev.team = body_str_nonempty(b, "/metadata/team_id");
    ev.user = body_str_nonempty(b, "/metadata/user_id");
    const char *level = body_str(b, "/level");
    if (level && strcmp(level, "ERROR") == 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = "error";
    }
    const char *start = body_has(b, "/startTime") ? "/startTime" : NULL;
    int rc = langfuse_tokens(b, &ev, err);
    if (rc == 0)
        rc = langfuse_cost(b, &ev, err);
    if (rc == 0)
        rc = start ? source_time(b, start, TIMEUTIL_NS_PER_S, &ev, err)
                   : source_time(item, "/timestamp", TIMEUTIL_NS_PER_S, &ev, err);
    if (rc == 0)
        rc = langfuse_span_ms(b, "/startTime", "/endTime", &ev.latency_ms, err);
    if (rc == 0)
        rc = langfuse_span_ms(b, "/startTime", "/completionStartTime", &ev.ttft_ms, err);
    if (rc < 0) {
        /* Name the batch element: a batch holds many. */
        char inner[SOURCE_ERR_MAX];
        snprintf(inner, sizeof(inner), "%s", err);
        snprintf(err, SOURCE_ERR_MAX, "/batch/%zu: %.200s", idx, inner);
        return rc;
    }
    return source_emit(ctx, &ev);
}

static int langfuse_extract(const struct body_node *doc, struct source_ctx *ctx,
                            char err[SOURCE_ERR_MAX])
{
    const struct body_node *batch = body_get(doc, "/batch");
    size_t n = body_array_len(batch);
    for (size_t i = 0; i < n; i++) {
        const struct body_node *item = body_array_at(batch, i);
        const struct body_node *b = body_get(item, "/body");
        if (!langfuse_is_generation(item) || body_type(b) != BODY_OBJECT)
            continue;
        if (!body_has(b, "/usageDetails") && !body_has(b, "/usage") && !body_has(b, "/costDetails"))
            continue; /* a generation whose usage comes in a later update */
        int rc = langfuse_item(item, i, ctx, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

const struct source source_langfuse = {
    .name = "langfuse",
    .match = langfuse_match,
    .extract = langfuse_extract,
    .signature = "a \"batch\" array (Langfuse ingestion API)",
};
