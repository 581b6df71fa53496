/* SPDX-License-Identifier: MIT */
/*
 * pricing — the price table and the cost of an event (docs/pricing.md).
 *
 * The table is LiteLLM's model_prices_and_context_window.json (an object
 * keyed by model name, USD per token) plus the config's [prices] overrides.
 * Each model keeps the per-token rates of the keys tokenmeter prices with
 * (input/output/cache read/cache write/reasoning/audio/image, their
 * *_above_<N>k_tokens long-context tiers, *_flex / *_priority / *_batches
 * service-tier variants, tiered_pricing range tiers) and the per-request
 * web search price
 * (search_context_cost_per_query.search_context_size_medium), and the region
 * and speed multipliers of provider_specific_entry for Anthropic's models
 * (as rates "provider_specific_entry.<key>"). A struct map
 * indexes the models, so a lookup is O(1) whatever the size of the file.
 *
 * Lookup rule, first hit wins: the model name exactly; the name without its
 * first "provider/" segment ("openai/gpt-4o" -> "gpt-4o"); the event's
 * provider and "/" prepended ("gpt-4o" with provider openai -> "openai/gpt-4o").
 *
 * The cost follows LiteLLM's cost calculator (generic_cost_per_token and
 * batch_cost_calculator) for token-priced models: a tiered_pricing range
 * tier, when the entry has one, prices the whole request; else the highest
 * *_above_<N>k_tokens threshold that the request's whole input count
 * (cached and cache-written tokens included) exceeds reprices every part of
 * the request — input, output, cache reads and writes; a service tier picks
 * the *_<tier> keys, falling back to the standard key per key; audio and
 * image tokens bill at their own price, or at the text price when the model
 * has none (as LiteLLM does); the event's inference_geo and speed scale the
 * tokens' cost by the entry's multipliers (not in batch). Where tokenmeter
 * deliberately differs from LiteLLM it is listed in docs/pricing.md:
 * chiefly, a base input or output price the table lacks for a non-zero
 * count, or a web search price it lacks for a call that searched, makes the
 * event unpriced instead of costing it as zero. The result is rounded to
 * 1e-12 USD so equal inputs print equal digits.
 *
 * pricing knows events, never sources.
 */
#ifndef TOKENMETER_PRICING_H
#define TOKENMETER_PRICING_H

#include <stddef.h>

#include "tokenmeter/config.h"
#include "tokenmeter/err.h"
#include "tokenmeter/event.h"

struct pricing;

/* One model's entry of the table. */
struct pricing_model;

/* Builds a table from the LiteLLM-format file at `path` (NULL or "" for
 * none) and the [prices] overrides (may be NULL). An override replaces the
 * file's entry for that model as a whole; its value is a list of
 * NAME=USD_PER_TOKEN pairs separated by spaces or commas, NAME one of
 * input, output, cache_read, cache_write, cache_write_1h, reasoning, or any
 * LiteLLM key the table keeps (input_cost_per_token_above_200k_tokens=...).
 * On success stores a new table in *out (free with pricing_free()) and
 * returns 0. On failure returns -EINVAL (bad file or override), -ENOENT /
 * -EACCES ... (file unreadable) or -ENOMEM, with a message in err naming the
 * file and model key, or the override's FILE:LINE and key. */
int pricing_load(const char *path, const struct config_kv_list *overrides, struct pricing **out,
                 char err[ERR_MAX]);

/* Releases the table. Accepts NULL. */
void pricing_free(struct pricing *t);

/* Number of models in the table. */
size_t pricing_count(const struct pricing *t);

/* The file the table was loaded from (borrowed from t), or NULL when it
 * holds only [prices] overrides. With path NULL, pricing_load reads the
 * shipped snapshot when it is installed: this says whether it did. */
const char *pricing_path(const struct pricing *t);

/* The names pricing_lookup() tries for an event, in order (docs/pricing.md,
 * "Lookup"). When the event's provider, lower-cased, is one LiteLLM names in
 * the table (a litellm_provider, or "vertex_ai" / "fireworks_ai" for their
 * families), `provider` holds it and LiteLLM's order comes first:
 * "provider/model", the model, the model without "provider/", then both
 * with LiteLLM's version suffix stripped, each `checked`: it only finds an
 * entry of that provider. Then, for any provider and unchecked: the model,
 * the model without its first "segment/", "provider/model". */
#define PRICING_TRIES_MAX 8
#define PRICING_NAME_MAX  512
struct pricing_tries {
    size_t n;
    char provider[64];
    bool checked[PRICING_TRIES_MAX];
    char name[PRICING_TRIES_MAX][PRICING_NAME_MAX];
};
void pricing_tries(const struct pricing *t, const char *model, const char *provider,
                   struct pricing_tries *tries);

/* The entry an event of `model` from `provider` (may be NULL) is priced
 * with (borrowed from t), or NULL: the first of pricing_tries() found,
 * exactly or else equal but for case (as LiteLLM's get_model_cost_key), a
 * [prices] override before any entry of the file. When `step` is not NULL
 * it receives the index of the name that found it. */
const struct pricing_model *pricing_lookup(const struct pricing *t, const char *model,
                                           const char *provider, size_t *step);

/* The table key of an entry (borrowed). */
const char *pricing_model_name(const struct pricing_model *m);

/* Number of rates the entry keeps, and the i-th as LiteLLM key (borrowed)
 * and USD value, in the file's order. */
size_t pricing_model_nrates(const struct pricing_model *m);
void pricing_model_rate_at(const struct pricing_model *m, size_t i, const char **key, double *usd);

/* The rate of LiteLLM key `key` in *usd: 0, or -ENOENT when the entry has
 * none. */
int pricing_model_rate(const struct pricing_model *m, const char *key, double *usd);

/* Computes the cost of ev's counts at entry m into *usd. Returns 0;
 * -ENODATA when input or output tokens are absent (unknown is not zero:
 * half a cost must not pass for a whole one); -ENOENT when a count is
 * non-zero and no price applies to it (what is missing is named in
 * `missing`, which may be NULL). Absent cache, reasoning, audio and image
 * parts count as zero: they only split the totals. */
int pricing_cost(const struct pricing_model *m, const struct event *ev, double *usd,
                 const char **missing);

/* Settles the cost of an event the source gave no (usable) cost for: sets
 * cost_usd and cost_source to EVENT_COST_COMPUTED, or to
 * EVENT_COST_UNPRICED (cost_usd NAN) and logs a W! line the first time a
 * model goes unpriced. t may be NULL (every event is unpriced). */
void pricing_apply(struct pricing *t, struct event *ev);

/* The snapshot that `make install` (or the package) puts under
 * $(PREFIX)/share/tokenmeter/: owned by the package manager, replaced by
 * an upgrade, never written by tokenmeter. Static string. */
const char *pricing_default_path(void);

#ifndef TOKENMETER_STATEDIR
#define TOKENMETER_STATEDIR "/var/lib/tokenmeter" /* the packages create it */
#endif

/* Where `prices update` writes when neither --output nor [ingest] prices
 * names a file: /var/lib/tokenmeter/model_prices.json. Static string. */
const char *pricing_updated_path(void);

/* The table loaded when [ingest] prices is unset: the updated copy, unless
 * the snapshot is newer (an upgrade since the last update), else the
 * snapshot; NULL when neither exists. Static string. */
const char *pricing_unset_path(void);

#endif
