/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter process — the child of Telegraf's processors.execd, behind
 * inputs.http_listener_v2 (docs/operations.md).
 *
 * stdin is Telegraf's influx serialization, one metric per line, except that
 * a quoted string field may hold raw newlines (a pretty-printed JSON body),
 * so metrics are framed by the quote-aware scanner, never by '\n' alone.
 *  - A metric with the string field [process] body_field is a webhook body:
 *    it is decoded ([process] body_encoding), normalized with the metric's
 *    tenancy tags as defaults, and replaced by the resulting points; a body
 *    that cannot be normalized is dead-lettered, never passed on.
 *  - Every other metric passes through byte-for-byte, newline included.
 *  - Input the reader cannot parse passes through unchanged unless it may
 *    hold a body (then it is dead-lettered with the reason): other metrics
 *    are Telegraf's to judge, and bodies are never passed on (cmd_metric.h).
 *  - A line with an unterminated quote would make every following metric
 *    part of its string: once the line after it reads as a whole metric on
 *    its own, the broken line is taken alone and framing starts again at
 *    the next line.
 *  - A blank line, SIGHUP or SIGUSR1 emits the tokenmeter_stats point, and
 *    so does the clock every [ingest] stats_interval; EOF flushes and exits
 *    0 (Telegraf forwards what we write after EOF).
 *  - An unusable configuration does not stop the process (Telegraf would
 *    answer 204 for every request and lose each body while restarting it):
 *    it runs degraded, dead-letters every webhook metric whole with the
 *    configuration error as the reason, passes the others, and logs one E!
 *    line a minute. `tokenmeter replay` takes the records once it is fixed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/cmd_io.h"
#include "tokenmeter/cmd_metric.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"
#include "tokenmeter/timeutil.h"

static const char process_usage[] =
    "usage: tokenmeter process [options]\n"
    "\n"
    "Run by Telegraf's processors.execd behind inputs.http_listener_v2. Reads\n"
    "line protocol on stdin; a metric whose string field [process] body_field\n"
    "(default \"value\") holds a webhook body is replaced by the normalized\n"
    "llm_usage points, with its tags [process] org_tag, team_tag and user_tag\n"
    "as tenancy defaults. Every other metric passes through unchanged, even one\n"
    "tokenmeter's reader cannot parse. Bodies that cannot be normalized, and\n"
    "unreadable metrics that carry a body field, go to the dead-letter file with\n"
    "their reason.\n"
    "\n"
    "options:\n"
    "      --body-field NAME     the string field holding the body ([process] body_field)\n"
    "      --body-encoding ENC   string, or base64 for the listener's data_type =\n"
    "                            \"base64\" ([process] body_encoding)\n"
    "      --org-tag TAG         tag naming the org ([process] org_tag, default org)\n"
    "      --team-tag TAG        tag naming the team ([process] team_tag, default team)\n"
    "      --user-tag TAG        tag naming the user ([process] user_tag, default user)\n"
    "      --dead-letter FILE    where rejected bodies go ([ingest] dead_letter)\n"
    "      --max-body-bytes N    larger bodies are rejected ([ingest] max_body_bytes)\n"
    "%s"
    "\n"
    "Other [ingest] keys (dedup, measurement, default_org, extra_tags, ...) come\n"
    "from the configuration file or --set.\n"
    "\n"
    "A configuration error does not stop it: every webhook metric then goes to the\n"
    "dead-letter file with the error as its reason (replay them once it is fixed).\n"
    "\n"
    "exit status: 0 at end of input or on SIGTERM/SIGINT, 64 usage, 73 the\n"
    "dead-letter file cannot be created, 74 stdout closed, or rejected bodies the\n"
    "dead-letter file refused were lost.\n";

enum {
    PROCESS_OPT_BODY_FIELD = CMD_OPT_FIRST_LOCAL,
    PROCESS_OPT_BODY_ENCODING,
    PROCESS_OPT_ORG_TAG,
    PROCESS_OPT_TEAM_TAG,
    PROCESS_OPT_USER_TAG,
    PROCESS_OPT_DEAD_LETTER,
    PROCESS_OPT_MAX_BODY,
};

static const struct cmd_flag process_flags[] = {
    {PROCESS_OPT_BODY_FIELD, "process.body_field", NULL},
    {PROCESS_OPT_BODY_ENCODING, "process.body_encoding", NULL},
    {PROCESS_OPT_ORG_TAG, "process.org_tag", NULL},
    {PROCESS_OPT_TEAM_TAG, "process.team_tag", NULL},
    {PROCESS_OPT_USER_TAG, "process.user_tag", NULL},
    {PROCESS_OPT_DEAD_LETTER, "ingest.dead_letter", NULL},
    {PROCESS_OPT_MAX_BODY, "ingest.max_body_bytes", NULL},
};

/* Room for a metric around a body of max_body_bytes: Telegraf's serializer
 * at most doubles a string (escaping '"' and '\\'), base64 adds a third,
 * and tags and the measurement are small. A longer metric cannot hold an
 * acceptable body, so it is streamed to the dead-letter file unparsed. */
#define PROCESS_METRIC_SLACK (64 * 1024)

#define PROCESS_DEGRADED_LOG_S 60 /* one E! line a minute while degraded */

struct process_state {
    struct cmd_io *io;
    struct lineproto_scanner scan;
    struct cmd_metric m;
    struct buf pending;        /* the metric being assembled across reads */
    uint64_t metric;           /* 1-based number of the current metric */
    struct cmd_io_oversize ov; /* ov.stream: the metric is being streamed away */
    bool resync_checked;       /* the pending metric's second line was looked at */
    char origin[64];
    const char *degraded; /* the configuration error; NULL when configured */
    int64_t degraded_logged_ns;
};

static const char *process_origin(struct process_state *ps)
{
    snprintf(ps->origin, sizeof(ps->origin), "stdin:%" PRIu64, ps->metric);
    return ps->origin;
}

/* Degraded: the E! line, at most once a minute. */
static void process_degraded_log(struct process_state *ps)
{
    int64_t now = timeutil_now_ns();
    if (ps->degraded_logged_ns &&
        now - ps->degraded_logged_ns < PROCESS_DEGRADED_LOG_S * 1000000000LL)
        return;
    ps->degraded_logged_ns = now;
    log_msg_always(LOG_LEVEL_ERROR,
                   "process: configuration error: %s; every webhook metric goes to the dead-letter "
                   "file %s (%" PRIu64 " so far): fix the configuration, then `tokenmeter replay` "
                   "the records",
                   ps->degraded, deadletter_path(ps->io->dl), ps->io->stats.rejected);
}

/* Handles one complete metric (without its '\n'). */
static int process_metric(struct process_state *ps, const char *line, size_t len)
{
    struct cmd_io *io = ps->io;
    if (cmd_io_blank(line, len))
        return cmd_io_emit_stats(io);
    if (!ps->degraded)
        return cmd_metric_feed(io, &ps->m, line, len, process_origin(ps), &io->out);
    if (!cmd_metric_may_hold_body(&io->cfg->process, line, len))
        return cmd_metric_pass(&io->out, line, len);
    char reason[ERR_MAX + 64];
    snprintf(reason, sizeof(reason), "configuration error: %s", ps->degraded);
    int rc = cmd_io_reject_raw(io, process_origin(ps), line, len, "metric", reason);
    process_degraded_log(ps);
    return rc;
}

/* A line with an unterminated quote: taken alone (dead-lettered if it may
 * hold a body, else passed on), and framing starts again after it. */
static int process_broken_line(struct process_state *ps, const char *line, size_t len)
{
    lineproto_scanner_init(&ps->scan);
    ps->resync_checked = false;
    log_warn("stdin:%" PRIu64 ": a line with an unterminated quote; reading on from the next line",
             ps->metric);
    int rc = process_metric(ps, line, len);
    ps->metric++;
    return rc;
}

/* True when the line at p (len bytes; p[len] is its '\n') is a whole
 * metric on its own: its quotes close on the line and it parses. */
static bool process_whole_line(struct process_state *ps, const char *p, size_t len)
{
    char err[ERR_MAX];
    return lineproto_line_end(p, len + 1) == (long)len &&
           lineproto_parse(p, len, &ps->m.pt, err) == 0;
}

/* A metric still open after a raw newline: a quoted string with a newline
 * in it (a pretty-printed body), or a line whose quote never closes. Once
 * the second line is complete and reads as a metric of its own, it is the
 * latter: the first line is taken alone, pending moves to *keep and *rest
 * points at the second line in it (to be framed next). Returns 1 then, 0
 * when the metric stays open, or -errno. */
static int process_check_open(struct process_state *ps, struct buf *keep, const char **rest,
                              size_t *rest_len)
{
    const char *p = ps->pending.data;
    size_t len = ps->pending.len;
    const char *nl1 = ps->resync_checked ? NULL : memchr(p, '\n', len);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - p)) : NULL;
    if (!nl2)
        return 0;
    ps->resync_checked = true;
    if (!process_whole_line(ps, nl1 + 1, (size_t)(nl2 - nl1 - 1)))
        return 0;
    buf_free(keep);
    *keep = ps->pending;
    buf_init(&ps->pending, keep->max);
    *rest = nl1 + 1;
    *rest_len = len - (size_t)(nl1 + 1 - p);
    int rc = process_broken_line(ps, p, (size_t)(nl1 - p));
    return rc < 0 ? rc : 1;
}

/* The first newline of a metric framed whole that spans lines but does not
 * parse (it began with an unterminated quote), or NULL. */
static const char *process_broken_at(struct process_state *ps, const char *p, size_t len)
{
    char err[ERR_MAX];
    const char *nl = memchr(p, '\n', len);
    return nl && lineproto_parse(p, len, &ps->m.pt, err) == -EINVAL ? nl : NULL;
}

/* Consumes one chunk of stdin, metric by metric. A resynchronisation never
 * nests deeper than one call: the bytes after a broken line are framed by
 * this loop itself (they are the rest of the chunk, or of what was
 * pending), so no input can make the stack grow. */
static int process_chunk(struct process_state *ps, const char *data, size_t n)
{
    struct cmd_io *io = ps->io;
    struct buf keep; /* what `data` points into after a resynchronisation */
    buf_init(&keep, 0);
    int rc = 0;
    while (n > 0 && rc >= 0) {
        long e = lineproto_scanner_feed(&ps->scan, data, n);
        size_t take = e < 0 ? n : (size_t)e;
        if (ps->ov.stream) {
            rc = cmd_io_oversize_append(&ps->ov, data, take);
            if (e >= 0 && rc >= 0)
                rc = cmd_io_oversize_end(io, &ps->ov);
        } else if (e < 0) {
            rc = buf_append(&ps->pending, data, take);
            if (rc == -ENOSPC) {
                rc = cmd_io_oversize_begin(io, &ps->ov, process_origin(ps), &ps->pending, data,
                                           take);
                buf_reset(&ps->pending);
            } else if (rc >= 0 && (rc = process_check_open(ps, &keep, &data, &n)) > 0) {
                rc = 0;
                continue; /* frame the rest, from its second line */
            }
            break;
        } else if (ps->pending.len == 0) {
            /* The common case: the whole metric is inside this chunk. */
            const char *nl;
            if (take > ps->pending.max) {
                rc = cmd_io_oversize_begin(io, &ps->ov, process_origin(ps), &ps->pending, data,
                                           take);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io, &ps->ov);
            } else if ((nl = process_broken_at(ps, data, take)) != NULL) {
                rc = process_broken_line(ps, data, (size_t)(nl - data));
                n -= (size_t)(nl + 1 - data);
                data = nl + 1; /* the rest of it is in this chunk */
                continue;
            } else {
                rc = process_metric(ps, data, take);
            }
        } else {
            rc = buf_append(&ps->pending, data, take);
            if (rc == -ENOSPC) {
                rc = cmd_io_oversize_begin(io, &ps->ov, process_origin(ps), &ps->pending, data,
                                           take);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io, &ps->ov);
                buf_reset(&ps->pending);
            } else if (rc >= 0) {
                /* framing may refill pending: take the bytes out first */
                struct buf whole = ps->pending;
                buf_init(&ps->pending, whole.max);
                size_t before = whole.len - take; /* held from earlier chunks */
                const char *nl = process_broken_at(ps, whole.data, whole.len);
                if (!nl) {
                    rc = process_metric(ps, whole.data, whole.len);
                } else {
                    size_t at = (size_t)(nl + 1 - whole.data);
                    rc = process_broken_line(ps, whole.data, (size_t)(nl - whole.data));
                    /* what followed the broken line: the earlier chunks'
                     * bytes first (a call that cannot come back here: its
                     * pending starts empty), then this chunk from its start */
                    if (rc >= 0 && at < before)
                        rc = process_chunk(ps, whole.data + at, before - at);
                    size_t skip = at > before ? at - before : 0;
                    buf_free(&whole);
                    n -= skip;
                    data += skip;
                    continue;
                }
                buf_free(&whole);
            }
        }
        ps->resync_checked = false;
        ps->metric++;
        data += take + 1;
        n -= take + 1;
    }
    buf_free(&keep);
    return rc;
}

/* End of input: what is pending is a last metric without its newline (or,
 * after an unterminated quote, several). */
static int process_eof(struct process_state *ps)
{
    int rc = 0;
    while (rc >= 0 && ps->pending.len) {
        struct buf whole = ps->pending;
        buf_init(&ps->pending, whole.max);
        const char *nl = process_broken_at(ps, whole.data, whole.len);
        if (!nl) {
            rc = process_metric(ps, whole.data, whole.len);
        } else {
            size_t at = (size_t)(nl + 1 - whole.data);
            rc = process_broken_line(ps, whole.data, at - 1);
            if (rc >= 0 && at < whole.len)
                rc = process_chunk(ps, whole.data + at, whole.len - at);
        }
        buf_free(&whole);
    }
    return rc;
}

/* Reads stdin to EOF, or until SIGTERM/SIGINT. */
static int process_stream(struct process_state *ps)
{
    struct cmd_io *io = ps->io;
    char chunk[65536];
    int rc = 0;
    while (!cmd_io_stop_requested()) {
        ssize_t n = cmd_io_read(io, STDIN_FILENO, chunk, sizeof(chunk));
        if (n == -EINTR) {
            if ((rc = cmd_io_handle_signals(io)) < 0)
                break;
            continue;
        }
        if (n < 0) {
            rc = (int)n;
            log_msg_always(LOG_LEVEL_ERROR, "reading stdin: %s", strerror((int)-n));
            break;
        }
        if (n == 0) {
            /* A last metric without '\n' still counts. */
            if (ps->ov.stream) {
                rc = cmd_io_oversize_end(io, &ps->ov);
            } else {
                rc = process_eof(ps);
            }
            break;
        }
        if ((rc = process_chunk(ps, chunk, (size_t)n)) < 0)
            break;
        if ((rc = cmd_io_maybe_flush(io, STDIN_FILENO)) < 0)
            break;
        if ((rc = cmd_io_handle_signals(io)) < 0)
            break;
    }
    if (rc >= 0 && ps->ov.stream)
        rc = cmd_io_oversize_end(io, &ps->ov);
    else if (rc >= 0 && ps->pending.len)
        /* stopped by a signal in the middle of a metric: never dropped in silence */
        rc = cmd_io_reject_raw(io, process_origin(ps), ps->pending.data, ps->pending.len, "metric",
                               "incomplete metric: stopped (SIGTERM/SIGINT) before its end");
    return rc;
}

int cmd_process_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"body-field", required_argument, NULL, PROCESS_OPT_BODY_FIELD},
        {"body-encoding", required_argument, NULL, PROCESS_OPT_BODY_ENCODING},
        {"org-tag", required_argument, NULL, PROCESS_OPT_ORG_TAG},
        {"team-tag", required_argument, NULL, PROCESS_OPT_TEAM_TAG},
        {"user-tag", required_argument, NULL, PROCESS_OPT_USER_TAG},
        {"dead-letter", required_argument, NULL, PROCESS_OPT_DEAD_LETTER},
        {"max-body-bytes", required_argument, NULL, PROCESS_OPT_MAX_BODY},
        {NULL, 0, NULL, 0},
    };
    struct cmd_io io;
    struct process_state ps;
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "process",
                           .longopts = longopts,
                           .flags = process_flags,
                           .nflags = sizeof(process_flags) / sizeof(process_flags[0]),
                           .common = common};
    const char *arg = NULL;
    int opt;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END)
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
    if (common->help) {
        printf(process_usage, cmd_common_help);
        return EX_OK;
    }
    if (optind < argc)
        return cmd_usage_error("process", "it reads stdin only, not \"%s\"", argv[optind]);
    memset(&ps, 0, sizeof(ps));
    char cfg_err[ERR_MAX];
    int status = cmd_io_open(&io, common, "process", true);
    if (status == EX_CONFIG || status == EX_USAGE) {
        /* Keep every body: degraded (see the top of this file); a bad flag
         * value in Telegraf's command line is as fatal as a bad file. */
        struct config *partial = NULL;
        struct config *cfg = NULL;
        snprintf(cfg_err, sizeof(cfg_err), "%s", io.error);
        if (cmd_load_config_err(common, &cfg, &partial, io.error) == EX_OK)
            partial = cfg; /* read fine; what the pipeline refused is in cfg_err */
        ps.degraded = cfg_err;
        status = cmd_io_open_degraded(&io, partial, "process");
    }
    if (status != EX_OK)
        return status;
    ps.io = &io;
    ps.metric = 1;
    lineproto_scanner_init(&ps.scan);
    size_t max = (size_t)io.cfg->ingest.max_body_bytes;
    cmd_metric_init(&ps.m, max * 2 + PROCESS_METRIC_SLACK);
    buf_init(&ps.pending, max * 2 + PROCESS_METRIC_SLACK);
    if (ps.degraded)
        process_degraded_log(&ps);
    int rc = process_stream(&ps);
    deadletter_stream_free(ps.ov.stream); /* only after an error: nothing to save */
    buf_free(&ps.pending);
    cmd_metric_free(&ps.m);
    return cmd_io_close(&io, rc);
}
