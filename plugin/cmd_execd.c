/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter execd — NDJSON webhook bodies in (stdin or files), line
 * protocol out. Run by Telegraf's inputs.execd (docs/operations.md):
 *  - stdout carries only line protocol, flushed whenever no more input is
 *    immediately waiting (throughput under load, no latency when idle);
 *  - a blank line, SIGHUP or SIGUSR1 emits one tokenmeter_stats point, as
 *    does the clock every [ingest] stats_interval; SIGHUP also reopens the
 *    dead-letter file;
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
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/identity.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"
#include "tokenmeter/spool.h"
#include "tokenmeter/timeutil.h"

#define EXECD_SPOOL_POLL_MS 200 /* how often an idle spool is looked at */

static const char execd_usage[] =
    "usage: tokenmeter execd [options] [FILE...]\n"
    "\n"
    "Reads LLM usage webhooks as NDJSON (one JSON body per line) from stdin, or\n"
    "from the FILEs named, and writes InfluxDB line protocol to stdout. A blank\n"
    "line, SIGHUP or SIGUSR1 writes a tokenmeter_stats point, as does the clock\n"
    "every [ingest] stats_interval (60 s). Rejected bodies go to the dead-letter\n"
    "file with their reason (SIGHUP reopens it); `tokenmeter replay` feeds them back.\n"
    "\n"
    "options:\n"
    "      --dead-letter FILE   where rejected bodies go ([ingest] dead_letter; by\n"
    "                           default /var/lib/tokenmeter/dead-letter.ndjson, or\n"
    "                           ~/.local/state/tokenmeter/ for a user other than\n"
    "                           root who cannot write there)\n"
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
    "      --prices FILE        price table in LiteLLM's model_prices_and_context_window\n"
    "                           .json format, for events without a reported cost\n"
    "                           ([ingest] prices; reloaded on SIGHUP)\n"
    "      --receive-time T     time (RFC 3339, or ns since the epoch) given to bodies\n"
    "                           that carry none (Anthropic, Helicone); default: now.\n"
    "                           For backfills of archived responses.\n"
    "      --spool DIR          also drain the maildir-style spool DIR: senders write\n"
    "                           each body to DIR/tmp/NAME, then rename it to\n"
    "                           DIR/new/NAME; files are read in name order, one body\n"
    "                           each, and removed once their points are flushed.\n"
    "                           stdin still carries gather signals; EOF ends the run.\n"
    "      --once               with --spool: ignore stdin, drain the spool until it\n"
    "                           is empty, then exit (cron, backfills).\n"
    "%s"
    "\n"
    "exit status: 0 at end of input or on SIGTERM/SIGINT, 64 usage, 66 an input\n"
    "file cannot be opened, 73 the dead-letter file (or the spool) cannot be\n"
    "created or the spool is refused, 74 stdout closed, or rejected bodies the\n"
    "dead-letter file refused were lost, 75 another tokenmeter drains the spool\n"
    "(try again later), 78 configuration error.\n";

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
    EXECD_OPT_SPOOL,
    EXECD_OPT_ONCE,
    EXECD_OPT_PRICES,
};

static const struct cmd_flag execd_flags[] = {
    {EXECD_OPT_DEAD_LETTER, "ingest.dead_letter", NULL},
    {EXECD_OPT_DEDUP, "ingest.dedup", NULL},
    {EXECD_OPT_DEDUP_CACHE, "ingest.dedup_cache", NULL},
    {EXECD_OPT_MEASUREMENT, "ingest.measurement", NULL},
    {EXECD_OPT_DEFAULT_ORG, "ingest.default_org", NULL},
    {EXECD_OPT_EXTRA_TAGS, "ingest.extra_tags", NULL},
    {EXECD_OPT_SOURCE, "ingest.source", NULL},
    {EXECD_OPT_MAX_BODY, "ingest.max_body_bytes", NULL},
    {EXECD_OPT_PRICES, "ingest.prices", NULL},
};

static void execd_help(void)
{
    printf(execd_usage, identity_cache_bytes(1000000), cmd_common_help);
}

/* An NDJSON stream being read: the line held across reads, and whether the
 * current line is too long and being streamed to the dead-letter file. */
struct execd_reader {
    const char *name;
    struct buf line;
    uint64_t lineno;
    struct cmd_io_oversize ov; /* ov.stream: the line is being streamed away */
    char origin[320];          /* "name:" then the line number (execd_origin) */
    size_t origin_prefix;      /* bytes of "name:" in origin */
};

static void execd_reader_init(struct execd_reader *r, const char *name, size_t max)
{
    r->name = name;
    buf_init(&r->line, max + 2); /* room for "\r" and one byte past the limit */
    r->lineno = 1;
    memset(&r->ov, 0, sizeof(r->ov));
    snprintf(r->origin, sizeof(r->origin), "%s:", name); /* cut like the whole would be */
    size_t n = strlen(name) + 1;
    r->origin_prefix = n < sizeof(r->origin) ? n : sizeof(r->origin) - 1;
}

/* The current line's origin, "name:lineno" (borrowed from r until the next
 * call), cut where snprintf(origin, sizeof(origin), "%s:%" PRIu64, ...)
 * would cut it. Every line has one, so only the number is written per line
 * and by hand: printf was half the cost of reading a line. */
static const char *execd_origin(struct execd_reader *r)
{
    char digits[20]; /* UINT64_MAX has 20 */
    char *end = digits + sizeof(digits);
    char *d = end;
    uint64_t n = r->lineno;
    do {
        *--d = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    size_t room = sizeof(r->origin) - 1 - r->origin_prefix;
    size_t nd = (size_t)(end - d) < room ? (size_t)(end - d) : room;
    memcpy(r->origin + r->origin_prefix, d, nd);
    r->origin[r->origin_prefix + nd] = '\0';
    return r->origin;
}

/* Feeds one complete line (without its '\n'). */
static int execd_line(struct cmd_io *io, struct execd_reader *r, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (cmd_io_blank(line, len))
        return cmd_io_emit_stats(io);
    int rc = pipeline_feed(io->pipeline, line, len, execd_origin(r), NULL, &io->out);
    return rc < 0 ? rc : 0;
}

/* Consumes one chunk: every line it completes is fed. Returns 0 or a
 * negative errno that ends the process. */
static int execd_chunk(struct cmd_io *io, struct execd_reader *r, const char *chunk, size_t n)
{
    size_t max = (size_t)io->cfg->ingest.max_body_bytes;
    int rc = 0;
    size_t start = 0;
    const char *nl;
    while (rc >= 0 && start < n && (nl = memchr(chunk + start, '\n', n - start)) != NULL) {
        size_t i = (size_t)(nl - chunk);
        if (r->ov.stream) {
            rc = cmd_io_oversize_append(&r->ov, chunk + start, i - start);
            if (rc >= 0)
                rc = cmd_io_oversize_end(io, &r->ov);
        } else if (r->line.len) {
            rc = buf_append(&r->line, chunk + start, i - start);
            if (rc == -ENOSPC) {
                rc = cmd_io_oversize_begin(io, &r->ov, execd_origin(r), &r->line, chunk + start,
                                           i - start);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io, &r->ov);
            } else if (rc >= 0) {
                rc = execd_line(io, r, r->line.data, r->line.len);
            }
        } else {
            /* The common case: the whole line is inside this chunk. */
            if (i - start > max + 1) {
                rc = cmd_io_oversize_begin(io, &r->ov, execd_origin(r), &r->line, chunk + start,
                                           i - start);
                if (rc >= 0)
                    rc = cmd_io_oversize_end(io, &r->ov);
            } else {
                rc = execd_line(io, r, chunk + start, i - start);
            }
        }
        buf_reset(&r->line);
        r->lineno++;
        start = i + 1;
    }
    if (rc < 0 || start >= n)
        return rc;
    const char *rest = chunk + start;
    size_t rlen = n - start;
    if (r->ov.stream) {
        rc = cmd_io_oversize_append(&r->ov, rest, rlen);
    } else if ((rc = buf_append(&r->line, rest, rlen)) == -ENOSPC) {
        rc = cmd_io_oversize_begin(io, &r->ov, execd_origin(r), &r->line, rest, rlen);
        buf_reset(&r->line);
    }
    return rc;
}

/* End of the stream: a last line without '\n' is still a body. */
static int execd_eof(struct cmd_io *io, struct execd_reader *r)
{
    int rc = 0;
    if (r->ov.stream)
        rc = cmd_io_oversize_end(io, &r->ov);
    else if (r->line.len)
        rc = execd_line(io, r, r->line.data, r->line.len);
    buf_reset(&r->line);
    return rc;
}

/* Reads fd once. Returns 1 with data consumed, 0 at EOF (the last line
 * fed), or a negative errno that ends the process. EINTR acts on the
 * signals and returns 1. */
static int execd_read(struct cmd_io *io, struct execd_reader *r, int fd)
{
    char chunk[65536];
    ssize_t n = cmd_io_read(io, fd, chunk, sizeof(chunk));
    if (n == -EINTR) {
        int rc = cmd_io_handle_signals(io);
        return rc < 0 ? rc : 1;
    }
    if (n < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "reading %s: %s", r->name, strerror((int)-n));
        return (int)n;
    }
    if (n == 0) {
        int rc = execd_eof(io, r);
        return rc < 0 ? rc : 0;
    }
    int rc = execd_chunk(io, r, chunk, (size_t)n);
    return rc < 0 ? rc : 1;
}

/* Stopped by a signal in the middle of a line: the part that arrived is
 * dead-lettered, never dropped in silence. */
static int execd_stopped(struct cmd_io *io, struct execd_reader *r)
{
    if (r->ov.stream) {
        return cmd_io_oversize_end(io, &r->ov);
    }
    if (!r->line.len)
        return 0;
    int rc = cmd_io_reject_raw(io, execd_origin(r), r->line.data, r->line.len, NULL,
                               "incomplete line: stopped (SIGTERM/SIGINT) before its newline");
    buf_reset(&r->line);
    return rc;
}

/* True (and said) when the input fd is the file rejected bodies are
 * appended to: every record appended would be read back, rejected and
 * appended again, until the disk is full. */
static bool execd_is_dead_letter(const struct cmd_io *io, int fd, const char *name)
{
    struct stat st;
    dev_t dev;
    ino_t ino;
    deadletter_identity(io->dl, &dev, &ino);
    if (fstat(fd, &st) != 0 || !(dev || ino) || st.st_dev != dev || st.st_ino != ino)
        return false;
    log_msg_always(LOG_LEVEL_ERROR,
                   "%s is the dead-letter file; bodies rejected from it would be appended to it "
                   "and read again (use `tokenmeter replay` for dead letters)",
                   name);
    return true;
}

/* Reads one descriptor to EOF (or until asked to stop). Returns 0 or a
 * negative errno that ends the process. */
static int execd_stream(struct cmd_io *io, int fd, const char *name)
{
    struct execd_reader r;
    int rc = 0;
    execd_reader_init(&r, name, (size_t)io->cfg->ingest.max_body_bytes);
    while (!cmd_io_stop_requested()) {
        if ((rc = execd_read(io, &r, fd)) <= 0)
            break;
        if ((rc = cmd_io_maybe_flush(io, fd)) < 0)
            break;
        if ((rc = cmd_io_handle_signals(io)) < 0)
            break;
    }
    if (rc >= 0 && cmd_io_stop_requested())
        rc = execd_stopped(io, &r);
    deadletter_stream_free(r.ov.stream); /* only after an error: nothing to save */
    buf_free(&r.line);
    return rc;
}

/* One spool file: fed as one body, or, over max_body_bytes, streamed to
 * the dead-letter file without being held. Its points are flushed before
 * it is removed. `fixed_ns` is --receive-time (-1: the file's mtime, which
 * stays the same if the file is read again after a crash). */
static int execd_spool_file(struct cmd_io *io, struct spool *sp, const char *name, int64_t fixed_ns)
{
    struct spool_file f;
    struct buf body;
    size_t max = (size_t)io->cfg->ingest.max_body_bytes;
    char chunk[65536];
    int rc = spool_file_open(sp, name, &f);
    if (rc == -ENOENT || rc == -EBADF)
        return 0; /* gone, or set aside (logged) */
    if (rc < 0)
        return rc;
    buf_init(&body, max + 1);
    struct cmd_io_oversize ov; /* the file's own: stdin may be streaming too */
    memset(&ov, 0, sizeof(ov));
    if (f.size > (off_t)max)
        rc = cmd_io_oversize_begin(io, &ov, f.path, &body, NULL, 0);
    while (rc >= 0) {
        ssize_t n = read(f.fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            log_msg_always(LOG_LEVEL_ERROR, "reading %s: %s", f.path, strerror(errno));
        }
        if (n <= 0)
            break;
        if (ov.stream) {
            rc = cmd_io_oversize_append(&ov, chunk, (size_t)n);
        } else if ((rc = buf_append(&body, chunk, (size_t)n)) == -ENOSPC) {
            /* It grew after we looked: a sender that did not rename. */
            rc = cmd_io_oversize_begin(io, &ov, f.path, &body, chunk, (size_t)n);
        }
    }
    if (rc >= 0 && ov.stream) {
        rc = cmd_io_oversize_end(io, &ov);
    } else if (rc >= 0) {
        pipeline_set_receive_time(io->pipeline, fixed_ns >= 0 ? fixed_ns : f.mtime_ns);
        rc = pipeline_feed(io->pipeline, body.data ? body.data : "", body.len, f.path, NULL,
                           &io->out);
        pipeline_set_receive_time(io->pipeline, fixed_ns); /* stdin bodies: the clock */
    }
    spool_file_close(&f);
    buf_free(&body);
    if (rc >= 0)
        rc = cmd_io_flush(io);
    if (rc >= 0)
        rc = spool_remove(sp, name);
    return rc;
}

/* Reads what stdin has for us without waiting longer than timeout_ms.
 * Clears *open at EOF. Returns 0 or a negative errno. */
static int execd_spool_stdin(struct cmd_io *io, struct execd_reader *r, bool *open, int timeout_ms)
{
    int pr = cmd_io_wait_input(io, STDIN_FILENO, timeout_ms);
    int rc = 0;
    if (pr < 0 && pr != -EINTR)
        return pr;
    if (pr > 0) {
        rc = execd_read(io, r, STDIN_FILENO);
        if (rc == 0)
            *open = false;
        if (rc >= 0)
            rc = cmd_io_flush(io);
    }
    return rc < 0 ? rc : cmd_io_handle_signals(io);
}

/* --spool DIR: drains DIR/new while stdin still carries Telegraf's gather
 * signals (blank lines) and bodies. EOF on stdin (Telegraf stops or
 * reloads) ends the run after the current file; the rest waits for the
 * next run. With --once stdin is not read: the spool is drained until a
 * scan finds it empty. */
static int execd_spool(struct cmd_io *io, const char *dir, int64_t fixed_ns, bool once)
{
    char err[ERR_MAX];
    struct execd_reader r;
    int rc = 0;
    bool stdin_open = !once;
    struct spool *sp = NULL;
    if ((rc = spool_open(dir, &sp, err)) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
        return rc == -ENOMEM ? rc : -ENOTDIR; /* -ENOTDIR: exit EX_CANTCREAT */
    }
    if ((rc = spool_lock(sp, err)) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
        spool_close(sp);
        return rc == -EBUSY ? rc : -ENOTDIR;
    }
    execd_reader_init(&r, "stdin", (size_t)io->cfg->ingest.max_body_bytes);
    bool busy = true; /* the last scan found files: look again at once */
    while (rc >= 0 && !cmd_io_stop_requested()) {
        if (!once) {
            rc = execd_spool_stdin(io, &r, &stdin_open, busy ? 0 : EXECD_SPOOL_POLL_MS);
            if (rc < 0 || !stdin_open)
                break;
        }
        long n = spool_scan(sp);
        if (n <= 0) {
            rc = (int)n;
            if (once || rc < 0)
                break;
        }
        busy = n > 0;
        for (long i = 0; i < n && rc >= 0 && (once || stdin_open) && !cmd_io_stop_requested();
             i++) {
            rc = execd_spool_file(io, sp, spool_name(sp, (size_t)i), fixed_ns);
            /* Keep answering gather signals while a long backlog drains. */
            if (rc >= 0 && stdin_open && i % 64 == 63)
                rc = execd_spool_stdin(io, &r, &stdin_open, 0);
            else if (rc >= 0)
                rc = cmd_io_handle_signals(io);
        }
    }
    if (rc >= 0 && cmd_io_stop_requested())
        rc = execd_stopped(io, &r); /* a line cut short is dead-lettered */
    else if (rc >= 0 && r.ov.stream)
        rc = cmd_io_oversize_end(io, &r.ov);
    deadletter_stream_free(r.ov.stream);
    buf_free(&r.line);
    spool_close(sp);
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
        {"spool", required_argument, NULL, EXECD_OPT_SPOOL},
        {"once", no_argument, NULL, EXECD_OPT_ONCE},
        {"prices", required_argument, NULL, EXECD_OPT_PRICES},
        {NULL, 0, NULL, 0},
    };
    struct cmd_io io;
    int opt;
    int status = EX_OK;
    int64_t receive_ns = -1;
    const char *spool_dir = NULL;
    bool once = false;
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "execd",
                           .longopts = longopts,
                           .flags = execd_flags,
                           .nflags = sizeof(execd_flags) / sizeof(execd_flags[0]),
                           .common = common};
    const char *arg = NULL;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == EXECD_OPT_SPOOL) {
            spool_dir = arg;
        } else if (opt == EXECD_OPT_ONCE) {
            once = true;
        } else if (opt == EXECD_OPT_RECEIVE_TIME && cmd_parse_time(arg, &receive_ns) < 0) {
            return cmd_usage_error("execd", "--receive-time %s: expected RFC 3339 or nanoseconds",
                                   arg);
        }
    }
    if (common->help) {
        execd_help();
        return EX_OK;
    }
    if (once && !spool_dir)
        return cmd_usage_error("execd", "--once drains a spool: it needs --spool DIR");
    if (spool_dir && optind < argc)
        return cmd_usage_error("execd", "--spool reads stdin and the spool, not FILEs (%s)",
                               argv[optind]);
    status = cmd_io_open(&io, common, "execd", true);
    if (status != EX_OK)
        return status;
    pipeline_set_receive_time(io.pipeline, receive_ns);
    int rc = 0;
    if (spool_dir) {
        rc = execd_spool(&io, spool_dir, receive_ns, once);
        if (rc == -ENOTDIR)
            status = EX_CANTCREAT;
        else if (rc == -EBUSY)
            status = EX_TEMPFAIL; /* another reader: try again later */
    } else if (optind >= argc) {
        if (execd_is_dead_letter(&io, STDIN_FILENO, "stdin"))
            status = EX_USAGE;
        else
            rc = execd_stream(&io, STDIN_FILENO, "stdin");
    } else {
        for (int i = optind; i < argc && rc >= 0 && !cmd_io_stop_requested(); i++) {
            int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                log_msg_always(LOG_LEVEL_ERROR, "cannot open %s: %s", argv[i], strerror(errno));
                status = EX_NOINPUT;
                break;
            }
            if (execd_is_dead_letter(&io, fd, argv[i])) {
                close(fd);
                status = EX_USAGE;
                break;
            }
            rc = execd_stream(&io, fd, argv[i]);
            close(fd);
        }
    }
    int fin = cmd_io_close(&io, rc);
    return status != EX_OK ? status : fin;
}
