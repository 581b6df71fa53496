/* SPDX-License-Identifier: MIT */
/*
 * report — the numbers `tokenmeter report` prints, whatever the format: the
 * stored daily rows of one period, with the model alias map of the config
 * applied ([aliases]; report time only, the stored rows and the points in
 * InfluxDB keep the names as sent), rolled up by the chosen keys
 * (--group-by), and their totals. docs/report.md describes the command.
 */
#ifndef TOKENMETER_REPORT_H
#define TOKENMETER_REPORT_H

#include <stdbool.h>

#include "tokenmeter/config.h"
#include "tokenmeter/err.h"
#include "tokenmeter/summary_store.h"

/* What rows can be grouped by, in the order columns are printed. A month
 * row keeps "YYYY-MM" in its day field. */
enum report_key {
    REPORT_KEY_DAY,
    REPORT_KEY_MONTH,
    REPORT_KEY_ORG,
    REPORT_KEY_TEAM,
    REPORT_KEY_MODEL,
    REPORT_KEY_PROVIDER,
    REPORT_NKEYS,
};

#define REPORT_BY(k) (1u << (k))
/* Without --group-by: one row per stored row. */
#define REPORT_KEYS_DEFAULT                                                                        \
    (REPORT_BY(REPORT_KEY_DAY) | REPORT_BY(REPORT_KEY_ORG) | REPORT_BY(REPORT_KEY_TEAM) |          \
     REPORT_BY(REPORT_KEY_MODEL) | REPORT_BY(REPORT_KEY_PROVIDER))

/* Column names of the keys, indexed by enum report_key. */
extern const char *const report_key_names[REPORT_NKEYS];

/* Adds the keys of a comma-separated list ("org,model"; list only read) to
 * *keys. Returns 0, or -EINVAL with err set for an unknown or empty name
 * and for day together with month. */
int report_keys_parse(const char *list, unsigned *keys, char err[ERR_MAX]);

/* The first and last day of the calendar month "YYYY-MM" (month only
 * read; first and last are the caller's). Returns 0 or -EINVAL (err set). */
int report_month_range(const char *month, char first[SUMMARY_DAY_LEN], char last[SUMMARY_DAY_LEN],
                       char err[ERR_MAX]);

/* The value of key k in row r (borrowed from r): "" for a key the row is
 * not grouped by. */
const char *report_key_text(const struct summary_row *r, enum report_key k);

/* Adds the rows of in (only read), grouped by keys (the other key fields
 * left empty), to out, sorted; costs are rounded like stored ones.
 * Returns 0 or -ENOMEM. */
int report_rollup(const struct summary_rows *in, unsigned keys, struct summary_rows *out);

struct report {
    const char *tz;              /* borrowed: the zone the days are in */
    const char *org;             /* borrowed: the --org filter, or NULL */
    char first[SUMMARY_DAY_LEN]; /* the period asked for; "" when unbounded */
    char last[SUMMARY_DAY_LEN];
    unsigned keys;              /* REPORT_BY() bits */
    bool team;                  /* some row has a team: the team column is shown */
    struct summary_rows detail; /* owned: by day, org, team, model (aliased), provider */
    struct summary_rows rows;   /* owned: detail rolled up by keys */
    struct summary_row total;   /* its strings are "" (static) */
};

/* An empty report; allocates nothing. */
void report_init(struct report *rep);

/* Releases the rows; the report is empty and reusable afterwards. */
void report_free(struct report *rep);

/* Fills rep (initialised, empty; tz, org, first, last set by the caller)
 * from the stored rows (only read), renaming models by aliases (only read;
 * NULL: none) and rolling up by keys. Returns 0, -EINVAL for an alias
 * without a name (err names its origin), or -ENOMEM. */
int report_build(struct report *rep, const struct summary_rows *stored,
                 const struct config_kv_list *aliases, unsigned keys, char err[ERR_MAX]);

/* Whether column k is printed: grouped by; team in the default rows only
 * when some row has one. */
bool report_shows(const struct report *rep, enum report_key k);

#endif
