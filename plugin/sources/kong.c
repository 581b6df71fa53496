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
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/identity.h"
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

/* What every call of one log entry shares, read once per entry: a lookup
 * in the entry costs its number of members, and an entry may have as many
 * calls as members, so reading these per call would be quadratic. */
struct kong_entry {
    const char *request_id;
    const char *org;
    const char *user;
    int64_t status;    /* 0: none */
    struct event time; /* only time_ns and time_known are used */
    /* A request id of EVENT_ID_MAX bytes or more is compacted (a prefix and
     * the hash of the whole id, event_compact_id()): its prefix and hash
     * are taken once here, so a call's id costs its own name only, not the
     * request id again (200 000 calls under a 4 MiB id took ten minutes). */
    bool long_id;
    uint64_t id_hash;
    char id_prefix[EVENT_ID_MAX - 18];
    char proxy_id[EVENT_ID_MAX]; /* the request id's own compact form */
};

static int kong_entry(const struct body_node *doc, struct kong_entry *e, char err[ERR_MAX])
{
    e->request_id = body_str_nonempty(doc, "/request/id");
    e->org = body_str_nonempty(doc, "/workspace");
    e->user = body_str_nonempty(doc, "/consumer/username");
    if (!e->user)
        e->user = body_str_nonempty(doc, "/consumer/id");
    e->status = 0;
    if (body_int(doc, "/response/status", &e->status) < 0)
        e->status = 0;
    event_init(&e->time, "kong");
    e->long_id = e->request_id && strnlen(e->request_id, EVENT_ID_MAX) == EVENT_ID_MAX;
    if (e->long_id) {
        e->id_hash = identity_fnv1a(IDENTITY_FNV_OFFSET, e->request_id, strlen(e->request_id));
        event_keep(e->id_prefix, sizeof(e->id_prefix), e->request_id);
        snprintf(e->proxy_id, sizeof(e->proxy_id), "%s~%016" PRIx64, e->id_prefix, e->id_hash);
    }
    return source_time(doc, "/started_at", 1000000, &e->time, err);
}

/* The id of call `name`: the request id for "proxy", else request_id:name,
 * both compacted as event_compact_id() would (see struct kong_entry). */
static int kong_call_id(const struct kong_entry *e, const char *name, struct event *ev,
                        char err[ERR_MAX])
{
    bool proxy = strcmp(name, "proxy") == 0;
    if (!e->long_id) {
        ev->event_id = e->request_id;
        return e->request_id && !proxy ? source_join_id(ev, e->request_id, name, err) : 0;
    }
    if (proxy) {
        ev->event_id = e->proxy_id;
        return 0;
    }
    uint64_t h = identity_fnv1a(identity_fnv1a(e->id_hash, ":", 1), name, strlen(name));
    snprintf(ev->id_buf, sizeof(ev->id_buf), "%s~%016" PRIx64, e->id_prefix, h);
    ev->event_id = ev->id_buf;
    return 0;
}

/* The "/ai/NAME/usage: " prefix on a message about one call. */
static int kong_wrap(const char *name, int rc, char err[ERR_MAX])
{
    char inner[ERR_MAX];
    snprintf(inner, sizeof(inner), "%s", err);
    return err_set(err, rc, "/ai/%.90s/usage: %.140s", name, inner);
}

static int kong_call(const struct kong_entry *e, const char *name, const struct body_node *call,
                     struct source_ctx *ctx, char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "kong");
    int rc = kong_call_id(e, name, &ev, err);
    if (rc < 0)
        return rc;
    ev.model = body_str_nonempty(call, "/meta/response_model");
    if (!ev.model)
        ev.model = body_str_nonempty(call, "/meta/request_model");
    ev.provider = body_str_nonempty(call, "/meta/provider_name");
    ev.org = e->org;
    ev.user = e->user;
    if (e->status >= 400)
        source_set_error(&ev, e->status);
    ev.time_ns = e->time.time_ns;
    ev.time_known = e->time.time_known;

    const struct body_node *u = body_get(call, "/usage");
    if ((rc = source_openai_usage(call, "/usage", &ev, err)) < 0 ||
        (ev.input_tokens == EVENT_ABSENT &&
         (rc = source_count(call, "/usage/prompt_token", &ev.input_tokens, err)) < 0) ||
        (ev.output_tokens == EVENT_ABSENT &&
         (rc = source_count(call, "/usage/completion_token", &ev.output_tokens, err)) < 0) ||
        (rc = source_number(u, "/cost", 1.0, &ev.cost_usd, err)) < 0 ||
        (rc = source_number(u, "/time_to_first_token", 1.0, &ev.ttft_ms, err)) < 0 ||
        (rc = source_number(call, "/meta/llm_latency", 1.0, &ev.latency_ms, err)) < 0)
        return kong_wrap(name, rc, err);
    if (ev.cost_usd == 0 && (ev.input_tokens > 0 || ev.output_tokens > 0))
        ev.cost_not_computed = true;
    return source_emit(ctx, &ev);
}

static int kong_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    const struct body_node *ai = body_get(doc, "/ai");
    size_t n = body_object_len(ai);
    struct kong_entry e;
    bool have_entry = false;
    for (size_t i = 0; i < n; i++) {
        const struct body_node *call = body_object_value(ai, i);
        const char *name = body_object_key(ai, i);
        int rc;
        if (!kong_is_call(call))
            continue;
        /* read at the first call: an entry without calls is not judged */
        if (!have_entry && (rc = kong_entry(doc, &e, err)) < 0)
            return kong_wrap(name, rc, err);
        have_entry = true;
        if ((rc = kong_call(&e, name, call, ctx, err)) < 0)
            return rc;
    }
    return 0;
}

const struct source source_kong = {
    .name = "kong",
    .match = kong_match,
    .extract = kong_extract,
    .signature = "a Kong log entry: request object and ai.<plugin>.usage",
    .keys = SOURCE_KEY(AI),
};
