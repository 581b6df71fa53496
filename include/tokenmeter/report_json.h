/* SPDX-License-Identifier: MIT */
/*
 * report_json — `tokenmeter report --format json`, built with jansson:
 *   {"timezone":…, ["org":…,] "rows":[…], "totals":{…}, ["from":…, "to":…,]
 *    "group_by":[…]}
 * Each row holds the keys the report is grouped by (report_shows()), the
 * counts and cost_usd. Costs are printed with the digits the most demanding
 * one needs, so every number reads back exactly and the usual costs print
 * as short as in the csv format; a cost that overflowed is null. Names that
 * are not UTF-8 (JSON cannot carry them) have their non-ASCII bytes written
 * as '?'. docs/report.md describes the document.
 */
#ifndef TOKENMETER_REPORT_JSON_H
#define TOKENMETER_REPORT_JSON_H

#include <stdio.h>

#include "tokenmeter/err.h"
#include "tokenmeter/report.h"

/* Writes the document for rep (only read) and a newline to out (borrowed).
 * Returns 0, -ENOMEM, or -EIO when writing failed (err set). */
int report_json_write(const struct report *rep, FILE *out, char err[ERR_MAX]);

#endif
