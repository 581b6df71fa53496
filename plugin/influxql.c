/* SPDX-License-Identifier: MIT */
#include "tokenmeter/influxql.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int influxql_quote(struct buf *b, const char *s, char quote)
{
    buf_putc(b, quote);
    for (const char *p = s; *p && !buf_error(b); p++) {
        if (*p == '\\' || *p == '"' || *p == '\'')
            buf_putc(b, '\\');
        if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *p);
    }
    buf_putc(b, quote);
    return buf_error(b);
}

int influxql_duration(struct buf *b, int64_t days)
{
    if (days == 0)
        return buf_puts(b, "INF");
    return buf_printf(b, "%" PRId64 "d", days);
}

int influxql_time_range(struct buf *b, int64_t from_ns, int64_t to_ns)
{
    return buf_printf(b, "time >= %" PRId64 " AND time < %" PRId64, from_ns, to_ns);
}

int influxql_parse_duration(const char *s, int64_t *seconds)
{
    /* Go's Duration.String(): units h, m, s, with fractions and ms/us/ns
     * only below one second, which retention policies never have. */
    const char *p = s;
    int64_t total = 0;
    if (!*p)
        return -EINVAL;
    while (*p) {
        int64_t v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        if (p == start)
            return -EINVAL;
        int64_t mult;
        if (*p == 'h')
            mult = 3600;
        else if (*p == 'm' && p[1] != 's')
            mult = 60;
        else if (*p == 's')
            mult = 1;
        else
            return -EINVAL;
        p++;
        if (v > (INT64_MAX - total) / mult)
            return -EINVAL;
        total += v * mult;
    }
    *seconds = total;
    return 0;
}

int influxql_percent_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p && !buf_error(b); p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
    return buf_error(b);
}

int influxql_url(struct buf *b, const char *base, const char *path, const char *const *params)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    buf_append(b, base, bl);
    buf_puts(b, path);
    char sep = '?';
    for (size_t i = 0; params && params[i] && !buf_error(b); i += 2) {
        if (!params[i + 1])
            continue;
        buf_putc(b, sep);
        buf_puts(b, params[i]);
        buf_putc(b, '=');
        influxql_percent_encode(b, params[i + 1]);
        sep = '&';
    }
    return buf_error(b);
}
