/* SPDX-License-Identifier: MIT */
#include "tokenmeter/source.h"

#include <errno.h>
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

const struct source *source_find(const char *name)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (strcmp(source_registry[i]->name, name) == 0)
            return source_registry[i];
    return NULL;
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
    for (size_t i = 0; i < N_SOURCES; i++) {
        const struct source *s = source_registry[i];
        if ((only && strcmp(s->name, only) != 0) || (!object && !s->whole))
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

int source_count(const struct body_node *n, const char *ptr, int64_t *dst, char err[ERR_MAX])
{
    int64_t v = 0;
    int rc = body_count(n, ptr, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc == -ERANGE)
        return err_set(err, -EINVAL, "%s: token count out of range (negative or above 2^63)", ptr);
    if (rc < 0)
        return err_set(err, -EINVAL, "%s: not a non-negative integer", ptr);
    *dst = v;
    return 0;
}

int source_time(const struct body_node *n, const char *ptr, int64_t unit_ns, struct event *ev,
                char err[ERR_MAX])
{
    const struct body_node *t = body_get(n, ptr);
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
        return err_set(err, -EINVAL, "%s: %s", ptr,
                       rc == -ERANGE ? "time outside 1970..2262" : "not a valid time");
    ev->time_ns = ns;
    ev->time_known = true;
    return 0;
}

int source_number(const struct body_node *n, const char *ptr, double scale, double *dst,
                  char err[ERR_MAX])
{
    double v = 0;
    int rc = body_num(n, ptr, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return err_set(err, -EINVAL, "%s: not a finite number", ptr);
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

int source_openai_usage(const struct body_node *doc, const char *base, struct event *ev,
                        char err[ERR_MAX])
{
    /* Chat Completions names first, then Responses names: an object carries
     * one set or the other. Both count cached tokens inside the prompt. */
    static const struct {
        const char *ptr;
        size_t off;
    } map[] = {
        {"/prompt_tokens", offsetof(struct event, input_tokens)},
        {"/input_tokens", offsetof(struct event, input_tokens)},
        {"/prompt_tokens_details/cached_tokens", offsetof(struct event, cached_input_tokens)},
        /* DeepSeek's split (its API reference, "Create Chat Completion":
         * prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens). */
        {"/prompt_cache_hit_tokens", offsetof(struct event, cached_input_tokens)},
        {"/input_tokens_details/cached_tokens", offsetof(struct event, cached_input_tokens)},
        {"/prompt_tokens_details/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {"/input_tokens_details/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {"/completion_tokens", offsetof(struct event, output_tokens)},
        {"/output_tokens", offsetof(struct event, output_tokens)},
        {"/completion_tokens_details/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        {"/output_tokens_details/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        /* Audio and image parts bill at their own prices (docs/pricing.md). */
        {"/prompt_tokens_details/audio_tokens", offsetof(struct event, input_audio_tokens)},
        {"/prompt_tokens_details/image_tokens", offsetof(struct event, input_image_tokens)},
        {"/input_tokens_details/image_tokens", offsetof(struct event, input_image_tokens)},
        {"/completion_tokens_details/audio_tokens", offsetof(struct event, output_audio_tokens)},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int64_t *dst = (int64_t *)((char *)ev + map[i].off);
        char ptr[256];
        if (*dst != EVENT_ABSENT)
            continue;
        snprintf(ptr, sizeof(ptr), "%s%s", base, map[i].ptr);
        int rc = source_count(doc, ptr, dst, err);
        if (rc < 0)
            return rc;
    }
    source_openai_fold_reasoning(body_get(doc, base), ev);
    return 0;
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
    char ptr[256];
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        snprintf(ptr, sizeof(ptr), "%s%s", base, map[i].ptr);
        int rc = source_count(doc, ptr, (int64_t *)((char *)ev + map[i].off), err);
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

int source_anthropic_usage(const struct body_node *doc, const char *base, struct event *ev,
                           char err[ERR_MAX])
{
    int rc = source_anthropic_counts(doc, base, ev, err);
    return rc < 0 ? rc : source_anthropic_total(ev, err);
}

const char *source_openai_compatible_provider(const struct body_node *doc, const char *model)
{
    /* Marks only one vendor's responses carry (DeepSeek's API reference;
     * Groq's "x_groq" response member). */
    if (body_has(doc, "/usage/prompt_cache_hit_tokens"))
        return "deepseek";
    if (body_has(doc, "/x_groq"))
        return "groq";
    /* Model families, by each vendor's published model names. A name that
     * is only a family of weights (llama, qwen, "meta-llama/...") says
     * nothing about who served it, so it gives no provider. */
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
        {"accounts/fireworks/", "fireworks"},
        {"claude-", "anthropic"},
        {"gemini-", "google"},
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
    for (size_t i = 0; reason && i < sizeof(failed) / sizeof(failed[0]); i++)
        if (strcasecmp(reason, failed[i]) == 0)
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
