/* SPDX-License-Identifier: MIT */
#include "tokenmeter/report_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
static json_t *report_json_row(const struct report *rep, const struct summary_row *r,
                               bool with_keys)
{
    json_t *o = json_object();
    bool bad = !o;
    for (int k = 0; with_keys && k < REPORT_NKEYS; k++)
        if (report_shows(rep, (enum report_key)k))
            bad |=
                json_object_set_new(o, report_key_names[k],
                                    report_json_text(report_key_text(r, (enum report_key)k))) < 0;
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

int report_json_write(const struct report *rep, FILE *out, char err[ERR_MAX])
{
    json_t *doc = json_object(), *list = json_array(), *by = json_array();
    int digits = report_real_digits(rep->total.cost_usd);
    bool bad = !doc || !list || !by;
    for (size_t i = 0; i < rep->rows.len; i++) {
        bad |= json_array_append_new(list, report_json_row(rep, &rep->rows.items[i], true)) < 0;
        int d = report_real_digits(rep->rows.items[i].cost_usd);
        digits = d > digits ? d : digits;
    }
    for (int k = 0; k < REPORT_NKEYS; k++)
        if (rep->keys & REPORT_BY(k))
            bad |= json_array_append_new(by, json_string(report_key_names[k])) < 0;
    bad |= json_object_set_new(doc, "timezone", report_json_text(rep->tz)) < 0;
    if (rep->org)
        bad |= json_object_set_new(doc, "org", report_json_text(rep->org)) < 0;
    bad |= json_object_set_new(doc, "rows", list) < 0;
    bad |= json_object_set_new(doc, "totals", report_json_row(rep, &rep->total, false)) < 0;
    if (rep->first[0]) {
        bad |= json_object_set_new(doc, "from", json_string(rep->first)) < 0;
        bad |= json_object_set_new(doc, "to", json_string(rep->last)) < 0;
    }
    bad |= json_object_set_new(doc, "group_by", by) < 0;
    int rc = 0;
    if (bad)
        rc = err_set(err, -ENOMEM, "out of memory");
    else if (json_dumpf(doc, out, JSON_COMPACT | (size_t)JSON_REAL_PRECISION(digits)) < 0 ||
             putc('\n', out) == EOF)
        rc = err_set(err, -EIO, "writing the document failed");
    json_decref(doc);
    return rc;
}
