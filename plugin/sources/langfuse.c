/* SPDX-License-Identifier: MIT */
/*
 * Langfuse ingestion batches (Langfuse API reference, "Ingestion";
 * docs/sources.md "Multi-event bodies"):
 * {"batch":[{id, timestamp, type, body}], "metadata":{...}}.
 *
 * One event per generation item (generation-create / generation-update, or
 * observation-create / -update whose body.type is GENERATION) that carries
 * usageDetails, usage or costDetails; every other item (traces, spans,
 * scores) is not usage. A batch without such an item emits nothing and is
 * counted as ignored.
 *
 * Token rules: Langfuse's own usageDetails keys are EXCLUSIVE — "input"
 * excludes the input_* details (input_cached_tokens, input_cache_read,
 * input_cache_creation[_5m|_1h], input_audio_tokens ...) and "output"
 * excludes output_* (output_reasoning_tokens ...) — so the totals are the
 * sums. A raw OpenAI usage object passed as usageDetails (prompt_tokens +
 * completion_tokens, or input_tokens + output_tokens) is inclusive and read
 * as OpenAI's. The legacy `usage` object (input/output or
 * promptTokens/completionTokens, unit TOKENS) has no split and is taken as
 * totals. Costs are USD: costDetails.total, else the sum of costDetails,
 * else usage.totalCost.
 *
 * The event id is body.id, the observation that a create and its updates
 * share; the envelope id is the fallback. Within a batch the items of one
 * observation are merged as Langfuse upserts them (a later item's field
 * replaces an earlier one's), so a create and its update are one event.
 * Across batches tokenmeter keeps no state: an update that arrives alone
 * must carry the model and usage itself (docs/sources.md "Multi-event
 * bodies"). Level ERROR is an error; WARNING is a success.
 * Org, team and user come from body.metadata org_id / team_id / user_id.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/map.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

static bool langfuse_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/batch")) == BODY_ARRAY;
}

static bool langfuse_is_generation(const struct body_node *item)
{
    const char *type = body_str(item, "/type");
    if (!type)
        return false;
    if (strcmp(type, "generation-create") == 0 || strcmp(type, "generation-update") == 0)
        return true;
    const char *otype = body_str(item, "/body/type");
    return (strcmp(type, "observation-create") == 0 || strcmp(type, "observation-update") == 0) &&
           otype && strcmp(otype, "GENERATION") == 0;
}

/* *acc += v, where an absent accumulator starts at zero. */
static int langfuse_add(int64_t *acc, int64_t v, const char *key, char err[ERR_MAX])
{
    int64_t cur = *acc == EVENT_ABSENT ? 0 : *acc;
    if (cur > INT64_MAX - v)
        return err_set(err, -EINVAL, "usageDetails: %.64s: token sum out of range", key);
    *acc = cur + v;
    return 0;
}

static bool langfuse_key_is(const char *key, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(key, *names) == 0)
            return true;
    return false;
}

/* Langfuse's exclusive usageDetails map. */
static int langfuse_details(const struct body_node *u, struct event *ev, char err[ERR_MAX])
{
    static const char *const cached_keys[] = {"input_cached_tokens", "input_cache_read", NULL};
    static const char *const write_keys[] = {"input_cache_creation", "input_cache_write", NULL};
    /* LangChain's Anthropic usage reaches Langfuse as input_ephemeral_*:
     * inside input_cache_creation in older langchain-anthropic releases,
     * instead of it (input_cache_creation then 0, "to avoid double
     * counting") in newer ones. */
    static const char *const split_keys[] = {"input_cache_creation_5m", "input_cache_creation_1h",
                                             "input_ephemeral_5m_input_tokens",
                                             "input_ephemeral_1h_input_tokens", NULL};
    static const char *const split_1h_keys[] = {"input_cache_creation_1h",
                                                "input_ephemeral_1h_input_tokens", NULL};
    static const char *const reasoning_keys[] = {"output_reasoning_tokens", "output_reasoning",
                                                 NULL};
    /* When the writes come as one total, the 5m/1h split is inside it; two
     * write totals are two names for one count. A total of 0 beside a split
     * holds nothing: the split is the writes. */
    int64_t total_writes = 0;
    const char *write_total = body_has(u, "/input_cache_creation") ? "input_cache_creation"
                              : body_has(u, "/input_cache_write")  ? "input_cache_write"
                                                                   : NULL;
    char total_ptr[32];
    if (write_total) {
        snprintf(total_ptr, sizeof(total_ptr), "/%s", write_total);
        if (body_count(u, total_ptr, &total_writes) == 0 && total_writes == 0)
            write_total = NULL;
    }
    size_t n = body_object_len(u);
    for (size_t i = 0; i < n; i++) {
        const char *key = body_object_key(u, i);
        const struct body_node *v = body_object_value(u, i);
        int64_t c = 0;
        if (body_type(v) == BODY_NULL || strcmp(key, "total") == 0)
            continue;
        if (strcmp(key, "input") != 0 && strcmp(key, "output") != 0 &&
            strncmp(key, "input_", 6) != 0 && strncmp(key, "output_", 7) != 0)
            continue; /* a custom usage type: neither input nor output */
        int rc = body_count(v, "", &c);
        if (rc < 0)
            return err_set(err, -EINVAL, "usageDetails: %.64s: not a non-negative integer", key);
        bool is_split = langfuse_key_is(key, split_keys);
        if (langfuse_key_is(key, split_1h_keys) &&
            (rc = langfuse_add(&ev->cache_write_1h_tokens, c, key, err)) < 0)
            return rc;
        if (langfuse_key_is(key, write_keys) && write_total && strcmp(key, write_total) != 0)
            continue;
        if (is_split && write_total)
            continue;
        if (key[0] == 'i' && (rc = langfuse_add(&ev->input_tokens, c, key, err)) < 0)
            return rc;
        if (key[0] == 'o' && (rc = langfuse_add(&ev->output_tokens, c, key, err)) < 0)
            return rc;
        if (langfuse_key_is(key, cached_keys) &&
            (rc = langfuse_add(&ev->cached_input_tokens, c, key, err)) < 0)
            return rc;
        if ((langfuse_key_is(key, write_keys) || is_split) &&
            (rc = langfuse_add(&ev->cache_write_tokens, c, key, err)) < 0)
            return rc;
        if (langfuse_key_is(key, reasoning_keys) &&
            (rc = langfuse_add(&ev->reasoning_tokens, c, key, err)) < 0)
            return rc;
    }
    return 0;
}

static int langfuse_tokens(const struct body_node *b, struct event *ev, char err[ERR_MAX])
{
    int rc;
    const struct body_node *u = body_get(b, "/usageDetails");
    if (body_type(u) == BODY_OBJECT) {
        if ((body_has(u, "/prompt_tokens") && body_has(u, "/completion_tokens")) ||
            (body_has(u, "/input_tokens") && body_has(u, "/output_tokens")))
            return source_openai_usage(b, "/usageDetails", ev, err);
        return langfuse_details(u, ev, err);
    }
    const struct body_node *legacy = body_get(b, "/usage");
    const char *unit = body_str(legacy, "/unit");
    if (body_type(legacy) != BODY_OBJECT || (unit && strcmp(unit, "TOKENS") != 0))
        return 0; /* characters, images, seconds: not tokens */
    const char *in = body_has(legacy, "/input") ? "/usage/input" : "/usage/promptTokens";
    const char *out = body_has(legacy, "/output") ? "/usage/output" : "/usage/completionTokens";
    if ((rc = source_count(b, in, &ev->input_tokens, err)) < 0 ||
        (rc = source_count(b, out, &ev->output_tokens, err)) < 0)
        return rc;
    return 0;
}

static int langfuse_cost(const struct body_node *b, struct event *ev, char err[ERR_MAX])
{
    const struct body_node *cd = body_get(b, "/costDetails");
    if (body_type(cd) == BODY_OBJECT && body_has(cd, "/total"))
        return source_number(b, "/costDetails/total", 1.0, &ev->cost_usd, err);
    size_t n = body_object_len(cd);
    if (n > 0) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            double v = 0;
            if (body_num(body_object_value(cd, i), "", &v) < 0)
                return err_set(err, -EINVAL, "costDetails: %.64s: not a finite number",
                               body_object_key(cd, i));
            sum += v;
        }
        ev->cost_usd = sum;
        return 0;
    }
    return source_number(b, "/usage/totalCost", 1.0, &ev->cost_usd, err);
}

/* Milliseconds from start's startTime to the time at `to` in `end`, when
 * both are valid (they may come from different items of one observation). */
static int langfuse_span_ms_between(const struct body_node *start, const struct body_node *end,
                                    const char *to, double *out, char err[ERR_MAX])
{
    int rc;
    struct event t0, t1;
    event_init(&t0, "langfuse");
    event_init(&t1, "langfuse");
    if ((rc = source_time(start, "/startTime", TIMEUTIL_NS_PER_S, &t0, err)) < 0 ||
        (rc = source_time(end, to, TIMEUTIL_NS_PER_S, &t1, err)) < 0)
        return rc;
    if (t0.time_known && t1.time_known && t1.time_ns >= t0.time_ns)
        *out = (double)(t1.time_ns - t0.time_ns) / 1e6;
    return 0;
}

/* The items of one observation, in batch order: Langfuse upserts, so a
 * later item's field replaces an earlier one's. */
#define LANGFUSE_MAX_PARTS 64

struct langfuse_obs {
    const struct body_node *item[LANGFUSE_MAX_PARTS]; /* batch items */
    const struct body_node *body[LANGFUSE_MAX_PARTS]; /* their bodies */
    size_t n;
    size_t first; /* batch index of the first item, for messages */
};

/* The last body that has ptr, or NULL. */
static const struct body_node *langfuse_pick(const struct langfuse_obs *o, const char *ptr)
{
    for (size_t k = o->n; k-- > 0;)
        if (body_has(o->body[k], ptr))
            return o->body[k];
    return NULL;
}

static const char *langfuse_pick_str(const struct langfuse_obs *o, const char *ptr)
{
    return body_str_nonempty(langfuse_pick(o, ptr), ptr);
}

static int langfuse_observation(const struct langfuse_obs *o, struct source_ctx *ctx,
                                char err[ERR_MAX])
{
    /* usage (tokens) and cost may arrive in different items */
    const struct body_node *ub = langfuse_pick(o, "/usageDetails");
    if (!ub)
        ub = langfuse_pick(o, "/usage");
    const struct body_node *cb = langfuse_pick(o, "/costDetails");
    if (!cb)
        cb = langfuse_pick(o, "/usage/totalCost");
    if (!ub && !cb)
        return 0; /* a generation whose usage comes in a later batch */
    struct event ev;
    event_init(&ev, "langfuse");
    ev.event_id = langfuse_pick_str(o, "/id");
    if (!ev.event_id)
        ev.event_id = body_str_nonempty(o->item[0], "/id");
    ev.trace_id = langfuse_pick_str(o, "/traceId");
    ev.model = langfuse_pick_str(o, "/model");
    ev.org = langfuse_pick_str(o, "/metadata/org_id");
    ev.team = langfuse_pick_str(o, "/metadata/team_id");
    ev.user = langfuse_pick_str(o, "/metadata/user_id");
    const char *level = langfuse_pick_str(o, "/level");
    if (level && strcmp(level, "ERROR") == 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = "error";
    }
    const struct body_node *tb = langfuse_pick(o, "/startTime");
    int rc = ub ? langfuse_tokens(ub, &ev, err) : 0;
    if (rc == 0 && cb)
        rc = langfuse_cost(cb, &ev, err);
    /* without a startTime, the first item's timestamp: when it was created */
    if (rc == 0)
        rc = tb ? source_time(tb, "/startTime", TIMEUTIL_NS_PER_S, &ev, err)
                : source_time(o->item[0], "/timestamp", TIMEUTIL_NS_PER_S, &ev, err);
    const struct body_node *eb = langfuse_pick(o, "/endTime");
    const struct body_node *fb = langfuse_pick(o, "/completionStartTime");
    if (rc == 0 && tb && eb)
        rc = langfuse_span_ms_between(tb, eb, "/endTime", &ev.latency_ms, err);
    if (rc == 0 && tb && fb)
        rc = langfuse_span_ms_between(tb, fb, "/completionStartTime", &ev.ttft_ms, err);
    if (rc < 0) {
        /* Name the batch element: a batch holds many. */
        char inner[ERR_MAX];
        snprintf(inner, sizeof(inner), "%s", err);
        return err_set(err, rc, "/batch/%zu: %.200s", o->first, inner);
    }
    return source_emit(ctx, &ev);
}

static bool langfuse_usable(const struct body_node *item)
{
    return langfuse_is_generation(item) && body_type(body_get(item, "/body")) == BODY_OBJECT;
}

/* The observations of one batch, found in one pass: items are grouped by
 * body.id through a hash index, so a batch of n items costs O(n) whatever
 * its ids (it used to rescan the batch for every item). */
struct langfuse_group {
    const char *id; /* borrowed; NULL: an item without an id stands alone */
    size_t first;   /* batch index of the first item */
    size_t last;    /* of the last item taken, to chain the next one */
    size_t n;       /* items taken, at most LANGFUSE_MAX_PARTS */
};

struct langfuse_groups {
    struct langfuse_group *items; /* owned; in order of first appearance */
    size_t len;
    size_t cap;
    size_t *next; /* owned; per batch index: the group's next item, or SIZE_MAX */
    struct map by_id;
};

static void langfuse_groups_free(struct langfuse_groups *g)
{
    free(g->items);
    free(g->next);
    map_free(&g->by_id);
}

/* The group of observation id, or NULL. */
static struct langfuse_group *langfuse_group_find(struct langfuse_groups *g, const char *id,
                                                  uint64_t h)
{
    for (size_t it = map_first(&g->by_id, h), k; (k = map_next(&g->by_id, h, &it)) != MAP_NONE;)
        if (strcmp(g->items[k].id, id) == 0)
            return &g->items[k];
    return NULL;
}

/* Groups the usable items of the batch by observation. Items of one
 * observation past LANGFUSE_MAX_PARTS are left out. Returns 0 or -ENOMEM. */
static int langfuse_group(const struct body_node *batch, struct langfuse_groups *g)
{
    size_t n = body_array_len(batch);
    if (n && !(g->next = malloc(n * sizeof(*g->next))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct body_node *item = body_array_at(batch, i);
        g->next[i] = SIZE_MAX;
        if (!langfuse_usable(item))
            continue;
        const char *id = body_str_nonempty(item, "/body/id");
        uint64_t h = map_hash_str(MAP_HASH_INIT, id);
        struct langfuse_group *grp = id ? langfuse_group_find(g, id, h) : NULL;
        if (grp) {
            /* A create and its updates in one batch are one generation. */
            if (grp->n < LANGFUSE_MAX_PARTS) {
                g->next[grp->last] = i;
                grp->last = i;
                grp->n++;
            }
            continue;
        }
        if (vec_reserve(&g->items, &g->cap, g->len + 1, sizeof(*g->items)) < 0 ||
            (id && map_insert(&g->by_id, h, g->len) < 0))
            return -ENOMEM;
        g->items[g->len++] = (struct langfuse_group){.id = id, .first = i, .last = i, .n = 1};
    }
    return 0;
}

static int langfuse_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    const struct body_node *batch = body_get(doc, "/batch");
    struct langfuse_groups g = {0};
    map_init(&g.by_id);
    int rc = langfuse_group(batch, &g);
    if (rc < 0)
        err_set(err, rc, "out of memory grouping the batch");
    for (size_t k = 0; rc == 0 && k < g.len; k++) {
        struct langfuse_obs o = {.n = 0, .first = g.items[k].first};
        for (size_t j = g.items[k].first; j != SIZE_MAX; j = g.next[j]) {
            o.item[o.n] = body_array_at(batch, j);
            o.body[o.n] = body_get(o.item[o.n], "/body");
            o.n++;
        }
        rc = langfuse_observation(&o, ctx, err);
    }
    langfuse_groups_free(&g);
    return rc;
}

const struct source source_langfuse = {
    .name = "langfuse",
    .match = langfuse_match,
    .extract = langfuse_extract,
    .signature = "a \"batch\" array (Langfuse ingestion API)",
    .keys = SOURCE_KEY(BATCH),
};
