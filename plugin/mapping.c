/* SPDX-License-Identifier: MIT */
#include "tokenmeter/mapping.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum mapping_kind {
    MK_PTR,       /* a JSON pointer */
    MK_STR,       /* a JSON pointer, or a constant when it does not start with '/' */
    MK_TEXT,      /* free text */
    MK_BOOL,      /* true / false */
    MK_TIMEFMT,   /* rfc3339, unix_s, unix_ms, unix_us, unix_ns */
    MK_COST_UNIT, /* usd, cents */
};

static const struct mapping_key {
    const char *name;
    enum mapping_kind kind;
    size_t off;
    const char *needs; /* a key that must also be given, or NULL */
} mapping_keys[] = {
#define MK(name, kind, member, needs)                                                              \
    {                                                                                              \
        name, kind, offsetof(struct mapping, member), needs                                        \
    }
    MK("match", MK_PTR, match, NULL),
    MK("match_value", MK_TEXT, match_value, NULL),
    MK("id", MK_PTR, id, NULL),
    MK("trace_id", MK_PTR, trace_id, NULL),
    MK("time", MK_PTR, time, NULL),
    MK("time_format", MK_TIMEFMT, time_format, "time"),
    MK("org", MK_STR, org, NULL),
    MK("team", MK_STR, team, NULL),
    MK("user", MK_STR, user, NULL),
    MK("model", MK_STR, model, NULL),
    MK("provider", MK_STR, provider, NULL),
    MK("status", MK_PTR, status, NULL),
    MK("status_success", MK_TEXT, status_success, "status"),
    MK("error_type", MK_STR, error_type, NULL),
    MK("finish_reason", MK_STR, finish_reason, NULL),
    MK("input_tokens", MK_PTR, input_tokens, NULL),
    MK("cached_input_tokens", MK_PTR, cached_input_tokens, NULL),
    MK("cache_write_tokens", MK_PTR, cache_write_tokens, NULL),
    MK("cache_write_1h_tokens", MK_PTR, cache_write_1h_tokens, NULL),
    MK("output_tokens", MK_PTR, output_tokens, NULL),
    MK("reasoning_tokens", MK_PTR, reasoning_tokens, NULL),
    MK("input_includes_cache", MK_BOOL, input_includes_cache, "input_tokens"),
    MK("output_includes_reasoning", MK_BOOL, output_includes_reasoning, "output_tokens"),
    MK("cost", MK_PTR, cost, NULL),
    MK("cost_unit", MK_COST_UNIT, cost_scale, "cost"),
    MK("latency_ms", MK_PTR, latency_ms, NULL),
    MK("ttft_ms", MK_PTR, ttft_ms, NULL),
#undef MK
};

#define MAPPING_NKEYS (sizeof(mapping_keys) / sizeof(mapping_keys[0]))

bool mapping_pointer_valid(const char *ptr)
{
    if (*ptr == '\0')
        return true;
    if (*ptr != '/')
        return false;
    size_t tok = 0;
    for (const char *p = ptr + 1; *p; p++) {
        if (*p == '/') {
            tok = 0;
            continue;
        }
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return false;
        /* body_get() follows reference tokens of up to 255 bytes. */
        if (++tok > 255)
            return false;
    }
    return true;
}

static const char *const mapping_time_formats[] = {"rfc3339", "unix_s", "unix_ms", "unix_us",
                                                   "unix_ns"};

/* Sets one key. Returns 0 or -EINVAL with err set. */
static int mapping_set(struct mapping *m, const struct mapping_key *k, const struct config_kv *kv,
                       char err[ERR_MAX])
{
    void *dst = (char *)m + k->off;
    const char *v = kv->value;
    switch (k->kind) {
    case MK_PTR:
        if (*v != '/' || !mapping_pointer_valid(v)) {
            return err_set(err, -EINVAL,
                           "%s: [mapping] %s = \"%.100s\": not a JSON pointer (RFC 6901: \"/a/b\", "
                           "~0 for ~ and ~1 for /, each step under 256 bytes)",
                           kv->origin, k->name, v);
        }
        *(const char **)dst = v;
        return 0;
    case MK_STR: {
        struct mapping_str *s = dst;
        if (*v == '/') {
            if (!mapping_pointer_valid(v)) {
                return err_set(
                    err, -EINVAL,
                    "%s: [mapping] %s = \"%.100s\": not a JSON pointer (RFC 6901: ~0 for "
                    "~ and ~1 for /, each step under 256 bytes)",
                    kv->origin, k->name, v);
            }
            s->ptr = v;
        } else if (*v == '\0') {
            return err_set(err, -EINVAL,
                           "%s: [mapping] %s is empty (a JSON pointer, or a constant)", kv->origin,
                           k->name);
        } else {
            s->literal = v;
        }
        return 0;
    }
    case MK_TEXT:
        if (*v == '\0') {
            return err_set(err, -EINVAL, "%s: [mapping] %s is empty", kv->origin, k->name);
        }
        *(const char **)dst = v;
        return 0;
    case MK_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            return err_set(err, -EINVAL, "%s: [mapping] %s = \"%.100s\": expected true or false",
                           kv->origin, k->name, v);
        }
        *(bool *)dst = strcmp(v, "true") == 0;
        return 0;
    case MK_TIMEFMT:
        for (size_t i = 0; i < sizeof(mapping_time_formats) / sizeof(mapping_time_formats[0]);
             i++) {
            if (strcmp(v, mapping_time_formats[i]) == 0) {
                *(enum mapping_time_format *)dst = (enum mapping_time_format)i;
                return 0;
            }
        }
        return err_set(err, -EINVAL,
                       "%s: [mapping] time_format = \"%.100s\": expected rfc3339, unix_s, unix_ms, "
                       "unix_us or unix_ns",
                       kv->origin, v);
    case MK_COST_UNIT:
        if (strcmp(v, "usd") == 0 || strcmp(v, "cents") == 0) {
            *(double *)dst = strcmp(v, "usd") == 0 ? 1.0 : 0.01;
            return 0;
        }
        return err_set(err, -EINVAL, "%s: [mapping] cost_unit = \"%.100s\": expected usd or cents",
                       kv->origin, v);
    }
    return -EINVAL;
}

static const char *mapping_origin(const struct config_kv_list *kv)
{
    return kv->len ? kv->items[0].origin : "[mapping]";
}

int mapping_new(const struct config_kv_list *kv, struct mapping **out, char err[ERR_MAX])
{
    *out = NULL;
    if (!kv || kv->len == 0)
        return 0;
    struct mapping *m = calloc(1, sizeof(*m));
    if (!m)
        return err_set(err, -ENOMEM, "[mapping]: out of memory");
    int rc = 0;
    m->input_includes_cache = true;
    m->output_includes_reasoning = true;
    m->cost_scale = 1.0;
    const struct config_kv *given[MAPPING_NKEYS] = {0};
    for (size_t i = 0; i < kv->len; i++) {
        const struct config_kv *item = &kv->items[i];
        size_t k = 0;
        while (k < MAPPING_NKEYS && strcmp(mapping_keys[k].name, item->key) != 0)
            k++;
        if (k == MAPPING_NKEYS) {
            rc = err_set(
                err, -EINVAL,
                "%s: [mapping] unknown key \"%.64s\" (see docs/sources.md \"Custom mappings\")",
                item->origin, item->key);
            goto out;
        }
        if (given[k]) {
            rc = err_set(err, -EINVAL, "%s: [mapping] %s given twice (first at %s)", item->origin,
                         item->key, given[k]->origin);
            goto out;
        }
        given[k] = item;
        if ((rc = mapping_set(m, &mapping_keys[k], item, err)) < 0)
            goto out;
    }
    for (size_t k = 0; k < MAPPING_NKEYS; k++) {
        const char *needs = mapping_keys[k].needs;
        if (!given[k] || !needs)
            continue;
        size_t j = 0;
        while (strcmp(mapping_keys[j].name, needs) != 0)
            j++;
        if (!given[j]) {
            rc = err_set(err, -EINVAL, "%s: [mapping] %s is given without %s", given[k]->origin,
                         mapping_keys[k].name, needs);
            goto out;
        }
    }
    if (!m->match) {
        rc = err_set(err, -EINVAL,
                     "%s: [mapping] has no match key (the JSON pointer that must exist for a "
                     "document to be read by the mapping)",
                     mapping_origin(kv));
        goto out;
    }
    if (!m->model.ptr && !m->model.literal) {
        rc = err_set(err, -EINVAL, "%s: [mapping] has no model key", mapping_origin(kv));
        goto out;
    }
    if (!m->input_tokens && !m->output_tokens && !m->cost) {
        rc = err_set(err, -EINVAL,
                     "%s: [mapping] maps no usage: give input_tokens, output_tokens or cost",
                     mapping_origin(kv));
        goto out;
    }
out:
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void mapping_free(struct mapping *m)
{
    free(m);
}

bool mapping_match(const struct mapping *m, const struct body_node *doc)
{
    if (!m || !body_has(doc, m->match))
        return false;
    if (!m->match_value)
        return true;
    const char *v = body_str(doc, m->match);
    return v && strcmp(v, m->match_value) == 0;
}
