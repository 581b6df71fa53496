/* SPDX-License-Identifier: MIT */
#include "tokenmeter/pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/body.h"
#include "tokenmeter/envelope.h"
#include "tokenmeter/event.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/log.h"
#include "tokenmeter/mapping.h"
#include "tokenmeter/pricing.h"
#include "tokenmeter/source.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

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
    const struct config *cfg;      /* borrowed */
    struct deadletter *dl;         /* borrowed */
    struct stats *stats;           /* borrowed */
    struct identity_cache *cache;  /* owned; NULL when dedup is off */
    struct event_schema schema;    /* strings borrowed from cfg */
    struct buf pending;            /* the current document's points */
    struct pipeline_point *points; /* owned; vec.h array */
    size_t npoints;
    size_t cap_points;
    size_t nignored; /* parts of the current document a source ignored */
    struct buf scratch;
    int64_t receive_ns;
    int64_t fixed_receive_ns;                 /* -1: use the clock */
    int64_t now_ns;                           /* the clock at this body, for max_event_age */
    int64_t fixed_now_ns;                     /* -1: the wall clock */
    const struct pipeline_tenancy *transport; /* of the body being fed, or NULL */
    struct pricing *prices;                   /* owned; never NULL once built; replaced on reload */
    struct mapping *mapping;                  /* owned; the [mapping] source, or NULL */
    size_t points_max;                        /* point bytes the body being fed may yield */
    size_t points_out;                        /* what it yielded so far (committed) */
    struct buf element;                       /* a rejected array element's compact JSON */
    struct buf record;                        /* its dead-letter bytes (inside its envelope) */
};

/* The rejected elements of one array body. Each is dead-lettered by itself
 * while the records written for the body stay within its budget; past it,
 * the rest are listed here and recorded once, by reference to one copy of
 * the whole body (docs/operations.md, "Dead-letter file"). */
struct pipeline_refs {
    size_t budget;   /* estimated record bytes the body may still spend */
    struct buf list; /* "3,5-9,12": the elements recorded by reference */
    size_t count;
    size_t lo, hi; /* the open range of the list; count == 0: none */
    char first[256];
};

/* A selection of array elements from a dead-letter record (replay). */
struct pipeline_select {
    bool all;         /* no selection */
    const char *next; /* the rest of the list */
    size_t lo, hi;    /* the current range */
    bool done;        /* past the last range */
};

/* Where a document's rejection goes: the whole body's bytes, or the array
 * element `index` of the body being fed. */
struct pipeline_raw {
    const char *data; /* NULL: an element, dumped only when rejected */
    size_t len;
    size_t index;
};

/* What an extraction needs to finish an event: the document, and the
 * tenancy that outranks the body's own. */
struct source_ctx {
    struct pipeline *p;
    const struct body_node *doc;
    struct envelope env; /* zeroed when the body came bare */
    const struct pipeline_tenancy *transport;
    const char *origin; /* of the body; see pipeline_where() */
    const struct pipeline_raw *raw;
    struct pipeline_refs refs;
    struct pipeline_select select;
    /* ERR_MAX bytes of the feeding call's stack: kept out of the struct so
     * that zeroing the rest of it, per body, does not clear a kilobyte that
     * is written before it is read. */
    char *err;
};

int pipeline_new(const struct config *cfg, struct deadletter *dl, struct stats *stats,
                 struct pipeline **out, char err[ERR_MAX])
{
    int rc = 0;
    *out = NULL;
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return err_set(err, -ENOMEM, "out of memory");
    p->cfg = cfg;
    p->dl = dl;
    p->stats = stats;
    p->fixed_receive_ns = -1;
    p->fixed_now_ns = -1;
    p->schema = (struct event_schema){.measurement = cfg->ingest.measurement,
                                      .event_id_tag = cfg->ingest.dedup == CONFIG_DEDUP_TAG,
                                      .team_tag = cfg->ingest.tag_team,
                                      .user_tag = cfg->ingest.tag_user};
    buf_init(&p->pending, PIPELINE_PENDING_MAX);
    buf_init(&p->scratch, (size_t)cfg->ingest.max_body_bytes * 2 + 1024);
    buf_init(&p->element, (size_t)cfg->ingest.max_body_bytes * 2 + 1024);
    buf_init(&p->record, (size_t)cfg->ingest.max_body_bytes * 2 + 1024);
    if (cfg->ingest.dedup != CONFIG_DEDUP_OFF && cfg->ingest.dedup_cache > 0) {
        p->cache = identity_cache_new((size_t)cfg->ingest.dedup_cache);
        if (!p->cache) {
            rc = err_set(err, -ENOMEM, "cannot allocate the duplicate cache (%zu bytes)",
                         identity_cache_bytes((size_t)cfg->ingest.dedup_cache));
            goto out;
        }
    }
    if (strcmp(cfg->ingest.source, "auto") != 0 && !source_name_known(cfg->ingest.source)) {
        rc = err_set(err, -EINVAL, "[ingest] source = \"%s\": unknown source", cfg->ingest.source);
        goto out;
    }
    if ((rc = pricing_load(cfg->ingest.prices, &cfg->prices, &p->prices, err)) < 0 ||
        (rc = mapping_new(&cfg->mapping, &p->mapping, err)) < 0)
        goto out;
    if (pricing_path(p->prices) && pricing_count(p->prices) > 0)
        log_msg_always(LOG_LEVEL_INFO, "prices: %zu models from %s and [prices]",
                       pricing_count(p->prices), pricing_path(p->prices));
    else if (pricing_path(p->prices))
        log_msg_always(LOG_LEVEL_WARN,
                       "prices: no per-token price in %s: events without a reported cost are "
                       "written unpriced",
                       pricing_path(p->prices));
out:
    if (rc < 0) {
        pipeline_free(p);
        return rc;
    }
    *out = p;
    return 0;
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

const struct config *source_ctx_config(const struct source_ctx *ctx)
{
    return ctx->p->cfg;
}

const struct envelope *source_ctx_envelope(const struct source_ctx *ctx)
{
    return &ctx->env;
}

void source_ignore(struct source_ctx *ctx)
{
    ctx->p->nignored++;
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
    buf_free(&p->element);
    buf_free(&p->record);
    free(p->points);
    free(p);
}

/* Appends one record for data with the transport's tenancy and the receive
 * time (what replay needs to treat the body as it was treated), and, when
 * `elements` is set, the array elements it stands for. Returns 0 or -errno
 * (logged) when the dead-letter file cannot be written. */
static int pipeline_dead_letter(struct pipeline *p, const char *reason, const char *origin,
                                const char *elements, const void *data, size_t len)
{
    const struct pipeline_tenancy *t = p->transport;
    struct deadletter_meta meta = {.org = t ? t->org : NULL,
                                   .team = t ? t->team : NULL,
                                   .user = t ? t->user : NULL,
                                   .received_ns = p->receive_ns,
                                   .elements = elements};
    int rc = deadletter_write_meta(p->dl, reason, origin, &meta, data, len);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "cannot write dead-letter file %s: %s",
                       deadletter_path(p->dl), strerror(-rc));
    return rc;
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
    return pipeline_dead_letter(p, reason, origin, NULL, data, len);
}

void pipeline_set_receive_time(struct pipeline *p, int64_t ns)
{
    p->fixed_receive_ns = ns;
}

void pipeline_set_clock(struct pipeline *p, int64_t ns)
{
    p->fixed_now_ns = ns;
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

/* Rejects values that would break the sums built from them: a cost that is
 * not finite (1e308 twice is +Inf, which InfluxDB then cannot return) or
 * above the per-request maximum, token counts that could overflow a day's
 * int64 sum (pipeline.h). Checked after pricing, so a computed cost from a
 * wild price table is held to the same rule. */
static int pipeline_check_limits(const struct event *ev, char err[ERR_MAX])
{
    const struct {
        const char *name;
        int64_t v;
    } counts[] = {
        {"input_tokens", ev->input_tokens},
        {"cached_input_tokens", ev->cached_input_tokens},
        {"cache_write_tokens", ev->cache_write_tokens},
        {"output_tokens", ev->output_tokens},
        {"reasoning_tokens", ev->reasoning_tokens},
        {"input_audio_tokens", ev->input_audio_tokens},
        {"input_image_tokens", ev->input_image_tokens},
        {"output_audio_tokens", ev->output_audio_tokens},
        {"output_image_tokens", ev->output_image_tokens},
        {"web_search_requests", ev->web_search_requests},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (counts[i].v > PIPELINE_MAX_TOKENS)
            return err_set(err, -EINVAL, "%s %" PRId64 " exceeds the limit of %lld per event",
                           counts[i].name, counts[i].v, PIPELINE_MAX_TOKENS);
    /* NaN is "no cost"; anything else must be a finite amount in range. */
    if (!isnan(ev->cost_usd) &&
        !(isfinite(ev->cost_usd) && ev->cost_usd >= 0 && ev->cost_usd <= PIPELINE_MAX_COST_USD))
        return err_set(err, -EINVAL, "cost_usd %g is outside 0..%g USD per request", ev->cost_usd,
                       PIPELINE_MAX_COST_USD);
    const struct {
        const char *name;
        double v;
    } ms[] = {{"latency_ms", ev->latency_ms}, {"ttft_ms", ev->ttft_ms}};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        if (!isnan(ms[i].v) && !(isfinite(ms[i].v) && fabs(ms[i].v) <= PIPELINE_MAX_MS))
            return err_set(err, -EINVAL, "%s %g is outside -%g..%g", ms[i].name, ms[i].v,
                           PIPELINE_MAX_MS, PIPELINE_MAX_MS);
    return 0;
}

/* Fills what every source leaves to the pipeline: tenancy precedence,
 * a body-hash id, receive time, the event rules, the cost decision. */
static int pipeline_finish_event(struct source_ctx *ctx, struct event *ev)
{
    struct pipeline *p = ctx->p;
    const struct pipeline_tenancy *t = ctx->transport;
    ev->org = first_of(ctx->env.org, t ? t->org : NULL, ev->org);
    ev->team = first_of(ctx->env.team, t ? t->team : NULL, ev->team);
    ev->user = first_of(ctx->env.user, t ? t->user : NULL, ev->user);
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
    int rc = event_normalize(ev, ctx->err);
    if (rc < 0)
        return rc;
    int64_t max_age = p->cfg->ingest.max_event_age_s;
    if (max_age > 0 && ev->time_ns < p->now_ns - max_age * 1000000000) {
        char when[32];
        timeutil_format_rfc3339(ev->time_ns, when, sizeof(when));
        return err_set(ctx->err, -ERANGE,
                       "event time %s is older than [ingest] max_event_age (%lld h): InfluxDB "
                       "would drop it as beyond its retention policy; replay it with a longer "
                       "max_event_age into a policy that keeps it",
                       when, (long long)(max_age / 3600));
    }
    /* A reported cost always wins; only the rest is priced (docs/schema.md,
     * "Prices and cost"). A gateway cache hit reached no provider: it costs
     * nothing, as LiteLLM bills it (docs/sources.md "Gateway cache hits"). */
    if (ev->gateway_cache_hit) {
        ev->cost_usd = 0;
        ev->cost_source = EVENT_COST_CACHE_HIT;
    } else if (isnan(ev->cost_usd))
        pricing_apply(p->prices, ev);
    else
        ev->cost_source = EVENT_COST_REPORTED;
    return pipeline_check_limits(ev, ctx->err);
}

static int pipeline_add_point(struct pipeline *p, uint64_t key, size_t off, bool unpriced)
{
    if (vec_reserve(&p->points, &p->cap_points, p->npoints + 1, sizeof(*p->points)) < 0)
        return -ENOMEM;
    p->points[p->npoints++] = (struct pipeline_point){
        .key = key, .off = off, .len = p->pending.len - off, .unpriced = unpriced};
    return 0;
}

#define PIPELINE_WHERE_MAX 300

/* Where the current document came from, for a message: the body's origin,
 * or "origin[i]" for its i-th array element, composed in buf only when a
 * message needs it (most documents never do). */
static const char *pipeline_where(const struct source_ctx *ctx, char buf[PIPELINE_WHERE_MAX])
{
    if (!ctx->raw || ctx->raw->data)
        return ctx->origin;
    snprintf(buf, PIPELINE_WHERE_MAX, "%s[%zu]", ctx->origin, ctx->raw->index);
    return buf;
}

int source_emit(struct source_ctx *ctx, struct event *ev)
{
    struct pipeline *p = ctx->p;
    if (ctx->env.source)
        ev->source = ctx->env.source;
    /* The envelope names the vendor of a borrowed shape, and fills the id
     * and model of a body that has none (docs/sources.md "Input forms"). */
    if (ctx->env.provider)
        ev->provider = ctx->env.provider;
    if (!ev->event_id)
        ev->event_id = ctx->env.id;
    if (!ev->model)
        ev->model = ctx->env.model;
    source_settle_status(ev);
    int rc = pipeline_finish_event(ctx, ev);
    if (rc < 0)
        return rc;
    int64_t ts = ev->time_ns;
    if (p->cfg->ingest.dedup == CONFIG_DEDUP_TIMESTAMP)
        ts = identity_timestamp(ev->time_ns, ev->source, ev->event_id);
    size_t off = p->pending.len;
    rc = event_format_point(ev, &p->schema, ts, &p->pending);
    if (rc < 0 || p->pending.len - off >= PIPELINE_LINE_MAX) {
        buf_truncate(&p->pending, off);
        return err_set(ctx->err, rc < 0 ? rc : -E2BIG, "cannot format the point (%s)",
                       rc < 0 ? strerror(-rc) : "line too long");
    }
    if (p->points_out + p->pending.len > p->points_max) {
        buf_truncate(&p->pending, off);
        return err_set(ctx->err, -E2BIG,
                       "the body's points would exceed %zu bytes (%d x its size + 64 KiB)",
                       p->points_max, PIPELINE_POINTS_FACTOR);
    }
    if (rc > 0) {
        char where[PIPELINE_WHERE_MAX];
        p->stats->truncated++;
        log_warn("%s: event %.64s: a long string was truncated to keep the line under 64 KiB",
                 pipeline_where(ctx, where), ev->event_id);
    }
    uint64_t key = identity_point_key(p->pending.data + off, p->pending.len - off, ev->source,
                                      ev->event_id, ev->time_known, ts);
    return pipeline_add_point(p, key, off, ev->cost_source == EVENT_COST_UNPRICED);
}

/* Forgets the points of a document once committed or abandoned. */
static void pipeline_discard(struct pipeline *p)
{
    buf_reset(&p->pending);
    p->npoints = 0;
    p->nignored = 0;
}

/* Moves the document's points to out, dropping repeats, and counts them. */
static int pipeline_commit(struct pipeline *p, struct buf *out)
{
    int rc = 0;
    /* A body with nothing to write is one ignored outcome, unless a source
     * said which of its parts it ignored (agent spans): those count. */
    if (p->npoints == 0 && p->nignored == 0)
        p->stats->ignored++;
    p->stats->ignored += p->nignored;
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
        p->points_out += pt->len;
        p->stats->written++;
        if (pt->unpriced)
            p->stats->unpriced++;
    }
    pipeline_discard(p);
    return rc;
}

static int pipeline_reject_element(struct source_ctx *ctx, const struct body_node *el, size_t index,
                                   const char *where, const char *reason);

/* Rejects a document for `reason`: as the body's own bytes, or as the
 * array element it is. */
static int pipeline_reject_doc(struct source_ctx *ctx, const struct body_node *doc,
                               const char *reason)
{
    const struct pipeline_raw *raw = ctx->raw;
    char where[PIPELINE_WHERE_MAX];
    if (raw->data)
        return pipeline_reject(ctx->p, ctx->origin, raw->data, raw->len, "%s", reason);
    return pipeline_reject_element(ctx, doc, raw->index, pipeline_where(ctx, where), reason);
}

/* Extracts and commits one document; rejects it on any failure but running
 * out of memory (fatal: the document was not judged). */
static int pipeline_document(struct source_ctx *ctx, const struct body_node *doc,
                             const char *origin, const struct pipeline_raw *raw, struct buf *out)
{
    struct pipeline *p = ctx->p;
    ctx->doc = doc;
    ctx->origin = origin;
    ctx->raw = raw;
    ctx->err[0] = '\0';
    const char *only = ctx->env.source;
    if (!only && strcmp(p->cfg->ingest.source, "auto") != 0)
        only = p->cfg->ingest.source;
    const struct source *src = source_detect_mapped(doc, only, p->mapping, ctx->err);
    if (!src)
        return pipeline_reject_doc(ctx, doc, ctx->err);
    int rc = src->extract(doc, ctx, ctx->err);
    if (rc < 0) {
        pipeline_discard(p);
        if (rc == -ENOMEM)
            return rc;
        char reason[ERR_MAX + 64];
        snprintf(reason, sizeof(reason), "%s: %s", src->name,
                 ctx->err[0] ? ctx->err : "cannot extract usage");
        return pipeline_reject_doc(ctx, doc, reason);
    }
    return pipeline_commit(p, out);
}

/* Appends the open range to the list. */
static void pipeline_refs_flush(struct pipeline_refs *r)
{
    buf_printf(&r->list, r->list.len ? ",%zu" : "%zu", r->lo);
    if (r->hi > r->lo)
        buf_printf(&r->list, "-%zu", r->hi);
}

/* Adds element i (ascending) to the by-reference list. Returns 0 or the
 * list's error. */
static int pipeline_refs_add(struct pipeline_refs *r, size_t i)
{
    if (r->count && i == r->hi + 1) {
        r->hi = i;
    } else {
        if (r->count)
            pipeline_refs_flush(r);
        r->lo = r->hi = i;
    }
    r->count++;
    return buf_error(&r->list);
}

/* The bytes a record of len data bytes may take: JSON escaping at most
 * doubles the body, the reason and the tenancy; the rest is the fixed
 * members. */
static size_t pipeline_record_cost(const struct pipeline *p, size_t len, const char *reason,
                                   const char *origin)
{
    const struct pipeline_tenancy *t = p->transport;
    size_t meta = t ? (t->org ? strlen(t->org) : 0) + (t->team ? strlen(t->team) : 0) +
                          (t->user ? strlen(t->user) : 0)
                    : 0;
    return 2 * (len + strlen(reason) + strlen(origin) + meta) + 160;
}

/* A rejected array element: its own record (its compact JSON, inside its
 * envelope when the array came in one, so that replay gives it the same
 * tenancy and source) while the body's budget lasts, else a place in the
 * list recorded by reference once the array is done. */
static int pipeline_reject_element(struct source_ctx *ctx, const struct body_node *el, size_t index,
                                   const char *where, const char *reason)
{
    struct pipeline *p = ctx->p;
    struct pipeline_refs *r = &ctx->refs;
    int rc;
    if (r->count == 0) {
        buf_reset(&p->element);
        buf_reset(&p->record);
        envelope_write_head(&ctx->env, &p->record);
        if ((rc = body_dump(el, &p->element)) < 0 || (rc = buf_error(&p->record)) < 0)
            return rc;
        size_t cost = pipeline_record_cost(p, p->record.len + p->element.len + 1, reason, where);
        if (cost <= r->budget) {
            r->budget -= cost;
            buf_append(&p->record, p->element.data, p->element.len);
            if (envelope_carries(&ctx->env))
                buf_putc(&p->record, '}');
            if ((rc = buf_error(&p->record)) < 0)
                return rc;
            return pipeline_reject(p, where, p->record.data, p->record.len, "%s", reason);
        }
        snprintf(r->first, sizeof(r->first), "%s: %s", where, reason);
    }
    /* Past the budget: counted, listed, and logged once for the body. */
    p->stats->rejected++;
    return pipeline_refs_add(r, index);
}

/* Parses the next "a" or "a-b" of a selection; false at its end or on a
 * malformed list (then nothing more is selected). */
static bool pipeline_select_next(struct pipeline_select *s)
{
    const char *q = s->next;
    char *end = NULL;
    if (!q || !*q || *q < '0' || *q > '9') {
        s->done = true;
        return false;
    }
    s->lo = s->hi = (size_t)strtoull(q, &end, 10);
    if (*end == '-') {
        q = end + 1;
        s->hi = (size_t)strtoull(q, &end, 10);
        if (end == q || s->hi < s->lo) {
            s->done = true;
            return false;
        }
    }
    s->next = *end == ',' ? end + 1 : end;
    return true;
}

/* True for a well-formed list: ranges "a" or "a-b" (a <= b), separated by
 * single commas, each past the one before. */
static bool pipeline_select_valid(const char *list)
{
    struct pipeline_select s = {.next = list};
    bool first = true;
    size_t prev = 0;
    while (*s.next) {
        if (!pipeline_select_next(&s) || (!first && s.lo <= prev) ||
            (s.next[-1] == ',' && !*s.next))
            return false;
        prev = s.hi;
        first = false;
    }
    return !first;
}

/* True when element i is selected (i ascending). */
static bool pipeline_selected(struct pipeline_select *s, size_t i)
{
    if (s->all)
        return true;
    while (!s->done && i > s->hi)
        pipeline_select_next(s);
    return !s->done && i >= s->lo;
}

/* Each array element stands alone: good ones are written, bad ones are
 * dead-lettered (pipeline_reject_element). */
static int pipeline_array(struct source_ctx *ctx, const struct body_node *arr, const char *origin,
                          struct buf *out)
{
    struct pipeline *p = ctx->p;
    size_t n = body_array_len(arr);
    if (n == 0) {
        p->stats->ignored++;
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!pipeline_selected(&ctx->select, i))
            continue;
        const struct body_node *el = body_array_at(arr, i);
        struct pipeline_raw raw = {.data = NULL, .index = i};
        if (body_type(el) != BODY_OBJECT) {
            char where[PIPELINE_WHERE_MAX];
            ctx->origin = origin;
            ctx->raw = &raw;
            rc = pipeline_reject_element(ctx, el, i, pipeline_where(ctx, where),
                                         "array element is not a JSON object");
        } else {
            rc = pipeline_document(ctx, el, origin, &raw, out);
        }
        ctx->raw = NULL; /* raw ends with the iteration */
    }
    return rc;
}

/* The one record for the elements past the budget: the whole body, once,
 * with the list of the elements it stands for. */
static int pipeline_write_refs(struct source_ctx *ctx, const char *origin, const char *data,
                               size_t len)
{
    struct pipeline *p = ctx->p;
    struct pipeline_refs *r = &ctx->refs;
    pipeline_refs_flush(r);
    int rc = buf_error(&r->list);
    if (rc < 0)
        return rc;
    char reason[512];
    snprintf(reason, sizeof(reason),
             "%zu more array elements rejected, recorded by reference to this body (first: %s)",
             r->count, r->first);
    log_error("rejected %s: %s (dead-lettered to %s)", origin, reason, deadletter_path(p->dl));
    return pipeline_dead_letter(p, reason, origin, r->list.data, data, len);
}

int pipeline_feed_elements(struct pipeline *p, const char *data, size_t len, const char *origin,
                           const struct pipeline_tenancy *tenancy, const char *elements,
                           struct buf *out)
{
    struct body *b = NULL;
    int rc = 0;
    char err[ERR_MAX];
    err[0] = '\0';
    struct source_ctx ctx = {.p = p, .transport = tenancy, .err = err};
    /* The records a body's elements may have of their own: about its own
     * size; past that they are recorded by reference (docs/operations.md). */
    ctx.refs.budget = len + PIPELINE_DEADLETTER_SLACK;
    p->points_max = len * PIPELINE_POINTS_FACTOR + PIPELINE_DEADLETTER_SLACK;
    p->points_out = 0;
    buf_init(&ctx.refs.list, len * 2 + 64);
    ctx.select = (struct pipeline_select){.all = !elements, .next = elements};
    if (elements)
        pipeline_select_next(&ctx.select);
    p->stats->lines++;
    p->stats->bytes += len;
    p->now_ns = p->fixed_now_ns >= 0 ? p->fixed_now_ns : timeutil_now_ns();
    p->receive_ns = p->fixed_receive_ns >= 0 ? p->fixed_receive_ns : p->now_ns;
    p->transport = tenancy;
    if (len > (size_t)p->cfg->ingest.max_body_bytes) {
        rc =
            pipeline_reject(p, origin, data, len, "body of %zu bytes exceeds max_body_bytes (%lld)",
                            len, (long long)p->cfg->ingest.max_body_bytes);
        goto out;
    }
    if (elements && !pipeline_select_valid(elements)) {
        /* kept with its list, for a person to mend: nothing is lost */
        const char *why = "the record's elements list is malformed; not replayed";
        p->stats->rejected++;
        log_error("rejected %s: %s (dead-lettered to %s)", origin, why, deadletter_path(p->dl));
        rc = pipeline_dead_letter(p, why, origin, elements, data, len);
        goto out;
    }
    const char *json = data;
    size_t jlen = len;
    if (jlen >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        jlen -= 3;
    }
    rc = body_parse(json, jlen, &b, ctx.err);
    if (rc == -ENOMEM)
        goto out;
    if (rc < 0) {
        rc = pipeline_reject(p, origin, data, len, "%s", ctx.err);
        goto out;
    }
    const struct body_node *doc = body_root(b);
    if (envelope_detect(doc)) {
        if (envelope_parse(doc, &ctx.env, ctx.err) < 0) {
            rc = pipeline_reject(p, origin, data, len, "%s", ctx.err);
            goto out;
        }
        doc = ctx.env.body;
    }
    /* An array is a batch of bodies, unless a source reads it whole (the
     * events of one stream). */
    if (body_type(doc) == BODY_ARRAY && !source_claims_whole(doc)) {
        rc = pipeline_array(&ctx, doc, origin, out);
        if (rc == 0 && ctx.refs.count)
            rc = pipeline_write_refs(&ctx, origin, data, len);
    } else {
        struct pipeline_raw raw = {.data = data, .len = len};
        rc = pipeline_document(&ctx, doc, origin, &raw, out);
    }
out:
    if (rc == -ENOMEM)
        log_msg_always(LOG_LEVEL_ERROR, "%s: out of memory", origin);
    buf_free(&ctx.refs.list);
    body_free(b);
    return rc;
}

int pipeline_feed(struct pipeline *p, const char *data, size_t len, const char *origin,
                  const struct pipeline_tenancy *tenancy, struct buf *out)
{
    return pipeline_feed_elements(p, data, len, origin, tenancy, NULL, out);
}
