/* SPDX-License-Identifier: MIT */
/*
 * Helicone webhook (Helicone docs, "Webhooks"; docs/sources.md "The source
 * table"): request_id, request_body and
 * response_body as JSON-encoded STRINGS, and with includeData (the default)
 * model, provider and metadata{cost, promptTokens, completionTokens,
 * latencyMs}. Helicone's own fields hold no time: the event time is the
 * provider response's (response_body.created, epoch seconds, as OpenAI's
 * chat completion object and its imitators carry it; Gemini's createTime),
 * else the receive time. No org either (the
 * webhook belongs to one Helicone organization: use an envelope or
 * default_org).
 *
 * The cache and reasoning split exists only inside response_body, so it is
 * parsed and read as the provider's own source reads it: an Anthropic
 * message (input_tokens excludes cache reads and writes, which are added;
 * web searches, service tier), a Gemini response (usageMetadata) or an
 * OpenAI-shaped usage (prompt counts include cached tokens). When
 * response_body is not JSON (Helicone replaces bodies over 10 KB by a
 * placeholder text; streams are event text), the metadata counts are used
 * without a split. Assumed (UNCONFIRMED): metadata.cost is USD, and
 * promptTokens is the provider's total input.
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool helicone_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/request_id")) == BODY_STRING &&
           body_type(body_get(doc, "/response_body")) == BODY_STRING;
}

/* Token counts from the provider's own response, when it is one we know,
 * read by that provider's source (an Anthropic message, a Gemini
 * generateContent response, else an OpenAI-shaped usage), so the split
 * (cache, reasoning, web searches, service tier) is the same as when the
 * response is sent directly. */
static int helicone_response_usage(const struct body_node *resp, struct event *ev,
                                   char err[ERR_MAX])
{
    const char *type = body_str(resp, "/type");
    if (type && strcmp(type, "message") == 0 && body_has(resp, "/usage/input_tokens"))
        return source_anthropic_message_usage(resp, ev, err);
    if (body_type(body_get(resp, "/usageMetadata")) == BODY_OBJECT)
        return source_gemini_usage(resp, ev, err);
    if (body_type(body_get(resp, "/usage")) == BODY_OBJECT) {
        ev->service_tier = body_str_nonempty(resp, "/service_tier");
        ev->web_search_requests = source_openai_web_searches(resp);
        return source_openai_usage(resp, "/usage", ev, err);
    }
    return 0;
}

static int helicone_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    struct event ev;
    struct body *inner = NULL;
    const struct body_node *resp = NULL;
    int rc = 0;
    event_init(&ev, "helicone");
    ev.event_id = body_str_nonempty(doc, "/request_id");
    ev.user = body_str_nonempty(doc, "/user_id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/provider");

    const char *raw = body_str(doc, "/response_body");
    char perr[ERR_MAX];
    /* A response_body that is not JSON is normal (see above); running out of
     * memory while reading it is not, and stops the command. */
    int prc = raw ? body_parse(raw, strlen(raw), &inner, perr) : -EINVAL;
    if (prc == -ENOMEM) {
        rc = err_set(err, prc, "response_body: %s", perr);
        goto out;
    }
    if (prc == 0 && body_type(body_root(inner)) == BODY_OBJECT)
        resp = body_root(inner);
    if (resp) {
        if (!ev.model)
            ev.model = body_str_nonempty(resp, "/model");
        if (!ev.model)
            ev.model = body_str_nonempty(resp, "/modelVersion");
        ev.finish_reason = body_str_nonempty(resp, "/choices/0/finish_reason");
        if (!ev.finish_reason)
            ev.finish_reason = body_str_nonempty(resp, "/stop_reason");
        if (body_has(resp, "/error")) {
            ev.status = EVENT_STATUS_ERROR;
            ev.error_type = body_str_nonempty(resp, "/error/type");
            if (!ev.error_type)
                ev.error_type = body_str_nonempty(resp, "/error/code");
            if (!ev.error_type)
                ev.error_type = "error";
        }
        if ((rc = helicone_response_usage(resp, &ev, err)) < 0 ||
            (rc = source_time(resp, "/created", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
            (!ev.time_known &&
             (rc = source_time(resp, "/createTime", TIMEUTIL_NS_PER_S, &ev, err)) < 0))
            goto out;
    }
    /* Helicone's own counts fill what the response did not give. */
    if ((ev.input_tokens == EVENT_ABSENT &&
         (rc = source_count(doc, "/metadata/promptTokens", &ev.input_tokens, err)) < 0) ||
        (ev.output_tokens == EVENT_ABSENT &&
         (rc = source_count(doc, "/metadata/completionTokens", &ev.output_tokens, err)) < 0) ||
        (rc = source_number(doc, "/metadata/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(doc, "/metadata/latencyMs", 1.0, &ev.latency_ms, err)) < 0)
        goto out;
    rc = source_emit(ctx, &ev);
out:
    /* The event borrowed strings from inner: free it only after emitting. */
    body_free(inner);
    return rc;
}

const struct source source_helicone = {
    .name = "helicone",
    .match = helicone_match,
    .extract = helicone_extract,
    .signature = "request_id and a string response_body (Helicone webhook)",
    .keys = SOURCE_KEY(REQUEST_ID),
};
