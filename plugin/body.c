/* SPDX-License-Identifier: MIT */
#include "tokenmeter/body.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The opaque types are jansson values underneath; only this file knows. */
struct body {
    json_t *root;
};

static const json_t *J(const struct body_node *n)
{
    return (const json_t *)n;
}

static const struct body_node *N(const json_t *j)
{
    return (const struct body_node *)j;
}

int body_parse(const char *data, size_t len, struct body **out, char err[BODY_ERR_MAX])
{
    json_error_t jerr;
    *out = NULL;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root) {
        snprintf(err, BODY_ERR_MAX, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return -EINVAL;
    }
    struct body *b = malloc(sizeof(*b));
    if (!b) {
        json_decref(root);
        snprintf(err, BODY_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    b->root = root;
    *out = b;
    return 0;
}

void body_free(struct body *b)
{
    if (!b)
        return;
    json_decref(b->root);
    free(b);
}

const struct body_node *body_root(const struct body *b)
{
    return N(b->root);
}

/* Decodes one reference token of a JSON pointer into dst (~1 -> /, ~0 -> ~). */
static size_t body_token(const char *p, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
            dst[o++] = p[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            dst[o++] = p[i];
        }
    }
    dst[o] = '\0';
    return o;
}

const struct body_node *body_get(const struct body_node *n, const char *ptr)
{
    const json_t *cur = J(n);
    if (!cur || !ptr)
        return NULL;
    const char *p = ptr;
    while (*p) {
        if (*p != '/')
            return NULL;
        p++;
        const char *e = strchr(p, '/');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        char tok[256];
        if (tl >= sizeof(tok))
            return NULL;
        body_token(p, tl, tok, sizeof(tok));
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end = NULL;
            errno = 0;
            unsigned long idx = strtoul(tok, &end, 10);
            if (errno || end == tok || *end || tok[0] == '-')
                return NULL;
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
        if (!cur)
            return NULL;
        p += tl;
    }
    return N(cur);
}

enum body_type body_type(const struct body_node *n)
{
    const json_t *j = J(n);
    if (!j)
        return BODY_ABSENT;
    switch (json_typeof(j)) {
    case JSON_NULL:
        return BODY_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return BODY_BOOL;
    case JSON_INTEGER:
        return BODY_INT;
    case JSON_REAL:
        return BODY_REAL;
    case JSON_STRING:
        return BODY_STRING;
    case JSON_ARRAY:
        return BODY_ARRAY;
    case JSON_OBJECT:
        return BODY_OBJECT;
    }
    return BODY_ABSENT;
}

const char *body_str(const struct body_node *n, const char *ptr)
{
    const json_t *j = J(body_get(n, ptr));
    return json_is_string(j) ? json_string_value(j) : NULL;
}

const char *body_str_nonempty(const struct body_node *n, const char *ptr)
{
    const char *s = body_str(n, ptr);
    return s && *s ? s : NULL;
}

/* Parses an optionally signed run of decimal digits, nothing else. */
static int body_parse_decimal(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!*p)
        return -EINVAL;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)v;
    }
    return 0;
}

int body_int(const struct body_node *n, const char *ptr, int64_t *out)
{
    const json_t *j = J(body_get(n, ptr));
    if (!j || json_is_null(j))
        return -ENOENT;
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        /* 2^63 is exactly representable; anything at or above it overflows. */
        if (!isfinite(d) || d != floor(d))
            return -EINVAL;
        if (d >= 9223372036854775808.0 || d < -9223372036854775808.0)
            return -ERANGE;
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(j))
        return body_parse_decimal(json_string_value(j), out);
    return -EINVAL;
}

int body_count(const struct body_node *n, const char *ptr, int64_t *out)
{
    int64_t v = 0;
    int rc = body_int(n, ptr, &v);
    if (rc < 0)
        return rc;
    if (v < 0)
        return -ERANGE;
    *out = v;
    return 0;
}

int body_num(const struct body_node *n, const char *ptr, double *out)
{
    const json_t *j = J(body_get(n, ptr));
    if (!j || json_is_null(j))
        return -ENOENT;
    if (json_is_number(j)) {
        double d = json_number_value(j);
        if (!isfinite(d))
            return -EINVAL;
        *out = d;
        return 0;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(d))
            return -EINVAL;
        *out = d;
        return 0;
    }
    return -EINVAL;
}

int body_bool(const struct body_node *n, const char *ptr, bool *out)
{
    const json_t *j = J(body_get(n, ptr));
    if (!j || json_is_null(j))
        return -ENOENT;
    if (!json_is_boolean(j))
        return -EINVAL;
    *out = json_is_true(j);
    return 0;
}

bool body_has(const struct body_node *n, const char *ptr)
{
    const json_t *j = J(body_get(n, ptr));
    return j && !json_is_null(j);
}

size_t body_array_len(const struct body_node *n)
{
    const json_t *j = J(n);
    return json_is_array(j) ? json_array_size(j) : 0;
}

const struct body_node *body_array_at(const struct body_node *n, size_t i)
{
    return N(json_array_get(J(n), i));
}

size_t body_object_len(const struct body_node *n)
{
    const json_t *j = J(n);
    return json_is_object(j) ? json_object_size(j) : 0;
}

/* jansson iterates objects in insertion (= document) order. */
static void *body_object_iter_at(const struct body_node *n, size_t i)
{
    json_t *j = (json_t *)J(n);
    void *it = json_object_iter(j);
    while (it && i--)
        it = json_object_iter_next(j, it);
    return it;
}

const char *body_object_key(const struct body_node *n, size_t i)
{
    void *it = body_object_iter_at(n, i);
    return it ? json_object_iter_key(it) : NULL;
}

const struct body_node *body_object_value(const struct body_node *n, size_t i)
{
    void *it = body_object_iter_at(n, i);
    return it ? N(json_object_iter_value(it)) : NULL;
}

static int body_dump_cb(const char *buffer, size_t size, void *data)
{
    return buf_append(data, buffer, size) < 0 ? -1 : 0;
}

int body_dump(const struct body_node *n, struct buf *out)
{
    const json_t *j = J(n);
    if (!j)
        return -EINVAL;
    int rc =
        json_dump_callback(j, body_dump_cb, out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return rc < 0 ? -ENOSPC : 0;
}
