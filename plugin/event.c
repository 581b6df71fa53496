/* SPDX-License-Identifier: MIT */
#include "tokenmeter/event.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

static const char *const event_cost_names[] = {"", "reported", "computed", "unpriced", "cache_hit"};

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

int event_format_point(const struct event *ev, const struct event_schema *schema, int64_t ts,
                       struct buf *b)
{
    struct event_lp acc = {0, 0};
    event_lp(&acc, lineproto_measurement(b, schema->measurement));
    /* Tags in key order, as InfluxDB stores them. */
    if (schema->event_id_tag)
        event_lp(&acc, lineproto_tag(b, "event_id", ev->event_id));
    event_lp(&acc, lineproto_tag(b, "model", ev->model));
    event_lp(&acc, lineproto_tag(b, "org", ev->org));
    event_lp(&acc, lineproto_tag(b, "provider", ev->provider));
    event_lp(&acc, lineproto_tag(b, "source", ev->source));
    event_lp(&acc,
             lineproto_tag(b, "status", ev->status == EVENT_STATUS_SUCCESS ? "success" : "error"));
    if (schema->team_tag)
        event_lp(&acc, lineproto_tag(b, "team", ev->team));
    if (schema->user_tag)
        event_lp(&acc, lineproto_tag(b, "user", ev->user));
    bool first = true;
    const struct {
        const char *name;
        int64_t v;
    } ints[] = {
        {"input_tokens", ev->input_tokens},
        {"cached_input_tokens", ev->cached_input_tokens},
        {"cache_write_tokens", ev->cache_write_tokens},
        {"output_tokens", ev->output_tokens},
        {"reasoning_tokens", ev->reasoning_tokens},
        {"total_tokens", ev->total_tokens},
        {"input_audio_tokens", ev->input_audio_tokens},
        {"cached_input_audio_tokens", ev->cached_input_audio_tokens},
        {"input_image_tokens", ev->input_image_tokens},
        {"output_audio_tokens", ev->output_audio_tokens},
        {"output_image_tokens", ev->output_image_tokens},
        {"web_search_requests", ev->web_search_requests},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (ints[i].v != EVENT_ABSENT)
            event_lp(&acc, lineproto_field_int(b, &first, ints[i].name, ints[i].v));
    const struct {
        const char *name;
        double v;
    } floats[] = {
        {"cost_usd", ev->cost_usd},
        {"latency_ms", ev->latency_ms},
        {"ttft_ms", ev->ttft_ms},
    };
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
        if (isfinite(floats[i].v))
            event_lp(&acc, lineproto_field_float(b, &first, floats[i].name, floats[i].v));
    event_lp(&acc,
             lineproto_field_str(b, &first, "cost_source", event_cost_names[ev->cost_source]));
    if (ev->operation)
        event_lp(&acc, lineproto_field_str(b, &first, "operation", ev->operation));
    if (!schema->event_id_tag)
        event_lp(&acc, lineproto_field_str(b, &first, "event_id", ev->event_id));
    const struct {
        const char *name;
        const char *v;
    } strs[] = {
        {"trace_id", ev->trace_id},
        {"finish_reason", ev->finish_reason},
        {"error_type", ev->error_type},
        {"service_tier", ev->service_tier},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strs[i].v)
            event_lp(&acc, lineproto_field_str(b, &first, strs[i].name, strs[i].v));
    event_lp(&acc, lineproto_end(b, ts));
    return acc.rc < 0 ? acc.rc : acc.truncated;
}
