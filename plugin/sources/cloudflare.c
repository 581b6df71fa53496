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
 * user_id. The Logs REST API returns `metadata` as a JSON-encoded STRING
 * (its LogListResponse / LogGetResponse: "metadata: optional string"); a
 * Worker may forward it as an object. Both are read.
 *
 * The Logpush dataset ai_gateway_events (Cloudflare docs, AI Gateway
 * "Workers Logpush") names its fields in PascalCase: Gateway, Provider,
 * Model, Endpoint, StatusCode, Cached, Timestamp, Metrics, and Metadata /
 * RequestBody / ResponseBody, which Cloudflare encrypts
 * ({"key","iv","data"}) with the gateway's public key. Assumed, because the
 * dataset's field reference does not spell them out: Metrics holds the
 * Logs API's counters under their names (tokens_in, tokens_out, cost,
 * duration), as an object or a JSON string; Timestamp is RFC 3339 or a
 * Unix time in s, ms or ns (Logpush's timestamp_format); a decrypted
 * Metadata (an object or a JSON string) gives tenancy as above, an
 * encrypted one none. The rows carry no id: the body hash stands in.
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

/* The object at ptr, or the object a JSON string at ptr encodes (parsed
 * into *inner, which the caller frees after emitting). NULL when neither.
 * Returns 0 or -ENOMEM: a string that is not a JSON object is no error. */
static int cloudflare_object(const struct body_node *doc, const char *ptr, struct body **inner,
                             const struct body_node **out, char err[ERR_MAX])
{
    const struct body_node *n = body_get(doc, ptr);
    *out = NULL;
    if (body_type(n) == BODY_OBJECT) {
        *out = n;
        return 0;
    }
    const char *s = body_str(n, "");
    if (!s)
        return 0;
    char perr[ERR_MAX];
    int rc = body_parse(s, strlen(s), inner, perr);
    if (rc == -ENOMEM)
        return err_set(err, rc, "%s: %s", ptr, perr);
    if (rc == 0 && body_type(body_root(*inner)) == BODY_OBJECT)
        *out = body_root(*inner);
    return 0;
}

/* Tenancy from cf-aig-metadata (an encrypted Logpush Metadata has none of
 * these keys, so it gives none). */
static void cloudflare_tenancy(const struct body_node *meta, struct event *ev)
{
    ev->org = body_str_nonempty(meta, "/org_id");
    ev->team = body_str_nonempty(meta, "/team_id");
    ev->user = body_str_nonempty(meta, "/user_id");
}

static int cloudflare_extract(const struct body_node *doc, struct source_ctx *ctx,
                              char err[ERR_MAX])
{
    int rc;
    struct event ev;
    struct body *inner = NULL;
    const struct body_node *meta = NULL;
    event_init(&ev, "cloudflare");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = body_str_nonempty(doc, "/provider");
    if ((rc = cloudflare_object(doc, "/metadata", &inner, &meta, err)) < 0)
        goto out;
    cloudflare_tenancy(meta, &ev);
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
        goto out;
    rc = source_emit(ctx, &ev);
out:
    body_free(inner); /* only after emitting: the event borrowed from it */
    return rc;
}

const struct source source_cloudflare = {
    .name = "cloudflare",
    .match = cloudflare_match,
    .extract = cloudflare_extract,
    .signature = "an AI Gateway log: success (bool), status_code, provider, created_at",
    .keys = SOURCE_KEY(SUCCESS),
};

static bool cloudflare_logpush_match(const struct body_node *doc)
{
    return body_has(doc, "/StatusCode") && body_has(doc, "/Timestamp") && body_has(doc, "/Metrics");
}

/* Logpush writes Unix times in the unit its job's timestamp_format names;
 * the magnitude tells which: a time after 1973 is above 1e11 in ms, 1e14
 * in us and 1e17 in ns, and no time before 5138 reaches 1e11 in seconds. */
static int cloudflare_logpush_time(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    double v = 0;
    int64_t unit = TIMEUTIL_NS_PER_S;
    if (body_num(doc, "/Timestamp", &v) == 0)
        unit = v >= 1e17 ? 1 : v >= 1e14 ? 1000 : v >= 1e11 ? 1000000 : TIMEUTIL_NS_PER_S;
    return source_time(doc, "/Timestamp", unit, ev, err);
}

static int cloudflare_logpush_extract(const struct body_node *doc, struct source_ctx *ctx,
                                      char err[ERR_MAX])
{
    int rc;
    struct event ev;
    struct body *inner_meta = NULL, *inner_metrics = NULL;
    const struct body_node *meta = NULL, *m = NULL;
    event_init(&ev, "cloudflare");
    ev.model = body_str_nonempty(doc, "/Model");
    ev.provider = body_str_nonempty(doc, "/Provider");
    if ((rc = cloudflare_object(doc, "/Metadata", &inner_meta, &meta, err)) < 0 ||
        (rc = cloudflare_object(doc, "/Metrics", &inner_metrics, &m, err)) < 0)
        goto out;
    if (!m) {
        rc = err_set(err, -EINVAL, "/Metrics: not an object or a JSON object string");
        goto out;
    }
    cloudflare_tenancy(meta, &ev);
    int64_t code = 0;
    if (body_int(doc, "/StatusCode", &code) < 0) {
        rc = err_set(err, -EINVAL, "/StatusCode: not an integer");
        goto out;
    }
    if (code >= 400)
        source_set_error(&ev, code);
    if ((rc = source_count(m, "/tokens_in", &ev.input_tokens, err)) < 0 ||
        (rc = source_count(m, "/tokens_out", &ev.output_tokens, err)) < 0 ||
        (rc = source_number(m, "/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(m, "/duration", 1.0, &ev.latency_ms, err)) < 0 ||
        (rc = cloudflare_logpush_time(doc, &ev, err)) < 0)
        goto out;
    rc = source_emit(ctx, &ev);
out:
    body_free(inner_meta);
    body_free(inner_metrics);
    return rc;
}

const struct source source_cloudflare_logpush = {
    .name = "cloudflare",
    .match = cloudflare_logpush_match,
    .extract = cloudflare_logpush_extract,
    .signature = "a Logpush ai_gateway_events row: StatusCode, Timestamp, Metrics",
    .keys = SOURCE_KEY(STATUS_CODE),
};
