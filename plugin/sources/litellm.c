/* SPDX-License-Identifier: MIT */
/*
 * LiteLLM StandardLoggingPayload (LiteLLM docs, "StandardLoggingPayload
 * Specification"; docs/sources.md "The source table"), as sent by
 * the generic_api callback one object, a JSON array, or NDJSON.
 *
 * prompt_tokens is normalized by LiteLLM to include cache reads and writes
 * (Anthropic too); the cache split lives only in metadata.usage_object, the
 * provider-shaped usage. startTime/endTime are epoch seconds (floats).
 * response_cost is USD, except when response_cost_failure_debug_info says
 * LiteLLM could not compute it: then the cost is not taken as reported.
 *
 * Older releases left cache tokens out of an Anthropic call's prompt_tokens:
 * AnthropicConfig.calculate_usage (litellm/llms/anthropic/chat/
 * transformation.py) added cache_read_input_tokens but not
 * cache_creation_input_tokens in the releases of early 2025, and the
 * first prompt-caching releases of 2024 added neither. Such a payload says
 * so itself: its cache parts exceed prompt_tokens. It is normalized by the
 * rule of those releases — reads included when they fit, writes added —
 * instead of being rejected (litellm_old_prompt()). A payload of those
 * releases whose parts happen to fit below prompt_tokens cannot be told
 * from a current one and is read as current: its input is then understated
 * by its cache writes (docs/sources.md "Assumptions").
 *
 * Also read here: the /spend/logs row (LiteLLM_SpendLogs in LiteLLM's
 * schema.prisma: request_id, spend, startTime, endTime, model, metadata,
 * ...), with `spend` as the reported cost and request_id as the id; and the
 * legacy v1 payload of the generic_api callback (litellm.generic_api_use_v1;
 * GenericAPILogger._get_v1_logging_payload), in which every value went
 * through Python's str(): counts are read out of the Usage repr, tenancy out
 * of the metadata dict repr, and the naive datetimes are taken as UTC
 * (assumption: LiteLLM's own spend logs are UTC).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool litellm_is_spend_log(const struct body_node *doc)
{
    return body_has(doc, "/request_id") && body_has(doc, "/spend") && body_has(doc, "/startTime");
}

static bool litellm_match(const struct body_node *doc)
{
    return (body_has(doc, "/call_type") || body_has(doc, "/litellm_call_id")) &&
           body_has(doc, "/status") && body_has(doc, "/startTime") && !litellm_is_spend_log(doc) &&
           body_type(body_get(doc, "/usage")) != BODY_STRING;
}

/* LiteLLM's call types (its CallTypes enum) as the operation field: the
 * async twin ("acompletion") is the same kind of call. */
static const char *litellm_operation(const char *call_type)
{
    static const struct {
        const char *call_type;
        const char *operation;
    } ops[] = {
        {"completion", "chat"},
        {"embedding", "embeddings"},
        {"text_completion", "text_completion"},
        {"responses", "responses"},
        {"anthropic_messages", "chat"},
        {"image_generation", "image_generation"},
        {"transcription", "transcription"},
        {"speech", "speech"},
        {"rerank", "rerank"},
        {"moderation", "moderation"},
    };
    if (!call_type)
        return NULL;
    if (strncmp(call_type, "litellm.", 8) == 0)
        call_type += 8;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const char *c = call_type;
        if (c[0] == 'a' && strcmp(c + 1, ops[i].call_type) == 0)
            return ops[i].operation;
        if (strcmp(c, ops[i].call_type) == 0)
            return ops[i].operation;
    }
    return NULL;
}

/* The releases described above: prompt_tokens without the cache writes
 * (and, before them, without the reads too). Only a payload whose parts
 * exceed its prompt_tokens is changed. */
static int litellm_old_prompt(struct event *ev, char err[ERR_MAX])
{
    int64_t p = ev->input_tokens;
    int64_t r = ev->cached_input_tokens > 0 ? ev->cached_input_tokens : 0;
    int64_t w = ev->cache_write_tokens > 0 ? ev->cache_write_tokens : 0;
    if (p == EVENT_ABSENT || (r <= p && w <= p - r))
        return 0;
    if (w > INT64_MAX - p || (r > p && r > INT64_MAX - p - w))
        return err_set(err, -EINVAL, "prompt_tokens + cache tokens out of range");
    ev->input_tokens = r <= p ? p + w : p + r + w;
    return 0;
}

/* The cache and reasoning split, from the provider-shaped usage in the
 * payload's metadata (meta, NULL when absent): OpenAI names first, then
 * Anthropic's (which LiteLLM passes through). */
static int litellm_usage_parts(const struct body_node *meta, struct event *ev, char err[ERR_MAX])
{
    enum { USAGE, PROMPT, COMPLETION, TOOLS };
    static const char *const details[] = {
        [PROMPT - 1] = "/prompt_tokens_details",
        [COMPLETION - 1] = "/completion_tokens_details",
        [TOOLS - 1] = "/server_tool_use",
    };
    static const struct source_part parts[] = {
        {PROMPT, "/cached_tokens", offsetof(struct event, cached_input_tokens)},
        {USAGE, "/cache_read_input_tokens", offsetof(struct event, cached_input_tokens)},
        {PROMPT, "/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {USAGE, "/cache_creation_input_tokens", offsetof(struct event, cache_write_tokens)},
        {COMPLETION, "/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        /* parts priced apart (docs/pricing.md) */
        {PROMPT, "/audio_tokens", offsetof(struct event, input_audio_tokens)},
        {PROMPT, "/image_tokens", offsetof(struct event, input_image_tokens)},
        {COMPLETION, "/audio_tokens", offsetof(struct event, output_audio_tokens)},
        {COMPLETION, "/image_tokens", offsetof(struct event, output_image_tokens)},
        {TOOLS, "/web_search_requests", offsetof(struct event, web_search_requests)},
    };
    int rc = source_usage_parts(body_get(meta, "/usage_object"), "/metadata/usage_object", details,
                                sizeof(details) / sizeof(details[0]), parts,
                                sizeof(parts) / sizeof(parts[0]), ev, err);
    return rc < 0 ? rc : litellm_old_prompt(ev, err);
}

/* The payload's members litellm_extract() reads, found in one pass over its
 * twenty-odd keys (source_members()) instead of one scan of them per name. */
enum litellm_member {
    LM_CALL_TYPE,
    LM_COMPLETION_START_TIME,
    LM_COMPLETION_TOKENS,
    LM_CUSTOM_LLM_PROVIDER,
    LM_END_TIME,
    LM_ERROR_INFORMATION,
    LM_ID,
    LM_LITELLM_CALL_ID,
    LM_METADATA,
    LM_MODEL,
    LM_PROMPT_TOKENS,
    LM_RESPONSE,
    LM_RESPONSE_COST,
    LM_RESPONSE_COST_FAILURE_DEBUG_INFO,
    LM_START_TIME,
    LM_STATUS,
    LM_STREAM,
    LM_TRACE_ID,
    LM_COUNT
};

static const char *const litellm_members[LM_COUNT] = {
    [LM_CALL_TYPE] = "call_type",
    [LM_COMPLETION_START_TIME] = "completionStartTime",
    [LM_COMPLETION_TOKENS] = "completion_tokens",
    [LM_CUSTOM_LLM_PROVIDER] = "custom_llm_provider",
    [LM_END_TIME] = "endTime",
    [LM_ERROR_INFORMATION] = "error_information",
    [LM_ID] = "id",
    [LM_LITELLM_CALL_ID] = "litellm_call_id",
    [LM_METADATA] = "metadata",
    [LM_MODEL] = "model",
    [LM_PROMPT_TOKENS] = "prompt_tokens",
    [LM_RESPONSE] = "response",
    [LM_RESPONSE_COST] = "response_cost",
    [LM_RESPONSE_COST_FAILURE_DEBUG_INFO] = "response_cost_failure_debug_info",
    [LM_START_TIME] = "startTime",
    [LM_STATUS] = "status",
    [LM_STREAM] = "stream",
    [LM_TRACE_ID] = "trace_id",
};

static int litellm_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    _Static_assert(LM_COUNT <= SOURCE_MEMBERS_MAX, "one pass finds every member");
    const struct body_node *m[LM_COUNT];
    source_members(doc, litellm_members, LM_COUNT, m);
    struct event ev;
    event_init(&ev, "litellm");
    /* `id` is the provider's response id, and providers reuse short ones
     * ("chatcmpl-424", LiteLLM PR #28396): with LiteLLM's own per-call id
     * beside it, two calls can never share an identity. */
    const char *id = body_str_nonempty(m[LM_ID], "");
    const char *call = body_str_nonempty(m[LM_LITELLM_CALL_ID], "");
    ev.event_id = id ? id : call;
    int rc = 0;
    if (id && call && strcmp(id, call) != 0 && (rc = source_join_id(&ev, id, call, err)) < 0)
        return rc;
    ev.trace_id = body_str_nonempty(m[LM_TRACE_ID], "");
    const struct body_node *meta = m[LM_METADATA];
    ev.org = body_str_nonempty(meta, "/user_api_key_org_id");
    ev.team = body_str_nonempty(meta, "/user_api_key_team_id");
    ev.user = body_str_nonempty(meta, "/user_api_key_user_id");
    ev.model = body_str_nonempty(m[LM_MODEL], "");
    ev.provider = body_str_nonempty(m[LM_CUSTOM_LLM_PROVIDER], "");
    ev.finish_reason = body_str_nonempty(m[LM_RESPONSE], "/choices/0/finish_reason");
    ev.operation = litellm_operation(body_str(m[LM_CALL_TYPE], ""));

    const char *status = body_str(m[LM_STATUS], "");
    if (!status || strcmp(status, "success") != 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(m[LM_ERROR_INFORMATION], "/error_class");
        if (!ev.error_type)
            ev.error_type = body_str_nonempty(m[LM_ERROR_INFORMATION], "/error_code");
        if (!ev.error_type)
            ev.error_type = status && *status ? status : "failure";
    }

    if ((rc = source_count_at(m[LM_PROMPT_TOKENS], "/prompt_tokens", "", &ev.input_tokens, err)) <
            0 ||
        (rc = source_count_at(m[LM_COMPLETION_TOKENS], "/completion_tokens", "", &ev.output_tokens,
                              err)) < 0 ||
        (rc = source_time_at(m[LM_START_TIME], "/startTime", "", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    if ((rc = litellm_usage_parts(meta, &ev, err)) < 0)
        return rc;

    if ((rc = source_number_at(m[LM_RESPONSE_COST], "/response_cost", "", 1.0, &ev.cost_usd, err)) <
        0)
        return rc;
    if (body_has(m[LM_RESPONSE_COST_FAILURE_DEBUG_INFO], ""))
        ev.cost_not_computed = true;

    double start = 0, end = 0, first = 0;
    if (body_num(m[LM_START_TIME], "", &start) == 0) {
        if (body_num(m[LM_END_TIME], "", &end) == 0 && end >= start)
            ev.latency_ms = (end - start) * 1000.0;
        bool stream = false;
        if (body_bool(m[LM_STREAM], "", &stream) == 0 && stream &&
            body_num(m[LM_COMPLETION_START_TIME], "", &first) == 0 && first >= start)
            ev.ttft_ms = (first - start) * 1000.0;
    }
    return source_emit(ctx, &ev);
}

const struct source source_litellm = {
    .name = "litellm",
    .match = litellm_match,
    .extract = litellm_extract,
    .signature = "StandardLoggingPayload: call_type or litellm_call_id, status, startTime",
    .keys = SOURCE_KEY(CALL_TYPE) | SOURCE_KEY(LITELLM_CALL_ID),
};

static bool litellm_spend_log_match(const struct body_node *doc)
{
    return litellm_is_spend_log(doc);
}

/* The time at ptr (epoch seconds or ISO 8601) as ns, or -1 when absent or
 * unreadable (it only serves the latency). */
static int64_t litellm_time_ns(const struct body_node *doc, const char *ptr)
{
    struct event t;
    char err[ERR_MAX];
    event_init(&t, "litellm");
    if (source_time(doc, ptr, TIMEUTIL_NS_PER_S, &t, err) < 0 || !t.time_known)
        return -1;
    return t.time_ns;
}

static int litellm_spend_log_extract(const struct body_node *doc, struct source_ctx *ctx,
                                     char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "litellm");
    ev.event_id = body_str_nonempty(doc, "/request_id");
    ev.trace_id = body_str_nonempty(doc, "/session_id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/custom_llm_provider");
    ev.operation = litellm_operation(body_str(doc, "/call_type"));
    const struct body_node *meta = body_get(doc, "/metadata");
    ev.org = body_str_nonempty(doc, "/organization_id");
    if (!ev.org)
        ev.org = body_str_nonempty(meta, "/user_api_key_org_id");
    ev.team = body_str_nonempty(doc, "/team_id");
    if (!ev.team)
        ev.team = body_str_nonempty(meta, "/user_api_key_team_id");
    ev.user = body_str_nonempty(doc, "/user");
    if (!ev.user)
        ev.user = body_str_nonempty(meta, "/user_api_key_user_id");
    /* Rows written before the status column are successes: failures were
     * not logged to the table then. */
    const char *status = body_str_nonempty(doc, "/status");
    if (status && strcmp(status, "success") != 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(meta, "/error_information/error_class");
        if (!ev.error_type)
            ev.error_type = status;
    }
    if ((rc = source_count(doc, "/prompt_tokens", &ev.input_tokens, err)) < 0 ||
        (rc = source_count(doc, "/completion_tokens", &ev.output_tokens, err)) < 0 ||
        (rc = litellm_usage_parts(meta, &ev, err)) < 0 ||
        (rc = source_number(doc, "/spend", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(doc, "/request_duration_ms", 1.0, &ev.latency_ms, err)) < 0 ||
        (rc = source_time(doc, "/startTime", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    int64_t end = litellm_time_ns(doc, "/endTime");
    if (isnan(ev.latency_ms) && ev.time_known && end >= ev.time_ns)
        ev.latency_ms = (double)(end - ev.time_ns) / 1e6;
    return source_emit(ctx, &ev);
}

const struct source source_litellm_spend_log = {
    .name = "litellm",
    .match = litellm_spend_log_match,
    .extract = litellm_spend_log_extract,
    .signature = "a /spend/logs row: request_id, spend, startTime",
    .keys = SOURCE_KEY(REQUEST_ID),
};

static bool litellm_v1_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/usage")) == BODY_STRING &&
           body_type(body_get(doc, "/call_type")) == BODY_STRING &&
           body_type(body_get(doc, "/startTime")) == BODY_STRING && body_has(doc, "/cost");
}

/* The integer after `key=` (a pydantic repr) or `'key': ` (a dict repr) in
 * a Python repr string, where key is a whole identifier; -1 when absent. */
static int64_t litellm_repr_int(const char *repr, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = strstr(repr, key); p; p = strstr(p + 1, key)) {
        const char *q = p + n;
        bool quoted = p > repr && p[-1] == '\'';
        if (p > repr && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        if (quoted ? strncmp(q, "': ", 3) != 0 : *q != '=')
            continue;
        q += quoted ? 3 : 1;
        if (!isdigit((unsigned char)*q))
            return -1; /* None */
        int64_t v = 0;
        for (; isdigit((unsigned char)*q); q++) {
            if (v > (INT64_MAX - (*q - '0')) / 10)
                return -1;
            v = v * 10 + (*q - '0');
        }
        return v;
    }
    return -1;
}

/* The string after `'key': '` in a Python dict repr, copied into dst (cap
 * bytes), or NULL when absent or not a plain quoted string. */
static const char *litellm_repr_str(const char *repr, const char *key, char *dst, size_t cap)
{
    char pat[96];
    snprintf(pat, sizeof(pat), "'%s': '", key);
    const char *p = strstr(repr, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '\'');
    if (!e || e == p || (size_t)(e - p) >= cap)
        return NULL;
    memcpy(dst, p, (size_t)(e - p));
    dst[e - p] = '\0';
    return dst;
}

static int litellm_v1_extract(const struct body_node *doc, struct source_ctx *ctx,
                              char err[ERR_MAX])
{
    int rc;
    struct event ev;
    char org[128], team[128], user[128];
    event_init(&ev, "litellm");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    /* v1 names no provider: the model family may. */
    ev.provider = source_openai_compatible_provider(doc, ev.model);
    ev.operation = litellm_operation(body_str(doc, "/call_type"));
    const char *meta = body_str(doc, "/metadata");
    if (meta) {
        ev.org = litellm_repr_str(meta, "user_api_key_org_id", org, sizeof(org));
        ev.team = litellm_repr_str(meta, "user_api_key_team_id", team, sizeof(team));
        ev.user = litellm_repr_str(meta, "user_api_key_user_id", user, sizeof(user));
    }
    const char *caller = body_str_nonempty(doc, "/user");
    if (!ev.user && caller && strcmp(caller, "None") != 0)
        ev.user = caller;
    const char *usage = body_str(doc, "/usage");
    static const struct {
        const char *key;
        size_t off;
    } counts[] = {
        {"prompt_tokens", offsetof(struct event, input_tokens)},
        {"completion_tokens", offsetof(struct event, output_tokens)},
        {"cached_tokens", offsetof(struct event, cached_input_tokens)},
        {"cache_read_input_tokens", offsetof(struct event, cached_input_tokens)},
        {"cache_creation_input_tokens", offsetof(struct event, cache_write_tokens)},
        {"reasoning_tokens", offsetof(struct event, reasoning_tokens)},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int64_t *dst = (int64_t *)((char *)&ev + counts[i].off);
        int64_t v = litellm_repr_int(usage, counts[i].key);
        if (*dst == EVENT_ABSENT && v >= 0)
            *dst = v;
    }
    if (ev.input_tokens == EVENT_ABSENT && ev.output_tokens == EVENT_ABSENT)
        return err_set(err, -EINVAL,
                       "v1 payload: no prompt_tokens or completion_tokens in "
                       "\"usage\"");
    if ((rc = litellm_old_prompt(&ev, err)) < 0 ||
        (rc = source_number(doc, "/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_time(doc, "/startTime", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    int64_t end = litellm_time_ns(doc, "/endTime");
    if (ev.time_known && end >= ev.time_ns)
        ev.latency_ms = (double)(end - ev.time_ns) / 1e6;
    return source_emit(ctx, &ev);
}

const struct source source_litellm_v1 = {
    .name = "litellm",
    .match = litellm_v1_match,
    .extract = litellm_v1_extract,
    .signature = "the legacy v1 payload: call_type, startTime, cost and usage as Python strings",
    .keys = SOURCE_KEY(USAGE),
};
