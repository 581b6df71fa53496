/* SPDX-License-Identifier: MIT */
/*
 * OpenAI Chat Completions and Responses bodies (OpenAI API reference, "The
 * chat completion object" and "The response object"; docs/sources.md "Token
 * rules"). prompt_tokens / input_tokens include cached tokens; reasoning
 * tokens are part of completion_tokens / output_tokens. The provider is
 * implied: OpenAI returns no provider name.
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
    ev->org = body_str_nonempty(doc, "/metadata/org_id");
    ev->team = body_str_nonempty(doc, "/metadata/team_id");
    ev->user = body_str_nonempty(doc, "/metadata/user_id");
}

static int openai_chat_extract(const struct body_node *doc, struct source_ctx *ctx,
                               char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "openai");
    const char *object = body_str(doc, "/object");
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT) {
        /* Streamed chunks carry usage only in the last one (with
         * stream_options.include_usage): the others hold no event. */
        if (object && strcmp(object, "chat.completion.chunk") == 0)
            return 0;
        return err_set(err, -EINVAL, "chat completion without a usage object");
    }
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = "openai";
    ev.finish_reason = body_str_nonempty(doc, "/choices/0/finish_reason");
    openai_metadata_tenancy(doc, &ev);
    ev.user = ev.user ? ev.user : body_str_nonempty(doc, "/user");
    if ((rc = source_time(doc, "/created", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
        (rc = source_openai_usage(doc, "/usage", &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_openai_chat = {
    .name = "openai",
    .match = openai_chat_match,
    .extract = openai_chat_extract,
    .signature = "\"object\":\"chat.completion\" without OpenRouter's provider/usage.cost",
};

static bool openai_responses_match(const struct body_node *doc)
{
    const char *object = body_str(doc, "/object");
    return object && strcmp(object, "response") == 0;
}

static int openai_responses_extract(const struct body_node *doc, struct source_ctx *ctx,
                                    char err[ERR_MAX])
{
    int rc;
    struct event ev;
    event_init(&ev, "openai");
    ev.event_id = body_str_nonempty(doc, "/id");
    ev.model = body_str_nonempty(doc, "/model");
    ev.provider = "openai";
    openai_metadata_tenancy(doc, &ev);
    if (!ev.user)
        ev.user = body_str_nonempty(doc, "/safety_identifier");
    if (!ev.user)
        ev.user = body_str_nonempty(doc, "/user");
    /* completed is the only status in which the call did what was asked;
     * failed, incomplete and cancelled are errors (the status tag,
     * docs/schema.md "Tags"). A
     * queued or in_progress snapshot is not over yet: the final body for the
     * same id will say how it ended, so this one holds no event. */
    const char *status = body_str(doc, "/status");
    if (status && (strcmp(status, "queued") == 0 || strcmp(status, "in_progress") == 0))
        return 0;
    if (status && strcmp(status, "completed") != 0) {
        ev.status = EVENT_STATUS_ERROR;
        ev.error_type = body_str_nonempty(doc, "/error/code");
        if (!ev.error_type)
            ev.error_type = status;
    }
    ev.finish_reason = body_str_nonempty(doc, "/incomplete_details/reason");
    if (body_type(body_get(doc, "/usage")) != BODY_OBJECT && ev.status == EVENT_STATUS_SUCCESS)
        return err_set(err, -EINVAL, "completed response without a usage object");
    if ((rc = source_time(doc, "/created_at", TIMEUTIL_NS_PER_S, &ev, err)) < 0 ||
        (rc = source_openai_usage(doc, "/usage", &ev, err)) < 0)
        return rc;
    double completed = 0, created = 0;
    if (body_num(doc, "/completed_at", &completed) == 0 &&
        body_num(doc, "/created_at", &created) == 0 && completed >= created)
        ev.latency_ms = (completed - created) * 1000.0;
    return source_emit(ctx, &ev);
}

const struct source source_openai_responses = {
    .name = "openai",
    .match = openai_responses_match,
    .extract = openai_responses_extract,
    .signature = "\"object\":\"response\" (Responses API)",
};
