/* SPDX-License-Identifier: MIT */
/*
 * event — the normalized usage event, and the one place that knows how it
 * is stored: the measurement's tags and fields, their names and types, and
 * the token rules every source's event obeys (docs/schema.md; the rules:
 * docs/sources.md, "Token rules").
 *
 * Token counts are non-negative; EVENT_ABSENT means "the source did not say",
 * which is different from zero and is never written as 0. Floats use NAN for
 * absent. String members are borrowed: they point into the body the event
 * was extracted from (or into the event's own small buffers) and are valid
 * only while that body is alive — the pipeline formats an event before it
 * frees the body.
 */
#ifndef TOKENMETER_EVENT_H
#define TOKENMETER_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

#define EVENT_ABSENT (-1)

/* Ids at least this long are compacted (see event_compact_id). */
#define EVENT_ID_MAX 160

enum event_status {
    EVENT_STATUS_SUCCESS = 0,
    EVENT_STATUS_ERROR,
};

enum event_cost_source {
    EVENT_COST_NONE = 0, /* not yet decided; the pipeline settles it */
    EVENT_COST_REPORTED,
    EVENT_COST_COMPUTED,
    EVENT_COST_UNPRICED,
    EVENT_COST_CACHE_HIT, /* served from a gateway's cache: cost 0 (docs/sources.md) */
};

struct event {
    const char *source; /* static name: "openai", "litellm", ... */
    const char *event_id;
    const char *trace_id;
    int64_t time_ns; /* when the request started */
    bool time_known; /* false: the body had no time; receive time is used */
    const char *org;
    const char *team;
    const char *user;
    const char *model;
    const char *provider; /* as the body says; the pipeline lower-cases it */
    enum event_status status;

    int64_t input_tokens; /* total, including cache reads and writes */
    int64_t cached_input_tokens;
    int64_t cache_write_tokens;
    int64_t cache_write_1h_tokens; /* the part of cache writes at the 1-hour price */
    int64_t output_tokens;         /* total, including reasoning */
    int64_t reasoning_tokens;
    int64_t total_tokens;

    double cost_usd; /* NAN when absent */
    enum event_cost_source cost_source;
    bool cost_not_computed; /* the source says its cost is unreliable */
    double latency_ms;
    double ttft_ms;
    const char *finish_reason;
    const char *error_type;

    /* Storage for values the source composes rather than borrows. */
    char id_buf[EVENT_ID_MAX];
    char trace_buf[160];
    char provider_buf[64];
    char error_buf[64];

    /* The kind of call (chat, responses, embeddings, text_completion,
     * generate_content, ...; docs/schema.md "Fields"), or NULL when the
     * source cannot tell. Static or borrowed like the other strings. */
    const char *operation;
    /* Parts that bill at their own price where the table has one
     * (docs/pricing.md): audio and image tokens are inside input_tokens /
     * output_tokens, like cached and reasoning tokens. */
    int64_t input_audio_tokens;
    int64_t cached_input_audio_tokens; /* the part of input audio read from the cache */
    int64_t input_image_tokens;
    int64_t output_audio_tokens;
    int64_t output_image_tokens;
    int64_t web_search_requests; /* server-side web searches the call ran */
    /* The provider's service tier as it reported it ("flex", "priority",
     * "batch", "default", ...); NULL when it did not say. Borrowed. */
    const char *service_tier;
    /* Where and how fast the provider served the call, as it reported it
     * (Anthropic's usage.inference_geo "us" / "global", usage.speed "fast" /
     * "standard"): some models bill a multiplier for them (docs/pricing.md).
     * NULL when it did not say. Borrowed. */
    const char *inference_geo;
    const char *speed;
    /* A gateway answered from its own response cache (LiteLLM cache_hit,
     * Cloudflare AI Gateway cached): the provider was not called, so the
     * call costs nothing; the pipeline writes cost_usd=0 with
     * cost_source="cache_hit" whatever cost the body reported. */
    bool gateway_cache_hit;
};

/* Resets every member to "absent". */
void event_init(struct event *ev, const char *source);

/* Returns id itself when it is shorter than EVENT_ID_MAX, else a compact
 * form in ev->id_buf (a prefix, '~', and the FNV-1a-64 of the whole id) so
 * that long ids that share a prefix never share an identity. */
const char *event_compact_id(struct event *ev, const char *id);

/* Copies s into one of the event's buffers (truncating at a UTF-8 boundary)
 * and returns it (borrowed from ev). */
const char *event_keep(char *dst, size_t cap, const char *s);

/* Settles what a source leaves loose, whatever the source: lower-cases the
 * provider (into ev->provider_buf), rounds latency_ms and ttft_ms to the
 * microsecond, drops a cost the source calls unreliable, checks the token
 * rules (cache reads + writes <= input, 1-hour writes <= writes, reasoning
 * <= output) and sets total_tokens = input + output when both are known.
 * Returns 0, or -EINVAL with the broken rule in err. */
int event_normalize(struct event *ev, char err[ERR_MAX]);

/* The configurable parts of the point layout (the [ingest] section). */
struct event_schema {
    const char *measurement; /* borrowed */
    bool event_id_tag;       /* event_id is a tag (dedup = tag), else a field */
    bool team_tag;           /* write the team tag */
    bool user_tag;           /* write the user tag */
};

/* Appends ev as one line-protocol point with timestamp ts (ns) to b: tags in
 * key order (event_id when a tag, model, org, provider, source, status,
 * team, user), then the known integer fields, the finite float fields,
 * cost_source, operation when known, event_id when a field, and the
 * present string fields.
 * Returns 0, 1 when a long string was truncated, or a negative buf error
 * (the line is then incomplete: truncate b back). */
int event_format_point(const struct event *ev, const struct event_schema *schema, int64_t ts,
                       struct buf *b);

#endif
