/* SPDX-License-Identifier: MIT */
/*
 * OpenRouter (OpenRouter API reference, "Get a generation", and its usage
 * accounting docs): the generation stats object
 * (GET /api/v1/generation, `{"data":{...}}` or bare) and chat completions
 * with inline usage and cost.
 *
 * Assumptions, stated because OpenRouter's docs leave them open (UNCONFIRMED;
 * listed in docs/sources.md "Assumptions"): native_tokens_prompt includes
 * native_tokens_cached and
 * native_tokens_completion includes native_tokens_reasoning, as in the
 * OpenAI convention OpenRouter's inline usage follows. The native counts are
 * the billing basis, so they win over the normalized tokens_* counts.
 *
 * BYOK (bring your own key): the reported cost is OpenRouter's own charge,
 * and the upstream provider bills the user's key separately; both are the
 * call's spend (openrouter_byok()).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

/* Adds what the upstream provider charged a BYOK call to its cost. OpenRouter's
 * usage accounting: "cost: The total amount charged to your account",
 * "cost_details.upstream_inference_cost: The actual cost charged by the
 * upstream AI provider", a field that "only applies to BYOK (Bring Your Own
 * Key) requests" (openrouter.ai/docs/use-cases/usage-accounting; the
 * generation stats carry is_byok and upstream_inference_cost likewise). The
 * upstream charge is read only when the flag at byok_ptr is true and a cost
 * was reported. */
static int openrouter_byok(const struct body_node *n, const char *byok_ptr,
                           const char *upstream_ptr, struct event *ev, char err[ERR_MAX])
{
    bool byok = false;
    double upstream = NAN;
    if (isnan(ev->cost_usd) || body_bool(n, byok_ptr, &byok) < 0 || !byok)
        return 0;
    int rc = source_number(n, upstream_ptr, 1.0, &upstream, err);
    /* Rounded to 1e-12 USD as computed costs are (docs/pricing.md), so the
     * sum prints the digits of the two amounts. */
    if (rc == 0 && !isnan(upstream))
        ev->cost_usd = round((ev->cost_usd + upstream) * 1e12) / 1e12;
    return rc;
}

static const struct body_node *openrouter_generation_object(const struct body_node *doc)
{
    const struct body_node *data = body_get(doc, "/data");
    if (body_type(data) == BODY_OBJECT && body_object_len(doc) == 1)
        return data;
    return doc;
}

static bool openrouter_generation_match(const struct body_node *doc)
{
    const struct body_node *g = openrouter_generation_object(doc);
    return body_has(g, "/native_tokens_prompt") ||
           (body_has(g, "/tokens_prompt") && body_has(g, "/total_cost"));
}

static int openrouter_generation_extract(const struct body_node *doc, struct source_ctx *ctx,
                                         char err[ERR_MAX])
{
    int rc;
    const struct body_node *g = openrouter_generation_object(doc);
    struct event ev;
    event_init(&ev, "openrouter");
    ev.event_id = body_str_nonempty(g, "/id");
    ev.trace_id = body_str_nonempty(g, "/request_id");
    ev.org = body_str_nonempty(g, "/workspace_id");
    ev.user = body_str_nonempty(g, "/external_user");
    ev.model = body_str_nonempty(g, "/model");
    ev.provider = body_str_nonempty(g, "/provider_name");
    ev.finish_reason = body_str_nonempty(g, "/finish_reason");
    bool cancelled = false;
    if (body_bool(g, "/cancelled", &cancelled) == 0 && cancelled) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = "cancelled";
    } else if (ev.finish_reason && strcmp(ev.finish_reason, "error") == 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = "error";
    }
    const char *in_ptr =
        body_has(g, "/native_tokens_prompt") ? "/native_tokens_prompt" : "/tokens_prompt";
    const char *out_ptr = body_has(g, "/native_tokens_completion") ? "/native_tokens_completion"
                                                                   : "/tokens_completion";
    if ((rc = source_count(g, in_ptr, &ev.input_tokens, err)) < 0 ||
        (rc = source_count(g, "/native_tokens_cached", &ev.cached_input_tokens, err)) < 0 ||
        (rc = source_count(g, out_ptr, &ev.output_tokens, err)) < 0 ||
        (rc = source_count(g, "/native_tokens_reasoning", &ev.reasoning_tokens, err)) < 0 ||
        (rc = source_time(g, "/created_at", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
        (rc = source_number(g, "/latency", 1.0, &ev.latency_ms, err)) < 0)
        return rc;
    /* total_cost is "Total cost of the generation in USD"; `usage` is the
     * same amount under an older name. */
    const char *cost_ptr = body_has(g, "/total_cost") ? "/total_cost" : "/usage";
    if ((rc = source_number(g, cost_ptr, 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = openrouter_byok(g, "/is_byok", "/upstream_inference_cost", &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_openrouter_generation = {
    .name = "openrouter",
    .match = openrouter_generation_match,
    .extract = openrouter_generation_extract,
    .signature = "generation stats with native_tokens_prompt (bare or in \"data\")",
    .keys = SOURCE_KEY(DATA) | SOURCE_KEY(NATIVE_TOKENS_PROMPT) | SOURCE_KEY(TOKENS_PROMPT),
};

static bool openrouter_chat_match(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    return object &&
           (strcmp(object, "chat.completion") == 0 ||
            strcmp(object, "chat.completion.chunk") == 0) &&
           source_openai_chat_is_openrouter(doc);
}

static int openrouter_chat_extract(const struct body_node *doc, struct source_ctx *ctx,
                                   char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "openrouter");
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT) {
        /* A stream's chunks before the last carry no usage, as OpenAI's do:
         * the last chunk has the whole (OpenRouter docs, "Usage
         * Accounting"). */
        const char *object = body_str(doc, "/object");
        if (object && strcmp(object, "chat.completion.chunk") == 0)
            return 0;
        return err_set(err, -EINVAL, "chat completion without a usage object");
    }
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/provider");
    ev.operation = "chat";
    ev.finish_reason = body_str_nonempty(doc, "/choices/0/finish_reason");
    if (ev.finish_reason && strcmp(ev.finish_reason, "error") == 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = "error";
    }
    if (body_has(doc, "/error")) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(doc, "/error/code");
        if (!ev.error_type)
            ev.error_type = "error";
    }
    if ((rc = source_time(doc, "/created", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
        (rc = source_openai_usage(doc, "/usage", &ev, err)) < 0 ||
        (rc = source_number(doc, "/usage/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = openrouter_byok(doc, "/usage/is_byok", "/usage/cost_details/upstream_inference_cost",
                              &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_openrouter_chat = {
    .name = "openrouter",
    .match = openrouter_chat_match,
    .extract = openrouter_chat_extract,
    .signature = "\"object\":\"chat.completion\" with provider, usage.cost or a gen- id",
    .keys = SOURCE_KEY(OBJECT),
};

static bool openrouter_embeddings_match(const struct body_node *doc)
{
    return source_is_embeddings(doc) && source_openai_chat_is_openrouter(doc);
}

static int openrouter_embeddings_extract(const struct body_node *doc, struct source_ctx *ctx,
                                         char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "openrouter");
    int rc = source_embeddings_fill(doc, &ev, err);
    if (rc == 0)
        rc = openrouter_byok(doc, "/usage/is_byok", "/usage/cost_details/upstream_inference_cost",
                             &ev, err);
    return rc < 0 ? rc : source_emit(ctx, &ev);
}

/* OpenRouter's embeddings endpoint answers in OpenAI's list shape, with its
 * own "gen-" id, the serving provider and usage.cost (OpenRouter API
 * reference, "Create embeddings"). */
const struct source source_openrouter_embeddings = {
    .name = "openrouter",
    .match = openrouter_embeddings_match,
    .extract = openrouter_embeddings_extract,
    .signature = "\"object\":\"list\" of \"embedding\" items with provider, usage.cost or a "
                 "gen- id",
    .keys = SOURCE_KEY(OBJECT),
};
