/* SPDX-License-Identifier: MIT */
#include "tokenmeter/pipeline.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/body.h"
#include "tokenmeter/event.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/mapping.h"
#include "tokenmeter/pricing.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"

/* A point is formatted before we know whether its document as a whole is
 * accepted; it is kept here until the document's extraction succeeds. */
struct pipeline_point {
    uint64_t key; /* duplicate-cache identity */
    size_t off;   /* into pipeline.pending */
    size_t len;
    bool unpriced;
};

#define PIPELINE_LINE_MAX    (64 * 1024)
#define PIPELINE_PENDING_MAX ((size_t)256 * 1024 * 1024)

struct pipeline {
    const struct config *cfg;
    struct deadletter *dl;
    struct stats *stats;
    struct identity_cache *cache;
    struct buf pending;
    struct pipeline_point *points;
    size_t npoints;
    size_t cap_points;
    struct buf scratch;
    int64_t receive_ns;
    int64_t fixed_receive_ns;                 /* -1: use the clock */
    const struct pipeline_tenancy *transport; /* of the body being fed, or NULL */
    struct pricing *prices;                   /* never NULL once built; replaced on reload */
    struct mapping *mapping;                  /* the [mapping] source, or NULL */
};

/* What an extraction needs to finish an event: the document, and the
 * tenancy that outranks the body's own. */
struct source_ctx {
    struct pipeline *p;
    const struct body_node *doc;
    const char *forced_source;
    struct pipeline_tenancy envelope;
    const struct pipeline_tenancy *transport;
    const char *origin;
    char err[ERR_MAX];
};

struct pipeline *pipeline_new(const struct config *cfg, struct deadletter *dl, struct stats *stats,
                              char err[ERR_MAX])
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, ERR_MAX, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->dl = dl;
    p->stats = stats;
    p->fixed_receive_ns = -1;
    buf_init(&p->pending, PIPELINE_PENDING_MAX);
    buf_init(&p->scratch, (size_t)cfg->ingest.max_body_bytes * 2 + 1024);
    if (cfg->ingest.dedup != CONFIG_DEDUP_OFF && cfg->ingest.dedup_cache > 0) {
        p->cache = identity_cache_new((size_t)cfg->ingest.dedup_cache);
        if (!p->cache) {
            snprintf(err, ERR_MAX, "cannot allocate the duplicate cache (%zu bytes)",
                     identity_cache_bytes((size_t)cfg->ingest.dedup_cache));
            pipeline_free(p);
            return NULL;
        }
    }
    if (strcmp(cfg->ingest.source, "auto") != 0 && !source_name_known(cfg->ingest.source)) {
        snprintf(err, ERR_MAX, "[ingest] source = \"%s\": unknown source", cfg->ingest.source);
        pipeline_free(p);
        return NULL;
    }
    if (pricing_load(cfg->ingest.prices, &cfg->prices, &p->prices, err) < 0 ||
        mapping_new(&cfg->mapping, &p->mapping, err) < 0) {
        pipeline_free(p);
        return NULL;
    }
    if (cfg->ingest.prices && *cfg->ingest.prices)
        log_msg_always(LOG_LEVEL_INFO, "prices: %zu models from %s and [prices]",
                       pricing_count(p->prices), cfg->ingest.prices);
    return p;
}

int pipeline_reload_prices(struct pipeline *p, char err[ERR_MAX])
{
    struct pricing *t = NULL;
    int rc = pricing_load(p->cfg->ingest.prices, &p->cfg->prices, &t, err);
    if (rc < 0)
        return rc;
    pricing_free(p->prices);
    p->prices = t;
    return 0;
}

size_t pipeline_price_count(const struct pipeline *p)
{
    return pricing_count(p->prices);
}

const struct mapping *source_ctx_mapping(const struct source_ctx *ctx)
{
    return ctx->p->mapping;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    identity_cache_free(p->cache);
    pricing_free(p->prices);
    mapping_free(p->mapping);
    buf_free(&p->pending);
    buf_free(&p->scratch);
    free(p->points);
    free(p);
}

static int pipeline_reject(struct pipeline *p, const char *origin, const void *data, size_t len,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Dead-letters one body (or element) and counts it. Returns 0, or -errno
 * when the dead-letter file cannot be written. */
static int pipeline_reject(struct pipeline *p, const char *origin, const void *data, size_t len,
                           const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    p->stats->rejected++;
    log_error("rejected %s: %s (dead-lettered to %s)", origin, reason, deadletter_path(p->dl));
    /* What replay needs to treat the body as it would have been treated:
     * the transport's tenancy and the receive time. */
    const struct pipeline_tenancy *t = p->transport;
    struct deadletter_meta meta = {.org = t ? t->org : NULL,
                                   .team = t ? t->team : NULL,
                                   .user = t ? t->user : NULL,
                                   .received_ns = p->receive_ns};
    int rc = deadletter_write_meta(p->dl, reason, origin, &meta, data, len);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "cannot write dead-letter file %s: %s",
                       deadletter_path(p->dl), strerror(-rc));
    return rc;
}

void pipeline_set_receive_time(struct pipeline *p, int64_t ns)
{
    p->fixed_receive_ns = ns;
}

void pipeline_count_rejected(struct pipeline *p, const char *origin, const char *reason)
{
    p->stats->rejected++;
    log_error("rejected %s: %s (dead-lettered to %s)", origin, reason, deadletter_path(p->dl));
}

static const char *first_of(const char *a, const char *b, const char *c)
{
    return a ? a : b ? b : c;
}

/* The one place where the token rules of SPEC §3 are checked, whatever the
 * source: parts never exceed their totals, and total = input + output. */
static int pipeline_check_tokens(struct event *ev, char err[ERR_MAX])
{
    if (ev->input_tokens != EVENT_ABSENT) {
        int64_t cached = ev->cached_input_tokens > 0 ? ev->cached_input_tokens : 0;
        int64_t writes = ev->cache_write_tokens > 0 ? ev->cache_write_tokens : 0;
        if (cached > ev->input_tokens || writes > ev->input_tokens - cached) {
            snprintf(err, ERR_MAX,
                     "cache tokens (read %" PRId64 ", write %" PRId64
                     ") exceed input_tokens %" PRId64,
                     cached, writes, ev->input_tokens);
            return -EINVAL;
        }
    }
    if (ev->cache_write_1h_tokens > 0 && ev->cache_write_1h_tokens > ev->cache_write_tokens) {
        snprintf(err, ERR_MAX, "1-hour cache writes exceed cache writes");
        return -EINVAL;
    }
    if (ev->output_tokens != EVENT_ABSENT && ev->reasoning_tokens > ev->output_tokens) {
        snprintf(err, ERR_MAX, "reasoning_tokens %" PRId64 " exceed output_tokens %" PRId64,
                 ev->reasoning_tokens, ev->output_tokens);
        return -EINVAL;
    }
    if (ev->input_tokens != EVENT_ABSENT && ev->output_tokens != EVENT_ABSENT) {
        if (ev->input_tokens > INT64_MAX - ev->output_tokens) {
            snprintf(err, ERR_MAX, "input + output tokens out of range");
            return -EINVAL;
        }
        ev->total_tokens = ev->input_tokens + ev->output_tokens;
    }
    return 0;
}

/* Fills what every source leaves to the pipeline: tenancy precedence,
 * a body-hash id, receive time, the cost decision, provider case. */
static int pipeline_finish_event(struct source_ctx *ctx, struct event *ev)
{
    struct pipeline *p = ctx->p;
    const struct pipeline_tenancy *t = ctx->transport;
    ev->org = first_of(ctx->envelope.org, t ? t->org : NULL, ev->org);
    ev->team = first_of(ctx->envelope.team, t ? t->team : NULL, ev->team);
    ev->user = first_of(ctx->envelope.user, t ? t->user : NULL, ev->user);
    if (!ev->org)
        ev->org = p->cfg->ingest.default_org;
    if (!ev->event_id) {
        /* No id in the body: equal bodies must still get equal identities. */
        buf_reset(&p->scratch);
        int rc = body_dump(ctx->doc, &p->scratch);
        if (rc < 0)
            return rc;
        uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, p->scratch.data, p->scratch.len);
        snprintf(ev->id_buf, sizeof(ev->id_buf), "body-%016" PRIx64, h);
        ev->event_id = ev->id_buf;
    }
    ev->event_id = event_compact_id(ev, ev->event_id);
    if (!ev->time_known)
        ev->time_ns = p->receive_ns;
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
    int rc = pipeline_check_tokens(ev, ctx->err);
    if (rc < 0)
        return rc;
    /* A reported cost always wins; only the rest is priced (SPEC §3.1). */
    if (isnan(ev->cost_usd))
        pricing_apply(p->prices, ev);
    else
        ev->cost_source = EVENT_COST_REPORTED;
    return 0;
}

static const char *const pipeline_cost_names[] = {"", "reported", "computed", "unpriced"};

/* Collects the results of a run of lineproto calls: the first error, and
 * whether any value was truncated. After an error the line is discarded, so
 * later appends need not be skipped. */
struct pipeline_lp {
    int rc;
    int truncated;
};

static void pipeline_lp(struct pipeline_lp *acc, int rc)
{
    if (rc < 0 && acc->rc == 0)
        acc->rc = rc;
    else if (rc > 0)
        acc->truncated = 1;
}

/* Formats the point. Returns 0 or 1 (a string was truncated), or a negative
 * buf error. */
static int pipeline_format(const struct pipeline *p, const struct event *ev, int64_t ts,
                           struct buf *b)
{
    const struct config_ingest *in = &p->cfg->ingest;
    bool tag_mode = in->dedup == CONFIG_DEDUP_TAG;
    struct pipeline_lp acc = {0, 0};
    pipeline_lp(&acc, lineproto_measurement(b, in->measurement));
    /* Tags in key order, as InfluxDB stores them. */
    if (tag_mode)
        pipeline_lp(&acc, lineproto_tag(b, "event_id", ev->event_id));
    pipeline_lp(&acc, lineproto_tag(b, "model", ev->model));
    pipeline_lp(&acc, lineproto_tag(b, "org", ev->org));
    pipeline_lp(&acc, lineproto_tag(b, "provider", ev->provider));
    pipeline_lp(&acc, lineproto_tag(b, "source", ev->source));
    pipeline_lp(
        &acc, lineproto_tag(b, "status", ev->status == EVENT_STATUS_SUCCESS ? "success" : "error"));
    if (in->tag_team)
        pipeline_lp(&acc, lineproto_tag(b, "team", ev->team));
    if (in->tag_user)
        pipeline_lp(&acc, lineproto_tag(b, "user", ev->user));
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
        {"input_image_tokens", ev->input_image_tokens},
        {"output_audio_tokens", ev->output_audio_tokens},
        {"output_image_tokens", ev->output_image_tokens},
        {"web_search_requests", ev->web_search_requests},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (ints[i].v != EVENT_ABSENT)
            pipeline_lp(&acc, lineproto_field_int(b, &first, ints[i].name, ints[i].v));
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
            pipeline_lp(&acc, lineproto_field_float(b, &first, floats[i].name, floats[i].v));
    pipeline_lp(
        &acc, lineproto_field_str(b, &first, "cost_source", pipeline_cost_names[ev->cost_source]));
    if (!tag_mode)
        pipeline_lp(&acc, lineproto_field_str(b, &first, "event_id", ev->event_id));
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
            pipeline_lp(&acc, lineproto_field_str(b, &first, strs[i].name, strs[i].v));
    pipeline_lp(&acc, lineproto_end(b, ts));
    return acc.rc < 0 ? acc.rc : acc.truncated;
}

static int pipeline_add_point(struct pipeline *p, uint64_t key, size_t off, bool unpriced)
{
    if (p->npoints == p->cap_points) {
        size_t ncap = p->cap_points ? p->cap_points * 2 : 16;
        struct pipeline_point *np = realloc(p->points, ncap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        p->points = np;
        p->cap_points = ncap;
    }
    p->points[p->npoints++] = (struct pipeline_point){
        .key = key, .off = off, .len = p->pending.len - off, .unpriced = unpriced};
    return 0;
}

int source_emit(struct source_ctx *ctx, struct event *ev)
{
    struct pipeline *p = ctx->p;
    if (ctx->forced_source)
        ev->source = ctx->forced_source;
    int rc = pipeline_finish_event(ctx, ev);
    if (rc < 0)
        return rc;
    const struct config_ingest *in = &p->cfg->ingest;
    int64_t ts = ev->time_ns;
    if (in->dedup == CONFIG_DEDUP_TIMESTAMP)
        ts = identity_timestamp(ev->time_ns, ev->source, ev->event_id);
    size_t off = p->pending.len;
    rc = pipeline_format(p, ev, ts, &p->pending);
    if (rc < 0 || p->pending.len - off >= PIPELINE_LINE_MAX) {
        buf_truncate(&p->pending, off);
        snprintf(ctx->err, ERR_MAX, "cannot format the point (%s)",
                 rc < 0 ? strerror(-rc) : "line too long");
        return rc < 0 ? rc : -E2BIG;
    }
    if (rc > 0) {
        p->stats->truncated++;
        log_warn("%s: event %.64s: a long string was truncated to keep the line under 64 KiB",
                 ctx->origin, ev->event_id);
    }
    /* Identity: the series (everything before the first unescaped space)
     * plus source:event_id, plus the time when the body gave one. Events
     * without a body time get the receive time, which differs between
     * re-sends; keying them on the id alone still catches the re-send. */
    const char *line = p->pending.data + off;
    size_t series = 0;
    for (; off + series < p->pending.len && line[series] != ' '; series++)
        if (line[series] == '\\')
            series++;
    uint64_t key = identity_fnv1a(IDENTITY_FNV_OFFSET, line, series);
    key = identity_fnv1a(key, ev->source, strlen(ev->source));
    key = identity_fnv1a(key, ":", 1);
    key = identity_fnv1a(key, ev->event_id, strlen(ev->event_id));
    if (ev->time_known)
        key = identity_fnv1a(key, &ts, sizeof(ts));
    return pipeline_add_point(p, key, off, ev->cost_source == EVENT_COST_UNPRICED);
}

/* Moves the document's points to out, dropping repeats, and counts them. */
static int pipeline_commit(struct pipeline *p, struct buf *out)
{
    int rc = 0;
    if (p->npoints == 0)
        p->stats->ignored++;
    for (size_t i = 0; i < p->npoints; i++) {
        const struct pipeline_point *pt = &p->points[i];
        p->stats->events++;
        if (p->cfg->ingest.dedup != CONFIG_DEDUP_OFF &&
            identity_cache_check_insert(p->cache, pt->key)) {
            p->stats->duplicates++;
            continue;
        }
        rc = buf_append(out, p->pending.data + pt->off, pt->len);
        if (rc < 0)
            break;
        p->stats->written++;
        if (pt->unpriced)
            p->stats->unpriced++;
    }
    buf_reset(&p->pending);
    p->npoints = 0;
    return rc;
}

/* Extracts and commits one document; rejects it on any failure.
 * raw/raw_len are the bytes to dead-letter for it. */
static int pipeline_document(struct source_ctx *ctx, const struct body_node *doc,
                             const char *origin, const char *raw, size_t raw_len, struct buf *out)
{
    struct pipeline *p = ctx->p;
    ctx->doc = doc;
    ctx->origin = origin;
    ctx->err[0] = '\0';
    const char *only = ctx->forced_source;
    if (!only && strcmp(p->cfg->ingest.source, "auto") != 0)
        only = p->cfg->ingest.source;
    const struct source *src = source_detect_mapped(doc, only, p->mapping, ctx->err);
    if (!src)
        return pipeline_reject(p, origin, raw, raw_len, "%s", ctx->err);
    int rc = src->extract(doc, ctx, ctx->err);
    if (rc < 0) {
        buf_reset(&p->pending);
        p->npoints = 0;
        if (rc == -ENOMEM)
            return rc;
        return pipeline_reject(p, origin, raw, raw_len, "%s: %s", src->name,
                               ctx->err[0] ? ctx->err : "cannot extract usage");
    }
    return pipeline_commit(p, out);
}

static bool pipeline_enveloped(const struct source_ctx *ctx)
{
    return ctx->envelope.org || ctx->envelope.team || ctx->envelope.user || ctx->forced_source;
}

/* An element of an enveloped array is dead-lettered inside its envelope, so
 * replay gives it the same tenancy and source: this writes the envelope's
 * head, up to "body": (nothing when there is no envelope). */
static int pipeline_envelope_open(const struct source_ctx *ctx, struct buf *b)
{
    if (!pipeline_enveloped(ctx))
        return 0;
    const struct {
        const char *key, *value;
    } members[] = {{"org", ctx->envelope.org},
                   {"team", ctx->envelope.team},
                   {"user", ctx->envelope.user},
                   {"source", ctx->forced_source}};
    int rc = buf_puts(b, "{\"tokenmeter\":1");
    for (size_t i = 0; rc >= 0 && i < sizeof(members) / sizeof(members[0]); i++) {
        if (!members[i].value)
            continue;
        rc = buf_printf(b, ",\"%s\":", members[i].key);
        if (rc >= 0)
            rc = deadletter_json_string(b, members[i].value, strlen(members[i].value));
    }
    return rc < 0 ? rc : buf_puts(b, ",\"body\":");
}

/* Each array element stands alone: good ones are written, a bad one is
 * dead-lettered by itself (as its compact JSON, inside its envelope when
 * the array came in one). */
static int pipeline_array(struct source_ctx *ctx, const struct body_node *arr, const char *origin,
                          struct buf *out)
{
    struct pipeline *p = ctx->p;
    size_t n = body_array_len(arr);
    if (n == 0) {
        p->stats->ignored++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct body_node *el = body_array_at(arr, i);
        char where[300];
        snprintf(where, sizeof(where), "%s[%zu]", origin, i);
        struct buf dump;
        buf_init(&dump, (size_t)p->cfg->ingest.max_body_bytes * 2 + 1024);
        int rc = pipeline_envelope_open(ctx, &dump);
        if (rc == 0)
            rc = body_dump(el, &dump);
        if (rc == 0 && pipeline_enveloped(ctx))
            rc = buf_putc(&dump, '}');
        if (rc == 0) {
            if (body_type(el) != BODY_OBJECT)
                rc = pipeline_reject(p, where, dump.data, dump.len,
                                     "array element is not a JSON object");
            else
                rc = pipeline_document(ctx, el, where, dump.data, dump.len, out);
        }
        buf_free(&dump);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The tokenmeter envelope (SPEC §2): tenancy and source for a bare body. */
static int pipeline_envelope(struct source_ctx *ctx, const struct body_node *root,
                             const struct body_node **doc, char err[ERR_MAX])
{
    int64_t version = 0;
    if (body_int(root, "/tokenmeter", &version) < 0 || version != 1) {
        snprintf(err, ERR_MAX, "envelope: \"tokenmeter\" must be 1 (the only version)");
        return -EINVAL;
    }
    static const char *const keys[] = {"/org", "/team", "/user", "/source"};
    for (size_t i = 0; i < 4; i++) {
        enum body_type t = body_type(body_get(root, keys[i]));
        if (t != BODY_ABSENT && t != BODY_NULL && t != BODY_STRING) {
            snprintf(err, ERR_MAX, "envelope: \"%s\" must be a string", keys[i] + 1);
            return -EINVAL;
        }
    }
    ctx->envelope.org = body_str_nonempty(root, "/org");
    ctx->envelope.team = body_str_nonempty(root, "/team");
    ctx->envelope.user = body_str_nonempty(root, "/user");
    const char *src = body_str_nonempty(root, "/source");
    if (src && !source_name_known(src)) {
        snprintf(err, ERR_MAX, "envelope: unknown source \"%.64s\"", src);
        return -EINVAL;
    }
    ctx->forced_source = src;
    *doc = body_get(root, "/body");
    enum body_type bt = body_type(*doc);
    if (bt != BODY_OBJECT && bt != BODY_ARRAY) {
        snprintf(err, ERR_MAX, "envelope: \"body\" must be a JSON object or array");
        return -EINVAL;
    }
    return 0;
}

int pipeline_feed(struct pipeline *p, const char *data, size_t len, const char *origin,
                  const struct pipeline_tenancy *tenancy, struct buf *out)
{
    struct body *b = NULL;
    int rc = 0;
    struct source_ctx ctx = {.p = p, .transport = tenancy};
    p->stats->lines++;
    p->stats->bytes += len;
    p->receive_ns = p->fixed_receive_ns >= 0 ? p->fixed_receive_ns : timeutil_now_ns();
    p->transport = tenancy;
    if (len > (size_t)p->cfg->ingest.max_body_bytes) {
        rc =
            pipeline_reject(p, origin, data, len, "body of %zu bytes exceeds max_body_bytes (%lld)",
                            len, (long long)p->cfg->ingest.max_body_bytes);
        goto out;
    }
    const char *json = data;
    size_t jlen = len;
    if (jlen >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        jlen -= 3;
    }
    char perr[ERR_MAX];
    if (body_parse(json, jlen, &b, perr) < 0) {
        rc = pipeline_reject(p, origin, data, len, "%s", perr);
        goto out;
    }
    const struct body_node *doc = body_root(b);
    if (body_type(doc) == BODY_OBJECT && body_has(doc, "/tokenmeter")) {
        if (pipeline_envelope(&ctx, doc, &doc, ctx.err) < 0) {
            rc = pipeline_reject(p, origin, data, len, "%s", ctx.err);
            goto out;
        }
    }
    if (body_type(doc) == BODY_ARRAY)
        rc = pipeline_array(&ctx, doc, origin, out);
    else
        rc = pipeline_document(&ctx, doc, origin, data, len, out);
out:
    body_free(b);
    return rc;
}
