/* SPDX-License-Identifier: MIT */
/*
 * A flat OTel-GenAI record: one JSON object whose top-level keys are the
 * semantic-convention attribute names ("gen_ai.usage.input_tokens", ...)
 * plus tokenmeter's x.* extensions for what the conventions lack (event id,
 * times, tenancy, cost): the OpenTelemetry semantic conventions for
 * generative AI, and docs/sources.md "The source table" for the x.* keys.
 *
 * Token rules are OTel's: gen_ai.usage.input_tokens includes cache reads and
 * writes, output_tokens includes reasoning. The deprecated prompt_tokens /
 * completion_tokens names are accepted, and so are the cache names
 * OpenLLMetry and Laminar write (gen_ai.usage.cache_read_input_tokens,
 * cache_creation_input_tokens). x.cost.usd is taken as reported. The
 * agent-trace rule of OTLP spans (otlp.c) applies to a record's
 * gen_ai.operation.name too: an invoke_agent / create_agent / execute_tool
 * record is ignored unless [ingest] otel_agent_spans says to count agents.
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/config.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool otel_flat_match(const struct body_node *doc)
{
    return body_has(doc, "/gen_ai.usage.input_tokens") ||
           body_has(doc, "/gen_ai.usage.output_tokens") ||
           body_has(doc, "/gen_ai.usage.prompt_tokens") ||
           body_has(doc, "/gen_ai.usage.completion_tokens");
}

static const char *otel_first(const struct body_node *doc, const char *a, const char *b)
{
    const char *v = body_str_nonempty(doc, a);
    return v ? v : body_str_nonempty(doc, b);
}

/* The agent-trace rule for one record (see otlp.c). */
static bool otel_flat_counts(const char *op, bool agent_mode)
{
    static const char *const agents[] = {"invoke_agent", "create_agent"};
    if (!op)
        return true;
    if (strcmp(op, "execute_tool") == 0)
        return false;
    for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
        if (strcmp(op, agents[i]) == 0)
            return agent_mode;
    return !agent_mode;
}

static int otel_flat_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "otel");
    ev.operation = body_str_nonempty(doc, "/gen_ai.operation.name");
    if (!otel_flat_counts(ev.operation, source_ctx_config(ctx)->ingest.otel_agent_spans)) {
        source_ignore(ctx);
        return 0;
    }
    ev.event_id = otel_first(doc, "/x.event.id", "/gen_ai.response.id");
    ev.trace_id = otel_first(doc, "/x.trace.id", "/gen_ai.conversation.id");
    ev.model = otel_first(doc, "/gen_ai.response.model", "/gen_ai.request.model");
    ev.provider = otel_first(doc, "/gen_ai.provider.name", "/gen_ai.system");
    ev.org = body_str_nonempty(doc, "/x.org.id");
    ev.team = body_str_nonempty(doc, "/x.team.id");
    ev.user = body_str_nonempty(doc, "/user.id");
    ev.finish_reason =
        otel_first(doc, "/gen_ai.response.finish_reasons/0", "/gen_ai.response.finish_reason");
    ev.error_type = body_str_nonempty(doc, "/error.type");
    if (ev.error_type)
        ev.status = EVENT_STATUS_ERROR;

    const char *in = body_has(doc, "/gen_ai.usage.input_tokens") ? "/gen_ai.usage.input_tokens"
                                                                 : "/gen_ai.usage.prompt_tokens";
    const char *out = body_has(doc, "/gen_ai.usage.output_tokens")
                          ? "/gen_ai.usage.output_tokens"
                          : "/gen_ai.usage.completion_tokens";
    if ((rc = source_count(doc, in, &ev.input_tokens, err)) < 0 ||
        (rc = source_count(doc, out, &ev.output_tokens, err)) < 0 ||
        (rc = source_count(doc, "/gen_ai.usage.cache_read.input_tokens", &ev.cached_input_tokens,
                           err)) < 0 ||
        (rc = source_count(doc, "/gen_ai.usage.cache_read_input_tokens", &ev.cached_input_tokens,
                           err)) < 0 ||
        (rc = source_count(doc, "/gen_ai.usage.cache_creation.input_tokens", &ev.cache_write_tokens,
                           err)) < 0 ||
        (rc = source_count(doc, "/gen_ai.usage.cache_creation_input_tokens", &ev.cache_write_tokens,
                           err)) < 0 ||
        (rc = source_count(doc, "/gen_ai.usage.reasoning.output_tokens", &ev.reasoning_tokens,
                           err)) < 0 ||
        (rc = source_time(doc, "/x.start_time", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
        (rc = source_number(doc, "/x.cost.usd", 1.0, &ev.cost_usd, err)) < 0)
        return rc;

    /* source_time() fills an event's time; a scratch event takes the end. */
    struct event end;
    event_init(&end, "otel");
    if ((rc = source_time(doc, "/x.end_time", TIMEUTIL_NS_PER_S, &end, err)) < 0)
        return rc;
    if (ev.time_known && end.time_known && end.time_ns >= ev.time_ns)
        ev.latency_ms = (double)(end.time_ns - ev.time_ns) / 1e6;
    return source_emit(ctx, &ev);
}

const struct source source_otel_flat = {
    .name = "otel",
    .match = otel_flat_match,
    .extract = otel_flat_extract,
    .signature = "a flat record with gen_ai.usage.input_tokens / output_tokens keys",
    .keys = SOURCE_KEY(GEN_AI_INPUT_TOKENS) | SOURCE_KEY(GEN_AI_OUTPUT_TOKENS) |
            SOURCE_KEY(GEN_AI_PROMPT_TOKENS) | SOURCE_KEY(GEN_AI_COMPLETION_TOKENS),
};
