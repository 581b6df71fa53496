/* SPDX-License-Identifier: MIT */
/*
 * OpenAI Chat Completions and Responses bodies (OpenAI API reference, "The
 * chat completion object" and "The response object"; docs/sources.md "Token
 * rules"). prompt_tokens / input_tokens include cached tokens; reasoning
 * tokens are part of completion_tokens / output_tokens.
 *
 * Many vendors answer in these shapes (DeepSeek, Mistral, Groq, xAI,
 * Together, Fireworks ...), so the shape alone does not say "openai": the
 * provider is the envelope's "provider", else a vendor's own mark or the
 * model's family (source_openai_compatible_provider()), else unknown.
 * DeepSeek's prompt_cache_hit_tokens is its cache-read count (DeepSeek API
 * reference, "Create Chat Completion": prompt_tokens = hit + miss).
 *
 * Responses streams (openai-python types ResponseCompletedEvent,
 * ResponseIncompleteEvent, ResponseFailedEvent, all `{"type":"response.*",
 * "response":{...}}`): the three terminal events carry the whole response
 * with usage and give one event each; every other response.* event is
 * ignored. Embeddings (openai-python CreateEmbeddingResponse:
 * `{"object":"list","data":[{"object":"embedding",...}],"model",
 * "usage":{"prompt_tokens","total_tokens"}}`) have no id and no time: the
 * body hash and the receive time stand in. Chat completion chunks without
 * usage hold no event (only the last chunk, with
 * stream_options.include_usage, has it).
 */
#include <errno.h>
#include <string.h>

#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool openai_is_chat_object(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    return object &&
           (strcmp(object, "chat.completion") == 0 || strcmp(object, "chat.completion.chunk") == 0);
}

/* OpenRouter answers in the same envelope but names the serving provider and
 * reports a cost; those bodies belong to source_openrouter_chat. */
bool source_openai_chat_is_openrouter(const struct body_node *doc)
{
    const char *id = body_str(doc, "/id");
    return body_has(doc, "/provider") || body_has(doc, "/usage/cost") ||
           (id && strncmp(id, "gen-", 4) == 0);
}

static bool openai_chat_match(const struct body_node *doc)
{
    return openai_is_chat_object(doc) && !source_openai_chat_is_openrouter(doc);
}

/* Tenancy an application attached through the request's metadata. */
static void openai_metadata_tenancy(const struct body_node *doc, struct event *ev)
{
    const struct body_node *meta = body_get(doc, "/metadata");
    ev->org = body_str_nonempty(meta, "/org_id");
    ev->team = body_str_nonempty(meta, "/team_id");
    ev->user = body_str_nonempty(meta, "/user_id");
}

/* Fills ev (initialised by the caller) from a chat completion. Returns 0,
 * 1 when the body holds no event, or a negative errno with err set. */
static int openai_chat_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    const char *object = body_str(doc, "/object");
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT) {
        /* Streamed chunks carry usage only in the last one (with
         * stream_options.include_usage): the others hold no event. */
        if (object && strcmp(object, "chat.completion.chunk") == 0)
            return 1;
        return err_set(err, -EINVAL, "chat completion without a usage object");
    }
    ev->event_id = body_str_nonempty(doc, "/id");
    ev->model = body_str_nonempty(doc, "/model");
    ev->provider = source_openai_compatible_provider(doc, ev->model);
    ev->operation = "chat";
    ev->finish_reason = body_str_nonempty(doc, "/choices/0/finish_reason");
    ev->service_tier = body_str_nonempty(doc, "/service_tier");
    openai_metadata_tenancy(doc, ev);
    ev->user = ev->user ? ev->user : body_str_nonempty(doc, "/user");
    if ((rc = source_time(doc, "/created", TIMEUTIL_NS_PER_S, ev, err)) < 0 ||
        (rc = source_openai_usage(doc, "/usage", ev, err)) < 0)
        return rc;
    return 0;
}

/* Extracts with a fill function: emits its event, or none (1), or fails. */
static int openai_extract_with(int (*fill)(const struct body_node *, struct event *, char *),
                               const struct body_node *doc, struct source_ctx *ctx,
                               char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "openai");
    int rc = fill(doc, &ev, err);
    return rc == 0 ? source_emit(ctx, &ev) : rc < 0 ? rc : 0;
}

static int openai_chat_extract(const struct body_node *doc, struct source_ctx *ctx,
                               char err[ERR_MAX])
{
    return openai_extract_with(openai_chat_fill, doc, ctx, err);
}

const struct source source_openai_chat = {
    .name = "openai",
    .match = openai_chat_match,
    .extract = openai_chat_extract,
    .signature = "\"object\":\"chat.completion\" without OpenRouter's provider/usage.cost",
    .keys = SOURCE_KEY(OBJECT),
};

/* A legacy Completions response (POST /v1/completions; openai-python
 * types.Completion: "object":"text_completion" with the chat completion's
 * usage object), which gateways and OpenAI-compatible servers still answer.
 * Streamed, every chunk has the same object and only the last carries usage
 * (with stream_options.include_usage): a chunk without usage and without a
 * finish_reason is mid-stream and holds no event. */
static bool openai_completion_match(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    return object && strcmp(object, "text_completion") == 0 &&
           !source_openai_chat_is_openrouter(doc);
}

static int openai_completion_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT &&
        !body_str_nonempty(doc, "/choices/0/finish_reason"))
        return 1;
    int rc = openai_chat_fill(doc, ev, err);
    if (rc < 0 && body_type(body_get(doc, "/usage")) != BODY_OBJECT)
        return err_set(err, -EINVAL, "text completion without a usage object");
    ev->operation = "text_completion";
    return rc;
}

static int openai_completion_extract(const struct body_node *doc, struct source_ctx *ctx,
                                     char err[ERR_MAX])
{
    return openai_extract_with(openai_completion_fill, doc, ctx, err);
}

const struct source source_openai_completion = {
    .name = "openai",
    .match = openai_completion_match,
    .extract = openai_completion_extract,
    .signature = "\"object\":\"text_completion\" (Completions API)",
    .keys = SOURCE_KEY(OBJECT),
};

static bool openai_responses_match(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    return object && strcmp(object, "response") == 0;
}

int64_t source_openai_web_searches(const struct body_node *doc)
{
    const struct body_node *out = body_get(doc, "/output");
    int64_t n = 0;
    for (size_t i = 0; i < body_array_len(out); i++) {
        const char *type = body_str(body_array_at(out, i), "/type");
        n += type && strcmp(type, "web_search_call") == 0;
    }
    return n ? n : EVENT_ABSENT;
}

/* Fills ev (initialised by the caller) from a response object. Returns 0,
 * 1 when the body holds no event, or a negative errno with err set. */
static int openai_responses_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    ev->event_id = body_str_nonempty(doc, "/id");
    ev->model = body_str_nonempty(doc, "/model");
    ev->provider = source_openai_compatible_provider(doc, ev->model);
    ev->operation = "responses";
    openai_metadata_tenancy(doc, ev);
    if (!ev->user)
        ev->user = body_str_nonempty(doc, "/safety_identifier");
    if (!ev->user)
        ev->user = body_str_nonempty(doc, "/user");
    /* completed is the only status in which the call did what was asked;
     * failed, incomplete and cancelled are errors (the status tag,
     * docs/schema.md "Tags"). A
     * queued or in_progress snapshot is not over yet: the final body for the
     * same id will say how it ended, so this one holds no event. */
    const char *status = body_str(doc, "/status");
    if (status && (strcmp(status, "queued") == 0 || strcmp(status, "in_progress") == 0))
        return 1;
    if (status && strcmp(status, "completed") != 0) {
        ev->status = EVENT_STATUS_ERROR;
        ev->error_type = body_str_nonempty(doc, "/error/code");
        if (!ev->error_type)
            ev->error_type = status;
    }
    ev->finish_reason = body_str_nonempty(doc, "/incomplete_details/reason");
    ev->service_tier = body_str_nonempty(doc, "/service_tier");
    ev->web_search_requests = source_openai_web_searches(doc);
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT && ev->status == EVENT_STATUS_SUCCESS)
        return err_set(err, -EINVAL, "completed response without a usage object");
    if ((rc = source_time(doc, "/created_at", TIMEUTIL_NS_PER_S, ev, err)) < 0 ||
        (rc = source_openai_usage(doc, "/usage", ev, err)) < 0)
        return rc;
    double completed = 0, created = 0;
    if (body_num(doc, "/completed_at", &completed) == 0 &&
        body_num(doc, "/created_at", &created) == 0 && completed >= created)
        ev->latency_ms = (completed - created) * 1000.0;
    return 0;
}

static int openai_responses_extract(const struct body_node *doc, struct source_ctx *ctx,
                                    char err[ERR_MAX])
{
    return openai_extract_with(openai_responses_fill, doc, ctx, err);
}

const struct source source_openai_responses = {
    .name = "openai",
    .match = openai_responses_match,
    .extract = openai_responses_extract,
    .signature = "\"object\":\"response\" (Responses API)",
    .keys = SOURCE_KEY(OBJECT),
};

static bool openai_responses_stream_match(const struct body_node *doc)
{
    const char *type = body_str(doc, "/type");
    return type && strncmp(type, "response.", 9) == 0;
}

static int openai_responses_stream_extract(const struct body_node *doc, struct source_ctx *ctx,
                                           char err[ERR_MAX])
{
    static const char *const terminal[] = {"response.completed", "response.incomplete",
                                           "response.failed"};
    const char *type = body_str(doc, "/type");
    for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++) {
        if (strcmp(type, terminal[i]) != 0)
            continue;
        const struct body_node *resp = body_get(doc, "/response");
        if (body_type(resp) != BODY_OBJECT)
            return err_set(err, -EINVAL, "%s event without a \"response\" object", type);
        return openai_responses_extract(resp, ctx, err);
    }
    /* A usage-bearing event of another kind (the Realtime API's
     * response.done) is not a Responses stream: saying so beats dropping
     * billed tokens silently. */
    if (body_type(body_get(doc, "/response/usage")) == BODY_OBJECT)
        return err_set(err, -EINVAL,
                       "%.64s: a response event with usage that is not a Responses stream's "
                       "end (response.completed, .incomplete or .failed)",
                       type);
    return 0; /* created, in_progress, deltas ...: the terminal event has the usage */
}

const struct source source_openai_responses_stream = {
    .name = "openai",
    .match = openai_responses_stream_match,
    .extract = openai_responses_stream_extract,
    .signature = "a Responses stream event (\"type\":\"response.*\")",
    .keys = SOURCE_KEY(TYPE),
};

bool source_is_embeddings(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    const char *item = body_str(doc, "/data/0/object");
    return object && strcmp(object, "list") == 0 && item && strcmp(item, "embedding") == 0;
}

int source_embeddings_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    int rc;
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT)
        return err_set(err, -EINVAL, "embeddings response without a usage object");
    ev->event_id = body_str_nonempty(doc, "/id");
    ev->model = body_str_nonempty(doc, "/model");
    ev->provider = body_str_nonempty(doc, "/provider");
    if (!ev->provider)
        ev->provider = source_openai_compatible_provider(doc, ev->model);
    ev->operation = "embeddings";
    /* An embedding is priced by its input alone: nothing is generated. */
    ev->output_tokens = 0;
    if ((rc = source_count(doc, "/usage/prompt_tokens", &ev->input_tokens, err)) < 0 ||
        (rc = source_count(doc, "/usage/prompt_tokens_details/cached_tokens",
                           &ev->cached_input_tokens, err)) < 0 ||
        (rc = source_number(doc, "/usage/cost", 1.0, &ev->cost_usd, err)) < 0)
        return rc;
    return 0;
}

int source_embeddings_extract(const struct body_node *doc, struct source_ctx *ctx,
                              const char *source, char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, source);
    int rc = source_embeddings_fill(doc, &ev, err);
    return rc < 0 ? rc : source_emit(ctx, &ev);
}

static bool openai_embeddings_match(const struct body_node *doc)
{
    return source_is_embeddings(doc) && !source_openai_chat_is_openrouter(doc);
}

static int openai_embeddings_extract(const struct body_node *doc, struct source_ctx *ctx,
                                     char err[ERR_MAX])
{
    return source_embeddings_extract(doc, ctx, "openai", err);
}

const struct source source_openai_embeddings = {
    .name = "openai",
    .match = openai_embeddings_match,
    .extract = openai_embeddings_extract,
    .signature = "\"object\":\"list\" of \"embedding\" items (Embeddings API)",
    .keys = SOURCE_KEY(OBJECT),
};

/* A line of a Batch API output file (platform.openai.com/docs/guides/batch:
 * {"id":"batch_req_...","custom_id":...,"response":{"status_code":200,
 * "body":{...}},"error":null}). Its body is billed at the Batch API's prices,
 * so the event's service tier is "batch" whatever the body says. */
static bool openai_batch_match(const struct body_node *doc)
{
    const char *id = body_str(doc, "/id");
    return body_str(doc, "/custom_id") && id && strncmp(id, "batch_req", 9) == 0 &&
           (body_type(body_get(doc, "/response")) == BODY_OBJECT ||
            body_type(body_get(doc, "/error")) == BODY_OBJECT);
}

static int openai_batch_extract(const struct body_node *doc, struct source_ctx *ctx,
                                char err[ERR_MAX])
{
    struct event ev;
    event_init(&ev, "openai");
    const struct body_node *body = body_get(doc, "/response/body");
    int64_t status = 0;
    int rc = source_count(doc, "/response/status_code", &status, err);
    if (rc < 0)
        return rc;
    if (body_type(body_get(doc, "/error")) == BODY_OBJECT || status != 200) {
        /* A request the batch could not run: counted as failed, and not
         * billed (the Batch API bills completed requests only), so its
         * counts and cost are 0, not unknown. */
        ev.input_tokens = ev.output_tokens = 0;
        ev.cost_usd = 0;
        ev.event_id = body_str_nonempty(doc, "/id");
        ev.provider = "openai";
        ev.model = body_str_nonempty(body, "/model");
        source_set_error(&ev, status);
        const char *code = body_str_nonempty(doc, "/error/code");
        ev.error_type = code ? code : body_str_nonempty(body, "/error/code");
        if (!ev.error_type)
            ev.error_type = status ? ev.error_buf : "batch_error";
        return source_emit(ctx, &ev);
    }
    /* The endpoints a batch runs (Batch API guide): /v1/chat/completions,
     * /v1/responses, /v1/embeddings (an embeddings list) and /v1/completions
     * (openai-python types.Completion, "object":"text_completion", with the
     * chat completion's usage object). */
    const char *object = body_str(body, "/object");
    if (object && strcmp(object, "chat.completion") == 0) {
        rc = openai_chat_fill(body, &ev, err);
    } else if (object && strcmp(object, "text_completion") == 0) {
        rc = openai_chat_fill(body, &ev, err);
        ev.operation = "text_completion";
    } else if (object && strcmp(object, "response") == 0) {
        rc = openai_responses_fill(body, &ev, err);
    } else if (source_is_embeddings(body)) {
        rc = source_embeddings_fill(body, &ev, err);
    } else
        return err_set(err, -EINVAL, "batch line: response.body.object \"%.64s\" is not read",
                       object ? object : "");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    ev.service_tier = "batch";
    if (!ev.provider)
        ev.provider = "openai"; /* the Batch API's, as for a failed line */
    if (!ev.event_id)
        ev.event_id = body_str_nonempty(doc, "/id");
    return source_emit(ctx, &ev);
}

const struct source source_openai_batch = {
    .name = "openai",
    .match = openai_batch_match,
    .extract = openai_batch_extract,
    .signature = "Batch API output line: a batch_req id, custom_id and response",
    .keys = SOURCE_KEY(CUSTOM_ID),
};
