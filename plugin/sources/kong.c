/* SPDX-License-Identifier: MIT */
/*
 * Kong AI Gateway log entries (Kong's AI Proxy plugin docs, the logged "ai"
 * object; docs/sources.md "The source table"), as http-log,
 * file-log and the other logging plugins emit them: the normal Kong log
 * object (request.id, started_at in epoch ms, consumer, workspace, response
 * status) with an "ai" object holding one member per AI plugin that called a
 * model — "proxy" in Kong 3.8+ (ai.proxy.usage / ai.proxy.meta), the plugin
 * name in older releases (ai.<plugin>.usage with prompt_token /
 * completion_token, singular). ai.payload is the logged prompt, not a call.
 *
 * One event per member with a usage object: each is its own model call (an
 * ai-request-transformer's call is not the proxied one). The event id is
 * request.id, suffixed with ":<plugin>" for members other than "proxy".
 *
 * Assumptions (UNCONFIRMED): usage.cost is USD — Kong computes it from the
 * per-million prices an operator configures in the plugin (model.options
 * input_cost/output_cost), in whatever currency they were given; a cost of 0
 * with tokens counted means no price was configured, so it is not taken as
 * reported and the price table decides. Kong's prompt_tokens includes cached
 * tokens (the OpenAI usage shape it passes through).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

/* True when ai.<name> is a model call's log. */
static bool kong_is_call(const struct body_node *member)
{
    return body_type(body_get(member, "/usage")) == BODY_OBJECT;
}

static bool kong_match(const struct body_node *doc)
{
    const struct body_node *ai = body_get(doc, "/ai");
    if (body_type(ai) != BODY_OBJECT || body_type(body_get(doc, "/request")) != BODY_OBJECT)
        return false;
    size_t n = body_object_len(ai);
    for (size_t i = 0; i < n; i++)
        if (kong_is_call(body_object_value(ai, i)))
            return true;
    return false;
}

static int kong_call(const struct body_node *doc, const char *name, const struct body_node *call,
                     struct source_ctx *ctx, char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "kong");
    const char *rid = body_str_nonempty(doc, "/request/id");
    ev.event_id = rid;
    int rc = 0;
    if (rid && strcmp(name, "proxy") != 0 && (rc = source_join_id(&ev, rid, name, err)) < 0)
        return rc;
    ev.model = body_str_nonempty(call, "/meta/response_model");
    if (!ev.model)
        ev.model = body_str_nonempty(call, "/meta/request_model");
    ev.provider = body_str_nonempty(call, "/meta/provider_name");
    ev.org = body_str_nonempty(doc, "/workspace");
    ev.user = body_str_nonempty(doc, "/consumer/username");
    if (!ev.user)
        ev.user = body_str_nonempty(doc, "/consumer/id");

    int64_t status = 0;
    if (body_int(doc, "/response/status", &status) == 0 && status >= 400)
        source_set_error(&ev, status);

    char base[200];
    snprintf(base, sizeof(base), "/ai/%s/usage", name);
    const struct body_node *u = body_get(call, "/usage");
    if ((rc = source_openai_usage(call, "/usage", &ev, err)) < 0 ||
        (ev.input_tokens == EVENT_ABSENT &&
         (rc = source_count(call, "/usage/prompt_token", &ev.input_tokens, err)) < 0) ||
        (ev.output_tokens == EVENT_ABSENT &&
         (rc = source_count(call, "/usage/completion_token", &ev.output_tokens, err)) < 0) ||
        (rc = source_number(u, "/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(u, "/time_to_first_token", 1.0, &ev.ttft_ms, err)) < 0 ||
        (rc = source_number(call, "/meta/llm_latency", 1.0, &ev.latency_ms, err)) < 0 ||
        (rc = source_time(doc, "/started_at", 1000000, &ev, err)) < 0) {
        char inner[ERR_MAX];
        snprintf(inner, sizeof(inner), "%s", err);
        return err_set(err, rc, "%.100s: %.140s", base, inner);
    }
    if (ev.cost_usd == 0 && (ev.input_tokens > 0 || ev.output_tokens > 0))
        ev.cost_not_computed = true;
    return source_emit(ctx, &ev);
}

static int kong_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    const struct body_node *ai = body_get(doc, "/ai");
    size_t n = body_object_len(ai);
    for (size_t i = 0; i < n; i++) {
        const struct body_node *call = body_object_value(ai, i);
        if (!kong_is_call(call))
            continue;
        int rc = kong_call(doc, body_object_key(ai, i), call, ctx, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

const struct source source_kong = {
    .name = "kong",
    .match = kong_match,
    .extract = kong_extract,
    .signature = "a Kong log entry: request object and ai.<plugin>.usage",
};
