/* SPDX-License-Identifier: MIT */
#include "tokenmeter/stats.h"

#include <stdbool.h>

#include "tokenmeter/lineproto.h"

int stats_format_point(const struct stats *s, const char *host, const char *mode, int64_t now_ns,
                       struct buf *out)
{
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"lines", s->lines},
        {"events", s->events},
        {"written", s->written},
        {"duplicates", s->duplicates},
        {"ignored", s->ignored},
        {"rejected", s->rejected},
        {"unpriced", s->unpriced},
        {"truncated", s->truncated},
        {"bytes", s->bytes},
        {"dead_letter_failures", s->dead_letter_failures},
        {"dead_letter_held", s->dead_letter_held},
    };
    size_t mark = out->len;
    bool first = true;
    lineproto_measurement(out, STATS_MEASUREMENT);
    if (host && *host)
        lineproto_tag(out, "host", host);
    if (mode && *mode)
        lineproto_tag(out, "mode", mode);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        lineproto_field_int(out, &first, f[i].name, (int64_t)(f[i].v & INT64_MAX));
    lineproto_end(out, now_ns);
    int rc = buf_error(out);
    if (rc < 0)
        buf_truncate(out, mark);
    return rc;
}
