/* SPDX-License-Identifier: MIT */
/*
 * report_html — `tokenmeter report --format html`: one self-contained HTML
 * page (inline CSS and SVG; no script, no fetch, no external resource, so it
 * works from file:// and as an e-mail attachment) with four charts drawn
 * here — cost per day stacked by organization, cost by model, tokens per
 * day, requests and error rate per day — and below them the same numbers as
 * tables with totals. docs/report.md describes the page.
 *
 * Every name in the page came from a sender (org, team, model, provider) and
 * is HTML-escaped; a name that is not UTF-8 is written with its non-ASCII
 * bytes as '?', as the JSON report writes it. Unpriced requests are counted
 * and called out, never drawn as zero cost.
 *
 * The chart elements carry data-* attributes (day, org, the cost or count
 * they stand for) so that a test can check a rendered chart against the
 * numbers.
 */
#ifndef TOKENMETER_REPORT_HTML_H
#define TOKENMETER_REPORT_HTML_H

#include <stdio.h>

#include "tokenmeter/err.h"
#include "tokenmeter/report.h"

/* Writes the page for rep (only read) to out (borrowed). Returns 0,
 * -ENOMEM, or -EIO when writing failed (err set). */
int report_html_write(const struct report *rep, FILE *out, char err[ERR_MAX]);

#endif
