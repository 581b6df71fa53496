/* SPDX-License-Identifier: MIT */
/* The price table: LiteLLM file + [prices] overrides, the lookup rule, the
 * cost formula with cache and reasoning tokens, every load error, a reported
 * cost never replaced, one warning per unpriced model, and SIGHUP reload. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "runbin.h"
#include "testutil.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/event.h"
#include "tokenmeter/pipeline.h"
#include "tokenmeter/pricing.h"
#include "tokenmeter/timeutil.h"

static char dir[64];
static char path[160];

static void setup(void)
{
    tu_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/prices.json", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The repository's example table, found from $TESTDATA (tests/data). */
static const char *example_prices(void)
{
    static char p[512];
    const char *td = getenv("TESTDATA");
    snprintf(p, sizeof(p), "%s/../../examples/prices.json", td && *td ? td : "tests/data");
    return p;
}

/* A kv list holding `n` overrides "key = value" from f.ini lines 2.. */
struct kvs {
    struct config_kv items[8];
    char origins[8][32];
    struct config_kv_list list;
};

static void kvs_init(struct kvs *k, const char *const *pairs)
{
    memset(k, 0, sizeof(*k));
    size_t n = 0;
    for (; pairs[2 * n]; n++) {
        snprintf(k->origins[n], sizeof(k->origins[n]), "f.ini:%zu", n + 2);
        k->items[n] =
            (struct config_kv){(char *)pairs[2 * n], (char *)pairs[2 * n + 1], k->origins[n]};
    }
    k->list = (struct config_kv_list){k->items, n, n};
}

/* The rate of LiteLLM key `key` of m, NAN when it has none. */
static double rate(const struct pricing_model *m, const char *key)
{
    double v = NAN;
    ck_assert_ptr_nonnull(m);
    pricing_model_rate(m, key, &v);
    return v;
}

static struct pricing *load_ok(const char *file, const struct config_kv_list *ov)
{
    char err[ERR_MAX] = "";
    struct pricing *t = NULL;
    ck_assert_msg(pricing_load(file, ov, &t, err) == 0, "%s", err);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Loading must fail with rc and a message holding each needle. */
static void load_fails(const char *file, const struct config_kv_list *ov, int rc, const char *n1,
                       const char *n2)
{
    char err[ERR_MAX] = "";
    struct pricing *t = (struct pricing *)1;
    ck_assert_int_eq(pricing_load(file, ov, &t, err), rc);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, n1), "\"%s\" not in: %s", n1, err);
    ck_assert_msg(!n2 || strstr(err, n2), "\"%s\" not in: %s", n2, err);
}

START_TEST(example_file_loads_per_token_models_only)
{
    struct pricing *t = load_ok(example_prices(), NULL);
    /* sample_spec (documentation) and dall-e-3 (per pixel) are skipped. */
    ck_assert_uint_eq(pricing_count(t), 6);
    ck_assert_ptr_null(pricing_lookup(t, "sample_spec", NULL, NULL));
    ck_assert_ptr_null(pricing_lookup(t, "dall-e-3", NULL, NULL));
    const struct pricing_model *p = pricing_lookup(t, "gpt-4o-mini", NULL, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_double_eq(rate(p, "input_cost_per_token"), 1.5e-07);
    ck_assert_double_eq(rate(p, "output_cost_per_token"), 6e-07);
    ck_assert_double_eq(rate(p, "cache_read_input_token_cost"), 7.5e-08);
    ck_assert(isnan(rate(p, "cache_creation_input_token_cost")) &&
              isnan(rate(p, "output_cost_per_reasoning_token")));
    p = pricing_lookup(t, "claude-sonnet-4-20250514", NULL, NULL);
    ck_assert_double_eq(rate(p, "cache_creation_input_token_cost"), 3.75e-06);
    ck_assert_double_eq(rate(p, "cache_creation_input_token_cost_above_1hr"), 6e-06);
    pricing_free(t);
}
END_TEST

START_TEST(lookup_rule)
{
    const char *pairs[] = {"gpt-4o",
                           "input=1 output=1",
                           "openai/house",
                           "input=2 output=2",
                           "vendor/x/y",
                           "input=3 output=3",
                           NULL};
    struct kvs k;
    kvs_init(&k, pairs);
    struct pricing *t = load_ok(NULL, &k.list);
    /* exact */
    ck_assert_double_eq(rate(pricing_lookup(t, "gpt-4o", NULL, NULL), "input_cost_per_token"), 1);
    ck_assert_double_eq(
        rate(pricing_lookup(t, "openai/house", "azure", NULL), "input_cost_per_token"), 2);
    /* without the provider/ prefix */
    ck_assert_double_eq(
        rate(pricing_lookup(t, "openai/gpt-4o", NULL, NULL), "input_cost_per_token"), 1);
    ck_assert_double_eq(
        rate(pricing_lookup(t, "azure/gpt-4o", "azure", NULL), "input_cost_per_token"), 1);
    /* with the event's provider prefix added */
    ck_assert_double_eq(rate(pricing_lookup(t, "house", "openai", NULL), "input_cost_per_token"),
                        2);
    ck_assert_ptr_null(pricing_lookup(t, "house", "azure", NULL));
    ck_assert_ptr_null(pricing_lookup(t, "house", NULL, NULL));
    /* only the first segment is removed */
    ck_assert_double_eq(rate(pricing_lookup(t, "vendor/x/y", NULL, NULL), "input_cost_per_token"),
                        3);
    ck_assert_double_eq(rate(pricing_lookup(t, "a/vendor/x/y", NULL, NULL), "input_cost_per_token"),
                        3);
    ck_assert_ptr_null(pricing_lookup(t, "b/a/vendor/x/y", NULL, NULL));
    ck_assert_ptr_null(pricing_lookup(t, "", "openai", NULL));
    ck_assert_ptr_null(pricing_lookup(t, NULL, "openai", NULL));
    ck_assert_ptr_null(pricing_lookup(NULL, "gpt-4o", NULL, NULL));
    pricing_free(t);
}
END_TEST

static struct event tokens(int64_t in, int64_t cached, int64_t writes, int64_t writes_1h,
                           int64_t out, int64_t reasoning)
{
    struct event ev;
    event_init(&ev, "test");
    ev.input_tokens = in;
    ev.cached_input_tokens = cached;
    ev.cache_write_tokens = writes;
    ev.cache_write_1h_tokens = writes_1h;
    ev.output_tokens = out;
    ev.reasoning_tokens = reasoning;
    return ev;
}

/* A one-model table from a [prices] override value; free with pricing_free. */
static struct pricing *one_model(const char *prices, const struct pricing_model **m)
{
    const char *pairs[] = {"m", prices, NULL};
    struct kvs k;
    kvs_init(&k, pairs);
    struct pricing *t = load_ok(NULL, &k.list);
    *m = pricing_lookup(t, "m", NULL, NULL);
    ck_assert_ptr_nonnull(*m);
    return t;
}

START_TEST(cost_with_cache_and_reasoning)
{
    const struct pricing_model *p = NULL;
    struct pricing *t =
        one_model("input=3e-06 output=1.5e-05 cache_read=3e-07 cache_write=3.75e-06 "
                  "cache_write_1h=6e-06 reasoning=2e-05",
                  &p);
    double usd = 0;
    /* 312 uncached, 10240 read, 850 5-minute + 1000 1-hour writes; 86 output + 400 reasoning */
    struct event ev = tokens(12402, 10240, 1850, 1000, 486, 400);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    double want =
        312 * 3e-06 + 10240 * 3e-07 + 850 * 3.75e-06 + 1000 * 6e-06 + 86 * 1.5e-05 + 400 * 2e-05;
    ck_assert_double_eq_tol(usd, want, 1e-12);
    ck_assert_double_eq(usd, 0.0224855);
    pricing_free(t);
    /* reasoning without its own price is output-priced, and never twice */
    t = one_model("input=3e-06 output=1.5e-05 cache_read=3e-07 cache_write=3.75e-06 "
                  "cache_write_1h=6e-06",
                  &p);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq(usd, 0.0204855);
    pricing_free(t);
    /* without a 1-hour price the 1-hour writes take the write price */
    t = one_model("input=3e-06 output=1.5e-05 cache_read=3e-07 cache_write=3.75e-06", &p);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq(usd, 0.0182355);
    pricing_free(t);
}
END_TEST

START_TEST(missing_cache_prices_fall_back_to_input)
{
    const struct pricing_model *p = NULL;
    struct pricing *t = one_model("input=1e-06 output=2e-06", &p);
    double usd = 0;
    struct event ev = tokens(1000, 600, 300, 100, 10, EVENT_ABSENT);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq(usd, 1000 * 1e-06 + 10 * 2e-06);
    pricing_free(t);
}
END_TEST

/* LiteLLM's long-context rule: once the whole prompt (cache reads and
 * writes included) exceeds a threshold, every part of the request is
 * billed at that tier, each rate falling back to the lower tier's. */
START_TEST(long_context_tier_reprices_the_whole_request)
{
    const struct pricing_model *p = NULL;
    struct pricing *t = one_model("input=1e-06 output=1e-05 cache_read=1e-07 "
                                  "input_cost_per_token_above_200k_tokens=2e-06 "
                                  "output_cost_per_token_above_200k_tokens=1.5e-05 "
                                  "cache_read_input_token_cost_above_200k_tokens=2e-07 "
                                  "input_cost_per_token_above_128k_tokens=1.5e-06 "
                                  "input_cost_per_token_above_200k_tokens_priority=9e-06",
                                  &p);
    double usd = 0;
    /* exactly at the threshold: not above it */
    struct event ev = tokens(200000, 100000, EVENT_ABSENT, EVENT_ABSENT, 10, EVENT_ABSENT);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 100000 * 1.5e-06 + 100000 * 1e-07 + 10 * 1e-05, 1e-12);
    /* one above: the cached part crosses with it, and the output */
    ev.input_tokens = 200001;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 100001 * 2e-06 + 100000 * 2e-07 + 10 * 1.5e-05, 1e-12);
    /* a service tier takes its own tier key where there is one */
    ev.service_tier = "priority";
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 100001 * 9e-06 + 100000 * 2e-07 + 10 * 1.5e-05, 1e-12);
    pricing_free(t);
}
END_TEST

START_TEST(service_tiers_and_batch)
{
    const struct pricing_model *p = NULL;
    struct pricing *t = one_model("input=2e-06 output=8e-06 input_cost_per_token_flex=1e-06 "
                                  "output_cost_per_token_priority=1.6e-05 "
                                  "input_cost_per_token_batches=1.1e-06",
                                  &p);
    double usd = 0;
    struct event ev = tokens(1000, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 100, EVENT_ABSENT);
    ev.service_tier = "flex"; /* flex input, standard output (per key fallback) */
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 1000 * 1e-06 + 100 * 8e-06, 1e-12);
    ev.service_tier = "priority";
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 1000 * 2e-06 + 100 * 1.6e-05, 1e-12);
    ev.service_tier = "default"; /* OpenAI's standard tier */
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 1000 * 2e-06 + 100 * 8e-06, 1e-12);
    /* batch: the *_batches rate, else half the standard one */
    ev.service_tier = "batch";
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 1000 * 1.1e-06 + 100 * 4e-06, 1e-12);
    pricing_free(t);
}
END_TEST

START_TEST(audio_image_and_web_search)
{
    const struct pricing_model *p = NULL;
    struct pricing *t = one_model("input=2.5e-06 output=1e-05 input_cost_per_audio_token=4e-05 "
                                  "output_cost_per_audio_token=8e-05 "
                                  "search_context_cost_per_query=0.01",
                                  &p);
    double usd = 0;
    struct event ev = tokens(1000, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 300, EVENT_ABSENT);
    ev.input_audio_tokens = 600;
    ev.input_image_tokens = 100; /* no image price: billed as text input, as LiteLLM does */
    ev.output_audio_tokens = 200;
    ev.web_search_requests = 3;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(
        usd, 300 * 2.5e-06 + 600 * 4e-05 + 100 * 2.5e-06 + 200 * 8e-05 + 100 * 1e-05 + 3 * 0.01,
        1e-12);
    pricing_free(t);
    /* searches without a search price: unpriced, never $0 */
    t = one_model("input=2.5e-06 output=1e-05", &p);
    const char *missing = NULL;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), -ENOENT);
    ck_assert_str_eq(missing, "web_search");
    pricing_free(t);
}
END_TEST

/* Rules LiteLLM keys to an entry's litellm_provider. */
START_TEST(provider_rules_from_the_file)
{
    tu_write_file(path,
                  "{\"grok\": {\"litellm_provider\": \"xai\", \"input_cost_per_token\": 1e-6, "
                  "\"output_cost_per_token\": 2e-6, \"output_cost_per_reasoning_token\": 9e-6, "
                  "\"input_cost_per_token_above_128k_tokens\": 2e-6},"
                  "\"fw\": {\"litellm_provider\": \"fireworks_ai\", \"input_cost_per_token\": "
                  "1e-6, \"output_cost_per_token\": 1e-6, \"input_cost_per_token_priority\": 9e-6},"
                  "\"gem\": {\"litellm_provider\": \"gemini\", \"input_cost_per_token\": 1e-6, "
                  "\"output_cost_per_token\": 1e-6}}");
    struct pricing *t = load_ok(path, NULL);
    double usd = 0;
    /* xAI: the threshold itself takes the tier; the whole completion at the
     * output rate; searches at $5 per 1000 without a search price */
    struct event ev = tokens(128000, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 10, 5);
    ev.web_search_requests = 2;
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "grok", NULL, NULL), &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 128000 * 2e-06 + 10 * 2e-06 + 2 * 0.005, 1e-12);
    /* Fireworks: cache reads at half the input price; no service tier */
    ev = tokens(1000, 100, EVENT_ABSENT, EVENT_ABSENT, 0, EVENT_ABSENT);
    ev.service_tier = "priority";
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "fw", NULL, NULL), &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 900 * 1e-06 + 100 * 5e-07, 1e-12);
    /* Gemini: grounding billed once per prompt, at LiteLLM's default */
    ev = tokens(1000, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 0, EVENT_ABSENT);
    ev.web_search_requests = 3;
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "gem", NULL, NULL), &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 1000 * 1e-06 + 0.035, 1e-12);
    pricing_free(t);
}
END_TEST

/* provider_specific_entry: the region multiplier (anthropic and bedrock
 * entries) and the speed one (anthropic only) scale the tokens' cost, not
 * the searches', and not a batch request; other providers' are not read. */
START_TEST(region_and_speed_multipliers)
{
    tu_write_file(path, "{\"a\": {\"litellm_provider\": \"anthropic\", \"input_cost_per_token\": "
                        "1e-6, \"output_cost_per_token\": 2e-6, \"search_context_cost_per_query\": "
                        "{\"search_context_size_medium\": 0.01}, \"provider_specific_entry\": "
                        "{\"us\": 1.1, \"fast\": 2.0, \"note\": \"x\"}},"
                        "\"b\": {\"litellm_provider\": \"bedrock\", \"input_cost_per_token\": "
                        "1e-6, \"output_cost_per_token\": 2e-6, \"provider_specific_entry\": "
                        "{\"us\": 1.1, \"fast\": 2.0}},"
                        "\"o\": {\"litellm_provider\": \"openai\", \"input_cost_per_token\": "
                        "1e-6, \"output_cost_per_token\": 2e-6, \"provider_specific_entry\": "
                        "{\"us\": 1.1}}}");
    struct pricing *t = load_ok(path, NULL);
    const struct pricing_model *a = pricing_lookup(t, "a", NULL, NULL);
    const struct pricing_model *b = pricing_lookup(t, "b", NULL, NULL);
    const struct pricing_model *o = pricing_lookup(t, "o", NULL, NULL);
    ck_assert_double_eq(rate(a, "provider_specific_entry.us"), 1.1);
    ck_assert(isnan(rate(a, "provider_specific_entry.note")));
    ck_assert(isnan(rate(b, "provider_specific_entry.fast")));
    ck_assert(isnan(rate(o, "provider_specific_entry.us")));
    double usd = 0, base = 1000 * 1e-6 + 1000 * 2e-6;
    struct event ev = tokens(1000, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 1000, EVENT_ABSENT);
    ev.inference_geo = "US";
    ev.speed = "fast";
    ev.web_search_requests = 1;
    ck_assert_int_eq(pricing_cost(a, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, base * 1.1 * 2.0 + 0.01, 1e-12);
    ev.web_search_requests = EVENT_ABSENT;
    ck_assert_int_eq(pricing_cost(b, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, base * 1.1, 1e-12);
    ck_assert_int_eq(pricing_cost(o, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, base, 1e-12);
    ev.inference_geo = "global";
    ev.speed = "standard";
    ck_assert_int_eq(pricing_cost(a, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, base, 1e-12);
    ev.inference_geo = "us";
    ev.service_tier = "batch";
    ck_assert_int_eq(pricing_cost(a, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, base / 2, 1e-12);
    pricing_free(t);
}
END_TEST

/* A tiered_pricing list: the tier whose range holds the prompt prices the
 * whole request; above every range, the last tier. */
START_TEST(range_tiers_price_the_whole_request)
{
    tu_write_file(path, "{\"q\": {\"litellm_provider\": \"dashscope\", \"tiered_pricing\": ["
                        "{\"range\": [0, 32000], \"input_cost_per_token\": 1e-6, "
                        "\"output_cost_per_token\": 5e-6, \"cache_read_input_token_cost\": 1e-7},"
                        "{\"range\": [32000, 128000], \"input_cost_per_token\": 2e-6, "
                        "\"output_cost_per_token\": 9e-6}]}}");
    struct pricing *t = load_ok(path, NULL);
    const struct pricing_model *m = pricing_lookup(t, "q", NULL, NULL);
    ck_assert_ptr_nonnull(m); /* kept although it has no flat price */
    double usd = 0;
    struct event ev = tokens(32000, 1000, EVENT_ABSENT, EVENT_ABSENT, 10, EVENT_ABSENT);
    ck_assert_int_eq(pricing_cost(m, &ev, &usd, NULL), 0); /* (0, 32000] */
    ck_assert_double_eq_tol(usd, 31000 * 1e-06 + 1000 * 1e-07 + 10 * 5e-06, 1e-12);
    ev.input_tokens = 32001; /* second tier; it has no cache price: input rate */
    ck_assert_int_eq(pricing_cost(m, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 32001 * 2e-06 + 10 * 9e-06, 1e-12);
    ev.input_tokens = 500000; /* above every range: the last tier */
    ck_assert_int_eq(pricing_cost(m, &ev, &usd, NULL), 0);
    ck_assert_double_eq_tol(usd, 500000 * 2e-06 + 10 * 9e-06, 1e-12);
    /* no prompt: no tier, and no flat output price: unpriced, not $0 */
    ev = tokens(0, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 10, EVENT_ABSENT);
    const char *missing = NULL;
    ck_assert_int_eq(pricing_cost(m, &ev, &usd, &missing), -ENOENT);
    ck_assert_str_eq(missing, "output");
    pricing_free(t);
}
END_TEST

START_TEST(the_sample_call_costs_what_litellm_reported)
{
    struct pricing *t = load_ok(example_prices(), NULL);
    double usd = 0;
    struct event ev = tokens(2150, 1536, EVENT_ABSENT, EVENT_ABSENT, 212, 0);
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "gpt-4o-mini", NULL, NULL), &ev, &usd, NULL),
                     0);
    ck_assert_double_eq(usd, 0.0003345); /* exact after picodollar rounding */
    pricing_free(t);
}
END_TEST

START_TEST(missing_prices_and_tokens)
{
    const struct pricing_model *p = NULL;
    struct pricing *t = one_model("input=1e-06", &p);
    double usd = -1;
    const char *missing = NULL;
    /* input only: the output count is unknown, not zero (SPEC 3), so a cost
     * from the input alone would look complete while it is not */
    struct event ev =
        tokens(100, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), -ENODATA);
    /* an embedding that says it produced no output is priced */
    ev.output_tokens = 0;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), 0);
    ck_assert_double_eq(usd, 1e-04);
    ck_assert_ptr_null(missing);
    /* output tokens without an output price cannot be priced */
    ev.output_tokens = 5;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), -ENOENT);
    ck_assert_str_eq(missing, "output");
    /* zero output tokens need no output price */
    ev.output_tokens = 0;
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), 0);
    /* no token counts at all: nothing to price */
    ev = tokens(EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT);
    ck_assert_int_eq(pricing_cost(p, &ev, &usd, &missing), -ENODATA);
    pricing_free(t);
}
END_TEST

START_TEST(apply_sets_cost_source)
{
    const char *pairs[] = {"m", "input=1e-06 output=2e-06", NULL};
    struct kvs k;
    kvs_init(&k, pairs);
    struct pricing *t = load_ok(NULL, &k.list);
    struct event ev = tokens(10, EVENT_ABSENT, EVENT_ABSENT, EVENT_ABSENT, 5, EVENT_ABSENT);
    ev.model = "m";
    pricing_apply(t, &ev);
    ck_assert_int_eq(ev.cost_source, EVENT_COST_COMPUTED);
    ck_assert_double_eq(ev.cost_usd, 2e-05);
    ev.model = "unknown-model";
    pricing_apply(t, &ev);
    ck_assert_int_eq(ev.cost_source, EVENT_COST_UNPRICED);
    ck_assert(isnan(ev.cost_usd));
    ev.model = NULL;
    pricing_apply(NULL, &ev);
    ck_assert_int_eq(ev.cost_source, EVENT_COST_UNPRICED);
    pricing_free(t);
}
END_TEST

START_TEST(override_replaces_file_entry)
{
    const char *pairs[] = {"gpt-4o-mini", "input=1e-06, output=2e-06", NULL};
    struct kvs k;
    kvs_init(&k, pairs);
    struct pricing *t = load_ok(example_prices(), &k.list);
    const struct pricing_model *p = pricing_lookup(t, "gpt-4o-mini", NULL, NULL);
    ck_assert_double_eq(rate(p, "input_cost_per_token"), 1e-06);
    ck_assert_double_eq(rate(p, "output_cost_per_token"), 2e-06);
    ck_assert(isnan(rate(p, "cache_read_input_token_cost"))); /* replaced as a whole, not merged */
    ck_assert_uint_eq(pricing_count(t), 6);
    pricing_free(t);
}
END_TEST

START_TEST(override_errors_name_origin_and_key)
{
    static const struct {
        const char *value;
        const char *needle;
    } bad[] = {
        {"input", "is not NAME=USD_PER_TOKEN"},
        {"input=1e-6 price=2", "unknown price \"price\""},
        {"input=-1", "input: expected a non-negative number"},
        {"input=abc", "input: expected a non-negative number"},
        {"input=", "input: expected a non-negative number"},
        {"input=inf", "input: expected a non-negative number"},
        {"cache_read=1e-7", "give at least input= or output="},
        {"", "give at least input= or output="},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *pairs[] = {"ok-model", "output=1", "my-model", bad[i].value, NULL};
        struct kvs k;
        kvs_init(&k, pairs);
        load_fails(NULL, &k.list, -EINVAL, "f.ini:3: [prices] my-model", bad[i].needle);
    }
}
END_TEST

START_TEST(bad_files_name_file_and_model)
{
    load_fails("/nonexistent/prices.json", NULL, -ENOENT, "/nonexistent/prices.json",
               "cannot open");
    tu_write_file(path, "{\"a\": ");
    load_fails(path, NULL, -EINVAL, path, "invalid JSON");
    tu_write_file(path, "[1, 2]");
    load_fails(path, NULL, -EINVAL, path, "not a JSON object keyed by model name");
    tu_write_file(path, "{\"m\": {\"input_cost_per_token\": -1e-6}}");
    load_fails(path, NULL, -EINVAL, "model \"m\"", "input_cost_per_token");
    tu_write_file(path, "{\"m\": {\"input_cost_per_token\": 1e-6, "
                        "\"cache_read_input_token_cost\": \"cheap\"}}");
    load_fails(path, NULL, -EINVAL, "model \"m\"", "cache_read_input_token_cost");
    /* null means "no price", like an absent key */
    tu_write_file(path, "{\"m\": {\"input_cost_per_token\": 1e-6, "
                        "\"output_cost_per_token\": null}}");
    struct pricing *t = load_ok(path, NULL);
    ck_assert(isnan(rate(pricing_lookup(t, "m", NULL, NULL), "output_cost_per_token")));
    pricing_free(t);
}
END_TEST

/* The input rate of the entry an event of (model, provider) is priced with;
 * NAN when none. */
static double found(const struct pricing *t, const char *model, const char *provider)
{
    const struct pricing_model *m = pricing_lookup(t, model, provider, NULL);
    return m ? rate(m, "input_cost_per_token") : NAN;
}

/* LiteLLM's order (utils._model_cost_lookup_order, _check_provider_match):
 * with a provider it names, "provider/model" first and only entries of that
 * provider; then, unchecked, the provider-agnostic names. */
START_TEST(lookup_follows_litellm_for_its_providers)
{
    /* name: input rate, litellm_provider (output 1 each) */
    tu_write_file(
        path,
        "{\"gpt-4o\": {\"input_cost_per_token\": 1, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"openai\"}"
        ",\"azure/gpt-4o\": {\"input_cost_per_token\": 2, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"azure\"}"
        ",\"gemini-2.5-flash\": {\"input_cost_per_token\": 3, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"vertex_ai-language-models\"}"
        ",\"gemini/gemini-2.5-flash\": {\"input_cost_per_token\": 4, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"gemini\"}"
        ",\"gemini/gemini-1.5-pro\": {\"input_cost_per_token\": 5, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"gemini\"}"
        ",\"gpt-4.1\": {\"input_cost_per_token\": 6, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"openai\"}"
        ",\"ft:gpt-4o-mini\": {\"input_cost_per_token\": 7, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"openai\"}"
        ",\"gpt-3.5-turbo-instruct\": {\"input_cost_per_token\": 8, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"text-completion-openai\"}"
        ",\"Mixed-Case\": {\"input_cost_per_token\": 9, \"output_cost_per_token\": 1, "
        "\"litellm_provider\": \"openai\"}"
        "}");
    struct pricing *t = load_ok(path, NULL);
    /* the provider's own entry before the bare name */
    ck_assert_double_eq(found(t, "gpt-4o", "azure"), 2);
    ck_assert_double_eq(found(t, "azure/gpt-4o", "azure"), 2);
    ck_assert_double_eq(found(t, "gpt-4o", "openai"), 1);
    ck_assert_double_eq(found(t, "gpt-4o", "OpenAI"), 1);
    ck_assert_double_eq(found(t, "gpt-4o", NULL), 1);
    /* the Gemini API and Vertex AI price the same name differently */
    ck_assert_double_eq(found(t, "gemini-2.5-flash", "gemini"), 4);
    ck_assert_double_eq(found(t, "gemini-2.5-flash", "vertex_ai"), 3);
    /* a provider LiteLLM does not name: the name as it is */
    ck_assert_double_eq(found(t, "gemini-2.5-flash", "google"), 3);
    /* version suffixes LiteLLM strips */
    ck_assert_double_eq(found(t, "gemini-1.5-pro-002", "gemini"), 5);
    ck_assert_double_eq(found(t, "gpt-4.1-2025-04-14", "openai"), 6);
    ck_assert_double_eq(found(t, "ft:gpt-4o-mini:acme:suffix:abc123", "openai"), 7);
    ck_assert(isnan(found(t, "gpt-4.1-2025-04-14", NULL)));
    /* LiteLLM routes it as text-completion-openai; the vendor's name keeps
     * its price through the unchecked names */
    ck_assert_double_eq(found(t, "gpt-3.5-turbo-instruct", "openai"), 8);
    /* a router's repeated provider segment counts once, as cost_per_token */
    ck_assert_double_eq(found(t, "azure/azure/azure/gpt-4o", "azure"), 2);
    ck_assert_double_eq(found(t, "openai/openai/gpt-4.1", "openai"), 6);
    /* case-insensitive, as get_model_cost_key */
    ck_assert_double_eq(found(t, "mixed-case", "openai"), 9);
    ck_assert_double_eq(found(t, "MIXED-CASE", NULL), 9);
    size_t step = 99;
    ck_assert_ptr_nonnull(pricing_lookup(t, "gemini-1.5-pro-002", "gemini", &step));
    struct pricing_tries tries;
    pricing_tries(t, "gemini-1.5-pro-002", "gemini", &tries);
    ck_assert_str_eq(tries.provider, "gemini");
    ck_assert_str_eq(tries.name[step], "gemini/gemini-1.5-pro");
    ck_assert(tries.checked[step]);
    pricing_free(t);

    /* an operator's [prices] entry wins under any provider */
    const char *pairs[] = {"gpt-4o", "input=10 output=10", NULL};
    struct kvs k;
    kvs_init(&k, pairs);
    t = load_ok(path, &k.list);
    ck_assert_double_eq(found(t, "gpt-4o", "azure"), 10);
    ck_assert_double_eq(found(t, "gpt-4o", NULL), 10);
    ck_assert_double_eq(found(t, "gemini-2.5-flash", "gemini"), 4);
    pricing_free(t);

    /* names equal but for case: the last in the file, as LiteLLM's index */
    tu_write_file(path, "{\"Foo-Model\": {\"input_cost_per_token\": 1}, "
                        "\"foo-model\": {\"input_cost_per_token\": 3}, "
                        "\"FOO-model\": {\"input_cost_per_token\": 5}}");
    t = load_ok(path, NULL);
    ck_assert_double_eq(found(t, "FOO-MODEL", NULL), 5);
    ck_assert_double_eq(found(t, "foo-model", NULL), 3); /* an exact name first */
    pricing_free(t);

    /* Bedrock ids as calls name them: the base model's entry */
    tu_write_file(path, "{\"anthropic.claude-x-v2:0\": {\"input_cost_per_token\": 7, "
                        "\"litellm_provider\": \"bedrock\"}}");
    t = load_ok(path, NULL);
    const char *ids[] = {
        "us.anthropic.claude-x-v2:0",
        "converse/eu.anthropic.claude-x-v2:0",
        "anthropic.claude-x-v2:0:51k",
        "global.anthropic.claude-x-v2:0[1m]",
        "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-x-v2:0",
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        ck_assert_msg(found(t, ids[i], "bedrock") == 7, "%s", ids[i]);
    ck_assert(isnan(found(t, "usa.anthropic.claude-x-v2:0", "bedrock")));
    ck_assert(isnan(found(t, "anthropic.claude-x-v2:0:51", "bedrock")));
    pricing_free(t);
}
END_TEST

/* The cost of 1000 input and 500 output tokens of "m" at `when`. */
static double cost_at(const struct pricing *t, const char *when)
{
    struct event ev = tokens(1000, 0, 0, 0, 500, 0);
    double usd = NAN;
    ck_assert_int_eq(timeutil_parse_iso8601(when, &ev.time_ns), 0);
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "m", NULL, NULL), &ev, &usd, NULL), 0);
    return usd;
}

/* LiteLLM's off_peak_pricing (DeepSeek's discount hours): its rates replace
 * the standard ones inside a window, read at the call's start; flat
 * hours_utc apply every day, windows[] on their weekdays, read on
 * weekday_timezone's calendar. */
START_TEST(off_peak_rates_by_the_call_time)
{
    tu_write_file(path,
                  "{\"m\": {\"input_cost_per_token\": 2e-06, \"output_cost_per_token\": 4e-06, "
                  "\"off_peak_pricing\": {\"input_cost_per_token\": 1e-06, "
                  "\"output_cost_per_token\": \"2e-06\", \"hours_utc\": \"22:00-02:00\", "
                  "\"weekday_timezone\": \"Asia/Shanghai\", \"windows\": ["
                  "{\"hours_utc\": [\"10:0-\\t12:00\", \"bad\"], \"weekdays\": [\"\\tSat \", 7]}, "
                  "{\"hours_utc\": \"00:00-00:00\", \"weekdays\": \"mon\"}]}}}");
    struct pricing *t = load_ok(path, NULL);
    double peak = 1000 * 2e-06 + 500 * 4e-06, off = 1000 * 1e-06 + 500 * 2e-06;
    ck_assert_double_eq_tol(cost_at(t, "2026-08-26T12:00:00Z"), peak, 1e-15);
    /* the flat window wraps past midnight: start inclusive, end exclusive */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-26T22:00:00Z"), off, 1e-15);
    ck_assert_double_eq_tol(cost_at(t, "2026-08-27T01:59:59Z"), off, 1e-15);
    ck_assert_double_eq_tol(cost_at(t, "2026-08-27T02:00:00Z"), peak, 1e-15);
    /* Saturday 11:00 UTC is Saturday in Shanghai too */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-29T11:00:00Z"), off, 1e-15);
    /* Friday 11:00 UTC: a weekday rule for the weekend only */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T11:00:00Z"), peak, 1e-15);
    /* "weekdays": "mon" is not a list: LiteLLM's rule matches nothing */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-31T08:00:00Z"), peak, 1e-15);
    /* batch pricing has no off-peak rates: the same inside a window */
    struct event ev = tokens(1000, 0, 0, 0, 500, 0);
    ev.service_tier = "batch";
    double in_peak = 0, in_window = 0;
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-26T12:00:00Z", &ev.time_ns), 0);
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "m", NULL, NULL), &ev, &in_peak, NULL), 0);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-26T22:30:00Z", &ev.time_ns), 0);
    ck_assert_int_eq(pricing_cost(pricing_lookup(t, "m", NULL, NULL), &ev, &in_window, NULL), 0);
    ck_assert_double_eq(in_peak, in_window);
    pricing_free(t);

    /* the weekday on the zone's calendar: Saturday 02:30 in Shanghai is
     * Friday 18:30 UTC */
    tu_write_file(path,
                  "{\"m\": {\"input_cost_per_token\": 2e-06, \"output_cost_per_token\": 4e-06, "
                  "\"off_peak_pricing\": {\"input_cost_per_token\": 1e-06, "
                  "\"weekday_timezone\": \"Asia/Shanghai\", \"windows\": ["
                  "{\"hours_utc\": \"00:00-00:00\", \"weekdays\": [6]}]}}}");
    t = load_ok(path, NULL);
    double half_off = 1000 * 1e-06 + 500 * 4e-06; /* output keeps its standard rate */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T18:30:00Z"), half_off, 1e-15);
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T15:30:00Z"), peak, 1e-15);
    /* Shanghai's midnight, a quarter hour apart and back: no stale weekday */
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T15:59:59Z"), peak, 1e-15);
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T16:00:00Z"), half_off, 1e-15);
    ck_assert_double_eq_tol(cost_at(t, "2026-08-28T15:59:59Z"), peak, 1e-15);
    pricing_free(t);
}
END_TEST

START_TEST(large_table_every_model_found)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("{", fp);
    for (int i = 0; i < 5000; i++)
        fprintf(fp,
                "%s\"provider%d/model-%d\": {\"input_cost_per_token\": %d, "
                "\"output_cost_per_token\": 1}",
                i ? "," : "", i % 7, i, i);
    fputs("}", fp);
    fclose(fp);
    struct pricing *t = load_ok(path, NULL);
    ck_assert_uint_eq(pricing_count(t), 5000);
    for (int i = 0; i < 5000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "model-%d", i);
        char prov[32];
        snprintf(prov, sizeof(prov), "provider%d", i % 7);
        const struct pricing_model *p = pricing_lookup(t, name, prov, NULL);
        ck_assert_ptr_nonnull(p);
        ck_assert_double_eq(rate(p, "input_cost_per_token"), i);
    }
    ck_assert_ptr_null(pricing_lookup(t, "model-5000", "provider0", NULL));
    pricing_free(t);
}
END_TEST

/* Through the pipeline: a reported cost wins over any price. */
START_TEST(reported_cost_is_never_replaced)
{
    char err[ERR_MAX];
    char dl[200];
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    struct config *cfg = config_new();
    ck_assert_int_eq(config_set(cfg, "prices", "gpt-4o-mini", "input=1 output=1", "t:1", err), 0);
    ck_assert_int_eq(config_finish(cfg, err), 0);
    struct deadletter *d = NULL;
    ck_assert_int_eq(deadletter_open(dl, &d, err), 0);
    struct stats st;
    memset(&st, 0, sizeof(st));
    struct pipeline *p = NULL;
    ck_assert_msg(pipeline_new(cfg, d, &st, &p, err) == 0, "%s", err);
    struct buf out;
    buf_init(&out, 1 << 20);
    const char *reported = "{\"id\":\"a\",\"call_type\":\"acompletion\",\"status\":\"success\","
                           "\"startTime\":1787666591.5,\"model\":\"gpt-4o-mini\","
                           "\"prompt_tokens\":100,\"completion_tokens\":10,"
                           "\"response_cost\":0.000021}";
    const char *zero = "{\"id\":\"b\",\"call_type\":\"acompletion\",\"status\":\"failure\","
                       "\"startTime\":1787666591.5,\"model\":\"gpt-4o-mini\","
                       "\"prompt_tokens\":100,\"completion_tokens\":10,\"response_cost\":0}";
    const char *not_computed = "{\"id\":\"c\",\"call_type\":\"acompletion\",\"status\":\"success\","
                               "\"startTime\":1787666591.5,\"model\":\"gpt-4o-mini\","
                               "\"prompt_tokens\":100,\"completion_tokens\":10,"
                               "\"response_cost\":0,\"response_cost_failure_debug_info\":{}}";
    ck_assert_int_eq(pipeline_feed(p, reported, strlen(reported), "t:1", NULL, &out), 0);
    ck_assert_int_eq(pipeline_feed(p, zero, strlen(zero), "t:2", NULL, &out), 0);
    ck_assert_int_eq(pipeline_feed(p, not_computed, strlen(not_computed), "t:3", NULL, &out), 0);
    ck_assert_msg(strstr(out.data, "cost_usd=2.1e-05,cost_source=\"reported\""), "%s", out.data);
    ck_assert_int_eq(tu_count(out.data, "cost_source=\"reported\""), 2);
    ck_assert_int_eq(tu_count(out.data, "cost_usd=0,"), 1);
    /* LiteLLM said it could not compute its cost: the price table decides */
    ck_assert_int_eq(tu_count(out.data, "cost_usd=110,cost_source=\"computed\""), 1);
    ck_assert_uint_eq(st.unpriced, 0);
    buf_free(&out);
    pipeline_free(p);
    deadletter_close(d);
    config_free(cfg);
}
END_TEST

/* The binary: one W! per unpriced model however many events, and the stats
 * count every unpriced event. */
START_TEST(unpriced_model_warned_once_and_counted)
{
    char in[200], out[200], errp[200], dl[200];
    snprintf(in, sizeof(in), "%s/in.ndjson", dir);
    snprintf(out, sizeof(out), "%s/out.lp", dir);
    snprintf(errp, sizeof(errp), "%s/err.txt", dir);
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    tu_write_file(in, "{\"object\":\"chat.completion\",\"id\":\"x1\",\"created\":1787666591,"
                      "\"model\":\"llama-3-70b\",\"usage\":{\"prompt_tokens\":5,"
                      "\"completion_tokens\":1}}\n"
                      "{\"object\":\"chat.completion\",\"id\":\"x2\",\"created\":1787666591,"
                      "\"model\":\"llama-3-70b\",\"usage\":{\"prompt_tokens\":5,"
                      "\"completion_tokens\":1}}\n"
                      "{\"object\":\"chat.completion\",\"id\":\"x3\",\"created\":1787666591,"
                      "\"model\":\"gpt-4o-mini\",\"usage\":{\"prompt_tokens\":5,"
                      "\"completion_tokens\":1}}\n"
                      "\n");
    const char *args[] = {"execd", "--dead-letter", dl, "--prices", example_prices(), NULL};
    ck_assert_int_eq(rb_run(args, in, out, errp), 0);
    char *e = tu_read_file(errp);
    char *o = tu_read_file(out);
    ck_assert_int_eq(tu_count(e, "W! no price for model \"llama-3-70b\""), 1);
    ck_assert_int_eq(tu_count(o, "cost_source=\"unpriced\""), 2);
    ck_assert_int_eq(tu_count(o, "cost_source=\"computed\""), 1);
    ck_assert_msg(strstr(o, "unpriced=2i"), "%s", o);
    free(e);
    free(o);
}
END_TEST

START_TEST(bad_prices_are_config_errors)
{
    char cfgp[200], out[200], errp[200], dl[200];
    snprintf(cfgp, sizeof(cfgp), "%s/t.conf", dir);
    snprintf(out, sizeof(out), "%s/out.lp", dir);
    snprintf(errp, sizeof(errp), "%s/err.txt", dir);
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    tu_write_file(cfgp, "[prices]\ngpt-4o = input=1e-6 outptu=2e-6\n");
    const char *args[] = {"-c", cfgp, "execd", "--dead-letter", dl, NULL};
    ck_assert_int_eq(rb_run(args, NULL, out, errp), 78);
    char *e = tu_read_file(errp);
    ck_assert_msg(strstr(e, "t.conf:2: [prices] gpt-4o: unknown price \"outptu\""), "%s", e);
    free(e);
    tu_write_file(path, "{\"m\": {\"output_cost_per_token\": \"x\"}}");
    const char *args2[] = {"execd", "--dead-letter", dl, "--prices", path, NULL};
    ck_assert_int_eq(rb_run(args2, NULL, out, errp), 78);
    e = tu_read_file(errp);
    ck_assert_msg(strstr(e, path) && strstr(e, "model \"m\": output_cost_per_token"), "%s", e);
    free(e);
}
END_TEST

/* Reads from fd until `needle` has been seen in everything read so far. */
static void read_until(int fd, struct buf *acc, const char *needle)
{
    char chunk[4096];
    while (!acc->len || !strstr(acc->data, needle)) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        ck_assert_msg(n > 0, "EOF before \"%s\" in:\n%s", needle, acc->len ? acc->data : "");
        ck_assert_int_eq(buf_append(acc, chunk, (size_t)n), 0);
    }
}

START_TEST(sighup_reloads_prices_and_keeps_old_on_error)
{
    char errp[200], dl[200];
    snprintf(errp, sizeof(errp), "%s/err.txt", dir);
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    tu_write_file(path, "{\"m\": {\"input_cost_per_token\": 1, \"output_cost_per_token\": 1}}");
    int to_child[2], from_child[2];
    ck_assert_int_eq(pipe(to_child), 0);
    ck_assert_int_eq(pipe(from_child), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        dup2(e, 2);
        close(to_child[1]);
        close(from_child[0]);
        execl(rb_binary(), rb_binary(), "execd", "--dead-letter", dl, "--prices", path,
              (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    struct buf acc;
    buf_init(&acc, 1 << 20);
#define SIGHUP_LINE                                                                                \
    "{\"object\":\"chat.completion\",\"id\":\"%s\",\"created\":1787666591,\"model\":\"m\","        \
    "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n"
    char body[300];
    snprintf(body, sizeof(body), SIGHUP_LINE, "first");
    ck_assert_int_eq(write(to_child[1], body, strlen(body)), (ssize_t)strlen(body));
    read_until(from_child[0], &acc, "cost_usd=2,");
    /* a new price, then SIGHUP: the stats point it emits follows the reload */
    tu_write_file(path, "{\"m\": {\"input_cost_per_token\": 5, \"output_cost_per_token\": 5}}");
    kill(pid, SIGHUP);
    read_until(from_child[0], &acc, "tokenmeter_stats");
    snprintf(body, sizeof(body), SIGHUP_LINE, "second");
    ck_assert_int_eq(write(to_child[1], body, strlen(body)), (ssize_t)strlen(body));
    read_until(from_child[0], &acc, "cost_usd=10,");
    /* a broken file: the old table stays */
    tu_write_file(path, "{ broken");
    kill(pid, SIGHUP);
    buf_reset(&acc);
    read_until(from_child[0], &acc, "tokenmeter_stats");
    snprintf(body, sizeof(body), SIGHUP_LINE, "third");
    ck_assert_int_eq(write(to_child[1], body, strlen(body)), (ssize_t)strlen(body));
    read_until(from_child[0], &acc, "cost_usd=10,");
    close(to_child[1]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(from_child[0]);
    buf_free(&acc);
    char *e = tu_read_file(errp);
    ck_assert_int_eq(tu_count(e, "I! SIGHUP: price table reloaded (1 models)"), 1);
    ck_assert_msg(strstr(e, "E! SIGHUP: prices ") && strstr(e, "keeping the previous price table"),
                  "%s", e);
    free(e);
}
END_TEST

Suite *check_pricing_suite(void);
Suite *check_pricing_suite(void)
{
    Suite *s = suite_create("pricing");
    TCase *tc = tcase_create("pricing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, example_file_loads_per_token_models_only);
    tcase_add_test(tc, lookup_rule);
    tcase_add_test(tc, lookup_follows_litellm_for_its_providers);
    tcase_add_test(tc, off_peak_rates_by_the_call_time);
    tcase_add_test(tc, cost_with_cache_and_reasoning);
    tcase_add_test(tc, missing_cache_prices_fall_back_to_input);
    tcase_add_test(tc, long_context_tier_reprices_the_whole_request);
    tcase_add_test(tc, service_tiers_and_batch);
    tcase_add_test(tc, audio_image_and_web_search);
    tcase_add_test(tc, provider_rules_from_the_file);
    tcase_add_test(tc, region_and_speed_multipliers);
    tcase_add_test(tc, range_tiers_price_the_whole_request);
    tcase_add_test(tc, the_sample_call_costs_what_litellm_reported);
    tcase_add_test(tc, missing_prices_and_tokens);
    tcase_add_test(tc, apply_sets_cost_source);
    tcase_add_test(tc, override_replaces_file_entry);
    tcase_add_test(tc, override_errors_name_origin_and_key);
    tcase_add_test(tc, bad_files_name_file_and_model);
    tcase_add_test(tc, large_table_every_model_found);
    tcase_add_test(tc, reported_cost_is_never_replaced);
    tcase_add_test(tc, unpriced_model_warned_once_and_counted);
    tcase_add_test(tc, bad_prices_are_config_errors);
    tcase_add_test(tc, sighup_reloads_prices_and_keeps_old_on_error);
    suite_add_tcase(s, tc);
    return s;
}
