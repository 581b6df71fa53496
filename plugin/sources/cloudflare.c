/* SPDX-License-Identifier: MIT */
/*
 * Cloudflare AI Gateway log records (Cloudflare's AI Gateway docs, "Logging";
 * docs/sources.md "The source table"; the
 * AiGatewayLog type, = GET .../ai-gateway/gateways/{id}/logs records, and
 * what a Logpush job or a Worker forwards).
 *
 * tokens_in / tokens_out carry no cache or reasoning split; tokens_in is
 * taken as the provider's total input (OpenAI convention). Assumed
 * (UNCONFIRMED in Cloudflare's docs, implied by them): cost is USD.
 * custom_cost only says who set the cost; it is still reported. Tenancy is
 * what the caller attached with cf-aig-metadata: metadata.org_id / team_id /
 * user_id.
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool cloudflare_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/success")) == BODY_BOOL && body_has(doc, "/status_code") &&
           body_has(doc, "/provider") && body_has(doc, "/created_at") &&
           !body_has(doc, "/ai_model");
}

static int cloudflare_extract(const struct body_node *doc, struct source_ctx *ctx,
                              char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "cloudflare");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/provider");
    ev.org = body_str_nonempty(doc, "/metadata/org_id");
    ev.team = body_str_nonempty(doc, "/metadata/team_id");
    ev.user = body_str_nonempty(doc, "/metadata/user_id");
    bool ok = false;
    int64_t code = 0;
    body_bool(doc, "/success", &ok);
    if (body_int(doc, "/status_code", &code) == 0 && code >= 400)
        ok = false;
    if (!ok)
        source_set_error(&ev, code);
    if ((rc = source_count(doc, "/tokens_in", &ev.input_tokens, err)) < 0 ||
        (rc = source_count(doc, "/tokens_out", &ev.output_tokens, err)) < 0 ||
        (rc = source_number(doc, "/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(doc, "/duration", 1.0, &ev.latency_ms, err)) < 0 ||
        (rc = source_time(doc, "/created_at", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_cloudflare = {
    .name = "cloudflare",
    .match = cloudflare_match,
    .extract = cloudflare_extract,
    .signature = "an AI Gateway log: success (bool), status_code, provider, created_at",
};
