/* SPDX-License-Identifier: MIT */
/*
 * pricing — the price table and the cost of an event (SPEC §3.1).
 *
 * The table is LiteLLM's model_prices_and_context_window.json (an object
 * keyed by model name, USD per token) plus the config's [prices] overrides.
 * It is built once (and again on SIGHUP) into an open-addressing hash table,
 * so a lookup is O(1) whatever the size of the file.
 *
 * Lookup rule, first hit wins: the model name exactly; the name without its
 * first "provider/" segment ("openai/gpt-4o" -> "gpt-4o"); the event's
 * provider and "/" prepended ("gpt-4o" with provider openai -> "openai/gpt-4o").
 *
 * Cost = (input - cache reads - cache writes) x input price
 *      + cache reads x cache-read price
 *      + cache writes x cache-write price (1-hour writes at the 1-hour price)
 *      + (output - reasoning) x output price
 *      + reasoning x (reasoning price, else output price).
 * Missing cache prices fall back to the input price. Long-context tiers
 * (*_above_200k_tokens ...) are not applied. The result is rounded to 1e-12
 * USD so equal inputs print equal digits.
 *
 * pricing knows events, never sources.
 */
#ifndef TOKENMETER_PRICING_H
#define TOKENMETER_PRICING_H

#include <stddef.h>

#include "tokenmeter/config.h"
#include "tokenmeter/err.h"
#include "tokenmeter/event.h"

/* USD per token; NAN where the table gives no price. */
struct pricing_price {
    double input;
    double output;
    double cache_read;
    double cache_write;
    double cache_write_1h;
    double reasoning;
};

struct pricing;

/* Builds a table from the LiteLLM-format file at `path` (NULL or "" for
 * none) and the [prices] overrides (may be NULL). An override replaces the
 * file's entry for that model as a whole; its value is a list of
 * NAME=USD_PER_TOKEN pairs separated by spaces or commas, NAME one of
 * input, output, cache_read, cache_write, cache_write_1h, reasoning.
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

/* The price of `model` by the lookup rule above (borrowed from t), or NULL.
 * `provider` may be NULL. */
const struct pricing_price *pricing_lookup(const struct pricing *t, const char *model,
                                           const char *provider);

/* Computes the cost of ev's token counts at price p into *usd. Returns 0;
 * -ENODATA when input or output tokens are absent (unknown is not zero:
 * half a cost must not pass for a whole one); -ENOENT when a count is
 * non-zero and no price applies to it (what is missing is named in
 * `missing`, which may be NULL). Absent cache and reasoning parts count as
 * zero: they only split the totals. */
int pricing_cost(const struct pricing_price *p, const struct event *ev, double *usd,
                 const char **missing);

/* Settles the cost of an event the source gave no (usable) cost for: sets
 * cost_usd and cost_source to EVENT_COST_COMPUTED, or to
 * EVENT_COST_UNPRICED (cost_usd NAN) and logs a W! line the first time a
 * model goes unpriced. t may be NULL (every event is unpriced). */
void pricing_apply(struct pricing *t, struct event *ev);

#endif
