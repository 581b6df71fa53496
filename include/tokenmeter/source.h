/* SPDX-License-Identifier: MIT */
/*
 * source — recognising a webhook's shape and turning it into events.
 *
 * Each source family lives in plugin/sources/<family>.c and exports one or
 * more `const struct source` descriptors. A source reads the document only
 * through body.h and fills `struct event`s; it never does I/O, pricing or
 * line protocol. Detection is explicit: every descriptor's match() looks for
 * the keys that define its shape (documented in docs/sources.md), the
 * registry asks every one that could claim the document (by the top-level
 * keys it names in struct source.keys, found in one pass over the object),
 * and a document that no source or more than one source claims is rejected
 * with a reason naming what was looked for — never guessed. Only objects
 * are asked about, except by descriptors marked `whole`: they also read an
 * array or a string as one document (a stream's events forwarded
 * together).
 */
#ifndef TOKENMETER_SOURCE_H
#define TOKENMETER_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/body.h"
#include "tokenmeter/err.h"
#include "tokenmeter/event.h"

/* The pipeline's side of an extraction (opaque to sources). source_emit()
 * and the source_ctx_*() accessors below are the callbacks a source makes
 * into it: pipeline.c, which owns the context, implements them, so a source
 * never sees the pipeline's state (as a collectd plugin calls
 * plugin_dispatch_values() without seeing the daemon). */
struct source_ctx;
struct mapping;
struct config;
struct envelope;

/* Hands a filled event to the pipeline (ev and its strings are borrowed for
 * the call only: the pipeline copies what it keeps). Returns 0, or a
 * negative error that the source must return from extract() unchanged. */
int source_emit(struct source_ctx *ctx, struct event *ev);

/* Tells the pipeline that one part of the document carried usage the
 * source deliberately does not write (an agent span whose usage totals its
 * model calls): it is counted as ignored (docs/schema.md
 * "tokenmeter_stats"). Forgotten when the document is rejected. */
void source_ignore(struct source_ctx *ctx);

/* The top-level members detection looks up once per object (by
 * struct source.keys). */
enum source_key {
    SOURCE_KEY_STATUS_CODE,              /* StatusCode */
    SOURCE_KEY_AI,                       /* ai */
    SOURCE_KEY_AI_MODEL,                 /* ai_model */
    SOURCE_KEY_BATCH,                    /* batch */
    SOURCE_KEY_CALL_TYPE,                /* call_type */
    SOURCE_KEY_CUSTOM_ID,                /* custom_id */
    SOURCE_KEY_DATA,                     /* data */
    SOURCE_KEY_GEN_AI_COMPLETION_TOKENS, /* gen_ai.usage.completion_tokens */
    SOURCE_KEY_GEN_AI_INPUT_TOKENS,      /* gen_ai.usage.input_tokens */
    SOURCE_KEY_GEN_AI_OUTPUT_TOKENS,     /* gen_ai.usage.output_tokens */
    SOURCE_KEY_GEN_AI_PROMPT_TOKENS,     /* gen_ai.usage.prompt_tokens */
    SOURCE_KEY_LITELLM_CALL_ID,          /* litellm_call_id */
    SOURCE_KEY_NATIVE_TOKENS_PROMPT,     /* native_tokens_prompt */
    SOURCE_KEY_OBJECT,                   /* object */
    SOURCE_KEY_REQUEST_ID,               /* request_id */
    SOURCE_KEY_RESOURCE_SPANS,           /* resourceSpans */
    SOURCE_KEY_SUCCESS,                  /* success */
    SOURCE_KEY_TOKENS_PROMPT,            /* tokens_prompt */
    SOURCE_KEY_TYPE,                     /* type */
    SOURCE_KEY_USAGE,                    /* usage */
    SOURCE_KEY_USAGE_METADATA,           /* usageMetadata */
    SOURCE_KEY_COUNT
};

/* The bit of one key in struct source.keys, e.g. SOURCE_KEY(OBJECT). */
#define SOURCE_KEY(name) (UINT32_C(1) << SOURCE_KEY_##name)

/* The member name of k (static), or NULL past the last. */
const char *source_key_name(enum source_key k);

/* A source descriptor: static and const, so every pointer to one is
 * borrowed and valid for the whole run. */
struct source {
    const char *name; /* the `source` tag value and the config/envelope name */
    /* True when `doc` (an object) has this source's shape. */
    bool (*match)(const struct body_node *doc);
    /* Emits zero or more events from doc (borrowed; the events' strings may
     * point into it). Returns 0, or a negative errno with a reason in err:
     * -EINVAL rejects the whole document (nothing it emitted is written);
     * -ENOMEM, or an error passed on from source_emit(), is not about the
     * document and stops the command. */
    int (*extract)(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX]);
    /* What match() looks for, for "unrecognised shape" messages. */
    const char *signature;
    /* match() is also asked about arrays and strings, which extract() then
     * reads as one document (the events of one stream). */
    bool whole;
    /* SOURCE_KEY() bits: match() is true for an object only when it has a
     * member (of any value) named by at least one of them, so detection
     * asks it only then; 0 asks it about every object. A promise checked by
     * the tests, not by detection: a key missing here hides the shape. */
    uint32_t keys;
};

/* The descriptor with this name (borrowed, static), or NULL. Several descriptors may
 * share a name (e.g. the OpenAI chat and responses shapes are both "openai");
 * a forced name then still detects among them. */
const struct source *source_find(const char *name);

/* The i-th descriptor of the registry (borrowed, static), or NULL past the
 * last: for tests that hold every shape to a rule. */
const struct source *source_at(size_t i);

/* True when `name` is the name of at least one descriptor. */
bool source_name_known(const char *name);

/* Finds the one descriptor that matches doc (borrowed for the call),
 * restricted to descriptors named `only` when it is not NULL. Returns it
 * (borrowed, static), or NULL with a reason in err when none or more than
 * one match. */
const struct source *source_detect(const struct body_node *doc, const char *only,
                                   char err[ERR_MAX]);

/* source_detect(), with the config's [mapping] (may be NULL) as one more
 * candidate named "mapped" (mapping borrowed for the call): it takes part in
 * detection (and ambiguity) like any built-in shape. */
const struct source *source_detect_mapped(const struct body_node *doc, const char *only,
                                          const struct mapping *mapping, char err[ERR_MAX]);

/* True when a `whole` descriptor claims arr (an array, borrowed for the
 * call): the pipeline then treats it as one document, not as a batch. */
bool source_claims_whole(const struct body_node *arr);

/* The [mapping] the pipeline was built with (borrowed), or NULL. */
const struct mapping *source_ctx_mapping(const struct source_ctx *ctx);

/* The configuration the pipeline was built with (borrowed). */
const struct config *source_ctx_config(const struct source_ctx *ctx);

/* The envelope around the document (borrowed; zeroed when it came bare). */
const struct envelope *source_ctx_envelope(const struct source_ctx *ctx);

/* Helpers shared by the source families. They read n/doc (borrowed), write
 * only the caller's destinations, allocate nothing, and return 0 or -EINVAL
 * with a reason naming the JSON path in err. */

/* Reads an optional token count at ptr into *dst (left untouched when
 * absent or null). */
int source_count(const struct body_node *n, const char *ptr, int64_t *dst, char err[ERR_MAX]);

/* source_count() at ptr below base, where base is the node the caller found
 * at JSON pointer base_ptr (base may be NULL: absent): a parent read once for
 * several counts. The reason names the full pointer base_ptr + ptr. */
int source_count_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                    int64_t *dst, char err[ERR_MAX]);

/* Reads an optional time at ptr into ev->time_ns / ev->time_known: an ISO
 * 8601 string, or a number of `unit_ns` units since the epoch (a numeric
 * string is accepted too). */
int source_time(const struct body_node *n, const char *ptr, int64_t unit_ns, struct event *ev,
                char err[ERR_MAX]);

/* Reads an optional finite number at ptr into *dst, multiplied by scale. */
int source_number(const struct body_node *n, const char *ptr, double scale, double *dst,
                  char err[ERR_MAX]);

/* source_time() and source_number() at ptr below base, named base_ptr +
 * ptr in reasons (see source_count_at()). */
int source_time_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                   int64_t unit_ns, struct event *ev, char err[ERR_MAX]);
int source_number_at(const struct body_node *base, const char *base_ptr, const char *ptr,
                     double scale, double *dst, char err[ERR_MAX]);

#define SOURCE_MEMBERS_MAX 32

/* Several members of obj (borrowed) found in one pass over its keys, where
 * a body_get() per name would scan them once per name: out[k] (borrowed)
 * is the value of the member named names[k] (a key, not a JSON pointer),
 * or NULL when absent or obj is not an object; of duplicate keys the last
 * wins, as with body_get(). At most SOURCE_MEMBERS_MAX names are looked
 * for (out[k] is NULL past them). */
void source_members(const struct body_node *obj, const char *const *names, size_t n,
                    const struct body_node **out);

/* One count below a usage object: in which object (0: the usage object
 * itself, k: the caller's k-th detail object), under which member name
 * ("/cached_tokens"), into which int64_t field of struct event (offsetof). */
struct source_part {
    unsigned in;
    const char *name;
    size_t off;
};

#define SOURCE_DETAILS_MAX 8

/* Reads the n parts, in order, from usage (borrowed; the node at JSON
 * pointer base, which only names it in reasons; NULL: all absent), each
 * only while its field is still EVENT_ABSENT. details[k - 1] is the
 * pointer below usage of detail object k ("/prompt_tokens_details"; at
 * most SOURCE_DETAILS_MAX, more is refused with -EINVAL): each is found
 * once for all its parts. Returns 0, or -EINVAL naming the part's whole
 * pointer in err. */
int source_usage_parts(const struct body_node *usage, const char *base, const char *const *details,
                       size_t ndetails, const struct source_part *parts, size_t n, struct event *ev,
                       char err[ERR_MAX]);

/* Fills still-absent tokens from the OpenAI-style usage object at JSON
 * pointer `base` below doc (chat: prompt_tokens / completion_tokens /
 * *_details; responses: input_tokens / output_tokens / *_details;
 * DeepSeek's prompt_cache_hit_tokens as the cache reads). Prompt counts
 * already include cached tokens. */
int source_openai_usage(const struct body_node *doc, const char *base, struct event *ev,
                        char err[ERR_MAX]);

/* An Anthropic usage object at `base` below doc, in two halves, for a
 * stream whose later events update the counts of earlier ones:
 * source_anthropic_counts() overwrites the counts present at base
 * (Anthropic's input_tokens EXCLUDES cache reads and writes), and
 * source_anthropic_total() then adds the cache parts once, so that
 * ev->input_tokens is the total. */
int source_anthropic_counts(const struct body_node *doc, const char *base, struct event *ev,
                            char err[ERR_MAX]);
int source_anthropic_total(struct event *ev, char err[ERR_MAX]);

/* Reads a Gemini / Vertex generateContent response (doc, borrowed) into ev:
 * its usageMetadata by the gemini source's token rules (docs/sources.md),
 * Google Search grounding's web searches, the service tier, the first
 * candidate's finish reason and a blocked prompt's status. Sets no id,
 * model, provider or time. Returns 0, -EINVAL or -ENOMEM with err set. */
int source_gemini_usage(const struct body_node *doc, struct event *ev, char err[ERR_MAX]);

/* Reads an Anthropic Message's usage (msg borrowed) into ev as the
 * anthropic source does: the counts (input_tokens made the total), the
 * service tier and the server-side web searches. Sets no id, model or
 * status. Returns 0 or -EINVAL with err set. */
int source_anthropic_message_usage(const struct body_node *msg, struct event *ev,
                                   char err[ERR_MAX]);

/* The web searches an OpenAI Responses object (doc, borrowed) ran: its
 * web_search_call output items (OpenAI API reference, "The response
 * object": output), each billed as a tool call; EVENT_ABSENT for none. */
int64_t source_openai_web_searches(const struct body_node *doc);

/* The vendor serving an OpenAI-shaped body (doc and model borrowed for the
 * call; the result is static), from the marks vendors leave in it
 * (DeepSeek's prompt_cache_hit_tokens, Groq's x_groq) or the model name's
 * family (gpt-/o3 -> openai, deepseek- -> deepseek, grok- -> xai, ...);
 * NULL when neither tells. The envelope's "provider" outranks it. */
const char *source_openai_compatible_provider(const struct body_node *doc, const char *model);

/* The status rule shared by every source (docs/sources.md "Status"): a
 * finish reason saying the provider refused or blocked the answer
 * (Anthropic "refusal", Gemini SAFETY, PROHIBITED_CONTENT, ..., OpenAI
 * "content_filter"), compared case-insensitively.
 * source_finish_reason_failed() says whether reason (borrowed for the call;
 * NULL allowed) is one; source_settle_status() makes a successful event
 * with such a finish reason an error whose error_type is that reason. The
 * pipeline calls it for every event in source_emit(). */
bool source_finish_reason_failed(const char *reason);
void source_settle_status(struct event *ev);

/* Emits the event of an embeddings response (`"object":"list"` of
 * `"embedding"` items with usage.prompt_tokens), as OpenAI and OpenRouter
 * send it; source names the tag. Input-only: output_tokens is 0. */
int source_embeddings_extract(const struct body_node *doc, struct source_ctx *ctx,
                              const char *source, char err[ERR_MAX]);

/* The event of such an embeddings response, into ev (initialised by the
 * caller, which emits it). Returns 0 or -EINVAL with err set. */
int source_embeddings_fill(const struct body_node *doc, struct event *ev, char err[ERR_MAX]);

/* True when doc is an embeddings response (see above). */
bool source_is_embeddings(const struct body_node *doc);

/* Sets ev->event_id to "a:b" (a and b only read), composed in ev->id_buf and
 * compacted with event_compact_id() when long, so borrowed from ev. Returns
 * 0, or -ENOMEM with err set (ev->event_id untouched). */
int source_join_id(struct event *ev, const char *a, const char *b, char err[ERR_MAX]);

/* Marks ev as failed, with error_type "http_<status>" (composed in
 * ev->error_buf, so borrowed from ev) for an HTTP error status (400..999)
 * and "error" otherwise. */
void source_set_error(struct event *ev, int64_t http_status);

/* True when a chat.completion body (borrowed for the call) comes from
 * OpenRouter (it names the serving provider, reports usage.cost, or has a
 * "gen-" id). */
bool source_openai_chat_is_openrouter(const struct body_node *doc);

/* The descriptors, one per shape (static; borrowed by every user). */
extern const struct source source_openrouter_generation;
extern const struct source source_openrouter_chat;
extern const struct source source_litellm;
extern const struct source source_openai_chat;
extern const struct source source_openai_completion;
extern const struct source source_openai_responses;
extern const struct source source_openai_responses_stream;
extern const struct source source_openai_embeddings;
extern const struct source source_openrouter_embeddings;
extern const struct source source_openai_batch;
extern const struct source source_anthropic;
extern const struct source source_anthropic_stream;
extern const struct source source_anthropic_batch;
extern const struct source source_litellm_spend_log;
extern const struct source source_litellm_v1;
extern const struct source source_cloudflare_logpush;
extern const struct source source_gemini;
extern const struct source source_openrouter_otlp;
extern const struct source source_otel_otlp;
extern const struct source source_otel_flat;
extern const struct source source_helicone;
extern const struct source source_langfuse;
extern const struct source source_kong;
extern const struct source source_cloudflare;
extern const struct source source_portkey;
extern const struct source source_mapped; /* detected only through source_detect_mapped() */

#endif
