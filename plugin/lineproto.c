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

#define LP_ALL (1 << LP_MEASUREMENT | 1 << LP_TAG | 1 << LP_STRING)

/* every control byte, 0x00 to 0x1f */
#define LP_CTL4  LP_ALL, LP_ALL, LP_ALL, LP_ALL
#define LP_CTL32 LP_CTL4, LP_CTL4, LP_CTL4, LP_CTL4, LP_CTL4, LP_CTL4, LP_CTL4, LP_CTL4

/* The bytes lp_escape() must rewrite (or drop), one bit per kind
 * (1 << enum lp_kind): every control byte, DEL and '\\' in all of them. */
static const unsigned char lp_class[256] = {
    LP_CTL32,
    ['\\'] = LP_ALL,
    [0x7f] = LP_ALL,
    ['"'] = 1 << LP_STRING,
    [','] = 1 << LP_MEASUREMENT | 1 << LP_TAG,
    [' '] = 1 << LP_MEASUREMENT | 1 << LP_TAG,
    ['='] = 1 << LP_TAG,
};

/* True for the bytes lp_escape() must rewrite (or drop) in this context. */
static bool lp_special(char c, enum lp_kind kind)
{
    return lp_class[(unsigned char)c] >> kind & 1;
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

/* Bytes of s[0..len) before the first one `kind` must rewrite. Four
 * table looks per round: most values have no such byte, and the loop
 * test then runs once per four bytes. */
static size_t lp_span(const char *s, size_t len, enum lp_kind kind)
{
    const unsigned char *u = (const unsigned char *)s;
    const unsigned char bit = (unsigned char)(1u << kind);
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        if ((lp_class[u[i]] | lp_class[u[i + 1]] | lp_class[u[i + 2]] | lp_class[u[i + 3]]) & bit)
            break;
    while (i < len && !(lp_class[u[i]] & bit))
        i++;
    return i;
}

/* True when s is written as it is: it fits in max bytes and holds no byte
 * `kind` must rewrite. Sets *len to strnlen(s, max + 1) either way, so the
 * measure stops at the cut: one long tenancy string shared by every event
 * of a body (an envelope's org) must not be measured once per event.
 * One pass finds both the end and the first special byte: NUL is in every
 * kind's class, and the unrolled tests run in order and stop at the first
 * hit, so nothing past the NUL is read. */
static bool lp_plain(const char *s, size_t max, enum lp_kind kind, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    const unsigned char bit = (unsigned char)(1u << kind);
    size_t i = 0;
    while (i <= max) {
        if (lp_class[u[i]] & bit)
            break;
        if (lp_class[u[i + 1]] & bit) {
            i += 1;
            break;
        }
        if (lp_class[u[i + 2]] & bit) {
            i += 2;
            break;
        }
        if (lp_class[u[i + 3]] & bit) {
            i += 3;
            break;
        }
        i += 4;
    }
    if (i <= max && u[i] == '\0') {
        *len = i;
        return true;
    }
    /* s[0..i) holds no NUL, and i may pass max by up to three */
    *len = i > max ? max + 1 : i + strnlen(s + i, max + 1 - i);
    return false;
}

/* Appends s escaped for `kind`. Sets *written to the number of bytes
 * appended. Returns 0, 1 when truncated, or b's sticky error. */
static int lp_escape(struct buf *b, const char *s, enum lp_kind kind, size_t max, size_t *written)
{
    size_t start = b->len;
    size_t len;
    /* Fast path, the common case: one append copies a value that needs no
     * escaping and fits. */
    if (lp_plain(s, max, kind, &len)) {
        buf_append(b, s, len);
        *written = b->len - start;
        int rc = buf_error(b);
        return rc < 0 ? rc : 0;
    }
    size_t n = lp_cut(s, len, max);
    int truncated = n < len;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = lp_span(s, n, kind); i < n; i++) {
        char c = s[i];
        if (!lp_special(c, kind))
            continue;
        /* Most values have no special byte at all: copy runs in one go. */
        buf_append(b, s + run, i - run);
        run = i + 1;
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
        buf_append(b, out, on);
    }
    buf_append(b, s + run, n - run);
    *written = b->len - start;
    int rc = buf_error(b);
    return rc < 0 ? rc : truncated;
}

int lineproto_measurement(struct buf *b, const char *name)
{
    size_t w = 0;
    return lp_escape(b, name, LP_MEASUREMENT, LINEPROTO_TAG_MAX, &w);
}

/* A key as the writers take it: `plain` says it is written as it is (a
 * lineproto_key, or a string lp_plain() passed), else it is escaped. */
struct lp_key {
    const char *name;
    size_t len;
    bool plain;
};

static struct lp_key lp_key_of(const char *key)
{
    struct lp_key k = {key, 0, false};
    k.plain = lp_plain(key, LINEPROTO_TAG_MAX, LP_TAG, &k.len);
    return k;
}

static struct lp_key lp_key_named(struct lineproto_key key)
{
    return (struct lp_key){key.name, key.len, true};
}

/* Writes sep, key and '=' at p (room for 2 + klen bytes); returns the end. */
static char *lp_put_key(char *p, char sep, const char *key, size_t klen)
{
    *p++ = sep;
    memcpy(p, key, klen);
    p += klen;
    *p++ = '=';
    return p;
}

/* Appends sep, the key escaped and '=', piece by piece: the slow path. */
static void lp_escape_key(struct buf *b, char sep, const char *key)
{
    size_t w = 0;
    buf_putc(b, sep);
    lp_escape(b, key, LP_TAG, LINEPROTO_TAG_MAX, &w);
    buf_putc(b, '=');
}

static int lp_tag(struct buf *b, struct lp_key key, const char *value)
{
    size_t vl;
    /* The common case, a key and a value written as they are, in one
     * reservation; anything else goes piece by piece below. */
    if (key.plain && value && lp_plain(value, LINEPROTO_TAG_MAX, LP_TAG, &vl) && vl) {
        char *p = buf_space(b, key.len + vl + 2);
        if (!p)
            return buf_error(b);
        memcpy(lp_put_key(p, ',', key.name, key.len), value, vl);
        buf_commit(b, key.len + vl + 2);
        return 0;
    }
    size_t w = 0;
    int trunc = 0;
    if (key.plain) {
        buf_putc(b, ',');
        buf_append(b, key.name, key.len);
        buf_putc(b, '=');
    } else {
        lp_escape_key(b, ',', key.name);
    }
    if (value)
        trunc = lp_escape(b, value, LP_TAG, LINEPROTO_TAG_MAX, &w);
    /* InfluxDB rejects an empty tag value; "unknown" keeps the series. */
    if (!value || w == 0)
        buf_puts(b, "unknown");
    int rc = buf_error(b);
    return rc < 0 ? rc : trunc;
}

int lineproto_tag(struct buf *b, const char *key, const char *value)
{
    return lp_tag(b, lp_key_of(key), value);
}

int lineproto_tag_key(struct buf *b, struct lineproto_key key, const char *value)
{
    return lp_tag(b, lp_key_named(key), value);
}

/* Appends the separator, the key, '=' and then `extra` bytes, and returns
 * where those go (room for them reserved, the whole committed), or NULL
 * when the key needs escaping or the buffer failed: the caller then appends
 * its value itself (a no-op after a failure). */
static char *lp_field_start(struct buf *b, bool *first, struct lp_key key, size_t extra)
{
    char sep = *first ? ' ' : ',';
    *first = false;
    if (!key.plain) {
        lp_escape_key(b, sep, key.name);
        return NULL;
    }
    char *p = buf_space(b, key.len + 2 + extra);
    if (!p)
        return NULL;
    p = lp_put_key(p, sep, key.name, key.len);
    buf_commit(b, key.len + 2 + extra);
    return p;
}

/* A field whose value text v[0..vlen) is written as it is (a number). */
static int lp_field_raw(struct buf *b, bool *first, struct lp_key key, const char *v, size_t vlen)
{
    char *p = lp_field_start(b, first, key, vlen);
    if (p)
        memcpy(p, v, vlen);
    else
        buf_append(b, v, vlen);
    return buf_error(b);
}

/* Writes the decimal digits of u, with a '-' when neg, so that they end
 * just before `end`; returns where they start. */
static char *lp_digits(char *end, uint64_t u, bool neg)
{
    /* Four digits per 64-bit division, then two per 32-bit one: a
     * nanosecond timestamp has nineteen. */
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    while (u >= 10000) {
        uint32_t four = (uint32_t)(u % 10000);
        u /= 10000;
        end -= 4;
        memcpy(end, pairs + 2 * (four / 100), 2);
        memcpy(end + 2, pairs + 2 * (four % 100), 2);
    }
    uint32_t r = (uint32_t)u; /* below 10000 */
    if (r >= 100) {
        end -= 2;
        memcpy(end, pairs + 2 * (r % 100), 2);
        r /= 100;
    }
    if (r >= 10) {
        end -= 2;
        memcpy(end, pairs + 2 * r, 2);
    } else {
        *--end = (char)('0' + r);
    }
    if (neg)
        *--end = '-';
    return end;
}

/* Formats v and a suffix byte into tmp, ending at its end; returns where the
 * text starts. printf is most of the cost of a line otherwise. */
static char *lp_int_text(char tmp[24], int64_t v, char suffix)
{
    tmp[23] = suffix;
    return lp_digits(tmp + 23, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

static int lp_field_int(struct buf *b, bool *first, struct lp_key key, int64_t v)
{
    char tmp[24];
    char *num = lp_int_text(tmp, v, 'i');
    return lp_field_raw(b, first, key, num, (size_t)(tmp + sizeof(tmp) - num));
}

int lineproto_field_int(struct buf *b, bool *first, const char *key, int64_t v)
{
    return lp_field_int(b, first, lp_key_of(key), v);
}

int lineproto_field_int_key(struct buf *b, bool *first, struct lineproto_key key, int64_t v)
{
    return lp_field_int(b, first, lp_key_named(key), v);
}

/* The fixed-notation case of %.15g without printf: when a decimal m / 10^k
 * with m < 10^15 reads back as v (exactly checked: m and 10^k are exact
 * doubles and the division is correctly rounded), printing v to 15
 * significant digits gives those digits (v is within half an ulp of them, a
 * 15-digit rounding boundary is 4 or more ulps away), and 1e-4 <= |v| <
 * 1e15 is %g's fixed-notation range. The smallest such k has no trailing
 * zero, as %g strips them. Returns the length written, or 0 when printf
 * must decide. */
static size_t lp_format_decimal(double v, char out[32])
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    double p = 1;
    for (int k = 0; k <= 18; k++, p *= 10) {
        double scaled = a * p;
        if (scaled >= 1e15)
            return 0;
        if (scaled < 0.5)
            continue; /* m would be 0, and a is not: a leading zero */
        /* signed: below 1e15 it fits, and the conversions are one
         * instruction each way where unsigned ones branch */
        int64_t m = (int64_t)(scaled + 0.5);
        if ((double)m / p != a)
            continue;
        char tmp[32];
        char *p0 = tmp + sizeof(tmp) - 1;
        *p0 = '\0';
        uint64_t u = (uint64_t)m;
        for (int d = 0; d < k; d++, u /= 10)
            *--p0 = (char)('0' + u % 10);
        if (k)
            *--p0 = '.';
        p0 = lp_digits(p0, u, v < 0);
        size_t n = (size_t)(tmp + sizeof(tmp) - 1 - p0);
        memcpy(out, p0, n + 1);
        return n;
    }
    return 0;
}

/* lineproto_format_float(), returning the length of the text. */
static size_t lp_format_float(double v, char out[32])
{
    size_t n = lp_format_decimal(v, out);
    if (n)
        return n;
    /* Shortest of %.15g..%.17g that reads back to the same double: stable
     * golden output and no spurious digits (0.0003345, not 0.00033449999...). */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return strlen(out);
}

void lineproto_format_float(double v, char out[32])
{
    lp_format_float(v, out);
}

static int lp_field_float(struct buf *b, bool *first, struct lp_key key, double v)
{
    if (!isfinite(v))
        return -EDOM;
    char num[32];
    size_t n = lp_format_float(v, num);
    return lp_field_raw(b, first, key, num, n);
}

int lineproto_field_float(struct buf *b, bool *first, const char *key, double v)
{
    return lp_field_float(b, first, lp_key_of(key), v);
}

int lineproto_field_float_key(struct buf *b, bool *first, struct lineproto_key key, double v)
{
    return lp_field_float(b, first, lp_key_named(key), v);
}

static int lp_field_str(struct buf *b, bool *first, struct lp_key key, const char *v)
{
    size_t vl, w = 0;
    /* The common case in one reservation, as in lp_tag(). */
    if (lp_plain(v, LINEPROTO_STRING_MAX, LP_STRING, &vl)) {
        char *p = lp_field_start(b, first, key, vl + 2);
        if (!p) {
            buf_putc(b, '"');
            buf_append(b, v, vl);
            buf_putc(b, '"');
            return buf_error(b);
        }
        *p++ = '"';
        memcpy(p, v, vl);
        p[vl] = '"';
        return 0;
    }
    char *p = lp_field_start(b, first, key, 1);
    if (p)
        *p = '"';
    else
        buf_putc(b, '"');
    int trunc = lp_escape(b, v, LP_STRING, LINEPROTO_STRING_MAX, &w);
    buf_putc(b, '"');
    int rc = buf_error(b);
    return rc < 0 ? rc : trunc;
}

int lineproto_field_str(struct buf *b, bool *first, const char *key, const char *v)
{
    return lp_field_str(b, first, lp_key_of(key), v);
}

int lineproto_field_str_key(struct buf *b, bool *first, struct lineproto_key key, const char *v)
{
    return lp_field_str(b, first, lp_key_named(key), v);
}

int lineproto_end(struct buf *b, int64_t ns)
{
    char tmp[24];
    char *p = lp_int_text(tmp, ns, '\n');
    *--p = ' '; /* 19 digits and a sign at most: tmp[2] is free */
    buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
    return buf_error(b);
}

/* ---- reader ------------------------------------------------------------ */

void lineproto_point_init(struct lineproto_point *pt)
{
    memset(pt, 0, sizeof(*pt));
    buf_init(&pt->arena, (size_t)1 << 30);
}

void lineproto_point_free(struct lineproto_point *pt)
{
    buf_free(&pt->arena);
}

void lineproto_scanner_init(struct lineproto_scanner *sc)
{
    sc->state = 0;
    sc->escaped = false;
}

/* States of the scanner: in the series key (measurement, tags), in the field
 * set (quotes matter only in field values, after '='), in a quoted value, or
 * in the timestamp. */
enum {
    LP_SCAN_KEY,
    LP_SCAN_FIELDS_KEY,
    LP_SCAN_VALUE_START, /* just after '=': only here does '"' open a string */
    LP_SCAN_FIELDS_VALUE,
    LP_SCAN_QUOTED,
    LP_SCAN_TIME
};

long lineproto_scanner_feed(struct lineproto_scanner *sc, const char *data, size_t len)
{
    int st = sc->state;
    bool esc = sc->escaped;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        /* Outside quotes a newline ends the line even after a backslash:
         * an escape never joins two metrics. */
        if (c == '\n' && st != LP_SCAN_QUOTED) {
            lineproto_scanner_init(sc);
            return (long)i;
        }
        if (esc) {
            esc = false;
            continue;
        }
        switch (st) {
        case LP_SCAN_KEY:
            if (c == '\\')
                esc = true;
            else if (c == ' ')
                st = LP_SCAN_FIELDS_KEY;
            break;
        case LP_SCAN_FIELDS_KEY:
            if (c == '\\')
                esc = true;
            else if (c == '=')
                st = LP_SCAN_VALUE_START;
            break;
        case LP_SCAN_VALUE_START:
        case LP_SCAN_FIELDS_VALUE:
            if (c == '"' && st == LP_SCAN_VALUE_START)
                st = LP_SCAN_QUOTED;
            else if (c == ',')
                st = LP_SCAN_FIELDS_KEY;
            else if (c == ' ')
                st = LP_SCAN_TIME;
            else
                st = LP_SCAN_FIELDS_VALUE;
            break;
        case LP_SCAN_QUOTED:
            if (c == '\\')
                esc = true;
            else if (c == '"')
                st = LP_SCAN_FIELDS_VALUE;
            break;
        default:
            break;
        }
    }
    sc->state = st;
    sc->escaped = esc;
    return LINEPROTO_NO_END;
}

long lineproto_line_end(const char *data, size_t len)
{
    struct lineproto_scanner sc;
    lineproto_scanner_init(&sc);
    return lineproto_scanner_feed(&sc, data, len);
}

/* Copies an escaped name (measurement, tag key/value, field key) into the
 * arena, unescaping "\\," "\\ " and "\\=".
 * Stops at an unescaped byte in `stops`. Returns the arena offset of the
 * copy, or the arena's error (-ENOMEM, -ENOSPC). */
static long lp_read_name(const char *s, size_t len, size_t *pos, const char *stops,
                         struct buf *arena)
{
    size_t start = arena->len;
    size_t i = *pos;
    while (i < len && !strchr(stops, s[i])) {
        char c = s[i];
        /* names unescape only what the writers escape: "\\," "\\ " "\\=";
         * InfluxDB and Telegraf keep any other backslash as it is */
        if (c == '\\' && i + 1 < len && (s[i + 1] == ',' || s[i + 1] == ' ' || s[i + 1] == '=')) {
            c = s[i + 1];
            i++;
        }
        if (buf_putc(arena, c) < 0)
            return buf_error(arena);
        i++;
    }
    if (buf_putc(arena, '\0') < 0)
        return buf_error(arena);
    *pos = i;
    return (long)start;
}

static int lp_fail(char err[ERR_MAX], const char *what, size_t pos)
{
    return err_set(err, -EINVAL, "%s at byte %zu", what, pos);
}

/* The arena could not grow: not a verdict on the line. */
static int lp_arena_fail(char err[ERR_MAX], long rc, size_t pos)
{
    return err_set(err, (int)rc, "%s at byte %zu",
                   rc == -ENOMEM ? "out of memory" : "line too long to parse", pos);
}

/* Parses an unquoted field value s[0..n). */
static int lp_scalar(const char *s, size_t n, struct lineproto_field *f)
{
    /* Telegraf writes floats without exponents ('f' format): a denormal
     * takes 330 digits. */
    char tmp[400];
    if (n == 0 || n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    static const char *const t[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const fl[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t k = 0; k < 5; k++) {
        if (strcmp(tmp, t[k]) == 0 || strcmp(tmp, fl[k]) == 0) {
            f->type = LINEPROTO_BOOL;
            f->b = strcmp(tmp, t[k]) == 0;
            return 0;
        }
    }
    char *end = NULL;
    errno = 0;
    if (tmp[n - 1] == 'i') {
        tmp[n - 1] = '\0';
        long long v = strtoll(tmp, &end, 10);
        if (errno || end == tmp || *end)
            return -EINVAL;
        f->type = LINEPROTO_INT;
        f->i = v;
        return 0;
    }
    if (tmp[n - 1] == 'u') {
        tmp[n - 1] = '\0';
        if (tmp[0] == '-')
            return -EINVAL;
        unsigned long long v = strtoull(tmp, &end, 10);
        if (errno || end == tmp || *end)
            return -EINVAL;
        f->type = LINEPROTO_UINT;
        f->u = v;
        return 0;
    }
    double d = strtod(tmp, &end);
    if (errno || end == tmp || *end || !isfinite(d))
        return -EINVAL;
    f->type = LINEPROTO_FLOAT;
    f->f = d;
    return 0;
}

int lineproto_parse(const char *line, size_t len, struct lineproto_point *pt, char err[ERR_MAX])
{
    /* Offsets into the arena, turned into pointers at the end: the arena
     * may move while it grows. */
    long moff, tk[LINEPROTO_MAX_TAGS], tv[LINEPROTO_MAX_TAGS], fk[LINEPROTO_MAX_FIELDS],
        fs[LINEPROTO_MAX_FIELDS];
    buf_reset(&pt->arena);
    pt->measurement = NULL;
    pt->ntags = 0;
    pt->nfields = 0;
    pt->has_time = false;
    pt->time_ns = 0;
    if (len && line[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] == '#')
        return 1;
    if ((moff = lp_read_name(line, len, &i, ", ", &pt->arena)) < 0)
        return lp_arena_fail(err, moff, i);
    if (pt->arena.data[moff] == '\0')
        return lp_fail(err, "empty measurement", i);
    while (i < len && line[i] == ',') {
        i++;
        if (pt->ntags == LINEPROTO_MAX_TAGS)
            return lp_fail(err, "too many tags", i);
        size_t n = pt->ntags;
        if ((tk[n] = lp_read_name(line, len, &i, ",= ", &pt->arena)) < 0)
            return lp_arena_fail(err, tk[n], i);
        if (i >= len || line[i] != '=')
            return lp_fail(err, "tag without '='", i);
        i++;
        if ((tv[n] = lp_read_name(line, len, &i, ", ", &pt->arena)) < 0)
            return lp_arena_fail(err, tv[n], i);
        if (!pt->arena.data[tk[n]] || !pt->arena.data[tv[n]])
            return lp_fail(err, "empty tag key or value", i);
        pt->ntags++;
    }
    if (i >= len || line[i] != ' ')
        return lp_fail(err, "expected a space before the fields", i);
    i++;
    for (;;) {
        if (pt->nfields == LINEPROTO_MAX_FIELDS)
            return lp_fail(err, "too many fields", i);
        size_t n = pt->nfields;
        struct lineproto_field *f = &pt->fields[n];
        memset(f, 0, sizeof(*f));
        fs[n] = -1;
        if ((fk[n] = lp_read_name(line, len, &i, ",= ", &pt->arena)) < 0)
            return lp_arena_fail(err, fk[n], i);
        if (i >= len || line[i] != '=' || !pt->arena.data[fk[n]])
            return lp_fail(err, "field without key or '='", i);
        i++;
        if (i < len && line[i] == '"') {
            i++;
            fs[n] = (long)pt->arena.len;
            for (;;) {
                if (i >= len)
                    return lp_fail(err, "unterminated string", i);
                char c = line[i];
                if (c == '"')
                    break;
                if (c == '\\' && i + 1 < len && (line[i + 1] == '"' || line[i + 1] == '\\')) {
                    c = line[i + 1];
                    i++;
                }
                if (buf_putc(&pt->arena, c) < 0)
                    return lp_arena_fail(err, buf_error(&pt->arena), i);
                i++;
            }
            f->type = LINEPROTO_STRING;
            f->slen = pt->arena.len - (size_t)fs[n];
            if (buf_putc(&pt->arena, '\0') < 0)
                return lp_arena_fail(err, buf_error(&pt->arena), i);
            i++;
        } else {
            size_t s = i;
            while (i < len && line[i] != ',' && line[i] != ' ')
                i++;
            if (lp_scalar(line + s, i - s, f) < 0)
                return lp_fail(err, "bad field value", s);
        }
        pt->nfields++;
        if (i < len && line[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    if (i < len && line[i] == ' ') {
        i++;
        size_t s = i;
        char tmp[32];
        while (i < len && line[i] != ' ')
            i++;
        if (i - s == 0 || i - s >= sizeof(tmp))
            return lp_fail(err, "bad timestamp", s);
        memcpy(tmp, line + s, i - s);
        tmp[i - s] = '\0';
        char *end = NULL;
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        if (errno || *end)
            return lp_fail(err, "bad timestamp", s);
        pt->has_time = true;
        pt->time_ns = v;
    }
    while (i < len && line[i] == ' ')
        i++;
    if (i != len)
        return lp_fail(err, "trailing bytes", i);
    pt->measurement = pt->arena.data + moff;
    for (size_t k = 0; k < pt->ntags; k++) {
        pt->tags[k].key = pt->arena.data + tk[k];
        pt->tags[k].value = pt->arena.data + tv[k];
    }
    for (size_t k = 0; k < pt->nfields; k++) {
        pt->fields[k].key = pt->arena.data + fk[k];
        if (fs[k] >= 0)
            pt->fields[k].s = pt->arena.data + fs[k];
    }
    return 0;
}

const struct lineproto_field *lineproto_point_field(const struct lineproto_point *pt,
                                                    const char *key)
{
    for (size_t i = 0; i < pt->nfields; i++)
        if (strcmp(pt->fields[i].key, key) == 0)
            return &pt->fields[i];
    return NULL;
}

const char *lineproto_point_tag(const struct lineproto_point *pt, const char *key)
{
    for (size_t i = 0; i < pt->ntags; i++)
        if (strcmp(pt->tags[i].key, key) == 0)
            return pt->tags[i].value;
    return NULL;
}
