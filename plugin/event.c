/* SPDX-License-Identifier: MIT */
#include "tokenmeter/event.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/identity.h"
#include "tokenmeter/lineproto.h"

void event_init(struct event *ev, const char *source)
{
    memset(ev, 0, sizeof(*ev));
    ev->source = source;
    ev->status = EVENT_STATUS_SUCCESS;
    ev->input_tokens = EVENT_ABSENT;
    ev->cached_input_tokens = EVENT_ABSENT;
    ev->cache_write_tokens = EVENT_ABSENT;
    ev->cache_write_1h_tokens = EVENT_ABSENT;
    ev->output_tokens = EVENT_ABSENT;
    ev->reasoning_tokens = EVENT_ABSENT;
    ev->total_tokens = EVENT_ABSENT;
    ev->input_audio_tokens = EVENT_ABSENT;
    ev->cached_input_audio_tokens = EVENT_ABSENT;
    ev->input_image_tokens = EVENT_ABSENT;
    ev->output_audio_tokens = EVENT_ABSENT;
    ev->output_image_tokens = EVENT_ABSENT;
    ev->web_search_requests = EVENT_ABSENT;
    ev->cost_usd = NAN;
    ev->latency_ms = NAN;
    ev->ttft_ms = NAN;
}

const char *event_keep(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        /* Never cut a UTF-8 sequence in half: back up over continuation bytes. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return dst;
}

const char *event_compact_id(struct event *ev, const char *id)
{
    size_t n = strlen(id);
    if (n < EVENT_ID_MAX)
        return id;
    /* Distinct long ids must stay distinct: keep a readable prefix and add
     * the hash of the whole id. */
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, id, n);
    char prefix[EVENT_ID_MAX - 18];
    event_keep(prefix, sizeof(prefix), id);
    snprintf(ev->id_buf, sizeof(ev->id_buf), "%s~%016" PRIx64, prefix, h);
    return ev->id_buf;
}

/* The known parts of `total` (absent ones are 0) fit inside it; parts are
 * non-negative, so each is checked against the total before summing. */
static bool event_parts_fit(int64_t total, const int64_t *parts, size_t n)
{
    int64_t room = total;
    for (size_t i = 0; i < n && total != EVENT_ABSENT; i++) {
        int64_t v = parts[i] > 0 ? parts[i] : 0;
        if (v > room)
            return false;
        room -= v;
    }
    return true;
}

/* Parts never exceed their totals, and total = input + output: checked here
 * once for every source (docs/sources.md, "Token rules"). */
static int event_check_tokens(struct event *ev, char err[ERR_MAX])
{
    if (ev->input_tokens != EVENT_ABSENT) {
        int64_t cached = ev->cached_input_tokens > 0 ? ev->cached_input_tokens : 0;
        int64_t writes = ev->cache_write_tokens > 0 ? ev->cache_write_tokens : 0;
        if (cached > ev->input_tokens || writes > ev->input_tokens - cached)
            return err_set(err, -EINVAL,
                           "cache tokens (read %" PRId64 ", write %" PRId64
                           ") exceed input_tokens %" PRId64,
                           cached, writes, ev->input_tokens);
    }
    if (ev->cache_write_1h_tokens > 0 && ev->cache_write_1h_tokens > ev->cache_write_tokens)
        return err_set(err, -EINVAL, "1-hour cache writes exceed cache writes");
    if (ev->output_tokens != EVENT_ABSENT && ev->reasoning_tokens > ev->output_tokens)
        return err_set(err, -EINVAL, "reasoning_tokens %" PRId64 " exceed output_tokens %" PRId64,
                       ev->reasoning_tokens, ev->output_tokens);
    /* Audio and image parts are priced apart (docs/pricing.md): parts that
     * add up to more than their total would bill tokens twice. */
    const int64_t in[] = {ev->input_audio_tokens, ev->input_image_tokens};
    const int64_t out[] = {ev->reasoning_tokens, ev->output_audio_tokens, ev->output_image_tokens};
    if (ev->cached_input_audio_tokens > 0 &&
        (ev->cached_input_audio_tokens > ev->cached_input_tokens ||
         ev->cached_input_audio_tokens > ev->input_audio_tokens))
        return err_set(err, -EINVAL, "cached audio tokens exceed cached or audio input tokens");
    if (!event_parts_fit(ev->input_tokens, in, 2))
        return err_set(err, -EINVAL, "audio and image tokens exceed input_tokens %" PRId64,
                       ev->input_tokens);
    if (!event_parts_fit(ev->output_tokens, out, 3))
        return err_set(err, -EINVAL,
                       "reasoning, audio and image tokens exceed output_tokens %" PRId64,
                       ev->output_tokens);
    if (ev->input_tokens != EVENT_ABSENT && ev->output_tokens != EVENT_ABSENT) {
        if (ev->input_tokens > INT64_MAX - ev->output_tokens)
            return err_set(err, -EINVAL, "input + output tokens out of range");
        ev->total_tokens = ev->input_tokens + ev->output_tokens;
    }
    return 0;
}

int event_normalize(struct event *ev, char err[ERR_MAX])
{
    if (ev->provider) {
        /* Provider names are short ASCII words; keep a UTF-8-safe prefix. */
        event_keep(ev->provider_buf, sizeof(ev->provider_buf), ev->provider);
        for (char *c = ev->provider_buf; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        ev->provider = ev->provider_buf;
    }
    /* Durations derived from float epoch seconds carry binary noise
     * (2424.999952316284); microseconds are all they ever meant. */
    if (isfinite(ev->latency_ms))
        ev->latency_ms = round(ev->latency_ms * 1000.0) / 1000.0;
    if (isfinite(ev->ttft_ms))
        ev->ttft_ms = round(ev->ttft_ms * 1000.0) / 1000.0;
    if (ev->cost_not_computed)
        ev->cost_usd = NAN;
    return event_check_tokens(ev, err);
}

static const char *const event_cost_names[] = {"", "reported", "computed", "unpriced"};

/* Collects the results of a run of lineproto calls: the first error, and
 * whether any value was truncated. After an error the line is discarded, so
 * later appends need not be skipped. */
struct event_lp {
    int rc;
    int truncated;
};

static void event_lp(struct event_lp *acc, int rc)
{
    if (rc < 0 && acc->rc == 0)
        acc->rc = rc;
    else if (rc > 0)
        acc->truncated = 1;
}

/* The point's names, spelt once: lineproto copies a lineproto_key as it is,
 * without measuring and scanning it for every event. */
static const struct lineproto_key event_key_event_id = LINEPROTO_KEY("event_id"),
                                  event_key_model = LINEPROTO_KEY("model"),
                                  event_key_org = LINEPROTO_KEY("org"),
                                  event_key_provider = LINEPROTO_KEY("provider"),
                                  event_key_source = LINEPROTO_KEY("source"),
                                  event_key_status = LINEPROTO_KEY("status"),
                                  event_key_team = LINEPROTO_KEY("team"),
                                  event_key_user = LINEPROTO_KEY("user"),
                                  event_key_cost_source = LINEPROTO_KEY("cost_source"),
                                  event_key_operation = LINEPROTO_KEY("operation");

/* The fields of one type, in the order they are written, and where each
 * value is in struct event. */
struct event_field {
    struct lineproto_key key;
    size_t off;
};

static const struct event_field event_ints[] = {
    {LINEPROTO_KEY("input_tokens"), offsetof(struct event, input_tokens)},
    {LINEPROTO_KEY("cached_input_tokens"), offsetof(struct event, cached_input_tokens)},
    {LINEPROTO_KEY("cache_write_tokens"), offsetof(struct event, cache_write_tokens)},
    {LINEPROTO_KEY("output_tokens"), offsetof(struct event, output_tokens)},
    {LINEPROTO_KEY("reasoning_tokens"), offsetof(struct event, reasoning_tokens)},
    {LINEPROTO_KEY("total_tokens"), offsetof(struct event, total_tokens)},
    {LINEPROTO_KEY("input_audio_tokens"), offsetof(struct event, input_audio_tokens)},
    {LINEPROTO_KEY("cached_input_audio_tokens"), offsetof(struct event, cached_input_audio_tokens)},
    {LINEPROTO_KEY("input_image_tokens"), offsetof(struct event, input_image_tokens)},
    {LINEPROTO_KEY("output_audio_tokens"), offsetof(struct event, output_audio_tokens)},
    {LINEPROTO_KEY("output_image_tokens"), offsetof(struct event, output_image_tokens)},
    {LINEPROTO_KEY("web_search_requests"), offsetof(struct event, web_search_requests)},
};

static const struct event_field event_floats[] = {
    {LINEPROTO_KEY("cost_usd"), offsetof(struct event, cost_usd)},
    {LINEPROTO_KEY("latency_ms"), offsetof(struct event, latency_ms)},
    {LINEPROTO_KEY("ttft_ms"), offsetof(struct event, ttft_ms)},
};

/* The string fields after event_id. */
static const struct event_field event_strs[] = {
    {LINEPROTO_KEY("trace_id"), offsetof(struct event, trace_id)},
    {LINEPROTO_KEY("finish_reason"), offsetof(struct event, finish_reason)},
    {LINEPROTO_KEY("error_type"), offsetof(struct event, error_type)},
    {LINEPROTO_KEY("service_tier"), offsetof(struct event, service_tier)},
};

/* The member of ev an event_field names. */
static const void *event_member(const struct event *ev, const struct event_field *f)
{
    return (const char *)ev + f->off;
}

int event_format_point(const struct event *ev, const struct event_schema *schema, int64_t ts,
                       struct buf *b)
{
    struct event_lp acc = {0, 0};
    event_lp(&acc, lineproto_measurement(b, schema->measurement));
    /* Tags in key order, as InfluxDB stores them. */
    if (schema->event_id_tag)
        event_lp(&acc, lineproto_tag_key(b, event_key_event_id, ev->event_id));
    event_lp(&acc, lineproto_tag_key(b, event_key_model, ev->model));
    event_lp(&acc, lineproto_tag_key(b, event_key_org, ev->org));
    event_lp(&acc, lineproto_tag_key(b, event_key_provider, ev->provider));
    event_lp(&acc, lineproto_tag_key(b, event_key_source, ev->source));
    event_lp(&acc, lineproto_tag_key(b, event_key_status,
                                     ev->status == EVENT_STATUS_SUCCESS ? "success" : "error"));
    if (schema->team_tag)
        event_lp(&acc, lineproto_tag_key(b, event_key_team, ev->team));
    if (schema->user_tag)
        event_lp(&acc, lineproto_tag_key(b, event_key_user, ev->user));
    bool first = true;
    for (size_t i = 0; i < sizeof(event_ints) / sizeof(event_ints[0]); i++) {
        const int64_t *v = event_member(ev, &event_ints[i]);
        if (*v != EVENT_ABSENT)
            event_lp(&acc, lineproto_field_int_key(b, &first, event_ints[i].key, *v));
    }
    for (size_t i = 0; i < sizeof(event_floats) / sizeof(event_floats[0]); i++) {
        const double *v = event_member(ev, &event_floats[i]);
        if (isfinite(*v))
            event_lp(&acc, lineproto_field_float_key(b, &first, event_floats[i].key, *v));
    }
    event_lp(&acc, lineproto_field_str_key(b, &first, event_key_cost_source,
                                           event_cost_names[ev->cost_source]));
    if (ev->operation)
        event_lp(&acc, lineproto_field_str_key(b, &first, event_key_operation, ev->operation));
    if (!schema->event_id_tag)
        event_lp(&acc, lineproto_field_str_key(b, &first, event_key_event_id, ev->event_id));
    for (size_t i = 0; i < sizeof(event_strs) / sizeof(event_strs[0]); i++) {
        const char *const *v = event_member(ev, &event_strs[i]);
        if (*v)
            event_lp(&acc, lineproto_field_str_key(b, &first, event_strs[i].key, *v));
    }
    event_lp(&acc, lineproto_end(b, ts));
    return acc.rc < 0 ? acc.rc : acc.truncated;
}
