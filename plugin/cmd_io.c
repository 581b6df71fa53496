/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd_io.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/log.h"
#include "tokenmeter/timeutil.h"

/* Signal flags: the only state handlers touch (cmd_io.h says who reads
 * them). */
static volatile sig_atomic_t cmd_io_stop;
static volatile sig_atomic_t cmd_io_stats_wanted;
static volatile sig_atomic_t cmd_io_reload_wanted;

static void cmd_io_on_stop(int sig)
{
    (void)sig;
    cmd_io_stop = 1;
}

static void cmd_io_on_stats(int sig)
{
    (void)sig;
    cmd_io_stats_wanted = 1;
}

/* SIGHUP: reload the price table, and emit the stats point as SIGUSR1 does. */
static void cmd_io_on_hup(int sig)
{
    (void)sig;
    cmd_io_reload_wanted = 1;
    cmd_io_stats_wanted = 1;
}

/* The signals stay blocked except while waiting for input
 * (cmd_io_wait_input), so one that arrives between checking the flags and
 * starting to wait is not left pending until the next byte arrives. */
static void cmd_io_signals(struct cmd_io *io)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &io->wait_mask);
    sigdelset(&io->wait_mask, SIGTERM);
    sigdelset(&io->wait_mask, SIGINT);
    sigdelset(&io->wait_mask, SIGHUP);
    sigdelset(&io->wait_mask, SIGUSR1);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: read() must return EINTR */
    sa.sa_handler = cmd_io_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = cmd_io_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = cmd_io_on_stats;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int cmd_io_open(struct cmd_io *io, struct cmd_common *common)
{
    char err[ERR_MAX];
    memset(io, 0, sizeof(*io));
    io->out_fd = STDOUT_FILENO;
    buf_init(&io->out, (size_t)256 * 1024 * 1024);
    int status = cmd_load_config(common, &io->cfg);
    if (status != EX_OK)
        return status;
    int rc = deadletter_open(io->cfg->ingest.dead_letter, &io->dl, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
        config_free(io->cfg);
        return rc == -ENOMEM ? EX_OSERR : EX_CANTCREAT;
    }
    rc = pipeline_new(io->cfg, io->dl, &io->stats, &io->pipeline, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
        deadletter_close(io->dl);
        config_free(io->cfg);
        return rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
    }
    cmd_io_signals(io);
    return EX_OK;
}

int cmd_io_flush(struct cmd_io *io)
{
    size_t off = 0;
    int rc = 0;
    while (off < io->out.len) {
        ssize_t w = write(io->out_fd, io->out.data + off, io->out.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            if (errno == EPIPE)
                log_msg_always(LOG_LEVEL_ERROR,
                               "stdout was closed (EPIPE): nobody reads the points; exiting");
            else
                log_msg_always(LOG_LEVEL_ERROR, "writing stdout: %s", strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    buf_consume(&io->out, off);
    return rc;
}

int cmd_io_maybe_flush(struct cmd_io *io, int in_fd)
{
    if (io->out.len == 0)
        return 0;
    if (io->out.len < CMD_IO_FLUSH_BYTES) {
        struct pollfd pfd = {.fd = in_fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
            return 0; /* more input is already waiting: batch it */
    }
    return cmd_io_flush(io);
}

int cmd_io_emit_stats(struct cmd_io *io)
{
    int rc = stats_format_point(&io->stats, timeutil_now_ns(), &io->out);
    if (rc < 0)
        return rc;
    return cmd_io_flush(io);
}

int cmd_io_wait_input(struct cmd_io *io, int fd, int timeout_ms)
{
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int n = pselect(fd + 1, &rd, NULL, NULL, timeout_ms < 0 ? NULL : &ts, &io->wait_mask);
    if (n < 0)
        return -errno;
    return n > 0;
}

int cmd_io_reject_raw(struct cmd_io *io, const char *origin, const char *data, size_t len,
                      const char *reason)
{
    io->stats.lines++;
    io->stats.bytes += len;
    int rc = deadletter_write(io->dl, reason, origin, data, len);
    pipeline_count_rejected(io->pipeline, origin, reason);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "cannot write dead-letter file %s: %s",
                       deadletter_path(io->dl), strerror(-rc));
    return rc;
}

bool cmd_io_stop_requested(void)
{
    return cmd_io_stop != 0;
}

int cmd_io_handle_signals(struct cmd_io *io)
{
    if (cmd_io_reload_wanted) {
        char err[ERR_MAX];
        cmd_io_reload_wanted = 0;
        if (pipeline_reload_prices(io->pipeline, err) < 0)
            log_msg_always(LOG_LEVEL_ERROR, "SIGHUP: %s; keeping the previous price table", err);
        else
            log_msg_always(LOG_LEVEL_INFO, "SIGHUP: price table reloaded (%zu models)",
                           pipeline_price_count(io->pipeline));
    }
    if (cmd_io_stats_wanted) {
        cmd_io_stats_wanted = 0;
        return cmd_io_emit_stats(io);
    }
    return 0;
}

bool cmd_io_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

int cmd_io_oversize_begin(struct cmd_io *io, struct cmd_io_oversize *ov, const char *origin,
                          const struct buf *held, const char *more, size_t more_len)
{
    char reason[160];
    snprintf(reason, sizeof(reason), "body exceeds max_body_bytes (%lld)",
             (long long)io->cfg->ingest.max_body_bytes);
    snprintf(ov->origin, sizeof(ov->origin), "%s", origin);
    ov->bytes = 0;
    deadletter_stream_free(ov->stream);
    int rc = deadletter_stream_begin(io->dl, reason, origin, &ov->stream);
    if (rc >= 0 && held->len)
        rc = cmd_io_oversize_append(ov, held->data, held->len);
    if (rc >= 0 && more_len)
        rc = cmd_io_oversize_append(ov, more, more_len);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "cannot write dead-letter file %s: %s",
                       deadletter_path(io->dl), strerror(-rc));
    return rc;
}

int cmd_io_oversize_append(struct cmd_io_oversize *ov, const char *data, size_t len)
{
    ov->bytes += len;
    return ov->stream ? deadletter_stream_append(ov->stream, data, len) : -EBADF;
}

int cmd_io_oversize_end(struct cmd_io *io, struct cmd_io_oversize *ov)
{
    int rc = ov->stream ? deadletter_stream_end(io->dl, ov->stream) : -EBADF;
    ov->stream = NULL;
    char reason[200];
    io->stats.lines++;
    io->stats.bytes += ov->bytes;
    snprintf(reason, sizeof(reason), "body of %zu bytes exceeds max_body_bytes (%lld)", ov->bytes,
             (long long)io->cfg->ingest.max_body_bytes);
    pipeline_count_rejected(io->pipeline, ov->origin, reason);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "cannot write dead-letter file %s: %s",
                       deadletter_path(io->dl), strerror(-rc));
    return rc;
}

bool cmd_io_wait_drained(int fd, int timeout_ms)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
        return true;
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        int unread = 0;
        if (ioctl(fd, FIONREAD, &unread) < 0 || unread <= 0)
            return true;
        poll(NULL, 0, 5);
    }
    return false;
}

int cmd_io_close(struct cmd_io *io, int rc)
{
    int status = EX_OK;
    int frc = rc == -EPIPE ? rc : cmd_io_flush(io);
    if (frc >= 0 && !cmd_io_wait_drained(io->out_fd, CMD_IO_DRAIN_MS))
        log_msg_always(LOG_LEVEL_WARN, "exiting with points still unread in the stdout pipe");
    const struct stats *s = &io->stats;
    log_msg_always(LOG_LEVEL_INFO,
                   "done: %" PRIu64 " lines, %" PRIu64 " events, %" PRIu64 " written, %" PRIu64
                   " duplicates, %" PRIu64 " ignored, %" PRIu64 " rejected, %" PRIu64 " unpriced",
                   s->lines, s->events, s->written, s->duplicates, s->ignored, s->rejected,
                   s->unpriced);
    cmd_io_wait_drained(STDERR_FILENO, CMD_IO_DRAIN_MS); /* the summary too */
    if (rc < 0 || frc < 0)
        status = (rc == -ENOMEM || frc == -ENOMEM) ? EX_OSERR : EX_IOERR;
    pipeline_free(io->pipeline);
    deadletter_close(io->dl);
    config_free(io->cfg);
    buf_free(&io->out);
    return status;
}
