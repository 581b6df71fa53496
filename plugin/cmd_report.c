/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter report — prints the daily summaries from the SQLite store,
 * rolled up by the chosen keys (report), with totals: as an aligned table
 * or CSV (here), JSON (report_json) or one self-contained HTML page
 * (report_html). Read-only: it never creates or changes the store.
 * docs/report.md describes it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/report.h"
#include "tokenmeter/report_html.h"
#include "tokenmeter/report_json.h"
#include "tokenmeter/summary_store.h"
#include "tokenmeter/tzday.h"

static const char report_usage[] =
    "usage: tokenmeter report [options] [--day D | --from D [--to D] | --last N | --month M]\n"
    "\n"
    "Prints the daily summaries stored by 'tokenmeter aggregate', one row per\n"
    "(day, org, [team,] model, provider) or per --group-by keys, then the totals.\n"
    "Models are renamed by the [aliases] of the configuration. Without a day\n"
    "option: every stored day. Unknown cost is never shown as zero: in the table\n"
    "a cost some requests had no price for ends with '+' (a lower bound), and one\n"
    "no request had a price for reads 'unknown'; csv and json give\n"
    "unpriced_requests beside every cost_usd.\n"
    "\n"
    "options:\n"
    "      --org ORG             only this organization\n"
    "      --day D               one day (YYYY-MM-DD)\n"
    "      --from D [--to D]     a range of days, both included (--to: today)\n"
    "      --last N              the N days ending today\n"
    "      --month M             one calendar month (YYYY-MM) of the zone\n"
    "      --group-by KEYS       one row per value of KEYS, a comma-separated list of\n"
    "                            day, month, org, team, model, provider (repeatable)\n"
    "      --tz ZONE             the zone the summaries were built in ([aggregate] timezone)\n"
    "      --format F            table (default), csv, json or html (one self-contained\n"
    "                            page with charts)\n"
    "      --sqlite PATH         the store ([aggregate] sqlite)\n"
    "%s"
    "\n"
    "exit status: 0 ok (also when nothing matches), 64 usage, 66 no store yet,\n"
    "74 the store cannot be read, 78 configuration error.\n";

enum {
    REPORT_OPT_ORG = CMD_OPT_FIRST_LOCAL,
    REPORT_OPT_DAY,
    REPORT_OPT_FROM,
    REPORT_OPT_TO,
    REPORT_OPT_LAST,
    REPORT_OPT_MONTH,
    REPORT_OPT_GROUP_BY,
    REPORT_OPT_TZ,
    REPORT_OPT_FORMAT,
    REPORT_OPT_SQLITE,
};

/* In the order of format_names in cmd_report_main(). */
enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_HTML };

/* The columns printed: the shown keys, then the counts, then the cost. */
struct report_cols {
    int nkeys;
    enum report_key key[REPORT_NKEYS];
};

#define REPORT_MAX_COLS (REPORT_NKEYS + SUMMARY_NCOUNTS + 1)

static void report_cols_init(struct report_cols *cols, const struct report *rep)
{
    cols->nkeys = 0;
    for (int k = 0; k < REPORT_NKEYS; k++)
        if (report_shows(rep, (enum report_key)k))
            cols->key[cols->nkeys++] = (enum report_key)k;
}

static int report_ncols(const struct report_cols *cols)
{
    return cols->nkeys + SUMMARY_NCOUNTS + 1;
}

/* A cell as text; the totals row says "total" in its first column. */
static void report_cell(const struct report *rep, const struct report_cols *cols,
                        const struct summary_row *r, int col, char *out, size_t cap)
{
    if (col < cols->nkeys) {
        bool label = r == &rep->total && col == 0;
        snprintf(out, cap, "%s", label ? "total" : report_key_text(r, cols->key[col]));
        return;
    }
    if (col < cols->nkeys + SUMMARY_NCOUNTS) {
        snprintf(out, cap, "%" PRId64, r->counts[col - cols->nkeys]);
        return;
    }
    /* A cost some requests had no price for is a lower bound, and one none
     * had a price for is unknown: neither may read as a whole sum. A sum
     * that is no number (JSON writes null) is "-". */
    int64_t unpriced = r->counts[SUMMARY_UNPRICED_REQUESTS];
    if (unpriced > 0 && unpriced >= r->counts[SUMMARY_REQUESTS])
        snprintf(out, cap, "unknown");
    else if (!isfinite(r->cost_usd))
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.6f%s", r->cost_usd, unpriced > 0 ? "+" : "");
}

static const char *report_col_name(const struct report_cols *cols, int col)
{
    if (col < cols->nkeys)
        return report_key_names[cols->key[col]];
    if (col < cols->nkeys + SUMMARY_NCOUNTS)
        return summary_count_names[col - cols->nkeys];
    return "cost_usd";
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t report_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void report_printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

enum report_line { REPORT_LINE_HEADER, REPORT_LINE_ROW, REPORT_LINE_RULE };

static void report_table_line(const struct report *rep, const struct report_cols *cols,
                              const struct summary_row *r, enum report_line kind,
                              const size_t *width)
{
    char cell[1200];
    const char *sep = "";
    int ncols = report_ncols(cols);
    for (int c = 0; c < ncols; c++) {
        if (kind == REPORT_LINE_HEADER)
            snprintf(cell, sizeof(cell), "%s", report_col_name(cols, c));
        else if (kind == REPORT_LINE_ROW)
            report_cell(rep, cols, r, c, cell, sizeof(cell));
        else
            memset(cell, '-', width[c]), cell[width[c]] = '\0';
        report_printable(cell);
        int pad = (int)(width[c] - report_width(cell));
        /* Names left-aligned, numbers right-aligned. */
        if (c < cols->nkeys)
            printf("%s%s%*s", sep, cell, c == ncols - 1 ? 0 : pad, "");
        else
            printf("%s%*s%s", sep, pad, "", cell);
        sep = "  ";
    }
    printf("\n");
}

static void report_table(const struct report *rep)
{
    struct report_cols cols;
    size_t width[REPORT_MAX_COLS];
    char cell[1200];
    report_cols_init(&cols, rep);
    int ncols = report_ncols(&cols);
    for (int c = 0; c < ncols; c++)
        width[c] = strlen(report_col_name(&cols, c));
    for (size_t i = 0; i <= rep->rows.len; i++) {
        const struct summary_row *r = i < rep->rows.len ? &rep->rows.items[i] : &rep->total;
        for (int c = 0; c < ncols; c++) {
            report_cell(rep, &cols, r, c, cell, sizeof(cell));
            size_t w = report_width(cell);
            if (w > width[c])
                width[c] = w;
        }
    }
    report_table_line(rep, &cols, NULL, REPORT_LINE_HEADER, width);
    for (size_t i = 0; i < rep->rows.len; i++)
        report_table_line(rep, &cols, &rep->rows.items[i], REPORT_LINE_ROW, width);
    report_table_line(rep, &cols, NULL, REPORT_LINE_RULE, width);
    report_table_line(rep, &cols, &rep->total, REPORT_LINE_ROW, width);
    /* On stderr, so the table stays what scripts parse. */
    if (rep->total.counts[SUMMARY_UNPRICED_REQUESTS] > 0)
        log_msg_always(LOG_LEVEL_WARN,
                       "report: %" PRId64 " requests had no price (cost_source=\"unpriced\"): a "
                       "cost marked + is a lower bound, \"unknown\" has none priced; "
                       "'tokenmeter check' names the models",
                       rep->total.counts[SUMMARY_UNPRICED_REQUESTS]);
}

/* A text cell. Org, team and model come from whoever sends webhooks, and a
 * spreadsheet runs a cell that starts with =, +, -, @, tab or CR as a
 * formula (`=cmd|' /C calc'!A0`): such a cell gets a leading single quote,
 * as OWASP's "CSV Injection" page recommends, so it opens as text
 * (docs/operations.md, "report"). Numbers never pass here. */
static void report_csv_field(const char *s)
{
    bool formula = strchr("=+-@\t\r", *s) && *s;
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    if (formula)
        putchar('\'');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void report_csv(const struct report *rep)
{
    struct report_cols cols;
    char cell[1200];
    report_cols_init(&cols, rep);
    int ncols = report_ncols(&cols);
    const struct summary_rows *rows = &rep->rows;
    for (size_t i = 0; i <= rows->len + 1; i++) {
        const struct summary_row *r = i == 0           ? NULL
                                      : i <= rows->len ? &rows->items[i - 1]
                                                       : &rep->total;
        const char *sep = "";
        for (int c = 0; c < ncols; c++) {
            fputs(sep, stdout);
            sep = ",";
            if (!r)
                report_csv_field(report_col_name(&cols, c));
            else if (c == ncols - 1) {
                /* no number for a non-finite sum: the cell stays empty */
                if (isfinite(r->cost_usd)) {
                    lineproto_format_float(r->cost_usd, cell);
                    fputs(cell, stdout);
                }
            } else {
                report_cell(rep, &cols, r, c, cell, sizeof(cell));
                if (c < cols.nkeys)
                    report_csv_field(cell);
                else
                    fputs(cell, stdout);
            }
        }
        putchar('\n');
    }
}

/* Sets the period of rep from the day options or --month; unbounded (every
 * stored day) when none was given. Returns an exit status. */
static int report_period(struct report *rep, const char *day, const char *from, const char *to,
                         const char *last, const char *month)
{
    char err[ERR_MAX];
    struct tzday_range range;
    if (month) {
        if (report_month_range(month, rep->first, rep->last, err) < 0)
            return cmd_usage_error("report", "%s", err);
        return EX_OK;
    }
    int rc = tzday_range_resolve(day, from, to, last, &range, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", err);
        return EX_USAGE;
    }
    if (rc == 0) {
        tzday_format(range.first, rep->first);
        tzday_format(range.last, rep->last);
    }
    return EX_OK;
}

int cmd_report_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"org", required_argument, NULL, REPORT_OPT_ORG},
        {"day", required_argument, NULL, REPORT_OPT_DAY},
        {"from", required_argument, NULL, REPORT_OPT_FROM},
        {"to", required_argument, NULL, REPORT_OPT_TO},
        {"last", required_argument, NULL, REPORT_OPT_LAST},
        {"month", required_argument, NULL, REPORT_OPT_MONTH},
        {"group-by", required_argument, NULL, REPORT_OPT_GROUP_BY},
        {"tz", required_argument, NULL, REPORT_OPT_TZ},
        {"format", required_argument, NULL, REPORT_OPT_FORMAT},
        {"sqlite", required_argument, NULL, REPORT_OPT_SQLITE},
        {NULL, 0, NULL, 0},
    };
    static const char *const format_names[] = {"table", "csv", "json", "html"};
    const char *org = NULL, *day = NULL, *from = NULL, *to = NULL, *last = NULL, *month = NULL;
    enum report_format format = REPORT_TABLE;
    unsigned keys = 0;
    struct config *cfg = NULL;
    struct summary_store *store = NULL;
    struct summary_rows rows;
    struct report rep;
    char err[ERR_MAX];
    int opt, status = EX_OK;
    summary_store_rows_init(&rows);
    report_init(&rep);
    static const struct cmd_flag flags[] = {
        {REPORT_OPT_TZ, "aggregate.timezone", NULL},
        {REPORT_OPT_SQLITE, "aggregate.sqlite", NULL},
    };
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "report",
                           .longopts = longopts,
                           .flags = flags,
                           .nflags = sizeof(flags) / sizeof(flags[0]),
                           .common = common};
    const char *arg = NULL;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == REPORT_OPT_ORG)
            org = arg;
        else if (opt == REPORT_OPT_DAY)
            day = arg;
        else if (opt == REPORT_OPT_FROM)
            from = arg;
        else if (opt == REPORT_OPT_TO)
            to = arg;
        else if (opt == REPORT_OPT_LAST)
            last = arg;
        else if (opt == REPORT_OPT_MONTH)
            month = arg;
        else if (opt == REPORT_OPT_GROUP_BY && report_keys_parse(arg, &keys, err) < 0)
            return cmd_usage_error("report", "%s", err);
        else if (opt == REPORT_OPT_FORMAT) {
            size_t f = 0;
            while (f < 4 && strcmp(arg, format_names[f]) != 0)
                f++;
            if (f == 4)
                return cmd_usage_error("report", "--format %s: expected table, csv, json or html",
                                       arg);
            format = (enum report_format)f;
        }
    }
    if (common->help) {
        printf(report_usage, cmd_common_help);
        return EX_OK;
    }
    if (optind < argc) {
        log_msg_always(LOG_LEVEL_ERROR, "report: unexpected argument \"%s\"", argv[optind]);
        return EX_USAGE;
    }
    if (month && (day || from || to || last))
        return cmd_usage_error("report", "--month excludes --day, --from, --to and --last");
    status = cmd_load_config(common, &cfg);
    if (status != EX_OK)
        return status;
    const char *tz = cfg->aggregate.timezone;
    if (tzday_zone_valid(tz) < 0) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "[aggregate] timezone \"%s\": not a zone of the TZ "
                       "database",
                       tz);
        status = EX_CONFIG;
        goto out;
    }
    tzday_use(tz);
    rep.tz = tz;
    rep.org = org;
    status = report_period(&rep, day, from, to, last, month);
    if (status != EX_OK)
        goto out;
    int rc = summary_store_open(cfg->aggregate.sqlite, true, &store, err);
    if (rc == 0)
        rc = summary_store_query(store, tz, rep.first[0] ? rep.first : NULL,
                                 rep.first[0] ? rep.last : NULL, org, &rows, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", err);
        status = rc == -ENOENT ? EX_NOINPUT : EX_IOERR;
        goto out;
    }
    rc = report_build(&rep, &rows, &cfg->aliases, keys ? keys : REPORT_KEYS_DEFAULT, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", err);
        status = rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
        goto out;
    }
    if (format == REPORT_TABLE)
        report_table(&rep);
    else if (format == REPORT_CSV)
        report_csv(&rep);
    else if ((rc = format == REPORT_JSON ? report_json_write(&rep, stdout, err)
                                         : report_html_write(&rep, stdout, err)) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", err);
        status = rc == -ENOMEM ? EX_OSERR : EX_IOERR;
    }
    if (fflush(stdout) != 0 && status == EX_OK)
        status = EX_IOERR;
out:
    summary_store_close(store);
    summary_store_rows_free(&rows);
    report_free(&rep);
    config_free(cfg);
    return status;
}
