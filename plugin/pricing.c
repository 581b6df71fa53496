/* SPDX-License-Identifier: MIT */
#include "tokenmeter/pricing.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "tokenmeter/body.h"
#include "tokenmeter/buf.h"
#include "tokenmeter/log.h"
#include "tokenmeter/map.h"
#include "tokenmeter/tzday.h"
#include "tokenmeter/vec.h"

#ifndef TOKENMETER_DATADIR
#define TOKENMETER_DATADIR "/usr/local/share/tokenmeter"
#endif

#define PRICING_FILE_MAX      ((size_t)64 * 1024 * 1024) /* LiteLLM's is ~3.5 MB */
#define PRICING_KEY_MAX       160
#define PRICING_WARN_MAX      3072 /* distinct unpriced models warned about by name */
#define PRICING_SEARCH        "search_context_cost_per_query"
#define PRICING_BATCH_SFX     "_batches"
#define PRICING_PER_PROMPT    "web_search_per_prompt" /* 1: searches bill once a prompt */
#define PRICING_GOOGLE_SEARCH 35e-3 /* LiteLLM's gemini default when the map has none */
#define PRICING_ROUTE         "provider_specific_entry." /* geo / speed multipliers */

/* One rate of a model: LiteLLM key (offset into the table's text) -> USD. */
struct pricing_rate {
    size_t key;
    double usd;
};

struct pricing_model {
    const struct pricing *t;
    size_t name;     /* offset into t->text */
    size_t provider; /* its litellm_provider, offset into t->text; PRICING_NONE: none */
    size_t first;    /* rates[first .. first + n) */
    size_t n;
    unsigned flags; /* PRICING_F_*: provider rules LiteLLM keys to litellm_provider */
    size_t first_window, nwindows; /* t->windows[]: its off-peak hours */
    size_t zone;                   /* the calendar its weekdays are read on; PRICING_NONE: UTC */
};

/* One off-peak rule of an entry's off_peak_pricing: minutes of the UTC day
 * [start, end), wrapping past midnight when end < start, the whole day when
 * they are equal; on the ISO weekdays whose bit (1 << day, Monday = 1) is
 * set. */
struct pricing_window {
    uint16_t start, end;
    uint8_t days;
};
#define PRICING_EVERY_DAY 0xfe

/* The last weekday read on a zone's calendar, for the quarter hour it holds
 * in: every zone's offset and every local midnight fall on a quarter hour
 * of UTC, so the weekday cannot change inside one. Events come in time
 * order, so the TZ database is read about once a quarter hour, not twice
 * an event (tzday_weekday_in switches TZ). */
struct pricing_weekday_memo {
    size_t zone;     /* offset into the table's text; PRICING_NONE: empty */
    int64_t quarter; /* ns / 15 min */
    unsigned iso;
};
#define PRICING_QUARTER_NS (15 * 60000000000LL)
#define PRICING_OFF_PEAK   "off_peak_pricing."

#define PRICING_NONE ((size_t)-1)

/* xAI bills a tier once the prompt reaches its threshold (>=, not >), and
 * its completion as a whole at the output rate, as LiteLLM's xAI calculator
 * does (docs/pricing.md, rule 8). */
#define PRICING_F_XAI 1u
/* Fireworks: a model without a cache-read price reads at half the input
 * price, and LiteLLM's Fireworks calculator prices every request at the
 * standard tier (docs/pricing.md, rule 8). */
#define PRICING_F_FIREWORKS    2u
#define PRICING_FIREWORKS_READ 0.5
#define PRICING_XAI_SEARCH     5e-3 /* LiteLLM's xAI default per search */
/* The entry has tiered_pricing range tiers with an input price. */
#define PRICING_F_TIERS 4u
/* A [prices] override: it wins the lookup under any provider. */
#define PRICING_F_OVERRIDE 8u
#define PRICING_TIER_FMT   "tiered_pricing.%zu."
#define PRICING_TIERS_MAX  64

struct pricing {
    struct buf text; /* every model name and rate key, NUL-terminated */
    struct pricing_rate *rates;
    size_t nrates, cap_rates;
    struct pricing_model *models;
    size_t nmodels, cap_models;
    struct map index;  /* model name -> models[] */
    struct map folded; /* lower-cased model name -> models[] */
    size_t *providers; /* offsets into text: the providers LiteLLM would name */
    size_t nproviders, cap_providers;
    struct map provider_index; /* provider -> providers[] */
    size_t noverrides;
    struct pricing_window *windows;
    size_t nwindows, cap_windows;
    struct pricing_weekday_memo *memo; /* owned; written through a const table */
    struct map warned;                 /* hashes of the models already warned about */
    char *path;                        /* the file loaded, or NULL */
    bool warned_overflow;
};

/* The key families tokenmeter prices with: each with its tier, service tier
 * and batch variants (input_cost_per_token_above_200k_tokens_priority ...). */
static const char *const pricing_families[] = {
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
    "input_cost_per_audio_token",
    "output_cost_per_audio_token",
    "cache_read_input_audio_token_cost",
    "input_cost_per_image_token",
    "output_cost_per_image_token",
};

/* The short names of a [prices] override and the keys they stand for. */
static const struct {
    const char *name;
    const char *key;
} pricing_short_names[] = {
    {"input", "input_cost_per_token"},
    {"output", "output_cost_per_token"},
    {"cache_read", "cache_read_input_token_cost"},
    {"cache_write", "cache_creation_input_token_cost"},
    {"cache_write_1h", "cache_creation_input_token_cost_above_1hr"},
    {"reasoning", "output_cost_per_reasoning_token"},
};

/* The four families whose *_above_<N>_tokens keys move a whole request to a
 * long-context tier (LiteLLM's _BATCH_RATE_PREFIXES), as threshold prefixes. */
static const char *const pricing_tier_prefixes[] = {
    "input_cost_per_token_above_",
    "output_cost_per_token_above_",
    "cache_read_input_token_cost_above_",
    "cache_creation_input_token_cost_above_",
};

/* Suffixes that make a threshold key belong to a service tier or batch
 * pricing rather than the standard one. */
static const char *const pricing_nonstandard_sfx[] = {
    "_auto", "_flex", "_balanced", "_priority", "_fast", "_ultrafast", PRICING_BATCH_SFX,
};

#define PRICING_N(a) (sizeof(a) / sizeof((a)[0]))

static bool pricing_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool pricing_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool pricing_kept_key(const char *key)
{
    for (size_t i = 0; i < PRICING_N(pricing_families); i++)
        if (pricing_starts(key, pricing_families[i]))
            return true;
    return false;
}

static const char *pricing_text(const struct pricing *t, size_t off)
{
    return t->text.data + off;
}

static struct pricing_model *pricing_find(const struct pricing *t, const char *name)
{
    uint64_t h = map_hash_str(MAP_HASH_INIT, name);
    for (size_t it = map_first(&t->index, h), i; (i = map_next(&t->index, h, &it)) != MAP_NONE;)
        if (strcmp(pricing_text(t, t->models[i].name), name) == 0)
            return &t->models[i];
    return NULL;
}

/* The hash of a name with ASCII letters lower-cased. */
static uint64_t pricing_hash_folded(const char *name)
{
    char low[PRICING_NAME_MAX];
    size_t n = 0;
    for (; name[n] && n < sizeof(low); n++)
        low[n] = (char)((name[n] >= 'A' && name[n] <= 'Z') ? name[n] - 'A' + 'a' : name[n]);
    return map_hash(MAP_HASH_INIT, low, n);
}

/* The entry of `name`, or else of a name equal but for case: LiteLLM's
 * get_model_cost_key() falls back to a case-insensitive match. */
static const struct pricing_model *pricing_find_any_case(const struct pricing *t, const char *name)
{
    const struct pricing_model *m = pricing_find(t, name);
    if (m)
        return m;
    /* Of names equal but for case, the last in the file: LiteLLM's
     * lower-cased index ({k.lower(): k}) keeps the last. */
    uint64_t h = pricing_hash_folded(name);
    const struct pricing_model *last = NULL;
    for (size_t it = map_first(&t->folded, h), i; (i = map_next(&t->folded, h, &it)) != MAP_NONE;)
        if (strcasecmp(pricing_text(t, t->models[i].name), name) == 0 &&
            (!last || &t->models[i] > last))
            last = &t->models[i];
    return last;
}

static bool pricing_known_provider(const struct pricing *t, const char *provider)
{
    uint64_t h = map_hash_str(MAP_HASH_INIT, provider);
    for (size_t it = map_first(&t->provider_index, h), i;
         (i = map_next(&t->provider_index, h, &it)) != MAP_NONE;)
        if (strcmp(pricing_text(t, t->providers[i]), provider) == 0)
            return true;
    return false;
}

/* Adds a provider LiteLLM would name (a litellm_provider, or the family a
 * "vertex_ai-..." or "fireworks_ai-..." one belongs to). Returns 0 or
 * -ENOMEM. */
static int pricing_add_provider(struct pricing *t, const char *provider, size_t len)
{
    char name[PRICING_KEY_MAX];
    if (len >= sizeof(name))
        return 0;
    memcpy(name, provider, len);
    name[len] = '\0';
    if (pricing_known_provider(t, name))
        return 0;
    size_t off = t->text.len;
    buf_append(&t->text, name, len + 1);
    if (buf_error(&t->text) ||
        vec_reserve(&t->providers, &t->cap_providers, t->nproviders + 1, sizeof(*t->providers)) < 0)
        return -ENOMEM;
    if (map_insert(&t->provider_index, map_hash_str(MAP_HASH_INIT, name), t->nproviders) < 0)
        return -ENOMEM;
    t->providers[t->nproviders++] = off;
    return 0;
}

/* Appends a rate to the table (it belongs to the model being built). */
static int pricing_add_rate(struct pricing *t, const char *key, double usd)
{
    size_t off = t->text.len;
    buf_append(&t->text, key, strlen(key) + 1);
    if (buf_error(&t->text) ||
        vec_reserve(&t->rates, &t->cap_rates, t->nrates + 1, sizeof(*t->rates)) < 0)
        return -ENOMEM;
    t->rates[t->nrates++] = (struct pricing_rate){off, usd};
    return 0;
}

/* Makes the rates from `first` on the entry of `name`, replacing an
 * existing entry's rates as a whole. */
static int pricing_put(struct pricing *t, const char *name, const char *provider, size_t first,
                       unsigned flags)
{
    size_t prov = PRICING_NONE;
    if (provider) {
        prov = t->text.len;
        buf_append(&t->text, provider, strlen(provider) + 1);
        if (buf_error(&t->text))
            return -ENOMEM;
    }
    struct pricing_model *m = pricing_find(t, name);
    if (m) {
        m->nwindows = 0;
        m->zone = PRICING_NONE;
        m->provider = prov;
        m->first = first;
        m->n = t->nrates - first;
        m->flags = flags;
        return 0;
    }
    size_t off = t->text.len;
    buf_append(&t->text, name, strlen(name) + 1);
    if (buf_error(&t->text) ||
        vec_reserve(&t->models, &t->cap_models, t->nmodels + 1, sizeof(*t->models)) < 0)
        return -ENOMEM;
    if (map_insert(&t->index, map_hash_str(MAP_HASH_INIT, name), t->nmodels) < 0 ||
        map_insert(&t->folded, pricing_hash_folded(name), t->nmodels) < 0)
        return -ENOMEM;
    t->models[t->nmodels++] =
        (struct pricing_model){t, off, prov, first, t->nrates - first, flags, 0, 0, PRICING_NONE};
    return 0;
}

static int pricing_read_file(const char *path, struct buf *b, char err[ERR_MAX])
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        return err_set(err, -e, "prices %s: cannot open: %s", path, strerror(e));
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && buf_append(b, chunk, n) == 0)
        ;
    int rc = buf_error(b);
    if (rc < 0)
        err_set(err, rc, "prices %s: %s", path,
                rc == -ENOSPC ? "file larger than 64 MiB" : "out of memory");
    else if (ferror(fp))
        rc = err_set(err, -EIO, "prices %s: read error", path);
    fclose(fp);
    return rc;
}

/* A price value: a non-negative number, or -EINVAL. */
static int pricing_value(const struct body_node *v, double *usd)
{
    enum body_type ty = body_type(v);
    if ((ty != BODY_INT && ty != BODY_REAL) || body_num(v, "", usd) < 0 || !(*usd >= 0))
        return -EINVAL;
    return 0;
}

/* A Google model in LiteLLM's sense: its web search is costed by the
 * gemini / vertex_ai calculators (cost_per_web_search_request), not per
 * search; Claude served by Vertex is not one. */
static bool pricing_google(const char *model, const struct body_node *v)
{
    const char *provider = body_str(v, "/litellm_provider");
    if (!provider || (strcmp(provider, "gemini") != 0 && !pricing_starts(provider, "vertex_ai")))
        return false;
    for (const char *p = model; *p; p++)
        if (strncasecmp(p, "claude", 6) == 0)
            return false;
    return true;
}

/* The web search rates of an entry: the price LiteLLM bills a search
 * without a context size option at (get_default_cost_for_web_search).
 * Google bills grounding with Search per grounded prompt unless the entry
 * says per_query, and LiteLLM prices a Google model without a search price
 * at its own default ($35 per 1000), which tokenmeter follows. */
static int pricing_search_rates(struct pricing *t, const char *path, const char *model,
                                const struct body_node *v, char err[ERR_MAX])
{
    const struct body_node *search = body_get(v, "/" PRICING_SEARCH "/search_context_size_medium");
    bool google = pricing_google(model, v);
    const char *unit = body_str(v, "/web_search_billing_unit");
    double usd = 0;
    enum body_type ty = body_type(search);
    bool priced = ty != BODY_NULL && ty != BODY_ABSENT;
    if (priced && pricing_value(search, &usd) < 0)
        return err_set(err, -EINVAL,
                       "prices %s: model \"%.128s\": " PRICING_SEARCH
                       ".search_context_size_medium is not a non-negative number",
                       path, model);
    if (!priced && google)
        usd = PRICING_GOOGLE_SEARCH;
    /* xAI: the first positive of medium, low, high, else LiteLLM's default. */
    const char *provider = body_str(v, "/litellm_provider");
    bool xai = provider && strcmp(provider, "xai") == 0;
    if (xai) {
        static const char *const sizes[] = {"/" PRICING_SEARCH "/search_context_size_medium",
                                            "/" PRICING_SEARCH "/search_context_size_low",
                                            "/" PRICING_SEARCH "/search_context_size_high"};
        usd = PRICING_XAI_SEARCH;
        for (size_t i = 0; i < PRICING_N(sizes); i++) {
            double d = 0;
            if (pricing_value(body_get(v, sizes[i]), &d) == 0 && d > 0) {
                usd = d;
                break;
            }
        }
    }
    if (((priced || google || xai) && pricing_add_rate(t, PRICING_SEARCH, usd) < 0) ||
        (google && !(unit && strcmp(unit, "per_query") == 0) &&
         pricing_add_rate(t, PRICING_PER_PROMPT, 1) < 0))
        return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    return 0;
}

/* The routing multipliers of provider_specific_entry ({"us": 1.1, "fast":
 * 2.0} on Anthropic's models): LiteLLM scales a request's token cost by the
 * entry for the usage's inference_geo (lower-cased; "global" and
 * "not_available" excepted) and, when usage.speed is "fast", by the "fast"
 * entry — in its Anthropic calculator both, in its Bedrock one the geo only
 * (litellm/llms/anthropic/cost_calculation.py and
 * litellm/llms/bedrock/cost_calculation.py, through
 * get_provider_specific_geo_multiplier and
 * get_provider_specific_speed_multiplier in
 * litellm/litellm_core_utils/llm_cost_calc/utils.py). They are kept as the
 * rates PRICING_ROUTE "<key>"; other providers' entries are not read. */
static int pricing_route_rates(struct pricing *t, const char *path, const char *provider,
                               const struct body_node *v, char err[ERR_MAX])
{
    bool anthropic = provider && strcmp(provider, "anthropic") == 0;
    bool bedrock = provider && strcmp(provider, "bedrock") == 0;
    const struct body_node *pse = body_get(v, "/provider_specific_entry");
    for (size_t i = 0; (anthropic || bedrock) && i < body_object_len(pse); i++) {
        const char *name = body_object_key(pse, i);
        char key[PRICING_KEY_MAX];
        double x = 0;
        if (pricing_value(body_object_value(pse, i), &x) < 0 ||
            (bedrock && strcmp(name, "fast") == 0) ||
            (size_t)snprintf(key, sizeof(key), PRICING_ROUTE "%s", name) >= sizeof(key))
            continue;
        if (pricing_add_rate(t, key, x) < 0)
            return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    }
    return 0;
}

/* A tiered_pricing list (Alibaba's Model Studio and others: one tier, chosen
 * by the prompt's size, prices the whole request): each tier with a valid
 * "range": [start, end] is kept as the rates "tiered_pricing.<i>.range_start",
 * ".range_end" and ".<key>" for its per-token keys. Returns the number of
 * tiers kept with an input price, or -EINVAL / -ENOMEM with err set. */
static int pricing_tier_rates(struct pricing *t, const char *path, const char *model,
                              const struct body_node *v, char err[ERR_MAX])
{
    const struct body_node *tiers = body_get(v, "/tiered_pricing");
    int priced = 0;
    for (size_t i = 0, kept = 0; i < body_array_len(tiers); i++) {
        const struct body_node *tier = body_array_at(tiers, i);
        const struct body_node *range = body_get(tier, "/range");
        double lo = 0, hi = 0;
        if (body_array_len(range) != 2 || body_num(body_array_at(range, 0), "", &lo) < 0 ||
            body_num(body_array_at(range, 1), "", &hi) < 0)
            continue; /* LiteLLM ignores a tier without a usable range */
        char key[PRICING_KEY_MAX * 2];
        snprintf(key, sizeof(key), PRICING_TIER_FMT "range_start", kept);
        int rc = pricing_add_rate(t, key, lo);
        snprintf(key, sizeof(key), PRICING_TIER_FMT "range_end", kept);
        if (rc < 0 || pricing_add_rate(t, key, hi) < 0)
            return err_set(err, -ENOMEM, "prices %s: out of memory", path);
        for (size_t k = 0; k < body_object_len(tier); k++) {
            const char *name = body_object_key(tier, k);
            double usd = 0;
            if (!pricing_kept_key(name) || body_type(body_object_value(tier, k)) == BODY_NULL)
                continue;
            if (strlen(name) >= PRICING_KEY_MAX ||
                pricing_value(body_object_value(tier, k), &usd) < 0)
                return err_set(err, -EINVAL,
                               "prices %s: model \"%.128s\": tiered_pricing[%zu].%.100s is not a "
                               "non-negative number",
                               path, model, i, name);
            snprintf(key, sizeof(key), PRICING_TIER_FMT "%s", kept, name);
            if (pricing_add_rate(t, key, usd) < 0)
                return err_set(err, -ENOMEM, "prices %s: out of memory", path);
            priced += strcmp(name, "input_cost_per_token") == 0;
        }
        kept++;
    }
    return priced;
}

/* One model of the LiteLLM file: its kept rates are appended. Entries
 * without a per-token input or output price, flat or in a range tier
 * (images, audio seconds, the sample_spec documentation entry), are
 * skipped: they cannot price a token count. Returns 0, 1 (skipped) or
 * -EINVAL / -ENOMEM with err set. */
/* Parses "HH:MM-HH:MM" (spaces around either time allowed) into minutes of
 * the day. Returns 0, or -EINVAL for a malformed window, which LiteLLM's
 * _is_within_off_peak_window skips. */
static int pricing_hhmm_range(const char *s, uint16_t *start, uint16_t *end)
{
    unsigned v[2];
    for (int i = 0; i < 2; i++) {
        unsigned hm[2] = {0, 0};
        while (isspace((unsigned char)*s))
            s++;
        /* strptime's %H and %M: one or two digits each */
        for (int part = 0; part < 2; part++) {
            unsigned digits = 0;
            for (; isdigit((unsigned char)*s) && digits < 2; s++, digits++)
                hm[part] = hm[part] * 10 + (unsigned)(*s - '0');
            if (digits == 0 || (part == 0 && *s++ != ':'))
                return -EINVAL;
        }
        while (isspace((unsigned char)*s))
            s++;
        if (hm[0] > 23 || hm[1] > 59 || *s++ != (i == 0 ? '-' : '\0'))
            return -EINVAL;
        v[i] = hm[0] * 60 + hm[1];
    }
    *start = (uint16_t)v[0];
    *end = (uint16_t)v[1];
    return 0;
}

/* The ISO weekday (1 = Monday .. 7 = Sunday) a weekdays item names, as
 * LiteLLM's _normalize_weekday: 1..7 or an English name or abbreviation.
 * 0 when it names none. */
static int pricing_weekday(const struct body_node *v)
{
    static const char *const names[][4] = {
        {"mon", "monday", NULL, NULL},    {"tue", "tues", "tuesday", NULL},
        {"wed", "wednesday", NULL, NULL}, {"thu", "thur", "thurs", "thursday"},
        {"fri", "friday", NULL, NULL},    {"sat", "saturday", NULL, NULL},
        {"sun", "sunday", NULL, NULL},
    };
    double d = 0;
    if (body_type(v) == BODY_INT && body_num(v, "", &d) == 0)
        return d >= 1 && d <= 7 ? (int)d : 0;
    const char *s = body_str(v, "");
    if (!s)
        return 0;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    for (int day = 0; day < 7; day++)
        for (int i = 0; i < 4 && names[day][i]; i++)
            if (strlen(names[day][i]) == n && strncasecmp(s, names[day][i], n) == 0)
                return day + 1;
    return 0;
}

/* Appends the windows of an hours_utc value (a string or a list of them)
 * for the given days. Returns 0 or -ENOMEM. */
static int pricing_add_windows(struct pricing *t, const struct body_node *hours, uint8_t days)
{
    size_t n = body_type(hours) == BODY_ARRAY ? body_array_len(hours) : 1;
    for (size_t i = 0; i < n && days; i++) {
        const char *s =
            body_str(body_type(hours) == BODY_ARRAY ? body_array_at(hours, i) : hours, "");
        struct pricing_window w = {0, 0, days};
        if (!s || pricing_hhmm_range(s, &w.start, &w.end) < 0)
            continue;
        if (vec_reserve(&t->windows, &t->cap_windows, t->nwindows + 1, sizeof(*t->windows)) < 0)
            return -ENOMEM;
        t->windows[t->nwindows++] = w;
    }
    return 0;
}

/* An entry's off_peak_pricing (LiteLLM's OffPeakPricing): its rates as
 * "off_peak_pricing.<key>", its windows in t->windows, and in *zone the
 * weekday_timezone its weekdays are read on (an offset into t->text;
 * PRICING_NONE: UTC, also for a zone the TZ database lacks, as LiteLLM's
 * _weekday_calendar). A value LiteLLM would not read as a rate or a window
 * is skipped, as LiteLLM skips it. Returns 0 or -ENOMEM. */
static int pricing_off_peak(struct pricing *t, const struct body_node *v, size_t *zone)
{
    static const char *const keys[] = {
        "input_cost_per_token",
        "output_cost_per_token",
        "output_cost_per_reasoning_token",
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
    };
    const struct body_node *op = body_get(v, "/off_peak_pricing");
    if (body_type(op) != BODY_OBJECT)
        return 0;
    for (size_t i = 0; i < PRICING_N(keys); i++) {
        char key[PRICING_KEY_MAX];
        snprintf(key, sizeof(key), "/%s", keys[i]);
        const struct body_node *r = body_get(op, key);
        double usd = NAN;
        const char *str = body_str(r, "");
        if (body_type(r) == BODY_INT || body_type(r) == BODY_REAL)
            body_num(r, "", &usd);
        else if (str) {
            /* Python's float(): blanks around, decimal digits only (strtod
             * would also read hex, inf and nan) */
            char *end = NULL;
            bool decimal = str[strspn(str, "+-.0123456789eE \t\n\r\f\v")] == '\0';
            usd = decimal ? strtod(str, &end) : NAN;
            while (end && isspace((unsigned char)*end))
                end++;
            if (!decimal || end == str || (end && *end))
                usd = NAN;
        }
        if (isnan(usd) || usd < 0)
            continue;
        snprintf(key, sizeof(key), PRICING_OFF_PEAK "%s", keys[i]);
        if (pricing_add_rate(t, key, usd) < 0)
            return -ENOMEM;
    }
    int rc = pricing_add_windows(t, body_get(op, "/hours_utc"), PRICING_EVERY_DAY);
    const char *name = body_str(op, "/weekday_timezone");
    char trimmed[128];
    size_t len = name ? strlen(name) : 0;
    while (name && len > 0 && name[len - 1] == ' ')
        len--;
    while (name && len > 0 && *name == ' ')
        name++, len--;
    if (len > 0 && len < sizeof(trimmed)) {
        snprintf(trimmed, sizeof(trimmed), "%.*s", (int)len, name);
        if (strcmp(trimmed, "UTC") != 0 && tzday_zone_valid(trimmed) == 0) {
            *zone = t->text.len;
            buf_append(&t->text, trimmed, len + 1);
            if (buf_error(&t->text))
                return -ENOMEM;
        }
    }
    const struct body_node *rules = body_get(op, "/windows");
    for (size_t i = 0; rc == 0 && i < body_array_len(rules); i++) {
        const struct body_node *rule = body_array_at(rules, i);
        const struct body_node *days = body_get(rule, "/weekdays");
        uint8_t mask = body_type(rule) == BODY_OBJECT ? PRICING_EVERY_DAY : 0;
        if (days && body_type(days) != BODY_NULL) {
            mask = 0;
            for (size_t d = 0; d < body_array_len(days); d++) {
                int day = pricing_weekday(body_array_at(days, d));
                mask = (uint8_t)(mask | (day ? 1u << day : 0u));
            }
        }
        rc = pricing_add_windows(t, body_get(rule, "/hours_utc"), mask);
    }
    return rc;
}

static int pricing_file_entry(struct pricing *t, const char *path, const char *model,
                              const struct body_node *v, char err[ERR_MAX])
{
    if (strcmp(model, "sample_spec") == 0 || body_type(v) != BODY_OBJECT)
        return 1;
    size_t first = t->nrates;
    size_t n = body_object_len(v);
    int tiers = pricing_tier_rates(t, path, model, v, err), rc;
    if (tiers < 0)
        return tiers;
    if (tiers == 0 && !body_has(v, "/input_cost_per_token") &&
        !body_has(v, "/output_cost_per_token")) {
        t->nrates = first;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = body_object_key(v, i);
        const struct body_node *val = body_object_value(v, i);
        double usd = 0;
        if (!pricing_kept_key(key) || body_type(val) == BODY_NULL)
            continue;
        if (strlen(key) >= PRICING_KEY_MAX || pricing_value(val, &usd) < 0)
            return err_set(err, -EINVAL,
                           "prices %s: model \"%.128s\": %.160s is not a non-negative number", path,
                           model, key);
        if (pricing_add_rate(t, key, usd) < 0)
            return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    }
    if ((rc = pricing_search_rates(t, path, model, v, err)) < 0)
        return rc;
    const char *provider = body_str(v, "/litellm_provider");
    if ((rc = pricing_route_rates(t, path, provider, v, err)) < 0)
        return rc;
    size_t first_window = t->nwindows, zone = PRICING_NONE;
    if (pricing_off_peak(t, v, &zone) < 0)
        return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    unsigned flags = !provider                               ? 0
                     : strcmp(provider, "xai") == 0          ? PRICING_F_XAI
                     : strcmp(provider, "fireworks_ai") == 0 ? PRICING_F_FIREWORKS
                                                             : 0;
    if (tiers > 0)
        flags |= PRICING_F_TIERS;
    if (pricing_put(t, model, provider, first, flags) < 0)
        return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    struct pricing_model *m = pricing_find(t, model);
    m->first_window = first_window;
    m->nwindows = t->nwindows - first_window;
    m->zone = zone;
    rc = 0;
    if (provider &&
        (pricing_starts(provider, "vertex_ai-") || pricing_starts(provider, "fireworks_ai-")))
        rc = pricing_add_provider(t, provider, strcspn(provider, "-"));
    if (provider && rc == 0)
        rc = pricing_add_provider(t, provider, strlen(provider));
    if (rc < 0)
        return err_set(err, -ENOMEM, "prices %s: out of memory", path);
    return 0;
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
    if ((rc = body_parse_max(b.data ? b.data : "", b.len, 0, &doc, perr)) < 0) {
        err_set(err, rc, "prices %.300s: %.700s", path, perr);
        goto out;
    }
    const struct body_node *root = body_root(doc);
    if (body_type(root) != BODY_OBJECT) {
        rc = err_set(err, -EINVAL,
                     "prices %s: not a JSON object keyed by model name (LiteLLM's "
                     "model_prices_and_context_window.json format)",
                     path);
        goto out;
    }
    size_t n = body_object_len(root);
    for (size_t i = 0; i < n; i++) {
        rc = pricing_file_entry(t, path, body_object_key(root, i), body_object_value(root, i), err);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    body_free(doc);
    buf_free(&b);
    return rc;
}

/* The LiteLLM key an override NAME stands for: a short name, or a key the
 * table keeps, given as is. NULL when it is neither. */
static const char *pricing_override_key(const char *s, size_t n, char key[PRICING_KEY_MAX])
{
    for (size_t i = 0; i < PRICING_N(pricing_short_names); i++)
        if (strlen(pricing_short_names[i].name) == n &&
            memcmp(pricing_short_names[i].name, s, n) == 0)
            return pricing_short_names[i].key;
    if (n >= PRICING_KEY_MAX)
        return NULL;
    memcpy(key, s, n);
    key[n] = '\0';
    return pricing_kept_key(key) || strcmp(key, PRICING_SEARCH) == 0 ? key : NULL;
}

/* Parses one [prices] override ("input=1.5e-7 output=6e-7 cache_read=7.5e-8")
 * into rates appended to the table. */
static int pricing_parse_override(struct pricing *t, const struct config_kv *kv, char err[ERR_MAX])
{
    const char *s = kv->value;
    bool base = false;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, " \t,");
        const char *eq = memchr(s, '=', len);
        if (!eq)
            return err_set(err, -EINVAL, "%s: [prices] %.128s: \"%.*s\" is not NAME=USD_PER_TOKEN",
                           kv->origin, kv->key, (int)(len > 64 ? 64 : len), s);
        size_t nlen = (size_t)(eq - s);
        char keybuf[PRICING_KEY_MAX];
        const char *key = pricing_override_key(s, nlen, keybuf);
        if (!key)
            return err_set(err, -EINVAL,
                           "%s: [prices] %.128s: unknown price \"%.*s\" (expected input, output, "
                           "cache_read, cache_write, cache_write_1h, reasoning or a LiteLLM "
                           "per-token key)",
                           kv->origin, kv->key, (int)(nlen > 64 ? 64 : nlen), s);
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
        if (!isfinite(d) || d < 0)
            return err_set(err, -EINVAL,
                           "%s: [prices] %.128s: %.*s: expected a non-negative number of USD per "
                           "token",
                           kv->origin, kv->key, (int)(nlen > 64 ? 64 : nlen), s);
        if (pricing_add_rate(t, key, d) < 0)
            return err_set(err, -ENOMEM, "%s: out of memory", kv->origin);
        base = base || strcmp(key, "input_cost_per_token") == 0 ||
               strcmp(key, "output_cost_per_token") == 0;
        s += len;
    }
    if (!base)
        return err_set(err, -EINVAL,
                       "%s: [prices] %.128s: give at least input= or output=", kv->origin, kv->key);
    return 0;
}

const char *pricing_default_path(void)
{
    return TOKENMETER_DATADIR "/model_prices.json";
}

const char *pricing_updated_path(void)
{
    return TOKENMETER_STATEDIR "/model_prices.json";
}

const char *pricing_unset_path(void)
{
    struct stat snap, upd;
    bool has_snap = stat(pricing_default_path(), &snap) == 0;
    bool has_upd = stat(pricing_updated_path(), &upd) == 0;
    /* An upgrade that ships a snapshot newer than the last update wins. */
    if (has_upd && (!has_snap || upd.st_mtime >= snap.st_mtime))
        return pricing_updated_path();
    return has_snap ? pricing_default_path() : NULL;
}

int pricing_load(const char *path, const struct config_kv_list *overrides, struct pricing **out,
                 char err[ERR_MAX])
{
    int rc = 0;
    struct pricing *t = calloc(1, sizeof(*t));
    *out = NULL;
    if (!t)
        return err_set(err, -ENOMEM, "prices: out of memory");
    buf_init(&t->text, 2 * PRICING_FILE_MAX);
    if (!(t->memo = calloc(1, sizeof(*t->memo)))) {
        free(t);
        return err_set(err, -ENOMEM, "prices: out of memory");
    }
    t->memo->zone = PRICING_NONE;
    map_init(&t->index);
    map_init(&t->folded);
    map_init(&t->provider_index);
    map_init(&t->warned);
    /* No [ingest] prices: the updated copy or the shipped snapshot. */
    if (!path)
        path = pricing_unset_path();
    if (path && *path) {
        if ((rc = pricing_load_file(t, path, err)) < 0)
            goto out;
        if (!(t->path = strdup(path))) {
            rc = err_set(err, -ENOMEM, "prices: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; overrides && i < overrides->len; i++) {
        const struct config_kv *kv = &overrides->items[i];
        size_t first = t->nrates;
        if ((rc = pricing_parse_override(t, kv, err)) < 0)
            goto out;
        t->noverrides++;
        if ((rc = pricing_put(t, kv->key, NULL, first, PRICING_F_OVERRIDE)) < 0) {
            err_set(err, rc, "%s: out of memory", kv->origin);
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
    buf_free(&t->text);
    free(t->rates);
    free(t->models);
    map_free(&t->index);
    map_free(&t->folded);
    map_free(&t->provider_index);
    free(t->providers);
    free(t->windows);
    free(t->memo);
    map_free(&t->warned);
    free(t->path);
    free(t);
}

size_t pricing_count(const struct pricing *t)
{
    return t ? t->nmodels : 0;
}

const char *pricing_path(const struct pricing *t)
{
    return t ? t->path : NULL;
}

/* Where the run of digits that ends at s[end] starts (end when none). */
static size_t pricing_digits_from(const char *s, size_t end)
{
    while (end > 0 && isdigit((unsigned char)s[end - 1]))
        end--;
    return end;
}

/* Bedrock's base model id (LiteLLM's get_bedrock_base_model): without a
 * routing prefix ("converse/"), an ARN's path, a throughput or context
 * suffix (":0:51k" -> ":0", "[1m]") and a cross-region inference profile
 * ("us.anthropic.claude-…" -> "anthropic.claude-…"). Returns where the id
 * starts in model, its length in *n. */
static const char *pricing_bedrock_base(const char *model, size_t *n)
{
    static const char *const routes[] = {"bedrock/", "chat_completions/", "converse/", "invoke/",
                                         "openai/",  "mantle/",           "nova-2/",   "nova/"};
    static const char *const profiles[] = {"global", "us", "eu", "apac", "jp", "au", "us-gov"};
    for (size_t i = 0; i < PRICING_N(routes); i++)
        if (pricing_starts(model, routes[i]))
            model += strlen(routes[i]);
    bool arn = false;
    for (const char *c = model; *c && !arn; c++)
        arn = strncasecmp(c, "arn", 3) == 0;
    if (arn && strrchr(model, '/'))
        model = strrchr(model, '/') + 1;
    size_t len = strlen(model);
    if (len > 0 && model[len - 1] == ']') { /* "[1m]": a context-window suffix */
        size_t open = len - 1;
        while (open > 0 && (isalnum((unsigned char)model[open - 1]) || model[open - 1] == '_'))
            open--;
        if (open > 0 && open < len - 1 && model[open - 1] == '[')
            len = open - 1;
    } else if (len > 1 && model[len - 1] == 'k') {         /* ":0:51k": a throughput tier */
        size_t tier = pricing_digits_from(model, len - 1); /* "51" */
        size_t colon = tier < len - 1 && tier > 0 && model[tier - 1] == ':' ? tier - 1 : 0;
        size_t version = pricing_digits_from(model, colon); /* "0" */
        if (colon > 0 && version < colon && version > 0 && model[version - 1] == ':')
            len = colon;
    }
    const char *dot = memchr(model, '.', len);
    for (size_t i = 0; dot && i < PRICING_N(profiles); i++)
        if ((size_t)(dot - model) == strlen(profiles[i]) &&
            strncmp(model, profiles[i], strlen(profiles[i])) == 0) {
            len -= (size_t)(dot + 1 - model);
            model = dot + 1;
            break;
        }
    *n = len;
    return model;
}

/* The model name LiteLLM tries after the exact ones (_strip_model_name):
 * Vertex and Gemini stable versions ("gemini-1.5-pro-002" -> "gemini-1.5-pro"),
 * OpenAI fine-tunes ("ft:gpt-4o-mini:org:suffix:id" -> "ft:gpt-4o-mini"), else
 * a dated snapshot ("gpt-4o-2024-08-06" -> "gpt-4o"); Bedrock's base model
 * id (pricing_bedrock_base). */
static void pricing_strip(const char *provider, const char *model, char *out, size_t cap)
{
    size_t n = strlen(model);
    if (strcmp(provider, "bedrock") == 0 || strcmp(provider, "bedrock_converse") == 0) {
        model = pricing_bedrock_base(model, &n);
    } else if (strcmp(provider, "vertex_ai") == 0 || strcmp(provider, "gemini") == 0 ||
               strcmp(provider, "databricks") == 0) {
        size_t k = pricing_digits_from(model, n);
        if (k < n && k > 0 && model[k - 1] == '-')
            n = k - 1;
    } else if (strstr(model, "ft:")) {
        size_t colons = 0, k = n;
        while (k > 0 && colons < 3)
            if (model[--k] == ':')
                colons++;
        if (colons == 3)
            n = k;
    } else if (n >= 11) {
        const char *d = model + n - 11; /* "-YYYY-MM-DD" */
        bool dated = d[0] == '-' && d[5] == '-' && d[8] == '-';
        for (size_t i = 1; dated && i < 11; i++)
            dated = i == 5 || i == 8 || isdigit((unsigned char)d[i]);
        if (dated)
            n -= 11;
    }
    /* Too long to try: nothing, never a cut name that could be another's. */
    if (n >= cap)
        n = 0;
    memcpy(out, model, n);
    out[n] = '\0';
}

/* Appends a name to try, unless it is empty, too long or tried already
 * with the same provider check. */
static void pricing_try(struct pricing_tries *tries, bool checked, const char *a, const char *b,
                        const char *c)
{
    if (tries->n >= PRICING_TRIES_MAX)
        return;
    char *name = tries->name[tries->n];
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (la + lb + lc == 0 || la + lb + lc >= PRICING_NAME_MAX)
        return;
    memcpy(name, a, la);
    memcpy(name + la, b, lb);
    memcpy(name + la + lb, c, lc + 1);
    for (size_t i = 0; i < tries->n; i++)
        if (tries->checked[i] == checked && strcmp(tries->name[i], name) == 0)
            return;
    tries->checked[tries->n++] = checked;
}

void pricing_tries(const struct pricing *t, const char *model, const char *provider,
                   struct pricing_tries *tries)
{
    tries->n = 0;
    tries->provider[0] = '\0';
    if (!model || !*model)
        return;
    size_t plen = provider ? strlen(provider) : 0;
    if (t && plen > 0 && plen < sizeof(tries->provider)) {
        for (size_t i = 0; i <= plen; i++)
            tries->provider[i] = (char)tolower((unsigned char)provider[i]);
        if (!pricing_known_provider(t, tries->provider))
            tries->provider[0] = '\0';
    }
    const char *p = tries->provider;
    if (*p) {
        /* A provider LiteLLM knows: its lookup order
         * (_model_cost_lookup_order), each name only for an entry of
         * that provider. */
        size_t n = strlen(p);
        /* A router's repeated provider segment ("openai/openai/gpt-4o"):
         * cost_per_token() keeps one. */
        while (strncmp(model, p, n) == 0 && model[n] == '/' && strncmp(model + n + 1, p, n) == 0 &&
               model[2 * n + 1] == '/')
            model += n + 1;
        bool prefixed = strncmp(model, p, n) == 0 && model[n] == '/';
        const char *split = prefixed ? model + n + 1 : model;
        char stripped[PRICING_NAME_MAX];
        pricing_strip(p, split, stripped, sizeof(stripped));
        pricing_try(tries, true, prefixed ? "" : p, prefixed ? "" : "/", model);
        pricing_try(tries, true, model, "", "");
        pricing_try(tries, true, split, "", "");
        pricing_try(tries, true, p, "/", stripped);
        pricing_try(tries, true, stripped, "", "");
    }
    /* Then, for any provider: the name, without its first "provider/"
     * segment, then with the provider put in front. A provider LiteLLM
     * does not name (an upstream's display name, an OpenTelemetry system)
     * starts here; so does a vendor whose calls LiteLLM would route under
     * another name (OpenAI's gpt-3.5-turbo-instruct is LiteLLM's
     * "text-completion-openai"), which keeps its price. */
    const char *slash = strchr(model, '/');
    pricing_try(tries, false, model, "", "");
    if (slash && slash[1])
        pricing_try(tries, false, slash + 1, "", "");
    if (plen > 0)
        pricing_try(tries, false, provider, "/", model);
}

/* LiteLLM's _check_provider_match: may an entry of `entry` serve a call
 * LiteLLM routed to `provider`? An entry without litellm_provider (and a
 * [prices] override) serves any. */
static bool pricing_provider_match(const char *entry, const char *provider)
{
    if (!entry || strcmp(entry, provider) == 0)
        return true;
    if (strcmp(provider, "azure_ai") == 0)
        return strcmp(entry, "azure") == 0 || strcmp(entry, "openai") == 0;
    return (strcmp(provider, "vertex_ai") == 0 && pricing_starts(entry, "vertex_ai")) ||
           (strcmp(provider, "fireworks_ai") == 0 && pricing_starts(entry, "fireworks_ai")) ||
           (pricing_starts(provider, "bedrock") && pricing_starts(entry, "bedrock")) ||
           strcmp(provider, "litellm_proxy") == 0 || strcmp(provider, "github") == 0 ||
           strcmp(provider, "nadir") == 0;
}

const struct pricing_model *pricing_lookup(const struct pricing *t, const char *model,
                                           const char *provider, size_t *step)
{
    if (!t)
        return NULL;
    struct pricing_tries tries;
    pricing_tries(t, model, provider, &tries);
    /* An operator's [prices] entry wins under any provider: it is what
     * they pay for the model their events name. */
    for (int pass = t->noverrides ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < tries.n; i++) {
            const struct pricing_model *m = pricing_find_any_case(t, tries.name[i]);
            if (!m || (pass == 0 && !(m->flags & PRICING_F_OVERRIDE)))
                continue;
            const char *entry = m->provider == PRICING_NONE ? NULL : pricing_text(t, m->provider);
            if (tries.checked[i] && !pricing_provider_match(entry, tries.provider))
                continue;
            if (step)
                *step = i;
            return m;
        }
    }
    return NULL;
}

const char *pricing_model_name(const struct pricing_model *m)
{
    return pricing_text(m->t, m->name);
}

size_t pricing_model_nrates(const struct pricing_model *m)
{
    return m->n;
}

void pricing_model_rate_at(const struct pricing_model *m, size_t i, const char **key, double *usd)
{
    const struct pricing_rate *r = &m->t->rates[m->first + i];
    *key = pricing_text(m->t, r->key);
    *usd = r->usd;
}

int pricing_model_rate(const struct pricing_model *m, const char *key, double *usd)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct pricing_rate *r = &m->t->rates[m->first + i];
        if (strcmp(pricing_text(m->t, r->key), key) == 0) {
            *usd = r->usd;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- the cost ------------------------------------------------------------
 * What follows mirrors LiteLLM's cost calculator (its functions
 * generic_cost_per_token and batch_cost_calculator; docs/pricing.md states
 * the rules); the comments name the LiteLLM function each step follows, so
 * the two can be compared when LiteLLM changes. */

/* The rate of key, or NAN. */
static double pricing_get(const struct pricing_model *m, const char *key)
{
    double v = NAN;
    return pricing_model_rate(m, key, &v) == 0 ? v : NAN;
}

static double pricing_or(double a, double b)
{
    return isnan(a) ? b : a;
}

/* get_cost_per_unit: key + service tier suffix, else the key itself. */
static double pricing_tiered(const struct pricing_model *m, const char *key, const char *sfx)
{
    char k[PRICING_KEY_MAX * 2];
    snprintf(k, sizeof(k), "%s%s", key, sfx);
    return *sfx ? pricing_or(pricing_get(m, k), pricing_get(m, key)) : pricing_get(m, key);
}

/* _parse_above_token_threshold: "..._above_200k_tokens..." -> 200000, with
 * its spelling ("200k") in str. Returns -1 when the key has no threshold. */
static double pricing_threshold(const char *key, char *str, size_t cap)
{
    const char *a = NULL;
    for (const char *p = strstr(key, "_above_"); p; p = strstr(p + 1, "_above_"))
        a = p + 7;
    const char *e = a ? strstr(a, "_tokens") : NULL;
    if (!e || e == a || (size_t)(e - a) >= cap)
        return -1;
    memcpy(str, a, (size_t)(e - a));
    str[e - a] = '\0';
    char num[32];
    size_t n = 0;
    bool k = false;
    if (strlen(str) >= sizeof(num))
        return -1;
    for (const char *p = str; *p; p++) {
        if (*p == 'k')
            k = true;
        else
            num[n++] = *p;
    }
    num[n] = '\0';
    char *end = NULL;
    double v = strtod(num, &end);
    if (n == 0 || *end || !(v >= 0))
        return -1;
    return k ? v * 1000 : v;
}

static bool pricing_nonstandard(const char *key)
{
    for (size_t i = 0; i < PRICING_N(pricing_nonstandard_sfx); i++)
        if (pricing_ends(key, pricing_nonstandard_sfx[i]))
            return true;
    return false;
}

/* _prompt_exceeds_threshold: above it, or at it where the provider's
 * thresholds are inclusive. */
static bool pricing_above(int64_t prompt, double th, bool inclusive)
{
    return (double)prompt > th || (inclusive && (double)prompt == th);
}

/* get_modality_token_cost_key: the key of the highest threshold of `base`
 * (+ sfx) that `prompt` exceeds, else base + sfx, into out. */
static void pricing_modality_key(const struct pricing_model *m, const char *base, const char *sfx,
                                 int64_t prompt, bool inclusive, char *out, size_t cap)
{
    char prefix[PRICING_KEY_MAX], tail[PRICING_KEY_MAX], best_str[PRICING_KEY_MAX], str[64];
    snprintf(prefix, sizeof(prefix), "%s_above_", base);
    snprintf(tail, sizeof(tail), "_tokens%s", sfx);
    double best = -1;
    size_t best_i = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *key = pricing_text(m->t, m->t->rates[m->first + i].key);
        if (!pricing_starts(key, prefix) ||
            (!pricing_ends(key, "_tokens") && !pricing_ends(key, tail)))
            continue;
        double th = pricing_threshold(key, str, sizeof(str));
        if (th >= 0 && pricing_above(prompt, th, inclusive) && th > best) {
            best = th;
            best_i = i;
        }
    }
    if (best < 0) {
        snprintf(out, cap, "%s%s", base, sfx);
        return;
    }
    snprintf(best_str, sizeof(best_str), "%s",
             pricing_text(m->t, m->t->rates[m->first + best_i].key));
    size_t bl = strlen(best_str), sl = strlen(sfx);
    if (sl && pricing_ends(best_str, sfx))
        best_str[bl - sl] = '\0';
    snprintf(out, cap, "%s%s", best_str, sfx);
}

/* The suffix of LiteLLM's service tier keys for a provider's service tier
 * (get_service_tier_cost_key); "" for standard pricing. */
static const char *pricing_tier_suffix(const char *tier)
{
    static const struct {
        const char *tier, *sfx;
    } tiers[] = {
        {"flex", "_flex"},     {"balanced", "_balanced"},   {"priority", "_priority"},
        {"fast", "_priority"}, {"ultrafast", "_ultrafast"},
    };
    for (size_t i = 0; tier && i < PRICING_N(tiers); i++)
        if (strcasecmp(tier, tiers[i].tier) == 0)
            return tiers[i].sfx;
    return "";
}

/* The counts the cost is made of; absent parts are zero. */
struct pricing_counts {
    int64_t prompt, cached, writes, writes_1h;
    int64_t audio, cached_audio; /* input audio not read from the cache, and read from it */
    int64_t image;
    int64_t output, reasoning, out_audio, out_image, searches;
};

/* The rates of a standard or service-tier request. */
struct pricing_rates {
    double input, output, cache_read, cache_write, cache_write_1h;
};

/* The rate `key` of tier i, or NAN. */
static double pricing_tier_get(const struct pricing_model *m, size_t i, const char *key)
{
    char k[PRICING_KEY_MAX * 2];
    snprintf(k, sizeof(k), PRICING_TIER_FMT "%s", i, key);
    return pricing_get(m, k);
}

/* select_tier_for_input: the tier whose (start, end] holds the prompt, the
 * lowest start first; above every range, the highest. -1 without tiers, for
 * an empty prompt, or when the tier has no input price (_select_priced_tier). */
static long pricing_select_tier(const struct pricing_model *m, int64_t prompt)
{
    long match = -1, last = -1;
    double match_lo = 0, last_lo = 0;
    if (!(m->flags & PRICING_F_TIERS))
        return -1;
    for (size_t i = 0; prompt > 0 && i < PRICING_TIERS_MAX; i++) {
        double lo = pricing_tier_get(m, i, "range_start"), hi = pricing_tier_get(m, i, "range_end");
        if (isnan(lo))
            break;
        if (last < 0 || lo >= last_lo) {
            last = (long)i;
            last_lo = lo;
        }
        if (lo < (double)prompt && (double)prompt <= hi && (match < 0 || lo < match_lo)) {
            match = (long)i;
            match_lo = lo;
        }
    }
    long tier = match >= 0 ? match : last;
    return tier >= 0 && !isnan(pricing_tier_get(m, (size_t)tier, "input_cost_per_token")) ? tier
                                                                                          : -1;
}

/* _get_tiered_base_costs: one tier prices every token of the request; a
 * rate the tier lacks is its input rate, except output, which falls back to
 * the model's own output rate (and without one is missing: LiteLLM bills
 * it at $0). */
static struct pricing_rates pricing_tier_rates_of(const struct pricing_model *m, size_t tier)
{
    struct pricing_rates r;
    r.input = pricing_tier_get(m, tier, "input_cost_per_token");
    r.output = pricing_or(pricing_tier_get(m, tier, "output_cost_per_token"),
                          pricing_get(m, "output_cost_per_token"));
    r.cache_read = pricing_or(pricing_tier_get(m, tier, "cache_read_input_token_cost"), r.input);
    r.cache_write =
        pricing_or(pricing_tier_get(m, tier, "cache_creation_input_token_cost"), r.input);
    r.cache_write_1h = pricing_or(
        pricing_tier_get(m, tier, "cache_creation_input_token_cost_above_1hr"), r.cache_write);
    return r;
}

/* LiteLLM's _is_off_peak at `ns`, the call's start (the billing moment
 * LiteLLM pins): inside one of the entry's windows, on one of its days. */
static bool pricing_off_peak_at(const struct pricing_model *m, int64_t ns)
{
    if (m->nwindows == 0 || ns == EVENT_ABSENT)
        return false;
    int64_t minutes = ns / 60000000000LL - (ns % 60000000000LL < 0);
    int64_t day = minutes / 1440 - (minutes % 1440 < 0);
    unsigned minute = (unsigned)(minutes - day * 1440);
    unsigned iso = (unsigned)tzday_weekday_utc(ns);
    bool local = false; /* iso is the weekday on the entry's calendar */
    for (size_t i = 0; i < m->nwindows; i++) {
        const struct pricing_window *w = &m->t->windows[m->first_window + i];
        if (w->days != PRICING_EVERY_DAY && m->zone != PRICING_NONE && !local) {
            struct pricing_weekday_memo *memo = m->t->memo;
            int64_t quarter = ns / PRICING_QUARTER_NS - (ns % PRICING_QUARTER_NS < 0);
            if (memo->zone != m->zone || memo->quarter != quarter) {
                memo->iso = (unsigned)tzday_weekday_in(pricing_text(m->t, m->zone), ns);
                memo->zone = m->zone;
                memo->quarter = quarter;
            }
            iso = memo->iso;
            local = true;
        }
        if (!(w->days & (1u << iso)))
            continue;
        if (w->start == w->end || (w->start < w->end && w->start <= minute && minute < w->end) ||
            (w->start > w->end && (minute >= w->start || minute < w->end)))
            return true;
    }
    return false;
}

/* apply_off_peak_pricing: while the window is open, an off-peak rate
 * replaces the one that would apply; a rate the block lacks stays. */
static double pricing_off(const struct pricing_model *m, bool off, const char *key, double rate)
{
    char k[PRICING_KEY_MAX];
    if (!off)
        return rate;
    snprintf(k, sizeof(k), PRICING_OFF_PEAK "%s", key);
    return pricing_or(pricing_get(m, k), rate);
}

/* _get_token_base_cost: the service tier's rates, then every
 * *_above_<N>_tokens threshold the prompt exceeds, lowest first, each
 * overlaying the rates it has; then, off-peak, the off-peak rates. */
static struct pricing_rates pricing_base_rates(const struct pricing_model *m, const char *sfx,
                                               int64_t prompt, bool off)
{
    long tier = pricing_select_tier(m, prompt);
    if (tier >= 0) {
        /* _apply_off_peak_to_base_costs: a tier's own 1-hour write rate
         * stays, else it follows the off-peak write rate. */
        struct pricing_rates r = pricing_tier_rates_of(m, (size_t)tier);
        bool own_1h =
            !isnan(pricing_tier_get(m, (size_t)tier, "cache_creation_input_token_cost_above_1hr"));
        r.input = pricing_off(m, off, "input_cost_per_token", r.input);
        r.output = pricing_off(m, off, "output_cost_per_token", r.output);
        r.cache_read = pricing_off(m, off, "cache_read_input_token_cost", r.cache_read);
        r.cache_write = pricing_off(m, off, "cache_creation_input_token_cost", r.cache_write);
        if (!own_1h)
            r.cache_write_1h = r.cache_write;
        return r;
    }
    struct pricing_rates r;
    r.input = pricing_tiered(m, "input_cost_per_token", sfx);
    r.output = pricing_tiered(m, "output_cost_per_token", sfx);
    /* An image model without a text output price bills output as image
     * tokens. */
    if (isnan(r.output) || r.output == 0)
        r.output = pricing_or(pricing_get(m, "output_cost_per_image_token"), r.output);
    r.cache_write = pricing_tiered(m, "cache_creation_input_token_cost", sfx);
    r.cache_read = pricing_tiered(m, "cache_read_input_token_cost", sfx);
    if (isnan(r.cache_read) && (m->flags & PRICING_F_FIREWORKS))
        r.cache_read = pricing_get(m, "input_cost_per_token") * PRICING_FIREWORKS_READ;
    char ttl_key[PRICING_KEY_MAX];
    snprintf(ttl_key, sizeof(ttl_key), "cache_creation_input_token_cost_above_1hr%s", sfx);

    /* Threshold keys, in ascending order of threshold (stable, as Python's
     * sorted()): standard ones, and those of the request's service tier. */
    size_t order[256];
    double ths[256];
    size_t n = 0;
    char str[64];
    for (size_t i = 0; i < m->n && n < PRICING_N(order); i++) {
        const char *key = pricing_text(m->t, m->t->rates[m->first + i].key);
        bool fam = false;
        for (size_t f = 0; f < PRICING_N(pricing_tier_prefixes) && !fam; f++)
            fam = pricing_starts(key, pricing_tier_prefixes[f]);
        if (!fam || !strstr(key, "_tokens") ||
            (pricing_nonstandard(key) && !(*sfx && pricing_ends(key, sfx))))
            continue;
        double th = pricing_threshold(key, str, sizeof(str));
        if (th < 0)
            continue;
        size_t j = n++;
        for (; j > 0 && ths[j - 1] > th; j--) {
            ths[j] = ths[j - 1];
            order[j] = order[j - 1];
        }
        ths[j] = th;
        order[j] = i;
    }
    for (size_t k = 0; k < n; k++) {
        if (!pricing_above(prompt, ths[k], m->flags & PRICING_F_XAI))
            continue;
        pricing_threshold(pricing_text(m->t, m->t->rates[m->first + order[k]].key), str,
                          sizeof(str));
        char key[PRICING_KEY_MAX];
        snprintf(key, sizeof(key), "input_cost_per_token_above_%s_tokens", str);
        r.input = pricing_or(pricing_tiered(m, key, sfx), r.input);
        snprintf(key, sizeof(key), "output_cost_per_token_above_%s_tokens", str);
        r.output = pricing_or(pricing_tiered(m, key, sfx), r.output);
        snprintf(key, sizeof(key), "cache_creation_input_token_cost_above_%s_tokens", str);
        r.cache_write = pricing_or(pricing_tiered(m, key, sfx), r.cache_write);
        snprintf(key, sizeof(key), "cache_read_input_token_cost_above_%s_tokens", str);
        r.cache_read = pricing_or(pricing_tiered(m, key, sfx), r.cache_read);
        snprintf(key, sizeof(key), "cache_creation_input_token_cost_above_1hr_above_%s_tokens%s",
                 str, sfx);
        if (!isnan(pricing_get(m, key)))
            snprintf(ttl_key, sizeof(ttl_key), "%s", key);
    }
    r.input = pricing_off(m, off, "input_cost_per_token", r.input);
    r.output = pricing_off(m, off, "output_cost_per_token", r.output);
    /* A provider that publishes no cache price bills cached tokens as input
     * (off-peak: the off-peak input rate). */
    r.cache_read = pricing_or(r.cache_read, r.input);
    r.cache_write = pricing_or(r.cache_write, r.input);
    r.cache_read = pricing_off(m, off, "cache_read_input_token_cost", r.cache_read);
    r.cache_write = pricing_off(m, off, "cache_creation_input_token_cost", r.cache_write);
    double ttl = pricing_get(m, ttl_key);
    if (isnan(ttl) && *sfx && pricing_ends(ttl_key, sfx)) {
        ttl_key[strlen(ttl_key) - strlen(sfx)] = '\0';
        ttl = pricing_get(m, ttl_key);
    }
    r.cache_write_1h = pricing_or(ttl, r.cache_write);
    return r;
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

/* _modality_token_cost: audio / image prompt tokens at their own rate,
 * else at the (tiered) input rate. */
static double pricing_modality_rate(const struct pricing_model *m, const char *base,
                                    const char *sfx, int64_t prompt, double input)
{
    char key[PRICING_KEY_MAX * 2];
    pricing_modality_key(m, base, sfx, prompt, m->flags & PRICING_F_XAI, key, sizeof(key));
    double v = pricing_get(m, key);
    if (isnan(v) && *sfx && pricing_ends(key, sfx)) {
        key[strlen(key) - strlen(sfx)] = '\0';
        v = pricing_get(m, key);
    }
    return pricing_or(v, input);
}

/* _resolve_reasoning_token_cost; off-peak, the block's reasoning rate
 * first (_resolve_billed_reasoning_rate). */
static double pricing_reasoning_rate(const struct pricing_model *m, const char *sfx, int64_t prompt,
                                     double output, bool off)
{
    double off_rate = pricing_off(m, off, "output_cost_per_reasoning_token", NAN);
    if (!isnan(off_rate))
        return off_rate;
    /* _get_tiered_reasoning_rate */
    long tier = pricing_select_tier(m, prompt);
    if (tier >= 0) {
        double reasoning = pricing_tier_get(m, (size_t)tier, "output_cost_per_reasoning_token");
        double out = pricing_tier_get(m, (size_t)tier, "output_cost_per_token");
        if (!isnan(reasoning) || !isnan(out))
            return pricing_or(reasoning, out);
    }
    char key[PRICING_KEY_MAX];
    snprintf(key, sizeof(key), "output_cost_per_reasoning_token%s", sfx);
    double v = pricing_get(m, key);
    if (!isnan(v))
        return v;
    snprintf(key, sizeof(key), "output_cost_per_token%s", sfx);
    if (*sfx && !isnan(pricing_get(m, key)))
        return output;
    return pricing_or(pricing_get(m, "output_cost_per_reasoning_token"), output);
}

/* generic_cost_per_token for a standard or service-tier request. */
static double pricing_standard(const struct pricing_model *m, const struct pricing_counts *c,
                               const char *sfx, bool off, const char **miss)
{
    struct pricing_rates r = pricing_base_rates(m, sfx, c->prompt, off);
    double sum = 0;
    /* Prompt: cache hits and writes first; audio and image tokens take
     * what is left of the uncached part, text the rest. */
    int64_t uncached = c->prompt - c->cached - c->writes;
    uncached = uncached > 0 ? uncached : 0;
    int64_t audio = c->audio, image = c->image, text;
    if ((c->cached > 0 || c->writes > 0) &&
        c->cached + c->audio + c->writes + c->image > c->prompt) {
        audio = audio < uncached ? audio : uncached;
        image = image < uncached - audio ? image : uncached - audio;
        text = uncached - audio - image;
    } else {
        text = c->prompt - c->cached - c->audio - c->writes - c->image;
        text = text > 0 ? text : 0;
    }
    pricing_part(text, r.input, "input", &sum, miss);
    /* _calculate_cache_read_cost: cached audio at its own rate. */
    pricing_part(c->cached - c->cached_audio, r.cache_read, "cache_read", &sum, miss);
    pricing_part(
        c->cached_audio,
        pricing_or(pricing_tiered(m, "cache_read_input_audio_token_cost", sfx), r.cache_read),
        "cache_read_audio", &sum, miss);
    if (audio > 0)
        pricing_part(
            audio, pricing_modality_rate(m, "input_cost_per_audio_token", sfx, c->prompt, r.input),
            "input_audio", &sum, miss);
    if (image > 0)
        pricing_part(image, pricing_modality_rate(m, "input_cost_per_image_token", sfx, 0, r.input),
                     "input_image", &sum, miss);
    pricing_part(c->writes - c->writes_1h, r.cache_write, "cache_write", &sum, miss);
    pricing_part(c->writes_1h, r.cache_write_1h, "cache_write_1h", &sum, miss);
    /* Completion: without a breakdown every token is text. */
    bool breakdown =
        !(m->flags & PRICING_F_XAI) && (c->reasoning > 0 || c->out_audio > 0 || c->out_image > 0);
    int64_t out_text = c->output;
    if (breakdown) {
        out_text = c->output - c->reasoning - c->out_audio - c->out_image;
        out_text = out_text > 0 ? out_text : 0;
    }
    pricing_part(out_text, r.output, "output", &sum, miss);
    if (breakdown) {
        pricing_part(c->out_audio,
                     pricing_or(pricing_get(m, "output_cost_per_audio_token"), r.output),
                     "output_audio", &sum, miss);
        pricing_part(c->reasoning, pricing_reasoning_rate(m, sfx, c->prompt, r.output, off),
                     "reasoning", &sum, miss);
        pricing_part(c->out_image,
                     pricing_or(pricing_tiered(m, "output_cost_per_image_token", sfx), r.output),
                     "output_image", &sum, miss);
    }
    return sum;
}

/* _batch_rate_for_prefix: prefix_above_<N>_tokens_batches for the highest
 * threshold the prompt exceeds, else prefix_batches. */
static double pricing_batch_rate(const struct pricing_model *m, const char *prefix, int64_t prompt)
{
    char p[PRICING_KEY_MAX], flat[PRICING_KEY_MAX], str[64];
    snprintf(p, sizeof(p), "%s_above_", prefix);
    snprintf(flat, sizeof(flat), "%s" PRICING_BATCH_SFX, prefix);
    double best = -1, rate = NAN;
    for (size_t i = 0; i < m->n; i++) {
        const struct pricing_rate *r = &m->t->rates[m->first + i];
        const char *key = pricing_text(m->t, r->key);
        /* ^prefix_above_(\d+k?)_tokens_batches$, as LiteLLM matches it */
        const char *d = key + strlen(p);
        if (!pricing_starts(key, p) || !*d || strspn(d, "0123456789") == 0)
            continue;
        d += strspn(d, "0123456789");
        d += *d == 'k';
        if (strcmp(d, "_tokens" PRICING_BATCH_SFX) != 0)
            continue;
        double th = pricing_threshold(key, str, sizeof(str));
        if (th >= 0 && pricing_above(prompt, th, m->flags & PRICING_F_XAI) && th > best) {
            best = th;
            rate = r->usd;
        }
    }
    return pricing_or(rate, pricing_get(m, flat));
}

/* LiteLLM's _batch_rate: a modality's batch rate, else fallback. */
static double pricing_batch_modality(const struct pricing_model *m, const char *base,
                                     int64_t prompt, double fallback)
{
    char key[PRICING_KEY_MAX * 2], plain[PRICING_KEY_MAX];
    pricing_modality_key(m, base, PRICING_BATCH_SFX, prompt, false, key, sizeof(key));
    snprintf(plain, sizeof(plain), "%s" PRICING_BATCH_SFX, base);
    return pricing_or(pricing_or(pricing_get(m, key), pricing_get(m, plain)), fallback);
}

/* batch_cost_calculator: Batch API results bill at the *_batches rates, or
 * at half the standard rates where the table has none. */
static double pricing_batch(const struct pricing_model *m, const struct pricing_counts *c,
                            const char **miss)
{
    double sum = 0;
    double input = pricing_batch_rate(m, "input_cost_per_token", c->prompt);
    double std_input = pricing_get(m, "input_cost_per_token");
    if (!isnan(input)) {
        double batch_read = pricing_batch_rate(m, "cache_read_input_token_cost", c->prompt);
        double read = batch_read;
        if (isnan(read)) {
            char key[PRICING_KEY_MAX * 2];
            pricing_modality_key(m, "cache_read_input_token_cost", "", c->prompt, false, key,
                                 sizeof(key));
            read = pricing_get(m, key);
        }
        double write = pricing_batch_rate(m, "cache_creation_input_token_cost", c->prompt);
        double write_1h =
            pricing_batch_rate(m, "cache_creation_input_token_cost_above_1hr", c->prompt);
        /* Cache reads without any read price, and writes without any write
         * price, are billed as input text. */
        int64_t cached = isnan(read) ? 0 : c->cached;
        bool bills_writes = !isnan(write) || !isnan(write_1h);
        int64_t writes = bills_writes ? c->writes : 0;
        int64_t text = c->prompt - c->audio - c->image - cached - writes;
        pricing_part(text > 0 ? text : 0, input, "input", &sum, miss);
        pricing_part(c->audio,
                     pricing_batch_modality(m, "input_cost_per_audio_token", c->prompt, input),
                     "input_audio", &sum, miss);
        pricing_part(c->image, pricing_batch_modality(m, "input_cost_per_image_token", 0, input),
                     "input_image", &sum, miss);
        int64_t cached_audio = isnan(read) ? 0 : c->cached_audio;
        pricing_part(cached - cached_audio, read, "cache_read", &sum, miss);
        /* _cached_audio_batch_fallback */
        double audio_read = batch_read;
        if (isnan(audio_read)) {
            char key[PRICING_KEY_MAX * 2];
            pricing_modality_key(m, "cache_read_input_audio_token_cost", "", c->prompt, false, key,
                                 sizeof(key));
            audio_read = pricing_or(pricing_get(m, key), pricing_or(read, 0));
        }
        pricing_part(
            cached_audio,
            pricing_batch_modality(m, "cache_read_input_audio_token_cost", c->prompt, audio_read),
            "cache_read_audio", &sum, miss);
        write = pricing_or(write, input);
        pricing_part(writes - c->writes_1h, write, "cache_write", &sum, miss);
        pricing_part(bills_writes ? c->writes_1h : 0, pricing_or(write_1h, write), "cache_write_1h",
                     &sum, miss);
    } else {
        double read = pricing_get(m, "cache_read_input_token_cost");
        double write = pricing_or(pricing_get(m, "cache_creation_input_token_cost"), std_input);
        pricing_part(c->prompt - c->cached - c->writes, std_input / 2, "input", &sum, miss);
        /* LiteLLM bills cache reads of a model without a cache read price
         * at nothing here; tokenmeter does the same, it is LiteLLM's rule. */
        pricing_part(c->cached, pricing_or(read, 0) / 2, "cache_read", &sum, miss);
        pricing_part(c->writes, write / 2, "cache_write", &sum, miss);
    }
    double out = pricing_or(pricing_batch_rate(m, "output_cost_per_token", c->prompt),
                            pricing_get(m, "output_cost_per_token") / 2);
    double out_image =
        pricing_or(pricing_get(m, "output_cost_per_image_token" PRICING_BATCH_SFX),
                   pricing_or(pricing_get(m, "output_cost_per_image_token") / 2, out));
    int64_t image = c->out_image < c->output ? c->out_image : c->output;
    pricing_part(c->output - image, out, "output", &sum, miss);
    pricing_part(image, out_image, "output_image", &sum, miss);
    return sum;
}

/* The provider_specific_entry multiplier of the region and the speed the
 * provider served ev at (see pricing_route_rates), 1 without one. */
static double pricing_route_multiplier(const struct pricing_model *m, const struct event *ev)
{
    double x = 1;
    const char *geo = ev->inference_geo;
    char key[PRICING_KEY_MAX];
    size_t n = strlen(PRICING_ROUTE);
    if (geo && strcasecmp(geo, "global") != 0 && strcasecmp(geo, "not_available") != 0 &&
        (size_t)snprintf(key, sizeof(key), PRICING_ROUTE "%s", geo) < sizeof(key)) {
        for (char *p = key + n; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        x *= pricing_or(pricing_get(m, key), 1);
    }
    if (ev->speed && strcmp(ev->speed, "fast") == 0)
        x *= pricing_or(pricing_get(m, PRICING_ROUTE "fast"), 1);
    return x;
}

static int64_t pricing_known(int64_t v)
{
    return v == EVENT_ABSENT ? 0 : v;
}

int pricing_cost(const struct pricing_model *m, const struct event *ev, double *usd,
                 const char **missing)
{
    const char *miss = NULL;
    /* Absent means unknown, not zero: a cost from half the counts would
     * look complete while it is not. */
    if (ev->input_tokens == EVENT_ABSENT || ev->output_tokens == EVENT_ABSENT)
        return -ENODATA;
    /* The pipeline has checked that the parts fit inside their totals. */
    struct pricing_counts c = {
        .prompt = ev->input_tokens,
        .cached = pricing_known(ev->cached_input_tokens),
        .writes = pricing_known(ev->cache_write_tokens),
        .writes_1h = pricing_known(ev->cache_write_1h_tokens),
        .audio = pricing_known(ev->input_audio_tokens),
        .cached_audio = pricing_known(ev->cached_input_audio_tokens),
        .image = pricing_known(ev->input_image_tokens),
        .output = ev->output_tokens,
        .reasoning = pricing_known(ev->reasoning_tokens),
        .out_audio = pricing_known(ev->output_audio_tokens),
        .out_image = pricing_known(ev->output_image_tokens),
        .searches = pricing_known(ev->web_search_requests),
    };
    /* parse_prompt_tokens_details: cached audio is part of the cache hits
     * and leaves the audio count. */
    c.cached_audio = c.cached_audio < c.cached ? c.cached_audio : c.cached;
    c.audio = c.audio > c.cached_audio ? c.audio - c.cached_audio : 0;
    bool batch = ev->service_tier && strcasecmp(ev->service_tier, "batch") == 0;
    const char *sfx = m->flags & PRICING_F_FIREWORKS ? "" : pricing_tier_suffix(ev->service_tier);
    /* The region and speed multipliers scale the tokens' cost, not the
     * searches'; LiteLLM's batch_cost_calculator applies none. */
    /* Off-peak rates are read at the call's start; batch pricing has none. */
    bool off = !batch && pricing_off_peak_at(m, ev->time_ns);
    double sum = batch ? pricing_batch(m, &c, &miss)
                       : pricing_standard(m, &c, sfx, off, &miss) * pricing_route_multiplier(m, ev);
    /* Web search is billed per search at the default context size; a table
     * without a search price leaves the event unpriced (LiteLLM would add
     * nothing). */
    if (c.searches > 0 && !isnan(pricing_get(m, PRICING_PER_PROMPT)))
        c.searches = 1;
    pricing_part(c.searches, pricing_get(m, PRICING_SEARCH), "web_search", &sum, &miss);
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
    uint64_t h = map_hash_str(MAP_HASH_INIT, model);
    size_t it = map_first(&t->warned, h);
    if (map_next(&t->warned, h, &it) != MAP_NONE)
        return false;
    if (t->warned.len < PRICING_WARN_MAX && map_insert(&t->warned, h, t->warned.len) == 0)
        return true;
    if (!t->warned_overflow) {
        t->warned_overflow = true;
        log_warn("more than %d models without a price; further ones are not named (the "
                 "unpriced counter still counts them)",
                 PRICING_WARN_MAX);
    }
    return false;
}

void pricing_apply(struct pricing *t, struct event *ev)
{
    const char *model = ev->model ? ev->model : "";
    const struct pricing_model *m = pricing_lookup(t, ev->model, ev->provider, NULL);
    const char *missing = NULL;
    double usd = 0;
    int rc = m ? pricing_cost(m, ev, &usd, &missing) : -ENOENT;
    if (rc == 0) {
        ev->cost_usd = usd;
        ev->cost_source = EVENT_COST_COMPUTED;
        return;
    }
    ev->cost_usd = NAN;
    ev->cost_source = EVENT_COST_UNPRICED;
    if (rc == -ENODATA || !t || !pricing_first_warning(t, model))
        return;
    if (!m && t->nmodels == 0)
        log_warn("no price for model \"%.200s\" (provider %.64s): no price table is loaded "
                 "([ingest] prices); its events are written with cost_source=\"unpriced\"",
                 model, ev->provider ? ev->provider : "unknown");
    else if (!m)
        log_warn("no price for model \"%.200s\" (provider %.64s): its events are written with "
                 "cost_source=\"unpriced\"; add it to the prices file or [prices]",
                 model, ev->provider ? ev->provider : "unknown");
    else
        log_warn("model \"%.200s\" has no %s price: its events are written with "
                 "cost_source=\"unpriced\"",
                 model, missing);
}
