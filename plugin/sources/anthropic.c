/* SPDX-License-Identifier: MIT */
/*
 * Anthropic Messages bodies (llm-usage-formats.md §3.4). Anthropic's
 * input_tokens EXCLUDES cache reads and cache writes: total input is the sum
 * of the three (the SDK's own docstring). The body carries no time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/source.h"

static bool anthropic_match(const struct body_node *doc)
{
    const char *type = body_str(doc, "/type");
    return type && strcmp(type, "message") == 0 && body_has(doc, "/usage/input_tokens");
}

static int anthropic_extract(const struct body_node *doc, struct source_ctx *ctx,
                             char err[SOURCE_ERR_MAX])
{
    struct event ev;
    event_init(&ev, "anthropic");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = "anthropic";
    ev.finish_reason = body_str_nonempty(doc, "/stop_reason");
    int64_t uncached = EVENT_ABSENT;
    if (source_count(doc, "/usage/input_tokens", &uncached, err) < 0 ||
        source_count(doc, "/usage/cache_read_input_tokens", &ev.cached_input_tokens, err) < 0 ||
        source_count(doc, "/usage/cache_creation_input_tokens", &ev.cache_write_tokens, err) < 0 ||
        source_count(doc, "/usage/cache_creation/ephemeral_1h_input_tokens",
                     &ev.cache_write_1h_tokens, err) < 0 ||
        source_count(doc, "/usage/output_tokens", &ev.output_tokens, err) < 0 ||
        source_count(doc, "/usage/output_tokens_details/thinking_tokens", &ev.reasoning_tokens,
                     err) < 0)
        return -EINVAL;
    /* Each part is below 2^63; their sum is checked so it cannot wrap. */
    int64_t parts[2] = {ev.cached_input_tokens, ev.cache_write_tokens};
    ev.input_tokens = uncached;
    for (int i = 0; i < 2; i++) {
        if (parts[i] == EVENT_ABSENT)
            continue;
        if (ev.input_tokens > INT64_MAX - parts[i]) {
            snprintf(err, SOURCE_ERR_MAX, "/usage: input token sum out of range");
            return -EINVAL;
        }
        ev.input_tokens += parts[i];
    }
    return source_emit(ctx, &ev);
}

const struct source source_anthropic = {
    .name = "anthropic",
    .match = anthropic_match,
    .extract = anthropic_extract,
    .signature = "\"type\":\"message\" with usage.input_tokens",
};
