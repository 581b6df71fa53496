/* SPDX-License-Identifier: MIT */
#include "tokenmeter/report_html.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/tzday.h"

#ifndef TOKENMETER_VERSION
#define TOKENMETER_VERSION "0.0.0"
#endif

/* A page is a few hundred bytes per row; this only stops a runaway. */
#define HTML_MAX (512u << 20)

/* The chart frame, in SVG user units (the SVG scales to the page width). */
#define CHART_W      960.0
#define CHART_LEFT   80.0
#define CHART_RIGHT  60.0
#define CHART_TOP    16.0
#define CHART_PLOT_H 240.0
#define CHART_BOTTOM 44.0
#define CHART_PLOT_W (CHART_W - CHART_LEFT - CHART_RIGHT)
#define CHART_H      (CHART_TOP + CHART_PLOT_H + CHART_BOTTOM)

/* Tableau 10: distinguishable, also in print; organizations beyond ten
 * reuse the colours (each segment still names its org in its tooltip). */
static const char *const html_palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define HTML_NCOLORS (sizeof(html_palette) / sizeof(html_palette[0]))

static const char html_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:2em auto;max-width:1000px;padding:0 1em;color:#222;background:#fff}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em}"
    ".meta{color:#555;margin-top:0}"
    ".kpis{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0;padding:0}"
    ".kpis div{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}"
    ".kpis dt{font-size:.85em;color:#555}.kpis dd{margin:0;font-size:1.4em;font-weight:600}"
    ".callout{border-left:4px solid #c0392b;background:#fdf0ee;padding:.6em 1em}"
    "figure{margin:1em 0}figcaption{color:#555;font-size:.9em}"
    "svg{width:100%;height:auto;font-size:12px}svg text{fill:#333}"
    ".grid{stroke:#e5e5e5}.axis{stroke:#888}svg .unpriced{fill:#c0392b;font-weight:600}"
    ".rate{fill:none;stroke:#c0392b;stroke-width:2}"
    ".legend{display:flex;flex-wrap:wrap;gap:.4em 1.2em;list-style:none;padding:0;margin:.4em 0;"
    "font-size:.9em}"
    ".legend span{display:inline-block;width:.9em;height:.9em;margin-right:.3em;"
    "vertical-align:-.1em}"
    /* Wide tables scroll inside the page instead of widening it. */
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;"
    "overflow-x:auto;max-width:100%}"
    "caption{text-align:left;font-weight:600;margin-bottom:.3em}"
    "th,td{padding:.25em .6em;border-bottom:1px solid #e5e5e5;text-align:left;"
    "white-space:nowrap}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tfoot td{font-weight:600;border-top:2px solid #888}"
    "td.unpriced{color:#c0392b}";

/* ---- text ----------------------------------------------------------- */

/* Appends s as HTML text, also safe inside a double- or single-quoted
 * attribute. Control bytes become '?', and a name that is not UTF-8 has
 * its non-ASCII bytes written as '?'. */
static void html_text(struct buf *b, const char *s)
{
    bool utf8 = deadletter_is_text(s, strlen(s));
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            buf_puts(b, "&amp;");
        else if (c == '<')
            buf_puts(b, "&lt;");
        else if (c == '>')
            buf_puts(b, "&gt;");
        else if (c == '"')
            buf_puts(b, "&quot;");
        else if (c == '\'')
            buf_puts(b, "&#39;");
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            buf_putc(b, '?');
        else
            buf_putc(b, (char)c);
    }
}

/* A name as shown: the empty name (a key the row is not grouped by, or a
 * sender that gave none) is "(none)". */
static void html_name(struct buf *b, const char *s)
{
    if (s[0])
        html_text(b, s);
    else
        buf_puts(b, "(none)");
}

/* A cost to read: cents from a dollar on, significant digits below. */
static void html_usd(struct buf *b, double v)
{
    if (!isfinite(v))
        buf_puts(b, "overflow");
    else if (v >= 1 || v == 0)
        buf_printf(b, "$%.2f", v);
    else
        buf_printf(b, "$%.4g", v);
}

/* A number exactly, for data-* attributes and the tests that read them. */
static void html_exact(struct buf *b, double v)
{
    char s[32];
    lineproto_format_float(isfinite(v) ? v : 0, s);
    buf_puts(b, s);
}

static double html_rate(const struct summary_row *r)
{
    int64_t n = r->counts[SUMMARY_REQUESTS];
    return n > 0 ? (double)r->counts[SUMMARY_FAILED] / (double)n : 0;
}

/* ---- chart frame ------------------------------------------------------ */

/* The top of the value axis: 1, 2, 4, 6 or 8 times a power of ten, at least v,
 * so that its quarters (the grid lines) are round numbers. */
static double html_nice_max(double v)
{
    if (!(v > 0) || !isfinite(v))
        return 1;
    double p = pow(10, floor(log10(v)));
    static const double steps[] = {1, 2, 4, 6, 8, 10};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (steps[i] * p >= v * (1 - 1e-12))
            return steps[i] * p;
    return 10 * p;
}

/* The days of the x axis. */
struct html_days {
    struct tzday_date first;
    int n;
};

/* The slot of day (a "YYYY-MM-DD" row key), or -1 when outside. */
static int html_day_slot(const struct html_days *days, const char *day)
{
    struct tzday_date d;
    if (tzday_parse(day, &d) < 0)
        return -1;
    int i = tzday_diff(days->first, d);
    return i >= 0 && i < days->n ? i : -1;
}

static double html_slot_w(const struct html_days *days)
{
    return CHART_PLOT_W / days->n;
}

static double html_y(double v, double max)
{
    return CHART_TOP + CHART_PLOT_H - (isfinite(v) ? v : 0) / max * CHART_PLOT_H;
}

static void html_chart_open(struct buf *b, const char *id, const char *title, const char *desc,
                            double height)
{
    buf_printf(b,
               "<figure id=\"%s\"><svg role=\"img\" aria-labelledby=\"%s-t %s-d\" "
               "viewBox=\"0 0 %.0f %.0f\" xmlns=\"http://www.w3.org/2000/svg\">"
               "<title id=\"%s-t\">%s</title><desc id=\"%s-d\">%s</desc>\n",
               id, id, id, CHART_W, height, id, title, id, desc);
}

/* Grid lines and labels of a value axis on the left (right: the other
 * side, as a percentage of max). */
static void html_axis(struct buf *b, double max, bool usd, bool right)
{
    buf_puts(b, "<g class=\"y-axis\">");
    for (int i = 0; i <= 4; i++) {
        double v = max * i / 4, y = html_y(v, max);
        if (!right)
            buf_printf(b, "<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.2f\" y2=\"%.2f\"/>",
                       CHART_LEFT, CHART_W - CHART_RIGHT, y, y);
        buf_printf(b, "<text x=\"%.0f\" y=\"%.2f\" text-anchor=\"%s\" dy=\".32em\">",
                   right ? CHART_W - CHART_RIGHT + 6 : CHART_LEFT - 6, y, right ? "start" : "end");
        if (right)
            buf_printf(b, "%.3g%%", v * 100);
        else if (usd)
            html_usd(b, v);
        else
            buf_printf(b, "%.6g", v);
        buf_puts(b, "</text>");
    }
    buf_printf(b, "<line class=\"axis\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\"/></g>\n",
               CHART_LEFT, CHART_W - CHART_RIGHT, CHART_TOP + CHART_PLOT_H,
               CHART_TOP + CHART_PLOT_H);
}

/* Day labels under the slots, at most about fifteen. */
static void html_day_labels(struct buf *b, const struct html_days *days)
{
    int step = (days->n + 14) / 15;
    double w = html_slot_w(days);
    buf_puts(b, "<g class=\"x-axis\">");
    for (int i = 0; i < days->n; i += step) {
        char d[TZDAY_DATE_LEN];
        tzday_format(tzday_add(days->first, i), d);
        buf_printf(b, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>",
                   CHART_LEFT + (i + 0.5) * w, CHART_TOP + CHART_PLOT_H + 18, d + 5);
    }
    buf_puts(b, "</g>\n");
}

/* A chart with one slot a day: its frame, value axis and day labels. */
static void html_day_chart_open(struct buf *b, const char *id, const char *title, const char *desc,
                                double max, bool usd, const struct html_days *days)
{
    html_chart_open(b, id, title, desc, CHART_H);
    html_axis(b, max, usd, false);
    html_day_labels(b, days);
}

static void html_chart_close(struct buf *b, const char *caption)
{
    buf_printf(b, "</svg><figcaption>%s</figcaption></figure>\n", caption);
}

/* ---- the charts ------------------------------------------------------- */

/* The position of org in by_org (rows grouped by org only, sorted), found
 * through the set's index: every org of the page has its row there, so
 * nothing is ever added. */
static size_t html_org_index(struct summary_rows *by_org, const char *org)
{
    struct summary_row *r = NULL;
    if (summary_store_rows_get(by_org, "", org, "", "", "", &r) < 0)
        return 0;
    return (size_t)(r - by_org->items);
}

/* One segment per organization and day, stacked in organization order;
 * heights proportional to cost. A day with unpriced requests is marked
 * above its bar with their number: their cost is unknown, not zero. */
static void html_chart_cost(struct buf *b, const struct html_days *days,
                            const struct summary_rows *by_day_org,
                            const struct summary_rows *by_day, struct summary_rows *by_org)
{
    double max = 0, w = html_slot_w(days);
    for (size_t i = 0; i < by_day->len; i++)
        if (isfinite(by_day->items[i].cost_usd))
            max = fmax(max, by_day->items[i].cost_usd);
    max = html_nice_max(max);
    html_day_chart_open(
        b, "chart-cost", "Cost per day by organization",
        "Stacked bars, one per day, one segment per organization, height proportional "
        "to cost in USD. The table &#8220;Cost per day and organization&#8221; below "
        "holds the same numbers.",
        max, true, days);
    buf_puts(b, "<g class=\"bars\">\n");
    double base = 0;
    const char *day = "";
    for (size_t i = 0; i < by_day_org->len; i++) {
        const struct summary_row *r = &by_day_org->items[i];
        int slot = html_day_slot(days, r->day);
        if (slot < 0)
            continue;
        if (strcmp(day, r->day) != 0)
            base = 0, day = r->day;
        double cost = isfinite(r->cost_usd) ? r->cost_usd : 0;
        double y0 = html_y(base, max), y1 = html_y(base + cost, max);
        size_t org = html_org_index(by_org, r->org);
        buf_printf(b,
                   "<rect class=\"seg\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" "
                   "fill=\"%s\" data-day=\"%s\" data-org=\"",
                   CHART_LEFT + slot * w + w * 0.1, y1, w * 0.8, y0 - y1,
                   html_palette[org % HTML_NCOLORS], r->day);
        html_text(b, r->org);
        buf_puts(b, "\" data-cost=\"");
        html_exact(b, cost);
        int64_t unpriced = r->counts[SUMMARY_UNPRICED_REQUESTS];
        buf_printf(b, "\" data-unpriced=\"%" PRId64 "\"><title>%s ", unpriced, r->day);
        html_name(b, r->org);
        buf_puts(b, ": ");
        /* Only unpriced requests: an unknown cost, which is not $0. */
        if (cost > 0 || unpriced == 0)
            html_usd(b, cost);
        if (unpriced > 0)
            buf_printf(b, "%s%" PRId64 " unpriced requests (cost unknown)", cost > 0 ? " + " : "",
                       unpriced);
        buf_puts(b, "</title></rect>\n");
        base += cost;
    }
    buf_puts(b, "</g><g class=\"unpriced-marks\">");
    for (size_t i = 0; i < by_day->len; i++) {
        const struct summary_row *r = &by_day->items[i];
        int slot = html_day_slot(days, r->day);
        int64_t n = r->counts[SUMMARY_UNPRICED_REQUESTS];
        if (slot < 0 || n == 0)
            continue;
        buf_printf(b,
                   "<text class=\"unpriced\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
                   "data-day=\"%s\" data-unpriced=\"%" PRId64 "\">&#9888;<title>%s: %" PRId64
                   " unpriced requests, not in the cost</title></text>",
                   CHART_LEFT + (slot + 0.5) * w, html_y(r->cost_usd, max) - 4, r->day, n, r->day,
                   n);
    }
    buf_puts(b, "</g>\n");
    html_chart_close(b, "Cost per day, stacked by organization. &#9888; marks a day with "
                        "unpriced requests: their cost is unknown and not included.");
    buf_puts(b, "<ul class=\"legend\" aria-hidden=\"true\">");
    for (size_t i = 0; i < by_org->len; i++) {
        buf_printf(b, "<li><span style=\"background:%s\"></span>", html_palette[i % HTML_NCOLORS]);
        html_name(b, by_org->items[i].org);
        buf_puts(b, "</li>");
    }
    buf_puts(b, "</ul>\n");
}

static int html_cost_desc(const void *pa, const void *pb)
{
    const struct summary_row *a = *(const struct summary_row *const *)pa;
    const struct summary_row *b = *(const struct summary_row *const *)pb;
    if (a->cost_usd != b->cost_usd)
        return a->cost_usd < b->cost_usd ? 1 : -1;
    return strcmp(a->model, b->model);
}

/* One horizontal bar per model, most expensive first. A model's unpriced
 * requests are written next to its bar; a model with no priced request
 * gets no bar at all, only that note. */
static void html_chart_models(struct buf *b, const struct summary_row *const *models, size_t n)
{
    double max = 0, row_h = 24;
    for (size_t i = 0; i < n; i++)
        if (isfinite(models[i]->cost_usd))
            max = fmax(max, models[i]->cost_usd);
    max = html_nice_max(max);
    double left = 260, plot_w = CHART_W - left - 240;
    html_chart_open(b, "chart-models", "Cost by model",
                    "Horizontal bars, one per model, most expensive first, length proportional to "
                    "cost in USD. The table &#8220;Cost by model&#8221; below holds the same "
                    "numbers.",
                    CHART_TOP + row_h * (double)n + 8);
    for (size_t i = 0; i < n; i++) {
        const struct summary_row *r = models[i];
        double cost = isfinite(r->cost_usd) ? r->cost_usd : 0, y = CHART_TOP + row_h * (double)i;
        int64_t unpriced = r->counts[SUMMARY_UNPRICED_REQUESTS];
        buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
                   y + row_h / 2 + 4);
        html_name(b, r->model);
        buf_puts(b, "</text>");
        if (cost > 0 || unpriced == 0) {
            buf_printf(b,
                       "<rect class=\"model\" x=\"%.0f\" y=\"%.1f\" width=\"%.3f\" height=\"%.1f\" "
                       "fill=\"%s\" data-model=\"",
                       left, y + 3, cost / max * plot_w, row_h - 6, html_palette[0]);
            html_text(b, r->model);
            buf_puts(b, "\" data-cost=\"");
            html_exact(b, cost);
            buf_puts(b, "\"/>");
        }
        buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", left + cost / max * plot_w + 6,
                   y + row_h / 2 + 4);
        if (cost > 0 || unpriced == 0)
            html_usd(b, cost);
        if (unpriced > 0)
            buf_printf(b, "<tspan class=\"unpriced\">%s%" PRId64 " unpriced</tspan>",
                       cost > 0 ? " + " : "&#9888; ", unpriced);
        buf_puts(b, "</text>\n");
    }
    html_chart_close(b, "Cost by model (after the [aliases] of the configuration).");
}

/* Three bars a day: input, cached input (part of input) and output. */
static void html_chart_tokens(struct buf *b, const struct html_days *days,
                              const struct summary_rows *by_day)
{
    static const enum summary_count kinds[] = {SUMMARY_INPUT_TOKENS, SUMMARY_CACHED_INPUT_TOKENS,
                                               SUMMARY_OUTPUT_TOKENS};
    static const char *const colors[] = {"#4e79a7", "#a0cbe8", "#f28e2b"};
    double max = 0, w = html_slot_w(days);
    for (size_t i = 0; i < by_day->len; i++)
        for (size_t k = 0; k < 3; k++)
            max = fmax(max, (double)by_day->items[i].counts[kinds[k]]);
    max = html_nice_max(max);
    html_day_chart_open(b, "chart-tokens", "Tokens per day",
                        "Three bars a day: input tokens, the cached part of the input, and output "
                        "tokens. The table &#8220;Per day&#8221; below holds the same numbers.",
                        max, false, days);
    for (size_t i = 0; i < by_day->len; i++) {
        const struct summary_row *r = &by_day->items[i];
        int slot = html_day_slot(days, r->day);
        for (size_t k = 0; slot >= 0 && k < 3; k++) {
            double v = (double)r->counts[kinds[k]], y = html_y(v, max);
            buf_printf(b,
                       "<rect class=\"tok\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" "
                       "fill=\"%s\" data-day=\"%s\" data-kind=\"%s\" data-value=\"%" PRId64 "\"/>",
                       CHART_LEFT + slot * w + w * (0.1 + 0.8 * (double)k / 3), y, w * 0.8 / 3,
                       CHART_TOP + CHART_PLOT_H - y, colors[k], r->day,
                       summary_count_names[kinds[k]], r->counts[kinds[k]]);
        }
    }
    html_chart_close(b, "Tokens per day: <span style=\"color:#4e79a7\">&#9632;</span> input, "
                        "<span style=\"color:#a0cbe8\">&#9632;</span> cached input (part of the "
                        "input), <span style=\"color:#f28e2b\">&#9632;</span> output.");
}

/* Successful and failed requests stacked per day, and the error rate as a
 * line against the right-hand axis. */
static void html_chart_requests(struct buf *b, const struct html_days *days,
                                const struct summary_rows *by_day)
{
    double max = 0, w = html_slot_w(days), rmax = 0;
    for (size_t i = 0; i < by_day->len; i++) {
        max = fmax(max, (double)by_day->items[i].counts[SUMMARY_REQUESTS]);
        rmax = fmax(rmax, html_rate(&by_day->items[i]));
    }
    max = html_nice_max(max);
    rmax = html_nice_max(rmax > 0 ? rmax : 0.01);
    rmax = rmax > 1 ? 1 : rmax;
    html_day_chart_open(
        b, "chart-requests", "Requests and error rate per day",
        "Bars: requests per day, successful below and failed on top. Line: the share "
        "of failed requests, against the right-hand axis. The table &#8220;Per "
        "day&#8221; below holds the same numbers.",
        max, false, days);
    html_axis(b, rmax, false, true);
    for (size_t i = 0; i < by_day->len; i++) {
        const struct summary_row *r = &by_day->items[i];
        int slot = html_day_slot(days, r->day);
        if (slot < 0)
            continue;
        double ok = (double)r->counts[SUMMARY_SUCCESSFUL];
        double all = ok + (double)r->counts[SUMMARY_FAILED];
        double x = CHART_LEFT + slot * w + w * 0.1;
        buf_printf(b,
                   "<rect class=\"ok\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" "
                   "fill=\"#59a14f\" data-day=\"%s\" data-value=\"%" PRId64 "\"/>"
                   "<rect class=\"failed\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" "
                   "fill=\"#e15759\" data-day=\"%s\" data-value=\"%" PRId64 "\"/>\n",
                   x, html_y(ok, max), w * 0.8, html_y(0, max) - html_y(ok, max), r->day,
                   r->counts[SUMMARY_SUCCESSFUL], x, html_y(all, max), w * 0.8,
                   html_y(ok, max) - html_y(all, max), r->day, r->counts[SUMMARY_FAILED]);
    }
    /* The line first, then its points on top. It joins consecutive days
     * only: a day without requests has no rate, and a line across it would
     * draw a trend where there is no data (rows come sorted by day). */
    bool open = false;
    int prev = 0;
    for (size_t i = 0; i < by_day->len; i++) {
        const struct summary_row *r = &by_day->items[i];
        int slot = html_day_slot(days, r->day);
        if (slot < 0)
            continue;
        if (open && slot != prev + 1) {
            buf_puts(b, "\"/>\n");
            open = false;
        }
        if (!open)
            buf_puts(b, "<polyline class=\"rate\" points=\"");
        open = true;
        buf_printf(b, " %.3f,%.3f", CHART_LEFT + (slot + 0.5) * w, html_y(html_rate(r), rmax));
        prev = slot;
    }
    if (open)
        buf_puts(b, "\"/>\n");
    for (size_t i = 0; i < by_day->len; i++) {
        const struct summary_row *r = &by_day->items[i];
        int slot = html_day_slot(days, r->day);
        if (slot >= 0)
            buf_printf(b,
                       "<circle class=\"rate-point\" cx=\"%.3f\" cy=\"%.3f\" r=\"3\" "
                       "fill=\"#c0392b\" data-day=\"%s\" data-rate=\"%.6f\"/>",
                       CHART_LEFT + (slot + 0.5) * w, html_y(html_rate(r), rmax), r->day,
                       html_rate(r));
    }
    html_chart_close(b, "Requests per day: <span style=\"color:#59a14f\">&#9632;</span> "
                        "successful, <span style=\"color:#e15759\">&#9632;</span> failed; "
                        "<span style=\"color:#c0392b\">&#8212;</span> error rate (right axis).");
}

/* ---- tables ----------------------------------------------------------- */

/* A column of a table: a key, a count, the error rate or the cost. */
enum { HTML_COL_RATE = -1, HTML_COL_COST = -2 };
struct html_col {
    bool key;
    int what; /* enum report_key, enum summary_count, or HTML_COL_* */
};

static const char *html_col_name(const struct html_col *c)
{
    if (c->key)
        return report_key_names[c->what];
    if (c->what == HTML_COL_RATE)
        return "error rate";
    if (c->what == HTML_COL_COST)
        return "cost (USD)";
    return summary_count_names[c->what];
}

static void html_cell(struct buf *b, const struct html_col *c, const struct summary_row *r,
                      bool total)
{
    if (c->key) {
        buf_puts(b, "<td>");
        if (total)
            buf_puts(b, "total");
        else
            html_name(b, report_key_text(r, (enum report_key)c->what));
    } else if (c->what == HTML_COL_RATE) {
        buf_printf(b, "<td class=\"n\">%.2f%%", html_rate(r) * 100);
    } else if (c->what == HTML_COL_COST) {
        buf_puts(b, "<td class=\"n\" data-col=\"cost_usd\" data-value=\"");
        html_exact(b, r->cost_usd);
        buf_puts(b, "\">");
        if (isfinite(r->cost_usd))
            buf_printf(b, "%.6f", r->cost_usd);
        else
            buf_puts(b, "overflow");
    } else {
        bool unpriced = c->what == SUMMARY_UNPRICED_REQUESTS && r->counts[c->what] > 0;
        buf_printf(b, "<td class=\"n%s\" data-col=\"%s\">%" PRId64, unpriced ? " unpriced" : "",
                   summary_count_names[c->what], r->counts[c->what]);
    }
    buf_puts(b, "</td>");
}

/* A table of rows under cols, with the totals row in its footer. A key
 * column that is not the first is left empty in the footer. */
static void html_table(struct buf *b, const char *id, const char *caption,
                       const struct html_col *cols, size_t ncols,
                       const struct summary_row *const *rows, size_t nrows,
                       const struct summary_row *total)
{
    buf_printf(b, "<table id=\"%s\"><caption>%s</caption><thead><tr>", id, caption);
    for (size_t c = 0; c < ncols; c++)
        buf_printf(b, "<th scope=\"col\"%s>%s</th>", cols[c].key ? "" : " class=\"n\"",
                   html_col_name(&cols[c]));
    buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < nrows; i++) {
        buf_puts(b, "<tr>");
        for (size_t c = 0; c < ncols; c++)
            html_cell(b, &cols[c], rows[i], false);
        buf_puts(b, "</tr>\n");
    }
    buf_puts(b, "</tbody><tfoot><tr>");
    for (size_t c = 0; c < ncols; c++) {
        if (cols[c].key && c > 0)
            buf_puts(b, "<td></td>");
        else
            html_cell(b, &cols[c], total, true);
    }
    buf_puts(b, "</tr></tfoot></table>\n");
}

/* ---- the page --------------------------------------------------------- */

static void html_head(struct buf *b, const struct report *rep)
{
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                "<meta name=\"generator\" content=\"tokenmeter " TOKENMETER_VERSION "\">"
                "<title>LLM spend");
    if (rep->org) {
        buf_puts(b, " of ");
        html_text(b, rep->org);
    }
    if (rep->first[0])
        buf_printf(b, ", %s to %s", rep->first, rep->last);
    buf_printf(b, "</title><style>%s</style></head>\n<body>\n<h1>LLM spend", html_style);
    if (rep->org) {
        buf_puts(b, " of ");
        html_text(b, rep->org);
    }
    buf_puts(b, "</h1>\n<p class=\"meta\">");
    if (rep->first[0])
        buf_printf(b, "%s to %s", rep->first, rep->last);
    else
        buf_puts(b, "Every stored day");
    buf_puts(b, ", days in ");
    html_text(b, rep->tz);
    buf_puts(b, ". From the daily summaries of tokenmeter " TOKENMETER_VERSION ".</p>\n");
}

static void html_kpis(struct buf *b, const struct report *rep)
{
    const struct summary_row *t = &rep->total;
    buf_puts(b, "<dl class=\"kpis\"><div><dt>Cost</dt><dd id=\"total-cost\">");
    html_usd(b, t->cost_usd);
    buf_printf(b,
               "</dd></div><div><dt>Requests</dt><dd>%" PRId64 "</dd></div>"
               "<div><dt>Error rate</dt><dd>%.2f%%</dd></div>"
               "<div><dt>Tokens</dt><dd>%" PRId64 "</dd></div>"
               "<div><dt>Unpriced requests</dt><dd>%" PRId64 "</dd></div></dl>\n",
               t->counts[SUMMARY_REQUESTS], html_rate(t) * 100, t->counts[SUMMARY_TOTAL_TOKENS],
               t->counts[SUMMARY_UNPRICED_REQUESTS]);
    if (t->counts[SUMMARY_UNPRICED_REQUESTS] > 0)
        buf_printf(b,
                   "<p class=\"callout\" id=\"unpriced-callout\" role=\"note\"><strong>%" PRId64
                   " of %" PRId64 " requests are unpriced</strong>: no price was known for "
                   "their model, so their cost is not in these numbers (it is unknown, not "
                   "zero). Add the models to the price table; docs/schema.md, &#8220;Prices and "
                   "cost&#8221;.</p>\n",
                   t->counts[SUMMARY_UNPRICED_REQUESTS], t->counts[SUMMARY_REQUESTS]);
}

/* The x axis: the period asked for, else the stored days. */
static bool html_days_of(const struct report *rep, struct html_days *days)
{
    const char *first = rep->first, *last = rep->last;
    if (!first[0] && rep->detail.len) {
        first = rep->detail.items[0].day;
        last = rep->detail.items[rep->detail.len - 1].day;
    }
    struct tzday_date l;
    if (tzday_parse(first, &days->first) < 0 || tzday_parse(last, &l) < 0)
        return false;
    days->n = tzday_diff(days->first, l) + 1;
    return days->n > 0;
}

/* Pointers to the rows of rs, for the table writer (new array, or NULL
 * when out of memory or empty). */
static const struct summary_row **html_ptrs(const struct summary_rows *rs)
{
    const struct summary_row **p = calloc(rs->len ? rs->len : 1, sizeof(*p));
    for (size_t i = 0; p && i < rs->len; i++)
        p[i] = &rs->items[i];
    return p;
}

static const struct html_col html_cols_day_org[] = {
    {true, REPORT_KEY_DAY},    {true, REPORT_KEY_ORG},
    {false, SUMMARY_REQUESTS}, {false, SUMMARY_UNPRICED_REQUESTS},
    {false, HTML_COL_COST},
};
static const struct html_col html_cols_model[] = {
    {true, REPORT_KEY_MODEL},           {false, SUMMARY_REQUESTS},
    {false, SUMMARY_INPUT_TOKENS},      {false, SUMMARY_OUTPUT_TOKENS},
    {false, SUMMARY_UNPRICED_REQUESTS}, {false, HTML_COL_COST},
};
static const struct html_col html_cols_day[] = {
    {true, REPORT_KEY_DAY},
    {false, SUMMARY_REQUESTS},
    {false, SUMMARY_SUCCESSFUL},
    {false, SUMMARY_FAILED},
    {false, HTML_COL_RATE},
    {false, SUMMARY_INPUT_TOKENS},
    {false, SUMMARY_CACHED_INPUT_TOKENS},
    {false, SUMMARY_OUTPUT_TOKENS},
    {false, SUMMARY_UNPRICED_REQUESTS},
    {false, HTML_COL_COST},
};
#define HTML_N(a) (sizeof(a) / sizeof(a[0]))

/* The rows table: the keys the report is grouped by, and every count. */
static void html_rows_table(struct buf *b, const struct report *rep,
                            const struct summary_row *const *rows)
{
    struct html_col cols[REPORT_NKEYS + SUMMARY_NCOUNTS + 1];
    size_t n = 0;
    for (int k = 0; k < REPORT_NKEYS; k++)
        if (report_shows(rep, (enum report_key)k))
            cols[n++] = (struct html_col){true, k};
    for (int k = 0; k < SUMMARY_NCOUNTS; k++)
        cols[n++] = (struct html_col){false, k};
    cols[n++] = (struct html_col){false, HTML_COL_COST};
    html_table(b, "table-rows", "Rows of the report (as in the other formats)", cols, n, rows,
               rep->rows.len, &rep->total);
}

/* The roll-ups the charts and tables are drawn from. */
enum { HTML_BY_DAY_ORG, HTML_BY_DAY, HTML_BY_ORG, HTML_BY_MODEL, HTML_NSETS };
static const unsigned html_set_keys[HTML_NSETS] = {
    REPORT_BY(REPORT_KEY_DAY) | REPORT_BY(REPORT_KEY_ORG),
    REPORT_BY(REPORT_KEY_DAY),
    REPORT_BY(REPORT_KEY_ORG),
    REPORT_BY(REPORT_KEY_MODEL),
};

static void html_page(struct buf *b, const struct report *rep, struct summary_rows *sets,
                      const struct summary_row *const *const *ptrs,
                      const struct summary_row *const *rows)
{
    struct html_days days;
    const struct summary_row *t = &rep->total;
    html_head(b, rep);
    html_kpis(b, rep);
    if (rep->detail.len && html_days_of(rep, &days)) {
        buf_puts(b, "<h2>Cost</h2>\n");
        html_chart_cost(b, &days, &sets[HTML_BY_DAY_ORG], &sets[HTML_BY_DAY], &sets[HTML_BY_ORG]);
        html_chart_models(b, ptrs[HTML_BY_MODEL], sets[HTML_BY_MODEL].len);
        buf_puts(b, "<h2>Tokens and requests</h2>\n");
        html_chart_tokens(b, &days, &sets[HTML_BY_DAY]);
        html_chart_requests(b, &days, &sets[HTML_BY_DAY]);
    } else {
        buf_puts(b, "<p id=\"no-data\">No usage is stored for this period.</p>\n");
    }
    buf_puts(b, "<h2>Tables</h2>\n");
    html_table(b, "table-day-org", "Cost per day and organization", html_cols_day_org,
               HTML_N(html_cols_day_org), ptrs[HTML_BY_DAY_ORG], sets[HTML_BY_DAY_ORG].len, t);
    html_table(b, "table-models", "Cost by model", html_cols_model, HTML_N(html_cols_model),
               ptrs[HTML_BY_MODEL], sets[HTML_BY_MODEL].len, t);
    html_table(b, "table-days", "Per day", html_cols_day, HTML_N(html_cols_day), ptrs[HTML_BY_DAY],
               sets[HTML_BY_DAY].len, t);
    html_rows_table(b, rep, rows);
    buf_puts(b, "</body></html>\n");
}

int report_html_write(const struct report *rep, FILE *out, char err[ERR_MAX])
{
    struct summary_rows sets[HTML_NSETS];
    const struct summary_row **ptrs[HTML_NSETS] = {NULL}, **rows = NULL;
    struct buf b;
    int rc = 0;
    buf_init(&b, HTML_MAX);
    for (int i = 0; i < HTML_NSETS; i++)
        summary_store_rows_init(&sets[i]);
    for (int i = 0; i < HTML_NSETS; i++) {
        if (report_rollup(&rep->detail, html_set_keys[i], &sets[i]) < 0 ||
            !(ptrs[i] = html_ptrs(&sets[i])))
            goto nomem;
    }
    if (!(rows = html_ptrs(&rep->rows)))
        goto nomem;
    qsort(ptrs[HTML_BY_MODEL], sets[HTML_BY_MODEL].len, sizeof(ptrs[0][0]), html_cost_desc);
    html_page(&b, rep, sets, (const struct summary_row *const *const *)ptrs,
              (const struct summary_row *const *)rows);
    rc = buf_error(&b);
    if (rc == -ENOMEM)
        goto nomem;
    if (rc < 0) {
        rc = err_set(err, rc, "the page would exceed %u MiB", HTML_MAX >> 20);
        goto out;
    }
    if (fwrite(b.data, 1, b.len, out) != b.len)
        rc = err_set(err, -EIO, "writing the page: %s", strerror(errno));
    goto out;
nomem:
    rc = err_set(err, -ENOMEM, "out of memory");
out:
    for (int i = 0; i < HTML_NSETS; i++) {
        summary_store_rows_free(&sets[i]);
        free(ptrs[i]);
    }
    free(rows);
    buf_free(&b);
    return rc;
}
