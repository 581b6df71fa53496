/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
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

/* The signals the streaming commands act on. */
static const int cmd_io_signals_held[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
#define CMD_IO_NSIGNALS (sizeof(cmd_io_signals_held) / sizeof(cmd_io_signals_held[0]))

/* The signals stay blocked except while waiting for input
 * (cmd_io_wait_input), so one that arrives between checking the flags and
 * starting to wait is not left pending until the next byte arrives. */
void cmd_io_block_signals(int how, sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < CMD_IO_NSIGNALS; i++)
        sigaddset(&set, cmd_io_signals_held[i]);
    sigprocmask(how, &set, old);
}

/* True when one of the signals cmd_io_block_signals() holds is pending. */
static bool cmd_io_signal_pending(void)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return false;
    for (size_t i = 0; i < CMD_IO_NSIGNALS; i++)
        if (sigismember(&pending, cmd_io_signals_held[i]) == 1)
            return true;
    return false;
}

static void cmd_io_signals(struct cmd_io *io)
{
    cmd_io_block_signals(SIG_BLOCK, &io->wait_mask);
    for (size_t i = 0; i < CMD_IO_NSIGNALS; i++)
        sigdelset(&io->wait_mask, cmd_io_signals_held[i]);
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

/* The dead-letter path to open. The built-in default lives in
 * /var/lib/tokenmeter, which the packages create for the service user; for
 * anyone else who cannot write there (a first manual try) it becomes
 * $XDG_STATE_HOME/tokenmeter/dead-letter.ndjson, or
 * ~/.local/state/tokenmeter/dead-letter.ndjson without XDG_STATE_HOME, as
 * the XDG base directory specification places state. A configured path is
 * always taken as it is. Returns true when the per-user path was chosen. */
static bool cmd_io_dead_letter_path(const char *configured, char *out, size_t cap)
{
    snprintf(out, cap, "%s", configured);
    if (strcmp(configured, CONFIG_DEFAULT_DEAD_LETTER) != 0 || geteuid() == 0)
        return false;
    char dir[sizeof(CONFIG_DEFAULT_DEAD_LETTER)];
    snprintf(dir, sizeof(dir), "%s", CONFIG_DEFAULT_DEAD_LETTER);
    *strrchr(dir, '/') = '\0';
    if (access(dir, W_OK) == 0)
        return false;
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (state && state[0] == '/')
        n = snprintf(out, cap, "%s/tokenmeter/dead-letter.ndjson", state);
    else if (home && home[0] == '/')
        n = snprintf(out, cap, "%s/.local/state/tokenmeter/dead-letter.ndjson", home);
    else
        n = -1;
    if (n < 0 || (size_t)n >= cap) {
        snprintf(out, cap, "%s", configured);
        return false;
    }
    return true;
}

/* Creates the directories leading to the file at path (mode 0700: a
 * user's own state). Errors are left to the open that follows. */
static void cmd_io_mkdirs(const char *path)
{
    char dir[CMD_IO_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return;
        *p = '/';
    }
}

/* A handle for the dead-letter file (not opened yet: everything else is
 * validated first). */
static int cmd_io_dead_letter_new(struct cmd_io *io, const char *configured)
{
    char err[ERR_MAX];
    io->dl_per_user = cmd_io_dead_letter_path(configured, io->dl_path, sizeof(io->dl_path));
    int rc = deadletter_new(io->dl_path, &io->dl, err);
    if (rc < 0)
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
    return rc;
}

/* Opens the dead-letter file. Returns EX_OK, or an exit code after logging
 * what to do. */
static int cmd_io_dead_letter_open(struct cmd_io *io)
{
    char err[ERR_MAX];
    if (io->dl_per_user)
        cmd_io_mkdirs(io->dl_path);
    int rc = deadletter_reopen(io->dl, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "%s; choose a writable file with --dead-letter FILE (or [ingest] "
                       "dead_letter in the configuration)",
                       err);
        return rc == -ENOMEM ? EX_OSERR : EX_CANTCREAT;
    }
    if (io->dl_per_user)
        log_msg_always(LOG_LEVEL_WARN,
                       "%s is not writable for this user: rejected bodies go to %s "
                       "(--dead-letter FILE chooses another)",
                       CONFIG_DEFAULT_DEAD_LETTER, io->dl_path);
    return EX_OK;
}

static void cmd_io_init(struct cmd_io *io, const char *mode)
{
    memset(io, 0, sizeof(*io));
    io->out_fd = STDOUT_FILENO;
    io->mode = mode;
    buf_init(&io->out, (size_t)256 * 1024 * 1024);
    if (gethostname(io->host, sizeof(io->host) - 1) < 0)
        io->host[0] = '\0';
}

/* Releases what cmd_io_open() or cmd_io_open_degraded() built; keeps the
 * error message. */
static void cmd_io_release(struct cmd_io *io)
{
    pipeline_free(io->pipeline);
    deadletter_close(io->dl);
    config_free(io->cfg);
    buf_free(&io->out);
    io->pipeline = NULL;
    io->dl = NULL;
    io->cfg = NULL;
}

/* The periodic stats point: Telegraf's processors.execd never sends a
 * gather signal, so without a clock its counters would never be seen. */
static void cmd_io_schedule_stats(struct cmd_io *io)
{
    int64_t every = io->cfg->ingest.stats_interval_s * 1000000000LL;
    io->next_stats_ns = every > 0 ? timeutil_now_ns() + every : 0;
}

int cmd_io_open(struct cmd_io *io, struct cmd_common *common, const char *mode, bool stdout_needed)
{
    cmd_io_init(io, mode);
    if (stdout_needed && common->stdout_unusable) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "%s: stdout is closed or not open for writing: the points "
                       "would have nowhere to go; refusing to run",
                       mode);
        return EX_IOERR;
    }
    int status = cmd_load_config_err(common, &io->cfg, NULL, io->error);
    if (status != EX_OK) {
        log_msg_always(LOG_LEVEL_ERROR, "config: %s", io->error);
        return status;
    }
    /* Everything is validated (the pipeline checks sources, prices and
     * mappings) before any file is opened or created. */
    if (cmd_io_dead_letter_new(io, io->cfg->ingest.dead_letter) < 0) {
        status = EX_OSERR;
        goto fail;
    }
    int rc = pipeline_new(io->cfg, io->dl, &io->stats, &io->pipeline, io->error);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", io->error);
        status = rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
        goto fail;
    }
    if ((status = cmd_io_dead_letter_open(io)) != EX_OK)
        goto fail;
    cmd_io_signals(io);
    cmd_io_schedule_stats(io);
    return EX_OK;
fail:
    cmd_io_release(io);
    return status;
}

int cmd_io_open_degraded(struct cmd_io *io, struct config *partial, const char *mode)
{
    cmd_io_init(io, mode);
    io->cfg = partial ? partial : config_new();
    if (!io->cfg) {
        log_msg_always(LOG_LEVEL_ERROR, "out of memory");
        return EX_OSERR;
    }
    const char *configured = io->cfg->ingest.dead_letter;
    int status = EX_OSERR;
    if (!configured)
        configured = CONFIG_DEFAULT_DEAD_LETTER;
    if (cmd_io_dead_letter_new(io, configured) < 0)
        goto fail;
    if ((status = cmd_io_dead_letter_open(io)) != EX_OK &&
        strcmp(configured, CONFIG_DEFAULT_DEAD_LETTER) != 0) {
        /* the configured path is unusable too: the default one */
        deadletter_close(io->dl);
        io->dl = NULL;
        log_msg_always(LOG_LEVEL_WARN, "trying the default dead-letter file instead");
        status = EX_OSERR;
        if (cmd_io_dead_letter_new(io, CONFIG_DEFAULT_DEAD_LETTER) < 0)
            goto fail;
        status = cmd_io_dead_letter_open(io);
    }
    if (status != EX_OK)
        goto fail;
    cmd_io_signals(io);
    io->next_stats_ns = 0;
    return EX_OK;
fail:
    cmd_io_release(io);
    return status;
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
    /* A read that did not fill its buffer emptied the pipe: at a low rate
     * the point goes out now, without asking whether more came (one
     * syscall less per event). A full one may have left more behind. */
    if (io->input_backlog && io->out.len < CMD_IO_FLUSH_BYTES) {
        struct pollfd pfd = {.fd = in_fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
            return 0; /* more input is already waiting: batch it */
    }
    return cmd_io_flush(io);
}

int cmd_io_emit_stats(struct cmd_io *io)
{
    io->stats.dead_letter_failures = io->dl ? deadletter_failures(io->dl) : 0;
    io->stats.dead_letter_held = io->dl ? deadletter_held(io->dl) : 0;
    int rc = stats_format_point(&io->stats, io->host, io->mode, timeutil_now_ns(), &io->out);
    if (io->next_stats_ns)
        cmd_io_schedule_stats(io);
    if (rc < 0)
        return rc;
    return cmd_io_flush(io);
}

int cmd_io_wait_input(struct cmd_io *io, int fd, int timeout_ms)
{
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    bool for_stats = false;
    if (io->next_stats_ns) {
        int64_t left = (io->next_stats_ns - timeutil_now_ns()) / 1000000;
        if (left < 0)
            left = 0;
        if (timeout_ms < 0 || left < timeout_ms) {
            timeout_ms = (int)(left < INT32_MAX ? left : INT32_MAX);
            for_stats = true;
        }
    }
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int n = pselect(fd + 1, &rd, NULL, NULL, timeout_ms < 0 ? NULL : &ts, &io->wait_mask);
    if (n < 0)
        return -errno;
    if (n > 0 && (io->input_backlog || ++io->ready_waits % CMD_IO_PENDING_EVERY == 0)) {
        /* pselect(2) that finds input ready returns without letting a
         * pending signal in. A file is always ready, so SIGTERM would wait
         * for its end: let pending signals in now, then read. Input that
         * keeps coming shows as full reads (a file, a backlog in the pipe);
         * one read short of its buffer drained the pipe, so the next wait
         * most likely blocks and lets the signal in itself: the check is
         * then made only every CMD_IO_PENDING_EVERY waits, to bound the
         * delay whatever the sender's pace. */
        if (cmd_io_signal_pending()) {
            sigset_t held;
            sigprocmask(SIG_SETMASK, &io->wait_mask, &held);
            sigprocmask(SIG_SETMASK, &held, NULL);
            return -EINTR;
        }
    }
    if (n == 0 && for_stats)
        return -EINTR; /* the stats point is due: cmd_io_handle_signals() writes it */
    return n > 0;
}

ssize_t cmd_io_read(struct cmd_io *io, int fd, char *chunk, size_t cap)
{
    int wait = cmd_io_wait_input(io, fd, -1);
    if (wait < 0)
        return wait;
    ssize_t n = read(fd, chunk, cap);
    if (n < 0)
        return -errno;
    io->input_backlog = (size_t)n == cap;
    return n;
}

/* Counts and logs a rejection the pipeline did not see. */
static void cmd_io_count_rejected(struct cmd_io *io, const char *origin, const char *reason)
{
    if (io->pipeline) {
        pipeline_count_rejected(io->pipeline, origin, reason);
    } else {
        io->stats.rejected++;
        /* degraded: one E! line a minute says it for all (cmd_process.c) */
        log_debug("rejected %s: %s (dead-lettered to %s)", origin, reason, deadletter_path(io->dl));
    }
}

int cmd_io_reject_raw(struct cmd_io *io, const char *origin, const char *data, size_t len,
                      const char *kind, const char *reason)
{
    struct deadletter_meta meta = {.received_ns = -1, .kind = kind};
    io->stats.lines++;
    io->stats.bytes += len;
    int rc = deadletter_write_meta(io->dl, reason, origin, &meta, data, len);
    cmd_io_count_rejected(io, origin, reason);
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
    char err[ERR_MAX];
    if (cmd_io_reload_wanted) {
        cmd_io_reload_wanted = 0;
        /* logrotate's postrotate, or `mv` of the file for replay: from
         * now on records go to a new file at the configured path */
        if (deadletter_reopen(io->dl, err) < 0)
            log_msg_always(LOG_LEVEL_ERROR, "SIGHUP: %s; still writing to the file opened before",
                           err);
        else
            log_msg_always(LOG_LEVEL_INFO, "SIGHUP: dead-letter file %s reopened",
                           deadletter_path(io->dl));
        if (io->pipeline && pipeline_reload_prices(io->pipeline, err) < 0)
            log_msg_always(LOG_LEVEL_ERROR, "SIGHUP: %s; keeping the previous price table", err);
        else if (io->pipeline)
            log_msg_always(LOG_LEVEL_INFO, "SIGHUP: price table reloaded (%zu models)",
                           pipeline_price_count(io->pipeline));
    }
    if (io->dl && deadletter_held(io->dl))
        deadletter_retry(io->dl);
    bool due = io->next_stats_ns && timeutil_now_ns() >= io->next_stats_ns;
    if (cmd_io_stats_wanted || due) {
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
    cmd_io_count_rejected(io, ov->origin, reason);
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
    /* A signal that came with the last input is still answered: pselect(2)
     * that reports input leaves a pending signal blocked, so let it in. */
    sigset_t held;
    sigprocmask(SIG_SETMASK, &io->wait_mask, &held);
    sigprocmask(SIG_SETMASK, &held, NULL);
    if (rc >= 0 && (cmd_io_stats_wanted || cmd_io_reload_wanted))
        rc = cmd_io_handle_signals(io);
    int frc = rc == -EPIPE ? rc : cmd_io_flush(io);
    if (frc >= 0 && !cmd_io_wait_drained(io->out_fd, CMD_IO_DRAIN_MS))
        log_msg_always(LOG_LEVEL_WARN, "exiting with points still unread in the stdout pipe");
    size_t lost = 0;
    if (io->dl && deadletter_held(io->dl) && deadletter_retry(io->dl) < 0) {
        lost = deadletter_held(io->dl);
        log_msg_always(LOG_LEVEL_ERROR,
                       "%zu rejected bodies could not be written to the dead-letter file %s and "
                       "are lost",
                       lost, deadletter_path(io->dl));
    }
    const struct stats *s = &io->stats;
    log_msg_always(LOG_LEVEL_INFO,
                   "done: %" PRIu64 " lines, %" PRIu64 " events, %" PRIu64 " written, %" PRIu64
                   " duplicates, %" PRIu64 " ignored, %" PRIu64 " rejected, %" PRIu64 " unpriced",
                   s->lines, s->events, s->written, s->duplicates, s->ignored, s->rejected,
                   s->unpriced);
    cmd_io_wait_drained(STDERR_FILENO, CMD_IO_DRAIN_MS); /* the summary too */
    if (rc < 0 || frc < 0)
        status = (rc == -ENOMEM || frc == -ENOMEM) ? EX_OSERR : EX_IOERR;
    else if (lost)
        status = EX_IOERR;
    cmd_io_release(io);
    return status;
}

void cmd_io_detach_pipes(void)
{
    fflush(NULL); /* --help text, still in stdio's buffer */
    struct stat st;
    bool pipes = false;
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
        if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
            pipes = true;
    if (!pipes)
        return;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0)
        return;
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    poll(NULL, 0, CMD_IO_DETACH_MS);
}
