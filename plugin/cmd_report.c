/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter report — prints the daily summaries from the SQLite store as an
 * aligned table, CSV or JSON, with totals. Read-only: it never creates or
 * changes the store.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/summary_store.h"
#include "tokenmeter/tzday.h"

static const char report_usage[] =
    "usage: tokenmeter report [options] [--day D | --from D [--to D] | --last N]\n"
    "\n"
    "Prints the daily summaries stored by 'tokenmeter aggregate', one row per\n"
    "(day, org, [team,] model, provider), then the totals. Without a day option:\n"
    "every stored day.\n"
    "\n"
    "options:\n"
    "      --org ORG             only this organization\n"
    "      --day D               one day (YYYY-MM-DD)\n"
    "      --from D [--to D]     a range of days, both included (--to: today)\n"
    "      --last N              the N days ending today\n"
    "      --tz ZONE             the zone the summaries were built in ([aggregate] timezone)\n"
    "      --format F            table (default), csv or json\n"
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
    REPORT_OPT_TZ,
    REPORT_OPT_FORMAT,
    REPORT_OPT_SQLITE,
};

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

enum { REPORT_COL_DAY, REPORT_COL_ORG, REPORT_COL_TEAM, REPORT_COL_MODEL, REPORT_COL_PROVIDER };
#define REPORT_NTEXT 5
#define REPORT_NCOLS (REPORT_NTEXT + SUMMARY_NCOUNTS + 1)

static const char *const report_text_names[REPORT_NTEXT] = {"day", "org", "team", "model",
                                                            "provider"};

/* A cell as text: names are made printable (control bytes would break the
 * table's alignment), numbers are formatted. */
static void report_cell(const struct summary_row *r, int col, char *out, size_t cap)
{
    const char *text[REPORT_NTEXT] = {r->day, r->org, r->team, r->model, r->provider};
    if (col < REPORT_NTEXT) {
        snprintf(out, cap, "%s", text[col]);
        return;
    }
    if (col < REPORT_NTEXT + SUMMARY_NCOUNTS) {
        snprintf(out, cap, "%" PRId64, r->counts[col - REPORT_NTEXT]);
        return;
    }
    /* A sum that overflowed is no number (JSON writes null). */
    if (isfinite(r->cost_usd))
        snprintf(out, cap, "%.6f", r->cost_usd);
    else
        snprintf(out, cap, "-");
}

static const char *report_col_name(int col)
{
    if (col < REPORT_NTEXT)
        return report_text_names[col];
    if (col < REPORT_NTEXT + SUMMARY_NCOUNTS)
        return summary_count_names[col - REPORT_NTEXT];
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

static void report_table_line(const struct summary_row *r, enum report_line kind,
                              const size_t *width, bool team)
{
    char cell[1200];
    const char *sep = "";
    for (int c = 0; c < REPORT_NCOLS; c++) {
        if (c == REPORT_COL_TEAM && !team)
            continue;
        if (kind == REPORT_LINE_HEADER)
            snprintf(cell, sizeof(cell), "%s", report_col_name(c));
        else if (kind == REPORT_LINE_ROW)
            report_cell(r, c, cell, sizeof(cell));
        else
            memset(cell, '-', width[c]), cell[width[c]] = '\0';
        report_printable(cell);
        int pad = (int)(width[c] - report_width(cell));
        /* Names left-aligned, numbers right-aligned. */
        if (c < REPORT_NTEXT)
            printf("%s%s%*s", sep, cell, c == REPORT_NCOLS - 1 ? 0 : pad, "");
        else
            printf("%s%*s%s", sep, pad, "", cell);
        sep = "  ";
    }
    printf("\n");
}

static void report_table(const struct summary_rows *rows, const struct summary_row *total,
                         bool team)
{
    size_t width[REPORT_NCOLS];
    char cell[1200];
    for (int c = 0; c < REPORT_NCOLS; c++)
        width[c] = strlen(report_col_name(c));
    for (size_t i = 0; i <= rows->len; i++) {
        const struct summary_row *r = i < rows->len ? &rows->items[i] : total;
        for (int c = 0; c < REPORT_NCOLS; c++) {
            report_cell(r, c, cell, sizeof(cell));
            size_t w = report_width(cell);
            if (w > width[c])
                width[c] = w;
        }
    }
    report_table_line(NULL, REPORT_LINE_HEADER, width, team);
    for (size_t i = 0; i < rows->len; i++)
        report_table_line(&rows->items[i], REPORT_LINE_ROW, width, team);
    report_table_line(NULL, REPORT_LINE_RULE, width, team);
    report_table_line(total, REPORT_LINE_ROW, width, team);
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

static void report_csv(const struct summary_rows *rows, const struct summary_row *total, bool team)
{
    char cell[1200];
    for (size_t i = 0; i <= rows->len + 1; i++) {
        const struct summary_row *r = i == 0 ? NULL : i <= rows->len ? &rows->items[i - 1] : total;
        const char *sep = "";
        for (int c = 0; c < REPORT_NCOLS; c++) {
            if (c == REPORT_COL_TEAM && !team)
                continue;
            fputs(sep, stdout);
            sep = ",";
            if (!r)
                report_csv_field(report_col_name(c));
            else if (c == REPORT_NCOLS - 1) {
                /* no number for a non-finite sum: the cell stays empty */
                if (isfinite(r->cost_usd)) {
                    lineproto_format_float(r->cost_usd, cell);
                    fputs(cell, stdout);
                }
            } else {
                report_cell(r, c, cell, sizeof(cell));
                if (c < REPORT_NTEXT)
                    report_csv_field(cell);
                else
                    fputs(cell, stdout);
            }
        }
        putchar('\n');
    }
}

/* A JSON string for s (new reference), or NULL when out of memory. Names
 * reach the store from webhooks and line-protocol files and may not be
 * UTF-8, which a JSON string cannot carry: such a name is written with its
 * non-ASCII bytes as '?', as the table makes control bytes printable. */
static json_t *report_json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *ascii = strdup(s);
    if (!ascii)
        return NULL;
    for (char *p = ascii; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(ascii);
    free(ascii);
    return j;
}

/* Significant digits that print v so that it reads back exactly: the fewest
 * of 15..17, the choice lineproto_format_float makes for line protocol. */
static int report_real_digits(double v)
{
    char s[32];
    for (int prec = 15; prec < 17; prec++) {
        snprintf(s, sizeof(s), "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            return prec;
    }
    return 17;
}

/* A row as a JSON object (new reference), or NULL when out of memory. */
static json_t *report_json_row(const struct summary_row *r, bool with_keys, bool team)
{
    const char *text[REPORT_NTEXT] = {r->day, r->org, r->team, r->model, r->provider};
    json_t *o = json_object();
    bool bad = !o;
    for (int c = 0; with_keys && c < REPORT_NTEXT; c++)
        if (c != REPORT_COL_TEAM || team)
            bad |= json_object_set_new(o, report_text_names[c], report_json_text(text[c])) < 0;
    for (int k = 0; k < SUMMARY_NCOUNTS; k++)
        bad |= json_object_set_new(o, summary_count_names[k], json_integer(r->counts[k])) < 0;
    /* JSON has no infinity: a cost sum that overflowed is written as null. */
    bad |= json_object_set_new(o, "cost_usd",
                               isfinite(r->cost_usd) ? json_real(r->cost_usd) : json_null()) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Prints the document; returns an exit status. Costs are printed with the
 * digits the most demanding one needs, so every number reads back exactly
 * and the usual costs print as short as in the csv format. */
static int report_json(const struct summary_rows *rows, const struct summary_row *total, bool team,
                       const char *tz, const char *org)
{
    json_t *doc = json_object(), *list = json_array();
    int digits = report_real_digits(total->cost_usd);
    bool bad = !doc || !list;
    for (size_t i = 0; i < rows->len; i++) {
        bad |= json_array_append_new(list, report_json_row(&rows->items[i], true, team)) < 0;
        int d = report_real_digits(rows->items[i].cost_usd);
        digits = d > digits ? d : digits;
    }
    bad |= json_object_set_new(doc, "timezone", report_json_text(tz)) < 0;
    if (org)
        bad |= json_object_set_new(doc, "org", report_json_text(org)) < 0;
    bad |= json_object_set_new(doc, "rows", list) < 0;
    bad |= json_object_set_new(doc, "totals", report_json_row(total, false, team)) < 0;
    int status = EX_OK;
    if (bad) {
        log_msg_always(LOG_LEVEL_ERROR, "report: out of memory");
        status = EX_OSERR;
    } else if (json_dumpf(doc, stdout, JSON_COMPACT | (size_t)JSON_REAL_PRECISION(digits)) < 0 ||
               putchar('\n') == EOF) {
        status = EX_IOERR;
    }
    json_decref(doc);
    return status;
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
        {"tz", required_argument, NULL, REPORT_OPT_TZ},
        {"format", required_argument, NULL, REPORT_OPT_FORMAT},
        {"sqlite", required_argument, NULL, REPORT_OPT_SQLITE},
        {NULL, 0, NULL, 0},
    };
    const char *org = NULL, *day = NULL, *from = NULL, *to = NULL, *last = NULL;
    enum report_format format = REPORT_TABLE;
    struct config *cfg = NULL;
    struct summary_store *store = NULL;
    struct summary_rows rows;
    struct tzday_range range;
    char err[ERR_MAX], terr[ERR_MAX];
    int opt, status = EX_OK;
    summary_rows_init(&rows);
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
        else if (opt == REPORT_OPT_FORMAT && strcmp(arg, "table") == 0)
            format = REPORT_TABLE;
        else if (opt == REPORT_OPT_FORMAT && strcmp(arg, "csv") == 0)
            format = REPORT_CSV;
        else if (opt == REPORT_OPT_FORMAT && strcmp(arg, "json") == 0)
            format = REPORT_JSON;
        else
            return cmd_usage_error("report", "--format %s: expected table, csv or json", arg);
    }
    if (common->help) {
        printf(report_usage, cmd_common_help);
        return EX_OK;
    }
    if (optind < argc) {
        log_msg_always(LOG_LEVEL_ERROR, "report: unexpected argument \"%s\"", argv[optind]);
        return EX_USAGE;
    }
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
    int rc = tzday_range_resolve(day, from, to, last, &range, terr);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", terr);
        status = EX_USAGE;
        goto out;
    }
    char f[TZDAY_DATE_LEN], l[TZDAY_DATE_LEN];
    tzday_format(range.first, f);
    tzday_format(range.last, l);
    rc = summary_store_open(cfg->aggregate.sqlite, true, &store, err);
    if (rc == 0)
        rc = summary_store_query(store, tz, day || from || last ? f : NULL,
                                 day || from || last ? l : NULL, org, &rows, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "report: %s", err);
        status = rc == -ENOENT ? EX_NOINPUT : EX_IOERR;
        goto out;
    }
    struct summary_row total;
    memset(&total, 0, sizeof(total));
    snprintf(total.day, sizeof(total.day), "total");
    char empty[1] = "";
    total.org = total.team = total.model = total.provider = empty;
    bool team = false;
    for (size_t i = 0; i < rows.len; i++) {
        for (int k = 0; k < SUMMARY_NCOUNTS; k++)
            if (__builtin_add_overflow(total.counts[k], rows.items[i].counts[k], &total.counts[k]))
                total.counts[k] = INT64_MAX; /* rows hold non-negative sums */
        total.cost_usd += rows.items[i].cost_usd;
        team = team || rows.items[i].team[0];
    }
    total.cost_usd = summary_round_cost(total.cost_usd);
    if (format == REPORT_TABLE)
        report_table(&rows, &total, team);
    else if (format == REPORT_CSV)
        report_csv(&rows, &total, team);
    else
        status = report_json(&rows, &total, team, tz, org);
    if (fflush(stdout) != 0 && status == EX_OK)
        status = EX_IOERR;
out:
    summary_store_close(store);
    summary_rows_free(&rows);
    config_free(cfg);
    return status;
}
