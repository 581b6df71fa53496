/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter execd — NDJSON webhook bodies in (stdin or files), line
 * protocol out. Run by Telegraf's inputs.execd (SPEC §6):
 *  - stdout carries only line protocol, flushed whenever no more input is
 *    immediately waiting (throughput under load, no latency when idle);
 *  - a blank line, SIGHUP or SIGUSR1 emits one tokenmeter_stats point;
 *  - EOF: flush and exit 0. SIGTERM/SIGINT: finish the current body, flush,
 *    exit 0. EPIPE on stdout: a clear message and exit 74;
 *  - a line over max_body_bytes is streamed to the dead-letter file as it
 *    arrives, never held in memory.
 */
#include "tokenmeter/cmd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"
#include "tokenmeter/timeutil.h"

static const char execd_usage[] =
    "usage: tokenmeter execd [options] [FILE...]\n"
    "\n"
    "Reads LLM usage webhooks as NDJSON (one JSON body per line) from stdin, or\n"
    "from the FILEs named, and writes InfluxDB line protocol to stdout. A blank\n"
    "line, SIGHUP or SIGUSR1 writes a tokenmeter_stats point. Rejected bodies go\n"
    "to the dead-letter file with their reason; `tokenmeter replay` feeds them back.\n"
    "\n"
    "options:\n"
    "      --dead-letter FILE   where rejected bodies go ([ingest] dead_letter)\n"
    "      --dedup MODE         timestamp (default), tag or off ([ingest] dedup)\n"
    "      --dedup-cache N      identities kept to drop repeats in-process, 0 disables\n"
    "                           ([ingest] dedup_cache, default 1000000). The cache\n"
    "                           uses a fixed %zu bytes per 1000000 identities,\n"
    "                           allocated at start-up and never grown.\n"
    "      --measurement NAME   measurement name ([ingest] measurement, llm_usage)\n"
    "      --default-org ORG    org for events that name none ([ingest] default_org)\n"
    "      --extra-tags LIST    team,user: also tag by these ([ingest] extra_tags)\n"
    "      --source NAME        treat every body as this source ([ingest] source)\n"
    "      --max-body-bytes N   larger bodies are rejected ([ingest] max_body_bytes,\n"
    "                           default 8388608)\n"
    "      --receive-time T     time (RFC 3339, or ns since the epoch) given to bodies\n"
    "                           that carry none (Anthropic, Helicone); default: now.\n"
    "                           For backfills of archived responses.\n"
    "%s"
    "\n"
    "exit status: 0 at end of input or on SIGTERM/SIGINT, 64 usage, 66 an input\n"
    "file cannot be opened, 74 stdout closed or dead-letter file not writable,\n"
    "78 configuration error.\n";

enum {
    EXECD_OPT_DEAD_LETTER = CMD_OPT_FIRST_LOCAL,
    EXECD_OPT_DEDUP,
    EXECD_OPT_DEDUP_CACHE,
    EXECD_OPT_MEASUREMENT,
    EXECD_OPT_DEFAULT_ORG,
    EXECD_OPT_EXTRA_TAGS,
    EXECD_OPT_SOURCE,
    EXECD_OPT_MAX_BODY,
    EXECD_OPT_RECEIVE_TIME,
};

static const struct {
    int opt;
    const char *key;
} execd_flag_keys[] = {
    {EXECD_OPT_DEAD_LETTER, "ingest.dead_letter"}, {EXECD_OPT_DEDUP, "ingest.dedup"},
    {EXECD_OPT_DEDUP_CACHE, "ingest.dedup_cache"}, {EXECD_OPT_MEASUREMENT, "ingest.measurement"},
    {EXECD_OPT_DEFAULT_ORG, "ingest.default_org"}, {EXECD_OPT_EXTRA_TAGS, "ingest.extra_tags"},
    {EXECD_OPT_SOURCE, "ingest.source"},           {EXECD_OPT_MAX_BODY, "ingest.max_body_bytes"},
};

static void execd_help(void)
{
    printf(execd_usage, identity_cache_bytes(1000000), cmd_common_help);
}

/* Feeds one complete line (without its '\n'). */
static int execd_line(struct cmd_io *io, const char *line, size_t len, const char *name,
                      uint64_t lineno)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (cmd_io_blank(line, len))
        return cmd_io_emit_stats(io);
    char origin[320];
    snprintf(origin, sizeof(origin), "%s:%" PRIu64, name, lineno);
    int rc = pipeline_feed(io->pipeline, line, len, origin, NULL, &io->out);
    return rc < 0 ? rc : 0;
}

/* Reads one descriptor to EOF (or until asked to stop). Returns 0 or a
 * negative errno that ends the process. */
static int execd_stream(struct cmd_io *io, int fd, const char *name)
{
    struct buf line;
    char chunk[65536];
    uint64_t lineno = 1;
    bool oversize = false; /* the current line is being streamed away */
    size_t max = (size_t)io->cfg->ingest.max_body_bytes;
    char origin[320];
    int rc = 0;
    buf_init(&line, max + 2); /* room for "\r" and one byte past the limit */
    while (!cmd_io_stop_requested()) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR) {
                if ((rc = cmd_io_handle_signals(io)) < 0)
                    break;
                continue;
            }
            rc = -errno;
            log_msg_always(LOG_LEVEL_ERROR, "reading %s: %s", name, strerror(errno));
            break;
        }
        if (n == 0) {
            /* A last line without '\n' is still a body. */
            if (oversize) {
                rc = cmd_io_oversize_end(io);
            } else if (line.len) {
                rc = execd_line(io, line.data, line.len, name, lineno);
            }
            break;
        }
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n && rc >= 0; i++) {
            if (chunk[i] != '\n')
                continue;
            if (oversize) {
                rc = cmd_io_oversize_append(io, chunk + start, i - start);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io);
                oversize = false;
            } else if (line.len) {
                rc = buf_append(&line, chunk + start, i - start);
                if (rc == -ENOSPC) {
                    snprintf(origin, sizeof(origin), "%s:%" PRIu64, name, lineno);
                    rc = cmd_io_oversize_begin(io, origin, &line, chunk + start, i - start);
                    if (rc >= 0)
                        rc = cmd_io_oversize_end(io);
                } else if (rc >= 0) {
                    rc = execd_line(io, line.data, line.len, name, lineno);
                }
            } else {
                /* The common case: the whole line is inside this chunk. */
                if (i - start > max + 1) {
                    snprintf(origin, sizeof(origin), "%s:%" PRIu64, name, lineno);
                    rc = cmd_io_oversize_begin(io, origin, &line, chunk + start, i - start);
                    if (rc >= 0)
                        rc = cmd_io_oversize_end(io);
                } else {
                    rc = execd_line(io, chunk + start, i - start, name, lineno);
                }
            }
            buf_reset(&line);
            lineno++;
            start = i + 1;
        }
        if (rc < 0)
            break;
        if (start < (size_t)n) {
            const char *rest = chunk + start;
            size_t rlen = (size_t)n - start;
            if (oversize) {
                rc = cmd_io_oversize_append(io, rest, rlen);
            } else if ((rc = buf_append(&line, rest, rlen)) == -ENOSPC) {
                snprintf(origin, sizeof(origin), "%s:%" PRIu64, name, lineno);
                rc = cmd_io_oversize_begin(io, origin, &line, rest, rlen);
                buf_reset(&line);
                oversize = true;
            }
            if (rc < 0)
                break;
        }
        if ((rc = cmd_io_maybe_flush(io, fd)) < 0)
            break;
        if ((rc = cmd_io_handle_signals(io)) < 0)
            break;
    }
    if (rc >= 0 && oversize && cmd_io_stop_requested())
        rc = cmd_io_oversize_end(io);
    buf_free(&line);
    return rc;
}

int cmd_execd_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"dead-letter", required_argument, NULL, EXECD_OPT_DEAD_LETTER},
        {"dedup", required_argument, NULL, EXECD_OPT_DEDUP},
        {"dedup-cache", required_argument, NULL, EXECD_OPT_DEDUP_CACHE},
        {"measurement", required_argument, NULL, EXECD_OPT_MEASUREMENT},
        {"default-org", required_argument, NULL, EXECD_OPT_DEFAULT_ORG},
        {"extra-tags", required_argument, NULL, EXECD_OPT_EXTRA_TAGS},
        {"source", required_argument, NULL, EXECD_OPT_SOURCE},
        {"max-body-bytes", required_argument, NULL, EXECD_OPT_MAX_BODY},
        {"receive-time", required_argument, NULL, EXECD_OPT_RECEIVE_TIME},
        {NULL, 0, NULL, 0},
    };
    struct cmd_io io;
    int opt;
    int status = EX_OK;
    int64_t receive_ns = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        int handled = cmd_common_option(common, opt, optarg);
        if (handled < 0)
            return EX_USAGE;
        if (handled)
            continue;
        if (opt == EXECD_OPT_RECEIVE_TIME) {
            if (cmd_parse_time(optarg, &receive_ns) < 0) {
                log_msg_always(LOG_LEVEL_ERROR,
                               "--receive-time %s: expected RFC 3339 or nanoseconds", optarg);
                return EX_USAGE;
            }
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < sizeof(execd_flag_keys) / sizeof(execd_flag_keys[0]); i++) {
            if (execd_flag_keys[i].opt == opt) {
                if (cmd_common_set(common, execd_flag_keys[i].key, optarg) < 0)
                    return EX_USAGE;
                found = true;
            }
        }
        if (!found) {
            fprintf(stderr, "E! try 'tokenmeter execd --help'\n");
            return EX_USAGE;
        }
    }
    if (common->help) {
        execd_help();
        return EX_OK;
    }
    status = cmd_io_open(&io, common);
    if (status != EX_OK)
        return status;
    pipeline_set_receive_time(io.pipeline, receive_ns);
    int rc = 0;
    if (optind >= argc) {
        rc = execd_stream(&io, STDIN_FILENO, "stdin");
    } else {
        for (int i = optind; i < argc && rc >= 0 && !cmd_io_stop_requested(); i++) {
            int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                log_msg_always(LOG_LEVEL_ERROR, "cannot open %s: %s", argv[i], strerror(errno));
                status = EX_NOINPUT;
                break;
            }
            rc = execd_stream(&io, fd, argv[i]);
            close(fd);
        }
    }
    int fin = cmd_io_close(&io, rc);
    return status != EX_OK ? status : fin;
}
