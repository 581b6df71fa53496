/* SPDX-License-Identifier: MIT */
/*
 * The [mapping] source: reads any JSON shape by the JSON pointers the
 * operator configured (plugin/mapping.c validates them at start-up). It is
 * never chosen by match() alone — source_detect_mapped() asks the mapping —
 * so the descriptor's match() answers no.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tokenmeter/mapping.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

static bool mapped_match(const struct body_node *doc)
{
    (void)doc;
    return false;
}

/* A string member: the constant, or the string at the pointer. A number or
 * boolean there is not a name; it is an error rather than silently absent. */
static int mapped_str(const struct body_node *doc, const char *key, const struct mapping_str *s,
                      const char **dst, char err[ERR_MAX])
{
    if (s->literal) {
        *dst = s->literal;
        return 0;
    }
    if (!s->ptr)
        return 0;
    enum body_type t = body_type(body_get(doc, s->ptr));
    if (t != BODY_ABSENT && t != BODY_NULL && t != BODY_STRING)
        return err_set(err, -EINVAL, "%s at %.100s: not a string", key, s->ptr);
    *dst = body_str_nonempty(doc, s->ptr);
    return 0;
}

static int mapped_time(const struct mapping *m, const struct body_node *doc, struct event *ev,
                       char err[ERR_MAX])
{
    static const int64_t units[] = {0, TIMEUTIL_NS_PER_S, 1000000, 1000, 1};
    if (!m->time)
        return 0;
    enum body_type t = body_type(body_get(doc, m->time));
    if (t == BODY_ABSENT || t == BODY_NULL)
        return 0;
    if (m->time_format == MAPPING_TIME_RFC3339) {
        int64_t ns = 0;
        const char *s = body_str(doc, m->time);
        int rc = s ? timeutil_parse_iso8601(s, &ns) : -EINVAL;
        if (rc < 0)
            return err_set(err, -EINVAL, "time at %.100s: not an RFC 3339 time", m->time);
        ev->time_ns = ns;
        ev->time_known = true;
        return 0;
    }
    double d = 0;
    if (body_num(doc, m->time, &d) < 0)
        return err_set(err, -EINVAL, "time at %.100s: not a number of epoch units", m->time);
    return source_time(doc, m->time, units[m->time_format], ev, err);
}

/* Success unless the status at the pointer says otherwise: true, 1, 2xx/3xx,
 * or one of status_success (default success, ok, completed). Absent: no
 * failure was reported. */
static bool mapped_success(const struct mapping *m, const struct body_node *doc,
                           int64_t *http_status)
{
    const struct body_node *v = body_get(doc, m->status);
    bool b = false;
    int64_t n = 0;
    *http_status = 0;
    switch (body_type(v)) {
    case BODY_ABSENT:
    case BODY_NULL:
        return true;
    case BODY_BOOL:
        body_bool(v, "", &b);
        return b;
    case BODY_INT:
    case BODY_REAL:
        if (body_int(v, "", &n) < 0)
            return false;
        *http_status = n;
        return n == 1 || (n >= 200 && n < 400);
    case BODY_STRING:
        break;
    default:
        return false;
    }
    const char *s = body_str(v, "");
    const char *list = m->status_success ? m->status_success : "success,ok,completed";
    size_t len = strlen(s);
    while (*list) {
        size_t w = strcspn(list, ",");
        const char *word = list;
        while (w && *word == ' ') {
            word++;
            w--;
        }
        size_t wl = w;
        while (wl && word[wl - 1] == ' ')
            wl--;
        if (wl == len && strncasecmp(word, s, len) == 0)
            return true;
        list = word + w;
        if (*list == ',')
            list++;
    }
    return false;
}

/* Adds part to *total, for sources whose totals exclude their parts. */
static int mapped_add(int64_t *total, int64_t part, char err[ERR_MAX])
{
    if (*total == EVENT_ABSENT || part == EVENT_ABSENT)
        return 0;
    if (*total > INT64_MAX - part)
        return err_set(err, -EINVAL, "token sum out of range");
    *total += part;
    return 0;
}

static int mapped_extract(const struct body_node *doc, struct source_ctx *ctx, char err[ERR_MAX])
{
    int rc;
    const struct mapping *m = source_ctx_mapping(ctx);
    struct event ev;
    event_init(&ev, "mapped");
    if (!m)
        return err_set(err, -EINVAL, "no [mapping] section is configured");
    if (m->id)
        ev.event_id = body_str_nonempty(doc, m->id);
    if (m->trace_id)
        ev.trace_id = body_str_nonempty(doc, m->trace_id);
    const struct {
        const char *key;
        const struct mapping_str *s;
        const char **dst;
    } strs[] = {
        {"org", &m->org, &ev.org},
        {"team", &m->team, &ev.team},
        {"user", &m->user, &ev.user},
        {"model", &m->model, &ev.model},
        {"provider", &m->provider, &ev.provider},
        {"finish_reason", &m->finish_reason, &ev.finish_reason},
        {"error_type", &m->error_type, &ev.error_type},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((rc = mapped_str(doc, strs[i].key, strs[i].s, strs[i].dst, err)) < 0)
            return rc;
    /* A numeric id (many gateways count requests) is still an id. */
    if (m->id && !ev.event_id && body_type(body_get(doc, m->id)) == BODY_INT) {
        int64_t n = 0;
        body_int(doc, m->id, &n);
        snprintf(ev.id_buf, sizeof(ev.id_buf), "%lld", (long long)n);
        ev.event_id = ev.id_buf;
    }
    int64_t http = 0;
    if (m->status && !mapped_success(m, doc, &http)) {
        const char *etype = ev.error_type;
        source_set_error(&ev, http);
        if (etype)
            ev.error_type = etype;
    } else if (!m->status && ev.error_type) {
        ev.status = EVENT_STATUS_ERROR;
    }
    const struct {
        const char *ptr;
        int64_t *dst;
    } counts[] = {
        {m->input_tokens, &ev.input_tokens},
        {m->cached_input_tokens, &ev.cached_input_tokens},
        {m->cache_write_tokens, &ev.cache_write_tokens},
        {m->cache_write_1h_tokens, &ev.cache_write_1h_tokens},
        {m->output_tokens, &ev.output_tokens},
        {m->reasoning_tokens, &ev.reasoning_tokens},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (counts[i].ptr && (rc = source_count(doc, counts[i].ptr, counts[i].dst, err)) < 0)
            return rc;
    if (!m->input_includes_cache &&
        ((rc = mapped_add(&ev.input_tokens, ev.cached_input_tokens, err)) < 0 ||
         (rc = mapped_add(&ev.input_tokens, ev.cache_write_tokens, err)) < 0))
        return rc;
    if (!m->output_includes_reasoning &&
        (rc = mapped_add(&ev.output_tokens, ev.reasoning_tokens, err)) < 0)
        return rc;
    if ((m->cost && (rc = source_number(doc, m->cost, m->cost_scale, &ev.cost_usd, err)) < 0) ||
        (m->latency_ms && (rc = source_number(doc, m->latency_ms, 1.0, &ev.latency_ms, err)) < 0) ||
        (m->ttft_ms && (rc = source_number(doc, m->ttft_ms, 1.0, &ev.ttft_ms, err)) < 0) ||
        (rc = mapped_time(m, doc, &ev, err)) < 0)
        return rc;
    return source_emit(ctx, &ev);
}

const struct source source_mapped = {
    .name = "mapped",
    .match = mapped_match,
    .extract = mapped_extract,
    .signature = "the [mapping] section's match pointer",
};
