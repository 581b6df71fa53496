/* SPDX-License-Identifier: MIT */
/*
 * Anthropic Messages bodies (Anthropic API reference, "Messages": the usage
 * object; docs/sources.md "Token rules"). Anthropic's
 * input_tokens EXCLUDES cache reads and cache writes: total input is the sum
 * of the three (the SDK's own docstring). The body carries no time.
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/source.h"

static bool anthropic_match(const struct body_node *doc)
{
    const char *type = body_str(doc, "/type");
    return type && strcmp(type, "message") == 0 && body_has(doc, "/usage/input_tokens");
}

/* Fills ev (initialised by the caller) from a Message. Returns 0 or a
 * negative errno with err set. */
static int anthropic_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    ev->event_id = body_str_nonempty(doc, "/id");
    ev->model = body_str_nonempty(doc, "/model");
    ev->provider = "anthropic";
    ev->finish_reason = body_str_nonempty(doc, "/stop_reason");
    /* usage.service_tier: "standard", "priority" or "batch"; server tool
     * use counts the web searches billed per search (docs.anthropic.com
     * Messages API, Usage object). */
    ev->service_tier = body_str_nonempty(doc, "/usage/service_tier");
    if ((rc = source_anthropic_usage(doc, "/usage", ev, err)) < 0 ||
        (rc = source_count(doc, "/usage/server_tool_use/web_search_requests",
                           &ev->web_search_requests, err)) < 0)
        return rc;
    return 0;
}

static int anthropic_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "anthropic");
    int rc = anthropic_fill(doc, &ev, err);
    return rc < 0 ? rc : source_emit(ctx, &ev);
}

const struct source source_anthropic = {
    .name = "anthropic",
    .match = anthropic_match,
    .extract = anthropic_extract,
    .signature = "\"type\":\"message\" with usage.input_tokens",
};

/* A line of a Message Batches results file (docs.anthropic.com, "Batch
 * processing": {"custom_id":...,"result":{"type":"succeeded","message":{...}}}).
 * A succeeded request is billed at the batch prices, so its service tier is
 * "batch"; errored, canceled and expired requests are not billed and count
 * as failed. */
static bool anthropic_batch_match(const struct body_node *doc)
{
    return body_str(doc, "/custom_id") && body_str(doc, "/result/type");
}

static int anthropic_batch_extract(const struct body_node *doc, struct source_ctx *ctx,
                                   char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "anthropic");
    const char *type = body_str(doc, "/result/type");
    if (strcmp(type, "succeeded") != 0) {
        /* Not billed (only succeeded requests are): 0, not unknown. */
        ev.input_tokens = ev.output_tokens = 0;
        ev.cost_usd = 0;
        ev.event_id = body_str_nonempty(doc, "/custom_id");
        ev.provider = "anthropic";
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
    int rc = anthropic_fill(msg, &ev, err);
    if (rc < 0)
        return rc;
    ev.service_tier = "batch";
    return source_emit(ctx, &ev);
}

const struct source source_anthropic_batch = {
    .name = "anthropic",
    .match = anthropic_batch_match,
    .extract = anthropic_batch_extract,
    .signature = "Message Batches result line: custom_id and result.type",
};
