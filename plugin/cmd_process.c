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
 *  - Input the reader cannot parse passes through unchanged unless it has a
 *    body_field="..." string (then it is dead-lettered with the reason): other
 *    metrics are Telegraf's to judge, and bodies are never passed on.
 *  - A blank line, SIGHUP or SIGUSR1 emits the tokenmeter_stats point; EOF
 *    flushes and exits 0 (Telegraf forwards what we write after EOF).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/base64.h"
#include "tokenmeter/cmd.h"
#include "tokenmeter/cmd_io.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"

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
    "exit status: 0 at end of input or on SIGTERM/SIGINT, 64 usage, 73 the\n"
    "dead-letter file cannot be created, 74 stdout closed or dead-letter file not\n"
    "writable, 78 configuration error.\n";

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
 * at most doubles a string (escaping '"' and '\'), base64 adds a third,
 * and tags and the measurement are small. A longer metric cannot hold an
 * acceptable body, so it is streamed to the dead-letter file unparsed. */
#define PROCESS_METRIC_SLACK (64 * 1024)

struct process_state {
    struct cmd_io *io;
    struct lineproto_scanner scan;
    struct lineproto_point pt;
    struct buf pending;        /* the metric being assembled across reads */
    struct buf body;           /* the decoded body */
    uint64_t metric;           /* 1-based number of the current metric */
    struct cmd_io_oversize ov; /* ov.stream: the metric is being streamed away */
    char origin[64];
};

static const char *process_origin(struct process_state *ps)
{
    snprintf(ps->origin, sizeof(ps->origin), "stdin:%" PRIu64, ps->metric);
    return ps->origin;
}

/* A metric we cannot take a body from (not line protocol, bad base64):
 * dead-lettered whole, like a bad body, so the operator sees what Telegraf
 * (or whoever feeds us) sent. */
static int process_reject_metric(struct process_state *ps, const char *line, size_t len,
                                 const char *reason)
{
    return cmd_io_reject_raw(ps->io, process_origin(ps), line, len, reason);
}

/* The tag named by a [process] *_tag key, or NULL (an empty key disables). */
static const char *process_tag(const struct lineproto_point *pt, const char *name)
{
    if (!name || !*name)
        return NULL;
    return lineproto_point_tag(pt, name);
}

/* True when the raw line has a string field named `field` (`field="` after a
 * space or comma): a metric that may carry a webhook body. */
static bool process_may_hold_body(const char *line, size_t len, const char *field)
{
    size_t fl = strlen(field);
    for (size_t at = 1; at + fl + 1 < len; at++) {
        if ((line[at - 1] == ' ' || line[at - 1] == ',') && memcmp(line + at, field, fl) == 0 &&
            line[at + fl] == '=' && line[at + fl + 1] == '"')
            return true;
    }
    return false;
}

/* Passes a metric on unchanged, newline included. Returns 0 or the output
 * buffer's error. */
static int process_pass(struct cmd_io *io, const char *line, size_t len)
{
    buf_append(&io->out, line, len);
    buf_putc(&io->out, '\n');
    return buf_error(&io->out);
}

/* Handles one complete metric (without its '\n'). */
static int process_metric(struct process_state *ps, const char *line, size_t len)
{
    struct cmd_io *io = ps->io;
    const struct config_process *cp = &io->cfg->process;
    char err[ERR_MAX];
    if (cmd_io_blank(line, len))
        return cmd_io_emit_stats(io);
    int prc = lineproto_parse(line, len, &ps->pt, err);
    if (prc == -ENOMEM) { /* fatal (err.h): the metric was not judged */
        log_msg_always(LOG_LEVEL_ERROR, "stdin:%" PRIu64 ": %s", ps->metric, err);
        return prc;
    }
    if (prc < 0 && !process_may_hold_body(line, len, cp->body_field)) {
        /* Not ours, even if our reader cannot read it (Telegraf's is the
         * judge of other metrics): pass it on untouched. */
        log_debug("stdin:%" PRIu64 ": passed through unread: %s", ps->metric, err);
        return process_pass(io, line, len);
    }
    if (prc < 0) {
        char reason[ERR_MAX + 32];
        snprintf(reason, sizeof(reason), "not line protocol: %s", err);
        return process_reject_metric(ps, line, len, reason);
    }
    const struct lineproto_field *f =
        prc == 0 ? lineproto_point_field(&ps->pt, cp->body_field) : NULL;
    if (!f || f->type != LINEPROTO_STRING) {
        /* Not a webhook body (or a comment): not ours to change. */
        return process_pass(io, line, len);
    }
    const char *body = f->s;
    size_t blen = f->slen;
    if (cp->body_encoding == CONFIG_ENCODING_BASE64) {
        buf_reset(&ps->body);
        int rc = base64_decode(&ps->body, f->s, f->slen);
        if (rc == -EINVAL) {
            char reason[96];
            snprintf(reason, sizeof(reason), "field \"%.40s\" is not valid base64", cp->body_field);
            return process_reject_metric(ps, line, len, reason);
        }
        if (rc < 0)
            return rc;
        body = ps->body.data ? ps->body.data : "";
        blen = ps->body.len;
    }
    struct pipeline_tenancy t = {
        .org = process_tag(&ps->pt, cp->org_tag),
        .team = process_tag(&ps->pt, cp->team_tag),
        .user = process_tag(&ps->pt, cp->user_tag),
    };
    /* Telegraf stamped the metric when the request arrived: a better
     * receive time for bodies without their own than our clock. */
    pipeline_set_receive_time(io->pipeline, ps->pt.has_time ? ps->pt.time_ns : -1);
    int rc = pipeline_feed(io->pipeline, body, blen, process_origin(ps), &t, &io->out);
    return rc < 0 ? rc : 0;
}

/* Consumes one chunk of stdin, metric by metric. */
static int process_chunk(struct process_state *ps, const char *data, size_t n)
{
    struct cmd_io *io = ps->io;
    int rc = 0;
    while (n > 0 && rc >= 0) {
        long e = lineproto_scanner_feed(&ps->scan, data, n);
        size_t take = e < 0 ? n : (size_t)e;
        if (ps->ov.stream) {
            rc = cmd_io_oversize_append(&ps->ov, data, take);
            if (e >= 0 && rc >= 0) {
                rc = cmd_io_oversize_end(io, &ps->ov);
            }
        } else if (e < 0) {
            rc = buf_append(&ps->pending, data, take);
            if (rc == -ENOSPC) {
                rc = cmd_io_oversize_begin(io, &ps->ov, process_origin(ps), &ps->pending, data,
                                           take);
                buf_reset(&ps->pending);
            }
        } else if (ps->pending.len == 0) {
            /* The common case: the whole metric is inside this chunk. */
            if (take > ps->pending.max) {
                rc = cmd_io_oversize_begin(io, &ps->ov, process_origin(ps), &ps->pending, data,
                                           take);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io, &ps->ov);
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
            } else if (rc >= 0) {
                rc = process_metric(ps, ps->pending.data, ps->pending.len);
            }
            buf_reset(&ps->pending);
        }
        if (e < 0)
            break;
        ps->metric++;
        data += take + 1;
        n -= take + 1;
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
        if (cmd_io_wait_input(io, STDIN_FILENO, -1) == -EINTR) {
            if ((rc = cmd_io_handle_signals(io)) < 0)
                break;
            continue;
        }
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR) {
                if ((rc = cmd_io_handle_signals(io)) < 0)
                    break;
                continue;
            }
            rc = -errno;
            log_msg_always(LOG_LEVEL_ERROR, "reading stdin: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            /* A last metric without '\n' still counts. */
            if (ps->ov.stream)
                rc = cmd_io_oversize_end(io, &ps->ov);
            else if (ps->pending.len)
                rc = process_metric(ps, ps->pending.data, ps->pending.len);
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
        rc = process_reject_metric(ps, ps->pending.data, ps->pending.len,
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
    int status = cmd_io_open(&io, common);
    if (status != EX_OK)
        return status;
    memset(&ps, 0, sizeof(ps));
    ps.io = &io;
    ps.metric = 1;
    lineproto_scanner_init(&ps.scan);
    lineproto_point_init(&ps.pt);
    size_t max = (size_t)io.cfg->ingest.max_body_bytes;
    buf_init(&ps.pending, max * 2 + PROCESS_METRIC_SLACK);
    buf_init(&ps.body, max * 2 + PROCESS_METRIC_SLACK);
    int rc = process_stream(&ps);
    deadletter_stream_free(ps.ov.stream); /* only after an error: nothing to save */
    buf_free(&ps.pending);
    buf_free(&ps.body);
    lineproto_point_free(&ps.pt);
    return cmd_io_close(&io, rc);
}
