/* SPDX-License-Identifier: MIT */
#include "tokenmeter/pricing.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/body.h"
#include "tokenmeter/buf.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/log.h"

#define PRICING_FILE_MAX   ((size_t)64 * 1024 * 1024) /* LiteLLM's is ~1.6 MB */
#define PRICING_NAME_MAX   512
#define PRICING_WARN_SLOTS 4096 /* distinct unpriced models warned about by name */

struct pricing_entry {
    char *name;
    uint64_t hash;
    struct pricing_price price;
};

struct pricing {
    struct pricing_entry *entries;
    size_t n;
    size_t cap;
    size_t *slots; /* index + 1 into entries; 0 = empty */
    size_t nslots; /* a power of two, at least twice n */
    /* Models already warned about (FNV hashes, 0 = empty), so each unpriced
     * model is logged once, not once per event. */
    uint64_t warned[PRICING_WARN_SLOTS];
    size_t nwarned;
    bool warned_overflow;
};

/* The LiteLLM keys tokenmeter prices with, and where they go. */
static const struct {
    const char *key;
    size_t off;
} pricing_file_keys[] = {
    {"input_cost_per_token", offsetof(struct pricing_price, input)},
    {"output_cost_per_token", offsetof(struct pricing_price, output)},
    {"cache_read_input_token_cost", offsetof(struct pricing_price, cache_read)},
    {"cache_creation_input_token_cost", offsetof(struct pricing_price, cache_write)},
    {"cache_creation_input_token_cost_above_1hr", offsetof(struct pricing_price, cache_write_1h)},
    {"output_cost_per_reasoning_token", offsetof(struct pricing_price, reasoning)},
};

/* The short names of a [prices] override, in the same order. */
static const char *const pricing_override_names[] = {
    "input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning",
};

#define PRICING_NKEYS (sizeof(pricing_file_keys) / sizeof(pricing_file_keys[0]))

static double *pricing_field(struct pricing_price *p, size_t i)
{
    return (double *)((char *)p + pricing_file_keys[i].off);
}

static void pricing_price_init(struct pricing_price *p)
{
    for (size_t i = 0; i < PRICING_NKEYS; i++)
        *pricing_field(p, i) = NAN;
}

static uint64_t pricing_hash(const char *s)
{
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, s, strlen(s));
    return h ? h : 1; /* 0 marks an empty warned slot */
}

static struct pricing_entry *pricing_find(const struct pricing *t, const char *name)
{
    if (!t || !t->nslots)
        return NULL;
    uint64_t h = pricing_hash(name);
    for (size_t i = (size_t)h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
        size_t s = t->slots[i];
        if (s == 0)
            return NULL;
        struct pricing_entry *e = &t->entries[s - 1];
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e;
    }
}

/* Rebuilds the slot index for the current entries. */
static int pricing_index(struct pricing *t)
{
    size_t want = 16;
    while (want < t->n * 2 + 2)
        want *= 2;
    size_t *slots = calloc(want, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = want;
    for (size_t k = 0; k < t->n; k++) {
        size_t i = (size_t)t->entries[k].hash & (want - 1);
        while (slots[i])
            i = (i + 1) & (want - 1);
        slots[i] = k + 1;
    }
    return 0;
}

/* Adds or replaces the entry for name. */
static int pricing_put(struct pricing *t, const char *name, const struct pricing_price *p)
{
    struct pricing_entry *e = pricing_find(t, name);
    if (e) {
        e->price = *p;
        return 0;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct pricing_entry *ne = realloc(t->entries, ncap * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        t->entries = ne;
        t->cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    t->entries[t->n++] =
        (struct pricing_entry){.name = copy, .hash = pricing_hash(name), .price = *p};
    if (t->n * 2 + 2 > t->nslots)
        return pricing_index(t);
    size_t i = (size_t)t->entries[t->n - 1].hash & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = t->n;
    return 0;
}

static int pricing_read_file(const char *path, struct buf *b, char err[ERR_MAX])
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        snprintf(err, ERR_MAX, "prices %s: cannot open: %s", path, strerror(e));
        return -e;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        rc = buf_append(b, chunk, n);
        if (rc < 0) {
            snprintf(err, ERR_MAX, "prices %s: %s", path,
                     rc == -ENOSPC ? "file larger than 64 MiB" : "out of memory");
            break;
        }
    }
    if (rc == 0 && ferror(fp)) {
        rc = -EIO;
        snprintf(err, ERR_MAX, "prices %s: read error", path);
    }
    fclose(fp);
    return rc;
}

/* One model of the LiteLLM file. Entries without a per-token input or output
 * price (images, audio seconds, the sample_spec documentation entry) are
 * skipped: they cannot price a token count. Returns 0, 1 (skipped) or
 * -EINVAL with err set. */
static int pricing_file_entry(const char *path, const char *model, const struct body_node *v,
                              struct pricing_price *p, char err[ERR_MAX])
{
    pricing_price_init(p);
    if (strcmp(model, "sample_spec") == 0 || body_type(v) != BODY_OBJECT)
        return 1;
    for (size_t i = 0; i < PRICING_NKEYS; i++) {
        char ptr[80];
        snprintf(ptr, sizeof(ptr), "/%s", pricing_file_keys[i].key);
        double d = 0;
        int rc = body_num(v, ptr, &d);
        if (rc == -ENOENT)
            continue;
        if (rc < 0 || d < 0) {
            snprintf(err, ERR_MAX, "prices %s: model \"%.128s\": %s is not a non-negative number",
                     path, model, pricing_file_keys[i].key);
            return -EINVAL;
        }
        *pricing_field(p, i) = d;
    }
    return isnan(p->input) && isnan(p->output) ? 1 : 0;
}

static int pricing_load_file(struct pricing *t, const char *path, char err[ERR_MAX])
{
    struct buf b;
    struct body *doc = NULL;
    int rc;
    buf_init(&b, PRICING_FILE_MAX);
    if ((rc = pricing_read_file(path, &b, err)) < 0)
        goto out;
    char perr[ERR_MAX];
    if ((rc = body_parse(b.data ? b.data : "", b.len, &doc, perr)) < 0) {
        snprintf(err, ERR_MAX, "prices %.300s: %.700s", path, perr);
        goto out;
    }
    const struct body_node *root = body_root(doc);
    if (body_type(root) != BODY_OBJECT) {
        snprintf(err, ERR_MAX,
                 "prices %s: not a JSON object keyed by model name (LiteLLM's "
                 "model_prices_and_context_window.json format)",
                 path);
        rc = -EINVAL;
        goto out;
    }
    size_t n = body_object_len(root);
    for (size_t i = 0; i < n; i++) {
        const char *model = body_object_key(root, i);
        struct pricing_price p;
        rc = pricing_file_entry(path, model, body_object_value(root, i), &p, err);
        if (rc < 0)
            goto out;
        if (rc == 0 && (rc = pricing_put(t, model, &p)) < 0) {
            snprintf(err, ERR_MAX, "prices %s: out of memory", path);
            goto out;
        }
    }
    rc = 0;
out:
    body_free(doc);
    buf_free(&b);
    return rc;
}

/* Parses one [prices] override: "input=1.5e-7 output=6e-7 cache_read=7.5e-8". */
static int pricing_parse_override(const struct config_kv *kv, struct pricing_price *p,
                                  char err[ERR_MAX])
{
    pricing_price_init(p);
    const char *s = kv->value;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, " \t,");
        const char *eq = memchr(s, '=', len);
        if (!eq) {
            snprintf(err, ERR_MAX, "%s: [prices] %.128s: \"%.*s\" is not NAME=USD_PER_TOKEN",
                     kv->origin, kv->key, (int)(len > 64 ? 64 : len), s);
            return -EINVAL;
        }
        size_t nlen = (size_t)(eq - s);
        size_t i = 0;
        for (; i < PRICING_NKEYS; i++)
            if (strlen(pricing_override_names[i]) == nlen &&
                memcmp(pricing_override_names[i], s, nlen) == 0)
                break;
        if (i == PRICING_NKEYS) {
            snprintf(err, ERR_MAX,
                     "%s: [prices] %.128s: unknown price \"%.*s\" (expected input, output, "
                     "cache_read, cache_write, cache_write_1h or reasoning)",
                     kv->origin, kv->key, (int)(nlen > 64 ? 64 : nlen), s);
            return -EINVAL;
        }
        char num[64];
        size_t vlen = len - nlen - 1;
        char *end = NULL;
        double d = NAN;
        if (vlen > 0 && vlen < sizeof(num)) {
            memcpy(num, eq + 1, vlen);
            num[vlen] = '\0';
            errno = 0;
            d = strtod(num, &end);
            if (errno || *end || end == num)
                d = NAN;
        }
        if (!isfinite(d) || d < 0) {
            snprintf(err, ERR_MAX,
                     "%s: [prices] %.128s: %s: expected a non-negative number of USD per token",
                     kv->origin, kv->key, pricing_override_names[i]);
            return -EINVAL;
        }
        *pricing_field(p, i) = d;
        s += len;
    }
    if (isnan(p->input) && isnan(p->output)) {
        snprintf(err, ERR_MAX, "%s: [prices] %.128s: give at least input= or output=", kv->origin,
                 kv->key);
        return -EINVAL;
    }
    return 0;
}

int pricing_load(const char *path, const struct config_kv_list *overrides, struct pricing **out,
                 char err[ERR_MAX])
{
    int rc = 0;
    struct pricing *t = calloc(1, sizeof(*t));
    *out = NULL;
    if (!t) {
        snprintf(err, ERR_MAX, "prices: out of memory");
        return -ENOMEM;
    }
    if ((rc = pricing_index(t)) < 0) {
        snprintf(err, ERR_MAX, "prices: out of memory");
        goto out;
    }
    if (path && *path && (rc = pricing_load_file(t, path, err)) < 0)
        goto out;
    for (size_t i = 0; overrides && i < overrides->len; i++) {
        const struct config_kv *kv = &overrides->items[i];
        struct pricing_price p;
        if ((rc = pricing_parse_override(kv, &p, err)) < 0)
            goto out;
        if ((rc = pricing_put(t, kv->key, &p)) < 0) {
            snprintf(err, ERR_MAX, "%s: out of memory", kv->origin);
            goto out;
        }
    }
    *out = t;
    t = NULL;
out:
    pricing_free(t);
    return rc;
}

void pricing_free(struct pricing *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->entries[i].name);
    free(t->entries);
    free(t->slots);
    free(t);
}

size_t pricing_count(const struct pricing *t)
{
    return t ? t->n : 0;
}

const struct pricing_price *pricing_lookup(const struct pricing *t, const char *model,
                                           const char *provider)
{
    if (!t || !model || !*model)
        return NULL;
    const struct pricing_entry *e = pricing_find(t, model);
    if (e)
        return &e->price;
    const char *slash = strchr(model, '/');
    if (slash && slash[1] && (e = pricing_find(t, slash + 1)))
        return &e->price;
    if (provider && *provider) {
        char name[PRICING_NAME_MAX];
        int n = snprintf(name, sizeof(name), "%s/%s", provider, model);
        if (n > 0 && (size_t)n < sizeof(name) && (e = pricing_find(t, name)))
            return &e->price;
    }
    return NULL;
}

/* Adds count x price to *sum, or records that the price is missing. */
static void pricing_part(int64_t count, double price, const char *what, double *sum,
                         const char **missing)
{
    if (count <= 0)
        return;
    if (isnan(price)) {
        if (!*missing)
            *missing = what;
        return;
    }
    *sum += (double)count * price;
}

static double pricing_or(double a, double b)
{
    return isnan(a) ? b : a;
}

static int64_t pricing_known(int64_t v)
{
    return v == EVENT_ABSENT ? 0 : v;
}

int pricing_cost(const struct pricing_price *p, const struct event *ev, double *usd,
                 const char **missing)
{
    const char *miss = NULL;
    /* Absent means unknown, not zero (SPEC 3): a cost from half the counts
     * would look complete while it is not. */
    if (ev->input_tokens == EVENT_ABSENT || ev->output_tokens == EVENT_ABSENT)
        return -ENODATA;
    int64_t cached = pricing_known(ev->cached_input_tokens);
    int64_t writes = pricing_known(ev->cache_write_tokens);
    int64_t writes_1h = pricing_known(ev->cache_write_1h_tokens);
    int64_t reasoning = pricing_known(ev->reasoning_tokens);
    int64_t input = pricing_known(ev->input_tokens);
    int64_t output = pricing_known(ev->output_tokens);
    /* The pipeline has checked that the parts fit inside their totals. */
    double cache_write = pricing_or(p->cache_write, p->input);
    double sum = 0;
    pricing_part(input - cached - writes, p->input, "input", &sum, &miss);
    pricing_part(cached, pricing_or(p->cache_read, p->input), "cache_read", &sum, &miss);
    pricing_part(writes - writes_1h, cache_write, "cache_write", &sum, &miss);
    pricing_part(writes_1h, pricing_or(p->cache_write_1h, cache_write), "cache_write_1h", &sum,
                 &miss);
    pricing_part(output - reasoning, p->output, "output", &sum, &miss);
    pricing_part(reasoning, pricing_or(p->reasoning, p->output), "reasoning", &sum, &miss);
    if (missing)
        *missing = miss;
    if (miss)
        return -ENOENT;
    /* Picodollar rounding: the nearest double to a 12-decimal amount prints
     * in its shortest form (0.0003345, not 0.00033450000000000005). */
    *usd = round(sum * 1e12) / 1e12;
    return 0;
}

/* True the first time `model` is seen here (and remembered). */
static bool pricing_first_warning(struct pricing *t, const char *model)
{
    uint64_t h = pricing_hash(model);
    size_t mask = PRICING_WARN_SLOTS - 1;
    for (size_t i = (size_t)h & mask, k = 0; k < PRICING_WARN_SLOTS; i = (i + 1) & mask, k++) {
        if (t->warned[i] == h)
            return false;
        if (t->warned[i] == 0) {
            /* Keep a quarter free so probes stay short. */
            if (t->nwarned >= PRICING_WARN_SLOTS * 3 / 4)
                break;
            t->warned[i] = h;
            t->nwarned++;
            return true;
        }
    }
    if (!t->warned_overflow) {
        t->warned_overflow = true;
        log_warn("more than %d models without a price; further ones are not named (the "
                 "unpriced counter still counts them)",
                 PRICING_WARN_SLOTS * 3 / 4);
    }
    return false;
}

void pricing_apply(struct pricing *t, struct event *ev)
{
    const char *model = ev->model ? ev->model : "";
    const struct pricing_price *p = pricing_lookup(t, ev->model, ev->provider);
    const char *missing = NULL;
    double usd = 0;
    int rc = p ? pricing_cost(p, ev, &usd, &missing) : -ENOENT;
    if (rc == 0) {
        ev->cost_usd = usd;
        ev->cost_source = EVENT_COST_COMPUTED;
        return;
    }
    ev->cost_usd = NAN;
    ev->cost_source = EVENT_COST_UNPRICED;
    if (rc == -ENODATA || !t || !pricing_first_warning(t, model))
        return;
    if (!p)
        log_warn("no price for model \"%.200s\" (provider %.64s): its events are written with "
                 "cost_source=\"unpriced\"; add it to the prices file or [prices]",
                 model, ev->provider ? ev->provider : "unknown");
    else
        log_warn("model \"%.200s\" has no %s price: its events are written with "
                 "cost_source=\"unpriced\"",
                 model, missing);
}
