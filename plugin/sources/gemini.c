/* SPDX-License-Identifier: MIT */
/*
 * Google Gemini / Vertex generateContent bodies (Gemini API reference,
 * "Generating content": UsageMetadata; docs/sources.md "Token rules").
 * promptTokenCount includes cachedContentTokenCount; toolUsePromptTokenCount
 * is further input, except after Grounding with Google Search (below);
 * thoughtsTokenCount is normally OUTSIDE candidatesTokenCount, so
 * output = candidates + thoughts, with thoughts as the reasoning part. The
 * REST API writes proto3 JSON, which omits a count at 0: a final response
 * without candidatesTokenCount generated no candidate tokens (a blocked
 * prompt reports promptTokenCount alone).
 * streamGenerateContent sends chunks that share a responseId; only the last
 * (with a finishReason) has the final counts, so earlier ones yield no event.
 * A finish reason such as SAFETY or RECITATION means the call failed: the
 * rule every source shares (source_settle_status(), docs/sources.md
 * "Status").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tokenmeter/map.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

static bool gemini_match(const struct body_node *doc)
{
    return body_type(body_get(doc, "/usageMetadata")) == BODY_OBJECT;
}

/* a + b where either may be absent; -ERANGE on overflow. */
static int gemini_add(int64_t *acc, int64_t v)
{
    if (v == EVENT_ABSENT)
        return 0;
    if (*acc == EVENT_ABSENT) {
        *acc = v;
        return 0;
    }
    if (*acc > INT64_MAX - v)
        return -ERANGE;
    *acc += v;
    return 0;
}

/* A candidate finished, or the prompt was blocked: the call is over. A
 * streamGenerateContent chunk before the last has neither, and its counts
 * are partial (the last chunk repeats the whole). */
static bool gemini_final(const struct body_node *doc)
{
    const struct body_node *cands = body_get(doc, "/candidates");
    for (size_t i = 0; i < body_array_len(cands); i++)
        if (body_str_nonempty(body_array_at(cands, i), "/finishReason"))
            return true;
    return body_has(doc, "/promptFeedback/blockReason") || body_array_len(cands) == 0;
}

/* Adds the tokenCount of the entries of a ModalityTokenCount list (e.g.
 * usageMetadata.promptTokensDetails) whose modality is `modality` ("AUDIO",
 * "IMAGE") to *dst; *dst stays absent when the list has none. */
static int gemini_modality(const struct body_node *doc, const char *list, const char *modality,
                           int64_t *dst, char err[ERR_MAX])
{
    const struct body_node *l = body_get(doc, list);
    for (size_t i = 0; i < body_array_len(l); i++) {
        const struct body_node *e = body_array_at(l, i);
        const char *m = body_str(e, "/modality");
        int64_t n = EVENT_ABSENT;
        if (!m || strcmp(m, modality) != 0)
            continue;
        int rc = source_count(e, "/tokenCount", &n, err);
        if (rc < 0)
            return rc;
        if (gemini_add(dst, n) < 0)
            return err_set(err, -EINVAL, "%s: token sum out of range", list);
    }
    return 0;
}

/* usageMetadata.trafficType (Vertex AI: ON_DEMAND, ON_DEMAND_PRIORITY,
 * ON_DEMAND_FLEX, FLEX, BATCH, PROVISIONED_THROUGHPUT ...) in the service
 * tier words the price table's keys use (docs/pricing.md, rule 1), as
 * LiteLLM maps them: priority traffic at the *_priority prices, flex and
 * batch traffic at the *_flex prices; other values are kept as reported. */
static const char *gemini_service_tier(const char *traffic)
{
    static const struct {
        const char *traffic, *tier;
    } map[] = {
        {"ON_DEMAND", "standard"},  {"ON_DEMAND_PRIORITY", "priority"},
        {"ON_DEMAND_FLEX", "flex"}, {"FLEX", "flex"},
        {"BATCH", "flex"},
    };
    for (size_t i = 0; traffic && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(traffic, map[i].traffic) == 0)
            return map[i].tier;
    return traffic;
}

/* The distinct web search queries of a response's Grounding with Google
 * Search, each string kept once (borrowed from the body). */
struct gemini_queries {
    const char **items;
    size_t len, cap;
    struct map index;
};

/* True when a chunk of item's groundingChunks has the member `kind` ("/web"
 * a web page, "/maps" a Google Maps place: google-genai types.GroundingChunk). */
static bool gemini_chunks_have(const struct body_node *item, const char *kind)
{
    const struct body_node *chunks = body_get(item, "/groundingChunks");
    for (size_t i = 0; i < body_array_len(chunks); i++)
        if (body_get(body_array_at(chunks, i), kind))
            return true;
    return false;
}

/* Adds the webSearchQueries of one GroundingMetadata item not seen yet.
 * The queries of a Google Maps grounding (maps chunks or a widget token,
 * and no web chunk) are Maps lookups, not web searches. Returns 0 or
 * -ENOMEM. */
static int gemini_queries_add(struct gemini_queries *q, const struct body_node *item)
{
    bool maps = gemini_chunks_have(item, "/maps") ||
                body_str_nonempty(item, "/googleMapsWidgetContextToken") != NULL;
    if (maps && !gemini_chunks_have(item, "/web"))
        return 0;
    const struct body_node *list = body_get(item, "/webSearchQueries");
    for (size_t i = 0; i < body_array_len(list); i++) {
        const char *query = body_str_nonempty(body_array_at(list, i), "");
        if (!query)
            continue;
        uint64_t h = map_hash_str(MAP_HASH_INIT, query);
        bool seen = false;
        for (size_t it = map_first(&q->index, h), j;
             !seen && (j = map_next(&q->index, h, &it)) != MAP_NONE;)
            seen = strcmp(q->items[j], query) == 0;
        if (seen)
            continue;
        if (vec_reserve(&q->items, &q->cap, q->len + 1, sizeof(*q->items)) < 0 ||
            map_insert(&q->index, h, q->len) < 0)
            return -ENOMEM;
        q->items[q->len++] = query;
    }
    return 0;
}

/* The web searches of Grounding with Google Search: the distinct
 * candidates[].groundingMetadata.webSearchQueries (google-genai
 * types.GroundingMetadata: "Web search queries for the following-up web
 * search"; groundingMetadata may also come as a list). Google bills them
 * per grounded prompt (Gemini 2.x) or per query (Gemini 3), at the price
 * docs/pricing.md rule 7 applies, and does not bill the retrieved context
 * as input (ai.google.dev/gemini-api/docs/pricing; LiteLLM's
 * calculate_grounding_requests counts the same way). *n is 0 without any;
 * returns 0 or -ENOMEM. */
static int gemini_web_searches(const struct body_node *doc, int64_t *n, char err[ERR_MAX])
{
    struct gemini_queries q = {0};
    int rc = 0;
    map_init(&q.index);
    const struct body_node *cands = body_get(doc, "/candidates");
    for (size_t i = 0; rc == 0 && i < body_array_len(cands); i++) {
        const struct body_node *g = body_get(body_array_at(cands, i), "/groundingMetadata");
        if (body_type(g) == BODY_OBJECT)
            rc = gemini_queries_add(&q, g);
        for (size_t k = 0; rc == 0 && k < body_array_len(g); k++)
            rc = gemini_queries_add(&q, body_array_at(g, k));
    }
    *n = (int64_t)q.len;
    free(q.items);
    map_free(&q.index);
    return rc < 0 ? err_set(err, rc, "out of memory counting web search queries") : 0;
}

/* Whether candidatesTokenCount already includes thoughtsTokenCount: some
 * responses count thoughts inside it, and their totalTokenCount ("prompt,
 * response candidates, and tool-use prompts", google-genai
 * types.GenerateContentResponseUsageMetadata) then equals prompt +
 * candidates + tool use without the thoughts. LiteLLM's
 * is_candidate_token_count_inclusive makes the same test. */
static bool gemini_candidates_include_thoughts(const struct body_node *doc, int64_t prompt,
                                               int64_t tool, int64_t candidates)
{
    int64_t total = EVENT_ABSENT, sum = EVENT_ABSENT;
    if (body_count(doc, "/usageMetadata/totalTokenCount", &total) < 0)
        return false;
    if (gemini_add(&sum, prompt) < 0 || gemini_add(&sum, tool) < 0 ||
        gemini_add(&sum, candidates) < 0)
        return false;
    return sum == total;
}

int source_gemini_usage(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    ev->finish_reason = body_str_nonempty(doc, "/candidates/0/finishReason");
    ev->service_tier = gemini_service_tier(body_str_nonempty(doc, "/usageMetadata/trafficType"));
    int64_t prompt = EVENT_ABSENT, tool = EVENT_ABSENT, candidates = EVENT_ABSENT;
    if ((rc = source_count(doc, "/usageMetadata/promptTokenCount", &prompt, err)) < 0 ||
        (rc = source_count(doc, "/usageMetadata/toolUsePromptTokenCount", &tool, err)) < 0 ||
        (rc = source_count(doc, "/usageMetadata/cachedContentTokenCount", &ev->cached_input_tokens,
                           err)) < 0 ||
        (rc = source_count(doc, "/usageMetadata/candidatesTokenCount", &candidates, err)) < 0 ||
        (rc = source_count(doc, "/usageMetadata/thoughtsTokenCount", &ev->reasoning_tokens, err)) <
            0 ||
        (rc = gemini_modality(doc, "/usageMetadata/promptTokensDetails", "AUDIO",
                              &ev->input_audio_tokens, err)) < 0 ||
        (rc = gemini_modality(doc, "/usageMetadata/cacheTokensDetails", "AUDIO",
                              &ev->cached_input_audio_tokens, err)) < 0 ||
        (rc = gemini_modality(doc, "/usageMetadata/promptTokensDetails", "IMAGE",
                              &ev->input_image_tokens, err)) < 0 ||
        (rc = gemini_modality(doc, "/usageMetadata/candidatesTokensDetails", "AUDIO",
                              &ev->output_audio_tokens, err)) < 0 ||
        (rc = gemini_modality(doc, "/usageMetadata/candidatesTokensDetails", "IMAGE",
                              &ev->output_image_tokens, err)) < 0)
        return rc;
    bool thoughts_inside = ev->reasoning_tokens > 0 &&
                           gemini_candidates_include_thoughts(doc, prompt, tool, candidates);
    int64_t searches = 0;
    if ((rc = gemini_web_searches(doc, &searches, err)) < 0)
        return rc;
    if (searches > 0) {
        ev->web_search_requests = searches;
        tool = EVENT_ABSENT; /* the search results are not billed as input */
    }
    if (candidates == EVENT_ABSENT)
        candidates = 0; /* proto3 JSON omits a 0 (see above) */
    if (gemini_add(&ev->input_tokens, prompt) < 0 || gemini_add(&ev->input_tokens, tool) < 0 ||
        gemini_add(&ev->output_tokens, candidates) < 0 ||
        (!thoughts_inside && gemini_add(&ev->output_tokens, ev->reasoning_tokens) < 0))
        return err_set(err, -EINVAL, "/usageMetadata: token sum out of range");
    /* A prompt blocked before generation reports only promptTokenCount. */
    const char *block = body_str_nonempty(doc, "/promptFeedback/blockReason");
    if (block) {
        ev->status = EVENT_STATUS_ERROR;
        ev->error_type = block;
    }
    return 0;
}

/* Who served the call, in LiteLLM's provider names, which price the same
 * model differently: Vertex AI's GenerateContentResponse carries createTime
 * and usageMetadata.trafficType (Vertex AI API reference), the Gemini API's
 * (ai.google.dev, "Generating content") has neither. */
static const char *gemini_provider(const struct body_node *doc)
{
    return body_has(doc, "/createTime") || body_has(doc, "/usageMetadata/trafficType") ? "vertex_ai"
                                                                                       : "gemini";
}

static int gemini_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    if (!gemini_final(doc))
        return 0; /* a mid-stream chunk: the final one carries the counts */
    struct event ev;
    event_init(&ev, "gemini");
    ev.event_id = body_str_nonempty(doc, "/responseId");
    ev.model = body_str_nonempty(doc, "/modelVersion");
    ev.provider = gemini_provider(doc);
    ev.operation = "generate_content";
    if ((rc = source_gemini_usage(doc, &ev, err)) < 0 ||
        (rc = source_time(doc, "/createTime", TIMEUTIL_NS_PER_S, &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_gemini = {
    .name = "gemini",
    .match = gemini_match,
    .extract = gemini_extract,
    .signature = "a \"usageMetadata\" object",
    .keys = SOURCE_KEY(USAGE_METADATA),
};
