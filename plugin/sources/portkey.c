/* SPDX-License-Identifier: MIT */
/*
 * Portkey log export rows (docs/sources.md "The source table"; Portkey docs "Logs
 * Export": JSONL, one row per request). cost is in CENTS of USD, so it is
 * divided by 100. req_units / res_units are the token counts, without a
 * cache split; req_units is taken as the provider's total input
 * (UNCONFIRMED). The documented columns have no request id: `id` is used
 * when the export includes it (the export API lists it as a requestable
 * field), else the body hash. is_success is 1/0 (a boolean is accepted);
 * response_status_code >= 400 is an error too. Tenancy: metadata.org_id /
 * team_id, user metadata._user (Portkey's user key) or metadata.user_id.
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool portkey_match(const struct body_node *doc)
{
    return body_has(doc, "/ai_model") && body_has(doc, "/is_success");
}

static int portkey_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "portkey");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.trace_id = body_str_nonempty(doc, "/trace_id");
    ev.model = body_str_nonempty(doc, "/ai_model");
    ev.provider = body_str_nonempty(doc, "/ai_org");
    ev.org = body_str_nonempty(doc, "/metadata/org_id");
    ev.team = body_str_nonempty(doc, "/metadata/team_id");
    ev.user = body_str_nonempty(doc, "/metadata/_user");
    if (!ev.user)
        ev.user = body_str_nonempty(doc, "/metadata/user_id");
    int64_t flag = 1, code = 0;
    bool b = true;
    if (body_bool(doc, "/is_success", &b) == 0)
        flag = b;
    else if (body_int(doc, "/is_success", &flag) < 0)
        return err_set(err, -EINVAL, "/is_success: expected 1 or 0");
    bool http_error = body_int(doc, "/response_status_code", &code) == 0 && code >= 400;
    if (flag != 1 || http_error)
        source_set_error(&ev, code);
    const char *currency = body_str(doc, "/cost_currency");
    if (currency && *currency && strcmp(currency, "USD") != 0)
        return err_set(err, -EINVAL, "/cost_currency: \"%.16s\" (only USD cents are understood)",
                       currency);
    if ((rc = source_count(doc, "/req_units", &ev.input_tokens, err)) < 0 ||
        (rc = source_count(doc, "/res_units", &ev.output_tokens, err)) < 0 ||
        (rc = source_number(doc, "/cost", 0.01, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(doc, "/response_time", 1.0, &ev.latency_ms, err)) < 0 ||
        (rc = source_time(doc, "/created_at", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_portkey = {
    .name = "portkey",
    .match = portkey_match,
    .extract = portkey_extract,
    .signature = "a Portkey log export row: ai_model and is_success",
    .keys = SOURCE_KEY(AI_MODEL),
};
