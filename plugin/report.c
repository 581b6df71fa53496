/* SPDX-License-Identifier: MIT */
#include "tokenmeter/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/map.h"
#include "tokenmeter/tzday.h"

const char *const report_key_names[REPORT_NKEYS] = {"day",  "month", "org",
                                                    "team", "model", "provider"};

int report_keys_parse(const char *list, unsigned *keys, char err[ERR_MAX])
{
    const char *p = list;
    for (;;) {
        size_t n = strcspn(p, ",");
        int k = 0;
        while (k < REPORT_NKEYS &&
               (strlen(report_key_names[k]) != n || strncmp(report_key_names[k], p, n) != 0))
            k++;
        if (k == REPORT_NKEYS)
            return err_set(err, -EINVAL,
                           "--group-by \"%.*s\": expected day, month, org, team, model or provider",
                           (int)n, p);
        *keys |= REPORT_BY(k);
        if (!p[n])
            break;
        p += n + 1;
    }
    unsigned both = REPORT_BY(REPORT_KEY_DAY) | REPORT_BY(REPORT_KEY_MONTH);
    if ((*keys & both) == both)
        return err_set(err, -EINVAL, "--group-by: day and month exclude each other");
    return 0;
}

int report_month_range(const char *month, char first[SUMMARY_DAY_LEN], char last[SUMMARY_DAY_LEN],
                       char err[ERR_MAX])
{
    char day[TZDAY_DATE_LEN + 8];
    struct tzday_date d;
    if (strlen(month) != 7 || snprintf(day, sizeof(day), "%s-01", month) != 10 ||
        tzday_parse(day, &d) < 0)
        return err_set(err, -EINVAL, "--month \"%s\": expected YYYY-MM", month);
    struct tzday_date next = {d.m == 12 ? d.y + 1 : d.y, d.m == 12 ? 1 : d.m + 1, 1};
    tzday_format(d, first);
    tzday_format(tzday_add(next, -1), last);
    return 0;
}

const char *report_key_text(const struct summary_row *r, enum report_key k)
{
    switch (k) {
    case REPORT_KEY_DAY:
    case REPORT_KEY_MONTH:
        return r->day;
    case REPORT_KEY_ORG:
        return r->org;
    case REPORT_KEY_TEAM:
        return r->team;
    case REPORT_KEY_MODEL:
        return r->model;
    default:
        return r->provider;
    }
}

/* Adds src's sums to dst. The sums are of non-negative counts, so one that
 * overflows is held at INT64_MAX rather than wrapping. */
static void report_row_add(struct summary_row *dst, const struct summary_row *src)
{
    for (int k = 0; k < SUMMARY_NCOUNTS; k++)
        if (__builtin_add_overflow(dst->counts[k], src->counts[k], &dst->counts[k]))
            dst->counts[k] = INT64_MAX;
    dst->cost_usd += src->cost_usd;
}

static const char *report_kept(unsigned keys, enum report_key k, const char *s)
{
    return keys & REPORT_BY(k) ? s : "";
}

/* The row of out that r falls into under keys, model renamed to model. */
static int report_group(struct summary_rows *out, const struct summary_row *r, const char *model,
                        unsigned keys)
{
    char day[SUMMARY_DAY_LEN] = "";
    if (keys & REPORT_BY(REPORT_KEY_DAY))
        snprintf(day, sizeof(day), "%s", r->day);
    else if (keys & REPORT_BY(REPORT_KEY_MONTH))
        snprintf(day, sizeof(day), "%.7s", r->day);
    struct summary_row *g = NULL;
    int rc = summary_store_rows_get(out, day, report_kept(keys, REPORT_KEY_ORG, r->org),
                                    report_kept(keys, REPORT_KEY_MODEL, model),
                                    report_kept(keys, REPORT_KEY_PROVIDER, r->provider),
                                    report_kept(keys, REPORT_KEY_TEAM, r->team), &g);
    if (rc == 0)
        report_row_add(g, r);
    return rc;
}

/* Rounds the sums as stored costs are rounded, so that adding rows does not
 * print 0.30000000000000004. From 2^53 nano-USD on a double has no 1e-9
 * steps left to round to, and rounding would only change a stored cost. */
static void report_round(struct summary_rows *rs)
{
    for (size_t i = 0; i < rs->len; i++)
        if (fabs(rs->items[i].cost_usd) < 0x1p53 / 1e9)
            rs->items[i].cost_usd = summary_store_round_cost(rs->items[i].cost_usd);
    summary_store_rows_sort(rs);
}

int report_rollup(const struct summary_rows *in, unsigned keys, struct summary_rows *out)
{
    for (size_t i = 0; i < in->len; i++) {
        int rc = report_group(out, &in->items[i], in->items[i].model, keys);
        if (rc < 0)
            return rc;
    }
    report_round(out);
    return 0;
}

static char report_empty[1];

void report_init(struct report *rep)
{
    memset(rep, 0, sizeof(*rep));
    summary_store_rows_init(&rep->detail);
    summary_store_rows_init(&rep->rows);
    rep->total.org = rep->total.team = rep->total.model = rep->total.provider = report_empty;
}

void report_free(struct report *rep)
{
    summary_store_rows_free(&rep->detail);
    summary_store_rows_free(&rep->rows);
}

/* The alias of model, or model itself. The map indexes aliases by the hash
 * of the name it renames. */
static const char *report_alias(const struct config_kv_list *aliases, const struct map *index,
                                const char *model)
{
    uint64_t h = map_hash_str(MAP_HASH_INIT, model);
    for (size_t it = map_first(index, h), i; (i = map_next(index, h, &it)) != MAP_NONE;)
        if (strcmp(aliases->items[i].key, model) == 0)
            return aliases->items[i].value;
    return model;
}

int report_build(struct report *rep, const struct summary_rows *stored,
                 const struct config_kv_list *aliases, unsigned keys, char err[ERR_MAX])
{
    struct map index;
    int rc = 0;
    map_init(&index);
    rep->keys = keys;
    for (size_t i = 0; aliases && i < aliases->len; i++) {
        const struct config_kv *a = &aliases->items[i];
        if (!a->value[0]) {
            rc = err_set(err, -EINVAL, "%s: [aliases] %s: the name to report it under is empty",
                         a->origin, a->key);
            goto out;
        }
        if (map_insert(&index, map_hash_str(MAP_HASH_INIT, a->key), i) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < stored->len; i++) {
        const struct summary_row *r = &stored->items[i];
        const char *model = aliases ? report_alias(aliases, &index, r->model) : r->model;
        if (report_group(&rep->detail, r, model, REPORT_KEYS_DEFAULT) < 0)
            goto nomem;
        report_row_add(&rep->total, r);
        rep->team = rep->team || r->team[0];
    }
    report_round(&rep->detail);
    rep->total.cost_usd = summary_store_round_cost(rep->total.cost_usd);
    if (report_rollup(&rep->detail, keys, &rep->rows) < 0)
        goto nomem;
    goto out;
nomem:
    rc = err_set(err, -ENOMEM, "out of memory");
out:
    map_free(&index);
    return rc;
}

bool report_shows(const struct report *rep, enum report_key k)
{
    /* The default rows hide an all-empty team; asked for, it is shown. */
    return (rep->keys & REPORT_BY(k)) &&
           (k != REPORT_KEY_TEAM || rep->team || rep->keys != REPORT_KEYS_DEFAULT);
}
