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
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool litellm_match(const struct body_node *doc)
{
    return (body_has(doc, "/call_type") || body_has(doc, "/litellm_call_id")) &&
           body_has(doc, "/status") && body_has(doc, "/startTime");
}

static int litellm_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "litellm");
    /* `id` is the provider's response id, and providers reuse short ones
     * ("chatcmpl-424", LiteLLM PR #28396): with LiteLLM's own per-call id
     * beside it, two calls can never share an identity. */
    const char *id = body_str_nonempty(doc, "/id");
    const char *call = body_str_nonempty(doc, "/litellm_call_id");
    ev.event_id = id ? id : call;
    int rc = 0;
    if (id && call && strcmp(id, call) != 0 && (rc = source_join_id(&ev, id, call, err)) < 0)
        return rc;
    ev.trace_id = body_str_nonempty(doc, "/trace_id");
    ev.org = body_str_nonempty(doc, "/metadata/user_api_key_org_id");
    ev.team = body_str_nonempty(doc, "/metadata/user_api_key_team_id");
    ev.user = body_str_nonempty(doc, "/metadata/user_api_key_user_id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/custom_llm_provider");
    ev.finish_reason = body_str_nonempty(doc, "/response/choices/0/finish_reason");

    const char *status = body_str(doc, "/status");
    if (!status || strcmp(status, "success") != 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(doc, "/error_information/error_class");
        if (!ev.error_type)
            ev.error_type = body_str_nonempty(doc, "/error_information/error_code");
        if (!ev.error_type)
            ev.error_type = status && *status ? status : "failure";
    }

    if ((rc = source_count(doc, "/prompt_tokens", &ev.input_tokens, err)) < 0 ||
        (rc = source_count(doc, "/completion_tokens", &ev.output_tokens, err)) < 0 ||
        (rc = source_time(doc, "/startTime", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    /* The cache and reasoning split, from the provider-shaped usage: OpenAI
     * names first, then Anthropic's (which LiteLLM passes through). */
    const char *u = "/metadata/usage_object";
    struct {
        const char *suffix;
        int64_t *dst;
    } parts[] = {
        {"/prompt_tokens_details/cached_tokens", &ev.cached_input_tokens},
        {"/cache_read_input_tokens", &ev.cached_input_tokens},
        {"/prompt_tokens_details/cache_write_tokens", &ev.cache_write_tokens},
        {"/cache_creation_input_tokens", &ev.cache_write_tokens},
        {"/completion_tokens_details/reasoning_tokens", &ev.reasoning_tokens},
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char ptr[128];
        if (*parts[i].dst != EVENT_ABSENT)
            continue;
        snprintf(ptr, sizeof(ptr), "%s%s", u, parts[i].suffix);
        if ((rc = source_count(doc, ptr, parts[i].dst, err)) < 0)
            return rc;
    }

    if ((rc = source_number(doc, "/response_cost", 1.0, &ev.cost_usd, err)) < 0)
        return rc;
    if (body_has(doc, "/response_cost_failure_debug_info"))
        ev.cost_not_computed = true;

    double start = 0, end = 0, first = 0;
    if (body_num(doc, "/startTime", &start) == 0) {
        if (body_num(doc, "/endTime", &end) == 0 && end >= start)
            ev.latency_ms = (end - start) * 1000.0;
        bool stream = false;
        if (body_bool(doc, "/stream", &stream) == 0 && stream &&
            body_num(doc, "/completionStartTime", &first) == 0 && first >= start)
            ev.ttft_ms = (first - start) * 1000.0;
    }
    return source_emit(ctx, &ev);
}

const struct source source_litellm = {
    .name = "litellm",
    .match = litellm_match,
    .extract = litellm_extract,
    .signature = "StandardLoggingPayload: call_type or litellm_call_id, status, startTime",
};
