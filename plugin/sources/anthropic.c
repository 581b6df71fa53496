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

static int anthropic_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "anthropic");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = "anthropic";
    ev.finish_reason = body_str_nonempty(doc, "/stop_reason");
    if ((rc = source_anthropic_usage(doc, "/usage", &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_anthropic = {
    .name = "anthropic",
    .match = anthropic_match,
    .extract = anthropic_extract,
    .signature = "\"type\":\"message\" with usage.input_tokens",
};
