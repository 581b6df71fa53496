/* SPDX-License-Identifier: MIT */
#include "tokenmeter/lineproto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lp_kind {
    LP_MEASUREMENT,
    LP_TAG, /* tag key, tag value, field key */
    LP_STRING,
};

static int lp_visible(char c)
{
    switch (c) {
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    case '\f':
        return 'f';
    default:
        return 0;
    }
}

static int lp_name_safe_after_backslash(char next)
{
    unsigned char u = (unsigned char)next;
    return u > 0x20 && u != 0x7f && next != '\\' && next != ',' && next != '=';
}

/* Length of s after cutting to `max` bytes at a UTF-8 boundary. */
static size_t lp_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Appends s escaped for `kind`. Sets *written to the number of bytes
 * appended. Returns 0, 1 when truncated, or a negative buf error. */
static int lp_escape(struct buf *b, const char *s, enum lp_kind kind, size_t max, size_t *written)
{
    size_t start = b->len;
    size_t len = strlen(s);
    size_t n = lp_cut(s, len, max);
    int truncated = n < len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char out[3];
        size_t on = 0;
        int vis = lp_visible(c);
        if (vis) {
            if (kind == LP_STRING)
                out[on++] = '\\';
            out[on++] = '\\';
            out[on++] = (char)vis;
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
            continue; /* other control bytes carry no meaning in a name */
        } else if (c == '\\' && kind == LP_STRING) {
            out[on++] = '\\';
            out[on++] = '\\';
        } else if (c == '\\') {
            /* In names InfluxDB and Telegraf read a backslash with the byte
             * after it, and disagree about "\\\\". A literal backslash is
             * kept only before a byte that both read the same way; before
             * the end, a separator, another backslash or a control byte it
             * is dropped, so it can never swallow a separator. */
            char next = i + 1 < n ? s[i + 1] : '\0';
            if (!lp_name_safe_after_backslash(next))
                continue;
            out[on++] = c;
        } else if (kind == LP_STRING && c == '"') {
            out[on++] = '\\';
            out[on++] = '"';
        } else if (kind != LP_STRING && (c == ',' || c == ' ' || (c == '=' && kind == LP_TAG))) {
            out[on++] = '\\';
            out[on++] = c;
        } else {
            out[on++] = c;
        }
        int rc = buf_append(b, out, on);
        if (rc < 0)
            return rc;
    }
    *written = b->len - start;
    return truncated;
}

int lineproto_measurement(struct buf *b, const char *name)
{
    size_t w = 0;
    return lp_escape(b, name, LP_MEASUREMENT, LINEPROTO_TAG_MAX, &w);
}

int lineproto_tag(struct buf *b, const char *key, const char *value)
{
    size_t w = 0;
    int rc = buf_putc(b, ',');
    if (rc < 0)
        return rc;
    rc = lp_escape(b, key, LP_TAG, LINEPROTO_TAG_MAX, &w);
    if (rc < 0)
        return rc;
    if ((rc = buf_putc(b, '=')) < 0)
        return rc;
    int trunc = 0;
    if (value) {
        trunc = lp_escape(b, value, LP_TAG, LINEPROTO_TAG_MAX, &w);
        if (trunc < 0)
            return trunc;
    }
    /* InfluxDB rejects an empty tag value; "unknown" keeps the series. */
    if (!value || w == 0)
        if ((rc = buf_puts(b, "unknown")) < 0)
            return rc;
    return trunc;
}

static int lp_field_key(struct buf *b, bool *first, const char *key)
{
    size_t w = 0;
    int rc = buf_putc(b, *first ? ' ' : ',');
    if (rc < 0)
        return rc;
    *first = false;
    rc = lp_escape(b, key, LP_TAG, LINEPROTO_TAG_MAX, &w);
    if (rc < 0)
        return rc;
    return buf_putc(b, '=');
}

int lineproto_field_int(struct buf *b, bool *first, const char *key, int64_t v)
{
    int rc = lp_field_key(b, first, key);
    if (rc < 0)
        return rc;
    return buf_printf(b, "%" PRId64 "i", v);
}

void lineproto_format_float(double v, char out[32])
{
    /* Shortest of %.15g..%.17g that reads back to the same double: stable
     * golden output and no spurious digits (0.0003345, not 0.00033449999...). */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

int lineproto_field_float(struct buf *b, bool *first, const char *key, double v)
{
    if (!isfinite(v))
        return -EDOM;
    char num[32];
    lineproto_format_float(v, num);
    int rc = lp_field_key(b, first, key);
    if (rc < 0)
        return rc;
    return buf_puts(b, num);
}

int lineproto_field_str(struct buf *b, bool *first, const char *key, const char *v)
{
    size_t w = 0;
    int rc = lp_field_key(b, first, key);
    if (rc < 0)
        return rc;
    if ((rc = buf_putc(b, '"')) < 0)
        return rc;
    int trunc = lp_escape(b, v, LP_STRING, LINEPROTO_STRING_MAX, &w);
    if (trunc < 0)
        return trunc;
    if ((rc = buf_putc(b, '"')) < 0)
        return rc;
    return trunc;
}

int lineproto_end(struct buf *b, int64_t ns)
{
    return buf_printf(b, " %" PRId64 "\n", ns);
}
