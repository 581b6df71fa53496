/* SPDX-License-Identifier: MIT */
#include "tokenmeter/event.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/identity.h"

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
