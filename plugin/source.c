/* SPDX-License-Identifier: MIT */
#include "tokenmeter/source.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/mapping.h"
#include "tokenmeter/timeutil.h"

/* Every shape tokenmeter understands. Order does not matter: detection asks
 * all of them and refuses to choose between two. */
static const struct source *const source_registry[] = {
    &source_openrouter_generation,
    &source_openrouter_chat,
    &source_litellm,
    &source_openai_chat,
    &source_openai_completion,
    &source_openai_responses,
    &source_openai_responses_stream,
    &source_openai_embeddings,
    &source_openrouter_embeddings,
    &source_openai_batch,
    &source_anthropic,
    &source_anthropic_stream,
    &source_anthropic_batch,
    &source_litellm_spend_log,
    &source_litellm_v1,
    &source_cloudflare_logpush,
    &source_gemini,
    &source_openrouter_otlp,
    &source_otel_otlp,
    &source_otel_flat,
    &source_helicone,
    &source_langfuse,
    &source_kong,
    &source_cloudflare,
    &source_portkey,
    &source_mapped,
};

#define N_SOURCES (sizeof(source_registry) / sizeof(source_registry[0]))

static const char *const source_key_names[SOURCE_KEY_COUNT] = {
    [SOURCE_KEY_STATUS_CODE] = "StatusCode",
    [SOURCE_KEY_AI] = "ai",
    [SOURCE_KEY_AI_MODEL] = "ai_model",
    [SOURCE_KEY_BATCH] = "batch",
    [SOURCE_KEY_CALL_TYPE] = "call_type",
    [SOURCE_KEY_CUSTOM_ID] = "custom_id",
    [SOURCE_KEY_DATA] = "data",
    [SOURCE_KEY_GEN_AI_COMPLETION_TOKENS] = "gen_ai.usage.completion_tokens",
    [SOURCE_KEY_GEN_AI_INPUT_TOKENS] = "gen_ai.usage.input_tokens",
    [SOURCE_KEY_GEN_AI_OUTPUT_TOKENS] = "gen_ai.usage.output_tokens",
    [SOURCE_KEY_GEN_AI_PROMPT_TOKENS] = "gen_ai.usage.prompt_tokens",
    [SOURCE_KEY_LITELLM_CALL_ID] = "litellm_call_id",
    [SOURCE_KEY_NATIVE_TOKENS_PROMPT] = "native_tokens_prompt",
    [SOURCE_KEY_OBJECT] = "object",
    [SOURCE_KEY_REQUEST_ID] = "request_id",
    [SOURCE_KEY_RESOURCE_SPANS] = "resourceSpans",
    [SOURCE_KEY_SUCCESS] = "success",
    [SOURCE_KEY_TOKENS_PROMPT] = "tokens_prompt",
    [SOURCE_KEY_TYPE] = "type",
    [SOURCE_KEY_USAGE] = "usage",
    [SOURCE_KEY_USAGE_METADATA] = "usageMetadata",
};

const char *source_key_name(enum source_key k)
{
    return (unsigned)k < SOURCE_KEY_COUNT ? source_key_names[k] : NULL;
}

void source_members(const struct body_node *obj, const char *const *names, size_t n,
                    const struct body_node **out)
{
    /* A filter by the key's first byte (its low five bits: letters apart,
     * while a collision only costs a comparison): bit k set when names[k]
     * could be the key. A key is then compared with those few names, and
     * its second byte is checked inline before the call to strcmp. */
    uint32_t first[32] = {0};
    for (size_t k = 0; k < n; k++) {
        out[k] = NULL;
        if (k < SOURCE_MEMBERS_MAX)
            first[(unsigned char)names[k][0] & 31] |= UINT32_C(1) << k;
    }
    size_t len = body_object_len(obj);
    /* in document order, so that a later duplicate overwrites */
    for (size_t i = 0; i < len; i++) {
        const char *key = body_object_key(obj, i);
        for (uint32_t m = first[(unsigned char)key[0] & 31]; m; m &= m - 1) {
            const char *name = names[__builtin_ctz(m)];
            /* key[1] is within key: key[0] is not its end when it equals
             * name[0], and when both are the end, key[1] is not read */
            if (key[0] == name[0] && (key[0] == '\0' || key[1] == name[1]) &&
                strcmp(key, name) == 0) {
                out[__builtin_ctz(m)] = body_object_value(obj, i);
                break;
            }
        }
    }
}

/* The SOURCE_KEY() bits of the members obj (an object) has: one pass over
 * its keys instead of every source looking its keys up from the root. */
static uint32_t source_object_keys(const struct body_node *obj)
{
    _Static_assert(SOURCE_KEY_COUNT <= SOURCE_MEMBERS_MAX, "one pass finds every key");
    const struct body_node *at[SOURCE_KEY_COUNT];
    uint32_t found = 0;
    source_members(obj, source_key_names, SOURCE_KEY_COUNT, at);
    for (unsigned k = 0; k < SOURCE_KEY_COUNT; k++)
        if (at[k])
            found |= UINT32_C(1) << k;
    return found;
}

const struct source *source_find(const char *name)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (strcmp(source_registry[i]->name, name) == 0)
            return source_registry[i];
    return NULL;
}

const struct source *source_at(size_t i)
{
    return i < N_SOURCES ? source_registry[i] : NULL;
}

bool source_name_known(const char *name)
{
    return source_find(name) != NULL;
}

const struct source *source_detect(const struct body_node *doc, const char *only, char err[ERR_MAX])
{
    return source_detect_mapped(doc, only, NULL, err);
}

const struct source *source_detect_mapped(const struct body_node *doc, const char *only,
                                          const struct mapping *mapping, char err[ERR_MAX])
{
    const struct source *found = NULL;
    bool object = body_type(doc) == BODY_OBJECT;
    if (!object && !source_claims_whole(doc)) {
        err_set(err, -EINVAL, "not a JSON object");
        return NULL;
    }
    uint32_t keys = object ? source_object_keys(doc) : 0;
    for (size_t i = 0; i < N_SOURCES; i++) {
        const struct source *s = source_registry[i];
        if ((only && strcmp(s->name, only) != 0) || (!object && !s->whole) ||
            (object && s->keys && !(s->keys & keys)))
            continue;
        if (s == &source_mapped ? !(mapping && mapping_match(mapping, doc)) : !s->match(doc))
            continue;
        if (found) {
            err_set(err, -EINVAL, "ambiguous shape: matches both %s (%s) and %s (%s)", found->name,
                    found->signature, s->name, s->signature);
            return NULL;
        }
        found = s;
    }
    if (!found) {
        if (only) {
            const struct source *named = source_find(only);
            err_set(err, -EINVAL, "not a %s body: expected %s", only,
                    named ? named->signature : "a known shape");
        } else {
            err_set(err, -EINVAL,
                    "unrecognised shape: no source matched (looked for \"object\", "
                    "\"type\":\"message\" or a stream event, usageMetadata, call_type, "
                    "request_id+spend, native_tokens_prompt, resourceSpans, gen_ai.usage.*, "
                    "response_body, batch, ai.*.usage, success+status_code, "
                    "Gateway+StatusCode, ai_model%s)",
                    mapping ? ", the [mapping] match" : "");
        }
    }
    return found;
}

bool source_claims_whole(const struct body_node *arr)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (source_registry[i]->whole && source_registry[i]->match(arr))
            return true;
    return false;
}

int source_count_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                    int64_t *dst, char err[ERR_MAX])
{
    int64_t v = 0;
    int rc = body_count(base, ptr, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc == -ERANGE)
        return err_set(err, -EINVAL, "%s%s: token count out of range (negative or above 2^63)",
                       base_ptr, ptr);
    if (rc < 0)
        return err_set(err, -EINVAL, "%s%s: not a non-negative integer", base_ptr, ptr);
    *dst = v;
    return 0;
}

int source_count(const struct body_node *n, const char *ptr, int64_t *dst, char err[ERR_MAX])
{
    return source_count_at(n, "", ptr, dst, err);
}

int source_time(const struct body_node *n, const char *ptr, int64_t unit_ns, struct event *ev,
                char err[ERR_MAX])
{
    return source_time_at(n, "", ptr, unit_ns, ev, err);
}

int source_time_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                   int64_t unit_ns, struct event *ev, char err[ERR_MAX])
{
    const struct body_node *t = body_get(base, ptr);
    int rc = 0;
    int64_t ns = 0;
    switch (body_type(t)) {
    case BODY_ABSENT:
    case BODY_NULL:
        return 0;
    case BODY_STRING: {
        const char *s = body_str(t, "");
        int64_t v = 0;
        if (body_int(t, "", &v) == 0)
            rc = timeutil_from_units(v, unit_ns, &ns);
        else
            rc = timeutil_parse_iso8601(s, &ns);
        break;
    }
    case BODY_INT: {
        int64_t v = 0;
        rc = body_int(t, "", &v);
        if (rc == 0)
            rc = timeutil_from_units(v, unit_ns, &ns);
        break;
    }
    case BODY_REAL: {
        double d = 0;
        rc = body_num(t, "", &d);
        if (rc == 0)
            rc = timeutil_from_seconds(d * ((double)unit_ns / 1e9), &ns);
        break;
    }
    default:
        rc = -EINVAL;
    }
    if (rc < 0)
        return err_set(err, -EINVAL, "%s%s: %s", base_ptr, ptr,
                       rc == -ERANGE ? "time outside 1970..2262" : "not a valid time");
    ev->time_ns = ns;
    ev->time_known = true;
    return 0;
}

int source_number(const struct body_node *n, const char *ptr, double scale, double *dst,
                  char err[ERR_MAX])
{
    return source_number_at(n, "", ptr, scale, dst, err);
}

int source_number_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                     double scale, double *dst, char err[ERR_MAX])
{
    double v = 0;
    int rc = body_num(base, ptr, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return err_set(err, -EINVAL, "%s%s: not a finite number", base_ptr, ptr);
    *dst = v * scale;
    return 0;
}

/* The count at the first of two names under u that is present, or absent. */
static int64_t source_openai_either(const struct body_node *u, const char *a, const char *b)
{
    int64_t v = EVENT_ABSENT;
    if (body_count(u, a, &v) < 0 && body_count(u, b, &v) < 0)
        return EVENT_ABSENT;
    return v;
}

/* OpenAI's completion_tokens includes its reasoning_tokens (the chat
 * completion object, completion_tokens_details), but xAI's Grok reports
 * reasoning "separated from the completion_tokens" (Vertex AI, "Reasoning
 * for Grok Models"; LiteLLM's XAIChatConfig.fold_reasoning_tokens_into_
 * completion) while total_tokens still sums all three. The total says which
 * convention a usage object follows, whoever sent it: when it equals
 * prompt + completion + reasoning and not prompt + completion, reasoning is
 * outside, and is added to the output read from this object. */
static void source_openai_fold_reasoning(const struct body_node *u, struct event *ev)
{
    int64_t p = source_openai_either(u, "/prompt_tokens", "/input_tokens");
    int64_t c = source_openai_either(u, "/completion_tokens", "/output_tokens");
    int64_t r = source_openai_either(u, "/completion_tokens_details/reasoning_tokens",
                                     "/output_tokens_details/reasoning_tokens");
    int64_t t = EVENT_ABSENT;
    if (body_count(u, "/total_tokens", &t) < 0 || p < 0 || c < 0 || r <= 0 ||
        ev->output_tokens != c || p > INT64_MAX - c || p + c > INT64_MAX - r)
        return;
    if (t != p + c && t == p + c + r)
        ev->output_tokens = c + r;
}

/* xAI bills in ticks of 1e-10 USD and reports a call's charge in
 * usage.cost_in_usd_ticks (https://docs.x.ai/developers/cost-tracking): the
 * provider's own bill, taken as the reported cost unless the body reported
 * one already. Like LiteLLM's xAI reader (llms/xai/common_utils.py,
 * xai_reported_cost_in_usd), anything but a non-negative integer is not a
 * bill, and the cost is computed from the price table instead. */
static void source_xai_ticks(const struct body_node *u, struct event *ev)
{
    const struct body_node *n = body_get(u, "/cost_in_usd_ticks");
    int64_t ticks = 0;
    if (body_type(n) == BODY_INT && isnan(ev->cost_usd) && body_count(n, "", &ticks) == 0)
        ev->cost_usd = (double)ticks / 1e10;
}

int source_usage_parts(const struct body_node *usage, const char *base, const char *const *details,
                       size_t ndetails, const struct source_part *parts, size_t n, struct event *ev,
                       char err[ERR_MAX])
{
    /* Each detail object is found once, not once per count below it. */
    const struct body_node *in[SOURCE_DETAILS_MAX + 1] = {usage};
    if (ndetails > SOURCE_DETAILS_MAX)
        return err_set(err, -EINVAL, "%s: more than %d detail objects asked for", base,
                       SOURCE_DETAILS_MAX);
    for (size_t k = 1; k <= ndetails; k++)
        in[k] = body_get(usage, details[k - 1]);
    for (size_t i = 0; i < n; i++) {
        int64_t *dst = (int64_t *)((char *)ev + parts[i].off);
        const struct body_node *parent = in[parts[i].in];
        if (*dst != EVENT_ABSENT || !parent)
            continue;
        int64_t v = 0;
        int rc = body_count(parent, parts[i].name, &v);
        if (rc == -ENOENT)
            continue;
        const char *detail = parts[i].in ? details[parts[i].in - 1] : "";
        if (rc == -ERANGE)
            return err_set(err, -EINVAL,
                           "%s%s%s: token count out of range (negative or above 2^63)", base,
                           detail, parts[i].name);
        if (rc < 0)
            return err_set(err, -EINVAL, "%s%s%s: not a non-negative integer", base, detail,
                           parts[i].name);
        *dst = v;
    }
    return 0;
}

int source_openai_usage(const struct body_node *doc, const char *base, struct event *ev,
                        char err[ERR_MAX])
{
    enum { USAGE, PROMPT, INPUT, COMPLETION, OUTPUT };
    static const char *const details[] = {
        [PROMPT - 1] = "/prompt_tokens_details",
        [INPUT - 1] = "/input_tokens_details",
        [COMPLETION - 1] = "/completion_tokens_details",
        [OUTPUT - 1] = "/output_tokens_details",
    };
    /* Chat Completions names first, then Responses names: an object carries
     * one set or the other. Both count cached tokens inside the prompt. */
    static const struct source_part parts[] = {
        {USAGE, "/prompt_tokens", offsetof(struct event, input_tokens)},
        {USAGE, "/input_tokens", offsetof(struct event, input_tokens)},
        {PROMPT, "/cached_tokens", offsetof(struct event, cached_input_tokens)},
        /* DeepSeek's split (its API reference, "Create Chat Completion":
         * prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens). */
        {USAGE, "/prompt_cache_hit_tokens", offsetof(struct event, cached_input_tokens)},
        {INPUT, "/cached_tokens", offsetof(struct event, cached_input_tokens)},
        {PROMPT, "/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {INPUT, "/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {USAGE, "/completion_tokens", offsetof(struct event, output_tokens)},
        {USAGE, "/output_tokens", offsetof(struct event, output_tokens)},
        {COMPLETION, "/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        {OUTPUT, "/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        /* Audio and image parts bill at their own prices (docs/pricing.md). */
        {PROMPT, "/audio_tokens", offsetof(struct event, input_audio_tokens)},
        {PROMPT, "/image_tokens", offsetof(struct event, input_image_tokens)},
        {INPUT, "/image_tokens", offsetof(struct event, input_image_tokens)},
        {COMPLETION, "/audio_tokens", offsetof(struct event, output_audio_tokens)},
    };
    /* Every name is a member name, so below anything but an object (or
     * nothing) each is absent. */
    const struct body_node *usage = body_get(doc, base);
    if (body_type(usage) != BODY_OBJECT)
        return 0;
    int rc = source_usage_parts(usage, base, details, sizeof(details) / sizeof(details[0]), parts,
                                sizeof(parts) / sizeof(parts[0]), ev, err);
    if (rc == 0) {
        source_openai_fold_reasoning(usage, ev);
        source_xai_ticks(usage, ev);
    }
    return rc;
}

int source_anthropic_counts(const struct body_node *doc, const char *base, struct event *ev,
                            char err[ERR_MAX])
{
    static const struct {
        const char *ptr;
        size_t off;
    } map[] = {
        {"/cache_read_input_tokens", offsetof(struct event, cached_input_tokens)},
        {"/cache_creation_input_tokens", offsetof(struct event, cache_write_tokens)},
        {"/cache_creation/ephemeral_1h_input_tokens",
         offsetof(struct event, cache_write_1h_tokens)},
        {"/output_tokens", offsetof(struct event, output_tokens)},
        {"/output_tokens_details/thinking_tokens", offsetof(struct event, reasoning_tokens)},
        {"/input_tokens", offsetof(struct event, input_tokens)},
    };
    const struct body_node *usage = body_get(doc, base);
    if (body_type(usage) != BODY_OBJECT)
        return 0; /* every name below is a member name: all absent */
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int rc =
            source_count_at(usage, base, map[i].ptr, (int64_t *)((char *)ev + map[i].off), err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int source_anthropic_total(struct event *ev, char err[ERR_MAX])
{
    /* input_tokens is the uncached part; each part is below 2^63, and the
     * sum is checked so it cannot wrap. */
    int64_t parts[2] = {ev->cached_input_tokens, ev->cache_write_tokens};
    for (int i = 0; i < 2 && ev->input_tokens != EVENT_ABSENT; i++) {
        if (parts[i] == EVENT_ABSENT)
            continue;
        if (ev->input_tokens > INT64_MAX - parts[i])
            return err_set(err, -EINVAL, "usage: input token sum out of range");
        ev->input_tokens += parts[i];
    }
    return 0;
}

const char *source_openai_compatible_provider(const struct body_node *doc, const char *model)
{
    /* Marks only one vendor's responses carry (DeepSeek's API reference;
     * Groq's "x_groq" response member). */
    if (body_has(doc, "/usage/prompt_cache_hit_tokens"))
        return "deepseek";
    if (body_has(doc, "/x_groq"))
        return "groq";
    /* Model families, by each vendor's published model names, named as
     * LiteLLM names the provider (so pricing finds the provider's own
     * entry, docs/pricing.md "Lookup"). A name that is only a family of
     * weights (llama, qwen, "meta-llama/...") says nothing about who served
     * it, so it gives no provider. */
    static const struct {
        const char *prefix;
        const char *provider;
    } families[] = {
        {"gpt-", "openai"},
        {"chatgpt-", "openai"},
        {"o1", "openai"},
        {"o3", "openai"},
        {"o4", "openai"},
        {"ft:gpt-", "openai"},
        {"text-embedding-", "openai"},
        {"codex-", "openai"},
        {"computer-use-", "openai"},
        {"omni-moderation", "openai"},
        {"deepseek-", "deepseek"},
        {"mistral-", "mistral"},
        {"ministral-", "mistral"},
        {"magistral-", "mistral"},
        {"codestral-", "mistral"},
        {"devstral-", "mistral"},
        {"pixtral-", "mistral"},
        {"open-mistral-", "mistral"},
        {"open-mixtral-", "mistral"},
        {"grok-", "xai"},
        {"accounts/fireworks/", "fireworks_ai"},
        {"claude-", "anthropic"},
        {"gemini-", "gemini"}, /* the Gemini API's OpenAI compatibility */
        {"moonshot-", "moonshot"},
        {"kimi-", "moonshot"},
        {"command-", "cohere"},
    };
    for (size_t i = 0; model && i < sizeof(families) / sizeof(families[0]); i++) {
        size_t n = strlen(families[i].prefix);
        if (strncmp(model, families[i].prefix, n) != 0)
            continue;
        /* "o1", "o3", "o4" name a family only whole or before a '-'. */
        if (families[i].prefix[n - 1] != '-' && families[i].prefix[n - 1] != '/' &&
            model[n] != '\0' && model[n] != '-')
            continue;
        return families[i].provider;
    }
    return NULL;
}

bool source_finish_reason_failed(const char *reason)
{
    /* Anthropic's stop_reason "refusal" (Messages API, "Handling stop
     * reasons"); Gemini's FinishReason and BlockedReason values that end a
     * call without the answer asked for (google-genai types.FinishReason,
     * types.BlockedReason); OpenAI's finish_reason "content_filter" (the
     * chat completion object). Stream ends and limits (stop, end_turn,
     * length, max_tokens, tool_use) are successes. */
    static const char *const failed[] = {
        "refusal",
        "content_filter",
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "MALFORMED_FUNCTION_CALL",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "MODEL_ARMOR",
        "JAILBREAK",
    };
    /* Every name starts with two letters, so a first or second byte that
     * differs from them in more than ASCII case (bit 0x20) already tells
     * "not this one": the common reasons (stop, end_turn, length, STOP)
     * cost no call to strcasecmp. reason[1] is read only after reason[0]
     * matched a letter, so within the string. */
    for (size_t i = 0; reason && i < sizeof(failed) / sizeof(failed[0]); i++)
        if ((reason[0] | 0x20) == (failed[i][0] | 0x20) &&
            (reason[1] | 0x20) == (failed[i][1] | 0x20) && strcasecmp(reason, failed[i]) == 0)
            return true;
    return false;
}

void source_settle_status(struct event *ev)
{
    if (ev->status == EVENT_STATUS_SUCCESS && source_finish_reason_failed(ev->finish_reason)) {
        ev->status = EVENT_STATUS_ERROR;
        ev->error_type = ev->finish_reason;
    }
}

int source_join_id(struct event *ev, const char *a, const char *b, char err[ERR_MAX])
{
    size_t al = strlen(a), bl = strlen(b), n = al + bl + 2;
    if (n <= sizeof(ev->id_buf)) {
        memcpy(ev->id_buf, a, al);
        ev->id_buf[al] = ':';
        memcpy(ev->id_buf + al + 1, b, bl + 1);
        ev->event_id = ev->id_buf;
        return 0;
    }
    char *joined = malloc(n);
    if (!joined)
        return err_set(err, -ENOMEM, "out of memory joining an event id");
    snprintf(joined, n, "%s:%s", a, b);
    ev->event_id = event_compact_id(ev, joined);
    free(joined);
    return 0;
}

void source_set_error(struct event *ev, int64_t http_status)
{
    ev->status = EVENT_STATUS_ERROR;
    if (http_status >= 400 && http_status <= 999) {
        snprintf(ev->error_buf, sizeof(ev->error_buf), "http_%d", (int)http_status);
        ev->error_type = ev->error_buf;
    } else {
        ev->error_type = "error";
    }
}
